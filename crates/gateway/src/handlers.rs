//! Base classes for server/gateway implementations: the `BaseHandler` state machine that
//! runs one application for one request, and its stream, CGI and IIS variants.
//!
//! Python: `wsgiref.handlers`.
//!
//! The handler core does no socket I/O: it reads a [`Read`] and writes a [`Write`], so it runs
//! equally under the HTTP server, as a CGI script, and in a unit test over `Vec<u8>`:
//!
//! ```
//! use gateway::handlers::SimpleHandler;
//! use gateway::{Body, Environ, Result, StartResponse};
//!
//! fn hello(_env: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
//!     sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
//!     Ok(Body::from("Hello, world!"))
//! }
//!
//! let mut h = SimpleHandler::base_cgi(std::io::empty(), Vec::new(), std::io::sink(),
//!                                     [("SERVER_PROTOCOL", "HTTP/1.0")]);
//! h.run(&hello).unwrap();
//! assert_eq!(
//!     h.io().stdout,
//!     b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
//! );
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::types::{Application, Body, Environ, ErrorStream, InputStream, StartResponse};
use crate::util;

pub use crate::util::format_date_time;

/// Python: `wsgiref.handlers.BaseHandler`'s configuration attributes (`wsgi_version`,
/// `wsgi_multithread`, `wsgi_multiprocess`, `wsgi_run_once`, `origin_server`,
/// `http_version`, `server_software`, `os_environ`, `wsgi_file_wrapper`, `traceback_limit`,
/// `error_status`, `error_headers`, `error_body`).
///
/// The class attributes of `BaseHandler`, as data.
///
/// ```
/// let mut cfg = gateway::handlers::HandlerConfig::default();
/// cfg.origin_server = false;
/// assert_eq!(cfg.error_status, "500 Internal Server Error");
/// ```
#[doc(alias = "wsgiref.handlers.BaseHandler")]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerConfig {
    /// Python: `wsgiref.handlers.BaseHandler.wsgi_version`, `(1, 0)`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.wsgi_version")]
    pub wsgi_version: (u32, u32),
    /// Python: `wsgiref.handlers.BaseHandler.wsgi_multithread`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.wsgi_multithread")]
    pub wsgi_multithread: bool,
    /// Python: `wsgiref.handlers.BaseHandler.wsgi_multiprocess`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.wsgi_multiprocess")]
    pub wsgi_multiprocess: bool,
    /// Python: `wsgiref.handlers.BaseHandler.wsgi_run_once`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.wsgi_run_once")]
    pub wsgi_run_once: bool,
    /// Python: `wsgiref.handlers.BaseHandler.origin_server`: `true` writes an `HTTP/x.y` status line,
    /// `false` a CGI `Status:` header.
    #[doc(alias = "wsgiref.handlers.BaseHandler.origin_server")]
    pub origin_server: bool,
    /// Python: `wsgiref.handlers.BaseHandler.http_version`, `"1.0"`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.http_version")]
    pub http_version: String,
    /// Python: `wsgiref.handlers.BaseHandler.server_software` (the `Server` header and `SERVER_SOFTWARE`).
    #[doc(alias = "wsgiref.handlers.BaseHandler.server_software")]
    pub server_software: Option<String>,
    /// Python: `wsgiref.handlers.BaseHandler.os_environ`, copied into every environ first.
    ///
    /// Empty by default: the process environment is not copied into every request's environ
    /// (CPython copies it; the CGI handlers read it as the request, see [`read_environ`]).
    #[doc(alias = "wsgiref.handlers.BaseHandler.os_environ")]
    pub os_environ: BTreeMap<String, String>,
    /// Python: `wsgiref.handlers.BaseHandler.wsgi_file_wrapper` (`None` disables `wsgi.file_wrapper`).
    #[doc(alias = "wsgiref.handlers.BaseHandler.wsgi_file_wrapper")]
    pub wsgi_file_wrapper: bool,
    /// Python: `wsgiref.handlers.BaseHandler.traceback_limit`: how many `caused by` lines
    /// [`default::log_exception`] writes (`None`: all).
    #[doc(alias = "wsgiref.handlers.BaseHandler.traceback_limit")]
    pub traceback_limit: Option<usize>,
    /// Python: `wsgiref.handlers.BaseHandler.error_status`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.error_status")]
    pub error_status: String,
    /// Python: `wsgiref.handlers.BaseHandler.error_headers`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.error_headers")]
    pub error_headers: Vec<(String, String)>,
    /// Python: `wsgiref.handlers.BaseHandler.error_body`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.error_body")]
    pub error_body: Vec<u8>,
}

impl Default for HandlerConfig {
    /// Python: `wsgiref.handlers.BaseHandler`'s class attributes.
    #[doc(alias = "wsgiref.handlers.BaseHandler")]
    fn default() -> Self {
        HandlerConfig {
            wsgi_version: (1, 0),
            wsgi_multithread: true,
            wsgi_multiprocess: true,
            wsgi_run_once: false,
            origin_server: true,
            http_version: "1.0".to_owned(),
            server_software: None,
            os_environ: BTreeMap::new(),
            wsgi_file_wrapper: true,
            traceback_limit: None,
            error_status: "500 Internal Server Error".to_owned(),
            error_headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            error_body: b"A server error occurred.  Please contact the administrator.".to_vec(),
        }
    }
}

impl HandlerConfig {
    /// Python: `wsgiref.handlers.SimpleHandler(..., multithread=True, multiprocess=False)`.
    pub fn simple() -> Self {
        HandlerConfig {
            wsgi_multiprocess: false,
            ..Self::default()
        }
    }

    /// Python: `wsgiref.handlers.BaseCGIHandler(...)`: `origin_server = False`.
    pub fn base_cgi() -> Self {
        HandlerConfig {
            origin_server: false,
            ..Self::simple()
        }
    }

    /// Python: `wsgiref.handlers.CGIHandler` / `IISCGIHandler`: no origin server, `wsgi.run_once` true,
    /// single-threaded, multi-process, empty `os_environ`.
    #[doc(alias = "wsgiref.handlers.CGIHandler")]
    pub fn cgi() -> Self {
        HandlerConfig {
            origin_server: false,
            wsgi_run_once: true,
            wsgi_multithread: false,
            wsgi_multiprocess: true,
            ..Self::default()
        }
    }
}

