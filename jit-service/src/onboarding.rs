//! Destination-account onboarding: the documents and templates an account owner deploys once
//! so that the service (the "hub") can provision time-bound roles there.
//!
//! Two things are created in each destination account:
//!
//! * the **permission boundary** `iam-jit-boundary` (managed policy, path `/iam-jit/`),
//!   attached to every role iam-jit creates: whatever a grant's own policy says, the role can
//!   never touch IAM, Organizations or the account settings, assume other roles (except an
//!   explicit allow list), or administer KMS keys;
//! * the **provisioner role** `iam-jit-provisioner`, which only the hub role can assume, and
//!   only with this account's ExternalId. It can create roles only under `/iam-jit/`, only with
//!   the boundary and the `managed-by=iam-jit` tag, and can change or delete only roles that
//!   carry both. Explicit Denies keep it (and anything else later attached to it) from
//!   removing or replacing the boundary, editing the boundary policy, dropping the tag, or
//!   changing itself.
//!
//! Everything here is pure and deterministic: the same [`Onboarding`] always gives the same
//! bytes, so a printed template can be reviewed, diffed and committed. Condition keys were
//! checked against the action catalog (`catalog/data/catalog.json`): `iam:PermissionsBoundary`
//! is supported by CreateRole, PutRolePermissionsBoundary, DeleteRolePermissionsBoundary,
//! PutRolePolicy, DeleteRolePolicy, AttachRolePolicy, DetachRolePolicy,
//! UpdateAssumeRolePolicy, UpdateRole, DeleteRole and GetRole, but **not** by TagRole,
//! UntagRole or the List calls; `iam:ResourceTag/${TagKey}` is a key of the `role` resource
//! type, so it applies to every call naming a role; CreateRole and TagRole support
//! `aws:RequestTag/${TagKey}` and `aws:TagKeys`, UntagRole only `aws:TagKeys`; the policy
//! version calls support no condition key at all (they are denied by resource).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Name of the role the hub assumes in each destination account.
pub const PROVISIONER_ROLE_NAME: &str = "iam-jit-provisioner";
/// Name of the managed policy attached as permission boundary to every role iam-jit creates.
pub const BOUNDARY_POLICY_NAME: &str = "iam-jit-boundary";
/// IAM path of every role iam-jit creates (and of the boundary policy).
pub const ROLE_PATH: &str = "/iam-jit/";

/// The tag every role iam-jit creates carries (`managed-by=iam-jit`); the provisioner may
/// change only roles that have it.
const MANAGED_BY_KEY: &str = "managed-by";
const MANAGED_BY_VALUE: &str = "iam-jit";
/// Tag keys the provisioner may write: its own and nothing else.
const ALLOWED_TAG_KEYS: [&str; 2] = ["managed-by", "iam-jit:*"];
/// Most entries accepted in [`Onboarding::sts_allow_list`] (keeps the boundary far below the
/// 6,144-character managed-policy limit and the list reviewable).
const MAX_STS_ALLOW_LIST: usize = 20;

/// The role calls the provisioner makes on roles it manages, all of which support the
/// `iam:PermissionsBoundary` condition key (so the boundary is required on top of the tag).
const MANAGE_ACTIONS: [&str; 6] = [
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
];

/// Read calls on roles under the path (none supports the boundary key except GetRole; they
/// change nothing, so the resource pattern is enough).
const READ_ACTIONS: [&str; 4] =
    ["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListRoleTags"];

/// KMS key administration denied by the boundary. Chosen from the catalog's `kms` Write,
/// Permissions-management and Tagging actions, leaving out the cryptographic operations a
/// grant may legitimately need (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt*, Sign, Verify,
/// *Mac, DeriveSharedSecret, GenerateRandom). Why each group is denied:
///
/// * `CreateGrant`, `PutKeyPolicy`: hand key use to other principals or accounts — access that
///   outlives the grant's expiry (persistence), invisible to iam-jit's sweep;
/// * `RetireGrant`, `RevokeGrant`: take key use away from the workloads that rely on it;
/// * `ScheduleKeyDeletion`, `DisableKey`, `DeleteImportedKeyMaterial`, `ImportKeyMaterial`,
///   `CancelKeyDeletion`, `EnableKey`: destroy or resurrect keys (data loss, ransom, or undoing
///   an incident response);
/// * `CreateKey`, `ReplicateKey`, `UpdatePrimaryRegion`, `SynchronizeMultiRegionKey`: new keys
///   or key copies under a key policy of the grant's choosing (persistence, exfiltration);
/// * `CreateAlias`, `UpdateAlias`, `DeleteAlias`: point an alias applications encrypt with at
///   another key (data then encrypted under a key the attacker controls);
/// * `TagResource`, `UntagResource`: key policies and IAM policies may grant by key tag (ABAC);
/// * `EnableKeyRotation`, `DisableKeyRotation`, `RotateKeyOnDemand`, `UpdateKeyDescription`:
///   key lifecycle is the key owner's decision, not a temporary grant's;
/// * custom key stores (`Create/Update/Delete/Connect/DisconnectCustomKeyStore`): the HSM or
///   external key manager behind keys.
pub const KMS_ADMIN_ACTIONS: [&str; 28] = [
    "kms:CancelKeyDeletion",
    "kms:ConnectCustomKeyStore",
    "kms:CreateAlias",
    "kms:CreateCustomKeyStore",
    "kms:CreateGrant",
    "kms:CreateKey",
    "kms:DeleteAlias",
    "kms:DeleteCustomKeyStore",
    "kms:DeleteImportedKeyMaterial",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:DisconnectCustomKeyStore",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:ImportKeyMaterial",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:SynchronizeMultiRegionKey",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateCustomKeyStore",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
];

