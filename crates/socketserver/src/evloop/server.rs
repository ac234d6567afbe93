//! The server: loops, their drivers, the standby pool, the watchdog and shutdown.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use super::conn::{Conn, Env, Outcome, Stream, Work};
use super::ownership::{Ownership, stealable};
use super::timers::Timers;
use super::{EventLoopConfig, Listener, Protocol, bind_tcp, new_info};
use crate::{Address, Error, Result, ServerInfo};

const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = usize::MAX / 2;

/// Most responses a loop holds back for the end of its batch ([`Outcome::Flush`]): the
/// first of them waits at most for this many other requests to be served.
const WRITE_BEHIND_MAX: usize = 32;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks, so a poisoned one holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A listener registered in one loop's poll.
#[derive(Debug)]
enum MioListener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

impl MioListener {
    fn new(l: Listener) -> io::Result<Self> {
        Ok(match l {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                MioListener::Tcp(mio::net::TcpListener::from_std(l))
            }
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                MioListener::Unix(mio::net::UnixListener::from_std(l))
            }
        })
    }

    fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            MioListener::Tcp(l) => {
                let (s, a) = l.accept()?;
                if let Err(e) = s.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY failed");
                }
                Ok((Stream::Tcp(s), Address::Inet(a)))
            }
            MioListener::Unix(l) => {
                let (s, a) = l.accept()?;
                let path = a.as_pathname().map(Path::to_path_buf);
                Ok((Stream::Unix(s), Address::Unix(path)))
            }
        }
    }

    fn source(&mut self) -> &mut dyn Source {
        match self {
            MioListener::Tcp(l) => l,
            MioListener::Unix(l) => l,
        }
    }
}

/// What accept's error means for the loop.
fn accept_error_is_transient(e: &io::Error) -> Option<bool> {
    match e.kind() {
        io::ErrorKind::WouldBlock => None,
        io::ErrorKind::Interrupted
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset => Some(true),
        _ => match e.raw_os_error() {
            Some(libc::EPROTO | libc::EPERM | libc::ENETDOWN | libc::ENOPROTOOPT)
            | Some(libc::EHOSTDOWN | libc::ENONET | libc::EHOSTUNREACH | libc::EOPNOTSUPP)
            | Some(libc::ENETUNREACH) => Some(true),
            _ => Some(false),
        },
    }
}

/// The part of a server that a [`ServerHandle`] reaches: not generic over the protocol.
#[derive(Debug)]
struct Control {
    shutdown: AtomicBool,
    force_at: Mutex<Option<Instant>>,
    grace: Duration,
    active: AtomicUsize,
    handoffs: AtomicU64,
    loops: Vec<LoopCtl>,
    done: Mutex<usize>,
    done_cv: Condvar,
}

#[derive(Debug)]
struct LoopCtl {
    waker: Waker,
    paused: AtomicBool,
    /// Times the loop returned from `poll` (its heartbeat).
    polls: AtomicU64,
    /// True while the loop waits in `poll` (idle, not stuck).
    waiting: AtomicBool,
    /// The loop's idle connections when it last waited for events.
    idle: AtomicUsize,
}

impl Control {
    fn wake_all(&self) {
        for l in &self.loops {
            if let Err(e) = l.waker.wake() {
                tracing::error!(error = %e, "waking an event loop failed");
            }
        }
    }
}

/// A cloneable handle that shuts an [`EventLoopServer`] down gracefully, from any thread
/// (for example a signal-handling thread).
///
/// Python: `socketserver.BaseServer.shutdown`, extended: it returns at once, and `serve()`
/// returns once in-flight requests finished or the grace period ended.
#[doc(alias = "socketserver.BaseServer.shutdown")]
#[derive(Debug, Clone)]
pub struct ServerHandle {
    control: Arc<Control>,
}

impl ServerHandle {
    /// Starts a graceful shutdown with [`EventLoopConfig::shutdown_timeout`] as the grace
    /// period: stop accepting, close idle connections, answer requests already received
    /// (the protocol is told to close after them), and close what is left at the deadline.
    /// Returns at once; [`EventLoopServer::serve`] returns when it is done.
    pub fn shutdown(&self) {
        self.shutdown_within(self.control.grace);
    }

    /// [`shutdown`](Self::shutdown) with its own grace period (a second call can only make
    /// the deadline earlier).
    pub fn shutdown_within(&self, grace: Duration) {
        let at = Instant::now() + grace;
        {
            let mut f = lock(&self.control.force_at);
            *f = Some(f.map_or(at, |old| old.min(at)));
        }
        self.control.shutdown.store(true, Ordering::SeqCst);
        self.control.wake_all();
        // `wait_done` reads `force_at` under the `done` lock: taking it here means the waiter
        // either has not read it yet or already waits for this notification.
        drop(lock(&self.control.done));
        self.control.done_cv.notify_all();
    }

    /// True once a shutdown was asked for.
    pub fn is_shutting_down(&self) -> bool {
        self.control.shutdown.load(Ordering::SeqCst)
    }

