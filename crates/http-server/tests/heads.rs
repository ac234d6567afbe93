//! Response heads written through `Exchange` (`send_response_only`, `send_header`,
//! `end_headers`) are taken by the production face's response check as the exchange
//! recorded them instead of being parsed again. Each case here is a head a handler can
//! write; the outcome (what the client reads, whether the connection stays open) must be
//! the one the parsing check gives, and in debug builds the check asserts that the
//! recorded head equals a parse of its bytes.

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use socketserver::HandlerCx;

use crate::framing::{drive, try_responses};

/// Writes the head the request path names, then the body `hello`.
struct Heads;

impl HttpHandler for Heads {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let path = ex.path.clone();
        let mut body: &[u8] = b"hello";
        match path.as_str() {
            "/length" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
            }
            "/length-padded" => {
                ex.send_response_only(200, Some("Fine"))?;
                ex.send_header("content-length", " 5\t")?;
            }
            "/length-short" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "9")?;
            }
            "/length-long" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "2")?;
            }
            "/length-twice-same" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
                ex.send_header("Content-Length", "5")?;
            }
            "/length-twice-differ" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
                ex.send_header("Content-Length", "6")?;
            }
            "/length-junk" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5x")?;
            }
            "/chunked" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Transfer-Encoding", "chunked")?;
                body = b"5\r\nhello\r\n0\r\n\r\n";
            }
            "/chunked-broken" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Transfer-Encoding", "chunked")?;
            }
            "/chunked-overridden" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Transfer-Encoding", "chunked")?;
                ex.send_header("Transfer-Encoding", "identity")?;
                ex.send_header("Content-Length", "5")?;
            }
            "/close" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
                ex.send_header("Connection", "close")?;
            }
            "/close-then-keep" => {
                ex.send_response_only(200, None)?;
                ex.send_header("Connection", "close")?;
                ex.send_header("Connection", "keep-alive")?;
                ex.send_header("Content-Length", "5")?;
            }
            "/unframed" => {
                ex.send_response_only(200, None)?;
                ex.send_header("X-Note", "caf\u{e9}")?;
            }
            "/no-content" => {
                ex.send_response_only(204, None)?;
            }
            "/odd-status" => {
                ex.send_response_only(599, Some("Odd \u{e9}"))?;
                ex.send_header("Content-Length", "5")?;
            }
            "/split" => {
                ex.send_response_only(200, None)?;
                ex.flush_headers()?;
                ex.send_header("Content-Length", "5")?;
            }
            "/raw-first" => {
                ex.wfile()
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")?;
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
            }
            "/interim" => {
                ex.send_response_only(103, None)?;
                ex.send_header("Link", "</style.css>; rel=preload")?;
                ex.end_headers()?;
                ex.send_response_only(200, None)?;
                ex.send_header("Content-Length", "5")?;
            }
            _ => {
                ex.send_response_only(404, None)?;
                ex.send_header("Content-Length", "0")?;
                body = b"";
            }
        }
        ex.end_headers()?;
        ex.wfile().write_all(body)?;
        ex.close_connection = false;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

type HeadsProtocol = HttpProtocol<fn(&HandlerCx<'_>) -> Heads>;

fn protocol(version: &str) -> HeadsProtocol {
    HttpProtocol::new(
        (|_: &HandlerCx<'_>| Heads) as fn(&HandlerCx<'_>) -> Heads,
        HttpConfig::default().protocol_version(version),
    )
}

/// Serves `GET path` then a pipelined `GET /next`: returns the bytes sent and whether the
/// connection stayed open.
fn serve_raw(version: &str, path: &str) -> (Vec<u8>, bool) {
    let input =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    drive(&protocol(version), input.as_bytes())
}

/// [`serve_raw`], read back: the status and body of each response.
fn serve(version: &str, path: &str) -> (Vec<(u16, Vec<u8>)>, bool) {
    let (out, open) = serve_raw(version, path);
    let rs = try_responses(&out, 0).unwrap_or_else(|e| panic!("{path}: {e}"));
    (rs.into_iter().map(|r| (r.status, r.body)).collect(), open)
}

#[test]
fn recorded_heads_frame_responses_as_parsed_ones_do() {
    // (path, first response's status and body, whether `/next` is answered too)
    let cases: &[(&str, u16, &[u8], bool)] = &[
        ("/length", 200, b"hello", true),
        ("/length-padded", 200, b"hello", true),
        ("/length-long", 200, b"he", true),
        ("/length-twice-same", 200, b"hello", true),
        ("/chunked", 200, b"hello", true),
        ("/chunked-overridden", 200, b"hello", true),
        ("/close", 200, b"hello", false),
        ("/close-then-keep", 200, b"hello", true),
        ("/unframed", 200, b"hello", false),
        ("/no-content", 204, b"", true),
        ("/odd-status", 599, b"hello", true),
        ("/split", 200, b"hello", true),
        // The bytes written before the recorded head are the response (its extra bytes cut).
        ("/raw-first", 200, b"hello", true),
        ("/interim", 200, b"hello", true),
    ];
    for &(path, status, body, next) in cases {
        let (rs, open) = serve("HTTP/1.1", path);
        assert_eq!(rs[0].0, status, "{path}");
        assert_eq!(rs[0].1, body, "{path}");
        let answered_next = rs.get(1).is_some_and(|r| r.0 == 404);
        assert_eq!(answered_next, next, "{path}: {rs:?}");
        assert_eq!(open, next, "{path}");
    }
}

#[test]
fn heads_a_client_cannot_delimit_close_the_connection() {
    // A body shorter than declared, or lengths that disagree or do not parse: the client
    // cannot find the end, so the connection closes after this one response.
    for path in ["/length-short", "/length-twice-differ", "/length-junk"] {
        let (out, open) = serve_raw("HTTP/1.1", path);
        assert!(!open, "{path}");
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{path}: {text}");
        assert!(text.ends_with("\r\n\r\nhello"), "{path}: {text}");
    }
}

#[test]
fn recorded_heads_under_http10_close() {
    for path in ["/length", "/chunked-overridden", "/odd-status", "/split"] {
        let (rs, open) = serve("HTTP/1.0", path);
        assert_eq!(rs.len(), 1, "{path}: {rs:?}");
        assert_eq!(rs[0].1, b"hello", "{path}");
        assert!(!open, "{path}");
    }
}

#[test]
fn a_broken_chunked_body_closes_the_connection() {
    // The body `hello` is not a chunked body: the client cannot find its end, so nothing
    // may follow it.
    let input =
        b"GET /chunked-broken HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    let (out, open) = drive(&protocol("HTTP/1.1"), input);
    assert!(!open);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
}
