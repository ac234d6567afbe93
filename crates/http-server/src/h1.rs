//! HTTP/1.1 on the production event loops: [`HttpProtocol`] frames requests for
//! `socketserver::evloop` and serves each with an [`HttpHandler`](crate::HttpHandler).
//!
//! Python: no equivalent. CPython's `http.server` with `protocol_version = "HTTP/1.1"`
//! keeps a thread blocked on each connection's `rfile`; here the event loop frames each
//! request without blocking (head, then body, `Content-Length` or chunked), and only then
//! runs the very same handler ([`handle_parsed_request`](crate::handle_parsed_request)) over the buffered bytes.
//!
//! What the protocol adds around the handler:
//! - **Bodies**: `Content-Length` bodies are handed over as they came; chunked bodies are
//!   decoded ([`ChunkedDecoder`]: extensions checked, then ignored; trailers bounded and
//!   discarded) and the handler sees `Content-Length: <decoded length>` in place of
//!   `Transfer-Encoding`, so `rfile` (and `wsgi.input`) end exactly where the body ends.
//! - **`Expect: 100-continue`**: when the body has not arrived yet, the loop sends
//!   `HTTP/1.1 100 Continue` itself (once), before buffering it; an expectation it does not
//!   know gets 417.
//! - **Response framing is enforced** ([`crate::framing`] decides it once, from the head
//!   the handler's [`Exchange`](crate::Exchange) recorded, or from httparse's reading of a
//!   head the handler wrote as bytes): a response that declares a `Content-Length` and
//!   carries a different number of bytes is cut or closed (logged as an error), and a
//!   keep-alive response that gives the client no way to find its end is followed by a close,
//!   so a connection never desynchronises. During a graceful shutdown `Connection: close` is
//!   added to the last response.
//! - **Streaming**: the handler writes into the loop's buffer, which goes out when it
//!   returns; a flush of its stream (`ex.stream().flush()`) sends what it wrote so far
//!   through the loop's [`Sink`] at once (the WSGI gateway flushes after each chunk of a body
//!   whose length is not known). A response sent in part can no longer be checked whole:
//!   its connection stays open only when its body is chunked and the handler finished
//!   without error.
//! - **Panics**: a handler that panics before its response is complete gets a 500 and the
//!   connection closes; the loop goes on.

use std::cell::Cell;
use std::io::{self, BufRead, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use socketserver::evloop::{Abort, Frame, Protocol, ServeCx, Served};
use socketserver::{HandlerCx, Sink};

use crate::framing::{WrittenHead, check_response, streamed_keeps_alive};
use crate::h1::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits};
use crate::handler::serve_parsed;
use crate::server::MakeHandler;
use crate::{
    BodyFraming, HttpConfig, HttpError, Parsed, RequestHead, RequestLine, parse_request,
    parse_request_line, reply_parse_error,
};

pub mod chunked;

/// Limits of [`HttpProtocol`] beyond those of [`HttpConfig`].
///
/// Python: no equivalent (CPython has no body limits).
#[derive(Debug, Clone)]
pub struct H1Limits {
    /// Largest request body (`Content-Length` or decoded chunked); larger gets 413.
    /// The event loop's `max_request_bytes` must leave room for it. Default: 1 MiB - 64 KiB.
    pub max_body: u64,
    /// Chunk-size line and trailer limits.
    pub chunked: ChunkedLimits,
}

impl Default for H1Limits {
    fn default() -> Self {
        H1Limits {
            max_body: (1 << 20) - (64 << 10),
            chunked: ChunkedLimits {
                max_body: (1 << 20) - (64 << 10),
                ..ChunkedLimits::default()
            },
        }
    }
}

/// Serves [`HttpHandler`](crate::HttpHandler)s over `socketserver::evloop`: HTTP/1.1 keep-alive and pipelining,
/// `Content-Length` and chunked bodies, `100 Continue`.
///
/// `factory` makes a fresh handler per request, as Python makes a handler instance per
/// connection. The handler's [`HttpConfig::protocol_version`] should be `HTTP/1.1`
/// (otherwise every response closes its connection, as in CPython).
///
/// Python: no equivalent; the production face of `http.server.ThreadingHTTPServer` with
/// `protocol_version = "HTTP/1.1"`.
pub struct HttpProtocol<F> {
    factory: F,
    config: Arc<HttpConfig>,
    limits: H1Limits,
    max_head: usize,
    allow_connect: bool,
}