/// Python: `wsgiref.handlers.BaseHandler._write`, `_flush`, `get_stdin`, `get_stderr`, `add_cgi_vars`
/// (which raise `NotImplementedError` in the base class) and `sendfile`.
///
/// The abstract, transport-facing methods of `BaseHandler`.
#[doc(alias = "wsgiref.handlers.BaseHandler._write")]
pub trait HandlerIo {
    /// Python: `wsgiref.handlers.BaseHandler._write`.
    ///
    /// Writes all of `data` to the client.
    #[doc(alias = "wsgiref.handlers.BaseHandler._write")]
    #[doc(alias = "_write")]
    fn write_raw(&mut self, data: &[u8]) -> io::Result<()>;

    /// Python: `wsgiref.handlers.BaseHandler._flush`.
    ///
    /// Forces out what `write_raw` buffered.
    #[doc(alias = "wsgiref.handlers.BaseHandler._flush")]
    #[doc(alias = "_flush")]
    fn flush_raw(&mut self) -> io::Result<()>;

    /// Sends the response head: by default its bytes exactly as
    /// `wsgiref.handlers.BaseHandler.send_preamble` and `send_headers` write them (the
    /// status line, `Date`, `Server`, the headers, the blank line; or a CGI `Status:` line
    /// and the headers), in one [`write_raw`](Self::write_raw).
    ///
    /// A server with a typed response head of its own (the HTTP server under
    /// [`simple_server`](crate::simple_server)) takes the status and headers here instead,
    /// and frames the body itself.
    ///
    /// Python: `send_preamble` plus the `self._write(bytes(self.headers))` of
    /// `wsgiref.handlers.BaseHandler.send_headers`.
    fn send_head(&mut self, head: &Head<'_>) -> io::Result<()> {
        let mut out = Vec::with_capacity(256);
        head.write_to(&mut out);
        self.write_raw(&out)
    }

    /// Python: `wsgiref.handlers.BaseHandler.get_stdin`.
    ///
    /// The request body stream for `wsgi.input`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.get_stdin")]
    fn stdin(&mut self) -> InputStream;

    /// Python: `wsgiref.handlers.BaseHandler.get_stderr`.
    ///
    /// The error stream for `wsgi.errors` and the error log.
    #[doc(alias = "wsgiref.handlers.BaseHandler.get_stderr")]
    fn stderr(&mut self) -> ErrorStream;

    /// Python: `wsgiref.handlers.BaseHandler.add_cgi_vars`.
    ///
    /// Inserts the request's CGI variables.
    #[doc(alias = "wsgiref.handlers.BaseHandler.add_cgi_vars")]
    fn add_cgi_vars(&self, environ: &mut Environ);

    /// Hands over an environ already holding the request's CGI variables, instead of
    /// [`add_cgi_vars`](Self::add_cgi_vars) copying them into a fresh one: the fast path of
    /// servers that build an environ per request. `None` (the default) means "use
    /// `add_cgi_vars`". `os_environ` still applies underneath (its keys fill only what the
    /// CGI variables leave unset, as when Python copies it first).
    ///
    /// Python: no equivalent (an optimisation of `add_cgi_vars`).
    fn take_environ(&mut self) -> Option<Environ> {
        None
    }

    /// Python: `wsgiref.handlers.BaseHandler.sendfile` (which returns `False` by default).
    ///
    /// Sends a whole file the platform's fast way; `Ok(None)` to fall back to iterating.
    /// Called after the headers went out.
    #[doc(alias = "wsgiref.handlers.BaseHandler.sendfile")]
    fn sendfile(&mut self, file: &mut File) -> io::Result<Option<u64>> {
        let _ = file;
        Ok(None)
    }

    /// How many more body bytes the response head allows, once it went out: `Some(0)` when
    /// the body is complete (its declared `Content-Length` written) or may have none (a
    /// response to `HEAD`, a 204 or 304). The handler then stops iterating the body and
    /// cuts a chunk that would pass the length, as PEP 3333 asks of servers ("should stop
    /// iterating over the response when enough data has been sent"). `None` (the default):
    /// no limit, every item is written, as wsgiref does.
    ///
    /// Python: no equivalent (wsgiref iterates the whole response).
    fn body_room(&self) -> Option<u64> {
        None
    }
}

/// What a finished request looked like, handed to [`HandlerHooks::close`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseSummary {
    /// The status last set (`"200 OK"`), if any.
    pub status: Option<String>,
    /// Body bytes sent (Python: `wsgiref.handlers.BaseHandler.bytes_sent`).
    pub bytes_sent: u64,
    /// True once the headers went out (Python: `wsgiref.handlers.BaseHandler.headers_sent`).
    pub headers_sent: bool,
    /// True when the application failed or panicked.
    pub error: bool,
    /// True when the response is broken (an error after the headers went out, or the client
    /// went away): the server must close the connection.
    pub close_connection: bool,
}

impl ResponseSummary {
    /// The status code (Python: `self.status.split(' ', 1)[0]`), `"-"` when none was set.
    pub fn code(&self) -> &str {
        self.status
            .as_deref()
            .and_then(|s| s.split(' ').next())
            .unwrap_or("-")
    }
}

/// Appends a `Date` value to a head, as Latin-1 bytes (see [`Head::date`]).
pub type WriteDate<'a> = dyn Fn(&mut Vec<u8>) + 'a;

/// A response head as [`Response::send_headers`] hands it to [`HandlerIo::send_head`]: the
/// status, the headers, and what `send_preamble` adds before them.
///
/// Python: the values `wsgiref.handlers.BaseHandler.send_preamble` and `send_headers`
/// format (`self.http_version`, `self.status`, the `Date` and `Server` they add,
/// `self.headers`).
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Head<'a> {
    /// `Some("1.0")` for an origin server's `HTTP/1.0 <status>` line; `None` for a CGI
    /// gateway's `Status: <status>` line.
    pub http_version: Option<&'a str>,
    /// The status (`"200 OK"`).
    pub status: &'a str,
    /// Writes the `Date` value `send_preamble` adds, as Latin-1 (an origin server, when the
    /// application set none): the hooks' [`write_date_time`](HandlerHooks::write_date_time),
    /// called as the head is written, so the date goes straight into it.
    pub date: Option<&'a WriteDate<'a>>,
    /// The `Server` value `send_preamble` adds (an origin server with a
    /// `server_software`, when the application set none).
    pub server: Option<&'a str>,
    /// The response headers, `Content-Length` included when the handler added one.
    pub headers: Option<&'a Headers>,
}

