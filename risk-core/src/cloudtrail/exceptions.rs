//! The one table of CloudTrail events whose IAM action is not `prefix:eventName`, each row with its source.
//!
//! Everything not listed here is mapped by the general rule (the event source's host before
//! `.amazonaws.com` is the IAM prefix, the event name is the action, matched in the catalog
//! case-insensitively) or by the version-suffix rule in [`super::strip_version_suffix`].
//! Rows are facts learned from the cited pages and written in our own words; `tests` checks
//! that every action named here exists in the bundled catalog.

/// What a row says about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every event of this source uses this IAM service prefix (only with `event_name: None`).
    Prefix(&'static str),
    /// The event needs exactly these actions (full names, as the catalog spells them).
    Actions(&'static [&'static str]),
    /// The event is not authorized by the caller's identity policy; the text says why.
    NotAuthorization(&'static str),
}

/// One exception.
#[derive(Debug, Clone, Copy)]
pub struct Exception {
    /// The record's `eventSource`, e.g. `s3.amazonaws.com`.
    pub event_source: &'static str,
    /// The record's `eventName`; `None` for a row about the whole source.
    pub event_name: Option<&'static str>,
    pub outcome: Outcome,
    /// Where the fact comes from: an AWS documentation page or a well-known public mapping.
    pub source: &'static str,
}

const S3_PERMISSIONS: &str = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html";
const S3_HEAD_OBJECT: &str = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html";
const TRAILSCRAPER: &str = "trailscraper (github.com/flosell/trailscraper, cloudtrail.py `_source_to_iam_prefix`)";
const CLOUDWATCH: &str =
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/logging_cw_api_calls.html (eventSource `monitoring.amazonaws.com`)";
const LAMBDA: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html (data events: eventName `Invoke`)";
const KMS_REENCRYPT: &str =
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_ReEncrypt.html (requires `kms:ReEncryptFrom` and `kms:ReEncryptTo`)";
const STS_CALLER: &str =
    "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html (no permissions are required)";
const STS_WEB: &str = "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html";
const STS_SAML: &str = "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html";
const SIGNIN: &str =
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html";

