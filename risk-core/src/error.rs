//! Errors for policies that cannot be analysed: each problem names the JSON path to fix.

use serde::Serialize;
use std::fmt;

/// One problem in a policy document, located by its JSON path (e.g. `Statement[2].Effect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Problem {
    /// JSON path of the offending value; empty for the whole document.
    pub path: String,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} {}", self.path, self.message)
        }
    }
}

/// A policy that cannot be scored. Carries every problem found, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    problems: Vec<Problem>,
}

impl PolicyError {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self { problems }
    }

    /// A single problem at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(vec![Problem { path: path.into(), message: message.into() }])
    }

    /// Every problem found, in document order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
