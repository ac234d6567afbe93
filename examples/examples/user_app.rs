//! A user's own small application (a notes service) served with `make_server`; its unit
//! tests use `gateway::testing::Client` (see `examples/src/user_app.rs`):
//! `cargo run -p examples --example user_app -- [PORT]` (default 8000), then
//! `curl -d text=hello http://localhost:8000/notes` and `curl http://localhost:8000/notes`.
#![allow(
    clippy::print_stdout,
    reason = "an example program: it says where it listens"
)]

use std::time::Duration;

use examples::user_app::Notes;
use gateway::simple_server::make_server;

fn main() -> gateway::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let port = std::env::args()
        .nth(1)
        .map_or(Ok(8000), |p| p.parse())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut httpd = make_server("", port, Notes::default())?;
    println!(
        "Serving notes on http://localhost:{}/notes ...",
        httpd.server_address().port()
    );
    httpd.serve_forever(Duration::from_millis(500))?;
    Ok(())
}
