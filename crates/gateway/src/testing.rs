//! A test client for WSGI applications: unit-test an application without a socket.
//!
//! Python users reach for werkzeug's test `Client` or webtest; this is that, for
//! [`Application`]s. [`Client::new`] wraps any application; [`Client::get`],
//! [`Client::post`] and [`Client::request`] run one request through the real handler
//! ([`crate::simple_server::ServerHandler`] over in-memory streams) and return the parsed
//! [`TestResponse`].
//!
//! # Guide
//!
//! - The environ is the one the loopback server builds for the same request
//!   ([`crate::simple_server::environ_for_request`] over the base environ of a server bound to
//!   `127.0.0.1:80`, plus a `Host: 127.0.0.1` header unless you send one), which also gives
//!   every default `wsgiref.util.setup_testing_defaults` would.
//! - The PEP 3333 [validator](crate::validate::validator) wraps the application by default,
//!   so a test fails when the application breaks the protocol
//!   ([`Client::without_validator`] turns it off).
//! - [`Client::get`] and friends panic with a clear message when the application fails
//!   (an error, a panic, a protocol violation), as werkzeug's client raises; the `try_`
//!   variants return the error instead.
//!
//! ```
//! use gateway::testing::Client;
//! use gateway::{Body, Environ, Error, Result, StartResponse};
//!
//! fn echo(environ: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
//!     let body = environ.input().read_size(1 << 20)?;
//!     if environ.get("PATH_INFO") == Some("/fail") {
//!         return Err(Error::app("boom"));
//!     }
//!     sr.start_response("200 OK", &[("Content-Type", "application/octet-stream")], None)?;
//!     Ok(Body::from(body))
//! }
//!
//! let client = Client::new(echo);
//! let resp = client.post("/echo", "ping");
//! assert_eq!(resp.status_code(), 200);
//! assert_eq!(resp.body(), b"ping");
//! assert_eq!(resp.headers().get("Content-Length"), Some("4"));
//!
//! let err = client.try_get("/fail").unwrap_err();
//! assert_eq!(err.to_string(), "boom");
//! ```

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::handlers::{self, BaseHandler, HandlerConfig, HandlerHooks, StreamIo};
use crate::headers::Headers;
use crate::simple_server::{self, RequestParts};
use crate::types::{Application, Body, Environ, ErrorStream, InputStream, StartResponse};
use crate::validate::Validator;

pub use crate::types::SharedBuffer;

/// Lends an application by reference.
struct ByRef<'a, A: ?Sized>(&'a A);

impl<A: Application + ?Sized> Application for ByRef<'_, A> {
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        self.0.call(environ, start_response)
    }
}

/// Hooks that keep the application's error for the test.
#[derive(Default)]
struct TestHooks {
    error: Mutex<Option<Error>>,
    logged: Mutex<Vec<String>>,
}

impl HandlerHooks for TestHooks {
    fn log_exception(
        &self,
        error: &Error,
        stderr: &mut dyn std::io::Write,
        config: &HandlerConfig,
    ) {
        handlers::default::log_exception(error, stderr, config);
        if let Ok(mut logged) = self.logged.lock() {
            logged.push(format!("{}: {error}", error.kind_name()));
        }
    }

    fn error_output(
        &self,
        environ: &Environ,
        start_response: &mut dyn StartResponse,
        config: &HandlerConfig,
        exc_info: Error,
    ) -> Result<Body> {
        let (copy, original) = split_error(exc_info);
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(original);
        }
        handlers::default::error_output(environ, start_response, config, copy)
    }
}

/// Keeps the original error for the test and hands a description of it to `error_output`.
fn split_error(e: Error) -> (Error, Error) {
    let copy = Error::app(format!("{}: {e}", e.kind_name()));
    (copy, e)
}

/// Python: werkzeug's `werkzeug.test.Client` (there is no `wsgiref` equivalent; it builds on
/// `wsgiref.util.setup_testing_defaults` and `wsgiref.validate.validator`).
///
/// A werkzeug-style test client around an application.
#[derive(Debug)]
pub struct Client<A> {
    app: A,
    validate: bool,
    server_name: String,
    server_port: u16,
    client_address: String,
}

impl<A: Application> Client<A> {
    /// A client for `app`, with the PEP 3333 validator on.
    pub fn new(app: A) -> Self {
        Client {
            app,
            validate: true,
            server_name: "127.0.0.1".to_owned(),
            server_port: 80,
            client_address: "127.0.0.1".to_owned(),
        }
    }

    /// Turns the validator off (to test an application that breaks PEP 3333 on purpose, or a
    /// middleware that validates itself).
    #[must_use]
    pub fn without_validator(mut self) -> Self {
        self.validate = false;
        self
    }

    /// Sets `SERVER_NAME` and `SERVER_PORT` (default `127.0.0.1`, `80`).
    #[must_use]
    pub fn server(mut self, name: &str, port: u16) -> Self {
        self.server_name = name.to_owned();
        self.server_port = port;
        self
    }

