//! TLS over any stream transport, with rustls (the `ring` provider): the certificate chain
//! and key loaded from PEM files ([`TlsConfig`] → [`TlsAcceptor`]), a listening transport
//! whose connections are TLS sessions ([`TlsTransport`]), and the session itself
//! ([`TlsStream`]).
//!
//! Unlike Python's `SSLContext.wrap_socket` on the listening socket, whose `accept()` runs
//! the handshake (so one client that connects and sends nothing stalls every other), the
//! handshake here runs on the connection's first read or write, in whatever thread or loop
//! serves that connection, under [`TlsConfig::handshake_timeout`].
//!
//! This module knows nothing of HTTP: the protocols offered by ALPN are the caller's.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConnection;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::evloop::Preface;
use crate::{Address, Connection, Error, Result, Transport};

/// Where a server's certificate and key come from, and how its sessions are set up.
///
/// Python: the keyword arguments of `http.server.HTTPSServer` (3.14): `certfile`,
/// `keyfile=None`, `password=None`, `alpn_protocols=None`, which it hands to
/// `SSLContext.load_cert_chain` and `set_alpn_protocols`.
///
/// ```
/// use socketserver::TlsConfig;
/// let config = TlsConfig::new("/etc/ssl/server.pem")
///     .keyfile("/etc/ssl/server.key")
///     .alpn_protocols(["http/1.1"]);
/// assert_eq!(config.alpn_protocols, Some(vec!["http/1.1".to_owned()]));
/// // Loading reads the files; a missing one is an error that names it.
/// let err = config.acceptor().unwrap_err().to_string();
/// assert!(err.contains("/etc/ssl/server.pem"), "{err}");
/// ```
#[doc(alias = "ssl.SSLContext.load_cert_chain")]
#[derive(Clone)]
pub struct TlsConfig {
    /// PEM file holding the certificate chain, leaf first; it may hold the private key too
    /// (Python: `certfile`).
    pub certfile: PathBuf,
    /// PEM file holding the private key (PKCS#8, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`; PKCS#8 `ENCRYPTED PRIVATE KEY` with [`password`](Self::password));
    /// `None`: the key is in [`certfile`](Self::certfile) (Python: `keyfile`).
    pub keyfile: Option<PathBuf>,
    /// The password of an encrypted PKCS#8 key (Python: `password`; ignored when the key is
    /// not encrypted, as OpenSSL does).
    pub password: Option<Vec<u8>>,
    /// The protocols offered by ALPN, in order of preference; `None` offers none (Python:
    /// `alpn_protocols`; `HTTPSServer` puts `["http/1.1"]` there when it is `None`).
    pub alpn_protocols: Option<Vec<String>>,
    /// How long a client has to finish the handshake once the session's first read or write
    /// starts it (default 10 s); past it the connection reads as closed.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("certfile", &self.certfile)
            .field("keyfile", &self.keyfile)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("alpn_protocols", &self.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish()
    }
}

