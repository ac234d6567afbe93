//! Rust errors as Python exceptions: an operating-system error becomes `OSError(errno,
//! strerror)` (so a busy port raises `OSError` with `errno.EADDRINUSE`, as under CPython),
//! anything else a `RuntimeError` with the error's chain; an application's exception
//! becomes a [`PythonError`] carrying its traceback.

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// Converts an error of the Rust core.
pub(crate) fn to_py(e: &(dyn std::error::Error + 'static)) -> PyErr {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(code) = io.raw_os_error() {
                let text = std::io::Error::from_raw_os_error(code).to_string();
                let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
                return PyOSError::new_err((code, text));
            }
            return PyOSError::new_err(io.to_string());
        }
        cur = err.source();
    }
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    PyRuntimeError::new_err(text)
}

/// A Python exception raised by the application, with its formatted traceback.
///
/// Python: the `exc_info` `BaseHandler.handle_error` receives and `log_exception` prints.
#[derive(Debug, thiserror::Error)]
#[error("{traceback}")]
pub(crate) struct PythonError {
    traceback: String,
}

impl PythonError {
    /// Formats `err` as `traceback.print_exception` would (without the final newline).
    pub(crate) fn new(py: Python<'_>, err: &PyErr) -> Self {
        let text = (|| -> PyResult<String> {
            let tb = py.import("traceback")?;
            let lines = tb.call_method1(
                "format_exception",
                (err.get_type(py), err.value(py), err.traceback(py)),
            )?;
            let joined = PyString::new(py, "").call_method1("join", (lines,))?;
            joined.extract::<String>()
        })()
        .unwrap_or_else(|_| err.to_string());
        PythonError {
            traceback: text.trim_end_matches('\n').to_owned(),
        }
    }

    /// The Python exception as a gateway error.
    pub(crate) fn into_gateway(py: Python<'_>, err: &PyErr) -> gateway::Error {
        gateway::Error::app(PythonError::new(py, err))
    }
}
