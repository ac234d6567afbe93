//! The `cgi_demo` example: `demo_app` as a CGI script, driven in memory through
//! `examples::cgi_demo::run_cgi`, then the real example binary run as a web server would run
//! a CGI script (the request in its environment, the body on stdin).

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use examples::cgi_demo::run_cgi;
use gateway::simple_server::demo_app;

/// The CGI variables of `POST /cgi-bin/demo/caf%C3%A9?a=1` with a 4-byte body.
const CGI_ENV: [(&str, &str); 10] = [
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("REQUEST_METHOD", "POST"),
    ("SCRIPT_NAME", "/cgi-bin/demo"),
    ("PATH_INFO", "/caf\u{e9}"),
    ("QUERY_STRING", "a=1"),
    ("SERVER_NAME", "example.org"),
    ("SERVER_PORT", "80"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("CONTENT_LENGTH", "4"),
    ("HTTP_HOST", "example.org"),
];

/// Checks a CGI response of `demo_app` to [`CGI_ENV`]; `path_info` is how the script saw
/// `PATH_INFO` (a process environment holds bytes: the UTF-8 of `é` arrives as Latin-1).
fn check_response(out: &[u8], path_info: &str) {
    let response = String::from_utf8(out.to_vec()).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a CGI head");
    assert_eq!(
        head,
        format!(
            "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}",
            body.len()
        )
    );
    assert!(body.starts_with("Hello world!\n\n"), "{body}");
    for line in [
        &format!("PATH_INFO = {path_info}") as &str,
        "QUERY_STRING = 'a=1'",
        "REQUEST_METHOD = 'POST'",
        "SCRIPT_NAME = '/cgi-bin/demo'",
        "CONTENT_LENGTH = '4'",
        "wsgi.multiprocess = True",
        "wsgi.multithread = False",
        "wsgi.run_once = True",
        "wsgi.url_scheme = 'http'",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} not in\n{body}");
    }
}

#[test]
fn demo_app_as_cgi_in_memory() {
    let (errors, captured) = gateway::ErrorStream::memory();
    let out = run_cgi(
        &demo_app,
        CGI_ENV,
        Cursor::new(b"body".to_vec()),
        Vec::new(),
        errors,
    )
    .unwrap();
    check_response(&out, "'/caf\u{e9}'");
    assert_eq!(captured.text(), "");
}

#[test]
fn an_app_error_becomes_a_cgi_500() {
    let failing = |_: &gateway::Environ,
                   _: &mut dyn gateway::StartResponse|
     -> gateway::Result<gateway::Body> { Err(gateway::Error::app("boom")) };
    let (errors, captured) = gateway::ErrorStream::memory();
    let out = run_cgi(&failing, CGI_ENV, std::io::empty(), Vec::new(), errors).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("Status: 500 Internal Server Error\r\n"),
        "{text}"
    );
    assert!(text.ends_with("A server error occurred.  Please contact the administrator."));
    assert!(captured.text().contains("boom"), "{}", captured.text());
}

/// Waits for `child` at most `limit`, killing it past that.
fn wait_within(child: &mut std::process::Child, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds the `cgi_demo` example with the cargo running these tests and returns its path
/// (read from cargo's JSON messages, so any target directory works).
fn build_example() -> PathBuf {
    let mut child = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "examples",
            "--example",
            "cgi_demo",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cargo starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    wait_within(
        &mut child,
        Duration::from_secs(300),
        "cargo build --example cgi_demo",
    );
    assert!(child.wait().unwrap().success(), "cargo build failed");
    let messages = reader.join().unwrap().unwrap();
    let line = messages
        .lines()
        .find(|l| {
            l.contains("\"reason\":\"compiler-artifact\"")
                && l.contains("\"name\":\"cgi_demo\"")
                && l.contains("\"executable\":\"")
        })
        .expect("cargo reports the cgi_demo executable");
    let start = line.find("\"executable\":\"").unwrap() + "\"executable\":\"".len();
    let end = start + line[start..].find('"').unwrap();
    PathBuf::from(&line[start..end])
}

#[test]
fn the_example_binary_is_a_real_cgi_script() {
    let exe = build_example();
    let mut cmd = Command::new(&exe);
    cmd.env_clear();
    for (k, v) in CGI_ENV {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // demo_app never reads wsgi.input: the script may exit before it takes the body, and a
    // web server then sees a broken pipe, which it ignores.
    match child.stdin.take().unwrap().write_all(b"body") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).map(|_| v)
    });
    wait_within(&mut child, Duration::from_secs(20), "cgi_demo");
    assert!(child.wait().unwrap().success());
    let out = reader.join().unwrap().unwrap();
    // The environment holds `é` as its UTF-8 bytes; CGI variables are Latin-1 native
    // strings, so the script sees them as two chars.
    check_response(&out, "'/caf\u{c3}\u{a9}'");
}