/// `arn:aws:iam::<account>:role/iam-jit-provisioner`
pub fn provisioner_role_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:role/{PROVISIONER_ROLE_NAME}")
}

/// `arn:aws:iam::<account>:policy/iam-jit/iam-jit-boundary`
pub fn boundary_policy_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:policy{ROLE_PATH}{BOUNDARY_POLICY_NAME}")
}

/// `arn:aws:iam::<account>:role/iam-jit/*`: every role iam-jit creates.
fn managed_roles_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:role{ROLE_PATH}*")
}

/// What one destination account's onboarding is made of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Onboarding {
    /// The destination account (12 digits).
    pub account_id: String,
    /// The hub's own role (`arn:aws:iam::<hub account>:role/...`), the only principal the
    /// provisioner role trusts.
    pub hub_role_arn: String,
    /// Per-account, unguessable value the hub must present to assume the provisioner role.
    pub external_id: String,
    /// The deployment (`deployment_id` in the configuration) whose roles these are.
    pub deployment_id: String,
    /// roles (ARN patterns) a granted role may still sts:AssumeRole into; empty = none
    pub sts_allow_list: Vec<String>,
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Characters IAM allows in role names and paths (`[\w+=,.@-]` and `/` between segments).
fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Check the role part of a role ARN (`path/.../name`, after `role/`); `wildcards` allows `*`
/// and `?` (allow-list patterns).
fn check_role_part(part: &str, wildcards: bool) -> Result<(), String> {
    if part.is_empty() {
        return Err("the role name after `role/` is missing".into());
    }
    if part.len() > 512 + 64 {
        return Err("the role path and name are longer than IAM allows (512 + 64 characters)".into());
    }
    for seg in part.split('/') {
        if seg.is_empty() {
            return Err("the role path has an empty segment (`//`, or a leading or trailing `/`)".into());
        }
        if let Some(c) = seg.chars().find(|&c| !(is_role_name_char(c) || wildcards && (c == '*' || c == '?'))) {
            return Err(format!(
                "`{c}` is not allowed in a role path or name (letters, digits and _+=,.@-{})",
                if wildcards { ", and the wildcards * and ?" } else { "" }
            ));
        }
    }
    let name = part.rsplit('/').next().unwrap_or(part);
    if name.len() > 64 {
        return Err(format!("the role name `{name}` is longer than 64 characters"));
    }
    Ok(())
}

/// Split `arn:aws:iam::<account>:role/<part>` into (account, part).
fn split_role_arn(arn: &str) -> Result<(&str, &str), String> {
    let rest = arn.strip_prefix("arn:").ok_or("it does not start with `arn:`")?;
    let (partition, rest) = rest.split_once(':').ok_or("it is not an ARN")?;
    if partition != "aws" {
        return Err(format!(
            "partition `{partition}`: only the `aws` partition is supported (the templates name `arn:aws:` ARNs)"
        ));
    }
    let (service, rest) = rest.split_once(':').ok_or("it is not an ARN")?;
    if service == "sts" && rest.contains(":assumed-role/") {
        return Err("it is an assumed-role (session) ARN; give the role's ARN, \
                    arn:aws:iam::<account>:role/<name>"
            .into());
    }
    if service != "iam" {
        return Err(format!("service `{service}`: an IAM role ARN is arn:aws:iam::<account>:role/<name>"));
    }
    let (region, rest) = rest.split_once(':').ok_or("it is not an ARN")?;
    if !region.is_empty() {
        return Err("IAM ARNs have no region (arn:aws:iam::<account>:role/<name>)".into());
    }
    let (account, resource) = rest.split_once(':').ok_or("it is not an ARN")?;
    if !is_account_id(account) {
        return Err(format!("`{account}` is not a 12-digit account id"));
    }
    let part = resource.strip_prefix("role/").ok_or_else(|| {
        format!("`{resource}` is not a role (an account root, user or group cannot be the hub; name a role/...)")
    })?;
    Ok((account, part))
}

