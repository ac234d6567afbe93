//! Server and client addresses.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A server or client address: an IP socket address or a Unix socket path.
///
/// Python: the `server_address` / `client_address` values of `socketserver`, which are a
/// `(host, port)` tuple for `AF_INET`, a 4-tuple for `AF_INET6` and a path string for
/// `AF_UNIX`.
#[doc(alias = "socketserver.BaseServer.server_address")]
#[doc(alias = "client_address")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 socket address.
    Inet(SocketAddr),
    /// A Unix domain socket path (`None` for an unnamed peer, as Python's `''`).
    Unix(Option<PathBuf>),
}

impl Address {
    /// The IP socket address, when this is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            Address::Unix(_) => None,
        }
    }

    /// The host part as Python prints it: the IP for inet addresses, the path for Unix ones.
    ///
    /// Python: `client_address[0]`.
    pub fn host(&self) -> String {
        match self {
            Address::Inet(SocketAddr::V4(a)) => stdx::dotted_quad(*a.ip(), &mut [0; 15]).to_owned(),
            Address::Inet(a) => a.ip().to_string(),
            Address::Unix(Some(p)) => p.display().to_string(),
            Address::Unix(None) => String::new(),
        }
    }

    /// The port, or 0 for a Unix address.
    ///
    /// Python: `server_address[1]`.
    pub fn port(&self) -> u16 {
        self.inet().map_or(0, |a| a.port())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Unix(Some(p)) => write!(f, "{}", p.display()),
            Address::Unix(None) => f.write_str("<unnamed>"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Inet(a)
    }
}

/// Resolves a Python-style `(host, port)` pair to a socket address.
///
/// `""` means "all IPv4 interfaces" (`INADDR_ANY`), as in `TCPServer(('', 8000), ...)`;
/// `"::"` all IPv6 interfaces; a name is looked up and its first address taken.
///
/// Python: the address handling of `socket.bind((host, port))`.
pub fn inet_address(host: &str, port: u16) -> io::Result<SocketAddr> {
    if host.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no address for host {host:?}"),
        )
    })
}

/// The fully qualified name Python's `socket.getfqdn(host)` would give for a bound host.
///
/// Unspecified addresses (`0.0.0.0`, `::`) and empty hosts give the machine's host name;
/// loopback addresses give `localhost`; other addresses are returned as text (no reverse DNS
/// lookup is made: it could block the server at start-up).
///
/// Python: `socket.getfqdn`, as used by `http.server.HTTPServer.server_bind`.
#[doc(alias = "socket.getfqdn")]
pub fn getfqdn(ip: IpAddr) -> String {
    if ip.is_unspecified() {
        return hostname().unwrap_or_else(|| "localhost".to_owned());
    }
    if ip.is_loopback() || ip == IpAddr::V6(Ipv6Addr::LOCALHOST) {
        return "localhost".to_owned();
    }
    ip.to_string()
}

fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_host_is_inaddr_any() {
        let a = inet_address("", 8782).unwrap();
        assert_eq!(a, "0.0.0.0:8782".parse().unwrap());
        assert_eq!(
            inet_address("::1", 1).unwrap(),
            "[::1]:1".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            inet_address("[::]", 2).unwrap(),
            "[::]:2".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn fqdn_of_loopback_is_localhost() {
        assert_eq!(getfqdn("127.0.0.1".parse().unwrap()), "localhost");
        assert_eq!(getfqdn("10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert!(!getfqdn("0.0.0.0".parse().unwrap()).is_empty());
    }

    #[test]
    fn display_and_parts() {
        let a = Address::Inet("127.0.0.1:80".parse().unwrap());
        assert_eq!(a.host(), "127.0.0.1");
        assert_eq!(a.port(), 80);
        assert_eq!(a.to_string(), "127.0.0.1:80");
        let u = Address::Unix(Some("/tmp/s".into()));
        assert_eq!(u.port(), 0);
        assert_eq!(u.host(), "/tmp/s");
    }
}
