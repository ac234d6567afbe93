//! Fuzz target: whole requests through `h1::HttpProtocol` (frame then serve, as the event
//! loop does) over in-memory buffers, with a handler echoing the body. The first byte picks
//! how many bytes arrive per read. Invariants: no panic; every byte sent parses as
//! well-formed HTTP responses (Content-Length or chunked framed, or close-delimited on a
//! closing connection); at most one final response per framed request; no response after
//! the connection was told to close.
#![no_main]

#[path = "common/responses.rs"]
mod responses;

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use libfuzzer_sys::fuzz_target;
use socketserver::HandlerCx;

use responses::drive;

struct Echo;

impl HttpHandler for Echo {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let body = format!("hello {}", ex.path);
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        if ex.command != "HEAD" {
            ex.wfile().write_all(body.as_bytes())?;
        }
        Ok(())
    }

    fn do_head(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.do_get(ex)
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let mut body = Vec::new();
        ex.rfile().read_to_end(&mut body)?;
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(&body)?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 32).max(1);
    let mut config = HttpConfig::default().protocol_version("HTTP/1.1");
    config.max_line = 256;
    config.max_headers = 16;
    let p = HttpProtocol::new(|_: &HandlerCx<'_>| Echo, config).max_head(1024);
    drive(&p, step, input, || false);
});
