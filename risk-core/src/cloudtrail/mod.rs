//! From activity: a least-privilege policy built from AWS CloudTrail records, scored by the engine.
//!
//! Input is any of the three shapes CloudTrail gives out: an S3 log file (`{"Records": [...]}`),
//! the output of `aws cloudtrail lookup-events` (`{"Events": [{"CloudTrailEvent": "<JSON
//! string>", ...}]}`), or a bare array of records. Gzip is the caller's business (a log file
//! from S3 is `json.gz`: decompress it first).
//!
//! Each record's `eventSource` and `eventName` become an IAM action through [`map_event`]: the
//! one table of exceptions in [`exceptions`], then the catalog (`prefix:eventName`,
//! case-insensitively), then the same with a version suffix removed (Lambda's
//! `UpdateFunctionCode20150331v2`). Nothing is guessed: an event none of these maps is listed in
//! [`FromActivity::unknown`]. Records that failed with an access-denied error are listed in
//! [`FromActivity::denied`] and granted only with [`CloudTrailOptions::include_denied`].
//!
//! Resources are the record's ARNs (`resources[].ARN`; lookup-events' `Resources[].ResourceName`
//! when it is an ARN) plus a few built from request parameters ([`request_arns`]), each kept for
//! an action only when it is of a resource type that action acts on. An action with resource
//! types but no such ARN gets `*` and is listed in [`FromActivity::not_narrowed`].

pub mod exceptions;

use crate::output::v1::Report;
use crate::{PolicyError, ScoreOptions};
use exceptions::Outcome;
use iam_catalog::{Action, ACTIONS};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Options for [`policy_from_cloudtrail_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudTrailOptions {
    /// Grant the actions of access-denied records too (they are listed in `denied` either way).
    pub include_denied: bool,
}

/// The policy built from activity, its score, and everything the user must know about what it
/// does not cover. Serializes as `{"policy", "report", "unknown", "denied", "not_narrowed",
/// "skipped", "events_read"}`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FromActivity {
    /// The IAM policy document.
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub policy: Value,
    /// The engine's report on it, with default options.
    pub report: Report,
    /// Events no table row or catalog action maps: not granted.
    pub unknown: Vec<UnknownEvent>,
    /// Access-denied records: granted only with `include_denied`.
    pub denied: Vec<DeniedEvent>,
    /// Actions granted on `*` although they support narrower resources: no ARN was found.
    pub not_narrowed: Vec<NotNarrowed>,
    /// Records that are not authorizations (console sign-in, service events, `GetCallerIdentity`).
    pub skipped: Vec<SkippedEvent>,
    /// Records read, in every category.
    pub events_read: usize,
}

/// An event with no IAM action, with how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct UnknownEvent {
    pub event_source: String,
    pub event_name: String,
    pub count: usize,
}

/// Access-denied attempts of one event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DeniedEvent {
    pub event_source: String,
    pub event_name: String,
    pub error_code: String,
    /// The actions the event maps to (empty when the event is unknown).
    pub actions: Vec<String>,
    pub count: usize,
}

/// An action granted on `*` for want of an ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct NotNarrowed {
    pub action: String,
    /// The resource types the action can be scoped to.
    pub resource_types: Vec<String>,
    /// Records of this action that carried no ARN of those types.
    pub count: usize,
}

/// Records that authorize nothing, with why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SkippedEvent {
    pub event_source: String,
    pub event_name: String,
    pub reason: String,
    pub count: usize,
}

/// Input that is not CloudTrail, or a record that cannot be read. Messages say what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudTrailError {
    /// The text is not JSON.
    #[error("the CloudTrail file {0}")]
    Json(String),
    /// The document has none of the three shapes.
    #[error("not CloudTrail: expected `Records` (a log file), `Events` (lookup-events output) or an array of records; found {0}")]
    NotCloudTrail(String),
    /// One record is unusable.
    #[error("{path}: {message}")]
    Record { path: String, message: String },
    /// The policy built could not be scored (a bug: it is always a valid document).
    #[error("the policy built from the records cannot be scored: {0}")]
    Score(#[from] PolicyError),
}

/// How one event maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// These catalog actions (indices into [`ACTIONS`]), sorted and unique.
    Actions(Vec<usize>),
    /// Not an authorization; the reason.
    NotAuthorization(&'static str),
    /// Nothing maps it.
    Unknown,
}

