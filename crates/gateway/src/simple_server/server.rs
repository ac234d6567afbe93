//! The socket half of `simple_server` (feature `simple-server`): `WSGIServer`,
//! `WSGIRequestHandler` and `make_server` on top of `http_server`.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http_server::{BodyFraming, Exchange, HttpConfig, HttpHandler, HttpHooks, HttpServer};
use socketserver::HandlerCx;

use super::{
    Base, REQUEST_KEYS, RequestParts, SERVER_VERSION, ServerHooks, base_environ, fill_environ,
};
use crate::error::{Error, Result};
use crate::handlers::{BaseHandler, EnvironFacts, HandlerConfig, StreamIo};
use crate::types::{Application, Environ, ErrorStream, InputStream};

/// Python: `wsgiref.simple_server.WSGIRequestHandler`. The 414 path of its `handle`
/// (a request line over 65536 bytes) is `http_server::handle_one_request`'s, which calls
/// [`HttpHandler::do_method`] here for every parsed request.
///
/// Handles one HTTP request by running the WSGI application: every method goes to the
/// application, one request per connection (HTTP/1.0, as CPython).
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler")]
pub struct WsgiRequestHandler<A: ?Sized> {
    app: Arc<A>,
    base_environ: Arc<BTreeMap<String, String>>,
    errors: ErrorStream,
    http_version: &'static str,
}

impl<A: ?Sized> std::fmt::Debug for WsgiRequestHandler<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiRequestHandler")
            .field("base_environ", &self.base_environ)
            .field("http_version", &self.http_version)
            .finish_non_exhaustive()
    }
}

/// The response's HTTP version under the faithful face (Python: `ServerHandler.http_version`).
const HTTP_VERSION: &str = "1.0";

impl<A: Application + ?Sized> WsgiRequestHandler<A> {
    /// A handler running `app` with the server's base environ.
    pub fn new(app: Arc<A>, base_environ: Arc<BTreeMap<String, String>>) -> Self {
        WsgiRequestHandler {
            app,
            base_environ,
            errors: ErrorStream::stderr(),
            http_version: HTTP_VERSION,
        }
    }

