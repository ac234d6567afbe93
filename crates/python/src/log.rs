//! Where the Rust core's log lines go inside a Python process.
//!
//! The extension is the program as far as Rust is concerned, so it installs the
//! `tracing` subscriber (`http_server::logging::AccessLines`, the format `--access-log`
//! picks). Lines go to the process's standard error without the GIL, except on a thread
//! serving the faithful face: there they go to Python's `sys.stderr`, as CPython's
//! `BaseHTTPRequestHandler.log_message` writes them (so `contextlib.redirect_stderr`
//! and test captures see them).

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use std::path::Path;
use std::time::Duration;

use gateway::ErrorStream;
use http_server::logging::{
    ACCESS_TARGET, AccessLines, AccessLogFormat, AccessTemplate, BufferedLog, Fields, Value,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tracing_subscriber::fmt::MakeWriter;

thread_local! {
    static TO_PYTHON: Cell<bool> = const { Cell::new(false) };
    /// While a faithful server whose request handler class overrides its log methods
    /// serves on this thread: the Python callable that calls them (see [`with_log_hook`]).
    static LOG_HOOK: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// Whether the subscriber has [`PyLogHook`] (the default one does; a template or a log
/// file installs http-server's, which writes every line itself).
static HOOK_LAYER: AtomicBool = AtomicBool::new(false);

/// Runs `f` with this thread's log lines sent to Python's `sys.stderr` and, with a `hook`,
/// the access log's events (`http_server::access`) handed to it instead, as a dict of the
/// event's fields (`message`, `client`, and, for a request's line, `request`, `method`,
/// `path`, `protocol`, `status`, `bytes_sent`): `pyserve.simple_server` then calls the
/// request handler class's own `log_request` / `log_error`.
///
/// Python: what `BaseHTTPRequestHandler.log_request`, `log_error` and `log_message` of a
/// `WSGIRequestHandler` subclass do for CPython's wsgiref.
pub(crate) fn with_log_hook<R>(hook: Option<Py<PyAny>>, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Py<PyAny>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let previous = self.0.take();
            if let Some(hook) = LOG_HOOK.with(|h| h.replace(previous)) {
                Python::attach(|_| drop(hook));
            }
        }
    }
    let _reset = Reset(LOG_HOOK.with(|h| h.replace(hook)));
    to_python_stderr(f)
}

/// An access-log event that goes to this thread's [`LOG_HOOK`] instead of the log.
fn hooked(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == ACCESS_TARGET
        && HOOK_LAYER.load(Ordering::Relaxed)
        && LOG_HOOK.with(|h| h.borrow().is_some())
}

/// The layer that hands [`hooked`] events to the Python hook.
struct PyLogHook;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PyLogHook {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        if !hooked(event.metadata()) {
            return;
        }
        let fields = Fields::of(event);
        Python::attach(|py| {
            let Some(hook) = LOG_HOOK.with(|h| h.borrow().as_ref().map(|h| h.clone_ref(py))) else {
                return;
            };
            let dict = PyDict::new(py);
            let called = dict
                .set_item("message", fields.message())
                .and_then(|()| {
                    fields.iter().try_for_each(|(name, value)| match value {
                        Value::U64(n) => dict.set_item(name, n),
                        other => dict.set_item(name, other.text()),
                    })
                })
                .and_then(|()| hook.call1(py, (dict,)));
            // As an exception in CPython's `log_message`: a traceback, and serving goes on.
            if let Err(e) = called {
                e.print(py);
            }
        });
    }
}

/// Runs `f` with this thread's log lines sent to Python's `sys.stderr`.
pub(crate) fn to_python_stderr<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            TO_PYTHON.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(TO_PYTHON.with(|c| c.replace(true)));
    f()
}

/// Writes text to Python's `sys.stderr` (taking the GIL).
#[derive(Debug, Default)]
pub(crate) struct PyStderr {
    pending: Vec<u8>,
}

impl Write for PyStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        Python::attach(|py| -> PyResult<()> {
            let stderr = py.import("sys")?.getattr("stderr")?;
            if !stderr.is_none() {
                stderr.call_method1("write", (text,))?;
            }
            Ok(())
        })
        .map_err(io::Error::other)
    }
}

