//! `iam_risk_score._core`: the Python extension, a thin layer over `risk-core`, `risk-scan`
//! and `risk-cli`.
//!
//! Every result is the engine's own serde type (v1 `Report`, `PolicyDiff`, `Explanation`, …)
//! turned into plain Python objects, so Python sees exactly the JSON every other surface
//! returns; `score` and `score_many` return the v1 report as a `Report` mapping (report.rs)
//! that builds those objects only for the keys read. The engine runs with the GIL released;
//! `score_many` fans out over rayon.

mod convert;
mod many;
mod report;

use convert::{read_policy, to_py, type_name, InputError};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple, PyType};
use report::Report;
use risk_core::{OptionsInput, Problem, ScoreOptions};
use std::collections::HashMap;
use std::ffi::OsString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, LazyLock, Mutex};

// Scoring allocates many small strings; mimalloc is markedly faster than the system allocator
// (the CLI uses it too). It serves only Rust allocations: Python keeps its own allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Most threads `score_many` accepts: beyond this an explicit pool is a mistake, not a speed-up.
const MAX_THREADS: usize = 1024;

/// Largest CloudTrail text `policy_from_cloudtrail` reads: the CLI's limit.
const MAX_EVENTS_BYTES: usize = risk_cli::MAX_EVENTS_BYTES as usize;

static POLICY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Build an `iam_risk_score.PolicyError` (defined in Python so it can subclass `ValueError`
/// on every abi3 interpreter and carry `.errors()`).
fn policy_error(
    py: Python<'_>,
    message: String,
    problems: &[Problem],
    index: Option<usize>,
    side: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = POLICY_ERROR.import(py, "iam_risk_score._errors", "PolicyError")?;
        let errors = PyList::empty(py);
        for p in problems {
            let d = PyDict::new(py);
            d.set_item("path", &p.path)?;
            d.set_item("message", &p.message)?;
            errors.append(d)?;
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("index", index)?;
        kwargs.set_item("side", side)?;
        Ok(PyErr::from_value(cls.call((message, errors), Some(&kwargs))?))
    };
    build().unwrap_or_else(|e| e)
}

pub(crate) fn input_error(py: Python<'_>, e: InputError, index: Option<usize>, side: Option<&str>) -> PyErr {
    let prefix = match (index, side) {
        (Some(i), _) => format!("policies[{i}]: "),
        (None, Some(s)) => format!("{s} policy: "),
        (None, None) => String::new(),
    };
    match e {
        InputError::Type(m) => PyTypeError::new_err(format!("{prefix}{m}")),
        InputError::Policy(p) => policy_error(py, format!("{prefix}{p}"), p.problems(), index, side),
    }
}

/// Run engine code with the GIL released, turning a panic (an engine bug) into a
/// `RuntimeError` instead of pyo3's `PanicException`, which `except Exception` cannot catch.
pub(crate) fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|payload| many::internal_error(&many::panic_message(&*payload)))
}

/// A list of str from any iterable of str (a lone str is refused: it would split into letters).
fn strings(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Vec<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Err(PyTypeError::new_err(format!("{name} must be a list of str, not a single {}", type_name(obj))));
    }
    let iter = obj
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a list of str, not {}", type_name(obj))))?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_str()?.to_owned()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!("{name} must contain only str, found {}", type_name(&item))))
            }
        }
    }
    Ok(out)
}

