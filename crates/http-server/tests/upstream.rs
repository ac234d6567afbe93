//! Behaviour CPython added to `http.server` after 3.11 (3.12 to 3.15), ported here.

use http_server::SimpleHttpHandler;
use http_server::testing::{Harness, Request};

use crate::support::TempDir;

fn served(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    dir
}

fn handler(dir: &TempDir) -> SimpleHttpHandler {
    SimpleHttpHandler::new(dir.path()).with_extra_response_headers([
        ("X-Test", "one"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ])
}

#[test]
fn extra_response_headers_on_a_file() {
    let dir = served("extra-file");
    let t = Harness::new()
        .config(SimpleHttpHandler::http_config())
        .run(&mut handler(&dir), &Request::get("/a.txt").to_bytes());
    let r = &t.responses[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Test"), Some("one"));
    assert_eq!(r.header("Cross-Origin-Opener-Policy"), Some("same-origin"));
    // After the server's own headers, as CPython sends them.
    let names = r.header_names();
    let pos = |n: &str| {
        names
            .iter()
            .position(|h| h.eq_ignore_ascii_case(n))
            .unwrap()
    };
    assert!(pos("Last-Modified") < pos("X-Test"), "{names:?}");
    assert_eq!(r.body, b"hello");
}

#[test]
fn extra_response_headers_on_a_listing_and_head() {
    let dir = served("extra-list");
    for req in [Request::get("/"), Request::head("/a.txt")] {
        let t = Harness::new()
            .config(SimpleHttpHandler::http_config())
            .run(&mut handler(&dir), &req.to_bytes());
        assert_eq!(t.responses[0].status, 200);
        assert_eq!(t.responses[0].header("X-Test"), Some("one"), "{req:?}");
    }
}

#[test]
fn extra_response_headers_only_on_200() {
    let dir = served("extra-not-200");
    let requests = [
        Request::get("/missing"),                            // 404
        Request::get("/sub"),                                // 301
        Request::get("/a.txt").header("Range", "bytes=0-1"), // 206
        Request::get("/a.txt").header("Range", "bytes=50-"), // 416
        Request::get("/a.txt").header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"), // 304
        Request::new("POST", "/a.txt"),                      // 501
    ];
    let mut statuses = Vec::new();
    for req in requests {
        let t = Harness::new()
            .config(SimpleHttpHandler::http_config())
            .run(&mut handler(&dir), &req.to_bytes());
        let r = &t.responses[0];
        statuses.push(r.status);
        assert_eq!(r.header("X-Test"), None, "{req:?} → {}", r.status);
    }
    assert_eq!(statuses, [404, 301, 206, 416, 304, 501]);
}

#[test]
fn extra_response_headers_never_override_the_servers_own() {
    let dir = served("extra-no-override");
    let mut h = SimpleHttpHandler::new(dir.path()).with_extra_response_headers([
        ("Content-Type", "application/evil"),
        ("content-length", "1"),
        ("Server", "other"),
        ("X-Kept", "yes"),
    ]);
    let t = Harness::new()
        .config(SimpleHttpHandler::http_config())
        .run(&mut h, &Request::get("/a.txt").to_bytes());
    let r = &t.responses[0];
    let count = |n: &str| {
        r.header_names()
            .iter()
            .filter(|h| h.eq_ignore_ascii_case(n))
            .count()
    };
    assert_eq!(
        (
            count("Content-Type"),
            count("Content-Length"),
            count("Server")
        ),
        (1, 1, 1)
    );
    assert_eq!(r.header("Content-type"), Some("text/plain"));
    assert_eq!(r.header("Content-Length"), Some("5"));
    assert!(r.header("Server").unwrap().starts_with("SimpleHTTP/"));
    assert_eq!(r.header("X-Kept"), Some("yes"));
    assert_eq!(r.body, b"hello");
}

#[test]
fn dark_mode_is_an_option_and_the_default_keeps_3_11_bytes() {
    let dir = served("dark-mode");
    let listing = |h: &mut SimpleHttpHandler, config: http_server::HttpConfig| {
        let t = Harness::new()
            .config(config)
            .run(h, &Request::get("/").to_bytes());
        let e = Harness::new()
            .config(SimpleHttpHandler::http_config())
            .run(h, &Request::get("/missing").to_bytes());
        (t.responses[0].text(), e.responses[0].text())
    };
    let (plain, error) = listing(
        &mut SimpleHttpHandler::new(dir.path()),
        SimpleHttpHandler::http_config(),
    );
    assert!(!plain.contains("color-scheme"), "{plain}");
    assert!(!error.contains("color-scheme"), "{error}");
    assert!(plain.starts_with(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
    ));

    let (dark, _) = listing(
        &mut SimpleHttpHandler::new(dir.path()).with_dark_mode(),
        SimpleHttpHandler::http_config(),
    );
    assert!(
        dark.starts_with(
            "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n<title>"
        ),
        "{dark}"
    );
    // Apart from the style, the same page.
    assert_eq!(
        dark.replace(
            "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n",
            ""
        ),
        plain
    );

    let config =
        SimpleHttpHandler::http_config().error_message_format(http_server::DARK_MODE_ERROR_MESSAGE);
    let t = Harness::new().config(config).run(
        &mut SimpleHttpHandler::new(dir.path()),
        &Request::get("/missing").to_bytes(),
    );
    let page = t.responses[0].text();
    assert_eq!(t.responses[0].status, 404);
    assert!(page.contains("        <style type=\"text/css\">\n            :root {\n                color-scheme: light dark;\n            }\n        </style>\n        <title>Error response</title>"), "{page}");
    assert!(page.contains("<p>Error code: 404</p>"), "{page}");
}
