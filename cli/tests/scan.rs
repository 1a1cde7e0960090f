//! `iam-risk-score scan` and `diff` over the fixture repositories in `tests/fixtures/scan/`:
//! every input format, the tricky cases, outputs, exit codes and `--base` against real git.

mod common;

use common::{by_address, cli, fixtures, json_scan, rules};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

#[test]
fn standalone_policies_skip_other_files_and_report_broken_ones() {
    let (v, code, stderr) = json_scan("standalone", &[]);
    assert_eq!(code, 2, "broken files make the exit status 2: {stderr}");
    assert_eq!(v["totals"]["files_scanned"], 8);
    assert_eq!(v["totals"]["policies"], 3, "package.json and workflow.yml are skipped silently");
    let files: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        ["standalone/bucket-resource.json", "standalone/deploy-identity.json", "standalone/trust-any-account.json"]
    );
    let types: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["result"]["policy_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resource", "identity", "trust"]);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0]["file"], "standalone/broken-policy.json");
    assert_eq!(errors[0]["line"], 4);
    assert!(errors[0]["message"].as_str().unwrap().contains("not valid JSON"));
    // A repeated key is refused, as by `iam-risk-score FILE`, at its second occurrence.
    assert_eq!(errors[1]["file"], "standalone/duplicate-action.json");
    assert_eq!(errors[1]["line"], 5);
    assert!(
        errors[1]["message"].as_str().unwrap().starts_with(
            "Statement[0].Action has the key `Action` twice in one object, at line 4 column 25 and again at line 5 column 6"
        ),
        "{}",
        errors[1]
    );
    assert!(errors[2]["message"].as_str().unwrap().contains("Effect"));
    assert!(stderr.contains("error: standalone/broken-policy.json:4: not valid JSON"), "{stderr}");
    let deploy = &v["results"][1];
    assert_eq!(deploy["line"], 1);
    assert_eq!(deploy["statement_lines"], serde_json::json!([4]));
    assert!(rules(deploy).contains(&"PE002"));
}

#[test]
fn cloudformation_yaml_and_json_with_intrinsics() {
    let (v, code, stderr) = json_scan("cloudformation", &[]);
    assert_eq!(code, 1, "policies at or above the default threshold 5: {stderr}");
    assert_eq!(v["threshold"], 5);
    let addresses: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap()).collect();
    assert_eq!(
        addresses,
        [
            "CiRole.AssumeRolePolicyDocument",
            "CiRole.Policies[ci]",
            "AppRole.AssumeRolePolicyDocument",
            "AppRole.Policies[app-data]",
            "DeployPolicy",
            "InlinePolicy",
            "Ops.Policies[self-service]",
            "Admins.Policies[admin]",
            "BucketPolicy",
            "QueuePolicy",
            "TopicPolicy",
            "Key",
        ]
    );
    let trust = by_address(&v, "AppRole.AssumeRolePolicyDocument");
    assert_eq!(trust["result"]["policy_type"], "trust");
    assert_eq!(trust["line"], 15);
    assert_eq!(trust["principal"], "role AppRole");
    let bucket = by_address(&v, "BucketPolicy");
    assert_eq!(bucket["result"]["policy_type"], "resource");
    assert!(rules(bucket).contains(&"RX002"), "a public bucket policy behind !Join/!GetAtt");
    assert_eq!(bucket["statement_lines"], serde_json::json!([87]));
    // `!If` in a statement list contributes its branch; `!Ref AWS::NoValue` is dropped.
    assert_eq!(by_address(&v, "AppRole.Policies[app-data]")["statement_lines"], serde_json::json!([26, 33]));
    // ${AWS::AccountId} in an ARN's account field does not hide `user/*`.
    assert!(rules(by_address(&v, "Ops.Policies[self-service]")).contains(&"PE004"));
    assert_eq!(by_address(&v, "Admins.Policies[admin]")["result"]["score"], 10);
    assert!(rules(by_address(&v, "CiRole.AssumeRolePolicyDocument")).contains(&"RX003"));
    let key = by_address(&v, "Key");
    assert!(key["notes"][0].as_str().unwrap().contains("opaque"));
}

