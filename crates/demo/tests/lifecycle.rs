//! The demo's lifecycle: `--once` serves one request and exits (the seed's
//! `httpd.handle_request()`); SIGTERM ends either face cleanly, with exit code 0.

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
