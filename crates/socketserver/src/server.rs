//! `BaseServer`: the selector loop and the overridable request hooks.

use std::io;
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::{Address, Connection, Error, HandlerCx, RequestHandler, Result, Transport, getfqdn};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// How long `serve_forever` pauses after `accept` ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Read-only facts about a running server, shared with every handler.
///
/// Python: the attributes of `BaseServer`/`HTTPServer` that handlers read through
/// `self.server` (`server_address`, `server_name`, `server_port`).
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Python: `socketserver.BaseServer.server_address` (the real port after binding port 0).
    pub server_address: Address,
    /// Python: `http.server.HTTPServer.server_name` (`socket.getfqdn(host)`).
    pub server_name: String,
    /// Python: `http.server.HTTPServer.server_port`.
    pub server_port: u16,
    /// True when requests may run on several threads at once (Python: `wsgi.multithread`
    /// as a WSGI server derives it from its mix-ins).
    pub multithread: bool,
    /// True when requests may run in several processes (Python: `wsgi.multiprocess`).
    pub multiprocess: bool,
}

impl ServerInfo {
    /// Facts for a server bound at `server_address`.
    pub fn new(server_address: Address) -> Self {
        let (server_name, server_port) = match &server_address {
            Address::Inet(a) => (getfqdn(a.ip()), a.port()),
            Address::Unix(p) => (
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                0,
            ),
        };
        ServerInfo {
            server_address,
            server_name,
            server_port,
            multithread: false,
            multiprocess: false,
        }
    }
}

/// Class attributes of `BaseServer`.
///
/// Python: `socketserver.BaseServer.timeout`.
#[doc(alias = "socketserver.BaseServer.timeout")]
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// How long `handle_request` waits before calling `handle_timeout` (`None`: forever).
    pub timeout: Option<Duration>,
}

/// A request that failed inside `process_request`, handed back so the server can call
/// `handle_error` and then `shutdown_request`, in Python's order.
#[derive(Debug)]
pub struct Failed<C> {
    /// What went wrong.
    pub error: Error,
    /// The request, when it is still here to be shut down (a mix-in that moved it to another
    /// thread or process has handled it there).
    pub request: Option<C>,
}

/// The overridable hooks of a server, with Python's defaults.
///
/// Overrides that want Python's `super().process_request(...)` call the matching function in
/// [`default`](crate::default).
///
/// Python: the overridable methods of `socketserver.BaseServer` plus
/// `RequestHandlerClass`.
#[doc(alias = "socketserver.BaseServer")]
pub trait ServerHooks<C: Connection>: Send + Sync {
    /// The per-request handler type (Python: `RequestHandlerClass`).
    type Handler: RequestHandler<C>;

    /// Makes a fresh handler for one request.
    ///
    /// Python: `self.RequestHandlerClass(request, client_address, self)` (the instantiation
    /// part of it; running it is [`default::finish_request`]).
    #[doc(alias = "RequestHandlerClass")]
    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler;

    /// Decides whether to serve a request; `false` shuts it down unserved.
    ///
    /// Python: `socketserver.BaseServer.verify_request` (default: `True`).
    #[doc(alias = "socketserver.BaseServer.verify_request")]
    fn verify_request(&self, _request: &C, _client_address: &Address) -> bool {
        true
    }

    /// Serves a request: by default `finish_request`, then `shutdown_request`.
    ///
    /// Python: `socketserver.BaseServer.process_request` (overridden by the mix-ins).
    #[doc(alias = "socketserver.BaseServer.process_request")]
    fn process_request(
        &self,
        request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        default::process_request(self, request, client_address, server)
    }

    /// Runs the handler on a request.
    ///
    /// Python: `socketserver.BaseServer.finish_request`.
    #[doc(alias = "socketserver.BaseServer.finish_request")]
    fn finish_request(
        &self,
        request: &mut C,
        client_address: &Address,
        server: &ServerInfo,
    ) -> Result<()> {
        default::finish_request(self, request, client_address, server)
    }

