//! Python's `socketserver` UDP echo server: `cargo run -p examples --example udp_echo -- --port 9999`,
//! then `printf 'hello' | nc -u -w1 localhost 9999`.
#![allow(clippy::print_stdout)] // An example program: it reports where it listens.

use examples::socketserver_echo::{port_arg, udp_echo_server};
use std::time::Duration;

fn main() -> socketserver::Result<()> {
    tracing_subscriber::fmt::init();
    let addr = socketserver::inet_address("localhost", port_arg(9999))?;
    // Python: with socketserver.UDPServer((HOST, PORT), MyUDPHandler) as server:
    let mut server = udp_echo_server(addr)?;
    println!("serving on {}", server.server_address());
    server.serve_forever(Duration::from_millis(500))
}
