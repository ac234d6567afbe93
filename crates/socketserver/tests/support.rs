//! Shared helpers: loopback servers, bounded clients, deadlines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socketserver::{
    Address, BaseServer, HandlerCx, Result, RwStream, ServerHooks, StreamHandler, TcpConfig,
    TcpTransport, Transport,
};

/// How long any client waits for a reply before the test fails.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// CPython's `TEST_STR`.
pub(crate) const TEST_STR: &[u8] = b"hello world\n";

/// A TCP transport on 127.0.0.1 with an OS-chosen port.
pub(crate) fn bind_localhost_port0() -> TcpTransport {
    TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpConfig::default()).unwrap()
}

/// A TCP client with read and write timeouts.
pub(crate) fn client(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c
}

/// A fresh path for a Unix socket (CPython's `pickaddr(AF_UNIX)`).
pub(crate) fn temp_socket_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let p = std::env::temp_dir().join(format!("ss-{tag}-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Removes a socket file when dropped.
pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Joins `handle`, failing the test if it has not finished within `limit`.
pub(crate) fn join_within<T>(handle: JoinHandle<T>, limit: Duration) -> T {
    let deadline = Instant::now() + limit;
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "thread did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("thread panicked")
}

/// CPython's `MyHandler`: echoes one line.
#[derive(Debug)]
pub(crate) struct EchoLine;

impl StreamHandler for EchoLine {
    fn handle(&mut self, stream: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        let line = stream.readline(65536)?;
        stream.write_all(&line)?;
        Ok(())
    }
}

/// CPython's `run_server`: serve_forever on a thread (poll_interval 0.01), three clients,
/// shutdown, join, server_close; checks the socket is closed.
pub(crate) fn run_server<T, H>(
    server: BaseServer<T, H>,
    examine: impl Fn(&Address),
) -> BaseServer<T, H>
where
    T: Transport + 'static,
    H: ServerHooks<T::Conn> + 'static,
{
    let mut server = server;
    let addr = server.server_address().clone();
    assert_eq!(addr, server.transport().server_address());
    let handle = server.shutdown_handle();
    let t = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(10)).unwrap();
        server
    });
    for _ in 0..3 {
        examine(&addr);
    }
    handle.request();
    let mut server = join_within(t, Duration::from_secs(10));
    server.server_close();
    assert_eq!(server.fileno(), None);
    server
}

/// CPython's `stream_examine` over TCP.
pub(crate) fn stream_examine_tcp(addr: &Address) {
    let mut s = client(addr.inet().unwrap());
    s.write_all(TEST_STR).unwrap();
    assert_eq!(read_line(&mut s), TEST_STR);
}

/// CPython's `stream_examine` over a Unix stream socket.
pub(crate) fn stream_examine_unix(addr: &Address) {
    let Address::Unix(Some(path)) = addr else {
        panic!("not a unix address: {addr}")
    };
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(TEST_STR).unwrap();
    assert_eq!(read_line(&mut s), TEST_STR);
}

/// CPython's `dgram_examine` over UDP.
pub(crate) fn dgram_examine_udp(addr: &Address) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.send_to(TEST_STR, addr.inet().unwrap()).unwrap();
    let mut buf = [0; 100];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], TEST_STR);
}

/// CPython's `dgram_examine` over a Unix datagram socket (the client binds a path so the
/// server can answer).
pub(crate) fn dgram_examine_unix(addr: &Address) {
    let Address::Unix(Some(path)) = addr else {
        panic!("not a unix address: {addr}")
    };
    let me = temp_socket_path("dgram-client");
    let _cleanup = RemoveOnDrop(me.clone());
    let s = UnixDatagram::bind(&me).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.send_to(TEST_STR, path).unwrap();
    let mut buf = [0; 100];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], TEST_STR);
}

/// Reads until a newline or end of stream.
pub(crate) fn read_line(s: &mut impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut byte = [0; 1];
    while !buf.ends_with(b"\n") {
        match s.read(&mut byte).unwrap() {
            0 => break,
            _ => buf.push(byte[0]),
        }
    }
    buf
}

/// The number of open descriptors of this process.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
