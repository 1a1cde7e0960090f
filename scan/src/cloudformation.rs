//! CloudFormation and SAM templates (JSON and YAML): the policy documents of IAM resources,
//! of resource policies and of SAM functions, with intrinsic functions turned into opaque
//! `${…}` strings and `Fn::If` read branch by branch.
//!
//! Intrinsics cannot be evaluated without a stack, so `!Ref Bucket` becomes `${Bucket}`,
//! `!GetAtt Role.Arn` becomes `${Role.Arn}`, `!Sub` keeps its template, `!Join` joins its parts.
//! `Fn::If` is read as every combination of its branches: an Allow statement counts what any
//! branch grants (each distinct variant is scored as its own statement), while a Deny is relied
//! upon only as far as every branch denies (see `Cx::settle`), so a condition can never make
//! the score lower than what the stack may deploy. Policy-bearing properties that cannot be
//! read (a document given by `!Ref`, a managed policy we have no document for, …) are counted
//! as [`Unresolved`], never dropped silently.

mod sam;

use super::managed;
use super::tree::{Kind, Node};
use super::{Extracted, FileError, Found, Unresolved};
use risk_core::PolicyType;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Most variants one statement (or text) is expanded into by its `Fn::If` branches.
const MAX_VARIANTS: usize = 256;

/// Which properties of which resource types hold policies.
enum Slot {
    /// A property (path of keys under `Properties`) that is one policy document.
    Doc(&'static [&'static str], PolicyType),
    /// `Policies: [{PolicyName, PolicyDocument}]` (inline policies of roles, users, groups).
    Inline,
    /// A list of managed policy ARNs (`ManagedPolicyArns`, SSO `ManagedPolicies`).
    Managed(&'static str),
    /// `AWS::Events::EventBusPolicy`: one `Statement`, or the older `Action`/`Principal` form.
    EventBusPolicy,
    /// `AWS::Lambda::Permission`: a statement of the function's resource policy.
    LambdaPermission,
    /// `AWS::Lambda::LayerVersionPermission`.
    LayerPermission,
    /// SAM `Policies`: managed policy names, documents and policy templates.
    SamPolicies,
    /// SAM `Auth.ResourcePolicy` of an API.
    SamApiPolicy,
    /// SSO `CustomerManagedPolicyReferences`: policies that live in each account.
    CustomerManagedRefs,
}

fn slots(resource_type: &str) -> &'static [Slot] {
    use PolicyType::*;
    match resource_type {
        "AWS::IAM::Policy"
        | "AWS::IAM::ManagedPolicy"
        | "AWS::IAM::RolePolicy"
        | "AWS::IAM::UserPolicy"
        | "AWS::IAM::GroupPolicy" => &[Slot::Doc(&["PolicyDocument"], Identity)],
        "AWS::IAM::Role" => {
            &[Slot::Doc(&["AssumeRolePolicyDocument"], Trust), Slot::Inline, Slot::Managed("ManagedPolicyArns")]
        }
        "AWS::IAM::User" | "AWS::IAM::Group" => &[Slot::Inline, Slot::Managed("ManagedPolicyArns")],
        "AWS::S3::BucketPolicy"
        | "AWS::S3Express::BucketPolicy"
        | "AWS::S3Outposts::BucketPolicy"
        | "AWS::S3ObjectLambda::AccessPointPolicy"
        | "AWS::SQS::QueuePolicy"
        | "AWS::SQS::QueueInlinePolicy"
        | "AWS::SNS::TopicPolicy"
        | "AWS::SNS::TopicInlinePolicy"
        | "AWS::EC2::VPCEndpoint"
        | "AWS::Logs::ResourcePolicy" => &[Slot::Doc(&["PolicyDocument"], Resource)],
        "AWS::KMS::Key" | "AWS::KMS::ReplicaKey" => &[Slot::Doc(&["KeyPolicy"], Resource)],
        "AWS::SecretsManager::ResourcePolicy" | "AWS::Kinesis::ResourcePolicy" | "AWS::CloudTrail::ResourcePolicy" => {
            &[Slot::Doc(&["ResourcePolicy"], Resource)]
        }
        "AWS::DynamoDB::Table" => &[Slot::Doc(&["ResourcePolicy", "PolicyDocument"], Resource)],
        "AWS::ECR::Repository" | "AWS::ECR::PublicRepository" => &[Slot::Doc(&["RepositoryPolicyText"], Resource)],
        "AWS::ECR::RegistryPolicy" => &[Slot::Doc(&["PolicyText"], Resource)],
        "AWS::S3::AccessPoint"
        | "AWS::S3::MultiRegionAccessPointPolicy"
        | "AWS::S3Express::AccessPoint"
        | "AWS::S3Outposts::AccessPoint"
        | "AWS::Events::EventBus"
        | "AWS::ApiGateway::RestApi" => &[Slot::Doc(&["Policy"], Resource)],
        "AWS::OpenSearchService::Domain" | "AWS::Elasticsearch::Domain" => &[Slot::Doc(&["AccessPolicies"], Resource)],
        "AWS::Backup::BackupVault" => &[Slot::Doc(&["AccessPolicy"], Resource)],
        "AWS::EFS::FileSystem" => &[Slot::Doc(&["FileSystemPolicy"], Resource)],
        "AWS::CodeArtifact::Domain" | "AWS::CodeArtifact::Repository" => {
            &[Slot::Doc(&["PermissionsPolicyDocument"], Resource)]
        }
        "AWS::Logs::Destination" => &[Slot::Doc(&["DestinationPolicy"], Resource)],
        "AWS::Events::EventBusPolicy" => &[Slot::EventBusPolicy],
        "AWS::Lambda::Permission" => &[Slot::LambdaPermission],
        "AWS::Lambda::LayerVersionPermission" => &[Slot::LayerPermission],
        "AWS::SSO::PermissionSet" => {
            &[Slot::Doc(&["InlinePolicy"], Identity), Slot::Managed("ManagedPolicies"), Slot::CustomerManagedRefs]
        }
        "AWS::Serverless::Function" => &[Slot::Doc(&["AssumeRolePolicyDocument"], Trust), Slot::SamPolicies],
        "AWS::Serverless::StateMachine" => &[Slot::SamPolicies],
        "AWS::Serverless::Api" => &[Slot::SamApiPolicy],
        _ => &[],
    }
}

/// Whose permissions a resource's identity policies are, as results show it.
fn principal_of(resource_type: &str, logical_id: &str) -> Option<String> {
    match resource_type {
        "AWS::IAM::Role" => Some(format!("role {logical_id}")),
        "AWS::IAM::User" => Some(format!("user {logical_id}")),
        "AWS::IAM::Group" => Some(format!("group {logical_id}")),
        "AWS::SSO::PermissionSet" => Some(format!("permission set {logical_id}")),
        // SAM names the role it creates `<Function>Role`.
        "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => Some(format!("role {logical_id}Role")),
        _ => None,
    }
}

/// Is this parsed document a CloudFormation template?
pub fn is_template(root: &Node) -> bool {
    if root.get("AWSTemplateFormatVersion").is_some() {
        return true;
    }
    root.get("Resources").is_some_and(|r| {
        r.entries().iter().any(|(_, res)| res.get("Type").and_then(Node::as_str).is_some_and(|t| t.contains("::")))
    })
}

/// What one resource's readers share: the template's resource types (to follow `!Ref`), the
/// addresses already used (so two results never share one), and the output.
struct Res<'a> {
    logical_id: &'a str,
    rtype: &'a str,
    types: &'a BTreeMap<&'a str, &'a str>,
    seen: HashSet<String>,
}

impl Res<'_> {
    /// `address`, or `address#2`, `#3`… when it is taken.
    fn unique(&mut self, address: String) -> String {
        let mut candidate = address.clone();
        let mut n = 1;
        while !self.seen.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{address}#{n}");
        }
        candidate
    }
}

