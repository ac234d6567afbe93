//! `demo --workers N`: the supervisor binds once, replaces dead and hung workers, reloads
//! on SIGHUP without failing a request, replaces workers at `--max-requests`, stops on
//! SIGTERM/SIGINT/SIGQUIT, and speaks systemd's notification and activation protocols.

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use socketserver::testing::context_switches;

use super::common::{
    children_of, connect, get_once, kill, log_count, read_response, wait_for, wait_for_log,
};
use crate::support::{Demo, TempDir};

const HELLO: &[u8] = b"Hello world!\n";

fn hello_ok(demo: &Demo) {
    let r = get_once(demo.addr(), "/").unwrap_or_else(|e| panic!("{e}\n{}", demo.stderr()));
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO));
}

#[test]
fn workers_share_one_unix_socket() {
    let dir = TempDir::new("ops-unix");
    let path = dir.path().join("demo.sock");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo"));
    cmd.args([
        "--workers",
        "2",
        "--threads",
        "1",
        "--app",
        "hello",
        "--unix",
    ])
    .arg(&path);
    let mut demo = Demo::spawn(cmd);
    assert_eq!(children_of(demo.pid()).len(), 2);
    // Every request on the one socket file is answered (each worker used to delete and
    // rebind the path, leaving all but the last unreachable).
    for _ in 0..32 {
        let mut s = UnixStream::connect(&path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s).unwrap().expect("a response");
        assert_eq!((r.status, r.body.as_slice()), (200, HELLO));
    }
    let log = demo.stderr();
    assert_eq!(log.matches("event-loop server serving").count(), 2, "{log}");
    assert!(demo.terminate().success());
    assert!(!path.exists(), "the supervisor removes its socket file");
}

#[test]
fn a_crashed_worker_is_replaced() {
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1", "--app", "hello"]);
    let before = children_of(demo.pid());
    assert_eq!(before.len(), 2);
    let victim = *before.iter().next().unwrap();
    kill(victim, Signal::KILL);
    wait_for(&demo, Duration::from_secs(10), "a replacement", || {
        let now = children_of(demo.pid());
        now.len() == 2 && !now.contains(&victim)
    });
    wait_for_log(
        &demo,
        Duration::from_secs(5),
        "worker died unexpectedly: signal 9",
    );
    assert!(demo.stderr().contains("worker died unexpectedly: signal 9"));
    for _ in 0..8 {
        hello_ok(&demo);
    }
    assert!(demo.terminate().success());
}

#[derive(Debug, Default)]
struct Tally {
    /// Whole 200 responses with the right body.
    ok: u64,
    /// Requests sent again on a new connection because a kept-alive one was closed
    /// before any byte of their response (what every HTTP client does for an idempotent
    /// request, RFC 9112 section 9.3.1).
    retried: u64,
    failures: Vec<String>,
}

/// A client loop until `stop` (or 60 s, or 20,000 requests): keep-alive or one connection
/// per request.
fn client(addr: std::net::SocketAddr, keep_alive: bool, stop: Arc<AtomicBool>) -> Tally {
    let mut t = Tally::default();
    let started = Instant::now();
    let mut conn: Option<std::net::TcpStream> = None;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) && n < 20_000
    {
        n += 1;
        if !keep_alive {
            match get_once(addr, "/") {
                Ok(r) if r.status == 200 && r.body == HELLO => t.ok += 1,
                Ok(r) => t
                    .failures
                    .push(format!("status {} body {:?}", r.status, r.body)),
                Err(e) => t.failures.push(e),
            }
            continue;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reused = conn.is_some();
            let mut s = match conn.take() {
                Some(s) => s,
                None => match connect(addr) {
                    Ok(s) => s,
                    Err(e) => {
                        t.failures.push(format!("connect: {e}"));
                        break;
                    }
                },
            };
            let sent = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            let got = match sent {
                Ok(()) => read_response(&mut s),
                Err(e) if reused => {
                    let _ = e;
                    Ok(None)
                }
                Err(e) => Err(e),
            };
            match got {
                Ok(Some(r)) if r.status == 200 && r.body == HELLO => {
                    t.ok += 1;
                    if !r.close {
                        conn = Some(s);
                    }
                    break;
                }
                Ok(Some(r)) => {
                    t.failures
                        .push(format!("status {} body {:?}", r.status, r.body));
                    break;
                }
                Ok(None) if reused && attempt == 1 => t.retried += 1,
                Ok(None) => {
                    t.failures
                        .push("closed before a response on a new connection".into());
                    break;
                }
                Err(e) => {
                    t.failures.push(format!("read: {e}"));
                    break;
                }
            }
        }
    }
    t
}

