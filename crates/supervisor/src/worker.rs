//! The worker side: what a program started by a [`Supervisor`](crate::Supervisor) calls.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketserver::evloop::{
    Abort, ClearPreface, Frame, Listener, Protocol, ServeCx, Served, ServerHandle,
};

use crate::protocol::{
    ENV_CHANNEL, ENV_GRACEFUL_MS, ENV_HEARTBEAT_MS, ENV_LISTEN_FDS, ENV_MAX_REQUESTS, ENV_SERIAL,
    Message,
};
use crate::{Error, Result};

/// A liveness check run before each heartbeat.
type Probe = Box<dyn FnMut() -> bool + Send>;

struct Shared {
    channel: Mutex<UnixStream>,
    served: AtomicU64,
    max_requests: Option<u64>,
    retiring: AtomicBool,
    probe: Mutex<Option<Probe>>,
    /// The supervisor's graceful timeout (`None`: not told).
    graceful: Option<Duration>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("served", &self.served)
            .field("max_requests", &self.max_requests)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn send(&self, msg: &Message) -> std::io::Result<()> {
        let mut c = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        c.write_all(&msg.encode())
    }
}

/// This process as a supervised worker: the listeners it inherited, its control channel
/// (readiness, heartbeat, retirement, metrics) and its request budget.
///
/// ```
/// // Not started by a supervisor: not a worker.
/// assert!(supervisor::Worker::from_env()?.is_none());
/// # Ok::<(), supervisor::Error>(())
/// ```
#[derive(Debug)]
pub struct Worker {
    serial: u64,
    listeners: Vec<Listener>,
    shared: Arc<Shared>,
}

impl Worker {
    /// True when a supervisor started this process (without taking anything: a command
    /// line uses it to decide between supervising and serving before it builds a server).
    ///
    /// Python: no equivalent.
    pub fn in_env() -> bool {
        std::env::var_os(ENV_CHANNEL).is_some()
    }

