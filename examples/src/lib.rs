//! Shared helpers for the examples (see `examples/README.md`).

pub mod http_examples;
pub mod socketserver_echo;
