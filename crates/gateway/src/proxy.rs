//! Trusted reverse-proxy headers: [`ProxyFix`] rewrites the environ of a request that came
//! through a proxy you trust, so the application sees the client's address, scheme and host.
//!
//! Python: no `wsgiref` equivalent; the port of werkzeug's `werkzeug.middleware.proxy_fix.
//! ProxyFix`, with the peer check of gunicorn's `forwarded_allow_ips` and waitress's
//! `trusted_proxy` / `trusted_proxy_count`.
//!
//! # What it trusts
//!
//! - **The peer first**: the headers are read only when the connection's peer
//!   (`REMOTE_ADDR`) is in the [`TrustedProxies`] set (addresses, CIDR networks, and `unix`
//!   for Unix-socket peers). From any other peer they are ignored, and with
//!   [`ProxyFix::remove_untrusted`] deleted from the environ the application sees.
//! - **Then hop by hop**: `X-Forwarded-For` (and the `for=` of RFC 7239 `Forwarded`) is
//!   read from the right. The rightmost entry was written by the peer; each entry to its
//!   left is believed only while the entry just read is itself a trusted proxy, and at most
//!   [`ProxyFix::x_for`] entries are read (the hop count). A client that sends its own
//!   `X-Forwarded-For: 1.2.3.4` therefore never becomes `1.2.3.4`: the proxy appends the
//!   real address, which is not trusted, and the walk stops there.
//! - **`X-Forwarded-Proto`, `-Host`, `-Port`**: as werkzeug, the value `n` from the right
//!   of the comma-separated list, where `n` is [`ProxyFix::x_proto`] (default 1),
//!   [`ProxyFix::x_host`] (default 0: off) and [`ProxyFix::x_port`] (default 0: off);
//!   ignored when the list is shorter. Turn on only the headers your proxy sets or
//!   overwrites: a header the proxy passes through unchanged comes from the client.
//! - **`Forwarded`** (off by default, [`ProxyFix::forwarded`]): when on and present, it
//!   replaces the `X-Forwarded-*` headers. Its elements are walked like `X-Forwarded-For`;
//!   the `proto` and `host` of the element chosen apply. A malformed `Forwarded` header
//!   is ignored as a whole.
//!
//! The `Forwarded` grammar (RFC 7239), the node and host checks and the strict
//! trusted-network syntax stay hand-written for fidelity (werkzeug's and Python's
//! `ipaddress` rules, not a general parser's); the `forwarded` fuzz target (`fuzz/`) checks
//! them. Network matching is the `ipnet` crate's.
//!
//! Malformed values (not an IP address, `unknown` or an obfuscated `_name`, a scheme other
//! than `http`/`https`, a host with spaces, a port out of range) are never copied into the
//! environ: the walk stops, or the value is ignored.
//!
//! # What it changes
//!
//! `REMOTE_ADDR` (the client), `wsgi.url_scheme`, `HTTP_HOST`, `SERVER_NAME` and
//! `SERVER_PORT` (from the forwarded host's port, else `X-Forwarded-Port`, else the
//! scheme's default port when the scheme or host was forwarded). The values it replaced
//! are kept as an [`Originals`] extension under [`ORIGINALS_KEY`] (werkzeug keeps them under
//! `werkzeug.proxy_fix.orig`).
//!
//! ```
//! use gateway::proxy::{ORIGINALS_KEY, Originals, ProxyFix};
//! use gateway::{Body, Environ, Result, StartResponse};
//!
//! fn whoami(env: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
//!     let before = env.extension::<Originals>(ORIGINALS_KEY).map(|o| o.remote_addr.clone());
//!     let text = format!(
//!         "{} {} (peer {})",
//!         env.get("REMOTE_ADDR").unwrap_or(""),
//!         env.url_scheme(),
//!         before.unwrap_or_default()
//!     );
//!     sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
//!     Ok(Body::from(text))
//! }
//!
//! let app = ProxyFix::new(whoami, "127.0.0.1, 10.0.0.0/8".parse().unwrap());
//! let client = gateway::testing::Client::new(app).client_address("10.1.2.3");
//! let headers = [("X-Forwarded-For", "6.6.6.6, 203.0.113.9"), ("X-Forwarded-Proto", "https")];
//! let resp = client.request("GET", "/", &headers, b"");
//! assert_eq!(resp.text(), "203.0.113.9 https (peer 10.1.2.3)");
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The `ipnet` crate, whose [`IpNet`] the trusted networks are (re-exported so its version
/// is the one this crate uses).
pub use ipnet;
use ipnet::IpNet;

use crate::error::Result;
use crate::types::{Application, Body, Environ, StartResponse};

/// The environ key of the [`Originals`] extension [`ProxyFix`] adds.
pub const ORIGINALS_KEY: &str = "gateway.proxy_fix.orig";

/// The environ keys of the forwarding headers (removed from untrusted peers' requests by
/// [`ProxyFix::remove_untrusted`]).
pub const FORWARDING_KEYS: [&str; 5] = [
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
];

/// A malformed trusted-proxy entry (an address, a CIDR network or `unix`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid trusted proxy {entry:?}: {reason}")]
pub struct ParseProxyError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ParseProxyError {
    fn new(entry: &str, reason: &'static str) -> Self {
        ParseProxyError {
            entry: entry.to_owned(),
            reason,
        }
    }
}

/// The set of proxies whose forwarding headers are believed: networks, and optionally
/// every Unix-socket peer.
///
/// Parsed from a comma-separated list (`"127.0.0.1, 10.0.0.0/8, ::1, unix"`); `unix`
/// matches a peer whose `REMOTE_ADDR` is not an IP address (a Unix-socket connection, as
/// gunicorn trusts them). The empty set trusts nobody.
///
/// The networks are [`ipnet::IpNet`]s; an address alone is its `/32` or `/128`. An
/// IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) matches the IPv4 networks.
///
/// ```
/// use gateway::proxy::TrustedProxies;
/// let t: TrustedProxies = "127.0.0.1,10.0.0.0/8,unix".parse().unwrap();
/// assert!(t.contains_peer("10.9.8.7"));
/// assert!(t.contains_peer("::ffff:10.9.8.7"));
/// assert!(t.contains_peer(""));
/// assert!(!t.contains_peer("192.0.2.1"));
/// assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
///
/// let t = TrustedProxies::new().with("2001:db8::/32".parse().unwrap());
/// assert!(t.contains("2001:db8::1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    unix: bool,
}

