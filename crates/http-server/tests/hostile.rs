//! Hostile clients against the production server (`EventLoopServer` + `HttpProtocol` on
//! 127.0.0.1, short timeouts): slowloris, half-closed clients, resets mid-request, short
//! bodies, clients that never read, thousands of abandoned connections. Afterwards the
//! server answers normally, holds no connection, and the process's threads and open file
//! descriptors are back to their baseline (within a tolerance: the other tests of this binary
//! run in the same process).
//!
//! The tests here take a lock so they do not compete with each other for the two cores.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use socketserver::HandlerCx;
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Protocol, ServerHandle};

/// Tests that compare the process's fd and thread counts with a baseline run one at a time,
/// and so do tests that hold hundreds of sockets: the counts are process-wide, so a
/// baseline taken or checked meanwhile would see those sockets.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

/// `GET /big` answers 16 MiB; any other GET a short `hello`; POST echoes the body.
struct Hostile;

const BIG: usize = 16 << 20;

impl HttpHandler for Hostile {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let body = if ex.path == "/big" {
            vec![b'x'; BIG]
        } else {
            b"hello".to_vec()
        };
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(&body)?;
        Ok(())
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let mut body = Vec::new();
        ex.rfile().read_to_end(&mut body)?;
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(&body)?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

/// A production server on 127.0.0.1, shut down on drop.
pub(crate) struct H1Server {
    pub(crate) addr: SocketAddr,
    pub(crate) handle: ServerHandle,
    thread: Option<JoinHandle<socketserver::Result<()>>>,
}

impl Drop for H1Server {
    fn drop(&mut self) {
        self.handle.shutdown_within(Duration::from_millis(500));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Short timeouts so hostile clients are dealt with in about a second.
pub(crate) fn hostile_config() -> EventLoopConfig {
    EventLoopConfig {
        threads: 2,
        request_timeout: Duration::from_secs(1),
        idle_timeout: Some(Duration::from_secs(1)),
        write_timeout: Duration::from_secs(1),
        shutdown_timeout: Duration::from_secs(1),
        standby_keep_alive: Duration::from_millis(200),
        ..EventLoopConfig::default()
    }
}

pub(crate) fn start_with<P: Protocol>(config: EventLoopConfig, protocol: P) -> H1Server {
    let server = EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, protocol).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let thread = Some(std::thread::spawn(move || server.serve()));
    H1Server {
        addr,
        handle,
        thread,
    }
}

fn start(config: EventLoopConfig) -> H1Server {
    start_with(
        config,
        HttpProtocol::new(
            |_: &HandlerCx<'_>| Hostile,
            HttpConfig::default().protocol_version("HTTP/1.1"),
        ),
    )
}

/// One `GET path` on a fresh connection: the status and how long it took.
pub(crate) fn get(addr: SocketAddr, path: &str) -> (u16, Duration) {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (status_of(&out), t0.elapsed())
}

pub(crate) fn status_of(out: &[u8]) -> u16 {
    std::str::from_utf8(out.get(9..12).unwrap_or(b"000"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

pub(crate) fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resource counts of the process, taken once the server is up and warm.
pub(crate) struct Baseline {
    fds: usize,
    threads: usize,
}

impl Baseline {
    pub(crate) fn take(server: &H1Server) -> Baseline {
        assert_eq!(get(server.addr, "/warm").0, 200);
        wait_until(Duration::from_secs(5), || server.handle.connections() == 0);
        Baseline {
            fds: open_fds(),
            threads: threads(),
        }
    }

    /// Waits (bounded) until the server holds no connection and answers normally, and the
    /// process's fds and threads are back near the baseline.
    #[track_caller]
    #[allow(clippy::print_stderr, reason = "the figures are the test's report")]
    pub(crate) fn assert_recovered(&self, server: &H1Server, what: &str) {
        let drained = wait_until(Duration::from_secs(10), || server.handle.connections() == 0);
        assert!(
            drained,
            "{what}: {} connections still open",
            server.handle.connections()
        );
        let (status, took) = get(server.addr, "/after");
        assert_eq!(status, 200, "{what}: the server no longer answers");
        assert!(
            took < Duration::from_secs(1),
            "{what}: answer took {took:?}"
        );
        // Standby threads exit after `standby_keep_alive`; closed sockets go at once. Wait
        // for the baseline itself, and if other tests of this binary (running meanwhile)
        // keep the counts up, allow them their share.
        let near = |fd_slack: usize, thread_slack: usize| {
            open_fds() <= self.fds + fd_slack && threads() <= self.threads + thread_slack
        };
        let settled = wait_until(Duration::from_secs(5), || near(2, 0)) || near(64, 16);
        assert!(
            settled,
            "{what}: fds {} (baseline {}), threads {} (baseline {})",
            open_fds(),
            self.fds,
            threads(),
            self.threads
        );
        eprintln!(
            "{what}: fds {} (baseline {}), threads {} (baseline {})",
            open_fds(),
            self.fds,
            threads(),
            self.threads
        );
    }
}

pub(crate) fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads until EOF or an error (reset), bounded by the socket's read timeout; returns what
/// came and whether the server closed (EOF or reset, not a timeout).
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, false);
            }
            Err(_) => return (out, true),
        }
    }
}

