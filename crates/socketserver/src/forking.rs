//! `ForkingMixIn`: a process per request. The crate's only `unsafe` code lives in the
//! private `sys` module below (`fork`, `waitpid`, `_exit`).

use std::collections::BTreeSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{
    Address, Connection, Error, Failed, HandlerCx, Result, ServerConfig, ServerHooks, ServerInfo,
};

/// Class attributes of `ForkingMixIn`.
///
/// Python: `socketserver.ForkingMixIn.max_children`, `block_on_close`, `timeout`.
#[doc(alias = "socketserver.ForkingMixIn.max_children")]
#[doc(alias = "socketserver.ForkingMixIn.block_on_close")]
#[doc(alias = "socketserver.ForkingMixIn.timeout")]
#[derive(Debug, Clone)]
pub struct ForkingConfig {
    /// Above this many live children, `collect_children` blocks until some exit
    /// (Python's default: 40).
    pub max_children: usize,
    /// When true (Python's default), `server_close` waits for every child to exit.
    pub block_on_close: bool,
    /// The server timeout a [`BaseServer::new`](crate::BaseServer::new) built on these
    /// hooks starts with, so that `handle_request` wakes to reap children (Python's
    /// default: 300 s).
    pub timeout: Option<Duration>,
}

impl Default for ForkingConfig {
    fn default() -> Self {
        ForkingConfig {
            max_children: 40,
            block_on_close: true,
            timeout: Some(Duration::from_secs(300)),
        }
    }
}

/// Serves each request in a forked child process: wraps any [`ServerHooks`] and overrides
/// `process_request`, `service_actions`, `handle_timeout` (which reap children) and
/// `server_close`; every other hook is delegated to the wrapped hooks.
///
/// The child runs `finish_request` (then `handle_error` if it failed), then
/// `shutdown_request`, and exits with `_exit` (status 0, or 1 after an error), never
/// returning into the caller. The parent closes its copy of the request (Python's
/// `close_request`: a drop, no half-close). Handlers see [`ServerInfo::multiprocess`] set to
/// true.
///
/// Forking a process that runs other threads is only safe for code that does not depend on
/// locks those threads may hold (glibc keeps `malloc` usable in the child); request handlers
/// should not rely on state shared with other threads.
///
/// Python: `socketserver.ForkingMixIn`; `ForkingTCPServer` is
/// [`ForkingTcpServer`](crate::ForkingTcpServer) = `TcpServer<Forking<H>>`.
///
/// ```
/// use socketserver::{Forking, ForkingTcpServer, HandlerCx, RequestHandlerClass, Result,
///                    RwStream, StreamHandler, StreamRequestHandler, TcpConfig, TcpTransport};
/// use std::io::{Read, Write};
///
/// struct Echo;
/// impl StreamHandler for Echo {
///     fn handle(&mut self, s: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
///         let line = s.readline(1024)?;
///         s.write_all(&line)?;
///         Ok(())
///     }
/// }
///
/// let transport = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpConfig::default())?;
/// let hooks = Forking::new(RequestHandlerClass(|| StreamRequestHandler::new(Echo)));
/// let mut server = ForkingTcpServer::new(transport, hooks)?;
/// let mut c = std::net::TcpStream::connect(server.server_address().inet().unwrap())?;
/// c.write_all(b"hi\n")?;
/// server.handle_request()?;     // forks; the child serves the request
/// let mut reply = String::new();
/// c.read_to_string(&mut reply)?;
/// assert_eq!(reply, "hi\n");
/// server.server_close();        // waits for the child (block_on_close)
/// assert_eq!(server.hooks().active_children().len(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "socketserver.ForkingMixIn")]
pub struct Forking<H> {
    inner: H,
    config: ForkingConfig,
    children: Mutex<BTreeSet<i32>>,
}

