//! Destination-account onboarding templates, checked by the real tools: the generated
//! CloudFormation (and `deploy/hub-role.yaml`) by `cfn-lint`, the generated Terraform by
//! python-hcl2, every condition key against the action catalog, and the provisioner's policy
//! by the project's own scoring engine.

mod support;

use jit_service::onboarding::{self, Onboarding};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{scratch_dir, venv_python};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Two accounts: one with no sts allow list (all of sts denied to grants), one with two
/// allowed roles (the NotResource form).
fn samples() -> Vec<Onboarding> {
    vec![
        Onboarding {
            account_id: "111122223333".into(),
            hub_role_arn: "arn:aws:iam::999988887777:role/iam-jit-hub".into(),
            external_id: "b1e0c4f2a9d84e7f9c3a5d6e7f8091a2".into(),
            deployment_id: "prod".into(),
            sts_allow_list: vec![],
        },
        Onboarding {
            account_id: "444455556666".into(),
            hub_role_arn: "arn:aws:iam::999988887777:role/platform/iam-jit-hub".into(),
            external_id: "iam-jit:444455556666/7Q+xv=Lw,k2.Zp@r-4".into(),
            deployment_id: "staging.eu-1".into(),
            sts_allow_list: vec![
                "arn:aws:iam::444455556666:role/ReadOnly".into(),
                "arn:aws:iam::777788889999:role/deploy/*".into(),
            ],
        },
    ]
}

/// Run cfn-lint (the one next to the test venv's Python) on `path`; returns (exit code, output).
fn cfn_lint(path: &Path) -> (i32, String) {
    let cfn_lint = venv_python().with_file_name("cfn-lint");
    assert!(cfn_lint.exists(), "{} is missing: run scripts/jit-venv.sh", cfn_lint.display());
    let out = Command::new(&cfn_lint).arg(path).output().expect("cannot run cfn-lint");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("cfn-lint was killed by a signal"), text)
}

/// cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational (1 = it failed).
fn assert_lints_clean(path: &Path) {
    let (code, text) = cfn_lint(path);
    eprintln!("cfn-lint {}: exit {code}\n{text}", path.display());
    assert_eq!(code & 1, 0, "cfn-lint failed to run on {}:\n{text}", path.display());
    assert_eq!(code & 2, 0, "cfn-lint found errors in {}:\n{text}", path.display());
    assert_eq!(code & 4, 0, "cfn-lint found warnings in {}:\n{text}", path.display());
}

#[test]
fn generated_cloudformation_passes_cfn_lint() {
    let dir = scratch_dir("onboarding-cfn");
    for o in samples() {
        onboarding::validate(&o).unwrap();
        let path = dir.join(format!("onboard-{}.json", o.account_id));
        let text = onboarding::cloudformation(&o);
        std::fs::write(&path, &text).unwrap();
        assert_lints_clean(&path);

        let t: Value = serde_json::from_str(&text).unwrap();
        let r = &t["Resources"];
        assert_eq!(r["PermissionBoundary"]["Type"], "AWS::IAM::ManagedPolicy");
        assert_eq!(r["ProvisionerRole"]["Type"], "AWS::IAM::Role");
        assert_eq!(r["ProvisionerPolicy"]["Type"], "AWS::IAM::RolePolicy");
        assert_eq!(r["PermissionBoundary"]["Properties"]["PolicyDocument"], onboarding::boundary_policy(&o));
        assert_eq!(
            r["ProvisionerRole"]["Properties"]["AssumeRolePolicyDocument"],
            onboarding::provisioner_trust_policy(&o)
        );
        assert_eq!(r["ProvisionerPolicy"]["Properties"]["PolicyDocument"], onboarding::provisioner_policy(&o));
        let outputs: BTreeSet<&str> = t["Outputs"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(outputs, BTreeSet::from(["PermissionBoundaryArn", "ProvisionerRoleArn"]));
        assert!(t["Description"].as_str().unwrap().contains(&o.deployment_id));
        // The template refuses to be deployed in another account.
        assert_eq!(
            t["Rules"]["DestinationAccountOnly"]["Assertions"][0]["Assert"]["Fn::Equals"][1],
            Value::String(o.account_id.clone())
        );
    }
}

#[test]
fn hub_role_template_passes_cfn_lint() {
    assert_lints_clean(&workspace_root().join("deploy/hub-role.yaml"));
}

#[test]
fn a_broken_template_is_caught_by_the_lint() {
    // The lint is only a guard if it actually reports problems: a template with an unknown
    // property must fail with the error bit set.
    let dir = scratch_dir("onboarding-cfn-broken");
    let o = &samples()[0];
    let mut t: Value = serde_json::from_str(&onboarding::cloudformation(o)).unwrap();
    t["Resources"]["ProvisionerRole"]["Properties"]["NoSuchProperty"] = Value::Bool(true);
    let path = dir.join("broken.json");
    std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
    let (code, text) = cfn_lint(&path);
    assert_ne!(code & 2, 0, "cfn-lint did not report the unknown property (exit {code}):\n{text}");
    assert!(text.contains("NoSuchProperty"), "{text}");
}

/// Parse `path` with python-hcl2 and return what it parsed, as JSON.
fn parse_hcl(path: &Path) -> Value {
    let script = "import hcl2, json, sys\nwith open(sys.argv[1]) as f:\n    print(json.dumps(hcl2.load(f)))\n";
    let out = Command::new(venv_python()).args(["-c", script]).arg(path).output().expect("cannot run python");
    assert!(
        out.status.success(),
        "python-hcl2 cannot parse {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python-hcl2 output is JSON")
}

/// python-hcl2 keeps the quotes of quoted strings (`"\"iam-jit\""`) in recent versions and
/// drops them in older ones; compare on the unquoted text.
fn unquote(v: &Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a string"));
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s).to_string()
}

