//! Helpers shared by the `demo` tests: the demo binary on `127.0.0.1` port 0 (its real port
//! read from the banner it prints, killed on drop), bounded child processes, raw loopback
//! requests, and the Python to compare with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one child process (a client, a browser) may run.
pub(crate) const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// A running `demo` binary; killed (and reaped) on drop.
pub(crate) struct Demo {
    child: Option<Child>,
    /// The port it listens on, read from its banner.
    pub(crate) port: u16,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Demo {
    /// Starts the production face (`demo`), with these extra arguments.
    pub(crate) fn production(extra: &[&str]) -> Demo {
        Demo::start(extra)
    }

    /// Starts the faithful face (`demo --faithful`), with these extra arguments.
    pub(crate) fn faithful(extra: &[&str]) -> Demo {
        let mut args = vec!["--faithful"];
        args.extend_from_slice(extra);
        Demo::start(&args)
    }

    /// Starts `demo --host 127.0.0.1 --port 0 ARGS` and waits (at most 20 s) for the banner
    /// `Serving HTTP on 127.0.0.1 port PORT ...`.
    pub(crate) fn start(args: &[&str]) -> Demo {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo"));
        cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(args);
        Demo::spawn(cmd)
    }

    /// Starts `cmd` (the demo binary, or a program that runs it) with `RUST_LOG=info` and
    /// waits (at most 20 s) for the banner `Serving HTTP on 127.0.0.1 port PORT ...`.
    pub(crate) fn spawn(mut cmd: Command) -> Demo {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the demo binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The banner first, then keep draining so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut demo = Demo {
            child: Some(child),
            port: 0,
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        let banner = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no banner from demo ({e}); stderr: {}", demo.stderr()));
        // A Unix socket's banner names its path: no port.
        let unix = banner.starts_with("Serving HTTP on /") && banner.ends_with(" ...");
        let port = banner
            .strip_prefix("Serving HTTP on 127.0.0.1 port ")
            .and_then(|rest| rest.strip_suffix(" ..."))
            .and_then(|p| p.parse().ok())
            .or(unix.then_some(0))
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
        demo.port = port;
        demo
    }

    /// Sends `sig` to the process (with the system call).
    #[allow(dead_code, reason = "used by some of the test binaries only")]
    pub(crate) fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, sig).expect("kill(2)");
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The listening address.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// True while the process has not exited.
    #[allow(dead_code, reason = "used by some of the test binaries only")]
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("waitpid").is_none())
    }

    /// Everything the demo wrote to stderr so far (its access log).
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) for the process to exit by itself.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("still running");
        let status = wait_within(child, limit, "demo");
        self.child = None;
        // The process is gone: its stderr ends, and the log is complete once read.
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        status
    }

    /// Sends SIGTERM (with the `kill` command) and waits (at most 20 s) for the exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().to_string();
        let out = run(Command::new("kill").args(["-TERM", &pid]), CHILD_LIMIT);
        assert!(out.status.success(), "kill -TERM {pid} failed");
        self.wait_exit(Duration::from_secs(20))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `child` at most `limit`; past that kills it and panics.
pub(crate) fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn drain(r: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut v);
        }
        v
    })
}

/// Runs `cmd` to completion, killing it after `limit`; returns its output.
pub(crate) fn run(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_within(&mut child, limit, &what);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `cmd`, asserts it succeeded, and returns its stdout as text.
pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd, CHILD_LIMIT);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Python to use: the pinned 3.11 the differential tests are written against when
/// present, else `python3` from `PATH`.
pub(crate) fn python() -> PathBuf {
    let pinned = std::path::Path::new("/root/.pyenv/versions/3.11.7/bin/python3");
    if pinned.exists() {
        pinned.to_owned()
    } else {
        "python3".into()
    }
}

/// Sends `request` on a new connection and reads until the server closes it (bounded by
/// timeouts).
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Splits a raw response into (status line, header lines, body).
pub(crate) fn split_response(raw: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory under the system's temporary directory.
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("demo-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
