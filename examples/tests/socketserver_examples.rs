//! Runs the code of the `tcp_echo`, `udp_echo`, `threaded_echo` and `unix_echo` examples
//! (shared through `examples::socketserver_echo`) against loopback.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use examples::socketserver_echo::{
    client, tcp_echo_server, threaded_echo_server, udp_echo_server, unix_echo_server,
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn join_within<T>(handle: JoinHandle<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    while !handle.is_finished() {
        assert!(Instant::now() < deadline, "thread did not finish in time");
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("thread panicked")
}

#[test]
fn tcp_echo_uppercases_the_stripped_data() {
    let mut server = tcp_echo_server("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.server_address().inet().unwrap();
    let c = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(b"  hello world \n").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    });
    server.handle_request().unwrap();
    assert_eq!(join_within(c), "HELLO WORLD");
}

#[test]
fn udp_echo_uppercases_the_datagram() {
    let mut server = udp_echo_server("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.server_address().inet().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.send_to(b"hello udp\n", addr).unwrap();
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HELLO UDP");
}

#[test]
fn threaded_echo_answers_three_clients_then_shuts_down() {
    let mut server = threaded_echo_server("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.server_address().inet().unwrap();
    let handle = server.shutdown_handle();
    let t = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(500)).unwrap();
        server.server_close();
    });
    let mut threads = Vec::new();
    for i in 1..=3 {
        let reply = client(addr, &format!("Hello World {i}")).unwrap();
        let (thread, data) = reply.split_once(": ").unwrap();
        assert!(thread.starts_with("ThreadId("), "{reply}");
        assert_eq!(data, format!("Hello World {i}"));
        threads.push(thread.to_owned());
    }
    // Each request ran on its own thread.
    threads.sort();
    threads.dedup();
    assert_eq!(threads.len(), 3);
    join_within(std::thread::spawn(move || handle.shutdown()));
    join_within(t);
}

#[test]
fn unix_echo_uppercases_a_line() {
    let path = std::env::temp_dir().join(format!("examples-unix-echo-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut server = unix_echo_server(&path).unwrap();
    let client_path = path.clone();
    let c = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&client_path).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(b"hello unix\n").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    });
    server.handle_request().unwrap();
    let reply = join_within(c);
    server.server_close();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(reply, "HELLO UNIX");
}
