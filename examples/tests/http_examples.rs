//! The http examples over loopback, plus the custom handler unit-tested with the test kit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use examples::http_examples::{Greeter, greeter_config, greeter_server, static_files_server};
use http_server::testing::{Harness, Request};

fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn static_files_over_loopback() {
    let dir = std::env::temp_dir().join(format!("examples-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.txt"), "static body").unwrap();
    let mut server = static_files_server("127.0.0.1:0".parse().unwrap(), dir.clone()).unwrap();
    let addr = server.server_address().inet().unwrap();
    let stop = server.shutdown_handle();
    let t = std::thread::spawn(move || server.serve_forever(Duration::from_millis(50)));
    let file = exchange(addr, b"GET /index.txt HTTP/1.0\r\n\r\n");
    assert!(file.starts_with("HTTP/1.0 200 OK\r\n"), "{file}");
    assert!(file.ends_with("static body"));
    let listing = exchange(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(listing.contains("<a href=\"index.txt\">index.txt</a>"));
    stop.shutdown();
    t.join().unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn custom_handler_over_loopback_keep_alive() {
    let mut server = greeter_server("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.server_address().inet().unwrap();
    let stop = server.shutdown_handle();
    let t = std::thread::spawn(move || server.serve_forever(Duration::from_millis(50)));
    let reply = exchange(
        addr,
        b"GET /hello?name=Ada HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\nServer: Greeter/1.0 "),
        "{reply}"
    );
    assert!(reply.contains("Hello, Ada!\n"));
    assert!(reply.ends_with("\r\n\r\nhello"));
    stop.shutdown();
    t.join().unwrap().unwrap();
}

#[test]
fn custom_handler_unit_tests_with_the_kit() {
    let h = Harness::new().config(greeter_config());
    let t = h.run(&mut Greeter, &Request::get("/hello").to_bytes());
    assert_eq!(t.responses[0].text(), "Hello, world!\n");
    let t = h.run(&mut Greeter, &Request::get("/nope").to_bytes());
    assert_eq!(
        (t.responses[0].status, t.responses[0].reason.as_str()),
        (404, "No such page")
    );
    let t = h.run(
        &mut Greeter,
        &Request::new("POST", "/echo").body("abc").to_bytes(),
    );
    assert_eq!(t.responses[0].body, b"abc");
    assert!(t.log[0].ends_with("\"POST /echo HTTP/1.0\" 200 -"));
}
