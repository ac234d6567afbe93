//! Loopback tests of the selector loop, the transports and the mix-ins (127.0.0.1 and ::1
//! only; every wait is bounded).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use socketserver::testing::{Hook, Recorder};
use socketserver::{
    Address, BaseServer, DatagramRequest, DatagramRequestHandler, Forking, ForkingConfig,
    ForkingTcpServer, HandlerCx, RequestHandler, RequestHandlerClass, Result, RwStream,
    StreamHandler, StreamRequestHandler, TcpConfig, TcpServer, TcpTransport, Threading,
    ThreadingConfig, ThreadingTcpServer, Transport, UdpConfig, UdpServer, UdpTransport,
    UnixDatagramServer, UnixDatagramTransport, UnixStreamServer, UnixStreamTransport,
};

use crate::support::*;

fn echo_hooks()
-> Recorder<RequestHandlerClass<impl Fn() -> StreamRequestHandler<EchoLine> + Send + Sync>> {
    Recorder::new(RequestHandlerClass(|| StreamRequestHandler::new(EchoLine)))
}

#[test]
fn handle_request_without_timeout_serves_one_request() {
    let hooks = echo_hooks();
    let log = hooks.log();
    let mut server = TcpServer::new(bind_localhost_port0(), hooks).unwrap();
    assert_eq!(server.timeout(), None);
    let addr = server.server_address().inet().unwrap();
    let c = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        stream_examine_tcp(&Address::Inet(addr));
    });
    server.handle_request().unwrap();
    join_within(c, Duration::from_secs(10));
    assert_eq!(log.count(Hook::FinishRequest), 1);
    assert_eq!(log.count(Hook::HandleTimeout), 0);
}

#[test]
fn handle_request_with_timeout_calls_handle_timeout() {
    let hooks = echo_hooks();
    let log = hooks.log();
    let mut server = TcpServer::new(bind_localhost_port0(), hooks).unwrap();
    server.set_timeout(Some(Duration::from_millis(100)));
    let start = Instant::now();
    server.handle_request().unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(log.hooks(), [Hook::HandleTimeout]);

    // A request arriving within the timeout is served instead.
    let addr = server.server_address().clone();
    server.set_timeout(Some(Duration::from_secs(10)));
    let c = std::thread::spawn(move || stream_examine_tcp(&addr));
    server.handle_request().unwrap();
    join_within(c, Duration::from_secs(10));
    assert_eq!(log.count(Hook::HandleTimeout), 1);
    assert_eq!(log.count(Hook::FinishRequest), 1);
}

#[test]
fn handle_request_honours_the_smaller_socket_timeout() {
    let hooks = echo_hooks();
    let log = hooks.log();
    let mut transport = bind_localhost_port0();
    transport.set_timeout(Some(Duration::from_millis(50)));
    let mut server = TcpServer::new(transport, hooks).unwrap();
    server.set_timeout(Some(Duration::from_secs(30)));
    let start = Instant::now();
    server.handle_request().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(log.hooks(), [Hook::HandleTimeout]);
}

#[test]
fn serve_forever_stops_promptly_on_shutdown() {
    let hooks = echo_hooks();
    let log = hooks.log();
    let mut server = TcpServer::new(bind_localhost_port0(), hooks).unwrap();
    let handle = server.shutdown_handle();
    let addr = server.server_address().clone();
    let t = std::thread::spawn(move || {
        // A 10 s poll interval: only the wake-up can stop it quickly.
        server.serve_forever(Duration::from_secs(10)).unwrap();
        server
    });
    stream_examine_tcp(&addr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.is_serving() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    let stopper = std::thread::spawn(move || handle.shutdown());
    join_within(stopper, Duration::from_secs(5));
    let took = start.elapsed();
    assert!(took < Duration::from_millis(500), "shutdown took {took:?}");
    let mut server = join_within(t, Duration::from_secs(5));
    assert_eq!(log.count(Hook::FinishRequest), 1);
    // serve_forever calls service_actions after each request.
    assert!(log.count(Hook::ServiceActions) >= 1);
    server.server_close();
}

#[test]
fn shutdown_before_serve_forever() {
    let mut server = TcpServer::new(bind_localhost_port0(), echo_hooks()).unwrap();
    let handle = server.shutdown_handle();
    let stopper = std::thread::spawn(move || handle.shutdown());
    join_within(stopper, Duration::from_secs(5));
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        server.serve_forever(Duration::from_secs(10)).unwrap();
        server
    });
    let server = join_within(t, Duration::from_secs(5));
    assert!(start.elapsed() < Duration::from_secs(1));
    // The request was consumed: the next serve_forever runs until told again.
    assert!(!server.shutdown_handle().is_serving());
}

