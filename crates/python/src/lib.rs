//! `pyserve._core`: Python WSGI applications served by the Rust core (PyO3).
//!
//! # Porting from Python
//!
//! This crate is the Python face of the workspace: the `pyserve` package, whose
//! `pyserve.simple_server` is a drop-in for CPython's `wsgiref.simple_server` and whose
//! `pyserve.serve()` / `pyserve` command run the production face that `demo` runs. A
//! Python callable becomes one more `gateway::Application` (module `app`): its environ is a
//! Python dict built from the parsed request (module `environ`), its body read from the Python
//! iterable. Nothing below this crate knows Python. See `docs/python.md` and
//! `docs/porting-map.md`.
//!
//! The Python side (`python/pyserve/*.py`) holds the classes users subclass
//! (`WSGIServer`, `WSGIRequestHandler`) and the command line; this module holds what they
//! call: `FaithfulServer`, `handle_streams`, `Server`, `FileWrapper`.
//!
//! ```text
//! $ pip install ./crates/python
//! $ python -c "from pyserve.simple_server import make_server, demo_app; \
//!              make_server('', 8782, demo_app).handle_request()"
//! ```

mod app;
mod environ;
mod errors;
mod faithful;
mod gil;
mod log;
mod net;
mod serve;
mod tstate;
mod workers;

use pyo3::prelude::*;

/// Installs the log subscriber: `format` is one of `python`, `common`, `combined`, `json`, `off`
/// (`--access-log`), `logformat` a gunicorn-style line (`--access-logformat`), `logfile`
/// a file the access lines are buffered into (`--access-logfile`; `-`: stderr). The first
/// call in a process wins; later ones return False.
#[pyfunction]
#[pyo3(signature = (format = "python", logfile = None, logformat = None))]
fn install_log(
    format: &str,
    logfile: Option<std::path::PathBuf>,
    logformat: Option<&str>,
) -> PyResult<bool> {
    use pyo3::exceptions::PyValueError;
    let format = format
        .parse()
        .map_err(|e| PyValueError::new_err(format!("access_log: {e}")))?;
    let template = logformat
        .map(str::parse::<http_server::logging::AccessTemplate>)
        .transpose()
        .map_err(|e| PyValueError::new_err(format!("access_logformat: {e}")))?;
    log::install_with(format, template, logfile.as_deref()).map_err(|e| errors::to_py(&e))
}

/// Reopens the access log file (what SIGUSR1 does, after logrotate moved it); False when
/// there is none.
#[pyfunction]
fn reopen_logs() -> PyResult<bool> {
    log::reopen().map_err(|e| errors::to_py(&e))
}

/// Called at the interpreter's exit: liveness probes stop taking the GIL from now on;
/// returns [`requests_in_python`]'s count.
#[pyfunction]
fn begin_exit() -> usize {
    gil::EXITING.store(true, std::sync::atomic::Ordering::SeqCst);
    requests_in_python()
}

/// Writes out the buffered access log lines (`--access-logfile`) now.
#[pyfunction]
fn flush_logs() {
    log::flush();
}

/// Requests of this process running Python now (holding the GIL or waiting for it) on
/// server threads, and liveness probes taking the GIL: more than zero at exit means a
/// shutdown's grace period abandoned some requests (or a probe is about to finish).
#[pyfunction]
fn requests_in_python() -> usize {
    use std::sync::atomic::Ordering::SeqCst;
    gil::IN_PYTHON.load(SeqCst) + gil::PROBING.load(SeqCst)
}

/// The Python thread ids of the server threads that ever ran Python.
#[pyfunction]
fn server_threads() -> Vec<std::ffi::c_ulong> {
    tstate::server_threads()
}

/// Logs `message` as the server's log does (a JSON line with `--access-log json`);
/// `level` is `error`, `warning` or `info`.
#[pyfunction]
fn log_message(level: &str, message: &str) {
    log::ensure();
    match level {
        "error" => tracing::error!(target: "pyserve", "{message}"),
        "warning" => tracing::warn!(target: "pyserve", "{message}"),
        _ => tracing::info!(target: "pyserve", "{message}"),
    }
}

/// The extension module `pyserve._core`.
///
/// `gil_used = false` (PyO3's default, said here on purpose): the module keeps no Python
/// state outside locks or the server's objects, so a free-threaded CPython may run it
/// without re-enabling the GIL. Tested on CPython 3.14t (`cargo xtask pythons 3.14t`).
#[pymodule(gil_used = false)]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<faithful::FaithfulServer>()?;
    m.add_class::<serve::Server>()?;
    m.add_class::<environ::FileWrapper>()?;
    m.add_class::<environ::Input>()?;
    m.add_class::<environ::Errors>()?;
    m.add_class::<app::Starter>()?;
    m.add_function(wrap_pyfunction!(faithful::handle_streams, m)?)?;
    m.add_function(wrap_pyfunction!(install_log, m)?)?;
    m.add_function(wrap_pyfunction!(reopen_logs, m)?)?;
    m.add_function(wrap_pyfunction!(requests_in_python, m)?)?;
    m.add_function(wrap_pyfunction!(server_threads, m)?)?;
    m.add_function(wrap_pyfunction!(log_message, m)?)?;
    m.add_function(wrap_pyfunction!(flush_logs, m)?)?;
    m.add_function(wrap_pyfunction!(begin_exit, m)?)?;
    m.add_function(wrap_pyfunction!(workers::supervise, m)?)?;
    m.add_function(wrap_pyfunction!(workers::is_worker, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "SERVER_SOFTWARE",
        faithful::python_http_config(m.py()).server_version,
    )?;
    Ok(())
}
