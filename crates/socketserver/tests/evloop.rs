//! Integration tests of `socketserver::evloop` over loopback, with a small line protocol.
//!
//! Every test bounds its time: sockets have read/write timeouts, waits have deadlines, and
//! servers are shut down with a short grace period and joined.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socketserver::evloop::{
    Abort, EventLoopConfig, EventLoopServer, Frame, Listener, Protocol, ServeCx, Served,
    ServerHandle,
};

/// Test bound for any single socket operation.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The test protocol: one request per `\n`-terminated line.
///
/// - `echo X` → `X`
/// - `block MS` → sleeps inside `cx.blocking` → `blocked`
/// - `sleep MS` → sleeps without announcing it → `slept`
/// - `panic` → panics
/// - `close` → `bye`, then the connection closes
/// - `big N` → N bytes of `x`, then `\n`
/// - `expect` → an interim `continue` line, then the request needs a second line (its body)
///   → `got BODY`
///
/// When the server is shutting down, every answer is prefixed with `closing `.
#[derive(Default)]
struct Lines {
    served: AtomicUsize,
    threads: Mutex<Vec<std::thread::ThreadId>>,
}

#[derive(Default)]
struct Session {
    continued: bool,
}

fn line_end(input: &[u8], from: usize) -> Option<usize> {
    input[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i + 1)
}

impl Protocol for Lines {
    type Session = Session;

    fn frame(&self, session: &mut Session, input: &[u8]) -> Frame {
        let Some(end) = line_end(input, 0) else {
            return Frame::Incomplete;
        };
        if &input[..end] == b"expect\n" {
            if !session.continued {
                session.continued = true;
                return Frame::Interim(b"continue\n".to_vec());
            }
            return match line_end(input, end) {
                Some(body_end) => Frame::Complete(body_end),
                None => Frame::Incomplete,
            };
        }
        if input.starts_with(b"bad") {
            return Frame::Reject(b"rejected\n".to_vec());
        }
        Frame::Complete(end)
    }

    fn serve(
        &self,
        session: &mut Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        self.served.fetch_add(1, Ordering::SeqCst);
        let text = std::str::from_utf8(request).unwrap().trim_end();
        let (cmd, arg) = text.split_once([' ', '\n']).unwrap_or((text, ""));
        let ms = || Duration::from_millis(arg.parse().unwrap_or(0));
        let mut keep_alive = true;
        let mut answer = Vec::new();
        match cmd {
            "echo" => answer.extend_from_slice(arg.as_bytes()),
            "times" => {
                // The loop says when the request arrived and when it last read the clock:
                // arrival first, both in the past.
                let h = cx.handler();
                let now = std::time::Instant::now();
                let ok = matches!(
                    (h.received(), h.polled()),
                    (Some(r), Some(p)) if r <= p && p <= now
                );
                answer.extend_from_slice(if ok { b"ok" } else { b"bad" });
            }
            "block" => {
                cx.blocking(|| std::thread::sleep(ms()));
                answer.extend_from_slice(b"blocked");
            }
            "sleep" => {
                std::thread::sleep(ms());
                answer.extend_from_slice(b"slept");
            }
            "panic" => panic!("test handler panics"),
            "close" => {
                answer.extend_from_slice(b"bye");
                keep_alive = false;
            }
            "big" => answer.resize(answer.len() + arg.parse::<usize>().unwrap(), b'x'),
            "expect" => {
                session.continued = false;
                answer.extend_from_slice(b"got ");
                answer.extend_from_slice(text.split('\n').nth(1).unwrap_or("").as_bytes());
            }
            "thread" => {
                self.threads
                    .lock()
                    .unwrap()
                    .push(std::thread::current().id());
                answer.extend_from_slice(b"ok");
            }
            other => answer.extend_from_slice(format!("unknown {other}").as_bytes()),
        }
        // Asked after the work, as an HTTP handler asks when it writes its head.
        if cx.is_closing() {
            out.extend_from_slice(b"closing ");
        }
        out.extend_from_slice(&answer);
        out.push(b'\n');
        Served { keep_alive }
    }

    fn abort(&self, _session: &mut Session, _input: &[u8], why: Abort) -> Vec<u8> {
        match why {
            Abort::RequestTimeout => b"timeout\n".to_vec(),
            Abort::TooLarge => b"toolarge\n".to_vec(),
            _ => b"aborted\n".to_vec(),
        }
    }
}

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    lines: Arc<Lines>,
    thread: Option<JoinHandle<socketserver::Result<()>>>,
}

impl Running {
    fn stop(mut self) {
        self.handle.shutdown_within(Duration::from_secs(2));
        let t = self.thread.take().unwrap();
        join_within(t, Duration::from_secs(10)).unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.shutdown_within(Duration::from_millis(100));
            let _ = join_within(t, Duration::from_secs(10));
        }
    }
}

fn join_within<T>(
    t: JoinHandle<socketserver::Result<T>>,
    limit: Duration,
) -> socketserver::Result<T> {
    let end = Instant::now() + limit;
    while !t.is_finished() {
        assert!(Instant::now() < end, "serve() did not return in time");
        std::thread::sleep(Duration::from_millis(5));
    }
    t.join().expect("serve() panicked")
}

fn config(threads: usize) -> EventLoopConfig {
    EventLoopConfig {
        threads,
        ..EventLoopConfig::default()
    }
}

