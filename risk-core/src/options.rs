//! Scoring options: the one place where every surface's options are checked and normalised.
//!
//! The CLI (flags), Python (keyword arguments), WASM (a JS object) and the HTTP API (JSON
//! fields) each map their own syntax onto [`OptionsInput`] and call [`OptionsInput::validate`]
//! (or, for JSON, [`from_json`]). Every limit and every message lives here, and values are
//! normalised here (trimmed, service prefixes lowercased), so one input gives one score and one
//! error message everywhere.

use crate::error::Problem;
use crate::policy::PolicyType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Shortest grant accepted, in hours.
pub const MIN_DURATION_HOURS: u32 = 1;
/// Longest grant accepted, in hours (one year).
pub const MAX_DURATION_HOURS: u32 = 8760;
/// Longest `description` accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Most entries accepted in `extra_sensitive_services` and in `extra_high_impact_actions`.
pub const MAX_LIST_ITEMS: usize = 100;
/// Longest service prefix or action pattern accepted, in characters.
pub const MAX_ITEM_CHARS: usize = 200;

/// What the requester says the access is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AccessType {
    ReadOnly,
    ReadWrite,
}

impl AccessType {
    /// `read-only` or `read-write`, ignoring case and surrounding white space.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read-only" => Some(AccessType::ReadOnly),
            "read-write" => Some(AccessType::ReadWrite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::ReadOnly => "read-only",
            AccessType::ReadWrite => "read-write",
        }
    }
}

/// What kind of document a policy is; decides which rules apply.
// NOTE: the schema of `policy::PolicyType`, which has no serde form of its own.
#[cfg(feature = "schema")]
#[derive(utoipa::ToSchema)]
#[schema(as = PolicyType)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum PolicyTypeSchema {
    Identity,
    Resource,
    Trust,
}

/// Options for one scoring call, validated and normalised. `Default` is "no context": no
/// access-type check, no duration. Build it with [`OptionsInput::validate`] so that every
/// surface applies the same checks.
#[derive(Debug, Clone, Default)]
pub struct ScoreOptions {
    /// When `Some(ReadOnly)`, any non-read grant is flagged as a mismatch.
    pub access_type: Option<AccessType>,
    /// Requested grant duration; longer grants raise medium and high scores.
    pub duration_hours: Option<u32>,
    /// Free-text purpose (used only by the optional narrative; never by the score).
    pub description: Option<String>,
    /// Services the organisation treats as sensitive, in addition to the built-in ones
    /// (catalog prefixes, lowercase).
    pub extra_sensitive_services: Vec<String>,
    /// Action patterns the organisation treats as high-impact (trimmed).
    pub extra_high_impact_actions: Vec<String>,
    /// Force the policy type instead of detecting it.
    pub policy_type: Option<PolicyType>,
}

impl ScoreOptions {
    /// Check already-built options (e.g. assembled field by field by a library user); each
    /// problem's path names the field and index (`extra_sensitive_services[1]`).
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        OptionsInput::from(self).validate().map(|_| ())
    }
}

/// The scoring options as a caller writes them, before validation: the one request type every
/// surface maps onto (JSON surfaces deserialize it; the CLI and Python fill it in).
///
/// Field names are the core's; `from_json` also accepts the camelCase spellings of the
/// JavaScript API (`accessType`, …) and the HTTP API's older `additional_sensitive_services`
/// and `additional_high_impact_actions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OptionsInput {
    /// What the requester says the access is for; `read-only` flags any grant beyond reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<AccessType>, nullable))]
    pub access_type: Option<String>,
    /// Requested grant duration in hours (1-8760); long grants raise risky scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 8760, nullable))]
    pub duration_hours: Option<i64>,
    /// Purpose of the request (at most 500 characters). Never changes the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 500, nullable))]
    pub description: Option<String>,
    /// Service prefixes the organisation treats as sensitive, e.g. `dynamodb` (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_items = 100, nullable))]
    pub extra_sensitive_services: Option<Vec<String>>,
    /// Action patterns the organisation treats as high-impact, e.g. `route53:Change*` (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_items = 100, nullable))]
    pub extra_high_impact_actions: Option<Vec<String>>,
    /// Force the policy type instead of detecting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<PolicyTypeSchema>, nullable))]
    pub policy_type: Option<String>,
}

