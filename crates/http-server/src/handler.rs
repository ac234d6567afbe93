//! `BaseHTTPRequestHandler`: the per-request [`Exchange`], the overridable [`HttpHandler`]
//! hooks, the [`handle_one_request`] driver and the [`HttpRequestHandler`] adapter.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use socketserver::{
    Address, BufStream, Connection, HandlerCx, RequestHandler, RwStream, ServerInfo, StreamConfig,
    StreamHandler,
};

use crate::framing::{Framing, RequestSide, ResponseHead, WrittenHead, choose_framing};
use crate::request::{self, BodyFraming, Headers, RequestHead};
use crate::{Error, HttpError, Result};

/// CPython's `DEFAULT_ERROR_MESSAGE`, byte for byte.
///
/// Python: `http.server.DEFAULT_ERROR_MESSAGE`.
#[doc(alias = "http.server.DEFAULT_ERROR_MESSAGE")]
pub const DEFAULT_ERROR_MESSAGE: &str = "\
<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
";

/// CPython 3.14's `DEFAULT_ERROR_MESSAGE`: 3.11's page with a `<style>` that sets
/// `color-scheme: light dark`, so browsers draw it in their dark mode when the user asks for
/// one.
///
/// The faithful face keeps 3.11's bytes ([`DEFAULT_ERROR_MESSAGE`]) by default; this page is
/// an option, through [`HttpConfig::error_message_format`].
///
/// Python: `http.server.DEFAULT_ERROR_MESSAGE` (3.14).
///
/// ```
/// use http_server::{testing::Harness, SimpleHttpHandler, DARK_MODE_ERROR_MESSAGE};
/// let config = SimpleHttpHandler::http_config().error_message_format(DARK_MODE_ERROR_MESSAGE);
/// let mut h = SimpleHttpHandler::new(std::env::temp_dir());
/// let t = Harness::new().config(config).run(&mut h, b"GET /no-such-file-here HTTP/1.0\r\n\r\n");
/// assert_eq!(t.responses[0].status, 404);
/// assert!(t.responses[0].text().contains("color-scheme: light dark;"));
/// ```
#[doc(alias = "http.server.DEFAULT_ERROR_MESSAGE")]
pub const DARK_MODE_ERROR_MESSAGE: &str = "\
<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <style type=\"text/css\">
            :root {
                color-scheme: light dark;
            }
        </style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
";

/// CPython's `DEFAULT_ERROR_CONTENT_TYPE`.
///
/// Python: `http.server.DEFAULT_ERROR_CONTENT_TYPE`.
#[doc(alias = "http.server.DEFAULT_ERROR_CONTENT_TYPE")]
pub const DEFAULT_ERROR_CONTENT_TYPE: &str = "text/html;charset=utf-8";

/// The class attributes of `BaseHTTPRequestHandler`, plus the limits CPython hard-codes.
///
/// Python: `server_version`, `sys_version`, `protocol_version`, `error_message_format`,
/// `error_content_type`, `default_request_version` of `http.server.BaseHTTPRequestHandler`,
/// and `http.client._MAXLINE` / `_MAXHEADERS`.
///
/// ```
/// let cfg = http_server::HttpConfig::default();
/// assert_eq!(cfg.server_version, "BaseHTTP/0.6");
/// assert_eq!(cfg.protocol_version, "HTTP/1.0");
/// assert!(cfg.sys_version.starts_with("Rust/"));
/// let cfg11 = http_server::HttpConfig::default().protocol_version("HTTP/1.1");
/// assert_eq!(cfg11.protocol_version, "HTTP/1.1");
/// ```
#[doc(alias = "http.server.BaseHTTPRequestHandler.server_version")]
#[doc(alias = "http.server.BaseHTTPRequestHandler.sys_version")]
#[doc(alias = "http.server.BaseHTTPRequestHandler.protocol_version")]
#[doc(alias = "http.server.BaseHTTPRequestHandler.error_message_format")]
#[doc(alias = "http.server.BaseHTTPRequestHandler.error_content_type")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The software name in the `Server` header (Python: `server_version`,
    /// `"BaseHTTP/0.6"`; `SimpleHTTPRequestHandler` uses `"SimpleHTTP/0.6"`).
    pub server_version: String,
    /// The runtime in the `Server` header (Python: `sys_version`, `"Python/3.11.7"`; here
    /// `"Rust/<rustc version>"`).
    pub sys_version: String,
    /// The version of the status line; `"HTTP/1.1"` enables keep-alive (Python:
    /// `protocol_version`, `"HTTP/1.0"`).
    pub protocol_version: String,
    /// The error page template, with `%(code)d`, `%(code)s`, `%(message)s`, `%(explain)s`
    /// (Python: `error_message_format`, [`DEFAULT_ERROR_MESSAGE`]).
    pub error_message_format: String,
    /// The error page's `Content-Type` (Python: `error_content_type`).
    pub error_content_type: String,
    /// The version assumed until the request line is parsed (Python:
    /// `default_request_version`, `"HTTP/0.9"`).
    pub default_request_version: String,
    /// The longest request or header line, in bytes (Python: 65536, `http.client._MAXLINE`).
    pub max_line: usize,
    /// The header line count (the blank line included) that gets 431 (Python: 100,
    /// `http.client._MAXHEADERS`, so 99 fields is the real maximum).
    pub max_headers: usize,
    /// The reason phrases and explanations of `send_response` and `send_error` (Python:
    /// `responses`; by default [`RESPONSES`](crate::RESPONSES), CPython 3.11's).
    pub responses: crate::Responses,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            server_version: "BaseHTTP/0.6".to_owned(),
            sys_version: concat!("Rust/", stdx::rustc_version!()).to_owned(),
            protocol_version: "HTTP/1.0".to_owned(),
            error_message_format: DEFAULT_ERROR_MESSAGE.to_owned(),
            error_content_type: DEFAULT_ERROR_CONTENT_TYPE.to_owned(),
            default_request_version: "HTTP/0.9".to_owned(),
            max_line: 65536,
            max_headers: 100,
            responses: crate::Responses::default(),
        }
    }
}

impl HttpConfig {
    /// Sets `protocol_version`.
    pub fn protocol_version(mut self, v: impl Into<String>) -> Self {
        self.protocol_version = v.into();
        self
    }

    /// Sets `server_version`.
    pub fn server_version(mut self, v: impl Into<String>) -> Self {
        self.server_version = v.into();
        self
    }

    /// Sets `sys_version`.
    pub fn sys_version(mut self, v: impl Into<String>) -> Self {
        self.sys_version = v.into();
        self
    }

    /// Sets `error_message_format`.
    pub fn error_message_format(mut self, v: impl Into<String>) -> Self {
        self.error_message_format = v.into();
        self
    }

    /// Sets `error_content_type`.
    pub fn error_content_type(mut self, v: impl Into<String>) -> Self {
        self.error_content_type = v.into();
        self
    }

    /// Sets `responses`.
    pub fn responses(mut self, v: crate::Responses) -> Self {
        self.responses = v;
        self
    }

    /// Sets `max_line` and `max_headers`.
    pub fn limits(mut self, max_line: usize, max_headers: usize) -> Self {
        self.max_line = max_line;
        self.max_headers = max_headers;
        self
    }
}

