//! Integration tests of the `socketserver` crate: one binary (see `Cargo.toml`).

mod cpython;
mod loopback;
mod memory;
mod support;