/// The scoring options: Python types are checked here (`TypeError`), values by risk-core's
/// options module (`ValueError`, with the same messages and paths as every other surface).
fn options(
    access_type: Option<&Bound<'_, PyAny>>,
    duration_hours: Option<&Bound<'_, PyAny>>,
    description: Option<&Bound<'_, PyAny>>,
    extra_sensitive_services: Option<&Bound<'_, PyAny>>,
    extra_high_impact_actions: Option<&Bound<'_, PyAny>>,
    policy_type: Option<&Bound<'_, PyAny>>,
) -> PyResult<ScoreOptions> {
    let text = |obj: Option<&Bound<'_, PyAny>>, name: &str| -> PyResult<Option<String>> {
        match obj {
            None => Ok(None),
            Some(o) if o.is_none() => Ok(None),
            Some(o) => match o.cast::<PyString>() {
                Ok(s) => Ok(Some(s.to_str()?.to_owned())),
                Err(_) => Err(PyTypeError::new_err(format!("{name} must be a str or None, not {}", type_name(o)))),
            },
        }
    };
    let duration_hours = match duration_hours {
        None => None,
        Some(o) if o.is_none() => None,
        Some(o) if o.is_instance_of::<PyBool>() || !o.is_instance_of::<PyInt>() => {
            return Err(PyTypeError::new_err(format!("duration_hours must be an int or None, not {}", type_name(o))))
        }
        // Beyond 64 bits: out of range either way, and the core says so.
        Some(o) => {
            Some(o.extract::<i64>().unwrap_or_else(|_| if o.lt(0).unwrap_or(false) { i64::MIN } else { i64::MAX }))
        }
    };
    let list = |obj: Option<&Bound<'_, PyAny>>, name: &str| -> PyResult<Option<Vec<String>>> {
        match obj {
            Some(o) if !o.is_none() => strings(Some(o), name).map(Some),
            _ => Ok(None),
        }
    };
    let input = OptionsInput {
        access_type: text(access_type, "access_type")?,
        duration_hours,
        description: text(description, "description")?,
        extra_sensitive_services: list(extra_sensitive_services, "extra_sensitive_services")?,
        extra_high_impact_actions: list(extra_high_impact_actions, "extra_high_impact_actions")?,
        policy_type: text(policy_type, "policy_type")?,
    };
    input.validate().map_err(|problems| {
        PyValueError::new_err(problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; "))
    })
}

/// Score one policy: a dict, or its JSON text as ``str`` or UTF-8 ``bytes``.
///
/// Returns the v1 result as a :class:`Report`, a read-only mapping (``score`` 1-10, ``tier``,
/// ``factors``, ``suggestions``, ``findings``, ``categories``, ``access_summary``,
/// ``context``, ``versions``, ...) equal to the CLI's ``--format json`` for the same policy and
/// options; ``to_dict()`` gives it as a plain dict, ``to_json()`` as JSON text.
///
/// Options (all keyword-only, all optional; the defaults mean "not stated"):
///
/// - ``access_type``: ``"read-only"`` flags any grant beyond reading; ``"read-write"``.
/// - ``duration_hours``: requested grant duration, 1-8760; long grants raise risky scores.
/// - ``description``: purpose of the request (kept for context; never changes the score).
/// - ``extra_sensitive_services``: service prefixes your organisation treats as sensitive.
/// - ``extra_high_impact_actions``: action patterns your organisation treats as high-impact.
/// - ``policy_type``: ``"identity"``, ``"resource"`` or ``"trust"`` instead of detecting it.
///
/// Raises ``PolicyError`` (a ``ValueError``) for malformed JSON, an invalid policy, text that
/// is not UTF-8 or larger than ``MAX_INPUT_BYTES``; ``TypeError`` for arguments of the wrong
/// type; ``ValueError`` for invalid options. The GIL is released while scoring.
#[pyfunction]
#[pyo3(
    signature = (
        policy, *, access_type=None, duration_hours=None, description=None,
        extra_sensitive_services=None, extra_high_impact_actions=None, policy_type=None
    ),
    text_signature = "(policy, *, access_type=None, duration_hours=None, description=None, \
        extra_sensitive_services=(), extra_high_impact_actions=(), policy_type=None)"
)]
#[allow(clippy::too_many_arguments)]
fn score<'py>(
    py: Python<'py>,
    policy: &Bound<'py, PyAny>,
    access_type: Option<&Bound<'py, PyAny>>,
    duration_hours: Option<&Bound<'py, PyAny>>,
    description: Option<&Bound<'py, PyAny>>,
    extra_sensitive_services: Option<&Bound<'py, PyAny>>,
    extra_high_impact_actions: Option<&Bound<'py, PyAny>>,
    policy_type: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, Report>> {
    let opts = options(
        access_type,
        duration_hours,
        description,
        extra_sensitive_services,
        extra_high_impact_actions,
        policy_type,
    )?;
    let input = read_policy(policy).map_err(|e| input_error(py, e, None, None))?;
    match detached(py, || input.score(&opts))? {
        Ok(report) => Bound::new(py, Report::new(report)),
        Err(e) => Err(policy_error(py, e.to_string(), e.problems(), None, None)),
    }
}

