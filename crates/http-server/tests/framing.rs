//! Strict request framing (RFC 9112 §2-§7, RFC 9110 §5, §9), one test per rule, each checked
//! over `parse_request` (the faithful face's parser) and through `h1::HttpProtocol` (the
//! production face, framed and served as the event loop does, whole and a byte at a time).
//!
//! Every rejected request is followed by a pipelined `GET /smuggled`: after a framing error
//! the connection closes and nothing after the bad request is ever served.
//! The helpers here are shared with `advisories.rs` and `props.rs`.

use http_server::h1::HttpProtocol;
use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits};
use http_server::{Exchange, HttpConfig, HttpError, HttpHandler, Parsed, Result, parse_request};
use socketserver::evloop::{Frame, Protocol, ServeCx, Served};
use socketserver::{Address, HandlerCx, ServerInfo};

/// GET and HEAD answer `hello <path> host=<Host>`; POST and PUT echo `<length>:<body>`;
/// OPTIONS and CONNECT answer 200 with `Content-Length: 0`.
pub(crate) struct Echo;

impl Echo {
    fn reply(&mut self, ex: &mut Exchange<'_>, body: &[u8]) -> Result<()> {
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        if ex.command != "HEAD" {
            ex.wfile().write_all(body)?;
        }
        Ok(())
    }
}

impl HttpHandler for Echo {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let host = ex.headers.get("Host").unwrap_or_default();
        let body = format!("hello {} host={host}", ex.path);
        self.reply(ex, body.as_bytes())
    }

    fn do_head(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.do_get(ex)
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let declared = ex.headers.get("Content-Length").unwrap_or_default();
        let mut body = declared.into_bytes();
        body.push(b':');
        ex.rfile().read_to_end(&mut body)?;
        self.reply(ex, &body)
    }

    fn do_put(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.do_post(ex)
    }

    fn do_options(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.reply(ex, b"")
    }

    fn do_connect(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.reply(ex, b"")
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

pub(crate) type EchoProtocol = HttpProtocol<fn(&HandlerCx<'_>) -> Echo>;

/// The production face's protocol over [`Echo`] (HTTP/1.1, default limits).
pub(crate) fn protocol_with(config: HttpConfig) -> EchoProtocol {
    HttpProtocol::new(
        (|_: &HandlerCx<'_>| Echo) as fn(&HandlerCx<'_>) -> Echo,
        config.protocol_version("HTTP/1.1"),
    )
}

pub(crate) fn protocol() -> EchoProtocol {
    protocol_with(HttpConfig::default())
}

/// Drives a protocol as the event loop does (frame, then serve each complete request), with
/// all of `input` buffered at once. Returns the bytes sent and whether the connection is
/// still open.
pub(crate) fn drive<P: Protocol>(p: &P, input: &[u8]) -> (Vec<u8>, bool) {
    drive_steps(p, input, input.len().max(1))
}

/// Like [`drive`], but the input arrives `step` bytes at a time (frame is called after each
/// arrival, as after each read).
pub(crate) fn drive_steps<P: Protocol>(p: &P, input: &[u8], step: usize) -> (Vec<u8>, bool) {
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:80".parse().unwrap()));
    let cx = ServeCx::new(HandlerCx::new(&addr, &info));
    let mut session = P::Session::default();
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut interims = 0;
    // Bounded: every round either feeds bytes or consumes at least one.
    for _ in 0..(input.len() * 4 + 64) {
        if buf.is_empty() || interims > 0 {
            if fed == input.len() {
                return (out, true);
            }
            let end = (fed + step).min(input.len());
            buf.extend_from_slice(&input[fed..end]);
            fed = end;
            interims = 0;
        }
        loop {
            if buf.is_empty() {
                break;
            }
            match p.frame(&mut session, &buf) {
                Frame::Incomplete => {
                    if fed == input.len() {
                        return (out, true);
                    }
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Frame::Interim(bytes) => {
                    out.extend(bytes);
                    interims += 1;
                    assert!(interims < 8, "interim answers without progress");
                }
                Frame::Reject(bytes) => {
                    out.extend(bytes);
                    return (out, false);
                }
                Frame::Complete(n) => {
                    assert!(n > 0 && n <= buf.len(), "frame length {n} of {}", buf.len());
                    interims = 0;
                    let served = p.serve(&mut session, &buf[..n], &mut out, &cx);
                    buf.drain(..n);
                    if served == Served::CLOSE {
                        return (out, false);
                    }
                }
            }
        }
    }
    panic!("protocol made no progress");
}

/// One response read back from the bytes sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the bytes sent into responses (interim 1xx ones skipped), framing each body by its
/// `Content-Length`, chunked coding, or the end of the output. Panics on anything a client
/// could not read: the server must only ever send well-formed responses.
#[track_caller]
pub(crate) fn responses(out: &[u8], head_requests: usize) -> Vec<Resp> {
    try_responses(out, head_requests)
        .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(out)))
}

/// [`responses`], saying what is wrong instead of panicking; the first `head_requests`
/// final responses answer HEAD requests (no body whatever their headers say).
pub(crate) fn try_responses(
    out: &[u8],
    head_requests: usize,
) -> std::result::Result<Vec<Resp>, String> {
    let mut rs = Vec::new();
    let mut pos = 0;
    let mut heads_left = head_requests;
    while pos < out.len() {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hs);
        let n = match r.parse(&out[pos..]) {
            Ok(httparse::Status::Complete(n)) => n,
            other => return Err(format!("unreadable response at {pos}: {other:?}")),
        };
        let status = r.code.unwrap_or(0);
        let headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        pos += n;
        if (100..200).contains(&status) {
            continue;
        }
        let resp_len = match headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            Some((_, v)) => Some(
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {v:?}"))?,
            ),
            None => None,
        };
        let chunked = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if heads_left > 0 {
            heads_left -= 1;
            Vec::new()
        } else if status == 204 || status == 304 {
            Vec::new()
        } else if let Some(len) = resp_len {
            if pos + len > out.len() {
                return Err(format!("truncated body: {len} declared"));
            }
            let b = out[pos..pos + len].to_vec();
            pos += len;
            b
        } else if chunked {
            let mut d = ChunkedDecoder::new(ChunkedLimits {
                max_body: u64::MAX,
                ..ChunkedLimits::default()
            });
            match d.feed(&out[pos..]) {
                Ok(Some(used)) => pos += used,
                other => return Err(format!("bad chunked body: {other:?}")),
            }
            d.into_decoded()
        } else {
            let b = out[pos..].to_vec();
            pos = out.len();
            b
        };
        rs.push(Resp {
            status,
            headers,
            body,
        });
    }
    Ok(rs)
}

