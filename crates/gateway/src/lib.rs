//! `gateway`: Python's `wsgiref` in Rust.
//!
//! The application interface of PEP 3333 ([`Application`], [`Environ`], [`StartResponse`],
//! [`Body`]), the `BaseHandler` state machine that runs an application for one request
//! ([`handlers`]), response [`headers`], the [`util`] functions, the PEP 3333 [`validate`]
//! middleware, the reference server ([`simple_server`]), and a test client ([`testing`]).
//!
//! # Porting from Python
//!
//! This crate ports `wsgiref` (CPython 3.11): `wsgiref.handlers`, `wsgiref.headers`,
//! `wsgiref.util`, `wsgiref.validate`, `wsgiref.simple_server` and `wsgiref.types` keep
//! their module names. Every public item's documentation opens with its Python name and
//! carries it as a search alias. Python's `AssertionError`s become [`Error`] variants;
//! panics in an application are caught like exceptions. The full table of names is in
//! `docs/porting-map.md`.
//!
//! ```
//! use gateway::{Body, Environ, Result, StartResponse};
//!
//! fn hello(environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
//!     let path = environ.get("PATH_INFO").unwrap_or("/").to_owned();
//!     start_response.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
//!     Ok(Body::from(format!("Hello from {path}")))
//! }
//!
//! let response = gateway::testing::Client::new(hello).get("/xyz?abc");
//! assert_eq!(response.status(), "200 OK");
//! assert_eq!(response.text(), "Hello from /xyz");
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

pub use crate::error::{Error, Result};
pub use crate::types::{
    Application, Body, EnvValue, Environ, ErrorStream, InputStream, SharedBuffer, StartResponse,
};

pub mod handlers;
pub mod headers;
pub mod proxy;
pub mod simple_server;
pub mod testing;
pub mod types;
pub mod util;
pub mod validate;

mod error;
mod spare;