impl TrustedProxies {
    /// The empty set: trusts nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set with `net` added.
    #[must_use]
    pub fn with(mut self, net: IpNet) -> Self {
        self.nets.push(net);
        self
    }

    /// The set, trusting (or not) Unix-socket peers.
    #[must_use]
    pub fn with_unix(mut self, trusted: bool) -> Self {
        self.unix = trusted;
        self
    }

    /// The networks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// True when Unix-socket peers are trusted.
    pub fn trusts_unix(&self) -> bool {
        self.unix
    }

    /// True when `ip`, or the IPv4 address an IPv4-mapped `ip` stands for, is in one of
    /// the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.nets
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&canonical))
    }

    /// One network entry of the list, parsed strictly as Python's
    /// `ipaddress.ip_network(entry)` (kept by hand for that: `ipnet` accepts host bits and
    /// requires the prefix): `10.0.0.0/8`, `2001:db8::/32`, or an address alone (its `/32`
    /// or `/128`); host bits set after the prefix (`10.0.0.1/8`) are an error, and an
    /// IPv4-mapped address (`::ffff:10.0.0.0/8`) is its IPv4 network.
    ///
    /// ```
    /// use gateway::proxy::TrustedProxies;
    /// let net = TrustedProxies::parse_net("192.168.0.0/16").unwrap();
    /// assert!(net.contains(&"192.168.4.2".parse::<std::net::IpAddr>().unwrap()));
    /// assert!(TrustedProxies::parse_net("192.168.0.1/16").is_err());
    /// assert_eq!(TrustedProxies::parse_net("::1").unwrap().to_string(), "::1/128");
    /// ```
    pub fn parse_net(entry: &str) -> std::result::Result<IpNet, ParseProxyError> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let addr = addr
            .parse::<IpAddr>()
            .map_err(|_| ParseProxyError::new(entry, "not an IP address"))?
            .to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .map_err(|_| ParseProxyError::new(entry, "prefix length out of range"))?,
            Some(_) => return Err(ParseProxyError::new(entry, "prefix length is not a number")),
        };
        let net = IpNet::new(addr, prefix)
            .map_err(|_| ParseProxyError::new(entry, "prefix length out of range"))?;
        if net.network() != addr {
            return Err(ParseProxyError::new(entry, "host bits set"));
        }
        Ok(net)
    }

    /// True when a connection's peer, as `REMOTE_ADDR` gives it, is trusted: an IP address
    /// in the set, or a non-IP peer (Unix socket) when `unix` is in the set.
    pub fn contains_peer(&self, remote_addr: &str) -> bool {
        match remote_addr.parse::<IpAddr>() {
            Ok(ip) => self.contains(ip),
            Err(_) => self.unix,
        }
    }
}

