//! Shared helpers for the examples (see `examples/README.md`).

pub mod cgi_demo;
pub mod hello_wsgi;
pub mod http_examples;
pub mod socketserver_echo;
pub mod user_app;
pub mod wsgi_routing;