static POOLS: LazyLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = LazyLock::new(Default::default);

/// A rayon pool of exactly `n` threads, built once per size and kept for later calls.
fn pool(n: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    let mut pools = POOLS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(p) = pools.get(&n) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("iam-risk-score-{i}"))
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?,
    );
    pools.insert(n, p.clone());
    Ok(p)
}

/// Score many policies in parallel, in Rust threads with the GIL released.
///
/// ``policies`` is any iterable of policies (each a dict, ``str`` or ``bytes``); the result
/// is a list of v1 :class:`Report` s in the same order, each equal to ``score(policy, **options)``.
/// ``threads`` is the number of worker threads (default: one per CPU core; ``1`` scores on
/// the calling thread). The other keyword options are those of ``score`` and apply to every
/// policy.
///
/// Raises ``PolicyError`` for the first policy (lowest index) that cannot be scored, with
/// ``.index`` set to its position; ``TypeError``/``ValueError`` as ``score`` does.
#[pyfunction]
#[pyo3(
    signature = (
        policies, *, threads=None, access_type=None, duration_hours=None, description=None,
        extra_sensitive_services=None, extra_high_impact_actions=None, policy_type=None
    ),
    text_signature = "(policies, *, threads=None, access_type=None, duration_hours=None, \
        description=None, extra_sensitive_services=(), extra_high_impact_actions=(), policy_type=None)"
)]
#[allow(clippy::too_many_arguments)]
fn score_many<'py>(
    py: Python<'py>,
    policies: &Bound<'py, PyAny>,
    threads: Option<&Bound<'py, PyAny>>,
    access_type: Option<&Bound<'py, PyAny>>,
    duration_hours: Option<&Bound<'py, PyAny>>,
    description: Option<&Bound<'py, PyAny>>,
    extra_sensitive_services: Option<&Bound<'py, PyAny>>,
    extra_high_impact_actions: Option<&Bound<'py, PyAny>>,
    policy_type: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let threads = match threads {
        None => None,
        Some(t) if t.is_none() => None,
        Some(t) if t.is_instance_of::<PyBool>() || !t.is_instance_of::<PyInt>() => {
            return Err(PyTypeError::new_err(format!("threads must be an int or None, not {}", type_name(t))))
        }
        Some(t) => {
            let n = t.extract::<i64>().unwrap_or(i64::MAX);
            if !(1..=MAX_THREADS as i64).contains(&n) {
                return Err(PyValueError::new_err(format!("threads must be between 1 and {MAX_THREADS}, not {t}")));
            }
            Some(n as usize)
        }
    };
    let opts = options(
        access_type,
        duration_hours,
        description,
        extra_sensitive_services,
        extra_high_impact_actions,
        policy_type,
    )?;
    if policies.is_instance_of::<PyString>()
        || policies.is_instance_of::<PyBytes>()
        || policies.is_instance_of::<PyByteArray>()
        || policies.is_instance_of::<PyDict>()
    {
        return Err(PyTypeError::new_err(format!(
            "score_many takes a list of policies, not a single {} (use score for one policy)",
            type_name(policies)
        )));
    }
    let iter = policies.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("score_many takes a list of policies, not {}", type_name(policies)))
    })?;
    let items = iter.collect::<PyResult<Vec<_>>>()?;
    let scored = match threads {
        Some(1) => many::score_here(py, &items, &opts)?,
        Some(n) => many::score_on_pool(py, &items, &opts, Some(&*pool(n)?))?,
        None => many::score_on_pool(py, &items, &opts, None)?,
    };
    // The first policy that failed, in input order, is the error.
    let out = PyList::empty(py);
    for (i, r) in scored.into_iter().enumerate() {
        match r {
            Ok(report) => out.append(Bound::new(py, Report::new(report))?)?,
            Err(e) => return Err(policy_error(py, format!("policies[{i}]: {e}"), e.problems(), Some(i), None)),
        }
    }
    Ok(out)
}