/// The IAM action(s) an event needs: the exceptions table, then `prefix:eventName` in the
/// catalog, then the same with a version suffix removed. Never guesses.
pub fn map_event(event_source: &str, event_name: &str) -> Mapping {
    if let Some(row) = exceptions::for_event(event_source, event_name) {
        return outcome_mapping(row.outcome);
    }
    let prefix = match exceptions::for_source(event_source) {
        Some(row) => match row.outcome {
            Outcome::Prefix(p) => p.to_string(),
            other => return outcome_mapping(other),
        },
        None => match event_source.strip_suffix(".amazonaws.com") {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => return Mapping::Unknown,
        },
    };
    if let Some(i) = iam_catalog::action_index(&format!("{prefix}:{event_name}")) {
        return Mapping::Actions(vec![i]);
    }
    if let Some(base) = strip_version_suffix(event_name) {
        if let Some(i) = iam_catalog::action_index(&format!("{prefix}:{base}")) {
            return Mapping::Actions(vec![i]);
        }
    }
    Mapping::Unknown
}

fn outcome_mapping(outcome: Outcome) -> Mapping {
    match outcome {
        Outcome::Actions(names) => {
            let mut v: Vec<usize> = names.iter().filter_map(|n| iam_catalog::action_index(n)).collect();
            v.sort_unstable();
            v.dedup();
            if v.is_empty() {
                Mapping::Unknown
            } else {
                Mapping::Actions(v)
            }
        }
        Outcome::NotAuthorization(why) => Mapping::NotAuthorization(why),
        // A prefix row is looked up by source only; reaching here would be a table bug.
        Outcome::Prefix(_) => Mapping::Unknown,
    }
}

/// The event name without an API-version suffix: `UpdateFunctionCode20150331v2` →
/// `UpdateFunctionCode`, `CreateDistribution2020_05_31` → `CreateDistribution` (a date of eight
/// digits, optionally `_`-separated, optionally followed by `v` and digits). `None` when there is
/// no such suffix.
pub fn strip_version_suffix(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let mut end = b.len();
    // Optional `v<digits>`.
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && end > digits && b[end - digits - 1] == b'v' {
        end -= digits + 1;
    }
    // The date: YYYYMMDD or YYYY_MM_DD.
    let date_len = if end >= 8 && b[end - 8..end].iter().all(u8::is_ascii_digit) {
        8
    } else if end >= 10 && {
        let d = &b[end - 10..end];
        d[4] == b'_' && d[7] == b'_' && d.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    } {
        10
    } else {
        return None;
    };
    let base = &name[..end - date_len];
    // The base must be a name, not more digits (`Foo123456789` is not a versioned `Foo1`).
    match base.as_bytes().last() {
        Some(c) if c.is_ascii_alphabetic() => Some(base),
        _ => None,
    }
}

/// Error codes that mean the caller was not authorized (EC2 prefixes them with `Client.`).
const DENIED_CODES: &[&str] = &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"];

fn is_denied(code: &str) -> bool {
    let code = code.strip_prefix("Client.").unwrap_or(code);
    DENIED_CODES.iter().any(|d| d.eq_ignore_ascii_case(code))
}

/// `eventType`s that are not API calls made with the caller's permissions.
const NOT_API_CALLS: &[&str] = &["AwsServiceEvent", "AwsConsoleSignIn", "AwsCloudTrailInsight", "AwsConsoleAction"];

/// Build a policy from CloudTrail records with default options.
pub fn policy_from_cloudtrail(input: &Value) -> Result<FromActivity, CloudTrailError> {
    policy_from_cloudtrail_with(input, &CloudTrailOptions::default())
}

/// Parse JSON text (with the engine's strict reader) and build the policy.
pub fn policy_from_cloudtrail_json(text: &str, options: &CloudTrailOptions) -> Result<FromActivity, CloudTrailError> {
    let value = crate::json::from_str(text).map_err(|e| CloudTrailError::Json(e.predicate()))?;
    policy_from_cloudtrail_with(&value, options)
}

/// One record, read.
struct Record {
    source: String,
    name: String,
    error_code: Option<String>,
    event_type: Option<String>,
    arns: Vec<String>,
}

