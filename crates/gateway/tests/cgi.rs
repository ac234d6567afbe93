//! `demo_app` as a real CGI script: this test binary re-runs itself as the CGI child
//! (a web server would run the script with the request in its environment and stdin).

use std::io::Write;
use std::process::{Command, Stdio};

use gateway::handlers::CgiHandler;
use gateway::simple_server::demo_app;

const CHILD: &str = "GATEWAY_TEST_CGI_CHILD";

#[test]
fn demo_app_runs_as_a_real_cgi_script() {
    if std::env::var_os(CHILD).is_some() {
        // The child: exactly what a CGI script's main does.
        let outcome = CgiHandler::new().run(&demo_app);
        std::io::stdout().flush().unwrap();
        std::process::exit(i32::from(outcome.is_err()));
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cgi::demo_app_runs_as_a_real_cgi_script",
            "--test-threads=1",
        ])
        .env_clear()
        .env(CHILD, "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "POST")
        .env("SCRIPT_NAME", "/cgi-bin/demo")
        .env("PATH_INFO", "/caf\u{e9}")
        .env("QUERY_STRING", "a=1")
        .env("SERVER_NAME", "example.org")
        .env("SERVER_PORT", "80")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("CONTENT_LENGTH", "4")
        .env("HTTP_HOST", "example.org")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"body").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // libtest's own "running 1 test" line comes first on stdout: the CGI response follows.
    let start = out
        .stdout
        .windows(8)
        .position(|w| w == b"Status: ")
        .expect("a CGI response");
    let response = String::from_utf8(out.stdout[start..].to_vec()).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        head,
        format!(
            "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}",
            body.len()
        )
    );
    assert!(body.starts_with("Hello world!\n\n"));
    for line in [
        "PATH_INFO = '/caf\u{c3}\u{a9}'",
        "QUERY_STRING = 'a=1'",
        "REQUEST_METHOD = 'POST'",
        "SCRIPT_NAME = '/cgi-bin/demo'",
        "wsgi.multiprocess = True",
        "wsgi.multithread = False",
        "wsgi.run_once = True",
        "wsgi.url_scheme = 'http'",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} not in\n{body}");
    }
}