    /// Connections currently open (accepted and not yet closed), over all loops.
    pub fn connections(&self) -> usize {
        self.control.active.load(Ordering::SeqCst)
    }

    /// Open connections with no request in progress (keep-alive connections waiting for
    /// their next request, and accepted ones waiting for their first), as each loop
    /// counted them when it last waited for events.
    pub fn idle_connections(&self) -> usize {
        self.control
            .loops
            .iter()
            .map(|l| l.idle.load(Ordering::Relaxed))
            .sum()
    }

    /// Each loop's progress, for a liveness check: how many times it returned from its
    /// wait for events, and whether it is waiting now. A loop that is not waiting and whose
    /// count does not move is stuck (a handler blocked with no standby thread left to take
    /// the loop over, or a deadlock); one that waits is idle.
    pub fn loop_progress(&self) -> Vec<(u64, bool)> {
        self.control
            .loops
            .iter()
            .map(|l| {
                (
                    l.polls.load(Ordering::Relaxed),
                    l.waiting.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Loop hand-offs so far: how many times a loop moved to a standby thread because a
    /// handler blocked (announced or caught by the watchdog).
    pub fn handoffs(&self) -> u64 {
        self.control.handoffs.load(Ordering::Relaxed)
    }
}

/// A server of [`Protocol`] `P` on per-core event loops with loop hand-off.
///
/// Python: no equivalent; the production face's engine (see `docs/ARCHITECTURE.md` and the
/// [module documentation](super)).
pub struct EventLoopServer<P: Protocol> {
    protocol: P,
    config: EventLoopConfig,
    info: ServerInfo,
    setup: Vec<LoopSetup>,
    control: Arc<Control>,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsAcceptor>,
}

impl<P: Protocol> std::fmt::Debug for EventLoopServer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoopServer")
            .field("info", &self.info)
            .field("config", &self.config)
            .field("loops", &self.setup.len())
            .finish_non_exhaustive()
    }
}

struct LoopSetup {
    poll: Poll,
    listeners: Vec<MioListener>,
}

impl<P: Protocol> EventLoopServer<P> {
    /// Binds `addr` (port 0 picks a free port) with [`EventLoopConfig::backlog`] and
    /// `SO_REUSEADDR`: with [`EventLoopConfig::reuse_port`] each loop gets its own
    /// `SO_REUSEPORT` listener, otherwise all loops accept from one listener. A port in use
    /// is `EADDRINUSE` unless [`EventLoopConfig::share_port`] lets this server join it.
    pub fn bind(addr: SocketAddr, config: EventLoopConfig, protocol: P) -> Result<Self> {
        let loops = config.loops();
        let listeners = bind_tcp(addr, &config, loops)?;
        if listeners.len() == loops {
            let per_loop = listeners.into_iter().map(|l| vec![l]).collect();
            Self::from_parts(per_loop, config, protocol)
        } else {
            Self::from_listeners(listeners, config, protocol)
        }
    }

    /// Binds a Unix domain stream socket at `path` (which must not exist yet).
    ///
    /// Python: `socketserver.UnixStreamServer`'s socket, served by event loops.
    pub fn bind_unix(path: impl AsRef<Path>, config: EventLoopConfig, protocol: P) -> Result<Self> {
        let l = std::os::unix::net::UnixListener::bind(path)?;
        Self::from_listener(l, config, protocol)
    }

    /// Serves a listener that is already bound and listening (inherited, for example through
    /// [`listen_fds`](super::listen_fds)); every loop accepts from it.
    pub fn from_listener(
        listener: impl Into<Listener>,
        config: EventLoopConfig,
        protocol: P,
    ) -> Result<Self> {
        Self::from_listeners(vec![listener.into()], config, protocol)
    }

    /// Serves several listeners (for example every socket [`listen_fds`](super::listen_fds)
    /// returned); every loop accepts from each of them. The first one's address is
    /// [`local_addr`](Self::local_addr).
    pub fn from_listeners(
        listeners: Vec<Listener>,
        config: EventLoopConfig,
        protocol: P,
    ) -> Result<Self> {
        let loops = config.loops();
        let mut per_loop = Vec::with_capacity(loops);
        for _ in 0..loops {
            per_loop.push(
                listeners
                    .iter()
                    .map(Listener::try_clone)
                    .collect::<io::Result<Vec<_>>>()?,
            );
        }
        Self::from_parts(per_loop, config, protocol)
    }

    fn from_parts(
        per_loop: Vec<Vec<Listener>>,
        config: EventLoopConfig,
        protocol: P,
    ) -> Result<Self> {
        let first = per_loop
            .first()
            .and_then(|l| l.first())
            .ok_or(Error::State("an event-loop server needs a listener"))?;
        let info = new_info(first.local_addr()?);
        let mut setup = Vec::with_capacity(per_loop.len());
        let mut ctl = Vec::with_capacity(per_loop.len());
        for listeners in per_loop {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let listeners = listeners
                .into_iter()
                .map(MioListener::new)
                .collect::<io::Result<Vec<_>>>()?;
            setup.push(LoopSetup { poll, listeners });
            ctl.push(LoopCtl {
                waker,
                paused: AtomicBool::new(false),
                polls: AtomicU64::new(0),
                waiting: AtomicBool::new(false),
                idle: AtomicUsize::new(0),
            });
        }
        let control = Arc::new(Control {
            shutdown: AtomicBool::new(false),
            force_at: Mutex::new(None),
            grace: config.shutdown_timeout,
            active: AtomicUsize::new(0),
            handoffs: AtomicU64::new(0),
            loops: ctl,
            done: Mutex::new(0),
            done_cv: Condvar::new(),
        });
        Ok(EventLoopServer {
            protocol,
            config,
            info,
            setup,
            control,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Serves TLS on every TCP connection: each is a rustls session whose handshake the
    /// loops drive as bytes arrive (never blocking a loop), under
    /// [`EventLoopConfig::request_timeout`] counted from the accept; a client that fails it
    /// (plain HTTP, a bad record, no common ALPN protocol) is closed. The protocol sees
    /// plaintext only. Unix-socket connections stay plain.
    ///
    /// ```no_run
    /// # use socketserver::evloop::{EventLoopConfig, EventLoopServer, Frame, Protocol, ServeCx, Served};
    /// # struct Echo;
    /// # impl Protocol for Echo {
    /// #     type Session = ();
    /// #     fn frame(&self, _: &mut (), i: &[u8]) -> Frame { Frame::Complete(i.len()) }
    /// #     fn serve(&self, _: &mut (), r: &[u8], o: &mut Vec<u8>, _: &ServeCx<'_>) -> Served {
    /// #         o.extend(r); Served::KEEP_ALIVE }
    /// # }
    /// let acceptor = socketserver::TlsConfig::new("cert.pem").keyfile("key.pem").acceptor()?;
    /// let server = EventLoopServer::bind("127.0.0.1:8443".parse().unwrap(),
    ///                                    EventLoopConfig::default(), Echo)?
    ///     .tls(acceptor);
    /// server.serve()?;
    /// # Ok::<(), socketserver::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, acceptor: crate::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// The bound address (the real port after binding port 0).
    ///
    /// Python: `socketserver.BaseServer.server_address`.
    pub fn local_addr(&self) -> &Address {
        &self.info.server_address
    }

    /// The facts handlers see (`multithread` is true).
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// The facts handlers will see, to adjust before serving (Python: what `server_bind`
    /// overrides set, such as `HTTPServer.server_name`).
    pub fn info_mut(&mut self) -> &mut ServerInfo {
        &mut self.info
    }

    /// The configuration.
    pub fn config(&self) -> &EventLoopConfig {
        &self.config
    }

    /// A handle to shut the server down from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            control: self.control.clone(),
        }
    }

    /// Runs the loops on their threads until a [`ServerHandle::shutdown`] completes.
    ///
    /// Returns when every loop closed its connections, or shortly after the grace period
    /// when some handler is still blocked (its thread finishes it and exits on its own).
    ///
    /// Python: `socketserver.BaseServer.serve_forever`.
    #[doc(alias = "socketserver.BaseServer.serve_forever")]
    pub fn serve(self) -> Result<()> {
        let EventLoopServer {
            protocol,
            config,
            info,
            setup,
            control,
            #[cfg(feature = "tls")]
            tls,
        } = self;
        let n = setup.len();
        let loops = setup
            .into_iter()
            .enumerate()
            .map(|(index, s)| LoopShared::new(index, s))
            .collect::<io::Result<Vec<_>>>()?;
        let inner = Arc::new(Inner {
            cap: n + config.max_blocking,
            protocol,
            config,
            info,
            control: control.clone(),
            loops,
            pool: Pool::default(),
            next_id: AtomicU64::new(0),
            watchdog: WatchdogSleep::default(),
            #[cfg(feature = "tls")]
            tls,
        });
        tracing::info!(address = %inner.info.server_address, loops = n, "event-loop server serving");
        lock(&inner.pool.state).total = n;
        for i in 0..n {
            let me = inner.clone();
            if let Err(e) = std::thread::Builder::new()
                .name(format!("evloop-{i}"))
                .spawn(move || me.worker(Some(i)))
            {
                // Stop the loops already started before reporting.
                ServerHandle {
                    control: control.clone(),
                }
                .shutdown_within(Duration::ZERO);
                inner.wait_done(i);
                return Err(e.into());
            }
        }
        if let Some(period) = inner.config.watchdog {
            let me = inner.clone();
            std::thread::Builder::new()
                .name("evloop-watchdog".into())
                .spawn(move || me.watchdog(period))?;
        }
        inner.wait_done(n);
        {
            let mut p = lock(&inner.pool.state);
            p.closed = true;
        }
        inner.pool.cv.notify_all();
        tracing::info!("event-loop server stopped");
        Ok(())
    }
}

/// The server while it serves.
struct Inner<P: Protocol> {
    protocol: P,
    config: EventLoopConfig,
    info: ServerInfo,
    control: Arc<Control>,
    loops: Vec<LoopShared<P>>,
    pool: Pool,
    /// Most threads: the loops' plus `max_blocking`.
    cap: usize,
    next_id: AtomicU64,
    /// The watchdog's sleep between busy spells.
    watchdog: WatchdogSleep,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsAcceptor>,
}

/// Checks in a row that saw no handler start or run before the watchdog sleeps: a busy
/// server starts handlers all the time and never pays for waking it, an idle one stops
/// waking every period after a tenth of a second (at the default 2 ms period).
const WATCHDOG_QUIET_CHECKS: u32 = 50;

/// Lets the watchdog sleep while no loop runs user code, so an idle server does not wake
/// every period: it parks after [`WATCHDOG_QUIET_CHECKS`] quiet checks, and the next
/// handler to start wakes it ([`Inner::run`]). The handshake is Dekker's: the watchdog
/// stores `asleep` then reads the ownership words, a driver stores its word then reads
/// `asleep`, all sequentially consistent, so at least one of them sees the other.
#[derive(Debug, Default)]
struct WatchdogSleep {
    asleep: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl WatchdogSleep {
    /// Wakes the watchdog if it sleeps (called after a driver's `busy` store).
    fn wake(&self) {
        if self.asleep.load(Ordering::SeqCst) && self.asleep.swap(false, Ordering::SeqCst) {
            self.unpark();
        }
    }

    fn unpark(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

#[allow(
    clippy::large_enum_variant,
    reason = "a dense connection table: boxing would add an allocation per connection"
)]
enum Slot<S> {
    Vacant,
    /// Boxed: a connection goes out and back for every request it serves, and moving a
    /// pointer costs less than moving the connection (a few hundred bytes).
    Live(Box<Conn<S>>),
    /// Out with a thread running user code on it.
    Lent,
}

/// A connection handed back by a thread that lost the loop: slot, connection, outcome.
type Returned<S> = (usize, Box<Conn<S>>, Outcome);

/// One loop: its ownership word, its state behind the loop lock, and its return queue.
struct LoopShared<P: Protocol> {
    index: usize,
    own: Ownership,
    state: Mutex<LoopState<P::Session>>,
    returns: Mutex<Vec<Returned<P::Session>>>,
    finished: AtomicBool,
}

/// Least time between two "accept failed" warnings of one loop.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

struct LoopState<S> {
    poll: Poll,
    events: Events,
    listeners: Vec<MioListener>,
    paused: bool,
    backoff: Option<Instant>,
    /// When the last accept-failure warning was logged, and the failures since (out of
    /// descriptors, accept fails 100 times a second: one line per
    /// [`ACCEPT_WARN_EVERY`] says it).
    backoff_warned: Option<Instant>,
    backoffs_unlogged: u64,
    slots: Vec<Slot<S>>,
    free: Vec<usize>,
    /// Live plus lent connections.
    live: usize,
    ready: VecDeque<(usize, Work)>,
    /// Connections (slot, id) whose response waits for the end of the batch
    /// ([`Outcome::Flush`]).
    unflushed: Vec<(usize, u64)>,
    timers: Timers,
    generation: u64,
    shutting: bool,
    force_at: Option<Instant>,
    killing: bool,
    /// Connections in the table with no request in progress (no partial input, no
    /// pending output), published to [`LoopCtl::idle`] at each poll.
    idle: usize,
    /// When the last poll returned: the arrival time stamped on the requests of its batch
    /// (a fresh clock read per request would cost more than the precision is worth).
    polled_at: Instant,
}

impl<P: Protocol> LoopShared<P> {
    fn new(index: usize, s: LoopSetup) -> io::Result<Self> {
        let LoopSetup {
            poll,
            mut listeners,
        } = s;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l.source(), Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        Ok(LoopShared {
            index,
            own: Ownership::default(),
            state: Mutex::new(LoopState {
                poll,
                events: Events::with_capacity(1024),
                listeners,
                paused: false,
                backoff: None,
                backoff_warned: None,
                backoffs_unlogged: 0,
                slots: Vec::new(),
                free: Vec::new(),
                live: 0,
                ready: VecDeque::new(),
                unflushed: Vec::new(),
                timers: Timers::default(),
                generation: 0,
                shutting: false,
                force_at: None,
                killing: false,
                idle: 0,
                polled_at: Instant::now(),
            }),
            returns: Mutex::new(Vec::new()),
            finished: AtomicBool::new(false),
        })
    }
}

impl<S> LoopState<S> {
    fn lend(&mut self, slot: usize) -> Option<Box<Conn<S>>> {
        let mut conn = match self.slots.get_mut(slot) {
            Some(s) if matches!(s, Slot::Live(_)) => match std::mem::replace(s, Slot::Lent) {
                Slot::Live(c) => c,
                _ => return None,
            },
            _ => return None,
        };
        if std::mem::take(&mut conn.idle_counted) {
            self.idle -= 1;
        }
        Some(conn)
    }

    /// Puts a connection in its slot, counted as idle when it is.
    fn put(&mut self, slot: usize, mut conn: Box<Conn<S>>) {
        if conn.is_idle() {
            conn.idle_counted = true;
            self.idle += 1;
        }
        self.slots[slot] = Slot::Live(conn);
    }

    fn vacate(&mut self, slot: usize) {
        self.slots[slot] = Slot::Vacant;
        self.free.push(slot);
        self.live -= 1;
    }

    fn set_listening(&mut self, on: bool) {
        let registry: &Registry = self.poll.registry();
        for (i, l) in self.listeners.iter_mut().enumerate() {
            let r = if on {
                registry.register(l.source(), Token(LISTENER_BASE + i), Interest::READABLE)
            } else {
                registry.deregister(l.source())
            };
            if let Err(e) = r {
                tracing::error!(error = %e, "(de)registering a listener failed");
            }
        }
    }
}

impl<P: Protocol> Inner<P> {
    /// A thread's life: drive a loop until it is taken away, then wait as a standby.
    fn worker(self: Arc<Self>, mut job: Option<usize>) {
        while let Some(i) = job.take() {
            self.drive(i);
            job = self.next_job();
        }
    }

    /// Drives loop `li` until it is stolen from this thread or finished.
    fn drive(self: &Arc<Self>, li: usize) {
        let lp = &self.loops[li];
        if lp.finished.load(Ordering::Acquire) {
            return;
        }
        let mut st = lock(&lp.state);
        loop {
            self.take_returns(lp, &mut st);
            // The clock is read where it is needed, not once per served request (a clock
            // read costs about 50 ns in a VM, a few percent of a keep-alive request).
            if !st.shutting && self.control.shutdown.load(Ordering::SeqCst) {
                self.begin_shutdown(&mut st);
            }
            if st.shutting {
                if st.live == 0 || (st.killing && st.ready.is_empty()) {
                    self.finish(lp, &mut st);
                    return;
                }
                if !st.killing && st.force_at.is_some_and(|f| Instant::now() >= f) {
                    tracing::warn!(
                        loop_index = li,
                        connections = st.live,
                        "shutdown grace period over: closing the rest"
                    );
                    st.killing = true;
                    let s = &mut *st;
                    s.ready.clear();
                    for (i, slot) in s.slots.iter().enumerate() {
                        if matches!(slot, Slot::Live(_)) {
                            s.ready.push_back((i, Work::Kill));
                        }
                    }
                    continue;
                }
            }
            if st.paused && self.has_room() {
                self.resume(li, &mut st);
            }
            if st.backoff.is_some_and(|b| Instant::now() >= b) {
                st.backoff = None;
                self.accept(li, &mut st);
            }
            if !st.unflushed.is_empty()
                && (st.ready.is_empty() || st.unflushed.len() >= WRITE_BEHIND_MAX)
            {
                self.flush_deferred(&mut st);
                continue;
            }
            if let Some((slot, work)) = st.ready.pop_front() {
                if let Some(conn) = st.lend(slot) {
                    match self.run(lp, st, slot, conn, work) {
                        Some(g) => st = g,
                        None => return,
                    }
                }
                continue;
            }
            let now = Instant::now();
            let mut due = false;
            {
                let s = &mut *st;
                while let Some((at, slot, id)) = s.timers.pop_due(now) {
                    if let Some(Slot::Live(c)) = s.slots.get_mut(slot)
                        && c.id == id
                        && s.timers.on_pop(&mut c.deadline, at, slot, id, now)
                    {
                        s.ready.push_back((slot, Work::Expire));
                        due = true;
                    }
                }
            }
            if due {
                continue;
            }
            let mut wake_at = st.timers.next();
            for t in [st.backoff, st.force_at.filter(|_| st.shutting)]
                .into_iter()
                .flatten()
            {
                wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
            }
            let timeout = wake_at.map(|t| t.saturating_duration_since(now));
            let s = &mut *st;
            let ctl = &self.control.loops[li];
            ctl.idle.store(s.idle, Ordering::Relaxed);
            ctl.waiting.store(true, Ordering::Relaxed);
            let polled = s.poll.poll(&mut s.events, timeout);
            ctl.waiting.store(false, Ordering::Relaxed);
            ctl.polls.fetch_add(1, Ordering::Relaxed);
            s.polled_at = Instant::now();
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "poll failed");
                    std::thread::sleep(Duration::from_millis(1));
                }
                continue;
            }
            let mut listener_ready = false;
            for ev in s.events.iter() {
                match ev.token() {
                    WAKER => {}
                    Token(t) if t >= LISTENER_BASE => listener_ready = true,
                    Token(t) => {
                        // A hang-up or error must be read to the end (EOF), so only a
                        // plain readiness edge may stop at a short read.
                        let plain = !ev.is_read_closed() && !ev.is_error();
                        s.ready
                            .push_back((t, if plain { Work::Edge } else { Work::Io }));
                    }
                }
            }
            if listener_ready {
                self.accept(li, &mut st);
            }
        }
    }

    /// Runs user code on `conn` with the loop lock released. Returns the lock when this
    /// thread still owns the loop, `None` when the loop was handed off meanwhile.
    fn run<'a>(
        self: &'a Arc<Self>,
        lp: &'a LoopShared<P>,
        mut st: MutexGuard<'a, LoopState<P::Session>>,
        slot: usize,
        mut conn: Box<Conn<P::Session>>,
        work: Work,
    ) -> Option<MutexGuard<'a, LoopState<P::Session>>> {
        st.generation += 1;
        let g = st.generation;
        let polled_at = st.polled_at;
        lp.own.begin(g);
        self.watchdog.wake();
        drop(st);
        let hint = || {
            if lp.own.steal(g) {
                tracing::debug!(
                    loop_index = lp.index,
                    "handler announced blocking: handing the loop off"
                );
                self.dispatch(lp.index);
            }
        };
        let owner = || lp.own.owned_by(g);
        let env = Env {
            protocol: &self.protocol,
            config: &self.config,
            info: &self.info,
            hint: &hint,
            owner: &owner,
            shutdown: &self.control.shutdown,
            force_at: &self.control.force_at,
            polled_at,
        };
        let outcome = conn.process(&env, work);
        if lp.own.end(g) {
            let mut st = lock(&lp.state);
            self.settle(&mut st, slot, conn, outcome);
            Some(st)
        } else {
            // The loop is another thread's now: hand the connection back to it.
            lock(&lp.returns).push((slot, conn, outcome));
            if let Err(e) = self.control.loops[lp.index].waker.wake() {
                tracing::error!(error = %e, "waking an event loop failed");
            }
            None
        }
    }

    /// Writes the responses held back by [`Outcome::Flush`]: the batch's clients get their
    /// answers one right after another (waking a sleeping client costs the kernel more than
    /// the write itself, and a client woken by the first answer finds the others there).
    fn flush_deferred(&self, st: &mut LoopState<P::Session>) {
        for (slot, id) in std::mem::take(&mut st.unflushed) {
            if let Some(Slot::Live(c)) = st.slots.get(slot)
                && c.id == id
                && let Some(mut conn) = st.lend(slot)
            {
                let outcome = conn.flush_deferred();
                self.settle(st, slot, conn, outcome);
            }
        }
    }

    /// Puts a processed connection back in its slot (or closes it) and sets its deadline.
    fn settle(
        &self,
        st: &mut LoopState<P::Session>,
        slot: usize,
        mut conn: Box<Conn<P::Session>>,
        outcome: Outcome,
    ) {
        // Deadlines count from the time this batch's poll returned, not from a clock read
        // per request (about 50 ns each here): a deadline is early by at most the batch's
        // processing time, which the watchdog keeps to milliseconds per connection, against
        // timeouts of seconds.
        let now = st.polled_at;
        // Shutting down, an idle connection closes, unless it never had a request and was
        // accepted a moment ago: its first request is on the way (closing it would fail a
        // request its client already sent).
        let grace = match outcome {
            Outcome::Close => None,
            Outcome::Keep { .. } if st.shutting && conn.is_idle() => conn.first_request_grace(now),
            Outcome::Keep { .. } | Outcome::Flush => None,
        };
        let close = match outcome {
            Outcome::Close => true,
            Outcome::Keep { .. } | Outcome::Flush => {
                st.killing || (st.shutting && conn.is_idle() && grace.is_none())
            }
        };
        if close {
            st.vacate(slot);
            drop(conn);
            self.released();
            return;
        }
        conn.input.release();
        conn.output.release();
        match outcome {
            // Back within this turn of the loop: its deadline is set then.
            Outcome::Flush => st.unflushed.push((slot, conn.id)),
            _ => {
                let at = grace.or_else(|| conn.next_deadline(&self.config, now));
                st.timers.set(&mut conn.deadline, at, slot, conn.id, now);
                if outcome == (Outcome::Keep { requeue: true }) {
                    st.ready.push_back((slot, Work::Io));
                }
            }
        }
        st.put(slot, conn);
    }

    /// Connections handed back by threads that lost the loop while serving them.
    fn take_returns(&self, lp: &LoopShared<P>, st: &mut LoopState<P::Session>) {
        let returned = std::mem::take(&mut *lock(&lp.returns));
        for (slot, mut conn, outcome) in returned {
            // EPOLL_CTL_MOD re-arms the edge: readiness missed meanwhile is reported again.
            if let Err(e) = conn.stream.reregister(
                st.poll.registry(),
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                tracing::debug!(error = %e, "re-registering a returned connection failed");
            }
            self.settle(st, slot, conn, outcome);
            if matches!(st.slots[slot], Slot::Live(_)) {
                st.ready.push_back((slot, Work::Io));
            }
        }
    }

    fn has_room(&self) -> bool {
        self.control.active.load(Ordering::SeqCst) < self.config.max_connections
    }

    /// A connection closed (or an accept reservation was given back): wake the loops that
    /// paused accepting, if the count was at the cap (a reservation may have hidden the room
    /// from them).
    fn released(&self) {
        let prev = self.control.active.fetch_sub(1, Ordering::SeqCst);
        if prev >= self.config.max_connections {
            for l in &self.control.loops {
                if l.paused.load(Ordering::SeqCst) {
                    let _ = l.waker.wake();
                }
            }
        }
    }

    fn pause(&self, li: usize, st: &mut LoopState<P::Session>) {
        tracing::debug!(loop_index = li, "max_connections reached: accept paused");
        st.paused = true;
        self.control.loops[li].paused.store(true, Ordering::SeqCst);
        st.set_listening(false);
    }

    fn resume(&self, li: usize, st: &mut LoopState<P::Session>) {
        tracing::debug!(loop_index = li, "accept resumed");
        st.paused = false;
        self.control.loops[li].paused.store(false, Ordering::SeqCst);
        st.set_listening(true);
        self.accept(li, st);
    }

    /// Accepts until `WouldBlock`, the connection cap, or a resource error.
    fn accept(&self, li: usize, st: &mut LoopState<P::Session>) {
        if st.shutting || st.paused || st.backoff.is_some() {
            return;
        }
        let max = self.config.max_connections;
        for i in 0..st.listeners.len() {
            loop {
                // Reserve a connection first, so loops never accept past the cap together.
                if self.control.active.fetch_add(1, Ordering::SeqCst) >= max {
                    self.released();
                    self.pause(li, st);
                    // A slot may have freed before the paused flag was visible.
                    if self.has_room() {
                        self.control.loops[li].paused.store(false, Ordering::SeqCst);
                        st.paused = false;
                        st.set_listening(true);
                        continue;
                    }
                    return;
                }
                match st.listeners[i]
                    .accept()
                    .and_then(|(s, a)| Ok((self.secure(s)?, a)))
                {
                    Ok((stream, addr)) => self.add(st, stream, addr),
                    Err(e) => {
                        self.released();
                        match accept_error_is_transient(&e) {
                            None => break,
                            Some(true) => {
                                tracing::debug!(error = %e, "accept: transient error");
                            }
                            Some(false) => {
                                let now = Instant::now();
                                st.backoffs_unlogged += 1;
                                if st
                                    .backoff_warned
                                    .is_none_or(|t| now >= t + ACCEPT_WARN_EVERY)
                                {
                                    let failures = std::mem::take(&mut st.backoffs_unlogged);
                                    tracing::warn!(error = %e, backoff = ?self.config.accept_backoff, failures, "accept failed: backing off");
                                    st.backoff_warned = Some(now);
                                }
                                st.backoff = Some(now + self.config.accept_backoff);
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// A TCP connection as a TLS session when the server serves TLS.
    fn secure(&self, stream: Stream) -> io::Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            return match stream {
                Stream::Tcp(sock) => {
                    let mut session = crate::tls::NonBlockingTls::new(acceptor, sock)?;
                    if let Some(measure) = self.protocol.clear_preface() {
                        session = session.with_clear_preface(measure);
                    }
                    Ok(Stream::Tls(Box::new(session)))
                }
                other => Ok(other),
            };
        }
        Ok(stream)
    }

    fn add(&self, st: &mut LoopState<P::Session>, mut stream: Stream, addr: Address) {
        let slot = match st.free.pop() {
            Some(s) => s,
            None => {
                st.slots.push(Slot::Vacant);
                st.slots.len() - 1
            }
        };
        if let Err(e) = st.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!(error = %e, "registering a connection failed");
            st.free.push(slot);
            self.released();
            return;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(client = %addr, slot, "connection accepted");
        let now = Instant::now();
        let mut conn = Box::new(Conn::new(stream, addr, id, now));
        // Until its first request completes, a connection lives under the request deadline.
        st.timers.set(
            &mut conn.deadline,
            Some(now + self.config.request_timeout),
            slot,
            id,
            now,
        );
        st.put(slot, conn);
        st.live += 1;
    }

    fn begin_shutdown(&self, st: &mut LoopState<P::Session>) {
        st.shutting = true;
        st.force_at = *lock(&self.control.force_at);
        if !st.paused {
            st.set_listening(false);
        }
        // Take what the kernel already accepted into this loop's backlog first: closing a
        // listener resets the connections still queued in it (with SO_REUSEPORT, a new
        // process on the same port never sees them). They are served, told to close.
        let mut pending = Vec::new();
        for l in &st.listeners {
            while pending.len() < 65_536 {
                match l.accept() {
                    Ok(c) => pending.push(c),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        for (stream, addr) in pending {
            self.control.active.fetch_add(1, Ordering::SeqCst);
            self.add(st, stream, addr);
        }
        // Stop accepting: close this loop's listeners.
        st.listeners.clear();
        // Serve what already arrived (told to close), close the idle ones.
        for (i, slot) in st.slots.iter().enumerate() {
            if matches!(slot, Slot::Live(_)) {
                st.ready.push_back((i, Work::Io));
            }
        }
    }

    fn finish(&self, lp: &LoopShared<P>, st: &mut LoopState<P::Session>) {
        let dropped = st
            .slots
            .iter()
            .filter(|s| matches!(s, Slot::Live(_)))
            .count();
        st.slots.clear();
        st.idle = 0;
        st.free.clear();
        st.ready.clear();
        for _ in 0..dropped {
            self.released();
        }
        lp.finished.store(true, Ordering::Release);
        tracing::debug!(loop_index = lp.index, "event loop finished");
        *lock(&self.control.done) += 1;
        self.control.done_cv.notify_all();
        // A sleeping watchdog must see the end too (it holds the server).
        self.watchdog.unpark();
    }

    /// Waits until `n` loops finished (or, once shutting down, until shortly after the
    /// grace period).
    fn wait_done(&self, n: usize) {
        let mut done = lock(&self.control.done);
        while *done < n {
            let force = *lock(&self.control.force_at);
            let Some(force) = force else {
                // No deadline until a shutdown sets one (and notifies).
                done = self
                    .control
                    .done_cv
                    .wait(done)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let limit = force + Duration::from_secs(1);
            let now = Instant::now();
            if now >= limit {
                tracing::warn!(
                    stuck = n - *done,
                    "loops still blocked in handlers after the grace period"
                );
                return;
            }
            let wait = limit - now;
            done = self
                .control
                .done_cv
                .wait_timeout(done, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Hands loop `li` to a standby thread (an idle one, a new one under the cap, or the
    /// next one to come free).
    fn dispatch(self: &Arc<Self>, li: usize) {
        self.control.handoffs.fetch_add(1, Ordering::Relaxed);
        let spawn = {
            let mut p = lock(&self.pool.state);
            p.jobs.push_back(li);
            if p.jobs.len() <= p.idle {
                self.pool.cv.notify_one();
                false
            } else if p.total < self.cap {
                p.total += 1;
                true
            } else {
                if !p.warned {
                    p.warned = true;
                    tracing::warn!(
                        max_blocking = self.config.max_blocking,
                        "standby cap reached: a loop waits for a blocked handler to finish"
                    );
                }
                false
            }
        };
        if spawn {
            let me = self.clone();
            if let Err(e) = std::thread::Builder::new()
                .name("evloop-standby".into())
                .spawn(move || {
                    if let Some(job) = me.next_job() {
                        me.worker(Some(job));
                    }
                })
            {
                tracing::error!(error = %e, "spawning a standby thread failed");
                lock(&self.pool.state).total -= 1;
            }
        }
    }

    /// Waits as a standby for a loop to drive; `None`: exit the thread.
    fn next_job(&self) -> Option<usize> {
        let mut p = lock(&self.pool.state);
        loop {
            if let Some(j) = p.jobs.pop_front() {
                return Some(j);
            }
            if p.closed {
                p.total -= 1;
                return None;
            }
            p.idle += 1;
            let (g, timeout) = self
                .pool
                .cv
                .wait_timeout(p, self.config.standby_keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            p = g;
            p.idle -= 1;
            if timeout.timed_out() && p.jobs.is_empty() {
                p.total -= 1;
                return None;
            }
        }
    }

    /// Hands off a loop whose user code stayed busy (same generation) for two checks; sleeps
    /// while no loop runs user code ([`WatchdogSleep`]).
    fn watchdog(self: Arc<Self>, period: Duration) {
        // Registered by the watchdog itself, before it can first sleep: whoever sees it
        // asleep finds the thread to unpark.
        let _ = self.watchdog.thread.set(std::thread::current());
        let mut last = vec![u64::MAX; self.loops.len()];
        let mut quiet = 0;
        loop {
            std::thread::sleep(period);
            if *lock(&self.control.done) == self.loops.len() {
                return;
            }
            let mut running = false;
            let mut changed = false;
            for (i, lp) in self.loops.iter().enumerate() {
                let w = lp.own.load();
                changed |= w != last[i];
                if let Some(g) = stealable(w) {
                    running = true;
                    if w == last[i] && lp.own.steal(g) {
                        tracing::debug!(
                            loop_index = i,
                            "watchdog: handler busy for a period, handing the loop off"
                        );
                        self.dispatch(i);
                    }
                }
                last[i] = w;
            }
            quiet = if running || changed { 0 } else { quiet + 1 };
            if quiet >= WATCHDOG_QUIET_CHECKS {
                quiet = 0;
                self.watchdog.asleep.store(true, Ordering::SeqCst);
                // A handler that started before the store above may not have seen it.
                let started = self
                    .loops
                    .iter()
                    .any(|lp| stealable(lp.own.load()).is_some());
                if !started && *lock(&self.control.done) < self.loops.len() {
                    // Woken by the next handler to start (or the last loop's end); a
                    // spurious wake-up only costs one more check.
                    std::thread::park();
                }
                self.watchdog.asleep.store(false, Ordering::SeqCst);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    jobs: VecDeque<usize>,
    idle: usize,
    total: usize,
    closed: bool,
    warned: bool,
}
