//! The PROXY protocol (versions 1 and 2) on the listener: a load balancer in front of the
//! server (HAProxy, nginx's stream module, AWS NLB, ...) opens each connection with a
//! header giving the real client's address; [`ProxyProtocol`] strips it and serves the
//! connection as if the client had connected directly.
//!
//! Python: no equivalent (gunicorn's `--proxy-protocol`, uvicorn's `proxy-headers` do this
//! for Python servers). The wire format is HAProxy's
//! [PROXY protocol specification](https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
//!
//! - [`parse`] is the pure parser: version 1 (`PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n`)
//!   and version 2 (the binary header with its 12-byte signature), strict: one space between
//!   fields, addresses of the declared family, decimal ports without leading zeros, at most
//!   107 bytes for a version 1 line, a version 2 length that holds the addresses, and TLVs
//!   (skipped) that fill the rest exactly.
//! - [`ProxyProtocol`] wraps any [`Protocol`] (such as [`crate::h1::HttpProtocol`]): the
//!   header must come first on every connection (this is opt-in: a connection without one
//!   is closed, as the specification requires of a receiver configured for it); its source
//!   address becomes the client address the wrapped protocol's handlers see
//!   ([`ServeCx::with_client_address`]). A version 2 `LOCAL` header (a health check of the
//!   proxy itself), `PROXY UNKNOWN` and an unspecified family keep the real peer.
//!
//! The parser is hand-written for fidelity to the event loop: the strict checks above and
//! the incremental `Ok(None)` its framer needs, without a dependency; the `proxy_protocol`
//! fuzz target (`fuzz/`) checks it.
//!
//! ```
//! use http_server::proxy_protocol::{ProxyHeader, parse};
//!
//! let (header, len) = parse(b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\nGET / HTTP/1.1\r\n")
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(len, 42);
//! let ProxyHeader::Inet { source, destination } = header else { unreachable!() };
//! assert_eq!(source.to_string(), "192.0.2.1:56324");
//! assert_eq!(destination.port(), 443);
//!
//! assert_eq!(parse(b"PROXY TCP4 192.0.2.1").unwrap(), None); // incomplete: read more
//! assert!(parse(b"GET / HTTP/1.1\r\n").is_err()); // no header: refused
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use socketserver::Address;
use socketserver::evloop::{Abort, ClearPreface, Frame, Preface, Protocol, ServeCx, Served};

/// The 12 bytes that open a version 2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest version 1 header, `\r\n` included (the specification's 107 bytes).
pub const V1_MAX_LEN: usize = 107;

/// Why a PROXY protocol header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyProtocolError {
    /// The connection does not start with a PROXY protocol header.
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    /// A version 1 line longer than 107 bytes, or without its `\r\n`.
    #[error("PROXY v1 line longer than 107 bytes")]
    TooLong,
    /// A malformed version 1 line.
    #[error("malformed PROXY v1 header: {0}")]
    V1(&'static str),
    /// A malformed version 2 header.
    #[error("malformed PROXY v2 header: {0}")]
    V2(&'static str),
}

/// What a PROXY protocol header said about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// Keep the real peer: a version 2 `LOCAL` connection (the proxy's own health check),
    /// `PROXY UNKNOWN`, or a version 2 header of unspecified family.
    Local,
    /// A proxied TCP (or UDP) connection over IPv4 or IPv6.
    Inet {
        /// The client's address.
        source: SocketAddr,
        /// The address the client connected to (on the proxy).
        destination: SocketAddr,
    },
    /// A proxied Unix-socket connection (version 2 only); `None` for an unnamed socket.
    Unix {
        /// The client's socket path.
        source: Option<PathBuf>,
        /// The socket path the client connected to.
        destination: Option<PathBuf>,
    },
}

impl ProxyHeader {
    /// The client address to use, `None` to keep the real peer.
    pub fn source(&self) -> Option<Address> {
        match self {
            ProxyHeader::Local => None,
            ProxyHeader::Inet { source, .. } => Some(Address::Inet(*source)),
            ProxyHeader::Unix { source, .. } => Some(Address::Unix(source.clone())),
        }
    }
}

type ParseResult = Result<Option<(ProxyHeader, usize)>, ProxyProtocolError>;

/// Parses the PROXY protocol header at the start of `input`: `Ok(Some((header, len)))` when
/// a whole header is there (`len` bytes of it), `Ok(None)` when more bytes are needed, an
/// error when `input` cannot start with a valid header.
pub fn parse(input: &[u8]) -> ParseResult {
    const V1: &[u8] = b"PROXY ";
    let n = input.len().min(V2_SIGNATURE.len());
    if input[..n] == V2_SIGNATURE[..n] {
        return if n < V2_SIGNATURE.len() {
            Ok(None)
        } else {
            parse_v2(input)
        };
    }
    let n = input.len().min(V1.len());
    if input[..n] == V1[..n] {
        return if n < V1.len() {
            Ok(None)
        } else {
            parse_v1(input)
        };
    }
    Err(ProxyProtocolError::Missing)
}

