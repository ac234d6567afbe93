//! Unix domain stream sockets: `UnixStreamServer`'s transport and its connections.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::{Address, Connection, TcpConfig, Transport};

impl Connection for UnixStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            // The peer may already be gone: Python ignores this OSError too.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
    // `set_nodelay` keeps its no-op default: TCP_NODELAY does not apply to Unix sockets
    // (Python's `StreamRequestHandler.setup` would raise here; a no-op is kinder).
}

/// A Unix domain stream listening socket.
///
/// The socket file is left in place by `server_close`, as in Python: remove it yourself
/// (a later bind to the same path fails with "address in use" until you do).
///
/// Python: the socket of `socketserver.UnixStreamServer` (`address_family = AF_UNIX`), which
/// inherits `TCPServer`'s `request_queue_size` (here the [`TcpConfig`] field).
///
/// ```
/// use socketserver::{TcpConfig, Transport, UnixStreamTransport};
/// let path = std::env::temp_dir().join(format!("doc-unix-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let transport = UnixStreamTransport::bind(&path, TcpConfig::default())?;
/// assert_eq!(transport.server_address().host(), path.display().to_string());
/// drop(transport);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "socketserver.UnixStreamServer")]
#[derive(Debug)]
pub struct UnixStreamTransport {
    socket: Option<Socket>,
    listener: Option<UnixListener>,
    path: PathBuf,
    config: TcpConfig,
    timeout: Option<Duration>,
}

impl UnixStreamTransport {
    /// Creates the socket without binding it; call [`server_bind`](Self::server_bind) and
    /// [`server_activate`](Self::server_activate) next.
    ///
    /// Python: `socketserver.UnixStreamServer(path, ..., bind_and_activate=False)`.
    pub fn new(path: impl AsRef<Path>, config: TcpConfig) -> io::Result<Self> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        Ok(UnixStreamTransport {
            socket: Some(socket),
            listener: None,
            path: path.as_ref().to_owned(),
            config,
            timeout: None,
        })
    }

    /// Creates, binds and activates the socket; on failure the socket is closed before the
    /// error is returned.
    ///
    /// Python: `socketserver.UnixStreamServer(path, RequestHandlerClass)`.
    pub fn bind(path: impl AsRef<Path>, config: TcpConfig) -> io::Result<Self> {
        let mut t = Self::new(path, config)?;
        t.server_bind()?;
        t.server_activate()?;
        Ok(t)
    }

    /// Binds the socket to its path.
    ///
    /// Python: `socketserver.TCPServer.server_bind` on an `AF_UNIX` socket.
    pub fn server_bind(&mut self) -> io::Result<()> {
        let socket = self.socket()?;
        socket.bind(&SockAddr::unix(&self.path)?)?;
        Ok(())
    }

    /// Starts listening with `request_queue_size` as the backlog.
    ///
    /// Python: `socketserver.TCPServer.server_activate` on an `AF_UNIX` socket.
    pub fn server_activate(&mut self) -> io::Result<()> {
        let socket = self.socket()?;
        socket.listen(self.config.request_queue_size)?;
        let listener: UnixListener = socket.try_clone()?.into();
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

    /// The socket's path.
    ///
    /// Python: `socketserver.UnixStreamServer.server_address`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn socket(&self) -> io::Result<&Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "server is closed"))
    }
}

impl Transport for UnixStreamTransport {
    type Conn = UnixStream;

    fn get_request(&mut self) -> io::Result<Option<(UnixStream, Address)>> {
        let Some(listener) = &self.listener else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "server_activate() was not called",
            ));
        };
        match listener.accept() {
            Ok((stream, addr)) => {
                stream.set_nonblocking(false)?;
                Ok(Some((
                    stream,
                    Address::Unix(addr.as_pathname().map(Path::to_path_buf)),
                )))
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
        self.listener = None;
        self.socket = None;
    }
}
