//! Addresses and listening sockets as the Python side sees them: `--bind` strings parsed,
//! listeners bound (or taken from systemd), bind errors as `OSError`s naming the address,
//! and bound addresses as `socketserver`'s `server_address` values.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use socketserver::Address;
use socketserver::evloop::{Listener, listen_fds};
use supervisor::{Bind, BindOptions, SocketFiles};

/// Parses `--bind` addresses (`HOST:PORT`, `[::]:PORT`, `unix:PATH`, `fd://N`).
pub(crate) fn parse_binds(binds: &[String]) -> PyResult<Vec<Bind>> {
    binds
        .iter()
        .map(|b| {
            b.parse::<Bind>()
                .map_err(|e| PyValueError::new_err(format!("--bind: {e}")))
        })
        .collect()
}

/// A supervisor error as a Python exception: a failed bind is `OSError(errno, strerror,
/// address)` (so `str()` names the address), a bad value `ValueError`, the rest through
/// [`to_py`](crate::errors::to_py).
pub(crate) fn to_py(e: supervisor::Error) -> PyErr {
    match e {
        supervisor::Error::Listen { address, source } => match source.raw_os_error() {
            Some(code) => {
                let text = std::io::Error::from_raw_os_error(code).to_string();
                let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
                PyOSError::new_err((code, text, address))
            }
            None => PyOSError::new_err(format!("cannot listen on {address}: {source}")),
        },
        e @ (supervisor::Error::Bind { .. } | supervisor::Error::Config(_)) => {
            PyValueError::new_err(e.to_string())
        }
        e => crate::errors::to_py(&e),
    }
}

/// The listeners to serve: systemd's (socket activation), else `binds` bound once.
pub(crate) fn listeners(
    binds: &[Bind],
    options: &BindOptions,
) -> PyResult<(Vec<Listener>, SocketFiles)> {
    let inherited = listen_fds().map_err(|e| crate::errors::to_py(&e))?;
    if !inherited.is_empty() {
        tracing::info!(
            "serving {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        return Ok((inherited, SocketFiles::default()));
    }
    supervisor::listen_all(binds, options).map_err(to_py)
}

/// An address as Python's `socketserver` gives it: `(host, port)`, or a Unix path.
pub(crate) fn address_to_py<'py>(
    py: Python<'py>,
    address: &Address,
) -> PyResult<Bound<'py, PyAny>> {
    match address {
        Address::Inet(a) => Ok(PyTuple::new(
            py,
            [
                a.ip().to_string().into_pyobject(py)?.into_any(),
                a.port().into_pyobject(py)?.into_any(),
            ],
        )?
        .into_any()),
        other => Ok(other.to_string().into_pyobject(py)?.into_any()),
    }
}

/// Several addresses as a list (see [`address_to_py`]).
pub(crate) fn addresses_to_py<'py>(
    py: Python<'py>,
    addresses: &[Address],
) -> PyResult<Bound<'py, PyList>> {
    let items = addresses
        .iter()
        .map(|a| address_to_py(py, a))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}