fn start(config: EventLoopConfig) -> Running {
    let lines = Arc::new(Lines::default());
    let server =
        EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, lines.clone()).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let thread = Some(std::thread::spawn(move || server.serve()));
    Running {
        addr,
        handle,
        lines,
        thread,
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l
    }

    fn ask(&mut self, request: &str) -> String {
        self.send(format!("{request}\n").as_bytes());
        self.line()
    }

    /// True when the server closed the connection (EOF or reset) before `limit`.
    fn closed_within(&mut self, limit: Duration) -> bool {
        self.writer.set_read_timeout(Some(limit)).unwrap();
        let mut b = [0u8; 64];
        match self.reader.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn keep_alive_answers_many_requests_in_order() {
    let srv = start(config(2));
    let mut c = Client::connect(srv.addr);
    for i in 0..200 {
        assert_eq!(c.ask(&format!("echo {i}")), format!("{i}\n"));
    }
    assert_eq!(srv.lines.served.load(Ordering::SeqCst), 200);
    srv.stop();
}

#[test]
fn pipelined_requests_are_answered_in_order_and_leftovers_kept() {
    let srv = start(config(2));
    let mut c = Client::connect(srv.addr);
    let mut burst = String::new();
    for i in 0..500 {
        burst.push_str(&format!("echo {i}\n"));
    }
    c.send(burst.as_bytes());
    for i in 0..500 {
        assert_eq!(c.line(), format!("{i}\n"));
    }
    // A request split across writes: the partial tail waits for the rest.
    c.send(b"echo a\necho b\nech");
    assert_eq!(c.line(), "a\n");
    assert_eq!(c.line(), "b\n");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"o c\n");
    assert_eq!(c.line(), "c\n");
    srv.stop();
}

#[test]
fn trickling_client_times_out_on_the_whole_request_deadline_while_others_are_served() {
    let srv = start(EventLoopConfig {
        request_timeout: Duration::from_millis(1000),
        ..config(1)
    });
    let mut slow = Client::connect(srv.addr);
    let mut fast = Client::connect(srv.addr);
    let started = Instant::now();
    let mut sent = 0;
    let mut answer = String::new();
    // One byte every 300 ms: a per-read timeout of 1 s would never fire.
    for b in b"echo a very slow request\n" {
        if slow.writer.write_all(&[*b]).is_err() {
            break;
        }
        sent += 1;
        let t = Instant::now();
        assert_eq!(fast.ask("echo quick"), "quick\n");
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "others are served meanwhile"
        );
        slow.writer
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match slow.reader.read_line(&mut answer) {
            Ok(_) if !answer.is_empty() => break,
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never timed out"
        );
    }
    let elapsed = started.elapsed();
    assert_eq!(answer, "timeout\n", "the protocol's abort answer is sent");
    assert!(slow.closed_within(Duration::from_secs(2)));
    assert!(sent < 10, "timed out after {sent} bytes");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "timed out after {elapsed:?}"
    );
    srv.stop();
}

/// Starts a 300 ms handler on one connection, then times a request on another.
fn blocked_handler_does_not_delay_others(config: EventLoopConfig, request: &str, answer: &str) {
    let srv = start(config);
    let mut blocker = Client::connect(srv.addr);
    let mut other = Client::connect(srv.addr);
    assert_eq!(other.ask("echo warm"), "warm\n");
    blocker.send(format!("{request}\n").as_bytes());
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(other.ask("echo x"), "x\n");
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "other connection waited {took:?}"
        );
    }
    // A new connection is accepted and served meanwhile too.
    let t = Instant::now();
    assert_eq!(Client::connect(srv.addr).ask("echo new"), "new\n");
    assert!(t.elapsed() < Duration::from_millis(100));
    assert_eq!(blocker.line(), answer);
    // The handed-back connection keeps working.
    assert_eq!(blocker.ask("echo after"), "after\n");
    srv.stop();
}

#[test]
fn announced_blocking_hands_the_loop_off() {
    // One loop, no watchdog: only the `blocking()` announcement can free the loop.
    blocked_handler_does_not_delay_others(
        EventLoopConfig {
            watchdog: None,
            ..config(1)
        },
        "block 300",
        "blocked\n",
    );
}

#[test]
fn watchdog_hands_off_a_loop_blocked_unannounced() {
    blocked_handler_does_not_delay_others(
        EventLoopConfig {
            watchdog: Some(Duration::from_millis(2)),
            ..config(1)
        },
        "sleep 300",
        "slept\n",
    );
}

#[test]
fn without_hand_off_a_blocked_handler_stalls_its_loop() {
    // The control experiment for the two tests above (model B).
    let srv = start(EventLoopConfig {
        watchdog: None,
        ..config(1)
    });
    let mut blocker = Client::connect(srv.addr);
    let mut other = Client::connect(srv.addr);
    assert_eq!(other.ask("echo warm"), "warm\n");
    blocker.send(b"sleep 300\n");
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    assert_eq!(other.ask("echo x"), "x\n");
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(blocker.line(), "slept\n");
    srv.stop();
}

#[allow(unsafe_code)]
fn raise_nofile_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur < want {
        lim.rlim_cur = lim.rlim_max.min(want);
        // SAFETY: setrlimit only reads the struct; raising the soft limit up to the hard one
        // cannot hurt other threads of this process.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
}

