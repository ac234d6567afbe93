//! `HTTPServer` and `ThreadingHTTPServer`: a TCP server whose handler is an [`HttpHandler`].

use std::net::SocketAddr;
use std::sync::Arc;

use socketserver::{
    Connection, HandlerCx, ServerHooks, StreamConfig, TcpConfig, TcpServer, TcpTransport,
    Threading, ThreadingConfig, ThreadingTcpServer,
};

use crate::{HttpConfig, HttpHandler, HttpRequestHandler, Result};

/// Server hooks that make an [`HttpRequestHandler`] per connection from a factory.
///
/// Python: `HTTPServer(server_address, RequestHandlerClass)`: the factory is the handler
/// class, `config` its class attributes. `HTTPServer.server_bind` sets `server_name`
/// (`socket.getfqdn(host)`) and `server_port`, which [`socketserver::ServerInfo`] holds.
///
/// ```
/// use http_server::{HttpHooks, HttpHandler};
/// struct Nothing;
/// impl HttpHandler for Nothing {}
/// let server = HttpHooks::new(|_cx: &socketserver::HandlerCx<'_>| Nothing)
///     .server("127.0.0.1:0".parse().unwrap())?;
/// assert_eq!(server.info().server_name, "localhost");
/// assert_ne!(server.info().server_port, 0);
/// # Ok::<(), http_server::Error>(())
/// ```
#[doc(alias = "http.server.HTTPServer")]
pub struct HttpHooks<F> {
    factory: F,
    config: Arc<HttpConfig>,
    stream: StreamConfig,
}

