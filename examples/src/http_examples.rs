//! The reusable halves of the `static_files` and `custom_handler` examples: a static file
//! server (Python's `python -m http.server`) and a custom `BaseHTTPRequestHandler`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use http_server::{
    Exchange, HttpConfig, HttpHandler, HttpHooks, Result, SimpleHttpHandler, ThreadingHttpServer,
};
use socketserver::HandlerCx;

/// The factory type of [`static_files_server`].
pub type StaticFactory = Box<dyn Fn(&HandlerCx<'_>) -> SimpleHttpHandler + Send + Sync>;

/// A threading server over `directory`:
/// `ThreadingHTTPServer(addr, partial(SimpleHTTPRequestHandler, directory=directory))`.
pub fn static_files_server(
    address: SocketAddr,
    directory: PathBuf,
) -> Result<ThreadingHttpServer<StaticFactory>> {
    let factory: StaticFactory = Box::new(move |_cx| SimpleHttpHandler::new(directory.clone()));
    HttpHooks::new(factory)
        .config(SimpleHttpHandler::http_config())
        .threading_server(address)
}

/// A custom handler: `GET /hello?name=x` greets, `POST /echo` echoes the body, everything else
/// is 404 (Python: a `BaseHTTPRequestHandler` subclass with `do_GET` and `do_POST`).
#[derive(Debug, Default)]
pub struct Greeter;

impl Greeter {
    fn reply(&mut self, ex: &mut Exchange<'_>, code: u16, body: &[u8]) -> Result<()> {
        self.send_response(ex, code, None)?;
        ex.send_header("Content-Type", "text/plain; charset=utf-8")?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(body)?;
        Ok(())
    }
}

impl HttpHandler for Greeter {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let (path, query) = ex.path.split_once('?').unwrap_or((ex.path.as_str(), ""));
        if path != "/hello" {
            return self.send_error(ex, 404, Some("No such page"), None);
        }
        let name = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("name="))
            .unwrap_or("world")
            .to_owned();
        self.reply(ex, 200, format!("Hello, {name}!\n").as_bytes())
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        if ex.path != "/echo" {
            return self.send_error(ex, 404, Some("No such page"), None);
        }
        let len: u64 = ex
            .headers
            .get("Content-Length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = Vec::new();
        ex.rfile().take(len).read_to_end(&mut body)?;
        self.reply(ex, 200, &body)
    }
}

/// The class attributes of the custom handler: HTTP/1.1 keep-alive, its own server name.
pub fn greeter_config() -> HttpConfig {
    HttpConfig::default()
        .protocol_version("HTTP/1.1")
        .server_version("Greeter/1.0")
}

/// The factory type of [`greeter_server`].
pub type GreeterFactory = fn(&HandlerCx<'_>) -> Greeter;

fn make_greeter(_cx: &HandlerCx<'_>) -> Greeter {
    Greeter
}

/// A threading server running [`Greeter`].
pub fn greeter_server(address: SocketAddr) -> Result<ThreadingHttpServer<GreeterFactory>> {
    HttpHooks::new(make_greeter as GreeterFactory)
        .config(greeter_config())
        .threading_server(address)
}
