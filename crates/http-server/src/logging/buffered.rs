//! A log sink that buffers access lines per thread and writes them out in blocks: when a
//! thread's buffer fills, at least once per flush interval, and when the server stops
//! (nginx's `access_log ... buffer=64k flush=1s`).

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use super::ACCESS_TARGET;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a [`BufferedLog`] writes.
#[derive(Debug)]
enum Target {
    Stderr,
    File { path: PathBuf, file: File },
}

impl Target {
    fn write_all(&mut self, bytes: &[u8]) {
        let r = match self {
            Target::Stderr => io::stderr().lock().write_all(bytes),
            Target::File { file, .. } => file.write_all(bytes),
        };
        if let Err(e) = r {
            // Nowhere else to report it: the log is where reports go.
            let _ = writeln!(io::stderr(), "access log write failed: {e}");
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[derive(Debug)]
struct Shared {
    id: u64,
    target: Mutex<Target>,
    /// Every thread's buffer (a thread that exits leaves its buffer here to be flushed
    /// and dropped by the flusher).
    buffers: Mutex<Vec<ThreadBuf>>,
    capacity: usize,
    stopped: AtomicBool,
    wake: (Mutex<bool>, Condvar),
}

impl Shared {
    fn write_out(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            lock(&self.target).write_all(bytes);
        }
    }

    fn flush_all(&self) {
        let buffers = lock(&self.buffers).clone();
        for b in &buffers {
            let taken = std::mem::take(&mut *lock(b));
            self.write_out(&taken);
        }
        // Buffers only the registry holds belong to threads that exited.
        lock(&self.buffers).retain(|b| Arc::strong_count(b) > 2 || !lock(b).is_empty());
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's buffer, shared with the flusher.
type ThreadBuf = Arc<Mutex<Vec<u8>>>;

thread_local! {
    /// This thread's buffer, for the sink with this id.
    static LOCAL: RefCell<Option<(u64, ThreadBuf)>> = const { RefCell::new(None) };
}

/// A `tracing-subscriber` writer for access logs: access events (target
/// `http_server::access`) are appended to a buffer of the thread that logs them (so event
/// loops never contend for it) and written out when it holds `capacity` bytes, by a
/// flusher thread at least every `interval`, on [`flush`](Self::flush) and when the last
/// handle is dropped; any other event is written at once, after the thread's buffered
/// lines. Writes to stderr or to a file that [`reopen`](Self::reopen) opens again (after
/// logrotate moved it: SIGUSR1).
///
/// Lines of one thread keep their order; lines of different threads are written in
/// blocks, so the file is ordered by thread, then by time, within each second.
///
/// Python: no equivalent (CPython's servers write each line to stderr at once); gunicorn's
/// `--access-logfile`, nginx's `access_log ... buffer= flush=`.
///
/// ```
/// use http_server::logging::BufferedLog;
/// let dir = std::env::temp_dir().join(format!("buffered-log-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("access.log");
/// let log = BufferedLog::file(&path, 64 << 10, std::time::Duration::from_secs(1))?;
/// let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "http_server::access", "GET / 200");
/// });
/// assert_eq!(std::fs::read_to_string(&path)?, "", "still buffered");
/// log.flush();
/// assert!(std::fs::read_to_string(&path)?.contains("GET / 200"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BufferedLog {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(Weak<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.upgrade() {
            s.stopped.store(true, Ordering::SeqCst);
            *lock(&s.wake.0) = true;
            s.wake.1.notify_all();
            s.flush_all();
        }
    }
}

impl BufferedLog {
    /// Buffers to stderr.
    pub fn stderr(capacity: usize, interval: Duration) -> io::Result<Self> {
        Self::new(Target::Stderr, capacity, interval)
    }

    /// Buffers to the file at `path` (created if missing, appended to).
    pub fn file(path: &Path, capacity: usize, interval: Duration) -> io::Result<Self> {
        let file = open_append(path)?;
        Self::new(
            Target::File {
                path: path.to_path_buf(),
                file,
            },
            capacity,
            interval,
        )
    }

    fn new(target: Target, capacity: usize, interval: Duration) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            target: Mutex::new(target),
            buffers: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
            stopped: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("access-log-flush".into())
            .spawn(move || {
                loop {
                    let Some(s) = weak.upgrade() else { return };
                    {
                        let woken = lock(&s.wake.0);
                        let (mut woken, _) = s
                            .wake
                            .1
                            .wait_timeout_while(woken, interval, |w| !*w)
                            .unwrap_or_else(|e| e.into_inner());
                        *woken = false;
                    }
                    s.flush_all();
                    if s.stopped.load(Ordering::SeqCst) {
                        return;
                    }
                }
            })?;
        Ok(BufferedLog {
            _stop: Arc::new(StopOnDrop(Arc::downgrade(&shared))),
            shared,
        })
    }

    /// Writes out every thread's buffered lines now.
    pub fn flush(&self) {
        self.shared.flush_all();
    }