    /// The worker this process is, when a supervisor started it (`None` otherwise): takes
    /// the inherited listeners and the control channel (once per process), and starts the
    /// heartbeat when the supervisor asks for one.
    pub fn from_env() -> Result<Option<Worker>> {
        let Some(channel) = std::env::var_os(ENV_CHANNEL) else {
            return Ok(None);
        };
        let bad = |what: &str| Error::WorkerEnv(what.to_owned());
        let num = |name: &str| -> Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| bad(&format!("{name}={v:?} is not a number"))),
                Err(_) => Ok(None),
            }
        };
        let channel_fd: i32 = channel
            .to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("{ENV_CHANNEL} is not a descriptor")))?;
        let channel = crate::fds::take_unix_stream(channel_fd)?;
        let mut listeners = Vec::new();
        let fds = std::env::var(ENV_LISTEN_FDS).unwrap_or_default();
        for fd in fds.split(',').filter(|s| !s.is_empty()) {
            let fd: i32 = fd
                .parse()
                .map_err(|_| bad(&format!("{ENV_LISTEN_FDS}={fds:?}")))?;
            listeners.push(crate::fds::take_listener(fd)?);
        }
        let serial = num(ENV_SERIAL)?.unwrap_or(0);
        let shared = Arc::new(Shared {
            channel: Mutex::new(channel),
            served: AtomicU64::new(0),
            max_requests: num(ENV_MAX_REQUESTS)?,
            retiring: AtomicBool::new(false),
            probe: Mutex::new(None),
            graceful: num(ENV_GRACEFUL_MS)?.map(Duration::from_millis),
        });
        if let Some(ms) = num(ENV_HEARTBEAT_MS)? {
            let period = Duration::from_millis(ms.max(10));
            let s = shared.clone();
            std::thread::Builder::new()
                .name("worker-heartbeat".into())
                .spawn(move || {
                    loop {
                        let alive = match &mut *s.probe.lock().unwrap_or_else(|e| e.into_inner()) {
                            Some(probe) => probe(),
                            None => true,
                        };
                        if alive {
                            if s.send(&Message::Beat).is_err() {
                                return;
                            }
                        } else {
                            tracing::warn!("liveness check failed: heartbeat withheld");
                        }
                        std::thread::sleep(period);
                    }
                })?;
        }
        Ok(Some(Worker {
            serial,
            listeners,
            shared,
        }))
    }

    /// Ties this worker to `server`: the server stops gracefully when the supervisor goes
    /// away ([`on_orphaned`](Self::on_orphaned)), and a process still running the
    /// supervisor's graceful timeout later (a handler wedged in a call that never returns,
    /// say) exits at once with status 1, as the supervisor's SIGKILL would have ended it;
    /// the heartbeat is withheld while an event loop is stuck in a handler
    /// ([`set_liveness`](Self::set_liveness): each loop is either waiting for events or
    /// has made progress since the last beat). Call it before [`ready`](Self::ready).
    ///
    /// Python: gunicorn's `Worker.notify` heartbeat, tied to the loops' progress.
    pub fn watch(&self, server: &ServerHandle) -> Result<()> {
        let stop = server.clone();
        let graceful = self.shared.graceful;
        self.on_orphaned(move || {
            stop.shutdown();
            if let Some(limit) = graceful {
                // A process that stops in time exits, and this thread with it.
                std::thread::sleep(limit);
                tracing::error!(
                    timeout = ?limit,
                    "the supervisor is gone and this worker did not stop within its graceful timeout: exiting now"
                );
                std::process::exit(1);
            }
        })?;
        let server = server.clone();
        let mut last: Vec<u64> = Vec::new();
        self.set_liveness(move || {
            let now = server.loop_progress();
            let alive = now
                .iter()
                .enumerate()
                .all(|(i, (polls, waiting))| *waiting || last.get(i) != Some(polls));
            last = now.into_iter().map(|(p, _)| p).collect();
            alive
        });
        Ok(())
    }

    /// Makes the heartbeat depend on `probe`: before each beat (every quarter of the
    /// supervisor's worker timeout) `probe` runs, and a `false` withholds the beat, so a
    /// worker whose serving part is stuck for the whole timeout is killed and replaced
    /// (without a probe the heartbeat only shows that the process runs).
    ///
    /// Python: no equivalent (gunicorn's arbiter sees only that `Worker.notify` ran).
    pub fn set_liveness(&self, probe: impl FnMut() -> bool + Send + 'static) {
        *self.shared.probe.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(probe));
    }

    /// Adds `probe` to the liveness check (after [`watch`](Self::watch) or
    /// [`set_liveness`](Self::set_liveness)): the beat is withheld unless both say alive.
    /// Both run at every check. A probe may block: no beat is sent meanwhile, so a probe
    /// stuck for the whole timeout gets the worker killed and replaced (a Python host's
    /// probe takes the interpreter lock, which a C call may hold forever).
    ///
    /// Python: no equivalent (gunicorn's arbiter sees only that `Worker.notify` ran).
    pub fn add_liveness(&self, mut probe: impl FnMut() -> bool + Send + 'static) {
        let mut slot = self.shared.probe.lock().unwrap_or_else(|e| e.into_inner());
        let mut before = slot.take();
        *slot = Some(Box::new(move || {
            let earlier = before.as_mut().is_none_or(|p| p());
            probe() && earlier
        }));
    }

    /// The serial number the supervisor gave this worker (1, 2, ...).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The inherited listeners, in the supervisor's order (each may be taken once: later
    /// calls return an empty vector).
    pub fn take_listeners(&mut self) -> Vec<Listener> {
        std::mem::take(&mut self.listeners)
    }

    /// Tells the supervisor that this worker serves (call it once the server accepts on
    /// every listener). The supervisor reports readiness to systemd, and retires the
    /// workers this one replaces, once every worker said so.
    pub fn ready(&self) -> Result<()> {
        Ok(self.shared.send(&Message::Ready)?)
    }

    /// Sends a metrics snapshot (Prometheus text) for the supervisor to sum.
    pub fn send_metrics(&self, text: &str) -> Result<()> {
        Ok(self.shared.send(&Message::Metrics(text.to_owned()))?)
    }

    /// Sends `render()`'s snapshot every second from a thread of its own, until `server`
    /// shuts down or the supervisor is gone (send the last one yourself once the server
    /// stopped, so the sums keep this worker's final counts).
    ///
    /// Python: no equivalent.
    pub fn push_metrics(
        self: &Arc<Self>,
        server: &ServerHandle,
        render: impl Fn() -> String + Send + 'static,
    ) -> Result<()> {
        let (w, server) = (self.clone(), server.clone());
        std::thread::Builder::new()
            .name("metrics-push".into())
            .spawn(move || {
                while !server.is_shutting_down() && w.send_metrics(&render()).is_ok() {
                    std::thread::sleep(Duration::from_secs(1));
                }
            })?;
        Ok(())
    }

    /// The request budget (`--max-requests` plus this worker's jitter), if any.
    pub fn max_requests(&self) -> Option<u64> {
        self.shared.max_requests
    }

    /// Counts one served request; at the budget asks the supervisor (once) to replace this
    /// worker, which it then stops gracefully (SIGTERM) once the replacement serves.
    pub fn request_served(&self) {
        count(&self.shared);
    }

    /// Runs `f` (once) when the supervisor goes away (its end of the control channel
    /// closes): the worker should then stop, as nobody will replace or stop it.
    pub fn on_orphaned(&self, f: impl FnOnce() + Send + 'static) -> Result<()> {
        let reader = self
            .shared
            .channel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_clone()?;
        std::thread::Builder::new()
            .name("worker-orphan-watch".into())
            .spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 64];
                let mut r = reader;
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                tracing::warn!("the supervisor is gone: stopping");
                f();
            })?;
        Ok(())
    }

    /// `protocol` counting its served requests toward [`max_requests`](Self::max_requests).
    pub fn counted<P: Protocol>(&self, protocol: P) -> Counted<P> {
        Counted {
            inner: protocol,
            shared: self.shared.clone(),
        }
    }
}

fn count(shared: &Shared) {
    let n = shared.served.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(max) = shared.max_requests
        && n >= max
        && !shared.retiring.swap(true, Ordering::AcqRel)
    {
        tracing::info!(
            requests = n,
            "request budget reached: asking for a replacement"
        );
        if let Err(e) = shared.send(&Message::Retire) {
            tracing::warn!(error = %e, "telling the supervisor failed");
        }
    }
}

/// A [`Protocol`] that counts served requests toward a worker's budget (see
/// [`Worker::counted`]).
#[derive(Debug)]
pub struct Counted<P> {
    inner: P,
    shared: Arc<Shared>,
}

impl<P: Protocol> Protocol for Counted<P> {
    type Session = P::Session;

    fn frame(&self, session: &mut Self::Session, input: &[u8]) -> Frame {
        self.inner.frame(session, input)
    }

    fn serve(
        &self,
        session: &mut Self::Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        let served = self.inner.serve(session, request, out, cx);
        count(&self.shared);
        served
    }

    fn abort(&self, session: &mut Self::Session, input: &[u8], why: Abort) -> Vec<u8> {
        self.inner.abort(session, input, why)
    }

    fn clear_preface(&self) -> Option<ClearPreface> {
        self.inner.clear_preface()
    }
}