/// A heredoc as python-hcl2 returns it: quoted or not, with or without the `<<-EOT` … `EOT`
/// markers (versions differ).
fn heredoc_json(v: &Value) -> Value {
    let s = unquote(v);
    let body = match s.strip_prefix("<<-EOT\n").or_else(|| s.strip_prefix("<<EOT\n")) {
        Some(rest) => rest.trim_end().strip_suffix("EOT").expect("heredoc without its end marker"),
        None => &s,
    };
    serde_json::from_str(body).unwrap_or_else(|e| panic!("the heredoc is not JSON ({e}):\n{body}"))
}

/// Block labels as python-hcl2 returns them (`"\"aws_iam_role\""` in recent versions).
fn label(k: &str) -> &str {
    k.strip_prefix('"').and_then(|k| k.strip_suffix('"')).unwrap_or(k)
}

/// The single block `kind` (`kind.name`) of a python-hcl2 `resource`/`data`/`output` list.
fn block<'a>(parsed: &'a Value, section: &str, kind: &str, name: Option<&str>) -> &'a Value {
    let all = parsed[section].as_array().unwrap_or_else(|| panic!("no {section} blocks in {parsed:#}"));
    let found: Vec<&Value> = all
        .iter()
        .flat_map(|b| b.as_object().unwrap().iter())
        .filter(|(k, _)| label(k) == kind)
        .filter_map(|(_, v)| match name {
            None => Some(v),
            Some(n) => v.as_object().unwrap().iter().find(|(k, _)| label(k) == n).map(|(_, v)| v),
        })
        .collect();
    assert_eq!(found.len(), 1, "{section} {kind} {name:?} must appear once in {parsed:#}");
    found[0]
}

/// `kind.name` of every two-label block of a section.
fn labels2(parsed: &Value, section: &str) -> BTreeSet<String> {
    parsed[section]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_object().unwrap().iter())
        .flat_map(|(k, v)| {
            v.as_object()
                .unwrap()
                .keys()
                .filter(|n| *n != "__is_block__")
                .map(move |n| format!("{}.{}", label(k), label(n)))
        })
        .collect()
}