impl Drop for PyStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The writer for one event: Python's `sys.stderr` or the process's stderr.
#[derive(Debug)]
pub(crate) enum LineWriter {
    /// Python's `sys.stderr`.
    Python(PyStderr),
    /// File descriptor 2.
    Stderr(io::Stderr),
    /// Nowhere: the event went to the Python hook ([`with_log_hook`]).
    Skip,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LineWriter::Python(w) => w.write(buf),
            LineWriter::Stderr(w) => w.write(buf),
            LineWriter::Skip => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LineWriter::Python(w) => w.flush(),
            LineWriter::Stderr(w) => w.flush(),
            LineWriter::Skip => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Route;

impl<'a> MakeWriter<'a> for Route {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        if TO_PYTHON.with(Cell::get) {
            LineWriter::Python(PyStderr::default())
        } else {
            LineWriter::Stderr(io::stderr())
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        if hooked(meta) {
            LineWriter::Skip
        } else {
            self.make_writer()
        }
    }
}

static FORMAT: OnceLock<AccessLogFormat> = OnceLock::new();

/// The buffered access log (`--access-logfile`), when one was installed.
static ACCESS_LOG: OnceLock<BufferedLog> = OnceLock::new();

/// Installs the subscriber once per process with the access lines in `template` (else in
/// `format`), buffered into `logfile` (`-`: stderr) as `demo --access-logfile` does (64 KiB
/// per thread, written at least every second, when a server stops, and by
/// [`flush`]); without a file, to stderr. False when a subscriber was there first.
pub(crate) fn install_with(
    format: AccessLogFormat,
    template: Option<AccessTemplate>,
    logfile: Option<&Path>,
) -> io::Result<bool> {
    let Some(path) = logfile else {
        if template.is_none() {
            return Ok(install(format));
        }
        if FORMAT.set(format).is_err() {
            return Ok(false);
        }
        return Ok(http_server::logging::install_subscriber(
            format, template, Route,
        ));
    };
    if FORMAT.get().is_some() {
        return Ok(false);
    }
    let (size, every) = (64 << 10, Duration::from_secs(1));
    let log = if path.as_os_str() == "-" {
        BufferedLog::stderr(size, every)?
    } else {
        BufferedLog::file(path, size, every).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open the access log {}: {e}", path.display()),
            )
        })?
    };
    if FORMAT.set(format).is_err() {
        return Ok(false);
    }
    let _ = ACCESS_LOG.set(log.clone());
    Ok(http_server::logging::install_subscriber(
        format, template, log,
    ))
}

/// The stream behind `wsgi.errors` and the tracebacks of the production face: the
/// process's stderr, except with the `json` format, where whatever is written becomes log
/// events (target `wsgi.errors`), so that every line of the log stays one JSON object.
pub(crate) fn errors_stream() -> ErrorStream {
    if is_json() {
        EVENTS
            .get_or_init(|| ErrorStream::new(ErrorEvents::default()))
            .clone()
    } else {
        ErrorStream::stderr()
    }
}

/// [`errors_stream`] with the `json` format.
static EVENTS: OnceLock<ErrorStream> = OnceLock::new();

/// True when the log is JSON lines (`--access-log json`).
pub(crate) fn is_json() -> bool {
    FORMAT.get() == Some(&AccessLogFormat::Json)
}

/// The end of a request: with the `json` format, what it wrote to `wsgi.errors` without a
/// final newline is logged now, instead of joining the next request's first line.
pub(crate) fn end_request() {
    if let Some(events) = EVENTS.get() {
        let _ = events.clone().flush();
    }
}

/// `wsgi.errors` as log events: each `write` that completes lines logs them as one event
/// (a traceback written at once stays one event); `flush` logs an unfinished line.
#[derive(Debug, Default)]
struct ErrorEvents {
    pending: Vec<u8>,
}

impl ErrorEvents {
    fn emit(&mut self, upto: usize) {
        let text: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&text);
        let text = text.trim_end_matches(['\r', '\n']);
        if !text.is_empty() {
            tracing::error!(target: "wsgi.errors", "{text}");
        }
    }
}

impl Write for ErrorEvents {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.emit(last + 1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let all = self.pending.len();
        self.emit(all);
        Ok(())
    }
}

/// Writes out the buffered access lines (a server stopped).
pub(crate) fn flush() {
    if let Some(log) = ACCESS_LOG.get() {
        log.flush();
    }
}

/// Reopens the access log file (SIGUSR1, after logrotate moved it), saying so in the
/// new file; false without one.
pub(crate) fn reopen() -> io::Result<bool> {
    let Some(log) = ACCESS_LOG.get() else {
        return Ok(false);
    };
    match log.reopen() {
        Ok(()) => {
            tracing::info!(pid = std::process::id(), "access log reopened");
            Ok(true)
        }
        Err(e) => {
            tracing::error!(error = %e, "reopening the access log failed");
            Err(e)
        }
    }
}

/// Installs the default subscriber (CPython's lines) unless one was installed.
pub(crate) fn ensure() {
    if FORMAT.get().is_none() {
        install(AccessLogFormat::Python);
    }
}

/// Installs the subscriber once per process (the first format asked for wins); false when
/// another subscriber was there first.
pub(crate) fn install(format: AccessLogFormat) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    if FORMAT.set(format).is_err() {
        return false;
    }
    // The handler's `log_exception` event repeats the traceback already written to
    // `wsgi.errors`: it is left out.
    let no_repeat = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.target().starts_with("gateway::handlers") && *meta.level() == tracing::Level::ERROR)
    });
    let (filter, warning) = http_server::logging::access_log_filter(format);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(Route)
        .event_format(AccessLines::new(format))
        .finish()
        .with(filter)
        .with(no_repeat)
        .with(PyLogHook);
    let installed = tracing::subscriber::set_global_default(subscriber).is_ok();
    HOOK_LAYER.store(installed, Ordering::Relaxed);
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    installed
}
