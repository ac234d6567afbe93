//! A reference WSGI server on top of `http_server`, and the demo application.
//!
//! Python: `wsgiref.simple_server`. [`demo_app`], [`ServerHandler`] and the pure environ
//! builder [`environ_for_request`] are transport-free; the server itself
//! (`WsgiServer`, `WsgiRequestHandler`, `make_server`) needs the `simple-server` feature.
//!
//! ```
//! use gateway::simple_server::demo_app;
//! let resp = gateway::testing::Client::new(demo_app).get("/xyz?abc");
//! assert!(resp.text().starts_with("Hello world!\n\n"));
//! assert!(resp.text().contains("\nQUERY_STRING = 'abc'\n"));
//! ```

use std::collections::BTreeMap;

use crate::error::Result;
use crate::handlers::{HandlerHooks, ResponseSummary, SimpleHandler};
use crate::types::{Body, Dup, Environ, StartResponse};

/// Python: `wsgiref.simple_server.__version__`.
#[doc(alias = "wsgiref.simple_server.__version__")]
pub const VERSION: &str = "0.2";

/// Python: `wsgiref.simple_server.server_version`, `"WSGIServer/0.2"`.
#[doc(alias = "wsgiref.simple_server.server_version")]
pub const SERVER_VERSION: &str = "WSGIServer/0.2";

/// The runtime, `Rust/<rustc version>`. Python: `wsgiref.simple_server.sys_version`
/// (`"CPython/3.11.7"`).
#[doc(alias = "wsgiref.simple_server.sys_version")]
pub const SYS_VERSION: &str = concat!("Rust/", stdx::rustc_version!());

/// Python: `wsgiref.simple_server.software_version`.
///
/// `"WSGIServer/0.2 Rust/<rustc version>"`, the `Server` header.
#[doc(alias = "wsgiref.simple_server.software_version")]
pub const SOFTWARE_VERSION: &str = concat!("WSGIServer/0.2 Rust/", stdx::rustc_version!());

/// Python: `wsgiref.simple_server.ServerHandler.close` (which calls
/// `self.request_handler.log_request(self.status.split(' ', 1)[0], self.bytes_sent)`).
///
/// The hooks of `ServerHandler`: its `close` logs the request (status code and bytes sent)
/// through the request handler, here a callback.
#[doc(alias = "wsgiref.simple_server.ServerHandler.close")]
pub struct ServerHooks<F> {
    log_request: F,
    polled: Option<std::time::Instant>,
}

impl<F> std::fmt::Debug for ServerHooks<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerHooks")
    }
}

impl<F: FnMut(&str, u64)> ServerHooks<F> {
    /// Hooks that call `log_request(code, bytes_sent)` when the request is over.
    pub fn new(log_request: F) -> Self {
        ServerHooks {
            log_request,
            polled: None,
        }
    }

    /// Hooks that date the response from `polled`, a time the server read just before
    /// serving (`socketserver::HandlerCx::polled`), instead of reading the clock.
    ///
    /// Python: no equivalent.
    #[must_use]
    pub fn with_polled(mut self, polled: Option<std::time::Instant>) -> Self {
        self.polled = polled;
        self
    }
}

impl<F: FnMut(&str, u64)> HandlerHooks for ServerHooks<F> {
    fn write_date_time(&self, out: &mut Vec<u8>) {
        match self.polled {
            Some(at) => stdx::date::write_near(at, out),
            None => crate::handlers::default::write_date_time(out),
        }
    }

    fn close(&mut self, summary: &ResponseSummary) {
        (self.log_request)(summary.code(), summary.bytes_sent);
    }
}

/// Python: `wsgiref.simple_server.ServerHandler`. Build one with [`server_handler`].
///
/// The handler `WSGIRequestHandler.handle` runs: a [`SimpleHandler`] whose `server_software`
/// is [`SOFTWARE_VERSION`] and whose close logs the request.
#[doc(alias = "wsgiref.simple_server.ServerHandler")]
pub type ServerHandler<W, F> = SimpleHandler<W, ServerHooks<F>>;