/// One option, for naming it on each surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AccessType,
    DurationHours,
    Description,
    ExtraSensitiveServices,
    ExtraHighImpactActions,
    PolicyType,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::AccessType,
        Field::DurationHours,
        Field::Description,
        Field::ExtraSensitiveServices,
        Field::ExtraHighImpactActions,
        Field::PolicyType,
    ];

    /// The core's (and Python's) name, as in [`OptionsInput`].
    pub fn name(self) -> &'static str {
        match self {
            Field::AccessType => "access_type",
            Field::DurationHours => "duration_hours",
            Field::Description => "description",
            Field::ExtraSensitiveServices => "extra_sensitive_services",
            Field::ExtraHighImpactActions => "extra_high_impact_actions",
            Field::PolicyType => "policy_type",
        }
    }

    /// The JavaScript (camelCase) name.
    pub fn camel_name(self) -> &'static str {
        match self {
            Field::AccessType => "accessType",
            Field::DurationHours => "durationHours",
            Field::Description => "description",
            Field::ExtraSensitiveServices => "extraSensitiveServices",
            Field::ExtraHighImpactActions => "extraHighImpactActions",
            Field::PolicyType => "policyType",
        }
    }

    /// Other accepted spellings (the HTTP API's names before the options were unified).
    fn legacy_name(self) -> Option<&'static str> {
        match self {
            Field::ExtraSensitiveServices => Some("additional_sensitive_services"),
            Field::ExtraHighImpactActions => Some("additional_high_impact_actions"),
            _ => None,
        }
    }

    /// Which option a JSON key names, in any accepted spelling.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == key || f.camel_name() == key || f.legacy_name() == Some(key))
    }
}

/// How a surface spells option names in problem paths: the name the caller wrote when known,
/// else the surface's default spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names([&'static str; 6]);

impl Names {
    /// `access_type`, `extra_sensitive_services`, … (core, CLI config, Python, HTTP API).
    pub const SNAKE: Names = Names([
        "access_type",
        "duration_hours",
        "description",
        "extra_sensitive_services",
        "extra_high_impact_actions",
        "policy_type",
    ]);
    /// `accessType`, `extraSensitiveServices`, … (JavaScript).
    pub const CAMEL: Names = Names([
        "accessType",
        "durationHours",
        "description",
        "extraSensitiveServices",
        "extraHighImpactActions",
        "policyType",
    ]);

    pub fn get(&self, f: Field) -> &'static str {
        self.0[f as usize]
    }

    fn set(&mut self, f: Field, name: &'static str) {
        self.0[f as usize] = name;
    }
}

impl Default for Names {
    fn default() -> Self {
        Names::SNAKE
    }
}

/// Every option name a surface accepts, for "is not an option" messages.
fn option_list(names: &Names) -> String {
    Field::ALL.iter().map(|f| names.get(*f)).collect::<Vec<_>>().join(", ")
}

/// Show a value the caller gave, briefly, in backticks.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => quote(s),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn quote(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("`{}…`", s.chars().take(40).collect::<String>())
    } else {
        format!("`{s}`")
    }
}

/// The message for a duration outside the accepted range (also used for a non-integer).
fn duration_message(got: &str) -> String {
    format!("must be a whole number of hours between {MIN_DURATION_HOURS} and {MAX_DURATION_HOURS}, got {got}")
}