/// Every policy in the template, in document order; what cannot be read goes to
/// `ex.unresolved` (or `ex.errors` when the template itself is wrong).
pub fn extract(root: &Node, ex: &mut Extracted) {
    let Some(resources) = root.get("Resources") else { return };
    let types: BTreeMap<&str, &str> = resources
        .entries()
        .iter()
        .filter_map(|(id, res)| Some((id.as_str(), res.get("Type").and_then(Node::as_str)?)))
        .collect();
    for (logical_id, res) in resources.entries() {
        let Some(rtype) = res.get("Type").and_then(Node::as_str) else { continue };
        let Some(props) = res.get("Properties") else { continue };
        let mut r = Res { logical_id, rtype, types: &types, seen: HashSet::new() };
        for slot in slots(rtype) {
            read_slot(slot, props, &mut r, ex);
        }
    }
}

fn read_slot(slot: &Slot, props: &Node, r: &mut Res, ex: &mut Extracted) {
    let id = r.logical_id;
    let principal = principal_of(r.rtype, id);
    match slot {
        Slot::Doc(path, ptype) => {
            let Some(doc) = path.iter().try_fold(props, |n, k| n.get(k)) else { return };
            // A resource with one policy is addressed by its logical id; one with several
            // (a role's trust and inline policies) by the property too.
            let address = if principal.is_some() { format!("{id}.{}", path.join(".")) } else { id.to_string() };
            let address = r.unique(address);
            push(doc, address, principal, *ptype, Vec::new(), ex);
        }
        Slot::Inline => {
            let Some(list) = props.get("Policies") else { return };
            let mut cx = Cx::default();
            if let Some(what) = opaque_list(&mut cx, list) {
                ex.unresolved.push(Unresolved::new(
                    list.line,
                    format!("{id}.Policies"),
                    format!(
                        "the inline policies are given by {what}: the list is known only when the stack is deployed"
                    ),
                ));
                return;
            }
            for (i, (item, _)) in splice(list).into_iter().enumerate() {
                let name = item.get("PolicyName").and_then(Node::as_str).map(str::to_string);
                let address = r.unique(match &name {
                    Some(n) => format!("{id}.Policies[{n}]"),
                    None => format!("{id}.Policies[{i}]"),
                });
                if intrinsic(item).is_some() {
                    let what = cx.describe(item);
                    ex.unresolved.push(Unresolved::new(
                        item.line,
                        address,
                        format!("an inline policy is given by {what}: it is known only when the stack is deployed"),
                    ));
                    continue;
                }
                match item.get("PolicyDocument") {
                    Some(doc) => push(doc, address, principal.clone(), PolicyType::Identity, Vec::new(), ex),
                    None => ex.errors.push(FileError::new(
                        Some(item.line),
                        Some(address),
                        "inline policy has no `PolicyDocument`".into(),
                    )),
                }
            }
        }
        Slot::Managed(prop) => {
            let Some(list) = props.get(prop) else { return };
            let prefix = format!("{id}.{prop}");
            let mut cx = Cx::default();
            if let Some(what) = opaque_list(&mut cx, list) {
                ex.unresolved.push(Unresolved::new(
                    list.line,
                    prefix,
                    format!(
                        "the managed policies are given by {what}: the list is known only when the stack is deployed"
                    ),
                ));
                return;
            }
            for (i, (item, _)) in splice(list).into_iter().enumerate() {
                attach_managed(item, &format!("{prefix}[{i}]"), &prefix, principal.clone(), Vec::new(), r, ex);
            }
        }
        Slot::EventBusPolicy => event_bus_policy(props, r, ex),
        Slot::LambdaPermission => lambda_permission(props, r, ex),
        Slot::LayerPermission => layer_permission(props, r, ex),
        Slot::SamPolicies => sam::policies(props, principal, r, ex),
        Slot::SamApiPolicy => sam::api_policy(props, r, ex),
        Slot::CustomerManagedRefs => {
            let Some(list) = props.get("CustomerManagedPolicyReferences") else { return };
            for (i, (item, _)) in splice(list).into_iter().enumerate() {
                let mut cx = Cx::default();
                let name = item.get("Name").map(|n| cx.text(n)).unwrap_or_else(|| cx.text(item));
                ex.unresolved.push(Unresolved::new(
                    item.line,
                    format!("{id}.CustomerManagedPolicyReferences[{i}]"),
                    format!(
                        "customer managed policy `{name}` is referenced by name: its document lives in each \
                         account the permission set is provisioned to, not in this template"
                    ),
                ));
            }
        }
    }
}

/// The list is given wholly by an intrinsic other than `Fn::If` (`!Ref ListParameter`,
/// `!Split`, …): how to name it in a reason.
fn opaque_list(cx: &mut Cx, list: &Node) -> Option<String> {
    match intrinsic(list) {
        Some((name, _)) if name != "Fn::If" => Some(cx.describe(list)),
        _ => None,
    }
}

/// One managed policy attachment: the AWS managed policy's document as its own result
/// (`Role.ManagedPolicyArns[AdministratorAccess]`), or an unresolved entry saying why not.
/// `fallback` addresses the unresolved entry; `prefix` the result.
fn attach_managed(
    item: &Node,
    fallback: &str,
    prefix: &str,
    principal: Option<String>,
    mut notes: Vec<String>,
    r: &mut Res,
    ex: &mut Extracted,
) {
    if is_no_value(item) {
        return;
    }
    let mut cx = Cx::default();
    if let Some((name, arg)) = intrinsic(item) {
        // A managed policy declared in this template is scored at its own address.
        let target = arg.as_str().or_else(|| arg.as_seq().and_then(|p| p.first()).and_then(Node::as_str));
        let target = target.map(|t| t.split('.').next().unwrap_or(t));
        if (name == "Ref" || name == "Fn::GetAtt")
            && target.and_then(|t| r.types.get(t)).is_some_and(|t| *t == "AWS::IAM::ManagedPolicy")
        {
            return;
        }
    }
    let text = cx.text(item);
    if let Some((name, document)) = managed::document(&text) {
        let address = format!("{prefix}[{name}]");
        if !r.seen.insert(address.clone()) {
            return; // the same policy twice (both branches of an `Fn::If`): one result
        }
        notes.insert(0, format!("AWS managed policy {name}, version as of {}", managed::CORPUS_DATE));
        ex.policies.push(Found {
            address,
            principal,
            line: item.line,
            statement_lines: Vec::new(),
            policy_type: Some(PolicyType::Identity),
            document,
            notes,
        });
        return;
    }
    let reason = if managed::is_service_linked(&text) {
        format!(
            "`{text}` is an AWS managed policy for service-linked roles: IAM attaches it only to roles AWS \
             creates for its services, so it is not scored here"
        )
    } else if managed::is_aws_managed_arn(&text) || !text.contains([':', '/', '$']) {
        format!(
            "AWS managed policy `{text}` is not in the embedded copy of AWS managed policies (as of {}): \
             it is newer than that copy, or the name or path is wrong",
            managed::CORPUS_DATE
        )
    } else if intrinsic(item).is_some() && text.contains("${") {
        format!(
            "the managed policy is given by {}: which policy it names is known only when the stack is deployed",
            cx.describe(item)
        )
    } else {
        format!("customer managed policy `{text}`: its document is not in this template")
    };
    ex.unresolved.push(Unresolved::new(item.line, fallback.to_string(), reason));
}

fn str_node(line: usize, s: &str) -> Node {
    Node::new(line, Kind::Str(s.to_string()))
}