/// Check an onboarding before anything is generated from it. Each message names the field
/// and says what is expected.
pub fn validate(o: &Onboarding) -> Result<(), String> {
    if !is_account_id(&o.account_id) {
        return Err(format!("account_id `{}` must be exactly 12 digits (e.g. 123456789012)", o.account_id));
    }
    let (_, hub_role) = split_role_arn(&o.hub_role_arn)
        .map_err(|e| format!("hub_role_arn `{}` is not an IAM role ARN: {e}", o.hub_role_arn))?;
    check_role_part(hub_role, false)
        .map_err(|e| format!("hub_role_arn `{}` is not an IAM role ARN: {e}", o.hub_role_arn))?;

    let n = o.external_id.chars().count();
    if !(16..=128).contains(&n) {
        return Err(format!(
            "external_id must be 16 to 128 characters (it has {n}); use a random value per account, e.g. `openssl rand -hex 24`"
        ));
    }
    if let Some(c) = o.external_id.chars().find(|&c| !(c.is_ascii_alphanumeric() || "+=,.@:/-".contains(c))) {
        return Err(format!("external_id contains `{c}`; only letters, digits and +=,.@:/- are allowed"));
    }

    let d = &o.deployment_id;
    if d.is_empty() || d.len() > 64 {
        return Err(format!("deployment_id must be 1 to 64 characters (it has {})", d.len()));
    }
    if !d.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("deployment_id `{d}` must start with a letter or digit"));
    }
    if let Some(c) = d.chars().find(|&c| !(c.is_ascii_alphanumeric() || "._-".contains(c))) {
        return Err(format!("deployment_id `{d}` contains `{c}`; only letters, digits and ._- are allowed"));
    }

    if o.sts_allow_list.len() > MAX_STS_ALLOW_LIST {
        return Err(format!(
            "sts_allow_list has {} entries; at most {MAX_STS_ALLOW_LIST} (name roles, not whole accounts)",
            o.sts_allow_list.len()
        ));
    }
    for (i, entry) in o.sts_allow_list.iter().enumerate() {
        let field = format!("sts_allow_list[{i}] `{entry}`");
        let (_, part) = split_role_arn(entry).map_err(|e| {
            format!("{field} must be a role ARN pattern, arn:aws:iam::<12-digit account>:role/<name or pattern>: {e}")
        })?;
        check_role_part(part, true).map_err(|e| format!("{field}: {e}"))?;
        if part.chars().all(|c| c == '*' || c == '?' || c == '/') {
            return Err(format!(
                "{field} matches every role of the account; name the roles a grant may assume (e.g. role/ReadOnly)"
            ));
        }
        if part == PROVISIONER_ROLE_NAME || part.starts_with("iam-jit/") {
            return Err(format!("{field} names iam-jit's own roles, which a grant may never assume; remove it"));
        }
        if o.sts_allow_list[..i].contains(entry) {
            return Err(format!("{field} is listed twice"));
        }
    }
    Ok(())
}

/// The permission boundary attached to every role iam-jit creates in the account.
///
/// `Allow *` first, so that the grant's own (approved) policy decides what the role may do
/// within the boundary; then Denies that no grant can lift:
///
/// * `iam:*`, `organizations:*`, `account:*` — a grant that could change IAM could remove its
///   own boundary, extend itself, create users or keys that outlive it, or `iam:PassRole` a
///   more powerful role to a service; Organizations and account settings are the account
///   owner's alone;
/// * `sts:*` except on the roles in `sts_allow_list` — role chaining would leave the
///   boundary behind. With an empty list everything in `sts` is denied (GetCallerIdentity
///   still works: AWS does not authorise it). With entries, `NotResource` denies every `sts`
///   call except on those roles, and a second Deny keeps even a broad pattern from reaching
///   iam-jit's own roles (other grants, the provisioner) or the hub;
/// * KMS key administration (see [`KMS_ADMIN_ACTIONS`]).
pub fn boundary_policy(o: &Onboarding) -> Value {
    let sts = if o.sts_allow_list.is_empty() {
        json!({"Sid": "DenyStsOutsideAllowList", "Effect": "Deny", "Action": "sts:*", "Resource": "*"})
    } else {
        json!({"Sid": "DenyStsOutsideAllowList", "Effect": "Deny", "Action": "sts:*", "NotResource": o.sts_allow_list})
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowWhatTheGrantAllows", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Sid": "DenyIamOrganizationsAccount",
                "Effect": "Deny",
                "Action": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*"
            },
            sts,
            {
                "Sid": "DenyStsIntoIamJitRoles",
                "Effect": "Deny",
                "Action": "sts:*",
                "Resource": [
                    format!("arn:aws:iam::*:role{ROLE_PATH}*"),
                    format!("arn:aws:iam::*:role/{PROVISIONER_ROLE_NAME}"),
                    o.hub_role_arn,
                ]
            },
            {"Sid": "DenyKmsKeyAdministration", "Effect": "Deny", "Action": KMS_ADMIN_ACTIONS, "Resource": "*"}
        ]
    })
}

