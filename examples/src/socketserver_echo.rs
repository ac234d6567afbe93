//! The echo servers of Python's `socketserver` documentation, as functions the examples'
//! `main`s and the tests share.
//!
//! Python: the "Examples" section of the `socketserver` docs (`MyTCPHandler`,
//! `MyUDPHandler`, `ThreadedTCPRequestHandler`), plus a Unix stream variant of the
//! `StreamRequestHandler` echo.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use socketserver::{
    DatagramRequest, HandlerCx, RequestHandler, RequestHandlerClass, Result, RwStream,
    StreamHandler, StreamRequestHandler, TcpConfig, TcpServer, TcpTransport, Threading,
    ThreadingTcpServer, UdpConfig, UdpServer, UdpTransport, UnixStreamServer, UnixStreamTransport,
};

/// Python's `MyTCPHandler`: `self.data = self.request.recv(1024).strip()`, then
/// `self.request.sendall(self.data.upper())`.
#[derive(Debug, Default)]
pub struct MyTcpHandler;

impl RequestHandler<TcpStream> for MyTcpHandler {
    fn handle(&mut self, request: &mut TcpStream, cx: &HandlerCx<'_>) -> Result<()> {
        let mut buf = [0; 1024];
        let n = request.read(&mut buf)?;
        let data = buf[..n].trim_ascii();
        tracing::info!(client = %cx.client_address.host(), data = %String::from_utf8_lossy(data), "wrote");
        request.write_all(&data.to_ascii_uppercase())?;
        Ok(())
    }
}

/// The TCP echo server: `TCPServer((HOST, PORT), MyTCPHandler)`.
pub type TcpEchoServer = TcpServer<RequestHandlerClass<fn() -> MyTcpHandler>>;

/// Binds the TCP echo server (port 0 picks a free port: read it from `server_address`).
///
/// Python: `socketserver.TCPServer((HOST, PORT), MyTCPHandler)`.
pub fn tcp_echo_server(addr: SocketAddr) -> Result<TcpEchoServer> {
    let transport = TcpTransport::bind(
        addr,
        TcpConfig {
            allow_reuse_address: true,
            ..TcpConfig::default()
        },
    )?;
    TcpServer::new(
        transport,
        RequestHandlerClass(MyTcpHandler::default as fn() -> _),
    )
}

/// Python's `MyUDPHandler`: `data = self.request[0].strip()`, `socket = self.request[1]`,
/// `socket.sendto(data.upper(), self.client_address)`.
#[derive(Debug, Default)]
pub struct MyUdpHandler;

impl RequestHandler<DatagramRequest> for MyUdpHandler {
    fn handle(&mut self, request: &mut DatagramRequest, cx: &HandlerCx<'_>) -> Result<()> {
        let data = request.packet().trim_ascii().to_ascii_uppercase();
        tracing::info!(client = %cx.client_address.host(), data = %String::from_utf8_lossy(request.packet()), "wrote");
        request.sendto(&data, cx.client_address)?;
        Ok(())
    }
}

/// The UDP echo server: `UDPServer((HOST, PORT), MyUDPHandler)`.
pub type UdpEchoServer = UdpServer<RequestHandlerClass<fn() -> MyUdpHandler>>;

/// Binds the UDP echo server.
///
/// Python: `socketserver.UDPServer((HOST, PORT), MyUDPHandler)`.
pub fn udp_echo_server(addr: SocketAddr) -> Result<UdpEchoServer> {
    let transport = UdpTransport::bind(addr, UdpConfig::default())?;
    UdpServer::new(
        transport,
        RequestHandlerClass(MyUdpHandler::default as fn() -> _),
    )
}

/// Python's `ThreadedTCPRequestHandler`: answers `"{thread}: {data}"`.
#[derive(Debug, Default)]
pub struct ThreadedTcpRequestHandler;

impl RequestHandler<TcpStream> for ThreadedTcpRequestHandler {
    fn handle(&mut self, request: &mut TcpStream, _cx: &HandlerCx<'_>) -> Result<()> {
        let mut buf = [0; 1024];
        let n = request.read(&mut buf)?;
        let data = String::from_utf8_lossy(&buf[..n]);
        // Python prints `threading.current_thread().name`; a thread id tells threads apart.
        let response = format!("{:?}: {data}", std::thread::current().id());
        request.write_all(response.as_bytes())?;
        Ok(())
    }
}

/// The threaded TCP server: `ThreadedTCPServer((HOST, PORT), ThreadedTCPRequestHandler)`.
pub type ThreadedEchoServer =
    ThreadingTcpServer<RequestHandlerClass<fn() -> ThreadedTcpRequestHandler>>;

/// Binds the threaded TCP server.
///
/// Python: `class ThreadedTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer)`.
pub fn threaded_echo_server(addr: SocketAddr) -> Result<ThreadedEchoServer> {
    let transport = TcpTransport::bind(addr, TcpConfig::default())?;
    ThreadingTcpServer::new(
        transport,
        Threading::new(RequestHandlerClass(
            ThreadedTcpRequestHandler::default as fn() -> _,
        )),
    )
}

/// The docs' `client(ip, port, message)`: sends `message`, returns the reply.
pub fn client(addr: SocketAddr, message: &str) -> io::Result<String> {
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    sock.write_all(message.as_bytes())?;
    let mut response = String::new();
    sock.read_to_string(&mut response)?;
    Ok(response)
}

/// The docs' `StreamRequestHandler` echo (`self.rfile.readline().strip()`, then
/// `self.wfile.write(self.data.upper())`), served over a Unix stream socket.
#[derive(Debug, Default)]
pub struct UpperLine;

impl StreamHandler for UpperLine {
    fn handle(&mut self, stream: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        let line = stream.readline(65536)?;
        stream.write_all(&line.trim_ascii().to_ascii_uppercase())?;
        Ok(())
    }
}

fn upper_line_handler() -> StreamRequestHandler<UpperLine> {
    StreamRequestHandler::new(UpperLine)
}

/// The Unix stream echo server.
pub type UnixEchoServer =
    UnixStreamServer<RequestHandlerClass<fn() -> StreamRequestHandler<UpperLine>>>;

/// Binds the Unix stream echo server at `path` (which must not exist yet).
///
/// Python: `socketserver.UnixStreamServer(path, MyTCPHandler)`.
pub fn unix_echo_server(path: &Path) -> Result<UnixEchoServer> {
    let transport = UnixStreamTransport::bind(path, TcpConfig::default())?;
    UnixStreamServer::new(
        transport,
        RequestHandlerClass(upper_line_handler as fn() -> _),
    )
}

/// The value following `--name` on the command line, if any.
pub fn arg_value(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

/// `--port N` from the command line, or `default` (the docs use 9999).
pub fn port_arg(default: u16) -> u16 {
    arg_value("--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}
