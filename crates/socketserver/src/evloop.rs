//! Per-core event loops serving a pluggable request protocol, with loop hand-off when a
//! handler blocks: the engine of the production face.
//!
//! Python: no equivalent; the production face's engine (see `docs/ARCHITECTURE.md` and
//! `concurrency.md`, model "D"). Python's `socketserver` gives each request a thread (or a
//! process); this module serves many connections per thread and only spends a thread on a
//! handler that blocks.
//!
//! This module knows nothing of HTTP: a [`Protocol`] says where a request ends
//! ([`Protocol::frame`]) and answers it ([`Protocol::serve`]); `http-server` implements it.
//!
//! # The model
//!
//! - **W loops** ([`EventLoopConfig::threads`], default: one per core), each with its own
//!   mio `Poll`, its own `SO_REUSEPORT` listener (or a duplicate of one shared listener) and
//!   its own connections. Sockets are non-blocking and edge-triggered: every read and write
//!   goes on until `WouldBlock`. Accepted TCP sockets get `TCP_NODELAY`.
//! - **Idle connections hold no buffer and no thread**: input is read into a per-thread
//!   scratch buffer that a connection keeps only while it holds a partial request (then
//!   shrunk to its size); output buffers are returned as soon as they are flushed.
//! - **The loop frames each request before any handler runs**: bytes are read, then
//!   [`Protocol::frame`] says whether a whole request is buffered. The whole request lives
//!   under one deadline ([`EventLoopConfig::request_timeout`]) that starts with its first
//!   byte and is not reset by later bytes, so a client trickling a byte a second costs a
//!   little memory and never a thread. Keep-alive connections wait under
//!   [`EventLoopConfig::idle_timeout`]; the deadlines sit in a heap and the poll timeout is
//!   the nearest one.
//! - **Handlers run inline**: [`Protocol::serve`] writes the whole response into a `Vec`;
//!   the loop sends it with one non-blocking write. Pipelined requests are served in order
//!   from the same buffer. If the write would block, the rest waits for `WRITABLE` under
//!   [`EventLoopConfig::write_timeout`] and the connection is not read meanwhile
//!   (backpressure). A response that must go out while it is being produced (no length
//!   known in advance) is sent part by part through the [`Sink`] in
//!   [`HandlerCx::sink`]: a blocking send from the serving thread; when the socket is full
//!   the wait is announced, so the loop goes on under a standby thread.
//! - **Loop hand-off**: the loop's state sits behind a mutex that the driving thread releases
//!   while user code runs, and an atomic word says "user code running, generation N". When
//!   the handler announces a blocking call ([`ServeCx::blocking`], which is
//!   [`HandlerCx::blocking`]), or the watchdog ([`EventLoopConfig::watchdog`]) sees the same
//!   generation busy twice, one CAS (busy → busy|stolen) takes the loop and a standby thread
//!   (capped by [`EventLoopConfig::max_blocking`]) drives it on, serving every other
//!   connection. The blocked thread finishes its handler, finds its CAS back to idle failing,
//!   hands its connection (unsent output and pipelined leftovers included) back through a
//!   queue and the loop's waker, and becomes a standby thread itself.
//! - **Limits**: at [`EventLoopConfig::max_connections`] accepting pauses (the listeners are
//!   deregistered; the kernel backlog holds the rest) until a connection closes. Accept
//!   survives `ECONNABORTED` and `EINTR`, and backs off for a few milliseconds on
//!   `EMFILE`/`ENFILE`. A panicking protocol costs its connection only.
//! - **Graceful shutdown** ([`ServerHandle::shutdown`]): stop accepting, close idle
//!   connections (but keep one accepted less than a second ago that has not sent its first
//!   request yet: it is on the way), serve requests already received (the protocol is told
//!   to close after them, [`ServeCx::is_closing`]), flush, and force-close whatever is left
//!   at the deadline (a response still streaming through a [`Sink`] fails its next send
//!   then, so an endless one ends).
//! - **Observability**: [`ServerHandle::connections`], [`ServerHandle::idle_connections`],
//!   [`ServerHandle::handoffs`] and [`ServerHandle::loop_progress`] (a liveness check that
//!   tells a loop waiting for events from one stuck in a handler).
//!
//! # Invariants
//!
//! - The loop lock is never held across user code ([`Protocol`] methods run with the
//!   connection moved out of the loop and the lock released).
//! - Exactly one side wins the ownership CAS: both the driver ending its call and a thief
//!   CAS from the same `busy(generation)` value, and generations only grow (checked
//!   exhaustively by a model test of every interleaving, and stress-tested).
//! - A connection is in exactly one place: in its loop's table, with the thread serving it,
//!   or in its loop's return queue (a returned connection is followed by a wake-up).
//! - Only blocking handlers can exhaust the standby threads; slow or idle clients never
//!   hold one.
//!
//! # Example
//!
//! A line protocol: each `\n`-terminated line is answered upper-cased.
//!
//! ```
//! use socketserver::evloop::{EventLoopConfig, EventLoopServer, Frame, Protocol, ServeCx, Served};
//! use std::io::{BufRead, BufReader, Write};
//!
//! struct Upper;
//! impl Protocol for Upper {
//!     type Session = ();
//!     fn frame(&self, _: &mut (), input: &[u8]) -> Frame {
//!         match input.iter().position(|&b| b == b'\n') {
//!             Some(i) => Frame::Complete(i + 1),
//!             None => Frame::Incomplete,
//!         }
//!     }
//!     fn serve(&self, _: &mut (), request: &[u8], out: &mut Vec<u8>, _: &ServeCx<'_>) -> Served {
//!         out.extend(request.to_ascii_uppercase());
//!         Served::KEEP_ALIVE
//!     }
//! }
//!
//! let config = EventLoopConfig { threads: 1, ..EventLoopConfig::default() };
//! let server = EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, Upper)?;
//! let addr = server.local_addr().inet().unwrap();
//! let handle = server.handle();
//! let serving = std::thread::spawn(move || server.serve());
//!
//! let mut c = std::net::TcpStream::connect(addr)?;
//! c.write_all(b"hello\nworld\n")?;
//! let mut r = BufReader::new(c);
//! let mut line = String::new();
//! r.read_line(&mut line)?;
//! assert_eq!(line, "HELLO\n");
//! handle.shutdown();
//! serving.join().unwrap()?;
//! # Ok::<(), socketserver::Error>(())
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{Address, HandlerCx, Result, ServerInfo};