#[test]
fn generated_terraform_parses_and_embeds_the_same_documents() {
    let dir = scratch_dir("onboarding-tf");
    for o in samples() {
        let path = dir.join(format!("onboard-{}.tf", o.account_id));
        std::fs::write(&path, onboarding::terraform(&o)).unwrap();
        let p = parse_hcl(&path);

        let providers = &p["terraform"][0]["required_providers"][0]["aws"];
        assert_eq!(unquote(&providers["source"]), "hashicorp/aws", "{p:#}");

        assert_eq!(
            labels2(&p, "resource"),
            BTreeSet::from([
                "aws_iam_policy.iam_jit_boundary".to_string(),
                "aws_iam_role.iam_jit_provisioner".to_string(),
                "aws_iam_role_policy.iam_jit_provisioner".to_string(),
            ])
        );
        assert_eq!(labels2(&p, "data"), BTreeSet::from(["aws_caller_identity.current".to_string()]));

        let boundary = block(&p, "resource", "aws_iam_policy", Some("iam_jit_boundary"));
        assert_eq!(unquote(&boundary["name"]), onboarding::BOUNDARY_POLICY_NAME);
        assert_eq!(unquote(&boundary["path"]), onboarding::ROLE_PATH);
        assert_eq!(heredoc_json(&boundary["policy"]), onboarding::boundary_policy(&o));

        let role = block(&p, "resource", "aws_iam_role", Some("iam_jit_provisioner"));
        assert_eq!(unquote(&role["name"]), onboarding::PROVISIONER_ROLE_NAME);
        assert_eq!(heredoc_json(&role["assume_role_policy"]), onboarding::provisioner_trust_policy(&o));
        let precondition = role["lifecycle"][0]["precondition"][0]["condition"].to_string();
        assert!(
            precondition.contains("data.aws_caller_identity.current.account_id")
                && precondition.contains(&o.account_id),
            "the account precondition is missing: {precondition}"
        );

        let policy = block(&p, "resource", "aws_iam_role_policy", Some("iam_jit_provisioner"));
        assert_eq!(heredoc_json(&policy["policy"]), onboarding::provisioner_policy(&o));
        assert!(policy["role"].to_string().contains("aws_iam_role.iam_jit_provisioner.id"), "{policy:#}");

        let arn = block(&p, "output", "provisioner_role_arn", None);
        assert!(arn["value"].to_string().contains("aws_iam_role.iam_jit_provisioner.arn"), "{arn:#}");
        let boundary_arn = block(&p, "output", "permission_boundary_arn", None);
        assert!(boundary_arn["value"].to_string().contains("aws_iam_policy.iam_jit_boundary.arn"), "{boundary_arn:#}");
        let outputs: BTreeSet<&str> = p["output"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b.as_object().unwrap().keys().map(|k| label(k)))
            .collect();
        assert_eq!(outputs, BTreeSet::from(["permission_boundary_arn", "provisioner_role_arn"]));

        // Where Terraform itself is installed, the text is also in its canonical format
        // (`terraform fmt` needs no provider and no network).
        if let Ok(out) = Command::new("terraform").args(["fmt", "-check", "-diff"]).arg(&path).output() {
            assert!(
                out.status.success(),
                "terraform fmt would reformat {}:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Condition keys against the catalog
// ---------------------------------------------------------------------------------------------

/// `service:Action` → every condition key the catalog says applies to it (action-level keys
/// and the keys of the resource types it can name).
fn catalog_keys() -> std::collections::HashMap<String, (Vec<String>, bool)> {
    let text = std::fs::read_to_string(workspace_root().join("catalog/data/catalog.json")).unwrap();
    let cat: Value = serde_json::from_str(&text).unwrap();
    let mut out = std::collections::HashMap::new();
    for svc in cat["services"].as_array().unwrap() {
        let prefix = svc["prefix"].as_str().unwrap();
        let rtypes: std::collections::HashMap<&str, Vec<String>> = svc["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let keys = r[2].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
                (r[0].as_str().unwrap(), keys)
            })
            .collect();
        for a in svc["actions"].as_array().unwrap() {
            let mut keys: Vec<String> =
                a[3].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
            let resources = a[2].as_array().unwrap();
            for r in resources {
                keys.extend(rtypes.get(r[0].as_str().unwrap()).cloned().unwrap_or_default());
                keys.extend(r[2].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()));
            }
            out.insert(format!("{prefix}:{}", a[0].as_str().unwrap()).to_lowercase(), (keys, !resources.is_empty()));
        }
    }
    out
}

/// Does catalog key `pattern` (e.g. `aws:RequestTag/${TagKey}`) cover `key`?
fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern.split_once("${") {
        Some((prefix, _)) => key.len() > prefix.len() && key[..prefix.len()].eq_ignore_ascii_case(prefix),
        None => pattern.eq_ignore_ascii_case(key),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
        _ => vec![],
    }
}

/// Every named action exists, and every condition key of a statement applies to every action
/// of that statement: an unsupported key would make an Allow never match (a broken
/// provisioner) or, worse, a `ForAnyValue`/`Null` Deny never fire.
#[test]
fn every_condition_key_is_supported_by_its_actions() {
    let cat = catalog_keys();
    for o in samples() {
        for (what, policy) in [
            ("boundary", onboarding::boundary_policy(&o)),
            ("provisioner", onboarding::provisioner_policy(&o)),
            ("trust", onboarding::provisioner_trust_policy(&o)),
        ] {
            for st in policy["Statement"].as_array().unwrap() {
                let sid = st["Sid"].as_str().unwrap();
                let actions = strings(&st["Action"]);
                for a in &actions {
                    if a.contains('*') {
                        let (svc, _) = a.split_once(':').unwrap_or(("", ""));
                        assert!(
                            *a == "*" || cat.keys().any(|k| k.starts_with(&format!("{}:", svc.to_lowercase()))),
                            "{what} {sid}: no service for {a}"
                        );
                        continue;
                    }
                    assert!(cat.contains_key(&a.to_lowercase()), "{what} {sid}: {a} is not in the catalog");
                }
                let Some(cond) = st["Condition"].as_object() else { continue };
                if what == "trust" {
                    // sts:ExternalId is a key of sts:AssumeRole.
                    let (keys, _) = &cat["sts:assumerole"];
                    assert!(keys.iter().any(|k| k == "sts:ExternalId"), "{keys:?}");
                    continue;
                }
                for (op, kv) in cond {
                    for key in kv.as_object().unwrap().keys() {
                        for a in &actions {
                            assert!(
                                !a.contains('*'),
                                "{what} {sid}: conditions on a wildcard action ({a}) cannot be checked"
                            );
                            let (keys, _) = &cat[&a.to_lowercase()];
                            assert!(
                                keys.iter().any(|p| key_matches(p, key)),
                                "{what} {sid}: {op} {key} does not apply to {a} (catalog keys: {keys:?})"
                            );
                        }
                    }
                }
            }
            // Allowed actions that have no resource type can only be granted on `*`.
            for st in policy["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Allow") {
                for a in strings(&st["Action"]).into_iter().filter(|a| !a.contains('*')) {
                    let (_, has_resource) = &cat[&a.to_lowercase()];
                    if !has_resource {
                        assert_eq!(st["Resource"], "*", "{what}: {a} has no resource type, so only `*` can grant it");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The project's own engine on the provisioner's policy
// ---------------------------------------------------------------------------------------------

#[test]
fn the_engine_scores_the_provisioner_policy() {
    use risk_core::{score_value, ScoreOptions};
    let o = &samples()[0];
    let report = score_value(&onboarding::provisioner_policy(o), &ScoreOptions::default())
        .unwrap_or_else(|e| panic!("the engine refuses the provisioner policy: {e}"));
    eprintln!(
        "provisioner policy: score {} ({}), findings: {:#?}",
        report.score,
        report.tier,
        report.findings.iter().map(|f| format!("{} {}: {}", f.rule, f.name, f.message)).collect::<Vec<_>>()
    );
    assert_eq!(report.policy_type, "identity");
    // It grants IAM role management only: never full admin, and nothing outside iam.
    assert!(report.score < 10, "the provisioner is not an administrator: {}", report.score);
    let services: BTreeSet<&str> = report.access_summary.by_service.keys().map(String::as_str).collect();
    assert_eq!(services, BTreeSet::from(["iam"]), "{:#?}", report.access_summary);
    // Exactly the 13 calls the provisioner makes, and only ListRoles on every resource.
    assert_eq!(report.access_summary.actions, 13, "{:#?}", report.access_summary);
    assert_eq!(report.access_summary.actions_on_all_resources, 1, "{:#?}", report.access_summary);
    let rules: BTreeSet<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    // Writing role policies is the provisioner's job, and the engine sees it (score 6, high:
    // PE001 PutRolePolicy, PE004 UpdateAssumeRolePolicy, both limited to
    // the named resources). Accepted, not weakened: the guards are the boundary and the tag,
    // which the engine reports as conditions it cannot fully credit.
    assert!(rules.contains("PE001"), "the engine no longer sees PutRolePolicy as escalation? {rules:?}");
    // What must never appear: full admin, PassRole, or permission-boundary removal.
    for never in ["FA001", "PE002", "PE005", "PE006"] {
        assert!(!rules.contains(never), "{never} on the provisioner policy: {:#?}", report.findings);
    }

    let boundary = score_value(&onboarding::boundary_policy(o), &ScoreOptions::default()).unwrap();
    // Informational: the boundary is `Allow *` minus Denies by design (the grant's own policy
    // is what gets scored and approved), so its score is naturally the maximum.
    eprintln!("boundary: score {} ({})", boundary.score, boundary.tier);
    assert_eq!(boundary.policy_type, "identity");

    let trust = score_value(&onboarding::provisioner_trust_policy(o), &ScoreOptions::default()).unwrap();
    eprintln!("provisioner trust: score {} ({}), factors {:?}", trust.score, trust.tier, trust.factors);
    assert_eq!(trust.policy_type, "trust");
}
