//! The writer's input: policy_sentry's CRUD/actions template, read from a JSON value.
//!
//! The keys are policy_sentry's (`mode`, `read`, `write`, `list`, `tagging`,
//! `permissions-management`, `wildcard-only`, `skip-resource-constraints`, `exclude-actions`,
//! `sts`, `actions`, `name`, `effect`); `_` may stand for `-` (`permissions_management`) so
//! JSON and Python users can write identifiers. Empty strings in lists (policy_sentry's blank
//! template has `- ''`) and `null` lists are ignored; anything else unexpected is an error.

use super::AuthoringError;
use iam_catalog::AccessLevel;
use serde_json::{Map, Value};

/// Which template shape: policy_sentry's `mode`. Without `mode`, every key is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Resource ARNs per access level (and the other CRUD keys); `actions` is refused.
    Crud,
    /// A list of actions; the CRUD keys are refused.
    Actions,
    /// No `mode` given: CRUD keys and `actions` together.
    #[default]
    Any,
}

/// The statement effect; policy_sentry's `effect`, `Allow` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A writer template. Build it with [`Template::from_value`] or fill the fields directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    pub mode: Mode,
    /// policy_sentry's `name` (a role name); kept, never used for the policy.
    pub name: Option<String>,
    pub effect: Effect,
    /// Resource ARNs per access level.
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub list: Vec<String>,
    pub tagging: Vec<String>,
    pub permissions_management: Vec<String>,
    /// `wildcard-only.single-actions`: actions that support only `"Resource": "*"`.
    pub single_actions: Vec<String>,
    /// `wildcard-only.service-<level>`: service prefixes whose wildcard-only actions of that
    /// level are granted on `*`.
    pub service_read: Vec<String>,
    pub service_write: Vec<String>,
    pub service_list: Vec<String>,
    pub service_tagging: Vec<String>,
    pub service_permissions_management: Vec<String>,
    /// Actions granted on `*` although they could be scoped.
    pub skip_resource_constraints: Vec<String>,
    /// Action patterns (`kms:Delete*`) removed from the result.
    pub exclude_actions: Vec<String>,
    /// `sts.assume-role` and friends: role ARNs.
    pub assume_role: Vec<String>,
    pub assume_role_with_saml: Vec<String>,
    pub assume_role_with_web_identity: Vec<String>,
    /// `mode: actions`: actions by name, each granted on its resource types' ARN formats.
    pub actions: Vec<String>,
}

const CRUD_KEYS: &[&str] = &[
    "read",
    "write",
    "list",
    "tagging",
    "permissions-management",
    "wildcard-only",
    "skip-resource-constraints",
    "exclude-actions",
    "sts",
];
const COMMON_KEYS: &[&str] = &["mode", "name", "effect"];
const WILDCARD_KEYS: &[&str] = &[
    "single-actions",
    "service-read",
    "service-write",
    "service-list",
    "service-tagging",
    "service-permissions-management",
];
const STS_KEYS: &[&str] = &["assume-role", "assume-role-with-saml", "assume-role-with-web-identity"];

