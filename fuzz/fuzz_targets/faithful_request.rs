//! Fuzz target: requests through the faithful face, as `pyserve.simple_server` and
//! `demo --faithful` serve them: `handle_one_request` (CPython's
//! `BaseHTTPRequestHandler.handle_one_request`) with gateway's `WsgiRequestHandler` over
//! an in-memory stream, under HTTP/1.0 (wsgiref's) or HTTP/1.1 (`protocol_version` set, as
//! a subclass may). The application is the one `wsgi_request` serves. The first input byte
//! picks the protocol version. Invariants: no panic, and the connection ends: each request
//! read consumes input, so the loop stops within as many turns as there are bytes.
//! (CPython's answers need not be well-formed HTTP here: an HTTP/0.9 request gets a bare
//! body, as in CPython.)
#![no_main]

#[path = "common/app.rs"]
mod app;

use std::io::{self, BufRead, Cursor, Read, Write};
use std::sync::Arc;

use gateway::simple_server::{WsgiRequestHandler, WsgiShared, base_environ, http_config};
use http_server::handle_one_request;
use libfuzzer_sys::fuzz_target;
use socketserver::{Address, HandlerCx, ServerInfo};

/// One connection: the request bytes to read, the response bytes written.
struct Conn<'a> {
    input: Cursor<&'a [u8]>,
    out: Vec<u8>,
}

impl Read for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl BufRead for Conn<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.input.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
    }
}

impl Write for Conn<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let mut config = http_config();
    if first % 2 == 1 {
        config = config.protocol_version("HTTP/1.1");
    }
    config.max_line = 256;
    config.max_headers = 16;
    let shared = Arc::new(WsgiShared::new(
        Arc::new(app::app) as Arc<dyn gateway::Application>,
        base_environ("localhost", 8782),
    ));
    let mut handler = WsgiRequestHandler::shared(shared);
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:8782".parse().unwrap()));
    let cx = HandlerCx::new(&addr, &info);
    let mut conn = Conn {
        input: Cursor::new(input),
        out: Vec::new(),
    };
    for _ in 0..=input.len() {
        let before = conn.input.position();
        match handle_one_request(&mut handler, &mut conn, &cx, &config) {
            Ok(true) => assert!(
                conn.input.position() > before,
                "a request that read nothing kept the connection open"
            ),
            Ok(false) | Err(_) => return,
        }
    }
    panic!(
        "the connection did not end within {} requests",
        input.len() + 1
    );
});