/// What a policy change adds: both scores, the risk delta, newly granted and removed actions
/// (after wildcard expansion) by service and access level, and findings that appear or are
/// resolved. ``old`` and ``new`` are dicts or JSON text; the result equals the CLI's
/// ``iam-risk-score diff OLD NEW --format json``.
///
/// Raises ``PolicyError`` with ``.side`` ``"old"`` or ``"new"`` when a side cannot be read.
#[pyfunction]
#[pyo3(signature = (old, new, *, access_type=None))]
fn diff<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    access_type: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = options(access_type, None, None, None, None, None)?;
    let side_error = |e: risk_core::PolicyError, side: &str| {
        policy_error(py, format!("{side} policy: {e}"), e.problems(), None, Some(side))
    };
    // NOTE: the old side is checked completely (JSON, then policy shape) before the new one
    // is read, as `risk_core::diff::diff_json` does, so both surfaces report the same error.
    let old_value = read_policy(old).map_err(|e| input_error(py, e, None, Some("old")))?;
    let old_value = detached(py, || {
        let v = old_value.into_value()?;
        risk_core::policy::Policy::parse(&v)?;
        Ok(v)
    })?
    .map_err(|e| side_error(e, "old"))?;
    let new_value = read_policy(new).map_err(|e| input_error(py, e, None, Some("new")))?;
    let new_value = detached(py, || new_value.into_value())?.map_err(|e| side_error(e, "new"))?;
    match detached(py, || risk_core::diff::diff_values(&old_value, &new_value, &opts))? {
        Ok(d) => to_py(py, &d),
        Err(risk_core::diff::DiffError::Old(e)) => Err(side_error(e, "old")),
        Err(risk_core::diff::DiffError::New(e)) => Err(side_error(e, "new")),
    }
}

/// Explain a rule (code ``"PE002"`` or name ``"passrole-escalation"``) or an action pattern
/// (``"s3:Get*"``).
///
/// Returns ``{"kind": "rule", "code", "name", "category", "severity", "max_score", ...}`` or
/// ``{"kind": "pattern", "pattern", "total", "services": {service: {access level: [...]}}}``,
/// as ``iam-risk-score explain QUERY --format json`` prints. Raises ``ValueError`` saying why
/// nothing matched (with a suggestion for a near miss such as ``s3:GetObjectz``).
#[pyfunction]
fn explain<'py>(py: Python<'py>, pattern_or_rule: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let query = pattern_or_rule.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "explain takes a str (rule code, rule name or action pattern), not {}",
            type_name(pattern_or_rule)
        ))
    })?;
    let query = query.to_str()?;
    match detached(py, || risk_core::explain::explain(query))? {
        Ok(x) => to_py(py, &x),
        Err(message) => Err(PyValueError::new_err(message)),
    }
}

/// Every rule's documentation (code, name, category, severity, max_score, summary, what,
/// why, example, safer, scoring), in registry order, as ``iam-risk-score rules --format json``.
#[pyfunction]
fn rules(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &risk_core::explain::rule_docs())
}

/// Size and provenance of the bundled AWS action catalog: ``services``, ``actions``,
/// ``source``, ``version``, ``updated_at``, ``license``.
#[pyfunction]
fn catalog_info(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &risk_core::catalog_info())
}

/// Engine, rule-set and catalog versions, as stamped into every result.
#[pyfunction]
fn versions(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &risk_core::versions())
}

/// An ``iam_risk_score.PolicyError`` with the core's message as its only problem (authoring
/// errors carry no JSON path into a policy).
fn plain_policy_error(py: Python<'_>, message: String) -> PyErr {
    let problems = [Problem { path: String::new(), message: message.clone() }];
    policy_error(py, message, &problems, None, None)
}