impl<H> fmt::Debug for Forking<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forking")
            .field("config", &self.config)
            .field("active_children", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl<H> Forking<H> {
    /// Wraps `inner` with Python's default class attributes.
    pub fn new(inner: H) -> Self {
        Self::with_config(inner, ForkingConfig::default())
    }

    /// Wraps `inner` with the given class attributes.
    pub fn with_config(inner: H, config: ForkingConfig) -> Self {
        Forking {
            inner,
            config,
            children: Mutex::new(BTreeSet::new()),
        }
    }

    /// The wrapped hooks.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The class attributes.
    pub fn config(&self) -> &ForkingConfig {
        &self.config
    }

    /// The process ids of the children not reaped yet.
    ///
    /// Python: `socketserver.ForkingMixIn.active_children`.
    #[doc(alias = "socketserver.ForkingMixIn.active_children")]
    pub fn active_children(&self) -> Vec<i32> {
        self.lock().iter().copied().collect()
    }

    /// Reaps children that have exited; first, while `max_children` or more are alive,
    /// waits for any child to exit. With `blocking`, waits for every child.
    ///
    /// Python: `socketserver.ForkingMixIn.collect_children(blocking=...)`.
    #[doc(alias = "socketserver.ForkingMixIn.collect_children")]
    pub fn collect_children(&self, blocking: bool) {
        let mut children = self.lock();
        // Like Python, waitpid(-1) may reap a child this server did not spawn; it is only
        // used above the limit.
        while children.len() >= self.config.max_children.max(1) {
            match sys::waitpid(-1, false) {
                Ok(pid) => {
                    children.remove(&pid);
                }
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => children.clear(),
                Err(_) => break,
            }
        }
        let pids: Vec<i32> = children.iter().copied().collect();
        for pid in pids {
            match sys::waitpid(pid, !blocking) {
                // 0: still running.
                Ok(0) => {}
                Ok(reaped) => {
                    children.remove(&reaped);
                }
                // Someone else reaped it.
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    children.remove(&pid);
                }
                Err(e) => tracing::debug!(pid, error = %e, "waitpid failed"),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeSet<i32>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C: Connection, H: ServerHooks<C>> ServerHooks<C> for Forking<H> {
    type Handler = H::Handler;

    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler {
        self.inner.make_handler(cx)
    }

    fn verify_request(&self, request: &C, client_address: &Address) -> bool {
        self.inner.verify_request(request, client_address)
    }

    /// Forks: the child serves the request and exits; the parent records the child and
    /// closes its copy of the request.
    ///
    /// Python: `socketserver.ForkingMixIn.process_request`.
    #[doc(alias = "socketserver.ForkingMixIn.process_request")]
    fn process_request(
        &self,
        request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        match sys::fork() {
            Err(e) => Err(Failed {
                error: Error::Io(e),
                request: Some(request),
            }),
            Ok(sys::Forked::Parent(pid)) => {
                self.lock().insert(pid);
                // Python: self.close_request(request): close, no shutdown (the child still
                // uses the connection).
                drop(request);
                Ok(())
            }
            Ok(sys::Forked::Child) => {
                let status = catch_unwind(AssertUnwindSafe(|| {
                    let mut request = request;
                    let status = match self.finish_request(&mut request, &client_address, server) {
                        Ok(()) => 0,
                        Err(e) => {
                            self.handle_error(&client_address, &e);
                            1
                        }
                    };
                    self.shutdown_request(request);
                    status
                }))
                .unwrap_or(1);
                sys::exit_child(status)
            }
        }
    }

    fn finish_request(
        &self,
        request: &mut C,
        client_address: &Address,
        server: &ServerInfo,
    ) -> Result<()> {
        self.inner.finish_request(request, client_address, server)
    }

    fn shutdown_request(&self, request: C) {
        self.inner.shutdown_request(request)
    }

    fn handle_error(&self, client_address: &Address, error: &Error) {
        self.inner.handle_error(client_address, error)
    }

    /// Reaps exited children, then calls the wrapped hooks' `handle_timeout`.
    ///
    /// Python: `socketserver.ForkingMixIn.handle_timeout`.
    #[doc(alias = "socketserver.ForkingMixIn.handle_timeout")]
    fn handle_timeout(&self) {
        self.collect_children(false);
        self.inner.handle_timeout()
    }

    /// Reaps exited children, then calls the wrapped hooks' `service_actions`.
    ///
    /// Python: `socketserver.ForkingMixIn.service_actions`.
    #[doc(alias = "socketserver.ForkingMixIn.service_actions")]
    fn service_actions(&self) {
        self.collect_children(false);
        self.inner.service_actions()
    }

    /// The wrapped hooks' `server_close`, then reaps children (waiting for all of them with
    /// `block_on_close`).
    ///
    /// Python: `socketserver.ForkingMixIn.server_close`.
    #[doc(alias = "socketserver.ForkingMixIn.server_close")]
    fn server_close(&self) {
        self.inner.server_close();
        self.collect_children(self.config.block_on_close);
    }

    /// The wrapped hooks' `server_bound`, then `multiprocess = true`.
    fn server_bound(&self, info: &mut ServerInfo) {
        self.inner.server_bound(info);
        info.multiprocess = true;
    }

    /// The wrapped hooks' `configure`, then `timeout` from [`ForkingConfig::timeout`].
    fn configure(&self, config: &mut ServerConfig) {
        self.inner.configure(config);
        config.timeout = self.config.timeout;
    }
}

/// The system calls behind [`Forking`]: the only `unsafe` code of the crate.
#[allow(unsafe_code)] // fork, waitpid and _exit have no safe std equivalent.
mod sys {
    use std::io;

    /// Which side of a `fork` we are on.
    pub(super) enum Forked {
        Parent(i32),
        Child,
    }

    pub(super) fn fork() -> io::Result<Forked> {
        // SAFETY: fork() has no memory-safety preconditions of its own. The child is a copy
        // of this process with one thread; it only runs the request (Rust code that does not
        // rely on other threads making progress; glibc's malloc is fork-safe) and then leaves
        // through `exit_child`, so it never returns into the caller's stack frames beyond
        // `process_request`.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            0 => Ok(Forked::Child),
            pid => Ok(Forked::Parent(pid)),
        }
    }

    /// `waitpid(pid, &status, nohang ? WNOHANG : 0)`, retried on EINTR; returns the reaped
    /// pid (0 when `nohang` and the child still runs).
    pub(super) fn waitpid(pid: i32, nohang: bool) -> io::Result<i32> {
        let flags = if nohang { libc::WNOHANG } else { 0 };
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: `status` is a valid, writable c_int for the duration of the call;
            // waitpid does not keep the pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, flags) };
            if r >= 0 {
                return Ok(r);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Ends the child process at once, without running destructors or `atexit` handlers
    /// that belong to the parent (Python: `os._exit`).
    pub(super) fn exit_child(status: i32) -> ! {
        // SAFETY: _exit() terminates the process immediately and has no preconditions; no
        // Rust code runs after it, so no invariant can be observed broken.
        unsafe { libc::_exit(status) }
    }
}
