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
use http_server::metrics::{HttpMetrics, Metered};
use http_server::proxy_protocol::ProxyProtocol;
use http_server::{Exchange, HttpHandler};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use socketserver::evloop::{
    EventLoopConfig, EventLoopServer, Listener, Protocol, ServerHandle, listen_fds,
};
use socketserver::{Address, HandlerCx, TlsAcceptor, TlsConfig};
use supervisor::SocketFiles;

use crate::app::PyApp;
use crate::environ::{EnvTemplate, ErrorsTo};
use crate::errors::to_py;
use crate::gil::{IN_PYTHON, interruptible};

/// `WsgiRequestHandler` for a Python application, announcing a wait for the GIL as a
/// block (see the module documentation); `GET` and `HEAD` under a static mount are
/// answered from its directory without Python.
struct PyHandler {
    wsgi: WsgiRequestHandler<dyn Application>,
    statics: Arc<[StaticMount]>,
}

impl std::fmt::Debug for PyHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.wsgi.fmt(f)
    }
}

impl HttpHandler for PyHandler {
    fn do_method(&mut self, ex: &mut Exchange<'_>) -> http_server::Result<()> {
        if !self.statics.is_empty() && matches!(ex.command.as_str(), "GET" | "HEAD") {
            let found = self.statics.iter().find_map(|m| {
                m.inner_path(&ex.path)
                    .map(|inner| (m, format!("/{}", inner.trim_start_matches('/'))))
            });
            if let Some((mount, inner)) = found {
                return mount.serve(ex, inner);
            }
        }
        let served = if gil_contended() {
            let cx = *ex.cx();
            cx.blocking(|| self.wsgi.do_method(ex))
        } else {
            self.wsgi.do_method(ex)
        };
        crate::log::end_request();
        served
    }
}

/// A directory served under a URL prefix (`static_dirs`, `--static PREFIX=DIR`): the files
/// below it, as `http.server.SimpleHTTPRequestHandler` sends them (`Content-Type` from the
/// extension, `Last-Modified`, `If-Modified-Since` answered 304), but no directory listing
/// (a directory is 404), and no Python on the way.
#[derive(Debug)]
struct StaticMount {
    /// `/static`: no trailing slash.
    prefix: String,
    files: http_server::SimpleHttpHandler,
}

impl StaticMount {
    fn new(prefix: &str, dir: std::path::PathBuf) -> PyResult<Self> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.starts_with('/') || prefix.contains(['?', '#']) {
            return Err(PyValueError::new_err(format!(
                "static_dirs: the prefix {prefix:?} must be a path like /static"
            )));
        }
        if !dir.is_dir() {
            return Err(PyValueError::new_err(format!(
                "static_dirs: {} is not a directory",
                dir.display()
            )));
        }
        Ok(StaticMount {
            prefix: prefix.to_owned(),
            files: http_server::SimpleHttpHandler::new(dir),
        })
    }

    /// The path below the prefix, when `path` (the request target, its query included) is
    /// under it.
    fn inner_path<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with(['/', '?'])).then_some(rest)
    }

    /// Answers `ex` with the file at `inner` (`/css/a.css`) below the directory.
    fn serve(&self, ex: &mut Exchange<'_>, inner: String) -> http_server::Result<()> {
        let mut files = self.files.clone();
        if !http_server::translate_path(&files.directory, &inner).is_file() {
            return files.send_error(ex, 404, Some("File not found"), None);
        }
        let whole = std::mem::replace(&mut ex.path, inner);
        let served = files.do_method(ex);
        ex.path = whole;
        served
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
    /// `metrics_bind`: count requests, and serve them as Prometheus text on this address
    /// (a supervised worker sends them to its supervisor instead).
    metrics_bind: Option<String>,
}

/// Python: no equivalent in wsgiref; the production server of `pyserve.serve()`.
///
/// Binds when made (so a busy port raises `OSError` at once); `serve()` blocks until
/// `shutdown()`, SIGINT or SIGTERM (with the signal handlers `pyserve.serve` installs).
///
/// Made in a process a `pyserve --workers` supervisor started, it serves the listeners it
/// inherited (whatever the address arguments say), counts its requests toward
/// `--max-requests`, tells the supervisor when it serves and beats its heartbeat while
/// its event loops make progress.
#[pyclass(module = "pyserve._core", name = "Server")]
pub(crate) struct Server {
    run: Mutex<Option<Run>>,
    handle: ServerHandle,
    addresses: Vec<Address>,
}

