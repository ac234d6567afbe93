//! `demo --tls-cert --tls-key`: HTTPS on the production face, with curl, Python's `ssl` and
//! `urllib`, and headless Chromium, all trusting the test's own certificate; bad files are
//! refused before anything listens. Certificates come from
//! `socketserver::testing::TestPki` (the `openssl` command).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use socketserver::testing::TestPki;

use crate::support::{CHILD_LIMIT, TempDir, run};

/// A `demo` serving HTTPS, killed on drop.
struct Https {
    child: Child,
    port: u16,
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(pki: &TestPki, key: &Path, extra: &[&str]) -> Https {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--host", "127.0.0.1", "--port", "0", "--threads", "2"])
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(key)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let banner = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let port = banner
        .strip_prefix("Serving HTTPS on 127.0.0.1 port ")
        .and_then(|rest| rest.strip_suffix(" ..."))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
    Https { child, port }
}

#[test]
fn demo_serves_https_with_keep_alive_to_curl_python_and_chromium() {
    let dir = TempDir::new("demo-tls");
    let pki = TestPki::generate(dir.path()).unwrap();
    let demo = start(
        &pki,
        &pki.key_encrypted,
        &["--tls-password-file", pki.password_file.to_str().unwrap()],
    );
    let url = format!("https://127.0.0.1:{}/xyz?abc", demo.port);

    // curl: two requests, one connection.
    let out = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&pki.ca_cert)
            .args([
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}:%{num_connects} ",
            ])
            .args([&url, &url]),
        CHILD_LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200:1 200:0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Python's ssl + urllib trusting the test CA.
    let script = r#"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=20) as r:
    body = r.read().decode()
print(r.status, "Hello world!" in body, "QUERY_STRING = 'abc'" in body, "wsgi.url_scheme = 'https'" in body)
"#;
    let out = run(
        Command::new("python3")
            .args(["-c", script, &url])
            .arg(&pki.ca_cert),
        CHILD_LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 True True True\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Headless Chromium, trusting the test certificate by its public key's hash.
    const CHROMIUM: &str = "/usr/bin/chromium";
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} is missing and CI is set"
        );
        return;
    }
    let spki = run(
        Command::new("sh").arg("-c").arg(format!(
            "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
            pki.cert.display()
        )),
        CHILD_LIMIT,
    );
    let spki = String::from_utf8_lossy(&spki.stdout).trim().to_owned();
    let profile = TempDir::new("demo-tls-chromium");
    let out = run(
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--ignore-certificate-errors-spki-list={spki}"))
            .args(["--dump-dom", &url]),
        CHILD_LIMIT,
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("Hello world!"), "{dom}");
    assert!(dom.contains("wsgi.url_scheme = 'https'"), "{dom}");
}

#[test]
fn demo_refuses_a_bad_key_before_listening() {
    let dir = TempDir::new("demo-tls-bad");
    let pki = TestPki::generate(dir.path()).unwrap();
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_demo"))
            .args(["--host", "127.0.0.1", "--port", "0", "--tls-cert"])
            .arg(&pki.cert)
            .arg("--tls-key")
            .arg(&pki.key_encrypted),
        CHILD_LIMIT,
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no banner");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key-encrypted.pem: the key is encrypted"),
        "{err}"
    );
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_demo"))
            .args(["--faithful", "--tls-cert"])
            .arg(&pki.cert),
        CHILD_LIMIT,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the production face"));
}

#[test]
fn demo_reads_a_proxy_protocol_header_in_clear_before_tls() {
    let dir = TempDir::new("demo-tls-proxy");
    let pki = TestPki::generate(dir.path()).unwrap();
    let demo = start(&pki, &pki.key, &["--proxy-protocol"]);
    // A load balancer passing TLS through: a version 2 header naming the client, then the
    // client's TLS session (Python's ssl over the same socket).
    let script = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12])
          + socket.inet_aton("198.51.100.23") + socket.inet_aton("127.0.0.1")
          + (5050).to_bytes(2, "big") + (443).to_bytes(2, "big"))
t = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")
t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = b""
while chunk := t.recv(65536):
    out += chunk
body = out.decode()
print(body.startswith("HTTP/1.1 200 "), "REMOTE_ADDR = '198.51.100.23'" in body,
      "wsgi.url_scheme = 'https'" in body)
"#;
    let out = run(
        Command::new("python3")
            .args(["-c", script, &demo.port.to_string()])
            .arg(&pki.ca_cert),
        CHILD_LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "True True True\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // curl's version 1 header (its own address), then TLS: two requests, one connection.
    let url = format!("https://127.0.0.1:{}/", demo.port);
    let out = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--haproxy-protocol", "--cacert"])
            .arg(&pki.ca_cert)
            .args(["-o", "/dev/null", "-o", "/dev/null", "-w"])
            .args(["%{http_code}:%{num_connects} ", &url, &url]),
        CHILD_LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200:1 200:0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A TLS client without the header is closed unanswered.
    let out = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&pki.ca_cert)
            .arg(&url),
        CHILD_LIMIT,
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
