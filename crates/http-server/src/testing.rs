//! A test kit: drive an [`HttpHandler`] with raw request bytes, no socket, and look at the
//! parsed responses and the log lines.
//!
//! [`run`] feeds bytes to a handler over one in-memory connection, serving requests as long as
//! the connection stays open (several keep-alive requests under `HTTP/1.1`), and returns a
//! [`Transcript`]: each [`Response`] (status, reason, headers in order, body, any interim
//! `100 Continue`), the lines the handler logged (CPython's format), and the raw output.
//! [`Harness`] sets the class attributes, client address and server facts; [`Request`]
//! builds request bytes.
//!
//! Python has no equivalent in `http.server`; its own tests use a `SocketlessRequestHandler`
//! with `BytesIO` files, which is what this does.
//!
//! # Guide
//!
//! ```
//! use http_server::testing::{Harness, Request};
//! use http_server::{Exchange, HttpConfig, HttpHandler, Result};
//!
//! #[derive(Default)]
//! struct Counter { hits: u32 }
//! impl HttpHandler for Counter {
//!     fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
//!         self.hits += 1;
//!         let body = format!("hit {}", self.hits);
//!         self.send_response(ex, 200, None)?;
//!         ex.send_header("Content-Length", &body.len().to_string())?;
//!         ex.end_headers()?;
//!         ex.wfile().write_all(body.as_bytes())?;
//!         Ok(())
//!     }
//! }
//!
//! let harness = Harness::new().config(HttpConfig::default().protocol_version("HTTP/1.1"));
//! let mut input = Request::get("/a").version("HTTP/1.1").header("Host", "x").to_bytes();
//! input.extend(Request::get("/b").version("HTTP/1.1").header("Host", "x").to_bytes());
//! input.extend(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
//! let mut handler = Counter::default();
//! let t = harness.run(&mut handler, &input);
//!
//! assert_eq!(t.statuses(), [200, 200, 501]);
//! assert_eq!(t.responses[1].body, b"hit 2");
//! assert_eq!(t.responses[2].reason, "Unsupported method ('BREW')");
//! assert_eq!(t.responses[2].header("Connection"), Some("close"));
//! assert!(t.log[1].starts_with("127.0.0.1 - - ["));
//! assert!(t.log[1].ends_with(r#""GET /b HTTP/1.1" 200 -"#));
//! assert!(t.error.is_none());
//! ```

use std::sync::{Arc, Mutex};

use socketserver::{Address, HandlerCx, ServerInfo};

use crate::{Error, HttpConfig, HttpHandler, handle_one_request};

/// Runs `handler` over `input` with the default [`Harness`].
///
/// ```
/// struct Nothing;
/// impl http_server::HttpHandler for Nothing {}
/// let t = http_server::testing::run(&mut Nothing, b"GET / HTTP/1.0\r\n\r\n");
/// assert_eq!(t.responses[0].status, 501);
/// ```
pub fn run<H: HttpHandler + ?Sized>(handler: &mut H, input: impl AsRef<[u8]>) -> Transcript {
    Harness::new().run(handler, input.as_ref())
}

/// The setting of a test connection: class attributes, client address, server facts.
#[derive(Debug, Clone)]
pub struct Harness {
    config: HttpConfig,
    client_address: Address,
    server: ServerInfo,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// Default class attributes, client `127.0.0.1:54321`, server `localhost:8000`.
    pub fn new() -> Self {
        let server_address = Address::Inet("127.0.0.1:8000".parse().expect("valid address"));
        Harness {
            config: HttpConfig::default(),
            client_address: Address::Inet("127.0.0.1:54321".parse().expect("valid address")),
            server: ServerInfo::new(server_address),
        }
    }