/// Each handler waits (bounded) until two handlers are inside `handle` at once.
struct Rendezvous(Arc<(Mutex<usize>, Condvar)>);

impl StreamHandler for Rendezvous {
    fn handle(&mut self, s: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        let _ = s.readline(1024)?;
        let (count, cv) = &*self.0;
        let mut n = count.lock().unwrap();
        *n += 1;
        cv.notify_all();
        let (n, _) = cv
            .wait_timeout_while(n, Duration::from_secs(5), |n| *n < 2)
            .unwrap();
        let verdict: &[u8] = if *n >= 2 { b"together\n" } else { b"alone\n" };
        drop(n);
        s.write_all(verdict)?;
        Ok(())
    }
}

#[test]
fn threading_server_serves_two_slow_clients_at_once() {
    let shared = Arc::new((Mutex::new(0), Condvar::new()));
    let hooks = {
        let shared = Arc::clone(&shared);
        Threading::new(RequestHandlerClass(move || {
            StreamRequestHandler::new(Rendezvous(Arc::clone(&shared)))
        }))
    };
    let mut server = ThreadingTcpServer::new(bind_localhost_port0(), hooks).unwrap();
    assert!(server.info().multithread);
    let addr = server.server_address().inet().unwrap();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = client(addr);
                c.write_all(b"slow\n").unwrap();
                read_line(&mut c)
            })
        })
        .collect();
    server.handle_request().unwrap();
    server.handle_request().unwrap();
    for c in clients {
        assert_eq!(join_within(c, Duration::from_secs(10)), b"together\n");
    }
    server.server_close();
}

struct SlowThenFlag(Arc<AtomicBool>);

impl StreamHandler for SlowThenFlag {
    fn handle(&mut self, _s: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn slow_threading_server(
    config: ThreadingConfig,
) -> (
    ThreadingTcpServer<impl socketserver::ServerHooks<std::net::TcpStream>>,
    Arc<AtomicBool>,
) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let hooks = Threading::with_config(
        RequestHandlerClass(move || StreamRequestHandler::new(SlowThenFlag(Arc::clone(&flag)))),
        config,
    );
    (
        ThreadingTcpServer::new(bind_localhost_port0(), hooks).unwrap(),
        done,
    )
}

#[test]
fn block_on_close_joins_request_threads() {
    let (mut server, done) = slow_threading_server(ThreadingConfig::default());
    let _c = client(server.server_address().inet().unwrap());
    server.handle_request().unwrap();
    assert!(
        !done.load(Ordering::SeqCst),
        "handle_request must not wait for the thread"
    );
    let start = Instant::now();
    server.server_close();
    assert!(
        done.load(Ordering::SeqCst),
        "server_close returned before the thread ended"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn without_block_on_close_server_close_returns_at_once() {
    let (mut server, done) = slow_threading_server(ThreadingConfig {
        block_on_close: false,
        daemon_threads: false,
    });
    let _c = client(server.server_address().inet().unwrap());
    server.handle_request().unwrap();
    server.server_close();
    assert!(!done.load(Ordering::SeqCst));
    // Non-daemon threads: dropping the server waits for them.
    drop(server);
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn udp_echo_with_a_plain_request_handler() {
    // Python's docs: MyUDPHandler uses self.request[0] and self.request[1].sendto.
    struct Upper;
    impl RequestHandler<DatagramRequest> for Upper {
        fn handle(&mut self, r: &mut DatagramRequest, cx: &HandlerCx<'_>) -> Result<()> {
            let data = r.packet().trim_ascii().to_ascii_uppercase();
            r.sendto(&data, cx.client_address)?;
            Ok(())
        }
    }
    let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default()).unwrap();
    let mut server = UdpServer::new(t, RequestHandlerClass(|| Upper)).unwrap();
    let addr = server.server_address().inet().unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.send_to(b" hello udp \n", addr).unwrap();
    server.set_timeout(Some(Duration::from_secs(10)));
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let (n, from) = c.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HELLO UDP");
    assert_eq!(from, addr);
}

#[test]
fn udp_reply_written_to_the_request_is_sent_at_shutdown() {
    struct WriteBack;
    impl RequestHandler<DatagramRequest> for WriteBack {
        fn handle(&mut self, r: &mut DatagramRequest, _cx: &HandlerCx<'_>) -> Result<()> {
            let mut data = Vec::new();
            r.read_to_end(&mut data)?;
            r.write_all(b"got ")?;
            r.write_all(&data)?;
            Ok(())
        }
    }
    let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default()).unwrap();
    let mut server = UdpServer::new(t, RequestHandlerClass(|| WriteBack)).unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.send_to(b"x", server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"got x");
}

#[test]
fn udp_max_packet_size_truncates() {
    let config = UdpConfig {
        max_packet_size: 4,
        ..UdpConfig::default()
    };
    let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), config).unwrap();
    let mut server = UdpServer::new(
        t,
        RequestHandlerClass(|| DatagramRequestHandler::new(EchoLine)),
    )
    .unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.send_to(b"abcdefgh\n", server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"abcd");
}

