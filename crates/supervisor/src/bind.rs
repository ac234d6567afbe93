//! Listening addresses as gunicorn spells them (`HOST:PORT`, `[::]:PORT`, `unix:PATH`,
//! `fd://N`), parsed before anything listens and bound once by the supervisor.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use socket2::{Domain, SockAddr, Socket, Type};
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Listener, Protocol};

use crate::{Error, Result};

/// One listening address (`--bind`).
///
/// ```
/// use supervisor::Bind;
/// assert_eq!("127.0.0.1:8000".parse::<Bind>()?, Bind::Tcp { host: "127.0.0.1".into(), port: 8000 });
/// assert_eq!("[::]:80".parse::<Bind>()?, Bind::Tcp { host: "::".into(), port: 80 });
/// assert_eq!("unix:/run/app.sock".parse::<Bind>()?, Bind::Unix("/run/app.sock".into()));
/// assert_eq!("fd://3".parse::<Bind>()?, Bind::Fd(3));
/// assert!("localhost".parse::<Bind>().is_err()); // no port
/// # Ok::<(), supervisor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// TCP: a host name or address (IPv6 without its brackets; empty: every IPv4
    /// interface) and a port (0: any free port).
    Tcp {
        /// The host or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// A Unix domain socket at this path (`unix:PATH`).
    Unix(PathBuf),
    /// A descriptor this process inherited already listening (`fd://N`).
    Fd(i32),
}

impl FromStr for Bind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Bind {
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad("the Unix socket path is empty"));
            }
            if path.len() > 107 {
                return Err(bad("the Unix socket path is longer than 107 bytes"));
            }
            return Ok(Bind::Unix(path.into()));
        }
        if let Some(n) = s.strip_prefix("fd://") {
            let fd: i32 = n
                .parse()
                .map_err(|_| bad("the descriptor is not a number"))?;
            if fd < 0 {
                return Err(bad("the descriptor is negative"));
            }
            return Ok(Bind::Fd(fd));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest
                .split_once("]:")
                .ok_or_else(|| bad("expected [IPv6]:PORT"))?;
            host.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address"))?;
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| bad("expected HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N"))?;
            if host.contains(':') {
                return Err(bad("an IPv6 address needs brackets: [ADDR]:PORT"));
            }
            (host, port)
        };
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
        Ok(Bind::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bind::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Bind::Tcp { host, port } => write!(f, "{host}:{port}"),
            Bind::Unix(p) => write!(f, "unix:{}", p.display()),
            Bind::Fd(n) => write!(f, "fd://{n}"),
        }
    }
}

/// How [`Bind::listen`] binds.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// The `listen()` backlog. Default: 1024.
    pub backlog: i32,
    /// The permission bits of a Unix socket (`--unix-mode`, for example `0o660`); `None`
    /// keeps what the umask gives.
    pub unix_mode: Option<u32>,
    /// Set `SO_REUSEPORT` on TCP sockets, so other processes may bind the same port too.
    /// Default: false.
    pub reuse_port: bool,
    /// Set `TCP_DEFER_ACCEPT` on TCP sockets
    /// ([`socketserver::evloop::set_defer_accept`]): for protocols whose clients speak
    /// first. `fd://N` sockets are left as they are. Default: `None`.
    pub defer_accept: Option<std::time::Duration>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            backlog: 1024,
            unix_mode: None,
            reuse_port: false,
            defer_accept: None,
        }
    }
}

impl Bind {
    /// The path of a Unix socket address.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Bind::Unix(p) => Some(p),
            _ => None,
        }
    }

    /// Binds and listens (or, for `fd://N`, takes the inherited descriptor).
    ///
    /// A Unix socket path that exists is replaced only when it is a socket nobody accepts
    /// on (left over by a server that died); a live one is an error, as is any other file.
    pub fn listen(&self, options: &BindOptions) -> Result<Listener> {
        let fail = |source: std::io::Error| Error::Listen {
            address: self.to_string(),
            source,
        };
        match self {
            Bind::Tcp { host, port } => {
                let addr = socketserver::inet_address(host, *port).map_err(fail)?;
                tcp(addr, options).map_err(fail)
            }
            Bind::Unix(path) => unix(path, options).map_err(fail),
            Bind::Fd(fd) => crate::fds::take_listener(*fd).map_err(fail),
        }
    }
}

/// [`EventLoopServer::bind`] on `host:port` (one `SO_REUSEPORT` listener per event loop;
/// a port in use is refused unless [`EventLoopConfig::share_port`]), its failure an
/// [`Error::Listen`] that names the address as [`Bind::listen`]'s do.
///
/// Python: no equivalent (`socketserver.TCPServer.server_bind`'s `OSError` names no
/// address).
///
/// ```
/// use socketserver::evloop::{EventLoopConfig, Frame, Protocol, ServeCx, Served};
/// struct Closed;
/// impl Protocol for Closed {
///     type Session = ();
///     fn frame(&self, _: &mut (), _: &[u8]) -> Frame {
///         Frame::Incomplete
///     }
///     fn serve(&self, _: &mut (), _: &[u8], _: &mut Vec<u8>, _: &ServeCx<'_>) -> Served {
///         Served::CLOSE
///     }
/// }
/// let config = EventLoopConfig { threads: 2, ..EventLoopConfig::default() };
/// let first = supervisor::bind_event_loops("127.0.0.1", 0, config.clone(), Closed)?;
/// let port = first.local_addr().inet().unwrap().port();
/// // The port is in use: refused, the address named.
/// let e = supervisor::bind_event_loops("127.0.0.1", port, config.clone(), Closed).unwrap_err();
/// assert!(e.to_string().starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")));
/// // Unless the second server asks to share it.
/// let shared = EventLoopConfig { share_port: true, ..config };
/// supervisor::bind_event_loops("127.0.0.1", port, shared, Closed)?;
/// # Ok::<(), supervisor::Error>(())
/// ```
pub fn bind_event_loops<P: Protocol>(
    host: &str,
    port: u16,
    config: EventLoopConfig,
    protocol: P,
) -> Result<EventLoopServer<P>> {
    let address = Bind::Tcp {
        host: host.to_owned(),
        port,
    };
    let named = |source| Error::Listen {
        address: address.to_string(),
        source,
    };
    let addr = socketserver::inet_address(host, port).map_err(named)?;
    EventLoopServer::bind(addr, config, protocol).map_err(|e| match e {
        socketserver::Error::Io(source) => named(source),
        e => Error::Io(std::io::Error::other(e)),
    })
}