pub use self::defer_accept::set_defer_accept;
pub use self::listen_fds::listen_fds;
pub use self::server::{EventLoopServer, ServerHandle};
pub use crate::handler::Sink;

mod buf;
mod conn;
mod defer_accept;
mod listen_fds;
mod ownership;
mod server;
mod timers;

/// A request protocol: how the bytes of a connection split into requests, and how each is
/// answered.
///
/// The engine calls these methods with the connection moved out of its loop and no lock
/// held; they must not block except inside [`ServeCx::blocking`] (anything else that
/// blocks is caught by the watchdog, later). They run on any of the server's threads, one
/// call at a time per connection.
///
/// Python: no equivalent; the production face's engine (see `docs/ARCHITECTURE.md`): the
/// part of a `StreamRequestHandler` that reads `rfile` until a request is complete, split
/// from the part that answers it.
pub trait Protocol: Send + Sync + 'static {
    /// Per-connection state kept between calls (for example how far the framer got, or
    /// whether `100 Continue` was sent). Created with `Default` when a connection is
    /// accepted; keep it small, every idle connection holds one.
    type Session: Send + Default + 'static;

    /// Looks at the buffered input of a connection (starting with the next request) and
    /// says whether a whole request is there.
    ///
    /// Called after every read that brought new bytes, and again right after an
    /// [`Frame::Interim`] answer; must not block.
    fn frame(&self, session: &mut Self::Session, input: &[u8]) -> Frame;

    /// Serves one framed request (`request` is `input[..len]` of [`Frame::Complete`]): writes
    /// the whole response by appending to `out` (which may already hold earlier pipelined
    /// responses not yet sent) and says whether the connection stays open.
    ///
    /// To send what it wrote so far before returning (a response produced over time),
    /// `serve` hands `out` to the [`Sink`] of [`HandlerCx::sink`] (on
    /// [`ServeCx::handler`]), which sends it and empties it; when a send fails, the
    /// connection is closed after `serve` returns and nothing more is sent.
    ///
    /// When [`ServeCx::is_closing`] is true the server is shutting down: answer this request
    /// and ask to close (the engine closes after it anyway). Wrap blocking work in
    /// [`ServeCx::blocking`]. A panic here is caught: the connection is closed, nothing of
    /// this response is sent (but what the sink sent already), and the loop goes on.
    fn serve(
        &self,
        session: &mut Self::Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served;

    /// A connection with a partial request is about to be closed (`input` is what was
    /// buffered of it): returns bytes to send first, best effort (for example a `408` on a
    /// timeout, a `413` when the request outgrew [`EventLoopConfig::max_request_bytes`]).
    ///
    /// Default: nothing.
    fn abort(&self, _session: &mut Self::Session, _input: &[u8], _why: Abort) -> Vec<u8> {
        Vec::new()
    }

    /// On a server that serves TLS (`EventLoopServer::tls`, the `tls` feature): how to
    /// measure the bytes a connection sends in clear before its TLS session starts, such as
    /// the PROXY protocol header a TCP load balancer writes ahead of its client's TLS bytes.
    ///
    /// With `Some(measure)`, the engine reads a new connection's first bytes outside TLS
    /// until `measure` says how long the preface is ([`Preface::Len`]), hands those bytes
    /// to [`frame`](Self::frame) as the start of the connection's input, and decrypts what
    /// follows. [`Preface::Invalid`] hands over what was read and ends the connection's
    /// input there, for `frame` to refuse. The preface counts toward the handshake
    /// deadline. Without TLS the preface is simply the first input: this is not called.
    ///
    /// Default: `None` (the TLS session starts with the first byte).
    ///
    /// Python: no equivalent (`ssl.SSLContext.wrap_socket` starts the session at the
    /// socket's first byte).
    fn clear_preface(&self) -> Option<ClearPreface> {
        None
    }
}

