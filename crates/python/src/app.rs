//! A Python WSGI callable as a `gateway::Application`: the environ as a Python dict,
//! `start_response` and its `write()` as a Python object, the response iterable as a
//! `gateway::Body`.
//!
//! Python: what `wsgiref.handlers.BaseHandler.run` does around `self.result =
//! application(self.environ, self.start_response)`; the checks of its `start_response` and
//! `write` are made here, on the Python side, so an application sees the same
//! `AssertionError`s as under wsgiref.

use std::sync::Arc;

use gateway::util::is_hop_by_hop;
use gateway::{Application, Body, Environ, StartResponse};
use pyo3::exceptions::{PyAssertionError, PyAttributeError, PyNotImplementedError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyString, PyTuple};

use crate::environ::{EnvTemplate, FileWrapper};
use crate::errors::PythonError;
use crate::gil::with_gil;

/// A Python WSGI application (`application(environ, start_response)`) behind gateway's
/// handler state machine.
///
/// Python: `wsgiref.types.WSGIApplication`, as `BaseHandler.run` calls it.
#[doc(alias = "wsgiref.types.WSGIApplication")]
pub(crate) struct PyApp {
    app: Py<PyAny>,
    template: Arc<EnvTemplate>,
    /// Stop iterating a response once its declared `Content-Length` is produced (the
    /// production face; wsgiref iterates to the end).
    stop_at_length: bool,
}

impl std::fmt::Debug for PyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyApp").finish_non_exhaustive()
    }
}

impl PyApp {
    /// Serves `app` with the environ entries of `template`.
    pub(crate) fn new(app: Py<PyAny>, template: Arc<EnvTemplate>) -> Self {
        PyApp {
            app,
            template,
            stop_at_length: false,
        }
    }

    /// Stops iterating a response whose first item is its whole declared `Content-Length`,
    /// calling `close()` at once (PEP 3333, "Handling the Content-Length Header": the server
    /// "should stop iterating over the response when enough data has been sent"). This
    /// spares such a response (Flask's, Django's) a second turn with the GIL for the
    /// iterator's `StopIteration`. CPython's wsgiref iterates to the end: the faithful face
    /// does not call this.
    pub(crate) fn stop_at_length(mut self) -> Self {
        self.stop_at_length = true;
        self
    }

    fn call_py(
        &self,
        py: Python<'_>,
        environ: &Environ,
        sr: &mut dyn StartResponse,
    ) -> gateway::Result<Body> {
        let env = self
            .template
            .build(py, environ)
            .map_err(|e| PythonError::into_gateway(py, &e))?;
        let starter =
            Bound::new(py, Starter::default()).map_err(|e| PythonError::into_gateway(py, &e))?;
        let result = self.app.bind(py).call1((env, &starter));
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                // What was written and started is the response so far (headers sent when
                // write() ran): the handler answers 500 or closes the connection.
                apply(py, &starter, sr)?;
                return Err(PythonError::into_gateway(py, &e));
            }
        };
        into_body(py, result, &starter, sr, self.stop_at_length)
    }
}

impl Application for PyApp {
    fn call(&self, environ: &Environ, sr: &mut dyn StartResponse) -> gateway::Result<Body> {
        with_gil(|py| self.call_py(py, environ, sr))
    }
}

/// Passes what the application gave `start_response` (once) and `write()` to the handler.
/// The status and header strings are read in place (no copies); the header list is the
/// application's own, read now, as wsgiref's `Headers` reads it when it sends them.
///
/// Returns what the handler got now ([`Applied`]).
fn apply(
    py: Python<'_>,
    starter: &Bound<'_, Starter>,
    sr: &mut dyn StartResponse,
) -> gateway::Result<Applied> {
    let err = |e: PyErr| PythonError::into_gateway(py, &e);
    let (status, headers, written) = {
        let mut s = starter.borrow_mut();
        let first = !s.applied && s.status.is_some();
        if first {
            s.applied = true;
        }
        let status = first
            .then(|| s.status.as_ref().map(|p| p.clone_ref(py)))
            .flatten();
        let headers = first
            .then(|| s.headers.as_ref().map(|p| p.clone_ref(py)))
            .flatten();
        (status, headers, std::mem::take(&mut s.written))
    };
    let mut length = None;
    let mut named_length = false;
    let sent_now = status.is_some();
    if let Some(status) = status {
        let mut pairs: Vec<(Bound<'_, PyString>, Bound<'_, PyString>)> = Vec::new();
        if let Some(list) = &headers {
            for item in list.bind(py).iter() {
                pairs.push(header_pair(&item).map_err(err)?);
            }
        }
        let mut texts = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            let (k, v) = (k.to_str().map_err(err)?, v.to_str().map_err(err)?);
            if k.eq_ignore_ascii_case("content-length") {
                named_length = true;
                if v.bytes().all(|b| b.is_ascii_digit()) {
                    length = v.parse().ok();
                }
            }
            texts.push((k, v));
        }
        sr.start_response(status.bind(py).to_str().map_err(err)?, &texts, None)?;
    }
    let with_data = !written.is_empty();
    if with_data {
        length = None;
    }
    for chunk in written {
        sr.write(chunk.as_bytes(py))?;
    }
    Ok(Applied {
        length,
        count_blocks: sent_now && !named_length && !with_data,
    })
}

