//! FA001 full-admin: the policy grants (almost) every AWS action on every resource.

use super::support::{evidence, Evidence};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use crate::analysis::Analysis;
use crate::resources::Breadth;
use iam_catalog::{AccessLevel, ACTIONS};
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "FA001",
    name: "full-admin",
    category: Category::FullAdmin,
    max_score: 10,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "grants every (or nearly every) AWS action on every resource",
    what: "Allow statements that, after wildcard expansion, `NotAction` and unconditional denies, \
grant on all resources every IAM write and permissions-management action and at least 90% of \
the catalog's actions that support resource-level permissions (so `arn:*:*:*:*:*` counts as `*`). `\"Action\": \"*\"`, `\"NotAction\": [\"s3:DeleteBucket\"]` and \
`\"Statement\": {…}` written as a single object are all caught.",
    why: "Such a principal can do anything in the account, including granting itself whatever \
the remaining 10% would have given. There is no blast-radius limit.",
    example: r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"}}"#,
    safer: "List the services and actions the task needs, scoped to its resources. Use a \
break-glass role for true administration.",
    scoring: "Always 10. Conditions never lower it: a condition on an administrator grant is \
recorded in the finding, but the grant is still an administrator grant.",
};

/// IAM write and permissions-management actions that support resource-level permissions.
static IAM_POWER: Lazy<ActionSet> = Lazy::new(|| {
    let mut s = ActionSet::empty();
    if let Some(svc) = iam_catalog::service_index("iam") {
        for i in iam_catalog::SERVICES[svc].actions.clone() {
            let a = &ACTIONS[i as usize];
            if matches!(a.access, AccessLevel::Write | AccessLevel::PermissionsManagement) && !a.resources().is_empty()
            {
                s.insert(i as usize);
            }
        }
    }
    s
});

/// How many actions support resource-level permissions. Actions that do not are only granted
/// by a literal `*` resource, so `arn:*:*:*:*:*` misses them — yet is still admin.
static SCOPABLE_COUNT: Lazy<usize> = Lazy::new(|| crate::actions::scopable().len());

/// Does the analysed policy amount to full administrator access?
pub(crate) fn is_full_admin(a: &Analysis<'_>) -> bool {
    if !IAM_POWER.is_subset(&a.all) {
        return false;
    }
    crate::actions::scopable().and_count(&a.all) * 10 >= *SCOPABLE_COUNT * 9
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        if !cx.full_admin {
            return;
        }
        let a = cx.analysis;
        // Evidence: the statements that grant on all resources, found via any IAM action.
        let probe = IAM_POWER.iter().next();
        let ev: Evidence = evidence(a, probe, Breadth::All);
        let missing = ACTIONS.len() - a.all.len();
        let patterns: Vec<String> = a
            .grants
            .iter()
            .filter(|g| ev.statements.contains(&g.stmt.index))
            .flat_map(|g| {
                g.stmt.action.patterns.iter().map(move |p| {
                    if g.stmt.action.not {
                        format!("NotAction:{p}")
                    } else {
                        p.to_string()
                    }
                })
            })
            .collect();
        let scope = if missing == 0 {
            "every AWS action".to_string()
        } else {
            format!("{} of {} AWS actions ({} excluded)", a.all.len(), ACTIONS.len(), missing)
        };
        let cond =
            if ev.all_conditional { "; its condition does not make it less than administrator access" } else { "" };
        let msg = format!("grants {scope} on all resources: full administrator access{cond}");
        out.push(Finding::new(
            &META,
            10,
            patterns,
            ev,
            msg,
            "Replace the wildcard with the specific actions the task needs, scoped to named resources.".into(),
        ));
    }
}