/// Write a least-privilege policy from a template and score it.
///
/// ``template`` is a writer template as a dict (policy_sentry's CRUD template as JSON: ``mode``,
/// ``read``, ``write``, ``list``, ``tagging``, ``permissions-management`` (or
/// ``permissions_management``), ``wildcard-only``, ``skip-resource-constraints``,
/// ``exclude-actions``, ``sts``, ``actions``, ``effect``; see docs/authoring.md) or ``None``.
/// The keyword lists add resource ARNs per access level, as the CLI's ``--read`` … flags do.
///
/// Returns ``{"policy", "report"}`` (plus ``"warnings"``, a list of str, when the writer has
/// any), equal to ``iam-risk-score write-policy --format json``: the policy with its keys in the
/// usual order and its v1 report. Raises ``PolicyError`` (a ``ValueError``) with the writer's
/// message for a bad template or an ARN that matches no resource type; ``TypeError`` for
/// arguments of the wrong type.
#[pyfunction]
#[pyo3(
    signature = (template=None, *, read=None, write=None, list=None, tagging=None, permissions_management=None),
    text_signature = "(template=None, *, read=(), write=(), list=(), tagging=(), permissions_management=())"
)]
fn write_policy<'py>(
    py: Python<'py>,
    template: Option<&Bound<'py, PyAny>>,
    read: Option<&Bound<'py, PyAny>>,
    write: Option<&Bound<'py, PyAny>>,
    list: Option<&Bound<'py, PyAny>>,
    tagging: Option<&Bound<'py, PyAny>>,
    permissions_management: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    use risk_core::authoring::Template;
    let mut t = match template.filter(|t| !t.is_none()) {
        None => Template::default(),
        Some(obj) => {
            if !obj.is_instance_of::<PyDict>() {
                return Err(PyTypeError::new_err(format!(
                    "template must be a dict (policy_sentry's template as JSON) or None, not {}",
                    type_name(obj)
                )));
            }
            let value = convert::json_arg(obj, "template")?;
            Template::from_value(&value).map_err(|e| plain_policy_error(py, e.message().to_string()))?
        }
    };
    // Added to the template's lists, as the CLI adds `--read ARN…` to `--template FILE`.
    for (field, arg, name) in [
        (&mut t.read, read, "read"),
        (&mut t.write, write, "write"),
        (&mut t.list, list, "list"),
        (&mut t.tagging, tagging, "tagging"),
        (&mut t.permissions_management, permissions_management, "permissions_management"),
    ] {
        let arns = strings(arg, name)?;
        field.extend(arns.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
    }
    match detached(py, || risk_core::authoring::write_policy(&t))? {
        Ok(written) => to_py(py, &risk_core::answers::WrittenAnswer::from(&written)),
        Err(e) => Err(plain_policy_error(py, e.message().to_string())),
    }
}