    /// Sets the class attributes.
    pub fn config(mut self, config: HttpConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the client address.
    pub fn client_address(mut self, address: Address) -> Self {
        self.client_address = address;
        self
    }

    /// Sets the server facts (`server_name`, `server_port`, ...).
    pub fn server(mut self, server: ServerInfo) -> Self {
        self.server = server;
        self
    }

    /// Serves the requests in `input` on one connection until it closes or the input ends.
    pub fn run<H: HttpHandler + ?Sized>(&self, handler: &mut H, input: &[u8]) -> Transcript {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let capture = Capture {
            lines: Arc::clone(&lines),
        };
        let mut output = Vec::new();
        let mut conn = crate::h1::MemStream::new(input, &mut output, None);
        let cx = HandlerCx::new(&self.client_address, &self.server);
        let mut responses = Vec::new();
        let mut error = None;
        tracing::subscriber::with_default(capture, || {
            loop {
                let before = conn.out.len();
                let outcome = handle_one_request(handler, &mut conn, &cx, &self.config);
                let chunk = &conn.out[before..];
                if !chunk.is_empty() {
                    responses.push(Response::parse(chunk));
                }
                match outcome {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        });
        let remaining = input.len() - conn.pos;
        let log = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
        Transcript {
            responses,
            log,
            output,
            unread: remaining,
            error,
        }
    }
}

/// What a test connection saw.
#[derive(Debug)]
pub struct Transcript {
    /// One entry per request that produced output, in order.
    pub responses: Vec<Response>,
    /// The lines logged through `log_message` (target `http_server::access`), in order.
    pub log: Vec<String>,
    /// Every byte the handler wrote.
    pub output: Vec<u8>,
    /// Input bytes left unread when the connection closed.
    pub unread: usize,
    /// The error a handler returned, if one did (the connection ends there).
    pub error: Option<Error>,
}

impl Transcript {
    /// The status code of each response.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }
}

/// One parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status line's version (`"HTTP/0.9"` when there was no status line).
    pub version: String,
    /// The status code (0 for an HTTP/0.9 reply, which has no status line).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields in order, as Latin-1 text.
    pub headers: Vec<(String, String)>,
    /// The body: every byte after the head, de-chunked when the response says
    /// `Transfer-Encoding: chunked` (the bytes as sent are in [`Transcript::output`]).
    pub body: Vec<u8>,
    /// Interim (1xx) responses sent before this one, such as `100 Continue`.
    pub interim: Vec<Response>,
}

impl Response {
    /// Parses the bytes a handler wrote for one request.
    pub fn parse(bytes: &[u8]) -> Response {
        let mut interim = Vec::new();
        let mut rest = bytes;
        loop {
            let Some((mut head, after)) = parse_head(rest) else {
                return Response {
                    version: "HTTP/0.9".to_owned(),
                    status: 0,
                    reason: String::new(),
                    headers: Vec::new(),
                    body: rest.to_vec(),
                    interim,
                };
            };
            rest = after;
            if (100..200).contains(&head.status) && !rest.is_empty() {
                interim.push(head);
                continue;
            }
            head.body = rest.to_vec();
            if head
                .header("Transfer-Encoding")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"))
            {
                let mut decoder =
                    crate::h1::chunked::ChunkedDecoder::new(crate::h1::chunked::ChunkedLimits {
                        max_body: u64::MAX,
                        ..Default::default()
                    });
                if let Ok(Some(_)) = decoder.feed(rest) {
                    head.body = decoder.into_decoded();
                }
            }
            head.interim = interim;
            return head;
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header names, in order.
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_head(bytes: &[u8]) -> Option<(Response, &[u8])> {
    if !bytes.starts_with(b"HTTP/") {
        return None;
    }
    let latin1 = |b: &[u8]| -> String { b.iter().map(|&c| c as char).collect() };
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let nl = bytes[pos..].iter().position(|b| *b == b'\n')? + pos;
        let line = bytes[pos..nl]
            .strip_suffix(b"\r")
            .unwrap_or(&bytes[pos..nl]);
        pos = nl + 1;
        if line.is_empty() {
            break;
        }
        lines.push(latin1(line));
    }
    let status_line = lines.first()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?.to_owned();
    let status = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_owned();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_owned(), v.trim().to_owned()))
        })
        .collect();
    Some((
        Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            interim: Vec::new(),
        },
        &bytes[pos..],
    ))
}

/// A request builder producing raw bytes.
///
/// ```
/// let bytes = http_server::testing::Request::new("POST", "/form")
///     .header("Host", "example")
///     .body("a=1")
///     .to_bytes();
/// assert_eq!(bytes, b"POST /form HTTP/1.0\r\nHost: example\r\nContent-Length: 3\r\n\r\na=1");
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A request line `METHOD target HTTP/1.0`.
    pub fn new(method: &str, target: &str) -> Self {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version: "HTTP/1.0".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target HTTP/1.0`.
    pub fn get(target: &str) -> Self {
        Request::new("GET", target)
    }

    /// `HEAD target HTTP/1.0`.
    pub fn head(target: &str) -> Self {
        Request::new("HEAD", target)
    }

    /// Sets the version (`"HTTP/1.1"`).
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body; `Content-Length` is added unless a header frames the body already.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    /// The request's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        let framed = self.headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        if !self.body.is_empty() && !framed {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A subscriber that keeps the messages of `http_server::access` events.
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
}

struct MessageVisitor(Option<String>);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "http_server::access"
    }
    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut v = MessageVisitor(None);
        event.record(&mut v);
        if let Some(line) = v.0 {
            self.lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
    }
    fn enter(&self, _span: &tracing::span::Id) {}
    fn exit(&self, _span: &tracing::span::Id) {}
}