    /// Ends a request: half-closes the write side, then closes.
    ///
    /// Python: `socketserver.TCPServer.shutdown_request` and `close_request` (the close is
    /// the drop of `request`).
    #[doc(alias = "socketserver.BaseServer.shutdown_request")]
    #[doc(alias = "socketserver.BaseServer.close_request")]
    fn shutdown_request(&self, request: C) {
        default::shutdown_request(request)
    }

    /// Reports an error raised while serving a request.
    ///
    /// Python: `socketserver.BaseServer.handle_error` (which prints a traceback to stderr;
    /// here a `tracing` error event).
    #[doc(alias = "socketserver.BaseServer.handle_error")]
    fn handle_error(&self, client_address: &Address, error: &Error) {
        default::handle_error(client_address, error)
    }

    /// Called when `handle_request` times out.
    ///
    /// Python: `socketserver.BaseServer.handle_timeout` (default: nothing).
    #[doc(alias = "socketserver.BaseServer.handle_timeout")]
    fn handle_timeout(&self) {}

    /// Called on every iteration of `serve_forever`.
    ///
    /// Python: `socketserver.BaseServer.service_actions` (default: nothing; the forking
    /// mix-in reaps children here).
    #[doc(alias = "socketserver.BaseServer.service_actions")]
    fn service_actions(&self) {}

    /// Called by `server_close` after the transport is closed (the threading and forking
    /// mix-ins wait for their requests here).
    ///
    /// Python: the mix-ins' `server_close` overrides.
    fn server_close(&self) {}

    /// Adjusts the facts handlers will see, once the socket is bound.
    ///
    /// Python: `server_bind` overrides that set attributes (`HTTPServer.server_bind` sets
    /// `server_name`/`server_port`; `WSGIServer` builds its base environ).
    fn server_bound(&self, _info: &mut ServerInfo) {}

    /// Adjusts the server's class attributes before [`BaseServer::new`] uses them (not
    /// called by [`BaseServer::with_config`], whose explicit config wins, as a subclass
    /// attribute wins over a mix-in's).
    ///
    /// Python: class attributes a mix-in overrides, such as `ForkingMixIn.timeout = 300`.
    #[doc(alias = "socketserver.ForkingMixIn.timeout")]
    fn configure(&self, _config: &mut ServerConfig) {}
}

/// The default bodies of [`ServerHooks`], for overrides that extend them (Python's
/// `super()`).
pub mod default {
    use super::*;

    /// Python: `socketserver.BaseServer.process_request`: `finish_request` then
    /// `shutdown_request`; on failure the request is handed back for `handle_error` and
    /// `shutdown_request`.
    pub fn process_request<C: Connection, H: ServerHooks<C> + ?Sized>(
        hooks: &H,
        mut request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        match hooks.finish_request(&mut request, &client_address, server) {
            Ok(()) => {
                hooks.shutdown_request(request);
                Ok(())
            }
            Err(error) => Err(Failed {
                error,
                request: Some(request),
            }),
        }
    }

    /// Python: `socketserver.BaseServer.finish_request` plus `BaseRequestHandler.__init__`:
    /// make the handler, `setup()`, then `handle()` and `finish()` (always, once `setup`
    /// succeeded, also after `handle` panicked). A panicking handler becomes
    /// [`Error::HandlerPanicked`].
    pub fn finish_request<C: Connection, H: ServerHooks<C> + ?Sized>(
        hooks: &H,
        request: &mut C,
        client_address: &Address,
        server: &ServerInfo,
    ) -> Result<()> {
        let cx = HandlerCx::new(client_address, server);
        run_handler(request, &cx, |cx| hooks.make_handler(cx))
    }

