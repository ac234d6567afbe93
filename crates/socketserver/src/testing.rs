//! Test kit: drive a server, its hooks and its handlers with no socket.
//!
//! # Guide
//!
//! A [`MemTransport`] is a [`Transport`] whose requests are [`MemConnection`]s you script:
//! each one reads the client bytes you gave it and captures what the server writes. The
//! [`MemClient`] handle you get back stays valid after the server dropped the connection,
//! so a test reads the output, and checks whether the server half-closed (`shutdown_request`)
//! and closed (`close_request`) it. A [`Recorder`] wraps any [`ServerHooks`] and lists which
//! hooks ran, in order.
//!
//! [`BaseServer::handle_request`](crate::BaseServer::handle_request) treats a transport
//! without a descriptor as always ready, so it serves the next scripted connection at once
//! (and returns without calling `handle_timeout` when none is queued).
//!
//! ```
//! use socketserver::testing::{Hook, MemTransport, Recorder};
//! use socketserver::{Address, BaseServer, HandlerCx, RequestHandlerClass, Result, RwStream,
//!                    StreamHandler, StreamRequestHandler};
//!
//! // The handler under test: Python's MyTCPHandler from the socketserver docs.
//! struct Upper;
//! impl StreamHandler for Upper {
//!     fn handle(&mut self, s: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
//!         let line = s.readline(1024)?;
//!         s.write_all(&line.trim_ascii().to_ascii_uppercase())?;
//!         Ok(())
//!     }
//! }
//!
//! let transport = MemTransport::new();
//! let client = transport.connect_from("10.0.0.7:5000".parse::<std::net::SocketAddr>().unwrap(),
//!                                     b"hello world\n");
//! let hooks = Recorder::new(RequestHandlerClass(|| StreamRequestHandler::new(Upper)));
//! let log = hooks.log();
//! let mut server = BaseServer::new(transport, hooks)?;
//! server.handle_request()?;
//!
//! assert_eq!(client.output(), b"HELLO WORLD");
//! assert!(client.is_shut_down() && client.is_closed());
//! assert_eq!(log.hooks(), [Hook::VerifyRequest, Hook::ProcessRequest, Hook::FinishRequest,
//!                          Hook::ShutdownRequest]);
//! assert_eq!(log.client_addresses()[0], Address::Inet("10.0.0.7:5000".parse().unwrap()));
//! # Ok::<(), socketserver::Error>(())
//! ```
//!
//! Python has no such kit: its tests run real sockets (`Lib/test/test_socketserver.py`).

#[cfg(feature = "tls")]
pub use self::pki::TestPki;

#[cfg(feature = "tls")]
mod pki;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{
    Address, Connection, Error, Failed, HandlerCx, Result, ServerConfig, ServerHooks, ServerInfo,
    Transport, default,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct ConnState {
    output: Vec<u8>,
    flushes: usize,
    shut_down: bool,
    closed: bool,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    nodelay: bool,
}

/// An in-memory request: reads scripted client bytes, captures what is written.
///
/// Dropping it marks it closed (Python's `close_request`); [`Connection::shutdown_write`]
/// marks it shut down, after which writes fail with `BrokenPipe`. Both are visible through
/// its [`MemClient`].
///
/// ```
/// use socketserver::testing::MemConnection;
/// use socketserver::Connection;
/// use std::io::{Read, Write};
/// let (mut conn, client) = MemConnection::new(b"ping");
/// let mut buf = String::new();
/// conn.read_to_string(&mut buf)?;
/// conn.write_all(b"pong")?;
/// conn.shutdown_write()?;
/// drop(conn);
/// assert_eq!((buf.as_str(), client.output_string().as_str()), ("ping", "pong"));
/// assert!(client.is_closed());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MemConnection {
    input: io::Cursor<Vec<u8>>,
    read_error: Option<io::ErrorKind>,
    state: Arc<Mutex<ConnState>>,
}

impl fmt::Debug for MemConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemConnection")
            .field("input_len", &self.input.get_ref().len())
            .field("input_pos", &self.input.position())
            .finish_non_exhaustive()
    }
}

impl MemConnection {
    /// A connection whose client sends `input` and then closes its side (reads then return
    /// end of stream).
    pub fn new(input: impl Into<Vec<u8>>) -> (MemConnection, MemClient) {
        let state = Arc::new(Mutex::new(ConnState::default()));
        let conn = MemConnection {
            input: io::Cursor::new(input.into()),
            read_error: None,
            state: Arc::clone(&state),
        };
        (conn, MemClient { state })
    }