impl std::fmt::Debug for Head<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("http_version", &self.http_version)
            .field("status", &self.status)
            .field("date", &self.date.is_some())
            .field("server", &self.server)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Head<'_> {
    /// Appends the bytes `send_preamble` writes: the status line with `Date` and `Server`,
    /// or the CGI `Status:` line (text as Latin-1).
    pub fn write_preamble(&self, out: &mut Vec<u8>) {
        let push = |out: &mut Vec<u8>, s: &str| {
            if !stdx::latin1::encode_into(s, out) {
                out.extend_from_slice(s.as_bytes());
            }
        };
        match self.http_version {
            Some(version) => {
                out.extend_from_slice(b"HTTP/");
                push(out, version);
                out.push(b' ');
                push(out, self.status);
                out.extend_from_slice(b"\r\n");
                if let Some(date) = self.date {
                    out.extend_from_slice(b"Date: ");
                    date(out);
                    out.extend_from_slice(b"\r\n");
                }
                if let Some(server) = self.server {
                    out.extend_from_slice(b"Server: ");
                    push(out, server);
                    out.extend_from_slice(b"\r\n");
                }
            }
            None => {
                out.extend_from_slice(b"Status: ");
                push(out, self.status);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends the whole head: [`write_preamble`](Self::write_preamble), the headers and
    /// the blank line (Python: `send_preamble()` then `self._write(bytes(self.headers))`).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.write_preamble(out);
        match self.headers {
            Some(h) => h.write_bytes(out),
            None => out.extend_from_slice(b"\r\n"),
        }
    }
}

/// Python: `wsgiref.handlers.BaseHandler.log_exception`, `error_output`, `close` and the clock that
/// `send_preamble` reads (`format_date_time(time.time())`), which is a test seam here.
///
/// The overridable policy of `BaseHandler`; `()` takes every default.
#[doc(alias = "wsgiref.handlers.BaseHandler.log_exception")]
pub trait HandlerHooks {
    /// Python: `wsgiref.handlers.format_date_time(time.time())` in `send_preamble`.
    ///
    /// The `Date` header's value.
    fn date_time_string(&self) -> String {
        default::date_time_string()
    }

    /// Appends the `Date` header's value to `out`: [`date_time_string`](Self::date_time_string)
    /// unless overridden. Hooks that keep the default clock override this with
    /// [`default::write_date_time`], which copies the current second's date from a per-thread
    /// cache instead of allocating a string per response.
    ///
    /// Python: no equivalent (how `send_preamble` writes `format_date_time(time.time())`).
    fn write_date_time(&self, out: &mut Vec<u8>) {
        let date = self.date_time_string();
        if !stdx::latin1::encode_into(&date, out) {
            out.extend_from_slice(date.as_bytes());
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.log_exception`.
    ///
    /// Logs an application error.
    #[doc(alias = "wsgiref.handlers.BaseHandler.log_exception")]
    fn log_exception(&self, error: &Error, stderr: &mut dyn Write, config: &HandlerConfig) {
        default::log_exception(error, stderr, config);
    }

    /// Python: `wsgiref.handlers.BaseHandler.error_output`.
    ///
    /// The mini-application that answers when the application failed before sending headers.
    #[doc(alias = "wsgiref.handlers.BaseHandler.error_output")]
    fn error_output(
        &self,
        environ: &Environ,
        start_response: &mut dyn StartResponse,
        config: &HandlerConfig,
        exc_info: Error,
    ) -> Result<Body> {
        default::error_output(environ, start_response, config, exc_info)
    }

    /// Runs once the request is over, whatever happened. Python: `wsgiref.handlers.BaseHandler.close`
    /// (`ServerHandler.close` logs the request here).
    #[doc(alias = "wsgiref.handlers.BaseHandler.close")]
    fn close(&mut self, summary: &ResponseSummary) {
        let _ = summary;
    }
}

impl HandlerHooks for () {
    fn write_date_time(&self, out: &mut Vec<u8>) {
        default::write_date_time(out);
    }
}

/// The default bodies of [`HandlerHooks`], for overrides that extend them (Python's `super()`).
pub mod default {
    use super::*;

    /// Python: `wsgiref.handlers.format_date_time(time.time())`.
    pub fn date_time_string() -> String {
        util::format_date_time(SystemTime::now())
    }

    /// [`date_time_string`] appended to `out` without allocating (the current second's
    /// date is cached per thread).
    ///
    /// Python: `wsgiref.handlers.format_date_time(time.time())`.
    pub fn write_date_time(out: &mut Vec<u8>) {
        stdx::date::write(SystemTime::now(), out);
    }

    /// Python: `wsgiref.handlers.BaseHandler.log_exception` (`traceback.print_exception` to `get_stderr()`).
    ///
    /// Writes the error and its `caused by` chain (up to `traceback_limit` lines) to
    /// `stderr`, and logs it with `tracing::error!`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.log_exception")]
    pub fn log_exception(error: &Error, stderr: &mut dyn Write, config: &HandlerConfig) {
        tracing::error!(error = %error, kind = error.kind_name(), "application error");
        let mut text = format!("{}: {}\n", error.kind_name(), error);
        let mut source = std::error::Error::source(error);
        let mut depth = 0usize;
        while let Some(s) = source {
            if config.traceback_limit.is_some_and(|limit| depth >= limit) {
                break;
            }
            text.push_str(&format!("  caused by: {s}\n"));
            source = s.source();
            depth += 1;
        }
        // A failing error stream must not hide the original error: it is logged above.
        let _ = stderr
            .write_all(text.as_bytes())
            .and_then(|()| stderr.flush());
    }

    /// Python: `wsgiref.handlers.BaseHandler.error_output`: `start_response(error_status, error_headers,
    /// exc_info)` and `[error_body]`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.error_output")]
    pub fn error_output(
        _environ: &Environ,
        start_response: &mut dyn StartResponse,
        config: &HandlerConfig,
        exc_info: Error,
    ) -> Result<Body> {
        let headers: Vec<(&str, &str)> = config
            .error_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        start_response.start_response(&config.error_status, &headers, Some(exc_info))?;
        Ok(Body::from(config.error_body.clone()))
    }
}

/// The response half of a handler's state (Python: `status`, `headers`, `headers_sent`,
/// `bytes_sent`, and what `len(result)` said).
#[derive(Debug, Default)]
struct ResponseState {
    status: Option<String>,
    headers: Option<Headers>,
    headers_sent: bool,
    bytes_sent: u64,
    result_len: Option<usize>,
    client_is_modern: bool,
    head: bool,
    error: bool,
    close_connection: bool,
}

/// Python: the response methods of `wsgiref.handlers.BaseHandler` (`start_response`, `write`,
/// `finish_response`, `send_headers`, `send_preamble`, `cleanup_headers`,
/// `set_content_length`, `finish_content`, `result_is_file`, `sendfile`,
/// `client_is_modern`). It borrows the handler's parts, so the environ stays borrowable
/// while the application writes.
///
/// The response side of a running handler: the `start_response` and `write` callables the
/// application gets, and the final steps that send its body.
pub struct Response<'a, Io, K> {
    io: &'a mut Io,
    hooks: &'a K,
    config: &'a HandlerConfig,
    state: &'a mut ResponseState,
}

impl<Io, K> std::fmt::Debug for Response<'_, Io, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("state", &self.state)
            .finish()
    }
}

fn check_status(status: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidStatus {
            status: status.to_owned(),
            reason,
        })
    };
    let b = status.as_bytes();
    if b.len() >= 4
        && b[..3].iter().all(u8::is_ascii_digit)
        && b[3] == b' '
        && stdx::ascii::printable(b)
        && !b.contains(&b'\t')
    {
        // Printable ASCII with a code: the usual status, valid.
        return Ok(());
    }
    if status.chars().count() < 4 {
        return bad("status must be at least 4 characters");
    }
    if !b[..3].iter().all(u8::is_ascii_digit) {
        return bad("status message must begin w/3-digit code");
    }
    if b[3] != b' ' {
        return bad("status message must have a space after code");
    }
    if status.contains(['\r', '\n', '\0']) {
        return bad("status must not contain CR, LF or NUL");
    }
    // Newer CPython (the control-character fix of `start_response`) refuses every C0 control
    // and DEL, which a client could take as a line end or hide in a log.
    if status.chars().any(|c| c < ' ' || c == '\x7f') {
        return bad("status must not contain control characters");
    }
    if !util::is_latin1(status) {
        return bad("status must be Latin-1 (chars up to U+00FF)");
    }
    Ok(())
}