fn secs(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number")))
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        app, host = "127.0.0.1", port = 8000, *, unix = None, bind = None, backlog = 1024,
        unix_mode = None, reuse_port = false, pid = None, threads = 1,
        max_blocking = None, max_connections = None, max_body = 32 << 20,
        max_line = 65536, max_headers = 100,
        request_timeout = 30.0, idle_timeout = 60.0, shutdown_timeout = 30.0,
        trusted_proxy = None, proxy_hops = 1, multiprocess = false, metrics_bind = None,
        tls_cert = None, tls_key = None, tls_password_file = None, proxy_protocol = false,
        static_dirs = None,
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
        bind: Option<Vec<String>>,
        backlog: i32,
        unix_mode: Option<u32>,
        reuse_port: bool,
        pid: Option<std::path::PathBuf>,
        threads: usize,
        max_blocking: Option<usize>,
        max_connections: Option<usize>,
        max_body: u64,
        max_line: usize,
        max_headers: usize,
        request_timeout: f64,
        idle_timeout: f64,
        shutdown_timeout: f64,
        trusted_proxy: Option<&str>,
        proxy_hops: usize,
        multiprocess: bool,
        metrics_bind: Option<String>,
        tls_cert: Option<std::path::PathBuf>,
        tls_key: Option<std::path::PathBuf>,
        tls_password_file: Option<std::path::PathBuf>,
        proxy_protocol: bool,
        static_dirs: Option<Vec<(String, std::path::PathBuf)>>,
    ) -> PyResult<Self> {
        crate::log::ensure();
        // The certificate and key are loaded before anything listens: a bad file is an
        // error that names it.
        let tls = match tls_cert {
            Some(cert) => Some(tls_acceptor(cert, tls_key, tls_password_file)?),
            None if tls_key.is_some() || tls_password_file.is_some() => {
                return Err(PyValueError::new_err(
                    "tls_key and tls_password_file need tls_cert",
                ));
            }
            None => None,
        };
        let opts = Options {
            threads,
            max_blocking,
            max_connections,
            max_body,
            request_timeout,
            idle_timeout,
            shutdown_timeout,
            multiprocess,
            metrics_bind,
        };
        let template = Arc::new(EnvTemplate::new(py, ErrorsTo::ServerLog)?);
        let mut app: Arc<dyn Application> = Arc::new(PyApp::new(app, template).stop_at_length());
        if let Some(trusted) = trusted_proxy {
            let trusted: TrustedProxies = trusted
                .parse()
                .map_err(|e| PyValueError::new_err(format!("trusted_proxy: {e}")))?;
            app = Arc::new(ProxyFix::new(app, trusted).x_for(proxy_hops));
        }
        let mut config = EventLoopConfig {
            threads: opts.threads.max(1),
            backlog,
            share_port: reuse_port,
            defer_accept: Some(http_server::h1::DEFER_ACCEPT),
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

        let statics: Arc<[StaticMount]> = static_dirs
            .unwrap_or_default()
            .into_iter()
            .map(|(prefix, dir)| StaticMount::new(&prefix, dir))
            .collect::<PyResult<Vec<_>>>()?
            .into();
        let env_slot: Arc<EnvSlot> = Arc::default();
        let slot = env_slot.clone();
        // The handlers share the application and the base environ, built once the server
        // is bound (the base environ names its address).
        let factory = move |_cx: &HandlerCx<'_>| {
            let shared = slot.get().expect("the server is bound before it serves");
            PyHandler {
                wsgi: WsgiRequestHandler::shared(Arc::clone(shared)),
                statics: Arc::clone(&statics),
            }
        };
        let limits = H1Limits {
            max_body: opts.max_body,
            chunked: ChunkedLimits {
                max_body: opts.max_body,
                ..ChunkedLimits::default()
            },
        };
        if max_line < 16 {
            // The shortest request line: `GET / HTTP/1.0`.
            return Err(PyValueError::new_err("max_line must be at least 16"));
        }
        let http = crate::faithful::python_http_config(py)
            .protocol_version("HTTP/1.1")
            .limits(max_line, max_headers);
        let protocol = HttpProtocol::new(factory, http).limits(limits);
        let binds = crate::net::parse_binds(bind.as_deref().unwrap_or_default())?;
        let at = Where {
            host,
            port,
            unix: unix.as_deref(),
            binds: &binds,
            pid: pid.as_deref(),
            options: supervisor::BindOptions {
                backlog,
                unix_mode,
                reuse_port,
                defer_accept: Some(http_server::h1::DEFER_ACCEPT),
            },
        };
        py.detach(move || {
            let site = Site {
                env_slot: &env_slot,
                app,
                opts: &opts,
                metrics: None,
                tls,
            };
            if proxy_protocol {
                tracing::info!("expecting a PROXY protocol header on every connection");
                metered(&at, config, ProxyProtocol::new(protocol), site)
            } else {
                metered(&at, config, protocol, site)
            }
        })
        .map_err(|e| match e.downcast::<supervisor::Error>() {
            Ok(e) => crate::net::to_py(*e),
            Err(e) => to_py(&*e),
        })
    }

    /// The bound address: `(host, port)`, or the socket's path for `unix` (the first
    /// one's, with several `bind` addresses).
    #[getter]
    fn server_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::net::address_to_py(py, &self.addresses[0])
    }

    /// Every bound address, in the order of `bind`.
    #[getter]
    fn server_addresses<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        crate::net::addresses_to_py(py, &self.addresses)
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
        let served = interruptible(py, move || handle.shutdown(), run);
        // The server stopped: write out the buffered access lines.
        crate::log::flush();
        served?.map_err(|e| to_py(&e))
    }

    /// Starts a graceful shutdown (from any thread or a signal handler) and returns at once.
    /// `timeout`, when given, replaces `shutdown_timeout` as the grace period; a second
    /// call can only make the deadline earlier (`shutdown(0)`: close every connection now).
    #[pyo3(signature = (timeout = None))]
    fn shutdown(&self, timeout: Option<f64>) -> PyResult<()> {
        match timeout {
            Some(t) => self.handle.shutdown_within(secs("timeout", t)?),
            None => self.handle.shutdown(),
        }
        Ok(())
    }

    /// Connections open now.
    fn connections(&self) -> usize {
        self.handle.connections()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The HTTPS acceptor of `tls_cert`, `tls_key` and `tls_password_file` (`demo`'s
/// `--tls-cert`, `--tls-key`, `--tls-password-file`); a file that cannot be read or used
/// is an `OSError` naming it.
fn tls_acceptor(
    cert: std::path::PathBuf,
    key: Option<std::path::PathBuf>,
    password_file: Option<std::path::PathBuf>,
) -> PyResult<TlsAcceptor> {
    let fail = |e: &dyn std::fmt::Display| PyOSError::new_err(e.to_string());
    let tls = TlsConfig::from_files(cert, key, password_file).map_err(|e| fail(&e))?;
    http_server::https_acceptor(&tls).map_err(|e| fail(&e))
}

/// Counts requests for `metrics_bind` when it is set, then binds.
fn metered<P: Protocol + 'static>(
    at: &Where<'_>,
    config: EventLoopConfig,
    protocol: P,
    mut site: Site<'_>,
) -> Result<Server, BoxError> {
    if site.opts.metrics_bind.is_some() {
        let metrics = Arc::new(HttpMetrics::default());
        site.metrics = Some(metrics.clone());
        self::bind(at, config, Metered::new(protocol, metrics), site)
    } else {
        self::bind(at, config, protocol, site)
    }
}

/// Where `Server` listens: the keyword arguments `host`, `port`, `unix`, `bind`.
struct Where<'a> {
    host: &'a str,
    port: u16,
    unix: Option<&'a std::path::Path>,
    binds: &'a [supervisor::Bind],
    pid: Option<&'a std::path::Path>,
    options: supervisor::BindOptions,
}

