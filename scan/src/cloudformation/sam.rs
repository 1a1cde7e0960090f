//! AWS SAM: the `Policies` of `AWS::Serverless::Function` and `StateMachine` (AWS managed
//! policy names and ARNs, inline documents, SAM policy templates) and the resource policy of
//! `AWS::Serverless::Api`, read as the SAM transform would turn them into IAM.
//!
//! Policy templates are expanded from SAM's own definitions, vendored in
//! `../data/sam-policy-templates.json` (see `../data/PROVENANCE.md`): parameters given
//! literally are substituted, parameters given by intrinsics stay opaque `${…}` strings, as
//! everywhere else in CloudFormation.

use super::{attach_managed, intrinsic, is_no_value, map_node, opaque_list, push, splice, str_node, Cx, Res};
use crate::tree::{Kind, Node};
use crate::{Extracted, FileError, Unresolved};
use risk_core::PolicyType;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The SAM commit the policy templates come from.
pub const SAM_COMMIT: &str = "7000d0a";

const DATA: &str = include_str!("../data/sam-policy-templates.json");

/// Template name → `{"Parameters": [names], "Definition": {"Statement": […]}}`.
fn templates() -> &'static Map<String, Value> {
    static TEMPLATES: OnceLock<Map<String, Value>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        // NOTE: the embedded file is checked by a test; an unreadable one means no templates
        // (every template use is then counted as unresolved), never a panic.
        match serde_json::from_str::<Value>(DATA) {
            Ok(Value::Object(mut top)) => match top.remove("Templates") {
                Some(Value::Object(t)) => t,
                _ => Map::new(),
            },
            _ => Map::new(),
        }
    })
}

/// A JSON value as a tree node, every line set to `line` (the template's use in the file).
fn node_of(v: &Value, line: usize) -> Node {
    let kind = match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Bool(*b),
        Value::Number(n) => Kind::Num(n.clone()),
        Value::String(s) => Kind::Str(s.clone()),
        Value::Array(items) => Kind::Seq(items.iter().map(|i| node_of(i, line)).collect()),
        Value::Object(m) => Kind::Map(m.iter().map(|(k, v)| (k.clone(), node_of(v, line))).collect()),
    };
    Node::new(line, kind)
}

/// Replace `{"Ref": Parameter}` of the template's own parameters with the values given.
/// Only those: SAM renames them before resolving, so a `Ref` in a value given is not touched.
fn substitute(n: Node, wanted: &[&str], given: &Node) -> Node {
    if let Kind::Map(entries) = &n.kind {
        if let [(k, v)] = entries.as_slice() {
            if let (true, Some(p)) = (k == "Ref", v.as_str()) {
                if wanted.contains(&p) {
                    if let Some(value) = given.get(p) {
                        return value.clone();
                    }
                }
            }
        }
    }
    let Node { line, key_line, kind } = n;
    let kind = match kind {
        Kind::Seq(items) => Kind::Seq(items.into_iter().map(|i| substitute(i, wanted, given)).collect()),
        Kind::Map(entries) => Kind::Map(entries.into_iter().map(|(k, v)| (k, substitute(v, wanted, given))).collect()),
        other => other,
    };
    Node { line, key_line, kind }
}

/// The policy document SAM generates from template `name` with the parameters `given`.
/// `Ok(None)`: no such template. `Err`: SAM would refuse it (the message says why).
fn expand(name: &str, given: &Node, line: usize) -> Result<Option<Node>, String> {
    let Some(t) = templates().get(name) else { return Ok(None) };
    let wanted: Vec<&str> =
        t.get("Parameters").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !given.is_map() || intrinsic(given).is_some() {
        return Err(format!(
            "SAM policy template `{name}` takes its parameters as a mapping (`{name}: {{…}}`, `{{}}` for none); \
             SAM refuses anything else"
        ));
    }
    let missing: Vec<String> = wanted.iter().filter(|p| given.get(p).is_none()).map(|p| format!("`{p}`")).collect();
    if !missing.is_empty() {
        return Err(format!(
            "SAM policy template `{name}` lacks the parameter(s) {}; SAM refuses the template",
            missing.join(", ")
        ));
    }
    let definition = t.get("Definition").map(|d| node_of(d, line)).unwrap_or_else(|| Node::new(line, Kind::Null));
    let mut doc = substitute(definition, &wanted, given);
    // SAM writes no `Version`; its `${…}` are `Fn::Sub` variables, resolved at deploy, and no
    // template uses an IAM policy variable (a test checks). Without the version the engine
    // would read the opaque placeholders as policy variables that need one (VA004).
    if let Kind::Map(entries) = &mut doc.kind {
        if !entries.iter().any(|(k, _)| k == "Version") {
            entries.insert(0, ("Version".into(), str_node(line, "2012-10-17")));
        }
    }
    Ok(Some(doc))
}