    /// Sets `REMOTE_ADDR` (default `127.0.0.1`).
    #[must_use]
    pub fn client_address(mut self, addr: &str) -> Self {
        self.client_address = addr.to_owned();
        self
    }

    /// `GET path`; panics when the application fails.
    #[track_caller]
    pub fn get(&self, path: &str) -> TestResponse {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with a body (`&str`, `&[u8]`, `Vec<u8>`...); panics when the application
    /// fails.
    #[track_caller]
    pub fn post(&self, path: &str, body: impl AsRef<[u8]>) -> TestResponse {
        self.request("POST", path, &[], body)
    }

    /// Any request; panics with a clear message when the application fails.
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl AsRef<[u8]>,
    ) -> TestResponse {
        match self.try_request(method, path, headers, body) {
            Ok(r) => r,
            Err(e) => panic!(
                "gateway::testing::Client: {method} {path}: the application failed: {e} ({})",
                e.kind_name()
            ),
        }
    }

    /// `GET path`, returning the application's error instead of panicking.
    pub fn try_get(&self, path: &str) -> Result<TestResponse> {
        self.try_request("GET", path, &[], b"")
    }

    /// The environ the application would see for this request (before the handler adds the
    /// `wsgi.*` entries and `SERVER_SOFTWARE`).
    pub fn environ_for(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: usize,
    ) -> BTreeMap<String, String> {
        let mut hdrs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if !hdrs.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            hdrs.insert(0, ("Host".to_owned(), self.server_name.clone()));
        }
        if body_len > 0
            && !hdrs
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            hdrs.push(("Content-Length".to_owned(), body_len.to_string()));
        }
        let base = simple_server::base_environ(&self.server_name, self.server_port);
        simple_server::environ_for_request(
            &base,
            &RequestParts {
                command: method,
                path,
                request_version: "HTTP/1.0",
                headers: &hdrs,
                client_address: &self.client_address,
                server_version: simple_server::SERVER_VERSION,
            },
        )
    }

    /// Any request, returning the application's error (an `Err` of the application, a panic
    /// as [`Error::Panic`], a protocol violation) instead of panicking.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl AsRef<[u8]>,
    ) -> Result<TestResponse> {
        let body = body.as_ref().to_vec();
        let env = self.environ_for(method, path, headers, body.len());
        let (errors, captured) = ErrorStream::memory();
        let io =
            StreamIo::from_streams(InputStream::new(Cursor::new(body)), Vec::new(), errors, env);
        let mut config = HandlerConfig::simple();
        config.wsgi_multithread = false;
        config.server_software = Some(simple_server::SOFTWARE_VERSION.to_owned());
        let mut handler = BaseHandler::new(io, TestHooks::default(), config);
        let outcome = if self.validate {
            handler.run(&Validator::keeping_len(ByRef(&self.app)))
        } else {
            handler.run(&ByRef(&self.app))
        };
        let hooks = handler.hooks();
        if let Some(e) = hooks.error.lock().ok().and_then(|mut s| s.take()) {
            return Err(e);
        }
        outcome?;
        if let Some(msg) = hooks.logged.lock().ok().and_then(|l| l.first().cloned()) {
            return Err(Error::app(format!(
                "the application failed after the headers were sent: {msg}"
            )));
        }
        let out = handler.into_io().stdout;
        TestResponse::parse(&out, captured.text())
    }
}

/// A response as the client saw it.
#[derive(Clone, Debug)]
pub struct TestResponse {
    status: String,
    headers: Headers,
    body: Vec<u8>,
    errors: String,
    raw: Vec<u8>,
}

impl TestResponse {
    fn parse(raw: &[u8], errors: String) -> Result<Self> {
        let bad = |what: &str| Error::app(format!("malformed response ({what})"));
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| bad("no end of headers"))?;
        let head = crate::util::latin1_decode(&raw[..split]);
        let body = raw[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
        let status = status_line
            .split_once(' ')
            .map(|(_, s)| s.to_owned())
            .ok_or_else(|| bad("status line"))?;
        let mut headers = Headers::new();
        for line in lines {
            let (k, v) = line.split_once(": ").ok_or_else(|| bad("header line"))?;
            headers.append(k, v)?;
        }
        Ok(TestResponse {
            status,
            headers,
            body,
            errors,
            raw: raw.to_vec(),
        })
    }

    /// The status, `"200 OK"`.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The status code, `200`.
    pub fn status_code(&self) -> u16 {
        self.status
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The headers in the order sent (`Date`, `Server`, the application's, `Content-Length`).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (UTF-8, lossily).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// What was written to `wsgi.errors`.
    pub fn errors(&self) -> &str {
        &self.errors
    }

    /// The whole response as sent, status line included.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

#[cfg(test)]
mod tests;