impl TlsConfig {
    /// Certificate chain (and maybe key) from `certfile`, no password, no ALPN, a 10 s
    /// handshake deadline.
    pub fn new(certfile: impl Into<PathBuf>) -> Self {
        TlsConfig {
            certfile: certfile.into(),
            keyfile: None,
            password: None,
            alpn_protocols: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Sets [`keyfile`](Self::keyfile).
    pub fn keyfile(mut self, keyfile: impl Into<PathBuf>) -> Self {
        self.keyfile = Some(keyfile.into());
        self
    }

    /// Sets [`password`](Self::password).
    pub fn password(mut self, password: impl Into<Vec<u8>>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Reads the password from a file, without its trailing whitespace (Python 3.14's
    /// `--tls-password-file`: `f.read().strip()`).
    pub fn password_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|e| tls_error(path, e))?;
        let trimmed = text.trim_ascii();
        Ok(self.password(trimmed.to_vec()))
    }

    /// The configuration of the command-line options `--tls-cert CERT [--tls-key KEY]
    /// [--tls-password-file FILE]`: [`new`](Self::new), then [`keyfile`](Self::keyfile) and
    /// [`password_file`](Self::password_file) when given.
    ///
    /// Python: `http.server`'s `--tls-cert`, `--tls-key` and `--tls-password-file` (3.14),
    /// read into `load_cert_chain(certfile, keyfile, password)`.
    #[doc(alias = "ssl.SSLContext.load_cert_chain")]
    pub fn from_files(
        certfile: impl Into<PathBuf>,
        keyfile: Option<impl Into<PathBuf>>,
        password_file: Option<impl AsRef<Path>>,
    ) -> Result<Self> {
        let mut tls = TlsConfig::new(certfile);
        if let Some(key) = keyfile {
            tls = tls.keyfile(key);
        }
        match password_file {
            Some(file) => tls.password_file(file),
            None => Ok(tls),
        }
    }

    /// Sets [`alpn_protocols`](Self::alpn_protocols).
    pub fn alpn_protocols<S: Into<String>>(
        mut self,
        protocols: impl IntoIterator<Item = S>,
    ) -> Self {
        self.alpn_protocols = Some(protocols.into_iter().map(Into::into).collect());
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Loads the certificate chain and the key and checks that they belong together: every
    /// failure is an [`Error::Tls`] naming the file at fault.
    ///
    /// Python: `ssl.create_default_context(Purpose.CLIENT_AUTH)` then
    /// `load_cert_chain(certfile, keyfile, password)` and `set_alpn_protocols`.
    pub fn acceptor(&self) -> Result<TlsAcceptor> {
        let certfile = self.certfile.as_path();
        let cert_pem = std::fs::read(certfile).map_err(|e| tls_error(certfile, e))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| tls_error(certfile, pem_reason(e)))?;
        if certs.is_empty() {
            return Err(tls_error(certfile, "no CERTIFICATE section found"));
        }
        let (keyfile, key_pem) = match &self.keyfile {
            Some(k) => (k.as_path(), std::fs::read(k).map_err(|e| tls_error(k, e))?),
            None => (certfile, cert_pem.clone()),
        };
        let key =
            load_key(&key_pem, self.password.as_deref()).map_err(|r| tls_error(keyfile, r))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(certfile, e))?
            .with_no_client_auth();
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            let what = match e {
                rustls::Error::InconsistentKeys(_) => {
                    format!(
                        "the key in {} does not match the certificate",
                        keyfile.display()
                    )
                }
                other => other.to_string(),
            };
            tls_error(certfile, what)
        })?;
        config.alpn_protocols = self
            .alpn_protocols
            .iter()
            .flatten()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Ok(TlsAcceptor {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// A loaded server configuration: makes one [`TlsStream`] per accepted connection.
///
/// Python: the `SSLContext` an `HTTPSServer` builds in `server_activate`.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Wraps a rustls configuration built by hand (client certificates, other providers).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>, handshake_timeout: Duration) -> Self {
        TlsAcceptor {
            config,
            handshake_timeout,
        }
    }

    /// The rustls configuration every session starts from.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// How long a client has to finish the handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// A server session over `sock`, not yet started: the handshake runs on the first read
    /// or write.
    ///
    /// Python: `SSLContext.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)`.
    pub fn accept<S: Connection>(&self, sock: S) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(Arc::clone(&self.config)).map_err(io::Error::other)?;
        Ok(TlsStream {
            conn,
            sock,
            state: Handshake::Pending,
            handshake_timeout: self.handshake_timeout,
            read_timeout: None,
            write_timeout: None,
        })
    }

    /// A new rustls session (for event loops that drive `read_tls`/`write_tls` themselves).
    pub fn new_session(&self) -> io::Result<ServerConnection> {
        ServerConnection::new(Arc::clone(&self.config)).map_err(io::Error::other)
    }
}

fn tls_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Tls {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn pem_reason(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no PEM section found".to_owned(),
        other => format!("not valid PEM: {other:?}"),
    }
}

const ENCRYPTED_BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";

/// The private key of a PEM file: an `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) decrypted with
/// `password`, else the first `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`.
fn load_key(
    pem_text: &[u8],
    password: Option<&[u8]>,
) -> std::result::Result<PrivateKeyDer<'static>, String> {
    if let Some(start) = find(pem_text, ENCRYPTED_BEGIN) {
        let end = find(&pem_text[start..], ENCRYPTED_END)
            .ok_or("an ENCRYPTED PRIVATE KEY section has no end line")?
            + start
            + ENCRYPTED_END.len();
        let Some(password) = password else {
            return Err("the key is encrypted: a password is needed (--tls-password-file)".into());
        };
        let (_, der) = pkcs8::der::pem::decode_vec(&pem_text[start..end])
            .map_err(|e| format!("not valid PEM: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| format!("not an encrypted PKCS#8 key: {e}"))?;
        let doc = info
            .decrypt(password)
            .map_err(|_| "cannot decrypt the key: wrong password (or a damaged key)".to_owned())?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            doc.as_bytes().to_vec(),
        )));
    }
    if find(pem_text, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(
            "a legacy encrypted PEM key (Proc-Type: 4,ENCRYPTED) is not supported: \
                    convert it with `openssl pkcs8 -topk8`"
                .into(),
        );
    }
    PrivateKeyDer::from_pem_slice(pem_text).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section found".to_owned()
        }
        other => format!("not valid PEM: {other:?}"),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Pending,
    Done,
    Failed,
}

