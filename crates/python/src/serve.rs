//! The production face for Python applications: the server `demo` runs
//! (`socketserver::evloop` event loops with hand-off, `http_server::h1::HttpProtocol`
//! framing, limits, timeouts, graceful shutdown), with
//! `gateway::simple_server::WsgiRequestHandler` running a Python callable.
//!
//! GIL rules: a loop thread takes the GIL only to run Python code for a request (building
//! the environ, calling the application, taking a chunk of its body); it never holds it
//! while it waits on the network (the handler writes into the loop's buffer; reading
//! `wsgi.input` lets the GIL go). Waiting for the GIL is a block: when another thread of
//! this process is inside Python for a request, the handler announces the wait through
//! `HandlerCx::blocking`, and the loop is handed to a standby thread; the loop's watchdog
//! catches the rest (a Python thread of the application's own holding the GIL).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use gateway::Application;
use gateway::proxy::{ProxyFix, TrustedProxies};
use gateway::simple_server::{WsgiRequestHandler, WsgiShared, base_environ};
use http_server::h1::chunked::ChunkedLimits;
use http_server::h1::{H1Limits, HttpProtocol};
use http_server::{Exchange, HttpHandler};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Protocol, ServerHandle, listen_fds};
use socketserver::{Address, HandlerCx};

use crate::app::{IN_PYTHON, PyApp};
use crate::environ::{EnvTemplate, ErrorsTo};
use crate::errors::to_py;

/// `WsgiRequestHandler` for a Python application, announcing a wait for the GIL as a
/// block (see the module documentation).
struct PyHandler(WsgiRequestHandler<dyn Application>);

impl std::fmt::Debug for PyHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl HttpHandler for PyHandler {
    fn do_method(&mut self, ex: &mut Exchange<'_>) -> http_server::Result<()> {
        if gil_contended() {
            let cx = *ex.cx();
            cx.blocking(|| self.0.do_method(ex))
        } else {
            self.0.do_method(ex)
        }
    }
}

/// How long a loop thread waits for the other threads in Python to come out before it
/// treats the wait for the GIL as a block: the thread it just handed its loop to usually
/// leaves Python within microseconds, and a hand-off per request would cost more than that
/// (and add a thread per request under load).
const GIL_PATIENCE: Duration = Duration::from_micros(200);

/// True when another thread of this process stays inside Python for a request for longer
/// than [`GIL_PATIENCE`] (yielding the core meanwhile).
fn gil_contended() -> bool {
    if IN_PYTHON.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let start = std::time::Instant::now();
    while start.elapsed() < GIL_PATIENCE {
        std::thread::yield_now();
        if IN_PYTHON.load(Ordering::Relaxed) == 0 {
            return false;
        }
    }
    true
}

type EnvSlot = OnceLock<Arc<WsgiShared<dyn Application>>>;

/// The bound server's `serve()`, to be run once.
type Run = Box<dyn FnOnce() -> socketserver::Result<()> + Send>;

/// The options of `pyserve.serve()` and the `pyserve` command (named as `demo`'s).
#[derive(Debug, Clone)]
struct Options {
    threads: usize,
    max_blocking: Option<usize>,
    max_connections: Option<usize>,
    max_body: u64,
    request_timeout: f64,
    idle_timeout: f64,
    shutdown_timeout: f64,
    multiprocess: bool,
}

/// Python: no equivalent in wsgiref; the production server of `pyserve.serve()`.
///
/// Binds when made (so a busy port raises `OSError` at once); `serve()` blocks until
/// `shutdown()`, SIGINT or SIGTERM (with the signal handlers `pyserve.serve` installs).
#[pyclass(module = "pyserve._core", name = "Server")]
pub(crate) struct Server {
    run: Mutex<Option<Run>>,
    handle: ServerHandle,
    address: Address,
}

