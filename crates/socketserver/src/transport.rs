//! Transports: the socket half of a server (`TCPServer`'s `server_bind`, `server_activate`,
//! `get_request`, `fileno`) and the connections they accept.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::Address;

/// One accepted request: a byte stream to the client.
///
/// Python: the `request` object a server hands to its handler (a connected socket for stream
/// servers, `(data, socket)` for datagram servers).
#[doc(alias = "request")]
pub trait Connection: Read + Write + Send + 'static {
    /// Half-closes the write side, so the client sees the end of the response.
    ///
    /// Python: `request.shutdown(socket.SHUT_WR)` in `TCPServer.shutdown_request`.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Sets the read timeout (`None`: block forever).
    ///
    /// Python: `socket.settimeout` as `StreamRequestHandler.setup` applies it.
    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Sets the write timeout (`None`: block forever).
    ///
    /// Python: `socket.settimeout` (which covers sends too).
    fn set_write_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Enables or disables Nagle's algorithm.
    ///
    /// Python: `setsockopt(IPPROTO_TCP, TCP_NODELAY, True)` in `StreamRequestHandler.setup`
    /// when `disable_nagle_algorithm` is set.
    fn set_nodelay(&mut self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            // The peer may already be gone: Python ignores this OSError too.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, nodelay)
    }
}

/// The listening half of a server: where requests come from.
///
/// Python: the socket-owning part of `TCPServer`/`UDPServer`/`UnixStreamServer`:
/// `get_request`, `server_address`, `fileno`, `server_close`.
pub trait Transport: Send {
    /// The connection type this transport accepts.
    type Conn: Connection;

    /// Takes one request without blocking: `Ok(None)` when none is ready.
    ///
    /// Python: `socketserver.TCPServer.get_request` (`self.socket.accept()`).
    #[doc(alias = "socketserver.TCPServer.get_request")]
    #[doc(alias = "socketserver.BaseServer.get_request")]
    fn get_request(&mut self) -> io::Result<Option<(Self::Conn, Address)>>;

    /// The bound address (the real port when bound to port 0).
    ///
    /// Python: `socketserver.BaseServer.server_address`.
    fn server_address(&self) -> Address;

    /// The descriptor a selector waits on; `None` for in-memory transports, which are always
    /// ready.
    ///
    /// Python: `socketserver.BaseServer.fileno`.
    #[doc(alias = "socketserver.BaseServer.fileno")]
    fn fileno(&self) -> Option<RawFd>;

    /// The socket's own timeout, combined with the server's in `handle_request`.
    ///
    /// Python: `self.socket.gettimeout()` as read by `BaseServer.handle_request`.
    fn socket_timeout(&self) -> Option<Duration> {
        None
    }

    /// Closes the listening socket.
    ///
    /// Python: `socketserver.TCPServer.server_close`.
    fn server_close(&mut self) {}
}

/// Class attributes of `TCPServer` that shape its socket.
///
/// Python: `socketserver.TCPServer.allow_reuse_address`, `allow_reuse_port`,
/// `request_queue_size` (and `address_family`, chosen here from the address).
#[doc(alias = "socketserver.TCPServer.request_queue_size")]
#[doc(alias = "socketserver.TCPServer.allow_reuse_address")]
#[doc(alias = "socketserver.TCPServer.allow_reuse_port")]
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// `SO_REUSEADDR` before bind (Python's default for `TCPServer`: `False`; `HTTPServer`
    /// sets it).
    pub allow_reuse_address: bool,
    /// `SO_REUSEPORT` before bind (Python's default: `False`).
    pub allow_reuse_port: bool,
    /// The `listen()` backlog (Python's default: 5).
    pub request_queue_size: i32,
    /// For IPv6 addresses: accept IPv4 too (`IPV6_V6ONLY` off), as `http.server`'s
    /// `DualStackServer` does. `None` keeps the system default.
    pub dual_stack: Option<bool>,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            allow_reuse_address: false,
            allow_reuse_port: false,
            request_queue_size: 5,
            dual_stack: None,
        }
    }
}