/// `Policies` of a SAM function or state machine: a string, a document, a template, an
/// `Fn::If` of those, or a list of them. Each becomes its own result, as SAM makes each its
/// own policy of the role it generates.
pub(super) fn policies(props: &Node, principal: Option<String>, r: &mut Res, ex: &mut Extracted) {
    let Some(list) = props.get("Policies") else { return };
    let id = r.logical_id;
    let prefix = format!("{id}.Policies");
    let mut cx = Cx::default();
    // A single intrinsic other than `Fn::If` is, to SAM, one managed policy ARN.
    if list.as_seq().is_none() && opaque_list(&mut cx, list).is_some() {
        attach_managed(list, &format!("{prefix}[0]"), &prefix, principal, Vec::new(), r, ex);
        return;
    }
    let mut notes = Vec::new();
    if props.get("Role").is_some_and(|role| !is_no_value(role)) {
        notes.push("SAM ignores `Policies` when `Role` is set; scored as written".to_string());
    }
    for (i, (item, _)) in splice(list).into_iter().enumerate() {
        let index_address = format!("{prefix}[{i}]");
        match (&item.kind, intrinsic(item)) {
            (Kind::Str(_), _) | (_, Some(_)) => {
                attach_managed(item, &index_address, &prefix, principal.clone(), notes.clone(), r, ex)
            }
            (Kind::Map(_), None) if item.get("Statement").is_some() => {
                let address = r.unique(index_address);
                push(item, address, principal.clone(), PolicyType::Identity, notes.clone(), ex);
            }
            (Kind::Map(entries), None) if entries.len() == 1 => {
                let (name, given) = (&entries[0].0, &entries[0].1);
                match expand(name, given, item.line) {
                    Ok(Some(doc)) => {
                        let address = r.unique(format!("{prefix}[{name}]"));
                        let mut notes = notes.clone();
                        notes.insert(
                            0,
                            format!(
                                "SAM policy template {name}, expanded from SAM's definitions (commit {SAM_COMMIT})"
                            ),
                        );
                        push(&doc, address, principal.clone(), PolicyType::Identity, notes, ex);
                    }
                    Ok(None) => ex.unresolved.push(Unresolved::new(
                        item.line,
                        index_address,
                        format!(
                            "`{name}` is not one of SAM's policy templates (as of SAM commit {SAM_COMMIT}): it is \
                             newer than that copy or misspelt, and SAM refuses a template it does not know"
                        ),
                    )),
                    Err(message) => ex.errors.push(FileError::new(Some(item.line), Some(index_address), message)),
                }
            }
            _ => ex.errors.push(FileError::new(
                Some(item.line),
                Some(index_address),
                "a SAM policy must be a managed policy name or ARN, a policy document with `Statement`, or a \
                 policy template (`Name: {parameters}`); SAM refuses this one"
                    .into(),
            )),
        }
    }
}

/// The SAM shorthands of `Auth.ResourcePolicy` that generate Allow statements; the `…Blacklist`
/// ones generate Denies, which are not relied upon anyway.
const ALLOW_SHORTHANDS: [&str; 5] = [
    "AwsAccountWhitelist",
    "IpRangeWhitelist",
    "SourceVpcWhitelist",
    "IntrinsicVpcWhitelist",
    "IntrinsicVpceWhitelist",
];