fn access_type_message(got: &str) -> String {
    format!(r#"must be "read-only" or "read-write", got {got}"#)
}

fn policy_type_message(got: &str) -> String {
    format!(r#"must be "identity", "resource" or "trust", got {got}"#)
}

impl OptionsInput {
    /// Validate and normalise, naming problems by the core's field names
    /// (`extra_sensitive_services[1]`).
    pub fn validate(&self) -> Result<ScoreOptions, Vec<Problem>> {
        self.validate_named(&Names::SNAKE)
    }

    /// Validate and normalise, naming problems with `names` (a surface's own spelling).
    /// Every problem is reported, in field order.
    pub fn validate_named(&self, names: &Names) -> Result<ScoreOptions, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut bad = |f: Field, index: Option<usize>, message: String| {
            let path = match index {
                Some(i) => format!("{}[{i}]", names.get(f)),
                None => names.get(f).to_string(),
            };
            problems.push(Problem { path, message });
        };
        let mut out = ScoreOptions::default();
        if let Some(s) = &self.access_type {
            match AccessType::parse(s) {
                Some(t) => out.access_type = Some(t),
                None => bad(Field::AccessType, None, access_type_message(&quote(s))),
            }
        }
        if let Some(h) = self.duration_hours {
            match u32::try_from(h).ok().filter(|h| (MIN_DURATION_HOURS..=MAX_DURATION_HOURS).contains(h)) {
                Some(h) => out.duration_hours = Some(h),
                None => bad(Field::DurationHours, None, duration_message(&format!("`{h}`"))),
            }
        }
        if let Some(d) = &self.description {
            let n = d.chars().count();
            if n > MAX_DESCRIPTION_CHARS {
                bad(Field::Description, None, format!("must be at most {MAX_DESCRIPTION_CHARS} characters, got {n}"));
            } else {
                out.description = Some(d.clone());
            }
        }
        let lists = [
            (Field::ExtraSensitiveServices, &self.extra_sensitive_services),
            (Field::ExtraHighImpactActions, &self.extra_high_impact_actions),
        ];
        for (field, list) in lists {
            let Some(list) = list else { continue };
            if list.len() > MAX_LIST_ITEMS {
                bad(field, None, format!("must have at most {MAX_LIST_ITEMS} entries, got {}", list.len()));
                continue;
            }
            for (i, item) in list.iter().enumerate() {
                let checked = if item.chars().count() > MAX_ITEM_CHARS {
                    Err(format!("must be at most {MAX_ITEM_CHARS} characters, got {}", item.chars().count()))
                } else if field == Field::ExtraSensitiveServices {
                    normalize_service(item)
                } else {
                    normalize_action_pattern(item)
                };
                match (checked, field) {
                    (Ok(v), Field::ExtraSensitiveServices) => out.extra_sensitive_services.push(v),
                    (Ok(v), _) => out.extra_high_impact_actions.push(v),
                    (Err(m), _) => bad(field, Some(i), m),
                }
            }
        }
        if let Some(s) = &self.policy_type {
            match PolicyType::parse(&s.trim().to_ascii_lowercase()) {
                Some(t) => out.policy_type = Some(t),
                None => bad(Field::PolicyType, None, policy_type_message(&quote(s))),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

impl From<&ScoreOptions> for OptionsInput {
    fn from(o: &ScoreOptions) -> Self {
        let list = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
        OptionsInput {
            access_type: o.access_type.map(|t| t.as_str().to_string()),
            duration_hours: o.duration_hours.map(i64::from),
            description: o.description.clone(),
            extra_sensitive_services: list(&o.extra_sensitive_services),
            extra_high_impact_actions: list(&o.extra_high_impact_actions),
            policy_type: o.policy_type.map(|t| t.as_str().to_string()),
        }
    }
}

/// Read options from a JSON object (the HTTP API's request fields, the JavaScript `options`
/// argument), checking each field's JSON type, then validate them. `null` fields are "not
/// stated". Every other key is a problem whose message lists the options, after
/// `own_fields` (the request's own fields, such as `policy`, which the caller has already
/// taken out of `map`). Problem paths use the spelling the caller wrote, else `names`.
pub fn from_json(
    map: &serde_json::Map<String, Value>,
    names: Names,
    own_fields: &str,
) -> Result<ScoreOptions, Vec<Problem>> {
    let mut names = names;
    let mut input = OptionsInput::default();
    let mut problems = Vec::new();
    let mut type_problem = |path: &str, message: String| problems.push(Problem { path: path.to_string(), message });
    for (key, value) in map {
        let Some(field) = Field::from_key(key) else {
            let mut hint = option_list(&names);
            if !own_fields.is_empty() {
                hint = format!("{own_fields}, {hint}");
            }
            type_problem(key, format!("is not an option; use {hint}"));
            continue;
        };
        let name: &'static str = if field.name() == key {
            field.name()
        } else if field.camel_name() == key {
            field.camel_name()
        } else {
            field.legacy_name().unwrap_or(field.name())
        };
        names.set(field, name);
        if value.is_null() {
            continue;
        }
        match field {
            Field::AccessType | Field::PolicyType | Field::Description => match value.as_str() {
                Some(s) => match field {
                    Field::AccessType => input.access_type = Some(s.to_string()),
                    Field::PolicyType => input.policy_type = Some(s.to_string()),
                    _ => input.description = Some(s.to_string()),
                },
                None => {
                    let got = describe(value);
                    let m = match field {
                        Field::AccessType => access_type_message(&got),
                        Field::PolicyType => policy_type_message(&got),
                        _ => format!("must be a string, got {got}"),
                    };
                    type_problem(name, m);
                }
            },
            Field::DurationHours => match value.as_i64() {
                Some(h) => input.duration_hours = Some(h),
                None => type_problem(name, duration_message(&describe(value))),
            },
            Field::ExtraSensitiveServices | Field::ExtraHighImpactActions => {
                let Some(items) = value.as_array() else {
                    type_problem(name, format!("must be an array of strings, got {}", describe(value)));
                    continue;
                };
                let list = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item.as_str() {
                        Some(s) => s.to_string(),
                        None => {
                            type_problem(&format!("{name}[{i}]"), format!("must be a string, got {}", describe(item)));
                            // A placeholder keeps indices aligned; its value problem is dropped below.
                            String::new()
                        }
                    })
                    .collect();
                if field == Field::ExtraSensitiveServices {
                    input.extra_sensitive_services = Some(list);
                } else {
                    input.extra_high_impact_actions = Some(list);
                }
            }
        }
    }
    let validated = input.validate_named(&names);
    match validated {
        Ok(o) if problems.is_empty() => Ok(o),
        Ok(_) => Err(problems),
        Err(mut more) => {
            // One message per entry: a type problem hides the value check of its placeholder.
            more.retain(|p| !problems.iter().any(|q| q.path == p.path));
            problems.extend(more);
            // Field order, then path, so every surface lists problems alike.
            let order = |p: &Problem| {
                let base = p.path.split('[').next().unwrap_or("");
                Field::from_key(base).map_or(usize::MAX, |f| f as usize)
            };
            problems.sort_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.path.cmp(&b.path)));
            Err(problems)
        }
    }
}

/// Normalise a service prefix (`" DynamoDB "` → `dynamodb`) and check it names a catalog service.
pub fn normalize_service(service: &str) -> Result<String, String> {
    let s = service.trim().to_ascii_lowercase();
    match iam_catalog::service_index(&s) {
        Some(_) => Ok(s),
        None if s.is_empty() => Err("is empty; use a service prefix such as `dynamodb`".to_string()),
        None if s.contains(':') => Err(format!(
            "names an action, not a service: {}; use the service prefix such as `{}`",
            quote(service),
            s.split(':').next().unwrap_or("")
        )),
        None => Err(format!("names an unknown service {}; use a service prefix such as `dynamodb`", quote(service))),
    }
}

/// Normalise an action pattern (trimmed) and check it matches at least one catalog action.
pub fn normalize_action_pattern(pattern: &str) -> Result<String, String> {
    let p = pattern.trim();
    if p.is_empty() {
        return Err("is empty; use an action pattern such as `route53:Change*`".to_string());
    }
    let mut set = crate::actions::ActionSet::empty();
    crate::actions::expand_into(p, &mut set)
        .map(|_| p.to_string())
        .map_err(|_| format!("{} matches no action in the AWS catalog", quote(pattern)))
}

/// Is `service` a service prefix of the catalog (e.g. `dynamodb`)?
#[deprecated(note = "use `normalize_service`, which also returns the normalised prefix")]
pub fn check_sensitive_service(service: &str) -> Result<(), String> {
    normalize_service(service).map(|_| ())
}

/// Does the action pattern match at least one catalog action?
#[deprecated(note = "use `normalize_action_pattern`, which also returns the normalised pattern")]
pub fn check_high_impact_action(pattern: &str) -> Result<(), String> {
    normalize_action_pattern(pattern).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from(v: Value) -> Result<ScoreOptions, Vec<Problem>> {
        from_json(v.as_object().unwrap(), Names::SNAKE, "")
    }

    #[test]
    fn services_are_trimmed_and_lowercased_once() {
        let o = OptionsInput {
            extra_sensitive_services: Some(vec![" dynamodb".into(), "S3 ".into()]),
            extra_high_impact_actions: Some(vec![" route53:Change* ".into()]),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(o.extra_sensitive_services, ["dynamodb", "s3"]);
        assert_eq!(o.extra_high_impact_actions, ["route53:Change*"]);
    }

    #[test]
    fn every_problem_with_its_path() {
        let e = from(json!({
            "access_type": "sometimes",
            "duration_hours": 0,
            "description": "x".repeat(501),
            "extra_sensitive_services": ["dynamodb", "nosuch", 3],
            "extra_high_impact_actions": ["s3:Nope*"],
            "policy_type": "group",
            "colour": "red"
        }))
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "access_type",
                "duration_hours",
                "description",
                "extra_sensitive_services[1]",
                "extra_sensitive_services[2]",
                "extra_high_impact_actions[0]",
                "policy_type",
                "colour"
            ]
        );
        assert_eq!(e[1].message, "must be a whole number of hours between 1 and 8760, got `0`");
        assert_eq!(e[4].message, "must be a string, got `3`");
    }

    #[test]
    fn paths_echo_the_spelling_used() {
        let e = from_json(
            json!({"additional_sensitive_services": ["nosuch"], "durationHours": 1.5}).as_object().unwrap(),
            Names::SNAKE,
            "",
        )
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["durationHours", "additional_sensitive_services[0]"]);
    }

    #[test]
    fn limits() {
        assert!(from(json!({"duration_hours": 8760})).is_ok());
        assert!(from(json!({"duration_hours": 8761})).is_err());
        assert!(from(json!({"duration_hours": -1})).is_err());
        assert!(from(json!({"description": "y".repeat(500)})).is_ok());
        let many: Vec<String> = (0..101).map(|_| "s3".to_string()).collect();
        let e = from(json!({ "extra_sensitive_services": many })).unwrap_err();
        assert_eq!(e[0].path, "extra_sensitive_services");
        assert_eq!(e[0].message, "must have at most 100 entries, got 101");
        assert!(from(json!({"access_type": " Read-Only "})).is_ok());
        assert!(from(json!({"policy_type": "Trust"})).is_ok());
        assert!(from(json!({"access_type": null})).is_ok());
    }

    #[test]
    fn score_options_validate_uses_the_same_checks() {
        let o = ScoreOptions { extra_sensitive_services: vec!["nosuch".into()], ..Default::default() };
        let e = o.validate().unwrap_err();
        assert_eq!(e[0].path, "extra_sensitive_services[0]");
    }
}
