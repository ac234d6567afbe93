//! The `http-server` binary: banner, a request served (with a `-H` header), clean exit on
//! SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{TempDir, raw_request};

#[test]
fn binary_serves_and_exits_on_sigint() {
    let dir = TempDir::new("cli");
    dir.write("f.txt", b"file body");
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["-b", "127.0.0.1", "-H", "X-From-Cli", "yes", "-d"])
        .arg(dir.path())
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert!(
        banner.starts_with("Serving HTTP on 127.0.0.1 port "),
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
        banner
            .trim_end()
            .ends_with(&format!("(http://127.0.0.1:{port}/) ..."))
    );
    let reply = raw_request(
        ([127, 0, 0, 1], port).into(),
        b"GET /f.txt HTTP/1.0\r\n\r\n",
    );
    assert!(reply.starts_with(b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Rust/"));
    assert!(reply.ends_with(b"file body"));
    // `-H NAME VALUE` (Python 3.15) reaches the 200 response.
    assert!(
        reply
            .windows(b"\r\nX-From-Cli: yes\r\n".len())
            .any(|w| w == b"\r\nX-From-Cli: yes\r\n")
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.trim_end().ends_with("\"GET /f.txt HTTP/1.0\" 200 -"),
        "{line}"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("Keyboard interrupt received, exiting."));
}

/// `RUST_LOG` is an `EnvFilter`: an invalid directive is named in a `WARN` line (not
/// silently `info`) and the valid ones apply (`http_server::access=off` drops the access
/// line).
#[test]
fn rust_log_directives_apply_and_invalid_ones_warn() {
    let dir = TempDir::new("cli-rust-log");
    dir.write("f.txt", b"file body");
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["-b", "127.0.0.1", "-d"])
        .arg(dir.path())
        .arg("0")
        .env("RUST_LOG", "info,http_server::access=off,bogus=loud")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    let port: u16 = banner
        .split(" port ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let reply = raw_request(
        ([127, 0, 0, 1], port).into(),
        b"GET /f.txt HTTP/1.0\r\n\r\n",
    );
    assert!(reply.ends_with(b"file body"));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("WARN: ignoring invalid RUST_LOG directive `bogus=loud` ("),
        "{err}"
    );
    assert!(
        first.ends_with("filter in effect: http_server::access=off,info"),
        "{err}"
    );
    assert!(!err.contains("GET /f.txt"), "{err}");
}