#[test]
fn unix_stream_echo() {
    let path = temp_socket_path("echo");
    let _rm = RemoveOnDrop(path.clone());
    let t = UnixStreamTransport::bind(&path, TcpConfig::default()).unwrap();
    let mut server = UnixStreamServer::new(t, echo_hooks()).unwrap();
    assert_eq!(server.server_address(), &Address::Unix(Some(path.clone())));
    let c = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut s = UnixStream::connect(&path).unwrap();
            s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            s.write_all(b"over unix\n").unwrap();
            read_line(&mut s)
        }
    });
    server.handle_request().unwrap();
    assert_eq!(join_within(c, Duration::from_secs(10)), b"over unix\n");
    server.server_close();
    // Python leaves the socket file: binding the same path again fails until it is removed.
    assert!(UnixStreamTransport::bind(&path, TcpConfig::default()).is_err());
}

#[test]
fn unix_datagram_unbound_client_cannot_be_answered() {
    let path = temp_socket_path("dg-unbound");
    let _rm = RemoveOnDrop(path.clone());
    let t = UnixDatagramTransport::bind(&path, UdpConfig::default()).unwrap();
    let hooks = Recorder::new(RequestHandlerClass(|| {
        DatagramRequestHandler::new(EchoLine)
    }));
    let log = hooks.log();
    let mut server = UnixDatagramServer::new(t, hooks).unwrap();
    let c = UnixDatagram::unbound().unwrap();
    c.send_to(TEST_STR, &path).unwrap();
    server.handle_request().unwrap();
    assert_eq!(log.client_addresses(), [Address::Unix(None)]);
    // Python's sendto would raise too: the error goes to handle_error.
    assert_eq!(log.count(Hook::HandleError), 1);
    // A bound client is answered.
    dgram_examine_unix_once(&mut server, &path);
}

fn dgram_examine_unix_once<H: socketserver::ServerHooks<DatagramRequest>>(
    server: &mut UnixDatagramServer<H>,
    path: &std::path::Path,
) {
    let me = temp_socket_path("dg-client");
    let _rm = RemoveOnDrop(me.clone());
    let c = UnixDatagram::bind(&me).unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.send_to(TEST_STR, path).unwrap();
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], TEST_STR);
}

/// Answers with the pid of the process serving the request.
struct Pid;

impl StreamHandler for Pid {
    fn handle(&mut self, s: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
        let _ = s.readline(1024)?;
        writeln!(s, "{} {}", std::process::id(), cx.server.multiprocess)?;
        Ok(())
    }
}

#[test]
fn forking_echo_serves_in_a_child_process() {
    let hooks = Forking::new(RequestHandlerClass(|| StreamRequestHandler::new(Pid)));
    let mut server = ForkingTcpServer::new(bind_localhost_port0(), hooks).unwrap();
    // ForkingMixIn.timeout = 300 unless told otherwise.
    assert_eq!(server.timeout(), Some(Duration::from_secs(300)));
    let addr = server.server_address().inet().unwrap();
    let mut replies = Vec::new();
    for _ in 0..3 {
        let mut c = client(addr);
        c.write_all(b"who\n").unwrap();
        server.handle_request().unwrap();
        replies.push(String::from_utf8(read_line(&mut c)).unwrap());
    }
    for reply in &replies {
        let (pid, multiprocess) = reply.trim().split_once(' ').unwrap();
        assert_ne!(pid.parse::<u32>().unwrap(), std::process::id());
        assert_eq!(multiprocess, "true");
    }
    server.server_close();
    assert!(server.hooks().active_children().is_empty());
}

#[test]
fn forking_collect_children_reaps_in_service_actions() {
    let hooks = Forking::with_config(
        RequestHandlerClass(|| StreamRequestHandler::new(EchoLine)),
        ForkingConfig {
            block_on_close: false,
            ..ForkingConfig::default()
        },
    );
    let mut server = ForkingTcpServer::new(bind_localhost_port0(), hooks).unwrap();
    let addr = server.server_address().clone();
    let mut c = client(addr.inet().unwrap());
    c.write_all(TEST_STR).unwrap();
    server.handle_request().unwrap();
    assert_eq!(read_line(&mut c), TEST_STR);
    assert_eq!(server.hooks().active_children().len(), 1);
    // The child exits right after answering; service_actions reaps it without blocking.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.hooks().active_children().is_empty() {
        assert!(Instant::now() < deadline, "child never reaped");
        std::thread::sleep(Duration::from_millis(10));
        <Forking<_> as socketserver::ServerHooks<std::net::TcpStream>>::service_actions(
            server.hooks(),
        );
    }
    server.server_close();
}