#[test]
fn reload_under_load_loses_no_request() {
    const RELOADS: usize = 4;
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1", "--app", "hello"]);
    let first = children_of(demo.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = [true, true, false, false]
        .into_iter()
        .map(|keep_alive| {
            let stop = stop.clone();
            let addr = demo.addr();
            std::thread::spawn(move || client(addr, keep_alive, stop))
        })
        .collect();
    let mut generations = vec![first.clone()];
    for i in 1..=RELOADS {
        std::thread::sleep(Duration::from_millis(400));
        demo.signal(Signal::HUP);
        wait_for(&demo, Duration::from_secs(30), "reload complete", || {
            log_count(&demo, "reload complete") >= i
        });
        generations.push(children_of(demo.pid()));
    }
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for (i, c) in clients.into_iter().enumerate() {
        let t = c.join().unwrap();
        eprintln!(
            "client {i} ({}): {} ok, {} retried, {} failed",
            if i < 2 {
                "keep-alive"
            } else {
                "new connections"
            },
            t.ok,
            t.retried,
            t.failures.len()
        );
        total.ok += t.ok;
        total.retried += t.retried;
        total.failures.extend(t.failures);
    }
    eprintln!(
        "{RELOADS} reloads: {} responses complete, {} keep-alive retries, {} failures",
        total.ok,
        total.retried,
        total.failures.len()
    );
    assert!(
        total.failures.is_empty(),
        "{:?}",
        &total.failures[..total.failures.len().min(10)]
    );
    assert!(
        total.ok > 200,
        "too few requests to mean anything: {}",
        total.ok
    );
    // Each reload replaced every worker.
    for pair in generations.windows(2) {
        assert_eq!(pair[1].len(), 2, "{generations:?}");
        assert!(pair[0].is_disjoint(&pair[1]), "{generations:?}");
    }
    assert!(demo.terminate().success());
}

#[test]
fn a_hung_worker_is_killed_after_the_worker_timeout() {
    let mut demo = Demo::production(&[
        "--workers",
        "1",
        "--threads",
        "1",
        "--app",
        "hello",
        "--worker-timeout",
        "1",
    ]);
    let hung = *children_of(demo.pid()).iter().next().unwrap();
    kill(hung, Signal::STOP);
    let stopped_at = Instant::now();
    wait_for(&demo, Duration::from_secs(10), "a replacement", || {
        let now = children_of(demo.pid());
        now.len() == 1 && !now.contains(&hung)
    });
    let took = stopped_at.elapsed();
    // The last beat came up to a quarter of the timeout before the SIGSTOP.
    assert!(took >= Duration::from_millis(700), "killed after {took:?}");
    assert!(
        demo.stderr()
            .contains("worker did not answer the heartbeat in time: killed"),
        "{}",
        demo.stderr()
    );
    hello_ok(&demo);
    assert!(demo.terminate().success());
}

#[test]
fn max_requests_replaces_workers_without_failing_a_request() {
    let mut demo = Demo::production(&[
        "--workers",
        "1",
        "--threads",
        "1",
        "--app",
        "hello",
        "--max-requests",
        "10",
        "--max-requests-jitter",
        "5",
    ]);
    let mut pids = std::collections::HashSet::new();
    for _ in 0..60 {
        hello_ok(&demo);
        pids.extend(children_of(demo.pid()));
    }
    wait_for(&demo, Duration::from_secs(10), "the retirements", || {
        log_count(&demo, "request budget reached") >= 3
    });
    assert!(pids.len() >= 3, "workers seen: {pids:?}\n{}", demo.stderr());
    assert_eq!(log_count(&demo, "worker died unexpectedly"), 0);
    assert!(demo.terminate().success());
}

#[test]
fn sigquit_stops_at_once_and_sigint_gracefully() {
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1"]);
    let workers = children_of(demo.pid());
    demo.signal(Signal::QUIT);
    let exit = demo.wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    assert!(
        demo.stderr()
            .contains("SIGQUIT: immediate stop of 2 worker(s)")
    );
    for pid in workers {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}/comm")).exists() || {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z"))
            }
        );
    }
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1"]);
    demo.signal(Signal::INT);
    let exit = demo.wait_exit(Duration::from_secs(20));
    assert!(exit.success(), "{exit:?}");
    let log = demo.stderr();
    assert!(
        log.contains("signal 2: graceful stop of 2 worker(s)"),
        "{log}"
    );
    assert_eq!(
        log.matches("worker exited (exit status 0)").count(),
        2,
        "{log}"
    );
}