/// Build a policy from CloudTrail records.
pub fn policy_from_cloudtrail_with(
    input: &Value,
    options: &CloudTrailOptions,
) -> Result<FromActivity, CloudTrailError> {
    let records = read_records(input)?;
    let events_read = records.len();
    let mut unknown: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut denied: BTreeMap<(String, String, String), (Vec<String>, usize)> = BTreeMap::new();
    let mut skipped: BTreeMap<(String, String), (&'static str, usize)> = BTreeMap::new();
    // Per action: the ARNs it was used on, and how many records had none of its types.
    let mut grants: BTreeMap<usize, (BTreeSet<String>, usize)> = BTreeMap::new();
    for r in &records {
        if let Some(t) = r.event_type.as_deref().filter(|t| NOT_API_CALLS.iter().any(|n| n.eq_ignore_ascii_case(t))) {
            let reason = match t {
                "AwsServiceEvent" => "an event AWS recorded about a service's own activity, not an API call",
                "AwsConsoleSignIn" => "a console sign-in event, not an API call an identity policy authorizes",
                "AwsCloudTrailInsight" => "a CloudTrail Insights event, not an API call",
                _ => "a console action that is not an API call",
            };
            skipped.entry((r.source.clone(), r.name.clone())).or_insert((reason, 0)).1 += 1;
            continue;
        }
        let mapping = map_event(&r.source, &r.name);
        let was_denied = r.error_code.as_deref().is_some_and(is_denied);
        if was_denied {
            let actions = match &mapping {
                Mapping::Actions(v) => v.iter().map(|&i| ACTIONS[i].full_name()).collect(),
                _ => Vec::new(),
            };
            let code = r.error_code.clone().unwrap_or_default();
            denied.entry((r.source.clone(), r.name.clone(), code)).or_insert((actions, 0)).1 += 1;
            if !options.include_denied {
                continue;
            }
        }
        match mapping {
            Mapping::Unknown => *unknown.entry((r.source.clone(), r.name.clone())).or_insert(0) += 1,
            Mapping::NotAuthorization(why) => {
                skipped.entry((r.source.clone(), r.name.clone())).or_insert((why, 0)).1 += 1;
            }
            Mapping::Actions(actions) => {
                for i in actions {
                    let action = &ACTIONS[i];
                    let entry = grants.entry(i).or_default();
                    if action.resources().is_empty() {
                        continue;
                    }
                    let mut found = false;
                    for arn in &r.arns {
                        if arn_fits(action, arn) {
                            entry.0.insert(arn.clone());
                            found = true;
                        }
                    }
                    if !found {
                        entry.1 += 1;
                    }
                }
            }
        }
    }

    // Group actions by the resources they get; `*` wherever one record had no ARN.
    let mut not_narrowed = Vec::new();
    let mut groups: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (&i, (arns, missing)) in &grants {
        let action = &ACTIONS[i];
        let resources: Vec<String> = if action.resources().is_empty() || *missing > 0 || arns.is_empty() {
            if !action.resources().is_empty() {
                let mut types: Vec<String> =
                    action.resources().iter().map(|r| action.resource_type(r).name().to_string()).collect();
                types.sort();
                types.dedup();
                not_narrowed.push(NotNarrowed { action: action.full_name(), resource_types: types, count: *missing });
            }
            vec!["*".to_string()]
        } else {
            arns.iter().cloned().collect()
        };
        groups.entry(resources).or_default().push(action.full_name());
    }
    let statements: Vec<Value> = groups
        .into_iter()
        .enumerate()
        .map(|(n, (resources, mut actions))| {
            actions.sort_by_key(|a| a.to_ascii_lowercase());
            let resource = if resources.len() == 1 { json!(resources[0]) } else { json!(resources) };
            json!({
                "Sid": format!("FromActivity{}", n + 1),
                "Effect": "Allow",
                "Action": actions,
                "Resource": resource,
            })
        })
        .collect();
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    let report = crate::score_value(&policy, &ScoreOptions::default())?;
    not_narrowed.sort();
    Ok(FromActivity {
        policy,
        report,
        unknown: unknown
            .into_iter()
            .map(|((event_source, event_name), count)| UnknownEvent { event_source, event_name, count })
            .collect(),
        denied: denied
            .into_iter()
            .map(|((event_source, event_name, error_code), (actions, count))| DeniedEvent {
                event_source,
                event_name,
                error_code,
                actions,
                count,
            })
            .collect(),
        not_narrowed,
        skipped: skipped
            .into_iter()
            .map(|((event_source, event_name), (reason, count))| SkippedEvent {
                event_source,
                event_name,
                reason: reason.to_string(),
                count,
            })
            .collect(),
        events_read,
    })
}

/// Describe a JSON value for an error message: its kind, and an object's first keys.
fn describe(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "an empty object".into(),
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().take(5).map(|k| format!("`{k}`")).collect();
            let more = if m.len() > 5 { ", …" } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

fn read_records(input: &Value) -> Result<Vec<Record>, CloudTrailError> {
    match input {
        Value::Object(m) if m.contains_key("Records") => {
            let Some(items) = m.get("Records").and_then(Value::as_array) else {
                return Err(CloudTrailError::Record {
                    path: "Records".into(),
                    message: format!("must be an array of records, got {}", describe(&m["Records"])),
                });
            };
            items.iter().enumerate().map(|(i, r)| read_record(&format!("Records[{i}]"), r, &[])).collect()
        }
        Value::Object(m) if m.contains_key("Events") => {
            let Some(items) = m.get("Events").and_then(Value::as_array) else {
                return Err(CloudTrailError::Record {
                    path: "Events".into(),
                    message: format!("must be an array of lookup-events results, got {}", describe(&m["Events"])),
                });
            };
            items.iter().enumerate().map(|(i, e)| read_lookup_event(&format!("Events[{i}]"), e)).collect()
        }
        Value::Array(items) => items.iter().enumerate().map(|(i, r)| read_record(&format!("[{i}]"), r, &[])).collect(),
        other => Err(CloudTrailError::NotCloudTrail(describe(other))),
    }
}

/// A lookup-events result: the record is the JSON string in `CloudTrailEvent`; the wrapper's
/// `Resources[].ResourceName` adds ARNs.
fn read_lookup_event(path: &str, e: &Value) -> Result<Record, CloudTrailError> {
    let bad = |message: String| CloudTrailError::Record { path: path.to_string(), message };
    let Some(obj) = e.as_object() else {
        return Err(bad(format!("must be a lookup-events result (an object), got {}", describe(e))));
    };
    let mut extra = Vec::new();
    if let Some(resources) = obj.get("Resources").and_then(Value::as_array) {
        for r in resources {
            if let Some(name) = r.get("ResourceName").and_then(Value::as_str) {
                if name.starts_with("arn:") {
                    extra.push(name.to_string());
                }
            }
        }
    }
    match obj.get("CloudTrailEvent") {
        Some(Value::String(text)) => {
            let inner = crate::json::from_str(text).map_err(|err| CloudTrailError::Record {
                path: format!("{path}.CloudTrailEvent"),
                message: format!("the embedded record {}", err.predicate()),
            })?;
            read_record(&format!("{path}.CloudTrailEvent"), &inner, &extra)
        }
        Some(other) => Err(CloudTrailError::Record {
            path: format!("{path}.CloudTrailEvent"),
            message: format!("must be the record as a JSON string, got {}", describe(other)),
        }),
        None => {
            // Without the record, the wrapper still names the event (no error code, no region).
            let source = obj.get("EventSource").and_then(Value::as_str);
            let name = obj.get("EventName").and_then(Value::as_str);
            match (source, name) {
                (Some(s), Some(n)) => Ok(Record {
                    source: s.to_string(),
                    name: n.to_string(),
                    error_code: None,
                    event_type: None,
                    arns: clean_arns(extra),
                }),
                _ => {
                    Err(bad("has no `CloudTrailEvent` (the record as a JSON string) nor `EventSource` and `EventName`"
                        .into()))
                }
            }
        }
    }
}

fn read_record(path: &str, r: &Value, extra_arns: &[String]) -> Result<Record, CloudTrailError> {
    let bad = |message: String| CloudTrailError::Record { path: path.to_string(), message };
    let Some(obj) = r.as_object() else {
        return Err(bad(format!("must be a CloudTrail record (an object), got {}", describe(r))));
    };
    let field = |key: &str, example: &str| -> Result<String, CloudTrailError> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(other) => {
                Err(bad(format!("`{key}` must be a non-empty string such as `{example}`, got {}", describe(other))))
            }
            None => Err(bad(format!("missing `{key}` (a string such as `{example}`)"))),
        }
    };
    let source = field("eventSource", "s3.amazonaws.com")?;
    let name = field("eventName", "GetObject")?;
    let str_of = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    let mut arns: Vec<String> = extra_arns.to_vec();
    if let Some(resources) = obj.get("resources").and_then(Value::as_array) {
        for res in resources {
            if let Some(arn) = res.get("ARN").or_else(|| res.get("arn")).and_then(Value::as_str) {
                arns.push(arn.to_string());
            }
        }
    }
    let region = str_of("awsRegion");
    let account = str_of("recipientAccountId").or_else(|| {
        obj.get("userIdentity").and_then(|u| u.get("accountId")).and_then(Value::as_str).map(str::to_string)
    });
    if let Some(params) = obj.get("requestParameters").and_then(Value::as_object) {
        arns.extend(request_arns(&source, params, region.as_deref(), account.as_deref()));
    }
    Ok(Record {
        source,
        name,
        error_code: str_of("errorCode"),
        event_type: str_of("eventType"),
        arns: clean_arns(arns),
    })
}

