//! OpenAPI schemas of the request and response bodies.
//!
//! The response types and the scoring options are `risk-core`'s own, whose schemas the core
//! derives behind its `schema` feature: nothing here mirrors them by hand. What is left are the
//! HTTP-only envelopes (requests with their `policy` fields, batches, health).
//! `tests/openapi.rs` checks real responses against the generated document.

#![allow(dead_code)] // the structs exist only for their derived schemas

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// An IAM policy document (`{Version, Statement}`), or its JSON text as a string.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub enum PolicyDocument {
    Document(BTreeMap<String, Value>),
    Text(String),
}

/// The core's options schema ([`risk_core::OptionsInput`]) with a request's own fields added:
/// one definition of every option, its limits and its description.
fn with_options(description: &str, own: Vec<(&str, RefOr<Schema>, bool)>, example: Option<Value>) -> RefOr<Schema> {
    let mut obj = match <risk_core::OptionsInput as PartialSchema>::schema() {
        RefOr::T(Schema::Object(o)) => o,
        // NOTE: a derived struct schema is always an object; keep a usable document regardless.
        _ => Object::new(),
    };
    for (name, schema, required) in own.into_iter().rev() {
        obj.properties.insert(name.to_string(), schema);
        if required {
            obj.required.insert(0, name.to_string());
        }
    }
    obj.description = Some(description.to_string());
    obj.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    obj.example = example;
    RefOr::T(Schema::Object(obj))
}

fn options_schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    <risk_core::OptionsInput as ToSchema>::schemas(schemas);
    schemas.push((PolicyDocument::name().into(), PolicyDocument::schema()));
}

fn policy_ref(description: &str) -> RefOr<Schema> {
    let mut r = Ref::from_schema_name(PolicyDocument::name());
    r.description = description.to_string();
    RefOr::Ref(r)
}

/// Score one policy. Only `policy` is required; omitted context means "not stated" (the
/// same defaults as the CLI, Python and WASM surfaces). The option fields are risk-core's
/// (`OptionsInput`); `additional_sensitive_services` and `additional_high_impact_actions`
/// are accepted as older names of `extra_sensitive_services` and `extra_high_impact_actions`.
#[derive(Deserialize)] // only so `BatchRequest` can derive its (deny_unknown_fields) schema
pub struct ScoreRequest;

impl PartialSchema for ScoreRequest {
    fn schema() -> RefOr<Schema> {
        let narrative = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
            .description(Some(
                "`false` skips the narrative; `true` asks for one (the deterministic template when no model is \
                 configured); omitted follows the server configuration.",
            ))
            .build();
        with_options(
            "Score one policy. Only `policy` is required; omitted context means \"not stated\".",
            vec![("policy", policy_ref("The policy to score."), true), ("narrative", narrative.into(), false)],
            Some(serde_json::json!({
                "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction"], "Resource": "*"}]},
                "access_type": "read-write",
                "duration_hours": 8,
                "description": "deploy the billing lambda"
            })),
        )
    }
}

impl ToSchema for ScoreRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        options_schemas(schemas);
    }
}

/// Compare two versions of a policy (the options are those of a score request).
pub struct DiffRequest;

impl PartialSchema for DiffRequest {
    fn schema() -> RefOr<Schema> {
        with_options(
            "Compare two versions of a policy.",
            vec![
                ("old", policy_ref("The policy before the change."), true),
                ("new", policy_ref("The policy after the change."), true),
            ],
            None,
        )
    }
}

impl ToSchema for DiffRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        options_schemas(schemas);
    }
}

/// Up to `batch_max` (default 100) scoring requests, scored in parallel.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub items: Vec<ScoreRequest>,
}

/// One batch item's outcome: `result` or `error`, in request order.
#[derive(ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub result: Option<Report>,
    pub error: Option<crate::error::ErrorObject>,
}

#[derive(ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
    pub scored: usize,
    pub failed: usize,
}

/// CloudTrail records as AWS gives them out: an S3 log file (`{"Records": [...]}`), the output of
/// `aws cloudtrail lookup-events` (`{"Events": [...]}`), or an array of records.
pub struct CloudTrailEvents;

impl ToSchema for CloudTrailEvents {}

impl PartialSchema for CloudTrailEvents {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder};
        let records = || ArrayBuilder::new().items(ObjectBuilder::new().schema_type(SchemaType::new(Type::Object)));
        let keyed = |key: &str, description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Object))
                .property(key, records())
                .required(key)
                .description(Some(description))
        };
        AnyOfBuilder::new()
            .item(keyed("Records", "An S3 log file (decompressed)"))
            .item(keyed(
                "Events",
                "`aws cloudtrail lookup-events` output: each event's record is its `CloudTrailEvent` string",
            ))
            .item(records().description(Some("An array of records")))
            .description(Some("CloudTrail records: an S3 log file, lookup-events output, or an array of records"))
            .examples([serde_json::json!({"Records": [{
                "eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                "awsRegion": "us-east-1", "eventType": "AwsApiCall",
                "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::reports/2024/q1.csv"}]
            }]})])
            .into()
    }
}

/// Narrow `policy` to what a task touches (docs/authoring.md#narrowing).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(
    example = json!({
        "policy": {"Version": "2012-10-17", "Statement": [
            {"Sid": "App", "Effect": "Allow", "Action": ["s3:*", "dynamodb:GetItem"], "Resource": "*"}]},
        "resources": ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"],
        "used_actions": ["s3:GetObject", "s3:ListBucket", "dynamodb:GetItem"]
    })
)]
pub struct NarrowRequest {
    /// The policy document to narrow (`Version`, `Statement`).
    #[schema(value_type = Object)]
    pub policy: Value,
    /// Resource ARNs the task touches (possibly none): `"Resource": "*"` becomes them, per
    /// resource type of each action.
    pub resources: Vec<String>,
    /// Access levels the task needs: `read`, `write`, `list`, `tagging`,
    /// `permissions-management`; absent: not restricted by level.
    #[schema(nullable = true)]
    pub access_levels: Option<Vec<String>>,
    /// The actions the task used: action names, a policy document (its Allow statements'
    /// actions) or `{"policy": …}` as `/api/v1/policy/from-cloudtrail` answers; absent: not known.
    #[schema(nullable = true)]
    pub used_actions: Option<UsedActions>,
}

/// Action names, or a policy document / `{"policy": …}` listing them.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub enum UsedActions {
    Names(Vec<String>),
    #[schema(value_type = Object)]
    Policy(BTreeMap<String, Value>),
}

// The authoring answers and the template are risk-core's too (`risk_core::answers::schema`).
pub use risk_core::answers::schema::{NarrowedPolicy, PolicyTemplate, WrittenPolicy};
pub use risk_core::cloudtrail::FromActivity;

// The responses are risk-core's own types, whose schemas the core derives (feature `schema`).
pub use risk_core::diff::PolicyDiff;
pub use risk_core::explain::RuleDoc;
pub use risk_core::output::v1::Report;
pub use risk_core::CatalogInfo;

#[derive(ToSchema)]
pub struct Health {
    /// `ok` (healthz), `ready` or `shutting_down` (readyz).
    pub status: String,
    pub version: String,
    /// Whether narratives come from a model.
    pub narrative_model: Option<String>,
}

/// A repository archive (`POST /api/v1/scan`): the bytes of a tar.gz, tar or zip.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // a schema only: the handler reads the raw body
pub struct Archive(Vec<u8>);
