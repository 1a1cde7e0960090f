//! The JSON answers of the authoring functions, one shape for every surface (CLI, Python, WASM, HTTP).
//!
//! The writer's [`Written`] and CloudTrail's [`FromActivity`] are the results; this module says how
//! they are printed, so `iam-risk-score write-policy --format json`, `iam_risk_score.write_policy`,
//! WASM `writePolicy` and `POST /api/v1/policy/write` give the same bytes. A new authoring function
//! (narrowing) adds its answer here and one function per surface: [`NarrowedAnswer`] is
//! `iam-risk-score narrow --format json`, `iam_risk_score.narrow`, WASM `narrow` and
//! `POST /api/v1/policy/narrow`.

use crate::authoring::{
    narrow, parse_access_level, write_policy, AuthoringError, NarrowInput, Narrowed, NarrowingQuestion, Ordered,
    Template, Written,
};
use crate::diff::PolicyDiff;
use crate::Report;
use serde::Serialize;
use serde_json::Value;

pub use crate::cloudtrail::{CloudTrailError, CloudTrailOptions, FromActivity};

/// What the writer answers: `{"policy", "report"}`, plus `"warnings"` when there are any.
///
/// The policy's keys come in the order people write them (`Version`, `Statement`; `Sid`,
/// `Effect`, `Action`, `Resource`), as the CLI prints the document.
#[derive(Serialize)]
pub struct WrittenAnswer<'a> {
    pub policy: Ordered<'a>,
    pub report: &'a Report,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub warnings: &'a [String],
}

impl<'a> From<&'a Written> for WrittenAnswer<'a> {
    fn from(w: &'a Written) -> Self {
        WrittenAnswer { policy: Ordered(&w.policy), report: &w.report, warnings: &w.warnings }
    }
}

/// Read a template from JSON and write it: what every surface that takes a template object does.
pub fn write_policy_value(template: &Value) -> Result<Written, AuthoringError> {
    write_policy(&Template::from_value(template)?)
}

/// What narrowing answers: `{"policy", "before", "after", "diff", "questions", "changes"}`, in
/// that order; the policy's keys in the order people write them, as for [`WrittenAnswer`].
#[derive(Serialize)]
pub struct NarrowedAnswer<'a> {
    pub policy: Ordered<'a>,
    pub before: &'a Report,
    pub after: &'a Report,
    pub diff: &'a PolicyDiff,
    pub questions: &'a [NarrowingQuestion],
    pub changes: &'a [String],
}

impl<'a> From<&'a Narrowed> for NarrowedAnswer<'a> {
    fn from(n: &'a Narrowed) -> Self {
        NarrowedAnswer {
            policy: Ordered(&n.policy),
            before: &n.before,
            after: &n.after,
            diff: &n.diff,
            questions: &n.questions,
            changes: &n.changes,
        }
    }
}

/// The message for an access level that is not one, as the CLI's `--access-level` words it.
pub fn access_level_error(s: &str) -> String {
    format!("`{s}` is not an access level: read, write, list, tagging or permissions-management")
}