/// Binds every address in `binds`, all or none: a failure closes those already bound (and
/// removes their socket files) before it is returned. The [`SocketFiles`] remove the Unix
/// sockets' files when dropped, once the server stops.
///
/// Python: no equivalent (gunicorn binds its addresses in `sock.create_sockets`).
///
/// ```
/// use supervisor::{Bind, BindOptions};
/// let binds: Vec<Bind> = vec!["127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?];
/// let (listeners, _files) = supervisor::listen_all(&binds, &BindOptions::default())?;
/// assert_eq!(listeners.len(), 2);
/// # Ok::<(), supervisor::Error>(())
/// ```
pub fn listen_all(binds: &[Bind], options: &BindOptions) -> Result<(Vec<Listener>, SocketFiles)> {
    let mut files = SocketFiles(Vec::new());
    let mut out = Vec::with_capacity(binds.len());
    for bind in binds {
        // On an error `files` drops here, removing the files bound so far.
        out.push(bind.listen(options)?);
        if let Some(p) = bind.unix_path() {
            files.0.push(p.to_path_buf());
        }
    }
    Ok((out, files))
}

/// The files of the Unix sockets [`listen_all`] bound, removed when this is dropped.
///
/// Python: no equivalent (gunicorn's `sock.close_sockets` unlinks them).
#[derive(Debug, Default)]
#[must_use = "dropping it removes the socket files"]
pub struct SocketFiles(Vec<PathBuf>);

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `--pid FILE`: this process's id, written when made and removed when dropped
/// (gunicorn's `Pidfile`).
#[doc(alias = "gunicorn.pidfile.Pidfile")]
#[derive(Debug)]
#[must_use = "dropping it removes the file"]
pub struct PidFile(PathBuf);

impl PidFile {
    /// Writes the process id and a newline to `path`.
    pub fn write(path: &Path) -> Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            Error::PidFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tcp(addr: SocketAddr, options: &BindOptions) -> std::io::Result<Listener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(options.backlog)?;
    if let Some(after) = options.defer_accept {
        socketserver::evloop::set_defer_accept(&socket, after)?;
    }
    Ok(Listener::Tcp(socket.into()))
}

fn unix(path: &Path, options: &BindOptions) -> std::io::Result<Listener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another server accepts on this socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    if let Some(mode) = options.unix_mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    socket.listen(options.backlog)?;
    Ok(Listener::Unix(socket.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        s.parse::<Bind>().unwrap_err().to_string()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            ":8000".parse::<Bind>().unwrap(),
            Bind::Tcp {
                host: String::new(),
                port: 8000
            }
        );
        assert_eq!(
            "example.com:0".parse::<Bind>().unwrap(),
            Bind::Tcp {
                host: "example.com".into(),
                port: 0
            }
        );
        assert_eq!(
            "[::1]:8782".parse::<Bind>().unwrap().to_string(),
            "[::1]:8782"
        );
        assert_eq!(
            "unix:///run/x.sock".parse::<Bind>().unwrap(),
            Bind::Unix("/run/x.sock".into())
        );
        assert_eq!(
            "unix:rel.sock".parse::<Bind>().unwrap().to_string(),
            "unix:rel.sock"
        );
        assert_eq!("fd://5".parse::<Bind>().unwrap().to_string(), "fd://5");
    }

    #[test]
    fn refuses_with_the_value_and_the_reason() {
        assert_eq!(
            err("127.0.0.1:99999"),
            "invalid bind address '127.0.0.1:99999': the port is not a number from 0 to 65535"
        );
        assert!(err("::1:80").contains("needs brackets"));
        assert!(err("[::zz]:80").contains("not an IPv6 address"));
        assert!(err("[::1]80").contains("expected [IPv6]:PORT"));
        assert!(err("unix:").contains("empty"));
        assert!(err("fd://x").contains("not a number"));
        assert!(err("fd://-1").contains("negative"));
        assert!(err("localhost").contains("expected HOST:PORT"));
    }

    #[test]
    fn binds_tcp_and_unix_with_its_mode_and_replaces_only_stale_sockets() {
        let l = "127.0.0.1:0"
            .parse::<Bind>()
            .unwrap()
            .listen(&BindOptions::default())
            .unwrap();
        assert!(l.local_addr().unwrap().inet().unwrap().port() > 0);

        let dir = std::env::temp_dir().join(format!("supervisor-bind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let spec = Bind::Unix(path.clone());
        let options = BindOptions {
            unix_mode: Some(0o660),
            ..BindOptions::default()
        };
        let live = spec.listen(&options).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let e = spec.listen(&options).unwrap_err().to_string();
        assert!(e.contains("another server accepts"), "{e}");
        drop(live);
        // The file is left behind by the closed listener: stale, so replaced.
        let again = spec.listen(&options).unwrap();
        drop(again);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        let e = spec.listen(&options).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
