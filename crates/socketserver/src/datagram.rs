//! Datagram servers: `UDPServer`, `UnixDatagramServer`, their requests and
//! `DatagramRequestHandler`.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::{Address, Connection, HandlerCx, RequestHandler, Result, StreamHandler, Transport};

/// Class attributes of `UDPServer` (and `UnixDatagramServer`).
///
/// Python: `socketserver.UDPServer.max_packet_size`, `allow_reuse_address`,
/// `allow_reuse_port`.
#[doc(alias = "socketserver.UDPServer.max_packet_size")]
#[doc(alias = "socketserver.UDPServer.allow_reuse_address")]
#[doc(alias = "socketserver.UDPServer.allow_reuse_port")]
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// The largest datagram read; longer ones are truncated (Python's default: 8192).
    pub max_packet_size: usize,
    /// `SO_REUSEADDR` before bind (Python's default: `False`; ignored for Unix sockets).
    pub allow_reuse_address: bool,
    /// `SO_REUSEPORT` before bind (Python's default: `False`; ignored for Unix sockets).
    pub allow_reuse_port: bool,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            max_packet_size: 8192,
            allow_reuse_address: false,
            allow_reuse_port: false,
        }
    }
}

#[derive(Debug, Clone)]
enum ReplySocket {
    Udp(Arc<UdpSocket>),
    Unix(Arc<UnixDatagram>),
}

impl ReplySocket {
    fn send_to_once(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        match (self, to) {
            (ReplySocket::Udp(s), Address::Inet(a)) => s.send_to(data, a),
            (ReplySocket::Unix(s), Address::Unix(Some(p))) => s.send_to(data, p),
            (ReplySocket::Unix(_), Address::Unix(None)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the client's socket is not bound to a path: there is no address to reply to",
            )),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "address family does not match the server socket",
            )),
        }
    }
}

/// One datagram request: the packet the client sent, a reply gathered by [`Write`], and the
/// server socket to answer from.
///
/// [`Read`]/[`BufRead`] yield the packet (Python's `rfile`), [`Write`] appends to the reply
/// (Python's `wfile`, a `BytesIO`). The reply goes out as one datagram with `sendto` when
/// [`send_reply`](Self::send_reply) is called ([`DatagramRequestHandler`] does so in `finish`,
/// as Python does) or, if it was never sent and is not empty, when the request is shut down
/// ([`Connection::shutdown_write`], called by `shutdown_request`). [`Write::flush`] sends
/// nothing: a datagram reply is one packet.
///
/// Python: the `(data, socket)` pair `UDPServer.get_request` returns as `request`.
#[doc(alias = "socketserver.UDPServer.get_request")]
pub struct DatagramRequest {
    packet: Vec<u8>,
    pos: usize,
    reply: Vec<u8>,
    replied: bool,
    socket: ReplySocket,
    client_address: Address,
    write_timeout: Option<Duration>,
}

impl fmt::Debug for DatagramRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramRequest")
            .field("packet_len", &self.packet.len())
            .field("reply_len", &self.reply.len())
            .field("replied", &self.replied)
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

impl DatagramRequest {
    fn new(packet: Vec<u8>, socket: ReplySocket, client_address: Address) -> Self {
        DatagramRequest {
            packet,
            pos: 0,
            reply: Vec::new(),
            replied: false,
            socket,
            client_address,
            write_timeout: None,
        }
    }

    /// The datagram the client sent.
    ///
    /// Python: `self.request[0]` (`DatagramRequestHandler.packet`).
    #[doc(alias = "socketserver.DatagramRequestHandler.packet")]
    pub fn packet(&self) -> &[u8] {
        &self.packet
    }

    /// Who sent the packet (where the reply goes).
    ///
    /// Python: `BaseRequestHandler.client_address` of a datagram request.
    pub fn client_address(&self) -> &Address {
        &self.client_address
    }

    /// The reply gathered so far.
    ///
    /// Python: `self.wfile.getvalue()`.
    pub fn reply(&self) -> &[u8] {
        &self.reply
    }

    /// True once the gathered reply has been sent (Python has no such flag: its
    /// `DatagramRequestHandler.finish` always sends).
    pub fn is_replied(&self) -> bool {
        self.replied
    }

    /// Sends `data` from the server socket to `address`, at once.
    ///
    /// Python: `self.request[1].sendto(data, address)`.
    #[doc(alias = "socket.sendto")]
    pub fn sendto(&self, data: &[u8], address: &Address) -> io::Result<usize> {
        let deadline = self.write_timeout.map(|t| Instant::now() + t);
        loop {
            match self.socket.send_to_once(data, address) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The server socket is non-blocking (it is shared with the accept side): wait
                // for room in the send buffer as a blocking socket would.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "sendto timed out"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                r => return r,
            }
        }
    }

    /// Sends the gathered reply to the client as one datagram, even an empty one, and marks it
    /// sent.
    ///
    /// Python: `socketserver.DatagramRequestHandler.finish`
    /// (`self.socket.sendto(self.wfile.getvalue(), self.client_address)`).
    pub fn send_reply(&mut self) -> io::Result<()> {
        let reply = std::mem::take(&mut self.reply);
        self.replied = true;
        self.sendto(&reply, &self.client_address).map(|_| ())
    }
}