    /// Once `input` is read, reads fail with `kind` instead of returning end of stream (a
    /// client that vanished: `ConnectionReset`; a socket timeout: `WouldBlock`).
    pub fn with_read_error(mut self, kind: io::ErrorKind) -> Self {
        self.read_error = Some(kind);
        self
    }
}

impl Read for MemConnection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(kind) = self.read_error
        {
            return Err(io::Error::new(kind, "scripted read error"));
        }
        Ok(n)
    }
}

impl Write for MemConnection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut st = lock(&self.state);
        if st.shut_down {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown_write",
            ));
        }
        st.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        lock(&self.state).flushes += 1;
        Ok(())
    }
}

impl Connection for MemConnection {
    fn shutdown_write(&mut self) -> io::Result<()> {
        lock(&self.state).shut_down = true;
        Ok(())
    }
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        lock(&self.state).read_timeout = timeout;
        Ok(())
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        lock(&self.state).write_timeout = timeout;
        Ok(())
    }
    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        lock(&self.state).nodelay = nodelay;
        Ok(())
    }
}

impl Drop for MemConnection {
    fn drop(&mut self) {
        lock(&self.state).closed = true;
    }
}

/// The test's side of a [`MemConnection`]: what the server wrote and did to it. Stays valid
/// after the server dropped the connection.
#[derive(Debug, Clone)]
pub struct MemClient {
    state: Arc<Mutex<ConnState>>,
}

impl MemClient {
    /// Everything the server wrote.
    pub fn output(&self) -> Vec<u8> {
        lock(&self.state).output.clone()
    }

    /// What the server wrote, as (lossy) UTF-8.
    pub fn output_string(&self) -> String {
        String::from_utf8_lossy(&lock(&self.state).output).into_owned()
    }

    /// How many times the server flushed the connection.
    pub fn flushes(&self) -> usize {
        lock(&self.state).flushes
    }

    /// True once the server half-closed the connection (Python: `shutdown(SHUT_WR)` in
    /// `shutdown_request`).
    pub fn is_shut_down(&self) -> bool {
        lock(&self.state).shut_down
    }

    /// True once the server dropped the connection (Python: `close_request`).
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// The read timeout the server set (Python: `StreamRequestHandler.timeout`).
    pub fn read_timeout(&self) -> Option<Duration> {
        lock(&self.state).read_timeout
    }

    /// The write timeout the server set.
    pub fn write_timeout(&self) -> Option<Duration> {
        lock(&self.state).write_timeout
    }

    /// Whether the server set `TCP_NODELAY` (Python:
    /// `StreamRequestHandler.disable_nagle_algorithm`).
    pub fn nodelay(&self) -> bool {
        lock(&self.state).nodelay
    }
}

#[derive(Debug)]
enum Pending {
    Conn(MemConnection, Address),
    Error(io::ErrorKind),
}

#[derive(Debug, Default)]
struct TransportState {
    queue: VecDeque<Pending>,
    next_port: u16,
    closed: bool,
}

/// An in-memory [`Transport`]: a queue of scripted connections (and `get_request` errors).
///
/// Clones share the queue, so a test keeps one to add connections after moving another
/// into a server. It has no descriptor ([`Transport::fileno`] is `None`): `handle_request`
/// and `serve_forever` see it as always ready.
#[derive(Debug, Clone)]
pub struct MemTransport {
    state: Arc<Mutex<TransportState>>,
    address: Address,
}

impl Default for MemTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTransport {
    /// A transport "bound" at `127.0.0.1:8000`.
    pub fn new() -> Self {
        Self::with_address(Address::Inet(SocketAddr::from(([127, 0, 0, 1], 8000))))
    }

    /// A transport reporting `address` as its server address.
    pub fn with_address(address: impl Into<Address>) -> Self {
        MemTransport {
            state: Arc::new(Mutex::new(TransportState {
                next_port: 40000,
                ..TransportState::default()
            })),
            address: address.into(),
        }
    }

    /// Queues a connection from `127.0.0.1` (ports 40000, 40001, ...) whose client sends
    /// `input`.
    pub fn connect(&self, input: impl Into<Vec<u8>>) -> MemClient {
        let port = {
            let mut st = lock(&self.state);
            let p = st.next_port;
            st.next_port = st.next_port.wrapping_add(1);
            p
        };
        self.connect_from(SocketAddr::from(([127, 0, 0, 1], port)), input)
    }

