//! Terraform read as a module (issue 10, items 1–2): the fixture module in
//! `tests/fixtures/scan/terraform-module/` reproduces public patterns (see its README.md).
//! Each test states what the policy really grants once the module's own values are known.

mod common;

use common::{by_address, fixtures, json_scan, notes, rules};
use risk_cli::scan::{extract_with, Context};
use serde_json::Value;

fn scan_module() -> (Value, i32, String) {
    json_scan("terraform-module", &["--threshold", "10"])
}

#[test]
fn the_module_scans_without_errors() {
    let (v, code, stderr) = scan_module();
    assert_eq!(v["errors"], serde_json::json!([]), "{stderr}");
    // Exit 1 only because full-admin documents reach --threshold 10; nothing failed to read.
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(v["totals"]["errors"], 0);
    // What the module cannot know is listed in the output, not dropped.
    let unresolved = v["unresolved"].as_array().unwrap();
    assert_eq!(v["totals"]["unresolved"], unresolved.len());
    let external = unresolved.iter().find(|u| u["address"] == "aws_iam_policy.external").expect("listed");
    assert_eq!(external["file"], "terraform-module/unresolved.tf");
    assert_eq!(external["line"], 3);
}

#[test]
fn either_or_attributes_unknown_here_are_read_as_the_further_reaching_one() {
    let (v, _, _) = scan_module();
    // After terraform-aws-modules: actions and not_actions both from a caller's map. Not an
    // error; read as NotAction (all but an unknown) for an Allow, with the reason noted.
    let r = by_address(&v, "data.aws_iam_policy_document.inline");
    assert_eq!(r["result"]["score"], 10, "{r:#}");
    let n = notes(r);
    assert!(n.contains("`Action` and `NotAction` are both set from values unknown here"), "{n}");
    assert!(n.contains("read as `NotAction`"), "{n}");
    assert!(n.contains("`dynamic \\\"statement\\\"` over `var.inline_policy_permissions"), "{n}");
    // The same block over a literal map: every value known, only the set attributes remain.
    let lit = by_address(&v, "data.aws_iam_policy_document.literal");
    assert_eq!(lit["result"]["score"], 1, "{lit:#}");
    assert!(!notes(lit).contains("unknown"), "{}", notes(lit));
}

#[test]
fn locals_and_variable_defaults_come_from_other_files_of_the_module() {
    let (v, _, _) = scan_module();
    let base = by_address(&v, "data.aws_iam_policy_document.base");
    // Both defaults it rests on are named: `var.admin_actions` directly, `var.bucket_name`
    // through `local.bucket_arn` (a local remembers what it read).
    assert!(
        notes(base).contains("`var.admin_actions`, `var.bucket_name` are read at their defaults"),
        "{}",
        notes(base)
    );
    assert!(!notes(base).contains("opaque"), "everything in `base` is known: {}", notes(base));
    let combined = by_address(&v, "data.aws_iam_policy_document.combined");
    // source (Read, Pass on one role) + own (Run) + override (Pass on every role):
    // PassRole on * with RunInstances is the EC2 escalation path.
    assert!(rules(combined).contains(&"PE002"), "{combined:#}");
    assert_eq!(combined["result"]["score"], 9);
    assert_eq!(combined["statement_lines"].as_array().unwrap().len(), 3, "{combined:#}");
    assert!(notes(combined).contains("`override_policy_documents` merged"));
    assert!(notes(combined).contains("used by `aws_iam_policy.combined`"));
}

#[test]
fn files_and_templates_in_the_tree_are_read() {
    let (v, _, _) = scan_module();
    let f = by_address(&v, "aws_iam_policy.from_file");
    assert!(rules(f).contains(&"PE001"), "{f:#}");
    assert!(notes(f).contains("read from `terraform-module/policies/deploy.json`"));
    let t = by_address(&v, "aws_iam_policy.from_template");
    // `actions` and `bucket` given; `missing` is not, so it stays opaque.
    let n = notes(t);
    assert!(n.contains("opaque"), "{n}");
    assert!(t["result"]["findings"].to_string().contains("s3:DeleteObject"), "{t:#}");
}