impl Template {
    /// Read a template from JSON (a parsed policy_sentry YAML template is the same value).
    pub fn from_value(value: &Value) -> Result<Template, AuthoringError> {
        let Value::Object(map) = value else {
            return Err(AuthoringError::new(format!(
                "a template must be an object with keys such as `mode`, `read`, `write`, got {}",
                kind(value)
            )));
        };
        let map = normalise(map, "", &[COMMON_KEYS, CRUD_KEYS, &["actions"]].concat())?;
        let mut t = Template::default();
        if let Some(v) = map.get("mode") {
            t.mode = match v.as_str() {
                Some("crud") => Mode::Crud,
                Some("actions") => Mode::Actions,
                _ => return Err(AuthoringError::new(format!("`mode` must be `crud` or `actions`, got {}", show(v)))),
            };
        }
        if let Some(v) = map.get("name") {
            t.name = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()).filter(|s| !s.is_empty()),
                other => return Err(AuthoringError::new(format!("`name` must be a string, got {}", kind(other)))),
            };
        }
        if let Some(v) = map.get("effect") {
            t.effect = match v.as_str() {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err(AuthoringError::new(format!("`effect` must be `Allow` or `Deny`, got {}", show(v)))),
            };
        }
        match t.mode {
            Mode::Crud if map.contains_key("actions") => {
                return Err(AuthoringError::new(
                    "`actions` belongs to `mode: actions`; with `mode: crud` list ARNs under `read`, `write`, `list`, `tagging` or `permissions-management`".to_string(),
                ));
            }
            Mode::Actions => {
                if let Some(k) = CRUD_KEYS.iter().find(|k| map.contains_key(**k)) {
                    return Err(AuthoringError::new(format!(
                        "`{k}` belongs to `mode: crud`; with `mode: actions` only `actions`, `name` and `effect` are accepted (or leave out `mode` to combine both)"
                    )));
                }
            }
            _ => {}
        }
        t.read = strings(&map, "read", "")?;
        t.write = strings(&map, "write", "")?;
        t.list = strings(&map, "list", "")?;
        t.tagging = strings(&map, "tagging", "")?;
        t.permissions_management = strings(&map, "permissions-management", "")?;
        t.skip_resource_constraints = strings(&map, "skip-resource-constraints", "")?;
        t.exclude_actions = strings(&map, "exclude-actions", "")?;
        t.actions = strings(&map, "actions", "")?;
        if let Some(w) = section(&map, "wildcard-only", WILDCARD_KEYS)? {
            let p = "wildcard-only.";
            t.single_actions = strings(&w, "single-actions", p)?;
            t.service_read = strings(&w, "service-read", p)?;
            t.service_write = strings(&w, "service-write", p)?;
            t.service_list = strings(&w, "service-list", p)?;
            t.service_tagging = strings(&w, "service-tagging", p)?;
            t.service_permissions_management = strings(&w, "service-permissions-management", p)?;
        }
        if let Some(s) = section(&map, "sts", STS_KEYS)? {
            t.assume_role = strings(&s, "assume-role", "sts.")?;
            t.assume_role_with_saml = strings(&s, "assume-role-with-saml", "sts.")?;
            t.assume_role_with_web_identity = strings(&s, "assume-role-with-web-identity", "sts.")?;
        }
        Ok(t)
    }

    /// The ARNs listed for an access level.
    pub fn arns(&self, level: AccessLevel) -> &[String] {
        match level {
            AccessLevel::Read => &self.read,
            AccessLevel::Write => &self.write,
            AccessLevel::List => &self.list,
            AccessLevel::Tagging => &self.tagging,
            AccessLevel::PermissionsManagement => &self.permissions_management,
        }
    }

    /// Mutable ARNs of an access level (surfaces add their flags' ARNs with it).
    pub fn arns_mut(&mut self, level: AccessLevel) -> &mut Vec<String> {
        match level {
            AccessLevel::Read => &mut self.read,
            AccessLevel::Write => &mut self.write,
            AccessLevel::List => &mut self.list,
            AccessLevel::Tagging => &mut self.tagging,
            AccessLevel::PermissionsManagement => &mut self.permissions_management,
        }
    }

    /// The service prefixes listed under `wildcard-only.service-<level>`.
    pub fn service_wide(&self, level: AccessLevel) -> &[String] {
        match level {
            AccessLevel::Read => &self.service_read,
            AccessLevel::Write => &self.service_write,
            AccessLevel::List => &self.service_list,
            AccessLevel::Tagging => &self.service_tagging,
            AccessLevel::PermissionsManagement => &self.service_permissions_management,
        }
    }

    /// True when the template asks for nothing.
    pub fn is_empty(&self) -> bool {
        AccessLevel::ALL.iter().all(|&l| self.arns(l).is_empty() && self.service_wide(l).is_empty())
            && self.single_actions.is_empty()
            && self.skip_resource_constraints.is_empty()
            && self.assume_role.is_empty()
            && self.assume_role_with_saml.is_empty()
            && self.assume_role_with_web_identity.is_empty()
            && self.actions.is_empty()
    }
}

/// The template's key for an access level, as policy_sentry spells it.
pub fn level_key(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Read => "read",
        AccessLevel::Write => "write",
        AccessLevel::List => "list",
        AccessLevel::Tagging => "tagging",
        AccessLevel::PermissionsManagement => "permissions-management",
    }
}

