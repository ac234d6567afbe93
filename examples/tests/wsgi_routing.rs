//! The `wsgi_routing` example: routing on `PATH_INFO` and a form POST, through the test
//! client and over loopback with a real form body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use examples::wsgi_routing::{parse_qsl, router};
use gateway::simple_server::make_server;
use gateway::testing::Client;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[test]
fn routes_on_path_info() {
    let client = Client::new(router);
    let index = client.get("/");
    assert_eq!(index.status(), "200 OK");
    assert!(
        index
            .text()
            .contains("<form method=\"post\" action=\"/greet\">")
    );
    assert_eq!(client.get("/hello/Ada").text(), "Hello, Ada!\n");
    assert_eq!(client.get("/hello").text(), "Hello, world!\n");
    assert_eq!(client.get("/hello/").text(), "Hello, world!\n");
    // shift_path_info skips empty and "." segments, as Python's does.
    assert_eq!(client.get("/hello/./Bob").text(), "Hello, Bob!\n");
    assert_eq!(client.get("/hello/%3Cb%3E").text(), "Hello, &lt;b&gt;!\n");
    assert_eq!(client.get("/nope").status(), "404 Not Found");
}

#[test]
fn form_post_is_read_from_wsgi_input() {
    let client = Client::new(router);
    let resp = client.request("POST", "/greet", &[FORM], "name=Ada+Lovelace&x=1");
    assert_eq!(resp.status(), "200 OK");
    assert_eq!(resp.text(), "Hello, Ada Lovelace!\n");
    let utf8 = client.request("POST", "/greet", &[FORM], "name=caf%C3%A9");
    assert_eq!(utf8.text(), "Hello, café!\n");
    let json = client.request(
        "POST",
        "/greet",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(json.status(), "415 Unsupported Media Type");
    let big = vec![b'a'; examples::wsgi_routing::MAX_FORM_BYTES + 1];
    assert_eq!(
        client.request("POST", "/greet", &[FORM], big).status(),
        "413 Content Too Large"
    );
}

#[test]
fn wrong_methods_get_405() {
    let client = Client::new(router);
    let get = client.get("/greet");
    assert_eq!(get.status(), "405 Method Not Allowed");
    assert_eq!(get.headers().get("Allow"), Some("POST"));
    let post = client.request("POST", "/hello/x", &[FORM], "a=1");
    assert_eq!(post.headers().get("Allow"), Some("GET, HEAD"));
}

#[test]
fn parse_qsl_matches_python() {
    // Python: urllib.parse.parse_qsl('a=1&&b=%zz&c=x%3Dy&d', keep_blank_values=True)
    assert_eq!(
        parse_qsl(b"a=1&&b=%zz&c=x%3Dy&d"),
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "%zz".to_owned()),
            ("c".to_owned(), "x=y".to_owned()),
            ("d".to_owned(), String::new()),
        ]
    );
}

#[test]
fn form_post_over_loopback() {
    let mut httpd = make_server("127.0.0.1", 0, router).unwrap();
    httpd.set_timeout(Some(Duration::from_secs(10)));
    let addr = httpd.server_address().inet().expect("an IP address");
    let server = std::thread::spawn(move || httpd.handle_request());
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /greet HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 8\r\n\r\nname=Ada",
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    server.join().unwrap().unwrap();
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nHello, Ada!\n"), "{out}");
}