/// Binds (or takes the sockets a supervisor or systemd passed), fills the base environ:
/// `demo`'s `bind_and_serve` up to the serving.
fn bind<P: Protocol + 'static>(
    at: &Where<'_>,
    config: EventLoopConfig,
    protocol: P,
    site: Site<'_>,
) -> Result<Server, BoxError> {
    if let Some(mut worker) = supervisor::Worker::from_env()? {
        // A `--workers` worker: the supervisor's listeners, and its request budget.
        let listeners = worker.take_listeners();
        let addrs = addresses(&listeners)?;
        let protocol = worker.counted(protocol);
        let server = EventLoopServer::from_listeners(listeners, config, protocol)?;
        let files = SocketFiles::default();
        return finish(server, addrs, site, Some(worker), files, None);
    }
    let inherited = listen_fds()?;
    if !inherited.is_empty() {
        tracing::info!(
            "serving {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        let addrs = addresses(&inherited)?;
        let server = EventLoopServer::from_listeners(inherited, config, protocol)?;
        let files = SocketFiles::default();
        return finish(server, addrs, site, None, files, at.pid);
    }
    if !at.binds.is_empty() || at.unix.is_some() {
        // `unix`: one `unix:PATH` address (a stale socket file is replaced, a live one is
        // an error; the file goes when the server stops).
        let unix = at.unix.map(|p| [supervisor::Bind::Unix(p.to_path_buf())]);
        let binds = unix.as_ref().map_or(at.binds, |u| &u[..]);
        let (listeners, files) = supervisor::listen_all(binds, &at.options)?;
        let addrs = addresses(&listeners)?;
        let server = EventLoopServer::from_listeners(listeners, config, protocol)?;
        return finish(server, addrs, site, None, files, at.pid);
    }
    // One SO_REUSEPORT listener per event loop (no accept contention between loops); a
    // port in use is an error naming the address unless `reuse_port` shares it.
    let server = supervisor::bind_event_loops(at.host, at.port, config, protocol)?;
    let addrs = vec![server.local_addr().clone()];
    finish(server, addrs, site, None, SocketFiles::default(), at.pid)
}

/// The addresses of `listeners`.
fn addresses(listeners: &[Listener]) -> std::io::Result<Vec<Address>> {
    listeners.iter().map(Listener::local_addr).collect()
}

/// What the bound server completes: the handlers' shared state, once its address is known.
struct Site<'a> {
    env_slot: &'a EnvSlot,
    app: Arc<dyn Application>,
    opts: &'a Options,
    /// The counters `Metered` fills, when `metrics_bind` asks for them.
    metrics: Option<Arc<HttpMetrics>>,
    /// HTTPS, when `tls_cert` asks for it.
    tls: Option<TlsAcceptor>,
}