/// How long a listener of the production face defers accepting a connection that has sent
/// nothing yet (`TCP_DEFER_ACCEPT`, see `socketserver::evloop::set_defer_accept`): HTTP
/// clients speak first, so a new connection wakes its loop once, with its request. A client
/// that stays silent is accepted after about a second and then has
/// `EventLoopConfig::idle_timeout`, as a fresh connection always had (`request_timeout`
/// counts from a request's first byte).
///
/// Measured (`wrk -t1 -c50 -H "Connection: close"`, server and wrk on one core each):
/// 53k instead of 45k connections a second, the client's share of waking the server falling
/// with it.
///
/// Python: no equivalent.
pub const DEFER_ACCEPT: std::time::Duration = std::time::Duration::from_secs(1);

/// Default of [`HttpProtocol::max_head`]: 256 KiB.
pub const DEFAULT_MAX_HEAD: usize = 256 << 10;

impl<F> std::fmt::Debug for HttpProtocol<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProtocol")
            .field("config", &self.config)
            .field("limits", &self.limits)
            .field("max_head", &self.max_head)
            .field("allow_connect", &self.allow_connect)
            .finish_non_exhaustive()
    }
}

impl<F> HttpProtocol<F>
where
    F: MakeHandler + 'static,
{
    /// A protocol making handlers with `factory`, configured by `config`.
    pub fn new(factory: F, config: HttpConfig) -> Self {
        HttpProtocol {
            factory,
            config: Arc::new(config),
            limits: H1Limits::default(),
            max_head: DEFAULT_MAX_HEAD,
            allow_connect: false,
        }
    }

    /// Sets the largest request head (request line and header fields, in bytes); a larger
    /// one gets 431 and a close. Default: [`DEFAULT_MAX_HEAD`]. The per-line and per-count
    /// limits are [`HttpConfig::max_line`] and [`HttpConfig::max_headers`].
    pub fn max_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes;
        self
    }

    /// Lets `CONNECT` requests reach the handler (its `do_CONNECT`). By default they get
    /// 501 and a close: an origin server must not answer `CONNECT` with a 2xx it cannot
    /// honour (RFC 9110 §9.3.6), and this protocol never turns a connection into a tunnel.
    pub fn allow_connect(mut self, allow: bool) -> Self {
        self.allow_connect = allow;
        self
    }

    /// The rules of [`check_head`](Self::check_head) that look at the request line alone
    /// (so they are applied as soon as the line is in, before the rest of the head): a
    /// version of the exact form `HTTP/DIGIT.DIGIT` and not HTTP/0.9, RFC 9112's strict
    /// line (`raw`, as received, ends with one CRLF or LF: CPython's `rstrip('\r\n')`
    /// would take `GET / HTTP/1.1\r\r\n` too), `CONNECT` refused unless allowed.
    fn check_line(&self, line: &RequestLine, raw: &[u8]) -> Result<(), HttpError> {
        let unended = raw.strip_suffix(b"\n").unwrap_or(raw);
        if unended
            .strip_suffix(b"\r")
            .unwrap_or(unended)
            .ends_with(b"\r")
        {
            return Err(HttpError::new(400).message(format!(
                "Bad request syntax ({})",
                crate::py_repr(&String::from_utf8_lossy(unended))
            )));
        }
        let v = line.request_version.as_bytes();
        let strict = v.len() == 8
            && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit();
        if !strict {
            return Err(HttpError::new(400)
                .message(format!(
                    "Bad request version ({})",
                    crate::py_repr(&line.request_version)
                ))
                .explain("the version must be HTTP/DIGIT.DIGIT (RFC 9112 §2.3)"));
        }
        // HTTP/0.9 (a two-word simple request, or `HTTP/0.x`): its answer would be a bare
        // body with no status line, which no client or proxy of this face can delimit.
        if line.version < (1, 0) {
            let simple = !line.requestline.trim_end().ends_with(&line.request_version);
            return Err(if simple {
                HttpError::new(400)
                    .message(format!(
                        "Bad request syntax ({})",
                        crate::py_repr(&line.requestline)
                    ))
                    .explain("HTTP/0.9 simple requests are not served here")
            } else {
                HttpError::new(505).message(format!(
                    "Invalid HTTP version ({})",
                    &line.request_version[5..]
                ))
            });
        }
        crate::request::check_line_strict(&line.requestline, &line.command, &line.path)?;
        if line.command == "CONNECT" && !self.allow_connect {
            return Err(HttpError::new(501).message("Unsupported method ('CONNECT')"));
        }
        Ok(())
    }

    /// The rules this face adds to [`parse_request`]'s: those of
    /// [`check_line`](Self::check_line), then an absolute-form target rewritten to
    /// origin-form with its authority as the `Host` (RFC 9112 §3.2.2).
    fn check_head(&self, head: &mut RequestHead) -> Result<(), HttpError> {
        self.check_line(&head.line, &head.raw_requestline)?;
        if !head.line.path.starts_with('/') && head.line.path != "*" {
            let target = head.line.path.clone();
            let bad_target = |why: &str| {
                Err(HttpError::new(400)
                    .message(format!("Bad request target ({})", crate::py_repr(&target)))
                    .explain(why))
            };
            let lower = target.to_ascii_lowercase();
            let rest = if lower.starts_with("http://") {
                &target[7..]
            } else if lower.starts_with("https://") {
                &target[8..]
            } else if head.line.command == "CONNECT" {
                return Ok(());
            } else {
                return bad_target("an absolute-form target must be an http or https URI");
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            if authority.is_empty() || !crate::request::valid_authority(authority.as_bytes()) {
                return bad_target("the target's authority is not valid");
            }
            let mut path = match path.chars().next() {
                None => "/".to_owned(),
                Some('/') => path.to_owned(),
                Some(_) => format!("/{path}"),
            };
            if path.starts_with("//") {
                path = format!("/{}", path.trim_start_matches('/'));
            }
            head.line.path = path;
            head.headers.remove("Host");
            head.headers.push("Host", authority.as_bytes().to_vec());
        }
        Ok(())
    }

    /// Scans the new bytes of a request head: true when [`parse_request`] should look at
    /// it now (the request line just ended, the head is complete, or a limit is passed),
    /// so a head arriving a byte at a time costs linear work, not quadratic.
    fn scan_head(&self, sc: &mut HeadScan, input: &[u8]) -> bool {
        let mut parse = false;
        let mut from = sc.pos.min(input.len());
        while let Some(off) = input[from..].iter().position(|&b| b == b'\n') {
            let i = from + off;
            from = i + 1;
            sc.lines += 1;
            let len = i - sc.line_start;
            let blank = len == 0 || (len == 1 && input[i - 1] == b'\r');
            sc.line_start = i + 1;
            if sc.lines == 1 || sc.lines > self.config.max_headers + 1 {
                parse = true;
            } else if blank {
                sc.pos = i + 1;
                return true;
            }
        }
        sc.pos = input.len();
        parse || input.len() - sc.line_start > self.config.max_line || input.len() > self.max_head
    }

    /// Sets the body limits.
    pub fn limits(mut self, limits: H1Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The handlers' configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Renders an error reply (`send_error` of a fresh handler) for a request that cannot
    /// be served.
    fn error_reply(&self, cx: Option<&ServeCx<'_>>, raw_line: &[u8], e: &HttpError) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stream = MemStream::new(&[], &mut out, None);
        let fallback_addr = socketserver::Address::Unix(None);
        let fallback_info = socketserver::ServerInfo::new(fallback_addr.clone());
        let hcx = match cx {
            Some(cx) => *cx.handler(),
            None => HandlerCx::new(&fallback_addr, &fallback_info),
        };
        let mut handler = self.factory.make_handler(&hcx);
        let _ = reply_parse_error(&mut handler, &mut stream, &hcx, &self.config, raw_line, e);
        out
    }
}

/// Per-connection state of [`HttpProtocol`]: the head parsed so far and the body decoder,
/// kept between reads so a slowly arriving body is not parsed twice.
#[derive(Debug, Default)]
pub struct H1Session {
    // Boxed: every idle keep-alive connection holds a session, so it stays a few words.
    head: Option<Box<(RequestHead, usize)>>,
    /// The box of the last head served, emptied, for the next one.
    spare: Option<Box<(RequestHead, usize)>>,
    decoder: Option<Box<ChunkedDecoder>>,
    sent_continue: bool,
    /// Bytes of leading empty lines to skip (RFC 9112 §2.2).
    skip: bool,
    /// The error to answer, when framing found one (rendered in `serve`).
    rejected: Option<Box<(Vec<u8>, HttpError)>>,
    /// How far the head of the next request was scanned.
    scan: HeadScan,
}

/// Progress of [`HttpProtocol::scan_head`] over a partial head.
#[derive(Debug, Default, Clone, Copy)]
struct HeadScan {
    /// Bytes scanned.
    pos: usize,
    /// Start of the line being received.
    line_start: usize,
    /// Lines ended so far.
    lines: usize,
    /// Whether the request line was checked by [`HttpProtocol::check_line`] while the rest
    /// of the head was still to come.
    line_checked: bool,
}

fn first_line(input: &[u8]) -> &[u8] {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => &input[..=i],
        None => &input[..input.len().min(65536)],
    }
}