/// What [`apply`] handed the handler.
struct Applied {
    /// The declared `Content-Length`, when the status and headers went to the handler now
    /// and no `write()` data went with them.
    length: Option<usize>,
    /// The status and headers went now, without a `Content-Length` and without `write()`
    /// data: the moment wsgiref's `cleanup_headers` asks `len(result)`.
    count_blocks: bool,
}

/// `len(result)` as wsgiref's `set_content_length` reads it: the number, `None` for an
/// iterable without a length (`TypeError`, `AttributeError`, `NotImplementedError`), any
/// other exception the application's error.
fn blocks(result: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    let py = result.py();
    match result.len() {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if e.is_instance_of::<PyTypeError>(py)
                || e.is_instance_of::<PyAttributeError>(py)
                || e.is_instance_of::<PyNotImplementedError>(py) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// One `(name, value)` header tuple of exact `str`s (wsgiref's checks and messages).
fn header_pair<'py>(
    item: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyString>)> {
    let pair = item
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("Headers must be a list of name/value tuples"))?;
    if pair.len() != 2 {
        return Err(PyTypeError::new_err(
            "Headers must be a list of name/value tuples",
        ));
    }
    Ok((
        exact_str(&pair.get_item(0)?, "Header name")?,
        exact_str(&pair.get_item(1)?, "Header value")?,
    ))
}

/// The message wsgiref's `write` asserts with, extended with the fix.
const NOT_BYTES: &str = "write() argument must be a bytes instance \
    (a WSGI response iterable yields bytes: encode str first)";

/// Copies a body item, which must be `bytes`.
fn chunk_of(item: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match item.cast::<PyBytes>() {
        Ok(b) => Ok(b.as_bytes().to_vec()),
        Err(_) => Err(PyAssertionError::new_err(format!(
            "{NOT_BYTES}, got {}",
            item.get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string())
        ))),
    }
}

