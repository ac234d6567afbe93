//! The demo's lifecycle: `--once` serves one request and exits (the seed's
//! `httpd.handle_request()`); SIGTERM ends either face cleanly, with exit code 0.

use std::io::Write;
use std::time::Duration;

use crate::support::{Demo, raw, split_response};

const SEED: &[u8] = b"GET /xyz?abc HTTP/1.0\r\n\r\n";

#[test]
fn once_exits_after_one_request() {
    let mut demo = Demo::start(&["--once"]);
    let (status, _, body) = split_response(&raw(demo.addr(), SEED));
    assert_eq!(status, "HTTP/1.0 200 OK");
    assert!(body.starts_with(b"Hello world!\n\n"));
    let exit = demo.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", demo.stderr());
    // Nobody listens any more.
    assert!(std::net::TcpStream::connect(demo.addr()).is_err());
}

#[test]
fn sigterm_ends_both_faces_cleanly() {
    for mut demo in [Demo::production(&[]), Demo::faithful(&[])] {
        let (status, _, _) = split_response(&raw(demo.addr(), SEED));
        assert!(status.ends_with(" 200 OK"), "{status}");
        let exit = demo.terminate();
        let log = demo.stderr();
        assert_eq!(exit.code(), Some(0), "{log}");
        assert!(log.contains("signal 15: shutting down"), "{log}");
    }
}

#[test]
fn a_second_sigterm_stops_without_waiting_for_the_grace_period() {
    let mut demo = Demo::production(&["--app", "stream", "--shutdown-timeout", "60"]);
    // A response the client never reads: the graceful stop would wait a minute for it.
    let mut stuck = std::net::TcpStream::connect(demo.addr()).unwrap();
    stuck
        .write_all(b"GET /?size=268435456 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(std::io::Read::read(&mut stuck, &mut first).unwrap() > 0);
    demo.signal(rustix::process::Signal::TERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(demo.addr()).is_err(),
        "the graceful stop closed the listener"
    );
    assert!(demo.is_running(), "still draining the stuck response");
    let asked = std::time::Instant::now();
    demo.signal(rustix::process::Signal::TERM);
    let exit = demo.wait_exit(Duration::from_secs(20));
    let log = demo.stderr();
    assert_eq!(exit.code(), Some(0), "{log}");
    assert!(asked.elapsed() < Duration::from_secs(5), "{log}");
    assert!(log.contains("again: stopping now"), "{log}");
}

#[test]
fn a_port_in_use_is_an_error_naming_it() {
    let demo = Demo::production(&[]);
    let port = demo.port.to_string();
    let out = crate::support::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_demo")).args([
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ]),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port}: Address already in use"
        )),
        "{err}"
    );
    // `--reuse-port` shares the port instead.
    let mut second = Demo::spawn({
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_demo"));
        cmd.args(["--host", "127.0.0.1", "--port", &port, "--reuse-port"]);
        cmd
    });
    assert_eq!(second.port, demo.port);
    assert_eq!(second.terminate().code(), Some(0));
}