impl<F> Protocol for HttpProtocol<F>
where
    F: MakeHandler + 'static,
{
    type Session = H1Session;

    fn frame(&self, s: &mut H1Session, input: &[u8]) -> Frame {
        if s.head.is_none() {
            // One empty line before a request line is ignored (RFC 9112 §2.2).
            if input.starts_with(b"\r\n") || input.starts_with(b"\n") {
                s.skip = true;
                return Frame::Complete(if input[0] == b'\r' { 2 } else { 1 });
            }
            if input.len() == 1 && input[0] == b'\r' {
                return Frame::Incomplete;
            }
            // The first look at a head parses it at once: it usually arrived whole, and then
            // a scan for its end would only read it twice. (On a first look the scan would
            // call for a parse anyway once the request line is in; before that, the parse
            // finds the head partial, or past a limit, as the scan would.) Later looks scan
            // the new bytes first, so a head arriving a byte at a time costs linear work.
            let first_look = s.scan.pos == 0;
            if !first_look && !self.scan_head(&mut s.scan, input) {
                return Frame::Incomplete;
            }
            let too_large = || {
                HttpError::new(431).explain(format!(
                    "the request head is larger than {} bytes",
                    self.max_head
                ))
            };
            match parse_request(input, &self.config) {
                Ok(Parsed::Partial) if input.len() > self.max_head => {
                    return reject(s, first_line(input), too_large(), input.len());
                }
                Ok(Parsed::Partial) => {
                    if first_look {
                        // Where the scan of the next bytes starts.
                        self.scan_head(&mut s.scan, input);
                    }
                    // The request line is in, the rest of the head is not: the line's own
                    // rules are judged now, once, so a line this face refuses (an HTTP/0.9
                    // request, whose head may never end) is answered at once instead of
                    // after a blank line that may never come.
                    if s.scan.lines > 0 && !s.scan.line_checked {
                        s.scan.line_checked = true;
                        let raw = first_line(input);
                        if let Ok(Some(line)) =
                            parse_request_line(raw, &self.config.protocol_version)
                            && let Err(e) = self.check_line(&line, raw)
                        {
                            return reject(s, raw, e, input.len());
                        }
                    }
                    return Frame::Incomplete;
                }
                Ok(Parsed::Complete { consumed, .. }) if consumed > self.max_head => {
                    return reject(s, first_line(input), too_large(), input.len());
                }
                Ok(Parsed::Empty { consumed }) => {
                    // A request line of blanks: CPython closes without a reply.
                    s.skip = true;
                    let _ = consumed;
                    return Frame::Reject(Vec::new());
                }
                Ok(Parsed::Complete { mut head, consumed }) => {
                    s.scan = HeadScan::default();
                    if let Err(e) = self.check_head(&mut head) {
                        return reject(s, &head.raw_requestline, e, input.len());
                    }
                    if let Some(e) = check_lists(&mut head) {
                        return reject(s, &head.raw_requestline, e, input.len());
                    }
                    if let BodyFraming::Length(n) = head.body
                        && n > self.limits.max_body
                    {
                        return reject(s, &head.raw_requestline, HttpError::new(413), input.len());
                    }
                    if head.body == BodyFraming::Chunked {
                        s.decoder = Some(Box::new(ChunkedDecoder::new(self.limits.chunked)));
                    }
                    s.head = Some(match s.spare.take() {
                        Some(mut spare) => {
                            *spare = (head, consumed);
                            spare
                        }
                        None => Box::new((head, consumed)),
                    });
                }
                Err(e) => return reject(s, first_line(input), e, input.len()),
            }
        }
        let (head, consumed) = &**s.head.as_ref().expect("set above");
        let consumed = *consumed;
        let complete = match head.body {
            BodyFraming::None => Some(consumed),
            BodyFraming::Length(n) => {
                let total = consumed as u64 + n;
                (input.len() as u64 >= total).then_some(total as usize)
            }
            BodyFraming::Chunked => {
                let decoder = s.decoder.as_mut().expect("chunked head has a decoder");
                match decoder.feed(&input[consumed..]) {
                    Ok(Some(n)) => Some(consumed + n),
                    Ok(None) => None,
                    Err(e) => {
                        let code = if e == ChunkedError::TooLarge {
                            413
                        } else {
                            400
                        };
                        let err = HttpError::new(code).message(format!("Bad chunked body: {e}"));
                        let raw = head.raw_requestline.clone();
                        s.head = None;
                        s.decoder = None;
                        return reject(s, &raw, err, input.len());
                    }
                }
            }
        };
        match complete {
            Some(n) => Frame::Complete(n),
            None if head.expect_100 && !s.sent_continue => {
                s.sent_continue = true;
                Frame::Interim(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
            }
            None => Frame::Incomplete,
        }
    }

    fn serve(
        &self,
        s: &mut H1Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        if std::mem::take(&mut s.skip) {
            return Served::KEEP_ALIVE;
        }
        if let Some(rejected) = s.rejected.take() {
            let (raw, e) = *rejected;
            out.extend(self.error_reply(Some(cx), &raw, &e));
            return Served::CLOSE;
        }
        let Some(mut parsed) = s.head.take() else {
            return Served::CLOSE;
        };
        // Served where it lies: the exchange takes the head's buffers out of the box, which
        // then waits (emptied) for the next head.
        let (head, consumed) = &mut *parsed;
        let consumed = *consumed;
        let decoder = s.decoder.take();
        let sent_continue = std::mem::take(&mut s.sent_continue);
        let decoded;
        let body: &[u8] = match head.body {
            BodyFraming::None => &[],
            BodyFraming::Length(_) => &request[consumed..],
            BodyFraming::Chunked => {
                decoded = decoder.map(|d| d.into_decoded()).unwrap_or_default();
                head.headers.remove("Transfer-Encoding");
                head.headers
                    .push("Content-Length", decoded.len().to_string());
                head.body = BodyFraming::Length(decoded.len() as u64);
                &decoded
            }
        };
        if sent_continue {
            head.expect_100 = false;
        }
        let closing = cx.is_closing();
        if closing {
            head.close_connection = true;
        }
        let is_head = head.line.command == "HEAD";
        // The request line for an error reply: the framed request starts with it.
        let raw_line = first_line(request);
        let start = out.len();
        let hcx = *cx.handler();
        let probe = Cell::new(start);
        let mut written = None;
        // The loop's sink, counting the bytes a handler sends with `send_file` (they never
        // enter the buffer): a response of known length sent so keeps its connection.
        let files = hcx.sink().map(|inner| FileBytes {
            inner,
            sent: AtomicU64::new(0),
        });
        let hcx = match &files {
            Some(f) => hcx.with_sink(f),
            None => hcx,
        };
        let mut stream = MemStream::new(body, &mut *out, hcx.sink()).with_probe(&probe);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = self.factory.make_handler(&hcx);
            serve_parsed(
                &mut handler,
                &mut stream,
                Some(&probe),
                &hcx,
                &self.config,
                head,
            )
        }));
        // What the handler's flushes sent out of the buffer (earlier responses still
        // buffered included): nothing on the usual path.
        let removed = stream.removed;
        let keep_alive = match outcome {
            Ok(Ok((keep, head))) => {
                written = head;
                keep
            }
            Ok(Err(e)) => {
                tracing::error!(client = %hcx.client_address, error = %e, "error serving request");
                if removed == 0 && out.len() == start {
                    let err = HttpError::new(500);
                    out.extend(self.error_reply(Some(cx), raw_line, &err));
                }
                false
            }
            Err(payload) => {
                let msg = socketserver::Error::from_panic(&*payload);
                tracing::error!(client = %hcx.client_address, error = %msg, "request handler panicked");
                if removed == 0 {
                    out.truncate(start);
                    out.extend(self.error_reply(Some(cx), raw_line, &HttpError::new(500)));
                } else {
                    // Its head went out already: the unsent rest is dropped, and the close
                    // tells the client the response is cut.
                    out.clear();
                }
                return Served::CLOSE;
            }
        };
        s.spare = Some(parsed);
        let keep_alive = keep_alive && !closing;
        let keep_alive = if removed == 0 {
            check_response(out, start, written, is_head, keep_alive)
        } else {
            // Positions the exchange noted count the bytes sent out of the buffer too.
            match written {
                // The final head was written after the last send (what went out was an
                // interim `100 Continue`): the response is all in the buffer, checked as usual.
                Some(w) if w.at >= removed => {
                    let at = w.at - removed;
                    check_response(out, at, Some(WrittenHead { at, ..w }), is_head, keep_alive)
                }
                Some(w) => {
                    // This response's body: what the stream took after its head, and the
                    // file bytes sent beside it.
                    let in_stream = (removed + out.len()).saturating_sub(w.at + w.len) as u64;
                    let file = files.as_ref().map_or(0, |f| f.sent.load(Ordering::Relaxed));
                    keep_alive && streamed_keeps_alive(&w, is_head, in_stream + file)
                }
                None => false,
            }
        };
        if keep_alive {
            Served::KEEP_ALIVE
        } else {
            Served::CLOSE
        }
    }

    fn abort(&self, s: &mut H1Session, input: &[u8], why: Abort) -> Vec<u8> {
        let raw = s
            .head
            .as_ref()
            .map(|p| p.0.raw_requestline.clone())
            .unwrap_or_else(|| first_line(input).to_vec());
        let code = match why {
            Abort::RequestTimeout => 408,
            Abort::TooLarge => 413,
            _ => 503,
        };
        if input.is_empty() {
            return Vec::new();
        }
        self.error_reply(None, &raw, &HttpError::new(code))
    }
}

