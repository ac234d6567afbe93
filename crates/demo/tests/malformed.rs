//! Malformed requests a hostile client sends, against both faces of the demo over a real
//! socket: each gets CPython's answer (or a close), never a success and never a wait.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Demo, split_response};

/// CPython's `DEFAULT_ERROR_MESSAGE` for 414 (`HTTPStatus.REQUEST_URI_TOO_LONG`: phrase
/// `Request-URI Too Long`, description `URI is too long`).
const PAGE_414: &str = "<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 414</p>
        <p>Message: Request-URI Too Long.</p>
        <p>Error code explanation: 414 - URI is too long.</p>
    </body>
</html>
";

/// What a connection got: the bytes the server sent until it closed the connection or went
/// quiet for `quiet`, and whether it closed.
struct Reply {
    bytes: Vec<u8>,
    closed: bool,
}

/// Sends `pieces` on one connection (a short pause between them, so each arrives in its
/// own TCP segments), then reads until the server closes or is quiet for `quiet` (at most
/// 20 s in all).
fn exchange(addr: SocketAddr, pieces: &[&[u8]], quiet: Duration) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
        // The server may answer and close before the last piece is written.
        if s.write_all(p).is_err() {
            break;
        }
    }
    s.set_read_timeout(Some(quiet)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16384];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => {
                return Reply {
                    bytes,
                    closed: true,
                };
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // A reset after the reply is a close too (unread request bytes were dropped).
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Reply {
                    bytes,
                    closed: true,
                };
            }
            Err(_) => break,
        }
    }
    Reply {
        bytes,
        closed: false,
    }
}

/// A request whose request line is `total` bytes long, its CRLF included.
fn request_with_line_of(total: usize) -> Vec<u8> {
    let fixed = b"GET / HTTP/1.1\r\n".len();
    let mut r = b"GET /".to_vec();
    r.extend(std::iter::repeat_n(b'a', total - fixed));
    r.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.iter().position(|&b| b == b'\n'), Some(total - 1));
    r
}

/// Asserts `reply` is exactly one 414 with CPython's error page, then a close.
#[track_caller]
fn assert_414_and_close(reply: &Reply, what: &str) {
    assert!(reply.closed, "{what}: the connection must close");
    let (status, headers, body) = split_response(&reply.bytes);
    assert!(
        status.ends_with(" 414 Request-URI Too Long"),
        "{what}: {status}"
    );
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("Content-Type"),
        Some("text/html;charset=utf-8"),
        "{what}"
    );
    assert_eq!(header("Content-Length"), Some("327"), "{what}");
    assert_eq!(String::from_utf8_lossy(&body), PAGE_414, "{what}");
}

/// CPython's `WSGIRequestHandler.handle`: `readline(65537)`, then 414 when more than 65536
/// bytes came. A request line of exactly 65537 bytes (its CRLF included) is the boundary;
/// checked with the line arriving whole and in several segments, and 65536 bytes served.
fn request_line_over_65536_bytes(demo: &Demo) {
    for total in [65537, 65538, 70000] {
        let req = request_with_line_of(total);
        let whole = exchange(demo.addr(), &[&req], Duration::from_secs(5));
        assert_414_and_close(&whole, &format!("{total} bytes, whole"));
        let pieces: Vec<&[u8]> = req.chunks(16000).collect();
        let split = exchange(demo.addr(), &pieces, Duration::from_secs(5));
        assert_414_and_close(&split, &format!("{total} bytes, in segments"));
    }
    let ok = exchange(
        demo.addr(),
        &[&request_with_line_of(65536)],
        Duration::from_millis(500),
    );
    let (status, _, _) = split_response(&ok.bytes);
    assert!(status.ends_with(" 200 OK"), "65536 bytes: {status}");
}

#[test]
fn request_line_over_65536_bytes_gets_414_on_the_production_face() {
    request_line_over_65536_bytes(&Demo::production(&[]));
}

#[test]
fn request_line_over_65536_bytes_gets_414_on_the_faithful_face() {
    request_line_over_65536_bytes(&Demo::faithful(&[]));
}