/// A server-side TLS session over a connection; reads and writes plaintext.
///
/// The handshake runs on the first read or write, under the acceptor's handshake timeout.
/// A handshake that fails (a plain-HTTP client, a bad ALPN offer, a client that stays
/// silent past the deadline) makes the stream read as closed (`Ok(0)`) and refuse writes,
/// so the request handler closes the connection cleanly; the failure is logged at debug
/// level. A peer that closes without `close_notify` also reads as the end of the stream
/// (Python's `suppress_ragged_eofs=True`).
///
/// Python: `ssl.SSLSocket` on the server side.
#[doc(alias = "ssl.SSLSocket")]
pub struct TlsStream<S> {
    conn: ServerConnection,
    sock: S,
    state: Handshake,
    handshake_timeout: Duration,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshake", &self.state)
            .field("alpn_protocol", &self.alpn_protocol())
            .finish_non_exhaustive()
    }
}

impl<S: Connection> TlsStream<S> {
    /// Runs the handshake now if it has not run yet; false when it failed.
    ///
    /// Python: `ssl.SSLSocket.do_handshake`.
    pub fn do_handshake(&mut self) -> bool {
        if self.state == Handshake::Pending {
            self.state = match self.handshake() {
                Ok(()) => Handshake::Done,
                Err(e) => {
                    tracing::debug!(error = %e, "tls handshake failed");
                    // Best effort: let the client see the alert rustls queued, then go.
                    let _ = self
                        .sock
                        .set_write_timeout(Some(Duration::from_millis(100)));
                    while self.conn.wants_write() {
                        if self.conn.write_tls(&mut self.sock).unwrap_or(0) == 0 {
                            break;
                        }
                    }
                    let _ = self.sock.shutdown_write();
                    Handshake::Failed
                }
            };
        }
        self.state == Handshake::Done
    }

    fn handshake(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.handshake_timeout;
        while self.conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "tls handshake timed out",
                ));
            }
            self.sock.set_read_timeout(Some(left))?;
            self.sock.set_write_timeout(Some(left))?;
            let (rd, wr) = self.conn.complete_io(&mut self.sock)?;
            if rd == 0 && wr == 0 && self.conn.is_handshaking() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        // Send what is left of the server's flight, then the caller's own timeouts again.
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        self.sock.set_read_timeout(self.read_timeout)?;
        self.sock.set_write_timeout(self.write_timeout)?;
        Ok(())
    }
}

impl<S> TlsStream<S> {
    /// The protocol ALPN chose, if any (Python: `SSLSocket.selected_alpn_protocol`).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// True once the handshake has completed.
    pub fn is_established(&self) -> bool {
        self.state == Handshake::Done
    }

    /// The connection underneath.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }
}

impl<S: Connection> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.do_handshake() {
            return Ok(0);
        }
        match rustls::Stream::new(&mut self.conn, &mut self.sock).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            r => r,
        }
    }
}

impl<S: Connection> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.do_handshake() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "tls handshake failed",
            ));
        }
        rustls::Stream::new(&mut self.conn, &mut self.sock).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.state != Handshake::Done {
            return Ok(());
        }
        rustls::Stream::new(&mut self.conn, &mut self.sock).flush()?;
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}

impl<S: Connection> Connection for TlsStream<S> {
    /// Sends `close_notify`, then half-closes the connection underneath.
    fn shutdown_write(&mut self) -> io::Result<()> {
        if self.state == Handshake::Done {
            self.conn.send_close_notify();
            while self.conn.wants_write() {
                if self.conn.write_tls(&mut self.sock)? == 0 {
                    break;
                }
            }
        }
        self.sock.shutdown_write()
    }
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout = timeout;
        self.sock.set_read_timeout(timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout = timeout;
        self.sock.set_write_timeout(timeout)
    }
    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.sock.set_nodelay(nodelay)
    }
}

/// A listening transport whose connections are TLS sessions: accepts on the transport
/// underneath and hands each connection out as a [`TlsStream`] whose handshake has not
/// started, so accepting never waits on a client.
///
/// Python: the `SSLSocket` that `http.server.HTTPSServer.server_activate` (3.14) puts in
/// place of the listening socket, minus the handshake inside `accept()`.
///
/// ```no_run
/// use socketserver::{TcpConfig, TcpTransport, TlsConfig, TlsTransport, Transport};
/// let acceptor = TlsConfig::new("cert.pem").keyfile("key.pem").acceptor()?;
/// let tcp = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpConfig::default())?;
/// let transport = TlsTransport::new(tcp, acceptor);
/// assert!(transport.server_address().inet().is_some());
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Debug)]
pub struct TlsTransport<T> {
    inner: T,
    acceptor: TlsAcceptor,
}