/// Narrow a policy with the task's facts as JSON-shaped surfaces take them: ARNs, access levels
/// by name (`read`, `permissions-management`, …) and the used actions as
/// [`NarrowInput::used_actions_from_value`] reads them (a list of names, a policy, or
/// `{"policy": …}`). Errors carry the core's (and the CLI's) message.
pub fn narrow_value(
    policy: &Value,
    resources: Vec<String>,
    access_levels: &[String],
    used_actions: Option<&Value>,
) -> Result<Narrowed, AuthoringError> {
    let access_levels = access_levels
        .iter()
        .map(|l| parse_access_level(l).ok_or_else(|| AuthoringError::new(access_level_error(l))))
        .collect::<Result<Vec<_>, _>>()?;
    let used_actions = used_actions.map(NarrowInput::used_actions_from_value).transpose()?;
    narrow(policy, &NarrowInput { resources, access_levels, used_actions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "App", "Effect": "Allow", "Action": ["s3:*", "dynamodb:GetItem"], "Resource": "*"}]})
    }

    #[test]
    fn narrow_value_reads_levels_by_name_and_used_actions_as_json() {
        let arns = vec!["arn:aws:s3:::reports/*".to_string()];
        let used = json!(["s3:GetObject", "dynamodb:GetItem"]);
        let n = narrow_value(&policy(), arns.clone(), &["Read".into()], Some(&used)).unwrap();
        let direct = narrow(
            &policy(),
            &NarrowInput {
                resources: arns,
                access_levels: vec![iam_catalog::AccessLevel::Read],
                used_actions: Some(NarrowInput::used_actions_from_value(&used).unwrap()),
            },
        )
        .unwrap();
        assert_eq!(n.policy, direct.policy);
        let e = narrow_value(&policy(), vec![], &["admin".into()], None).unwrap_err();
        assert_eq!(e.message(), access_level_error("admin"));
        let e = narrow_value(&policy(), vec![], &[], Some(&json!("s3:GetObject"))).unwrap_err();
        assert!(e.message().starts_with("used actions: expected"), "{}", e.message());
    }

    #[test]
    fn narrowed_answer_keeps_the_cli_key_order() {
        let n = narrow_value(&policy(), vec!["arn:aws:s3:::reports".into()], &[], None).unwrap();
        let text = serde_json::to_string(&NarrowedAnswer::from(&n)).unwrap();
        let at: Vec<usize> = ["policy", "before", "after", "diff", "questions", "changes"]
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(text.starts_with("{\"policy\":{\"Version\"") && at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    }
}