fn parse_v1(input: &[u8]) -> ParseResult {
    let window = &input[..input.len().min(V1_MAX_LEN)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if input.len() >= V1_MAX_LEN || window.contains(&b'\n') {
            Err(ProxyProtocolError::TooLong)
        } else {
            Ok(None)
        };
    };
    let bad = ProxyProtocolError::V1;
    let line = std::str::from_utf8(&input[..end]).map_err(|_| bad("not ASCII"))?;
    if !line.is_ascii() || line.bytes().any(|b| b.is_ascii_control()) {
        return Err(bad("control characters"));
    }
    let mut fields = line.split(' ');
    fields.next(); // "PROXY"
    let header = match fields.next() {
        // "PROXY UNKNOWN" may carry anything after it (the specification says to ignore it).
        Some("UNKNOWN") => ProxyHeader::Local,
        Some(family @ ("TCP4" | "TCP6")) => {
            let rest: Vec<&str> = fields.collect();
            let [src, dst, sport, dport] = rest[..] else {
                return Err(bad("expected four fields after the family"));
            };
            let ip = |s: &str| -> Result<IpAddr, ProxyProtocolError> {
                if family == "TCP4" {
                    s.parse::<Ipv4Addr>()
                        .map(IpAddr::V4)
                        .map_err(|_| bad("bad IPv4 address"))
                } else {
                    s.parse::<Ipv6Addr>()
                        .map(IpAddr::V6)
                        .map_err(|_| bad("bad IPv6 address"))
                }
            };
            ProxyHeader::Inet {
                source: SocketAddr::new(ip(src)?, v1_port(sport)?),
                destination: SocketAddr::new(ip(dst)?, v1_port(dport)?),
            }
        }
        _ => return Err(bad("unknown protocol family")),
    };
    Ok(Some((header, end + 2)))
}

fn v1_port(s: &str) -> Result<u16, ProxyProtocolError> {
    let bad = ProxyProtocolError::V1("bad port");
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad);
    }
    s.parse().map_err(|_| bad)
}

fn parse_v2(input: &[u8]) -> ParseResult {
    let bad = ProxyProtocolError::V2;
    if input.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = input[12];
    if ver_cmd >> 4 != 2 {
        return Err(bad("version is not 2"));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(bad("unknown command")),
    };
    let family = input[13] >> 4;
    let transport = input[13] & 0x0f;
    if transport > 2 {
        return Err(bad("unknown transport"));
    }
    let len = usize::from(u16::from_be_bytes([input[14], input[15]]));
    if input.len() < 16 + len {
        return Ok(None);
    }
    let body = &input[16..16 + len];
    let addr_len = match family {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Err(bad("unknown address family")),
    };
    if body.len() < addr_len {
        return Err(bad("length too short for the address family"));
    }
    check_tlvs(&body[addr_len..])?;
    let total = 16 + len;
    if local || family == 0 {
        return Ok(Some((ProxyHeader::Local, total)));
    }
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let header = match family {
        1 => {
            let ip = |b: &[u8]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            ProxyHeader::Inet {
                source: SocketAddr::new(ip(&body[0..4]), port(&body[8..10])),
                destination: SocketAddr::new(ip(&body[4..8]), port(&body[10..12])),
            }
        }
        2 => {
            let ip = |b: &[u8]| {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            ProxyHeader::Inet {
                source: SocketAddr::new(ip(&body[0..16]), port(&body[32..34])),
                destination: SocketAddr::new(ip(&body[16..32]), port(&body[34..36])),
            }
        }
        _ => ProxyHeader::Unix {
            source: unix_path(&body[0..108]),
            destination: unix_path(&body[108..216]),
        },
    };
    Ok(Some((header, total)))
}

/// The TLVs after the addresses: each `type(1) length(2) value`, filling the rest exactly.
fn check_tlvs(mut tlvs: &[u8]) -> Result<(), ProxyProtocolError> {
    while !tlvs.is_empty() {
        if tlvs.len() < 3 {
            return Err(ProxyProtocolError::V2("truncated TLV"));
        }
        let len = usize::from(u16::from_be_bytes([tlvs[1], tlvs[2]]));
        if tlvs.len() < 3 + len {
            return Err(ProxyProtocolError::V2("TLV longer than the header"));
        }
        tlvs = &tlvs[3 + len..];
    }
    Ok(())
}

fn unix_path(b: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    (end > 0).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(&b[..end])))
}

/// Encodes a version 1 header (for tests and clients): `PROXY TCP4|TCP6 ...\r\n`, or
/// `PROXY UNKNOWN\r\n` when the families differ.
///
/// ```
/// let h = http_server::proxy_protocol::encode_v1(
///     "192.0.2.1:5000".parse().unwrap(),
///     "192.0.2.2:80".parse().unwrap(),
/// );
/// assert_eq!(h, b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\n");
/// ```
pub fn encode_v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = match (source, destination) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => "TCP4",
        (SocketAddr::V6(_), SocketAddr::V6(_)) => "TCP6",
        _ => return b"PROXY UNKNOWN\r\n".to_vec(),
    };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}