/// The provisioner role's inline policy: exactly the IAM calls the AWS provisioner makes,
/// each as narrow as the catalog's condition keys allow, plus Denies that hold even if a
/// broader policy is later attached to the role.
pub fn provisioner_policy(o: &Onboarding) -> Value {
    let boundary = boundary_policy_arn(&o.account_id);
    let managed = managed_roles_arn(&o.account_id);
    let own_tags = json!({"aws:TagKeys": ALLOWED_TAG_KEYS});
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadRolesOnThePath",
                "Effect": "Allow",
                "Action": READ_ACTIONS,
                "Resource": managed
            },
            {
                // ListRoles has no resource type: it can only be granted on `*`. It returns
                // role metadata (the sweep passes PathPrefix /iam-jit/), never policies.
                "Sid": "ListRolesForTheOrphanSweep",
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*"
            },
            {
                "Sid": "CreateOnlyBoundedTaggedRoles",
                "Effect": "Allow",
                "Action": "iam:CreateRole",
                "Resource": managed,
                "Condition": {
                    "StringEquals": {
                        "iam:PermissionsBoundary": boundary,
                        "aws:RequestTag/managed-by": MANAGED_BY_VALUE,
                        "aws:RequestTag/iam-jit:deployment-id": o.deployment_id
                    },
                    "ForAllValues:StringLike": own_tags
                }
            },
            {
                // Tags given to CreateRole may also be authorised as iam:TagRole on the new role,
                // which has no tags yet. Only the creation tag set is accepted here.
                "Sid": "TagRolesBeingCreated",
                "Effect": "Allow",
                "Action": "iam:TagRole",
                "Resource": managed,
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/managed-by": MANAGED_BY_VALUE,
                        "aws:RequestTag/iam-jit:deployment-id": o.deployment_id
                    },
                    "Null": {"iam:ResourceTag/managed-by": "true"},
                    "ForAllValues:StringLike": own_tags
                }
            },
            {
                // TagRole supports no iam:PermissionsBoundary key: the tag is the guard, and the
                // provisioner may only write its own tag keys (e.g. iam-jit:not-after on an
                // extension).
                "Sid": "TagManagedRoles",
                "Effect": "Allow",
                "Action": "iam:TagRole",
                "Resource": managed,
                "Condition": {
                    "StringEquals": {"iam:ResourceTag/managed-by": MANAGED_BY_VALUE},
                    "ForAllValues:StringLike": own_tags
                }
            },
            {
                "Sid": "ManageOnlyBoundedManagedRoles",
                "Effect": "Allow",
                "Action": MANAGE_ACTIONS,
                "Resource": managed,
                "Condition": {
                    "StringEquals": {
                        "iam:ResourceTag/managed-by": MANAGED_BY_VALUE,
                        "iam:PermissionsBoundary": boundary
                    }
                }
            },
            {
                "Sid": "DenyUnboundedRolesOnThePath",
                "Effect": "Deny",
                "Action": "iam:CreateRole",
                "Resource": managed,
                "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary}}
            },
            {
                "Sid": "DenyBoundaryRemoval",
                "Effect": "Deny",
                "Action": "iam:DeleteRolePermissionsBoundary",
                "Resource": "*"
            },
            {
                "Sid": "DenyOtherBoundaries",
                "Effect": "Deny",
                "Action": "iam:PutRolePermissionsBoundary",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary}}
            },
            {
                "Sid": "DenyBoundaryPolicyChanges",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                    "iam:TagPolicy",
                    "iam:UntagPolicy"
                ],
                "Resource": boundary
            },
            {
                "Sid": "DenyUntaggingManagedBy",
                "Effect": "Deny",
                "Action": "iam:UntagRole",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": [MANAGED_BY_KEY]}}
            },
            {
                "Sid": "DenyRetaggingManagedBy",
                "Effect": "Deny",
                "Action": "iam:TagRole",
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:RequestTag/managed-by": MANAGED_BY_VALUE},
                    "Null": {"aws:RequestTag/managed-by": "false"}
                }
            },
            {
                "Sid": "DenyChangingTheProvisionerItself",
                "Effect": "Deny",
                "Action": [
                    "iam:Attach*",
                    "iam:Delete*",
                    "iam:Detach*",
                    "iam:Put*",
                    "iam:Tag*",
                    "iam:Untag*",
                    "iam:Update*"
                ],
                "Resource": provisioner_role_arn(&o.account_id)
            }
        ]
    })
}

/// The provisioner role's trust policy: the hub role only, and only with the ExternalId.
pub fn provisioner_trust_policy(o: &Onboarding) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HubWithExternalId",
            "Effect": "Allow",
            "Principal": {"AWS": o.hub_role_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": o.external_id}}
        }]
    })
}

fn description(o: &Onboarding) -> String {
    format!(
        "iam-jit onboarding of account {} for deployment {}: permission boundary {} and provisioner role {} (assumed by {})",
        o.account_id, o.deployment_id, BOUNDARY_POLICY_NAME, PROVISIONER_ROLE_NAME, o.hub_role_arn
    )
}

fn provisioner_tags(o: &Onboarding) -> [(&'static str, String); 2] {
    // Deliberately not `managed-by=iam-jit`: the provisioner is not one of the roles it manages.
    [("iam-jit:component", "provisioner".to_string()), ("iam-jit:deployment-id", o.deployment_id.clone())]
}

/// A complete CloudFormation template (JSON) for the account: the boundary, the provisioner
/// role and its inline policy. Values are baked in; a Rule refuses to deploy it in another
/// account. Deploy with `--capabilities CAPABILITY_NAMED_IAM`.
pub fn cloudformation(o: &Onboarding) -> String {
    let tags: Vec<Value> = provisioner_tags(o).iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description(o),
        "Rules": {
            "DestinationAccountOnly": {
                "Assertions": [{
                    "Assert": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, o.account_id]},
                    "AssertDescription": format!(
                        "This template is for account {}: every ARN in it names that account.", o.account_id
                    )
                }]
            }
        },
        "Resources": {
            "PermissionBoundary": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": BOUNDARY_POLICY_NAME,
                    "Path": ROLE_PATH,
                    "Description": format!(
                        "Permission boundary of every role iam-jit deployment {} creates", o.deployment_id
                    ),
                    "PolicyDocument": boundary_policy(o)
                }
            },
            "ProvisionerRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": PROVISIONER_ROLE_NAME,
                    "Path": "/",
                    "Description": format!(
                        "Assumed by the iam-jit hub (deployment {}) to manage time-bound roles under {}",
                        o.deployment_id, ROLE_PATH
                    ),
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": provisioner_trust_policy(o),
                    "Tags": tags
                }
            },
            "ProvisionerPolicy": {
                "Type": "AWS::IAM::RolePolicy",
                // The policy names the boundary by ARN; create the boundary first so that the
                // provisioner never exists without it.
                "DependsOn": "PermissionBoundary",
                "Properties": {
                    "PolicyName": PROVISIONER_ROLE_NAME,
                    "RoleName": {"Ref": "ProvisionerRole"},
                    "PolicyDocument": provisioner_policy(o)
                }
            }
        },
        "Outputs": {
            "ProvisionerRoleArn": {
                "Description": "Register this role (with the ExternalId) for the account in iam-jit",
                "Value": {"Fn::GetAtt": ["ProvisionerRole", "Arn"]}
            },
            "PermissionBoundaryArn": {
                "Description": "The permission boundary attached to every iam-jit role",
                "Value": {"Ref": "PermissionBoundary"}
            }
        }
    });
    let mut out = serde_json::to_string_pretty(&template).expect("a JSON value always serialises");
    out.push('\n');
    out
}