impl<F> std::fmt::Debug for HttpHooks<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpHooks")
            .field("config", &self.config)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl<F> HttpHooks<F> {
    /// Hooks making handlers with `factory` and the default class attributes.
    pub fn new(factory: F) -> Self {
        HttpHooks {
            factory,
            config: Arc::new(HttpConfig::default()),
            stream: StreamConfig::default(),
        }
    }

    /// Sets the class attributes.
    pub fn config(mut self, config: HttpConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// Sets `StreamRequestHandler`'s attributes (buffers, timeout, Nagle).
    pub fn stream_config(mut self, stream: StreamConfig) -> Self {
        self.stream = stream;
        self
    }

    /// The handler factory (Python: `RequestHandlerClass`).
    pub fn factory(&self) -> &F {
        &self.factory
    }

    /// The handler factory, mutably (Python: rebinding `RequestHandlerClass`).
    pub fn factory_mut(&mut self) -> &mut F {
        &mut self.factory
    }

    /// The class attributes in force.
    pub fn http_config(&self) -> &Arc<HttpConfig> {
        &self.config
    }

    /// Binds `address` with `HTTPServer`'s socket options and returns the server.
    ///
    /// Python: `http.server.HTTPServer(server_address, RequestHandlerClass)`.
    pub fn server(self, address: SocketAddr) -> Result<HttpServer<F>>
    where
        Self: ServerHooks<std::net::TcpStream>,
    {
        let transport = TcpTransport::bind(address, tcp_config())?;
        Ok(TcpServer::new(transport, self)?)
    }

    /// Binds `address` with `HTTPServer`'s socket options and returns a server that runs each
    /// connection on its own thread (`daemon_threads = True`).
    ///
    /// Python: `http.server.ThreadingHTTPServer(server_address, RequestHandlerClass)`.
    #[doc(alias = "http.server.ThreadingHTTPServer")]
    pub fn threading_server(self, address: SocketAddr) -> Result<ThreadingHttpServer<F>>
    where
        Self: ServerHooks<std::net::TcpStream> + 'static,
    {
        let transport = TcpTransport::bind(address, tcp_config())?;
        let hooks = Threading::with_config(self, threading_config());
        Ok(TcpServer::new(transport, hooks)?)
    }
}

#[cfg(feature = "tls")]
impl<F> HttpHooks<F> {
    /// Loads the certificate and key (an error naming the file when one cannot be used),
    /// then binds `address` with `HTTPServer`'s socket options; each connection's handshake
    /// runs when its handler first reads, never inside `accept`.
    ///
    /// ALPN offers `http/1.1` unless `tls.alpn_protocols` says otherwise.
    ///
    /// Python: `http.server.HTTPSServer(server_address, RequestHandlerClass, *, certfile,
    /// keyfile=None, password=None, alpn_protocols=None)` (3.14).
    #[doc(alias = "http.server.HTTPSServer")]
    pub fn https_server(
        self,
        address: SocketAddr,
        tls: &socketserver::TlsConfig,
    ) -> Result<HttpsServer<F>>
    where
        Self: ServerHooks<socketserver::TlsStream<std::net::TcpStream>>,
    {
        let acceptor = https_acceptor(tls)?;
        let transport = TcpTransport::bind(address, tcp_config())?;
        Ok(socketserver::BaseServer::new(
            socketserver::TlsTransport::new(transport, acceptor),
            self,
        )?)
    }

    /// As [`https_server`](Self::https_server), with a thread per connection
    /// (`daemon_threads = True`).
    ///
    /// Python: `http.server.ThreadingHTTPSServer(server_address, RequestHandlerClass, ...)`
    /// (3.14).
    #[doc(alias = "http.server.ThreadingHTTPSServer")]
    pub fn threading_https_server(
        self,
        address: SocketAddr,
        tls: &socketserver::TlsConfig,
    ) -> Result<ThreadingHttpsServer<F>>
    where
        Self: ServerHooks<socketserver::TlsStream<std::net::TcpStream>> + 'static,
    {
        let acceptor = https_acceptor(tls)?;
        let transport = TcpTransport::bind(address, tcp_config())?;
        let hooks = Threading::with_config(self, threading_config());
        Ok(socketserver::BaseServer::new(
            socketserver::TlsTransport::new(transport, acceptor),
            hooks,
        )?)
    }
}

/// The acceptor of an HTTPS server: `tls` loaded, with ALPN `http/1.1` when `tls` names no
/// protocol.
///
/// Python: `http.server.HTTPSServer._create_context` (3.14): `alpn_protocols` defaults to
/// `["http/1.1"]`.
#[cfg(feature = "tls")]
#[doc(alias = "http.server.HTTPSServer.alpn_protocols")]
pub fn https_acceptor(tls: &socketserver::TlsConfig) -> Result<socketserver::TlsAcceptor> {
    let mut tls = tls.clone();
    tls.alpn_protocols
        .get_or_insert_with(|| vec!["http/1.1".to_owned()]);
    Ok(tls.acceptor()?)
}

/// `ThreadingHTTPServer`'s mix-in attributes: `daemon_threads = True`.
///
/// Python: `http.server.ThreadingHTTPServer.daemon_threads`.
#[doc(alias = "http.server.ThreadingHTTPServer.daemon_threads")]
pub fn threading_config() -> ThreadingConfig {
    ThreadingConfig {
        daemon_threads: true,
        ..ThreadingConfig::default()
    }
}

/// `HTTPServer`'s socket options: `allow_reuse_address = 1`.
///
/// Python: `http.server.HTTPServer.allow_reuse_address`.
#[doc(alias = "http.server.HTTPServer.allow_reuse_address")]
pub fn tcp_config() -> TcpConfig {
    TcpConfig {
        allow_reuse_address: true,
        ..TcpConfig::default()
    }
}

impl<C, F> ServerHooks<C> for HttpHooks<F>
where
    C: Connection,
    F: MakeHandler,
{
    type Handler = HttpRequestHandler<F::Handler>;

    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler {
        HttpRequestHandler::with_config(self.factory.make_handler(cx), Arc::clone(&self.config))
            .stream_config(self.stream.clone())
    }
}

/// What makes the handler of each request: Python's `RequestHandlerClass`, called with
/// the request. Any `Fn(&HandlerCx<'_>) -> H` is one; a server whose handlers share state
/// built once (the WSGI server's application and base environ) implements it on a type of
/// its own.
///
/// Python: `socketserver.BaseServer.RequestHandlerClass`.
///
/// ```
/// use http_server::{HttpHandler, MakeHandler};
/// use socketserver::HandlerCx;
///
/// struct Hello;
/// impl HttpHandler for Hello {}
///
/// let make = |_cx: &HandlerCx<'_>| Hello;
/// let addr = socketserver::Address::Unix(None);
/// let info = socketserver::ServerInfo::new(addr.clone());
/// let _handler: Hello = make.make_handler(&HandlerCx::new(&addr, &info));
/// ```
#[doc(alias = "socketserver.BaseServer.RequestHandlerClass")]
pub trait MakeHandler: Send + Sync {
    /// The handler made for each request.
    type Handler: HttpHandler;

    /// Makes the handler of one request (Python: `RequestHandlerClass(request,
    /// client_address, server)`).
    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler;
}

impl<F, H> MakeHandler for F
where
    F: Fn(&HandlerCx<'_>) -> H + Send + Sync,
    H: HttpHandler,
{
    type Handler = H;

    fn make_handler(&self, cx: &HandlerCx<'_>) -> H {
        self(cx)
    }
}

/// An HTTP server: one request at a time, on the calling thread.
///
/// Python: `http.server.HTTPServer`.
#[doc(alias = "http.server.HTTPServer")]
pub type HttpServer<F> = TcpServer<HttpHooks<F>>;

/// An HTTP server running each connection on its own thread.
///
/// Python: `http.server.ThreadingHTTPServer`.
#[doc(alias = "http.server.ThreadingHTTPServer")]
pub type ThreadingHttpServer<F> = ThreadingTcpServer<HttpHooks<F>>;

/// An HTTPS server: one connection at a time, on the calling thread; the handshake runs in
/// the handler, under the TLS handshake timeout.
///
/// Python: `http.server.HTTPSServer` (3.14).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("https-doc-{}", std::process::id()));
/// # let pki = socketserver::testing::TestPki::generate(&dir)?;
/// use http_server::{HttpHooks, SimpleHttpHandler};
/// use socketserver::TlsConfig;
/// let tls = TlsConfig::new(&pki.cert).keyfile(&pki.key);
/// let server = HttpHooks::new(|_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new("."))
///     .https_server("127.0.0.1:0".parse().unwrap(), &tls)?;
/// assert_eq!(server.transport().acceptor().rustls_config().alpn_protocols, [b"http/1.1".to_vec()]);
/// // A bad key is refused before anything listens, naming the file.
/// let bad = TlsConfig::new(&pki.cert).keyfile(&pki.ca_cert);
/// let err = HttpHooks::new(|_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new("."))
///     .https_server("127.0.0.1:0".parse().unwrap(), &bad).unwrap_err();
/// assert!(err.to_string().contains("ca.pem"), "{err}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tls")]
#[doc(alias = "http.server.HTTPSServer")]
pub type HttpsServer<F> =
    socketserver::BaseServer<socketserver::TlsTransport<TcpTransport>, HttpHooks<F>>;

/// An HTTPS server running each connection on its own thread, where its handshake runs.
///
/// Python: `http.server.ThreadingHTTPSServer` (3.14).
#[cfg(feature = "tls")]
#[doc(alias = "http.server.ThreadingHTTPSServer")]
pub type ThreadingHttpsServer<F> =
    socketserver::BaseServer<socketserver::TlsTransport<TcpTransport>, Threading<HttpHooks<F>>>;

/// Chooses the address `test()` binds: `::` (dual-stack) when no address is given and IPv6
/// works, else `0.0.0.0`; otherwise the given host resolved.
///
/// Python: `http.server._get_best_family(bind, port)`.
pub fn best_address(bind: Option<&str>, port: u16) -> Result<SocketAddr> {
    match bind {
        None | Some("") => {
            let v6: SocketAddr = (std::net::Ipv6Addr::UNSPECIFIED, port).into();
            if std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0)).is_ok() {
                Ok(v6)
            } else {
                Ok((std::net::Ipv4Addr::UNSPECIFIED, port).into())
            }
        }
        Some(host) => Ok(socketserver::inet_address(host, port)?),
    }
}