    /// Sends `wsgi.errors` and the error log to `errors` instead of the process's stderr.
    #[must_use]
    pub fn with_errors(mut self, errors: ErrorStream) -> Self {
        self.errors = errors;
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
    /// header values go from the wire bytes into the environ's buffer in one copy.
    fn environ(&self, ex: &Exchange<'_>) -> Environ {
        self.environ_and_facts(ex).0
    }

    /// [`environ`](Self::environ), and what `setup_environ` would look up in it.
    fn environ_and_facts(&self, ex: &Exchange<'_>) -> (Environ, EnvironFacts) {
        let mut client = [0u8; 64];
        let client = client_host(ex.client_address(), &mut client);
        let mut env = Environ::with_capacity(512, 24);
        // The base environ, packed once per thread and copied with two memcpys per
        // request. The cache holds a clone of the `Arc`, so a pointer comparison is enough
        // (the address cannot be reused while it is cached).
        type Template = Option<(Arc<BTreeMap<String, String>>, Environ, bool, &'static str)>;
        thread_local! {
            static TEMPLATE: std::cell::RefCell<Template> = const { std::cell::RefCell::new(None) };
        }
        let (request_keys_absent, scheme) = TEMPLATE.with(|t| {
            let mut t = t.borrow_mut();
            if !t
                .as_ref()
                .is_some_and(|(base, ..)| Arc::ptr_eq(base, &self.base_environ))
            {
                let mut packed = Environ::new();
                packed.extend_vars(&self.base_environ);
                let absent = !REQUEST_KEYS.iter().any(|k| packed.contains_var(k));
                // `HTTPS` comes from the base environ alone: a header becomes `HTTP_*`.
                let scheme = crate::util::guess_scheme(&packed);
                *t = Some((self.base_environ.clone(), packed, absent, scheme));
            }
            t.as_ref()
                .map_or((false, "http"), |(_, packed, absent, scheme)| {
                    env.copy_vars_from(packed);
                    (*absent, *scheme)
                })
        });
        fill_environ(
            &mut env,
            Base::Copied {
                request_keys_absent,
            },
            &RequestParts {
                command: &ex.command,
                path: &ex.path,
                request_version: &ex.request_version,
                headers: &[],
                client_address: &client,
            },
            ex.headers.iter(),
        );
        // What `fill_environ` just set, as `setup_environ` would read it back.
        let version = ex.request_version.as_str();
        let facts = EnvironFacts {
            modern: !version.eq_ignore_ascii_case("HTTP/0.9"),
            http11: version.eq_ignore_ascii_case("HTTP/1.1"),
            head: ex.command == "HEAD",
            scheme,
            has_server_software: true,
        };
        (env, facts)
    }

    /// Python: `wsgiref.simple_server.WSGIRequestHandler.get_stderr`.
    ///
    /// The stream for `wsgi.errors` (the process's stderr unless
    /// [`with_errors`](Self::with_errors) chose another).
    #[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.get_stderr")]
    pub fn stderr(&self) -> ErrorStream {
        self.errors.clone()
    }

    /// Python: `wsgiref.simple_server.WSGIRequestHandler.handle` (after `parse_request`).
    /// The request body (`Content-Length` bytes, or a de-chunked body) is read before the
    /// application runs and served as `wsgi.input`, which therefore ends where the body
    /// ends (PEP 3333's advice; CPython hands the raw socket file over).
    ///
    /// Runs the application for the parsed request through a `ServerHandler`, then logs the
    /// request (status code and bytes sent).
    #[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.handle")]
    pub fn handle(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        // The faithful face (`protocol_version` HTTP/1.0) closes after every response, as
        // CPython; under HTTP/1.1 a connection the client keeps open stays open when the
        // response had a known length and nothing went wrong.
        let http11 = ex.config().protocol_version == "HTTP/1.1";
        let wants_keep_alive = http11 && !ex.close_connection;
        ex.close_connection = true;
        let (environ, facts) = self.environ_and_facts(ex);
        let body = read_body(ex)?;
        // One `Server` string everywhere: the same as the HTTP server's error replies.
        // `version_string` (not overridable here): `server_version sys_version`, formatted
        // only when the shared config is (re)built.
        let software = (
            ex.config().server_version.as_str(),
            ex.config().sys_version.as_str(),
        );
        let http_version = if http11 { "1.1" } else { self.http_version };
        let (config, plain_software) = handler_config(
            ex.server().multithread,
            ex.server().multiprocess,
            http_version,
            software,
        );
        let mut logged: Option<(Option<u16>, u64)> = None;
        let declared;
        let is_head = ex.command == "HEAD";
        let polled = ex.cx().polled();
        let keep_alive: bool;
        let outcome = {
            let io = StreamIo::from_streams(
                if body.is_empty() {
                    InputStream::empty()
                } else {
                    InputStream::new(Cursor::new(body))
                },
                ex.stream(),
                self.stderr(),
                BTreeMap::new(),
            )
            .with_environ(environ);
            let hooks = ServerHooks::new(|code: &str, size: u64| {
                logged = Some((code.parse().ok(), size));
            })
            .with_polled(polled);
            let mut handler = BaseHandler::new(io, hooks, config);
            handler.environ_facts = Some(facts);
            let outcome = handler.run(&*self.app);
            let broken = handler.must_close();
            if broken {
                tracing::debug!("response broken: closing the connection");
            }
            declared = handler.head_len().and_then(|len| {
                let facts = head_facts(
                    http_version,
                    handler.status()?,
                    handler.headers(),
                    plain_software,
                )?;
                Some((len, facts))
            });
            // Keep the connection only when the declared length is what was sent, so the
            // next request starts where the client expects it (read from the head's facts
            // when they were gathered, else from the headers).
            let framed = is_head
                || match &declared {
                    Some((_, facts)) => {
                        facts.length().filter(|_| !facts.conflicting())
                            == Some(handler.bytes_sent())
                            || facts.chunked()
                    }
                    None => {
                        let headers = handler.headers();
                        headers
                            .and_then(|h| h.get("Content-Length"))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            == Some(handler.bytes_sent())
                            || headers
                                .and_then(|h| h.get("Transfer-Encoding"))
                                .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
                    }
                };
            keep_alive =
                wants_keep_alive && outcome.is_ok() && handler.headers_sent() && !broken && framed;
            outcome
        };
        if let Some((len, facts)) = declared {
            ex.declare_head(len, facts);
        }
        ex.close_connection = !keep_alive;
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

/// What the event loops need to know of the head `send_headers` wrote (see
/// [`Exchange::declare_head`]), from what it was written from: `HTTP/<version> <status>`, the
/// `Date` and `Server` lines (no framing fields; `plain_software` says the `Server` value is
/// printable ASCII) and the response headers. `None` when the head may not read as the
/// facts say (a version, status or server name a client may not parse, more fields than
/// the loops' parse takes), so that the loops read the bytes instead.
fn head_facts(
    version: &str,
    status: &str,
    headers: Option<&crate::headers::Headers>,
    plain_software: bool,
) -> Option<http_server::h1::ResponseHead> {
    let version_11 = match version {
        "1.1" => true,
        "1.0" => false,
        _ => return None,
    };
    let code = status.get(..3)?.parse().ok()?;
    if !plain_software || !stdx::ascii::printable(status.as_bytes()) {
        return None;
    }
    let mut facts = http_server::h1::ResponseHead::new(code, version_11);
    if let Some(headers) = headers {
        if headers.len() > 100 {
            return None;
        }
        for (name, value) in headers.byte_pairs() {
            facts.note(name, value);
        }
    }
    Some(facts)
}

/// The `ServerHandler` configuration for a request, shared between the requests of a
/// thread (it is the same for every request of a server, so building it each time would
/// only cost allocations), and whether its `SERVER_SOFTWARE` is printable ASCII (for
/// [`head_facts`]).
fn handler_config(
    multithread: bool,
    multiprocess: bool,
    http_version: &str,
    software: (&str, &str),
) -> (Arc<HandlerConfig>, bool) {
    type Key = (bool, bool, String, String);
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Key, Arc<HandlerConfig>, bool)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(((mt, mp, v, sw), config, plain)) = &*last
            && *mt == multithread
            && *mp == multiprocess
            && v == http_version
            && sw.len() == software.0.len() + 1 + software.1.len()
            && sw.starts_with(software.0)
            && sw.ends_with(software.1)
            && sw.as_bytes()[software.0.len()] == b' '
        {
            return (config.clone(), *plain);
        }
        let mut config = HandlerConfig::simple();
        config.wsgi_multithread = multithread;
        config.wsgi_multiprocess = multiprocess;
        config.chunked_responses = http_version == "1.1";
        config.http_version = http_version.to_owned();
        let software = format!("{} {}", software.0, software.1);
        config.server_software = Some(software.clone());
        let config = Arc::new(config);
        let plain = stdx::ascii::printable(software.as_bytes());
        *last = Some((
            (multithread, multiprocess, http_version.to_owned(), software),
            config.clone(),
            plain,
        ));
        (config, plain)
    })
}

/// The client's host as text (`Address::host`), formatted into `buf` without allocating
/// for the usual IP addresses.
fn client_host<'b>(
    address: &socketserver::Address,
    buf: &'b mut [u8; 64],
) -> std::borrow::Cow<'b, str> {
    use std::io::Write as _;
    if let Some(std::net::SocketAddr::V4(sa)) = address.inet() {
        // The last address this thread formatted: a connection's requests, and most
        // clients of a loop, come from the same one.
        thread_local! {
            static LAST: std::cell::Cell<(u32, [u8; 15], usize)> =
                const { std::cell::Cell::new((u32::MAX, [0; 15], 0)) };
        }
        let ip = u32::from(*sa.ip());
        let (last_ip, text, len) = LAST.get();
        if last_ip == ip && len > 0 {
            buf[..len].copy_from_slice(&text[..len]);
            return std::borrow::Cow::Borrowed(
                stdx::ascii::as_str(&buf[..len]).unwrap_or_default(),
            );
        }
        // Dotted quad by hand: `fmt` costs about a thousand instructions here.
        let mut n = 0;
        for (i, octet) in sa.ip().octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            if octet >= 100 {
                buf[n] = b'0' + octet / 100;
                n += 1;
            }
            if octet >= 10 {
                buf[n] = b'0' + octet / 10 % 10;
                n += 1;
            }
            buf[n] = b'0' + octet % 10;
            n += 1;
        }
        let mut text = [0u8; 15];
        text[..n].copy_from_slice(&buf[..n]);
        LAST.set((ip, text, n));
        return std::borrow::Cow::Borrowed(stdx::ascii::as_str(&buf[..n]).unwrap_or_default());
    }
    if let socketserver::Address::Inet(sa) = address {
        let mut cursor = io::Cursor::new(&mut buf[..]);
        if write!(cursor, "{}", sa.ip()).is_ok() {
            let n = cursor.position() as usize;
            if let Ok(text) = std::str::from_utf8(&buf[..n]) {
                return std::borrow::Cow::Borrowed(text);
            }
        }
    }
    std::borrow::Cow::Owned(address.host())
}