/// Build a least-privilege policy from AWS CloudTrail records and score it.
///
/// ``events`` is an S3 log file (``{"Records": [...]}``), ``aws cloudtrail lookup-events``
/// output (``{"Events": [...]}``) or a list of records: as a dict or list, or as JSON text
/// (``str`` or UTF-8 ``bytes``; decompress ``.json.gz`` first). ``include_denied`` also grants
/// what access-denied records attempted (they are listed in ``denied`` either way).
///
/// Returns ``{"policy", "report", "unknown", "denied", "not_narrowed", "skipped",
/// "events_read"}``, equal to ``iam-risk-score from-cloudtrail FILE --format json``. Raises
/// ``PolicyError`` with the core's message for input that is not CloudTrail, ``TypeError`` for
/// arguments of the wrong type.
#[pyfunction]
#[pyo3(signature = (events, *, include_denied=None), text_signature = "(events, *, include_denied=False)")]
fn policy_from_cloudtrail<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyAny>,
    include_denied: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    use risk_core::cloudtrail::{policy_from_cloudtrail_json, policy_from_cloudtrail_with, CloudTrailOptions};
    let include_denied = match include_denied {
        None => false,
        Some(o) => o
            .cast::<PyBool>()
            .map_err(|_| PyTypeError::new_err(format!("include_denied must be a bool, not {}", type_name(o))))?
            .is_true(),
    };
    let options = CloudTrailOptions { include_denied };
    let too_large = || {
        plain_policy_error(
            py,
            format!(
                "the CloudTrail input is larger than {} MiB; split it (e.g. one log file at a time)",
                MAX_EVENTS_BYTES >> 20
            ),
        )
    };
    let built = if let Ok(s) = events.cast::<PyString>() {
        let text = s.to_str()?;
        if text.len() > MAX_EVENTS_BYTES {
            return Err(too_large());
        }
        detached(py, || policy_from_cloudtrail_json(text, &options))?
    } else if let Ok(b) = events.cast::<PyBytes>() {
        let bytes = b.as_bytes();
        if bytes.len() > MAX_EVENTS_BYTES {
            return Err(too_large());
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(plain_policy_error(
                py,
                "the CloudTrail input is gzip-compressed (CloudTrail delivers `.json.gz`): decompress it first, e.g. with `gzip.decompress`".into(),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            plain_policy_error(
                py,
                format!("the CloudTrail input is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
            )
        })?;
        detached(py, || policy_from_cloudtrail_json(text, &options))?
    } else if events.is_instance_of::<PyDict>() || events.is_instance_of::<PyList>() {
        let value = convert::json_arg(events, "events")?;
        detached(py, || policy_from_cloudtrail_with(&value, &options))?
    } else {
        return Err(PyTypeError::new_err(format!(
            "events must be a dict or list of CloudTrail records, or their JSON text as str or bytes, not {}",
            type_name(events)
        )));
    };
    match built {
        Ok(b) => to_py(py, &b),
        Err(e) => Err(plain_policy_error(py, e.to_string())),
    }
}

/// Narrow a broad policy to what a task touches, and score it before and after.
///
/// ``policy`` is the policy document (a dict, or its JSON text as ``str``/``bytes``).
/// ``resources`` are the resource ARNs the task touches (``Resource: *`` becomes them, per
/// resource type of each action); ``access_levels`` the levels it needs (``read``, ``write``,
/// ``list``, ``tagging``, ``permissions-management``); ``used_actions`` the actions it used: a
/// list of action names, or a policy dict (its Allow statements' actions), or
/// ``{"policy": ...}`` as :func:`policy_from_cloudtrail` returns — what the CLI's
/// ``--used-actions FILE`` reads. ``None`` means not known.
///
/// Returns ``{"policy", "before", "after", "diff", "questions", "changes"}``, equal to
/// ``iam-risk-score narrow --format json``. Raises ``PolicyError`` with the core's message for a
/// policy, ARN, access level or used-actions value it cannot use; ``TypeError`` for arguments of
/// the wrong type. See docs/authoring.md#narrowing.
#[pyfunction]
#[pyo3(
    signature = (policy, *, resources=None, access_levels=None, used_actions=None),
    text_signature = "(policy, *, resources=(), access_levels=(), used_actions=None)"
)]
fn narrow<'py>(
    py: Python<'py>,
    policy: &Bound<'py, PyAny>,
    resources: Option<&Bound<'py, PyAny>>,
    access_levels: Option<&Bound<'py, PyAny>>,
    used_actions: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let resources = strings(resources, "resources")?;
    let access_levels = strings(access_levels, "access_levels")?;
    let used_actions = match used_actions.filter(|o| !o.is_none()) {
        None => None,
        // A dict, list or tuple as JSON: the core says what is wrong inside (an item not a str).
        Some(obj)
            if obj.is_instance_of::<PyDict>() || obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() =>
        {
            Some(convert::json_arg(obj, "used_actions")?)
        }
        // Any other iterable of names (a set, a generator); a lone str is refused.
        Some(obj) => {
            let names = strings(Some(obj), "used_actions").map_err(|_| {
                PyTypeError::new_err(format!(
                    "used_actions must be a list of action names, a policy dict or {{\"policy\": ...}}, or None, not {}",
                    type_name(obj)
                ))
            })?;
            Some(serde_json::Value::from(names))
        }
    };
    let value = read_policy(policy).map_err(|e| input_error(py, e, None, None))?;
    let value =
        detached(py, || value.into_value())?.map_err(|e| policy_error(py, e.to_string(), e.problems(), None, None))?;
    match detached(py, || risk_core::answers::narrow_value(&value, resources, &access_levels, used_actions.as_ref()))? {
        Ok(n) => to_py(py, &risk_core::answers::NarrowedAnswer::from(&n)),
        Err(e) => Err(plain_policy_error(py, e.message().to_string())),
    }
}

