//! The `hello_wsgi` example: `make_server` + `handle_request` over loopback, and the
//! application through the test client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use examples::hello_wsgi::{hello_server, hello_world_app};
use gateway::testing::Client;

#[test]
fn make_server_answers_one_request_over_loopback() {
    let mut httpd = hello_server("127.0.0.1", 0).unwrap();
    httpd.set_timeout(Some(Duration::from_secs(10)));
    let addr = httpd.server_address().inet().expect("an IP address");
    // Python: httpd.handle_request() (serve one request, then return)
    let server = std::thread::spawn(move || httpd.handle_request());
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    server.join().unwrap().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-type: text/plain; charset=utf-8\r\n"));
    assert!(head.ends_with("\r\nContent-Length: 11"), "{head}");
    assert_eq!(body, "Hello World");
}

#[test]
fn hello_world_app_with_the_test_client() {
    let resp = Client::new(hello_world_app).get("/any/path?q=1");
    assert_eq!(resp.status(), "200 OK");
    assert_eq!(resp.text(), "Hello World");
    assert_eq!(
        resp.headers().keys(),
        ["Date", "Server", "Content-type", "Content-Length"]
    );
}