    /// Queues a connection from `client_address` whose client sends `input`.
    pub fn connect_from(
        &self,
        client_address: impl Into<Address>,
        input: impl Into<Vec<u8>>,
    ) -> MemClient {
        let (conn, client) = MemConnection::new(input);
        self.push(conn, client_address);
        client
    }

    /// Queues a connection built by hand (for example with
    /// [`MemConnection::with_read_error`]).
    pub fn push(&self, connection: MemConnection, client_address: impl Into<Address>) {
        lock(&self.state)
            .queue
            .push_back(Pending::Conn(connection, client_address.into()));
    }

    /// Makes the next `get_request` fail with `kind` (Python swallows such `OSError`s).
    pub fn push_error(&self, kind: io::ErrorKind) {
        lock(&self.state).queue.push_back(Pending::Error(kind));
    }

    /// How many connections and errors are still queued.
    pub fn pending(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// True once the server closed the transport (`server_close`).
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}

impl Transport for MemTransport {
    type Conn = MemConnection;

    fn get_request(&mut self) -> io::Result<Option<(MemConnection, Address)>> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "server is closed",
            ));
        }
        match st.queue.pop_front() {
            None => Ok(None),
            Some(Pending::Conn(c, a)) => Ok(Some((c, a))),
            Some(Pending::Error(kind)) => Err(io::Error::new(kind, "scripted get_request error")),
        }
    }

    fn server_address(&self) -> Address {
        self.address.clone()
    }

    fn fileno(&self) -> Option<RawFd> {
        None
    }

    fn server_close(&mut self) {
        lock(&self.state).closed = true;
    }
}

/// A server hook, as recorded by [`Recorder`].
///
/// Python: the `BaseServer` method of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hook {
    /// `verify_request`.
    VerifyRequest,
    /// `process_request`.
    ProcessRequest,
    /// `finish_request`.
    FinishRequest,
    /// `shutdown_request` (which includes `close_request`).
    ShutdownRequest,
    /// `handle_error`.
    HandleError,
    /// `handle_timeout`.
    HandleTimeout,
    /// `service_actions`.
    ServiceActions,
    /// `server_close`.
    ServerClose,
}

#[derive(Debug, Default)]
struct LogState {
    hooks: Vec<Hook>,
    errors: Vec<String>,
    clients: Vec<Address>,
}

#[derive(Debug, Default)]
struct LogShared {
    state: Mutex<LogState>,
    changed: Condvar,
}

/// The shared list a [`Recorder`] writes to; clones share it (several recorders may share
/// one, see [`Recorder::with_log`]).
#[derive(Debug, Clone, Default)]
pub struct HookLog {
    shared: Arc<LogShared>,
}

impl HookLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, hook: Hook) {
        lock(&self.shared.state).hooks.push(hook);
        self.shared.changed.notify_all();
    }

    /// The hooks that ran, in order.
    pub fn hooks(&self) -> Vec<Hook> {
        lock(&self.shared.state).hooks.clone()
    }

    /// How many times `hook` ran.
    pub fn count(&self, hook: Hook) -> usize {
        lock(&self.shared.state)
            .hooks
            .iter()
            .filter(|h| **h == hook)
            .count()
    }

    /// The messages of the errors `handle_error` received, in order.
    pub fn errors(&self) -> Vec<String> {
        lock(&self.shared.state).errors.clone()
    }

    /// The client addresses `verify_request` saw, in order.
    pub fn client_addresses(&self) -> Vec<Address> {
        lock(&self.shared.state).clients.clone()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        let mut st = lock(&self.shared.state);
        st.hooks.clear();
        st.errors.clear();
        st.clients.clear();
    }

    /// Waits until `hook` has run at least `n` times (hooks may run on request threads);
    /// false if `timeout` passed first.
    pub fn wait_for(&self, hook: Hook, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.shared.state);
        loop {
            if st.hooks.iter().filter(|h| **h == hook).count() >= n {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Wraps any [`ServerHooks`], records each hook call in a [`HookLog`], then forwards it.
///
/// `process_request` runs, by default, Python's `BaseServer.process_request`
/// ([`default::process_request`]) on the recorder itself, so the `finish_request` and
/// `shutdown_request` calls it makes are recorded too; the wrapped hooks' own
/// `process_request` is then not called. For wrapped hooks that override it (a custom
/// strategy), use [`forward_process_request`](Self::forward_process_request). Put mix-ins
/// outside the recorder (`Threading<Recorder<H>>`): their request threads then call the
/// recorder's `finish_request`, `handle_error` and `shutdown_request`.
pub struct Recorder<H> {
    inner: H,
    log: HookLog,
    forward_process_request: bool,
}

impl<H> fmt::Debug for Recorder<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("log", &self.log)
            .field("forward_process_request", &self.forward_process_request)
            .finish_non_exhaustive()
    }
}

