//! Shared helpers for the examples (see `examples/README.md`).

pub mod cgi_demo;
pub mod hello_wsgi;
pub mod http_examples;
pub mod socketserver_echo;
pub mod user_app;
pub mod wsgi_routing;

/// The repository's README: its Rust blocks (the seed's program, `demo_app`) compile and run
/// as doctests, so the side-by-side comparison stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
