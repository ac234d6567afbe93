//! The `wsgiref` documentation's hello-world application served with `make_server`:
//! `cargo run -p examples --example hello_wsgi -- [PORT]` (default 8000), then
//! `curl http://localhost:8000/`.
#![allow(
    clippy::print_stdout,
    reason = "an example program: it says where it listens, as Python's does"
)]

use std::time::Duration;

fn main() -> gateway::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let port = std::env::args()
        .nth(1)
        .map_or(Ok(8000), |p| p.parse())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // Python: with make_server('', 8000, hello_world_app) as httpd:
    let mut httpd = examples::hello_wsgi::hello_server("", port)?;
    println!("Serving on port {}...", httpd.server_address().port());
    // Python: httpd.serve_forever() (interrupt with Ctrl-C)
    httpd.serve_forever(Duration::from_millis(500))?;
    Ok(())
}