#[test]
fn answers_held_for_the_end_of_a_batch_all_reach_their_clients() {
    // One loop, 100 clients asking at once: the answers of a batch are held back and sent
    // together (at most 32 at a time), round after round.
    let srv = start(config(1));
    let mut clients: Vec<Client> = (0..100).map(|_| Client::connect(srv.addr)).collect();
    for round in 0..20 {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(format!("echo {round}.{i}\n").as_bytes());
        }
        for (i, c) in clients.iter_mut().enumerate() {
            assert_eq!(c.line(), format!("{round}.{i}\n"));
        }
    }
    assert_eq!(srv.lines.served.load(Ordering::SeqCst), 2_000);
    srv.stop();
}

#[test]
fn thousands_of_idle_connections_stay_open_and_served() {
    const N: usize = 2_000;
    raise_nofile_limit(2 * N as u64 + 1_000);
    let srv = start(config(2));
    let mut clients: Vec<Client> = (0..N).map(|_| Client::connect(srv.addr)).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.handle.connections() < N {
        assert!(
            Instant::now() < deadline,
            "only {} accepted",
            srv.handle.connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Idle: a fresh connection is answered at once.
    let t = Instant::now();
    assert_eq!(Client::connect(srv.addr).ask("echo fresh"), "fresh\n");
    assert!(t.elapsed() < Duration::from_millis(100));
    // Every idle connection is still open and served.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("echo {i}\n").as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.line(), format!("{i}\n"));
    }
    assert!(srv.handle.connections() >= N);
    srv.stop();
}

#[test]
fn graceful_shutdown_under_load_loses_no_started_request() {
    let srv = start(EventLoopConfig {
        watchdog: Some(Duration::from_millis(2)),
        ..config(2)
    });
    let addr = srv.addr;
    let answered = Arc::new(AtomicUsize::new(0));
    let closing_seen = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let answered = answered.clone();
            let closing_seen = closing_seen.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let request = match i % 3 {
                    0 => "block 30\n",
                    1 => "sleep 5\n",
                    _ => "echo x\n",
                };
                for _ in 0..10_000 {
                    if c.writer.write_all(request.as_bytes()).is_err() {
                        return;
                    }
                    let mut l = String::new();
                    match c.reader.read_line(&mut l) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            assert!(l.ends_with('\n'), "partial response {l:?}");
                            answered.fetch_add(1, Ordering::SeqCst);
                            if l.starts_with("closing ") {
                                closing_seen.fetch_add(1, Ordering::SeqCst);
                                // The server closes after a closing answer.
                                assert!(c.closed_within(Duration::from_secs(5)));
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let lines = srv.lines.clone();
    let t = Instant::now();
    srv.stop();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t.elapsed()
    );
    for c in clients {
        c.join().unwrap();
    }
    let served = lines.served.load(Ordering::SeqCst);
    assert!(served > 50, "load was too light: {served}");
    assert_eq!(
        answered.load(Ordering::SeqCst),
        served,
        "every request the server started was answered completely"
    );
    assert!(
        closing_seen.load(Ordering::SeqCst) > 0,
        "in-flight requests were told to close"
    );
    // Not accepting any more.
    assert!(
        TcpStream::connect(addr).is_err() || {
            let mut c = Client::connect(addr);
            c.send(b"echo late\n");
            c.closed_within(Duration::from_secs(1))
        }
    );
}

#[test]
fn shutdown_finishes_in_flight_requests_told_to_close_and_closes_idle_ones() {
    let srv = start(EventLoopConfig {
        watchdog: None,
        ..config(1)
    });
    let mut busy = Client::connect(srv.addr);
    let mut idle = Client::connect(srv.addr);
    assert_eq!(idle.ask("echo hi"), "hi\n");
    busy.send(b"block 300\n");
    std::thread::sleep(Duration::from_millis(100));
    let handle = srv.handle.clone();
    let t = Instant::now();
    handle.shutdown_within(Duration::from_secs(5));
    assert!(handle.is_shutting_down());
    assert!(
        idle.closed_within(Duration::from_millis(200)),
        "idle connections close at once"
    );
    assert_eq!(
        busy.line(),
        "closing blocked\n",
        "the in-flight request finishes, told to close"
    );
    assert!(busy.closed_within(Duration::from_secs(1)));
    srv.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "serve() returned after {:?}",
        t.elapsed()
    );
}

#[test]
fn shutdown_waits_a_moment_for_the_first_request_of_a_fresh_connection() {
    let srv = start(EventLoopConfig {
        watchdog: None,
        ..config(1)
    });
    // Accepted, no request yet: a client whose request is on the way when the shutdown
    // begins (a worker retiring under load sees this all the time).
    let mut fresh = Client::connect(srv.addr);
    let mut silent = Client::connect(srv.addr);
    std::thread::sleep(Duration::from_millis(50));
    let handle = srv.handle.clone();
    let t = Instant::now();
    handle.shutdown_within(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(fresh.ask("echo late"), "closing late\n");
    assert!(fresh.closed_within(Duration::from_secs(1)));
    assert!(
        silent.closed_within(Duration::from_secs(3)),
        "a connection that sends nothing is closed after the grace"
    );
    srv.stop();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "serve() returned after {:?}",
        t.elapsed()
    );
}

#[test]
fn shutdown_forces_stuck_connections_after_the_grace_period() {
    let srv = start(config(1));
    let mut partial = Client::connect(srv.addr);
    partial.send(b"echo never finished");
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    srv.handle.shutdown_within(Duration::from_millis(300));
    assert_eq!(
        partial.line(),
        "aborted\n",
        "the protocol's last words at the deadline"
    );
    assert!(partial.closed_within(Duration::from_secs(1)));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    srv.stop();
}

#[test]
fn a_panicking_handler_costs_one_connection() {
    let srv = start(config(1));
    let mut victim = Client::connect(srv.addr);
    let mut other = Client::connect(srv.addr);
    victim.send(b"echo before\npanic\necho never\n");
    assert_eq!(
        victim.line(),
        "before\n",
        "responses before the panic are sent"
    );
    assert!(victim.closed_within(Duration::from_secs(5)));
    assert_eq!(other.ask("echo alive"), "alive\n");
    assert_eq!(Client::connect(srv.addr).ask("echo new"), "new\n");
    srv.stop();
}

#[test]
fn max_connections_pauses_accept_until_one_closes() {
    let srv = start(EventLoopConfig {
        max_connections: 2,
        ..config(2)
    });
    let mut a = Client::connect(srv.addr);
    let mut b = Client::connect(srv.addr);
    assert_eq!(a.ask("echo a"), "a\n");
    assert_eq!(b.ask("echo b"), "b\n");
    // The third connection waits in the kernel backlog, unanswered.
    let mut c = Client::connect(srv.addr);
    c.send(b"echo c\n");
    c.writer
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut l = String::new();
    let err = c.reader.read_line(&mut l).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(srv.handle.connections(), 2);
    // One closes: accept resumes and the waiting request is answered.
    assert_eq!(a.ask("close"), "bye\n");
    drop(a);
    c.writer.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let t = Instant::now();
    assert_eq!(c.line(), "c\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(b.ask("echo still"), "still\n");
    srv.stop();
}

#[test]
fn request_over_the_size_cap_is_aborted() {
    let srv = start(EventLoopConfig {
        max_request_bytes: 1024,
        ..config(1)
    });
    let mut c = Client::connect(srv.addr);
    c.send(&[b'y'; 4096]);
    assert_eq!(c.line(), "toolarge\n");
    assert!(c.closed_within(Duration::from_secs(5)));
    srv.stop();
}

#[test]
fn idle_keep_alive_connections_time_out() {
    let srv = start(EventLoopConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..config(1)
    });
    let mut c = Client::connect(srv.addr);
    assert_eq!(c.ask("echo once"), "once\n");
    let t = Instant::now();
    assert!(c.closed_within(Duration::from_secs(5)));
    let idle = t.elapsed();
    assert!(
        idle >= Duration::from_millis(250) && idle < Duration::from_secs(2),
        "{idle:?}"
    );
    srv.stop();
}

#[test]
fn interim_answers_and_rejects() {
    let srv = start(config(1));
    let mut c = Client::connect(srv.addr);
    c.send(b"expect\n");
    assert_eq!(c.line(), "continue\n");
    c.send(b"the body\n");
    assert_eq!(c.line(), "got the body\n");
    // Body already there: the interim line still comes first, once.
    c.send(b"expect\nquick body\necho next\n");
    assert_eq!(c.line(), "continue\n");
    assert_eq!(c.line(), "got quick body\n");
    assert_eq!(c.line(), "next\n");
    c.send(b"bad request\n");
    assert_eq!(c.line(), "rejected\n");
    assert!(c.closed_within(Duration::from_secs(5)));
    srv.stop();
}

#[test]
fn backpressure_holds_a_large_response_without_stalling_the_loop() {
    let srv = start(EventLoopConfig {
        write_timeout: Duration::from_secs(5),
        ..config(1)
    });
    const BIG: usize = 16 << 20;
    let mut slow = Client::connect(srv.addr);
    let mut other = Client::connect(srv.addr);
    slow.send(format!("big {BIG}\necho tail\n").as_bytes());
    // The client reads nothing for a while: the loop keeps serving others.
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    assert_eq!(other.ask("echo meanwhile"), "meanwhile\n");
    assert!(t.elapsed() < Duration::from_millis(100));
    let mut body = vec![0u8; BIG + 1];
    slow.reader.read_exact(&mut body).unwrap();
    assert!(body[..BIG].iter().all(|&b| b == b'x'));
    assert_eq!(body[BIG], b'\n');
    assert_eq!(
        slow.line(),
        "tail\n",
        "the pipelined request after it is served"
    );
    srv.stop();
}

#[test]
fn write_timeout_closes_a_client_that_never_reads() {
    let srv = start(EventLoopConfig {
        write_timeout: Duration::from_millis(300),
        ..config(1)
    });
    let c = Client::connect(srv.addr);
    let mut w = c.writer.try_clone().unwrap();
    w.write_all(b"big 67108864\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Wait until the server took the connection, then until it dropped it.
    std::thread::sleep(Duration::from_millis(100));
    while srv.handle.connections() > 0 {
        assert!(Instant::now() < deadline, "stuck writer never timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(Client::connect(srv.addr).ask("echo ok"), "ok\n");
    srv.stop();
}

#[test]
fn stress_random_blocking_keeps_every_connection_in_order() {
    let srv = start(EventLoopConfig {
        max_blocking: 4,
        watchdog: Some(Duration::from_millis(1)),
        ..config(2)
    });
    let addr = srv.addr;
    let clients: Vec<_> = (0..24u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut next = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                for round in 0..40 {
                    let batch = 1 + next() % 4;
                    let mut expect = Vec::new();
                    let mut req = String::new();
                    for k in 0..batch {
                        match next() % 6 {
                            0 => {
                                req.push_str(&format!("block {}\n", next() % 3));
                                expect.push("blocked\n".to_owned());
                            }
                            1 => {
                                req.push_str(&format!("sleep {}\n", next() % 3));
                                expect.push("slept\n".to_owned());
                            }
                            _ => {
                                req.push_str(&format!("echo {i}-{round}-{k}\n"));
                                expect.push(format!("{i}-{round}-{k}\n"));
                            }
                        }
                    }
                    c.send(req.as_bytes());
                    for e in expect {
                        assert_eq!(c.line(), e);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    srv.stop();
}

#[test]
fn handed_off_loops_run_on_standby_threads() {
    let srv = start(EventLoopConfig {
        watchdog: None,
        ..config(1)
    });
    let mut a = Client::connect(srv.addr);
    let mut b = Client::connect(srv.addr);
    assert_eq!(a.ask("thread"), "ok\n");
    assert_eq!(srv.handle.handoffs(), 0);
    a.send(b"block 200\n");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(b.ask("thread"), "ok\n");
    assert_eq!(a.line(), "blocked\n");
    let threads = srv.lines.threads.lock().unwrap().clone();
    assert_ne!(
        threads[0], threads[1],
        "a standby thread drove the loop meanwhile"
    );
    assert_eq!(srv.handle.handoffs(), 1, "counted");
    srv.stop();
}

#[test]
fn idle_connections_are_counted() {
    let srv = start(EventLoopConfig {
        watchdog: None,
        ..config(1)
    });
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(srv.addr)).collect();
    for c in &mut clients {
        assert_eq!(c.ask("echo x"), "x\n");
    }
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.handle.idle_connections() != n {
            assert!(
                Instant::now() < deadline,
                "idle {} != {n}",
                srv.handle.idle_connections()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(3);
    assert_eq!(srv.handle.connections(), 3);
    // A partial request is not idle.
    clients[0].send(b"echo y");
    wait_for(2);
    clients[0].send(b"\n");
    assert_eq!(clients[0].line(), "y\n");
    wait_for(3);
    drop(clients.pop());
    wait_for(2);
    srv.stop();
}

/// `defer_accept`: a client that has said nothing is not a connection yet, one that has
/// sent its request is served at once (Linux; elsewhere the option does nothing).
#[cfg(target_os = "linux")]
#[test]
fn defer_accept_leaves_silent_clients_in_the_kernel() {
    let srv = start(EventLoopConfig {
        defer_accept: Some(Duration::from_secs(5)),
        ..config(1)
    });
    let _silent = Client::connect(srv.addr);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.handle.connections(), 0, "a silent client was accepted");
    let mut talker = Client::connect(srv.addr);
    assert_eq!(talker.ask("echo x"), "x\n");
    assert_eq!(srv.handle.connections(), 1);
    srv.stop();
}

#[test]
fn loop_progress_tells_an_idle_loop_from_a_stuck_one() {
    // No standby thread and no watchdog: a blocking handler holds its loop.
    let srv = start(EventLoopConfig {
        watchdog: None,
        max_blocking: 0,
        ..config(1)
    });
    let mut a = Client::connect(srv.addr);
    assert_eq!(a.ask("echo x"), "x\n");
    std::thread::sleep(Duration::from_millis(50));
    let idle = srv.handle.loop_progress();
    assert_eq!(idle.len(), 1);
    assert!(idle[0].1, "an idle loop waits in poll: {idle:?}");
    a.send(b"block 400\n");
    std::thread::sleep(Duration::from_millis(100));
    let stuck = srv.handle.loop_progress();
    std::thread::sleep(Duration::from_millis(100));
    let still = srv.handle.loop_progress();
    assert!(!stuck[0].1 && stuck == still, "{stuck:?} {still:?}");
    assert_eq!(a.line(), "blocked\n");
    std::thread::sleep(Duration::from_millis(50));
    let after = srv.handle.loop_progress();
    assert!(
        after[0].0 > still[0].0,
        "progress again: {still:?} {after:?}"
    );
    srv.stop();
}

#[test]
fn handlers_learn_arrival_and_poll_times() {
    let srv = start(config(1));
    let mut c = Client::connect(srv.addr);
    for _ in 0..3 {
        assert_eq!(c.ask("times"), "ok\n");
    }
}

#[test]
fn serves_a_unix_domain_socket() {
    let dir = std::env::temp_dir().join(format!("evloop-test-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("sock");
    let _ = std::fs::remove_file(&path);
    let lines = Arc::new(Lines::default());
    let server = EventLoopServer::bind_unix(&path, config(1), lines).unwrap();
    assert_eq!(
        server.local_addr(),
        &socketserver::Address::Unix(Some(path.clone()))
    );
    let handle = server.handle();
    let t = std::thread::spawn(move || server.serve());
    let s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    (&s).write_all(b"echo unix\n").unwrap();
    let mut l = String::new();
    BufReader::new(&s).read_line(&mut l).unwrap();
    assert_eq!(l, "unix\n");
    handle.shutdown_within(Duration::from_secs(1));
    join_within(t, Duration::from_secs(10)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn from_listener_serves_an_inherited_socket() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let lines = Arc::new(Lines::default());
    let server = EventLoopServer::from_listener(l, config(2), lines).unwrap();
    assert_eq!(server.local_addr().inet(), Some(addr));
    assert!(server.info().multithread);
    let handle = server.handle();
    let t = std::thread::spawn(move || server.serve());
    for i in 0..20 {
        assert_eq!(
            Client::connect(addr).ask(&format!("echo {i}")),
            format!("{i}\n")
        );
    }
    handle.shutdown_within(Duration::from_secs(1));
    join_within(t, Duration::from_secs(10)).unwrap();
}

#[test]
fn a_port_in_use_is_refused_unless_shared() {
    let first = start(config(2));
    for reuse_port in [true, false] {
        let cfg = EventLoopConfig {
            reuse_port,
            ..config(2)
        };
        let err = match EventLoopServer::bind(first.addr, cfg, Arc::new(Lines::default())) {
            Ok(_) => panic!(
                "a second server bound {} (reuse_port {reuse_port})",
                first.addr
            ),
            Err(e) => e,
        };
        match err {
            socketserver::Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
            e => panic!("not EADDRINUSE: {e}"),
        }
    }
    // The first server still answers.
    assert_eq!(Client::connect(first.addr).ask("echo 1"), "1\n");
    first.stop();
}

#[test]
fn two_servers_share_a_port_with_share_port() {
    let first = start(config(1));
    let lines = Arc::new(Lines::default());
    let cfg = EventLoopConfig {
        share_port: true,
        ..config(1)
    };
    let second = EventLoopServer::bind(first.addr, cfg, lines).unwrap();
    assert_eq!(second.local_addr().inet(), Some(first.addr));
    let handle = second.handle();
    let t = std::thread::spawn(move || second.serve());
    for i in 0..20 {
        assert_eq!(
            Client::connect(first.addr).ask(&format!("echo {i}")),
            format!("{i}\n")
        );
    }
    handle.shutdown_within(Duration::from_secs(1));
    join_within(t, Duration::from_secs(10)).unwrap();
    first.stop();
}

/// Runs this test binary again with only `test` selected and `EVLOOP_CHILD=role`; the child
/// must pass exactly that one test.
fn run_child(test: &str, role: &str) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env("EVLOOP_CHILD", role)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child test {test} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{stderr}"
    );
}

fn child_role() -> Option<String> {
    std::env::var("EVLOOP_CHILD").ok()
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[allow(unsafe_code)]
fn set_nofile_soft_limit(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = n;
    // SAFETY: setrlimit only reads the struct. This runs in a child process of its own, so
    // the process-wide limit affects no other test.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

#[test]
fn accept_survives_emfile_in_a_child_process() {
    if child_role().as_deref() != Some("emfile") {
        run_child("accept_survives_emfile_in_a_child_process", "emfile");
        return;
    }
    tracing::subscriber::set_global_default(CountWarnings).unwrap();
    let srv = start(EventLoopConfig {
        accept_backoff: Duration::from_millis(5),
        ..config(1)
    });
    let mut old = Client::connect(srv.addr);
    assert_eq!(old.ask("echo before"), "before\n");
    set_nofile_soft_limit(open_fds() + 40);
    // Fill the descriptor table, then free exactly one: the next client's socket takes it,
    // so the server's accept of that connection fails with EMFILE.
    let mut filler = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
        assert!(filler.len() < 1_000);
    }
    filler.pop();
    let waiting = TcpStream::connect(srv.addr).unwrap();
    waiting.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert_eq!(
        std::fs::File::open("/dev/null").unwrap_err().raw_os_error(),
        Some(libc::EMFILE),
        "the descriptor table is full"
    );
    (&waiting).write_all(b"echo survived\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        srv.handle.connections(),
        1,
        "the new connection cannot be accepted yet"
    );
    // The loop keeps serving while its accepts fail and back off, and says so once (not
    // once per failed accept: about 20 here).
    assert_eq!(old.ask("echo still serving"), "still serving\n");
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 1);
    // Free descriptors: the server accepts the waiting client and serves it.
    drop(filler);
    let t = Instant::now();
    let mut answer = String::new();
    BufReader::new(&waiting).read_line(&mut answer).unwrap();
    assert_eq!(answer, "survived\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(Client::connect(srv.addr).ask("echo fresh"), "fresh\n");
    srv.stop();
}

/// Warnings logged in this process (the EMFILE child installs [`CountWarnings`]).
static WARNINGS: AtomicUsize = AtomicUsize::new(0);

/// A `tracing` subscriber that counts warnings and ignores the rest.
struct CountWarnings;

impl tracing::Subscriber for CountWarnings {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        *m.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if *e.metadata().level() == tracing::Level::WARN {
            WARNINGS.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[allow(unsafe_code)]
fn install_as_fd3(l: std::net::TcpListener) {
    use std::os::fd::IntoRawFd;
    let fd = l.into_raw_fd();
    if fd != 3 {
        // SAFETY: dup2 onto fd 3 in this child process, which runs only this test; whatever
        // fd 3 was is not used by it. Then the original descriptor, which we own (it came
        // from `into_raw_fd`), is closed.
        unsafe {
            assert_eq!(libc::dup2(fd, 3), 3);
            libc::close(fd);
        }
    }
    // SAFETY: set_var in a child process that runs a single test; no other thread of it reads
    // the environment concurrently.
    unsafe {
        std::env::set_var("LISTEN_PID", std::process::id().to_string());
        std::env::set_var("LISTEN_FDS", "1");
    }
}

#[test]
fn listen_fds_takes_a_socket_passed_as_fd_3_in_a_child_process() {
    if child_role().as_deref() != Some("listen_fds") {
        run_child(
            "listen_fds_takes_a_socket_passed_as_fd_3_in_a_child_process",
            "listen_fds",
        );
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    install_as_fd3(l);
    let inherited = socketserver::evloop::listen_fds().unwrap();
    assert_eq!(inherited.len(), 1);
    assert!(matches!(&inherited[0], Listener::Tcp(_)));
    assert_eq!(inherited[0].local_addr().unwrap().inet(), Some(addr));
    assert!(
        socketserver::evloop::listen_fds().unwrap().is_empty(),
        "owned once"
    );
    let server =
        EventLoopServer::from_listeners(inherited, config(1), Arc::new(Lines::default())).unwrap();
    let handle = server.handle();
    let t = std::thread::spawn(move || server.serve());
    assert_eq!(Client::connect(addr).ask("echo systemd"), "systemd\n");
    handle.shutdown_within(Duration::from_secs(1));
    join_within(t, Duration::from_secs(10)).unwrap();
}

/// A protocol that streams: `wait` sends `first` through the sink, then waits (up to 10 s)
/// for the client to say it got it before answering `second`; `big N` sends N bytes
/// through the sink, notes when the send returned, and answers `sent`; `endless` sends
/// `tick` lines until a send fails; every request notes what its send returned.
#[derive(Default)]
struct Streamer {
    /// Set by the test when its client received `first`.
    confirmed: std::sync::atomic::AtomicBool,
    /// What each send returned (`Ok` or the error kind).
    sends: Mutex<Vec<Result<(), io::ErrorKind>>>,
    /// When the last send returned.
    sent_at: Mutex<Option<Instant>>,
}

impl Protocol for Streamer {
    type Session = ();

    fn frame(&self, _: &mut (), input: &[u8]) -> Frame {
        match line_end(input, 0) {
            Some(end) => Frame::Complete(end),
            None => Frame::Incomplete,
        }
    }

    fn serve(&self, _: &mut (), request: &[u8], out: &mut Vec<u8>, cx: &ServeCx<'_>) -> Served {
        let text = std::str::from_utf8(request).unwrap().trim_end();
        let sink = cx.handler().sink().expect("the event loops lend a sink");
        let (cmd, arg) = text.split_once(' ').unwrap_or((text, ""));
        match cmd {
            "wait" => {
                out.extend_from_slice(b"first\n");
                let sent = sink.send(out);
                assert!(out.is_empty(), "a send empties the buffer");
                self.sends.lock().unwrap().push(sent.map_err(|e| e.kind()));
                let end = Instant::now() + Duration::from_secs(10);
                while !self.confirmed.load(Ordering::SeqCst) && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let confirmed = self.confirmed.load(Ordering::SeqCst);
                out.extend_from_slice(if confirmed {
                    b"second\n"
                } else {
                    b"unconfirmed\n"
                });
            }
            "big" => {
                out.resize(arg.parse().unwrap(), b'x');
                let sent = sink.send(out);
                *self.sent_at.lock().unwrap() = Some(Instant::now());
                let ok = sent.is_ok();
                self.sends.lock().unwrap().push(sent.map_err(|e| e.kind()));
                if !ok {
                    out.extend_from_slice(b"after a failed send\n");
                    return Served::KEEP_ALIVE;
                }
                out.extend_from_slice(b"sent\n");
            }
            "file" => {
                // `arg` bytes of a file, after a line already in the buffer.
                let n: u64 = arg.parse().unwrap();
                let mut file = tempfile_of(n);
                out.extend_from_slice(b"file follows\n");
                let sent = sink.send_file(out, &file, 0, n);
                assert!(out.is_empty(), "send_file sends the buffer first");
                let ok = sent.as_ref().is_ok_and(|&k| k == n);
                self.sends
                    .lock()
                    .unwrap()
                    .push(sent.map(drop).map_err(|e| e.kind()));
                // The file's own position is left alone.
                assert_eq!(std::io::Seek::stream_position(&mut file).unwrap(), 0);
                out.extend_from_slice(if ok { b"\nsent\n" } else { b"\nshort\n" });
            }
            "endless" => loop {
                out.extend_from_slice(b"tick\n");
                if let Err(e) = sink.send(out) {
                    self.sends.lock().unwrap().push(Err(e.kind()));
                    return Served::CLOSE;
                }
                std::thread::sleep(Duration::from_millis(10));
            },
            _ => out.extend_from_slice(format!("{text}\n").as_bytes()),
        }
        Served::KEEP_ALIVE
    }
}

/// A client with a 4 KiB receive window: a large response soon fills the server's socket.
fn slow_client(addr: SocketAddr) -> Client {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    Client {
        reader: BufReader::new(s.try_clone().unwrap()),
        writer: s,
    }
}

/// An unlinked temporary file of `n` bytes, each its offset modulo 251.
fn tempfile_of(n: u64) -> std::fs::File {
    use std::io::Write as _;
    let path = std::env::temp_dir().join(format!(
        "evloop-send-file-{}-{n}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    f.write_all(&data).unwrap();
    std::io::Seek::rewind(&mut f).unwrap();
    f
}

#[test]
fn a_sink_sends_a_file_to_a_slow_reader_then_the_connection_goes_on() {
    let (addr, handle, streamer, thread) = start_streamer(config(1));
    let mut c = slow_client(addr);
    // More than the socket buffers hold: sendfile(2) meets a full socket and waits.
    const BIG: u64 = 12 << 20;
    c.send(format!("file {BIG}\n").as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.line(), "file follows\n");
    let mut body = vec![0u8; BIG as usize];
    c.reader.read_exact(&mut body).unwrap();
    assert!(body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(c.line(), "\n");
    assert_eq!(c.line(), "sent\n");
    assert_eq!(c.ask("after"), "after\n");
    assert_eq!(*streamer.sends.lock().unwrap(), [Ok(())]);
    handle.shutdown_within(Duration::from_secs(2));
    join_within(thread, Duration::from_secs(10)).unwrap();
}

fn start_streamer(
    config: EventLoopConfig,
) -> (
    SocketAddr,
    ServerHandle,
    Arc<Streamer>,
    JoinHandle<socketserver::Result<()>>,
) {
    let streamer = Arc::new(Streamer::default());
    let server =
        EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, streamer.clone()).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    (
        addr,
        handle,
        streamer,
        std::thread::spawn(move || server.serve()),
    )
}

#[test]
fn a_sink_sends_before_serve_returns_and_the_loop_goes_on() {
    let (addr, handle, streamer, thread) = start_streamer(config(1));
    let mut c = Client::connect(addr);
    c.send(b"wait\n");
    // `serve` returns only once this line was read here: it left through the sink.
    assert_eq!(c.line(), "first\n");
    // Meanwhile the (only) loop serves another connection: the send handed it off.
    let mut other = Client::connect(addr);
    assert_eq!(other.ask("hello"), "hello\n");
    streamer.confirmed.store(true, Ordering::SeqCst);
    assert_eq!(c.line(), "second\n");
    // The same connection goes on.
    assert_eq!(c.ask("again"), "again\n");
    assert_eq!(*streamer.sends.lock().unwrap(), [Ok(())]);
    handle.shutdown_within(Duration::from_secs(2));
    join_within(thread, Duration::from_secs(10)).unwrap();
}

#[test]
fn a_sink_waits_for_a_slow_reader() {
    let (addr, handle, streamer, thread) = start_streamer(config(1));
    // A small receive window, and nothing read for a while: the send meets a full socket
    // and waits for room.
    let mut c = slow_client(addr);
    // More than the socket buffers on both sides hold (the server's send buffer grows to
    // 4 MiB at most by default): the send returns only once this client reads.
    const BIG: usize = 16 << 20;
    c.send(format!("big {BIG}\n").as_bytes());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        streamer.sent_at.lock().unwrap().is_none(),
        "the send did not wait for the reader"
    );
    let reading = Instant::now();
    let mut body = vec![0u8; BIG];
    c.reader.read_exact(&mut body).unwrap();
    assert!(body.iter().all(|&b| b == b'x'));
    assert_eq!(c.line(), "sent\n");
    let sent_at = streamer.sent_at.lock().unwrap().expect("the send returned");
    assert!(sent_at > reading, "the send returned once the client read");
    assert_eq!(c.ask("after"), "after\n");
    assert_eq!(*streamer.sends.lock().unwrap(), [Ok(())]);
    handle.shutdown_within(Duration::from_secs(2));
    join_within(thread, Duration::from_secs(10)).unwrap();
}

#[test]
fn a_sink_times_out_on_a_client_that_never_reads_and_closes_it() {
    let (addr, handle, streamer, thread) = start_streamer(EventLoopConfig {
        write_timeout: Duration::from_millis(300),
        ..config(1)
    });
    let mut c = Client::connect(addr);
    // More than the socket buffers hold while the client reads nothing.
    c.send(b"big 16777216\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while streamer.sends.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the send never timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        *streamer.sends.lock().unwrap(),
        [Err(io::ErrorKind::TimedOut)]
    );
    while handle.connections() > 0 {
        assert!(Instant::now() < deadline, "the connection was not closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing written after the failed send reaches the client: it reads the start of
    // the big response, then the end.
    c.writer.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    let _ = c.reader.read_to_end(&mut rest);
    assert!(
        rest.iter().all(|&b| b == b'x'),
        "only the streamed bytes arrive"
    );
    assert_eq!(
        Client::connect(addr).ask("still serving"),
        "still serving\n"
    );
    handle.shutdown_within(Duration::from_secs(2));
    join_within(thread, Duration::from_secs(10)).unwrap();
}

#[test]
fn an_endless_stream_is_cut_when_the_shutdown_grace_period_ends() {
    let (addr, handle, streamer, thread) = start_streamer(config(1));
    let mut c = Client::connect(addr);
    c.send(b"endless\n");
    assert_eq!(c.line(), "tick\n");
    assert_eq!(c.line(), "tick\n");
    let t = Instant::now();
    handle.shutdown_within(Duration::from_millis(300));
    join_within(thread, Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while streamer.sends.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the stream went on after the grace period"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "cut before the grace period ended"
    );
    assert_eq!(
        *streamer.sends.lock().unwrap(),
        [Err(io::ErrorKind::ConnectionAborted)]
    );
    // The client sees the stream end.
    let mut rest = String::new();
    let _ = c.reader.read_to_string(&mut rest);
    assert!(rest.lines().all(|l| l == "tick"), "{rest:?}");
}
