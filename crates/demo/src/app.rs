//! The applications `demo` can serve, and the seed's `webbrowser.open`.

use std::sync::Arc;

use gateway::simple_server::demo_app;
use gateway::{Application, Body, Environ, Result, StartResponse};

use crate::cli::AppKind;

/// `Hello world!\n` as `text/plain`: the benchmark application.
fn hello_app(_environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    start_response.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::from(b"Hello world!\n".to_vec()))
}

pub(crate) fn pick(kind: AppKind) -> Arc<dyn Application> {
    match kind {
        AppKind::Demo => Arc::new(demo_app),
        AppKind::Hello => Arc::new(hello_app),
    }
}

/// Python: `webbrowser.open('http://localhost:8782/xyz?abc')`: `$BROWSER`, else
/// `xdg-open`; a failure is logged, never fatal.
pub(crate) fn open_browser(port: u16) {
    let url = format!("http://localhost:{port}/xyz?abc");
    let browser = std::env::var("BROWSER").unwrap_or_else(|_| "xdg-open".to_owned());
    match std::process::Command::new(&browser).arg(&url).spawn() {
        Ok(_) => tracing::info!("opened {url} with {browser}"),
        Err(e) => tracing::warn!("could not open a browser ({browser}: {e}); visit {url}"),
    }
}
