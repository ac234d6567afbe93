//! HTTPS on the production face: `h1::HttpProtocol` on the event loops with
//! `EventLoopServer::tls`, where each connection's handshake is driven by readiness in the
//! loops, under the request deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Protocol, ServerHandle};
use socketserver::testing::TestPki;
use socketserver::{HandlerCx, TlsConfig};

use crate::support::TempDir;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<(TempDir, TestPki)> = OnceLock::new();
    let (_, pki) = PKI.get_or_init(|| {
        let dir = TempDir::new("pki-evloop");
        let pki = TestPki::generate(dir.path()).unwrap();
        (dir, pki)
    });
    pki
}

/// `/big` answers 4 MiB (more than the socket buffers hold, so records wait for the
/// socket); `/stream` sends 8 MiB of chunked body through the loop's sink (flushed while
/// the handler runs), then `tail`; any other path answers `hello PATH`.
struct App;

impl HttpHandler for App {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        if ex.path == "/stream" {
            self.send_response(ex, 200, None)?;
            ex.end_headers_framed()?;
            ex.write_body(&vec![b'x'; 8 << 20])?;
            ex.stream().flush()?;
            ex.write_body(b"tail")?;
            ex.stream().flush()?;
            return ex.finish_body();
        }
        let body = if ex.path == "/big" {
            vec![b'x'; 4 << 20]
        } else if ex.path == "/who" {
            format!("hello from {}", ex.client_address()).into_bytes()
        } else {
            format!("hello {}", ex.path).into_bytes()
        };
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(&body)?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

struct Served {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<socketserver::Result<()>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(request_timeout: Duration) -> Served {
    serve_with(request_timeout, false)
}

/// With `proxy`, every connection opens with a PROXY protocol header, in clear.
fn serve_with(request_timeout: Duration, proxy: bool) -> Served {
    let config = EventLoopConfig {
        threads: 2,
        request_timeout,
        idle_timeout: Some(Duration::from_secs(30)),
        ..EventLoopConfig::default()
    };
    let protocol = HttpProtocol::new(
        |_: &HandlerCx<'_>| App,
        HttpConfig::default().protocol_version("HTTP/1.1"),
    );
    let tls = TlsConfig::new(&pki().cert).keyfile(&pki().key);
    let acceptor = http_server::https_acceptor(&tls).unwrap();
    if proxy {
        let protocol = http_server::proxy_protocol::ProxyProtocol::new(protocol);
        start(config, protocol, acceptor)
    } else {
        start(config, protocol, acceptor)
    }
}

/// Binds 127.0.0.1 with TLS and serves on a thread.
fn start<P: Protocol>(
    config: EventLoopConfig,
    protocol: P,
    acceptor: socketserver::TlsAcceptor,
) -> Served {
    let server = EventLoopServer::bind("127.0.0.1:0".parse().unwrap(), config, protocol)
        .unwrap()
        .tls(acceptor);
    Served {
        addr: server.local_addr().inet().unwrap(),
        handle: server.handle(),
        thread: Some(std::thread::spawn(move || server.serve())),
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&pki().ca_cert)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn silent_connections_do_not_delay_https_requests() {
    // Its 200 idle sockets would count against the fd baselines of the hostile tests.
    let _serial = crate::hostile::SERIAL
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let s = serve(Duration::from_secs(30));
    // 200 clients that connect and never send a byte (CPython's HTTPSServer would block in
    // accept() on the first of them).
    let silent: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    let script = r#"
import ssl, sys, threading, http.client, time
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
ok = []
def one(i):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    for j in range(3):   # keep-alive: three requests on one connection
        c.request("GET", f"/{i}-{j}")
        r = c.getresponse()
        if r.status == 200 and r.read() == f"hello /{i}-{j}".encode():
            ok.append(1)
    c.close()
t0 = time.monotonic()
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print(len(ok), time.monotonic() - t0)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &s.addr.port().to_string()])
        .arg(&pki().ca_cert)
        .arg("50")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut fields = text.split_whitespace();
    let answered: usize = fields.next().unwrap().parse().unwrap();
    let seconds: f64 = fields.next().unwrap().parse().unwrap();
    assert_eq!(answered, 150, "{text}");
    assert!(seconds < 10.0, "{text}");
    // The silent connections are still open (they wait for their own deadline).
    let mut first = &silent[0];
    first
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 1];
    let e = first.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn keep_alive_and_a_large_response_with_curl() {
    let s = serve(Duration::from_secs(30));
    let base = format!("https://127.0.0.1:{}", s.addr.port());
    let out = curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}:%{num_connects}:%{size_download}:%{http_version} ",
        &format!("{base}/a"),
        &format!("{base}/big"),
        &format!("{base}/b"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("200:1:8:1.1 200:0:{}:1.1 200:0:8:1.1", 4 << 20),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plain_http_to_the_tls_port_is_closed_at_once() {
    let s = serve(Duration::from_secs(30));
    let started = Instant::now();
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = Vec::new();
    match c.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!out.starts_with(b"HTTP/"), "{out:?}");
    let out = curl(&[&format!("https://127.0.0.1:{}/after", s.addr.port())]);
    assert_eq!(out.stdout, b"hello /after");
}

#[test]
fn a_stalled_handshake_is_closed_at_the_request_deadline() {
    let s = serve(Duration::from_millis(500));
    let mut c = TcpStream::connect(s.addr).unwrap();
    // The first bytes of a ClientHello record, then nothing.
    c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "{:?}", &buf[..n]);
    let waited = started.elapsed();
    // Closed by the deadline (500 ms), not at once.
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn a_streamed_chunked_response_over_tls_keeps_the_connection_in_step() {
    let s = serve(Duration::from_secs(30));
    let base = format!("https://127.0.0.1:{}", s.addr.port());
    let out = curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}:%{num_connects}:%{size_download} ",
        &format!("{base}/stream"),
        &format!("{base}/b"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("200:1:{} 200:0:8", (8 << 20) + 4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_proxy_protocol_header_in_clear_before_the_handshake_with_curl() {
    let s = serve_with(Duration::from_secs(30), true);
    let base = format!("https://127.0.0.1:{}", s.addr.port());
    // curl writes a version 1 header (naming its own address: Debian's curl 7.88 has no
    // --haproxy-clientip), then the TLS session; two requests on one connection.
    let out = curl(&[
        "--haproxy-protocol",
        "-w",
        " %{num_connects}\\n",
        &format!("{base}/who"),
        &format!("{base}/who"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lines[0].starts_with("hello from 127.0.0.1:"), "{text}");
    assert!(lines[0].ends_with(" 1"), "{text}");
    assert!(lines[1].starts_with("hello from 127.0.0.1:"), "{text}");
    assert!(lines[1].ends_with(" 0"), "one connection: {text}");
    // A TLS client that sends no header is refused: the connection closes, unanswered.
    let out = curl(&[&format!("{base}/who")]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    // A version 2 header (IPv6 source) and Python's TLS client; the server still serves.
    let script = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
src = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
dst = socket.inet_pton(socket.AF_INET6, "::1")
s.sendall(b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21, 0, 36]) + src + dst
          + (4321).to_bytes(2, "big") + (443).to_bytes(2, "big"))
t = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")
t.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = b""
while True:
    chunk = t.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &s.addr.port().to_string()])
        .arg(&pki().ca_cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 200 "),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("hello from [2001:db8::7]:4321"), "{text}");
}
