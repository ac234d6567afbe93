//! The supervisor process: binds nothing itself (it is given the listeners), starts the
//! workers with those listeners inherited, watches them and answers signals.

use std::collections::VecDeque;
use std::io::BufReader;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use sd_notify::NotifyState;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1};
use socketserver::evloop::Listener;

use crate::metrics::Aggregate;
use crate::protocol::{
    ENV_CHANNEL, ENV_GRACEFUL_MS, ENV_HEARTBEAT_MS, ENV_LISTEN_FDS, ENV_MAX_REQUESTS, ENV_SERIAL,
    Message, NOT_INHERITED,
};

/// The supervisor's own variables: set afresh for each worker (or not at all), never
/// passed through from this process's environment.
const OURS: &[&str] = &[
    ENV_CHANNEL,
    ENV_LISTEN_FDS,
    ENV_SERIAL,
    ENV_MAX_REQUESTS,
    ENV_HEARTBEAT_MS,
    ENV_GRACEFUL_MS,
];
use crate::{Error, Result};

/// How a [`Supervisor`] runs its workers; every field has a documented default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker processes to keep running (`--workers`). Default: 1.
    pub workers: usize,
    /// Requests after which a worker is replaced (`--max-requests`); `None`: never.
    pub max_requests: Option<u64>,
    /// Up to this many more requests, drawn per worker, so workers do not all restart
    /// together (`--max-requests-jitter`). Default: 0.
    pub max_requests_jitter: u64,
    /// A worker whose heartbeat is this late is killed (SIGKILL) and replaced
    /// (`--worker-timeout`); `None`: no heartbeat. Default: `None`.
    pub worker_timeout: Option<Duration>,
    /// How long a worker told to stop (SIGTERM) may drain before it is killed. Default:
    /// 35 s.
    pub graceful_timeout: Duration,
    /// This many unexpected worker deaths within [`crash_window`](Self::crash_window) stop
    /// the server with [`Error::CrashLoop`]. Default: 5.
    pub crash_limit: usize,
    /// See [`crash_limit`](Self::crash_limit). Default: 10 s.
    pub crash_window: Duration,
    /// The longest pause before replacing a worker that died (the pause doubles from
    /// 100 ms with each recent death). Default: 2 s.
    pub max_backoff: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 1,
            max_requests: None,
            max_requests_jitter: 0,
            worker_timeout: None,
            graceful_timeout: Duration::from_secs(35),
            crash_limit: 5,
            crash_window: Duration::from_secs(10),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// What the command-building function learns about the worker it starts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerSpec {
    /// 1 for the first worker, then counting up over the supervisor's life.
    pub serial: u64,
}

type Hook = Box<dyn FnMut() + Send>;

