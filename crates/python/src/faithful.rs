//! The faithful face for Python: `wsgiref.simple_server`'s server on the Rust core (one
//! thread, `handle_request`/`serve_forever`, HTTP/1.0, one request per connection), and
//! one request served over a Python `(rfile, wfile)` pair (what
//! `WSGIRequestHandler.handle` does when a test hands it in-memory files).
//!
//! The server is `http_server`'s `HTTPServer` whose handler is
//! `gateway::simple_server::WsgiRequestHandler`, as `gateway::simple_server::WsgiServer`
//! builds it, with the `Server` header this interpreter's wsgiref writes
//! (`WSGIServer/0.2 CPython/3.11.7`; `WSGIServer CPython/3.15.0` from 3.15).

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gateway::simple_server::{SERVER_VERSION, WsgiRequestHandler, base_environ, http_config};
use gateway::{Application, ErrorStream};
use http_server::{HttpConfig, HttpHooks, HttpServer, Responses};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use socketserver::{Address, HandlerCx, ServerInfo, ShutdownHandle};

use crate::app::PyApp;
use crate::environ::{EnvTemplate, ErrorsTo};
use crate::errors::to_py;
use crate::log::{PyStderr, to_python_stderr, with_log_hook};

/// `platform.python_implementation() + "/" + sys.version.split()[0]`: the `sys_version`
/// of CPython's `http.server`, so the `Server` header reads as under wsgiref.
pub(crate) fn python_sys_version(py: Python<'_>) -> String {
    (|| -> PyResult<String> {
        let imp: String = py
            .import("platform")?
            .call_method0("python_implementation")?
            .extract()?;
        let version: String = py.import("sys")?.getattr("version")?.extract()?;
        let first = version.split_whitespace().next().unwrap_or("").to_owned();
        Ok(format!("{imp}/{first}"))
    })()
    .unwrap_or_else(|_| "Python".to_owned())
}

/// This interpreter's `wsgiref.simple_server.WSGIRequestHandler.server_version`:
/// `WSGIServer/0.2` up to 3.14, `WSGIServer` from 3.15 (which deprecated the module's
/// `__version__`); the gateway's (3.11's) when it cannot be read.
pub(crate) fn python_server_version(py: Python<'_>) -> String {
    (|| -> PyResult<String> {
        py.import("wsgiref.simple_server")?
            .getattr("WSGIRequestHandler")?
            .getattr("server_version")?
            .extract()
    })()
    .unwrap_or_else(|_| SERVER_VERSION.to_owned())
}

/// This interpreter's `http.server.BaseHTTPRequestHandler.responses`, so error pages and
/// reason phrases read as under its wsgiref (3.13 renamed `414` to `"URI Too Long"`);
/// the built-in table (CPython 3.11's) when it is the same or cannot be read.
pub(crate) fn python_responses(py: Python<'_>) -> Responses {
    (|| -> PyResult<Responses> {
        let table = py
            .import("http.server")?
            .getattr("BaseHTTPRequestHandler")?
            .getattr("responses")?;
        let mut entries = Vec::new();
        for (code, pair) in table.cast::<PyDict>()?.iter() {
            let (phrase, explain): (String, String) = pair.extract()?;
            entries.push((code.extract::<u16>()?, phrase, explain));
        }
        Ok(Responses::new(entries))
    })()
    .unwrap_or_default()
}

/// `http_config()` with this interpreter's wsgiref `server_version`, its runtime as
/// `sys_version` and its status table.
pub(crate) fn python_http_config(py: Python<'_>) -> HttpConfig {
    http_config()
        .server_version(python_server_version(py))
        .sys_version(python_sys_version(py))
        .responses(python_responses(py))
}

/// An application that can be replaced while served (Python: `WSGIServer.set_app`).
pub(crate) struct SwappableApp {
    app: std::sync::RwLock<Arc<PyApp>>,
}

impl std::fmt::Debug for SwappableApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwappableApp")
    }
}

impl Application for SwappableApp {
    fn call(
        &self,
        environ: &gateway::Environ,
        sr: &mut dyn gateway::StartResponse,
    ) -> gateway::Result<gateway::Body> {
        let app = self
            .app
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        app.call(environ, sr)
    }
}

