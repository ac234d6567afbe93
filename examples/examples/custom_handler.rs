//! A custom `BaseHTTPRequestHandler`: `cargo run -p examples --example custom_handler`, then
//! `curl 'http://127.0.0.1:8001/hello?name=you'` or `curl -d hi http://127.0.0.1:8001/echo`.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let mut server = examples::http_examples::greeter_server(([127, 0, 0, 1], 8001).into())?;
    tracing::info!("listening on http://{}/", server.server_address());
    server.serve_forever(Duration::from_millis(500))?;
    Ok(())
}