#[test]
fn a_second_sigint_during_the_graceful_stop_stops_at_once() {
    let mut demo = Demo::production(&[
        "--workers",
        "1",
        "--threads",
        "1",
        "--app",
        "stream",
        "--shutdown-timeout",
        "60",
    ]);
    // A response the client never reads keeps the worker draining for a minute.
    let mut stuck = connect(demo.addr()).unwrap();
    stuck
        .write_all(b"GET /?size=268435456 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    assert!(stuck.read(&mut first).unwrap() > 0);
    demo.signal(Signal::INT);
    wait_for_log(
        &demo,
        Duration::from_secs(10),
        "graceful stop of 1 worker(s)",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(demo.is_running(), "the worker drains the stuck response");
    let asked = Instant::now();
    demo.signal(Signal::INT);
    let exit = demo.wait_exit(Duration::from_secs(20));
    let log = demo.stderr();
    assert!(exit.success(), "{exit:?} {log}");
    assert!(asked.elapsed() < Duration::from_secs(5), "{log}");
    assert!(
        log.contains("signal 2 during the graceful stop: immediate stop of 1 worker(s)"),
        "{log}"
    );
}

#[test]
fn ttin_and_ttou_add_and_remove_a_worker() {
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1", "--app", "hello"]);
    demo.signal(Signal::TTIN);
    wait_for(&demo, Duration::from_secs(10), "three workers", || {
        children_of(demo.pid()).len() == 3
    });
    // One at a time: two signals sent together may arrive as one.
    demo.signal(Signal::TTOU);
    wait_for(&demo, Duration::from_secs(20), "two workers", || {
        children_of(demo.pid()).len() == 2
    });
    demo.signal(Signal::TTOU);
    wait_for(&demo, Duration::from_secs(20), "one worker", || {
        children_of(demo.pid()).len() == 1
    });
    hello_ok(&demo);
    assert!(demo.terminate().success());
}

#[test]
fn an_idle_supervisor_and_its_worker_sleep() {
    let mut demo = Demo::production(&["--workers", "1", "--threads", "1", "--app", "hello"]);
    wait_for_log(&demo, Duration::from_secs(20), "every worker serves");
    hello_ok(&demo);
    let worker = *children_of(demo.pid()).iter().next().expect("a worker");
    // The worker's watchdog goes to sleep a tenth of a second after the last request.
    std::thread::sleep(Duration::from_millis(500));
    let switches = || context_switches(demo.pid()).unwrap() + context_switches(worker).unwrap();
    let before = switches();
    std::thread::sleep(Duration::from_secs(2));
    let woken = switches() - before;
    // A supervisor polling every 50 ms and a watchdog every 2 ms made over a thousand; the
    // supervisor's one-second wait and one heartbeat (every 7.5 s) make a few.
    assert!(
        woken < 30,
        "{woken} context switches in 2 s of idle\n{}",
        demo.stderr()
    );
    hello_ok(&demo);
    assert!(demo.terminate().success());
}

/// Reads datagrams from the notify socket until `want` arrived (at most 20 s).
fn expect_notify(sock: &UnixDatagram, seen: &Mutex<Vec<String>>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.lines().any(|l| l == want))
    {
        assert!(
            Instant::now() < deadline,
            "no {want} in {:?}",
            seen.lock().unwrap()
        );
        if let Ok(n) = sock.recv(&mut buf) {
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn systemd_notify_ready_reloading_stopping_and_watchdog() {
    let dir = TempDir::new("ops-notify");
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo"));
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "2",
        "--threads",
        "1",
    ])
    .env("NOTIFY_SOCKET", &path)
    .env("WATCHDOG_USEC", "200000");
    let mut demo = Demo::spawn(cmd);
    let seen = Mutex::new(Vec::new());
    expect_notify(&sock, &seen, "READY=1");
    expect_notify(&sock, &seen, "WATCHDOG=1");
    // The workers do not inherit systemd's variables (they are the supervisor's).
    for pid in children_of(demo.pid()) {
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let env = String::from_utf8_lossy(&env);
        assert!(!env.contains("NOTIFY_SOCKET=") && !env.contains("WATCHDOG_USEC="));
    }
    seen.lock().unwrap().clear();
    demo.signal(Signal::HUP);
    expect_notify(&sock, &seen, "RELOADING=1");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    expect_notify(&sock, &seen, "READY=1");
    demo.signal(Signal::TERM);
    expect_notify(&sock, &seen, "STOPPING=1");
    assert!(demo.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn systemd_socket_activation_with_workers() {
    let activate = "/usr/bin/systemd-socket-activate";
    if !std::path::Path::new(activate).exists() {
        eprintln!("skipped: {activate} is not installed");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(activate);
    cmd.arg(format!("--listen=127.0.0.1:{port}"))
        .arg(env!("CARGO_BIN_EXE_demo"))
        .args(["--workers", "2", "--threads", "1", "--app", "hello"]);
    // systemd-socket-activate starts the program on the first connection.
    let first = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match get_once(addr, "/") {
                Ok(r) => return r,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    let mut demo = Demo::spawn(cmd);
    let r = first.join().unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO));
    assert_eq!(demo.port, port);
    let log = demo.stderr();
    assert!(
        log.contains("supervising workers on 1 inherited socket(s)"),
        "{log}"
    );
    assert_eq!(children_of(demo.pid()).len(), 2);
    hello_ok(&demo);
    assert!(demo.terminate().success());
}

#[test]
fn workers_stop_when_their_supervisor_dies() {
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1", "--app", "hello"]);
    let workers = children_of(demo.pid());
    assert_eq!(workers.len(), 2);
    demo.signal(Signal::KILL);
    demo.wait_exit(Duration::from_secs(10));
    // Their control sockets close: each shuts down gracefully on its own.
    let gone = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !workers.iter().all(gone) {
        assert!(
            Instant::now() < deadline,
            "orphaned workers still run: {workers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_worker_whose_event_loop_is_stuck_misses_its_heartbeat() {
    // One loop and no standby thread: a response the client does not read blocks the
    // handler's write, and nobody can take the loop over. The process still runs (its
    // heartbeat thread too), but the liveness check sees the loop neither waiting nor
    // moving, withholds the beats, and the supervisor replaces the worker.
    let mut demo = Demo::production(&[
        "--workers",
        "1",
        "--threads",
        "1",
        "--max-blocking",
        "0",
        "--app",
        "stream",
        "--worker-timeout",
        "1",
    ]);
    let stuck = *children_of(demo.pid()).iter().next().unwrap();
    let mut s = connect(demo.addr()).unwrap();
    s.write_all(b"GET /?size=268435456 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Never read: the kernel buffers fill and the handler's write blocks.
    wait_for(
        &demo,
        Duration::from_secs(15),
        "the stuck worker's replacement",
        || {
            let now = children_of(demo.pid());
            now.len() == 1 && !now.contains(&stuck)
        },
    );
    wait_for_log(
        &demo,
        Duration::from_secs(5),
        "worker did not answer the heartbeat in time: killed",
    );
    let log = demo.stderr();
    assert!(
        log.contains("liveness check failed: heartbeat withheld"),
        "{log}"
    );
    assert!(
        log.contains("worker did not answer the heartbeat in time: killed"),
        "{log}"
    );
    drop(s);
    // The replacement serves (a chunked response: read to the end).
    let reply = crate::support::raw(
        demo.addr(),
        b"GET /?size=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"), "{reply:?}");
    assert!(demo.terminate().success());
}