/// Measures the clear preface of a TLS connection (see [`Protocol::clear_preface`]).
///
/// Python: no equivalent (`ssl` wraps a socket from its first byte).
pub type ClearPreface = fn(&[u8]) -> Preface;

/// What a [`ClearPreface`] found at the start of a connection.
///
/// Python: no equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preface {
    /// Not enough bytes yet to tell.
    Incomplete,
    /// The first `n` bytes are the preface; the TLS session starts after them.
    Len(usize),
    /// These bytes cannot start a preface.
    Invalid,
}

/// A shared protocol (so the application keeps a handle on its state).
impl<P: Protocol> Protocol for std::sync::Arc<P> {
    type Session = P::Session;

    fn frame(&self, session: &mut Self::Session, input: &[u8]) -> Frame {
        (**self).frame(session, input)
    }

    fn serve(
        &self,
        session: &mut Self::Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        (**self).serve(session, request, out, cx)
    }

    fn abort(&self, session: &mut Self::Session, input: &[u8], why: Abort) -> Vec<u8> {
        (**self).abort(session, input, why)
    }

    fn clear_preface(&self) -> Option<ClearPreface> {
        (**self).clear_preface()
    }
}

/// What [`Protocol::frame`] found in the buffered input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// No whole request yet: read more (under the request deadline and size cap).
    Incomplete,
    /// Send these bytes now (for example `HTTP/1.1 100 Continue`), then call
    /// [`Protocol::frame`] again on the same input. Record in the session that they were
    /// sent: a connection that answers `Interim` eight times in a row without progress is
    /// closed.
    Interim(Vec<u8>),
    /// The first `len` bytes are a whole request (`0 < len <= input.len()`); what follows
    /// stays buffered for the next one.
    Complete(usize),
    /// A malformed request: send these bytes, then close the connection.
    Reject(Vec<u8>),
}

/// What [`Protocol::serve`] decided about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// Keep the connection open for the next request.
    pub keep_alive: bool,
}

impl Served {
    /// Keep the connection open.
    pub const KEEP_ALIVE: Served = Served { keep_alive: true };
    /// Close the connection once the response is sent.
    pub const CLOSE: Served = Served { keep_alive: false };
}

/// Why a connection is closed with a partial request (see [`Protocol::abort`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Abort {
    /// The request was not complete within [`EventLoopConfig::request_timeout`] of its
    /// first byte.
    RequestTimeout,
    /// The buffered request outgrew [`EventLoopConfig::max_request_bytes`].
    TooLarge,
    /// The server shut down and its grace period ended before the request was complete.
    Shutdown,
}

/// What [`Protocol::serve`] is told besides the request.
///
/// Python: no equivalent (a Python handler reads the same facts from `self` and
/// `self.server`).
#[derive(Debug, Clone, Copy)]
pub struct ServeCx<'a> {
    handler: HandlerCx<'a>,
    closing: bool,
    shutdown: Option<&'a AtomicBool>,
}

impl<'a> ServeCx<'a> {
    /// A context around a handler context (the engine adds its blocking hook to it; unit
    /// tests of a protocol build one over [`HandlerCx::new`]).
    pub fn new(handler: HandlerCx<'a>) -> Self {
        ServeCx {
            handler,
            closing: false,
            shutdown: None,
        }
    }