impl Read for DatagramRequest {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.packet[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for DatagramRequest {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.packet[self.pos..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.packet.len());
    }
}

impl Write for DatagramRequest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.reply.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for DatagramRequest {
    /// Sends the gathered reply if nothing was sent yet and it is not empty.
    ///
    /// Python: `UDPServer.shutdown_request` does nothing; sending here lets plain
    /// [`RequestHandler`]s answer by writing to the request.
    fn shutdown_write(&mut self) -> io::Result<()> {
        if !self.replied && !self.reply.is_empty() {
            self.send_reply()?;
        }
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout = timeout;
        Ok(())
    }
}

/// A UDP socket serving one datagram per request.
///
/// Python: the socket of `socketserver.UDPServer` (`socket_type = SOCK_DGRAM`;
/// `server_activate` does nothing; `shutdown_request` and `close_request` do nothing).
///
/// ```
/// use socketserver::{Transport, UdpConfig, UdpTransport};
/// let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default())?;
/// assert_ne!(t.server_address().port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "socketserver.UDPServer")]
#[derive(Debug)]
pub struct UdpTransport {
    raw: Option<Socket>,
    socket: Option<Arc<UdpSocket>>,
    requested: SocketAddr,
    config: UdpConfig,
    timeout: Option<Duration>,
}

impl UdpTransport {
    /// Creates the socket without binding it; call [`server_bind`](Self::server_bind) next.
    ///
    /// Python: `socketserver.UDPServer(..., bind_and_activate=False)`.
    pub fn new(address: SocketAddr, config: UdpConfig) -> io::Result<Self> {
        let raw = Socket::new(
            Domain::for_address(address),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        Ok(UdpTransport {
            raw: Some(raw),
            socket: None,
            requested: address,
            config,
            timeout: None,
        })
    }

    /// Creates and binds the socket; on failure it is closed before the error is returned.
    ///
    /// Python: `socketserver.UDPServer(server_address, RequestHandlerClass)`.
    pub fn bind(address: SocketAddr, config: UdpConfig) -> io::Result<Self> {
        let mut t = Self::new(address, config)?;
        t.server_bind()?;
        t.server_activate()?;
        Ok(t)
    }

    /// Applies the socket options and binds.
    ///
    /// Python: `socketserver.TCPServer.server_bind`, as `UDPServer` inherits it.
    pub fn server_bind(&mut self) -> io::Result<()> {
        let raw = self.raw.take().ok_or_else(closed)?;
        if self.config.allow_reuse_address {
            raw.set_reuse_address(true)?;
        }
        if self.config.allow_reuse_port {
            raw.set_reuse_port(true)?;
        }
        raw.bind(&self.requested.into())?;
        raw.set_nonblocking(true)?;
        self.socket = Some(Arc::new(raw.into()));
        Ok(())
    }

    /// Does nothing: datagram sockets do not listen.
    ///
    /// Python: `socketserver.UDPServer.server_activate`.
    #[doc(alias = "socketserver.UDPServer.server_activate")]
    pub fn server_activate(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Sets the socket's own timeout, honoured by `handle_request`.
    ///
    /// Python: `server.socket.settimeout(t)`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The class attributes.
    ///
    /// Python: `UDPServer.max_packet_size` and the other class attributes.
    pub fn config(&self) -> &UdpConfig {
        &self.config
    }

    /// The bound socket; `None` before `server_bind` and after `server_close`.
    ///
    /// Python: `socketserver.UDPServer.socket`.
    pub fn socket(&self) -> Option<&UdpSocket> {
        self.socket.as_deref()
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "server is closed")
}

impl Transport for UdpTransport {
    type Conn = DatagramRequest;

    fn get_request(&mut self) -> io::Result<Option<(DatagramRequest, Address)>> {
        let socket = self.socket.as_ref().ok_or_else(closed)?;
        let mut buf = vec![0; self.config.max_packet_size];
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                buf.truncate(n);
                let from = Address::Inet(from);
                let request =
                    DatagramRequest::new(buf, ReplySocket::Udp(Arc::clone(socket)), from.clone());
                Ok(Some((request, from)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn server_address(&self) -> Address {
        let local = self.socket.as_ref().and_then(|s| s.local_addr().ok());
        Address::Inet(local.unwrap_or(self.requested))
    }

    fn fileno(&self) -> Option<RawFd> {
        match (&self.socket, &self.raw) {
            (Some(s), _) => Some(s.as_raw_fd()),
            (None, Some(r)) => Some(r.as_raw_fd()),
            (None, None) => None,
        }
    }

    fn socket_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn server_close(&mut self) {
        self.raw = None;
        self.socket = None;
    }
}

/// A Unix domain datagram socket serving one datagram per request.
///
/// A client can only be answered when its own socket is bound to a path (Python's rule too);
/// its [`Address`] is `Address::Unix(None)` otherwise. The socket file is left in place by
/// `server_close`, as in Python.
///
/// Python: the socket of `socketserver.UnixDatagramServer`.
#[doc(alias = "socketserver.UnixDatagramServer")]
#[derive(Debug)]
pub struct UnixDatagramTransport {
    socket: Option<Arc<UnixDatagram>>,
    path: PathBuf,
    config: UdpConfig,
    timeout: Option<Duration>,
}

impl UnixDatagramTransport {
    /// Creates and binds the socket at `path`.
    ///
    /// Python: `socketserver.UnixDatagramServer(path, RequestHandlerClass)`.
    pub fn bind(path: impl AsRef<Path>, config: UdpConfig) -> io::Result<Self> {
        let path = path.as_ref().to_owned();
        let raw = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        raw.bind(&SockAddr::unix(&path)?)?;
        raw.set_nonblocking(true)?;
        Ok(UnixDatagramTransport {
            socket: Some(Arc::new(raw.into())),
            path,
            config,
            timeout: None,
        })
    }

    /// Sets the socket's own timeout, honoured by `handle_request`.
    ///
    /// Python: `server.socket.settimeout(t)`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The socket's path.
    ///
    /// Python: `socketserver.UnixDatagramServer.server_address`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Transport for UnixDatagramTransport {
    type Conn = DatagramRequest;

    fn get_request(&mut self) -> io::Result<Option<(DatagramRequest, Address)>> {
        let socket = self.socket.as_ref().ok_or_else(closed)?;
        let mut buf = vec![0; self.config.max_packet_size];
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                buf.truncate(n);
                let from = Address::Unix(from.as_pathname().map(Path::to_path_buf));
                let request =
                    DatagramRequest::new(buf, ReplySocket::Unix(Arc::clone(socket)), from.clone());
                Ok(Some((request, from)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn server_address(&self) -> Address {
        Address::Unix(Some(self.path.clone()))
    }

    fn fileno(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn socket_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn server_close(&mut self) {
        self.socket = None;
    }
}

/// Adapts a [`StreamHandler`] to datagram requests: its stream reads the packet (`rfile`)
/// and gathers the reply (`wfile`), which `finish` sends as one datagram, also when
/// `handle` failed and also when it is empty (as Python does).
///
/// The same [`StreamHandler`] can thus serve TCP (under [`crate::StreamRequestHandler`])
/// and UDP, as a Python handler using only `rfile`/`wfile` can.
///
/// Python: `socketserver.DatagramRequestHandler`.
///
/// ```
/// use socketserver::{DatagramRequestHandler, HandlerCx, RequestHandlerClass, Result,
///                    RwStream, StreamHandler, UdpConfig, UdpServer, UdpTransport};
/// use std::net::UdpSocket;
///
/// struct Upper;
/// impl StreamHandler for Upper {
///     fn handle(&mut self, s: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
///         let line = s.readline(8192)?;
///         s.write_all(&line.to_ascii_uppercase())?;
///         Ok(())
///     }
/// }
///
/// let transport = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), UdpConfig::default())?;
/// let mut server = UdpServer::new(transport, RequestHandlerClass(|| DatagramRequestHandler::new(Upper)))?;
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"ping\n", server.server_address().inet().unwrap())?;
/// server.handle_request()?;
/// let mut buf = [0; 64];
/// let n = client.recv(&mut buf)?;
/// assert_eq!(&buf[..n], b"PING\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "socketserver.DatagramRequestHandler")]
#[derive(Debug)]
pub struct DatagramRequestHandler<H> {
    /// The wrapped handler.
    pub handler: H,
}

impl<H> DatagramRequestHandler<H> {
    /// Wraps `handler`.
    pub fn new(handler: H) -> Self {
        DatagramRequestHandler { handler }
    }
}

impl<H: StreamHandler> RequestHandler<DatagramRequest> for DatagramRequestHandler<H> {
    /// Python: `socketserver.DatagramRequestHandler.setup` (`rfile` over the packet, an
    /// empty `wfile`), then the wrapped handler's `setup`.
    #[doc(alias = "socketserver.DatagramRequestHandler.setup")]
    fn setup(&mut self, request: &mut DatagramRequest, cx: &HandlerCx<'_>) -> Result<()> {
        self.handler.setup(request, cx)
    }

    fn handle(&mut self, request: &mut DatagramRequest, cx: &HandlerCx<'_>) -> Result<()> {
        self.handler.handle(request, cx)
    }

    /// The wrapped handler's `finish`, then the reply is sent.
    ///
    /// Python: `socketserver.DatagramRequestHandler.finish`.
    #[doc(alias = "socketserver.DatagramRequestHandler.finish")]
    fn finish(&mut self, request: &mut DatagramRequest, cx: &HandlerCx<'_>) -> Result<()> {
        let finished = self.handler.finish(request, cx);
        let sent = request.send_reply();
        finished?;
        sent?;
        Ok(())
    }
}
