//! The WSGI handler under the production face: `WsgiRequestHandler` on the event loops
//! (`socketserver::evloop` + `http_server::h1`), HTTP/1.1 keep-alive, chunked bodies both
//! ways, `wsgi.multithread`, a panicking application.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use gateway::simple_server::{WsgiRequestHandler, http_config};
use gateway::{Application, Body, Environ, Result, StartResponse};
use http_server::h1::HttpProtocol;
use socketserver::HandlerCx;
use socketserver::evloop::{EventLoopConfig, EventLoopServer, ServerHandle};

/// Streams its answer in pieces (no Content-Length), echoes POST bodies, panics on /panic.
fn app(e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    let path = e.get("PATH_INFO").unwrap_or("").to_owned();
    if path == "/panic" {
        panic!("application panicked on purpose");
    }
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    if e.get("REQUEST_METHOD") == Some("POST") {
        let body = e.input().read_size(usize::MAX)?;
        let cl = e.get("CONTENT_LENGTH").unwrap_or("").to_owned();
        return Ok(Body::from(format!(
            "{cl}:{}",
            String::from_utf8_lossy(&body)
        )));
    }
    let mt = if e.multithread() { "mt" } else { "st" };
    Ok(Body::from(vec![
        path.into_bytes(),
        b" ".to_vec(),
        mt.as_bytes().to_vec(),
    ]))
}

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<socketserver::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start() -> Running {
    start_with(Arc::new(app), BTreeMap::new())
}

fn start_with(app: Arc<dyn Application>, env: BTreeMap<String, String>) -> Running {
    let env = Arc::new(env);
    let config = EventLoopConfig {
        threads: 1,
        ..EventLoopConfig::default()
    };
    let protocol = HttpProtocol::new(
        move |_cx: &HandlerCx<'_>| WsgiRequestHandler::new(app.clone(), env.clone()),
        http_config().protocol_version("HTTP/1.1"),
    );
    let mut server =
        EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, protocol).unwrap();
    server.info_mut().multithread = true;
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let thread = Some(std::thread::spawn(move || server.serve()));
    Running {
        addr,
        handle,
        thread,
    }
}

/// Reads a response head, blank line included.
fn read_head(r: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed early: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            return head;
        }
    }
}

/// Reads one response: head, then a Content-Length or chunked body.
fn read_response(r: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let head = read_head(r);
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        for _ in 0..1000 {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                return (head, body);
            }
            body.extend_from_slice(&chunk[..n]);
        }
        panic!("too many chunks");
    }
    let len: usize = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    body.resize(len, 0);
    r.read_exact(&mut body).unwrap();
    (head, body)
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (c.try_clone().unwrap(), BufReader::new(c))
}

#[test]
fn keep_alive_with_chunked_responses_and_multithread() {
    let s = start();
    let (mut w, mut r) = connect(s.addr);
    for i in 0..3 {
        write!(w, "GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (head, body) = read_response(&mut r);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        assert_eq!(body, format!("/r{i} mt").as_bytes());
    }
}

#[test]
fn chunked_request_body_reaches_wsgi_input_with_its_length() {
    let s = start();
    let (mut w, mut r) = connect(s.addr);
    w.write_all(b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r).1, b"9:wikipedia");
    assert_eq!(read_response(&mut r).1, b"/after mt");
}

#[test]
fn http10_client_gets_a_close_delimited_answer() {
    let s = start();
    let (mut w, mut r) = connect(s.addr);
    w.write_all(b"GET /old HTTP/1.0\r\n\r\n").unwrap();
    let mut all = String::new();
    r.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(!all.contains("chunked"), "{all}");
    assert!(all.ends_with("/old mt"), "{all}");
}

#[test]
fn a_panicking_application_gets_a_500_and_the_server_keeps_serving() {
    let s = start();
    let (mut w, mut r) = connect(s.addr);
    w.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, _) = read_response(&mut r);
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    let (mut w, mut r) = connect(s.addr);
    w.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r).1, b"/ok mt");
}

