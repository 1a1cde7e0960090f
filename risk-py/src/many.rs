//! `score_many`'s pipeline: Rust threads score policies without the GIL while the calling
//! thread, holding it, wraps each finished report in a `Report` object.
//!
//! NOTE: the calling thread's share is small since results became lazy `Report`s (wrapping
//! allocates one object; dicts are built only for the keys a caller reads). When it turned each
//! report into ≈ 270 dicts, lists and strings it was about a fifth of scoring, and this
//! overlap kept that serial work off the end of the parallel part.

use crate::convert::Input;
use crate::report::Report as PyReport;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rayon::prelude::*;
use risk_core::{PolicyError, Report, ScoreOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

type Scored = (usize, Result<Report, PolicyError>);

#[derive(Default)]
struct State {
    done: Vec<Scored>,
    finished: bool,
    panic: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, item: Scored) {
        self.lock().done.push(item);
        self.ready.notify_one();
    }

    fn finish(&self, panic: Option<String>) {
        let mut st = self.lock();
        st.finished = true;
        st.panic = panic;
        drop(st);
        self.ready.notify_one();
    }

    /// Block until reports are ready; returns them, and whether no more will come.
    fn wait(&self) -> (Vec<Scored>, bool, Option<String>) {
        let mut st = self.lock();
        while st.done.is_empty() && !st.finished {
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        (std::mem::take(&mut st.done), st.finished, st.panic.take())
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

/// Score every input on `pool` (rayon's global pool when `None`), wrapping results as they
/// arrive. Returns one entry per input, in input order.
pub fn score_parallel<'py>(
    py: Python<'py>,
    inputs: &[Input<'_>],
    options: &ScoreOptions,
    pool: Option<&rayon::ThreadPool>,
) -> PyResult<Vec<Result<Bound<'py, PyReport>, PolicyError>>> {
    let shared = Shared::default();
    let mut out: Vec<Option<Result<Bound<'py, PyReport>, PolicyError>>> = (0..inputs.len()).map(|_| None).collect();
    let mut failure: Option<PyErr> = None;
    std::thread::scope(|s| {
        s.spawn(|| {
            let run = || inputs.par_iter().enumerate().for_each(|(i, input)| shared.push((i, input.score(options))));
            let outcome = catch_unwind(AssertUnwindSafe(|| match pool {
                Some(p) => p.install(run),
                None => run(),
            }));
            shared.finish(outcome.err().map(|p| panic_message(&*p)));
        });
        loop {
            let (batch, finished, panic) = py.detach(|| shared.wait());
            for (i, result) in batch {
                // NOTE: after a failure keep draining (without wrapping) until the workers
                // are done: leaving the scope would wait for them while holding the GIL.
                if failure.is_some() {
                    continue;
                }
                out[i] = Some(match result {
                    Ok(report) => match Bound::new(py, PyReport::new(report)) {
                        Ok(obj) => Ok(obj),
                        Err(e) => {
                            failure = Some(e);
                            continue;
                        }
                    },
                    Err(e) => Err(e),
                });
            }
            if let Some(p) = panic {
                failure.get_or_insert_with(|| internal_error(&p));
            }
            if finished {
                break;
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    out.into_iter().map(|r| r.ok_or_else(|| internal_error("a policy was not scored"))).collect()
}