fn map_node(line: usize, entries: Vec<(&str, Node)>) -> Node {
    Node::new(line, Kind::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// `{"Version": "2012-10-17", "Statement": [statement]}` at the statement's line.
fn document_of(statement: Node) -> Node {
    let line = statement.line;
    map_node(
        line,
        vec![("Version", str_node(line, "2012-10-17")), ("Statement", Node::new(line, Kind::Seq(vec![statement])))],
    )
}

/// A principal as a resource policy writes it: `*`, a service, or an account or ARN.
fn principal_node(p: &Node) -> Node {
    match p.as_str() {
        Some("*") => p.clone(),
        Some(s) if s.contains(".amazonaws.com") => map_node(p.line, vec![("Service", p.clone())]),
        _ => map_node(p.line, vec![("AWS", p.clone())]),
    }
}

/// The action property of a generated statement, or why it cannot be scored: an action given
/// by a parameter would grant nothing to the engine, which is an under-score.
fn literal_action<'n>(props: &'n Node, r: &Res, what: &str, ex: &mut Extracted) -> Option<&'n Node> {
    let Some(action) = props.get("Action") else {
        ex.errors.push(FileError::new(
            Some(props.line),
            Some(r.logical_id.to_string()),
            format!("{what} has no `Action`"),
        ));
        return None;
    };
    if intrinsic(action).is_some_and(|(name, _)| name != "Fn::If") {
        let mut cx = Cx::default();
        ex.unresolved.push(Unresolved::new(
            action.line,
            r.logical_id.to_string(),
            format!(
                "the {what}'s `Action` is given by {}: what it grants is known only when the stack is deployed",
                cx.describe(action)
            ),
        ));
        return None;
    }
    Some(action)
}

/// `AWS::Events::EventBusPolicy`: `Statement` (one statement) or the older `Action`,
/// `Principal` and `Condition {Type, Key, Value}`; the resource is the event bus.
fn event_bus_policy(props: &Node, r: &mut Res, ex: &mut Extracted) {
    let mut cx = Cx::default();
    let bus = props.get("EventBusName").map(|n| cx.text(n)).unwrap_or_else(|| "default".into());
    let bus_arn = if bus.starts_with("arn:") {
        bus
    } else {
        format!("arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{bus}")
    };
    let address = r.unique(r.logical_id.to_string());
    if let Some(st) = props.get("Statement") {
        let mut st = match &st.kind {
            Kind::Str(text) => match super::tree::parse_json(text) {
                Ok(mut n) => {
                    n.shift_lines(st.line - 1);
                    n
                }
                Err(e) => {
                    ex.errors.push(FileError::new(Some(st.line), Some(address), format!("`Statement` is {e}")));
                    return;
                }
            },
            _ => st.clone(),
        };
        // EventBridge applies the statement to this bus when it names no resource.
        if let Kind::Map(entries) = &mut st.kind {
            if !entries.iter().any(|(k, _)| k == "Resource" || k == "NotResource") {
                entries.push(("Resource".into(), str_node(st.line, &bus_arn)));
            }
        }
        push(&document_of(st), address, None, PolicyType::Resource, Vec::new(), ex);
        return;
    }
    let Some(action) = literal_action(props, r, "event bus policy", ex) else { return };
    let Some(principal) = props.get("Principal") else {
        ex.errors.push(FileError::new(Some(props.line), Some(address), "event bus policy has no `Principal`".into()));
        return;
    };
    let line = action.line;
    let mut st = vec![
        ("Effect", str_node(line, "Allow")),
        ("Principal", principal_node(principal)),
        ("Action", action.clone()),
        ("Resource", str_node(line, &bus_arn)),
    ];
    if let Some(c) = props.get("Condition") {
        let c = match &c.kind {
            Kind::Str(text) => super::tree::parse_json(text).unwrap_or_else(|_| c.clone()),
            _ => c.clone(),
        };
        if let (Some(t), Some(k), Some(v)) = (c.get("Type"), c.get("Key"), c.get("Value")) {
            let (t, k) = (cx.text(t), cx.text(k));
            st.push(("Condition", map_node(c.line, vec![(&t, map_node(c.line, vec![(&k, v.clone())]))])));
        }
    }
    push(&document_of(map_node(line, st)), address, None, PolicyType::Resource, Vec::new(), ex);
}

/// `AWS::Lambda::Permission`: the statement Lambda adds to the function's resource policy,
/// with its `SourceArn`, `SourceAccount`, `PrincipalOrgID`, `FunctionUrlAuthType` and
/// `EventSourceToken` as the conditions Lambda writes for them.
fn lambda_permission(props: &Node, r: &mut Res, ex: &mut Extracted) {
    let Some(action) = literal_action(props, r, "Lambda permission", ex) else { return };
    let address = r.unique(r.logical_id.to_string());
    let Some(principal) = props.get("Principal") else {
        ex.errors.push(FileError::new(Some(props.line), Some(address), "Lambda permission has no `Principal`".into()));
        return;
    };
    let line = action.line;
    let function = match props.get("FunctionName") {
        Some(f) if f.as_str().is_some_and(|s| !s.starts_with("arn:")) => str_node(
            f.line,
            &format!(
                "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
                f.as_str().unwrap_or("")
            ),
        ),
        Some(f) => f.clone(),
        None => str_node(line, "*"),
    };
    let mut conditions: Vec<(&str, Vec<(&str, Node)>)> = Vec::new();
    let mut add = |op: &'static str, key: &'static str, prop: &str| {
        if let Some(v) = props.get(prop) {
            match conditions.iter_mut().find(|(o, _)| *o == op) {
                Some((_, keys)) => keys.push((key, v.clone())),
                None => conditions.push((op, vec![(key, v.clone())])),
            }
        }
    };
    add("ArnLike", "AWS:SourceArn", "SourceArn");
    add("StringEquals", "AWS:SourceAccount", "SourceAccount");
    add("StringEquals", "aws:PrincipalOrgID", "PrincipalOrgID");
    add("StringEquals", "lambda:FunctionUrlAuthType", "FunctionUrlAuthType");
    add("StringEquals", "lambda:EventSourceToken", "EventSourceToken");
    let mut st = vec![
        ("Effect", str_node(line, "Allow")),
        ("Principal", principal_node(principal)),
        ("Action", action.clone()),
        ("Resource", function),
    ];
    if !conditions.is_empty() {
        let ops = conditions.into_iter().map(|(op, keys)| (op, map_node(line, keys))).collect();
        st.push(("Condition", map_node(line, ops)));
    }
    push(&document_of(map_node(line, st)), address, None, PolicyType::Resource, Vec::new(), ex);
}

/// `AWS::Lambda::LayerVersionPermission`: an account, or everyone (`*`), optionally within
/// an organization, may use the layer version.
fn layer_permission(props: &Node, r: &mut Res, ex: &mut Extracted) {
    let Some(action) = literal_action(props, r, "layer version permission", ex) else { return };
    let address = r.unique(r.logical_id.to_string());
    let Some(principal) = props.get("Principal") else {
        ex.errors.push(FileError::new(
            Some(props.line),
            Some(address),
            "layer version permission has no `Principal`".into(),
        ));
        return;
    };
    let line = action.line;
    let layer = props.get("LayerVersionArn").cloned().unwrap_or_else(|| str_node(line, "*"));
    let mut st = vec![
        ("Effect", str_node(line, "Allow")),
        ("Principal", principal_node(principal)),
        ("Action", action.clone()),
        ("Resource", layer),
    ];
    if let Some(org) = props.get("OrganizationId") {
        let cond = map_node(line, vec![("StringEquals", map_node(line, vec![("aws:PrincipalOrgID", org.clone())]))]);
        st.push(("Condition", cond));
    }
    push(&document_of(map_node(line, st)), address, None, PolicyType::Resource, Vec::new(), ex);
}

/// Why a policy document could not be scored.
enum Fail {
    /// Not in the template (a parameter, an import): counted as unresolved.
    Unresolved(String),
    /// The template is wrong, or too large to expand: an error for this document.
    Error(String),
    /// `AWS::NoValue` in every branch: there is no document.
    Absent,
}