/// Records an error for `serve` to answer (with the client's address in its log line) and
/// frames all buffered input as the bad request: nothing after it is parsed.
fn reject(s: &mut H1Session, raw_line: &[u8], e: HttpError, len: usize) -> Frame {
    s.head = None;
    s.decoder = None;
    s.scan = HeadScan::default();
    s.rejected = Some(Box::new((raw_line.to_vec(), e)));
    Frame::Complete(len.max(1))
}

/// An unknown expectation gets 417 (RFC 9110 §10.1.1).
/// `Expect` and `Connection` read as the lists they are, in one pass over the fields
/// (RFC 9110 §5.6.1: empty elements do not count).
///
/// - `Expect` (§10.1.1, `#expectation`): `100-continue` is the one expectation served (the
///   request then waits for `100 Continue`, as with an exact `100-continue`); any other
///   member gets 417.
/// - `Connection` (§7.6.1): a `close` option anywhere in the list, or in a field of its
///   own, closes the connection after the response (RFC 9112 §9.6: the server "MUST
///   initiate a close"). CPython, and so the faithful face, only sees a field whose whole
///   value is `close`.
fn check_lists(head: &mut RequestHead) -> Option<HttpError> {
    fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
        value
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|e| !e.is_empty())
    }
    let mut continue_100 = false;
    let mut close = false;
    for (name, value) in head.headers.iter() {
        if name.eq_ignore_ascii_case("Expect") {
            for element in elements(value) {
                if !element.eq_ignore_ascii_case(b"100-continue") {
                    return Some(HttpError::new(417));
                }
                continue_100 = true;
            }
        } else if name.eq_ignore_ascii_case("Connection") && !close {
            close = elements(value).any(|option| option.eq_ignore_ascii_case(b"close"));
        }
    }
    if continue_100 && head.line.version >= (1, 1) {
        head.expect_100 = true;
    }
    if close {
        head.close_connection = true;
    }
    None
}

