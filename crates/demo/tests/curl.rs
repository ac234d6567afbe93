//! curl against both faces: HTTP/1.0 and 1.1, keep-alive, POST (small, and large with
//! `Expect: 100-continue`), HEAD.

use std::process::Command;

use crate::support::{Demo, TempDir, raw, run_ok, split_response};

fn curl(args: &[&str]) -> String {
    run_ok(
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20"])
            .args(args),
    )
}

/// `curl -D - URL` (headers, then the body) split at the blank line.
fn head_and_body(out: &str) -> (&str, &str) {
    out.split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {out:?}"))
}

#[test]
fn http_1_0_and_1_1() {
    // (face, the response to a 1.0 request, the response to a 1.1 request)
    let cases = [
        (Demo::production(&[]), "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"),
        (Demo::faithful(&[]), "HTTP/1.0 200 OK", "HTTP/1.0 200 OK"),
    ];
    for (demo, status10, status11) in cases {
        let url = demo.url("/xyz?abc");
        let out10 = curl(&["--http1.0", "--dump-header", "-", &url]);
        let (head, body) = head_and_body(&out10);
        assert!(head.starts_with(&format!("{status10}\r\n")), "{head}");
        assert!(body.starts_with("Hello world!\n\n"), "{body}");
        assert!(body.contains("\nSERVER_PROTOCOL = 'HTTP/1.0'\n"), "{body}");
        assert!(body.contains("\nPATH_INFO = '/xyz'\n"), "{body}");
        assert!(body.contains("\nQUERY_STRING = 'abc'\n"), "{body}");
        let out11 = curl(&["--http1.1", "--dump-header", "-", &url]);
        let (head, body) = head_and_body(&out11);
        assert!(head.starts_with(&format!("{status11}\r\n")), "{head}");
        assert!(body.contains("\nSERVER_PROTOCOL = 'HTTP/1.1'\n"), "{body}");
        assert!(body.contains(&format!("\nHTTP_HOST = '127.0.0.1:{}'\n", demo.port)));
    }
}

#[test]
fn keep_alive_two_urls_on_one_connection() {
    // `%{num_connects}` is the number of new connections each transfer made.
    let connects = |demo: &Demo| -> Vec<u32> {
        let out = curl(&[
            "--output",
            "/dev/null",
            "--output",
            "/dev/null",
            "--write-out",
            "%{num_connects}\n",
            &demo.url("/xyz?abc"),
            &demo.url("/second"),
        ]);
        out.lines().map(|l| l.parse().unwrap()).collect()
    };
    let production = Demo::production(&[]);
    assert_eq!(
        connects(&production),
        [1, 0],
        "the second URL reuses the connection"
    );
    let faithful = Demo::faithful(&[]);
    assert_eq!(
        connects(&faithful),
        [1, 1],
        "HTTP/1.0: one connection per request"
    );
}

#[test]
fn post_a_form() {
    for demo in [Demo::production(&[]), Demo::faithful(&[])] {
        let body = curl(&["--data", "name=Ada&x=1", &demo.url("/form")]);
        assert!(body.starts_with("Hello world!\n\n"), "{body}");
        for line in [
            "REQUEST_METHOD = 'POST'",
            "CONTENT_LENGTH = '12'",
            "CONTENT_TYPE = 'application/x-www-form-urlencoded'",
        ] {
            assert!(body.lines().any(|l| l == line), "{line} not in\n{body}");
        }
    }
}

#[test]
fn large_post_with_expect_100_continue() {
    let dir = TempDir::new("curl-post");
    let file = dir.path().join("body");
    std::fs::write(&file, vec![b'a'; 2 << 20]).unwrap();
    let data = format!("@{}", file.display());
    let post = |demo: &Demo| -> (String, String) {
        let out = crate::support::run(
            Command::new("curl")
                .args(["--silent", "--show-error", "--verbose", "--max-time", "20"])
                .args(["--expect100-timeout", "0.5"])
                .args(["--header", "Expect: 100-continue"])
                .args(["--header", "Content-Type: application/octet-stream"])
                .args(["--data-binary", &data, &demo.url("/upload")]),
            crate::support::CHILD_LIMIT,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The production face answers `100 Continue` before curl sends the 2 MiB.
    let production = Demo::production(&[]);
    let (body, verbose) = post(&production);
    assert!(verbose.contains("> Expect: 100-continue"), "{verbose}");
    assert!(verbose.contains("< HTTP/1.1 100 Continue"), "{verbose}");
    assert!(verbose.contains("< HTTP/1.1 200 OK"), "{verbose}");
    assert!(body.contains("\nCONTENT_LENGTH = '2097152'\n"), "{body}");
    // The faithful face is HTTP/1.0, as CPython's wsgiref: no interim response; curl sends
    // the body after its Expect timeout, and the whole body still arrives.
    let faithful = Demo::faithful(&[]);
    let (body, verbose) = post(&faithful);
    assert!(!verbose.contains("100 Continue"), "{verbose}");
    assert!(verbose.contains("< HTTP/1.0 200 OK"), "{verbose}");
    assert!(body.contains("\nCONTENT_LENGTH = '2097152'\n"), "{body}");
}

#[test]
fn head_sends_headers_and_no_body() {
    for demo in [Demo::production(&[]), Demo::faithful(&[])] {
        let out = curl(&["--head", &demo.url("/xyz?abc")]);
        let (head, rest) = head_and_body(&out);
        assert!(head.starts_with("HTTP/1."), "{head}");
        assert!(head.contains(" 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(head.contains("\r\nContent-Length: "), "{head}");
        assert_eq!(rest, "");
        // On the wire: nothing follows the head before the server closes the connection
        // (CPython's wsgiref would send the body: docs/divergences.md).
        let wire = raw(
            demo.addr(),
            b"HEAD /xyz?abc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        );
        let (status, headers, body) = split_response(&wire);
        assert!(status.ends_with(" 200 OK"), "{status}");
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "Content-Length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap();
        assert!(length > 500, "the length a GET would get: {length}");
        assert_eq!(body, b"");
    }
}