/// Python: `wsgiref.simple_server.ServerHandler(stdin, stdout, stderr, environ, multithread=False)`.
///
/// ```
/// use gateway::simple_server::{demo_app, server_handler};
/// let mut logged = Vec::new();
/// let mut h = server_handler(
///     std::io::empty(), Vec::new(), std::io::sink(),
///     [("SERVER_PROTOCOL", "HTTP/1.0"), ("REQUEST_METHOD", "GET")],
///     |code: &str, size: u64| logged.push(format!("{code} {size}")),
/// );
/// h.run(&demo_app).unwrap();
/// assert!(h.io().stdout.starts_with(b"HTTP/1.0 200 OK\r\n"));
/// drop(h);
/// assert!(logged[0].starts_with("200 "));
/// ```
#[doc(alias = "wsgiref.simple_server.ServerHandler.__init__")]
pub fn server_handler<W, F, N, V>(
    stdin: impl std::io::Read + Send + 'static,
    stdout: W,
    stderr: impl std::io::Write + Send + 'static,
    environ: impl IntoIterator<Item = (N, V)>,
    log_request: F,
) -> ServerHandler<W, F>
where
    W: std::io::Write,
    F: FnMut(&str, u64),
    N: Into<String>,
    V: Into<String>,
{
    let io = crate::handlers::StreamIo::new(stdin, stdout, stderr, environ);
    let mut config = crate::handlers::HandlerConfig::simple();
    config.wsgi_multithread = false;
    config.server_software = Some(SOFTWARE_VERSION.to_owned());
    crate::handlers::BaseHandler::new(io, ServerHooks::new(log_request), config)
}