/// Reads the request body the head announced.
fn read_body(ex: &mut Exchange<'_>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    match ex.body {
        BodyFraming::None => {}
        BodyFraming::Length(n) => {
            Read::take(ex.stream(), n).read_to_end(&mut body)?;
        }
        BodyFraming::Chunked => dechunk(ex.stream(), &mut body)?,
    }
    Ok(body)
}

/// Decodes a `chunked` body (RFC 9112 section 7.1), trailers discarded.
fn dechunk(r: &mut dyn socketserver::RwStream, out: &mut Vec<u8>) -> io::Result<()> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    loop {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            loop {
                let mut trailer = Vec::new();
                if r.read_until(b'\n', &mut trailer)? == 0 || trailer == b"\r\n" || trailer == b"\n"
                {
                    return Ok(());
                }
            }
        }
        let got = Read::take(&mut *r, size).read_to_end(out)?;
        if (got as u64) < size {
            return Err(bad("truncated chunk"));
        }
        let mut crlf = Vec::new();
        r.read_until(b'\n', &mut crlf)?;
    }
}

type Factory<A> = Box<dyn Fn(&HandlerCx<'_>) -> WsgiRequestHandler<A> + Send + Sync>;

/// Python: `wsgiref.simple_server.WSGIServer` (`set_app`, `get_app`, `server_bind` +
/// `setup_environ`, `base_environ`).
///
/// A WSGI server: an HTTP server whose handler runs one application.
///
/// ```no_run
/// use gateway::simple_server::{demo_app, WsgiServer};
/// let mut server = WsgiServer::bind("127.0.0.1:8000".parse().unwrap(), demo_app)?;
/// server.handle_request()?; // serve one request, then exit
/// # Ok::<(), gateway::Error>(())
/// ```
#[doc(alias = "wsgiref.simple_server.WSGIServer")]
pub struct WsgiServer<A: ?Sized> {
    server: HttpServer<Factory<A>>,
    app: Arc<RwLock<Arc<A>>>,
    base_environ: Arc<RwLock<Arc<BTreeMap<String, String>>>>,
    errors: Arc<RwLock<ErrorStream>>,
}

impl<A: ?Sized> std::fmt::Debug for WsgiServer<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiServer").finish_non_exhaustive()
    }
}