/// Turns the application's return value into a `Body`, after handing `start_response`'s
/// arguments to the handler. A generator that calls `start_response` only when first
/// iterated is advanced here, once, so that its status is known before the handler sends
/// anything (PEP 3333 allows it).
fn into_body(
    py: Python<'_>,
    result: Bound<'_, PyAny>,
    starter: &Bound<'_, Starter>,
    sr: &mut dyn StartResponse,
    stop_at_length: bool,
) -> gateway::Result<Body> {
    let err = |e: PyErr| PythonError::into_gateway(py, &e);
    // The common case: a list of bytes (`[b"Hello"]`), copied out without a Python loop.
    if starter.borrow().status.is_some()
        && let Ok(list) = result.cast_exact::<PyList>()
    {
        apply(py, starter, sr)?;
        starter.borrow_mut().finished = true;
        let n = list.len();
        if n == 1 {
            let item = list.get_item(0).map_err(err)?;
            return Ok(Body::one(chunk_of(&item).map_err(err)?));
        }
        let mut chunks = Vec::with_capacity(n);
        for item in list.iter() {
            chunks.push(chunk_of(&item).map_err(err)?);
        }
        return Ok(Body::chunks(chunks));
    }
    if let Ok(fw) = result.cast::<FileWrapper>() {
        if starter.borrow().status.is_none() {
            close_result(py, &result);
            return Err(gateway::Error::NoStartResponse);
        }
        apply(py, starter, sr)?;
        starter.borrow_mut().finished = true;
        if let Some(body) = fw.borrow().file_body(py) {
            return Ok(body);
        }
    }
    let iter = match result.try_iter() {
        Ok(it) => it,
        Err(e) => {
            apply(py, starter, sr)?;
            close_result(py, &result);
            return Err(err(e));
        }
    };
    // The first item is taken now, with the GIL already held: the handler would ask for it
    // right away, and a generator may call `start_response` only when first advanced.
    let first = match iter.clone().next() {
        Some(Ok(item)) => Some(item.unbind()),
        Some(Err(e)) => {
            apply(py, starter, sr)?;
            close_result(py, &result);
            return Err(err(e));
        }
        None => None,
    };
    if starter.borrow().status.is_none() {
        close_result(py, &result);
        return Err(if first.is_some() {
            gateway::Error::WriteBeforeStartResponse
        } else {
            gateway::Error::NoStartResponse
        });
    }
    let applied = apply(py, starter, sr)?;
    starter.borrow_mut().finished = true;
    if stop_at_length
        && let (Some(length), Some(item)) = (applied.length, &first)
        && let Ok(bytes) = item.bind(py).cast::<PyBytes>()
        && bytes.as_bytes().len() == length
    {
        let body = Body::one(bytes.as_bytes().to_vec());
        close_result(py, &result);
        return Ok(body);
    }
    // wsgiref asks `len(result)` when the first bytes go out with headers that name no
    // length, and a result of one block gets a `Content-Length` (a tuple, a list subclass):
    // the handler's `cleanup_headers` reads the count from the body.
    let len = match &first {
        Some(item) if applied.count_blocks && item.bind(py).is_exact_instance_of::<PyBytes>() => {
            match blocks(&result) {
                Ok(n) => n,
                Err(e) => {
                    close_result(py, &result);
                    return Err(err(e));
                }
            }
        }
        _ => None,
    };
    let closer = result
        .getattr(pyo3::intern!(py, "close"))
        .ok()
        .map(Bound::unbind);
    let state = Arc::new(std::sync::Mutex::new(Some(IterState {
        iter: iter.unbind(),
        first,
        starter: starter.clone().unbind(),
        closer,
    })));
    let body = Body::iter(PyBody {
        state: state.clone(),
    })
    .with_len(len);
    Ok(body.on_close(move || {
        let taken = state.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(st) = taken {
            with_gil(|py| st.close(py));
        }
    }))
}

/// Calls `result.close()` if it has one (the error paths before the body exists).
fn close_result(py: Python<'_>, result: &Bound<'_, PyAny>) {
    if let Ok(close) = result.getattr(pyo3::intern!(py, "close"))
        && let Err(e) = close.call0()
    {
        let text = PythonError::new(py, &e);
        tracing::error!(target: "pyserve", "the response iterable's close() raised:\n{text}");
    }
}

/// A response iterable being read: its iterator, the item taken in advance, the
/// `start_response` object (for `write()` data produced meanwhile), and its `close`.
struct IterState {
    iter: Py<PyIterator>,
    first: Option<Py<PyAny>>,
    starter: Py<Starter>,
    closer: Option<Py<PyAny>>,
}

impl IterState {
    /// Calls the iterable's `close()` (once: the state is consumed) and releases its
    /// references, with the GIL held.
    fn close(self, py: Python<'_>) {
        if let Some(close) = &self.closer
            && let Err(e) = close.bind(py).call0()
        {
            let text = PythonError::new(py, &e);
            tracing::error!(target: "pyserve", "the response iterable's close() raised:\n{text}");
        }
        drop(self);
    }

    /// The next `write()` chunk waiting, if any.
    fn written(&self, py: Python<'_>) -> Option<Vec<u8>> {
        let mut s = self.starter.bind(py).borrow_mut();
        s.sent = true;
        if s.written.is_empty() {
            return None;
        }
        let chunk = s.written.remove(0);
        Some(chunk.as_bytes(py).to_vec())
    }
}

/// The response iterable, read chunk by chunk (each with the GIL taken for that chunk
/// only), chunks `write()` produced meanwhile first. When the iterator is exhausted its
/// `close()` runs in the same GIL acquisition (the body's close hook then finds nothing
/// left to do).
struct PyBody {
    state: Arc<std::sync::Mutex<Option<IterState>>>,
}

impl Iterator for PyBody {
    type Item = gateway::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let state = self.state.clone();
        with_gil(|py| {
            let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
            let st = guard.as_mut()?;
            if let Some(chunk) = st.written(py) {
                return Some(Ok(chunk));
            }
            let item = match st.first.take() {
                Some(item) => item.into_bound(py),
                None => match st.iter.bind(py).clone().next() {
                    // What write() produced while this item was made goes before it.
                    Some(Ok(item)) if !st.starter.bind(py).borrow().written.is_empty() => {
                        st.first = Some(item.unbind());
                        return st.written(py).map(Ok);
                    }
                    Some(Ok(item)) => item,
                    Some(Err(e)) => return Some(Err(PythonError::into_gateway(py, &e))),
                    None => {
                        // What write() produced during the last step still goes out.
                        if let Some(chunk) = st.written(py) {
                            return Some(Ok(chunk));
                        }
                        if let Some(st) = guard.take() {
                            st.close(py);
                        }
                        return None;
                    }
                },
            };
            Some(chunk_of(&item).map_err(|e| PythonError::into_gateway(py, &e)))
        })
    }
}

