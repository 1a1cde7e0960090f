//! `iam_risk_score.Report`: the v1 result of `score`/`score_many` as a read-only mapping that
//! owns the engine's `risk_core::Report` and builds Python objects only for the keys read.
//!
//! NOTE: turning a whole report into ≈ 270 dicts, lists and strings cost about a quarter of
//! `score(dict)`, more when reports are kept (the cyclic GC re-scans them), and in `score_many`
//! it ran serially under the GIL. Most callers read a few keys (`score`, `tier`, the findings),
//! so the conversion now happens per key, on first read, and nested values are cached so
//! repeated reads return the same object.

use crate::convert::{to_py, type_name};
use crate::many::internal_error;
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple, PyType};
use pyo3::IntoPyObjectExt;
use serde::Serialize;
use std::sync::OnceLock;

/// The v1 keys in the order serde serialises `risk_core::Report`'s fields (declaration order),
/// which is the order of the CLI's `--format json`. `Report::get` destructures the struct
/// without `..`, so a field added to the v1 report fails to compile here until it is listed.
const KEYS: [&str; 15] = [
    "score",
    "tier",
    "would_auto_approve_at_threshold_5",
    "factors",
    "suggestions",
    "llm_narrative",
    "analyzer",
    "policy_fingerprint",
    "api_version",
    "policy_type",
    "findings",
    "categories",
    "access_summary",
    "context",
    "versions",
];

/// Keys whose values are lists or dicts: built on first read, then cached (one slot each).
#[derive(Clone, Copy)]
enum Nested {
    Factors,
    Suggestions,
    Findings,
    Categories,
    AccessSummary,
    Context,
    Versions,
}
const NESTED: usize = 7;

/// Widest `indent` `to_json` accepts: deeper is a mistake, and each level costs that many bytes.
const MAX_INDENT: usize = 64;

static KEY_TUPLE: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
static MAPPING: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static KEYS_VIEW: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static VALUES_VIEW: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ITEMS_VIEW: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FROM_JSON: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// One scored policy (v1), a read-only mapping with the keys and values of the CLI's
/// ``--format json``.
///
/// ``r["score"]``, ``r.get("tier")``, ``"findings" in r``, ``len(r)``, ``list(r)`` (keys in
/// v1 order), ``keys()``/``values()``/``items()`` and ``dict(r)`` work as on a dict, and
/// ``isinstance(r, collections.abc.Mapping)`` holds. Nested values (findings, categories, ...)
/// are built when first read and then cached: read them, do not modify them. ``to_dict()``
/// returns a new plain dict (what ``json.dumps`` needs); ``to_json(indent=2)`` is the CLI's
/// text. A report equals another with the same content, and a dict equal to its ``to_dict()``.
#[pyclass(frozen, mapping, module = "iam_risk_score", name = "Report")]
pub struct Report {
    report: risk_core::Report,
    // NOTE: `OnceLock` filled only with `set` of a finished object, never `get_or_init`: a
    // conversion may run Python code (a GC pass) that lets another thread take the GIL, and that
    // thread must not block on the cell while holding it. Two threads converting the same key at
    // once both build it; the first stored wins and both return that one. `get` needs no GIL
    // token, so `__traverse__` can read the cells.
    cache: [OnceLock<Py<PyAny>>; NESTED],
}

impl Report {
    pub fn new(report: risk_core::Report) -> Self {
        Report { report, cache: Default::default() }
    }