    /// The same context, closing as soon as `flag` is set (read at each
    /// [`is_closing`](Self::is_closing) call, so a handler that blocked learns of a shutdown
    /// that began meanwhile).
    pub fn closing_when(mut self, flag: &'a AtomicBool) -> Self {
        self.shutdown = Some(flag);
        self
    }

    /// The same context, telling the protocol whether the server is shutting down.
    pub fn closing(mut self, closing: bool) -> Self {
        self.closing = closing;
        self
    }

    /// The client address, the server facts and the blocking hook, as handlers see them.
    pub fn handler(&self) -> &HandlerCx<'a> {
        &self.handler
    }

    /// The same context with another client address (the client a proxy reported, for
    /// example through the PROXY protocol); closing and blocking behave as before.
    pub fn with_client_address<'b>(&self, client_address: &'b Address) -> ServeCx<'b>
    where
        'a: 'b,
    {
        let mut handler: HandlerCx<'b> = self.handler;
        handler.client_address = client_address;
        ServeCx {
            handler,
            closing: self.closing,
            shutdown: self.shutdown,
        }
    }

    /// The same context with another [`Sink`] (a protocol wrapping another one, to count
    /// what goes through it); closing and blocking behave as before.
    ///
    /// Python: no equivalent.
    pub fn with_sink<'b>(&self, sink: &'b dyn Sink) -> ServeCx<'b>
    where
        'a: 'b,
    {
        let handler: HandlerCx<'b> = self.handler;
        ServeCx {
            handler: handler.with_sink(sink),
            closing: self.closing,
            shutdown: self.shutdown,
        }
    }

    /// True when the server is shutting down: answer this request and close the connection
    /// (HTTP: `Connection: close`). Under the engine this is live: ask it when the response
    /// head is written, after any blocking work.
    pub fn is_closing(&self) -> bool {
        self.closing || self.shutdown.is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Announces that `f` may block and runs it; meanwhile the loop is handed to a standby
    /// thread and keeps serving the other connections.
    ///
    /// Same as [`HandlerCx::blocking`] on [`handler`](Self::handler).
    pub fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        self.handler.blocking(f)
    }
}

/// A listening socket to serve from: TCP or Unix domain.
///
/// Python: the `socket` of a `TCPServer` or a `UnixStreamServer`.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener (bound and listening).
    Tcp(std::net::TcpListener),
    /// A Unix domain stream listener (bound and listening).
    Unix(std::os::unix::net::UnixListener),
}

impl From<std::net::TcpListener> for Listener {
    fn from(l: std::net::TcpListener) -> Self {
        Listener::Tcp(l)
    }
}

impl From<std::os::unix::net::UnixListener> for Listener {
    fn from(l: std::os::unix::net::UnixListener) -> Self {
        Listener::Unix(l)
    }
}

impl Listener {
    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<Address> {
        Ok(match self {
            Listener::Tcp(l) => Address::Inet(l.local_addr()?),
            Listener::Unix(l) => {
                Address::Unix(l.local_addr()?.as_pathname().map(Path::to_path_buf))
            }
        })
    }

    fn try_clone(&self) -> std::io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }
}

