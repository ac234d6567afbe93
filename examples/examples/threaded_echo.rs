//! Python's `socketserver` "Asynchronous Mixins" example: a threaded TCP server on a port
//! chosen by the OS, three clients, then shutdown.
//! `cargo run -p examples --example threaded_echo [-- --port N]`.
#![allow(clippy::print_stdout)] // An example program: it prints the replies, as Python's does.

use examples::socketserver_echo::{client, port_arg, threaded_echo_server};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    // Python: HOST, PORT = "localhost", 0 (an arbitrary unused port)
    let addr = socketserver::inet_address("localhost", port_arg(0))?;
    let mut server = threaded_echo_server(addr)?;
    let server_addr = server.server_address().inet().ok_or("not an IP address")?;
    let handle = server.shutdown_handle();
    // Python: server_thread = threading.Thread(target=server.serve_forever); daemon = True
    let server_thread = std::thread::spawn(move || {
        let served = server.serve_forever(Duration::from_millis(500));
        server.server_close();
        served
    });
    println!("Server loop running in a thread");
    for message in ["Hello World 1", "Hello World 2", "Hello World 3"] {
        println!("Received: {}", client(server_addr, message)?);
    }
    handle.shutdown();
    server_thread
        .join()
        .map_err(|_| "server thread panicked")??;
    Ok(())
}
