//! Throwaway certificates for TLS tests, made with the `openssl` command: a CA, and a
//! server certificate for `localhost` and `127.0.0.1` under each kind of key the loader
//! reads.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A test CA and server certificates signed by it, written under a directory; valid two
/// days, never worth anything outside the test that made them.
///
/// Needs the `openssl` command (Debian's `openssl` package).
///
/// ```no_run
/// let dir = std::env::temp_dir().join("pki-doc");
/// let pki = socketserver::testing::TestPki::generate(&dir)?;
/// let acceptor = socketserver::TlsConfig::new(&pki.cert).keyfile(&pki.key).acceptor();
/// assert!(acceptor.is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate clients trust (`--cacert`, `cafile=`).
    pub ca_cert: PathBuf,
    /// The server certificate (EC P-256) for `localhost` and `127.0.0.1`.
    pub cert: PathBuf,
    /// Its key, unencrypted PKCS#8 (`PRIVATE KEY`).
    pub key: PathBuf,
    /// The same key as SEC1 (`EC PRIVATE KEY`).
    pub key_sec1: PathBuf,
    /// The same key, encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2, AES-256-CBC) under
    /// [`password`](Self::password).
    pub key_encrypted: PathBuf,
    /// The password of [`key_encrypted`](Self::key_encrypted).
    pub password: String,
    /// A file holding [`password`](Self::password) and a newline.
    pub password_file: PathBuf,
    /// A second server certificate, for an RSA key.
    pub rsa_cert: PathBuf,
    /// Its key, PKCS#1 (`RSA PRIVATE KEY`).
    pub rsa_key_pkcs1: PathBuf,
    /// The certificate and the PKCS#8 key in one file.
    pub combined: PathBuf,
    /// The certificate and the encrypted key in one file (CPython's `keycert.passwd.pem`).
    pub combined_encrypted: PathBuf,
}

impl TestPki {
    /// Generates the files under `dir` (created if missing).
    pub fn generate(dir: &Path) -> io::Result<TestPki> {
        std::fs::create_dir_all(dir)?;
        let p = |name: &str| dir.join(name);
        let ext = p("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )?;
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        openssl(&[&["genpkey"][..], &ec, &["-out", s(&p("ca.key"))]].concat())?;
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            s(&p("ca.key")),
            "-out",
            s(&p("ca.pem")),
            "-days",
            "2",
            "-subj",
            "/CN=pyserve test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])?;
        let sign = |key: &Path, cert: &Path, serial: &str| -> io::Result<()> {
            let csr = cert.with_extension("csr");
            openssl(&[
                "req",
                "-new",
                "-key",
                s(key),
                "-subj",
                "/CN=localhost",
                "-out",
                s(&csr),
            ])?;
            openssl(&[
                "x509",
                "-req",
                "-in",
                s(&csr),
                "-CA",
                s(&p("ca.pem")),
                "-CAkey",
                s(&p("ca.key")),
                "-set_serial",
                serial,
                "-days",
                "2",
                "-extfile",
                s(&ext),
                "-out",
                s(cert),
            ])
        };
        openssl(&[&["genpkey"][..], &ec, &["-out", s(&p("key.pem"))]].concat())?;
        sign(&p("key.pem"), &p("cert.pem"), "2")?;
        openssl(&["ec", "-in", s(&p("key.pem")), "-out", s(&p("key-sec1.pem"))])?;
        let password = "correct horse battery staple".to_owned();
        openssl(&[
            "pkcs8",
            "-topk8",
            "-in",
            s(&p("key.pem")),
            "-out",
            s(&p("key-encrypted.pem")),
            "-v2",
            "aes-256-cbc",
            "-passout",
            &format!("pass:{password}"),
        ])?;
        std::fs::write(p("password.txt"), format!("{password}\n"))?;
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            s(&p("rsa.pem")),
        ])?;
        openssl(&[
            "rsa",
            "-in",
            s(&p("rsa.pem")),
            "-traditional",
            "-out",
            s(&p("rsa-pkcs1.pem")),
        ])?;
        sign(&p("rsa.pem"), &p("rsa-cert.pem"), "3")?;
        let mut combined = std::fs::read(p("cert.pem"))?;
        combined.extend(std::fs::read(p("key.pem"))?);
        std::fs::write(p("combined.pem"), combined)?;
        let mut combined = std::fs::read(p("cert.pem"))?;
        combined.extend(std::fs::read(p("key-encrypted.pem"))?);
        std::fs::write(p("combined-encrypted.pem"), combined)?;
        Ok(TestPki {
            ca_cert: p("ca.pem"),
            cert: p("cert.pem"),
            key: p("key.pem"),
            key_sec1: p("key-sec1.pem"),
            key_encrypted: p("key-encrypted.pem"),
            password,
            password_file: p("password.txt"),
            rsa_cert: p("rsa-cert.pem"),
            rsa_key_pkcs1: p("rsa-pkcs1.pem"),
            combined: p("combined.pem"),
            combined_encrypted: p("combined-encrypted.pem"),
        })
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn openssl(args: &[&str]) -> io::Result<()> {
    let out = Command::new("openssl").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