/// One request being served: what was parsed, the stream to the client, and the response
/// headers being gathered.
///
/// Python: the per-request state of a `BaseHTTPRequestHandler` instance (`command`, `path`,
/// `request_version`, `headers`, `close_connection`, `rfile`, `wfile`, `_headers_buffer`)
/// and its final methods (`send_response_only`, `send_header`, `end_headers`,
/// `flush_headers`). The overridable methods are on [`HttpHandler`].
#[doc(alias = "http.server.BaseHTTPRequestHandler")]
pub struct Exchange<'a> {
    stream: &'a mut dyn RwStream,
    cx: HandlerCx<'a>,
    config: &'a HttpConfig,
    /// The method (Python: `command`; empty before the request line is parsed).
    pub command: String,
    /// The request target (Python: `path`).
    pub path: String,
    /// The request's version (Python: `request_version`).
    pub request_version: String,
    /// The request line without its line ending, as Latin-1 text (Python: `requestline`).
    pub requestline: String,
    /// The request line as received (Python: `raw_requestline`).
    pub raw_requestline: Vec<u8>,
    /// The request headers (Python: `headers`).
    pub headers: Headers,
    /// Whether the connection closes after this request (Python: `close_connection`).
    pub close_connection: bool,
    /// How the request body is framed (`Content-Length` or chunked).
    pub body: BodyFraming,
    headers_buffer: Vec<u8>,
    force_status_line: bool,
    /// The typed head being gathered in `headers_buffer` (status and framing fields), while
    /// it is one this exchange can vouch for: built here from its start, in one write.
    head_facts: Option<ResponseHead>,
    /// The stream position (the response buffer's length, plus the bytes sent out of it),
    /// kept by the event-loop face's stream.
    written: Option<&'a Cell<usize>>,
    /// The last final response head written whole by `end_headers`.
    written_head: Option<WrittenHead>,
    /// The body goes out in chunks this exchange frames (see
    /// [`end_headers_framed`](Self::end_headers_framed)).
    server_chunked: bool,
    /// What [`end_headers_framed`](Self::end_headers_framed) chose.
    framing: Option<Framing>,
    /// When the request started (the exchange was made, or its request line was read).
    started: Instant,
    /// The status and size `log_request` is logging, for the structured access event.
    access: Cell<Option<(Option<u16>, Option<u64>)>>,
}

impl Drop for Exchange<'_> {
    /// Gives the request's buffers back to the thread's pool, for the next request.
    fn drop(&mut self) {
        crate::pool::give_strings([
            std::mem::take(&mut self.command),
            std::mem::take(&mut self.path),
            std::mem::take(&mut self.request_version),
            std::mem::take(&mut self.requestline),
        ]);
        crate::pool::give_bytes(std::mem::take(&mut self.raw_requestline));
        if self.headers_buffer.capacity() != 0 {
            crate::pool::give_bytes(std::mem::take(&mut self.headers_buffer));
        }
        std::mem::take(&mut self.headers).recycle();
    }
}

impl fmt::Debug for Exchange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("client_address", self.cx.client_address)
            .field("requestline", &self.requestline)
            .field("command", &self.command)
            .field("path", &self.path)
            .field("request_version", &self.request_version)
            .field("headers", &self.headers)
            .field("close_connection", &self.close_connection)
            .finish_non_exhaustive()
    }
}

impl<'a> Exchange<'a> {
    /// An exchange before its request line is read (CPython's state at the start of
    /// `handle_one_request`).
    pub fn new(stream: &'a mut dyn RwStream, cx: HandlerCx<'a>, config: &'a HttpConfig) -> Self {
        Exchange {
            stream,
            cx,
            config,
            command: String::new(),
            path: String::new(),
            request_version: config.default_request_version.clone(),
            requestline: String::new(),
            raw_requestline: Vec::new(),
            headers: Headers::new(),
            close_connection: true,
            body: BodyFraming::None,
            headers_buffer: Vec::new(),
            force_status_line: false,
            head_facts: None,
            written: None,
            written_head: None,
            server_chunked: false,
            framing: None,
            started: Instant::now(),
            access: Cell::new(None),
        }
    }

    /// An exchange for an already parsed head (the event-loop face frames the request
    /// itself, then serves it over a buffered stream).
    pub fn from_head(
        stream: &'a mut dyn RwStream,
        cx: HandlerCx<'a>,
        config: &'a HttpConfig,
        mut head: RequestHead,
    ) -> Self {
        Self::from_head_in(stream, cx, config, &mut head)
    }

    /// [`from_head`](Self::from_head) taking the head's buffers out of `head` where it lies
    /// (a few words each) instead of moving the whole head.
    fn from_head_in(
        stream: &'a mut dyn RwStream,
        cx: HandlerCx<'a>,
        config: &'a HttpConfig,
        head: &mut RequestHead,
    ) -> Self {
        use std::mem::take;
        // Built field by field: `Exchange::new` would allocate a default version only to
        // drop it.
        Exchange {
            stream,
            cx,
            config,
            command: take(&mut head.line.command),
            path: take(&mut head.line.path),
            request_version: take(&mut head.line.request_version),
            requestline: take(&mut head.line.requestline),
            raw_requestline: take(&mut head.raw_requestline),
            headers: take(&mut head.headers),
            close_connection: head.close_connection,
            body: head.body,
            // Taken from the pool when a head is first gathered: a handler that writes its
            // head itself (the WSGI gateway) never needs it.
            headers_buffer: Vec::new(),
            force_status_line: false,
            head_facts: None,
            written: None,
            written_head: None,
            server_chunked: false,
            framing: None,
            // The event loops know when the request began to arrive: no clock read.
            started: cx.received().unwrap_or_else(Instant::now),
            access: Cell::new(None),
        }
    }

    fn set_head(&mut self, head: RequestHead) {
        self.requestline = head.line.requestline;
        self.command = head.line.command;
        self.path = head.line.path;
        self.request_version = head.line.request_version;
        self.raw_requestline = head.raw_requestline;
        self.headers = head.headers;
        self.close_connection = head.close_connection;
        self.body = head.body;
    }

    /// The connection as one buffered stream: read the body with its [`std::io::BufRead`]
    /// methods, write the response with its [`Write`] methods.
    pub fn stream(&mut self) -> &mut dyn RwStream {
        &mut *self.stream
    }

    /// The stream to read the request body from (Python: `rfile`; the same object as
    /// [`wfile`](Self::wfile)).
    #[doc(alias = "http.server.BaseHTTPRequestHandler.rfile")]
    pub fn rfile(&mut self) -> &mut dyn RwStream {
        &mut *self.stream
    }

    /// The stream to write the response to (Python: `wfile`).
    #[doc(alias = "http.server.BaseHTTPRequestHandler.wfile")]
    pub fn wfile(&mut self) -> &mut dyn RwStream {
        &mut *self.stream
    }

