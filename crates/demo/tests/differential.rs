//! The same raw requests sent to `demo --faithful` and to CPython's own
//! `wsgiref.simple_server` serving its own `demo_app`: the status lines, the header names in
//! order, the header values and the environ listings must agree line by line, except for the
//! entries listed below, each with the reason it must differ (see `docs/divergences.md`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Demo, python, raw, split_response};

/// CPython's reference server, quiet, on port 0; prints its port and the names of its own
/// process environment (which CPython's `ServerHandler` copies into every environ).
const PYTHON_SERVER: &str = r#"
import os
from wsgiref.simple_server import make_server, demo_app, WSGIRequestHandler
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
httpd = make_server('127.0.0.1', 0, demo_app, handler_class=Quiet)
print(httpd.server_address[1], ','.join(sorted(os.environ)), flush=True)
httpd.serve_forever()
"#;

/// Header values that differ on purpose.
const HEADER_VALUES_THAT_DIFFER: [(&str, &str); 3] = [
    (
        "Server",
        "the runtime: `WSGIServer/0.2 CPython/3.11.7` vs `WSGIServer/0.2 Rust/<rustc>` \
         (and CPython's error replies say `BaseHTTP/0.6 Python/3.11.7`: one Server string \
         everywhere, docs/divergences.md)",
    ),
    ("Date", "the clock"),
    (
        "Content-Length",
        "the bodies differ in the environ entries listed in ENVIRON_LINES_THAT_DIFFER",
    ),
];

/// Environ entries whose values differ on purpose.
const ENVIRON_LINES_THAT_DIFFER: [(&str, &str); 4] = [
    (
        "SERVER_PORT",
        "each server listens on its own ephemeral port",
    ),
    (
        "wsgi.errors",
        "an object: its repr names its runtime's type \
         (`<_io.TextIOWrapper name='<stderr>' ...>` vs `<gateway::ErrorStream ...>`)",
    ),
    (
        "wsgi.input",
        "an object: `<_io.BufferedReader ...>` vs `<gateway::InputStream>`",
    ),
    (
        "wsgi.file_wrapper",
        "an object: `<class 'wsgiref.util.FileWrapper'>` vs its Rust type",
    ),
];

/// Python's `wsgiref.simple_server` on port 0, killed on drop.
struct PythonServer {
    child: Child,
    addr: SocketAddr,
    /// The names of Python's process environment: CPython copies it into every environ,
    /// the port does not (docs/divergences.md, "The process environment is not copied").
    os_environ: Vec<String>,
}

impl PythonServer {
    fn start() -> PythonServer {
        let mut child = Command::new(python())
            .args(["-c", PYTHON_SERVER])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("python prints its port");
        let (port, names) = line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""));
        let port: u16 = port.parse().unwrap_or_else(|_| panic!("bad line {line:?}"));
        PythonServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            os_environ: names
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(line: &str) -> &str {
    line.split(" = ").next().unwrap_or("")
}

fn names(headers: &[(String, String)]) -> Vec<&str> {
    headers.iter().map(|(k, _)| k.as_str()).collect()
}

/// Compares one request's responses; `py_only_environ` names environ entries Python has and
/// the port must not (each a documented divergence).
fn compare(request: &[u8], ours: &[u8], theirs: &[u8], os_environ: &[String]) {
    let what = String::from_utf8_lossy(request);
    let (status, headers, body) = split_response(ours);
    let (py_status, py_headers, py_body) = split_response(theirs);
    assert_eq!(status, py_status, "{what}");
    assert_eq!(names(&headers), names(&py_headers), "{what}");
    for ((k, v), (_, pv)) in headers.iter().zip(&py_headers) {
        if !HEADER_VALUES_THAT_DIFFER.iter().any(|(h, _)| h == k) {
            assert_eq!(v, pv, "{k} for {what}");
        }
    }
    let body = String::from_utf8(body).unwrap();
    let py_body = String::from_utf8(py_body).unwrap();
    if !body.starts_with("Hello world!\n\n") {
        // An error page: byte for byte.
        assert_eq!(body, py_body, "{what}");
        return;
    }
    let ours: Vec<&str> = body.lines().collect();
    let theirs: Vec<&str> = py_body
        .lines()
        .filter(|l| !os_environ.iter().any(|k| k == key(l)))
        .collect();
    assert_eq!(
        ours.iter().map(|l| key(l)).collect::<Vec<_>>(),
        theirs.iter().map(|l| key(l)).collect::<Vec<_>>(),
        "the same environ keys in the same order for {what}"
    );
    for (ours, theirs) in ours.iter().zip(&theirs) {
        if ENVIRON_LINES_THAT_DIFFER
            .iter()
            .any(|(k, _)| *k == key(ours))
        {
            assert!(
                ours.contains(" = ") && theirs.contains(" = "),
                "{ours} / {theirs}"
            );
        } else {
            assert_eq!(ours, theirs, "{what}");
        }
    }
}