/// Score-ready form of the policy document `doc` at `address`; what cannot be read becomes an
/// unresolved entry or an error for this document only.
fn push(
    doc: &Node,
    address: String,
    principal: Option<String>,
    ptype: PolicyType,
    mut notes: Vec<String>,
    ex: &mut Extracted,
) {
    let mut cx = Cx::default();
    let rendered = match text_of(&mut cx, doc) {
        // A document may also be written as a JSON string (or a `!Sub`/`!Join` of one).
        Some(text) if text.trim_start().starts_with('{') => match super::tree::parse_json(&text) {
            Ok(mut n) => {
                n.shift_lines(doc.line - 1);
                if let Some(d) = super::tree::find_duplicate(&n) {
                    ex.errors.push(FileError::duplicate(&d, Some(address)));
                    return;
                }
                Ok((n.to_value(), super::tree::statement_lines(&n)))
            }
            Err(e) => Err(Fail::Error(format!("policy document is {e}"))),
        },
        Some(_) if intrinsic(doc).is_some() => Err(Fail::Unresolved(format!(
            "the policy document is given by {}: its text is known only when the stack is deployed",
            cx.describe(doc)
        ))),
        Some(text) => Err(Fail::Error(format!("policy document is a string that is not JSON: `{}`", clip(&text)))),
        None => {
            // A key given twice (JSON or YAML) is refused: the reader keeps the last, the
            // reviewer reads the first. Intrinsics' arguments are part of the document too.
            if let Some(d) = super::tree::find_duplicate(doc) {
                ex.errors.push(FileError::duplicate(&d, Some(address)));
                return;
            }
            cx.document(doc)
        }
    };
    match rendered {
        Ok((document, statement_lines)) => {
            notes.extend(cx.notes());
            ex.policies.push(Found {
                address,
                principal,
                line: doc.line,
                statement_lines,
                policy_type: Some(ptype),
                document,
                notes,
            });
        }
        Err(Fail::Unresolved(reason)) => ex.unresolved.push(Unresolved::new(doc.line, address, reason)),
        Err(Fail::Error(message)) => ex.errors.push(FileError::new(Some(doc.line), Some(address), message)),
        Err(Fail::Absent) => {}
    }
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A document given as text: a plain string, or `Fn::Sub`/`Fn::Join` rendered with opaque
/// `${…}` values.
fn text_of(cx: &mut Cx, doc: &Node) -> Option<String> {
    match (&doc.kind, intrinsic(doc)) {
        (Kind::Str(s), _) => Some(s.clone()),
        (_, Some((name, _))) if name != "Fn::If" => Some(cx.text(doc)),
        _ => None,
    }
}

/// `(name, argument)` when the node is an intrinsic function, in either notation.
fn intrinsic(n: &Node) -> Option<(String, &Node)> {
    match &n.kind {
        Kind::Tagged(t, inner) => {
            Some((if t == "Ref" || t == "Condition" { t.clone() } else { format!("Fn::{t}") }, inner.as_ref()))
        }
        Kind::Map(e) if e.len() == 1 && (e[0].0 == "Ref" || e[0].0.starts_with("Fn::")) => {
            Some((e[0].0.clone(), &e[0].1))
        }
        _ => None,
    }
}

fn is_if(n: &Node) -> bool {
    intrinsic(n).is_some_and(|(name, _)| name == "Fn::If")
}

fn is_no_value(n: &Node) -> bool {
    matches!(intrinsic(n), Some((name, arg)) if name == "Ref" && arg.as_str() == Some("AWS::NoValue"))
}

/// The elements of a list of things a resource attaches (inline policies, managed policy
/// ARNs), with `Fn::If` elements replaced by both their branches (each attachment is scored
/// on its own, so taking both over-counts at worst) and `AWS::NoValue` dropped; each with
/// its line.
fn splice(list: &Node) -> Vec<(&Node, usize)> {
    let mut out = Vec::new();
    let items: Vec<&Node> = match list.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![list],
    };
    for item in items {
        match intrinsic(item) {
            Some((name, arg)) if name == "Fn::If" => {
                if let Some([_, a, b]) = arg.as_seq() {
                    for branch in [a, b] {
                        if is_if(branch) {
                            out.extend(splice(branch));
                        } else if !is_no_value(branch) {
                            out.extend(splice_one(branch));
                        }
                    }
                }
            }
            _ if is_no_value(item) => {}
            _ => out.push((item, item.line)),
        }
    }
    out
}

fn splice_one(n: &Node) -> Vec<(&Node, usize)> {
    match n.as_seq() {
        Some(items) => items.iter().filter(|i| !is_no_value(i)).map(|i| (i, i.line)).collect(),
        None => vec![(n, n.line)],
    }
}

/// The line of what an `Fn::If` yields first (a statement's line), else of the node.
fn first_line(n: &Node) -> usize {
    match intrinsic(n) {
        Some((name, arg)) if name == "Fn::If" => match arg.as_seq() {
            Some([_, a, b]) => first_line(if is_no_value(a) { b } else { a }),
            _ => n.line,
        },
        _ => n.line,
    }
}

fn too_many() -> Fail {
    Fail::Error(format!(
        "`Fn::If` branches combine into more than {MAX_VARIANTS} variants of one statement or value; \
         split it into separate statements"
    ))
}

fn push_unique<T: PartialEq>(out: &mut Vec<T>, v: T) {
    if !out.contains(&v) {
        out.push(v);
    }
}

/// Rendering state: what the rendering had to assume, for the result's notes.
#[derive(Default)]
struct Cx {
    /// An intrinsic was kept as an opaque `${…}` value.
    intrinsics: bool,
    /// An `Fn::If` was read as both branches.
    conditional: bool,
    /// A Deny was kept only as far as all branches deny.
    deny_narrowed: bool,
    /// A Deny was not relied upon: some branch does not deny.
    deny_dropped: bool,
}

