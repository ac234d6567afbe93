//! The socket half of `simple_server` (feature `simple-server`): `WSGIServer`,
//! `WSGIRequestHandler` and `make_server` on top of `http_server`.
//!
//! The HTTP layer owns the response's framing: the handler hands the status and headers
//! the gateway produced to the [`Exchange`] (through [`HandlerIo::send_head`]), and the
//! body through [`Exchange::write_body`]; the exchange decides how the body is delimited
//! and the server enforces it.

use std::collections::BTreeMap;
use std::io::{self, Cursor};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};

use http_server::field::Fields;
use http_server::framing::Framing;
use http_server::{Exchange, HttpConfig, HttpHandler, HttpHooks, HttpServer, MakeHandler};
use socketserver::HandlerCx;

use super::{
    Base, REQUEST_KEYS, RequestParts, SERVER_VERSION, ServerHooks, base_environ, fill_environ,
};
use crate::error::{Error, Result};
use crate::handlers::{BaseHandler, HandlerConfig, HandlerIo, Head};
use crate::types::{Application, Environ, ErrorStream, InputStream};

/// What every request handler of one WSGI server shares, built once when the server binds
/// (or its application or base environ is set): the application, the base environ (as
/// Python's dict, and packed for copying into each request's environ), the error stream,
/// and the `ServerHandler` configuration (made on the first request, from the HTTP
/// server's class attributes and facts).
///
/// Python: the attributes `application` and `base_environ` of
/// `wsgiref.simple_server.WSGIServer`, which each `WSGIRequestHandler` reads through
/// `self.server`.
#[doc(alias = "wsgiref.simple_server.WSGIServer.base_environ")]
pub struct WsgiShared<A: ?Sized> {
    app: Arc<A>,
    base_environ: BTreeMap<String, String>,
    packed: Environ,
    /// `packed` holds none of [`REQUEST_KEYS`], so they are set without a lookup.
    request_keys_absent: bool,
    errors: ErrorStream,
    /// The `ServerHandler` configuration, with its `Server` field checked once.
    config: OnceLock<(Arc<HandlerConfig>, Fields)>,
}

impl<A: ?Sized> std::fmt::Debug for WsgiShared<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiShared")
            .field("base_environ", &self.base_environ)
            .finish_non_exhaustive()
    }
}

impl<A: Application + ?Sized> WsgiShared<A> {
    /// The state for `app` with `base_environ`; `wsgi.errors` goes to the process's
    /// stderr.
    pub fn new(app: Arc<A>, base_environ: BTreeMap<String, String>) -> Self {
        let mut packed = Environ::new();
        packed.extend_vars(&base_environ);
        let request_keys_absent = !REQUEST_KEYS.iter().any(|k| packed.contains_var(k));
        WsgiShared {
            app,
            base_environ,
            packed,
            request_keys_absent,
            errors: ErrorStream::stderr(),
            config: OnceLock::new(),
        }
    }

    /// Sends `wsgi.errors` and the error log to `errors` instead of the process's stderr.
    #[must_use]
    pub fn with_errors(mut self, errors: ErrorStream) -> Self {
        self.errors = errors;
        self
    }

    /// Python: `wsgiref.simple_server.WSGIServer.get_app`.
    pub fn app(&self) -> &Arc<A> {
        &self.app
    }

    /// Python: `wsgiref.simple_server.WSGIServer.base_environ`.
    pub fn base_environ(&self) -> &BTreeMap<String, String> {
        &self.base_environ
    }

    /// The `ServerHandler` configuration of this server's requests: HTTP/1.1 responses
    /// when the HTTP server speaks it, the `Server` string of its error replies, and
    /// `wsgi.multithread` / `wsgi.multiprocess` as the server runs; and the `Server` field,
    /// checked once (empty if it fails the check: each response then checks it, and fails).
    fn handler_config(&self, ex: &Exchange<'_>) -> &(Arc<HandlerConfig>, Fields) {
        self.config.get_or_init(|| {
            let http = ex.config();
            let mut config = HandlerConfig::simple();
            config.wsgi_multithread = ex.server().multithread;
            config.wsgi_multiprocess = ex.server().multiprocess;
            config.http_version = if http.protocol_version == "HTTP/1.1" {
                "1.1"
            } else {
                HTTP_VERSION
            }
            .to_owned();
            // One `Server` string everywhere: the HTTP server's error replies send it.
            let server = format!("{} {}", http.server_version, http.sys_version);
            let mut field = Fields::new();
            let _ = field.push("Server", &server);
            config.server_software = Some(server);
            (Arc::new(config), field)
        })
    }
}