    /// The handler context: client address, server facts, the `blocking` announcement.
    pub fn cx(&self) -> &HandlerCx<'a> {
        &self.cx
    }

    /// Python: `BaseRequestHandler.client_address`.
    pub fn client_address(&self) -> &Address {
        self.cx.client_address
    }

    /// Python: `BaseRequestHandler.server` (its read-only facts: `server_name`,
    /// `server_port`, ...).
    pub fn server(&self) -> &ServerInfo {
        self.cx.server
    }

    /// The class attributes in force.
    pub fn config(&self) -> &'a HttpConfig {
        self.config
    }

    fn is_http09(&self) -> bool {
        self.request_version == "HTTP/0.9" && !self.force_status_line
    }

    /// Adds the status line to the headers buffer (nothing for an HTTP/0.9 request);
    /// `None` takes the standard phrase.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.send_response_only`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.send_response_only")]
    pub fn send_response_only(&mut self, code: u16, message: Option<&str>) -> Result<()> {
        if self.is_http09() {
            return Ok(());
        }
        let config = self.config;
        let message = message.unwrap_or_else(|| config.responses.get(code).map_or("", |r| r.0));
        let plain = printable(message.as_bytes());
        if !plain && message.contains(['\r', '\n', '\0']) {
            return Err(Error::InvalidHeader {
                name: format!("status {code}"),
                reason: "reason phrase holds CR, LF or NUL",
            });
        }
        // A head starts here: its framing is known as it is built when the buffer held
        // nothing before, the version is one a client reads and the status line is plain
        // (else `check_response` parses the bytes, as for a head written by hand).
        let version = self.config.protocol_version.as_str();
        self.head_facts = (self.headers_buffer.is_empty()
            && (version == "HTTP/1.1" || version == "HTTP/1.0")
            && (100..1000).contains(&code)
            && plain)
            .then(|| ResponseHead::new(code, version == "HTTP/1.1"));
        let buf = self.head_buffer();
        let mark = buf.len();
        let mut digits = [0u8; 20];
        let line = push_latin1(buf, version).and_then(|()| {
            buf.push(b' ');
            if (100..1000).contains(&code) {
                // The usual three digits, without the general loop.
                buf.extend_from_slice(&[
                    b'0' + (code / 100) as u8,
                    b'0' + (code / 10 % 10) as u8,
                    b'0' + (code % 10) as u8,
                ]);
            } else {
                buf.extend_from_slice(stdx::decimal(code.into(), &mut digits).as_bytes());
            }
            buf.push(b' ');
            push_latin1(buf, message)
        });
        if let Err(e) = line {
            buf.truncate(mark);
            self.head_facts = None;
            return Err(e);
        }
        buf.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Adds a header to the headers buffer (nothing for an HTTP/0.9 request); a
    /// `Connection: close` / `keep-alive` header sets `close_connection`.
    ///
    /// The field must pass [`field::check`](crate::field::check): a token name, a value
    /// without CR, LF, NUL or other controls (Python 3.11 lets a handler split its
    /// response this way; 3.12 refuses, as this does); a value that is not Latin-1 is
    /// [`Error::NotLatin1`].
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.send_header`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.send_header")]
    pub fn send_header(&mut self, keyword: &str, value: &str) -> Result<()> {
        match crate::field::check(keyword, value) {
            Ok(()) => {}
            Err(crate::field::FieldError::NotLatin1) => {
                // Python: the `UnicodeEncodeError` of the latin-1 encoding.
                return Err(Error::NotLatin1(value.to_owned()));
            }
            Err(e) => {
                return Err(Error::InvalidHeader {
                    name: keyword.to_owned(),
                    reason: e.reason(),
                });
            }
        }
        self.push_field(keyword, value);
        Ok(())
    }

    /// Adds every field of `fields`, in order, as [`send_header`](Self::send_header)
    /// would, without checking them again (a [`Fields`](crate::field::Fields) holds
    /// only fields that passed [`field::check`](crate::field::check)).
    ///
    /// Python: no equivalent (a loop of `send_header`); the gateway sends a
    /// `wsgiref.headers.Headers` this way.
    pub fn send_fields(&mut self, fields: &crate::field::Fields) {
        for (name, value) in fields {
            self.push_field(name, value);
        }
    }

    /// Python: no equivalent. Adds a field whose value `write` appends to the head as
    /// Latin-1 bytes, so a server's own value (the `Date` a WSGI gateway's hooks write)
    /// goes straight into the head without a `String` of its own. Checked as
    /// [`send_header`](Self::send_header) checks; a refused field leaves the head as it
    /// was.
    pub fn send_header_with(
        &mut self,
        keyword: &str,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<()> {
        if self.is_http09() || crate::field::check_name(keyword).is_err() {
            // Nothing is written (HTTP/0.9) or the field is refused: the usual way.
            let mut value = Vec::new();
            write(&mut value);
            return self.send_header(keyword, &stdx::latin1::decode(&value));
        }
        let buf = self.head_buffer();
        let mark = buf.len();
        buf.extend_from_slice(keyword.as_bytes());
        buf.extend_from_slice(b": ");
        let at = buf.len();
        write(buf);
        if !printable(&buf[at..]) {
            // Not plain text: judged (and sent, if it passes) as `send_header` does.
            let value = stdx::latin1::decode(&buf[at..]);
            buf.truncate(mark);
            return self.send_header(keyword, &value);
        }
        self.end_field(keyword, at);
        Ok(())
    }

    /// The headers buffer, taken from the pool when a head is first gathered (a handler
    /// that writes its head itself, as the WSGI gateway's CGI face does, never needs one).
    fn head_buffer(&mut self) -> &mut Vec<u8> {
        if self.headers_buffer.capacity() == 0 {
            self.headers_buffer = crate::pool::bytes();
        }
        &mut self.headers_buffer
    }

    /// Adds one field that meets [`field::check`](crate::field::check) to the head.
    fn push_field(&mut self, keyword: &str, value: &str) {
        if self.is_http09() {
            note_connection(&mut self.close_connection, keyword, value.as_bytes());
            return;
        }
        let buf = self.head_buffer();
        buf.reserve(keyword.len() + value.len() + 4);
        buf.extend_from_slice(keyword.as_bytes());
        buf.extend_from_slice(b": ");
        let at = buf.len();
        // Checked values are Latin-1: the encoding cannot fail.
        stdx::latin1::encode_into(value, buf);
        self.end_field(keyword, at);
    }

    /// Ends the field whose value starts at `at` in the headers buffer: the framing facts
    /// and `close_connection` take it in, then the line ends.
    fn end_field(&mut self, keyword: &str, at: usize) {
        let value = &self.headers_buffer[at..];
        if let Some(facts) = &mut self.head_facts {
            facts.note(keyword.as_bytes(), value);
        }
        note_connection(&mut self.close_connection, keyword, value);
        self.headers_buffer.extend_from_slice(b"\r\n");
    }

    /// Adds the blank line and writes the headers buffer.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.end_headers`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.end_headers")]
    pub fn end_headers(&mut self) -> Result<()> {
        if !self.is_http09() {
            self.headers_buffer.extend_from_slice(b"\r\n");
            // The whole head goes out in this one write: when it was built here from its
            // start, note where it lands and what it says.
            let facts = self.head_facts.take();
            if let (Some(head), Some(written)) = (facts, self.written)
                && !(100..200).contains(&head.code)
            {
                self.written_head = Some(WrittenHead {
                    at: written.get(),
                    len: self.headers_buffer.len(),
                    head,
                });
            }
            self.write_headers_buffer()?;
        }
        Ok(())
    }

    /// Writes the gathered status line and headers in one write, and empties the buffer.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.flush_headers`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.flush_headers")]
    pub fn flush_headers(&mut self) -> Result<()> {
        // A head flushed in parts is no longer one write: it is parsed when checked.
        self.head_facts = None;
        self.write_headers_buffer()
    }

    /// Python: no equivalent. Ends the head as [`end_headers`](Self::end_headers) does,
    /// after letting the server choose how the body is framed ([`crate::framing`]): when
    /// the handler set no `Content-Length` (an HTTP/1.1 response to an HTTP/1.1 request, a
    /// status with a body, not `HEAD`), the server adds `Transfer-Encoding: chunked` and
    /// frames what
    /// [`write_body`](Self::write_body) gets; [`finish_body`](Self::finish_body) ends it.
    /// Returns the framing chosen.
    ///
    /// For handlers that hand the server a status, headers and a body of unknown length,
    /// as the WSGI gateway does. A head this exchange did not build from its start (a
    /// status line written by hand) is taken as close-delimited.
    pub fn end_headers_framed(&mut self) -> Result<Framing> {
        let request = RequestSide {
            head: self.command == "HEAD",
            http11: self.request_version == "HTTP/1.1",
        };
        let framing = match &self.head_facts {
            Some(head) => {
                let framing = choose_framing(head, request, true);
                if framing == Framing::Chunked && !head.chunked {
                    self.send_header("Transfer-Encoding", "chunked")?;
                    self.server_chunked = true;
                }
                framing
            }
            None => Framing::Close,
        };
        self.framing = Some(framing);
        self.end_headers()?;
        Ok(framing)
    }

    /// Python: no equivalent. The framing [`end_headers_framed`](Self::end_headers_framed)
    /// chose for the body, once it ran: a body of unknown length (`Chunked` or `Close`) is
    /// worth flushing as it is written, one of known length is not.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Sends the rest of `file` (from its position) as the body of this response, whose
    /// head said `Content-Length`, through the event loops' sink: `sendfile(2)` on a plain
    /// socket, so the bytes never enter the process. `Ok(None)` when that cannot be done
    /// (no sink: the faithful face; a body framed otherwise; a file shorter than the
    /// length), for the caller to send the bytes itself. The file's position moves past
    /// what was sent.
    ///
    /// Python: `socket.sendfile`, what a `wsgiref.handlers.BaseHandler.sendfile` override
    /// would call.
    #[doc(alias = "socket.socket.sendfile")]
    pub fn send_file(&mut self, file: &mut std::fs::File) -> Result<Option<u64>> {
        use std::io::{Seek, SeekFrom};
        let Some(sink) = self.cx.sink() else {
            return Ok(None);
        };
        let Some(Framing::Length(len)) = self.framing else {
            return Ok(None);
        };
        let at = file.stream_position()?;
        if file.metadata()?.len().saturating_sub(at) < len {
            return Ok(None);
        }
        // The head (and any body bytes written) first, then the file.
        self.stream.flush()?;
        let sent = sink.send_file(&mut Vec::new(), file, at, len)?;
        file.seek(SeekFrom::Start(at + sent))?;
        Ok(Some(sent))
    }

    /// Python: no equivalent. Writes part of the response body: as a chunk when the server
    /// frames it ([`end_headers_framed`](Self::end_headers_framed) chose chunked), else as
    /// it is. Empty data writes nothing (an empty chunk would end the body).
    pub fn write_body(&mut self, data: &[u8]) -> Result<()> {
        if !self.server_chunked {
            self.stream.write_all(data)?;
        } else if !data.is_empty() {
            let mut size = [0u8; 18];
            let n = {
                let mut cursor = std::io::Cursor::new(&mut size[..]);
                let _ = write!(cursor, "{:X}\r\n", data.len());
                cursor.position() as usize
            };
            self.stream.write_all(&size[..n])?;
            self.stream.write_all(data)?;
            self.stream.write_all(b"\r\n")?;
        }
        Ok(())
    }

    /// Python: no equivalent. Ends a body the server frames in chunks (the last chunk and
    /// an empty trailer section); nothing for other framings.
    pub fn finish_body(&mut self) -> Result<()> {
        if std::mem::take(&mut self.server_chunked) {
            self.stream.write_all(b"0\r\n\r\n")?;
        }
        Ok(())
    }

    /// Python: no equivalent (CPython hands the socket file to the handler, which reads
    /// `Content-Length` bytes itself). Reads the request body into `out` as the head frames
    /// it: `Content-Length` bytes, or a chunked body decoded (extensions and trailers
    /// checked and dropped) by the workspace's one decoder,
    /// [`ChunkedDecoder`](crate::h1::chunked::ChunkedDecoder). Under the event loops the
    /// body arrives already decoded, framed by its length.
    ///
    /// A malformed chunked body is an [`io::ErrorKind::InvalidData`](std::io::ErrorKind)
    /// error; nothing past the body is read.
    pub fn read_body(&mut self, out: &mut Vec<u8>) -> Result<()> {
        use std::io::Read as _;
        match self.body {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                (&mut *self.stream).take(n).read_to_end(out)?;
            }
            BodyFraming::Chunked => {
                let mut decoder = crate::h1::chunked::ChunkedDecoder::new(
                    crate::h1::chunked::ChunkedLimits::default(),
                );
                let mut raw = Vec::new();
                loop {
                    let available = self.stream.fill_buf()?;
                    if available.is_empty() {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                    }
                    let taken = available.len();
                    raw.extend_from_slice(available);
                    let fed = decoder.feed(&raw).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                    })?;
                    match fed {
                        Some(end) => {
                            // Only the body's own bytes: what follows is the next request.
                            self.stream.consume(taken - (raw.len() - end));
                            out.extend_from_slice(decoder.decoded());
                            return Ok(());
                        }
                        None => self.stream.consume(taken),
                    }
                }
            }
        }
        Ok(())
    }

    fn write_headers_buffer(&mut self) -> Result<()> {
        if !self.headers_buffer.is_empty() {
            let written = self.stream.write_all(&self.headers_buffer);
            self.headers_buffer.clear();
            written?;
        }
        Ok(())
    }

    /// The status line and headers gathered but not yet written.
    pub fn headers_buffer(&self) -> &[u8] {
        &self.headers_buffer
    }
}

