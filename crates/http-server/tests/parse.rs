//! `parse_request` and friends on byte literals, every error path included.

use http_server::{BodyFraming, HttpConfig, HttpError, Parsed, parse_request};

fn cfg() -> HttpConfig {
    HttpConfig::default()
}

fn ok(buf: &[u8]) -> http_server::RequestHead {
    match parse_request(buf, &cfg()) {
        Ok(Parsed::Complete { head, consumed }) => {
            assert!(consumed <= buf.len());
            head
        }
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
    }
}

fn err(buf: &[u8]) -> HttpError {
    parse_request(buf, &cfg()).expect_err("an error")
}

fn err11(buf: &[u8]) -> HttpError {
    parse_request(buf, &HttpConfig::default().protocol_version("HTTP/1.1")).expect_err("an error")
}

#[test]
fn complete_and_partial() {
    let h = ok(b"GET /a?b HTTP/1.0\r\nX-A: 1\r\nx-a:2\r\n\r\n");
    assert_eq!(h.line.command, "GET");
    assert_eq!(h.line.path, "/a?b");
    assert_eq!(h.line.request_version, "HTTP/1.0");
    assert_eq!(h.line.requestline, "GET /a?b HTTP/1.0");
    assert_eq!(h.raw_requestline, b"GET /a?b HTTP/1.0\r\n");
    assert_eq!(h.headers.get_all("x-a").collect::<Vec<_>>(), [b"1", b"2"]);
    assert!(h.close_connection);
    assert_eq!(h.body, BodyFraming::None);
    assert_eq!(parse_request(b"", &cfg()), Ok(Parsed::Partial));
    assert_eq!(
        parse_request(b"GET / HTTP/1.0", &cfg()),
        Ok(Parsed::Partial)
    );
    assert_eq!(
        parse_request(b"GET / HTTP/1.0\r\nA: b\r\n", &cfg()),
        Ok(Parsed::Partial)
    );
    assert_eq!(
        parse_request(b"\r\n", &cfg()),
        Ok(Parsed::Empty { consumed: 2 })
    );
    // Bare LF line endings are accepted, as CPython does.
    assert_eq!(
        ok(b"GET / HTTP/1.0\nA: b\n\n").headers.get("a").as_deref(),
        Some("b")
    );
}

#[test]
fn versions_and_connection_rules() {
    let c11 = HttpConfig::default().protocol_version("HTTP/1.1");
    let p = |b: &[u8], c: &HttpConfig| match parse_request(b, c).unwrap() {
        Parsed::Complete { head, .. } => head,
        o => panic!("{o:?}"),
    };
    assert!(p(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &cfg()).close_connection);
    assert!(!p(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &c11).close_connection);
    assert!(
        p(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            &c11
        )
        .close_connection
    );
    assert!(!p(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &c11).close_connection);
    assert!(p(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &cfg()).close_connection);
    assert!(p(b"GET / HTTP/1.0\r\n\r\n", &c11).close_connection);
    let h = p(
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n",
        &c11,
    );
    assert!(h.expect_100);
    assert!(
        !p(
            b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            &cfg()
        )
        .expect_100
    );
    assert!(!p(b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &c11).expect_100);
    // Leading zeros are ignored: HTTP/01.01 is 1.1.
    assert_eq!(
        p(b"GET / HTTP/01.01\r\nHost: a\r\n\r\n", &c11).line.version,
        (1, 1)
    );
    // HTTP/0.9 simple request.
    let h = p(b"GET /x\r\n\r\n", &c11);
    assert_eq!(
        (h.line.request_version.as_str(), h.close_connection),
        ("HTTP/0.9", true)
    );
    // gh-87389: leading slashes collapse.
    assert_eq!(p(b"GET ///x/y HTTP/1.0\r\n\r\n", &cfg()).line.path, "/x/y");
}