/// A TCP listening socket.
///
/// Python: the socket of `socketserver.TCPServer` (`address_family` chosen from the address:
/// IPv4 or IPv6).
#[doc(alias = "socketserver.TCPServer")]
#[derive(Debug)]
pub struct TcpTransport {
    socket: Option<Socket>,
    listener: Option<TcpListener>,
    requested: SocketAddr,
    config: TcpConfig,
    timeout: Option<Duration>,
}

impl TcpTransport {
    /// Creates the socket without binding it (Python: `bind_and_activate=False`); call
    /// [`server_bind`](Self::server_bind) and [`server_activate`](Self::server_activate) next.
    ///
    /// Python: `socketserver.TCPServer.__init__(..., bind_and_activate=False)`.
    pub fn new(address: SocketAddr, config: TcpConfig) -> io::Result<Self> {
        let domain = Domain::for_address(address);
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        Ok(TcpTransport {
            socket: Some(socket),
            listener: None,
            requested: address,
            config,
            timeout: None,
        })
    }

    /// Creates, binds and activates the socket; on failure the socket is closed (dropped)
    /// before the error is returned.
    ///
    /// Python: `socketserver.TCPServer.__init__` with `bind_and_activate=True`:
    /// `server_bind()`, `server_activate()`, `server_close()` on failure.
    #[doc(alias = "socketserver.TCPServer.__init__")]
    pub fn bind(address: SocketAddr, config: TcpConfig) -> io::Result<Self> {
        let mut t = Self::new(address, config)?;
        // `t` is dropped (and the socket closed) if either step fails.
        t.server_bind()?;
        t.server_activate()?;
        Ok(t)
    }

    /// Applies the socket options and binds.
    ///
    /// Python: `socketserver.TCPServer.server_bind`.
    #[doc(alias = "socketserver.TCPServer.server_bind")]
    pub fn server_bind(&mut self) -> io::Result<()> {
        let socket = self.socket()?;
        if self.config.allow_reuse_address {
            socket.set_reuse_address(true)?;
        }
        if self.config.allow_reuse_port {
            socket.set_reuse_port(true)?;
        }
        if self.requested.is_ipv6()
            && let Some(dual) = self.config.dual_stack
        {
            socket.set_only_v6(!dual)?;
        }
        socket.bind(&self.requested.into())?;
        Ok(())
    }

    /// Starts listening with `request_queue_size` as the backlog.
    ///
    /// Python: `socketserver.TCPServer.server_activate`.
    #[doc(alias = "socketserver.TCPServer.server_activate")]
    pub fn server_activate(&mut self) -> io::Result<()> {
        let socket = self.socket()?;
        socket.listen(self.config.request_queue_size)?;
        let listener: TcpListener = socket.try_clone()?.into();
        listener.set_nonblocking(true)?;
        self.listener = Some(listener);
        Ok(())
    }

    /// Sets the listening socket's own timeout, honoured by `handle_request`.
    ///
    /// Python: `server.socket.settimeout(t)`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Wraps a listener that is already bound and listening (for example one inherited from
    /// systemd socket activation).
    pub fn from_listener(listener: TcpListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let requested = listener.local_addr()?;
        let socket = Socket::from(listener.try_clone()?);
        Ok(TcpTransport {
            socket: Some(socket),
            listener: Some(listener),
            requested,
            config: TcpConfig::default(),
            timeout: None,
        })
    }

    fn socket(&self) -> io::Result<&Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "server is closed"))
    }

    /// The listening socket, once activated.
    pub fn listener(&self) -> Option<&TcpListener> {
        self.listener.as_ref()
    }
}

impl Transport for TcpTransport {
    type Conn = TcpStream;

    fn get_request(&mut self) -> io::Result<Option<(TcpStream, Address)>> {
        let Some(listener) = &self.listener else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "server_activate() was not called",
            ));
        };
        match listener.accept() {
            Ok((stream, addr)) => {
                // std's accept4 gives a blocking socket, as Python's handlers expect.
                Ok(Some((stream, Address::Inet(addr))))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn server_address(&self) -> Address {
        let local = self
            .socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .and_then(|a| a.as_socket())
            .unwrap_or(self.requested);
        Address::Inet(local)
    }

    fn fileno(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn socket_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn server_close(&mut self) {
        self.listener = None;
        self.socket = None;
    }
}
