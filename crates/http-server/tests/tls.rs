//! `HttpsServer` (Python 3.14's `HTTPSServer`) with real clients: Python's `ssl`,
//! `http.client` and `urllib` trusting the test CA, and `curl --cacert`. Certificates are
//! made by the test (`socketserver::testing::TestPki`, the `openssl` command).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http_server::{HttpHooks, SimpleHttpHandler};
use socketserver::testing::TestPki;
use socketserver::{HandlerCx, ShutdownHandle, TlsConfig};

use crate::support::TempDir;

/// One set of certificates for the whole test binary (RSA key generation is not free).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<(TempDir, TestPki)> = OnceLock::new();
    let (_, pki) = PKI.get_or_init(|| {
        let dir = TempDir::new("pki");
        let pki = TestPki::generate(dir.path()).unwrap();
        (dir, pki)
    });
    pki
}

struct Https {
    addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

impl Drop for Https {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn site(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    dir.write("hello.txt", b"hello over tls\n");
    dir
}

/// A `ThreadingHttpsServer` over a directory with `hello.txt`.
fn serve_threading(tls: &TlsConfig) -> Https {
    let dir = site("https");
    let root = dir.path().to_owned();
    let mut server = HttpHooks::new(move |_cx: &HandlerCx<'_>| {
        SimpleHttpHandler::new(root.clone()).with_extra_response_headers([("X-Tls", "yes")])
    })
    .config(SimpleHttpHandler::http_config().protocol_version("HTTP/1.1"))
    .threading_https_server("127.0.0.1:0".parse().unwrap(), tls)
    .unwrap();
    let addr = server.server_address().inet().unwrap();
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(50)).unwrap();
        server.server_close();
    });
    Https {
        addr,
        handle,
        thread: Some(thread),
        _dir: dir,
    }
}

/// A one-thread `HttpsServer`, as Python's `HTTPSServer` without the mix-in.
fn serve_single(tls: &TlsConfig) -> Https {
    let dir = site("https-single");
    let root = dir.path().to_owned();
    let mut server =
        HttpHooks::new(move |_cx: &HandlerCx<'_>| SimpleHttpHandler::new(root.clone()))
            .config(SimpleHttpHandler::http_config())
            .https_server("127.0.0.1:0".parse().unwrap(), tls)
            .unwrap();
    let addr = server.server_address().inet().unwrap();
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(50)).unwrap();
        server.server_close();
    });
    Https {
        addr,
        handle,
        thread: Some(thread),
        _dir: dir,
    }
}

fn default_tls() -> TlsConfig {
    TlsConfig::new(&pki().cert).keyfile(&pki().key)
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&pki().ca_cert)
        .args(args)
        .output()
        .unwrap()
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_with_the_test_ca_gets_the_file_and_the_extra_header() {
    let s = serve_threading(&default_tls());
    let url = format!("https://localhost:{}/hello.txt", s.addr.port());
    let out = curl(&[
        "-i",
        "--resolve",
        &format!("localhost:{}:127.0.0.1", s.addr.port()),
        &url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nX-Tls: yes\r\n"), "{text}");
    assert!(text.ends_with("hello over tls\n"), "{text}");
    // Two requests on one connection: keep-alive works through TLS.
    let out = curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects} ",
        &url,
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 0");
}

#[test]
fn python_ssl_http_client_and_urllib_with_the_test_ca() {
    let s = serve_threading(&default_tls());
    let script = r#"
import ssl, sys, http.client, urllib.request
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["h2", "http/1.1"])
c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
c.request("GET", "/hello.txt")
r = c.getresponse()
body = r.read()
print(r.status, body.decode().strip(), c.sock.selected_alpn_protocol(), c.sock.version().startswith("TLSv1."))
c.request("HEAD", "/hello.txt")
r = c.getresponse(); r.read()
print(r.status, r.getheader("Content-Length"))
ctx2 = ssl.create_default_context(cafile=ca)
with urllib.request.urlopen(f"https://localhost:{port}/", context=ctx2, timeout=10) as u:
    page = u.read().decode()
print(u.status, "hello.txt" in page)
"#;
    let out = python(
        script,
        &[&s.addr.port().to_string(), pki().ca_cert.to_str().unwrap()],
    );
    assert_eq!(
        out, "200 hello over tls http/1.1 True\n200 15\n200 True\n",
        "{out}"
    );
}

#[test]
fn untrusted_client_fails_the_handshake_and_the_server_keeps_serving() {
    let s = serve_threading(&default_tls());
    let url = format!("https://127.0.0.1:{}/hello.txt", s.addr.port());
    // Without the CA, curl refuses the certificate.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The IP address is in the certificate too.
    let out = curl(&[&url]);
    assert_eq!(out.stdout, b"hello over tls\n");
}