#[test]
fn request_line_errors() {
    let e = err(b"GET / FUBAR\r\n\r\n");
    assert_eq!(
        (e.code, e.message.as_deref()),
        (400, Some("Bad request version ('FUBAR')"))
    );
    for v in [
        "HTTP/9.9.9",
        "HTTP/-9_9_9.+9_9_9",
        "HTTP/909876543210.0",
        "HTTP/1.909876543210",
        "HTTP/1.",
        "HTTP/.1",
        "HTTP/1.1a",
        "HTTP/\u{b2}.1",
    ] {
        assert_eq!(
            err(format!("GET / {v}\r\n\r\n").as_bytes()).code,
            400,
            "{v}"
        );
    }
    let e = err(b"GET / HTTP/2.0\r\n\r\n");
    assert_eq!(
        (e.code, e.message.as_deref()),
        (505, Some("Invalid HTTP version (2.0)"))
    );
    assert_eq!(err(b"GET / HTTP/10.0\r\n\r\n").code, 505);
    let e = err(b"GET /spaced out HTTP/1.1\r\n\r\n");
    assert_eq!(
        e.message.as_deref(),
        Some("Bad request syntax ('GET /spaced out HTTP/1.1')")
    );
    let e = err(b"GET\r\n\r\n");
    assert_eq!(e.message.as_deref(), Some("Bad request syntax ('GET')"));
    let e = err(b"POST /\r\n\r\n");
    assert_eq!(
        e.message.as_deref(),
        Some("Bad HTTP/0.9 request type ('POST')")
    );
    // Control characters show as Python's repr shows them.
    let e = err(b"GET /\x01 x HTTP/1.0\r\n\r\n");
    assert_eq!(
        e.message.as_deref(),
        Some(r"Bad request syntax ('GET /\x01 x HTTP/1.0')")
    );
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 70000));
    assert_eq!(err(&long).code, 414);
}

#[test]
fn header_limits() {
    let mut req = b"GET / HTTP/1.0\r\nX: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 65537));
    req.extend(b"\r\n\r\n");
    let e = err(&req);
    assert_eq!((e.code, e.message.as_deref()), (431, Some("Line too long")));
    assert_eq!(
        e.explain.as_deref(),
        Some("got more than 65536 bytes when reading header line")
    );
    let mut req = b"GET / HTTP/1.0\r\n".to_vec();
    req.extend(b"A: b\r\n".repeat(100));
    req.extend(b"\r\n");
    let e = err(&req);
    assert_eq!(
        (e.code, e.message.as_deref()),
        (431, Some("Too many headers"))
    );
    assert_eq!(e.explain.as_deref(), Some("got more than 100 headers"));
    let mut req = b"GET / HTTP/1.0\r\n".to_vec();
    req.extend(b"A: b\r\n".repeat(99));
    req.extend(b"\r\n");
    assert_eq!(ok(&req).headers.len(), 99);
}

#[test]
fn strict_framing_errors() {
    let cases: &[&[u8]] = &[
        b"GET / HTTP/1.0\r\nA: b\r\n c\r\n\r\n",         // obs-fold
        b"GET / HTTP/1.0\r\nNoColon\r\n\r\n",            // no colon
        b"GET / HTTP/1.0\r\nA : b\r\n\r\n",              // whitespace before colon
        b"GET / HTTP/1.0\r\nA\t: b\r\n\r\n",             // tab before colon
        b"GET / HTTP/1.0\r\nA: b\rc\r\n\r\n",            // bare CR
        b"GET / HTTP/1.0\r\n: b\r\n\r\n",                // empty name
        b"GET / HTTP/1.0\r\nA(b: c\r\n\r\n",             // name not a token
        b"GET / HTTP/1.0\r\nA: b\x00c\r\n\r\n",          // NUL in value
        b"GET / HTTP/1.0\r\nA: b\x7fc\r\n\r\n",          // DEL in value
        b"GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n",  // invalid CL
        b"GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", // negative CL
        b"GET / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", // conflicting
        b"GET / HTTP/1.0\r\nContent-Length: 1, 2\r\n\r\n", // conflicting list
        b"GET / HTTP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\n", // overflow
        b"GET / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", // TE not ending in chunked
        b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", // CL + TE
        b"GET / HTTP/1.1\r\n\r\n",                                                    // no Host
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                              // two Hosts
    ];
    for c in cases {
        let e = err11(c);
        assert_eq!(e.code, 400, "{:?}", String::from_utf8_lossy(c));
    }
    let e = err(b"GET / HTTP/1.0\r\nA : b\r\n\r\n");
    assert_eq!(e.message.as_deref(), Some("Bad header line ('A : b')"));
}