/// Encodes a version 2 `PROXY` header over TCP (for tests and clients); IPv4 when both
/// addresses are IPv4, else IPv6 (IPv4 addresses mapped).
///
/// ```
/// use http_server::proxy_protocol::{ProxyHeader, encode_v2, parse};
/// let src = "192.0.2.1:5000".parse().unwrap();
/// let dst = "192.0.2.2:80".parse().unwrap();
/// let h = encode_v2(src, dst);
/// assert_eq!(h.len(), 28);
/// assert_eq!(parse(&h).unwrap(), Some((ProxyHeader::Inet { source: src, destination: dst }, 28)));
/// ```
pub fn encode_v2(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
    out.extend_from_slice(&destination.port().to_be_bytes());
    out
}

/// Per-connection state of [`ProxyProtocol`]: the header (once read) and the wrapped
/// protocol's session.
#[derive(Debug, Default)]
pub struct ProxySession<S> {
    header: Option<HeaderRead>,
    inner: S,
}

#[derive(Debug)]
struct HeaderRead {
    /// Header bytes still at the front of the input (until the first request is served).
    strip: usize,
    /// The client address to serve with (`None`: the real peer).
    peer: Option<Address>,
}

impl<S> ProxySession<S> {
    /// The client address the header gave, once read (`None` before the header or when it
    /// kept the real peer).
    pub fn proxied_peer(&self) -> Option<&Address> {
        self.header.as_ref().and_then(|h| h.peer.as_ref())
    }
}

/// Python: no equivalent (gunicorn's `--proxy-protocol`).
///
/// A [`Protocol`] that reads a PROXY protocol header (version 1 or 2) at the start of each
/// connection, then hands the rest to `P` with the client address the header gave.
///
/// ```
/// use http_server::h1::HttpProtocol;
/// use http_server::proxy_protocol::ProxyProtocol;
/// use http_server::{HttpConfig, SimpleHttpHandler};
///
/// let http = HttpProtocol::new(
///     |_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new("."),
///     HttpConfig::default().protocol_version("HTTP/1.1"),
/// );
/// let protocol = ProxyProtocol::new(http);
/// // socketserver::evloop::EventLoopServer::bind(addr, config, protocol)
/// # let _ = protocol;
/// ```
#[derive(Debug, Clone)]
pub struct ProxyProtocol<P> {
    inner: P,
}

impl<P: Protocol> ProxyProtocol<P> {
    /// Wraps `inner`: every connection must open with a PROXY protocol header.
    pub fn new(inner: P) -> Self {
        ProxyProtocol { inner }
    }

    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: Protocol> Protocol for ProxyProtocol<P> {
    type Session = ProxySession<P::Session>;

    fn frame(&self, session: &mut Self::Session, input: &[u8]) -> Frame {
        if session.header.is_none() {
            match parse(input) {
                Ok(None) => return Frame::Incomplete,
                Ok(Some((header, len))) => {
                    tracing::debug!(?header, "PROXY protocol header");
                    session.header = Some(HeaderRead {
                        strip: len,
                        peer: header.source(),
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "connection refused: PROXY protocol header expected");
                    return Frame::Reject(Vec::new());
                }
            }
        }
        let strip = session.header.as_ref().map_or(0, |h| h.strip);
        match self.inner.frame(&mut session.inner, &input[strip..]) {
            Frame::Complete(n) => Frame::Complete(strip + n),
            other => other,
        }
    }

    fn serve(
        &self,
        session: &mut Self::Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        let ProxySession { header, inner } = session;
        let (strip, peer) = match header {
            Some(h) => (std::mem::take(&mut h.strip), h.peer.as_ref()),
            None => (0, None),
        };
        let request = &request[strip.min(request.len())..];
        match peer {
            Some(peer) => self
                .inner
                .serve(inner, request, out, &cx.with_client_address(peer)),
            None => self.inner.serve(inner, request, out, cx),
        }
    }

    fn abort(&self, session: &mut Self::Session, input: &[u8], why: Abort) -> Vec<u8> {
        match &session.header {
            // The peer (a proxy) never finished its header: nothing to say to it.
            None => Vec::new(),
            Some(h) => {
                let rest = &input[h.strip.min(input.len())..];
                self.inner.abort(&mut session.inner, rest, why)
            }
        }
    }

    /// Over TLS the header comes first, in clear: the engine reads it outside the TLS
    /// session ([`preface`]) and `frame` finds it at the start of the input as without TLS.
    fn clear_preface(&self) -> Option<ClearPreface> {
        Some(preface)
    }
}

/// The length of the PROXY header at the start of `input`, as [`parse`] finds it: the clear
/// preface of a TLS connection behind a load balancer (see [`Protocol::clear_preface`]).
///
/// Python: no equivalent.
pub fn preface(input: &[u8]) -> Preface {
    match parse(input) {
        Ok(None) => Preface::Incomplete,
        Ok(Some((_, len))) => Preface::Len(len),
        Err(_) => Preface::Invalid,
    }
}

#[cfg(test)]
mod tests;