/// Limits, timeouts and sizes of an [`EventLoopServer`], each with a documented default.
///
/// Python: no equivalent; the production face's engine (see `docs/ARCHITECTURE.md`).
#[derive(Debug, Clone)]
pub struct EventLoopConfig {
    /// Number of event loops; 0 (the default) means one per core
    /// (`std::thread::available_parallelism`).
    pub threads: usize,
    /// Most threads that may be blocked in handlers at once beyond the loops' own (the
    /// standby cap). Default: 256. At the cap a loop whose handler blocks waits for a thread
    /// to come free.
    pub max_blocking: usize,
    /// Most open connections over all loops; at the cap accepting pauses until one closes.
    /// Default: 32768.
    pub max_connections: usize,
    /// The `listen()` backlog for sockets this server binds. Default: 1024 (CPython's
    /// `request_queue_size = 5` costs about a second of p99 under 50 clients).
    pub backlog: i32,
    /// Deadline for a whole request, from its first byte until [`Protocol::frame`] says it is
    /// complete; not reset by later bytes. Default: 30 s.
    pub request_timeout: Duration,
    /// How long a keep-alive connection may wait for the first byte of its next request
    /// (`None`: forever). Default: 60 s.
    pub idle_timeout: Option<Duration>,
    /// How long a response may wait for the client to make room for more of it (reset
    /// whenever bytes are sent). Default: 30 s.
    pub write_timeout: Duration,
    /// Most bytes buffered for one request; beyond that with no complete frame the
    /// connection is closed after [`Protocol::abort`] with [`Abort::TooLarge`]. Default:
    /// 1 MiB.
    pub max_request_bytes: usize,
    /// [`EventLoopServer::bind`] gives each loop its own `SO_REUSEPORT` listener (true), or
    /// binds one listener that every loop accepts from (false). Default: true.
    pub reuse_port: bool,
    /// With [`reuse_port`](Self::reuse_port), [`EventLoopServer::bind`] may join a port that
    /// other `SO_REUSEPORT` sockets of this user already listen on (another server, for a
    /// restart without a gap), sharing its connections with them. False refuses a port in
    /// use with `EADDRINUSE`, as a plain `bind()` does: a second server started by mistake
    /// fails instead of silently taking part of the first one's traffic. Default: false.
    pub share_port: bool,
    /// Set `SO_REUSEADDR` on sockets this server binds. Default: true.
    pub reuse_address: bool,
    /// Set `TCP_DEFER_ACCEPT` on TCP sockets this server binds (see [`set_defer_accept`]):
    /// a connection is accepted when its first bytes arrive, or once this long has passed
    /// without any. Only for protocols whose clients speak first; the HTTP servers set it.
    /// Listeners given to [`EventLoopServer::from_listeners`] are left as they are.
    /// Default: `None`.
    pub defer_accept: Option<Duration>,
    /// Period of the watchdog that hands a loop off when one generation of user code stays
    /// busy for two consecutive checks (so a handler that blocks unannounced stalls its loop
    /// for one to two periods). A loop thread that the OS preempts for that long is handed
    /// off too (harmless: one standby thread, which exits after
    /// [`standby_keep_alive`](Self::standby_keep_alive) idle). The watchdog sleeps after 50
    /// periods in which no handler started or ran, until the next handler starts, so an idle
    /// server does not wake up every period. `None` disables it (only announced blocking
    /// then hands off). Default: 2 ms.
    pub watchdog: Option<Duration>,
    /// Grace period of [`ServerHandle::shutdown`] before the remaining connections are
    /// closed. Default: 30 s.
    pub shutdown_timeout: Duration,
    /// How long an idle standby thread waits for work before it exits. Default: 10 s.
    pub standby_keep_alive: Duration,
    /// Pause of the accept path after `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`. Default: 10 ms.
    pub accept_backoff: Duration,
}

impl Default for EventLoopConfig {
    fn default() -> Self {
        EventLoopConfig {
            threads: 0,
            max_blocking: 256,
            max_connections: 32_768,
            backlog: 1024,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(60)),
            write_timeout: Duration::from_secs(30),
            max_request_bytes: 1 << 20,
            reuse_port: true,
            share_port: false,
            reuse_address: true,
            defer_accept: None,
            watchdog: Some(Duration::from_millis(2)),
            shutdown_timeout: Duration::from_secs(30),
            standby_keep_alive: Duration::from_secs(10),
            accept_backoff: Duration::from_millis(10),
        }
    }
}

impl EventLoopConfig {
    fn loops(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// Binds `addr` for `loops` loops: `SO_REUSEPORT` listeners, one per loop, or one listener.
fn bind_tcp(addr: SocketAddr, config: &EventLoopConfig, loops: usize) -> Result<Vec<Listener>> {
    use socket2::{Domain, Socket, Type};
    let count = if config.reuse_port { loops } else { 1 };
    let mut out = Vec::with_capacity(count);
    let mut addr = addr;
    if config.reuse_port && !config.share_port {
        // `SO_REUSEPORT` would let these sockets join another server's listeners: a probe
        // without it fails with `EADDRINUSE` when anything listens on the port (and picks
        // the port for port 0). The port is free again for the few microseconds between
        // the probe's close and the first bind below.
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        if config.reuse_address {
            probe.set_reuse_address(true)?;
        }
        probe.bind(&addr.into())?;
        if let Some(bound) = probe.local_addr()?.as_socket() {
            addr = bound;
        }
    }
    for _ in 0..count {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        if config.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if config.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(config.backlog)?;
        if let Some(after) = config.defer_accept {
            set_defer_accept(&socket, after)?;
        }
        let listener: std::net::TcpListener = socket.into();
        // Port 0: the next listeners join the port the first one got.
        addr = listener.local_addr()?;
        out.push(Listener::Tcp(listener));
    }
    Ok(out)
}

fn new_info(address: Address) -> ServerInfo {
    let mut info = ServerInfo::new(address);
    info.multithread = true;
    info
}