/// A double-quoted HCL string (no interpolation: `${` and `%{` are escaped).
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON document as an HCL heredoc. Heredocs interpolate `${…}` and `%{…}`; the documents
/// never contain them (validated ARNs, ids and fixed strings), which is asserted here.
fn hcl_json_heredoc(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).expect("a JSON value always serialises");
    assert!(
        !text.contains("${") && !text.contains("%{"),
        "a policy document contains a template sequence; validate() should have refused its input"
    );
    format!("<<-EOT\n{text}\nEOT")
}

/// Terraform (HCL) for the account: the same three resources and documents as
/// [`cloudformation`], and a precondition refusing to apply it with credentials of another
/// account.
pub fn terraform(o: &Onboarding) -> String {
    // Aligned the way `terraform fmt` aligns the `=` of consecutive attributes.
    let tags = provisioner_tags(o);
    let width = tags.iter().map(|(k, _)| hcl_string(k).len()).max().unwrap_or(0);
    let tags =
        tags.iter().map(|(k, v)| format!("    {:<width$} = {}\n", hcl_string(k), hcl_string(v))).collect::<String>();
    format!(
        r#"# {description}
# Generated by iam-jit; review, then `terraform init && terraform apply` with credentials of
# account {account}. The AWS provider's region is irrelevant to IAM but must be set
# (AWS_REGION or a provider block).

terraform {{
  required_version = ">= 1.2"
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = ">= 4.0"
    }}
  }}
}}

data "aws_caller_identity" "current" {{}}

resource "aws_iam_policy" "iam_jit_boundary" {{
  name        = {boundary_name}
  path        = {path}
  description = {boundary_description}
  policy      = {boundary}

  lifecycle {{
    precondition {{
      condition     = data.aws_caller_identity.current.account_id == {account_q}
      error_message = {account_error}
    }}
  }}
}}

resource "aws_iam_role" "iam_jit_provisioner" {{
  name                 = {role_name}
  path                 = "/"
  description          = {role_description}
  max_session_duration = 3600
  assume_role_policy   = {trust}

  tags = {{
{tags}  }}

  lifecycle {{
    precondition {{
      condition     = data.aws_caller_identity.current.account_id == {account_q}
      error_message = {account_error}
    }}
  }}
}}

resource "aws_iam_role_policy" "iam_jit_provisioner" {{
  name   = {role_name}
  role   = aws_iam_role.iam_jit_provisioner.id
  policy = {provisioner}

  # The policy names the boundary by ARN: create the boundary first.
  depends_on = [aws_iam_policy.iam_jit_boundary]
}}

output "provisioner_role_arn" {{
  description = "Register this role (with the ExternalId) for the account in iam-jit"
  value       = aws_iam_role.iam_jit_provisioner.arn
}}

