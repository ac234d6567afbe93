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

/// PEP 3333 ("Handling the Content-Length Header"): once the declared length is written
/// the server stops iterating (an endless body is not read on), a chunk that would pass it
/// is cut, and the connection, whose response is whole, serves the next request.
#[test]
fn a_body_stops_at_its_declared_length() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pulled = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (p, c) = (pulled.clone(), closed.clone());
    let endless = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Length", "5")], None)?;
        let p = p.clone();
        let c = c.clone();
        Ok(Body::iter(std::iter::repeat_with(move || {
            p.fetch_add(1, Ordering::SeqCst);
            Ok::<_, gateway::Error>(b"abc".to_vec())
        }))
        .on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let s = start_with(Arc::new(endless), BTreeMap::new());
    let (mut w, mut r) = connect(s.addr);
    for round in 1..=2 {
        w.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (head, body) = read_response(&mut r);
        assert!(head.contains("Content-Length: 5\r\n"), "{head}");
        assert_eq!(body, b"abcab");
        assert_eq!(pulled.load(Ordering::SeqCst), 2 * round);
        assert_eq!(closed.load(Ordering::SeqCst), round);
    }
}

/// A body of known length is not held until the application finishes it: each block
/// goes out before the next is asked for (PEP 3333: servers "must not delay the
/// transmission of any block").
#[test]
fn a_known_length_body_is_sent_block_by_block() {
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(Some(wait));
    let slow = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Length", "6")], None)?;
        let wait = wait.lock().unwrap().take().expect("one request");
        let mut step = 0;
        Ok(Body::iter(std::iter::from_fn(move || {
            step += 1;
            match step {
                1 => Some(Ok::<_, gateway::Error>(b"one".to_vec())),
                2 => {
                    // The client has read "one" before this block is made.
                    wait.recv_timeout(Duration::from_secs(20)).ok()?;
                    Some(Ok(b"two".to_vec()))
                }
                _ => None,
            }
        })))
    };
    let s = start_with(Arc::new(slow), BTreeMap::new());
    let (mut w, mut r) = connect(s.addr);
    r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    w.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let head = read_head(&mut r);
    assert!(head.contains("Content-Length: 6\r\n"), "{head}");
    let mut first = [0u8; 3];
    r.read_exact(&mut first)
        .expect("the first block before the second is made");
    assert_eq!(&first, b"one");
    go.send(()).unwrap();
    let mut second = [0u8; 3];
    r.read_exact(&mut second).unwrap();
    assert_eq!(&second, b"two");
}

/// No `Content-Length` on a 204 (RFC 9110 §8.6), and not wsgiref's `0` for the empty
/// body of a 304 or a `HEAD` response; a `HEAD` response keeps the length a `GET` has.
#[test]
fn no_made_up_content_length_on_204_304_or_head() {
    let app = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        let head = e.get("REQUEST_METHOD") == Some("HEAD");
        match e.get("PATH_INFO").unwrap_or("") {
            "/204" => {
                sr.start_response("204 No Content", &[("Content-Length", "0")], None)?;
                Ok(Body::from("ignored"))
            }
            "/304" => {
                sr.start_response("304 Not Modified", &[("ETag", "\"x\"")], None)?;
                Ok(Body::empty())
            }
            "/304-length" => {
                sr.start_response("304 Not Modified", &[("Content-Length", "9")], None)?;
                Ok(Body::empty())
            }
            "/" if head => {
                sr.start_response("200 OK", &[], None)?;
                Ok(Body::empty())
            }
            _ => {
                sr.start_response("200 OK", &[], None)?;
                Ok(Body::from("full body"))
            }
        }
    };
    let s = start_with(Arc::new(app), BTreeMap::new());
    let (mut w, mut r) = connect(s.addr);
    for (request, code, length) in [
        ("GET /204", "204", None),
        ("GET /304", "304", None),
        ("GET /304-length", "304", Some("9")),
        ("HEAD /", "200", None),
        ("HEAD /one", "200", Some("9")),
        ("GET /", "200", Some("9")),
    ] {
        w.write_all(format!("{request} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let head = read_head(&mut r);
        assert!(head.starts_with(&format!("HTTP/1.1 {code} ")), "{head}");
        let found = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "));
        assert_eq!(found, length, "{request}: {head}");
    }
}