use stdx::ascii::printable;

/// Appends `s` encoded as Latin-1 (Python's `.encode('latin-1', 'strict')`); a char
/// beyond U+00FF is an error and leaves `buf` as it may have been partly extended (callers
/// truncate).
#[inline]
fn push_latin1(buf: &mut Vec<u8>, s: &str) -> Result<()> {
    if stdx::latin1::encode_into(s, buf) {
        Ok(())
    } else {
        Err(not_latin1(s))
    }
}

#[cold]
fn not_latin1(s: &str) -> Error {
    Error::NotLatin1(s.to_owned())
}

/// A `Connection: close` / `keep-alive` field sets `close_connection`.
fn note_connection(close_connection: &mut bool, keyword: &str, value: &[u8]) {
    if keyword.len() == 10 && keyword.eq_ignore_ascii_case("connection") {
        if value.eq_ignore_ascii_case(b"close") {
            *close_connection = true;
        } else if value.eq_ignore_ascii_case(b"keep-alive") {
            *close_connection = false;
        }
    }
}

/// The overridable methods of `BaseHTTPRequestHandler`, with CPython's defaults.
///
/// Implement the `do_*` methods you serve (every one defaults to 501
/// `Unsupported method ('X')`, as a missing `do_X` does in Python); override
/// [`do_method`](Self::do_method) to take every method (WSGI does). Defaults live in
/// [`default`] so overrides can call them (Python's `super()`). Object safe.
///
/// Python: `http.server.BaseHTTPRequestHandler` (its overridable half).
///
/// ```
/// use http_server::{testing, Exchange, HttpHandler, Result};
///
/// struct Hello;
/// impl HttpHandler for Hello {
///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
///         self.send_response(ex, 200, None)?;
///         ex.send_header("Content-Type", "text/plain")?;
///         ex.send_header("Content-Length", "6")?;
///         ex.end_headers()?;
///         ex.wfile().write_all(b"hello\n")?;
///         Ok(())
///     }
/// }
///
/// let t = testing::run(&mut Hello, b"GET / HTTP/1.0\r\n\r\nPOST / HTTP/1.0\r\n\r\n");
/// assert_eq!(t.responses.len(), 1); // HTTP/1.0: one request per connection
/// assert_eq!(t.responses[0].status, 200);
/// assert_eq!(t.responses[0].body, b"hello\n");
/// ```
#[doc(alias = "http.server.BaseHTTPRequestHandler")]
pub trait HttpHandler {
    /// Dispatches on `ex.command` to the `do_*` method; unknown methods get 501.
    ///
    /// Python: `getattr(self, 'do_' + self.command)` in `handle_one_request`.
    fn do_method(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::do_method(self, ex)
    }