impl FromStr for TrustedProxies {
    type Err = ParseProxyError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let mut set = TrustedProxies::new();
        for entry in s.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(ParseProxyError::new(s, "empty entry"));
            }
            if entry.eq_ignore_ascii_case("unix") {
                set.unix = true;
            } else {
                set.nets.push(Self::parse_net(entry)?);
            }
        }
        Ok(set)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.nets.iter().map(ToString::to_string).collect();
        if self.unix {
            parts.push("unix".to_owned());
        }
        f.write_str(&parts.join(","))
    }
}

/// The environ values [`ProxyFix`] replaced, stored under [`ORIGINALS_KEY`].
///
/// Python: werkzeug's `environ["werkzeug.proxy_fix.orig"]` dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originals {
    /// `REMOTE_ADDR` as the server set it (the proxy's address).
    pub remote_addr: String,
    /// `wsgi.url_scheme` as the server set it.
    pub url_scheme: String,
    /// `HTTP_HOST` as received, if any.
    pub http_host: Option<String>,
    /// `SERVER_NAME` as the server set it.
    pub server_name: String,
    /// `SERVER_PORT` as the server set it.
    pub server_port: String,
}

impl Originals {
    fn of(env: &Environ) -> Self {
        Originals {
            remote_addr: env.get("REMOTE_ADDR").unwrap_or("").to_owned(),
            url_scheme: env.url_scheme().to_owned(),
            http_host: env.get("HTTP_HOST").map(str::to_owned),
            server_name: env.get("SERVER_NAME").unwrap_or("").to_owned(),
            server_port: env.get("SERVER_PORT").unwrap_or("").to_owned(),
        }
    }

    /// The `repr` the environ prints for it (a Python dict).
    fn repr(&self) -> String {
        let q = crate::util::py_repr;
        let host = self.http_host.as_deref().map_or("None".to_owned(), q);
        format!(
            "{{'REMOTE_ADDR': {}, 'wsgi.url_scheme': {}, 'HTTP_HOST': {}, 'SERVER_NAME': {}, 'SERVER_PORT': {}}}",
            q(&self.remote_addr),
            q(&self.url_scheme),
            host,
            q(&self.server_name),
            q(&self.server_port)
        )
    }
}

/// Python: werkzeug's `werkzeug.middleware.proxy_fix.ProxyFix` (no `wsgiref` equivalent).
///
/// Middleware that applies the forwarding headers of trusted proxies to the environ (see
/// the [module documentation](self) for the rules), then calls the wrapped application.
///
/// ```
/// use gateway::proxy::ProxyFix;
/// use gateway::simple_server::demo_app;
///
/// // Behind one nginx on this machine that sets X-Forwarded-For and X-Forwarded-Proto.
/// let app = ProxyFix::new(demo_app, "127.0.0.1,::1".parse().unwrap());
/// // Behind a load balancer network and then nginx: two hops, and the Host it forwards.
/// let app2 = ProxyFix::new(demo_app, "10.0.0.0/8,127.0.0.1".parse().unwrap())
///     .x_for(2)
///     .x_host(1);
/// # let _ = (app, app2);
/// ```
#[derive(Debug, Clone)]
pub struct ProxyFix<A> {
    app: A,
    trusted: TrustedProxies,
    x_for: usize,
    x_proto: usize,
    x_host: usize,
    x_port: usize,
    forwarded: usize,
    remove_untrusted: bool,
}

impl<A: Application> ProxyFix<A> {
    /// Wraps `app`, trusting the peers in `trusted`, with werkzeug's defaults: one hop of
    /// `X-Forwarded-For` and `X-Forwarded-Proto`; `X-Forwarded-Host`, `X-Forwarded-Port` and
    /// `Forwarded` off; untrusted headers left in place.
    pub fn new(app: A, trusted: TrustedProxies) -> Self {
        ProxyFix {
            app,
            trusted,
            x_for: 1,
            x_proto: 1,
            x_host: 0,
            x_port: 0,
            forwarded: 0,
            remove_untrusted: false,
        }
    }

    /// Reads at most `hops` entries of `X-Forwarded-For` (the number of proxies in front of
    /// the application; 0 turns the header off).
    #[must_use]
    pub fn x_for(mut self, hops: usize) -> Self {
        self.x_for = hops;
        self
    }

    /// Takes `X-Forwarded-Proto`'s value `n` from the right (0: off).
    #[must_use]
    pub fn x_proto(mut self, n: usize) -> Self {
        self.x_proto = n;
        self
    }

    /// Takes `X-Forwarded-Host`'s value `n` from the right (0, the default: off).
    #[must_use]
    pub fn x_host(mut self, n: usize) -> Self {
        self.x_host = n;
        self
    }

