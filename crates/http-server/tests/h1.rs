//! HTTP/1.1 on the event loops (`http_server::h1`): framing, bodies, 100-continue, response
//! checks, over the protocol directly and over loopback sockets.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Frame, Protocol, ServeCx, Served};
use socketserver::{Address, HandlerCx, ServerInfo, Sink};

/// Set by `loopback_streams_a_chunked_body_as_it_is_flushed` once its client has the first
/// chunk; `/stream` waits for it.
static FIRST_CHUNK_RECEIVED: AtomicBool = AtomicBool::new(false);

/// GET answers `hello`; POST echoes the body; a few paths misbehave on purpose.
struct App;

impl HttpHandler for App {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        match ex.path.as_str() {
            "/panic" => panic!("handler panicked on purpose"),
            "/nolen" => {
                self.send_response(ex, 200, None)?;
                ex.end_headers()?;
                ex.wfile().write_all(b"no length")?;
            }
            "/short" => {
                self.send_response(ex, 200, None)?;
                ex.send_header("Content-Length", "10")?;
                ex.end_headers()?;
                ex.wfile().write_all(b"abc")?;
            }
            "/chunks" | "/stream" => {
                // A body of unknown length, flushed part by part.
                self.send_response(ex, 200, None)?;
                ex.end_headers_framed()?;
                ex.write_body(b"first")?;
                ex.stream().flush()?;
                if ex.path == "/stream" {
                    let end = Instant::now() + Duration::from_secs(10);
                    while !FIRST_CHUNK_RECEIVED.load(Ordering::SeqCst) && Instant::now() < end {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                ex.write_body(b"second")?;
                ex.stream().flush()?;
                ex.finish_body()?;
            }
            "/long" => {
                self.send_response(ex, 200, None)?;
                ex.send_header("Content-Length", "2")?;
                ex.end_headers()?;
                ex.wfile().write_all(b"abcdef")?;
            }
            path => {
                let body = format!("hello {path}");
                self.send_response(ex, 200, None)?;
                ex.send_header("Content-Length", &body.len().to_string())?;
                ex.end_headers()?;
                ex.wfile().write_all(body.as_bytes())?;
            }
        }
        Ok(())
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let declared = ex.headers.get("Content-Length").unwrap_or_default();
        let mut body = Vec::new();
        ex.rfile().read_to_end(&mut body)?;
        let reply = format!("{declared}:{}", String::from_utf8_lossy(&body));
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &reply.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(reply.as_bytes())?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

type AppProtocol = HttpProtocol<fn(&HandlerCx<'_>) -> App>;

fn protocol() -> AppProtocol {
    HttpProtocol::new(
        (|_: &HandlerCx<'_>| App) as fn(&HandlerCx<'_>) -> App,
        HttpConfig::default().protocol_version("HTTP/1.1"),
    )
}

/// Drives the protocol as the event loop does: frame, then serve each complete request.
/// Returns the bytes sent and whether the connection is still open.
fn drive(p: &AppProtocol, input: &[u8], closing: bool) -> (Vec<u8>, bool) {
    drive_with(p, input, closing, None)
}

/// A sink that keeps what each send was given.
#[derive(Default)]
struct Recorder(Mutex<Vec<Vec<u8>>>);

impl Sink for Recorder {
    fn send(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.0.lock().unwrap().push(std::mem::take(out));
        Ok(())
    }
}

/// [`drive`] with a sink: the bytes sent are what went through it, then the rest.
fn drive_streaming(p: &AppProtocol, input: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>, bool) {
    let sink = Recorder::default();
    let (out, open) = drive_with(p, input, false, Some(&sink));
    (sink.0.into_inner().unwrap(), out, open)
}

fn drive_with(
    p: &AppProtocol,
    input: &[u8],
    closing: bool,
    sink: Option<&dyn Sink>,
) -> (Vec<u8>, bool) {
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:80".parse().unwrap()));
    let mut hcx = HandlerCx::new(&addr, &info);
    if let Some(sink) = sink {
        hcx = hcx.with_sink(sink);
    }
    let cx = ServeCx::new(hcx).closing(closing);
    let mut session = Default::default();
    let mut out = Vec::new();
    let mut buf = input;
    for _ in 0..100 {
        if buf.is_empty() {
            return (out, true);
        }
        match p.frame(&mut session, buf) {
            Frame::Incomplete => return (out, true),
            Frame::Interim(bytes) => out.extend(bytes),
            Frame::Reject(bytes) => {
                out.extend(bytes);
                return (out, false);
            }
            Frame::Complete(n) => {
                let served = p.serve(&mut session, &buf[..n], &mut out, &cx);
                buf = &buf[n..];
                if served == Served::CLOSE {
                    return (out, false);
                }
            }
        }
    }
    panic!("protocol made no progress");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    let (out, open) = drive(
        &protocol(),
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    let t = text(&out);
    assert!(open, "{t}");
    let a = t.find("hello /a").unwrap();
    let b = t.find("hello /b").unwrap();
    let c = t.find("hello /c").unwrap();
    assert!(a < b && b < c, "{t}");
    assert_eq!(t.matches("HTTP/1.1 200 OK\r\n").count(), 3);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let (_, open) = drive(&protocol(), b"GET / HTTP/1.0\r\n\r\n", false);
    assert!(!open);
    let (out, open) = drive(
        &protocol(),
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        false,
    );
    assert!(open, "{}", text(&out));
}

#[test]
fn chunked_body_is_decoded_with_extensions_and_trailers() {
    let (out, open) = drive(
        &protocol(),
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    let t = text(&out);
    assert!(t.contains("12:hello, world"), "{t}");
    assert!(t.contains("hello /after"), "{t}");
    assert!(open);
}

#[test]
fn content_length_body_never_reads_into_the_next_request() {
    let (out, _) = drive(
        &protocol(),
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    let t = text(&out);
    assert!(t.contains("3:abc"), "{t}");
    assert!(t.contains("hello /next"), "{t}");
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let p = protocol();
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(addr.clone());
    let cx = ServeCx::new(HandlerCx::new(&addr, &info));
    let mut s = Default::default();
    let head = b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(
        p.frame(&mut s, head),
        Frame::Interim(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
    );
    assert_eq!(p.frame(&mut s, head), Frame::Incomplete);
    let mut full = head.to_vec();
    full.extend_from_slice(b"ok");
    assert_eq!(p.frame(&mut s, &full), Frame::Complete(full.len()));
    let mut out = Vec::new();
    assert_eq!(p.serve(&mut s, &full, &mut out, &cx), Served::KEEP_ALIVE);
    let t = text(&out);
    assert!(t.starts_with("HTTP/1.1 200 OK"), "no second 100: {t}");
    assert!(t.ends_with("2:ok"), "{t}");
}

#[test]
fn unknown_expectation_gets_417() {
    let (out, open) = drive(
        &protocol(),
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nok",
        false,
    );
    assert!(text(&out).starts_with("HTTP/1.1 417 "), "{}", text(&out));
    assert!(!open);
}

/// `Expect` is a list (RFC 9110 §10.1.1) whose empty elements do not count (§5.6.1):
/// `100-continue` among them is still answered `100 Continue`, an empty field is no
/// expectation, and another member is still 417.
#[test]
fn expect_is_read_as_a_list() {
    let p = protocol();
    for value in ["100-continue,", ", 100-Continue", "100-continue, ,"] {
        let mut s = Default::default();
        let head =
            format!("POST /e HTTP/1.1\r\nHost: x\r\nExpect: {value}\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(
            p.frame(&mut s, head.as_bytes()),
            Frame::Interim(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
            "{value}"
        );
    }
    let (out, open) = drive(
        &p,
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect:\r\nContent-Length: 2\r\n\r\nok",
        false,
    );
    assert!(text(&out).ends_with("2:ok"), "{}", text(&out));
    assert!(open);
    let (out, open) = drive(
        &p,
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, teapot\r\nContent-Length: 2\r\n\r\nok",
        false,
    );
    assert!(text(&out).starts_with("HTTP/1.1 417 "), "{}", text(&out));
    assert!(!open);
}

/// A `close` option closes the connection after the response wherever it stands among
/// the `Connection` options (RFC 9112 §9.6); nothing after that response is served.
#[test]
fn a_close_option_in_a_connection_list_closes() {
    for connection in [
        "Connection: te, close\r\n",
        "Connection: close, te\r\n",
        "Connection: keep-alive, CLOSE\r\n",
        "Connection: foo\r\nConnection: close\r\n",
    ] {
        let input = format!(
            "GET /first HTTP/1.1\r\nHost: x\r\n{connection}\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let (out, open) = drive(&protocol(), input.as_bytes(), false);
        let t = text(&out);
        assert!(t.contains("hello /first"), "{t}");
        assert!(!t.contains("/second"), "{connection}: {t}");
        assert!(!open, "{connection}");
    }
    let (out, open) = drive(
        &protocol(),
        b"GET /first HTTP/1.1\r\nHost: x\r\nConnection: te, keep-alive\r\n\r\n",
        false,
    );
    assert!(text(&out).contains("hello /first"));
    assert!(open);
}

/// `chunk-size = 1*HEXDIG` (RFC 9112 §7.1): leading zeros past sixteen digits are a size
/// like any other, not an overflow.
#[test]
fn chunk_sizes_with_many_leading_zeros() {
    let (out, open) = drive(
        &protocol(),
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000000003\r\nabc\r\n00000000000000000000\r\n\r\n",
        false,
    );
    assert!(text(&out).ends_with("3:abc"), "{}", text(&out));
    assert!(open);
}

#[test]
fn framing_errors_close_and_nothing_after_is_parsed() {
    for bad in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (out, open) = drive(&protocol(), bad, false);
        let t = text(&out);
        assert!(t.starts_with("HTTP/1.1 400 "), "{t}");
        assert!(!t.contains("smuggled"), "{t}");
        assert!(!open);
    }
}

#[test]
fn oversized_body_gets_413() {
    let (out, open) = drive(
        &protocol(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n",
        false,
    );
    assert!(text(&out).starts_with("HTTP/1.1 413 "), "{}", text(&out));
    assert!(!open);
}

#[test]
fn a_panicking_handler_costs_one_500() {
    let (out, open) = drive(
        &protocol(),
        b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    assert!(text(&out).starts_with("HTTP/1.1 500 "), "{}", text(&out));
    assert!(!open);
}

#[test]
fn responses_without_a_length_close_the_connection() {
    let (out, open) = drive(
        &protocol(),
        b"GET /nolen HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    let t = text(&out);
    assert!(!open);
    assert!(t.contains("Connection: close\r\n"), "{t}");
    assert!(t.ends_with("no length"));
}

#[test]
fn declared_content_length_is_enforced() {
    let (out, open) = drive(
        &protocol(),
        b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    assert!(!open, "a short body must close: {}", text(&out));
    let (out, open) = drive(
        &protocol(),
        b"GET /long HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    );
    let t = text(&out);
    assert!(open);
    assert!(
        t.contains("\r\n\r\nabHTTP/1.1 200"),
        "extra bytes are cut: {t}"
    );
}

#[test]
fn closing_server_adds_connection_close() {
    let (out, open) = drive(&protocol(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true);
    assert!(!open);
    assert!(text(&out).contains("Connection: close\r\n"));
}

#[test]
fn leading_empty_line_is_ignored() {
    let (out, open) = drive(&protocol(), b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    assert!(open);
    assert!(text(&out).starts_with("HTTP/1.1 200 OK"));
}

fn read_response(r: &mut std::io::BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "connection closed early"
        );
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (head, body)
}

#[test]
fn loopback_keep_alive_pipelining_and_chunked() {
    let config = EventLoopConfig {
        threads: 1,
        ..EventLoopConfig::default()
    };
    let server = EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, protocol()).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let serving = std::thread::spawn(move || server.serve());

    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut r = std::io::BufReader::new(c);
    for i in 0..5 {
        write!(w, "GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (head, body) = read_response(&mut r);
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert_eq!(body, format!("hello /{i}").as_bytes());
    }
    w.write_all(b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /p2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r).1, b"hello /p1");
    assert_eq!(read_response(&mut r).1, b"3:abc");
    handle.shutdown();
    serving.join().unwrap().unwrap();
}

#[test]
fn flushes_send_through_the_sink_and_a_chunked_response_keeps_the_connection() {
    let (sent, rest, open) = drive_streaming(
        &protocol(),
        b"GET /chunks HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(sent.len(), 2, "one send per flush");
    let first = text(&sent[0]);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("Transfer-Encoding: chunked\r\n"), "{first}");
    assert!(first.ends_with("\r\n\r\n5\r\nfirst\r\n"), "{first}");
    assert_eq!(text(&sent[1]), "6\r\nsecond\r\n");
    let rest = text(&rest);
    assert!(rest.starts_with("0\r\n\r\nHTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.ends_with("hello /after"), "{rest}");
    assert!(open);
}

#[test]
fn a_streamed_close_delimited_response_closes_the_connection() {
    // HTTP/1.0: no chunked coding, so the body ends with the connection.
    let (sent, rest, open) = drive_streaming(
        &protocol(),
        b"GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(sent.len(), 2);
    assert!(
        text(&sent[0]).ends_with("\r\n\r\nfirst"),
        "{}",
        text(&sent[0])
    );
    assert_eq!(text(&sent[1]), "second");
    assert!(rest.is_empty());
    assert!(!open);
}

#[test]
fn without_a_flush_nothing_is_sent_early() {
    let (sent, rest, open) = drive_streaming(&protocol(), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(sent.is_empty(), "{sent:?}");
    assert!(text(&rest).ends_with("hello /x"));
    assert!(open);
}

#[test]
fn a_flushed_100_continue_leaves_the_response_checked_whole() {
    // The body came with the head: the handler answers the expectation itself and flushes.
    let (sent, rest, open) = drive_streaming(
        &protocol(),
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nokGET /n HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(text(&sent[0]), "HTTP/1.1 100 Continue\r\n\r\n");
    let rest = text(&rest);
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.contains("2:ok"), "{rest}");
    assert!(rest.ends_with("hello /n"), "{rest}");
    assert!(open);
}

/// Reads until `needle` has arrived; returns everything read.
fn read_until(r: &mut impl Read, needle: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        let n = r.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early: {}", text(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn loopback_streams_a_chunked_body_as_it_is_flushed() {
    let config = EventLoopConfig {
        threads: 1,
        ..EventLoopConfig::default()
    };
    let server = EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, protocol()).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let serving = std::thread::spawn(move || server.serve());

    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The handler waits for this first chunk to arrive before it writes the second.
    let first = read_until(&mut c, b"5\r\nfirst\r\n");
    let first = text(&first);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("Transfer-Encoding: chunked\r\n"), "{first}");
    assert!(
        first.ends_with("\r\n\r\n5\r\nfirst\r\n"),
        "nothing more yet: {first}"
    );
    FIRST_CHUNK_RECEIVED.store(true, Ordering::SeqCst);
    let rest = read_until(&mut c, b"0\r\n\r\n");
    assert_eq!(text(&rest), "6\r\nsecond\r\n0\r\n\r\n");
    // The connection stays in step: the next request is answered as usual.
    c.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = std::io::BufReader::new(c);
    let (head, body) = read_response(&mut r);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(body, b"hello /next");
    handle.shutdown();
    serving.join().unwrap().unwrap();
}