/// The head `send_preamble` and `send_headers` send; `date` writes the `Date` value when
/// one is added.
fn head<'d>(
    config: &'d HandlerConfig,
    date: &'d WriteDate<'d>,
    state: &'d ResponseState,
) -> Result<Head<'d>> {
    let Some(status) = state.status.as_deref() else {
        return Err(Error::NoStartResponse);
    };
    let headers = state.headers.as_ref();
    let http = config.origin_server && state.client_is_modern;
    let with_date = http && !headers.is_some_and(|h| h.contains("Date"));
    let server = config
        .server_software
        .as_deref()
        .filter(|_| http && !headers.is_some_and(|h| h.contains("Server")));
    Ok(Head {
        http_version: http.then_some(config.http_version.as_str()),
        status,
        date: with_date.then_some(date),
        server,
        headers,
    })
}

impl<Io: HandlerIo, K: HandlerHooks> Response<'_, Io, K> {
    /// Python: `wsgiref.handlers.BaseHandler.finish_response`.
    ///
    /// Sends the body: the `sendfile` path for a file, else each chunk through
    /// [`write`](StartResponse::write), then [`finish_content`](Self::finish_content). The
    /// body is closed in every case.
    #[doc(alias = "wsgiref.handlers.BaseHandler.finish_response")]
    pub fn finish_response(&mut self, mut body: Body) -> Result<()> {
        self.state.result_len = body.len();
        let outcome = self.send_body(&mut body);
        body.close();
        outcome
    }

    fn send_body(&mut self, body: &mut Body) -> Result<()> {
        if Self::result_is_file(body) && self.sendfile(body)? {
            return Ok(());
        }
        let mut room = self.io.body_room();
        if let Some(chunk) = body.next_static() {
            room = self.write_within(chunk, room)?;
        }
        while room != Some(0)
            && let Some(chunk) = body.next()
        {
            room = self.write_within(&chunk?, room)?;
        }
        self.finish_content()
    }

    /// [`write`](StartResponse::write), cut to `room`, what the head allows
    /// ([`HandlerIo::body_room`]); returns what it allows after.
    fn write_within(&mut self, data: &[u8], room: Option<u64>) -> Result<Option<u64>> {
        match room {
            Some(room) if (data.len() as u64) > room => {
                if room > 0 {
                    tracing::error!(
                        written = self.state.bytes_sent + data.len() as u64,
                        "response longer than its Content-Length: cut"
                    );
                }
                self.write(&data[..room as usize])?;
            }
            _ => self.write(data)?,
        }
        Ok(self.io.body_room())
    }

    /// Python: `wsgiref.handlers.BaseHandler.result_is_file`.
    ///
    /// True when the body is a [`FileWrapper`](crate::util::FileWrapper).
    #[doc(alias = "wsgiref.handlers.BaseHandler.result_is_file")]
    pub fn result_is_file(body: &Body) -> bool {
        body.is_file()
    }

    /// Python: `wsgiref.handlers.BaseHandler.sendfile`.
    ///
    /// Transmits a body that wraps a real file through [`HandlerIo::sendfile`]; `false` when
    /// that is not possible (not a real file, a HEAD request, or an I/O without a fast path).
    #[doc(alias = "wsgiref.handlers.BaseHandler.sendfile")]
    pub fn sendfile(&mut self, body: &mut Body) -> Result<bool> {
        if self.state.head || !self.config.wsgi_file_wrapper {
            return Ok(false);
        }
        let Some(file) = body.file_wrapper_mut().and_then(|fw| fw.file_mut()) else {
            return Ok(false);
        };
        if !self.state.headers_sent {
            self.send_headers()?;
        }
        match self.io.sendfile(file)? {
            Some(n) => {
                self.state.bytes_sent += n;
                self.io.flush_raw()?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.set_content_length`.
    ///
    /// Sets `Content-Length` when the body is exactly one chunk (its length is then the bytes
    /// written so far).
    #[doc(alias = "wsgiref.handlers.BaseHandler.set_content_length")]
    pub fn set_content_length(&mut self) {
        if self.state.result_len == Some(1)
            && let Some(h) = &mut self.state.headers
        {
            h.set_content_length(self.state.bytes_sent);
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.cleanup_headers`.
    ///
    /// Header changes made just before sending them: `Content-Length` when missing and the
    /// body is one chunk (what `set_content_length` sets).
    #[doc(alias = "wsgiref.handlers.BaseHandler.cleanup_headers")]
    pub fn cleanup_headers(&mut self) {
        if self.state.result_len == Some(1)
            && let Some(h) = &mut self.state.headers
            && !h.contains("Content-Length")
        {
            h.set_content_length(self.state.bytes_sent);
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.send_preamble`.
    ///
    /// Writes the status line (`HTTP/x.y status`, with `Date` and `Server` when missing) or,
    /// for a CGI gateway, `Status: status`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.send_preamble")]
    pub fn send_preamble(&mut self) -> Result<()> {
        let hooks = self.hooks;
        let mut out = Vec::with_capacity(128);
        head(self.config, &|out| hooks.write_date_time(out), self.state)?.write_preamble(&mut out);
        self.io.write_raw(&out)?;
        Ok(())
    }

    /// Python: `wsgiref.handlers.BaseHandler.send_headers`.
    ///
    /// Sends the status line and headers through [`HandlerIo::send_head`].
    #[doc(alias = "wsgiref.handlers.BaseHandler.send_headers")]
    pub fn send_headers(&mut self) -> Result<()> {
        if self.state.status.is_none() {
            return Err(Error::NoStartResponse);
        }
        self.cleanup_headers();
        self.state.headers_sent = true;
        if !self.config.origin_server || self.client_is_modern() {
            let hooks = self.hooks;
            let date = |out: &mut Vec<u8>| hooks.write_date_time(out);
            let head = head(self.config, &date, self.state)?;
            self.io.send_head(&head)?;
        }
        Ok(())
    }

    /// Python: `wsgiref.handlers.BaseHandler.finish_content`.
    ///
    /// Makes sure the headers went out, with `Content-Length: 0` when nothing was written
    /// (unless the application set one, as for a HEAD response).
    #[doc(alias = "wsgiref.handlers.BaseHandler.finish_content")]
    pub fn finish_content(&mut self) -> Result<()> {
        if !self.state.headers_sent {
            let headers = self.state.headers.as_mut().ok_or(Error::NoStartResponse)?;
            headers.setdefault("Content-Length", "0")?;
            self.send_headers()?;
            self.io.flush_raw()?;
        }
        Ok(())
    }

    /// Python: `wsgiref.handlers.BaseHandler.client_is_modern`.
    ///
    /// False for an HTTP/0.9 client, which gets neither status line nor headers.
    #[doc(alias = "wsgiref.handlers.BaseHandler.client_is_modern")]
    pub fn client_is_modern(&self) -> bool {
        self.state.client_is_modern
    }

    /// Python: `wsgiref.handlers.BaseHandler.headers_sent`.
    ///
    /// True once the headers went out.
    #[doc(alias = "wsgiref.handlers.BaseHandler.headers_sent")]
    pub fn headers_sent(&self) -> bool {
        self.state.headers_sent
    }
}

impl<Io: HandlerIo, K: HandlerHooks> StartResponse for Response<'_, Io, K> {
    /// Python: `wsgiref.handlers.BaseHandler.start_response`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.start_response")]
    fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        exc_info: Option<Error>,
    ) -> Result<()> {
        match exc_info {
            Some(original) if self.state.headers_sent => return Err(original),
            Some(_) => {}
            None if self.state.headers.is_some() => return Err(Error::HeadersAlreadySet),
            None => {}
        }
        check_status(status)?;
        // Room for the headers the handler may add (Content-Length, Transfer-Encoding).
        let mut h = Headers::with_capacity(headers.len() + 2);
        for (name, value) in headers {
            h.push(name, value)?;
            if util::is_hop_by_hop(name) {
                return Err(Error::HopByHopHeader {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                });
            }
        }
        self.state.status = Some(status.to_owned());
        self.state.headers = Some(h);
        Ok(())
    }

    /// Python: `wsgiref.handlers.BaseHandler.write`. A HEAD response counts the bytes but
    /// sends none of them.
    #[doc(alias = "wsgiref.handlers.BaseHandler.write")]
    fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.state.status.is_none() {
            return Err(Error::WriteBeforeStartResponse);
        }
        if !self.state.headers_sent {
            self.state.bytes_sent = data.len() as u64;
            self.send_headers()?;
        } else {
            self.state.bytes_sent += data.len() as u64;
        }
        if !self.state.head {
            self.io.write_raw(data)?;
        }
        self.io.flush_raw()?;
        Ok(())
    }
}

/// Python: `wsgiref.handlers.BaseHandler`. The class attributes are [`HandlerConfig`], the
/// abstract methods [`HandlerIo`], the overridable ones [`HandlerHooks`]; the environ is kept
/// apart from the response state ([`Response`]) so `app.call(&environ, &mut response)`
/// borrows cleanly.
///
/// Runs one WSGI application for one request.
///
/// ```
/// use gateway::handlers::{BaseHandler, HandlerConfig, StreamIo};
/// use gateway::{Body, Environ, Result, StartResponse};
/// let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
///     sr.start_response("200 OK", &[], None)?;
///     Ok(Body::empty())
/// };
/// let io = StreamIo::new(std::io::empty(), Vec::new(), std::io::sink(),
///                        [("SERVER_PROTOCOL", "HTTP/1.0")]);
/// let mut h = BaseHandler::new(io, (), HandlerConfig::base_cgi());
/// h.run(&app).unwrap();
/// assert_eq!(h.io().stdout, b"Status: 200 OK\r\nContent-Length: 0\r\n\r\n");
/// ```
#[doc(alias = "wsgiref.handlers.BaseHandler")]
#[derive(Debug)]
pub struct BaseHandler<Io, K = ()> {
    io: Io,
    hooks: K,
    config: Arc<HandlerConfig>,
    environ: Environ,
    state: ResponseState,
}

impl<Io: HandlerIo, K: HandlerHooks> BaseHandler<Io, K> {
    /// A handler over `io`, with `hooks` and `config` (a `HandlerConfig`, or an
    /// `Arc<HandlerConfig>` shared by many requests so none of them copies it).
    pub fn new(io: Io, hooks: K, config: impl Into<Arc<HandlerConfig>>) -> Self {
        BaseHandler {
            io,
            hooks,
            config: config.into(),
            environ: Environ::new(),
            state: ResponseState::default(),
        }
    }

    /// The same handler with other hooks.
    pub fn with_hooks<K2: HandlerHooks>(self, hooks: K2) -> BaseHandler<Io, K2> {
        BaseHandler {
            io: self.io,
            hooks,
            config: self.config,
            environ: self.environ,
            state: self.state,
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.run`.
    ///
    /// Invokes the application: [`setup_environ`](Self::setup_environ), the application,
    /// [`Response::finish_response`]; on an error or a panic,
    /// [`handle_error`](Self::handle_error); [`HandlerHooks::close`] always runs.
    ///
    /// Returns `Err` only when handling the error failed too (Python re-raises then).
    #[doc(alias = "wsgiref.handlers.BaseHandler.run")]
    pub fn run<A: Application + ?Sized>(&mut self, application: &A) -> Result<()> {
        // Python's `close` resets the state so an instance can run again; here a new run
        // starts fresh and the previous request's state stays readable until then.
        self.state = ResponseState::default();
        self.setup_environ();
        let outcome = {
            let environ = &self.environ;
            let mut resp = Response {
                io: &mut self.io,
                hooks: &self.hooks,
                config: &self.config,
                state: &mut self.state,
            };
            catch_unwind(AssertUnwindSafe(|| {
                let body = application.call(environ, &mut resp)?;
                resp.finish_response(body)
            }))
            .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)))
        };
        let result = match outcome {
            Ok(()) => Ok(()),
            Err(e) if e.is_client_disconnect() => {
                // Python returns quietly: the client closed the connection.
                self.state.close_connection = true;
                Ok(())
            }
            Err(e) => self.handle_error(e),
        };
        // The summary borrows the status for the call (a clone would allocate per request).
        let summary = ResponseSummary {
            status: self.state.status.take(),
            ..self.summary_without_status()
        };
        self.hooks.close(&summary);
        self.state.status = summary.status;
        result
    }

    /// Python: `wsgiref.handlers.BaseHandler.setup_environ`.
    ///
    /// Builds the environ: `os_environ`, the CGI variables, then the `wsgi.*` entries and
    /// `SERVER_SOFTWARE`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.setup_environ")]
    pub fn setup_environ(&mut self) {
        let mut env = match self.io.take_environ() {
            Some(mut env) => {
                for (k, v) in &self.config.os_environ {
                    if !env.contains(k) {
                        env.set_str(k, v);
                    }
                }
                env
            }
            None => {
                let mut env = Environ::new();
                env.extend_vars(&self.config.os_environ);
                self.io.add_cgi_vars(&mut env);
                env
            }
        };
        env.set_input(self.io.stdin());
        env.set_errors(self.io.stderr());
        env.set_version(self.config.wsgi_version);
        env.set_flags(
            self.config.wsgi_multithread,
            self.config.wsgi_multiprocess,
            self.config.wsgi_run_once,
        );
        env.set_url_scheme(util::guess_scheme(&env));
        env.set_file_wrapper(self.config.wsgi_file_wrapper);
        if self.config.origin_server
            && let Some(sw) = &self.config.server_software
            && !env.contains("SERVER_SOFTWARE")
        {
            // Python: `environ.setdefault('SERVER_SOFTWARE', self.server_software)`.
            env.set_str("SERVER_SOFTWARE", sw);
        }
        let protocol = env.get("SERVER_PROTOCOL");
        self.state.client_is_modern = protocol.is_none_or(|p| !p.eq_ignore_ascii_case("HTTP/0.9"));
        self.state.head = env.get("REQUEST_METHOD") == Some("HEAD");
        self.environ = env;
    }

    /// Python: `wsgiref.handlers.BaseHandler.handle_error`.
    ///
    /// Logs the error, then sends the error page if no headers went out; otherwise marks the
    /// connection for closing (the response is broken).
    #[doc(alias = "wsgiref.handlers.BaseHandler.handle_error")]
    pub fn handle_error(&mut self, error: Error) -> Result<()> {
        self.state.error = true;
        let mut stderr = self.io.stderr();
        self.hooks.log_exception(&error, &mut stderr, &self.config);
        if self.state.headers_sent {
            self.state.close_connection = true;
            return Ok(());
        }
        let environ = &self.environ;
        let hooks = &self.hooks;
        let config = &self.config;
        let mut resp = Response {
            io: &mut self.io,
            hooks,
            config,
            state: &mut self.state,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let body = hooks.error_output(environ, &mut resp, config, error)?;
            resp.finish_response(body)
        }))
        .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
        if outcome.is_err() {
            self.state.close_connection = true;
        }
        outcome
    }

    /// Python: `wsgiref.handlers.BaseHandler.get_scheme`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.get_scheme")]
    pub fn scheme(&self) -> &'static str {
        util::guess_scheme(&self.environ)
    }

    /// The response side, to drive the state machine by hand (an asynchronous server, a test).
    pub fn response(&mut self) -> Response<'_, Io, K> {
        Response {
            io: &mut self.io,
            hooks: &self.hooks,
            config: &self.config,
            state: &mut self.state,
        }
    }

    /// Python: `wsgiref.handlers.BaseHandler.environ`.
    ///
    /// The environ of the current request.
    #[doc(alias = "wsgiref.handlers.BaseHandler.environ")]
    pub fn environ(&self) -> &Environ {
        &self.environ
    }

    /// Python: `wsgiref.handlers.BaseHandler.status`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.status")]
    pub fn status(&self) -> Option<&str> {
        self.state.status.as_deref()
    }

    /// Python: `wsgiref.handlers.BaseHandler.headers`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.headers")]
    pub fn headers(&self) -> Option<&Headers> {
        self.state.headers.as_ref()
    }

    /// Python: `wsgiref.handlers.BaseHandler.headers_sent`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.headers_sent")]
    pub fn headers_sent(&self) -> bool {
        self.state.headers_sent
    }

    /// Python: `wsgiref.handlers.BaseHandler.bytes_sent`.
    #[doc(alias = "wsgiref.handlers.BaseHandler.bytes_sent")]
    pub fn bytes_sent(&self) -> u64 {
        self.state.bytes_sent
    }

    /// What the request looked like so far.
    pub fn summary(&self) -> ResponseSummary {
        ResponseSummary {
            status: self.state.status.clone(),
            ..self.summary_without_status()
        }
    }

    /// Python: no equivalent. Whether the response is broken (an error after the headers
    /// went out, or the client went away), so the server must close the connection:
    /// [`summary`](Self::summary)`().close_connection` without copying the status.
    pub fn must_close(&self) -> bool {
        self.state.close_connection
    }

    fn summary_without_status(&self) -> ResponseSummary {
        ResponseSummary {
            status: None,
            bytes_sent: self.state.bytes_sent,
            headers_sent: self.state.headers_sent,
            error: self.state.error,
            close_connection: self.state.close_connection,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HandlerConfig {
        &self.config
    }

    /// The configuration, to change it (Python: setting an attribute on the instance).
    pub fn config_mut(&mut self) -> &mut HandlerConfig {
        Arc::make_mut(&mut self.config)
    }

    /// The I/O.
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// The hooks.
    pub fn hooks(&self) -> &K {
        &self.hooks
    }

    /// Takes the I/O back.
    pub fn into_io(self) -> Io {
        self.io
    }
}

/// Python: the `stdin`, `stdout`, `stderr` and `base_env` attributes of
/// `wsgiref.handlers.SimpleHandler`.
///
/// Streams and base environ for [`SimpleHandler`]: `wsgi.input`, the output stream,
/// `wsgi.errors`, and the CGI variables [`HandlerIo::add_cgi_vars`] copies in.
#[derive(Debug)]
pub struct StreamIo<W> {
    /// Python: `wsgiref.handlers.SimpleHandler.stdin`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.stdin")]
    pub stdin: InputStream,
    /// Python: `wsgiref.handlers.SimpleHandler.stdout`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.stdout")]
    pub stdout: W,
    /// Python: `wsgiref.handlers.SimpleHandler.stderr`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.stderr")]
    pub stderr: ErrorStream,
    /// Python: `wsgiref.handlers.SimpleHandler.base_env`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.base_env")]
    pub base_env: BTreeMap<String, String>,
    /// A ready environ for the next run, used instead of copying `base_env` into a fresh
    /// one (a handler run once per request, as the servers do). Default: `None`.
    pub environ: Option<Environ>,
}

impl<W: Write> StreamIo<W> {
    /// Python: `wsgiref.handlers.SimpleHandler(stdin, stdout, stderr, environ)`'s streams.
    pub fn new<N: Into<String>, V: Into<String>>(
        stdin: impl Read + Send + 'static,
        stdout: W,
        stderr: impl Write + Send + 'static,
        environ: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        StreamIo {
            stdin: InputStream::new(stdin),
            stdout,
            stderr: ErrorStream::new(stderr),
            base_env: environ
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            environ: None,
        }
    }

    /// The same, from streams already wrapped.
    pub fn from_streams(
        stdin: InputStream,
        stdout: W,
        stderr: ErrorStream,
        base_env: BTreeMap<String, String>,
    ) -> Self {
        StreamIo {
            stdin,
            stdout,
            stderr,
            base_env,
            environ: None,
        }
    }
}

impl<W: Write> HandlerIo for StreamIo<W> {
    /// Python: `wsgiref.handlers.SimpleHandler._write`: writes the whole buffer, whatever
    /// partial writes the stream makes.
    #[doc(alias = "wsgiref.handlers.SimpleHandler._write")]
    fn write_raw(&mut self, mut data: &[u8]) -> io::Result<()> {
        let mut partial = false;
        while !data.is_empty() {
            match self.stdout.write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    if n < data.len() && !partial {
                        partial = true;
                        tracing::debug!("SimpleHandler.stdout.write() made a partial write");
                    }
                    data = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Python: `wsgiref.handlers.SimpleHandler._flush`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler._flush")]
    fn flush_raw(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }

    /// Python: `wsgiref.handlers.SimpleHandler.get_stdin`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.get_stdin")]
    fn stdin(&mut self) -> InputStream {
        self.stdin.clone()
    }

    /// Python: `wsgiref.handlers.SimpleHandler.get_stderr`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.get_stderr")]
    fn stderr(&mut self) -> ErrorStream {
        self.stderr.clone()
    }

    /// Python: `wsgiref.handlers.SimpleHandler.add_cgi_vars`.
    #[doc(alias = "wsgiref.handlers.SimpleHandler.add_cgi_vars")]
    fn add_cgi_vars(&self, environ: &mut Environ) {
        environ.extend_vars(&self.base_env);
    }

    fn take_environ(&mut self) -> Option<Environ> {
        self.environ.take()
    }

    /// Copies the file with [`std::io::copy`], which the standard library turns into
    /// `sendfile`/`copy_file_range` when the output is a socket or a file on Linux.
    fn sendfile(&mut self, file: &mut File) -> io::Result<Option<u64>> {
        io::copy(file, &mut self.stdout).map(Some)
    }
}

/// Python: `wsgiref.handlers.SimpleHandler`.
///
/// A handler over plain streams, for synchronous HTTP/1.0 origin servers.
#[doc(alias = "wsgiref.handlers.SimpleHandler")]
pub type SimpleHandler<W, K = ()> = BaseHandler<StreamIo<W>, K>;

/// Python: `wsgiref.handlers.BaseCGIHandler`.
///
/// A handler for CGI-like gateways (ReadyExec, FastCGI): a [`SimpleHandler`] whose config is
/// [`HandlerConfig::base_cgi`] (`origin_server = false`, so the output starts with `Status:`).
/// Build one with [`SimpleHandler::base_cgi`].
#[doc(alias = "wsgiref.handlers.BaseCGIHandler")]
pub type BaseCgiHandler<W, K = ()> = SimpleHandler<W, K>;

impl<W: Write> BaseHandler<StreamIo<W>, ()> {
    /// Python: `wsgiref.handlers.SimpleHandler(stdin, stdout, stderr, environ)` (multithread, not multiprocess).
    #[doc(alias = "wsgiref.handlers.SimpleHandler.__init__")]
    pub fn simple<N: Into<String>, V: Into<String>>(
        stdin: impl Read + Send + 'static,
        stdout: W,
        stderr: impl Write + Send + 'static,
        environ: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        BaseHandler::new(
            StreamIo::new(stdin, stdout, stderr, environ),
            (),
            HandlerConfig::simple(),
        )
    }

    /// Python: `wsgiref.handlers.BaseCGIHandler(stdin, stdout, stderr, environ)`.
    #[doc(alias = "wsgiref.handlers.BaseCGIHandler.__init__")]
    pub fn base_cgi<N: Into<String>, V: Into<String>>(
        stdin: impl Read + Send + 'static,
        stdout: W,
        stderr: impl Write + Send + 'static,
        environ: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        BaseHandler::new(
            StreamIo::new(stdin, stdout, stderr, environ),
            (),
            HandlerConfig::base_cgi(),
        )
    }
}

/// Python: `wsgiref.handlers._needs_transcode`.
#[doc(alias = "wsgiref.handlers._needs_transcode")]
fn needs_transcode(k: &str) -> bool {
    const REQUEST: [&str; 10] = [
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "REQUEST_METHOD",
        "AUTH_TYPE",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTPS",
        "REMOTE_USER",
        "REMOTE_IDENT",
    ];
    REQUEST.contains(&k)
        || k.starts_with("HTTP_")
        || k.starts_with("SSL_")
        || k.strip_prefix("REDIRECT_").is_some_and(needs_transcode)
}

/// Python: `wsgiref.handlers.read_environ`.
///
/// Reads the process environment; the variables that carry the HTTP request get their raw
/// bytes as Latin-1 native strings, the others are decoded as UTF-8 (lossily).
///
/// ```
/// let env = gateway::handlers::read_environ();
/// assert!(env.keys().all(|k| !k.is_empty()));
/// ```
#[doc(alias = "wsgiref.handlers.read_environ")]
pub fn read_environ() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in std::env::vars_os() {
        let key = k.to_string_lossy().into_owned();
        let value = if needs_transcode(&key) {
            os_bytes_latin1(&v)
        } else {
            v.to_string_lossy().into_owned()
        };
        out.insert(key, value);
    }
    out
}

#[cfg(unix)]
fn os_bytes_latin1(v: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    util::latin1_decode(v.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes_latin1(v: &std::ffi::OsStr) -> String {
    util::latin1_decode(v.to_string_lossy().as_bytes())
}

/// Python: `wsgiref.handlers.CGIHandler` (`wsgi.run_once` true, single-threaded,
/// multi-process, `Status:` output).
///
/// CGI-based invocation over the process's stdin, stdout, stderr and environment.
///
/// ```no_run
/// use gateway::{Body, Environ, Result, StartResponse};
/// fn app(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
///     sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
///     Ok(Body::from("Hello from CGI"))
/// }
/// gateway::handlers::CgiHandler::new().run(&app).unwrap();
/// ```
#[doc(alias = "wsgiref.handlers.CGIHandler")]
#[derive(Debug)]
pub struct CgiHandler {
    handler: BaseHandler<StreamIo<io::Stdout>>,
}

impl CgiHandler {
    /// Python: `wsgiref.handlers.CGIHandler()`.
    #[doc(alias = "wsgiref.handlers.CGIHandler.__init__")]
    pub fn new() -> Self {
        Self::from_environ(read_environ())
    }

    fn from_environ(environ: BTreeMap<String, String>) -> Self {
        let io = StreamIo::from_streams(
            InputStream::new(io::stdin()),
            io::stdout(),
            ErrorStream::stderr(),
            environ,
        );
        CgiHandler {
            handler: BaseHandler::new(io, (), HandlerConfig::cgi()),
        }
    }

    /// Python: `wsgiref.handlers.CGIHandler().run(app)`.
    ///
    /// Runs the application once.
    pub fn run<A: Application + ?Sized>(&mut self, application: &A) -> Result<()> {
        self.handler.run(application)
    }

    /// The underlying handler.
    pub fn handler(&mut self) -> &mut BaseHandler<StreamIo<io::Stdout>> {
        &mut self.handler
    }
}

impl Default for CgiHandler {
    fn default() -> Self {
        Self::new()
    }
}

/// Python: `wsgiref.handlers.IISCGIHandler.__init__`'s fix: strip a `SCRIPT_NAME` that IIS repeats at the
/// front of `PATH_INFO`.
#[doc(alias = "wsgiref.handlers.IISCGIHandler.__init__")]
pub fn iis_fix_path_info(environ: &mut BTreeMap<String, String>) {
    let path = environ.get("PATH_INFO").cloned().unwrap_or_default();
    let script = environ.get("SCRIPT_NAME").cloned().unwrap_or_default();
    if format!("{path}/").starts_with(&format!("{script}/")) {
        environ.insert("PATH_INFO".to_owned(), path[script.len()..].to_owned());
    }
}

/// Python: `wsgiref.handlers.IISCGIHandler`.
///
/// CGI-based invocation with the workaround for IIS's `PATH_INFO` bug.
#[doc(alias = "wsgiref.handlers.IISCGIHandler")]
#[derive(Debug)]
pub struct IisCgiHandler {
    handler: BaseHandler<StreamIo<io::Stdout>>,
}

impl IisCgiHandler {
    /// Python: `wsgiref.handlers.IISCGIHandler()`.
    #[doc(alias = "wsgiref.handlers.IISCGIHandler.__init__")]
    pub fn new() -> Self {
        let mut environ = read_environ();
        iis_fix_path_info(&mut environ);
        IisCgiHandler {
            handler: CgiHandler::from_environ(environ).handler,
        }
    }

    /// Runs the application once.
    pub fn run<A: Application + ?Sized>(&mut self, application: &A) -> Result<()> {
        self.handler.run(application)
    }

    /// The underlying handler.
    pub fn handler(&mut self) -> &mut BaseHandler<StreamIo<io::Stdout>> {
        &mut self.handler
    }
}

impl Default for IisCgiHandler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