#[test]
fn terraform_data_sources_jsonencode_heredoc_and_dynamic_parts() {
    let (v, code, stderr) = json_scan("terraform", &["--no-threshold"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(v["threshold"].is_null());
    assert_eq!(v["totals"]["files_scanned"], 3);
    assert_eq!(v["totals"]["files_with_policies"], 2, "variables.tf has no policy");
    let assume = by_address(&v, "data.aws_iam_policy_document.assume_lambda");
    assert_eq!(assume["result"]["policy_type"], "trust", "typed by the attribute that uses it");
    assert!(assume["notes"].to_string().contains("aws_iam_role.app.assume_role_policy"));
    let deploy = by_address(&v, "data.aws_iam_policy_document.deploy");
    assert_eq!(deploy["line"], 13);
    assert_eq!(deploy["statement_lines"], serde_json::json!([14, 21, 33]));
    assert!(rules(deploy).contains(&"PE002"));
    assert!(deploy["notes"].to_string().contains("dynamic"));
    let ci = by_address(&v, "aws_iam_policy.ci");
    assert_eq!(ci["line"], 66);
    assert!(rules(ci).contains(&"PE004"), "account_id interpolation in the ARN does not hide user/*");
    let inline = by_address(&v, "aws_iam_role.app.inline_policy[logs]");
    assert_eq!(inline["principal"], "role aws_iam_role.app");
    let ops = by_address(&v, "aws_iam_user_policy.ops");
    assert_eq!(ops["statement_lines"], serde_json::json!([98]), "heredoc lines count from the file");
    assert_eq!(by_address(&v, "aws_iam_group_policy.admins")["result"]["score"], 10);
    assert!(rules(by_address(&v, "aws_sns_topic_policy.events")).contains(&"RX002"));
    assert_eq!(by_address(&v, "aws_sqs_queue_policy.events")["result"]["policy_type"], "resource");
    // `file(...)` and data-source references are not literal policies.
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["address"] != "aws_iam_role_policy.from_file"));
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["address"] != "aws_iam_policy.deploy"));
}

#[test]
fn terraform_plan_values_exactly() {
    let (v, code, stderr) = json_scan("plan", &["--threshold", "10"]);
    assert_eq!(code, 0, "{stderr}");
    let addresses: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap()).collect();
    assert_eq!(
        addresses,
        [
            "aws_iam_policy.deploy",
            "aws_iam_role.app.assume_role_policy",
            "aws_iam_role.app.inline_policy[logs]",
            "aws_s3_bucket_policy.site",
            "data.aws_iam_policy_document.read",
            "module.ci.aws_iam_policy.ci",
        ]
    );
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["source"] == "terraform-plan"));
    assert_eq!(by_address(&v, "aws_iam_role.app.assume_role_policy")["result"]["policy_type"], "trust");
    assert!(rules(by_address(&v, "module.ci.aws_iam_policy.ci")).contains(&"PE001"));
}

#[test]
fn authorization_details_rank_principals_on_the_union_of_their_grants() {
    let (v, code, stderr) = json_scan("authdetails", &["--no-threshold"]);
    assert_eq!(code, 0, "{stderr}");
    let results = v["results"].as_array().unwrap();
    let scores: Vec<u64> = results.iter().map(|r| r["result"]["score"].as_u64().unwrap()).collect();
    let mut sorted = scores.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(scores, sorted, "ranked by risk");
    // alice: iam:PassRole inline + lambda create/invoke through her group's managed policy
    // (a URL-encoded document): an escalation neither grants alone.
    let alice = by_address(&v, "user/alice");
    assert_eq!(results[0]["address"], "user/alice");
    assert!(rules(alice).contains(&"PE002"), "{alice:#}");
    assert_eq!(alice["principal"], "arn:aws:iam::123456789012:user/alice");
    assert!(alice["notes"][0].as_str().unwrap().contains("group `developers`"));
    let group = by_address(&v, "group/developers");
    assert!(!rules(group).contains(&"PE002"));
    let ci = by_address(&v, "role/ci");
    assert!(ci["notes"].to_string().contains("AdministratorAccess"), "missing managed policies are said");
    assert_eq!(by_address(&v, "role/ci.AssumeRolePolicyDocument")["result"]["policy_type"], "trust");
}

