//! Binding and configuration: repeated `--bind` (TCP and a Unix socket with its mode),
//! `--pid`, options from `PYSERVE_*` variables, and invalid configuration refused before
//! anything listens.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use super::common::{children_of, get_once, read_response};
use crate::support::{CHILD_LIMIT, Demo, TempDir, run};

fn demo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_demo"))
}

#[test]
fn binds_tcp_and_a_unix_socket_for_every_worker_and_writes_the_pid() {
    let dir = TempDir::new("ops-bind");
    let sock = dir.path().join("demo.sock");
    let pid_file = dir.path().join("demo.pid");
    let mut cmd = demo();
    cmd.args(["--workers", "2", "--threads", "1", "--app", "hello"])
        .args([
            "--bind",
            "127.0.0.1:0",
            "--unix-mode",
            "600",
            "--backlog",
            "16",
        ])
        .arg(format!("--bind=unix:{}", sock.display()))
        .arg("--pid")
        .arg(&pid_file);
    let mut demo = Demo::spawn(cmd);
    assert_eq!(children_of(demo.pid()).len(), 2);
    let r = get_once(demo.addr(), "/").unwrap();
    assert_eq!(r.body, b"Hello world!\n");
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).unwrap().unwrap().status, 200);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), demo.pid().to_string());
    assert!(demo.terminate().success());
    assert!(!pid_file.exists() && !sock.exists(), "removed on exit");
}

#[test]
fn options_come_from_pyserve_variables() {
    let mut cmd = demo();
    cmd.env("PYSERVE_WORKERS", "2")
        .env("PYSERVE_THREADS", "1")
        .env("PYSERVE_APP", "hello")
        .env("PYSERVE_BIND", "127.0.0.1:0")
        // A flag wins over its variable.
        .env("PYSERVE_MAX_BODY", "bogus")
        .args(["--max-body", "1000"]);
    let mut demo = Demo::spawn(cmd);
    assert_eq!(children_of(demo.pid()).len(), 2);
    assert_eq!(get_once(demo.addr(), "/").unwrap().body, b"Hello world!\n");
    assert!(demo.terminate().success());
}

#[test]
fn invalid_configuration_is_refused_before_anything_listens() {
    let dir = TempDir::new("ops-invalid");
    let sock = dir.path().join("never.sock");
    let pid_file = dir.path().join("never.pid");
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        (
            &["--max-requests", "0", "--workers", "2"],
            &[],
            "invalid value '0' for '--max-requests <MAX_REQUESTS>': must be at least 1",
        ),
        (
            &["--workers", "2"],
            &[("PYSERVE_WORKER_TIMEOUT", "soon")],
            "invalid value 'soon' for '--worker-timeout <WORKER_TIMEOUT> (from \
             PYSERVE_WORKER_TIMEOUT)'",
        ),
        (
            &["--bind", "127.0.0.1:80800"],
            &[],
            "invalid value '127.0.0.1:80800' for '--bind <ADDRESS>': the port is not a number",
        ),
        (
            &["--faithful", "--workers", "2"],
            &[],
            "the argument '--workers <WORKERS>' cannot be used with '--faithful'",
        ),
    ];
    for (args, env, message) in cases {
        let mut cmd = demo();
        cmd.arg(format!("--bind=unix:{}", sock.display()))
            .arg("--pid")
            .arg(&pid_file)
            .args(args);
        if args.contains(&"--faithful") {
            // (--bind is itself refused with --faithful: test the one conflict.)
            cmd = demo();
            cmd.args(args);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd, CHILD_LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            !sock.exists() && !pid_file.exists(),
            "{args:?}: nothing bound"
        );
    }
}

#[test]
fn a_bind_that_fails_closes_the_others_and_starts_no_worker() {
    let dir = TempDir::new("ops-bindfail");
    let sock = dir.path().join("first.sock");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cmd = demo();
    cmd.args(["--workers", "2"])
        .arg(format!("--bind=unix:{}", sock.display()))
        .arg(format!("--bind=127.0.0.1:{port}"))
        .env("RUST_LOG", "info");
    let out = run(&mut cmd, CHILD_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("worker started"), "{stderr}");
    assert!(!sock.exists(), "the Unix socket bound first is removed");
}

#[test]
fn serves_an_inherited_descriptor_given_as_fd_n_with_workers() {
    // Python binds and listens, marks the socket inheritable and execs the demo with
    // `--bind fd://N`, as a process manager or a shell script would.
    let script = r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
os.set_inheritable(s.fileno(), True)
demo = sys.argv[1]
os.execv(demo, [demo, "--bind", "fd://%d" % s.fileno(), "--workers", "2", "--threads", "1",
                "--app", "hello"])
"#;
    let mut cmd = Command::new(crate::support::python());
    cmd.args(["-c", script, env!("CARGO_BIN_EXE_demo")]);
    let mut demo = Demo::spawn(cmd);
    assert_eq!(children_of(demo.pid()).len(), 2);
    for _ in 0..8 {
        assert_eq!(get_once(demo.addr(), "/").unwrap().body, b"Hello world!\n");
    }
    assert!(demo.terminate().success());
}
