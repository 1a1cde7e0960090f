//! `iam-risk-score scan` over CloudFormation and SAM templates in
//! `tests/fixtures/scan/cloudformation-sam/`: `Fn::If` branches, AWS managed policy
//! attachments, SAM policies and templates, and the resource types that carry policies.
//! (What cannot be resolved is tested on the extractor, in `src/scan/cloudformation.rs`.)

mod common;

use common::{by_address, json_scan, notes, rules};
use serde_json::Value;

fn addresses(v: &Value) -> Vec<&str> {
    v["results"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap()).collect()
}

#[test]
fn if_in_an_action_scores_what_either_branch_grants_and_a_conditional_deny_is_not_relied_upon() {
    let (v, code, _) = json_scan("cloudformation-sam/conditional-role.yaml", &[]);
    assert_eq!(code, 1, "the default threshold (5) fails on these policies");
    // `Action: !If [IsProd, s3:GetObject, iam:*]` scored 1 when the `!If` was opaque.
    let app = by_address(&v, "AppRole.Policies[app]");
    assert_eq!(app["result"]["score"], 9);
    assert!(rules(app).contains(&"PE001"), "{:?}", rules(app));
    assert_eq!(app["statement_lines"], serde_json::json!([26, 26]), "both variants at the statement's line");
    assert!(notes(app).contains("either branch"));
    // The Deny exists only in production: in development `iam:*` is granted.
    let guarded = by_address(&v, "GuardedPolicy");
    assert_eq!(guarded["result"]["score"], 9);
    assert!(rules(guarded).contains(&"BA001"));
    assert!(notes(guarded).contains("not relied upon"));
    // The gate sees it.
    let (v, code, _) = json_scan("cloudformation-sam/conditional-role.yaml", &["--threshold", "9"]);
    assert_eq!(code, 1);
    assert!(v["gate"]["reasons"].to_string().contains("`AppRole.Policies[app]`"), "{}", v["gate"]);
}

#[test]
fn managed_policy_arns_are_scored_as_the_aws_documents() {
    let (v, code, _) = json_scan("cloudformation-sam/managed-arns.yaml", &[]);
    assert_eq!(code, 1, "the default threshold (5)");
    assert_eq!(
        addresses(&v),
        [
            "BreakGlass.AssumeRolePolicyDocument",
            "BreakGlass.ManagedPolicyArns[AdministratorAccess]",
            "BreakGlass.ManagedPolicyArns[ReadOnlyAccess]",
        ],
        "the customer managed ARN and the parameter are not scored (they are unresolved)"
    );
    let admin = by_address(&v, "BreakGlass.ManagedPolicyArns[AdministratorAccess]");
    assert_eq!(admin["result"]["score"], 10);
    assert!(rules(admin).contains(&"FA001"));
    assert_eq!(admin["line"], 18, "the `!Sub arn:${{AWS::Partition}}:…` line");
    assert_eq!(admin["principal"], "role BreakGlass");
    assert_eq!(admin["result"]["policy_type"], "identity");
    assert_eq!(admin["notes"], serde_json::json!(["AWS managed policy AdministratorAccess, version as of 2026-09-16"]));
    let read = by_address(&v, "BreakGlass.ManagedPolicyArns[ReadOnlyAccess]");
    assert!(rules(read).contains(&"DX001"), "{:?}", rules(read));
    assert!(!rules(read).contains(&"FA001"));
}

#[test]
fn sam_function_policies_managed_names_templates_and_inline_statements() {
    let (v, code, _) = json_scan("cloudformation-sam/sam-function.yaml", &[]);
    assert_eq!(code, 1, "the default threshold (5)");
    assert_eq!(
        addresses(&v),
        [
            "Worker.Policies[AWSLambdaBasicExecutionRole]",
            "Worker.Policies[S3ReadPolicy]",
            "Worker.Policies[DynamoDBCrudPolicy]",
            "Worker.Policies[3]",
            "Admin.Policies[PowerUserAccess]",
        ]
    );
    let power = by_address(&v, "Admin.Policies[PowerUserAccess]");
    assert_eq!(power["result"]["score"], 9);
    assert_eq!(power["principal"], "role AdminRole");
    assert!(rules(power).contains(&"BA001"));
    // A template on one bucket given by `!Ref`: a specific resource, no policy-variable noise.
    let s3 = by_address(&v, "Worker.Policies[S3ReadPolicy]");
    assert_eq!(s3["result"]["score"], 1);
    assert!(rules(s3).is_empty(), "{:?}", rules(s3));
    assert!(notes(s3).contains("SAM policy template S3ReadPolicy"));
    let crud = by_address(&v, "Worker.Policies[DynamoDBCrudPolicy]");
    assert_eq!(crud["line"], 20);
    assert!(rules(crud).contains(&"DS001"), "DeleteItem/DeleteTable on the table: {:?}", rules(crud));
    let inline = by_address(&v, "Worker.Policies[3]");
    assert_eq!(inline["statement_lines"], serde_json::json!([23]));
    assert_eq!(inline["result"]["score"], 1);
}

#[test]
fn resource_types_that_carry_policies() {
    let (v, code, _) = json_scan("cloudformation-sam/resource-policies.template.json", &[]);
    assert_eq!(code, 1, "the default threshold (5)");
    assert_eq!(
        addresses(&v),
        ["Endpoint", "Bus", "LogsPolicy", "PublicUrl", "Secret"],
        "the queue policy given by `!Ref` is not scored (it is unresolved)"
    );
    for address in ["Endpoint", "Bus", "PublicUrl", "Secret"] {
        let r = by_address(&v, address);
        assert_eq!(r["result"]["policy_type"], "resource", "{address}");
        assert!(rules(r).contains(&"RX002"), "{address} is public: {:?}", rules(r));
    }
    assert_eq!(by_address(&v, "Endpoint")["result"]["score"], 9);
    assert_eq!(by_address(&v, "PublicUrl")["result"]["score"], 9, "a function URL with auth type NONE");
    let logs = by_address(&v, "LogsPolicy");
    assert_eq!(logs["result"]["score"], 1, "a service principal writing logs");
    assert_eq!(logs["result"]["policy_type"], "resource");
}
