//! Helpers shared by the integration tests: CPython's `run_amock`, loopback clients, and a
//! Python `wsgiref.simple_server` to compare with.

#![cfg(feature = "simple-server")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use gateway::simple_server::{WsgiRequestHandler, base_environ, http_config};
use gateway::{Application, ErrorStream};
use http_server::testing::{Harness, Transcript};
use socketserver::{Address, ServerInfo};

/// CPython's `run_amock(app, data)`: one request through `WSGIRequestHandler` over in-memory
/// streams, server `("", 80)`, client `127.0.0.1:8888`. Returns the transcript (output
/// bytes, access log) and what went to `wsgi.errors`.
pub(crate) fn run_amock<A: Application + 'static>(app: A, data: &[u8]) -> (Transcript, String) {
    let mut server = ServerInfo::new(Address::Inet("127.0.0.1:80".parse().unwrap()));
    server.server_name = String::new();
    let (errors, captured) = ErrorStream::memory();
    let mut handler =
        WsgiRequestHandler::new(Arc::new(app), Arc::new(base_environ("", 80))).with_errors(errors);
    let t = Harness::new()
        .config(http_config())
        .server(server)
        .client_address(Address::Inet("127.0.0.1:8888".parse().unwrap()))
        .run(&mut handler, data);
    (t, captured.text())
}

/// Sends `request` to `addr` and reads the whole response (bounded by timeouts).
pub(crate) fn client(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Splits a raw response into (status line, header lines, body).
pub(crate) fn split_response(raw: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = gateway::util::latin1_decode(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

/// The Python interpreter to compare with: the pinned 3.11 if present, else `python3`.
pub(crate) fn python() -> Option<std::path::PathBuf> {
    let pinned = std::path::Path::new("/root/.pyenv/versions/3.11.7/bin/python3");
    if pinned.exists() {
        return Some(pinned.to_owned());
    }
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3".into())
}