#[test]
fn http09_request_line_is_answered_at_once_on_the_production_face() {
    // `GET /x` then CRLF, and nothing more: 400 and a close, not a connection held open
    // waiting for a header block that never comes. Fresh, and after a keep-alive request.
    let demo = Demo::production(&[]);
    let first = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for pieces in [&[&b"GET /x\r\n"[..]][..], &[first, b"GET /x\r\n"]] {
        let reply = exchange(demo.addr(), pieces, Duration::from_secs(5));
        assert!(reply.closed, "{pieces:?}: the connection must close");
        let text = String::from_utf8_lossy(&reply.bytes);
        let last = text.rfind("HTTP/1.1 ").expect("a response");
        assert!(
            text[last..].starts_with("HTTP/1.1 400 Bad request syntax ('GET /x')\r\n"),
            "{pieces:?}: {text}"
        );
        assert_eq!(
            text.matches("HTTP/1.1 200 OK\r\n").count(),
            pieces.len() - 1,
            "{text}"
        );
    }
}

#[test]
fn http09_request_is_answered_as_cpython_does_on_the_faithful_face() {
    // CPython's `parse_request` reads the header block of an HTTP/0.9 request too, then
    // `wsgiref` answers with the bare body (no status line: the client is not "modern")
    // and closes the connection.
    let demo = Demo::faithful(&[]);
    let reply = exchange(demo.addr(), &[b"GET /x\r\n\r\n"], Duration::from_secs(5));
    assert!(reply.closed, "the connection must close");
    let text = String::from_utf8_lossy(&reply.bytes);
    assert!(text.starts_with("Hello world!\n"), "{text}");
    assert!(text.contains("PATH_INFO = '/x'"), "{text}");
    assert!(text.contains("SERVER_PROTOCOL = 'HTTP/0.9'"), "{text}");
}

#[test]
fn chunk_extension_outside_the_rfc_grammar_gets_400_on_the_production_face() {
    // A bare `;` after the chunk size (RFC 9112 §7.1.1 wants `;token[=value]`): 400 and a
    // close, and the request pipelined after it is never served.
    let demo = Demo::production(&[]);
    for ext in ["3;", "3;a=", "3;a=\"open"] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{ext}\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let reply = exchange(demo.addr(), &[request.as_bytes()], Duration::from_secs(5));
        assert!(reply.closed, "{ext:?}: the connection must close");
        let text = String::from_utf8_lossy(&reply.bytes);
        assert!(
            text.starts_with("HTTP/1.1 400 Bad chunked body: invalid chunk extension\r\n"),
            "{ext:?}: {text}"
        );
        assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
        assert!(!text.contains("smuggled"), "{text}");
    }
}

/// `--max-line` and `--max-headers` move the production face's limits: a request line one
/// byte over gets CPython's 414, a header line over gets 431, and a header block of
/// `--max-headers` lines (the blank line counted, as CPython counts) gets 431; one line
/// fewer is served.
#[test]
fn max_line_and_max_headers_move_the_production_limits() {
    let demo = Demo::production(&["--max-line", "200", "--max-headers", "4"]);
    let reply = exchange(
        demo.addr(),
        &[&request_with_line_of(201)],
        Duration::from_secs(5),
    );
    assert_414_and_close(&reply, "201 bytes with --max-line 200");
    let ok = exchange(
        demo.addr(),
        &[&request_with_line_of(200)],
        Duration::from_millis(500),
    );
    assert!(split_response(&ok.bytes).0.ends_with(" 200 OK"));
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "b".repeat(200)
    );
    let reply = exchange(
        demo.addr(),
        &[long_header.as_bytes()],
        Duration::from_secs(5),
    );
    assert!(reply.closed);
    assert!(
        split_response(&reply.bytes)
            .0
            .ends_with(" 431 Line too long"),
        "{:?}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let four = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let reply = exchange(demo.addr(), &[four], Duration::from_secs(5));
    assert!(reply.closed);
    assert!(
        split_response(&reply.bytes)
            .0
            .ends_with(" 431 Too many headers")
    );
    let three = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
    let ok = exchange(demo.addr(), &[three], Duration::from_millis(500));
    assert!(split_response(&ok.bytes).0.ends_with(" 200 OK"));
}
