//! An idle event-loop server does not wake up: no thread of the process runs while no
//! client does anything (the watchdog sleeps between busy spells, the serving thread waits
//! for the loops without a polling timeout).
//!
//! A test binary of its own, because it counts the context switches of every thread in the
//! process (`/proc/self/task/*/status`): servers of other tests would be counted too.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::evloop::{EventLoopConfig, EventLoopServer, Frame, Protocol, ServeCx, Served};
use socketserver::testing::{context_switches, frame_line};

/// Answers each `\n`-terminated line with `ok`; `sleep MS` sleeps first without announcing
/// it (only the watchdog can hand the loop off).
struct Answer;

impl Protocol for Answer {
    type Session = ();

    fn frame(&self, _: &mut (), input: &[u8]) -> Frame {
        frame_line(input)
    }

    fn serve(&self, _: &mut (), request: &[u8], out: &mut Vec<u8>, _: &ServeCx<'_>) -> Served {
        if let Some(ms) = request.strip_prefix(b"sleep ") {
            let ms: u64 = std::str::from_utf8(ms).unwrap().trim().parse().unwrap();
            std::thread::sleep(Duration::from_millis(ms));
        }
        out.extend_from_slice(b"ok\n");
        Served::KEEP_ALIVE
    }
}

fn connect(addr: std::net::SocketAddr) -> (BufReader<TcpStream>, TcpStream) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    (BufReader::new(s.try_clone().unwrap()), s)
}

fn ask(c: &mut (BufReader<TcpStream>, TcpStream), line: &str) -> Duration {
    let t = Instant::now();
    c.1.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    c.0.read_line(&mut answer).unwrap();
    assert_eq!(answer, "ok\n");
    t.elapsed()
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_server_sleeps_and_its_watchdog_still_wakes_for_a_blocked_handler() {
    let config = EventLoopConfig {
        threads: 1,
        watchdog: Some(Duration::from_millis(2)),
        ..EventLoopConfig::default()
    };
    let server =
        EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, Arc::new(Answer)).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve());
    let mut blocker = connect(addr);
    let mut other = connect(addr);
    ask(&mut other, "hello");

    // A tenth of a second of quiet puts the watchdog to sleep; then the process is still.
    std::thread::sleep(Duration::from_millis(300));
    let before = context_switches(std::process::id()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let woken = context_switches(std::process::id()).unwrap() - before;
    // This thread's own sleep is one or two; a watchdog waking every 2 ms would be 250.
    assert!(woken < 20, "{woken} context switches in 500 ms of idle");

    // The first handler after the quiet spell blocks without announcing it: the watchdog,
    // woken by its start, hands the loop off and the other connection is served at once.
    blocker.1.write_all(b"sleep 400\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let took = ask(&mut other, "quick");
    assert!(
        took < Duration::from_millis(150),
        "the other connection waited {took:?}"
    );
    let mut answer = String::new();
    blocker.0.read_line(&mut answer).unwrap();
    assert_eq!(answer, "ok\n");

    handle.shutdown_within(Duration::from_secs(1));
    let end = Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() {
        assert!(Instant::now() < end, "serve() did not return in time");
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap().unwrap();
}
