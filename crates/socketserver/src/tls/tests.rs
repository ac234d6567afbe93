//! Unit tests of key loading's refusals (the handshake is tested over sockets in
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