/// The loop's [`Sink`], counting the bytes sent with [`Sink::send_file`].
struct FileBytes<'a> {
    inner: &'a dyn Sink,
    sent: AtomicU64,
}

impl Sink for FileBytes<'_> {
    fn send(&self, out: &mut Vec<u8>) -> io::Result<()> {
        self.inner.send(out)
    }

    fn send_file(
        &self,
        out: &mut Vec<u8>,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> io::Result<u64> {
        let sent = self.inner.send_file(out, file, offset, len)?;
        self.sent.fetch_add(sent, Ordering::Relaxed);
        Ok(sent)
    }
}

/// A request's buffered body as `rfile` and the response buffer as `wfile` (also the
/// in-memory connection of [`testing`](crate::testing)).
pub(crate) struct MemStream<'a> {
    input: &'a [u8],
    /// Bytes of `input` read so far.
    pub(crate) pos: usize,
    pub(crate) out: &'a mut Vec<u8>,
    /// The stream position after each write (the response buffer's length plus the bytes
    /// sent out of it), for the [`Exchange`] to read.
    ///
    /// [`Exchange`]: crate::Exchange
    written: Option<&'a Cell<usize>>,
    /// Where a flush sends the buffer while the handler runs (the event loop's sink).
    sink: Option<&'a dyn Sink>,
    /// Bytes taken out of the buffer by sends (earlier responses' included): the stream
    /// position of the buffer's first byte.
    removed: usize,
    /// The buffer's length when this response began, 0 after a send: `out[mark..]` is what
    /// a flush has to send of it.
    mark: usize,
}