/// `AWS::Serverless::Api` `Auth.ResourcePolicy`: `CustomStatements` scored as the API's
/// resource policy; the shorthands that generate Allow statements are counted as unresolved.
pub(super) fn api_policy(props: &Node, r: &mut Res, ex: &mut Extracted) {
    let Some(rp) = props.get("Auth").and_then(|a| a.get("ResourcePolicy")) else { return };
    let address = format!("{}.Auth.ResourcePolicy", r.logical_id);
    if let Some(custom) = rp.get("CustomStatements") {
        let line = custom.line;
        let doc = map_node(line, vec![("Version", str_node(line, "2012-10-17")), ("Statement", custom.clone())]);
        let address = r.unique(address.clone());
        push(&doc, address, None, PolicyType::Resource, vec!["SAM `CustomStatements` of the API".into()], ex);
    }
    for key in ALLOW_SHORTHANDS {
        if let Some(n) = rp.get(key) {
            ex.unresolved.push(Unresolved::new(
                n.line,
                address.clone(),
                format!(
                    "SAM `Auth.ResourcePolicy.{key}` is not expanded: the Allow statements SAM generates from it \
                     are not scored"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Extracted {
        let root = crate::tree::parse_yaml(text).unwrap();
        let mut ex = Extracted::default();
        super::super::extract(&root, &mut ex);
        ex
    }

    #[test]
    fn function_policies_of_every_shape() {
        // After the SAM developer guide's `Policies` examples and SAM's own
        // tests/translator/input/function_with_policy_templates.yaml.
        let ex = run(r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Policies:
        - PowerUserAccess
        - arn:aws:iam::aws:policy/service-role/AWSLambdaRole
        - Statement:
            - Effect: Allow
              Action: !If [Admin, "iam:*", "iam:GetRole"]
              Resource: "*"
        - S3ReadPolicy:
            BucketName: my-bucket
        - DynamoDBCrudPolicy:
            TableName: !Ref Table
        - S3ReadPolicy:
            BucketName: other
        - !If [C, CloudWatchPutMetricPolicy: {}, EC2DescribePolicy: {}]
        - SomeFuturePolicy: {Key: Value}
        - S3CrudPolicy: {}
        - !Ref ExtraPolicyArn
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Role: arn:aws:iam::123456789012:role/given
      Policies: AdministratorAccess
"#);
        let addresses: Vec<&str> = ex.policies.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "Fn.Policies[PowerUserAccess]",
                "Fn.Policies[AWSLambdaRole]",
                "Fn.Policies[2]",
                "Fn.Policies[S3ReadPolicy]",
                "Fn.Policies[DynamoDBCrudPolicy]",
                "Fn.Policies[S3ReadPolicy]#2",
                "Fn.Policies[CloudWatchPutMetricPolicy]",
                "Fn.Policies[EC2DescribePolicy]",
                "Machine.Policies[AdministratorAccess]",
            ]
        );
        let power = &ex.policies[0];
        assert_eq!(power.principal.as_deref(), Some("role FnRole"));
        assert!(power.notes[0].starts_with("AWS managed policy PowerUserAccess"));
        assert_eq!(ex.policies[2].document["Statement"].as_array().unwrap().len(), 2, "both branches");
        let s3 = &ex.policies[3];
        assert!(s3.notes[0].contains("SAM policy template S3ReadPolicy"), "{:?}", s3.notes);
        let resources = s3.document["Statement"][0]["Resource"].to_string();
        assert!(resources.contains("arn:${AWS::Partition}:s3:::my-bucket/*"), "{resources}");
        let crud = ex.policies[4].document["Statement"][0]["Resource"].to_string();
        assert!(crud.contains("table/${Table}"), "{crud}");
        assert!(ex.policies[4].document["Statement"][0]["Action"].to_string().contains("dynamodb:DeleteItem"));
        assert!(ex.policies[8].notes.iter().any(|n| n.contains("SAM ignores `Policies` when `Role` is set")));
        let un: Vec<(&str, &str)> = ex.unresolved.iter().map(|u| (u.address.as_str(), u.reason.as_str())).collect();
        assert_eq!(un.len(), 2, "{un:#?}");
        assert_eq!(un[0].0, "Fn.Policies[8]");
        assert!(un[0].1.starts_with("`SomeFuturePolicy` is not one of SAM's policy templates"), "{}", un[0].1);
        assert_eq!(un[1].0, "Fn.Policies[10]");
        assert!(un[1].1.starts_with("the managed policy is given by `!Ref ExtraPolicyArn`"), "{}", un[1].1);
        assert_eq!(ex.errors.len(), 1);
        assert_eq!(ex.errors[0].address.as_deref(), Some("Fn.Policies[9]"));
        assert!(ex.errors[0].message.contains("lacks the parameter(s) `BucketName`"));
    }

    #[test]
    fn api_resource_policy_custom_statements_and_shorthands() {
        let ex = run(r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        ResourcePolicy:
          IpRangeWhitelist: ["10.0.0.0/8"]
          CustomStatements:
            - Effect: Allow
              Principal: "*"
              Action: execute-api:Invoke
              Resource: execute-api:/*
"#);
        assert_eq!(ex.policies.len(), 1);
        assert_eq!(ex.policies[0].address, "Api.Auth.ResourcePolicy");
        assert_eq!(ex.policies[0].policy_type, Some(PolicyType::Resource));
        assert_eq!(ex.unresolved.len(), 1);
        assert_eq!(ex.unresolved[0].line, 9);
        assert!(ex.unresolved[0].reason.contains("IpRangeWhitelist"));
    }

    #[test]
    fn the_embedded_templates_parse_and_name_their_parameters() {
        let t = templates();
        assert_eq!(t.len(), 81);
        let s3 = &t["S3ReadPolicy"];
        assert_eq!(s3["Parameters"], serde_json::json!(["BucketName"]));
        assert!(s3["Definition"]["Statement"].is_array());
        for (name, t) in t {
            assert!(t["Definition"].get("Statement").is_some(), "{name}");
            assert!(!t["Definition"].to_string().contains("${aws:"), "{name} uses an IAM policy variable");
        }
    }

    #[test]
    fn a_template_refuses_what_sam_refuses() {
        let yaml = crate::tree::parse_yaml("{}\n").unwrap();
        assert!(expand("S3ReadPolicy", &yaml, 1).unwrap_err().contains("lacks the parameter(s) `BucketName`"));
        let s = str_node(1, "bucket");
        assert!(expand("S3ReadPolicy", &s, 1).unwrap_err().contains("as a mapping"));
        assert!(expand("NoSuchTemplate", &yaml, 1).unwrap().is_none());
        assert!(expand("AMIDescribePolicy", &yaml, 1).unwrap().is_some());
    }
}