    /// Python: `do_GET`.
    #[doc(alias = "do_GET")]
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_HEAD`.
    #[doc(alias = "do_HEAD")]
    fn do_head(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_POST`.
    #[doc(alias = "do_POST")]
    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_PUT`.
    #[doc(alias = "do_PUT")]
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_DELETE`.
    #[doc(alias = "do_DELETE")]
    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_OPTIONS`.
    #[doc(alias = "do_OPTIONS")]
    fn do_options(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_PATCH`.
    #[doc(alias = "do_PATCH")]
    fn do_patch(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_TRACE`.
    #[doc(alias = "do_TRACE")]
    fn do_trace(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Python: `do_CONNECT`.
    #[doc(alias = "do_CONNECT")]
    fn do_connect(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Any other method (`ex.command` says which).
    fn do_other(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        default::unsupported_method(self, ex)
    }

    /// Answers `Expect: 100-continue`: `Ok(true)` to go on with the request (after sending
    /// `100 Continue`), `Ok(false)` after sending an error reply.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.handle_expect_100`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.handle_expect_100")]
    fn handle_expect_100(&mut self, ex: &mut Exchange<'_>) -> Result<bool> {
        default::handle_expect_100(self, ex)
    }

    /// Sends and logs an error reply: `message` becomes the reason phrase, the page is
    /// `error_message_format` filled with HTML-escaped text, `Connection: close`.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.send_error`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.send_error")]
    fn send_error(
        &mut self,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> Result<()> {
        default::send_error(self, ex, code, message, explain)
    }

    /// Logs the request, then adds the status line, `Server` and `Date` to the headers
    /// buffer.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.send_response`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.send_response")]
    fn send_response(
        &mut self,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
    ) -> Result<()> {
        default::send_response(self, ex, code, message)
    }

    /// Logs an accepted request: `"request line" code size` (`-` for unknown values).
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.log_request`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.log_request")]
    fn log_request(&self, ex: &Exchange<'_>, code: Option<u16>, size: Option<u64>) {
        default::log_request(self, ex, code, size)
    }

    /// Logs an error (by default through [`log_message`](Self::log_message)).
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.log_error`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.log_error")]
    fn log_error(&self, ex: &Exchange<'_>, args: fmt::Arguments<'_>) {
        self.log_message(ex, args)
    }

    /// Logs `host - - [date] message` with control characters escaped, as an `info` event
    /// of target `http_server::access` (CPython writes the same line to stderr).
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.log_message`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.log_message")]
    fn log_message(&self, ex: &Exchange<'_>, args: fmt::Arguments<'_>) {
        default::log_message(self, ex, args)
    }

    /// The `Server` header: `server_version sys_version`.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.version_string`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.version_string")]
    fn version_string(&self, ex: &Exchange<'_>) -> String {
        format!("{} {}", ex.config().server_version, ex.config().sys_version)
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for `timestamp`, or now.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.date_time_string`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.date_time_string")]
    fn date_time_string(&self, timestamp: Option<SystemTime>) -> String {
        match timestamp {
            Some(t) => httpdate::fmt_http_date(t),
            None => default::http_date_now(),
        }
    }

    /// The time for log lines: `06/Nov/1994 08:49:37` (UTC; CPython uses local time).
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.log_date_time_string`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.log_date_time_string")]
    fn log_date_time_string(&self) -> String {
        default::log_date_time_string(SystemTime::now())
    }

    /// The client as shown in log lines (its IP).
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.address_string`.
    #[doc(alias = "http.server.BaseHTTPRequestHandler.address_string")]
    fn address_string(&self, ex: &Exchange<'_>) -> String {
        ex.client_address().host()
    }
}

impl<H: HttpHandler + ?Sized> HttpHandler for Box<H> {
    fn do_method(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_method(ex)
    }
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_get(ex)
    }
    fn do_head(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_head(ex)
    }
    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_post(ex)
    }
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_put(ex)
    }
    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_delete(ex)
    }
    fn do_options(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_options(ex)
    }
    fn do_patch(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_patch(ex)
    }
    fn do_trace(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_trace(ex)
    }
    fn do_connect(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_connect(ex)
    }
    fn do_other(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        (**self).do_other(ex)
    }
    fn handle_expect_100(&mut self, ex: &mut Exchange<'_>) -> Result<bool> {
        (**self).handle_expect_100(ex)
    }
    fn send_error(
        &mut self,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> Result<()> {
        (**self).send_error(ex, code, message, explain)
    }
    fn send_response(
        &mut self,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
    ) -> Result<()> {
        (**self).send_response(ex, code, message)
    }
    fn log_request(&self, ex: &Exchange<'_>, code: Option<u16>, size: Option<u64>) {
        (**self).log_request(ex, code, size)
    }
    fn log_error(&self, ex: &Exchange<'_>, args: fmt::Arguments<'_>) {
        (**self).log_error(ex, args)
    }
    fn log_message(&self, ex: &Exchange<'_>, args: fmt::Arguments<'_>) {
        (**self).log_message(ex, args)
    }
    fn version_string(&self, ex: &Exchange<'_>) -> String {
        (**self).version_string(ex)
    }
    fn date_time_string(&self, timestamp: Option<SystemTime>) -> String {
        (**self).date_time_string(timestamp)
    }
    fn log_date_time_string(&self) -> String {
        (**self).log_date_time_string()
    }
    fn address_string(&self, ex: &Exchange<'_>) -> String {
        (**self).address_string(ex)
    }
}

/// The default bodies of [`HttpHandler`]'s methods, for overrides that extend them
/// (Python's `super().send_error(...)`).
pub mod default {
    use super::*;
    use std::borrow::Cow;

    /// Python: `getattr(self, 'do_' + command)()`, 501 when there is none.
    pub fn do_method<H: HttpHandler + ?Sized>(h: &mut H, ex: &mut Exchange<'_>) -> Result<()> {
        match ex.command.as_str() {
            "GET" => h.do_get(ex),
            "HEAD" => h.do_head(ex),
            "POST" => h.do_post(ex),
            "PUT" => h.do_put(ex),
            "DELETE" => h.do_delete(ex),
            "OPTIONS" => h.do_options(ex),
            "PATCH" => h.do_patch(ex),
            "TRACE" => h.do_trace(ex),
            "CONNECT" => h.do_connect(ex),
            _ => h.do_other(ex),
        }
    }

    /// Python: the 501 `Unsupported method ('X')` reply of a missing `do_X`.
    pub fn unsupported_method<H: HttpHandler + ?Sized>(
        h: &mut H,
        ex: &mut Exchange<'_>,
    ) -> Result<()> {
        let msg = format!("Unsupported method ({})", crate::py_repr(&ex.command));
        h.send_error(ex, 501, Some(&msg), None)
    }

    /// Python: `BaseHTTPRequestHandler.handle_expect_100`: `100 Continue`, then go on.
    pub fn handle_expect_100<H: HttpHandler + ?Sized>(
        _h: &mut H,
        ex: &mut Exchange<'_>,
    ) -> Result<bool> {
        ex.send_response_only(100, None)?;
        ex.end_headers()?;
        ex.stream().flush()?;
        Ok(true)
    }

    /// Python: `BaseHTTPRequestHandler.send_response`.
    pub fn send_response<H: HttpHandler + ?Sized>(
        h: &mut H,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
    ) -> Result<()> {
        h.log_request(ex, Some(code), None);
        ex.send_response_only(code, message)?;
        let server = h.version_string(ex);
        ex.send_header("Server", &server)?;
        let date = h.date_time_string(None);
        ex.send_header("Date", &date)
    }

    /// Python: `BaseHTTPRequestHandler.send_error`. Always sends a status line, also for
    /// HTTP/0.9 requests (CPython sends the bare page there).
    pub fn send_error<H: HttpHandler + ?Sized>(
        h: &mut H,
        ex: &mut Exchange<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> Result<()> {
        let config = ex.config();
        let (short, long) = config.responses.get(code).unwrap_or(("???", "???"));
        let message = message.unwrap_or(short);
        let explain = explain.unwrap_or(long);
        h.log_error(ex, format_args!("code {code}, message {message}"));
        ex.force_status_line = true;
        h.send_response(ex, code, Some(message))?;
        ex.send_header("Connection", "close")?;
        let mut body = None;
        if code >= 200 && !matches!(code, 204 | 205 | 304) {
            let content = error_page(&ex.config().error_message_format, code, message, explain);
            let content_type = ex.config().error_content_type.clone();
            ex.send_header("Content-Type", &content_type)?;
            ex.send_header("Content-Length", &content.len().to_string())?;
            body = Some(content);
        }
        ex.end_headers()?;
        if ex.command != "HEAD"
            && let Some(body) = body.filter(|b| !b.is_empty())
        {
            ex.stream().write_all(body.as_bytes())?;
        }
        Ok(())
    }

    /// Python: `BaseHTTPRequestHandler.log_request`.
    pub fn log_request<H: HttpHandler + ?Sized>(
        h: &H,
        ex: &Exchange<'_>,
        code: Option<u16>,
        size: Option<u64>,
    ) {
        ex.access.set(Some((code, size)));
        h.log_message(
            ex,
            format_args!(
                "{}",
                Summary {
                    requestline: &ex.requestline,
                    code,
                    size
                }
            ),
        );
        ex.access.set(None);
    }

    /// `log_request`'s message, `"request line" code size` (`-` for unknown values),
    /// formatted only if the line is written: gathered on the stack and handed over in one
    /// piece (one write for `log_message` to escape instead of six), without the integer
    /// formatting machinery.
    struct Summary<'a> {
        requestline: &'a str,
        code: Option<u16>,
        size: Option<u64>,
    }

    /// A number's digits, or `-`.
    fn or_dash(v: Option<u64>, digits: &mut [u8; 20]) -> &[u8] {
        match v {
            Some(v) => stdx::decimal(v, digits).as_bytes(),
            None => b"-",
        }
    }

    impl fmt::Display for Summary<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut buf = [0; 256];
            let mut n = 0;
            let mut put = |bytes: &[u8]| {
                let end = n + bytes.len();
                if let Some(to) = buf.get_mut(n..end) {
                    to.copy_from_slice(bytes);
                }
                n = end;
            };
            let (mut code, mut size) = ([0; 20], [0; 20]);
            let code = or_dash(self.code.map(u64::from), &mut code);
            let size = or_dash(self.size, &mut size);
            for piece in [b"\"", self.requestline.as_bytes(), b"\" ", code, b" ", size] {
                put(piece);
            }
            match buf.get(..n).map(std::str::from_utf8) {
                Some(Ok(message)) => f.write_str(message),
                // Too long for the stack (or never: not UTF-8): piece by piece.
                _ => {
                    for piece in [b"\"", self.requestline.as_bytes(), b"\" ", code, b" ", size] {
                        f.write_str(std::str::from_utf8(piece).map_err(|_| fmt::Error)?)?;
                    }
                    Ok(())
                }
            }
        }
    }

    /// Python: `BaseHTTPRequestHandler.log_message`, as a `tracing` event of target
    /// `http_server::access` whose message is CPython's line.
    ///
    /// When called from [`log_request`] the event also carries the request's structured
    /// fields (for `http_server::logging::AccessLines`): `peer` (`address_string`), `method`,
    /// `path`, `protocol`, `request` (the request line), `status` and `bytes_sent` (when
    /// known), `duration_us` (from the request line, or under the event loops from when
    /// the request began to arrive, to the log call), `referer` and `user_agent`.
    pub fn log_message<H: HttpHandler + ?Sized>(
        h: &H,
        ex: &Exchange<'_>,
        args: fmt::Arguments<'_>,
    ) {
        if !tracing::enabled!(target: "http_server::access", tracing::Level::INFO) {
            // Nobody listens: skip the formatting (a few microseconds per request).
            ex.access.take();
            return;
        }
        let peer = h.address_string(ex);
        let date = h.log_date_time_string();
        // CPython's `"%s - - [%s] %s\n"` (the subscriber adds the newline), formatted by
        // the subscriber straight into its buffer.
        let line = Line {
            peer: &peer,
            date: &date,
            args,
        };
        let Some((status, bytes_sent)) = ex.access.take() else {
            tracing::info!(target: "http_server::access", client = %ex.client_address(), message = %line);
            return;
        };
        let duration_us = u64::try_from(ex.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // The first value of each, found in one pass over the fields.
        let (mut referer, mut user_agent) = (None, None);
        for (name, value) in ex.headers.iter() {
            if referer.is_none() && name.eq_ignore_ascii_case("Referer") {
                referer = Some(value);
            } else if user_agent.is_none() && name.eq_ignore_ascii_case("User-Agent") {
                user_agent = Some(value);
            }
        }
        // Latin-1 text, borrowed when ASCII (the usual header).
        let referer = referer.map(stdx::latin1::decode_cow);
        let user_agent = user_agent.map(stdx::latin1::decode_cow);
        tracing::info!(
            target: "http_server::access",
            client = %ex.client_address(),
            peer = %peer,
            method = %ex.command,
            path = %ex.path,
            protocol = %ex.request_version,
            request = %ex.requestline,
            status = status.map(u64::from),
            bytes_sent,
            duration_us,
            referer = referer.as_deref(),
            user_agent = user_agent.as_deref(),
            // The message as a field rather than `"{line}"`: one formatting layer less.
            message = %line,
        );
    }

    /// CPython's log line without its newline: `peer - - [date] message`, the message with
    /// control characters escaped.
    struct Line<'a> {
        peer: &'a str,
        date: &'a str,
        args: fmt::Arguments<'a>,
    }

    impl fmt::Display for Line<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.peer)?;
            f.write_str(" - - [")?;
            f.write_str(self.date)?;
            f.write_str("] ")?;
            fmt::write(&mut EscapeControl(f), self.args)
        }
    }

    /// A writer that escapes what [`escape_control`] escapes, piece by piece.
    struct EscapeControl<'a, W: ?Sized>(&'a mut W);

    impl<W: fmt::Write + ?Sized> fmt::Write for EscapeControl<'_, W> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            escape_control_into(s, self.0)
        }
    }

    /// The log time format of CPython (`%02d/%3s/%04d %02d:%02d:%02d`), in UTC: the text
    /// of [`stdx::date::write_log`], formatted at most once a second per thread.
    pub fn log_date_time_string(t: SystemTime) -> String {
        let mut out = String::with_capacity(20);
        stdx::date::write_log(t, &mut out);
        out
    }

    /// The current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted at
    /// most once a second per thread.
    pub fn http_date_now() -> String {
        stdx::date::format(SystemTime::now())
    }

    /// Escapes control characters as CPython's `_control_char_table` does: C0 and C1
    /// controls as `\xNN`, the backslash as `\\`; text with nothing to escape (the usual
    /// log line) is borrowed as it is.
    pub fn escape_control(s: &str) -> Cow<'_, str> {
        if is_clean(s) {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len() + 8);
        let _ = escape_control_into(s, &mut out);
        Cow::Owned(out)
    }

    /// True when [`escape_control`] leaves `s` as it is.
    fn is_clean(s: &str) -> bool {
        // Without an early exit, so that it compiles to a few vector instructions: the
        // usual text is clean and read to its end anyway.
        s.bytes().fold(true, |clean, b| {
            clean & (b' '..=b'~').contains(&b) & (b != b'\\')
        })
    }

    /// [`escape_control`], written to `out`: text with nothing to escape is written as it
    /// is, in one piece.
    pub fn escape_control_into<W: fmt::Write + ?Sized>(s: &str, out: &mut W) -> fmt::Result {
        if is_clean(s) {
            return out.write_str(s);
        }
        for c in s.chars() {
            let n = u32::from(c);
            if n < 0x20 || (0x7f..0xa0).contains(&n) {
                write!(out, "\\x{n:02x}")?;
            } else if c == '\\' {
                out.write_str("\\\\")?;
            } else {
                out.write_char(c)?;
            }
        }
        Ok(())
    }

    /// Fills an error page template (`%(code)d`, `%(code)s`, `%(message)s`, `%(explain)s`,
    /// `%%`) with HTML-escaped text (Python: `error_message_format % {...}` with
    /// `html.escape(..., quote=False)`).
    pub fn error_page(format: &str, code: u16, message: &str, explain: &str) -> String {
        let message = html_escape(message);
        let explain = html_escape(explain);
        let mut out = String::with_capacity(format.len() + 64);
        let mut rest = format;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(r) = rest.strip_prefix("%%") {
                out.push('%');
                rest = r;
                continue;
            }
            let key = rest
                .strip_prefix("%(")
                .and_then(|r| r.find(')').map(|j| (&r[..j], &r[j + 1..])));
            match key {
                Some((name, after)) if !after.is_empty() && "sdr".contains(&after[..1]) => {
                    let value = match name {
                        "code" => code.to_string(),
                        "message" => message.clone(),
                        "explain" => explain.clone(),
                        _ => String::new(),
                    };
                    out.push_str(&value);
                    rest = &after[1..];
                }
                _ => {
                    out.push('%');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Python: `html.escape(s, quote=False)`.
    pub fn html_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
}

/// Serves one request over a buffered stream: reads the request line (414 when over
/// `max_line` bytes), parses the head (replying with the error when it is bad), runs
/// `handle_expect_100` when asked, dispatches to [`HttpHandler::do_method`] and flushes.
/// Returns whether the connection stays open (`!close_connection`).
///
/// A socket timeout logs `Request timed out: ...` and closes; an empty read closes.
/// Works over any [`RwStream`]: a socket's [`BufStream`] or an already framed request.
///
/// Python: `http.server.BaseHTTPRequestHandler.handle_one_request`.
#[doc(alias = "http.server.BaseHTTPRequestHandler.handle_one_request")]
pub fn handle_one_request<H: HttpHandler + ?Sized>(
    handler: &mut H,
    stream: &mut dyn RwStream,
    cx: &HandlerCx<'_>,
    config: &HttpConfig,
) -> Result<bool> {
    let mut ex = Exchange::new(stream, *cx, config);
    match serve(handler, &mut ex) {
        Ok(()) => Ok(!ex.close_connection),
        Err(e) if e.is_timeout() => {
            handler.log_error(
                &ex,
                format_args!("Request timed out: TimeoutError('timed out')"),
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Serves a request whose head the caller already parsed (the event-loop face: it frames
/// the request without blocking, then runs the handler over the buffered bytes). Runs
/// `handle_expect_100` when the head asks for it, then `do_method`, then flushes.
/// Returns whether the connection stays open.
pub fn handle_parsed_request<H: HttpHandler + ?Sized>(
    handler: &mut H,
    stream: &mut dyn RwStream,
    cx: &HandlerCx<'_>,
    config: &HttpConfig,
    mut head: RequestHead,
) -> Result<bool> {
    let (keep, _) = serve_parsed(handler, &mut *stream, None, cx, config, &mut head)?;
    stream.flush()?;
    Ok(keep)
}

/// [`handle_parsed_request`] without its final flush, also returning the response head
/// the exchange wrote itself (when `written` tracks the stream position of the buffer
/// `stream` writes to). The event-loop face's stream sends its buffer when flushed, so
/// only the handler's own flushes stream a response; the rest goes when the loop's turn
/// ends.
pub(crate) fn serve_parsed<'a, H: HttpHandler + ?Sized>(
    handler: &mut H,
    stream: &'a mut dyn RwStream,
    written: Option<&'a Cell<usize>>,
    cx: &HandlerCx<'a>,
    config: &'a HttpConfig,
    head: &mut RequestHead,
) -> Result<(bool, Option<WrittenHead>)> {
    let expect_100 = head.expect_100;
    let mut ex = Exchange::from_head_in(stream, *cx, config, head);
    ex.written = written;
    if expect_100 && !handler.handle_expect_100(&mut ex)? {
        return Ok((false, None));
    }
    handler.do_method(&mut ex)?;
    Ok((!ex.close_connection, ex.written_head))
}

/// Replies to a request whose head could not be parsed (the error of [`parse_request`]):
/// `send_error` with the request line as far as it is known, then the connection closes.
/// The method counts (no page for a HEAD) only when the line starts with it.
///
/// [`parse_request`]: crate::parse_request
pub fn reply_parse_error<H: HttpHandler + ?Sized>(
    handler: &mut H,
    stream: &mut dyn RwStream,
    cx: &HandlerCx<'_>,
    config: &HttpConfig,
    raw_requestline: &[u8],
    error: &HttpError,
) -> Result<()> {
    let mut ex = Exchange::new(stream, *cx, config);
    ex.requestline = request::requestline_of(raw_requestline);
    ex.raw_requestline = raw_requestline.to_vec();
    if let Ok(Some(line)) = request::parse_request_line(raw_requestline, &config.protocol_version) {
        // CPython's `split()` also finds a method after leading whitespace or controls
        // (`\rHEAD / HTTP/1.1`). For a refused line that does not start with it, the page
        // goes out whole: the connection closes after it, so a client that sent HEAD still
        // reads the answer right, while one that meant another method would wait for a body
        // a HEAD's answer leaves out.
        if raw_requestline.starts_with(line.command.as_bytes()) {
            ex.command = line.command;
        }
        ex.path = line.path;
        ex.request_version = line.request_version;
    }
    handler.send_error(
        &mut ex,
        error.code,
        error.message.as_deref(),
        error.explain.as_deref(),
    )?;
    ex.stream().flush()?;
    Ok(())
}

fn serve<H: HttpHandler + ?Sized>(h: &mut H, ex: &mut Exchange<'_>) -> Result<()> {
    let config = ex.config;
    let raw = ex.stream.readline(config.max_line + 1)?;
    if raw.len() > config.max_line {
        ex.requestline.clear();
        ex.request_version.clear();
        ex.command.clear();
        h.send_error(ex, 414, None, None)?;
        ex.stream.flush()?;
        return Ok(());
    }
    if raw.is_empty() {
        ex.close_connection = true;
        return Ok(());
    }
    ex.started = Instant::now();
    ex.requestline = request::requestline_of(&raw);
    ex.raw_requestline = raw;
    if !parse_into(h, ex)? {
        ex.stream.flush()?;
        return Ok(());
    }
    h.do_method(ex)?;
    ex.stream.flush()?;
    Ok(())
}

/// `parse_request` over the stream: reads the head as CPython does and parses it with the
/// public [`parse_request`](crate::parse_request). Ok(false) when a reply (or none) was
/// sent and the request ends here.
///
/// The request line alone is parsed first, so a bad one is answered before any header line
/// is read (CPython's `parse_request` replies before `http.client.parse_headers`). Then the
/// header lines are read into the same buffer with `http.client._read_headers`' limits (a
/// line over `max_line` bytes: 431 `Line too long`; more than `max_headers` lines: 431
/// `Too many headers`), and the whole head is parsed.
fn parse_into<H: HttpHandler + ?Sized>(h: &mut H, ex: &mut Exchange<'_>) -> Result<bool> {
    let config = ex.config;
    ex.close_connection = true;
    // The reads apply the limits to the lines as sent: a line end added where the end of
    // the stream cut a line must not make that line too long for the parse.
    let parse = |head: &[u8], ends_added: bool| {
        if ends_added {
            let relaxed = config
                .clone()
                .limits(config.max_line + 2, config.max_headers);
            request::parse_request(head, &relaxed)
        } else {
            request::parse_request(head, config)
        }
    };
    let mut head = ex.raw_requestline.clone();
    // A line without its end was cut by the end of the stream: no header line follows.
    let line_at_eof = !head.ends_with(b"\n");
    if line_at_eof {
        head.push(b'\n');
    }
    match parse(&head, line_at_eof) {
        Ok(request::Parsed::Partial) => {}
        Ok(_) => return Ok(false),
        Err(e) => {
            h.send_error(ex, e.code, e.message.as_deref(), e.explain.as_deref())?;
            return Ok(false);
        }
    }
    // http.client._read_headers
    let mut ends_added = line_at_eof;
    let mut count = 0usize;
    let failure = loop {
        let l = match ex.stream.readline(config.max_line + 1) {
            Ok(l) => l,
            Err(e) => {
                // A timeout is logged with the request line's facts set.
                set_line_facts(ex);
                return Err(e.into());
            }
        };
        if l.len() > config.max_line {
            break Some(request::line_too_long());
        }
        count += 1;
        if count > config.max_headers {
            break Some(request::too_many_headers(config.max_headers));
        }
        if l.is_empty() {
            // The end of the stream ends the header block, as in `http.client`: the line
            // ends the client did not send are added for the parse.
            if !head.ends_with(b"\n") {
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"\r\n");
            ends_added = true;
            break None;
        }
        let end = l == b"\r\n" || l == b"\n";
        head.extend_from_slice(&l);
        if end {
            break None;
        }
    };
    let parsed = match failure {
        Some(e) => Err(e),
        None => parse(&head, ends_added),
    };
    let head = match parsed {
        Ok(request::Parsed::Complete { head, .. }) => head,
        // Not reached: the request line parsed and the block ends with a blank line.
        Ok(_) => return Ok(false),
        Err(e) => {
            set_line_facts(ex);
            h.send_error(ex, e.code, e.message.as_deref(), e.explain.as_deref())?;
            ex.close_connection = true;
            return Ok(false);
        }
    };
    let expect_100 = head.expect_100;
    ex.set_head(head);
    if line_at_eof {
        // The request line as received.
        ex.raw_requestline.pop();
    }
    if expect_100 && !h.handle_expect_100(ex)? {
        return Ok(false);
    }
    Ok(true)
}

/// Sets what the request line says (`command`, `path`, `request_version`,
/// `close_connection`) on an exchange whose head could not be read or parsed after its
/// request line was: the state CPython's `parse_request` is in when it reads the header
/// lines.
fn set_line_facts(ex: &mut Exchange<'_>) {
    if let Ok(Some(line)) =
        request::parse_request_line(&ex.raw_requestline, &ex.config.protocol_version)
    {
        ex.command = line.command;
        ex.path = line.path;
        ex.request_version = line.request_version;
        ex.close_connection = line.close_connection;
    }
}

/// Adapts an [`HttpHandler`] to `socketserver`: `handle()` serves requests while the
/// connection stays open.
///
/// Implements [`StreamHandler`] (over a buffered stream) and [`RequestHandler`] (over a raw
/// connection: applies the [`StreamConfig`] socket options and buffers it, as
/// `StreamRequestHandler` does).
///
/// Python: `http.server.BaseHTTPRequestHandler.handle` on top of
/// `socketserver.StreamRequestHandler`.
#[doc(alias = "http.server.BaseHTTPRequestHandler.handle")]
#[derive(Debug)]
pub struct HttpRequestHandler<H> {
    /// The user's handler.
    pub handler: H,
    /// The class attributes.
    pub config: Arc<HttpConfig>,
    /// `StreamRequestHandler`'s attributes (buffers, timeout, Nagle).
    pub stream: StreamConfig,
}

impl<H: HttpHandler> HttpRequestHandler<H> {
    /// Wraps `handler` with the default class attributes.
    pub fn new(handler: H) -> Self {
        Self::with_config(handler, Arc::new(HttpConfig::default()))
    }

    /// Wraps `handler` with the given class attributes.
    pub fn with_config(handler: H, config: Arc<HttpConfig>) -> Self {
        HttpRequestHandler {
            handler,
            config,
            stream: StreamConfig::default(),
        }
    }

    /// Sets `StreamRequestHandler`'s attributes.
    pub fn stream_config(mut self, stream: StreamConfig) -> Self {
        self.stream = stream;
        self
    }

    /// Serves one request: [`handle_one_request`] with this adapter's config.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.handle_one_request`.
    pub fn handle_one_request(
        &mut self,
        stream: &mut dyn RwStream,
        cx: &HandlerCx<'_>,
    ) -> Result<bool> {
        handle_one_request(&mut self.handler, stream, cx, &self.config)
    }

    /// Serves requests until the connection closes.
    ///
    /// Python: `http.server.BaseHTTPRequestHandler.handle`.
    pub fn handle_all(&mut self, stream: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
        while self.handle_one_request(stream, cx)? {}
        Ok(())
    }
}

impl<H: HttpHandler> StreamHandler for HttpRequestHandler<H> {
    fn handle(
        &mut self,
        stream: &mut dyn RwStream,
        cx: &HandlerCx<'_>,
    ) -> socketserver::Result<()> {
        Ok(self.handle_all(stream, cx)?)
    }
}

impl<C: Connection, H: HttpHandler> RequestHandler<C> for HttpRequestHandler<H> {
    fn setup(&mut self, request: &mut C, _cx: &HandlerCx<'_>) -> socketserver::Result<()> {
        if self.stream.timeout.is_some() {
            request.set_read_timeout(self.stream.timeout)?;
            request.set_write_timeout(self.stream.timeout)?;
        }
        if self.stream.disable_nagle_algorithm {
            request.set_nodelay(true)?;
        }
        Ok(())
    }

    fn handle(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> socketserver::Result<()> {
        let mut stream = BufStream::new(request, self.stream.rbufsize, self.stream.wbufsize);
        let r = self.handle_all(&mut stream, cx);
        let _ = stream.flush();
        Ok(r?)
    }
}
