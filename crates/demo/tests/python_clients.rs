//! Python's `http.client` and `urllib.request` against both faces of the demo.

use std::process::Command;

use crate::support::{Demo, python, run_ok};

/// Two GETs on one `http.client.HTTPConnection`; prints, per response, its version, status,
/// reason, `will_close`, the local port of the connection, the header names, then the body.
const HTTP_CLIENT: &str = r#"
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)
for path in ('/xyz?abc', '/second'):
    c.request('GET', path)
    r = c.getresponse()
    body = r.read().decode('utf-8')
    print('STATUS', r.version, r.status, r.reason, r.will_close, c.sock.getsockname()[1] if c.sock else 0)
    print('HEADERS', ','.join(k for k, _ in r.getheaders()))
    for line in body.splitlines():
        print('BODY', line)
c.close()
"#;

/// A GET and a form POST with `urllib.request.urlopen`.
const URLLIB: &str = r#"
import sys, urllib.request
base = sys.argv[1]
with urllib.request.urlopen(base + '/xyz?abc', timeout=10) as r:
    print('GET', r.status, r.reason, r.headers['Content-Type'])
    for line in r.read().decode('utf-8').splitlines():
        print('GETBODY', line)
with urllib.request.urlopen(base + '/form', data=b'name=Ada&x=1', timeout=10) as r:
    print('POST', r.status, r.reason, r.headers['Content-Type'])
    for line in r.read().decode('utf-8').splitlines():
        print('POSTBODY', line)
"#;

fn lines_with<'a>(out: &'a str, tag: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
        .collect()
}

fn check_seed_body(body: &[&str], path: &str, query: &str) {
    assert_eq!(body.first(), Some(&"Hello world!"), "{body:?}");
    for line in [
        format!("PATH_INFO = '{path}'"),
        format!("QUERY_STRING = '{query}'"),
        "REQUEST_METHOD = 'GET'".to_owned(),
        "wsgi.version = (1, 0)".to_owned(),
    ] {
        assert!(body.contains(&line.as_str()), "{line} not in {body:?}");
    }
}

#[test]
fn http_client_against_the_production_face_keeps_the_connection() {
    let demo = Demo::production(&[]);
    let out = run_ok(Command::new(python()).args(["-c", HTTP_CLIENT, &demo.port.to_string()]));
    let status = lines_with(&out, "STATUS");
    assert_eq!(status.len(), 2, "{out}");
    let fields: Vec<Vec<&str>> = status.iter().map(|s| s.split(' ').collect()).collect();
    for f in &fields {
        // HTTP/1.1 (version 11), 200 OK, the connection stays open.
        assert_eq!(&f[..5], ["11", "200", "OK", "False", f[4]], "{out}");
    }
    assert_eq!(
        fields[0][4], fields[1][4],
        "both requests on one connection: {out}"
    );
    assert_eq!(
        lines_with(&out, "HEADERS"),
        ["Date,Server,Content-Type,Content-Length"; 2]
    );
    let body = lines_with(&out, "BODY");
    let second = body
        .iter()
        .skip(1)
        .position(|l| *l == "Hello world!")
        .unwrap()
        + 1;
    check_seed_body(&body[..second], "/xyz", "abc");
    check_seed_body(&body[second..], "/second", "");
    assert!(body.contains(&"wsgi.multithread = True"), "{body:?}");
    // The access log keeps CPython's format.
    let log = demo.stderr();
    assert!(
        log.lines()
            .any(|l| l.starts_with("127.0.0.1 - - [")
                && l.contains("] \"GET /xyz?abc HTTP/1.1\" 200 ")),
        "{log}"
    );
}

#[test]
fn http_client_against_the_faithful_face_closes_each_connection() {
    let demo = Demo::faithful(&[]);
    let out = run_ok(Command::new(python()).args(["-c", HTTP_CLIENT, &demo.port.to_string()]));
    let status = lines_with(&out, "STATUS");
    assert_eq!(status.len(), 2, "{out}");
    for s in &status {
        // HTTP/1.0 (version 10) and the connection closes: http.client reconnects.
        assert!(s.starts_with("10 200 OK True "), "{out}");
    }
    let body = lines_with(&out, "BODY");
    assert!(body.contains(&"wsgi.multithread = False"), "{body:?}");
    assert!(body.contains(&"SERVER_PROTOCOL = 'HTTP/1.1'"), "{body:?}");
    check_seed_body(&body, "/xyz", "abc");
}

#[test]
fn urllib_request_get_and_post_on_both_faces() {
    for demo in [Demo::production(&[]), Demo::faithful(&[])] {
        let out = run_ok(Command::new(python()).args(["-c", URLLIB, &demo.url("")]));
        assert_eq!(
            lines_with(&out, "GET"),
            ["200 OK text/plain; charset=utf-8"],
            "{out}"
        );
        check_seed_body(&lines_with(&out, "GETBODY"), "/xyz", "abc");
        assert_eq!(
            lines_with(&out, "POST"),
            ["200 OK text/plain; charset=utf-8"],
            "{out}"
        );
        let post = lines_with(&out, "POSTBODY");
        for line in [
            "REQUEST_METHOD = 'POST'",
            "PATH_INFO = '/form'",
            "CONTENT_LENGTH = '12'",
            "CONTENT_TYPE = 'application/x-www-form-urlencoded'",
        ] {
            assert!(post.contains(&line), "{line} not in {post:?}");
        }
        assert!(
            post.iter()
                .any(|l| l.starts_with("HTTP_USER_AGENT = 'Python-urllib/3.")),
            "{post:?}"
        );
    }
}
