//! `score_many`'s fan-out. On one thread: convert every policy, then score them all with the
//! GIL released. On a pool: the calling thread converts each policy (reading a dict needs the
//! GIL) and hands it to the pool at once, so converting overlaps scoring instead of preceding
//! it; the workers never touch Python. The calling thread then wraps the reports in `Report`
//! objects.
//!
//! NOTE: the results once flowed the other way too, in a pipeline where the calling thread
//! turned each finished report into ≈ 270 dicts, lists and strings while the workers went on
//! scoring. Since results became lazy `Report`s, wrapping a report allocates one object (≈ 1,600
//! reports in well under a millisecond), and waking the calling thread for every finished report
//! cost more than it saved (≈ 7,500 voluntary context switches per call on the managed-policy
//! corpus against ≈ 30; docs/performance.md#python). Inputs are the other way round: reading a
//! dict costs ≈ 10 µs more than parsing its JSON text (a fifth of scoring or less), and done
//! first it was a serial part of every 2-thread call.

use crate::convert::{read_policy, Input};
use crate::{detached, input_error};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use risk_core::{PolicyError, Report, ScoreOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// One result per policy, in input order.
pub type Scored = Vec<Result<Report, PolicyError>>;

/// Convert every item (holding the GIL), then score them all on the calling thread with the GIL
/// released (`threads=1`: no pool, no hand-off). The first item that cannot be converted is
/// the error, with its index.
pub fn score_here(py: Python<'_>, items: &[Bound<'_, PyAny>], options: &ScoreOptions) -> PyResult<Scored> {
    let mut inputs: Vec<Input<'_>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        inputs.push(read_policy(item).map_err(|e| input_error(py, e, Some(i), None))?);
    }
    detached(py, || inputs.iter().map(|i| i.score(options)).collect())
}

/// Convert the items one by one on the calling thread and score each on `pool` (rayon's global
/// pool when `None`) as soon as it is converted. The GIL is held only while converting. Errors
/// as [`score_here`]: the first item that cannot be converted is the error, and then no later
/// item is converted and no pending one is scored; a panic in a worker (an engine bug)
/// becomes a `RuntimeError` once every worker is done.
pub fn score_on_pool(
    py: Python<'_>,
    items: &[Bound<'_, PyAny>],
    options: &ScoreOptions,
    pool: Option<&rayon::ThreadPool>,
) -> PyResult<Scored> {
    // Owned references the closures below may carry across the GIL release.
    let objects: Vec<Py<PyAny>> = items.iter().map(|b| b.clone().unbind()).collect();
    let slots: Vec<OnceLock<Result<Report, PolicyError>>> = objects.iter().map(|_| OnceLock::new()).collect();
    let stop = AtomicBool::new(false);
    // The scope returns once every spawned task has finished, with the GIL released.
    detached(py, || match pool {
        Some(pool) => pool.in_place_scope(|scope| feed(scope, &objects, &slots, &stop, options)),
        None => rayon::in_place_scope(|scope| feed(scope, &objects, &slots, &stop, options)),
    })??;
    slots
        .into_iter()
        .map(|slot| slot.into_inner().ok_or_else(|| internal_error("a policy was converted but not scored")))
        .collect()
}

/// `score_on_pool`'s calling side: takes the GIL, converts each object and spawns its scoring.
fn feed<'s>(
    scope: &rayon::Scope<'s>,
    objects: &'s [Py<PyAny>],
    slots: &'s [OnceLock<Result<Report, PolicyError>>],
    stop: &'s AtomicBool,
    options: &'s ScoreOptions,
) -> PyResult<()> {
    Python::attach(|py| {
        for (i, (obj, slot)) in objects.iter().zip(slots).enumerate() {
            // Text is copied out of its Python object: a worker may still be scoring it after
            // this borrow of the object ends.
            let input = match read_policy(obj.bind(py)) {
                Ok(input) => input.into_owned(),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(input_error(py, e, Some(i), None));
                }
            };
            scope.spawn(move |_| {
                if !stop.load(Ordering::Relaxed) {
                    // Each slot is written by its one task only.
                    let _ = slot.set(input.score(options));
                }
            });
        }
        Ok(())
    })
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