    /// Takes `X-Forwarded-Port`'s value `n` from the right (0, the default: off).
    #[must_use]
    pub fn x_port(mut self, n: usize) -> Self {
        self.x_port = n;
        self
    }

    /// Reads at most `hops` elements of RFC 7239 `Forwarded` (0, the default: off). When on
    /// and the header is present, the `X-Forwarded-*` headers are not used.
    #[must_use]
    pub fn forwarded(mut self, hops: usize) -> Self {
        self.forwarded = hops;
        self
    }

    /// Deletes the forwarding headers ([`FORWARDING_KEYS`]) from the environ of requests
    /// whose peer is not trusted, so the application cannot read them by mistake.
    #[must_use]
    pub fn remove_untrusted(mut self, remove: bool) -> Self {
        self.remove_untrusted = remove;
        self
    }

    /// The trusted proxies.
    pub fn trusted(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }

    /// The environ the application sees for `environ` (what [`Application::call`] passes
    /// on).
    pub fn fix_environ(&self, environ: &Environ) -> Environ {
        let mut env = environ.clone();
        let peer = environ.get("REMOTE_ADDR").unwrap_or("");
        if !self.trusted.contains_peer(peer) {
            if self.remove_untrusted {
                for key in FORWARDING_KEYS {
                    env.remove(key);
                }
            }
            return env;
        }
        let originals = Originals::of(environ);
        let fwd = if self.forwarded > 0 {
            environ.get("HTTP_FORWARDED")
        } else {
            None
        };
        let found = match fwd {
            Some(header) => self.read_forwarded(header),
            None => self.read_x_forwarded(environ),
        };
        apply(&mut env, &found);
        let repr = originals.repr();
        env.insert_extension(ORIGINALS_KEY, originals, repr);
        env
    }

    fn read_x_forwarded(&self, env: &Environ) -> Found {
        let list = |key: &str| -> Vec<String> {
            env.get(key)
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default()
        };
        let pick = |key: &str, n: usize| -> Option<String> {
            let values = list(key);
            (n > 0 && values.len() >= n).then(|| values[values.len() - n].clone())
        };
        let nodes = list("HTTP_X_FORWARDED_FOR");
        let client = self.walk(nodes.iter().map(|n| parse_node(n)), self.x_for);
        Found {
            client: client.map(|(ip, _)| ip),
            proto: pick("HTTP_X_FORWARDED_PROTO", self.x_proto).and_then(|p| valid_proto(&p)),
            host: pick("HTTP_X_FORWARDED_HOST", self.x_host).and_then(|h| valid_host(&h)),
            port: pick("HTTP_X_FORWARDED_PORT", self.x_port).and_then(|p| valid_port(&p)),
        }
    }

    fn read_forwarded(&self, header: &str) -> Found {
        let Some(elements) = parse_forwarded(header) else {
            tracing::debug!(header, "malformed Forwarded header ignored");
            return Found::default();
        };
        let nodes = elements.iter().map(|e| e.get("for").and_then(parse_node));
        let Some((client, index)) = self.walk(nodes, self.forwarded) else {
            return Found::default();
        };
        let element = &elements[index];
        Found {
            client: Some(client),
            proto: element.get("proto").and_then(valid_proto),
            host: element.get("host").and_then(valid_host),
            port: None,
        }
    }

    /// Walks the hops from the right (the entry the peer wrote) while the hop just read is
    /// trusted, at most `max` of them; the address chosen and its index.
    fn walk(
        &self,
        nodes: impl DoubleEndedIterator<Item = Option<IpAddr>> + ExactSizeIterator,
        max: usize,
    ) -> Option<(IpAddr, usize)> {
        let len = nodes.len();
        let mut chosen = None;
        for (i, node) in nodes.rev().enumerate().take(max) {
            let Some(ip) = node else { break };
            chosen = Some((ip, len - 1 - i));
            if !self.trusted.contains(ip) {
                break;
            }
        }
        chosen
    }
}

impl<A: Application> Application for ProxyFix<A> {
    /// Python: werkzeug's `ProxyFix.__call__(environ, start_response)`.
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        let env = self.fix_environ(environ);
        self.app.call(&env, start_response)
    }
}

