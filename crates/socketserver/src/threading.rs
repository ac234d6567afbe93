//! `ThreadingMixIn`: a thread per request.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::{
    Address, Connection, Error, Failed, HandlerCx, Result, ServerConfig, ServerHooks, ServerInfo,
};

/// Class attributes of `ThreadingMixIn`.
///
/// Python: `socketserver.ThreadingMixIn.daemon_threads` and `block_on_close`.
#[doc(alias = "socketserver.ThreadingMixIn.daemon_threads")]
#[doc(alias = "socketserver.ThreadingMixIn.block_on_close")]
#[derive(Debug, Clone)]
pub struct ThreadingConfig {
    /// When false (Python's default), dropping the [`Threading`] adapter (with its server)
    /// waits for the request threads still running, as Python's interpreter waits for
    /// non-daemon threads at exit. When true, they are left to finish on their own.
    pub daemon_threads: bool,
    /// When true (Python's default), `server_close` waits for every request thread.
    pub block_on_close: bool,
}

impl Default for ThreadingConfig {
    fn default() -> Self {
        ThreadingConfig {
            daemon_threads: false,
            block_on_close: true,
        }
    }
}

/// Serves each request on a new thread: wraps any [`ServerHooks`] and overrides
/// `process_request`; every other hook is delegated to the wrapped hooks.
///
/// Handlers see [`ServerInfo::multithread`] set to true.
///
/// Python: `socketserver.ThreadingMixIn`; `ThreadingTCPServer` is
/// [`ThreadingTcpServer`](crate::ThreadingTcpServer) = `TcpServer<Threading<H>>`.
///
/// ```
/// use socketserver::{HandlerCx, RequestHandlerClass, Result, RwStream, StreamHandler,
///                    StreamRequestHandler, TcpConfig, TcpTransport, Threading,
///                    ThreadingTcpServer};
/// use std::io::{Read, Write};
///
/// struct Echo;
/// impl StreamHandler for Echo {
///     fn handle(&mut self, s: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
///         assert!(cx.server.multithread);
///         let line = s.readline(1024)?;
///         s.write_all(&line)?;
///         Ok(())
///     }
/// }
///
/// let transport = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpConfig::default())?;
/// let hooks = Threading::new(RequestHandlerClass(|| StreamRequestHandler::new(Echo)));
/// let mut server = ThreadingTcpServer::new(transport, hooks)?;
/// let mut c = std::net::TcpStream::connect(server.server_address().inet().unwrap())?;
/// c.write_all(b"hi\n")?;
/// server.handle_request()?;     // spawns the request's thread and returns
/// let mut reply = String::new();
/// c.read_to_string(&mut reply)?;
/// assert_eq!(reply, "hi\n");
/// server.server_close();        // joins the request threads (block_on_close)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "socketserver.ThreadingMixIn")]
pub struct Threading<H> {
    inner: Arc<H>,
    config: ThreadingConfig,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl<H> fmt::Debug for Threading<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Threading")
            .field("config", &self.config)
            .field("threads", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl<H> Threading<H> {
    /// Wraps `inner` with Python's default class attributes.
    pub fn new(inner: H) -> Self {
        Self::with_config(inner, ThreadingConfig::default())
    }

    /// Wraps `inner` with the given class attributes.
    pub fn with_config(inner: H, config: ThreadingConfig) -> Self {
        Threading {
            inner: Arc::new(inner),
            config,
            threads: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped hooks.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The class attributes.
    pub fn config(&self) -> &ThreadingConfig {
        &self.config
    }

    /// How many request threads are tracked (finished ones are reaped as new ones start).
    ///
    /// Python: `len(server._threads)`.
    pub fn tracked_threads(&self) -> usize {
        self.lock().len()
    }

    /// Waits for every tracked request thread.
    ///
    /// Python: `socketserver._Threads.join`.
    pub fn join(&self) {
        let threads = std::mem::take(&mut *self.lock());
        for t in threads {
            if t.join().is_err() {
                tracing::error!("request thread panicked outside its handler");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tracks_threads(&self) -> bool {
        self.config.block_on_close || !self.config.daemon_threads
    }
}

impl<C: Connection, H: ServerHooks<C> + 'static> ServerHooks<C> for Threading<H> {
    type Handler = H::Handler;

    fn make_handler(&self, cx: &HandlerCx<'_>) -> Self::Handler {
        self.inner.make_handler(cx)
    }

    fn verify_request(&self, request: &C, client_address: &Address) -> bool {
        self.inner.verify_request(request, client_address)
    }

    /// Starts a thread that runs [`process_request_thread`] on the request and returns.
    ///
    /// Python: `socketserver.ThreadingMixIn.process_request`.
    #[doc(alias = "socketserver.ThreadingMixIn.process_request")]
    fn process_request(
        &self,
        request: C,
        client_address: Address,
        server: &Arc<ServerInfo>,
    ) -> std::result::Result<(), Failed<C>> {
        // The request travels through a slot so that it can be taken back if the thread
        // cannot be started.
        let slot = Arc::new(Mutex::new(Some(request)));
        let inner = Arc::clone(&self.inner);
        let info = Arc::clone(server);
        let thread_slot = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("socketserver-request".to_owned())
            .spawn(move || {
                let request = thread_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(request) = request {
                    process_request_thread(&*inner, request, &client_address, &info);
                }
            });
        match spawned {
            Ok(handle) => {
                if self.tracks_threads() {
                    let mut threads = self.lock();
                    // Python's `_Threads.append` reaps finished threads first.
                    threads.retain(|t| !t.is_finished());
                    threads.push(handle);
                }
                Ok(())
            }
            Err(e) => {
                let request = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                Err(Failed {
                    error: Error::Io(e),
                    request,
                })
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

    fn handle_timeout(&self) {
        self.inner.handle_timeout()
    }

    fn service_actions(&self) {
        self.inner.service_actions()
    }

    /// The wrapped hooks' `server_close`, then, with `block_on_close`, waits for every
    /// request thread.
    ///
    /// Python: `socketserver.ThreadingMixIn.server_close`.
    #[doc(alias = "socketserver.ThreadingMixIn.server_close")]
    fn server_close(&self) {
        self.inner.server_close();
        if self.config.block_on_close {
            self.join();
        }
    }

    /// The wrapped hooks' `server_bound`, then `multithread = true`.
    fn server_bound(&self, info: &mut ServerInfo) {
        self.inner.server_bound(info);
        info.multithread = true;
    }

    fn configure(&self, config: &mut ServerConfig) {
        self.inner.configure(config)
    }
}

/// The body of a request thread: `finish_request`, `handle_error` if it failed, then always
/// `shutdown_request`.
///
/// Python: `socketserver.ThreadingMixIn.process_request_thread`.
#[doc(alias = "socketserver.ThreadingMixIn.process_request_thread")]
pub fn process_request_thread<C: Connection, H: ServerHooks<C> + ?Sized>(
    hooks: &H,
    mut request: C,
    client_address: &Address,
    server: &ServerInfo,
) {
    if let Err(e) = hooks.finish_request(&mut request, client_address, server) {
        hooks.handle_error(client_address, &e);
    }
    hooks.shutdown_request(request);
}

impl<H> Drop for Threading<H> {
    /// Waits for the request threads unless they are daemon threads.
    fn drop(&mut self) {
        if !self.config.daemon_threads {
            self.join();
        }
    }
}