/// The banner `test()` announces once bound: `Serving HTTP on HOST port PORT
/// (http://HOST:PORT/) ...` (IPv6 hosts in brackets in the URL).
pub fn serving_banner(address: SocketAddr) -> String {
    banner("HTTP", address)
}

/// The banner of an HTTPS server: `Serving HTTPS on HOST port PORT (https://HOST:PORT/) ...`.
///
/// Python: `http.server.test`'s banner when `tls_cert` is given (3.14).
#[cfg(feature = "tls")]
pub fn serving_banner_https(address: SocketAddr) -> String {
    banner("HTTPS", address)
}

fn banner(protocol: &str, address: SocketAddr) -> String {
    let host = address.ip().to_string();
    let port = address.port();
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let scheme = protocol.to_ascii_lowercase();
    format!("Serving {protocol} on {host} port {port} ({scheme}://{url_host}:{port}/) ...")
}

/// Runs a threading HTTP server until it is shut down: binds (dual-stack on `::`), calls
/// `ready` with the banner to show and a handle that stops the server, then serves.
///
/// Python: `http.server.test(HandlerClass, ServerClass=ThreadingHTTPServer, protocol, port,
/// bind)` with the `DualStackServer` of `python -m http.server` (printing and the
/// `KeyboardInterrupt` exit are the caller's: the `http-server` binary does them).
///
/// ```
/// use http_server::SimpleHttpHandler;
/// let dir = std::env::temp_dir();
/// http_server::test(
///     move |_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new(dir.clone()),
///     SimpleHttpHandler::http_config(),
///     0,
///     Some("127.0.0.1"),
///     |banner, stop| {
///         assert!(banner.starts_with("Serving HTTP on 127.0.0.1 port "));
///         stop.request(); // stop at once
///     },
/// )?;
/// # Ok::<(), http_server::Error>(())
/// ```
#[doc(alias = "http.server.test")]
pub fn test<F>(
    factory: F,
    config: HttpConfig,
    port: u16,
    bind: Option<&str>,
    ready: impl FnOnce(&str, socketserver::ShutdownHandle),
) -> Result<()>
where
    F: MakeHandler + 'static,
{
    let transport = test_transport(bind, port)?;
    let hooks = Threading::with_config(HttpHooks::new(factory).config(config), threading_config());
    let mut server = TcpServer::new(transport, hooks)?;
    let bound = server.server_address().inet();
    ready(
        &serving_banner(bound.unwrap_or(([0, 0, 0, 0], port).into())),
        server.shutdown_handle(),
    );
    server.serve_forever(std::time::Duration::from_millis(500))?;
    Ok(())
}