#[test]
fn faithful_demo_matches_cpython_wsgiref() {
    let requests: [&[u8]; 6] = [
        // The seed's request, as a bare HTTP/1.0 client sends it.
        b"GET /xyz?abc HTTP/1.0\r\n\r\n",
        // A browser-like HTTP/1.1 request (both answer HTTP/1.0 and close).
        b"GET /xyz?abc HTTP/1.1\r\nHost: 127.0.0.1:8782\r\nUser-Agent: diff/1\r\n\
          Accept: text/html,*/*;q=0.8\r\nAccept-Language: en\r\n\r\n",
        // A form POST.
        b"POST /form?x=1 HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 7\r\n\r\na=1&b=2",
        // Percent-decoding into Latin-1 native strings, a leading `//`, repeated headers
        // joined with `,`, values stripped, quotes in values.
        b"GET //caf%C3%A9/%2Fx%zz?q=it's HTTP/1.0\r\nX-Dup: a\r\nX-Dup: b \r\n\
          Cookie: k=\"v\"\r\nContent-Type: text/x-one\r\n\r\n",
        // An empty query after `?`, a path with spaces escaped.
        b"GET /a%20b? HTTP/1.0\r\nHost: example\r\n\r\n",
        // A malformed request line: 400 with the same reason and the same page.
        b"GET /spaced out HTTP/1.1\r\n\r\n",
    ];
    let python = PythonServer::start();
    let demo = Demo::faithful(&[]);
    for request in requests {
        let theirs = raw(python.addr, request);
        let ours = raw(demo.addr(), request);
        compare(request, &ours, &theirs, &python.os_environ);
    }
}

#[test]
fn faithful_demo_differs_from_cpython_only_as_documented() {
    let python = PythonServer::start();
    let demo = Demo::faithful(&[]);
    // HEAD: CPython's wsgiref sends the body; the port sends the head only (RFC 9110).
    let head = b"HEAD /xyz?abc HTTP/1.0\r\n\r\n";
    let (py_status, py_headers, py_body) = split_response(&raw(python.addr, head));
    let (status, headers, body) = split_response(&raw(demo.addr(), head));
    assert_eq!(status, py_status);
    assert_eq!(names(&headers), names(&py_headers));
    assert!(py_body.starts_with(b"Hello world!"));
    assert_eq!(body, b"");
    // A bad version: CPython answers with the bare HTML page, no status line; the port
    // sends a real status line first (docs/divergences.md).
    let bad = b"GET / HTTP/2.0\r\n\r\n";
    let theirs = raw(python.addr, bad);
    let ours = raw(demo.addr(), bad);
    assert!(theirs.starts_with(b"<!DOCTYPE HTML>"), "{theirs:?}");
    let (status, _, page) = split_response(&ours);
    assert_eq!(status, "HTTP/1.0 505 Invalid HTTP version (2.0)");
    assert_eq!(
        page, theirs,
        "the same page, after a status line and headers"
    );
    // A header name with `_`: CPython lets it into the environ (where it collides with the
    // `-` spelling); the port drops it.
    let underscore = b"GET / HTTP/1.0\r\nX_Auth_User: admin\r\n\r\n";
    let (_, _, py_body) = split_response(&raw(python.addr, underscore));
    let (_, _, body) = split_response(&raw(demo.addr(), underscore));
    let line = b"HTTP_X_AUTH_USER = 'admin'";
    assert!(py_body.windows(line.len()).any(|w| w == line));
    assert!(!body.windows(line.len()).any(|w| w == line));
}
