//! Python's `socketserver` TCP echo server: `cargo run -p examples --example tcp_echo -- --port 9999`,
//! then `printf 'hello\n' | nc localhost 9999`.
#![allow(clippy::print_stdout)] // An example program: it reports where it listens.

use examples::socketserver_echo::{port_arg, tcp_echo_server};
use std::time::Duration;

fn main() -> socketserver::Result<()> {
    tracing_subscriber::fmt::init();
    let addr = socketserver::inet_address("localhost", port_arg(9999))?;
    // Python: with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
    let mut server = tcp_echo_server(addr)?;
    println!("serving on {}", server.server_address());
    // Python: server.serve_forever() (interrupt with Ctrl-C)
    server.serve_forever(Duration::from_millis(500))
}