const fn s3(name: &'static str, actions: &'static [&'static str]) -> Exception {
    Exception {
        event_source: "s3.amazonaws.com",
        event_name: Some(name),
        outcome: Outcome::Actions(actions),
        source: S3_PERMISSIONS,
    }
}

const fn prefix(event_source: &'static str, prefix: &'static str, source: &'static str) -> Exception {
    Exception { event_source, event_name: None, outcome: Outcome::Prefix(prefix), source }
}

/// Every exception, ordered by event source then event name (a test keeps it so).
pub static EXCEPTIONS: &[Exception] = &[
    prefix("appstream2.amazonaws.com", "appstream", TRAILSCRAPER),
    Exception {
        event_source: "kms.amazonaws.com",
        event_name: Some("ReEncrypt"),
        outcome: Outcome::Actions(&["kms:ReEncryptFrom", "kms:ReEncryptTo"]),
        source: KMS_REENCRYPT,
    },
    Exception {
        event_source: "lambda.amazonaws.com",
        event_name: Some("Invoke"),
        outcome: Outcome::Actions(&["lambda:InvokeFunction"]),
        source: LAMBDA,
    },
    prefix("models.lex.amazonaws.com", "lex", TRAILSCRAPER),
    prefix("monitoring.amazonaws.com", "cloudwatch", CLOUDWATCH),
    prefix("mturk-requester.amazonaws.com", "mechanicalturk", TRAILSCRAPER),
    prefix("runtime.lex.amazonaws.com", "lex", TRAILSCRAPER),
    s3("CompleteMultipartUpload", &["s3:PutObject"]),
    s3("CopyObject", &["s3:PutObject"]),
    s3("CreateMultipartUpload", &["s3:PutObject"]),
    s3("DeleteBucketAnalyticsConfiguration", &["s3:PutAnalyticsConfiguration"]),
    s3("DeleteBucketCors", &["s3:PutBucketCORS"]),
    s3("DeleteBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    s3("DeleteBucketInventoryConfiguration", &["s3:PutInventoryConfiguration"]),
    s3("DeleteBucketLifecycle", &["s3:PutLifecycleConfiguration"]),
    s3("DeleteBucketMetricsConfiguration", &["s3:PutMetricsConfiguration"]),
    s3("DeleteBucketOwnershipControls", &["s3:PutBucketOwnershipControls"]),
    s3("DeleteBucketReplication", &["s3:PutReplicationConfiguration"]),
    s3("DeleteBucketTagging", &["s3:PutBucketTagging"]),
    s3("DeleteObjects", &["s3:DeleteObject"]),
    s3("DeletePublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
    s3("GetBucketAccelerateConfiguration", &["s3:GetAccelerateConfiguration"]),
    s3("GetBucketAnalyticsConfiguration", &["s3:GetAnalyticsConfiguration"]),
    s3("GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
    s3("GetBucketInventoryConfiguration", &["s3:GetInventoryConfiguration"]),
    s3("GetBucketLifecycle", &["s3:GetLifecycleConfiguration"]),
    s3("GetBucketLifecycleConfiguration", &["s3:GetLifecycleConfiguration"]),
    s3("GetBucketMetricsConfiguration", &["s3:GetMetricsConfiguration"]),
    s3("GetBucketNotificationConfiguration", &["s3:GetBucketNotification"]),
    s3("GetBucketReplication", &["s3:GetReplicationConfiguration"]),
    s3("GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
    Exception {
        event_source: "s3.amazonaws.com",
        event_name: Some("HeadBucket"),
        outcome: Outcome::Actions(&["s3:ListBucket"]),
        source: S3_PERMISSIONS,
    },
    Exception {
        event_source: "s3.amazonaws.com",
        event_name: Some("HeadObject"),
        outcome: Outcome::Actions(&["s3:GetObject"]),
        source: S3_HEAD_OBJECT,
    },
    s3("ListBucketAnalyticsConfigurations", &["s3:GetAnalyticsConfiguration"]),
    s3("ListBucketInventoryConfigurations", &["s3:GetInventoryConfiguration"]),
    s3("ListBucketMetricsConfigurations", &["s3:GetMetricsConfiguration"]),
    s3("ListBuckets", &["s3:ListAllMyBuckets"]),
    s3("ListMultipartUploads", &["s3:ListBucketMultipartUploads"]),
    s3("ListObjectVersions", &["s3:ListBucketVersions"]),
    s3("ListObjects", &["s3:ListBucket"]),
    s3("ListObjectsV2", &["s3:ListBucket"]),
    s3("ListParts", &["s3:ListMultipartUploadParts"]),
    s3("PutBucketAccelerateConfiguration", &["s3:PutAccelerateConfiguration"]),
    s3("PutBucketAnalyticsConfiguration", &["s3:PutAnalyticsConfiguration"]),
    s3("PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    s3("PutBucketInventoryConfiguration", &["s3:PutInventoryConfiguration"]),
    s3("PutBucketLifecycle", &["s3:PutLifecycleConfiguration"]),
    s3("PutBucketLifecycleConfiguration", &["s3:PutLifecycleConfiguration"]),
    s3("PutBucketMetricsConfiguration", &["s3:PutMetricsConfiguration"]),
    s3("PutBucketNotificationConfiguration", &["s3:PutBucketNotification"]),
    s3("PutBucketReplication", &["s3:PutReplicationConfiguration"]),
    s3("PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
    s3("SelectObjectContent", &["s3:GetObject"]),
    s3("UploadPart", &["s3:PutObject"]),
    s3("UploadPartCopy", &["s3:PutObject"]),
    Exception {
        event_source: "signin.amazonaws.com",
        event_name: None,
        outcome: Outcome::NotAuthorization(
            "a console sign-in event (ConsoleLogin, SwitchRole, CheckMfa, …), not an API call an identity policy authorizes",
        ),
        source: SIGNIN,
    },
    prefix("streams.dynamodb.amazonaws.com", "dynamodb", TRAILSCRAPER),
    Exception {
        event_source: "sts.amazonaws.com",
        event_name: Some("AssumeRoleWithSAML"),
        outcome: Outcome::NotAuthorization(
            "called without AWS credentials: the role's trust policy decides, not the caller's identity policy",
        ),
        source: STS_SAML,
    },
    Exception {
        event_source: "sts.amazonaws.com",
        event_name: Some("AssumeRoleWithWebIdentity"),
        outcome: Outcome::NotAuthorization(
            "called without AWS credentials: the role's trust policy decides, not the caller's identity policy",
        ),
        source: STS_WEB,
    },
    Exception {
        event_source: "sts.amazonaws.com",
        event_name: Some("GetCallerIdentity"),
        outcome: Outcome::NotAuthorization("needs no permission: AWS answers it even under an explicit Deny"),
        source: STS_CALLER,
    },
    prefix("tagging.amazonaws.com", "tag", TRAILSCRAPER),
];

/// The row for this exact event, if any (`eventSource` exactly, `eventName` case-insensitively).
pub fn for_event(event_source: &str, event_name: &str) -> Option<&'static Exception> {
    EXCEPTIONS.iter().find(|e| {
        e.event_source.eq_ignore_ascii_case(event_source)
            && e.event_name.is_some_and(|n| n.eq_ignore_ascii_case(event_name))
    })
}

/// The row about a whole event source (a prefix or a not-an-authorization source), if any.
pub fn for_source(event_source: &str) -> Option<&'static Exception> {
    EXCEPTIONS.iter().find(|e| e.event_name.is_none() && e.event_source.eq_ignore_ascii_case(event_source))
}

/// The table as Markdown (event source, event name, maps to, source), for the docs.
pub fn markdown_table() -> String {
    let mut out = String::from("| Event source | Event name | Maps to | Source |\n|---|---|---|---|\n");
    for e in EXCEPTIONS {
        let name = e.event_name.map_or_else(|| "(every event)".to_string(), |n| format!("`{n}`"));
        let to = match e.outcome {
            Outcome::Prefix(p) => format!("IAM prefix `{p}`"),
            Outcome::Actions(a) => a.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "),
            Outcome::NotAuthorization(why) => format!("not an authorization: {why}"),
        };
        out.push_str(&format!("| `{}` | {name} | {to} | {} |\n", e.event_source, e.source));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_and_prefix_exists_in_the_catalog() {
        for e in EXCEPTIONS {
            match e.outcome {
                Outcome::Actions(actions) => {
                    assert!(e.event_name.is_some(), "{}: an action row names its event", e.event_source);
                    for a in actions {
                        let i = iam_catalog::action_index(a).unwrap_or_else(|| panic!("`{a}` is not in the catalog"));
                        assert_eq!(&iam_catalog::ACTIONS[i].full_name(), a, "spell `{a}` as the catalog does");
                    }
                }
                Outcome::Prefix(p) => {
                    assert!(e.event_name.is_none(), "{}: a prefix row is about the whole source", e.event_source);
                    assert!(iam_catalog::service_index(p).is_some(), "prefix `{p}` is not in the catalog");
                }
                Outcome::NotAuthorization(_) => {}
            }
            assert!(!e.source.is_empty(), "{:?} has no source", e.event_name);
        }
    }

    #[test]
    fn rows_are_sorted_and_unique() {
        for w in EXCEPTIONS.windows(2) {
            let key = |e: &Exception| (e.event_source, e.event_name.unwrap_or(""));
            assert!(key(&w[0]) < key(&w[1]), "{:?} must come before {:?}", key(&w[0]), key(&w[1]));
        }
    }

    #[test]
    fn rows_are_only_for_names_the_general_rule_gets_wrong() {
        // A row whose event name already is the action would be noise in the table.
        for e in EXCEPTIONS {
            if let (Some(name), Outcome::Actions(actions)) = (e.event_name, e.outcome) {
                let host = e.event_source.trim_end_matches(".amazonaws.com");
                let general = format!("{host}:{name}");
                assert!(!(actions.len() == 1 && actions[0].eq_ignore_ascii_case(&general)), "`{general}` needs no row");
            }
        }
    }
}