/// Python: `wsgiref.simple_server.WSGIServer.setup_environ` (`SERVER_NAME`,
/// `GATEWAY_INTERFACE`, `SERVER_PORT`, `REMOTE_HOST`, `CONTENT_LENGTH`, `SCRIPT_NAME`).
///
/// The base environ a server sets up once, when it binds.
///
/// ```
/// let env = gateway::simple_server::base_environ("localhost", 8000);
/// assert_eq!(env["SERVER_PORT"], "8000");
/// assert_eq!(env["GATEWAY_INTERFACE"], "CGI/1.1");
/// ```
#[doc(alias = "wsgiref.simple_server.WSGIServer.setup_environ")]
#[doc(alias = "wsgiref.simple_server.WSGIServer.base_environ")]
pub fn base_environ(server_name: &str, server_port: u16) -> BTreeMap<String, String> {
    [
        ("SERVER_NAME", server_name.to_owned()),
        ("GATEWAY_INTERFACE", "CGI/1.1".to_owned()),
        ("SERVER_PORT", server_port.to_string()),
        ("REMOTE_HOST", String::new()),
        ("CONTENT_LENGTH", String::new()),
        ("SCRIPT_NAME", String::new()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Python: the `command`, `path`, `request_version`, `headers` and `client_address`
/// attributes of `http.server.BaseHTTPRequestHandler`.
///
/// One parsed request, as `WSGIRequestHandler.get_environ` reads it.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The method (`GET`).
    pub command: &'a str,
    /// The request target, Latin-1 decoded (`/p%61th/?query=test`).
    pub path: &'a str,
    /// The version (`HTTP/1.0`).
    pub request_version: &'a str,
    /// The header fields in order, names as sent, values Latin-1 decoded.
    pub headers: &'a [(String, String)],
    /// The client's IP address as text.
    pub client_address: &'a str,
    /// The handler's `server_version` (`WSGIServer/0.2`, [`SERVER_VERSION`]), as
    /// `SERVER_SOFTWARE`.
    pub server_version: &'a str,
}

/// Python: `wsgiref.simple_server.WSGIRequestHandler.get_environ`, with the port's choices
/// (`docs/divergences.md`): `PATH_INFO` percent-decoded to Latin-1 (invalid escapes kept,
/// `%2F` becomes `/`), a leading `//` collapsed to `/` (as `http.server` does),
/// `QUERY_STRING` the raw text after the first `?`, `CONTENT_TYPE` `text/plain` and
/// `CONTENT_LENGTH` `''` when absent, no `HTTP_CONTENT_TYPE`/`HTTP_CONTENT_LENGTH`,
/// duplicate headers joined with `,`, values stripped, header names that would collide
/// with a CGI variable (`Remote-Addr`) ignored, and header names holding `_` dropped (a
/// divergence: CPython lets `X_Auth` merge with `X-Auth`).
///
/// Builds a request's CGI variables from the server's base environ.
///
/// ```
/// use gateway::simple_server::{base_environ, environ_for_request, RequestParts, SERVER_VERSION};
/// let headers = vec![("X-Test".to_owned(), " a ".to_owned()), ("x-test".to_owned(), "b".to_owned())];
/// let env = environ_for_request(&base_environ("localhost", 80), &RequestParts {
///     command: "GET", path: "/p%61th?q=1", request_version: "HTTP/1.0",
///     headers: &headers, client_address: "127.0.0.1", server_version: SERVER_VERSION,
/// });
/// assert_eq!(env["PATH_INFO"], "/path");
/// assert_eq!(env["QUERY_STRING"], "q=1");
/// assert_eq!(env["HTTP_X_TEST"], "a,b");
/// assert_eq!(env["CONTENT_TYPE"], "text/plain");
/// ```
#[doc(alias = "wsgiref.simple_server.WSGIRequestHandler.get_environ")]
pub fn environ_for_request(
    base: &BTreeMap<String, String>,
    request: &RequestParts<'_>,
) -> BTreeMap<String, String> {
    let mut env = Environ::new();
    fill_environ(
        &mut env,
        Base::Map(base),
        request,
        request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    env.vars()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Where [`fill_environ`] finds the server's base environ.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "simple-server"), allow(dead_code))]
pub(crate) enum Base<'a> {
    /// In this map: copy it in first.
    Map(&'a BTreeMap<String, String>),
    /// Already copied into the environ; `request_keys_absent` when it holds none of
    /// [`REQUEST_KEYS`].
    Copied { request_keys_absent: bool },
}

/// The variables [`fill_environ`] sets whatever the request (but `CONTENT_TYPE` and
/// `CONTENT_LENGTH`, which `base_environ` may hold).
#[cfg_attr(not(feature = "simple-server"), allow(dead_code))]
pub(crate) const REQUEST_KEYS: [&str; 6] = [
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "REMOTE_ADDR",
];

/// A header value as [`fill_environ`] receives it: text already decoded, or the raw bytes
/// from the wire (decoded as Latin-1 while they are copied into the environ).
pub(crate) trait HeaderText: Copy {
    /// The value with leading and trailing whitespace removed, appended to `out`.
    fn push_trimmed(self, out: &mut String);
    /// True when the value is empty (before trimming).
    fn is_empty(self) -> bool;
}

impl HeaderText for &str {
    fn push_trimmed(self, out: &mut String) {
        out.push_str(self.trim());
    }
    fn is_empty(self) -> bool {
        str::is_empty(self)
    }
}

impl HeaderText for &[u8] {
    fn push_trimmed(self, out: &mut String) {
        // Python's str.strip() on the Latin-1 text: ASCII whitespace, plus the Latin-1
        // whitespace characters (U+0085, U+00A0) that `char::is_whitespace` also knows.
        let is_space = |b: &u8| (*b as char).is_whitespace();
        let start = self.iter().position(|b| !is_space(b)).unwrap_or(self.len());
        let end = self
            .iter()
            .rposition(|b| !is_space(b))
            .map_or(start, |i| i + 1);
        stdx::latin1::decode_into(&self[start..end], out);
    }
    fn is_empty(self) -> bool {
        <[u8]>::is_empty(self)
    }
}

/// The rules of [`environ_for_request`], writing straight into an [`Environ`]: keys and
/// values are copied once, into the environ's own buffer. `base: None` when `env` already
/// holds the base environ.
pub(crate) fn fill_environ<'h, V: HeaderText + 'h>(
    env: &mut Environ,
    base: Base<'_>,
    request: &RequestParts<'_>,
    headers: impl Iterator<Item = (&'h str, V)> + Clone,
) {
    let known_absent = match base {
        Base::Map(base) => {
            env.extend_vars(base);
            false
        }
        Base::Copied {
            request_keys_absent,
        } => request_keys_absent,
    };
    // Keys the environ cannot hold yet are added without a lookup.
    let set = |env: &mut Environ, k: &str, v: &str| {
        if known_absent {
            env.push_new_var(k, v);
        } else {
            env.set_str(k, v);
        }
    };
    set(env, "SERVER_PROTOCOL", request.request_version);
    set(env, "SERVER_SOFTWARE", request.server_version);
    set(env, "REQUEST_METHOD", request.command);
    let collapsed;
    let mut target = request.path;
    if target.starts_with("//") {
        collapsed = format!("/{}", target.trim_start_matches('/'));
        target = &collapsed;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let encoded;
    let raw: &[u8] = if path.is_ascii() {
        path.as_bytes()
    } else {
        encoded = crate::util::latin1_encode(path).unwrap_or_else(|| path.as_bytes().to_vec());
        &encoded
    };
    env.set_with(
        |k| k.push_str("PATH_INFO"),
        if known_absent { Dup::New } else { Dup::Replace },
        |out| {
            if raw.contains(&b'%') {
                out.extend(percent_encoding::percent_decode(raw).map(char::from));
            } else {
                stdx::latin1::decode_into(raw, out);
            }
        },
    );
    set(env, "QUERY_STRING", query);
    set(env, "REMOTE_ADDR", request.client_address);
    let mut content_type = None;
    let mut content_length = None;
    for (k, v) in headers.clone() {
        if content_type.is_none() && k.eq_ignore_ascii_case("content-type") {
            content_type = Some(v);
        } else if content_length.is_none() && k.eq_ignore_ascii_case("content-length") {
            content_length = Some(v);
        }
    }
    match content_type {
        Some(v) => env.set_with(
            |k| k.push_str("CONTENT_TYPE"),
            Dup::Replace,
            |out| v.push_trimmed(out),
        ),
        None => env.set_str("CONTENT_TYPE", "text/plain"),
    }
    if let Some(v) = content_length.filter(|v| !v.is_empty()) {
        env.set_with(
            |k| k.push_str("CONTENT_LENGTH"),
            Dup::Replace,
            |out| v.push_trimmed(out),
        );
    }
    // Names up to 64 bytes are converted on the stack (`-` to `_`, upper case; header
    // names are tokens, so ASCII), longer or other ones in a string.
    let mut short = [0u8; 64];
    let mut long = String::new();
    for (k, v) in headers {
        let kb = k.as_bytes();
        if kb.contains(&b'_') {
            continue;
        }
        let name: &str = if kb.len() <= short.len() && kb.is_ascii() {
            for (d, &b) in short.iter_mut().zip(kb) {
                *d = if b == b'-' {
                    b'_'
                } else {
                    b.to_ascii_uppercase()
                };
            }
            stdx::ascii::as_str(&short[..kb.len()]).unwrap_or_default()
        } else {
            long.clear();
            long.extend(k.chars().map(|c| match c {
                '-' => '_',
                c => c.to_ascii_uppercase(),
            }));
            &long
        };
        if env.contains_var(name) {
            continue;
        }
        env.set_with(
            |key| {
                key.push_str("HTTP_");
                key.push_str(name);
            },
            Dup::Join(','),
            |out| v.push_trimmed(out),
        );
    }
}

/// Python: `wsgiref.simple_server.demo_app`.
///
/// The demo application: `Hello world!`, a blank line, then one `KEY = repr(value)` line
/// per environ entry, sorted by key, as `text/plain; charset=utf-8`.
///
/// ```
/// let resp = gateway::testing::Client::new(gateway::simple_server::demo_app).get("/");
/// assert_eq!(resp.status(), "200 OK");
/// assert!(resp.text().contains("\nwsgi.version = (1, 0)\n"));
/// ```
#[doc(alias = "wsgiref.simple_server.demo_app")]
pub fn demo_app(environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    let mut out = String::with_capacity(2048);
    out.push_str("Hello world!\n\n");
    for (k, v) in environ.sorted_items() {
        out.push_str(k);
        out.push_str(" = ");
        v.write_repr(&mut out);
        out.push('\n');
    }
    start_response.start_response(
        "200 OK",
        &[("Content-Type", "text/plain; charset=utf-8")],
        None,
    )?;
    Ok(Body::from(out))
}

#[cfg(feature = "simple-server")]
mod server;
#[cfg(feature = "simple-server")]
pub use server::*;

#[cfg(test)]
mod tests;