/// A process manager in the manner of gunicorn's arbiter.
///
/// [`run`](Self::run) starts [`Config::workers`] processes that inherit the listeners
/// (bound once, here), and until told to stop:
/// - replaces a worker that exits or crashes, pausing longer after each recent death, and
///   stops with [`Error::CrashLoop`] when [`Config::crash_limit`] die within
///   [`Config::crash_window`] (during a reload, while workers of the previous generation
///   serve, it goes back to those instead: the reload fails, the server stays up);
/// - `SIGHUP`: graceful reload: a new generation of workers starts, and each old worker is
///   told to stop (SIGTERM: stop accepting, finish what it has) only once a new one
///   serves;
/// - `SIGTERM`/`SIGINT`: graceful stop (SIGTERM to every worker, SIGKILL after
///   [`Config::graceful_timeout`]); a second one during it, or `SIGQUIT`: immediate stop
///   (SIGKILL);
/// - `SIGUSR1`: passed on to the workers (reopen log files), and the
///   [`on_reopen`](Self::on_reopen) hook runs; `SIGTTIN`/`SIGTTOU`: one worker more or
///   less;
/// - kills (SIGKILL) and replaces a worker whose heartbeat is [`Config::worker_timeout`]
///   late, and one that reached [`Config::max_requests`] is replaced like a reload;
/// - tells systemd (`NOTIFY_SOCKET`): `READY=1` once every worker serves, `RELOADING=1`
///   and `READY=1` around a reload, `STOPPING=1`, and `WATCHDOG=1` at half the
///   `WATCHDOG_USEC` period.
///
/// The workers are the caller's program: it builds their [`Command`]; the worker side is
/// [`Worker`](crate::Worker).
///
/// ```no_run
/// use supervisor::{Bind, BindOptions, Config, Supervisor};
/// let listener = "127.0.0.1:8000".parse::<Bind>()?.listen(&BindOptions::default())?;
/// let exe = std::env::current_exe()?;
/// Supervisor::new(Config { workers: 4, ..Config::default() })
///     .run(&[listener], |_| std::process::Command::new(&exe))?;
/// # Ok::<(), supervisor::Error>(())
/// ```
pub struct Supervisor {
    config: Config,
    on_ready: Option<Hook>,
    on_reopen: Option<Hook>,
    metrics: Option<std::net::TcpListener>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

enum Event {
    Signal(i32),
    Message(u64, Message),
    /// The worker's control channel ended: every message it sent was delivered before.
    Closed(u64),
}

#[derive(Debug)]
struct WorkerProc {
    serial: u64,
    child: Child,
    last_beat: Instant,
    ready: bool,
    /// Of an older generation (reload) or retiring (max requests): stop once replaced.
    stale: bool,
    /// SIGTERM sent at.
    stopping: Option<Instant>,
    killed: bool,
    timed_out: bool,
}

impl WorkerProc {
    fn pid(&self) -> Option<Pid> {
        i32::try_from(self.child.id()).ok().and_then(Pid::from_raw)
    }

    fn signal(&self, sig: Signal) {
        if let Some(pid) = self.pid()
            && let Err(e) = rustix::process::kill_process(pid, sig)
        {
            tracing::debug!(pid = self.child.id(), error = %e, "signalling a worker failed");
        }
    }

    fn stop(&mut self, now: Instant) {
        if self.stopping.is_none() {
            self.stopping = Some(now);
            self.signal(Signal::TERM);
        }
    }

    fn kill(&mut self) {
        if !self.killed {
            self.killed = true;
            self.signal(Signal::KILL);
        }
    }

    /// Counts toward the target: neither stale nor stopping.
    fn current(&self) -> bool {
        !self.stale && self.stopping.is_none() && !self.killed
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => status.to_string(),
    }
}

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

struct State<'a, F> {
    config: Config,
    target: usize,
    listen_fds: String,
    command: F,
    events: mpsc::Sender<Event>,
    workers: Vec<WorkerProc>,
    next_serial: u64,
    deaths: VecDeque<Instant>,
    next_spawn: Instant,
    announced: bool,
    reloading: bool,
    stopping: Option<Instant>,
    failure: Option<Error>,
    on_ready: Option<Hook>,
    aggregate: std::sync::Arc<std::sync::Mutex<Aggregate>>,
    _listeners: &'a [Listener],
}

impl Supervisor {
    /// A supervisor with this configuration.
    pub fn new(config: Config) -> Self {
        Supervisor {
            config,
            on_ready: None,
            on_reopen: None,
            metrics: None,
        }
    }

    /// Serves the workers' metrics, summed, with the supervisor's own
    /// (`pyserve_worker_restarts_total`, `pyserve_workers`), as `GET /metrics` on
    /// `listener` (see [`serve_metrics`](crate::serve_metrics)); workers send theirs with
    /// [`Worker::send_metrics`](crate::Worker::send_metrics).
    pub fn metrics(mut self, listener: std::net::TcpListener) -> Self {
        self.metrics = Some(listener);
        self
    }

    /// Runs `f` once, when every worker first serves (for example to print a banner).
    pub fn on_ready(mut self, f: impl FnMut() + Send + 'static) -> Self {
        self.on_ready = Some(Box::new(f));
        self
    }

    /// Runs `f` on each `SIGUSR1` (for example to reopen the supervisor's own log file).
    pub fn on_reopen(mut self, f: impl FnMut() + Send + 'static) -> Self {
        self.on_reopen = Some(Box::new(f));
        self
    }