/// What the server tells `setup_environ` without a lookup (the scheme from the base
/// environ's `HTTPS`, a HEAD request, the request's version) is what the environ says:
/// the application sees it, and debug builds assert it on every request.
#[test]
fn the_server_knows_scheme_method_and_version_as_the_environ_says() {
    let echo = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        let text = format!(
            "{} {} {}",
            e.url_scheme(),
            e.get("REQUEST_METHOD").unwrap_or(""),
            e.get("SERVER_PROTOCOL").unwrap_or("")
        );
        sr.start_response(
            "200 OK",
            &[("Content-Length", &text.len().to_string())],
            None,
        )?;
        Ok(Body::from(text))
    };
    let env: BTreeMap<String, String> = [("HTTPS".to_owned(), "on".to_owned())].into();
    let s = start_with(Arc::new(echo), env);
    let (mut w, mut r) = connect(s.addr);
    w.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r).1, b"https GET HTTP/1.1");
    // HEAD: the length of the GET, no body; the connection stays usable.
    w.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let head = read_head(&mut r);
    assert!(head.contains("Content-Length: 19\r\n"), "{head}");
    w.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(
        rest.ends_with(b"https GET HTTP/1.0"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

/// Sends `request` and reads the whole answer the server gives before closing (the request
/// asks to close) or the one response to a keep-alive request (read up to `end`).
fn exchange(addr: SocketAddr, request: &[u8], end: &[u8]) -> String {
    let (mut w, mut r) = connect(addr);
    w.write_all(request).unwrap();
    let mut all = Vec::new();
    let mut byte = [0u8; 1];
    while !all.ends_with(end) {
        match r.read(&mut byte) {
            Ok(1) => all.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8(all).unwrap()
}

/// The head without its `Date` and `Server` lines (their values vary).
fn without_date_and_server(response: &str) -> String {
    response
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Date: ") && !l.starts_with("Server: "))
        .collect()
}

/// Moved from the gateway's unit tests when chunking moved to the HTTP layer (the
/// gateway hands the head over; the exchange chooses the framing).
#[test]
fn unknown_length_is_chunked_for_http11() {
    let two = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        Ok(Body::from(vec![
            b"ab".to_vec(),
            Vec::new(),
            b"cdefghijklmnopq".to_vec(),
        ]))
    };
    let s = start_with(Arc::new(two), BTreeMap::new());
    let all = exchange(s.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"0\r\n\r\n");
    assert_eq!(
        without_date_and_server(&all),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nF\r\ncdefghijklmnopq\r\n0\r\n\r\n"
    );
    // One chunk: Content-Length, as in CPython; no chunking.
    let hello = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        Ok(Body::from("Hello, world!"))
    };
    let s = start_with(Arc::new(hello), BTreeMap::new());
    let all = exchange(s.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"world!");
    assert!(all.contains("Content-Length: 13\r\n"), "{all}");
    assert!(!all.contains("chunked"), "{all}");
}

/// Moved from the gateway's unit tests with the chunking (see above).
#[test]
fn no_chunking_for_http10_clients_head_or_204() {
    let two = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from(vec![b"ab".to_vec(), b"cd".to_vec()]))
    };
    let s = start_with(Arc::new(two), BTreeMap::new());
    let all = exchange(s.addr, b"GET / HTTP/1.0\r\n\r\n", b"\0");
    assert!(all.ends_with("\r\n\r\nabcd"), "{all}");
    assert!(!all.contains("chunked"));

    let all = exchange(
        s.addr,
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"\0",
    );
    assert!(all.ends_with("\r\n\r\n"), "{all}");
    assert!(!all.contains("chunked"));

    let no_content = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("204 No Content", &[], None)?;
        Ok(Body::from(vec![Vec::new(), Vec::new()]))
    };
    let s = start_with(Arc::new(no_content), BTreeMap::new());
    let all = exchange(s.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n");
    assert!(!all.contains("chunked"), "{all}");
}
