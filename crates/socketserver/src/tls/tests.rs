//! Unit tests of key loading's refusals and of the event loops' session with a clear preface,
//! over a socket in memory (the handshake is tested over real sockets in
//! `tests/tls.rs`).

use super::*;

#[test]
fn no_key_section_is_named() {
    let e = load_key(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        None,
    )
    .unwrap_err();
    assert!(e.contains("no PRIVATE KEY"), "{e}");
    let e = load_key(b"", None).unwrap_err();
    assert!(e.contains("no PRIVATE KEY"), "{e}");
}

#[test]
fn encrypted_key_needs_a_password() {
    let pem = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let e = load_key(pem, None).unwrap_err();
    assert!(e.contains("a password is needed"), "{e}");
    let e = load_key(pem, Some(b"pw")).unwrap_err();
    assert!(e.contains("not"), "{e}");
}

#[test]
fn legacy_encrypted_pem_is_refused_with_the_fix() {
    let pem = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let e = load_key(pem, Some(b"pw")).unwrap_err();
    assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
}

#[test]
fn missing_certfile_is_named() {
    let e = TlsConfig::new("/nonexistent/cert.pem")
        .acceptor()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }));
    assert!(e.to_string().starts_with("/nonexistent/cert.pem: "), "{e}");
}

#[test]
fn password_is_not_in_debug_output() {
    let c = TlsConfig::new("c.pem").password("hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));
}

/// A non-blocking socket in memory: reads what the test queued (`WouldBlock` when none is
/// queued, the end once `closed`), keeps what is written.
#[derive(Default)]
struct MemSocket {
    rx: std::collections::VecDeque<u8>,
    tx: Vec<u8>,
    closed: bool,
}

impl Read for MemSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rx.is_empty() {
            return if self.closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        self.rx.read(buf)
    }
}

impl Write for MemSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The clear preface of the tests: a line ending in CRLF.
fn line_preface(input: &[u8]) -> Preface {
    match input.iter().position(|&b| b == b'\n') {
        _ if !input.starts_with(b"PROXY"[..input.len().min(5)].as_ref()) => Preface::Invalid,
        Some(i) => Preface::Len(i + 1),
        None => Preface::Incomplete,
    }
}

/// A session over an empty in-memory socket, expecting [`line_preface`].
fn preface_session(acceptor: &TlsAcceptor) -> NonBlockingTls<MemSocket> {
    NonBlockingTls::new(acceptor, MemSocket::default())
        .unwrap()
        .with_clear_preface(line_preface)
}

fn test_pki() -> (crate::testing::TestPki, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "socketserver-clear-preface-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    (crate::testing::TestPki::generate(&dir).unwrap(), dir)
}

fn client(pki: &crate::testing::TestPki) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(&pki.ca_cert).unwrap();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}

/// Reads the server's plaintext until `WouldBlock`, with a small buffer (so the preface
/// and the request are handed out over several reads).
fn drain(server: &mut NonBlockingTls<MemSocket>, got: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 7];
    loop {
        match server.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_clear_preface_comes_first_then_the_session_decrypts() {
    let (pki, dir) = test_pki();
    let acceptor = TlsConfig::new(&pki.cert)
        .keyfile(&pki.key)
        .acceptor()
        .unwrap();
    // The preface and the ClientHello in one segment; then the preface byte by byte.
    for split in [false, true] {
        let mut server = preface_session(&acceptor);
        let mut client = client(&pki);
        let preface = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n";
        let mut got = Vec::new();
        if split {
            for &b in preface.iter() {
                server.socket_mut().rx.push_back(b);
                assert!(!drain(&mut server, &mut got));
            }
            assert_eq!(got, preface);
        } else {
            server.socket_mut().rx.extend(preface);
        }
        client
            .writer()
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .unwrap();
        for _ in 0..10 {
            let mut hello = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut hello).unwrap();
            }
            server.socket_mut().rx.extend(hello);
            assert!(!drain(&mut server, &mut got));
            let answer = std::mem::take(&mut server.socket_mut().tx);
            if !answer.is_empty() {
                client.read_tls(&mut answer.as_slice()).unwrap();
                client.process_new_packets().unwrap();
            }
        }
        assert!(!client.is_handshaking());
        let mut expected = preface.to_vec();
        expected.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(got, expected, "split {split}");
        // The answer goes back encrypted.
        server.write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        let answer = std::mem::take(&mut server.socket_mut().tx);
        client.read_tls(&mut answer.as_slice()).unwrap();
        client.process_new_packets().unwrap();
        let mut plain = Vec::new();
        let _ = client.reader().read_to_end(&mut plain);
        assert_eq!(plain, b"HTTP/1.1 200 OK\r\n\r\n");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_invalid_or_unfinished_preface_is_handed_out_and_ends_the_input() {
    let (pki, dir) = test_pki();
    let acceptor = TlsConfig::new(&pki.cert)
        .keyfile(&pki.key)
        .acceptor()
        .unwrap();
    // A TLS ClientHello where the preface should be: not a preface.
    let mut server = preface_session(&acceptor);
    let mut hello = Vec::new();
    client(&pki).write_tls(&mut hello).unwrap();
    server.socket_mut().rx.extend(&hello);
    let mut got = Vec::new();
    assert!(drain(&mut server, &mut got), "the input ends");
    assert_eq!(got, hello);
    assert!(server.socket_mut().tx.is_empty(), "no handshake answer");
    // A preface cut by the end of the connection.
    let mut server = preface_session(&acceptor);
    server.socket_mut().rx.extend(b"PROXY TCP4");
    server.socket_mut().closed = true;
    let mut got = Vec::new();
    assert!(drain(&mut server, &mut got));
    assert_eq!(got, b"PROXY TCP4");
    // A preface that never ends stops at the cap.
    let mut server = preface_session(&acceptor);
    server.socket_mut().rx.extend(b"PROXY");
    server
        .socket_mut()
        .rx
        .extend(vec![b'x'; MAX_CLEAR_PREFACE + 10]);
    let mut got = Vec::new();
    assert!(drain(&mut server, &mut got));
    assert!(got.len() > MAX_CLEAR_PREFACE && got.len() <= MAX_CLEAR_PREFACE + 1024);
    let _ = std::fs::remove_dir_all(dir);
}