fn secs(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number")))
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        app, host = "127.0.0.1", port = 8000, *, unix = None, threads = 1,
        max_blocking = None, max_connections = None, max_body = 32 << 20,
        request_timeout = 30.0, idle_timeout = 60.0, shutdown_timeout = 30.0,
        trusted_proxy = None, proxy_hops = 1, multiprocess = false,
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of a Python API"
    )]
    fn new(
        py: Python<'_>,
        app: Py<PyAny>,
        host: &str,
        port: u16,
        unix: Option<std::path::PathBuf>,
        threads: usize,
        max_blocking: Option<usize>,
        max_connections: Option<usize>,
        max_body: u64,
        request_timeout: f64,
        idle_timeout: f64,
        shutdown_timeout: f64,
        trusted_proxy: Option<&str>,
        proxy_hops: usize,
        multiprocess: bool,
    ) -> PyResult<Self> {
        crate::log::ensure();
        let opts = Options {
            threads,
            max_blocking,
            max_connections,
            max_body,
            request_timeout,
            idle_timeout,
            shutdown_timeout,
            multiprocess,
        };
        let template = Arc::new(EnvTemplate::new(py, ErrorsTo::ServerLog)?);
        let mut app: Arc<dyn Application> = Arc::new(PyApp::new(app, template));
        if let Some(trusted) = trusted_proxy {
            let trusted: TrustedProxies = trusted
                .parse()
                .map_err(|e| PyValueError::new_err(format!("trusted_proxy: {e}")))?;
            app = Arc::new(ProxyFix::new(app, trusted).x_for(proxy_hops));
        }
        let mut config = EventLoopConfig {
            threads: opts.threads.max(1),
            ..EventLoopConfig::default()
        };
        if let Some(m) = opts.max_blocking {
            config.max_blocking = m;
        }
        if let Some(m) = opts.max_connections {
            config.max_connections = m;
        }
        config.max_request_bytes =
            usize::try_from(opts.max_body).unwrap_or(usize::MAX / 2) + (1 << 20);
        config.request_timeout = secs("request_timeout", opts.request_timeout)?;
        config.idle_timeout = Some(secs("idle_timeout", opts.idle_timeout)?);
        config.shutdown_timeout = secs("shutdown_timeout", opts.shutdown_timeout)?;
        // A thread that ran Python keeps its Python thread state until it exits, and the
        // state of an exited thread is not reclaimed (`tstate.rs`): standby threads are
        // kept for reuse longer than `demo` keeps them, so that bursts of blocking
        // requests reuse threads instead of making new ones.
        config.standby_keep_alive = Duration::from_secs(600);

        let env_slot: Arc<EnvSlot> = Arc::default();
        let slot = env_slot.clone();
        // The handlers share the application and the base environ, built once the server
        // is bound (the base environ names its address).
        let factory = move |_cx: &HandlerCx<'_>| {
            let shared = slot.get().expect("the server is bound before it serves");
            PyHandler(WsgiRequestHandler::shared(Arc::clone(shared)))
        };
        let limits = H1Limits {
            max_body: opts.max_body,
            chunked: ChunkedLimits {
                max_body: opts.max_body,
                ..ChunkedLimits::default()
            },
        };
        let http = crate::faithful::python_http_config(py).protocol_version("HTTP/1.1");
        let protocol = HttpProtocol::new(factory, http).limits(limits);
        let host = host.to_owned();
        py.detach(move || {
            bind(
                &host,
                port,
                unix.as_deref(),
                config,
                protocol,
                &env_slot,
                app,
                &opts,
            )
        })
        .map_err(|e| to_py(&*e))
    }

    /// The bound address: `(host, port)`, or the socket's path for `unix`.
    #[getter]
    fn server_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.address {
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

    /// Serves until `shutdown()` (or SIGINT/SIGTERM through `pyserve.serve`); returns once
    /// the requests in flight are answered. Python's signal handlers run meanwhile
    /// (Ctrl-C starts a graceful shutdown, then `KeyboardInterrupt` is raised here).
    fn serve(&self, py: Python<'_>) -> PyResult<()> {
        let run = self
            .run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this server already served"))?;
        let handle = self.handle.clone();
        interruptible(py, move || handle.shutdown(), run)?.map_err(|e| to_py(&e))
    }

    /// Starts a graceful shutdown (from any thread or a signal handler) and returns at once.
    fn shutdown(&self) {
        self.handle.shutdown();
    }

    /// Connections open now.
    fn connections(&self) -> usize {
        self.handle.connections()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds (or takes the sockets systemd passed), fills the base environ: `demo`'s
/// `listen_and_serve` up to the serving.
#[allow(
    clippy::too_many_arguments,
    reason = "what to bind, the protocol, and the shared state it completes once bound"
)]
fn bind<P: Protocol + 'static>(
    host: &str,
    port: u16,
    unix: Option<&std::path::Path>,
    config: EventLoopConfig,
    protocol: P,
    env_slot: &EnvSlot,
    app: Arc<dyn Application>,
    opts: &Options,
) -> Result<Server, BoxError> {
    let inherited = listen_fds()?;
    let mut server = if !inherited.is_empty() {
        tracing::info!(
            "serving {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        EventLoopServer::from_listeners(inherited, config, protocol)?
    } else if let Some(path) = unix {
        let _ = std::fs::remove_file(path);
        EventLoopServer::bind_unix(path, config, protocol)?
    } else {
        let addr = socketserver::inet_address(host, port)?;
        EventLoopServer::bind(addr, config, protocol)?
    };
    server.info_mut().multithread = true;
    server.info_mut().multiprocess = opts.multiprocess;
    let info = server.info().clone();
    let env = base_environ(&info.server_name, info.server_port);
    let _ = env_slot.set(Arc::new(WsgiShared::new(app, env)));
    let address = server.local_addr().clone();
    let handle = server.handle();
    Ok(Server {
        run: Mutex::new(Some(Box::new(move || server.serve()))),
        handle,
        address,
    })
}

/// Runs `f` on a helper thread while this thread waits without the GIL, waking every
/// 100 ms to run Python's signal handlers; when one raises, `stop` is called, `f` is
/// waited for, and the exception is returned.
pub(crate) fn interruptible<R: Send>(
    py: Python<'_>,
    stop: impl Fn() + Sync,
    f: impl FnOnce() -> R + Send,
) -> PyResult<R> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("pyserve-serve".into())
            .spawn_scoped(s, move || {
                let r = f();
                let _ = tx.send(());
                r
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let mut raised = None;
        let mut rx = rx;
        loop {
            let (r, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
            rx = back;
            if !matches!(r, Err(std::sync::mpsc::RecvTimeoutError::Timeout)) {
                break;
            }
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                py.detach(&stop);
                raised = Some(e);
            }
        }
        let r = py
            .detach(|| worker.join())
            .map_err(|_| PyRuntimeError::new_err("the server thread panicked"))?;
        match raised {
            Some(e) => Err(e),
            None => Ok(r),
        }
    })
}