    /// A nested value from the cache, or converted now and cached.
    fn cached<'py, T: Serialize>(&self, py: Python<'py>, slot: Nested, value: &T) -> PyResult<Bound<'py, PyAny>> {
        let cell = &self.cache[slot as usize];
        if let Some(obj) = cell.get() {
            return Ok(obj.bind(py).clone());
        }
        let built = to_py(py, value)?.unbind();
        // Losing a race drops our copy (the GIL is held: released at once) and returns the winner.
        let _ = cell.set(built);
        cell.get().map(|obj| obj.bind(py).clone()).ok_or_else(|| internal_error("a report value was not cached"))
    }

    /// The value of one v1 key, or `None` when `key` is not one.
    fn value<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        // NOTE: no `..`: a field added to the v1 report must be added to `KEYS` and here.
        let risk_core::Report {
            score,
            tier,
            would_auto_approve_at_threshold_5,
            factors,
            suggestions,
            llm_narrative,
            analyzer,
            policy_fingerprint,
            api_version,
            policy_type,
            findings,
            categories,
            access_summary,
            context,
            versions,
        } = &self.report;
        let v = match key {
            "score" => score.into_bound_py_any(py)?,
            "tier" => tier.into_bound_py_any(py)?,
            "would_auto_approve_at_threshold_5" => would_auto_approve_at_threshold_5.into_bound_py_any(py)?,
            "factors" => self.cached(py, Nested::Factors, factors)?,
            "suggestions" => self.cached(py, Nested::Suggestions, suggestions)?,
            "llm_narrative" => llm_narrative.into_bound_py_any(py)?,
            "analyzer" => analyzer.into_bound_py_any(py)?,
            "policy_fingerprint" => policy_fingerprint.into_bound_py_any(py)?,
            "api_version" => api_version.into_bound_py_any(py)?,
            "policy_type" => policy_type.into_bound_py_any(py)?,
            "findings" => self.cached(py, Nested::Findings, findings)?,
            "categories" => self.cached(py, Nested::Categories, categories)?,
            "access_summary" => self.cached(py, Nested::AccessSummary, access_summary)?,
            "context" => self.cached(py, Nested::Context, context)?,
            "versions" => self.cached(py, Nested::Versions, versions)?,
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// `obj` as a key of ours, if it is one.
    fn key<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a str> {
        // A str subclass with the same text is the same key, as for a dict.
        obj.cast::<PyString>().ok().and_then(|s| s.to_str().ok()).filter(|k| KEYS.contains(k))
    }

    fn view<'py>(
        slf: &Bound<'py, Self>,
        cell: &'static PyOnceLock<Py<PyType>>,
        name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        cell.import(slf.py(), "collections.abc", name)?.call1((slf,))
    }
}

#[pymethods]
impl Report {
    // Unhashable, like a dict it compares equal to.
    #[classattr]
    const __hash__: Option<Py<PyAny>> = None;

    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        // `KeyError(key)` as a dict raises it: the key as the only argument, even None or a tuple.
        let missing = || PyKeyError::new_err((key.clone().unbind(),));
        match Self::key(key) {
            Some(k) => self.value(py, k)?.ok_or_else(missing),
            None => Err(missing()),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        Self::key(key).is_some()
    }

    fn __len__(&self) -> usize {
        KEYS.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(KEY_TUPLE.get_or_try_init(py, || PyTuple::new(py, KEYS).map(Bound::unbind))?.bind(py).try_iter()?.into_any())
    }

