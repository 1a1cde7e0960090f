//! `score_many`'s fan-out: rayon threads score every policy without the GIL, then the calling
//! thread wraps the reports in `Report` objects.
//!
//! NOTE: this used to be a pipeline in which the calling thread, holding the GIL, turned each
//! finished report into ≈ 270 dicts, lists and strings while the workers went on scoring; that
//! conversion was about a fifth of scoring, and overlapping it kept it off the end of the
//! parallel part. Since results became lazy `Report`s, wrapping a report allocates one object
//! (≈ 1,600 reports in well under a millisecond), and waking the calling thread for every
//! finished report cost more than it saved: on the managed-policy corpus the pipeline made
//! ≈ 7,500 voluntary context switches per call against ≈ 30 for score-then-wrap, and its
//! 2-thread speed-up was the lower one in interleaved runs (docs/performance.md#python).

use crate::convert::Input;
use crate::detached;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rayon::prelude::*;
use risk_core::{PolicyError, Report, ScoreOptions};

/// Where `score_many` scores.
pub enum Workers<'a> {
    /// On the calling thread (`threads=1`): no pool, no hand-off.
    Calling,
    /// On a pool of `threads=N` workers.
    Pool(&'a rayon::ThreadPool),
    /// On rayon's global pool, one thread per core (`threads=None`).
    Global,
}

/// Score every input with the GIL released. Returns one result per input, in input order; a
/// panic in any worker (an engine bug) becomes a `RuntimeError` once all workers are done.
pub fn score_all(
    py: Python<'_>,
    inputs: &[Input<'_>],
    options: &ScoreOptions,
    workers: Workers<'_>,
) -> PyResult<Vec<Result<Report, PolicyError>>> {
    let parallel = || inputs.par_iter().map(|i| i.score(options)).collect();
    match workers {
        Workers::Calling => detached(py, || inputs.iter().map(|i| i.score(options)).collect()),
        Workers::Pool(pool) => detached(py, || pool.install(parallel)),
        Workers::Global => detached(py, parallel),
    }
}

pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

pub fn internal_error(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!("internal error in the iam-risk-score engine (please report it): {what}"))
}