#[test]
fn for_expressions_and_for_each_expand() {
    let (v, _, _) = scan_module();
    let p = by_address(&v, "aws_iam_policy.per_service");
    assert_eq!(p["statement_lines"].as_array().unwrap().len(), 2, "{p:#}");
    assert!(p["result"]["findings"].to_string().contains("kms:Decrypt"), "{p:#}");
    assert_eq!(by_address(&v, "aws_iam_role_policy.each[\"reader\"]")["result"]["score"], 6);
    assert!(rules(by_address(&v, "aws_iam_role_policy.each[\"admin\"]")).contains(&"PE001"));
}

#[test]
fn terraform_json_syntax_is_read_with_its_lines() {
    let (v, _, _) = scan_module();
    let k = by_address(&v, "data.aws_iam_policy_document.keys");
    assert_eq!(k["file"], "terraform-module/json/main.tf.json");
    assert_eq!(k["line"], 7);
    assert!(rules(k).contains(&"CE002"), "{k:#}");
    assert_eq!(by_address(&v, "aws_iam_policy.admin")["result"]["score"], 10);
}

#[test]
fn what_the_module_cannot_know_is_listed_as_unresolved() {
    let dir = fixtures().join("terraform-module");
    let cx = Context::disk(std::slice::from_ref(&dir));
    let read = |name: &str| {
        let label = dir.join(name).display().to_string();
        let text = std::fs::read_to_string(&label).unwrap();
        extract_with(&label, &label, &text, &cx)
    };
    let ex = read("unresolved.tf");
    let got: Vec<(&str, usize)> = ex.unresolved.iter().map(|u| (u.address.as_str(), u.line)).collect();
    assert_eq!(got, vec![("aws_iam_policy.external", 3), ("aws_iam_role_policy.from_module", 8)]);
    assert!(ex.unresolved[0].reason.contains("`var.external_policy` is not known from this module"));
    assert!(ex.policies.is_empty() && ex.errors.is_empty());
    // A file outside the scanned tree is never read.
    let ex = read("files.tf");
    let outside = ex.unresolved.iter().find(|u| u.address == "aws_iam_policy.outside").expect("outside listed");
    assert!(outside.reason.contains("/etc/hostname"), "{}", outside.reason);
    // An empty caller-filled document is counted, not dropped: `inline` is scored (read once
    // with unknown values), so only documents with no statement at all are listed.
    let ex = read("generic.tf");
    assert!(ex.unresolved.is_empty(), "{:?}", ex.unresolved);
}

#[test]
fn a_deny_built_from_an_unknown_condition_is_not_relied_on() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
variable "strict" { type = bool }
data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["s3:*"]
    resources = ["*"]
  }
  statement {
    effect    = "Deny"
    actions   = var.strict ? ["s3:*"] : ["s3:DeleteBucket"]
    resources = ["*"]
  }
}
"#;
    std::fs::write(dir.path().join("main.tf"), text).unwrap();
    let cx = Context::disk(&[dir.path().to_path_buf()]);
    let label = dir.path().join("main.tf").display().to_string();
    let ex = extract_with(&label, &label, text, &cx);
    assert_eq!(ex.policies.len(), 1);
    let doc = &ex.policies[0].document;
    // The union of the branches would deny all of s3:* — more than either may: dropped.
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 1, "{doc:#}");
    assert!(ex.policies[0].notes.iter().any(|n| n.contains("not relied on")));
}

