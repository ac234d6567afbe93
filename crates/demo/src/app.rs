//! The applications `demo` can serve, and the seed's `webbrowser.open`.

use std::sync::Arc;

use gateway::simple_server::demo_app;
use gateway::{Application, Body, Environ, Result, StartResponse};

use crate::cli::AppKind;

/// `Hello world!\n` as `text/plain`: the benchmark application.
fn hello_app(_environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    start_response.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::from_static(b"Hello world!\n"))
}

/// `--app stream`: GET streams `?size=N` bytes (default 1 MiB, at most 256 MiB) in 64 KiB
/// chunks with no length (so HTTP/1.1 responses are chunked); any other method reads the
/// body and answers `<length> <FNV-1a 64 hash in hex>\n`.
fn stream_app(environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    if environ.get("REQUEST_METHOD") != Some("GET") {
        let (mut len, mut hash) = (0u64, FNV_OFFSET);
        let input = environ.input();
        loop {
            let chunk = input.read_size(64 << 10)?;
            if chunk.is_empty() {
                break;
            }
            len += chunk.len() as u64;
            for b in chunk {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        start_response.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        return Ok(Body::from(format!("{len} {hash:016x}\n")));
    }
    let size = environ
        .get("QUERY_STRING")
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("size=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1 << 20)
        .min(256 << 20);
    start_response.start_response(
        "200 OK",
        &[("Content-Type", "application/octet-stream")],
        None,
    )?;
    let chunk = 64usize << 10;
    Ok(Body::iter((0..size.div_ceil(chunk)).map(move |i| {
        let n = chunk.min(size - i * chunk);
        Ok::<_, gateway::Error>(
            (0..n)
                .map(|j| ((i * chunk + j) % 251) as u8)
                .collect::<Vec<u8>>(),
        )
    })))
}

pub(crate) fn pick(kind: AppKind) -> Arc<dyn Application> {
    match kind {
        AppKind::Demo => Arc::new(demo_app),
        AppKind::Hello => Arc::new(hello_app),
        AppKind::Stream => Arc::new(stream_app),
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
