//! The `user_app` example as its user would test it: a whole session through
//! `gateway::testing::Client`, then the same application behind `make_server` over loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use examples::user_app::Notes;
use gateway::simple_server::make_server;
use gateway::testing::Client;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[test]
fn a_session_with_the_test_client() {
    let client = Client::new(Notes::default());
    for text in ["first", "second+note", "third"] {
        let resp = client.request("POST", "/notes", &[FORM], format!("text={text}"));
        assert_eq!(resp.status_code(), 201, "{}", resp.text());
    }
    assert_eq!(
        client.request("DELETE", "/notes/2", &[], "").status_code(),
        204
    );
    assert_eq!(client.get("/notes").text(), "1: first\n3: third\n");
    // The next id is never a reused one.
    let resp = client.request("POST", "/notes", &[FORM], "text=fourth");
    assert_eq!(resp.headers().get("Location"), Some("/notes/4"));
    // The environ is the one the real server builds: the app never saw a socket.
    let env = client.environ_for("GET", "/notes/4", &[], 0);
    assert_eq!(env.get("PATH_INFO").map(String::as_str), Some("/notes/4"));
    assert_eq!(env.get("SCRIPT_NAME").map(String::as_str), Some(""));
}

#[test]
fn the_same_app_behind_make_server() {
    let mut httpd = make_server("127.0.0.1", 0, Notes::default()).unwrap();
    httpd.set_timeout(Some(Duration::from_secs(10)));
    let addr = httpd.server_address().inet().expect("an IP address");
    let server = std::thread::spawn(move || {
        httpd.handle_request()?;
        httpd.handle_request()
    });
    let send = |request: &[u8]| {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let created = send(
        b"POST /notes HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 10\r\n\r\ntext=hello",
    );
    assert!(created.starts_with("HTTP/1.0 201 Created\r\n"), "{created}");
    assert!(created.contains("\r\nLocation: /notes/1\r\n"), "{created}");
    let read = send(b"GET /notes/1 HTTP/1.0\r\n\r\n");
    assert!(read.ends_with("\r\n\r\nhello"), "{read}");
    server.join().unwrap().unwrap();
}