    /// Checks the configuration (also done by [`run`](Self::run), before any worker
    /// starts).
    pub fn validate(config: &Config) -> Result<()> {
        if config.workers == 0 {
            return Err(Error::Config("workers must be at least 1".into()));
        }
        if config.max_requests == Some(0) {
            return Err(Error::Config("max requests must be at least 1".into()));
        }
        if config
            .worker_timeout
            .is_some_and(|t| t < Duration::from_millis(200))
        {
            return Err(Error::Config(
                "the worker timeout must be at least 0.2 s".into(),
            ));
        }
        if config.crash_limit == 0 {
            return Err(Error::Config("the crash limit must be at least 1".into()));
        }
        Ok(())
    }

    /// Supervises workers serving `listeners` until a stop signal (then `Ok`) or a crash
    /// loop ([`Error::CrashLoop`]). `command` builds each worker's command; the supervisor
    /// adds the environment that [`Worker::from_env`](crate::Worker::from_env) reads,
    /// removes systemd's variables, and gives the worker `/dev/null` as stdin (stdout and
    /// stderr are inherited).
    ///
    /// The listeners stay open here for the supervisor's life, so a connection queued
    /// while workers come and go is never reset.
    pub fn run<F>(self, listeners: &[Listener], command: F) -> Result<()>
    where
        F: FnMut(&WorkerSpec) -> Command,
    {
        Self::validate(&self.config)?;
        let mut fds = Vec::with_capacity(listeners.len());
        for l in listeners {
            let fd: BorrowedFd<'_> = match l {
                Listener::Tcp(l) => l.as_fd(),
                Listener::Unix(l) => l.as_fd(),
            };
            // Inherited by every worker across exec.
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
            fds.push(fd.as_raw_fd().to_string());
        }
        let Supervisor {
            config,
            on_ready,
            mut on_reopen,
            metrics,
        } = self;
        let aggregate = std::sync::Arc::new(std::sync::Mutex::new(Aggregate::default()));
        if let Some(l) = metrics {
            let agg = aggregate.clone();
            crate::serve_metrics(l, move || {
                agg.lock().unwrap_or_else(|e| e.into_inner()).render()
            })?;
        }
        let (tx, rx) = mpsc::channel();
        let mut signals = signal_hook::iterator::Signals::new([
            SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGCHLD, SIGTTIN, SIGTTOU,
        ])?;
        let signals_handle = signals.handle();
        let sig_tx = tx.clone();
        let signal_thread = std::thread::Builder::new()
            .name("supervisor-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if sig_tx.send(Event::Signal(sig)).is_err() {
                        return;
                    }
                }
            })?;
        let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
        let mut last_watchdog = Instant::now();
        let now = Instant::now();
        let mut st = State {
            target: config.workers,
            config,
            listen_fds: fds.join(","),
            command,
            events: tx,
            workers: Vec::new(),
            next_serial: 1,
            deaths: VecDeque::new(),
            next_spawn: now,
            announced: false,
            reloading: false,
            stopping: None,
            failure: None,
            on_ready,
            aggregate,
            _listeners: listeners,
        };
        tracing::info!(workers = st.target, "supervisor starting");
        loop {
            let mut wait = st.wait();
            if let Some(period) = watchdog {
                wait = wait.min(period.saturating_sub(last_watchdog.elapsed()));
            }
            let first = rx.recv_timeout(wait);
            let mut batch: Vec<Event> = first.into_iter().collect();
            batch.extend(rx.try_iter());
            for ev in batch {
                match ev {
                    Event::Signal(SIGUSR1) => {
                        tracing::info!("SIGUSR1: reopening log files");
                        if let Some(f) = on_reopen.as_mut() {
                            f();
                        }
                        for w in &st.workers {
                            w.signal(Signal::USR1);
                        }
                    }
                    Event::Signal(sig) => st.on_signal(sig),
                    Event::Message(serial, msg) => st.on_message(serial, msg),
                    // Its last metrics arrived before this: keep its counters in the sums.
                    Event::Closed(serial) => st.metrics().retire(serial),
                }
            }
            st.tick();
            if st.stopping.is_some() && st.workers.is_empty() {
                break;
            }
            if let Some(period) = watchdog
                && last_watchdog.elapsed() >= period
            {
                last_watchdog = Instant::now();
                notify(&[NotifyState::Watchdog]);
            }
        }
        signals_handle.close();
        let _ = signal_thread.join();
        tracing::info!("supervisor stopped");
        match st.failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<F: FnMut(&WorkerSpec) -> Command> State<'_, F> {
    fn on_signal(&mut self, sig: i32) {
        match sig {
            SIGCHLD => {}
            SIGHUP if self.stopping.is_none() => {
                tracing::info!("SIGHUP: reloading (new workers, then the old ones drain)");
                notify(&[NotifyState::Reloading, monotonic()]);
                self.reloading = true;
                for w in &mut self.workers {
                    if w.stopping.is_none() {
                        w.stale = true;
                    }
                }
            }
            // A second one during a graceful stop: stop now (Ctrl-C twice).
            SIGTERM | SIGINT => {
                let again = self.stopping.is_some();
                self.begin_stop(again, &format!("signal {sig}"));
            }
            SIGQUIT => self.begin_stop(true, "SIGQUIT"),
            SIGTTIN if self.stopping.is_none() => {
                self.target += 1;
                tracing::info!(workers = self.target, "SIGTTIN: one worker more");
            }
            SIGTTOU if self.stopping.is_none() && self.target > 1 => {
                self.target -= 1;
                tracing::info!(workers = self.target, "SIGTTOU: one worker less");
            }
            _ => {}
        }
    }

    fn begin_stop(&mut self, immediate: bool, why: &str) {
        let now = Instant::now();
        if self.stopping.is_some() && immediate {
            tracing::warn!(
                "{why} during the graceful stop: immediate stop of {} worker(s)",
                self.workers.len()
            );
        }
        if self.stopping.is_none() {
            tracing::info!(
                "{why}: {} stop of {} worker(s)",
                if immediate { "immediate" } else { "graceful" },
                self.workers.len()
            );
            notify(&[NotifyState::Stopping]);
            self.stopping = Some(now);
        }
        for w in &mut self.workers {
            if immediate {
                w.kill();
            } else {
                w.stop(now);
            }
        }
    }

    fn on_message(&mut self, serial: u64, msg: Message) {
        if let Message::Metrics(text) = msg {
            // Also from a worker already reaped: its last snapshot, sent as it exited.
            self.metrics().update(serial, text);
            return;
        }
        let Some(w) = self.workers.iter_mut().find(|w| w.serial == serial) else {
            return;
        };
        w.last_beat = Instant::now();
        match msg {
            Message::Ready => {
                tracing::debug!(pid = w.child.id(), serial, "worker ready");
                w.ready = true;
            }
            Message::Beat => {}
            Message::Retire => {
                if !w.stale {
                    tracing::info!(
                        pid = w.child.id(),
                        "worker reached its maximum number of requests: replacing it"
                    );
                    w.stale = true;
                }
            }
            Message::Metrics(_) => {}
        }
    }

    fn metrics(&self) -> std::sync::MutexGuard<'_, Aggregate> {
        self.aggregate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long the loop may wait for an event (a signal, SIGCHLD included, a worker's
    /// message or a worker's channel closing wake it sooner): a second while every worker
    /// serves and nothing is under way (gunicorn's arbiter sleeps as long), the heartbeat
    /// check's precision at most; 50 ms while workers start, stop or are replaced, whose
    /// deadlines (`next_spawn`, the graceful timeout) it follows.
    fn wait(&self) -> Duration {
        const BUSY: Duration = Duration::from_millis(50);
        let settled = self.stopping.is_none()
            && !self.reloading
            && self.announced
            && self.workers.len() == self.target
            && self.workers.iter().all(|w| w.current() && w.ready);
        if !settled {
            return BUSY;
        }
        let quiet = Duration::from_secs(1);
        match self.config.worker_timeout {
            Some(t) => quiet.min(t / 4).max(BUSY),
            None => quiet,
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        self.reap(now);
        let running = self.workers.len();
        self.metrics().workers = running;
        if self.stopping.is_some() {
            for w in &mut self.workers {
                if !w.killed
                    && w.stopping
                        .is_some_and(|t| now.duration_since(t) > self.config.graceful_timeout)
                {
                    tracing::warn!(pid = w.child.id(), "worker still draining: killed");
                    w.kill();
                }
            }
            return;
        }
        self.check_heartbeats(now);
        // Too many current workers (SIGTTOU): the oldest become stale.
        let mut current = self.workers.iter().filter(|w| w.current()).count();
        for w in &mut self.workers {
            if current <= self.target {
                break;
            }
            if w.current() {
                w.stale = true;
                current -= 1;
            }
        }
        while current < self.target && now >= self.next_spawn {
            if let Err(e) = self.spawn(now) {
                tracing::error!(error = %e, "starting a worker failed");
                self.death(now, e.to_string());
                break;
            }
            current += 1;
        }
        self.retire_stale(now);
        let ready = self
            .workers
            .iter()
            .filter(|w| w.current() && w.ready)
            .count();
        let stale_left = self.workers.iter().any(|w| w.stale);
        if ready >= self.target {
            if !self.announced {
                self.announced = true;
                tracing::info!(workers = ready, "every worker serves");
                if let Some(f) = self.on_ready.as_mut() {
                    f();
                }
                notify(&[NotifyState::Ready]);
            } else if self.reloading && !stale_left {
                self.reloading = false;
                tracing::info!(workers = ready, "reload complete");
                notify(&[NotifyState::Ready]);
            }
        }
    }

    /// Stops stale workers as their replacements come to serve, keeping `target` serving.
    fn retire_stale(&mut self, now: Instant) {
        let ready = self
            .workers
            .iter()
            .filter(|w| w.current() && w.ready)
            .count();
        let mut serving_stale = 0;
        for w in &mut self.workers {
            if w.stale && w.stopping.is_none() && !w.killed {
                if w.ready {
                    serving_stale += 1;
                } else {
                    // Serves nothing yet: nothing to hand over.
                    w.stop(now);
                }
            }
        }
        let mut to_stop = (ready + serving_stale).saturating_sub(self.target);
        for w in &mut self.workers {
            if to_stop == 0 {
                break;
            }
            if w.stale && w.stopping.is_none() && !w.killed {
                tracing::info!(pid = w.child.id(), "stopping a replaced worker (graceful)");
                w.stop(now);
                to_stop -= 1;
            }
        }
        for w in &mut self.workers {
            if !w.killed
                && w.stopping
                    .is_some_and(|t| now.duration_since(t) > self.config.graceful_timeout)
            {
                tracing::warn!(pid = w.child.id(), "replaced worker still draining: killed");
                w.kill();
            }
        }
    }

    fn check_heartbeats(&mut self, now: Instant) {
        let Some(limit) = self.config.worker_timeout else {
            return;
        };
        for w in &mut self.workers {
            if w.stopping.is_none() && !w.killed && now.duration_since(w.last_beat) > limit {
                tracing::error!(
                    pid = w.child.id(),
                    timeout = ?limit,
                    "worker did not answer the heartbeat in time: killed"
                );
                w.timed_out = true;
                w.kill();
            }
        }
    }

    fn reap(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.workers.len() {
            let status = match self.workers[i].child.try_wait() {
                Ok(Some(s)) => s,
                Ok(None) => {
                    i += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "waiting for a worker failed");
                    i += 1;
                    continue;
                }
            };
            let w = self.workers.remove(i);
            let how = describe(status);
            let asked = w.stopping.is_some() || (w.killed && !w.timed_out);
            if asked {
                tracing::info!(pid = w.child.id(), "worker exited ({how})");
            } else if w.timed_out {
                // Killed here (logged then), and a death all the same: it counts toward
                // the crash-loop rule and the back-off.
                let how = format!("killed after missing its heartbeat ({how})");
                tracing::info!(pid = w.child.id(), "worker exited: {how}");
                self.death(now, how);
            } else {
                tracing::warn!(pid = w.child.id(), "worker died unexpectedly: {how}");
                self.death(now, how);
            }
        }
    }

    fn death(&mut self, now: Instant, how: String) {
        self.deaths.push_back(now);
        while self
            .deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.crash_window)
        {
            self.deaths.pop_front();
        }
        let recent = self.deaths.len();
        if recent >= self.config.crash_limit {
            if self.abandon_reload(now) {
                tracing::error!(
                    "reload failed: {recent} new workers died within {:?} (last: {how}); \
                     the previous workers keep serving",
                    self.config.crash_window
                );
                return;
            }
            let e = Error::CrashLoop {
                deaths: recent,
                window: self.config.crash_window,
                last: how,
            };
            tracing::error!("{e}");
            self.failure = Some(e);
            self.begin_stop(false, "crash loop");
            return;
        }
        let shift = u32::try_from(recent.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        let pause = (Duration::from_millis(100) * (1u32 << shift)).min(self.config.max_backoff);
        self.next_spawn = self.next_spawn.max(now + pause);
    }

    /// A reload whose new workers crash in a loop while the previous generation still
    /// serves: the previous workers become current again and the new ones not yet serving
    /// stop, as nginx keeps its old workers when a reload fails (a worker replaced later
    /// runs the new command, though). False when there is nothing to go back to.
    fn abandon_reload(&mut self, now: Instant) -> bool {
        let serving_old = |w: &WorkerProc| w.stale && w.ready && w.stopping.is_none() && !w.killed;
        if !self.reloading || !self.workers.iter().any(serving_old) {
            return false;
        }
        for w in &mut self.workers {
            if serving_old(w) {
                w.stale = false;
            } else if w.current() && !w.ready {
                w.stop(now);
            }
        }
        self.reloading = false;
        self.deaths.clear();
        notify(&[NotifyState::Ready]);
        true
    }

    fn spawn(&mut self, now: Instant) -> Result<()> {
        let serial = self.next_serial;
        self.next_serial += 1;
        if serial > u64::try_from(self.config.workers).unwrap_or(u64::MAX) {
            self.metrics().restarts += 1;
        }
        let (ours, theirs) = UnixStream::pair()?;
        // Only this descriptor (and the listeners) cross the exec; the parent's copy is
        // closed right after the spawn, so later workers do not inherit it.
        rustix::io::fcntl_setfd(&theirs, rustix::io::FdFlags::empty())?;
        let mut cmd = (self.command)(&WorkerSpec { serial });
        for var in NOT_INHERITED.iter().chain(OURS) {
            cmd.env_remove(var);
        }
        cmd.env(ENV_CHANNEL, theirs.as_raw_fd().to_string())
            .env(ENV_LISTEN_FDS, &self.listen_fds)
            .env(ENV_SERIAL, serial.to_string())
            .stdin(Stdio::null());
        if let Some(max) = self.config.max_requests {
            let jitter = match self.config.max_requests_jitter {
                0 => 0,
                j => random() % (j + 1),
            };
            cmd.env(ENV_MAX_REQUESTS, (max + jitter).to_string());
        }
        if let Some(t) = self.config.worker_timeout {
            let period = (t / 4).max(Duration::from_millis(50));
            cmd.env(ENV_HEARTBEAT_MS, period.as_millis().to_string());
        }
        cmd.env(
            ENV_GRACEFUL_MS,
            self.config.graceful_timeout.as_millis().to_string(),
        );
        let child = cmd.spawn();
        drop(theirs);
        let child = child?;
        tracing::info!(pid = child.id(), serial, "worker started");
        let tx = self.events.clone();
        std::thread::Builder::new()
            .name(format!("supervisor-worker-{serial}"))
            .spawn(move || {
                let mut r = BufReader::new(ours);
                while let Ok(Some(msg)) = Message::read(&mut r) {
                    if tx.send(Event::Message(serial, msg)).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Event::Closed(serial));
            })?;
        self.workers.push(WorkerProc {
            serial,
            child,
            last_beat: now,
            ready: false,
            stale: false,
            stopping: None,
            killed: false,
            timed_out: false,
        });
        Ok(())
    }
}

fn monotonic() -> NotifyState<'static> {
    NotifyState::monotonic_usec_now().unwrap_or(NotifyState::MonotonicUsec(0))
}

/// A random number from the standard library's hasher seeds (enough for jitter).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