#[test]
fn slowloris_does_not_delay_ordinary_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(EventLoopConfig {
        request_timeout: Duration::from_secs(3),
        ..hostile_config()
    });
    let base = Baseline::take(&server);
    let head = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let s = TcpStream::connect(server.addr).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // A byte per connection every 100 ms for 2 s, while ordinary clients come and go.
    let mut worst = Duration::ZERO;
    let mut served = 0;
    for tick in 0..20 {
        for s in &mut slow {
            let _ = s.write(&head[tick..=tick]);
        }
        for _ in 0..2 {
            let (status, took) = get(server.addr, "/ordinary");
            assert_eq!(status, 200);
            worst = worst.max(took);
            served += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("slowloris: {served} ordinary requests, slowest {worst:?}");
    assert!(worst < Duration::from_secs(1), "slowest answer {worst:?}");
    // The request deadline (3 s from the first byte) ends every slow connection with a 408.
    let mut timed_out = 0;
    for s in &mut slow {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (out, closed) = read_until_closed(s);
        assert!(closed, "a slow connection was never closed");
        if status_of(&out) == 408 {
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, slow.len());
    drop(slow);
    base.assert_recovered(&server, "slowloris");
}

#[test]
fn half_closed_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(hostile_config());
    let base = Baseline::take(&server);
    for i in 0..50 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if i % 2 == 0 {
            // A whole request, then the write side closed: the answer still comes, then EOF.
            s.write_all(b"GET /half HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let (out, closed) = read_until_closed(&mut s);
            assert_eq!(status_of(&out), 200);
            assert!(closed, "no EOF after the answer to a half-closed client");
        } else {
            // Half a request, then the write side closed: the server closes too.
            s.write_all(b"GET /half HTTP/1.1\r\nHo").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let t0 = Instant::now();
            let (_, closed) = read_until_closed(&mut s);
            assert!(closed && t0.elapsed() < Duration::from_secs(3));
        }
    }
    base.assert_recovered(&server, "half-closed clients");
}

/// A socket that sends RST on close (SO_LINGER 0).
fn resetting(addr: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.connect(&addr.into()).unwrap();
    s.set_linger(Some(Duration::ZERO)).unwrap();
    s.into()
}

#[test]
fn resets_mid_request() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(hostile_config());
    let base = Baseline::take(&server);
    for i in 0..60 {
        let mut s = resetting(server.addr);
        match i % 3 {
            0 => s
                .write_all(b"GET /reset HTTP/1.1\r\nHost: x\r\nX-Pa")
                .unwrap(),
            1 => s
                .write_all(b"POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
                .unwrap(),
            // A request whose large answer is still being written when the reset comes.
            _ => s
                .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap(),
        }
        drop(s);
    }
    base.assert_recovered(&server, "resets mid-request");
}

#[test]
fn short_body_then_silence_times_out() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(hostile_config());
    let base = Baseline::take(&server);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let t0 = Instant::now();
    let (out, closed) = read_until_closed(&mut s);
    assert!(closed, "still open after {:?}", t0.elapsed());
    assert_eq!(status_of(&out), 408, "{}", String::from_utf8_lossy(&out));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    drop(s);
    base.assert_recovered(&server, "short body");
}

#[test]
fn client_that_never_reads_a_large_response() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(hostile_config());
    let base = Baseline::take(&server);
    // Four clients ask for 16 MiB each and never read.
    let stuck: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    // Others are served meanwhile.
    for _ in 0..10 {
        let (status, took) = get(server.addr, "/other");
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // The write timeout (1 s without progress) frees the stuck connections while their
    // clients still hold them open.
    assert!(
        wait_until(Duration::from_secs(5), || server.handle.connections() == 0),
        "{} connections still held by clients that never read",
        server.handle.connections()
    );
    drop(stuck);
    base.assert_recovered(&server, "never-reading clients");
}

#[test]
fn thousands_of_abandoned_connections() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(EventLoopConfig {
        backlog: 4096,
        ..hostile_config()
    });
    let base = Baseline::take(&server);
    // Each connection costs two descriptors here (client and server side).
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024usize);
    let wanted = 5_000;
    let count = wanted.min(soft.saturating_sub(base.fds + 512) / 2);
    if count < wanted {
        eprintln!("abandoned: RLIMIT_NOFILE soft limit {soft}: {count} connections, not {wanted}");
    }
    let mut conns = Vec::with_capacity(count);
    for i in 0..count {
        match TcpStream::connect(server.addr) {
            Ok(mut s) => {
                // A third send half a request, a third a whole one they will never read.
                match i % 3 {
                    0 => {}
                    1 => {
                        let _ = s.write_all(b"GET / HTTP/1.1\r\nHo");
                    }
                    _ => {
                        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                    }
                }
                conns.push(s);
            }
            Err(e) => panic!("connect {i}: {e}"),
        }
    }
    eprintln!("abandoned: {} connections opened", conns.len());
    // Half are closed by their clients at once, the rest left silent for the server's
    // timeouts to close.
    let silent = conns.split_off(conns.len() / 2);
    drop(conns);
    assert!(
        wait_until(Duration::from_secs(10), || server.handle.connections() == 0),
        "{} connections still open",
        server.handle.connections()
    );
    drop(silent);
    base.assert_recovered(&server, "abandoned connections");
}
