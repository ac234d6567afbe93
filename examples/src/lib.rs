//! Shared helpers for the examples (see `examples/README.md`).

pub mod socketserver_echo;