// The default threshold above is written as a literal (so the signature Python sees says `5`);
// it must be the library's.
const _: () = assert!(risk_scan::DEFAULT_THRESHOLD == 5);

/// Find and score every IAM policy under `paths`, as `iam-risk-score scan PATH… --format
/// json` does: the v1 scan document as text, byte for byte the CLI's (the Python `scan()`
/// parses it). Paths are read as the CLI reads them (relative to the working directory,
/// labelled as given).
#[pyfunction]
#[pyo3(
    signature = (*paths, threshold = Some(5), fail_on_category = None, max_file_size = None),
    text_signature = "(*paths, threshold=5, fail_on_category=None, max_file_size=None)"
)]
fn scan_json(
    py: Python<'_>,
    paths: &Bound<'_, PyTuple>,
    threshold: Option<i64>,
    fail_on_category: Option<&Bound<'_, PyAny>>,
    max_file_size: Option<i64>,
) -> PyResult<String> {
    if paths.is_empty() {
        return Err(PyTypeError::new_err("scan() needs at least one path (a file or a directory)"));
    }
    let paths = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.extract::<std::path::PathBuf>().map_err(|_| {
                PyTypeError::new_err(format!("paths[{i}] must be a str or os.PathLike, got {}", type_name(&p)))
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let threshold = match threshold {
        None => None,
        Some(t @ 1..=10) => Some(t as u8),
        Some(t) => {
            return Err(PyValueError::new_err(format!("threshold must be 1 to 10 (or None for no threshold), got {t}")))
        }
    };
    let max_file_size = match max_file_size {
        None => risk_scan::MAX_SCAN_BYTES,
        Some(n) if n >= 1 => n as u64,
        Some(n) => return Err(PyValueError::new_err(format!("max_file_size must be at least 1 byte, got {n}"))),
    };
    let fail_on_category = strings(fail_on_category, "fail_on_category")?;
    risk_scan::check_categories(&fail_on_category).map_err(PyValueError::new_err)?;
    let settings = risk_scan::ScanSettings {
        max_file_size,
        gate: risk_scan::GateRules { threshold, fail_on_increase: false, fail_on_category },
    };
    let run = detached(py, || risk_scan::scan_paths(&paths, &ScoreOptions::default(), &settings))?
        .map_err(pyo3::exceptions::PyFileNotFoundError::new_err)?;
    let bytes = risk_scan::json::to_json(&run).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Run the `iam-risk-score` command line with `argv` (program name first); returns the exit
/// code. Output goes straight to the process's stdout/stderr file descriptors.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> PyResult<i32> {
    detached(py, || risk_cli::run(argv))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_INPUT_BYTES", convert::MAX_INPUT_BYTES)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(score_many, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(rules, m)?)?;
    m.add_function(wrap_pyfunction!(catalog_info, m)?)?;
    m.add_function(wrap_pyfunction!(versions, m)?)?;
    m.add_function(wrap_pyfunction!(write_policy, m)?)?;
    m.add_function(wrap_pyfunction!(policy_from_cloudtrail, m)?)?;
    m.add_function(wrap_pyfunction!(narrow, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(scan_json, m)?)?;
    m.add_class::<Report>()?;
    m.add_function(wrap_pyfunction!(report::report_from_json, m)?)?;
    Ok(())
}