/// The bound server as `Server`: its base environ, its addresses and its `serve()`.
fn finish<P: Protocol + 'static>(
    mut server: EventLoopServer<P>,
    addresses: Vec<Address>,
    site: Site<'_>,
    worker: Option<supervisor::Worker>,
    files: SocketFiles,
    pid: Option<&std::path::Path>,
) -> Result<Server, BoxError> {
    let Site {
        env_slot,
        app,
        opts,
        metrics,
        tls,
    } = site;
    let pid = pid.map(supervisor::PidFile::write).transpose()?;
    let https = tls.is_some();
    if let Some(acceptor) = tls {
        server = server.tls(acceptor);
    }
    server.info_mut().multithread = true;
    server.info_mut().multiprocess = opts.multiprocess;
    let info = server.info().clone();
    let mut env = base_environ(&info.server_name, info.server_port);
    if https {
        // CGI's `HTTPS=on`: `wsgi.url_scheme` is `https` (wsgiref's `guess_scheme`).
        env.insert("HTTPS".to_owned(), "on".to_owned());
    }
    let shared = WsgiShared::new(app, env).with_errors(crate::log::errors_stream());
    let _ = env_slot.set(Arc::new(shared));
    let handle = server.handle();
    let watched = handle.clone();
    let render = metrics.map(|m| {
        let handle = handle.clone();
        move || m.render_with(&handle)
    });
    if let (None, Some(addr), Some(render)) = (&worker, &opts.metrics_bind, render.clone()) {
        // Its own listener, never the application's (it lives as long as the process).
        let l = std::net::TcpListener::bind(addr).map_err(|source| supervisor::Error::Listen {
            address: addr.clone(),
            source,
        })?;
        tracing::info!("metrics at http://{}/metrics", l.local_addr()?);
        supervisor::serve_metrics(l, render)?;
    }
    let worker = worker.map(Arc::new);
    Ok(Server {
        run: Mutex::new(Some(Box::new(move || {
            let fail = std::io::Error::other;
            if let Some(w) = &worker {
                // Stops when the supervisor is gone; beats only while the loops progress
                // and the GIL can be taken (a C call holding it wedges every request
                // while the loops hand off to new threads).
                w.watch(&watched).map_err(fail)?;
                let stopping = watched.clone();
                w.add_liveness(move || stopping.is_shutting_down() || crate::gil::can_take());
                if let Some(render) = render.clone() {
                    // The supervisor sums every worker's snapshot.
                    w.push_metrics(&watched, render).map_err(fail)?;
                }
                w.ready().map_err(fail)?;
            }
            let served = server.serve();
            if let (Some(w), Some(render)) = (&worker, &render) {
                // The last counts, so the supervisor's sums keep them after this exits.
                let _ = w.send_metrics(&render());
            }
            drop((files, pid));
            served
        }))),
        handle,
        addresses,
    })
}