/// Python's `HTTPSServer` handshakes inside `accept()`: a client that connects and says
/// nothing stalls everyone. Here silent connections cost nothing to the others.
#[test]
fn silent_clients_do_not_stall_others() {
    let s = serve_threading(&default_tls());
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    let started = Instant::now();
    let url = format!("https://127.0.0.1:{}/hello.txt", s.addr.port());
    let out = curl(&[&url]);
    assert_eq!(out.stdout, b"hello over tls\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

/// On the one-thread server a silent client holds the loop only until the handshake
/// deadline, then the next client is served.
#[test]
fn single_threaded_server_drops_a_silent_client_at_the_handshake_deadline() {
    let tls = default_tls().handshake_timeout(Duration::from_millis(300));
    let s = serve_single(&tls);
    let mut silent = TcpStream::connect(s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let out = curl(&[&format!("https://127.0.0.1:{}/hello.txt", s.addr.port())]);
    assert_eq!(out.stdout, b"hello over tls\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The silent client was closed by the server.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn plain_http_to_the_tls_port_gets_a_clean_close() {
    let s = serve_threading(&default_tls());
    for request in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let started = Instant::now();
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(request).unwrap();
        let mut out = Vec::new();
        // EOF (or a reset after the alert), never a timeout.
        match c.read_to_end(&mut out) {
            Ok(_) => {}
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(!out.starts_with(b"HTTP/"), "{out:?}");
    }
    // curl speaking plain HTTP fails at once rather than hanging.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{}/", s.addr.port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(28), "curl timed out");
    // And the server still serves HTTPS.
    let out = curl(&[&format!("https://127.0.0.1:{}/hello.txt", s.addr.port())]);
    assert_eq!(out.stdout, b"hello over tls\n");
}

#[test]
fn every_key_format_loads_and_serves() {
    let p = pki();
    let configs = [
        ("pkcs8", TlsConfig::new(&p.cert).keyfile(&p.key)),
        ("sec1", TlsConfig::new(&p.cert).keyfile(&p.key_sec1)),
        (
            "rsa pkcs1",
            TlsConfig::new(&p.rsa_cert).keyfile(&p.rsa_key_pkcs1),
        ),
        (
            "encrypted pkcs8",
            TlsConfig::new(&p.cert)
                .keyfile(&p.key_encrypted)
                .password(p.password.clone()),
        ),
        (
            "password file",
            TlsConfig::new(&p.cert)
                .keyfile(&p.key_encrypted)
                .password_file(&p.password_file)
                .unwrap(),
        ),
        ("key in the certificate file", TlsConfig::new(&p.combined)),
    ];
    for (what, tls) in configs {
        let s = serve_threading(&tls);
        let out = curl(&[&format!("https://127.0.0.1:{}/hello.txt", s.addr.port())]);
        assert_eq!(out.stdout, b"hello over tls\n", "{what}: {:?}", out);
    }
}

#[test]
fn bad_files_are_named_before_the_server_listens() {
    let p = pki();
    let dir = TempDir::new("tls-bad");
    let garbage = dir.write("garbage.pem", b"not pem at all\n");
    let cases = [
        (
            TlsConfig::new(dir.path().join("missing.pem")),
            "missing.pem",
        ),
        (TlsConfig::new(&garbage).keyfile(&p.key), "garbage.pem"),
        (TlsConfig::new(&p.cert), "cert.pem: no PRIVATE KEY"),
        (
            TlsConfig::new(&p.cert).keyfile(&p.rsa_key_pkcs1),
            "does not match",
        ),
        (
            TlsConfig::new(&p.cert).keyfile(&p.key_encrypted),
            "key-encrypted.pem: the key is encrypted",
        ),
        (
            TlsConfig::new(&p.cert)
                .keyfile(&p.key_encrypted)
                .password("wrong"),
            "key-encrypted.pem: cannot decrypt the key: wrong password",
        ),
    ];
    for (tls, needle) in cases {
        let err = HttpHooks::new(|_cx: &HandlerCx<'_>| SimpleHttpHandler::new("."))
            .https_server("127.0.0.1:0".parse().unwrap(), &tls)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn alpn_defaults_to_http_1_1_and_can_be_changed() {
    let s = serve_threading(&default_tls());
    let out = curl(&[
        "-v",
        "-o",
        "/dev/null",
        &format!("https://127.0.0.1:{}/hello.txt", s.addr.port()),
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("ALPN: server accepted http/1.1")
            || log.contains("ALPN, server accepted to use http/1.1"),
        "{log}"
    );
    let tls = default_tls().alpn_protocols(["x-test"]);
    let acceptor = http_server::https_acceptor(&tls).unwrap();
    assert_eq!(
        acceptor.rustls_config().alpn_protocols,
        [b"x-test".to_vec()]
    );
}

#[test]
fn cli_serves_https_with_an_encrypted_key() {
    let p = pki();
    let dir = site("https-cli");
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["-b", "127.0.0.1", "--tls-cert"])
        .arg(&p.cert)
        .arg("--tls-key")
        .arg(&p.key_encrypted)
        .arg("--tls-password-file")
        .arg(&p.password_file)
        .arg("-d")
        .arg(dir.path())
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    assert!(
        banner.starts_with("Serving HTTPS on 127.0.0.1 port "),
        "{banner}"
    );
    let port: u16 = banner
        .split(" port ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        banner.contains(&format!("(https://127.0.0.1:{port}/)")),
        "{banner}"
    );
    let out = curl(&[&format!("https://127.0.0.1:{port}/hello.txt")]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.stdout, b"hello over tls\n");
}

#[test]
fn cli_refuses_a_wrong_password_before_listening() {
    let p = pki();
    let dir = TempDir::new("tls-cli-bad");
    let wrong = dir.write("wrong.txt", b"nope\n");
    let out = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["-b", "127.0.0.1", "--tls-cert"])
        .arg(&p.cert)
        .arg("--tls-key")
        .arg(&p.key_encrypted)
        .arg("--tls-password-file")
        .arg(&wrong)
        .arg("0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no banner: {:?}", out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key-encrypted.pem: cannot decrypt the key: wrong password"),
        "{err}"
    );
    // A password file that cannot be read is a usage error, as with argparse.
    let out = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["--tls-cert"])
        .arg(&p.cert)
        .args(["--tls-password-file", "/nonexistent/pw", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to read TLS password file"));
}

/// CPython 3.14's certificate fixtures, made from the test PKI: `keycert.pem` (certificate
/// and key), `ssl_cert.pem`, `ssl_key.pem`, `keycert.passwd.pem`, `ssl_key.passwd.pem`,
/// `nullcert.pem` (empty) and `badcert.pem` (not PEM).
struct Fixtures {
    certfile: std::path::PathBuf,
    onlycert: std::path::PathBuf,
    onlykey: std::path::PathBuf,
    certfile_protected: std::path::PathBuf,
    onlykey_protected: std::path::PathBuf,
    emptycert: std::path::PathBuf,
    badcert: std::path::PathBuf,
    password: String,
    _dir: TempDir,
}

fn fixtures() -> Fixtures {
    let p = pki();
    let dir = TempDir::new("tls-fixtures");
    let emptycert = dir.write("nullcert.pem", b"");
    let badcert = dir.write(
        "badcert.pem",
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    Fixtures {
        certfile: p.combined.clone(),
        onlycert: p.cert.clone(),
        onlykey: p.key.clone(),
        certfile_protected: p.combined_encrypted.clone(),
        onlykey_protected: p.key_encrypted.clone(),
        emptycert,
        badcert,
        password: p.password.clone(),
        _dir: dir,
    }
}

fn create_https_server(
    certfile: &std::path::Path,
    keyfile: Option<&std::path::Path>,
    password: Option<&str>,
) -> http_server::Result<()> {
    let mut tls = TlsConfig::new(certfile);
    if let Some(k) = keyfile {
        tls = tls.keyfile(k);
    }
    if let Some(pw) = password {
        tls = tls.password(pw);
    }
    let mut server = HttpHooks::new(|_cx: &HandlerCx<'_>| SimpleHttpHandler::new("."))
        .https_server("127.0.0.1:0".parse().unwrap(), &tls)?;
    server.server_close();
    Ok(())
}

// CPython: Lib/test/test_httpservers.py::BaseHTTPSServerTestCase::test_get (3.14)
#[test]
fn test_get() {
    let s = serve_single(&default_tls());
    let script = r#"
import ssl, sys, http.client
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ssl._create_unverified_context(), timeout=10)
c.request("GET", "/")
print(c.getresponse().status)
"#;
    assert_eq!(python(script, &[&s.addr.port().to_string()]), "200\n");
}

// CPython: Lib/test/test_httpservers.py::BaseHTTPSServerTestCase::test_valid_certdata (3.14)
#[test]
fn test_valid_certdata() {
    let f = fixtures();
    let pw = Some(f.password.as_str());
    let valid: [(&std::path::Path, Option<&std::path::Path>, Option<&str>); 4] = [
        (&f.certfile, None, None),
        (&f.certfile, Some(&f.certfile), None),
        (&f.certfile_protected, None, pw),
        (&f.onlycert, Some(&f.onlykey_protected), pw),
    ];
    for (certfile, keyfile, password) in valid {
        create_https_server(certfile, keyfile, password)
            .unwrap_or_else(|e| panic!("{certfile:?} {keyfile:?}: {e}"));
    }
}

// CPython: Lib/test/test_httpservers.py::BaseHTTPSServerTestCase::test_invalid_certdata (3.14)
#[test]
fn test_invalid_certdata() {
    let f = fixtures();
    let invalid: [(&std::path::Path, Option<&std::path::Path>, Option<&str>); 7] = [
        (&f.badcert, None, None),
        (&f.emptycert, None, None),
        (&f.onlycert, None, None),
        (&f.onlykey, None, None),
        (&f.onlykey, Some(&f.onlycert), None),
        (&f.certfile_protected, None, Some("badpass")),
        // CPython leaves this case as a TODO (gh-132102: OpenSSL would prompt for the
        // password); here it is an error at once.
        (&f.certfile_protected, None, None),
    ];
    for (certfile, keyfile, password) in invalid {
        let err = create_https_server(certfile, keyfile, password).unwrap_err();
        // The error names a file.
        let text = err.to_string();
        assert!(text.contains(".pem: "), "{certfile:?} {keyfile:?}: {text}");
    }
}