/// Keys with `_` read as `-`; unknown and repeated keys refused, naming the accepted ones.
fn normalise(map: &Map<String, Value>, path: &str, accepted: &[&str]) -> Result<Map<String, Value>, AuthoringError> {
    let mut out = Map::new();
    for (k, v) in map {
        let key = k.replace('_', "-");
        if !accepted.contains(&key.as_str()) {
            return Err(AuthoringError::new(format!(
                "unknown template key `{path}{k}`; accepted keys{}: {}",
                if path.is_empty() { String::new() } else { format!(" in `{}`", path.trim_end_matches('.')) },
                accepted.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        if out.insert(key.clone(), v.clone()).is_some() {
            return Err(AuthoringError::new(format!("template key `{path}{key}` is given twice (as `-` and `_`)")));
        }
    }
    Ok(out)
}

fn section(
    map: &Map<String, Value>,
    key: &str,
    accepted: &[&str],
) -> Result<Option<Map<String, Value>>, AuthoringError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => normalise(m, &format!("{key}."), accepted).map(Some),
        Some(other) => Err(AuthoringError::new(format!(
            "`{key}` must be an object with keys {}, got {}",
            accepted.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
            kind(other)
        ))),
    }
}

/// A list of strings; `null` is empty, `''` entries are dropped, surrounding spaces trimmed.
fn strings(map: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, AuthoringError> {
    let items = match map.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        // A single string where a list is expected is what was meant.
        Some(Value::String(s)) => {
            return Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()).into_iter().collect())
        }
        Some(other) => {
            return Err(AuthoringError::new(format!("`{path}{key}` must be a list of strings, got {}", kind(other))))
        }
    };
    let mut out = Vec::new();
    for (i, v) in items.iter().enumerate() {
        match v {
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => out.push(s.trim().to_string()),
            Value::Null => {}
            other => {
                return Err(AuthoringError::new(format!("`{path}{key}[{i}]` must be a string, got {}", kind(other))))
            }
        }
    }
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_policy_sentry_blank_template() {
        let t = Template::from_value(&json!({
            "mode": "crud", "name": "", "read": [""], "write": [""], "list": [""], "tagging": [""],
            "permissions-management": [""],
            "wildcard-only": {"single-actions": [""], "service-read": [""], "service-write": [""],
                "service-list": [""], "service-tagging": [""], "service-permissions-management": [""]},
            "skip-resource-constraints": [""], "exclude-actions": [""],
            "sts": {"assume-role": [""], "assume-role-with-saml": [""], "assume-role-with-web-identity": [""]}
        }))
        .unwrap();
        assert!(t.is_empty());
        assert_eq!(t.mode, Mode::Crud);
    }

    #[test]
    fn unknown_keys_name_the_accepted_ones() {
        let e = Template::from_value(&json!({"mode": "crud", "reed": ["x"]})).unwrap_err().to_string();
        assert!(e.contains("unknown template key `reed`") && e.contains("`read`"), "{e}");
        let e = Template::from_value(&json!({"wildcard-only": {"service-reed": []}})).unwrap_err().to_string();
        assert!(e.contains("`wildcard-only.service-reed`") && e.contains("`service-read`"), "{e}");
        let e = Template::from_value(&json!({"mode": "actions", "read": ["x"]})).unwrap_err().to_string();
        assert!(e.contains("`read` belongs to `mode: crud`"), "{e}");
        let e = Template::from_value(&json!({"read": [1]})).unwrap_err().to_string();
        assert_eq!(e, "`read[0]` must be a string, got a number");
        let e = Template::from_value(&json!(["x"])).unwrap_err().to_string();
        assert!(e.contains("must be an object"), "{e}");
    }

    #[test]
    fn underscores_and_single_strings() {
        let t =
            Template::from_value(&json!({"permissions_management": "arn:aws:s3:::b", "wildcard_only": null})).unwrap();
        assert_eq!(t.permissions_management, ["arn:aws:s3:::b"]);
        let e = Template::from_value(&json!({"exclude-actions": [], "exclude_actions": []})).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
    }
}
