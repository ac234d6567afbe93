//! `http_server`: Python's `http.server` in Rust.
//!
//! An [`HttpHandler`] is the overridable half of `BaseHTTPRequestHandler` (`do_GET`,
//! `send_error`, `log_message`, ...); an [`Exchange`] is one request in flight (`command`,
//! `path`, `headers`, `rfile`/`wfile`, `send_header`, `end_headers`, ...);
//! [`HttpRequestHandler`] plugs a handler into a `socketserver` server, whose
//! [`HttpHooks`] make one handler per connection. [`parse_request`] is the pure parser
//! underneath, and [`SimpleHttpHandler`] serves files like `SimpleHTTPRequestHandler`.
//!
//! # Porting from Python
//!
//! This crate ports `http.server` of CPython 3.11 (without `CGIHTTPRequestHandler`,
//! deprecated upstream in 3.13 and removed in 3.15), plus what 3.12 to 3.15 added:
//! `HTTPSServer` and `ThreadingHTTPSServer` (3.14, `HttpsServer` with rustls, feature
//! `tls`), dark-mode pages as an option (3.14, [`DARK_MODE_ERROR_MESSAGE`]), and
//! `extra_response_headers` (3.15). Class attributes became [`HttpConfig`], overridable
//! methods became defaulted trait methods with their bodies in [`default`] (for `super()`),
//! `self.server` became the [`socketserver::HandlerCx`] an [`Exchange`] carries. Wire
//! behaviour is CPython's except where the project's `decisions.md` says otherwise: error
//! replies always carry a status line, request framing is strict (RFC 9112), response
//! headers are validated. Every public item names its Python original and carries its dotted
//! name as a rustdoc alias; the full table is `docs/porting-map.md`.
//!
//! # Example
//!
//! ```
//! use http_server::{testing, Exchange, HttpHandler, Result};
//!
//! struct Hello;
//! impl HttpHandler for Hello {
//!     fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
//!         let body = format!("you asked for {}\n", ex.path);
//!         self.send_response(ex, 200, None)?;
//!         ex.send_header("Content-Length", &body.len().to_string())?;
//!         ex.end_headers()?;
//!         ex.wfile().write_all(body.as_bytes())?;
//!         Ok(())
//!     }
//! }
//!
//! let t = testing::run(&mut Hello, b"GET /x HTTP/1.0\r\n\r\n");
//! assert_eq!(t.responses[0].status, 200);
//! assert_eq!(t.responses[0].body, b"you asked for /x\n");
//! assert!(t.log[0].ends_with(r#""GET /x HTTP/1.0" 200 -"#));
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

pub use crate::error::{Error, HttpError, Result};
pub use crate::handler::{
    DARK_MODE_ERROR_MESSAGE, DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE, Exchange,
    HttpConfig, HttpHandler, HttpRequestHandler, default, handle_one_request,
    handle_parsed_request, reply_parse_error,
};
pub use crate::request::{
    BodyFraming, Headers, Parsed, RequestHead, RequestLine, parse_headers, parse_request,
    parse_request_line, py_repr, requestline_of,
};
pub use crate::server::{
    HttpHooks, HttpServer, MakeHandler, ThreadingHttpServer, best_address, serving_banner,
    tcp_config, test, threading_config,
};
#[cfg(feature = "tls")]
pub use crate::server::{
    HttpsServer, ThreadingHttpsServer, https_acceptor, serving_banner_https, test_tls,
};
pub use crate::static_files::{
    Body, SimpleHttpHandler, default_extensions_map, guess_type, translate_path,
};
pub use crate::status::{RESPONSES, Responses, responses};

/// Response header fields: the workspace's one rule and a checked list (they live in
/// `stdx`, so the gateway's `Headers` has them without the HTTP server).
pub use stdx::field;
pub mod framing;
pub mod h1;
#[cfg(feature = "logging")]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
pub mod logging;
pub mod metrics;
pub mod proxy_protocol;
pub mod testing;

mod error;
mod handler;
mod pool;
mod request;
mod server;
mod static_files;
mod status;