output "permission_boundary_arn" {{
  description = "The permission boundary attached to every iam-jit role"
  value       = aws_iam_policy.iam_jit_boundary.arn
}}
"#,
        description = description(o),
        account = o.account_id,
        account_q = hcl_string(&o.account_id),
        account_error = hcl_string(&format!(
            "This configuration is for account {}: every ARN in it names that account.",
            o.account_id
        )),
        boundary_name = hcl_string(BOUNDARY_POLICY_NAME),
        path = hcl_string(ROLE_PATH),
        boundary_description =
            hcl_string(&format!("Permission boundary of every role iam-jit deployment {} creates", o.deployment_id)),
        boundary = hcl_json_heredoc(&boundary_policy(o)),
        role_name = hcl_string(PROVISIONER_ROLE_NAME),
        role_description = hcl_string(&format!(
            "Assumed by the iam-jit hub (deployment {}) to manage time-bound roles under {}",
            o.deployment_id, ROLE_PATH
        )),
        trust = hcl_json_heredoc(&provisioner_trust_policy(o)),
        tags = tags,
        provisioner = hcl_json_heredoc(&provisioner_policy(o)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Onboarding {
        Onboarding {
            account_id: "123456789012".into(),
            hub_role_arn: "arn:aws:iam::210987654321:role/iam-jit-hub".into(),
            external_id: "k3Vq9x-ExternalId-0123456789abcdef".into(),
            deployment_id: "prod-eu".into(),
            sts_allow_list: vec![],
        }
    }

    fn statements(policy: &Value) -> &Vec<Value> {
        policy["Statement"].as_array().expect("Statement is an array")
    }

    fn sid<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        statements(policy)
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {policy:#}"))
    }

    /// `Action` as a list, whether given as a string or an array.
    fn actions(stmt: &Value) -> Vec<&str> {
        match &stmt["Action"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            other => panic!("Action is {other}"),
        }
    }

    /// Every statement (in every policy) that allows `action`.
    fn allowing<'a>(policy: &'a Value, action: &str) -> Vec<&'a Value> {
        statements(policy).iter().filter(|s| s["Effect"] == "Allow" && actions(s).contains(&action)).collect()
    }

    #[test]
    fn arns() {
        assert_eq!(provisioner_role_arn("123456789012"), "arn:aws:iam::123456789012:role/iam-jit-provisioner");
        assert_eq!(boundary_policy_arn("123456789012"), "arn:aws:iam::123456789012:policy/iam-jit/iam-jit-boundary");
    }

    #[test]
    fn every_statement_has_a_unique_sid() {
        let o = Onboarding { sts_allow_list: vec!["arn:aws:iam::123456789012:role/ReadOnly".into()], ..sample() };
        for policy in [boundary_policy(&o), provisioner_policy(&o), provisioner_trust_policy(&o)] {
            assert_eq!(policy["Version"], "2012-10-17");
            let sids: Vec<&str> = statements(&policy).iter().map(|s| s["Sid"].as_str().expect("a Sid")).collect();
            let mut unique = sids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), sids.len(), "duplicate Sid in {sids:?}");
            for s in &sids {
                assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "Sid {s} must be alphanumeric");
            }
        }
    }

    #[test]
    fn trust_is_the_hub_only_with_the_external_id() {
        let o = sample();
        let trust = provisioner_trust_policy(&o);
        let st = statements(&trust);
        assert_eq!(st.len(), 1, "one statement only");
        let s = &st[0];
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(s["Principal"], json!({"AWS": o.hub_role_arn}), "exactly the hub role, no other principal");
        assert_eq!(s["Action"], "sts:AssumeRole");
        assert_eq!(s["Condition"], json!({"StringEquals": {"sts:ExternalId": o.external_id}}));
        let text = trust.to_string();
        assert!(!text.contains(":root") && !text.contains("\"*\""), "no account root, no wildcard: {text}");
    }

    #[test]
    fn create_role_requires_boundary_and_tag_on_the_path() {
        let o = sample();
        let p = provisioner_policy(&o);
        let creates = allowing(&p, "iam:CreateRole");
        assert_eq!(creates.len(), 1);
        let c = creates[0];
        assert_eq!(c["Resource"], "arn:aws:iam::123456789012:role/iam-jit/*");
        let eq = &c["Condition"]["StringEquals"];
        assert_eq!(eq["iam:PermissionsBoundary"], boundary_policy_arn(&o.account_id));
        assert_eq!(eq["aws:RequestTag/managed-by"], "iam-jit");
        assert_eq!(eq["aws:RequestTag/iam-jit:deployment-id"], "prod-eu");
        assert_eq!(c["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"], json!(["managed-by", "iam-jit:*"]));
        let deny = sid(&p, "DenyUnboundedRolesOnThePath");
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Condition"]["StringNotEquals"]["iam:PermissionsBoundary"], boundary_policy_arn(&o.account_id));
    }

    #[test]
    fn changes_require_the_tag_and_where_supported_the_boundary() {
        let o = sample();
        let p = provisioner_policy(&o);
        for action in MANAGE_ACTIONS {
            let stmts = allowing(&p, action);
            assert_eq!(stmts.len(), 1, "{action} allowed once");
            let eq = &stmts[0]["Condition"]["StringEquals"];
            assert_eq!(eq["iam:ResourceTag/managed-by"], "iam-jit", "{action}");
            assert_eq!(eq["iam:PermissionsBoundary"], boundary_policy_arn(&o.account_id), "{action}");
            assert_eq!(stmts[0]["Resource"], managed_roles_arn(&o.account_id));
        }
        // TagRole (no boundary key): either the role is already managed, or it is being
        // created with the managed-by tag.
        let tags = allowing(&p, "iam:TagRole");
        assert_eq!(tags.len(), 2);
        for t in tags {
            assert_eq!(t["Resource"], managed_roles_arn(&o.account_id));
            let eq = &t["Condition"]["StringEquals"];
            assert!(
                eq["iam:ResourceTag/managed-by"] == "iam-jit"
                    || (eq["aws:RequestTag/managed-by"] == "iam-jit"
                        && t["Condition"]["Null"]["iam:ResourceTag/managed-by"] == "true"),
                "{t:#}"
            );
            assert_eq!(t["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"], json!(["managed-by", "iam-jit:*"]));
        }
    }

    #[test]
    fn provisioner_allows_exactly_the_calls_it_makes() {
        let p = provisioner_policy(&sample());
        let mut allowed: Vec<&str> =
            statements(&p).iter().filter(|s| s["Effect"] == "Allow").flat_map(actions).collect();
        allowed.sort();
        allowed.dedup();
        let mut expected = vec![
            "iam:CreateRole",
            "iam:GetRole",
            "iam:ListRoleTags",
            "iam:TagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:DetachRolePolicy",
            "iam:DeleteRole",
            "iam:ListRoles",
        ];
        expected.sort();
        assert_eq!(allowed, expected);
        // Only ListRoles (which has no resource type) is allowed on `*`.
        for s in statements(&p).iter().filter(|s| s["Effect"] == "Allow") {
            if s["Resource"] == "*" {
                assert_eq!(actions(s), vec!["iam:ListRoles"]);
            } else {
                assert_eq!(s["Resource"], managed_roles_arn("123456789012"));
            }
        }
    }

    #[test]
    fn provisioner_denies_boundary_tampering() {
        let o = sample();
        let p = provisioner_policy(&o);
        let b = boundary_policy_arn(&o.account_id);
        let removal = sid(&p, "DenyBoundaryRemoval");
        assert_eq!((&removal["Effect"], &removal["Resource"]), (&json!("Deny"), &json!("*")));
        assert_eq!(actions(removal), vec!["iam:DeleteRolePermissionsBoundary"]);
        assert!(removal.get("Condition").is_none(), "boundary removal is denied unconditionally");

        let other = sid(&p, "DenyOtherBoundaries");
        assert_eq!(other["Effect"], "Deny");
        assert_eq!(actions(other), vec!["iam:PutRolePermissionsBoundary"]);
        assert_eq!(other["Condition"], json!({"StringNotEquals": {"iam:PermissionsBoundary": b}}));

        let edits = sid(&p, "DenyBoundaryPolicyChanges");
        assert_eq!(edits["Effect"], "Deny");
        assert_eq!(edits["Resource"], b);
        for a in
            ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
        {
            assert!(actions(edits).contains(&a), "{a}");
        }

        let untag = sid(&p, "DenyUntaggingManagedBy");
        assert_eq!(untag["Effect"], "Deny");
        assert_eq!(actions(untag), vec!["iam:UntagRole"]);
        assert_eq!(untag["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"], json!(["managed-by"]));

        let retag = sid(&p, "DenyRetaggingManagedBy");
        assert_eq!(retag["Condition"]["StringNotEquals"]["aws:RequestTag/managed-by"], "iam-jit");

        let own = sid(&p, "DenyChangingTheProvisionerItself");
        assert_eq!(own["Resource"], provisioner_role_arn(&o.account_id));
        // The provisioner role is outside the managed path: `role/iam-jit/*` cannot match it.
        assert!(
            !provisioner_role_arn(&o.account_id).starts_with(managed_roles_arn(&o.account_id).trim_end_matches('*'))
        );
    }

    #[test]
    fn boundary_allows_the_grant_and_denies_the_escape_hatches() {
        let o = sample();
        let b = boundary_policy(&o);
        let allow = sid(&b, "AllowWhatTheGrantAllows");
        assert_eq!(
            (&allow["Effect"], &allow["Action"], &allow["Resource"]),
            (&json!("Allow"), &json!("*"), &json!("*"))
        );
        let admin = sid(&b, "DenyIamOrganizationsAccount");
        assert_eq!(admin["Effect"], "Deny");
        assert_eq!(actions(admin), vec!["iam:*", "organizations:*", "account:*"]);
        assert_eq!(admin["Resource"], "*");
        // Empty allow list: all of sts is denied.
        let sts = sid(&b, "DenyStsOutsideAllowList");
        assert_eq!((&sts["Effect"], &sts["Action"], &sts["Resource"]), (&json!("Deny"), &json!("sts:*"), &json!("*")));
        assert!(sts.get("NotResource").is_none());
        let kms = sid(&b, "DenyKmsKeyAdministration");
        assert_eq!(kms["Effect"], "Deny");
        for a in [
            "kms:CreateKey",
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
            "kms:CreateGrant",
            "kms:RetireGrant",
            "kms:RevokeGrant",
            "kms:UpdateKeyDescription",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:ReplicateKey",
            "kms:UpdatePrimaryRegion",
            "kms:ImportKeyMaterial",
            "kms:DeleteImportedKeyMaterial",
            "kms:CancelKeyDeletion",
            "kms:DeleteAlias",
            "kms:CreateAlias",
            "kms:UpdateAlias",
        ] {
            assert!(actions(kms).contains(&a), "{a} must be denied");
        }
        for a in ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:Sign"] {
            assert!(!actions(kms).contains(&a), "{a} is a use of a key, not its administration");
        }
        // Only the first statement allows anything.
        assert_eq!(statements(&b).iter().filter(|s| s["Effect"] == "Allow").count(), 1);
    }

    #[test]
    fn boundary_sts_allow_list_uses_not_resource_and_never_reaches_iam_jit_roles() {
        let list = vec![
            "arn:aws:iam::123456789012:role/ReadOnly".to_string(),
            "arn:aws:iam::111122223333:role/deploy/*".to_string(),
        ];
        let o = Onboarding { sts_allow_list: list.clone(), ..sample() };
        validate(&o).unwrap();
        let b = boundary_policy(&o);
        let sts = sid(&b, "DenyStsOutsideAllowList");
        assert_eq!(sts["Effect"], "Deny");
        assert_eq!(sts["NotResource"], json!(list));
        assert!(sts.get("Resource").is_none());
        let own = sid(&b, "DenyStsIntoIamJitRoles");
        assert_eq!(own["Effect"], "Deny");
        assert_eq!(
            own["Resource"],
            json!(["arn:aws:iam::*:role/iam-jit/*", "arn:aws:iam::*:role/iam-jit-provisioner", o.hub_role_arn])
        );
    }

    #[test]
    fn validate_accepts_the_sample() {
        validate(&sample()).unwrap();
    }

    fn err(o: Onboarding) -> String {
        validate(&o).expect_err("must be refused")
    }

    #[test]
    fn validate_names_the_field_and_the_fix() {
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            let e = err(Onboarding { account_id: bad.into(), ..sample() });
            assert!(e.starts_with("account_id") && e.contains("12 digits"), "{e}");
        }
        for (bad, says) in [
            ("arn:aws:iam::210987654321:root", "not a role"),
            ("arn:aws:iam::210987654321:user/alice", "not a role"),
            ("arn:aws:sts::210987654321:assumed-role/hub/session", "assumed-role"),
            ("arn:aws:iam::21098765432:role/hub", "12-digit"),
            ("arn:aws-cn:iam::210987654321:role/hub", "partition"),
            ("arn:aws:iam::210987654321:role/", "missing"),
            ("arn:aws:iam::210987654321:role/*", "not allowed"),
            ("arn:aws:iam::210987654321:role/a//b", "empty segment"),
            ("iam-jit-hub", "arn:"),
            ("arn:aws:s3:::bucket", "service"),
        ] {
            let e = err(Onboarding { hub_role_arn: bad.into(), ..sample() });
            assert!(e.starts_with("hub_role_arn") && e.contains(says), "{bad}: {e}");
        }
        validate(&Onboarding { hub_role_arn: "arn:aws:iam::210987654321:role/team/iam-jit-hub".into(), ..sample() })
            .unwrap();

        for (bad, says) in [
            ("short", "16 to 128"),
            (&"x".repeat(129) as &str, "16 to 128"),
            ("abcdefghijklmnop qr", "` `"),
            ("abcdefghijklmnop${x}", "`$`"),
        ] {
            let e = err(Onboarding { external_id: bad.into(), ..sample() });
            assert!(e.starts_with("external_id") && e.contains(says), "{e}");
        }
        validate(&Onboarding { external_id: "A1+=,.@:/-".repeat(2), ..sample() }).unwrap();
        validate(&Onboarding { external_id: "x".repeat(128), ..sample() }).unwrap();

        for (bad, says) in [("", "1 to 64"), (&"d".repeat(65) as &str, "1 to 64"), ("-x", "start"), ("prod eu", "` `")]
        {
            let e = err(Onboarding { deployment_id: bad.into(), ..sample() });
            assert!(e.starts_with("deployment_id") && e.contains(says), "{e}");
        }

        for (bad, says) in [
            ("*", "role ARN pattern"),
            ("arn:aws:iam::123456789012:role/*", "every role"),
            ("arn:aws:iam::*:role/ReadOnly", "12-digit"),
            ("arn:aws:iam::123456789012:role/iam-jit/*", "iam-jit's own roles"),
            ("arn:aws:iam::123456789012:role/iam-jit-provisioner", "iam-jit's own roles"),
            ("arn:aws:iam::123456789012:user/bob", "not a role"),
            ("arn:aws:iam::123456789012:role/${aws:username}", "not allowed"),
        ] {
            let e = err(Onboarding { sts_allow_list: vec![bad.into()], ..sample() });
            assert!(e.starts_with("sts_allow_list[0]") && e.contains(says), "{bad}: {e}");
        }
        let dup = "arn:aws:iam::123456789012:role/ReadOnly".to_string();
        let e = err(Onboarding { sts_allow_list: vec![dup.clone(), dup], ..sample() });
        assert!(e.starts_with("sts_allow_list[1]") && e.contains("twice"), "{e}");
        let many = (0..21).map(|i| format!("arn:aws:iam::123456789012:role/r{i}")).collect();
        let e = err(Onboarding { sts_allow_list: many, ..sample() });
        assert!(e.starts_with("sts_allow_list has 21"), "{e}");
    }

    #[test]
    fn cloudformation_embeds_the_same_documents() {
        let o = sample();
        let t: Value = serde_json::from_str(&cloudformation(&o)).expect("the template is JSON");
        let r = &t["Resources"];
        assert_eq!(r["PermissionBoundary"]["Properties"]["PolicyDocument"], boundary_policy(&o));
        assert_eq!(r["PermissionBoundary"]["Properties"]["Path"], ROLE_PATH);
        assert_eq!(r["ProvisionerRole"]["Properties"]["AssumeRolePolicyDocument"], provisioner_trust_policy(&o));
        assert_eq!(r["ProvisionerRole"]["Properties"]["RoleName"], PROVISIONER_ROLE_NAME);
        assert_eq!(r["ProvisionerPolicy"]["Properties"]["PolicyDocument"], provisioner_policy(&o));
        assert!(t["Description"].as_str().unwrap().contains("deployment prod-eu"));
        assert!(t["Outputs"]["ProvisionerRoleArn"].is_object() && t["Outputs"]["PermissionBoundaryArn"].is_object());
        // The provisioner role is not itself "managed-by: iam-jit".
        assert!(!r["ProvisionerRole"].to_string().contains("managed-by"));
        // Deterministic.
        assert_eq!(cloudformation(&o), cloudformation(&o.clone()));
    }

    #[test]
    fn hcl_strings_do_not_interpolate() {
        assert_eq!(hcl_string(r#"a"b\c${d}%{e}$f"#), r#""a\"b\\c$${d}%%{e}$f""#);
    }
}
