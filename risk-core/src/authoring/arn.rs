//! Which catalog resource types a concrete ARN names, by the catalog's ARN templates.
//!
//! A template such as `arn:${Partition}:s3:::${BucketName}/${ObjectName}` is read field by
//! field: `${Partition}` matches a known partition (`aws`, `aws-cn`, `aws-us-gov`, …), the
//! service must be equal, an empty region or account must be empty in the ARN, and every other
//! `${Var}` matches a non-empty run of any characters (`/` and `:` included, so IAM paths,
//! ECR repositories with `/` and log-stream names all fit). Several types may match
//! (`arn:aws:s3:::b/*` is a bucket name *and* bucket/object); the most specific ones win: those
//! whose template has the most literal characters. Ties are kept.
//!
//! NOTE: policy_sentry's `does_arn_match` compares `/`- and `:`-separated segments loosely
//! (it ignores region and account, so `arn:aws:s3:::job/x` is an S3 batch job there); this
//! matcher reads the template exactly, so that ARN is an S3 object here.

use super::AuthoringError;
use crate::partition;
use iam_catalog::{ResourceType, Service, SERVICES};

/// The fields of an ARN: partition, service, region, account, resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnParts<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> ArnParts<'a> {
    /// Split `arn:partition:service:region:account:resource`; `None` when it has not that shape
    /// or the partition, service or resource is empty.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut it = arn.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        let parts = ArnParts {
            partition: it.next()?,
            service: it.next()?,
            region: it.next()?,
            account: it.next()?,
            resource: it.next()?,
        };
        (!parts.partition.is_empty() && !parts.service.is_empty() && !parts.resource.is_empty()).then_some(parts)
    }
}

/// What an ARN names: its service (index in [`SERVICES`]) and the most specific resource
/// types of that service it matches (indices into [`Service::resource_types`], ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnMatch {
    pub service: usize,
    pub resource_types: Vec<u16>,
}

impl ArnMatch {
    /// The service.
    pub fn service(&self) -> &'static Service {
        &SERVICES[self.service]
    }
}

/// How an ARN should look, for messages.
const ARN_SHAPE: &str = "an ARN looks like `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, e.g. \
                         `arn:aws:s3:::my-bucket/*` or `arn:aws:dynamodb:us-east-1:123456789012:table/orders`";