impl Cx {
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.intrinsics {
            notes.push("CloudFormation intrinsic functions are kept as opaque `${…}` values".to_string());
        }
        if self.conditional {
            notes.push("`Fn::If` is read as both branches: an Allow counts what either branch grants".to_string());
        }
        if self.deny_narrowed {
            notes.push("a Deny that depends on `Fn::If` counts only what every branch denies".to_string());
        }
        if self.deny_dropped {
            notes.push("a Deny that depends on `Fn::If` is not relied upon: some branch does not deny".to_string());
        }
        notes
    }

    /// A short-form rendering of an intrinsic for messages: `` `!Ref PolicyArn` ``.
    fn describe(&mut self, n: &Node) -> String {
        let Some((name, arg)) = intrinsic(n) else { return format!("`{}`", clip(&self.text(n))) };
        let short = name.strip_prefix("Fn::").unwrap_or(&name);
        let arg = match (&arg.kind, arg.as_seq()) {
            (Kind::Str(s), _) => s.clone(),
            (_, Some(parts)) if name == "Fn::GetAtt" => {
                parts.iter().map(|p| self.text(p)).collect::<Vec<_>>().join(".")
            }
            _ => self.text(arg),
        };
        format!("`!{short} {}`", clip(&arg))
    }

    /// A policy document object, with its statements' `Fn::If` branches settled (see
    /// [`Cx::settle`]); a whole document under `Fn::If` is read as its branches' statements,
    /// Denies kept only when every branch has them. Returns the document and its statement lines.
    fn document(&mut self, doc: &Node) -> Result<(Value, Vec<usize>), Fail> {
        let mut branches = Vec::new();
        self.branches(doc, &mut branches);
        let mut base: Option<&Node> = None;
        let mut per_branch: Vec<Vec<(Value, usize)>> = Vec::new();
        for b in &branches {
            match b {
                None => per_branch.push(Vec::new()),
                Some(d) if d.is_map() && intrinsic(d).is_none() => {
                    base.get_or_insert(d);
                    per_branch.push(self.statements(d)?);
                }
                Some(d) if intrinsic(d).is_some() => {
                    return Err(Fail::Unresolved(format!(
                        "the policy document is given by {}: it is known only when the stack is deployed",
                        self.describe(d)
                    )))
                }
                // Not an object: the engine says what is wrong with it.
                Some(d) => return Ok((self.value(d), Vec::new())),
            }
        }
        let Some(base) = base else { return Err(Fail::Absent) };
        let statements = if per_branch.len() == 1 {
            per_branch.pop().unwrap_or_default()
        } else {
            let mut out: Vec<(Value, usize)> = Vec::new();
            for (st, line) in per_branch.iter().flatten() {
                if out.iter().any(|(s, _)| s == st) {
                    continue;
                }
                if is_deny(st) && !per_branch.iter().all(|b| b.iter().any(|(s, _)| s == st)) {
                    self.deny_dropped = true;
                    continue;
                }
                out.push((st.clone(), *line));
            }
            out
        };
        let mut m = Map::new();
        for (k, v) in base.entries() {
            if k != "Statement" && !is_no_value(v) {
                m.insert(k.clone(), self.value(v));
            }
        }
        let lines = statements.iter().map(|(_, l)| *l).collect();
        if base.get("Statement").is_some() || branches.len() > 1 {
            m.insert("Statement".into(), Value::Array(statements.into_iter().map(|(s, _)| s).collect()));
        }
        Ok((Value::Object(m), lines))
    }

    /// What an `Fn::If` (nested ones too) may yield; `None` for `AWS::NoValue`.
    fn branches<'n>(&mut self, n: &'n Node, out: &mut Vec<Option<&'n Node>>) {
        match intrinsic(n) {
            Some((name, arg)) if name == "Fn::If" && matches!(arg.as_seq(), Some([_, _, _])) => {
                self.conditional = true;
                if let Some([_, a, b]) = arg.as_seq() {
                    self.branches(a, out);
                    self.branches(b, out);
                }
            }
            _ if is_no_value(n) => out.push(None),
            _ => out.push(Some(n)),
        }
    }

    /// The statements of one document object, each with its line.
    fn statements(&mut self, doc: &Node) -> Result<Vec<(Value, usize)>, Fail> {
        let Some(st) = doc.get("Statement") else { return Ok(Vec::new()) };
        let items: Vec<&Node> = match (st.as_seq(), intrinsic(st)) {
            (Some(items), _) => items.iter().collect(),
            (None, Some((name, _))) if name != "Fn::If" => {
                return Err(Fail::Unresolved(format!(
                    "the statements are given by {}: they are known only when the stack is deployed",
                    self.describe(st)
                )))
            }
            _ => vec![st],
        };
        let mut out = Vec::new();
        for item in items {
            let line = first_line(item);
            let variants = self.alts(item)?;
            if variants.iter().any(|v| matches!(v, Some(Value::Array(_)))) {
                // A branch that is a list of statements: each of them may be absent.
                for v in variants.into_iter().flatten() {
                    let each = match v {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    for s in each {
                        self.settle(vec![Some(s), None], line, &mut out);
                    }
                }
            } else {
                self.settle(variants, line, &mut out);
            }
        }
        Ok(out)
    }

    /// The variants one statement may take (`None`: absent) become statements of the scored
    /// document. May-grant and must-deny are different questions: every distinct Allow
    /// variant is kept (the union of what any branch grants), while a Deny is kept only as
    /// what every variant denies — per key, the common `Action`/`Resource`/`Principal`
    /// values and all `NotAction`/`NotResource`/`NotPrincipal` values — and dropped when
    /// some variant does not deny or the common part cannot be written as one statement.
    fn settle(&mut self, variants: Vec<Option<Value>>, line: usize, out: &mut Vec<(Value, usize)>) {
        let mut distinct = Vec::new();
        for v in variants {
            push_unique(&mut distinct, v);
        }
        if let [one] = distinct.as_slice() {
            if let Some(v) = one {
                out.push((v.clone(), line));
            }
            return;
        }
        self.conditional = true;
        let mut denies = Vec::new();
        for v in &distinct {
            match v {
                Some(s) if is_deny(s) => denies.push(s),
                Some(s) => out.push((s.clone(), line)),
                None => {}
            }
        }
        if denies.is_empty() {
            return;
        }
        let common = if denies.len() == distinct.len() {
            denies.iter().skip(1).try_fold(denies[0].clone(), |acc, d| deny_meet(&acc, d))
        } else {
            None
        };
        match common {
            Some(st) => {
                self.deny_narrowed = true;
                out.push((st, line));
            }
            None => self.deny_dropped = true,
        }
    }

    /// Every variant a value may take through its `Fn::If`s (`None`: `AWS::NoValue`), at most
    /// [`MAX_VARIANTS`]. An `Fn::If` element of a list that yields a list is spliced in.
    fn alts(&mut self, n: &Node) -> Result<Vec<Option<Value>>, Fail> {
        if is_no_value(n) {
            return Ok(vec![None]);
        }
        if let Some((name, arg)) = intrinsic(n) {
            if let (true, Some([_, a, b])) = (name == "Fn::If", arg.as_seq()) {
                self.conditional = true;
                let mut out = self.alts(a)?;
                for v in self.alts(b)? {
                    push_unique(&mut out, v);
                }
                if out.len() > MAX_VARIANTS {
                    return Err(too_many());
                }
                return Ok(out);
            }
            return Ok(self.text_alts(n)?.into_iter().map(|s| Some(Value::String(s))).collect());
        }
        match &n.kind {
            Kind::Seq(items) => {
                let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
                for item in items {
                    let spliced = is_if(item);
                    let choices = self.alts(item)?;
                    let mut next = Vec::with_capacity(acc.len() * choices.len());
                    for prefix in &acc {
                        for c in &choices {
                            let mut v = prefix.clone();
                            match c {
                                None => {}
                                Some(Value::Array(xs)) if spliced => v.extend(xs.iter().cloned()),
                                Some(x) => v.push(x.clone()),
                            }
                            push_unique(&mut next, v);
                        }
                    }
                    if next.len() > MAX_VARIANTS {
                        return Err(too_many());
                    }
                    acc = next;
                }
                Ok(acc.into_iter().map(|v| Some(Value::Array(v))).collect())
            }
            Kind::Map(entries) => {
                let mut acc: Vec<Map<String, Value>> = vec![Map::new()];
                for (k, v) in entries {
                    let choices = self.alts(v)?;
                    let mut next = Vec::with_capacity(acc.len() * choices.len());
                    for prefix in &acc {
                        for c in &choices {
                            let mut m = prefix.clone();
                            if let Some(x) = c {
                                m.insert(k.clone(), x.clone());
                            }
                            push_unique(&mut next, m);
                        }
                    }
                    if next.len() > MAX_VARIANTS {
                        return Err(too_many());
                    }
                    acc = next;
                }
                Ok(acc.into_iter().map(|m| Some(Value::Object(m))).collect())
            }
            Kind::Tagged(_, inner) => self.alts(inner),
            _ => Ok(vec![Some(n.to_value())]),
        }
    }

    /// Every string a scalar intrinsic may render to through the `Fn::If`s inside its
    /// `Fn::Join` parts or `Fn::Sub` variables; other intrinsics as [`Cx::text`].
    fn text_alts(&mut self, n: &Node) -> Result<Vec<String>, Fail> {
        let Some((name, arg)) = intrinsic(n) else { return Ok(vec![self.text(n)]) };
        let product = |acc: Vec<String>, choices: &[String], join: &dyn Fn(&str, &str) -> String| {
            let mut next = Vec::new();
            for a in &acc {
                for c in choices {
                    push_unique(&mut next, join(a, c));
                }
            }
            if next.len() > MAX_VARIANTS {
                Err(too_many())
            } else {
                Ok(next)
            }
        };
        match (name.as_str(), arg.as_seq()) {
            ("Fn::If", Some([_, a, b])) => {
                self.conditional = true;
                let mut out = Vec::new();
                for branch in [a, b] {
                    let texts = if is_no_value(branch) { vec![String::new()] } else { self.text_alts(branch)? };
                    for t in texts {
                        push_unique(&mut out, t);
                    }
                }
                if out.len() > MAX_VARIANTS {
                    return Err(too_many());
                }
                Ok(out)
            }
            ("Fn::Join", Some([delim, parts])) => {
                self.intrinsics = true;
                let d = delim.as_str().unwrap_or("").to_string();
                let Some(items) = parts.as_seq() else { return self.text_alts(parts) };
                let mut acc = vec![String::new()];
                for (i, item) in items.iter().filter(|i| !is_no_value(i)).enumerate() {
                    let choices = self.text_alts(item)?;
                    let sep = if i == 0 { String::new() } else { d.clone() };
                    acc = product(acc, &choices, &|a, c| format!("{a}{sep}{c}"))?;
                }
                Ok(acc)
            }
            ("Fn::Sub", Some([template, vars])) => {
                self.intrinsics = true;
                let mut acc = vec![template.as_str().unwrap_or("").to_string()];
                for (k, v) in vars.entries() {
                    let choices = self.text_alts(v)?;
                    let var = format!("${{{k}}}");
                    acc = product(acc, &choices, &|a, c| a.replace(&var, c))?;
                }
                Ok(acc)
            }
            _ => Ok(vec![self.text(n)]),
        }
    }

    /// A value with `Fn::If` taking its first branch that is not `AWS::NoValue` (for the parts
    /// of a document that decide nothing: `Version`, `Id`).
    fn value(&mut self, n: &Node) -> Value {
        if let Some((name, arg)) = intrinsic(n) {
            if let (true, Some([_, a, b])) = (name == "Fn::If", arg.as_seq()) {
                return self.value(if is_no_value(a) { b } else { a });
            }
            return Value::String(self.text(n));
        }
        match &n.kind {
            Kind::Seq(items) => Value::Array(items.iter().filter(|i| !is_no_value(i)).map(|i| self.value(i)).collect()),
            Kind::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    if !is_no_value(v) {
                        m.insert(k.clone(), self.value(v));
                    }
                }
                Value::Object(m)
            }
            Kind::Tagged(_, inner) => self.value(inner),
            _ => n.to_value(),
        }
    }
    /// A scalar rendering: plain strings as they are, intrinsics as `${…}`.
    fn text(&mut self, n: &Node) -> String {
        let Some((name, arg)) = intrinsic(n) else {
            return match &n.kind {
                Kind::Str(s) => s.clone(),
                Kind::Seq(items) => items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(","),
                _ => n.to_value().to_string(),
            };
        };
        self.intrinsics = true;
        match name.as_str() {
            "Ref" => format!("${{{}}}", arg.as_str().unwrap_or("?")),
            "Fn::GetAtt" => match (&arg.kind, arg.as_seq()) {
                (Kind::Str(s), _) => format!("${{{s}}}"),
                (_, Some(parts)) => {
                    format!("${{{}}}", parts.iter().map(|p| self.text(p)).collect::<Vec<_>>().join("."))
                }
                _ => "${Fn::GetAtt}".into(),
            },
            "Fn::Sub" => match (&arg.kind, arg.as_seq()) {
                (Kind::Str(s), _) => s.clone(),
                (_, Some([template, vars])) => {
                    let mut s = template.as_str().unwrap_or("").to_string();
                    for (k, v) in vars.entries() {
                        let v = self.text(v);
                        s = s.replace(&format!("${{{k}}}"), &v);
                    }
                    s
                }
                _ => "${Fn::Sub}".into(),
            },
            "Fn::Join" => match arg.as_seq() {
                Some([delim, parts]) => {
                    let d = delim.as_str().unwrap_or("").to_string();
                    match parts.as_seq() {
                        Some(items) => items.iter().map(|p| self.text(p)).collect::<Vec<_>>().join(&d),
                        None => self.text(parts),
                    }
                }
                _ => "${Fn::Join}".into(),
            },
            "Fn::If" => match arg.as_seq() {
                Some([cond, a, b]) => {
                    let (a, b) = (self.text(a), self.text(b));
                    if a == b {
                        a
                    } else {
                        format!("${{Fn::If:{}}}", cond.as_str().unwrap_or("?"))
                    }
                }
                _ => "${Fn::If}".into(),
            },
            other => {
                let inner = match &arg.kind {
                    Kind::Str(s) => s.clone(),
                    Kind::Seq(items) => items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(","),
                    _ => String::new(),
                };
                if inner.is_empty() {
                    format!("${{{other}}}")
                } else {
                    format!("${{{other}:{inner}}}")
                }
            }
        }
    }
}