/// The listening socket of `test()`: dual-stack on `::` when no address is given.
fn test_transport(bind: Option<&str>, port: u16) -> Result<TcpTransport> {
    let address = best_address(bind, port)?;
    let mut tcp = tcp_config();
    if address.is_ipv6() {
        tcp.dual_stack = Some(true);
    }
    Ok(TcpTransport::bind(address, tcp)?)
}

/// [`test()`](fn@test) over TLS: loads `tls` first (an error naming the file if it cannot be used,
/// before anything listens), then serves HTTPS on a threading server whose connections
/// each do their handshake on their own thread.
///
/// Python: `http.server.test(..., tls_cert=..., tls_key=..., tls_password=...)` (3.14),
/// which serves with `ThreadingHTTPSServer`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("test-tls-doc-{}", std::process::id()));
/// # let pki = socketserver::testing::TestPki::generate(&dir)?;
/// use http_server::SimpleHttpHandler;
/// let tls = socketserver::TlsConfig::new(&pki.cert).keyfile(&pki.key);
/// http_server::test_tls(
///     |_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new("."),
///     SimpleHttpHandler::http_config(),
///     0,
///     Some("127.0.0.1"),
///     &tls,
///     |banner, stop| {
///         assert!(banner.starts_with("Serving HTTPS on 127.0.0.1 port "));
///         assert!(banner.contains("(https://127.0.0.1:"));
///         stop.request();
///     },
/// )?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tls")]
#[doc(alias = "http.server.test")]
pub fn test_tls<F, H>(
    factory: F,
    config: HttpConfig,
    port: u16,
    bind: Option<&str>,
    tls: &socketserver::TlsConfig,
    ready: impl FnOnce(&str, socketserver::ShutdownHandle),
) -> Result<()>
where
    F: Fn(&HandlerCx<'_>) -> H + Send + Sync + 'static,
    H: HttpHandler,
{
    let acceptor = https_acceptor(tls)?;
    let transport = socketserver::TlsTransport::new(test_transport(bind, port)?, acceptor);
    let hooks = Threading::with_config(HttpHooks::new(factory).config(config), threading_config());
    let mut server = socketserver::BaseServer::new(transport, hooks)?;
    let bound = server.server_address().inet();
    ready(
        &serving_banner_https(bound.unwrap_or(([0, 0, 0, 0], port).into())),
        server.shutdown_handle(),
    );
    server.serve_forever(std::time::Duration::from_millis(500))?;
    Ok(())
}
