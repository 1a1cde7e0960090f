//! CX001 read-only-mismatch: a request marked read-only whose policy can change state.

use super::support::{evidence, list_phrase, names, resolve_set, MAX_LISTED};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use crate::options::AccessType;
use crate::resources::Breadth;
use iam_catalog::{AccessLevel, ACTIONS};
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "CX001",
    name: "read-only-mismatch",
    category: Category::AccessMismatch,
    max_score: 8,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "the request says read-only, but the policy grants actions that change state",
    what: "Only when the request context says `access_type: read-only`: any granted action whose \
access level is not *Read* or *List* — after wildcard expansion, so `s3:Get*` is fine and \
`s3:*` is not. Query APIs that AWS classes as *Write* although they are used for reads \
(`athena:StartQueryExecution`, `rds-data:ExecuteStatement`…) are reported separately.",
    why: "The approver approves what the request says; a policy that does more than that is \
approved by mistake.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::reports/*"}]}"#,
    safer: "Keep only *Read* and *List* actions, or mark the request read-write and justify it.",
    scoring: "8 for state-changing actions; 6 when the only ones are query APIs that can also \
modify data.",
};

/// Query APIs that AWS classes as Write and that can also only read.
pub(crate) const DECEPTIVE_NAMES: &[&str] = &[
    "rds-data:ExecuteStatement",
    "rds-data:BatchExecuteStatement",
    "rds-data:ExecuteSql",
    "redshift-data:ExecuteStatement",
    "redshift-data:BatchExecuteStatement",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "neptune-db:ReadDataViaQuery",
    "neptune-db:WriteDataViaQuery",
    "timestream:Select",
    "qldb:SendCommand",
];

static DECEPTIVE: Lazy<ActionSet> = Lazy::new(|| resolve_set(DECEPTIVE_NAMES));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[DECEPTIVE_NAMES]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        if cx.options.access_type != Some(AccessType::ReadOnly) {
            return;
        }
        let a = cx.analysis;
        let mut writes = ActionSet::empty();
        for i in a.effective.iter() {
            if !matches!(ACTIONS[i].access, AccessLevel::Read | AccessLevel::List) {
                writes.insert(i);
            }
        }
        if writes.is_empty() {
            return;
        }
        let mut hard = writes.clone();
        hard.subtract(&DECEPTIVE);
        let (set, score, what) = if hard.is_empty() {
            (writes, 6, "query actions that AWS classes as Write and that can modify data")
        } else {
            (hard, 8, "actions that change state")
        };
        let total = set.len();
        let listed = names(set.iter());
        let ev = evidence(a, set.iter(), Breadth::Specific);
        let more = if total > MAX_LISTED { format!(" ({total} in all)") } else { String::new() };
        let msg = format!("request marked read-only but the policy grants {what}: {}{more}", list_phrase(&listed, 4));
        out.push(Finding::new(
            &META,
            score,
            listed,
            ev,
            msg,
            "Remove the non-read actions, or change access_type to read-write so the request is reviewed as such."
                .into(),
        ));
    }
}