impl<T: Transport> TlsTransport<T> {
    /// Serves TLS sessions made by `acceptor` over the connections `inner` accepts.
    pub fn new(inner: T, acceptor: TlsAcceptor) -> Self {
        TlsTransport { inner, acceptor }
    }

    /// The transport underneath.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The transport underneath, mutably (for `server_bind`/`server_activate` after
    /// building with `bind_and_activate=False`).
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The loaded configuration.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

impl<T: Transport> Transport for TlsTransport<T> {
    type Conn = TlsStream<T::Conn>;

    fn get_request(&mut self) -> io::Result<Option<(Self::Conn, Address)>> {
        match self.inner.get_request()? {
            Some((conn, addr)) => Ok(Some((self.acceptor.accept(conn)?, addr))),
            None => Ok(None),
        }
    }
    fn server_address(&self) -> Address {
        self.inner.server_address()
    }
    fn fileno(&self) -> Option<RawFd> {
        self.inner.fileno()
    }
    fn socket_timeout(&self) -> Option<Duration> {
        self.inner.socket_timeout()
    }
    fn server_close(&mut self) {
        self.inner.server_close();
    }
}

/// A server TLS session over a non-blocking socket, for the event loops: reads and writes
/// plaintext, and says `WouldBlock` when the socket does (rustls' `read_tls` /
/// `process_new_packets` / `write_tls`, driven by readiness as in rustls' mio example).
///
/// A read fills as much of the caller's buffer as the socket allows and returns short only
/// once the socket said `WouldBlock` (or at the end), so an edge-triggered caller may take a
/// short read as "drained". Encrypted bytes the socket would not take stay queued:
/// [`wants_write`](Self::wants_write) tells, [`flush`](Write::flush) pushes them (or says
/// `WouldBlock`).
pub(crate) struct NonBlockingTls<S: Read + Write> {
    conn: ServerConnection,
    sock: S,
    started: Instant,
    /// The socket reached its end (or a fatal TLS error was seen).
    eof: bool,
    /// Bytes the peer sends in clear before the session starts, while they are being read
    /// or handed out (see `Protocol::clear_preface`).
    clear: Option<ClearBytes>,
}

/// The most clear bytes read while looking for the end of a preface: a PROXY protocol v2
/// header is at most 16 + 65,535 bytes.
const MAX_CLEAR_PREFACE: usize = 16 + 65_535;

/// A clear preface being read, then handed out as the first plaintext.
struct ClearBytes {
    measure: crate::evloop::ClearPreface,
    bytes: Vec<u8>,
    /// Once measured: how many of `bytes` are the preface.
    len: Option<usize>,
    /// How many of them were handed out.
    given: usize,
}

impl<S: Read + Write> std::fmt::Debug for NonBlockingTls<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonBlockingTls")
            .field("handshaking", &self.conn.is_handshaking())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> NonBlockingTls<S> {
    pub(crate) fn new(acceptor: &TlsAcceptor, sock: S) -> io::Result<Self> {
        Ok(NonBlockingTls {
            conn: acceptor.new_session()?,
            sock,
            started: Instant::now(),
            eof: false,
            clear: None,
        })
    }

    /// Reads the bytes `measure` finds at the start of the connection in clear before the
    /// session starts, and hands them out as the first plaintext.
    pub(crate) fn with_clear_preface(mut self, measure: crate::evloop::ClearPreface) -> Self {
        self.clear = Some(ClearBytes {
            measure,
            bytes: Vec::new(),
            len: None,
            given: 0,
        });
        self
    }

    /// The socket underneath (to register it with a poller).
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// The socket underneath (to wait for it with `poll(2)`).
    pub(crate) fn socket(&self) -> &S {
        &self.sock
    }

    /// When the handshake began, while it is not finished.
    pub(crate) fn handshake_started(&self) -> Option<Instant> {
        self.conn.is_handshaking().then_some(self.started)
    }

    /// Encrypted bytes wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes queued records until none is left (`Ok`) or the socket is full (`WouldBlock`).
    fn push(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<S: Read + Write> NonBlockingTls<S> {
    /// The clear preface into `buf`: reads the socket until the preface is measured
    /// (`WouldBlock` before), feeds what follows it to the session, then hands the preface
    /// out. An invalid or endless preface is handed out as it came, and ends the input.
    fn read_clear(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Self {
            conn,
            sock,
            eof,
            clear,
            ..
        } = self;
        let Some(pre) = clear else { return Ok(0) };
        while pre.len.is_none() {
            let mut chunk = [0u8; 1024];
            match sock.read(&mut chunk) {
                Ok(0) => {
                    *eof = true;
                    pre.len = Some(pre.bytes.len());
                }
                Ok(k) => {
                    pre.bytes.extend_from_slice(&chunk[..k]);
                    match (pre.measure)(&pre.bytes) {
                        Preface::Incomplete if pre.bytes.len() <= MAX_CLEAR_PREFACE => {}
                        Preface::Len(len) if len <= pre.bytes.len() => {
                            pre.len = Some(len);
                            // What follows the preface is the start of the session.
                            let mut rest = &pre.bytes[len..];
                            while !rest.is_empty() && !*eof {
                                let fed = conn.read_tls(&mut rest).and_then(|n| {
                                    conn.process_new_packets().map_err(io::Error::other)?;
                                    Ok(n)
                                });
                                match fed {
                                    Ok(0) => break,
                                    Ok(_) => {}
                                    Err(e) => {
                                        tracing::debug!(error = %e, "tls session failed");
                                        *eof = true;
                                    }
                                }
                            }
                        }
                        _ => {
                            *eof = true;
                            pre.len = Some(pre.bytes.len());
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let len = pre.len.unwrap_or(0);
        let take = (len - pre.given).min(buf.len());
        buf[..take].copy_from_slice(&pre.bytes[pre.given..pre.given + take]);
        pre.given += take;
        if pre.given == len {
            *clear = None;
        }
        Ok(take)
    }

    /// Plaintext already decrypted, into `buf`, without touching the socket.
    fn drain_plaintext(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.conn.reader().read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
            }
        }
        Ok(n)
    }
}

/// A socket reader that notes whether the last read returned less than asked.
struct Probe<'a, S> {
    sock: &'a mut S,
    short: bool,
}

impl<S: Read> Read for Probe<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.short = n > 0 && n < buf.len();
        Ok(n)
    }
}

impl<S: Read + Write> Read for NonBlockingTls<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        if self.clear.is_some() {
            n = self.read_clear(buf)?;
            if n == buf.len() {
                return Ok(n);
            }
        }
        loop {
            while n < buf.len() {
                match self.conn.reader().read(&mut buf[n..]) {
                    // close_notify: the clean end.
                    Ok(0) => return Ok(n),
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The peer closed without close_notify: the end all the same.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(n),
                    Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
                }
            }
            if n == buf.len() || self.eof {
                return Ok(n);
            }
            // Handshake answers (and alerts) go out before more is read.
            match self.push() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
            }
            let mut probe = Probe {
                sock: &mut self.sock,
                short: false,
            };
            let got = self.conn.read_tls(&mut probe);
            let drained = probe.short;
            match got {
                Ok(0) => self.eof = true,
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        // A plain-HTTP client, a bad record, no common ALPN protocol: send
                        // the alert if the socket takes it, then report the end.
                        let _ = self.push();
                        self.eof = true;
                        tracing::debug!(error = %e, "tls session failed");
                        return if n > 0 {
                            Ok(n)
                        } else {
                            Err(io::Error::new(io::ErrorKind::InvalidData, e))
                        };
                    }
                    if drained {
                        // The socket gave less than asked: it is empty now, so another
                        // read would only say WouldBlock (a syscall per request saved).
                        n += self.drain_plaintext(&mut buf[n..])?;
                        // Handshake answers go out now; what the socket refuses waits for
                        // its next writable edge.
                        match self.push() {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
                        }
                        return if n > 0 {
                            Ok(n)
                        } else {
                            Err(io::ErrorKind::WouldBlock.into())
                        };
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if n > 0 { Ok(n) } else { Err(e) };
                }
                Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
            }
        }
    }
}

impl<S: Read + Write> Write for NonBlockingTls<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Take no more plaintext while earlier records wait for the socket: rustls' queue
        // stays about one write long.
        self.push()?;
        let n = self.conn.writer().write(buf)?;
        match self.push() {
            Ok(()) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push()
    }
}

impl<S: Read + Write> Drop for NonBlockingTls<S> {
    fn drop(&mut self) {
        // Best effort, never blocking (the socket is non-blocking): tell an established
        // peer the session ends.
        if !self.conn.is_handshaking() && !self.eof {
            self.conn.send_close_notify();
            let _ = self.conn.write_tls(&mut self.sock);
        }
    }
}

#[cfg(test)]
mod tests;