/// Python: `wsgiref.simple_server.WSGIRequestHandler.server_version`.
///
/// The `http.server` class attributes of `WSGIRequestHandler`: `server_version`
/// `"WSGIServer/0.2"`.
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.server_version")]
pub fn http_config() -> HttpConfig {
    HttpConfig::default().server_version(SERVER_VERSION)
}

impl<A: Application + ?Sized + 'static> WsgiServer<A> {
    /// Python: `wsgiref.simple_server.WSGIServer(server_address, WSGIRequestHandler)` then `set_app(app)`.
    ///
    /// Binds `address` and serves `app`.
    pub fn bind(address: SocketAddr, app: impl Into<Arc<A>>) -> Result<Self>
    where
        A: Sized,
    {
        Self::bind_arc(address, app.into())
    }

    /// Same as [`bind`](Self::bind), for an application already shared (or unsized).
    pub fn bind_arc(address: SocketAddr, app: Arc<A>) -> Result<Self> {
        let app_slot = Arc::new(RwLock::new(app));
        let env_slot = Arc::new(RwLock::new(Arc::new(BTreeMap::new())));
        let errors = Arc::new(RwLock::new(ErrorStream::stderr()));
        let (a, e, err) = (app_slot.clone(), env_slot.clone(), errors.clone());
        let factory: Factory<A> = Box::new(move |_cx: &HandlerCx<'_>| {
            let app = a.read().unwrap_or_else(PoisonError::into_inner).clone();
            let env = e.read().unwrap_or_else(PoisonError::into_inner).clone();
            let errors = err.read().unwrap_or_else(PoisonError::into_inner).clone();
            WsgiRequestHandler::new(app, env).with_errors(errors)
        });
        let server = HttpHooks::new(factory)
            .config(http_config())
            .server(address)?;
        let mut this = WsgiServer {
            server,
            app: app_slot,
            base_environ: env_slot,
            errors,
        };
        this.setup_environ();
        Ok(this)
    }

    /// Python: `wsgiref.simple_server.WSGIServer.setup_environ` (called by `server_bind`).
    ///
    /// Computes the base environ from the bound address (run by [`bind`](Self::bind)).
    #[doc(alias = "wsgiref.simple_server.WSGIServer.setup_environ")]
    #[doc(alias = "wsgiref.simple_server.WSGIServer.server_bind")]
    pub fn setup_environ(&mut self) {
        let info = self.server.info();
        let env = base_environ(&info.server_name, info.server_port);
        *self
            .base_environ
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(env);
    }

    /// Python: `wsgiref.simple_server.WSGIServer.base_environ`.
    ///
    /// The base environ.
    #[doc(alias = "wsgiref.simple_server.WSGIServer.base_environ")]
    pub fn base_environ(&self) -> BTreeMap<String, String> {
        (**self
            .base_environ
            .read()
            .unwrap_or_else(PoisonError::into_inner))
        .clone()
    }

    /// Python: `wsgiref.simple_server.WSGIServer.get_app`.
    ///
    /// The application.
    #[doc(alias = "wsgiref.simple_server.WSGIServer.get_app")]
    pub fn app(&self) -> Arc<A> {
        self.app
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Python: `wsgiref.simple_server.WSGIServer.set_app`.
    ///
    /// Replaces the application.
    #[doc(alias = "wsgiref.simple_server.WSGIServer.set_app")]
    pub fn set_app(&self, app: Arc<A>) {
        *self.app.write().unwrap_or_else(PoisonError::into_inner) = app;
    }

    /// Sends `wsgi.errors` and application tracebacks to `errors` instead of stderr.
    pub fn set_errors(&self, errors: ErrorStream) {
        *self.errors.write().unwrap_or_else(PoisonError::into_inner) = errors;
    }

    /// Python: `socketserver.BaseServer.handle_request`.
    ///
    /// Handles one request (waiting for it).
    #[doc(alias = "socketserver.BaseServer.handle_request")]
    pub fn handle_request(&mut self) -> Result<()> {
        Ok(self.server.handle_request()?)
    }

    /// Python: `socketserver.BaseServer.serve_forever(poll_interval)`.
    ///
    /// Handles requests until a [`socketserver::ShutdownHandle`] says stop.
    pub fn serve_forever(&mut self, poll_interval: Duration) -> Result<()> {
        Ok(self.server.serve_forever(poll_interval)?)
    }

    /// Python: `socketserver.BaseServer.shutdown`.
    ///
    /// A handle to stop [`serve_forever`](Self::serve_forever) from another thread.
    #[doc(alias = "socketserver.BaseServer.shutdown")]
    pub fn shutdown_handle(&self) -> socketserver::ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// Python: `socketserver.BaseServer.server_address`.
    ///
    /// The bound address (the real port after binding port 0).
    #[doc(alias = "socketserver.BaseServer.server_address")]
    pub fn server_address(&self) -> SocketAddr {
        self.server
            .server_address()
            .inet()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Python: `socketserver.BaseServer.timeout`.
    ///
    /// Sets how long [`handle_request`](Self::handle_request) waits.
    #[doc(alias = "socketserver.BaseServer.timeout")]
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.server.set_timeout(timeout);
    }

    /// Python: `socketserver.BaseServer.server_close`.
    ///
    /// Closes the listening socket.
    #[doc(alias = "socketserver.BaseServer.server_close")]
    pub fn server_close(&mut self) {
        self.server.server_close();
    }

    /// The HTTP server underneath.
    pub fn http_server(&mut self) -> &mut HttpServer<Factory<A>> {
        &mut self.server
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_server::h1::ResponseHead;

    type Headers<'a> = &'a [(&'a str, &'a str)];

    /// Runs an application that answers `status` and `headers` through a `ServerHandler`
    /// writing to memory: the bytes written and the facts `head_facts` declares for them.
    fn serve(
        version: &str,
        method: &str,
        status: &str,
        headers: Headers<'_>,
        body: &'static [u8],
    ) -> (Vec<u8>, Option<(usize, ResponseHead)>) {
        let mut out = Vec::new();
        let mut env = Environ::new();
        env.set_str("SERVER_PROTOCOL", "HTTP/1.1");
        env.set_str("REQUEST_METHOD", method);
        let (config, plain_software) =
            handler_config(false, false, version, ("WSGIServer/0.2", "CPython/3.11"));
        let declared = {
            let io = StreamIo::from_streams(
                InputStream::empty(),
                &mut out,
                ErrorStream::new(io::sink()),
                BTreeMap::new(),
            )
            .with_environ(env);
            let mut handler = BaseHandler::new(io, (), config);
            let app = |_: &Environ, sr: &mut dyn crate::StartResponse| -> Result<crate::Body> {
                sr.start_response(status, headers, None)?;
                Ok(crate::Body::from_static(body))
            };
            let _ = handler.run(&app);
            handler.head_len().and_then(|len| {
                let facts = head_facts(
                    version,
                    handler.status()?,
                    handler.headers(),
                    plain_software,
                )?;
                Some((len, facts))
            })
        };
        (out, declared)
    }

    #[test]
    fn declared_heads_read_as_the_loops_read_them() {
        let many: Vec<(String, String)> =
            (0..110).map(|i| (format!("X-{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let cases: Vec<(&str, Headers<'_>)> = vec![
            ("200 OK", &[("Content-Type", "text/plain")]),
            ("200 OK", &[("Content-Length", "5")]),
            (
                "200 OK",
                &[("content-length", "5"), ("CONTENT-LENGTH", "5")],
            ),
            (
                "200 OK",
                &[("Content-Length", "5"), ("Content-Length", "6")],
            ),
            ("200 OK", &[("Content-Length", "+5")]),
            ("200 OK", &[("Content-Length", " 5\t")]),
            ("200 OK", &[("Content-Length", "99999999999999999999999")]),
            (
                "200 OK",
                &[("X-Latin", "caf\u{e9}"), ("Content-Length", "5")],
            ),
            ("200 OK", &[("X-Tab", "a\tb")]),
            ("200 O\tK", &[("Content-Length", "5")]),
            ("200 Caf\u{e9}", &[("Content-Length", "5")]),
            ("204 No Content", &[]),
            ("304 Not Modified", &[("Content-Length", "7")]),
            ("404 Not Found", &[("Content-Type", "text/html")]),
            ("100 Continue", &[]),
            ("599 Whatever", &[("Content-Length", "5")]),
            ("200 OK", &many),
        ];
        let mut declared = 0;
        for version in ["1.1", "1.0"] {
            for method in ["GET", "HEAD"] {
                for (status, headers) in &cases {
                    let (out, facts) = serve(version, method, status, headers, b"hello");
                    let Some((len, facts)) = facts else {
                        continue;
                    };
                    declared += 1;
                    assert_eq!(
                        ResponseHead::parse(&out),
                        Some((facts, len)),
                        "{version} {method} {status} {headers:?}: {}",
                        String::from_utf8_lossy(&out)
                    );
                }
            }
        }
        // Everything but the Latin-1 status and the 110 extra fields is declared.
        assert_eq!(declared, 4 * (cases.len() - 2));
    }
}