type Factory = Box<dyn Fn(&HandlerCx<'_>) -> WsgiRequestHandler<SwappableApp> + Send + Sync>;

/// Python: `wsgiref.simple_server.WSGIServer` (the socket part; the class itself is in
/// `pyserve/simple_server.py`).
#[doc(alias = "wsgiref.simple_server.WSGIServer")]
#[pyclass(module = "pyserve._core", name = "FaithfulServer")]
pub(crate) struct FaithfulServer {
    server: Mutex<Option<HttpServer<Factory>>>,
    app: Arc<SwappableApp>,
    template: Arc<EnvTemplate>,
    shutdown: ShutdownHandle,
    address: SocketAddr,
    fileno: Option<i32>,
    /// Calls the request handler class's own log methods, when it overrides them
    /// (`pyserve.simple_server`'s `_log_hook`).
    log_hook: Option<Py<PyAny>>,
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}")))
}

#[pymethods]
impl FaithfulServer {
    /// Binds and listens (Python: `WSGIServer.__init__` → `server_bind` + `server_activate`).
    /// `log_hook`, when given, is called with the fields of each access-log event instead
    /// of writing its line (see `crate::log::with_log_hook`).
    #[new]
    #[pyo3(signature = (host, port, app, log_hook = None))]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        app: Py<PyAny>,
        log_hook: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        crate::log::ensure();
        let address = resolve(host, port)?;
        // With JSON log lines, `wsgi.errors` and tracebacks are log events too (as on the
        // production face); otherwise Python's `sys.stderr`, as wsgiref writes them.
        let json = crate::log::is_json();
        let errors_to = if json {
            ErrorsTo::ServerLog
        } else {
            ErrorsTo::SysStderr
        };
        let template = Arc::new(EnvTemplate::new(py, errors_to)?);
        let app = Arc::new(SwappableApp {
            app: std::sync::RwLock::new(Arc::new(PyApp::new(app, template.clone()))),
        });
        let env_slot: Arc<std::sync::OnceLock<Arc<BTreeMap<String, String>>>> = Arc::default();
        let (a, e) = (app.clone(), env_slot.clone());
        let factory: Factory = Box::new(move |_cx: &HandlerCx<'_>| {
            let env = e.get().cloned().unwrap_or_default();
            let errors = if json {
                crate::log::errors_stream()
            } else {
                ErrorStream::new(PyStderr::default())
            };
            WsgiRequestHandler::new(a.clone(), env).with_errors(errors)
        });
        let config = python_http_config(py);
        let server = py
            .detach(|| HttpHooks::new(factory).config(config).server(address))
            .map_err(|e| to_py(&e))?;
        let info = server.info();
        let _ = env_slot.set(Arc::new(base_environ(&info.server_name, info.server_port)));
        let address = server.server_address().inet().unwrap_or(address);
        let shutdown = server.shutdown_handle();
        let fileno = server.fileno();
        Ok(FaithfulServer {
            server: Mutex::new(Some(server)),
            app,
            template,
            shutdown,
            address,
            fileno,
            log_hook,
        })
    }

    /// `(host, port)` as bound.
    #[getter]
    fn server_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.address.ip().to_string().into_pyobject(py)?.into_any(),
                self.address.port().into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// The server's name as `HTTPServer.server_bind` sets it (`socket.getfqdn(host)`).
    #[getter]
    fn server_name(&self) -> String {
        self.with_server(|s| s.info().server_name.clone())
            .unwrap_or_default()
    }

    /// The listening socket's file descriptor.
    fn fileno(&self) -> Option<i32> {
        self.fileno
    }

    /// Python: `WSGIServer.set_app`.
    fn set_app(&self, app: Py<PyAny>) {
        let new = Arc::new(PyApp::new(app, self.template.clone()));
        *self.app.app.write().unwrap_or_else(PoisonError::into_inner) = new;
    }

    /// Python: `BaseServer.handle_request()`, waiting at most `timeout` seconds.
    #[pyo3(signature = (timeout = None))]
    fn handle_request(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let server = &self.server;
        let hook = self.log_hook.as_ref().map(|h| h.clone_ref(py));
        // On a helper thread, so that Python's signal handlers run meanwhile (a handler
        // may be what lets the client go on reading the response).
        let r = crate::gil::interruptible(
            py,
            || {},
            move || {
                let mut guard = server.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(server) = guard.as_mut() else {
                    return Ok(());
                };
                server.set_timeout(timeout.map(Duration::from_secs_f64));
                with_log_hook(hook, || server.handle_request())
            },
        )?;
        r.map_err(|e| to_py(&e))
    }

    /// Python: `BaseServer.serve_forever(poll_interval)`: serves until `shutdown()`.
    ///
    /// The loop runs on a helper thread while this one waits, waking every 100 ms to run
    /// Python's signal handlers (Ctrl-C raises `KeyboardInterrupt` here, after the loop
    /// stopped, as in CPython).
    #[pyo3(signature = (poll_interval = 0.5))]
    fn serve_forever(&self, py: Python<'_>, poll_interval: f64) -> PyResult<()> {
        let poll = Duration::from_secs_f64(poll_interval.max(0.001));
        let server = &self.server;
        let hook = self.log_hook.as_ref().map(|h| h.clone_ref(py));
        crate::gil::interruptible(
            py,
            || self.shutdown.shutdown(),
            move || {
                let mut guard = server.lock().unwrap_or_else(PoisonError::into_inner);
                match guard.as_mut() {
                    Some(server) => with_log_hook(hook, || server.serve_forever(poll)),
                    None => Ok(()),
                }
            },
        )?
        .map_err(|e| to_py(&e))
    }

    /// Python: `BaseServer.shutdown()`: stops `serve_forever` and waits for it.
    fn shutdown(&self, py: Python<'_>) {
        let handle = self.shutdown.clone();
        py.detach(|| handle.shutdown());
    }

    /// Python: `BaseServer.server_close()`.
    fn server_close(&self, py: Python<'_>) {
        py.detach(|| {
            let mut guard = self.server.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(mut server) = guard.take() {
                server.server_close();
            }
        });
    }
}

