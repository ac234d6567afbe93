//! A Unix stream echo server (`socketserver.UnixStreamServer` with a
//! `StreamRequestHandler`): `cargo run -p examples --example unix_echo -- --path /tmp/echo.sock`,
//! then `printf 'hello\n' | nc -U /tmp/echo.sock`.
#![allow(clippy::print_stdout)] // An example program: it reports where it listens.

use examples::socketserver_echo::{arg_value, unix_echo_server};
use std::path::PathBuf;
use std::time::Duration;

fn main() -> socketserver::Result<()> {
    tracing_subscriber::fmt::init();
    let path = PathBuf::from(
        arg_value("--path").unwrap_or_else(|| "/tmp/socketserver-echo.sock".to_owned()),
    );
    // Like Python, the server does not remove an old socket file: do it first.
    let _ = std::fs::remove_file(&path);
    let mut server = unix_echo_server(&path)?;
    println!("serving on {}", server.server_address());
    server.serve_forever(Duration::from_millis(500))
}