/// The resource types of the ARN's service that `arn` names, most specific first-class only.
pub fn match_arn(arn: &str) -> Result<ArnMatch, AuthoringError> {
    if let Some(c) = arn.chars().find(|c| c.is_control()) {
        return Err(AuthoringError::new(format!(
            "{:?} contains the control character U+{:04X}; an ARN has none (check for a pasted newline or tab)",
            arn, c as u32
        )));
    }
    let parts =
        ArnParts::parse(arn).ok_or_else(|| AuthoringError::new(format!("`{arn}` is not an ARN: {ARN_SHAPE}")))?;
    if parts.partition.contains(['*', '?']) || parts.service.contains(['*', '?']) {
        return Err(AuthoringError::new(format!(
            "`{arn}`: the partition and service of an ARN to write a policy for must be literal, not wildcards"
        )));
    }
    if !partition::KNOWN.contains(&parts.partition) {
        return Err(AuthoringError::new(format!(
            "`{arn}`: unknown partition `{}`; AWS partitions are {}",
            parts.partition,
            partition::KNOWN.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let service = iam_catalog::service_index(parts.service).ok_or_else(|| {
        AuthoringError::new(format!(
            "`{arn}`: unknown service prefix `{}` (the ARN's third field must be an AWS service prefix such as `s3`, `iam` or `dynamodb`)",
            parts.service
        ))
    })?;
    let svc = &SERVICES[service];
    let resource_types = best_matches(&parts, svc.resource_types);
    if resource_types.is_empty() {
        return Err(no_match_error(arn, &parts, svc));
    }
    Ok(ArnMatch { service, resource_types })
}

/// Indices of the most specific `types` that `parts` matches (empty when none does).
pub fn best_matches(parts: &ArnParts<'_>, types: &[ResourceType]) -> Vec<u16> {
    let mut best: Vec<u16> = Vec::new();
    let mut best_score = 0usize;
    for (i, rt) in types.iter().enumerate() {
        let Some(score) = template_matches(rt.arn(), parts) else { continue };
        let Ok(i) = u16::try_from(i) else { continue };
        if best.is_empty() || score > best_score {
            best = vec![i];
            best_score = score;
        } else if score == best_score {
            best.push(i);
        }
    }
    best
}

/// Does the ARN template match the ARN? `Some(literal characters of the template matched)`.
pub fn template_matches(template: &str, arn: &ArnParts<'_>) -> Option<usize> {
    let t = ArnParts::parse(template)?;
    let partition_ok = if t.partition == "${Partition}" {
        partition::KNOWN.contains(&arn.partition)
    } else {
        t.partition == arn.partition
    };
    if !partition_ok || t.service != arn.service {
        return None;
    }
    let region = field_matches(t.region, arn.region)?;
    let account = field_matches(t.account, arn.account)?;
    let resource = field_matches(t.resource, arn.resource)?;
    Some(region + account + resource)
}

/// One template field against the ARN's: literals equal, each `${Var}` one or more characters.
/// `Some(literal characters)` on a match. Linear in tokens × text (no backtracking blow-up).
fn field_matches(template: &str, text: &str) -> Option<usize> {
    let tokens = tokenize(template);
    let t = text.as_bytes();
    // reach[j]: the tokens so far can consume exactly the first j bytes of the text.
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    let mut literal = 0usize;
    for tok in &tokens {
        let mut next = vec![false; t.len() + 1];
        match tok {
            Token::Lit(lit) => {
                literal += lit.len();
                let l = lit.as_bytes();
                for j in 0..=t.len() {
                    if reach[j] && t[j..].starts_with(l) {
                        next[j + l.len()] = true;
                    }
                }
            }
            Token::Var => {
                // Any j' > j reachable from a reached j.
                let mut any = false;
                for j in 0..=t.len() {
                    if any {
                        next[j] = true;
                    }
                    any |= reach[j];
                }
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return None;
        }
    }
    reach[t.len()].then_some(literal)
}

enum Token<'a> {
    Lit(&'a str),
    Var,
}

fn tokenize(template: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else { break };
        if start > 0 {
            out.push(Token::Lit(&rest[..start]));
        }
        out.push(Token::Var);
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        out.push(Token::Lit(rest));
    }
    out
}

/// The error for an ARN of a known service that matches none of its resource types: every type
/// with its ARN format, the closest first.
fn no_match_error(arn: &str, parts: &ArnParts<'_>, svc: &Service) -> AuthoringError {
    let own: Vec<&ResourceType> = svc.resource_types.iter().filter(|rt| rt.arn_service() == parts.service).collect();
    if own.is_empty() {
        return AuthoringError::new(format!(
            "`{arn}`: `{}` has no resource types with ARNs of its own; its actions take only `*` (list the service under `wildcard-only` instead)",
            svc.prefix
        ));
    }
    // Ties go to the plainest template (`table` before `table/…/backup/…`), then by name.
    let closest = own.iter().copied().max_by_key(|rt| {
        let literal = tokenize(rt.arn()).iter().map(|t| if let Token::Lit(l) = t { l.len() } else { 0 }).sum::<usize>();
        (closeness(rt.arn(), parts), std::cmp::Reverse(literal), std::cmp::Reverse(rt.name()))
    });
    let mut msg = format!("`{arn}` matches no resource type of `{}`", svc.prefix);
    if let Some(c) = closest {
        msg.push_str(&format!("; closest: `{}` (`{}`)", c.name(), c.arn()));
    }
    msg.push_str(&format!("; the resource types of `{}` and their ARN formats:", svc.prefix));
    for rt in own {
        msg.push_str(&format!("\n  {}: {}", rt.name(), rt.arn()));
    }
    AuthoringError::new(msg)
}

/// How close a template is to an ARN that matches none: region and account shape agreeing,
/// then the length of the common prefix of the resource part with the template's first literal.
fn closeness(template: &str, arn: &ArnParts<'_>) -> (usize, usize) {
    let Some(t) = ArnParts::parse(template) else { return (0, 0) };
    let shape = usize::from(t.region.is_empty() == arn.region.is_empty())
        + usize::from(t.account.is_empty() == arn.account.is_empty());
    let lead = match tokenize(t.resource).first() {
        Some(Token::Lit(l)) => l.bytes().zip(arn.resource.bytes()).take_while(|(a, b)| a == b).count(),
        _ => 0,
    };
    (shape, lead)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_refused_with_what_to_fix() {
        for arn in ["arn:aws:s3:::a\u{7}", "arn:aws:s3:::logs/*\n", "arn:aws:s3:::a\tb"] {
            let e = match_arn(arn).unwrap_err();
            assert!(e.message().contains("control character"), "{arn:?}: {}", e.message());
        }
        // A space is legal in an S3 object key, so it stays accepted.
        assert!(match_arn("arn:aws:s3:::logs/my report.csv").is_ok());
    }

    use super::*;

    fn names(arn: &str) -> Vec<&'static str> {
        let m = match_arn(arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
        m.resource_types.iter().map(|&i| m.service().resource_types[usize::from(i)].name()).collect()
    }

    fn error(arn: &str) -> String {
        match match_arn(arn) {
            Ok(m) => panic!("{arn} matched {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn s3_bucket_vs_object() {
        assert_eq!(names("arn:aws:s3:::my-bucket"), ["bucket"]);
        assert_eq!(names("arn:aws:s3:::my-bucket/*"), ["object"]);
        assert_eq!(names("arn:aws:s3:::my-bucket/path/to/key.txt"), ["object"]);
        // policy_sentry calls this an S3 batch job; a job ARN has a region and an account.
        assert_eq!(names("arn:aws:s3:::job/jobid"), ["object"]);
        assert_eq!(names("arn:aws:s3:us-east-1:123456789012:job/abc"), ["job"]);
    }

    #[test]
    fn iam_role_with_path() {
        assert_eq!(names("arn:aws:iam::123456789012:role/my-role"), ["role"]);
        assert_eq!(names("arn:aws:iam::123456789012:role/service-role/team/my-role"), ["role"]);
        assert_eq!(names("arn:aws:iam::123456789012:user/division/alice"), ["user"]);
        assert_eq!(names("arn:aws:iam::aws:policy/ReadOnlyAccess"), ["policy"]);
    }

    #[test]
    fn logs_group_vs_stream() {
        assert_eq!(names("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn"), ["log-group"]);
        assert_eq!(names("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*"), ["log-group"]);
        assert_eq!(
            names("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:2024/01/01"),
            ["log-stream"]
        );
    }

    #[test]
    fn dynamodb_table_vs_index() {
        assert_eq!(names("arn:aws:dynamodb:us-east-1:123456789012:table/orders"), ["table"]);
        assert_eq!(names("arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/by-date"), ["index"]);
        assert_eq!(
            names("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"),
            ["stream"]
        );
    }

    #[test]
    fn ecr_repository_with_slash() {
        assert_eq!(names("arn:aws:ecr:us-east-1:123456789012:repository/team/app"), ["repository"]);
    }

    #[test]
    fn regionless_and_accountless_services() {
        // S3 buckets have neither region nor account; IAM has an account but no region.
        assert!(error("arn:aws:s3:us-east-1:123456789012:my-bucket").contains("matches no resource type of `s3`"));
        assert!(error("arn:aws:iam:us-east-1:123456789012:role/x").contains("matches no resource type of `iam`"));
        // A regional service's ARN needs its region.
        assert!(error("arn:aws:sqs::123456789012:queue").contains("matches no resource type of `sqs`"));
        assert_eq!(names("arn:aws:sqs:eu-west-1:123456789012:queue"), ["queue"]);
    }

    #[test]
    fn partitions() {
        assert_eq!(names("arn:aws-cn:s3:::b"), ["bucket"]);
        assert_eq!(names("arn:aws-us-gov:iam::123456789012:role/r"), ["role"]);
        assert!(error("arn:azure:s3:::b").contains("unknown partition `azure`"));
        assert!(error("arn:*:s3:::b").contains("must be literal"));
    }

    #[test]
    fn bad_input_says_what_to_fix() {
        assert!(error("my-bucket").contains("an ARN looks like"));
        assert!(error("arn:aws:s3").contains("an ARN looks like"));
        assert!(error("arn:aws:s3:::").contains("an ARN looks like"));
        assert!(error("arn:aws:nosuchservice:::x").contains("unknown service prefix `nosuchservice`"));
        let e = error("arn:aws:dynamodb:us-east-1:123456789012:tabel/orders");
        assert!(e.contains("closest: `table`"), "{e}");
        assert!(e.contains(
            "\n  index: arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}"
        ));
    }

    #[test]
    fn field_matching() {
        assert_eq!(field_matches("", ""), Some(0));
        assert_eq!(field_matches("", "x"), None);
        assert_eq!(field_matches("${Region}", ""), None);
        assert_eq!(field_matches("a/${X}/b/${Y}", "a/1/b/2/b/3"), Some(5));
        assert_eq!(field_matches("a/${X}/b/${Y}", "a//b/2"), None);
        assert_eq!(field_matches("${X}${Y}", "ab"), Some(0));
        assert_eq!(field_matches("${X}${Y}", "a"), None);
    }
}