/// What the forwarding headers said, validated.
#[derive(Debug, Default)]
struct Found {
    client: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

fn apply(env: &mut Environ, found: &Found) {
    if let Some(ip) = found.client {
        env.set("REMOTE_ADDR", ip.to_canonical().to_string());
    }
    if let Some(proto) = &found.proto {
        env.set_url_scheme(proto.clone());
    }
    let mut port = None;
    if let Some(host) = &found.host {
        env.set("HTTP_HOST", host.clone());
        let (name, host_port) = split_host(host);
        env.set("SERVER_NAME", name);
        port = host_port;
    }
    if let Some(p) = found.port {
        let host = env
            .get("HTTP_HOST")
            .or_else(|| env.get("SERVER_NAME"))
            .unwrap_or("")
            .to_owned();
        let (name, _) = split_host(&host);
        env.set("HTTP_HOST", format!("{name}:{p}"));
        port = Some(p);
    }
    let port = port.or_else(|| {
        (found.proto.is_some() || found.host.is_some())
            .then(|| if env.url_scheme() == "https" { 443 } else { 80 })
    });
    if let Some(p) = port {
        env.set("SERVER_PORT", p.to_string());
    }
}

/// Splits `host[:port]` (`[v6]:port` included); the port only when valid.
fn split_host(host: &str) -> (&str, Option<u16>) {
    let colon = if host.starts_with('[') {
        host.find(']')
            .and_then(|i| host[i..].find(':').map(|j| i + j))
    } else {
        host.rfind(':')
    };
    match colon {
        Some(i) => (&host[..i], valid_port(&host[i + 1..])),
        None => (host, None),
    }
}

/// A node of `X-Forwarded-For` or of `Forwarded`'s `for=`: an IP address, optionally with
/// a port (`192.0.2.1:80`, `[2001:db8::1]:4711`, `[2001:db8::1]`). `unknown`, obfuscated
/// identifiers (`_hidden`) and anything else are `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = node.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let inner = node.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn valid_proto(p: &str) -> Option<String> {
    let p = p.trim().to_ascii_lowercase();
    matches!(p.as_str(), "http" | "https").then_some(p)
}

fn valid_port(p: &str) -> Option<u16> {
    let p = p.trim();
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n > 0)
}

/// A `host[:port]` of RFC 9110 (a reg-name, an IPv4 address or a bracketed IPv6 literal).
fn valid_host(h: &str) -> Option<String> {
    let h = h.trim();
    if h.is_empty() || h.len() > 255 {
        return None;
    }
    let (name, port) = if h.starts_with('[') {
        let end = h.find(']')?;
        h[1..end].parse::<Ipv6Addr>().ok()?;
        (&h[..=end], &h[end + 1..])
    } else {
        match h.find(':') {
            Some(i) => (&h[..i], &h[i..]),
            None => (h, ""),
        }
    };
    if !name.starts_with('[')
        && (name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+;=%".contains(&b)))
    {
        return None;
    }
    if !port.is_empty() {
        // Digits only: `valid_port` trims, which would let `h:\r 1` through.
        let port = port.strip_prefix(':')?;
        if port.trim() != port {
            return None;
        }
        valid_port(port)?;
    }
    Some(h.to_owned())
}

/// One `Forwarded` element: its parameters, names lower-cased, values unquoted.
#[derive(Debug, Default)]
struct Element(Vec<(String, String)>);

impl Element {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses RFC 7239 `Forwarded`: `1#forwarded-element`, each `forwarded-pair *( ";"
/// forwarded-pair )`, a pair `token "=" ( token / quoted-string )`. `None` when malformed
/// (including a parameter given twice in one element, which RFC 7239 forbids).
fn parse_forwarded(header: &str) -> Option<Vec<Element>> {
    let b = header.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let mut element = Element::default();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        let start = i;
        while i < b.len() && stdx::ascii::is_tchar(b[i]) {
            i += 1;
        }
        if start == i || i >= b.len() || b[i] != b'=' {
            return None;
        }
        let name = header[start..i].to_ascii_lowercase();
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            loop {
                match b.get(i)? {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        let c = *b.get(i + 1)?;
                        v.push(c);
                        i += 2;
                    }
                    &c if c == b'\t' || (0x20..0x7f).contains(&c) || c >= 0x80 => {
                        v.push(c);
                        i += 1;
                    }
                    _ => return None,
                }
            }
            String::from_utf8(v).ok()?
        } else {
            let s = i;
            while i < b.len() && stdx::ascii::is_tchar(b[i]) {
                i += 1;
            }
            if s == i {
                return None;
            }
            header[s..i].to_owned()
        };
        if element.get(&name).is_some() {
            return None;
        }
        element.0.push((name, value));
        skip_ws(&mut i);
        match b.get(i) {
            None => {
                out.push(element);
                return Some(out);
            }
            Some(b';') => i += 1,
            Some(b',') => {
                out.push(std::mem::take(&mut element));
                i += 1;
            }
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests;