    /// Runs one handler's `setup`/`handle`/`finish` on `request` inside a `request` span,
    /// catching panics. The building block of [`finish_request`], for strategies that make
    /// their own context.
    pub fn run_handler<C, R: RequestHandler<C>>(
        request: &mut C,
        cx: &HandlerCx<'_>,
        make: impl FnOnce(&HandlerCx<'_>) -> R,
    ) -> Result<()> {
        let span = tracing::info_span!("request", client = %cx.client_address);
        let _enter = span.enter();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = make(cx);
            handler.setup(request, cx)?;
            // A panicking `handle` is a failed `handle`: `finish` still runs, as Python's
            // `finally: self.finish()` does after any exception.
            let handled = catch_unwind(AssertUnwindSafe(|| handler.handle(request, cx)))
                .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
            let finished = handler.finish(request, cx);
            handled.and(finished)
        }));
        match outcome {
            Ok(r) => r,
            Err(payload) => Err(Error::from_panic(&*payload)),
        }
    }

    /// Python: `socketserver.TCPServer.shutdown_request`: `shutdown(SHUT_WR)` (errors
    /// ignored), then close.
    pub fn shutdown_request<C: Connection>(mut request: C) {
        let _ = request.flush();
        let _ = request.shutdown_write();
        drop(request);
    }

    /// Python: `socketserver.BaseServer.handle_error`, as a `tracing` error event.
    pub fn handle_error(client_address: &Address, error: &Error) {
        tracing::error!(client = %client_address, error = %error, "exception occurred during processing of request");
    }
}

/// A [`ServerHooks`] made from a handler factory, with every other hook at its default.
///
/// Python: passing `RequestHandlerClass` to a server's constructor.
#[doc(alias = "socketserver.BaseServer.RequestHandlerClass")]
pub struct RequestHandlerClass<F>(pub F);

impl<F> std::fmt::Debug for RequestHandlerClass<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestHandlerClass(..)")
    }
}

impl<C, R, F> ServerHooks<C> for RequestHandlerClass<F>
where
    C: Connection,
    R: RequestHandler<C>,
    F: Fn() -> R + Send + Sync,
{
    type Handler = R;
    fn make_handler(&self, _cx: &HandlerCx<'_>) -> R {
        (self.0)()
    }
}

impl<C: Connection, H: ServerHooks<C> + ?Sized> ServerHooks<C> for Arc<H> {
    type Handler = H::Handler;
    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler {
        (**self).make_handler(cx)
    }
    fn verify_request(&self, request: &C, client_address: &Address) -> bool {
        (**self).verify_request(request, client_address)
    }
    fn process_request(
        &self,
        request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        (**self).process_request(request, client_address, server)
    }
    fn finish_request(
        &self,
        request: &mut C,
        client_address: &Address,
        server: &ServerInfo,
    ) -> Result<()> {
        (**self).finish_request(request, client_address, server)
    }
    fn shutdown_request(&self, request: C) {
        (**self).shutdown_request(request)
    }
    fn handle_error(&self, client_address: &Address, error: &Error) {
        (**self).handle_error(client_address, error)
    }
    fn handle_timeout(&self) {
        (**self).handle_timeout()
    }
    fn service_actions(&self) {
        (**self).service_actions()
    }
    fn server_close(&self) {
        (**self).server_close()
    }
    fn server_bound(&self, info: &mut ServerInfo) {
        (**self).server_bound(info)
    }
    fn configure(&self, config: &mut ServerConfig) {
        (**self).configure(config)
    }
}

#[derive(Debug, Default)]
struct LoopState {
    running: bool,
    /// Bumped each time a `serve_forever` loop ends.
    stopped: u64,
}

#[derive(Debug)]
struct Shared {
    shutdown_request: AtomicBool,
    state: Mutex<LoopState>,
    changed: Condvar,
    waker: Waker,
}