impl<'a> MemStream<'a> {
    /// A stream reading `input` and writing to `out`, which its flushes send through
    /// `sink` when there is one.
    pub(crate) fn new(input: &'a [u8], out: &'a mut Vec<u8>, sink: Option<&'a dyn Sink>) -> Self {
        let mark = out.len();
        MemStream {
            input,
            pos: 0,
            out,
            written: None,
            sink,
            removed: 0,
            mark,
        }
    }

    /// Keeps `written` at the stream position.
    fn with_probe(mut self, written: &'a Cell<usize>) -> Self {
        written.set(self.out.len());
        self.written = Some(written);
        self
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.input.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for MemStream<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.input[self.pos..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.input.len());
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        if let Some(w) = self.written {
            w.set(self.removed + self.out.len());
        }
        Ok(buf.len())
    }

    /// Sends what this response wrote since the last flush through the sink, when there is
    /// one and something to send; else nothing (the loop sends the buffer when the handler
    /// returns).
    fn flush(&mut self) -> io::Result<()> {
        let Some(sink) = self.sink else {
            return Ok(());
        };
        if self.out.len() == self.mark {
            return Ok(());
        }
        self.removed += self.out.len();
        self.mark = 0;
        // The sink empties the buffer, also when it fails.
        sink.send(self.out)
    }
}
