//! Integration tests of `gateway`: CPython's `IntegrationTests` (over in-memory streams, as
//! `run_amock` does), loopback tests of `make_server`, a differential test against Python's
//! `wsgiref.simple_server`, the test client against the real server, and `demo_app` as a
//! real CGI script.

mod support;

#[cfg(feature = "simple-server")]
mod integration;
#[cfg(feature = "simple-server")]
mod production;

mod cgi;