    /// Flushes, then opens the file again at its path (after logrotate moved it away); a
    /// stderr sink only flushes.
    pub fn reopen(&self) -> io::Result<()> {
        self.flush();
        let mut target = lock(&self.shared.target);
        if let Target::File { path, file } = &mut *target {
            *file = open_append(path)?;
        }
        Ok(())
    }

    /// Appends to this thread's buffer what `f` writes at its end (one or more whole
    /// lines), then writes the buffer out if it is full; once the log stopped, writes them
    /// at once. The access layer formats its lines straight into the buffer this way.
    pub(crate) fn append(&self, f: impl FnOnce(&mut Vec<u8>)) {
        let shared = &self.shared;
        if shared.stopped.load(Ordering::Relaxed) {
            let mut lines = Vec::new();
            f(&mut lines);
            self.write_now(&lines);
            return;
        }
        let full = self.with_local(|b| {
            f(b);
            (b.len() >= shared.capacity)
                .then(|| std::mem::replace(b, Vec::with_capacity(shared.capacity)))
        });
        if let Some(block) = full {
            shared.write_out(&block);
        }
    }

    /// Writes `bytes` now, after this thread's buffered lines (keeping its order).
    fn write_now(&self, bytes: &[u8]) {
        let earlier = self.with_local(std::mem::take);
        let mut target = lock(&self.shared.target);
        target.write_all(&earlier);
        target.write_all(bytes);
    }

    /// Runs `f` on this thread's buffer (registered at first use). Should `f` log through
    /// this sink (a field's `Display` that logs), the inner call gets a buffer of its own,
    /// written at once.
    fn with_local<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        LOCAL.with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                let mut own = Vec::new();
                let r = f(&mut own);
                lock(&self.shared.target).write_all(&own);
                return r;
            };
            if !matches!(&*slot, Some((id, _)) if *id == self.shared.id) {
                let buf = Arc::new(Mutex::new(Vec::with_capacity(self.shared.capacity)));
                lock(&self.shared.buffers).push(buf.clone());
                *slot = Some((self.shared.id, buf));
            }
            let Some((_, buf)) = &*slot else {
                unreachable!("set above")
            };
            let mut guard = lock(buf);
            f(&mut guard)
        })
    }
}

/// The writer [`BufferedLog`] hands to the subscriber for one event.
#[derive(Debug)]
pub struct LogWriter<'a> {
    log: &'a BufferedLog,
    buffered: bool,
}

impl Write for LogWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffered {
            self.log.append(|b| b.extend_from_slice(bytes));
        } else {
            self.log.write_now(bytes);
        }
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        // `write` takes everything: no loop.
        self.write(bytes).map(drop)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedLog {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter {
            log: self,
            buffered: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        LogWriter {
            log: self,
            buffered: meta.target() == ACCESS_TARGET,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("buffered-log-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Logs `line` as an access event (or, `access` false, a warning) through `log`.
    fn event(log: &BufferedLog, line: &str, access: bool) {
        let sub = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .event_format(super::super::CpythonLines)
            .finish();
        tracing::subscriber::with_default(sub, || {
            if access {
                tracing::info!(target: "http_server::access", "{line}");
            } else {
                tracing::warn!("{line}");
            }
        });
    }

    fn access(log: &BufferedLog, line: &str) {
        event(log, line.trim_end(), true);
    }

    #[test]
    fn flushes_when_full_on_time_on_demand_and_on_drop_and_reopens() {
        let dir = temp("all");
        let path = dir.join("a.log");
        let read = || std::fs::read_to_string(&path).unwrap();
        let log = BufferedLog::file(&path, 32, Duration::from_millis(200)).unwrap();
        access(&log, "one 0123456789\n");
        assert_eq!(read(), "", "buffered");
        access(&log, "two 0123456789\n");
        access(&log, "three\n");
        assert_eq!(
            read(),
            "one 0123456789\ntwo 0123456789\nthree\n",
            "full at 32 bytes"
        );
        access(&log, "four\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !read().ends_with("four\n") {
            assert!(std::time::Instant::now() < deadline, "no timed flush");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Another thread's lines, then a direct (non-access) write keeps this thread's order.
        let l2 = log.clone();
        std::thread::spawn(move || access(&l2, "from a thread\n"))
            .join()
            .unwrap();
        access(&log, "five\n");
        event(&log, "direct", false);
        assert!(read().ends_with("five\nWARN: direct\n"), "{}", read());
        log.flush();
        assert!(read().contains("from a thread\n"));
        // logrotate: move the file away, SIGUSR1 → reopen.
        let rotated = dir.join("a.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        access(&log, "after rotate\n");
        log.reopen().unwrap();
        assert!(
            std::fs::read_to_string(&rotated)
                .unwrap()
                .ends_with("after rotate\n")
        );
        access(&log, "new file\n");
        drop(log);
        assert_eq!(read(), "new file\n", "flushed on drop");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
