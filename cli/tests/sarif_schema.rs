//! `--format sarif` validates against the SARIF 2.1.0 JSON schema (vendored in `tests/data/`,
//! see its PROVENANCE.md) and carries what GitHub code scanning needs.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-2.1.0-rtm.5.json"))
        .expect("vendored schema");
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft4::new(&schema).expect("schema compiles")
}

fn sarif(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-risk-score")).args(args).current_dir(dir).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn assert_valid(v: &jsonschema::Validator, log: &Value) {
    let errors: Vec<String> = v.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF does not validate:\n{}", errors.join("\n"));
}

#[test]
fn scan_sarif_validates_for_every_input_format() {
    let v = validator();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan");
    for dir in ["standalone", "cloudformation", "terraform", "plan", "authdetails"] {
        let log = sarif(&fixtures, &["scan", dir, "--format", "sarif"]);
        assert_valid(&v, &log);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert!(rules.iter().all(|r| r["help"]["text"].is_string() && r["helpUri"].is_string()));
        // Engine rules carry a security severity; `unresolved-policy` (not a vulnerability) does not.
        assert!(rules
            .iter()
            .all(|r| r["properties"]["security-severity"].is_string() == (r["id"] != "unresolved-policy")));
        let results = run["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{dir}");
        for r in results {
            let loc = &r["locations"][0]["physicalLocation"];
            assert!(loc["artifactLocation"]["uri"].as_str().unwrap().starts_with(dir), "{r:#}");
            assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(r["partialFingerprints"]["iamRiskScore/v1"].is_string());
            assert!(["note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
            let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], r["ruleId"]);
        }
    }
    // What the export leaves unresolved (a managed policy it does not hold) is a `note` result,
    // with its own rule, in the log that validated above.
    let log = sarif(&fixtures, &["scan", "authdetails", "--format", "sarif"]);
    let run = &log["runs"][0];
    let note = run["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "unresolved-policy").expect("a note");
    assert_eq!(note["level"], "note");
    assert_eq!(note["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "role/ci");
    assert!(note["message"]["text"].as_str().unwrap().contains("AdministratorAccess"), "{note:#}");
    assert_eq!(run["tool"]["driver"]["rules"][note["ruleIndex"].as_u64().unwrap() as usize]["id"], "unresolved-policy");
    // Files that could not be scanned are notifications, and the log still validates.
    let log = sarif(&fixtures, &["scan", "standalone", "--format", "sarif"]);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 3, "broken-policy, duplicate-action, invalid-effect");
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], false);
}

#[test]
fn tf_finding_is_located_at_its_statement() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan");
    let log = sarif(&fixtures, &["scan", "terraform/iam.tf", "--format", "sarif"]);
    let r = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "PE004")
        .expect("PE004 on aws_iam_policy.ci");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 75);
    assert_eq!(r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "aws_iam_policy.ci");
    assert_eq!(r["level"], "error");
}

#[test]
fn score_sarif_validates_too() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan/standalone");
    let log = sarif(&fixtures, &["deploy-identity.json", "bucket-resource.json", "--format", "sarif"]);
    assert_valid(&validator(), &log);
}
