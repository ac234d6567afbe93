//! A small WSGI application with routing on `PATH_INFO` (`shift_path_info`) and a form POST:
//! `cargo run -p examples --example wsgi_routing -- [PORT]` (default 8000), then open
//! <http://localhost:8000/>, or `curl http://localhost:8000/hello/Ada` and
//! `curl -d name=Ada http://localhost:8000/greet`.
#![allow(
    clippy::print_stdout,
    reason = "an example program: it says where it listens"
)]

use std::time::Duration;

use examples::wsgi_routing::router;
use gateway::simple_server::make_server;

fn main() -> gateway::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let port = std::env::args()
        .nth(1)
        .map_or(Ok(8000), |p| p.parse())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut httpd = make_server("", port, router)?;
    println!(
        "Serving on http://localhost:{}/ ...",
        httpd.server_address().port()
    );
    httpd.serve_forever(Duration::from_millis(500))?;
    Ok(())
}