fn is_deny(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Deny")
}

/// The strings of a `String`-or-list value; `None` for anything else.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn to_value(items: Vec<&str>) -> Value {
    match items.as_slice() {
        [one] => Value::String(one.to_string()),
        _ => Value::Array(items.into_iter().map(|s| Value::String(s.to_string())).collect()),
    }
}

/// Literally common values: what both lists certainly name (a wildcard that covers a value
/// of the other list is not matched, which only denies less). `None` when nothing is common.
fn common(a: &Value, b: &Value) -> Option<Value> {
    let (a, b) = (strings(a)?, strings(b)?);
    let both: Vec<&str> = a.into_iter().filter(|x| b.contains(x)).collect();
    (!both.is_empty()).then(|| to_value(both))
}

fn all_of(a: &Value, b: &Value) -> Option<Value> {
    let (mut a, b) = (strings(a)?, strings(b)?);
    for x in b {
        if !a.contains(&x) {
            a.push(x);
        }
    }
    Some(to_value(a))
}

fn is_everyone(p: &Value) -> bool {
    p == "*" || p.get("AWS").is_some_and(|a| a == "*")
}

/// The principals both `Principal` values name.
fn principal_meet(a: &Value, b: &Value) -> Option<Value> {
    if is_everyone(a) {
        return Some(b.clone());
    }
    if is_everyone(b) {
        return Some(a.clone());
    }
    let (Value::Object(a), Value::Object(b)) = (a, b) else { return None };
    let mut out = Map::new();
    for (kind, x) in a {
        if let Some(v) = b.get(kind).and_then(|y| common(x, y)) {
            out.insert(kind.clone(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Both conditions at once: each operator's keys merged; `None` when one key has different
/// values under the same operator (the conjunction is not one condition block).
fn condition_and(a: &Value, b: &Value) -> Option<Value> {
    let (Value::Object(a), Value::Object(b)) = (a, b) else { return None };
    let mut out = a.clone();
    for (op, keys) in b {
        match out.get_mut(op) {
            None => {
                out.insert(op.clone(), keys.clone());
            }
            Some(Value::Object(mine)) => {
                let Value::Object(keys) = keys else { return None };
                for (k, v) in keys {
                    match mine.get(k) {
                        Some(existing) if existing != v => return None,
                        Some(_) => {}
                        None => {
                            mine.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            Some(_) => return None,
        }
    }
    Some(Value::Object(out))
}

/// One Deny statement that denies no more than both `a` and `b` do: a statement denies the
/// requests in (actions × resources × principals) that meet its condition, so the
/// intersection takes each key's common part — for `NotAction`-style keys, the union of the
/// exclusions; for `Condition`, both. `None` when that is not one statement (nothing in
/// common, a key present in only one of them).
fn deny_meet(a: &Value, b: &Value) -> Option<Value> {
    let (Value::Object(am), Value::Object(bm)) = (a, b) else { return None };
    let mut out = Map::new();
    let keys = am.keys().chain(bm.keys().filter(|k| !am.contains_key(*k)));
    for k in keys {
        let v = match (k.as_str(), am.get(k), bm.get(k)) {
            (_, Some(x), Some(y)) if x == y => x.clone(),
            ("Sid", Some(x), _) | ("Sid", None, Some(x)) => x.clone(),
            // No condition is the weaker one: both together are the other's.
            ("Condition", Some(x), None) | ("Condition", None, Some(x)) => x.clone(),
            ("Condition", Some(x), Some(y)) => condition_and(x, y)?,
            ("Action" | "Resource", Some(x), Some(y)) => common(x, y)?,
            ("NotAction" | "NotResource", Some(x), Some(y)) => all_of(x, y)?,
            ("Principal", Some(x), Some(y)) => principal_meet(x, y)?,
            _ => return None,
        };
        out.insert(k.clone(), v);
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str) -> Extracted {
        let root = super::super::tree::parse_yaml(text).unwrap();
        assert!(is_template(&root));
        let mut ex = Extracted::default();
        extract(&root, &mut ex);
        ex
    }

    fn found<'a>(ex: &'a Extracted, address: &str) -> &'a Found {
        ex.policies.iter().find(|f| f.address == address).unwrap_or_else(|| {
            panic!("no `{address}` in {:?}", ex.policies.iter().map(|f| &f.address).collect::<Vec<_>>())
        })
    }

    fn template(resources: &str) -> String {
        format!("AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n{resources}")
    }

    #[test]
    fn yaml_intrinsics_become_opaque_strings() {
        let text = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: s3:GetObject
            Resource: !Join ["", [!GetAtt Bucket.Arn, "/*"]]
          - !If
            - IsProd
            - Effect: Allow
              Principal: "*"
              Action: "s3:ListBucket"
              Resource: [!GetAtt [Bucket, Arn]]
            - !Ref AWS::NoValue
"#;
        let ex = run(text);
        assert!(ex.errors.is_empty() && ex.unresolved.is_empty());
        assert_eq!(ex.policies.len(), 1);
        let f = &ex.policies[0];
        assert_eq!(f.address, "Policy");
        assert_eq!(f.line, 11);
        assert_eq!(f.statement_lines, vec![13, 19]);
        let st = &f.document["Statement"];
        assert_eq!(st[0]["Resource"], "${Bucket.Arn}/*");
        assert_eq!(st[0]["Principal"]["AWS"], "arn:aws:iam::${AWS::AccountId}:root");
        assert_eq!(st[1]["Resource"][0], "${Bucket.Arn}");
        assert_eq!(f.policy_type, Some(PolicyType::Resource));
        assert!(f.notes.iter().any(|n| n.contains("either branch")), "{:?}", f.notes);
    }

    #[test]
    fn if_in_action_or_resource_is_the_union_of_the_branches_for_an_allow() {
        let ex = run(&template(
            r#"  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: !If [IsProd, s3:GetObject, "iam:*"]
            Resource: "*"
          - Effect: Allow
            NotAction: {"Fn::If": [C, ["s3:*", "iam:*"], "iam:*"]}
            Resource: !If [C, !Ref AWS::NoValue, "arn:aws:s3:::b"]
"#,
        ));
        let st = found(&ex, "P").document["Statement"].as_array().unwrap().clone();
        // Each branch is its own statement: the engine sees `iam:*` and all but `iam:*`.
        assert_eq!(st.len(), 6, "{st:#?}");
        assert_eq!(st[0]["Action"], "s3:GetObject");
        assert_eq!(st[1]["Action"], "iam:*");
        assert!(st.iter().any(|s| s["NotAction"] == "iam:*" && s["Resource"] == "arn:aws:s3:::b"));
        assert!(st.iter().any(|s| s["NotAction"] == json!(["s3:*", "iam:*"]) && s.get("Resource").is_none()));
        assert_eq!(found(&ex, "P").statement_lines, vec![9, 9, 12, 12, 12, 12]);
        // A text built with `!If` inside: every rendering.
        let ex = run(&template(
            r#"  P:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: !Join ["", ["arn:aws:s3:::", !If [Wide, "*", "logs"], "/*"]]
"#,
        ));
        let st = &found(&ex, "P").document["Statement"];
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::*/*");
        assert_eq!(st[1]["Resource"], "arn:aws:s3:::logs/*");
    }

    #[test]
    fn a_deny_under_if_counts_only_what_every_branch_denies() {
        let ex = run(&template(
            r#"  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: "*"
            Resource: "*"
          - Effect: Deny
            Action: !If [C, ["iam:*", "s3:*"], ["iam:*", "ec2:*"]]
            Resource: "*"
          - Effect: Deny
            NotAction: !If [C, "s3:GetObject", "s3:PutObject"]
            Resource: "*"
            Condition: !If [C, {Bool: {aws:SecureTransport: "false"}}, !Ref AWS::NoValue]
          - !If [C, {Effect: Deny, Action: "*", Resource: "*"}, !Ref AWS::NoValue]
          - Effect: !If [C, Deny, Allow]
            Action: "kms:*"
            Resource: "*"
          - Effect: Deny
            Action: !If [C, "iam:*", "s3:*"]
            Resource: "*"
"#,
        ));
        let f = found(&ex, "P");
        let st = f.document["Statement"].as_array().unwrap();
        assert_eq!(st[0]["Action"], "*");
        // Only the action both branches deny.
        assert_eq!(st[1], json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}));
        // All exclusions (denies less), and the condition of the branch that has one.
        assert_eq!(
            st[2],
            json!({"Effect": "Deny", "NotAction": ["s3:GetObject", "s3:PutObject"], "Resource": "*",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        );
        // The conditional deny-all is not relied upon; `Effect: !If` keeps the Allow only;
        // two Denies with nothing in common deny nothing for sure.
        assert_eq!(st.len(), 4, "{st:#?}");
        assert_eq!(st[3], json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}));
        assert!(f.notes.iter().any(|n| n.contains("every branch denies")), "{:?}", f.notes);
        assert!(f.notes.iter().any(|n| n.contains("not relied upon")), "{:?}", f.notes);
    }

    #[test]
    fn a_whole_document_under_if_keeps_a_deny_only_when_both_branches_have_it() {
        let ex = run(&template(
            r#"  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !If
        - C
        - Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: "s3:*", Resource: "*"}
            - {Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}
            - {Effect: Deny, Action: "iam:*", Resource: "*"}
        - Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: "iam:PassRole", Resource: "*"}
            - {Effect: Deny, Action: "iam:*", Resource: "*"}
  Q:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !If [C, !Ref AWS::NoValue, !Ref AWS::NoValue]
"#,
        ));
        let st = found(&ex, "P").document["Statement"].as_array().unwrap().clone();
        let actions: Vec<_> =
            st.iter().map(|s| (s["Effect"].as_str().unwrap(), s["Action"].as_str().unwrap())).collect();
        assert_eq!(actions, [("Allow", "s3:*"), ("Deny", "iam:*"), ("Allow", "iam:PassRole")]);
        assert_eq!(found(&ex, "P").document["Version"], "2012-10-17");
        assert!(ex.policies.iter().all(|f| f.address != "Q"), "no document at all: nothing to score");
        assert!(ex.unresolved.is_empty() && ex.errors.is_empty());
    }

    #[test]
    fn too_many_branch_combinations_is_an_error_for_that_document_only() {
        let ifs: String = (0..9).map(|i| format!("              - !If [C{i}, \"s3:A{i}\", \"s3:B{i}\"]\n")).collect();
        let ex = run(&template(&format!(
            "  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Resource: \"*\"\n            Action:\n{ifs}  Q:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement: [{{Effect: Allow, Action: \"s3:GetObject\", Resource: \"*\"}}]\n"
        )));
        assert_eq!(ex.errors.len(), 1);
        assert!(ex.errors[0].message.contains("more than 256 variants"), "{}", ex.errors[0].message);
        assert_eq!(ex.errors[0].address.as_deref(), Some("P"));
        assert_eq!(ex.policies.len(), 1, "the other document is still read");
        // Nested `!If`s in one value are bounded too: a full tree of depth 9 has 512 leaves.
        fn tree(depth: usize, leaf: &str) -> String {
            match depth {
                0 => format!("\"s3:{leaf}\""),
                d => format!(
                    "{{\"Fn::If\": [C{d}, {}, {}]}}",
                    tree(d - 1, &format!("{leaf}a")),
                    tree(d - 1, &format!("{leaf}b"))
                ),
            }
        }
        let ex = run(&template(&format!(
            "  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - {{Effect: Allow, Resource: \"*\", Action: {}}}\n",
            tree(9, "X")
        )));
        assert_eq!(ex.errors.len(), 1, "{:?}", ex.errors);
        assert!(ex.policies.is_empty());
    }

    #[test]
    fn deny_meet_is_per_key_and_refuses_what_one_statement_cannot_say() {
        let d = |v: Value| v;
        let a = d(json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}));
        let b = d(json!({"Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::1:root", "arn:aws:iam::2:root"]},
                         "Action": "s3:*", "Resource": "*"}));
        assert_eq!(deny_meet(&a, &b).unwrap()["Principal"], b["Principal"]);
        let c = d(
            json!({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::2:root"}, "Action": "s3:*", "Resource": "*"}),
        );
        assert_eq!(deny_meet(&b, &c).unwrap()["Principal"], json!({"AWS": "arn:aws:iam::2:root"}));
        let e = d(json!({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}));
        assert!(deny_meet(&a, &e).is_none(), "Action against NotAction");
        let f = d(json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"k": "true"}}}));
        let g = d(json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"k": "false"}}}));
        assert!(deny_meet(&f, &g).is_none(), "contradictory conditions");
        let h = d(
            json!({"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4/32"}}}),
        );
        assert_eq!(deny_meet(&f, &h).unwrap()["Condition"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn resource_types_with_policies() {
        let ex = run(&template(
            r#"  Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      PolicyDocument: {Statement: [{Effect: Allow, Principal: "*", Action: "*", Resource: "*"}]}
  Logs:
    Type: AWS::Logs::ResourcePolicy
    Properties:
      PolicyName: p
      PolicyDocument: '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "es.amazonaws.com"}, "Action": "logs:PutLogEvents", "Resource": "*"}]}'
  Bus:
    Type: AWS::Events::EventBusPolicy
    Properties:
      StatementId: s
      EventBusName: !Ref EventBus
      Statement: {Effect: Allow, Principal: "*", Action: "events:PutEvents"}
  LegacyBus:
    Type: AWS::Events::EventBusPolicy
    Properties:
      StatementId: s
      Action: events:PutEvents
      Principal: "*"
      Condition: {Type: StringEquals, Key: "aws:PrincipalOrgID", Value: o-abc}
  Invoke:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !GetAtt Fn.Arn
      Principal: s3.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
      SourceArn: arn:aws:s3:::uploads
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      ResourcePolicy:
        PolicyDocument: {Statement: [{Effect: Allow, Principal: "*", Action: "dynamodb:*", Resource: "*"}]}
"#,
        ));
        assert!(ex.errors.is_empty() && ex.unresolved.is_empty(), "{:?} {:?}", ex.errors, ex.unresolved);
        assert_eq!(found(&ex, "Endpoint").policy_type, Some(PolicyType::Resource));
        assert_eq!(found(&ex, "Logs").document["Statement"][0]["Action"], "logs:PutLogEvents");
        let bus = &found(&ex, "Bus").document["Statement"][0];
        assert_eq!(
            bus["Resource"],
            "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBus}"
        );
        let legacy = &found(&ex, "LegacyBus").document["Statement"][0];
        assert_eq!(legacy["Principal"], "*");
        assert_eq!(legacy["Condition"], json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}));
        assert!(legacy["Resource"].as_str().unwrap().ends_with("event-bus/default"));
        let invoke = &found(&ex, "Invoke").document["Statement"][0];
        assert_eq!(invoke["Principal"], json!({"Service": "s3.amazonaws.com"}));
        assert_eq!(invoke["Resource"], "${Fn.Arn}");
        assert_eq!(
            invoke["Condition"],
            json!({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}, "StringEquals": {"AWS:SourceAccount": "${AWS::AccountId}"}})
        );
        assert_eq!(found(&ex, "Table").document["Statement"][0]["Action"], "dynamodb:*");
    }

    #[test]
    fn managed_policy_arns_are_scored_as_aws_publishes_them() {
        let ex = run(&template(
            r#"  Mine:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
  R:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]}
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess
        - !Sub arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess
        - !If [C, arn:aws:iam::aws:policy/ReadOnlyAccess, !Ref AWS::NoValue]
        - !Ref Mine
        - !Ref PolicyArnParameter
        - arn:aws:iam::123456789012:policy/team-boundary
        - arn:aws:iam::aws:policy/NotPublishedYet
        - arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy
"#,
        ));
        let admin = found(&ex, "R.ManagedPolicyArns[AdministratorAccess]");
        assert_eq!(admin.principal.as_deref(), Some("role R"));
        assert_eq!(admin.document["Statement"][0]["Action"], "*");
        assert_eq!(admin.notes, ["AWS managed policy AdministratorAccess, version as of 2026-09-16"]);
        assert_eq!(admin.line, 12);
        found(&ex, "R.ManagedPolicyArns[ReadOnlyAccess]");
        assert_eq!(ex.policies.len(), 4, "Mine, the trust policy, two managed policies (ReadOnlyAccess once)");
        let un: Vec<(usize, &str, &str)> =
            ex.unresolved.iter().map(|u| (u.line, u.address.as_str(), u.reason.as_str())).collect();
        assert_eq!(un.len(), 4, "{un:#?}");
        assert_eq!(un[0].1, "R.ManagedPolicyArns[4]");
        assert!(un[0].2.starts_with("the managed policy is given by `!Ref PolicyArnParameter`"), "{}", un[0].2);
        assert!(un[1].2.starts_with("customer managed policy `arn:aws:iam::123456789012:policy/team-boundary`"));
        assert!(un[2].2.contains("not in the embedded copy of AWS managed policies (as of 2026-09-16)"));
        assert!(un[3].2.contains("service-linked roles"));
        assert_eq!(un[3].0, 19);
    }

    #[test]
    fn what_cannot_be_resolved_is_counted_with_its_reason() {
        let ex = run(&template(
            r#"  FromParameter:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Ref PolicyJson
  Imported:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument: !ImportValue shared-bucket-policy
  U:
    Type: AWS::IAM::User
    Properties:
      Policies: !Ref UserPolicies
  G:
    Type: AWS::IAM::Group
    Properties:
      Policies:
        - !Ref OnePolicy
        - PolicyName: ok
          PolicyDocument: {Statement: {Effect: Allow, Action: "s3:GetObject", Resource: "*"}}
  Perm:
    Type: AWS::Lambda::Permission
    Properties:
      Action: !Ref PermissionAction
      FunctionName: f
      Principal: "*"
  Bad:
    Type: AWS::SNS::TopicPolicy
    Properties:
      PolicyDocument: '{"Statement": ['
"#,
        ));
        let un: Vec<(usize, &str, &str)> =
            ex.unresolved.iter().map(|u| (u.line, u.address.as_str(), u.reason.as_str())).collect();
        assert_eq!(
            un,
            [
                (
                    6,
                    "FromParameter",
                    "the policy document is given by `!Ref PolicyJson`: its text is known only when the stack is deployed"
                ),
                (
                    10,
                    "Imported",
                    "the policy document is given by `!ImportValue shared-bucket-policy`: its text is known only when the stack is deployed"
                ),
                (
                    14,
                    "U.Policies",
                    "the inline policies are given by `!Ref UserPolicies`: the list is known only when the stack is deployed"
                ),
                (
                    19,
                    "G.Policies[0]",
                    "an inline policy is given by `!Ref OnePolicy`: it is known only when the stack is deployed"
                ),
                (
                    25,
                    "Perm",
                    "the Lambda permission's `Action` is given by `!Ref PermissionAction`: what it grants is known only when the stack is deployed"
                ),
            ]
        );
        assert_eq!(ex.policies.iter().map(|f| f.address.as_str()).collect::<Vec<_>>(), ["G.Policies[ok]"]);
        assert_eq!(ex.errors.len(), 1);
        assert_eq!(ex.errors[0].address.as_deref(), Some("Bad"));
        assert!(ex.errors[0].message.starts_with("policy document is not valid JSON"), "{}", ex.errors[0].message);
    }
}