#[test]
fn a_hostile_module_cannot_make_the_reader_explode() {
    // 40 locals, each twice the one before: 2^40 elements if expanded (no machine holds that:
    // without the cap the test runs out of memory). Locals are evaluated once and a collection
    // past the size cap is unknown. No timing is asserted; the value is.
    let mut text = String::from("locals {\n  l0 = [\"s3:GetObject\"]\n");
    for i in 1..=40 {
        text.push_str(&format!("  l{i} = concat(local.l{}, local.l{})\n", i - 1, i - 1));
    }
    text.push_str("  me = local.me\n}\n");
    text.push_str(
        "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({ Statement = [{ Effect = \"Allow\", Action = local.l40, Resource = \"*\" }, { Effect = \"Allow\", Action = local.me, Resource = \"*\" }] })\n}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), &text).unwrap();
    let cx = Context::disk(&[dir.path().to_path_buf()]);
    let label = dir.path().join("main.tf").display().to_string();
    let ex = extract_with(&label, &label, &text, &cx);
    assert_eq!(ex.policies.len(), 1, "{:?}", ex.errors);
    let st = &ex.policies[0].document["Statement"];
    assert!(st[0]["Action"].as_str().is_some_and(|a| a.starts_with("${")), "past the cap: unknown, {st}");
    assert_eq!(st[1]["Action"], "${local.me}", "a cycle: unknown");
}

#[test]
fn a_local_module_call_reads_the_module_with_its_inputs() {
    let (v, _, _) = scan_module();
    // Given by the caller, the statements are known: no longer "anything a caller may pass".
    let inline = by_address(&v, "module.app.data.aws_iam_policy_document.inline");
    assert_eq!(inline["file"], "terraform-module/caller/main.tf");
    assert_eq!(inline["line"], 3);
    assert_eq!(inline["result"]["score"], 1, "{inline:#}");
    assert!(notes(inline).contains("the document is in `terraform-module/generic.tf` at line 2"), "{}", notes(inline));
    // An input no longer reads as a default; the variable without a default is now known.
    let base = by_address(&v, "module.app.data.aws_iam_policy_document.base");
    assert!(!notes(base).contains("at its default"), "{}", notes(base));
    let external = by_address(&v, "module.app.aws_iam_policy.external");
    assert!(external["result"]["findings"].to_string().contains("sqs:SendMessage"), "{external:#}");
    // The module read on its own still reports the caller-filled block at its worst.
    assert_eq!(by_address(&v, "data.aws_iam_policy_document.inline")["result"]["score"], 10);
}

#[test]
fn a_module_source_outside_the_scanned_paths_is_unresolved() {
    let dir = fixtures().join("terraform-module/caller");
    let cx = Context::disk(std::slice::from_ref(&dir));
    let label = dir.join("main.tf").display().to_string();
    let text = std::fs::read_to_string(&label).unwrap();
    let ex = extract_with(&label, &label, &text, &cx);
    assert!(ex.policies.is_empty());
    let u: Vec<&str> = ex.unresolved.iter().map(|u| u.address.as_str()).collect();
    // `../` is outside `caller/`; the registry module is not a local source and is not listed.
    assert_eq!(u, vec!["module.app"]);
    assert!(ex.unresolved[0].reason.contains("outside the scanned paths"));
}

#[test]
fn attached_aws_managed_policies_are_scored_as_published() {
    let (v, _, _) = scan_module();
    let admin = by_address(&v, "aws_iam_role_policy_attachment.admin[AdministratorAccess]");
    assert_eq!(admin["result"]["score"], 10, "{admin:#}");
    assert_eq!(admin["principal"], "role app");
    assert!(notes(admin).contains("AWS managed policy AdministratorAccess"));
    let ro = by_address(&v, "aws_iam_role.legacy[ReadOnlyAccess]");
    assert!(ro["result"]["score"].as_u64().unwrap() >= 5, "{ro:#}");
    let dir = fixtures().join("terraform-module");
    let cx = Context::disk(std::slice::from_ref(&dir));
    let label = dir.join("attachments.tf").display().to_string();
    let text = std::fs::read_to_string(&label).unwrap();
    let ex = extract_with(&label, &label, &text, &cx);
    let u: Vec<(&str, usize)> = ex.unresolved.iter().map(|u| (u.address.as_str(), u.line)).collect();
    // The own policy is scored at `aws_iam_policy.combined`; the customer ARN and the
    // variable are not in this configuration.
    assert_eq!(
        u,
        vec![("aws_iam_user_policy_attachment.customer", 13), ("aws_iam_role.legacy", 19)],
        "{:?}",
        ex.unresolved
    );
    assert!(ex.unresolved[0].reason.contains("customer managed policy"));
}

#[test]
fn splats_over_optional_documents_follow_their_count() {
    let (v, _, _) = scan_module();
    // Read on its own, `count = var.attach_extra ? 1 : 0` is 0 only at the default: the
    // optional document may exist, so its iam:CreateUser is in the gathered policy.
    let alone = by_address(&v, "data.aws_iam_policy_document.selected");
    assert!(alone["result"]["findings"].to_string().contains("iam:CreateUser"), "{alone:#}");
    // In the module call the default is the value: the document does not exist.
    let called = by_address(&v, "module.app.data.aws_iam_policy_document.selected");
    assert!(!called["result"]["findings"].to_string().contains("iam:CreateUser"), "{called:#}");
    assert!(called["result"]["score"].as_u64().unwrap() < alone["result"]["score"].as_u64().unwrap());
}

#[test]
fn a_deny_a_caller_can_switch_off_is_not_relied_on_alone_but_is_in_a_call() {
    let (v, _, _) = scan_module();
    // Alone: `enforce_deny` is true only at its default; the Deny may be switched off.
    let alone = by_address(&v, "data.aws_iam_policy_document.guarded");
    assert!(alone["result"]["score"].as_u64().unwrap() >= 7, "{alone:#}");
    assert!(notes(alone).contains("exists only by a caller's choice is not relied on"), "{}", notes(alone));
    let switched = by_address(&v, "data.aws_iam_policy_document.switched");
    assert!(switched["result"]["findings"].to_string().contains("s3:DeleteBucket"), "{switched:#}");
    assert!(notes(switched).contains("the `Deny` statements of its documents are not relied on"));
    // In the call the default is the value: the Denies exist and remove what they cover.
    let called = by_address(&v, "module.app.data.aws_iam_policy_document.guarded");
    assert_eq!(called["result"]["score"], 1, "{called:#}");
    let called = by_address(&v, "module.app.data.aws_iam_policy_document.switched");
    assert_eq!(called["result"]["score"], 1, "{called:#}");
}

#[test]
fn a_placeholder_replaced_at_apply_stays_opaque_in_a_known_document() {
    let (v, _, _) = scan_module();
    let p = by_address(&v, "aws_s3_bucket_policy.placeholder");
    assert_eq!(p["result"]["policy_type"], "resource");
    assert!(notes(p).contains("opaque"), "{}", notes(p));
    // The public principal is read although the bucket ARN is known only at apply.
    assert!(rules(p).contains(&"RX002"), "{p:#}");
}

#[test]
fn a_broken_expression_in_terraform_json_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.tf.json"),
        r#"{"resource": {"aws_iam_policy": {"p": {"policy": "${jsonencode({\"a\": }"}}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good.tf"),
        "resource \"aws_iam_policy\" \"g\" {\n  policy = jsonencode({ Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"*\" }] })\n}\n",
    )
    .unwrap();
    let out = common::cli(dir.path(), &["scan", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["errors"][0];
    assert_eq!(e["file"], "bad.tf.json");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with("a `${…}` expression in a string of this Terraform JSON file is not valid HCL at line"),
        "{msg}"
    );
    // The rest of the directory is still scanned.
    assert_eq!(v["totals"]["policies"], 1);
}

#[test]
fn a_local_that_rests_on_a_default_stays_a_choice_at_every_use() {
    let (v, _, _) = scan_module();
    // Read alone, `count = local.extra_on ? 1 : 0` is 0 only at a default: both documents may
    // exist. (The local is evaluated once; its second use must not read as settled.)
    for name in ["optional_first", "optional_second"] {
        let r = by_address(&v, &format!("data.aws_iam_policy_document.{name}"));
        assert!(r["result"]["findings"].to_string().contains("iam:PassRole"), "{r:#}");
    }
    // In the module call the value is known (enforce_deny = true): neither exists.
    let called: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["address"].as_str())
        .filter(|a| a.starts_with("module.app.data.aws_iam_policy_document.optional"))
        .collect();
    assert!(called.is_empty(), "{called:?}");
}