/// Python: `wsgiref.simple_server.WSGIRequestHandler`. The 414 path of its `handle`
/// (a request line over 65536 bytes) is `http_server::handle_one_request`'s, which calls
/// [`HttpHandler::do_method`] here for every parsed request.
///
/// Handles one HTTP request by running the WSGI application: every method goes to the
/// application.
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler")]
pub struct WsgiRequestHandler<A: ?Sized> {
    shared: Arc<WsgiShared<A>>,
}

impl<A: ?Sized> std::fmt::Debug for WsgiRequestHandler<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiRequestHandler")
            .field("shared", &self.shared)
            .finish()
    }
}

/// The response's HTTP version under the faithful face (Python: `ServerHandler.http_version`).
const HTTP_VERSION: &str = "1.0";

impl<A: Application + ?Sized> WsgiRequestHandler<A> {
    /// A handler running `app` with `base_environ`. A server makes its handlers with
    /// [`shared`](Self::shared) instead, so the base environ is packed once.
    pub fn new(app: Arc<A>, base_environ: Arc<BTreeMap<String, String>>) -> Self {
        Self::shared(Arc::new(WsgiShared::new(app, (*base_environ).clone())))
    }

    /// A handler for the server whose shared state is `shared` (one reference count per
    /// request).
    pub fn shared(shared: Arc<WsgiShared<A>>) -> Self {
        WsgiRequestHandler { shared }
    }

    /// Sends `wsgi.errors` and the error log to `errors` instead of the server's stream.
    #[must_use]
    pub fn with_errors(mut self, errors: ErrorStream) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => shared.errors = errors,
            None => {
                let shared = WsgiShared::new(
                    Arc::clone(&self.shared.app),
                    self.shared.base_environ.clone(),
                );
                self.shared = Arc::new(shared.with_errors(errors));
            }
        }
        self
    }

    /// The request's CGI variables. Python: `WSGIRequestHandler.get_environ`; the rules are
    /// [`environ_for_request`](super::environ_for_request)'s.
    #[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.get_environ")]
    pub fn get_environ(&self, ex: &Exchange<'_>) -> BTreeMap<String, String> {
        self.environ(ex)
            .vars()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// [`get_environ`](Self::get_environ) as the [`Environ`] the application gets: the
    /// base environ copied in, then the header values from the wire bytes in one copy.
    fn environ(&self, ex: &Exchange<'_>) -> Environ {
        let mut client = [0u8; 15];
        let client = client_host(ex.client_address(), &mut client);
        let mut env = Environ::with_capacity(512, 24);
        env.copy_vars_from(&self.shared.packed);
        fill_environ(
            &mut env,
            Base::Copied {
                request_keys_absent: self.shared.request_keys_absent,
            },
            &RequestParts {
                command: &ex.command,
                path: &ex.path,
                request_version: &ex.request_version,
                headers: &[],
                client_address: &client,
                server_version: &ex.config().server_version,
            },
            ex.headers.iter(),
        );
        env
    }

    /// Python: `wsgiref.simple_server.WSGIRequestHandler.get_stderr`.
    ///
    /// The stream for `wsgi.errors` (the process's stderr unless the server chose
    /// another).
    #[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.get_stderr")]
    pub fn stderr(&self) -> ErrorStream {
        self.shared.errors.clone()
    }

    /// Python: `wsgiref.simple_server.WSGIRequestHandler.handle` (after `parse_request`).
    /// The request body (`Content-Length` bytes, or a de-chunked body) is read before the
    /// application runs and served as `wsgi.input`, which therefore ends where the body
    /// ends (PEP 3333's advice; CPython hands the raw socket file over).
    ///
    /// Runs the application for the parsed request through a `ServerHandler`, then logs the
    /// request (status code and bytes sent). The connection stays open when the HTTP layer
    /// keeps it (HTTP/1.1, a response the client can delimit) and the response is whole.
    #[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.handle")]
    pub fn handle(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let environ = self.environ(ex);
        let mut body = Vec::new();
        ex.read_body(&mut body).map_err(http_to_io)?;
        let (config, server) = self.shared.handler_config(ex);
        let config = Arc::clone(config);
        let polled = ex.cx().polled();
        let mut logged: Option<(Option<u16>, u64)> = None;
        let (outcome, broken) = {
            let io = ExchangeIo {
                event_loops: ex.cx().sink().is_some(),
                ex: &mut *ex,
                written: 0,
                stdin: if body.is_empty() {
                    InputStream::empty()
                } else {
                    InputStream::new(Cursor::new(body))
                },
                errors: self.shared.errors.clone(),
                environ: Some(environ),
                server,
            };
            let hooks = ServerHooks::new(|code: &str, size: u64| {
                logged = Some((code.parse().ok(), size));
            })
            .with_polled(polled);
            let mut handler = BaseHandler::new(io, hooks, config);
            let outcome = handler.run(&*self.shared.app);
            (outcome, handler.must_close())
        };
        if broken || outcome.is_err() {
            tracing::debug!("response broken: closing the connection");
            ex.close_connection = true;
        } else {
            ex.finish_body()?;
        }
        if let Some((code, size)) = logged {
            self.log_request(ex, code, Some(size));
        }
        outcome
    }
}