/// Stops a running `serve_forever` from another thread.
///
/// Python: `socketserver.BaseServer.shutdown`.
#[doc(alias = "socketserver.BaseServer.shutdown")]
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Asks the `serve_forever` loop to stop, wakes it at once, and returns once it has
    /// stopped. When no loop is running it returns at once and the next `serve_forever`
    /// returns immediately (Python's behaviour when `shutdown` wins the race with
    /// `serve_forever`; Python would deadlock when none ever runs, this does not).
    ///
    /// Must not be called from the thread running `serve_forever` (as in Python, it would
    /// wait for itself); call [`request`](Self::request) there instead.
    pub fn shutdown(&self) {
        self.request();
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.running {
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Asks the loop to stop and wakes it, without waiting.
    pub fn request(&self) {
        self.shared.shutdown_request.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
    }

    /// True while a `serve_forever` loop runs.
    pub fn is_serving(&self) -> bool {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .running
    }
}

/// A server: a [`Transport`] that yields requests and [`ServerHooks`] that serve them.
///
/// Python: `socketserver.BaseServer`; `TCPServer` is `BaseServer<TcpTransport, H>`
/// ([`crate::TcpServer`]).
#[doc(alias = "socketserver.BaseServer")]
#[derive(Debug)]
pub struct BaseServer<T, H> {
    transport: T,
    hooks: H,
    info: Arc<ServerInfo>,
    config: ServerConfig,
    poll: Poll,
    events: Events,
    registered: bool,
    shared: Arc<Shared>,
    closed: bool,
    backoff: bool,
}

impl<T: Transport, H: ServerHooks<T::Conn>> BaseServer<T, H> {
    /// A server over an already bound transport.
    ///
    /// Python: `socketserver.BaseServer.__init__(server_address, RequestHandlerClass)`; the
    /// binding is the transport's (`TcpTransport::bind`).
    pub fn new(transport: T, hooks: H) -> Result<Self> {
        let mut config = ServerConfig::default();
        hooks.configure(&mut config);
        Self::with_config(transport, hooks, config)
    }

    /// A server with the given class attributes.
    pub fn with_config(transport: T, hooks: H, config: ServerConfig) -> Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let mut info = ServerInfo::new(transport.server_address());
        hooks.server_bound(&mut info);
        Ok(BaseServer {
            transport,
            hooks,
            info: Arc::new(info),
            config,
            poll,
            events: Events::with_capacity(8),
            registered: false,
            shared: Arc::new(Shared {
                shutdown_request: AtomicBool::new(false),
                state: Mutex::new(LoopState::default()),
                changed: Condvar::new(),
                waker,
            }),
            closed: false,
            backoff: false,
        })
    }

    /// Python: `socketserver.BaseServer.server_address`.
    #[doc(alias = "socketserver.BaseServer.server_address")]
    pub fn server_address(&self) -> &Address {
        &self.info.server_address
    }

    /// The facts handlers see.
    pub fn info(&self) -> &Arc<ServerInfo> {
        &self.info
    }

    /// Changes the facts handlers see (before serving).
    pub fn info_mut(&mut self) -> &mut ServerInfo {
        Arc::make_mut(&mut self.info)
    }

    /// Python: `socketserver.BaseServer.timeout`.
    pub fn timeout(&self) -> Option<Duration> {
        self.config.timeout
    }

    /// Sets `timeout` (Python: assigning `server.timeout`).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.config.timeout = timeout;
    }

    /// The hooks (Python: the server object's own attributes).
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The hooks, mutably (Python: setting an attribute of the server object).
    pub fn hooks_mut(&mut self) -> &mut H {
        &mut self.hooks
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Python: `socketserver.BaseServer.fileno`.
    #[doc(alias = "socketserver.BaseServer.fileno")]
    pub fn fileno(&self) -> Option<RawFd> {
        self.transport.fileno()
    }

    /// A handle that stops `serve_forever` from another thread.
    ///
    /// Python: `socketserver.BaseServer.shutdown` (call `.shutdown()` on the handle).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Handles one request, waiting for it at most the smaller of the server's and the
    /// socket's timeout; calls `handle_timeout` when none came in time. Interrupted waits are
    /// retried with the deadline recomputed.
    ///
    /// Python: `socketserver.BaseServer.handle_request`.
    #[doc(alias = "socketserver.BaseServer.handle_request")]
    pub fn handle_request(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::State("handle_request on a closed server"));
        }
        let mut timeout = match (self.transport.socket_timeout(), self.config.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.wait_readable(timeout)? {
                self.handle_request_noblock()?;
                return Ok(());
            }
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    self.hooks.handle_timeout();
                    return Ok(());
                }
                timeout = Some(deadline - now);
            }
        }
    }

    /// Handles one request without waiting: `get_request`, `verify_request`, then
    /// `process_request` (or `shutdown_request` when refused); a failed request goes to
    /// `handle_error` and then `shutdown_request`. Returns whether a request was taken.
    ///
    /// Python: `socketserver.BaseServer._handle_request_noblock` (an `OSError` from
    /// `get_request` is swallowed, as there).
    #[doc(alias = "socketserver.BaseServer._handle_request_noblock")]
    #[doc(alias = "_handle_request_noblock")]
    pub fn handle_request_noblock(&mut self) -> Result<bool> {
        let (request, client_address) = match self.transport.get_request() {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(false),
            Err(e) => {
                // Python swallows every OSError here (ECONNABORTED, EMFILE, ...). Running out
                // of descriptors leaves the listener readable, so `serve_forever` backs off
                // briefly instead of spinning.
                if is_resource_exhaustion(&e) {
                    tracing::warn!(error = %e, "get_request failed: out of descriptors, backing off");
                    self.backoff = true;
                } else {
                    tracing::debug!(error = %e, "get_request failed");
                }
                return Ok(false);
            }
        };
        if self.hooks.verify_request(&request, &client_address) {
            if let Err(failed) =
                self.hooks
                    .process_request(request, client_address.clone(), &self.info)
            {
                self.hooks.handle_error(&client_address, &failed.error);
                if let Some(request) = failed.request {
                    self.hooks.shutdown_request(request);
                }
            }
        } else {
            self.hooks.shutdown_request(request);
        }
        Ok(true)
    }

    /// Handles requests until [`ShutdownHandle::shutdown`] is called, waking at least every
    /// `poll_interval` to call `service_actions`.
    ///
    /// Python: `socketserver.BaseServer.serve_forever(poll_interval=0.5)`.
    #[doc(alias = "socketserver.BaseServer.serve_forever")]
    pub fn serve_forever(&mut self, poll_interval: Duration) -> Result<()> {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.running {
                return Err(Error::State("serve_forever is already running"));
            }
            if self.closed {
                return Err(Error::State("serve_forever on a closed server"));
            }
            st.running = true;
        }
        let result = self.serve_loop(poll_interval);
        self.shared.shutdown_request.store(false, Ordering::SeqCst);
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.running = false;
        st.stopped += 1;
        self.shared.changed.notify_all();
        result
    }

    fn serve_loop(&mut self, poll_interval: Duration) -> Result<()> {
        while !self.shared.shutdown_request.load(Ordering::SeqCst) {
            if std::mem::take(&mut self.backoff) {
                // Wait without re-arming the listener: only a wake-up (shutdown) or a new
                // connection's edge ends the pause early.
                match self
                    .poll
                    .poll(&mut self.events, Some(poll_interval.min(ACCEPT_BACKOFF)))
                {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            let ready = self.wait_readable(Some(poll_interval))?;
            if self.shared.shutdown_request.load(Ordering::SeqCst) {
                break;
            }
            if ready {
                self.handle_request_noblock()?;
            }
            self.hooks.service_actions();
        }
        Ok(())
    }

    /// Waits until the transport is readable (true), or the timeout passes or a wake-up
    /// comes (false). EINTR counts as an early wake-up.
    fn wait_readable(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let Some(fd) = self.transport.fileno() else {
            // In-memory transports are always ready.
            return Ok(true);
        };
        // Re-arm on every wait: the registration is edge-triggered, and a request may still be
        // queued from the last readiness edge (EPOLL_CTL_MOD re-checks readiness).
        if self.registered {
            self.poll
                .registry()
                .reregister(&mut SourceFd(&fd), LISTENER, Interest::READABLE)?;
        } else {
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), LISTENER, Interest::READABLE)?;
            self.registered = true;
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        Ok(self.events.iter().any(|e| e.token() == LISTENER))
    }

    /// Closes the listening socket and lets the hooks finish (the threading mix-in joins its
    /// threads here when `block_on_close` is set). Dropping the server closes the socket too.
    ///
    /// Python: `socketserver.BaseServer.server_close` (and `__exit__`).
    #[doc(alias = "socketserver.BaseServer.server_close")]
    #[doc(alias = "socketserver.BaseServer.__exit__")]
    pub fn server_close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.registered
            && let Some(fd) = self.transport.fileno()
        {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        self.transport.server_close();
        self.hooks.server_close();
    }
}