#[test]
fn gates_threshold_and_category() {
    let (v, code, _) = json_scan("plan", &["--threshold", "9"]);
    assert_eq!(code, 1);
    assert!(v["gate"]["failed"].as_bool().unwrap());
    let (_, code, _) = json_scan("plan", &["--threshold", "10"]);
    assert_eq!(code, 0);
    let (v, code, _) = json_scan("plan", &["--fail-on-category", "resource-exposure"]);
    assert_eq!(code, 1);
    assert!(v["gate"]["reasons"].to_string().contains("resource-exposure"));
    let (_, code, _) = json_scan("plan", &["--fail-on-category", "full-admin", "--no-threshold"]);
    assert_eq!(code, 0);
    // No --threshold: the plain scorer's default, 5, and the reasons say so.
    let (v, code, _) = json_scan("plan", &[]);
    assert_eq!(code, 1);
    assert_eq!(v["threshold"], 5);
    let reasons = v["gate"]["reasons"].to_string();
    assert!(
        reasons
            .contains("`module.ci.aws_iam_policy.ci` in `plan/tfplan.json` scores 9/10, at or above the threshold 5"),
        "{reasons}"
    );
    let (v, code, _) = json_scan("plan", &["--no-threshold"]);
    assert_eq!((code, v["gate"]["failed"].as_bool()), (0, Some(false)));
    let out = cli(&fixtures(), &["scan", "plan", "--threshold", "7", "--no-threshold"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&fixtures(), &["scan", "plan", "--fail-on-category", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown category `nope`"));
    let out = cli(&fixtures(), &["scan", "plan", "--fail-on-increase"]);
    assert_eq!(out.status.code(), Some(2), "--fail-on-increase needs --base");
}

#[test]
fn human_markdown_and_github_outputs() {
    let out = cli(&fixtures(), &["scan", "terraform", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("terraform/iam.tf:66  aws_iam_policy.ci"), "{text}");
    assert!(text.contains("Scanned 3 files: 9 policies in 2 files, max score 10/10"), "{text}");
    let out = cli(&fixtures(), &["scan", "terraform", "--format", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## IAM policy risk"), "{md}");
    assert!(md.contains("| `terraform/iam.tf:111` `aws_iam_group_policy.admins` | 🔴 10/10 high |"), "{md}");
    assert!(md.contains("<details>"));
    let dir = tempfile::tempdir().unwrap();
    let gh_out = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_iam-risk-score"))
        .args(["scan", "terraform", "--format", "github"])
        .current_dir(fixtures())
        .env("GITHUB_OUTPUT", &gh_out)
        .output()
        .unwrap();
    let gh = String::from_utf8_lossy(&out.stdout);
    assert!(gh.contains("::error file=terraform/iam.tf,line=75,title=PE004 principal-takeover (8/10)::"), "{gh}");
    let outputs = std::fs::read_to_string(&gh_out).unwrap();
    assert!(outputs.contains("max-score=10\n"), "{outputs}");
    assert!(outputs.contains("risk-delta=0\n"));
}

#[test]
fn diff_of_terraform_files_pairs_policies_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let old = fixtures().join("terraform/iam.tf");
    let text = std::fs::read_to_string(&old).unwrap();
    let new_text = text
        .replace(r#"Action   = ["s3:GetObject", "s3:PutObject"]"#, r#"Action   = ["s3:*", "iam:PutRolePolicy"]"#)
        .replace("resource \"aws_iam_group_policy\" \"admins\"", "resource \"aws_iam_group_policy\" \"operators\"");
    let new = dir.path().join("iam.tf");
    std::fs::write(&new, new_text).unwrap();
    // The rest of the module (its variables) beside the new file, as beside the old one.
    for other in ["variables.tf", "resources.tf"] {
        std::fs::copy(fixtures().join("terraform").join(other), dir.path().join(other)).unwrap();
    }
    let out = cli(dir.path(), &["diff", old.to_str().unwrap(), "iam.tf", "--format", "json", "--fail-on-increase"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ci = by_address(&v, "aws_iam_policy.ci");
    assert_eq!(ci["status"], "modified");
    for key in ["old_score", "new_score", "risk_delta", "added_actions", "new_findings", "resolved_findings"] {
        assert!(ci.get(key).is_some(), "missing `{key}`");
    }
    assert!(ci["added_actions"]["iam"]["Permissions management"].to_string().contains("iam:PutRolePolicy"));
    assert!(ci["new_findings"].as_array().unwrap().iter().any(|f| f["rule"] == "PE001"));
    assert_eq!(by_address(&v, "aws_iam_group_policy.operators")["status"], "added");
    assert_eq!(by_address(&v, "aws_iam_group_policy.admins")["status"], "removed");
    assert!(by_address(&v, "aws_iam_group_policy.admins")["new_score"].is_null());
    assert_eq!(by_address(&v, "aws_iam_role.app.inline_policy[logs]")["status"], "unchanged");
    // Two plain policies keep the single-policy diff.
    let p = fixtures().join("standalone/deploy-identity.json");
    let out = cli(dir.path(), &["diff", p.to_str().unwrap(), p.to_str().unwrap(), "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["risk_delta"], 0);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn scan_base_reports_what_the_branch_adds() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(repo.join("infra")).unwrap();
    for f in ["terraform/iam.tf", "cloudformation/stack.yaml", "standalone/bucket-resource.json"] {
        let name = Path::new(f).file_name().unwrap();
        std::fs::copy(fixtures().join(f), repo.join("infra").join(name)).unwrap();
    }
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "base"]);
    git(repo, &["checkout", "-q", "-b", "feature"]);
    let tf = std::fs::read_to_string(repo.join("infra/iam.tf")).unwrap();
    std::fs::write(
        repo.join("infra/iam.tf"),
        tf.replace(
            r#"Action   = "iam:CreateAccessKey""#,
            r#"Action   = ["iam:CreateAccessKey", "iam:AttachUserPolicy"]"#,
        ),
    )
    .unwrap();
    std::fs::remove_file(repo.join("infra/bucket-resource.json")).unwrap();
    git(repo, &["commit", "-q", "-am", "widen"]);
    let out = cli(repo, &["scan", "infra", "--base", "main", "--format", "json", "--fail-on-increase"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["base"]["ref"], "main");
    let ci = by_address(&v, "aws_iam_policy.ci");
    assert_eq!(ci["file"], "infra/iam.tf");
    assert_eq!(ci["status"], "modified");
    assert!(ci["risk_delta"].as_i64().unwrap() >= 1);
    assert!(ci["new_findings"].as_array().unwrap().iter().any(|f| f["rule"] == "PE001"));
    let removed = v["results"].as_array().unwrap().iter().find(|r| r["file"] == "infra/bucket-resource.json").unwrap();
    assert_eq!(removed["status"], "removed");
    assert!(removed["result"].is_null());
    assert_eq!(by_address(&v, "BucketPolicy")["status"], "unchanged");
    assert_eq!(v["totals"]["modified"], 1);
    assert_eq!(v["totals"]["removed"], 1);
    // From a subdirectory, with the same base: the same pairing.
    let out = cli(&repo.join("infra"), &["scan", ".", "--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "the modified policy is at or above the default threshold 5");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Only changed policies meet the default threshold: the unchanged 10/10 group policy in the
    // same file, and the whole unchanged template, do not.
    let reasons: Vec<&str> = v["gate"]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("`aws_iam_policy.ci` in `iam.tf` scores"), "{reasons:?}");
    assert_eq!(by_address(&v, "aws_iam_policy.ci")["file"], "infra/iam.tf");
    assert_eq!(v["totals"]["modified"], 1);
    let out = cli(repo, &["scan", "infra", "--base", "no-such-ref"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown git revision `no-such-ref`"));
}

/// Issue 9, defect 7: a key given twice inside a policy document (the reader keeps the last, a
/// reviewer reads the first) is that document's error in every format `scan` reads, worded as
/// the core words it; the other documents of the file are still scored.
#[test]
fn a_key_given_twice_in_a_policy_is_that_documents_error() {
    let (v, code, stderr) = json_scan("duplicates", &[]);
    assert_eq!(code, 2, "documents that cannot be read make the exit status 2: {stderr}");
    let errors = v["errors"].as_array().unwrap();
    let error = |file: &str, address: &str| {
        errors
            .iter()
            .find(|e| e["file"] == format!("duplicates/{file}") && e["address"] == address)
            .unwrap_or_else(|| panic!("no error for `{address}` in {file}: {errors:#?}"))
    };
    let tail = "; keep one (JSON readers silently use the last, so the document would not say what it seems to)";
    let cases = [
        (
            "stack.template.json",
            "ReadPolicy",
            16,
            "Statement[0].Action has the key `Action` twice in one object, at line 14 and again at line 16",
        ),
        (
            "stack.yaml",
            "BucketPolicy",
            19,
            "Statement[0].Condition.StringEquals has the key `StringEquals` twice in one object, at line 17 and again at line 19",
        ),
        (
            "iam.tf",
            "aws_iam_policy.dup",
            9,
            "Statement[0].Action has the key `Action` twice in one object, at line 7 and again at line 9",
        ),
        (
            "iam.tf",
            "aws_iam_role_policy.heredoc",
            28,
            "Statement[0].Resource has the key `Resource` twice in one object, at line 27 and again at line 28",
        ),
        (
            "tfplan.json",
            "aws_iam_policy.dup",
            12,
            "Statement[0].Action has the key `Action` twice in one object, at line 1 column 56 and again at line 1 column 95",
        ),
        (
            "authorization-details.json",
            "user/alice",
            11,
            "inline policy `dup`: Statement.Action has the key `Action` twice in one object, at line 11 and again at line 11",
        ),
    ];
    for (file, address, line, message) in cases {
        let e = error(file, address);
        assert_eq!(e["line"], line, "{e:#}");
        assert_eq!(e["message"], format!("{message}{tail}"), "{e:#}");
    }
    assert_eq!(errors.len(), cases.len(), "{errors:#?}");
    assert!(stderr.contains("duplicates/stack.yaml:19"), "{stderr}");
    // The rest of each file is scored; a repeated key outside any policy (the template's
    // `Description`) is not refused, and neither is a YAML merge key.
    let addresses: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["file"].as_str().unwrap(), r["address"].as_str().unwrap()))
        .collect();
    for expected in [
        ("duplicates/stack.template.json", "LogsPolicy"),
        ("duplicates/stack.yaml", "AppRole.AssumeRolePolicyDocument"),
        ("duplicates/stack.yaml", "AppRole.Policies[base]"),
        ("duplicates/iam.tf", "aws_iam_policy.ok"),
        ("duplicates/iam.tf", "data.aws_iam_policy_document.vpce"),
        ("duplicates/tfplan.json", "aws_iam_policy.ok"),
        ("duplicates/authorization-details.json", "user/alice"),
    ] {
        assert!(addresses.contains(&expected), "{expected:?} not in {addresses:?}");
    }
    assert_eq!(addresses.len(), 7, "{addresses:?}");
    // alice is scored on her other inline policy only, and the refused one is an error above.
    assert_eq!(by_address(&v, "user/alice")["notes"][0], "union of inline `ok`");
}

// ---------------------------------------------------------------------------------------------
// Issue 10: nothing silent, inputs that find nothing or too much, output that can be trusted.

/// A plan with one known policy, and four it cannot read: a policy known only after apply, an
/// inline policy of a role known only after apply, a data source read during apply, and a
/// policy attribute that is a number.
fn unresolved_plan() -> String {
    let known = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}"#;
    let v = serde_json::json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_iam_policy.known", "mode": "managed", "type": "aws_iam_policy", "name": "known",
             "values": {"name": "known", "policy": known}},
            {"address": "aws_iam_policy.computed", "mode": "managed", "type": "aws_iam_policy", "name": "computed",
             "values": {"name": "computed"}},
            {"address": "aws_iam_role_policy.number", "mode": "managed", "type": "aws_iam_role_policy", "name": "number",
             "values": {"policy": 42}}
        ]}},
        "resource_changes": [
            {"address": "aws_iam_policy.known", "mode": "managed", "type": "aws_iam_policy", "name": "known",
             "change": {"actions": ["create"], "after_unknown": {"id": true, "policy": false}}},
            {"address": "aws_iam_policy.computed", "mode": "managed", "type": "aws_iam_policy", "name": "computed",
             "change": {"actions": ["create"], "after_unknown": {"id": true, "policy": true}}},
            {"address": "aws_iam_role.app", "mode": "managed", "type": "aws_iam_role", "name": "app",
             "change": {"actions": ["update"], "after": {"inline_policy": [{"name": "logs"}]},
                        "after_unknown": {"inline_policy": [{"policy": true}]}}},
            {"address": "data.aws_iam_policy_document.late", "mode": "data", "type": "aws_iam_policy_document", "name": "late",
             "change": {"actions": ["read"], "after_unknown": {"json": true}}}
        ]
    });
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn unresolved_constructs_are_counted_listed_and_rendered_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let text = unresolved_plan();
    std::fs::write(dir.path().join("tfplan.json"), &text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let out = cli(dir.path(), &["scan", "tfplan.json", "--format", "json", "--no-threshold"]);
    assert_eq!(out.status.code(), Some(0), "unresolved constructs are reported, not failed on");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["policies"], 1);
    assert_eq!(v["totals"]["unresolved"], 4);
    let unresolved = v["unresolved"].as_array().unwrap();
    let find = |address: &str| {
        unresolved
            .iter()
            .find(|u| u["address"] == address)
            .unwrap_or_else(|| panic!("no unresolved `{address}` in {unresolved:#?}"))
    };
    for (address, attr, needle) in [
        ("aws_iam_policy.computed", "`policy` is known only after apply", "\"policy\": true"),
        (
            "aws_iam_role.app.inline_policy[logs]",
            "`inline_policy` `policy` is known only after apply",
            "\"policy\": true",
        ),
        ("data.aws_iam_policy_document.late", "`json` is known only after apply", "\"json\": true"),
        ("aws_iam_role_policy.number", "`policy` is a number, not the JSON text", "\"policy\": 42"),
    ] {
        let u = find(address);
        assert_eq!(u["file"], "tfplan.json");
        assert!(u["reason"].as_str().unwrap().starts_with(attr), "{u:#}");
        let line = u["line"].as_u64().unwrap() as usize;
        assert!(
            lines[line - 1].contains(needle),
            "line {line} of the plan is `{}`, not the construct",
            lines[line - 1]
        );
    }
    let computed_line = find("aws_iam_policy.computed")["line"].as_u64().unwrap();

    let human = String::from_utf8(cli(dir.path(), &["scan", "tfplan.json", "--color", "never"]).stdout).unwrap();
    assert!(
        human.contains(&format!(
            "  unresolved: tfplan.json:{computed_line} aws_iam_policy.computed — `policy` is known only after apply"
        )),
        "{human}"
    );
    assert!(human.contains("Scanned 1 files: 1 policies in 1 files, max score 1/10, 4 unresolved"), "{human}");

    let md = String::from_utf8(cli(dir.path(), &["scan", "tfplan.json", "--format", "markdown"]).stdout).unwrap();
    assert!(
        md.contains(
            "<details><summary>⚠️ 4 policy construct(s) could not be resolved, so they are not scored</summary>"
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "- `tfplan.json:{computed_line}` `aws_iam_policy.computed`: `policy` is known only after apply"
        )),
        "{md}"
    );

    let gh = String::from_utf8(cli(dir.path(), &["scan", "tfplan.json", "--format", "github"]).stdout).unwrap();
    assert!(
        gh.contains(&format!("::notice file=tfplan.json,line={computed_line},title=IAM policy not resolved (not scored)::aws_iam_policy.computed: `policy` is known only after apply")),
        "{gh}"
    );

    let sarif: Value =
        serde_json::from_slice(&cli(dir.path(), &["scan", "tfplan.json", "--format", "sarif"]).stdout).unwrap();
    let run = &sarif["runs"][0];
    let notes: Vec<&Value> =
        run["results"].as_array().unwrap().iter().filter(|r| r["ruleId"] == "unresolved-policy").collect();
    assert_eq!(notes.len(), 4);
    let note = notes
        .iter()
        .find(|r| r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "aws_iam_policy.computed")
        .unwrap();
    assert_eq!(note["level"], "note");
    assert_eq!(note["locations"][0]["physicalLocation"]["region"]["startLine"], computed_line);
    assert_eq!(run["tool"]["driver"]["rules"][note["ruleIndex"].as_u64().unwrap() as usize]["id"], "unresolved-policy");
}

#[test]
fn with_a_base_only_changed_files_report_what_they_leave_unresolved() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    let plan = unresolved_plan();
    std::fs::write(repo.join("same.json"), &plan).unwrap();
    std::fs::write(repo.join("changed.json"), &plan).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "base"]);
    std::fs::write(repo.join("changed.json"), plan.replace("\"known\"", "\"known2\"")).unwrap();
    let out = cli(repo, &["scan", ".", "--base", "main", "--format", "json", "--no-threshold"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = v["unresolved"].as_array().unwrap().iter().map(|u| u["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["changed.json"; 4], "{:#}", v["unresolved"]);
    assert_eq!(v["totals"]["unresolved"], 4);
}

#[test]
fn a_path_with_nothing_to_scan_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::create_dir(dir.path().join("other")).unwrap();
    std::fs::write(dir.path().join("other/package.json"), r#"{"name": "x"}"#).unwrap();
    for path in ["empty", "other"] {
        let out = cli(dir.path(), &["scan", path, "--format", "json"]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("error: no IAM policy found in `{path}`")), "{stderr}");
        assert!(stderr.contains("--allow-empty"), "{stderr}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["results"], serde_json::json!([]), "the output is still written");
        let out = cli(dir.path(), &["scan", path, "--format", "json", "--allow-empty"]);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty());
    }
    // A file that is only unresolved is not "nothing".
    std::fs::write(dir.path().join("other/tfplan.json"), unresolved_plan().replace("\"known\"", "\"k\"")).unwrap();
    let out = cli(dir.path(), &["scan", "other", "--no-threshold"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(dir.path(), &["scan", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("path not found: no-such-dir"));
}

#[test]
fn files_over_the_size_limit_are_one_error_each_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}"#;
    std::fs::write(dir.path().join("big.json"), format!("{policy}{}", " ".repeat(2048))).unwrap();
    std::fs::write(dir.path().join("small.json"), policy).unwrap();
    let out = cli(dir.path(), &["scan", ".", "--format", "json", "--max-file-size", "1KiB"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["file"], "big.json");
    let message = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "file is 2.1 KiB, larger than scan's limit of 1 KiB per file; raise it with `--max-file-size` (e.g. `--max-file-size 4KiB`)"
        ),
        "{message}"
    );
    assert_eq!(v["results"][0]["file"], "small.json", "the rest is scanned");
    let out = cli(dir.path(), &["scan", ".", "--format", "json", "--max-file-size", "1MB"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The default limit (64 MiB) reads both.
    assert_eq!(cli(dir.path(), &["scan", "."]).status.code(), Some(0));
    // A standalone policy is held to the plain scorer's 1 MiB: no IAM policy is that large.
    let many = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}",
        vec![r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#; 15_000].join(",\n")
    );
    std::fs::write(dir.path().join("huge-policy.json"), &many).unwrap();
    let out = cli(dir.path(), &["scan", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"][0]["file"], "huge-policy.json");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("a policy document of 1.1 MiB, larger than the 1 MiB a policy may be"),
        "{}",
        v["errors"][0]
    );
    assert_eq!(v["totals"]["policies"], 2, "the others are scored");
    for bad in ["lots", "0", "12PB", "1.5.5MB"] {
        let out = cli(dir.path(), &["scan", ".", "--max-file-size", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--max-file-size"), "{bad}");
    }
}

#[test]
fn hidden_characters_in_names_addresses_and_policies_are_escaped_in_every_human_facing_format() {
    let dir = tempfile::tempdir().unwrap();
    // A file name with a line break and a right-to-left override; a Sid and an unknown action
    // with an override (the core's message quotes the action).
    let name = "evil\u{202e}nosj.\n.json";
    let policy = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"A\u{202e}B\", \"Effect\": \"Allow\", \"Action\": [\"*\", \"s3:Get\u{202e}X\"], \"Resource\": \"*\"}]}";
    std::fs::write(dir.path().join(name), policy).unwrap();
    // A Terraform plan address with an isolate (a `for_each` key can hold anything), and one
    // that is unresolved.
    let plan = serde_json::json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_iam_policy.p[\"a\u{2067}b\"]", "mode": "managed", "type": "aws_iam_policy", "name": "p",
             "values": {"policy": "{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}"}}
        ]}},
        "resource_changes": [
            {"address": "aws_iam_policy.q[\"c\u{200b}d\"]", "mode": "managed", "type": "aws_iam_policy", "name": "q",
             "change": {"actions": ["create"], "after_unknown": {"policy": true}}}
        ]
    });
    std::fs::write(dir.path().join("tfplan.json"), serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    // A file that cannot be read, named with an override: its error goes to standard error.
    std::fs::write(dir.path().join("bad\u{202e}.json"), "{\"Statement\": [").unwrap();
    let raw = ['\u{202e}', '\u{2067}', '\u{200b}'];
    for format in ["human", "markdown", "github", "sarif"] {
        let out = cli(dir.path(), &["scan", ".", "--format", format, "--color", "always"]);
        assert_eq!(out.status.code(), Some(2), "{format}: the broken file");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let shown = if format == "sarif" {
            // The texts shown to people; URIs are percent-encoded, fingerprints are hashes.
            let v: Value = serde_json::from_str(&stdout).unwrap();
            let run = &v["runs"][0];
            let mut texts: Vec<String> = run["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message"]["text"].as_str().unwrap().to_string())
                .collect();
            for n in run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap() {
                texts.push(n["message"]["text"].as_str().unwrap().to_string());
            }
            texts.join("\n")
        } else {
            stdout.clone()
        };
        for c in raw {
            assert!(!shown.contains(c), "{format} prints U+{:04X} raw:\n{shown}", c as u32);
            assert!(!stderr.contains(c), "standard error prints U+{:04X} raw:\n{stderr}", c as u32);
        }
        assert!(!shown.contains("nosj.\n"), "{format}: a line break in a file name is printed raw:\n{shown}");
        assert!(stderr.contains("error: bad\\u{202e}.json:"), "{stderr}");
        for escaped in ["aws_iam_policy.p[\"a\\u{2067}b\"]", "aws_iam_policy.q[\"c\\u{200b}d\"]"] {
            assert!(shown.contains(escaped), "{format}: `{escaped}` missing:\n{shown}");
        }
        if format != "sarif" {
            assert!(shown.contains("evil\\u{202e}nosj.\\u{a}.json"), "{format}: the file name is escaped:\n{shown}");
        }
        if format == "markdown" || format == "sarif" {
            // Human and GitHub output list findings scoring 4 or more; the unknown action's is below.
            assert!(shown.contains("s3:Get\\u{202e}X"), "{format}: the quoted action is escaped:\n{shown}");
        }
    }
    // JSON keeps the data exact.
    let out = cli(dir.path(), &["scan", ".", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["results"].as_array().unwrap().iter().any(|r| r["file"] == name));
    assert!(v["results"].as_array().unwrap().iter().any(|r| r["address"] == "aws_iam_policy.p[\"a\u{2067}b\"]"));
    assert_eq!(v["unresolved"][0]["address"], "aws_iam_policy.q[\"c\u{200b}d\"]");
}