impl<A: Application + ?Sized> HttpHandler for WsgiRequestHandler<A> {
    /// Every method goes to the application.
    fn do_method(&mut self, ex: &mut Exchange<'_>) -> http_server::Result<()> {
        self.handle(ex).map_err(|e| match e {
            Error::Io(e) => http_server::Error::Io(e),
            Error::Http(e) => e,
            other => http_server::Error::handler(other),
        })
    }
}

/// An HTTP layer error as the I/O error the gateway's seam speaks.
fn http_to_io(e: http_server::Error) -> io::Error {
    match e {
        http_server::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// `ServerHandler`'s I/O under the HTTP server: the head goes to the [`Exchange`] as a
/// status and fields, the body through [`Exchange::write_body`], so the HTTP layer frames
/// the response. A body is streamed (PEP 3333: servers "must not delay the transmission of
/// any block"): each write is flushed, which under the event loops sends it at once,
/// except the write that completes a body of known length, which goes out with the rest of
/// the loop's batch when the handler returns.
///
/// Under the event loops (the production face) the body also stops at its declared
/// length ([`HandlerIo::body_room`]); the faithful face iterates it to the end, as
/// wsgiref does.
struct ExchangeIo<'e, 'a> {
    ex: &'e mut Exchange<'a>,
    /// Body bytes handed to the exchange.
    written: u64,
    /// Served by the event loops (the production face: a sink), not the faithful face.
    event_loops: bool,
    stdin: InputStream,
    errors: ErrorStream,
    environ: Option<Environ>,
    /// The server's `Server` field, checked when the server made it.
    server: &'e Fields,
}

impl HandlerIo for ExchangeIo<'_, '_> {
    fn write_raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.written += data.len() as u64;
        self.ex.write_body(data).map_err(http_to_io)
    }

    /// Flushes a body of unknown length (chunked or close-delimited, as the exchange framed
    /// it) and a body of known length not yet complete; the write that completes a body
    /// goes out when the handler returns.
    fn flush_raw(&mut self) -> io::Result<()> {
        match self.ex.framing() {
            Some(Framing::Chunked | Framing::Close) => self.ex.stream().flush(),
            Some(Framing::Length(n)) if self.written < n => self.ex.stream().flush(),
            _ => Ok(()),
        }
    }

    /// Under the event loops: what is left of a declared length, `Some(0)` for a response
    /// that may have no body. The faithful face (no sink) has no limit, as wsgiref.
    fn body_room(&self) -> Option<u64> {
        if !self.event_loops {
            return None;
        }
        match self.ex.framing()? {
            Framing::Length(n) => Some(n.saturating_sub(self.written)),
            Framing::NoBody => Some(0),
            Framing::Chunked | Framing::Close => None,
        }
    }

    /// A `FileWrapper` over a real file, under the event loops and with a known length:
    /// `sendfile(2)` through the exchange ([`Exchange::send_file`]); otherwise `None`, and
    /// the handler iterates the file.
    fn sendfile(&mut self, file: &mut std::fs::File) -> io::Result<Option<u64>> {
        let sent = self.ex.send_file(file).map_err(http_to_io)?;
        self.written += sent.unwrap_or(0);
        Ok(sent)
    }

    fn send_head(&mut self, head: &Head<'_>) -> io::Result<()> {
        let Some(_version) = head.http_version else {
            // A CGI head has no place on an HTTP connection.
            let mut out = Vec::new();
            head.write_to(&mut out);
            return self.ex.write_body(&out).map_err(http_to_io);
        };
        let code = head
            .status
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(500);
        let reason = head.status.get(4..).unwrap_or("");
        // Under the event loops, a `Content-Length` that cannot describe the body: none on
        // a 1xx or 204 (RFC 9110 §8.6: "MUST NOT"), and not the `0` that wsgiref sets for
        // an empty body on a 304 or a `HEAD` response, whose length is the one a 200 `GET`
        // would have (§8.6, §9.3.2).
        let drop_length = self.event_loops
            && (code < 200 || code == 204 || code == 304 || self.ex.command == "HEAD");
        let ex = &mut *self.ex;
        let sent = (|| {
            ex.send_response_only(code, Some(reason))?;
            if let Some(date) = head.date {
                ex.send_header_with("Date", date)?;
            }
            match head.server {
                // The server's own value: checked once, sent as it is.
                Some(server) if self.server.iter().next().map(|f| f.1) == Some(server) => {
                    ex.send_fields(self.server);
                }
                Some(server) => ex.send_header("Server", server)?,
                None => {}
            }
            match head.headers {
                Some(headers) if drop_length => {
                    for (name, value) in headers.fields() {
                        if name.eq_ignore_ascii_case("content-length")
                            && (code < 200 || code == 204 || value == "0")
                        {
                            continue;
                        }
                        ex.send_header(name, value)?;
                    }
                }
                Some(headers) => ex.send_fields(headers.fields()),
                None => {}
            }
            ex.end_headers_framed()
        })();
        sent.map(drop).map_err(http_to_io)
    }

    fn stdin(&mut self) -> InputStream {
        self.stdin.clone()
    }

    fn stderr(&mut self) -> ErrorStream {
        self.errors.clone()
    }

    fn add_cgi_vars(&self, _environ: &mut Environ) {}

    fn take_environ(&mut self) -> Option<Environ> {
        self.environ.take()
    }
}

/// The client's host as text (`Address::host`), formatted into `buf` without allocating
/// for IPv4 addresses.
fn client_host<'b>(
    address: &socketserver::Address,
    buf: &'b mut [u8; 15],
) -> std::borrow::Cow<'b, str> {
    match address.inet() {
        // Without `fmt`, which costs about a thousand instructions here.
        Some(SocketAddr::V4(sa)) => std::borrow::Cow::Borrowed(stdx::dotted_quad(*sa.ip(), buf)),
        _ => std::borrow::Cow::Owned(address.host()),
    }
}

