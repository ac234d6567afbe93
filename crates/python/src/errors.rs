//! Rust errors as Python exceptions: an operating-system error becomes `OSError(errno,
//! strerror)` (so a busy port raises `OSError` with `errno.EADDRINUSE`, as under CPython),
//! anything else a `RuntimeError` with the error's chain.

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyRuntimeError};

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