    /// The keys in v1 order, as a ``KeysView``.
    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, &KEYS_VIEW, "KeysView")
    }

    /// The values in key order, as a ``ValuesView``.
    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, &VALUES_VIEW, "ValuesView")
    }

    /// ``(key, value)`` pairs in key order, as an ``ItemsView``.
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, &ITEMS_VIEW, "ItemsView")
    }

    /// ``r[key]`` if ``key`` is a v1 key, else ``default``.
    #[pyo3(signature = (key, default=None, /))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match Self::key(key) {
            Some(k) => match self.value(py, k)? {
                Some(v) => Ok(v),
                None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
            },
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Equal to a ``Report`` with the same content, or to a dict (or other mapping) equal to
    /// ``self.to_dict()``; ``NotImplemented`` for anything else.
    fn __eq__<'py>(&self, py: Python<'py>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(o) = other.cast::<Report>() {
            return (self.report == o.get().report).into_bound_py_any(py);
        }
        if other.is_instance_of::<PyDict>() {
            return self.to_dict(py)?.eq(other)?.into_bound_py_any(py);
        }
        if other.is_instance(MAPPING.import(py, "collections.abc", "Mapping")?.as_any())? {
            let plain = py.get_type::<PyDict>().call1((other,))?;
            return self.to_dict(py)?.eq(plain)?.into_bound_py_any(py);
        }
        Ok(py.NotImplemented().into_bound(py))
    }

    fn __repr__(&self) -> String {
        let r = &self.report;
        format!("Report(score={}, tier='{}', findings={})", r.score, r.tier, r.findings.len())
    }

    /// A new plain dict (nested dicts and lists) equal to this report: what ``json.dumps`` and
    /// code that needs a real ``dict`` take. Built afresh on every call.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.report)
    }

    /// The report as JSON text written by the engine: compact with ``indent=None``; with
    /// ``indent=2`` byte for byte what ``iam-risk-score --format json`` prints (without its final
    /// newline). Non-ASCII characters are written as they are (UTF-8), as the CLI does.
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, py: Python<'_>, indent: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let indent = match indent.filter(|i| !i.is_none()) {
            None => None,
            Some(i) if i.is_instance_of::<PyBool>() || !i.is_instance_of::<PyInt>() => {
                return Err(PyTypeError::new_err(format!("indent must be an int or None, not {}", type_name(i))))
            }
            Some(i) => match i.extract::<i64>() {
                Ok(n @ 0..) if n as usize <= MAX_INDENT => Some(n as usize),
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "indent must be None or 0 to {MAX_INDENT} spaces, not {i}"
                    )))
                }
            },
        };
        py.detach(|| json_text(&self.report, indent)).map_err(|e| internal_error(&format!("cannot write JSON: {e}")))
    }

    /// Pickle as the compact JSON text, rebuilt by ``_report_from_json``.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = FROM_JSON.get_or_try_init(py, || {
            py.import("iam_risk_score._core")?.getattr("_report_from_json").map(Bound::unbind)
        })?;
        let text = json_text(&self.report, None).map_err(|e| internal_error(&format!("cannot write JSON: {e}")))?;
        Ok((from_json.bind(py).clone(), (text,)))
    }

    /// A new report sharing the values already read, as ``dict.copy`` shares them.
    fn __copy__(&self, py: Python<'_>) -> Report {
        let cache = std::array::from_fn(|i| {
            let cell = OnceLock::new();
            if let Some(obj) = self.cache[i].get() {
                let _ = cell.set(obj.clone_ref(py));
            }
            cell
        });
        Report { report: self.report.clone(), cache }
    }

    /// A new report whose nested values will be built afresh.
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Report {
        Report::new(self.report.clone())
    }

    // Cached values can only reach the report again through a list or dict that a caller put it
    // into, and those containers clear themselves, so visiting is enough to break such a cycle.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for cell in &self.cache {
            if let Some(obj) = cell.get() {
                visit.call(obj)?;
            }
        }
        Ok(())
    }
}

fn json_text(report: &risk_core::Report, indent: Option<usize>) -> serde_json::Result<String> {
    match indent {
        None => serde_json::to_string(report),
        Some(2) => serde_json::to_string_pretty(report),
        Some(n) => {
            let spaces = vec![b' '; n];
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut out,
                serde_json::ser::PrettyFormatter::with_indent(&spaces),
            );
            report.serialize(&mut ser)?;
            // serde_json writes only valid UTF-8.
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// Rebuild a report from its v1 JSON text (what ``Report.__reduce__`` pickles).
#[pyfunction]
#[pyo3(name = "_report_from_json")]
pub fn report_from_json(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Report> {
    let text = text.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("_report_from_json takes the report's JSON text (str), not {}", type_name(text)))
    })?;
    let text = text.to_str()?;
    let report = py
        .detach(|| serde_json::from_str::<risk_core::Report>(text))
        .map_err(|e| PyValueError::new_err(format!("not a v1 report: {e}")))?;
    Ok(Report::new(report))
}