impl FaithfulServer {
    fn with_server<R>(&self, f: impl FnOnce(&HttpServer<Factory>) -> R) -> Option<R> {
        self.server.try_lock().ok().and_then(|g| g.as_ref().map(f))
    }
}

/// A Python `(rfile, wfile)` pair as the handler's buffered stream.
struct PyStream<'py> {
    rfile: Bound<'py, PyAny>,
    wfile: Bound<'py, PyAny>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for PyStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PyStream<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            let method = if self.rfile.hasattr("read1").unwrap_or(false) {
                "read1"
            } else {
                "read"
            };
            let data = self
                .rfile
                .call_method1(method, (8192,))
                .map_err(io::Error::other)?;
            let data = data
                .cast::<PyBytes>()
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.buf = data.as_bytes().to_vec();
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

impl Write for PyStream<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let py = self.wfile.py();
        self.wfile
            .call_method1("write", (PyBytes::new(py, data),))
            .map_err(io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.wfile.hasattr("flush").unwrap_or(false) {
            self.wfile.call_method0("flush").map_err(io::Error::other)?;
        }
        Ok(())
    }
}

/// Serves one request read from `rfile`, answered on `wfile`, with `app`: what
/// `WSGIRequestHandler.handle` does, for handlers whose `setup()` provides the files
/// (CPython's `test_wsgiref` drives its `MockHandler` so).
///
/// Python: `wsgiref.simple_server.WSGIRequestHandler.handle`.
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.handle")]
#[pyfunction]
#[pyo3(signature = (app, rfile, wfile, client_address, server_name, server_port))]
pub(crate) fn handle_streams(
    py: Python<'_>,
    app: Py<PyAny>,
    rfile: Bound<'_, PyAny>,
    wfile: Bound<'_, PyAny>,
    client_address: (String, u16),
    server_name: String,
    server_port: u16,
) -> PyResult<()> {
    crate::log::ensure();
    let template = Arc::new(EnvTemplate::new(py, ErrorsTo::SysStderr)?);
    let app = Arc::new(PyApp::new(app, template));
    let base = Arc::new(base_environ(&server_name, server_port));
    let mut handler =
        WsgiRequestHandler::new(app, base).with_errors(ErrorStream::new(PyStderr::default()));
    let ip: IpAddr = client_address
        .0
        .parse()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let client = Address::Inet(SocketAddr::new(ip, client_address.1));
    let mut info = ServerInfo::new(Address::Inet(SocketAddr::new(
        IpAddr::from([127, 0, 0, 1]),
        server_port,
    )));
    info.server_name = server_name;
    let cx = HandlerCx::new(&client, &info);
    let config = python_http_config(py);
    let mut stream = PyStream {
        rfile,
        wfile,
        buf: Vec::new(),
        pos: 0,
    };
    let r = to_python_stderr(|| {
        http_server::handle_one_request(&mut handler, &mut stream, &cx, &config)
    });
    let _ = stream.flush();
    r.map(drop).map_err(|e| to_py(&e))
}
