//! BA001 service-wildcard: every action of a service on all resources (`s3:*` on `*`).

use super::support::{evidence, list_phrase};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::resources::Breadth;
use iam_catalog::{AccessLevel, SERVICES};

pub static META: RuleMeta = RuleMeta {
    code: "BA001",
    name: "service-wildcard",
    category: Category::BroadAccess,
    max_score: 9,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "grants every action of a service on all of its resources",
    what: "A service whose whole action list is granted on all resources, whether written as \
`svc:*`, as `*` minus a `Deny`, or through `NotAction`. Not reported when the policy is already \
full-admin (FA001), nor for services that have only *Read* and *List* actions.",
    why: "A service wildcard grants today's actions and every action AWS adds tomorrow, \
including destructive and permission-changing ones, across every resource of the service.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#,
    safer: "Name the actions needed (`s3:GetObject`, `s3:PutObject`) and the resources they act on.",
    scoring: "9 for `iam` and `organizations`; 8 for other sensitive services (built-in: kms, \
secretsmanager, ssm, sts, plus the organisation's additions); 7 for a service with \
*Permissions management* actions (it can change who may access its resources); 4 (medium) for \
any other service (`support:*`, `tag:*`), whose concrete risks the other rules score.",
};

pub const BUILTIN_SENSITIVE: &[&str] = &["iam", "organizations", "kms", "secretsmanager", "ssm", "sts"];

/// Can some action of the service change who may access its resources (a *Permissions
/// management* action that is not a read: `s3:PutBucketPolicy`, `kms:CreateGrant`,
/// `lambda:AddPermission`)? A whole-service grant of such a service can open its resources
/// to anyone; one without them (`support:*`, `tag:*`) can only do what its actions do, and
/// those are scored by the other rules (destructive, data, write, escalation).
fn changes_access(actions: std::ops::Range<u32>) -> bool {
    // The same actions RX001 counts; IAM, STS and Organizations are scored above already.
    actions.into_iter().any(|i| super::resource_policy_write::changes_access(i as usize))
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        if cx.full_admin {
            return;
        }
        let a = cx.analysis;
        let mut services = Vec::new();
        let mut score = 0u8;
        let mut first_action = Vec::new();
        // Only services with something granted on all resources can be whole-service grants.
        let candidates: Vec<usize> = match &a.all_list {
            Some(list) => {
                let mut v: Vec<usize> =
                    list.iter().map(|&i| iam_catalog::ACTIONS[i as usize].service as usize).collect();
                v.dedup();
                v
            }
            None => (0..SERVICES.len()).collect(),
        };
        for svc in candidates.into_iter().map(|s| &SERVICES[s]) {
            let r = svc.actions.clone();
            // Cheap ends check before counting the whole range.
            if r.is_empty()
                || !a.all.contains(r.start as usize)
                || !a.all.contains(r.end as usize - 1)
                || !a.all.contains_range(r.clone())
            {
                continue;
            }
            // A service with nothing but reads is covered by the read rules.
            if r.clone()
                .all(|i| matches!(iam_catalog::ACTIONS[i as usize].access, AccessLevel::Read | AccessLevel::List))
            {
                continue;
            }
            let sensitive = BUILTIN_SENSITIVE.contains(&svc.prefix)
                || cx.options.extra_sensitive_services.iter().any(|s| s.eq_ignore_ascii_case(svc.prefix));
            let s = match svc.prefix {
                "iam" | "organizations" => 9,
                _ if sensitive => 8,
                _ if changes_access(r.clone()) => 7,
                _ => 4,
            };
            score = score.max(s);
            services.push(format!("{}:*", svc.prefix));
            first_action.push(r.start as usize);
        }
        if services.is_empty() {
            return;
        }
        let ev = evidence(a, first_action, Breadth::All);
        let msg = format!(
            "grants every action of {} {} on all resources",
            if services.len() == 1 { "service" } else { "services" },
            list_phrase(&services, 6)
        );
        let sugg =
            "Replace each service wildcard with the specific actions needed, scoped to named resources.".to_string();
        out.push(Finding::new(&META, score, services, ev, msg, sugg));
    }
}