#[test]
fn body_framing() {
    assert_eq!(
        ok(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n").body,
        BodyFraming::Length(5)
    );
    // Repeated or listed Content-Length is refused even when the values agree (RFC 9112
    // §6.3 lets a server refuse; a proxy in front may have chosen differently).
    for bad in [
        &b"POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"[..],
        b"POST / HTTP/1.0\r\nContent-Length: 5, 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let e = parse_request(bad, &HttpConfig::default()).unwrap_err();
        assert_eq!(e.code, 400, "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").body,
        BodyFraming::Chunked
    );
    // Names with underscores are kept here (the gateway drops them from the environ).
    assert!(
        ok(b"GET / HTTP/1.0\r\nX_Auth_User: a\r\n\r\n")
            .headers
            .contains("X_Auth_User")
    );
}

#[test]
fn send_header_refuses_control_characters() {
    // RFC 9110 section 5.5: no control characters but HTAB in a field value.
    let mut out = Vec::new();
    let mut stream = socketserver::BufStream::new(std::io::Cursor::new(Vec::new()), 16, 0);
    let addr = socketserver::Address::Inet("127.0.0.1:1".parse().unwrap());
    let info = socketserver::ServerInfo::new(addr.clone());
    let config = http_server::HttpConfig::default();
    let mut ex = http_server::Exchange::new(
        &mut stream,
        socketserver::HandlerCx::new(&addr, &info),
        &config,
    );
    ex.request_version = "HTTP/1.0".to_owned();
    for bad in ["a\u{1}b", "\u{1b}[31m", "x\u{7f}"] {
        assert!(ex.send_header("X-Test", bad).is_err(), "{bad:?}");
    }
    ex.send_header("X-Tab", "a\tb").unwrap();
    out.extend_from_slice(ex.headers_buffer());
    assert_eq!(out, b"X-Tab: a\tb\r\n");
}

/// A stream whose reads time out, as a socket with `StreamRequestHandler.timeout` set does
/// when the client sends nothing.
struct TimingOut(Vec<u8>);

impl std::io::Read for TimingOut {
    fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "timed out",
        ))
    }
}

impl std::io::BufRead for TimingOut {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "timed out",
        ))
    }
    fn consume(&mut self, _amt: usize) {}
}

impl std::io::Write for TimingOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn socket_timeout_logs_request_timed_out_and_closes() {
    // CPython: BaseHTTPRequestHandler.handle_one_request's `except TimeoutError` branch.
    use std::sync::{Arc, Mutex};
    struct Quiet(Arc<Mutex<Vec<String>>>);
    impl http_server::HttpHandler for Quiet {
        fn log_message(&self, _ex: &http_server::Exchange<'_>, args: std::fmt::Arguments<'_>) {
            self.0.lock().unwrap().push(args.to_string());
        }
    }
    let logged = Arc::new(Mutex::new(Vec::new()));
    let mut handler = Quiet(logged.clone());
    let mut stream = TimingOut(Vec::new());
    let addr = socketserver::Address::Inet("127.0.0.1:1".parse().unwrap());
    let info = socketserver::ServerInfo::new(addr.clone());
    let keep = http_server::handle_one_request(
        &mut handler,
        &mut stream,
        &socketserver::HandlerCx::new(&addr, &info),
        &HttpConfig::default(),
    )
    .unwrap();
    assert!(!keep, "the connection closes after a timeout");
    assert!(stream.0.is_empty(), "nothing is sent");
    let logged = logged.lock().unwrap();
    assert_eq!(logged.len(), 1);
    assert!(logged[0].starts_with("Request timed out"), "{logged:?}");
}