impl Drop for PyBody {
    fn drop(&mut self) {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(st) = guard.take() {
            // Not closed yet (the handler always closes first; kept for safety): close it
            // and release the Python references with the GIL held, never left to a pool.
            with_gil(|py| st.close(py));
        }
    }
}

/// Python: `wsgiref.handlers.BaseHandler.start_response` and `BaseHandler.write`, as the
/// object an application receives as `start_response` (its `write` is the callable
/// `start_response` returns).
#[doc(alias = "wsgiref.handlers.BaseHandler.start_response")]
#[doc(alias = "wsgiref.handlers.BaseHandler.write")]
#[pyclass(module = "pyserve._core", name = "StartResponse")]
#[derive(Default)]
pub(crate) struct Starter {
    status: Option<Py<PyString>>,
    /// The application's header list, as given (wsgiref keeps the same list).
    headers: Option<Py<PyList>>,
    /// `write()` data not yet handed to the handler.
    written: Vec<Py<PyBytes>>,
    /// The status and headers went to the handler.
    applied: bool,
    /// Headers count as sent: `write()` ran, or the handler started on the body.
    sent: bool,
    /// The application returned: its status is final.
    finished: bool,
}

fn exact_str<'py>(value: &Bound<'py, PyAny>, title: &str) -> PyResult<Bound<'py, PyString>> {
    if let Ok(s) = value.cast_exact::<PyString>() {
        return Ok(s.clone());
    }
    Err(PyAssertionError::new_err(format!(
        "{title} must be of type str (got {})",
        value
            .repr()
            .map_or_else(|_| "?".to_owned(), |r| r.to_string())
    )))
}

#[pymethods]
impl Starter {
    /// `start_response(status, response_headers, exc_info=None)`.
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        {
            let s = slf.borrow();
            match exc_info {
                Some(info) if info.is_truthy()? => {
                    if s.sent || s.finished {
                        let value = info.get_item(1)?;
                        let tb = info.get_item(2)?;
                        let value = value.call_method1("with_traceback", (tb,))?;
                        return Err(PyErr::from_value(value));
                    }
                }
                _ => {
                    if s.status.is_some() {
                        return Err(PyAssertionError::new_err("Headers already set!"));
                    }
                }
            }
        }
        if !headers.is_exact_instance_of::<PyList>() {
            return Err(PyTypeError::new_err(
                "Headers must be a list of name/value tuples",
            ));
        }
        let status = exact_str(status, "Status")?;
        {
            let text = status.to_str()?;
            if text.chars().count() < 4 {
                return Err(PyAssertionError::new_err(
                    "Status must be at least 4 characters",
                ));
            }
            if !text.chars().take(3).all(|c| c.is_ascii_digit()) {
                return Err(PyAssertionError::new_err(
                    "Status message must begin w/3-digit code",
                ));
            }
            if text.chars().nth(3) != Some(' ') {
                return Err(PyAssertionError::new_err(
                    "Status message must have a space after code",
                ));
            }
        }
        let list = headers.cast::<PyList>()?;
        for item in list.iter() {
            let (name, value) = header_pair(&item)?;
            let name = name.to_str()?;
            if is_hop_by_hop(name) {
                return Err(PyAssertionError::new_err(format!(
                    "Hop-by-hop header, '{name}: {}', not allowed",
                    value.to_str()?
                )));
            }
        }
        {
            let mut s = slf.borrow_mut();
            if s.finished {
                // The handler has the first status already: only an error before anything
                // was sent could replace it, and that is the handler's to send.
                return Err(PyAssertionError::new_err("Headers already set!"));
            }
            s.status = Some(status.unbind());
            s.headers = Some(list.clone().unbind());
        }
        slf.as_any().getattr(pyo3::intern!(py, "write"))
    }

    /// The `write(data)` callable `start_response` returns.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.status.is_none() {
            return Err(PyAssertionError::new_err("write() before start_response()"));
        }
        let Ok(bytes) = data.cast_exact::<PyBytes>() else {
            return Err(PyAssertionError::new_err(NOT_BYTES));
        };
        self.sent = true;
        self.written.push(bytes.clone().unbind());
        Ok(())
    }
}