pub(crate) const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// Asserts the production face answers `bad` (followed by a pipelined request) with exactly
/// one `code` response and a close, whole and one byte at a time.
#[track_caller]
pub(crate) fn assert_h1_rejects(p: &EchoProtocol, bad: &[u8], code: u16) {
    let mut input = bad.to_vec();
    input.extend_from_slice(SMUGGLED);
    for step in [input.len(), 1, 7] {
        let (out, open) = drive_steps(p, &input, step);
        let rs = responses(&out, 0);
        let shown = String::from_utf8_lossy(bad);
        assert_eq!(rs.len(), 1, "{shown:?} (step {step}): {rs:?}");
        assert_eq!(rs[0].status, code, "{shown:?} (step {step}): {rs:?}");
        assert!(!open, "{shown:?} (step {step}): the connection must close");
        assert_eq!(rs[0].header("Connection"), Some("close"), "{shown:?}");
        assert!(
            !String::from_utf8_lossy(&out).contains("hello /smuggled"),
            "{shown:?}"
        );
    }
}

/// Asserts the production face serves `good` with one 200 (whole and a byte at a time),
/// keeps the connection open, and then serves a pipelined request; returns the response.
#[track_caller]
pub(crate) fn assert_h1_serves(p: &EchoProtocol, good: &[u8]) -> Resp {
    let mut input = good.to_vec();
    input.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut first = None;
    for step in [input.len(), 1, 5] {
        let (out, open) = drive_steps(p, &input, step);
        let rs = responses(&out, 0);
        let shown = String::from_utf8_lossy(good);
        assert_eq!(rs.len(), 2, "{shown:?} (step {step}): {rs:?}");
        assert_eq!(rs[0].status, 200, "{shown:?} (step {step}): {rs:?}");
        assert_eq!(rs[1].body, b"hello /next host=x", "{shown:?} (step {step})");
        assert!(open, "{shown:?} (step {step})");
        first.get_or_insert(rs[0].clone());
    }
    first.unwrap()
}