/// Answers GET with `<path> <X-Seen header>`, or `-` when absent.
struct Echo;

impl http_server::HttpHandler for Echo {
    fn do_get(&mut self, ex: &mut http_server::Exchange<'_>) -> http_server::Result<()> {
        let body = format!(
            "{} {}",
            ex.path,
            ex.headers.get("X-Seen").unwrap_or_else(|| "-".to_owned())
        );
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(body.as_bytes())?;
        Ok(())
    }

    fn log_message(&self, _ex: &http_server::Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

/// A connection whose client sent `input` and then nothing: reads past it time out, as on
/// a socket with `StreamRequestHandler.timeout` set.
struct ThenTimesOut {
    input: std::io::Cursor<Vec<u8>>,
    out: Vec<u8>,
}

impl std::io::Read for ThenTimesOut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::BufRead::fill_buf(self)?.len().min(buf.len());
        let n = std::io::Read::read(&mut self.input, &mut buf[..n])?;
        Ok(n)
    }
}

impl std::io::BufRead for ThenTimesOut {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.input.position() as usize == self.input.get_ref().len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "timed out",
            ));
        }
        self.input.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.input.consume(amt);
    }
}

impl std::io::Write for ThenTimesOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn faithful_face_answers_a_bad_request_line_before_reading_header_lines() {
    // CPython's `parse_request` replies to a bad request line before it reads a header
    // line: a client that sent only that line gets its answer, not a timeout.
    for (line, code) in [
        (&b"GET / HTTP/2.0\r\n"[..], "505"),
        (b"GET / HTTP/1.x\r\n", "400"),
        (b"POST /\r\n", "400"),
        (b"GET / x HTTP/1.0\r\n", "400"),
    ] {
        let mut stream = ThenTimesOut {
            input: std::io::Cursor::new(line.to_vec()),
            out: Vec::new(),
        };
        let addr = socketserver::Address::Inet("127.0.0.1:1".parse().unwrap());
        let info = socketserver::ServerInfo::new(addr.clone());
        let keep = http_server::handle_one_request(
            &mut Echo,
            &mut stream,
            &socketserver::HandlerCx::new(&addr, &info),
            &HttpConfig::default(),
        )
        .unwrap();
        let out = String::from_utf8_lossy(&stream.out);
        assert!(!keep, "{line:?}");
        assert!(
            out.starts_with(&format!("HTTP/1.0 {code} ")),
            "{line:?}: {out}"
        );
    }
}

#[test]
fn faithful_face_serves_a_head_cut_by_the_end_of_the_stream() {
    // `http.client.parse_headers` stops at the end of the stream: a request line or a last
    // header line without its line end is served as it is, within the limits as sent.
    let long_path = format!("/{}", "a".repeat(65536 - "GET / HTTP/1.0".len()));
    let long_value = "v".repeat(65536 - "X-Seen: ".len());
    for (input, body) in [
        ("GET /a HTTP/1.0".to_owned(), "/a -".to_owned()),
        ("GET /b HTTP/1.0\r\nX-Seen: 1".to_owned(), "/b 1".to_owned()),
        (
            "GET /c HTTP/1.0\r\nX-Seen: 2\r\n".to_owned(),
            "/c 2".to_owned(),
        ),
        (
            format!("GET {long_path} HTTP/1.0"),
            format!("{long_path} -"),
        ),
        (
            format!("GET /d HTTP/1.0\r\nX-Seen: {long_value}"),
            format!("/d {long_value}"),
        ),
    ] {
        assert!(input.lines().all(|l| l.len() <= 65536));
        let t = http_server::testing::run(&mut Echo, input.as_bytes());
        assert_eq!(t.statuses(), [200], "{}", &input[..input.len().min(40)]);
        assert_eq!(t.responses[0].body, body.as_bytes());
    }
}