/// Python: `WSGIServer`'s handler class, `WSGIRequestHandler`, bound to the server's
/// `application` and `base_environ`.
///
/// The handler factory of a [`WsgiServer`]: every request's [`WsgiRequestHandler`] shares
/// its [`WsgiShared`] (one reference count per request, no lock).
#[doc(alias = "wsgiref.simple_server.WSGIServer.RequestHandlerClass")]
pub struct WsgiHooks<A: ?Sized> {
    shared: Arc<WsgiShared<A>>,
}

impl<A: ?Sized> std::fmt::Debug for WsgiHooks<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiHooks")
            .field("shared", &self.shared)
            .finish()
    }
}

impl<A: Application + ?Sized> WsgiHooks<A> {
    /// Hooks whose handlers share `shared`.
    pub fn new(shared: WsgiShared<A>) -> Self {
        WsgiHooks {
            shared: Arc::new(shared),
        }
    }

    /// The state the handlers share.
    pub fn shared(&self) -> &WsgiShared<A> {
        &self.shared
    }
}

impl<A: Application + ?Sized + 'static> MakeHandler for WsgiHooks<A> {
    type Handler = WsgiRequestHandler<A>;

    fn make_handler(&self, _cx: &HandlerCx<'_>) -> WsgiRequestHandler<A> {
        WsgiRequestHandler::shared(Arc::clone(&self.shared))
    }
}

/// Python: `wsgiref.simple_server.WSGIServer`, a subclass of `http.server.HTTPServer`.
///
/// A WSGI server is the HTTP server whose handler factory is [`WsgiHooks`]: the methods of
/// `HTTPServer` are its own (`handle_request`, `serve_forever`, `shutdown_handle`,
/// `server_address`, `server_close`...), and [`WsgiServerExt`] adds `WSGIServer`'s
/// (`set_app`, `get_app`, `setup_environ`, `base_environ`).
///
/// ```no_run
/// use gateway::simple_server::{demo_app, WsgiServer, WsgiServerExt};
/// let mut server = WsgiServer::bind("127.0.0.1:8000".parse().unwrap(), demo_app)?;
/// server.handle_request()?; // serve one request, then exit
/// # Ok::<(), gateway::Error>(())
/// ```
#[doc(alias = "wsgiref.simple_server.WSGIServer")]
pub type WsgiServer<A> = HttpServer<WsgiHooks<A>>;

/// Python: `wsgiref.simple_server.WSGIRequestHandler.server_version`.
///
/// The `http.server` class attributes of `WSGIRequestHandler`: `server_version`
/// `"WSGIServer/0.2"`.
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.server_version")]
pub fn http_config() -> HttpConfig {
    HttpConfig::default().server_version(SERVER_VERSION)
}