pub(crate) fn cfg11() -> HttpConfig {
    HttpConfig::default().protocol_version("HTTP/1.1")
}

/// `parse_request`'s error code for `input` (faithful face rules).
#[track_caller]
pub(crate) fn parse_err(input: &[u8]) -> HttpError {
    match parse_request(input, &cfg11()) {
        Err(e) => e,
        Ok(other) => panic!("{:?} parsed: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// `parse_request` accepts `input` as one complete head.
#[track_caller]
pub(crate) fn parse_ok(input: &[u8]) -> http_server::RequestHead {
    match parse_request(input, &cfg11()) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// Both faces refuse each input with `code`.
#[track_caller]
fn both_reject(cases: &[&[u8]], code: u16) {
    let p = protocol();
    for c in cases {
        assert_eq!(
            parse_err(c).code,
            code,
            "parse_request: {:?}",
            String::from_utf8_lossy(c)
        );
        assert_h1_rejects(&p, c, code);
    }
}

/// Only the production face refuses each input with `code`; the faithful parser accepts it,
/// as CPython does (its behaviour is pinned by the CPython test ports).
#[track_caller]
fn production_rejects(cases: &[&[u8]], code: u16) {
    let p = protocol();
    for c in cases {
        parse_ok(c);
        assert_h1_rejects(&p, c, code);
    }
}

// --- Body framing: Content-Length and Transfer-Encoding (RFC 9112 §6) ---

#[test]
fn content_length_with_transfer_encoding() {
    both_reject(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn duplicate_or_conflicting_content_length() {
    both_reject(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 0\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3,0\r\n\r\nabc",
        ],
        400,
    );
}

#[test]
fn content_length_not_plain_digits() {
    both_reject(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3_0\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \xd9\xa3\r\n\r\nabc",
        ],
        400,
    );
    // Optional whitespace around the value is not part of it (RFC 9110 §5.5).
    let r = assert_h1_serves(
        &protocol(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  3 \t\r\n\r\nabc",
    );
    assert_eq!(r.body, b"3:abc");
}

#[test]
fn transfer_encoding_other_than_a_final_chunked() {
    both_reject(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0cchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
    // Case and optional whitespace do not matter.
    let r = assert_h1_serves(
        &protocol(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \tChunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(r.body, b"3:abc");
}

#[test]
fn transfer_encoding_on_http10() {
    both_reject(
        &[b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
        400,
    );
}

// --- The chunked coding (RFC 9112 §7.1) ---

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut r = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    r.extend_from_slice(body);
    r
}

#[test]
fn chunk_size_not_bare_hex() {
    let p = protocol();
    for body in [
        &b"+3\r\nabc\r\n0\r\n\r\n"[..],
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b" 3\r\nabc\r\n0\r\n\r\n",
        b"3 \r\nabc\r\n0\r\n\r\n",
        b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n",
        b"\r\nabc\r\n0\r\n\r\n",
        b"3\nabc\r\n0\r\n\r\n",
        b"g\r\nabc\r\n0\r\n\r\n",
    ] {
        assert_h1_rejects(&p, &chunked(body), 400);
    }
    // Overflow: more hex digits than a u64 holds, or a size beyond the body limit.
    assert_h1_rejects(&p, &chunked(b"10000000000000000\r\nabc\r\n0\r\n\r\n"), 400);
    assert_h1_rejects(&p, &chunked(b"FFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"), 413);
}

#[test]
fn missing_crlf_after_chunk_data() {
    let p = protocol();
    for body in [
        &b"3\r\nabcd\r\n0\r\n\r\n"[..],
        b"3\r\nabc0\r\n\r\n",
        b"3\r\nabc\n0\r\n\r\n",
        b"3\r\nabc\rX0\r\n\r\n",
    ] {
        assert_h1_rejects(&p, &chunked(body), 400);
    }
}

#[test]
fn oversized_chunk_extensions_or_trailers() {
    let p = protocol();
    let mut ext = b"3;".to_vec();
    ext.extend(std::iter::repeat_n(b'x', 5000));
    ext.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
    assert_h1_rejects(&p, &chunked(&ext), 400);
    let mut trailers = b"3\r\nabc\r\n0\r\n".to_vec();
    for i in 0..1000 {
        trailers.extend_from_slice(format!("X-T{i}: aaaaaaaaaaaaaaaaaaaa\r\n").as_bytes());
    }
    trailers.extend_from_slice(b"\r\n");
    assert_h1_rejects(&p, &chunked(&trailers), 400);
    // Malformed trailers: no colon, a bare CR, obs-fold.
    for body in [
        &b"0\r\nno colon\r\n\r\n"[..],
        b"0\r\nX: a\rb\r\n\r\n",
        b"0\r\n x: folded\r\n\r\n",
    ] {
        assert_h1_rejects(&p, &chunked(body), 400);
    }
    // A bare CR or control byte in an extension.
    assert_h1_rejects(&p, &chunked(b"3;a=b\rc\r\nabc\r\n0\r\n\r\n"), 400);
    assert_h1_rejects(&p, &chunked(b"3;a=\x00\r\nabc\r\n0\r\n\r\n"), 400);
}

#[test]
fn chunk_extension_outside_the_rfc_grammar() {
    // RFC 9112 §7.1.1: `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )`.
    let p = protocol();
    for ext in [
        &b";"[..],
        b";;",
        b";a;",
        b";=b",
        b";a=",
        b";a=b ",
        b";a b",
        b";a=b,c",
        b";a=\"unterminated",
        b";a=\"x\x01\"",
        b";a\x7f",
        b";a=\x0c",
    ] {
        let mut body = b"3".to_vec();
        body.extend_from_slice(ext);
        body.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_h1_rejects(&p, &chunked(&body), 400);
    }
    for ext in [&b";a"[..], b" ; a = b ; c", b";a=\"q \\\" d\""] {
        let mut body = b"3".to_vec();
        body.extend_from_slice(ext);
        body.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_eq!(assert_h1_serves(&p, &chunked(&body)).body, b"3:abc");
    }
}

// --- Header fields (RFC 9112 §5, RFC 9110 §5) ---

#[test]
fn whitespace_between_name_and_colon() {
    both_reject(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost\x0b: x\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn empty_header_name() {
    both_reject(
        &[
            b"GET / HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n:\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn control_bytes_in_names_or_values() {
    both_reject(
        &[
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A\x00: v\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v\x00w\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v\rw\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A\r: v\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v\x01w\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v\x1bw\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: v\x7fw\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX\x01A: v\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX A: v\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX(A): v\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX\xe9: v\r\n\r\n",
        ],
        400,
    );
    // HTAB and obs-text are allowed in values.
    let r = assert_h1_serves(
        &protocol(),
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\n\r\n",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn obs_fold() {
    both_reject(
        &[
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
            b"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn header_line_without_colon() {
    both_reject(
        &[
            b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A v\r\n\r\n",
        ],
        400,
    );
}

// --- Host (RFC 9112 §3.2, RFC 9110 §7.2) ---

#[test]
fn http11_needs_exactly_one_valid_host() {
    both_reject(
        &[
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
        ],
        400,
    );
    let p = protocol();
    for ok in [
        &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a%41b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: \r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        parse_ok(ok);
        assert_h1_serves(&p, ok);
    }
}

// --- The request line (RFC 9112 §3) ---

#[test]
fn authority_form_outside_connect() {
    production_rejects(
        &[
            b"GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST [::1]:80 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ],
        400,
    );
    // CONNECT with anything but authority-form.
    production_rejects(&[b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n"], 400);
}

#[test]
fn asterisk_outside_options() {
    production_rejects(
        &[
            b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ],
        400,
    );
    assert_h1_serves(&protocol(), b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
}

#[test]
fn target_in_no_form() {
    // `GET test HTTP/1.0` serves `test` in CPython (test_path_without_leading_slash).
    production_rejects(
        &[
            b"GET test HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET .. HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET ../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET file:///etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET http://user@evil/ HTTP/1.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
    // Four words: both faces refuse it.
    both_reject(&[b"GET http://a b/ HTTP/1.1\r\nHost: x\r\n\r\n"], 400);
}

#[test]
fn method_not_a_token() {
    production_rejects(
        &[
            b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET\x7f / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"G\xe9T / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\"GET\" / HTTP/1.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn control_bytes_or_spaces_in_target() {
    // Spaces (and a bare CR, which CPython splits on) make four words: 400 in CPython too.
    both_reject(
        &[
            b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
    // Control bytes CPython lets through (it logs them escaped).
    production_rejects(
        &[
            b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
            // Whitespace controls CPython splits on, making three words.
            b"GET /a\r HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET\x0b/a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a\x0cHTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a \x1cHTTP/1.1\r\nHost: x\r\n\r\n",
            // A bare CR before the line's CRLF (CPython's `rstrip('\r\n')` drops it).
            b"GET / HTTP/1.1\r\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\r\r\nHost: x\r\n\r\n",
        ],
        400,
    );
    // A bare LF ends the line (RFC 9112 §2.2 lets a recipient take it).
    assert_h1_serves(&protocol(), b"GET / HTTP/1.1\nHost: x\r\n\r\n");
}

#[test]
fn an_error_page_is_sent_whole_unless_the_line_starts_with_head() {
    // CPython's `split()` finds `HEAD` in a line that starts with a CR; this face refuses
    // such a line (a control byte), and a method the line does not start with is none a
    // client meant: the error page goes out whole, as its Content-Length says (it was cut
    // as a HEAD's answer would be; found by the h1_request fuzz target).
    production_rejects(&[b"\rHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"], 400);
    assert_h1_rejects(&protocol(), b"\r\r\rHEAD\r\r+\r\rHTTP/1.9\r\r\r\n\r\n", 400);
    // A line that starts with HEAD keeps HEAD's rule: the page's length, no body.
    let bad = b"HEAD /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n";
    for step in [bad.len(), 1] {
        let (out, open) = drive_steps(&protocol(), bad, step);
        let rs = responses(&out, 1);
        assert_eq!(rs.len(), 1, "{rs:?}");
        assert_eq!(rs[0].status, 400);
        assert!(rs[0].body.is_empty() && rs[0].header("Content-Length").is_some());
        assert!(!open);
        assert!(!out.ends_with(b"</html>\n"));
    }
}

#[test]
fn version_not_http_digit_dot_digit() {
    both_reject(
        &[
            b"GET / HTTP/1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1.1\r\nHost: x\r\n\r\n",
            b"GET / http/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/+1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1a\r\nHost: x\r\n\r\n",
            b"GET / HTTPS/1.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
    // CPython takes 1 to 10 digits per part: the faithful face keeps that.
    production_rejects(
        &[
            b"GET / HTTP/01.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.01\r\nHost: x\r\n\r\n",
            b"GET / HTTP/0000000001.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
    // 2.0 and above: 505 on both faces.
    both_reject(
        &[
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            b"GET / HTTP/3.0\r\n\r\n",
        ],
        505,
    );
}

#[test]
fn http09_is_refused_by_the_production_face() {
    // Found by the `any_bytes_get_responses_or_a_close` property: `GET /!HTTP/1.1` is a
    // two-word HTTP/0.9 simple request, whose answer (as CPython gives it) is a bare body that
    // no HTTP/1.x client or proxy can delimit. The faithful face keeps it.
    production_rejects(
        &[b"GET /!HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /\r\n\r\n"],
        400,
    );
    production_rejects(&[b"GET / HTTP/0.9\r\n\r\n"], 505);
}

#[test]
fn request_line_refused_by_the_production_face_is_answered_before_the_head_ends() {
    // A request line this face refuses is answered as soon as it is in: an HTTP/0.9
    // request (`GET /x`, then CRLF) sends no header block, so waiting for its blank line
    // would hold the connection open unanswered. Fresh and after a keep-alive request,
    // whole and a byte at a time.
    let p = protocol();
    let first = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (line, code) in [
        (&b"GET /x\r\n"[..], 400),
        (b"GET /x\n", 400),
        (b"GET / HTTP/0.9\r\n", 505),
        (b"GET / HTTP/1.10\r\n", 400),
        (b"GET /\x01 HTTP/1.1\r\n", 400),
        (b"CONNECT a:1 HTTP/1.1\r\n", 501),
    ] {
        let shown = String::from_utf8_lossy(line);
        for keep_alive in [false, true] {
            let mut input = if keep_alive {
                first.to_vec()
            } else {
                Vec::new()
            };
            input.extend_from_slice(line);
            for step in [input.len(), 1] {
                let (out, open) = drive_steps(&p, &input, step);
                assert!(!open, "{shown:?} (step {step}): the connection must close");
                let rs = responses(&out, 0);
                let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
                let want = if keep_alive {
                    vec![200, code]
                } else {
                    vec![code]
                };
                assert_eq!(statuses, want, "{shown:?} (step {step})");
                assert_eq!(rs.last().unwrap().header("Connection"), Some("close"));
            }
        }
    }
    // A line the face accepts still waits for the rest of its head.
    let (out, open) = drive(&p, b"GET /x HTTP/1.1\r\n");
    assert!(out.is_empty() && open);
}

// --- Limits (RFC 6585 §5: 431) ---

#[test]
fn head_beyond_the_limits_gets_431() {
    // Defaults are CPython's: 99 fields pass, 100 do not; a 65537-byte header line is 431;
    // a request line over 65536 bytes is 414.
    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    many.extend(b"A: b\r\n".repeat(98));
    many.extend(b"\r\n");
    assert_eq!(parse_ok(&many).headers.len(), 99);
    assert_h1_serves(&protocol(), &many);
    let mut too_many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    too_many.extend(b"A: b\r\n".repeat(99));
    too_many.extend(b"\r\n");
    both_reject(&[&too_many], 431);
    let mut long = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 65537));
    long.extend(b"\r\n\r\n");
    both_reject(&[&long], 431);
    let mut line = b"GET /".to_vec();
    line.extend(std::iter::repeat_n(b'a', 65537));
    line.extend(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    both_reject(&[&line], 414);

    // The production face's own limits: 10,000 fields, 1 MiB lines, and the head cap.
    let mut config = HttpConfig::default();
    config.max_headers = 10_001;
    config.max_line = 1 << 20;
    let p = protocol_with(config).max_head(2 << 20);
    let mut ten_k = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    ten_k.extend(b"A: b\r\n".repeat(9_999));
    ten_k.extend(b"\r\n");
    let (out, open) = drive(&p, &ten_k);
    assert_eq!(responses(&out, 0)[0].status, 200);
    assert!(open);
    let mut over = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    over.extend(b"A: b\r\n".repeat(10_000));
    over.extend(b"\r\n");
    over.extend_from_slice(SMUGGLED);
    let (out, open) = drive(&p, &over);
    assert_eq!(responses(&out, 0).len(), 1);
    assert_eq!(responses(&out, 0)[0].status, 431);
    assert!(!open);
    let mut huge = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', (1 << 20) + 1));
    huge.extend(b"\r\n\r\n");
    let (out, open) = drive(&p, &huge);
    assert_eq!(responses(&out, 0)[0].status, 431);
    assert!(!open);
    // A head over the total cap, each line within the limits.
    let small = protocol_with({
        let mut c = HttpConfig::default();
        c.max_headers = 10_001;
        c
    })
    .max_head(4096);
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    big.extend(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(100));
    big.extend(b"\r\n");
    assert_h1_rejects(&small, &big, 431);
    // Without an end: 431 as soon as the cap is passed, not a wait for the deadline.
    let (out, open) = drive(&small, &big[..4200]);
    assert_eq!(responses(&out, 0)[0].status, 431);
    assert!(!open);
}

#[test]
fn request_line_of_65537_bytes_gets_414() {
    // CPython reads `readline(65537)` and answers 414 when more than 65536 bytes came, the
    // line ending included: 65536 bytes with the CRLF are served, 65537 are not (whether
    // the 65537th byte is the LF or not).
    let request = |total: usize, end: &[u8]| {
        let mut r = b"GET /".to_vec();
        r.extend(std::iter::repeat_n(b'a', total - 14 - end.len()));
        r.extend_from_slice(b" HTTP/1.1");
        r.extend_from_slice(end);
        r.extend_from_slice(b"Host: x\r\n\r\n");
        assert_eq!(r.iter().position(|&b| b == b'\n'), Some(total - 1));
        r
    };
    for end in [&b"\r\n"[..], b"\n"] {
        parse_ok(&request(65536, end));
        assert_h1_serves(&protocol(), &request(65536, end));
        both_reject(&[&request(65537, end), &request(65538, end)], 414);
    }
    // A smaller `max_line` moves the boundary alike.
    let config = cfg11().limits(100, 100);
    assert!(matches!(
        parse_request(&request(100, b"\r\n"), &config),
        Ok(Parsed::Complete { .. })
    ));
    assert_eq!(
        parse_request(&request(101, b"\r\n"), &config)
            .unwrap_err()
            .code,
        414
    );
    assert_eq!(
        parse_request(&request(101, b"\r\n")[..100], &config),
        Ok(Parsed::Partial)
    );
    assert_eq!(
        parse_request(&request(101, b"\r\n")[..101], &config)
            .unwrap_err()
            .code,
        414
    );
}

#[test]
fn connect_gets_501_unless_allowed() {
    let bad = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    // The faithful parser accepts it (CPython answers 501 when no do_CONNECT exists).
    parse_ok(bad);
    assert_h1_rejects(&protocol(), bad, 501);
    let allowed = protocol().allow_connect(true);
    let (out, _) = drive(&allowed, bad);
    assert_eq!(responses(&out, 0)[0].status, 200);
}

// --- What a server should accept (RFC 9112 §2.2, §3.2.2, §7.1) ---

#[test]
fn absolute_form_targets_are_accepted() {
    let p = protocol();
    let r = assert_h1_serves(
        &p,
        b"GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n",
    );
    // RFC 9112 §3.2.2: the target's authority replaces the Host header.
    assert_eq!(r.body, b"hello /a/b?c=d host=example.com:8080");
    let r = assert_h1_serves(&p, b"GET HTTPS://example.com HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"hello / host=example.com");
    let r = assert_h1_serves(
        &p,
        b"GET http://example.com//evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.body, b"hello /evil.example/ host=example.com");
    assert_eq!(
        parse_ok(b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n")
            .line
            .path,
        "http://a/b"
    );
    assert_h1_rejects(&p, b"GET http:///nohost HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    assert_h1_rejects(&p, b"GET http://a@b/ HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

#[test]
fn one_leading_empty_line_is_ignored() {
    let r = assert_h1_serves(&protocol(), b"\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"hello /a host=x");
    let r = assert_h1_serves(&protocol(), b"\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"hello /a host=x");
}

#[test]
fn bare_lf_line_ends_in_the_head() {
    let r = assert_h1_serves(&protocol(), b"GET /a HTTP/1.1\nHost: x\nX: y\n\n");
    assert_eq!(r.body, b"hello /a host=x");
    let r = assert_h1_serves(
        &protocol(),
        b"POST /a HTTP/1.1\nHost: x\nContent-Length: 2\r\n\nok",
    );
    assert_eq!(r.body, b"2:ok");
    assert_eq!(parse_ok(b"GET / HTTP/1.1\nHost: x\n\n").headers.len(), 1);
}

#[test]
fn upper_case_hex_and_extensions_in_chunks() {
    let p = protocol();
    let r = assert_h1_serves(
        &p,
        &chunked(b"A\r\n0123456789\r\nb;name=value;x=\"q s\"\r\n0123456789a\r\n0;last\r\n\r\n"),
    );
    assert_eq!(r.body, b"21:01234567890123456789a");
    let r = assert_h1_serves(
        &p,
        &chunked(b"0000F\r\n0123456789abcde\r\n0\r\nX-Trailer: 1\r\n\r\n"),
    );
    assert_eq!(r.body, b"15:0123456789abcde");
}

#[test]
fn http2_preface_gets_an_error_and_a_close() {
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_eq!(parse_err(preface).code, 505);
    let p = protocol();
    assert_h1_rejects(&p, preface, 505);
    // The first line alone is enough: no wait for more bytes.
    let (out, open) = drive(&p, b"PRI * HTTP/2.0\r\n");
    assert_eq!(responses(&out, 0)[0].status, 505);
    assert!(!open);
}

// --- The faithful face keeps CPython's behaviour ---

#[test]
fn faithful_face_keeps_cpython_rules() {
    // HTTP/0.9 simple requests.
    let h = parse_ok(b"GET /x\r\n\r\n");
    assert_eq!(h.line.request_version, "HTTP/0.9");
    // 1 to 10 digits per version part.
    assert_eq!(
        parse_ok(b"GET / HTTP/01.01\r\nHost: a\r\n\r\n")
            .line
            .version,
        (1, 1)
    );
    // A target without a leading slash, an escape in the target.
    assert_eq!(parse_ok(b"GET test HTTP/1.0\r\n\r\n").line.path, "test");
    assert_eq!(parse_ok(b"GET /\x1b HTTP/1.0\r\n\r\n").line.path, "/\x1b");
}