#[test]
fn forking_max_children_blocks_until_below_the_limit() {
    let hooks = Forking::with_config(
        RequestHandlerClass(|| StreamRequestHandler::new(EchoLine)),
        ForkingConfig {
            max_children: 1,
            ..ForkingConfig::default()
        },
    );
    let mut server = ForkingTcpServer::new(bind_localhost_port0(), hooks).unwrap();
    let addr = server.server_address().inet().unwrap();
    let mut c = client(addr);
    server.handle_request().unwrap();
    assert_eq!(server.hooks().active_children().len(), 1);
    // The child waits for our line; answer it from another thread while collect_children
    // blocks on the limit.
    let answer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        c.write_all(TEST_STR).unwrap();
        read_line(&mut c)
    });
    server.hooks().collect_children(false);
    assert!(server.hooks().active_children().is_empty());
    assert_eq!(join_within(answer, Duration::from_secs(10)), TEST_STR);
    server.server_close();
}

#[test]
fn ipv6_loopback_if_available() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        // No IPv6 on this machine: the IPv4 tests cover the rest.
        assert!(TcpListener::bind("127.0.0.1:0").is_ok());
        return;
    };
    drop(probe);
    let t = TcpTransport::bind("[::1]:0".parse().unwrap(), TcpConfig::default()).unwrap();
    let mut server = TcpServer::new(t, echo_hooks()).unwrap();
    let addr = server.server_address().clone();
    assert!(addr.inet().unwrap().is_ipv6());
    assert_eq!(server.info().server_name, "localhost");
    let c = std::thread::spawn(move || stream_examine_tcp(&addr));
    server.handle_request().unwrap();
    join_within(c, Duration::from_secs(10));
}

#[test]
fn port_zero_reports_the_real_port() {
    let server = TcpServer::new(bind_localhost_port0(), echo_hooks()).unwrap();
    let addr: SocketAddr = server.server_address().inet().unwrap();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.info().server_port, addr.port());
    assert_eq!(
        server.transport().listener().unwrap().local_addr().unwrap(),
        addr
    );
    let udp = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default()).unwrap();
    assert_eq!(
        udp.server_address().port(),
        udp.socket().unwrap().local_addr().unwrap().port()
    );
    assert_ne!(udp.server_address().port(), 0);
}

#[test]
fn bind_failure_returns_an_error_and_leaks_no_fd() {
    let taken = bind_localhost_port0();
    let addr = taken.server_address().inet().unwrap();
    let before = open_fds();
    for _ in 0..200 {
        let e = TcpTransport::bind(addr, TcpConfig::default()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        let e = UdpTransport::bind(taken_udp_addr(), UdpConfig::default()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    }
    let after = open_fds();
    assert!(
        after < before + 100,
        "descriptors leaked: {before} -> {after}"
    );
}

fn taken_udp_addr() -> SocketAddr {
    use std::sync::OnceLock;
    static TAKEN: OnceLock<UdpSocket> = OnceLock::new();
    TAKEN
        .get_or_init(|| UdpSocket::bind("127.0.0.1:0").unwrap())
        .local_addr()
        .unwrap()
}

#[test]
fn bind_and_activate_false_then_by_hand() {
    let mut t = TcpTransport::new(
        "127.0.0.1:0".parse().unwrap(),
        TcpConfig {
            allow_reuse_address: true,
            ..TcpConfig::default()
        },
    )
    .unwrap();
    assert!(t.listener().is_none());
    t.server_bind().unwrap();
    t.server_activate().unwrap();
    let mut server = TcpServer::new(t, echo_hooks()).unwrap();
    let addr = server.server_address().clone();
    let c = std::thread::spawn(move || stream_examine_tcp(&addr));
    server.handle_request().unwrap();
    join_within(c, Duration::from_secs(10));
}

#[test]
fn threading_udp_and_datagram_handler_with_multithread_info() {
    struct Info;
    impl StreamHandler for Info {
        fn handle(&mut self, s: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
            write!(s, "multithread={}", cx.server.multithread)?;
            Ok(())
        }
    }
    let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default()).unwrap();
    let mut server: BaseServer<_, _> = BaseServer::new(
        t,
        Threading::new(RequestHandlerClass(|| DatagramRequestHandler::new(Info))),
    )
    .unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.send_to(b"?", server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buf = [0; 64];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"multithread=true");
    server.server_close();
}
