//! A static file server, like `python -m http.server`: `cargo run -p examples --example
//! static_files -- [DIR] [PORT]`.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(std::env::current_dir, |d| Ok(d.into()))?;
    let port: u16 = args.next().map_or(Ok(8000), |p| p.parse())?;
    let mut server =
        examples::http_examples::static_files_server(([127, 0, 0, 1], port).into(), dir.clone())?;
    tracing::info!(
        "serving {} on http://{}/",
        dir.display(),
        server.server_address()
    );
    server.serve_forever(Duration::from_millis(500))?;
    Ok(())
}