/// The schemas of the answers and of the template, for the HTTP API's OpenAPI document and the
/// WASM package's TypeScript types.
#[cfg(feature = "schema")]
pub mod schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    use utoipa::openapi::RefOr;
    use utoipa::{PartialSchema, ToSchema};

    /// A written policy and its score: `{"policy", "report", "warnings"?}`.
    #[derive(ToSchema)]
    #[schema(as = WrittenPolicy)]
    #[allow(dead_code)]
    pub struct WrittenPolicy {
        /// The policy document (`Version`, `Statement`).
        #[schema(value_type = Object)]
        policy: serde_json::Value,
        /// The v1 report of the policy, scored with default options.
        report: crate::Report,
        /// What the writer noticed that is not an error (an ARN no action of its level acts on,
        /// placeholders in `mode: actions` resources); absent when there is none.
        #[schema(required = false)]
        warnings: Vec<String>,
    }

    fn list(description: &str) -> RefOr<Schema> {
        let item = ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
        OneOfBuilder::new()
            .item(ArrayBuilder::new().items(item))
            .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])))
            .description(Some(description))
            .into()
    }

    fn enumerated(values: &[&str], description: &str) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values.iter().map(|v| serde_json::json!(v))))
            .description(Some(description))
            .into()
    }

    /// Both spellings of a key (`-` and `_`), as the template reader accepts them.
    fn both(mut obj: ObjectBuilder, key: &str, schema: RefOr<Schema>) -> ObjectBuilder {
        obj = obj.property(key, schema.clone());
        if key.contains('-') {
            obj = obj.property(key.replace('-', "_"), schema);
        }
        obj
    }

    fn closed(obj: ObjectBuilder, description: &str) -> ObjectBuilder {
        obj.schema_type(SchemaType::new(Type::Object))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some(description))
    }

    /// A writer template: policy_sentry's CRUD (or actions) template as JSON.
    pub struct PolicyTemplate;

    impl ToSchema for PolicyTemplate {}

    impl PartialSchema for PolicyTemplate {
        fn schema() -> RefOr<Schema> {
            let mut wildcard = ObjectBuilder::new();
            for k in [
                "single-actions",
                "service-read",
                "service-write",
                "service-list",
                "service-tagging",
                "service-permissions-management",
            ] {
                wildcard = both(wildcard, k, list("actions (`single-actions`) or service prefixes"));
            }
            let wildcard = closed(wildcard, "Actions that take only `*`: single actions, or per access level every such action of the listed services");
            let mut sts = ObjectBuilder::new();
            for k in ["assume-role", "assume-role-with-saml", "assume-role-with-web-identity"] {
                sts = both(sts, k, list("role ARNs"));
            }
            let sts = closed(sts, "`sts:AssumeRole*` on role ARNs");
            let mut t = ObjectBuilder::new()
                .property(
                    "mode",
                    enumerated(
                        &["crud", "actions"],
                        "`crud` (ARNs per access level) or `actions` (a list of actions); omitted: both kinds of keys",
                    ),
                )
                .property(
                    "name",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .description(Some("ignored (policy_sentry's role name)")),
                )
                .property("effect", enumerated(&["Allow", "Deny"], "the statements' effect (default `Allow`)"));
            for (k, d) in [
                ("read", "resource ARNs to grant Read actions on"),
                ("write", "resource ARNs to grant Write actions on"),
                ("list", "resource ARNs to grant List actions on"),
                ("tagging", "resource ARNs to grant Tagging actions on"),
                ("permissions-management", "resource ARNs to grant Permissions management actions on"),
                ("skip-resource-constraints", "actions granted on `*` although they could be scoped"),
                ("exclude-actions", "action patterns (`kms:Delete*`) removed from the result"),
                ("actions", "`mode: actions`: actions, each written on its resource types' ARN formats"),
            ] {
                t = both(t, k, list(d));
            }
            let nullable = |o: ObjectBuilder| -> RefOr<Schema> {
                let b = o.build();
                let mut b = b;
                b.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
                RefOr::T(Schema::Object(b))
            };
            t = both(t, "wildcard-only", nullable(wildcard));
            t = t.property("sts", nullable(sts));
            closed(
                t,
                "A writer template: policy_sentry's CRUD template as JSON (docs/authoring.md). Every `-` in a key may be written `_`; a single string stands for a list of one.",
            )
            .examples([serde_json::json!({
                "mode": "crud",
                "read": ["arn:aws:s3:::reports/*"],
                "list": ["arn:aws:s3:::reports"]
            })])
            .into()
        }
    }

    /// A policy narrowed to a task: `{"policy", "before", "after", "diff", "questions", "changes"}`.
    #[derive(ToSchema)]
    #[schema(as = NarrowedPolicy)]
    #[allow(dead_code)]
    pub struct NarrowedPolicy {
        /// The narrowed policy document (the input itself when nothing could be narrowed).
        #[schema(value_type = Object)]
        policy: serde_json::Value,
        /// The v1 report of the input policy, scored with default options.
        before: crate::Report,
        /// The v1 report of the narrowed policy.
        after: crate::Report,
        /// The engine's diff from the input to the narrowed policy (`added_actions_total` is 0).
        diff: crate::diff::PolicyDiff,
        /// Broad grants the input did not say enough about, in statement order.
        questions: Vec<crate::authoring::NarrowingQuestion>,
        /// What was done, one line (or more) per statement, in statement order.
        changes: Vec<String>,
    }

    /// A policy built from CloudTrail records: `{"policy", "report", "unknown", "denied",
    /// "not_narrowed", "skipped", "events_read"}`.
    pub type FromActivity = crate::cloudtrail::FromActivity;

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn template_schema_lists_both_spellings() {
            let s = serde_json::to_value(PolicyTemplate::schema()).unwrap_or_default();
            let props = &s["properties"];
            assert!(props.get("permissions-management").is_some() && props.get("permissions_management").is_some());
            assert!(props["wildcard_only"]["properties"].get("service_read").is_some());
            assert_eq!(s["additionalProperties"], serde_json::json!(false));
        }
    }
}