/// Python: the methods `wsgiref.simple_server.WSGIServer` adds to `HTTPServer`.
///
/// Bring it into scope (`use gateway::simple_server::WsgiServerExt`) to call them on a
/// [`WsgiServer`].
#[doc(alias = "wsgiref.simple_server.WSGIServer")]
pub trait WsgiServerExt<A: ?Sized>: Sized {
    /// Python: `wsgiref.simple_server.WSGIServer(server_address, WSGIRequestHandler)` then
    /// `set_app(app)`.
    ///
    /// Binds `address` and serves `app`.
    fn bind(address: SocketAddr, app: impl Into<Arc<A>>) -> Result<Self>
    where
        A: Sized,
    {
        Self::bind_arc(address, app.into())
    }

    /// Same as [`bind`](Self::bind), for an application already shared (or unsized).
    fn bind_arc(address: SocketAddr, app: Arc<A>) -> Result<Self>;

    /// Python: `wsgiref.simple_server.WSGIServer.setup_environ` (called by `server_bind`).
    ///
    /// Computes the base environ from the bound address (run by [`bind`](Self::bind)).
    fn setup_environ(&mut self);

    /// Python: `wsgiref.simple_server.WSGIServer.base_environ`.
    fn base_environ(&self) -> BTreeMap<String, String>;

    /// Python: `wsgiref.simple_server.WSGIServer.get_app`.
    fn app(&self) -> Arc<A>;

    /// Python: `wsgiref.simple_server.WSGIServer.set_app`.
    ///
    /// Replaces the application (for the requests handled from now on).
    fn set_app(&mut self, app: Arc<A>);

    /// Sends `wsgi.errors` and application tracebacks to `errors` instead of stderr.
    fn set_errors(&mut self, errors: ErrorStream);
}

impl<A: Application + ?Sized + 'static> WsgiServerExt<A> for WsgiServer<A> {
    fn bind_arc(address: SocketAddr, app: Arc<A>) -> Result<Self> {
        let hooks = WsgiHooks::new(WsgiShared::new(app, BTreeMap::new()));
        let mut server = HttpHooks::new(hooks)
            .config(http_config())
            .server(address)?;
        server.setup_environ();
        Ok(server)
    }

    #[doc(alias = "wsgiref.simple_server.WSGIServer.setup_environ")]
    #[doc(alias = "wsgiref.simple_server.WSGIServer.server_bind")]
    fn setup_environ(&mut self) {
        let info = self.info();
        let env = base_environ(&info.server_name, info.server_port);
        let old = self.hooks().factory().shared();
        let shared = WsgiShared::new(Arc::clone(&old.app), env).with_errors(old.errors.clone());
        *self.hooks_mut().factory_mut() = WsgiHooks::new(shared);
    }

    #[doc(alias = "wsgiref.simple_server.WSGIServer.base_environ")]
    fn base_environ(&self) -> BTreeMap<String, String> {
        self.hooks().factory().shared().base_environ.clone()
    }

    #[doc(alias = "wsgiref.simple_server.WSGIServer.get_app")]
    fn app(&self) -> Arc<A> {
        Arc::clone(&self.hooks().factory().shared().app)
    }

    #[doc(alias = "wsgiref.simple_server.WSGIServer.set_app")]
    fn set_app(&mut self, app: Arc<A>) {
        let old = self.hooks().factory().shared();
        let shared = WsgiShared::new(app, old.base_environ.clone()).with_errors(old.errors.clone());
        *self.hooks_mut().factory_mut() = WsgiHooks::new(shared);
    }

    fn set_errors(&mut self, errors: ErrorStream) {
        let old = self.hooks().factory().shared();
        let shared =
            WsgiShared::new(Arc::clone(&old.app), old.base_environ.clone()).with_errors(errors);
        *self.hooks_mut().factory_mut() = WsgiHooks::new(shared);
    }
}

/// Python: `wsgiref.simple_server.make_server(host, port, app)`.
///
/// Creates a WSGI server listening on `host`:`port` for `app` (`""` listens on every
/// interface, as Python's `''`).
///
/// ```no_run
/// use gateway::simple_server::{demo_app, make_server};
/// let mut httpd = make_server("", 8000, demo_app)?;
/// httpd.handle_request()?; // serve one request, then exit
/// # Ok::<(), gateway::Error>(())
/// ```
#[doc(alias = "wsgiref.simple_server.make_server")]
pub fn make_server<A: Application + 'static>(
    host: &str,
    port: u16,
    app: A,
) -> Result<WsgiServer<A>> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let address = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}")))?;
    WsgiServer::bind(address, app)
}