impl<H> Recorder<H> {
    /// Records the hooks of `inner` in a new log.
    pub fn new(inner: H) -> Self {
        Self::with_log(inner, HookLog::new())
    }

    /// Records the hooks of `inner` in `log` (shared with other recorders).
    pub fn with_log(inner: H, log: HookLog) -> Self {
        Recorder {
            inner,
            log,
            forward_process_request: false,
        }
    }

    /// Calls the wrapped hooks' `process_request` instead of the default template (the
    /// hooks it calls from there are then not recorded by this recorder).
    pub fn forward_process_request(mut self) -> Self {
        self.forward_process_request = true;
        self
    }

    /// The log (a shared handle: keep it before moving the recorder into a server).
    pub fn log(&self) -> HookLog {
        self.log.clone()
    }

    /// The wrapped hooks.
    pub fn inner(&self) -> &H {
        &self.inner
    }
}

impl<C: Connection, H: ServerHooks<C>> ServerHooks<C> for Recorder<H> {
    type Handler = H::Handler;

    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler {
        self.inner.make_handler(cx)
    }

    fn verify_request(&self, request: &C, client_address: &Address) -> bool {
        {
            let mut st = lock(&self.log.shared.state);
            st.hooks.push(Hook::VerifyRequest);
            st.clients.push(client_address.clone());
        }
        self.log.shared.changed.notify_all();
        self.inner.verify_request(request, client_address)
    }

    fn process_request(
        &self,
        request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        self.log.push(Hook::ProcessRequest);
        if self.forward_process_request {
            self.inner.process_request(request, client_address, server)
        } else {
            default::process_request(self, request, client_address, server)
        }
    }

    fn finish_request(
        &self,
        request: &mut C,
        client_address: &Address,
        server: &ServerInfo,
    ) -> Result<()> {
        self.log.push(Hook::FinishRequest);
        self.inner.finish_request(request, client_address, server)
    }

    fn shutdown_request(&self, request: C) {
        self.log.push(Hook::ShutdownRequest);
        self.inner.shutdown_request(request)
    }

    fn handle_error(&self, client_address: &Address, error: &Error) {
        {
            let mut st = lock(&self.log.shared.state);
            st.hooks.push(Hook::HandleError);
            st.errors.push(error.to_string());
        }
        self.log.shared.changed.notify_all();
        self.inner.handle_error(client_address, error)
    }

    fn handle_timeout(&self) {
        self.log.push(Hook::HandleTimeout);
        self.inner.handle_timeout()
    }

    fn service_actions(&self) {
        self.log.push(Hook::ServiceActions);
        self.inner.service_actions()
    }

    fn server_close(&self) {
        self.log.push(Hook::ServerClose);
        self.inner.server_close()
    }

    fn server_bound(&self, info: &mut ServerInfo) {
        self.inner.server_bound(info)
    }

    fn configure(&self, config: &mut ServerConfig) {
        self.inner.configure(config)
    }
}

/// Context switches, voluntary and not, of every thread of process `pid` so far (Linux:
/// `/proc/PID/task/*/status`; a thread that ends while it is read is skipped). A test of
/// an idle server counts them over a quiet spell: a server that sleeps makes none.
pub fn context_switches(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(status) = std::fs::read_to_string(task?.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Ok(total)
}

/// Frames one `\n`-terminated line: the framing of the small line protocols that test an
/// [`EventLoopServer`](crate::evloop::EventLoopServer) (the line, newline included, is the
/// request; without a newline the request is incomplete).
pub fn frame_line(input: &[u8]) -> crate::evloop::Frame {
    use crate::evloop::Frame;
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => Frame::Complete(i + 1),
        None => Frame::Incomplete,
    }
}
