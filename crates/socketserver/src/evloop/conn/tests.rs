//! The write-behind of a connection in memory: an answered request whose socket is drained
//! leaves its answer for the end of the batch ([`Outcome::Flush`]), and
//! [`Conn::flush_deferred`] sends it, holds it under backpressure or closes on an error.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdUnix;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::*;
use crate::evloop::Served;

/// Answers each `\n`-terminated line with itself; `close\n` asks to close.
struct Echo;

impl Protocol for Echo {
    type Session = ();

    fn frame(&self, _: &mut (), input: &[u8]) -> Frame {
        crate::testing::frame_line(input)
    }

    fn serve(&self, _: &mut (), request: &[u8], out: &mut Vec<u8>, _: &ServeCx<'_>) -> Served {
        out.extend_from_slice(request);
        if request == b"close\n" {
            Served::CLOSE
        } else {
            Served::KEEP_ALIVE
        }
    }

    fn abort(&self, _: &mut (), _: &[u8], why: Abort) -> Vec<u8> {
        format!("abort {why:?}\n").into_bytes()
    }
}

/// A connection over one end of a socket pair; the other end is the client.
fn pair() -> (Conn<()>, StdUnix) {
    let (server, client) = StdUnix::pair().unwrap();
    server.set_nonblocking(true).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stream = Stream::Unix(mio::net::UnixStream::from_std(server));
    (
        Conn::new(stream, Address::Unix(None), 1, Instant::now()),
        client,
    )
}

/// Processes `conn` for `work` as a loop would, with `Echo`.
fn process(conn: &mut Conn<()>, work: Work) -> Outcome {
    process_with(conn, work, EventLoopConfig::default())
}

fn process_with(conn: &mut Conn<()>, work: Work, config: EventLoopConfig) -> Outcome {
    let info = ServerInfo::new(Address::Unix(None));
    let shutdown = AtomicBool::new(false);
    let force_at = Mutex::new(None);
    let env = Env {
        protocol: &Echo,
        config: &config,
        info: &info,
        hint: &|| {},
        owner: &|| true,
        shutdown: &shutdown,
        force_at: &force_at,
        polled_at: Instant::now(),
    };
    conn.process(&env, work)
}

/// Reads exactly `n` bytes from the client end.
fn read_n(client: &mut StdUnix, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    client.read_exact(&mut got).unwrap();
    got
}

#[test]
fn an_answer_to_a_drained_socket_waits_for_the_batch_end_then_goes_out() {
    let (mut conn, mut client) = pair();
    client.write_all(b"one\ntwo\n").unwrap();
    assert_eq!(process(&mut conn, Work::Edge), Outcome::Flush);
    // Pipelined answers wait together: nothing was sent yet.
    assert_eq!(&conn.output.data[conn.output.pos..], b"one\ntwo\n");
    assert_eq!(conn.flush_deferred(), Outcome::Keep { requeue: false });
    assert!(conn.is_idle());
    assert_eq!(read_n(&mut client, 8), b"one\ntwo\n");
    // The next request on the same connection takes the same path.
    client.write_all(b"three\n").unwrap();
    assert_eq!(process(&mut conn, Work::Edge), Outcome::Flush);
    assert_eq!(conn.flush_deferred(), Outcome::Keep { requeue: false });
    assert_eq!(read_n(&mut client, 6), b"three\n");
}

#[test]
fn a_connection_not_known_drained_writes_at_once() {
    // `Work::Io` (a requeue, a returned connection) does not know the socket is empty, so it
    // reads on to WouldBlock and sends right away, as before the write-behind.
    let (mut conn, mut client) = pair();
    client.write_all(b"now\n").unwrap();
    assert_eq!(
        process(&mut conn, Work::Io),
        Outcome::Keep { requeue: false }
    );
    assert!(conn.is_idle());
    assert_eq!(read_n(&mut client, 4), b"now\n");
}

#[test]
fn a_last_answer_is_sent_at_once_and_closes() {
    let (mut conn, mut client) = pair();
    client.write_all(b"close\n").unwrap();
    assert_eq!(process(&mut conn, Work::Edge), Outcome::Close);
    assert_eq!(read_n(&mut client, 6), b"close\n");
}

#[test]
fn a_deferred_answer_the_client_cannot_take_waits_for_writability() {
    let (mut conn, mut client) = pair();
    client.write_all(b"x\n").unwrap();
    assert_eq!(process(&mut conn, Work::Edge), Outcome::Flush);
    // More than the socket pair buffers: the flush stops part way.
    let big = vec![b'y'; 8 << 20];
    conn.output.vec().extend_from_slice(&big);
    let total = conn.output.data.len() - conn.output.pos;
    assert_eq!(conn.flush_deferred(), Outcome::Keep { requeue: false });
    assert!(!conn.is_idle(), "the rest waits for the client");
    let config = EventLoopConfig::default();
    let due = conn.next_deadline(&config, Instant::now()).unwrap();
    assert!(
        due > Instant::now(),
        "the write deadline runs from the stall"
    );
    // The client drains what it can while a writable edge sends the rest.
    let reader = std::thread::spawn(move || read_n(&mut client, total));
    let until = Instant::now() + Duration::from_secs(10);
    while !conn.is_idle() {
        assert!(Instant::now() < until, "the rest was never sent");
        assert_eq!(conn.flush_deferred(), Outcome::Keep { requeue: false });
        std::thread::sleep(Duration::from_millis(1));
    }
    let got = reader.join().unwrap();
    assert_eq!(&got[..2], b"x\n");
    assert!(got[2..].iter().all(|&b| b == b'y'));
}

#[test]
fn a_deferred_answer_to_a_vanished_client_closes_the_connection() {
    let (mut conn, mut client) = pair();
    client.write_all(b"gone\n").unwrap();
    assert_eq!(process(&mut conn, Work::Edge), Outcome::Flush);
    drop(client);
    assert_eq!(conn.flush_deferred(), Outcome::Close);
}

#[test]
fn pipelined_answers_past_the_output_mark_are_sent_before_the_next_request_is_served() {
    let (mut conn, mut client) = pair();
    // Each answer is 40 KiB: the second request waits until the first answer is sent.
    let line = format!("{}\n", "z".repeat(40 * 1024 - 1));
    client.write_all(line.repeat(3).as_bytes()).unwrap();
    let reader = std::thread::spawn(move || read_n(&mut client, 3 * 40 * 1024));
    let until = Instant::now() + Duration::from_secs(10);
    let mut outcome = process(&mut conn, Work::Edge);
    while outcome != Outcome::Flush {
        assert!(Instant::now() < until, "stuck at {outcome:?}");
        assert_eq!(outcome, Outcome::Keep { requeue: false });
        std::thread::sleep(Duration::from_millis(1));
        outcome = process(&mut conn, Work::Io);
    }
    assert!(
        conn.output.pending() <= 2 * 40 * 1024,
        "at most the mark plus one answer waits"
    );
    while !conn.is_idle() {
        assert!(Instant::now() < until, "the rest was never sent");
        conn.flush_deferred();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(reader.join().unwrap(), line.repeat(3).into_bytes());
}

#[test]
fn an_oversized_request_after_pipelined_ones_is_aborted_after_their_answers() {
    let (mut conn, mut client) = pair();
    client.write_all(b"a\nb\n").unwrap();
    client.write_all(&[b'q'; 100]).unwrap();
    let config = EventLoopConfig {
        max_request_bytes: 50,
        ..EventLoopConfig::default()
    };
    assert_eq!(process_with(&mut conn, Work::Edge, config), Outcome::Close);
    drop(conn);
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"a\nb\nabort TooLarge\n");
}