/// Only literal ARNs: a wildcard in a record would widen the policy beyond what was used.
fn clean_arns(arns: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = arns
        .into_iter()
        .filter(|a| a.starts_with("arn:") && !a.contains(['*', '?']) && a.split(':').count() >= 6)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn partition_of(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// A request parameter usable in an ARN: a non-empty string without wildcards or separators
/// that would change the ARN's shape.
fn param<'a>(params: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| params.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty() && !s.contains(['*', '?']))
}

/// ARNs built from request parameters where a record carries none. Deliberately few, each
/// documented in docs/authoring-cloudtrail.md:
///
/// - S3: `bucketName` → `arn:aws:s3:::BUCKET`, with `key`/`Key` also `arn:aws:s3:::BUCKET/KEY`;
/// - IAM: `userName`, `roleName`, `groupName` → `arn:aws:iam::ACCOUNT:user/NAME` (…`role/`,
///   `group/`; the default path `/` is assumed), `policyArn` as given;
/// - Lambda: `functionName` (a name or an ARN) → `arn:aws:lambda:REGION:ACCOUNT:function:NAME`;
/// - DynamoDB: `tableName` → `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`;
/// - EC2: `instancesSet.items[].instanceId` → `arn:aws:ec2:REGION:ACCOUNT:instance/ID`.
///
/// The account is `recipientAccountId` (else the caller's `userIdentity.accountId`), the region
/// `awsRegion`; the partition follows the region. Without them, nothing is built.
pub fn request_arns(
    event_source: &str,
    params: &Map<String, Value>,
    region: Option<&str>,
    account: Option<&str>,
) -> Vec<String> {
    let p = partition_of(region);
    let mut out = Vec::new();
    let regional = region.zip(account).filter(|(r, a)| !r.is_empty() && !a.is_empty());
    match event_source {
        "s3.amazonaws.com" => {
            if let Some(bucket) = param(params, &["bucketName"]).filter(|b| !b.contains('/')) {
                out.push(format!("arn:{p}:s3:::{bucket}"));
                if let Some(key) = param(params, &["key", "Key"]) {
                    out.push(format!("arn:{p}:s3:::{bucket}/{key}"));
                }
            }
        }
        "iam.amazonaws.com" => {
            if let Some(acct) = account.filter(|a| !a.is_empty()) {
                for (key, kind) in [("userName", "user"), ("roleName", "role"), ("groupName", "group")] {
                    if let Some(name) = param(params, &[key]).filter(|n| !n.contains('/')) {
                        out.push(format!("arn:{p}:iam::{acct}:{kind}/{name}"));
                    }
                }
            }
            if let Some(arn) = param(params, &["policyArn"]) {
                out.push(arn.to_string());
            }
        }
        "lambda.amazonaws.com" => {
            if let Some(name) = param(params, &["functionName"]) {
                if name.starts_with("arn:") {
                    out.push(name.to_string());
                } else if let Some((r, a)) = regional {
                    if !name.contains(':') {
                        out.push(format!("arn:{p}:lambda:{r}:{a}:function:{name}"));
                    }
                }
            }
        }
        "dynamodb.amazonaws.com" => {
            if let (Some(name), Some((r, a))) = (param(params, &["tableName"]), regional) {
                if name.starts_with("arn:") {
                    out.push(name.to_string());
                } else if !name.contains('/') {
                    out.push(format!("arn:{p}:dynamodb:{r}:{a}:table/{name}"));
                }
            }
        }
        "ec2.amazonaws.com" => {
            if let Some((r, a)) = regional {
                let items = params.get("instancesSet").and_then(|s| s.get("items")).and_then(Value::as_array);
                for item in items.into_iter().flatten() {
                    if let Some(id) = item.get("instanceId").and_then(Value::as_str) {
                        if !id.is_empty() && !id.contains(['*', '?', '/']) {
                            out.push(format!("arn:{p}:ec2:{r}:{a}:instance/{id}"));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Literal characters of an ARN template (its specificity): `${…}` variables count nothing.
fn literal_len(template: &str) -> usize {
    let mut n = 0;
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        n += start;
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => return n + rest.len() - start,
        }
    }
    n + rest.len()
}

/// Is `arn` a resource of a type `action` acts on? The ARN's type is the most specific of its
/// service's templates it matches (`arn:aws:s3:::b/k` matches the bucket template `${BucketName}`
/// too, but the object template `${BucketName}/${ObjectName}` has more literal text).
pub fn arn_fits(action: &Action, arn: &str) -> bool {
    let service = action.service();
    let matching: Vec<(usize, usize)> = service
        .resource_types
        .iter()
        .enumerate()
        .filter(|(_, rt)| crate::glob::matches(&iam_catalog::variables_to_wildcards(rt.arn()), arn))
        .map(|(i, rt)| (i, literal_len(rt.arn())))
        .collect();
    let Some(best) = matching.iter().map(|&(_, n)| n).max() else {
        return false;
    };
    action.resources().iter().any(|r| matching.iter().any(|&(i, n)| n == best && usize::from(r.resource_type) == i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: Mapping) -> Vec<String> {
        match m {
            Mapping::Actions(v) => v.into_iter().map(|i| ACTIONS[i].full_name()).collect(),
            other => panic!("expected actions, got {other:?}"),
        }
    }

    #[test]
    fn general_rule_is_prefix_and_event_name() {
        assert_eq!(names(map_event("ec2.amazonaws.com", "StartInstances")), ["ec2:StartInstances"]);
        assert_eq!(names(map_event("iam.amazonaws.com", "CreateUser")), ["iam:CreateUser"]);
        assert_eq!(names(map_event("s3.amazonaws.com", "GetObject")), ["s3:GetObject"]);
        // Case-insensitive: CloudTrail's `GetBucketCors` is the catalog's `GetBucketCORS`.
        assert_eq!(names(map_event("s3.amazonaws.com", "GetBucketCors")), ["s3:GetBucketCORS"]);
        assert_eq!(names(map_event("kms.amazonaws.com", "Decrypt")), ["kms:Decrypt"]);
        assert_eq!(names(map_event("sts.amazonaws.com", "AssumeRole")), ["sts:AssumeRole"]);
    }

    #[test]
    fn exceptions_apply() {
        assert_eq!(names(map_event("s3.amazonaws.com", "ListObjects")), ["s3:ListBucket"]);
        assert_eq!(names(map_event("s3.amazonaws.com", "ListObjectsV2")), ["s3:ListBucket"]);
        assert_eq!(names(map_event("s3.amazonaws.com", "HeadObject")), ["s3:GetObject"]);
        assert_eq!(names(map_event("s3.amazonaws.com", "HeadBucket")), ["s3:ListBucket"]);
        assert_eq!(names(map_event("s3.amazonaws.com", "ListBuckets")), ["s3:ListAllMyBuckets"]);
        assert_eq!(names(map_event("monitoring.amazonaws.com", "PutMetricData")), ["cloudwatch:PutMetricData"]);
        assert_eq!(names(map_event("lambda.amazonaws.com", "Invoke")), ["lambda:InvokeFunction"]);
        assert_eq!(names(map_event("kms.amazonaws.com", "ReEncrypt")), ["kms:ReEncryptFrom", "kms:ReEncryptTo"]);
        assert_eq!(names(map_event("streams.dynamodb.amazonaws.com", "GetRecords")), ["dynamodb:GetRecords"]);
        assert!(matches!(map_event("signin.amazonaws.com", "ConsoleLogin"), Mapping::NotAuthorization(_)));
        assert!(matches!(map_event("sts.amazonaws.com", "GetCallerIdentity"), Mapping::NotAuthorization(_)));
    }

    #[test]
    fn version_suffixes_are_removed() {
        assert_eq!(names(map_event("lambda.amazonaws.com", "CreateFunction20150331")), ["lambda:CreateFunction"]);
        assert_eq!(
            names(map_event("lambda.amazonaws.com", "UpdateFunctionCode20150331v2")),
            ["lambda:UpdateFunctionCode"]
        );
        assert_eq!(names(map_event("lambda.amazonaws.com", "GetFunction20150331v2")), ["lambda:GetFunction"]);
        assert_eq!(strip_version_suffix("CreateDistribution2020_05_31"), Some("CreateDistribution"));
        assert_eq!(strip_version_suffix("GetObject"), None);
        assert_eq!(strip_version_suffix("ListObjectsV2"), None);
        assert_eq!(strip_version_suffix("20150331"), None);
    }

    #[test]
    fn unknown_events_are_not_guessed() {
        assert_eq!(map_event("s3.amazonaws.com", "NoSuchCall"), Mapping::Unknown);
        assert_eq!(map_event("nosuchservice.amazonaws.com", "GetThing"), Mapping::Unknown);
        assert_eq!(map_event("example.com", "GetObject"), Mapping::Unknown);
        assert_eq!(map_event(".amazonaws.com", "GetObject"), Mapping::Unknown);
        // An unknown name with a date is still unknown: the suffix rule needs a catalog hit.
        assert_eq!(map_event("lambda.amazonaws.com", "NoSuchCall20150331"), Mapping::Unknown);
    }

    #[test]
    fn arns_fit_by_most_specific_type() {
        let get = &ACTIONS[iam_catalog::action_index("s3:GetObject").unwrap()];
        let list = &ACTIONS[iam_catalog::action_index("s3:ListBucket").unwrap()];
        assert!(arn_fits(get, "arn:aws:s3:::b/k"));
        assert!(!arn_fits(get, "arn:aws:s3:::b"));
        assert!(arn_fits(list, "arn:aws:s3:::b"));
        assert!(!arn_fits(list, "arn:aws:s3:::b/k"));
        let add = &ACTIONS[iam_catalog::action_index("iam:AddUserToGroup").unwrap()];
        assert!(arn_fits(add, "arn:aws:iam::123456789012:group/admin"));
        assert!(!arn_fits(add, "arn:aws:iam::123456789012:user/Bob"));
    }

    #[test]
    fn request_parameters_give_few_documented_arns() {
        let params = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            request_arns("s3.amazonaws.com", &params(json!({"bucketName": "b", "key": "a/b.txt"})), None, None),
            ["arn:aws:s3:::b", "arn:aws:s3:::b/a/b.txt"]
        );
        assert!(request_arns("s3.amazonaws.com", &params(json!({"bucketName": ""})), None, None).is_empty());
        assert!(request_arns("s3.amazonaws.com", &params(json!({"bucketName": "b*"})), None, None).is_empty());
        assert_eq!(
            request_arns(
                "iam.amazonaws.com",
                &params(json!({"userName": "Bob", "groupName": "admin"})),
                None,
                Some("1")
            ),
            ["arn:aws:iam::1:user/Bob", "arn:aws:iam::1:group/admin"]
        );
        assert_eq!(
            request_arns("lambda.amazonaws.com", &params(json!({"functionName": "f"})), Some("cn-north-1"), Some("1")),
            ["arn:aws-cn:lambda:cn-north-1:1:function:f"]
        );
        assert!(request_arns("lambda.amazonaws.com", &params(json!({"functionName": "f"})), None, Some("1")).is_empty());
        assert_eq!(
            request_arns(
                "ec2.amazonaws.com",
                &params(json!({"instancesSet": {"items": [{"instanceId": "i-1"}]}})),
                Some("us-east-2"),
                Some("1")
            ),
            ["arn:aws:ec2:us-east-2:1:instance/i-1"]
        );
        assert!(request_arns("sqs.amazonaws.com", &params(json!({"queueUrl": "x"})), Some("r"), Some("1")).is_empty());
    }

    #[test]
    fn denied_codes() {
        assert!(is_denied("AccessDenied"));
        assert!(is_denied("Client.UnauthorizedOperation"));
        assert!(is_denied("AccessDeniedException"));
        assert!(!is_denied("TrailNotFoundException"));
        assert!(!is_denied("NoSuchKey"));
    }
}
