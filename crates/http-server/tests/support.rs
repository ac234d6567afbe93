//! Shared helpers: temporary directories, loopback clients, servers on ephemeral ports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_server::{HttpConfig, HttpHandler, HttpHooks};
use socketserver::{HandlerCx, ShutdownHandle};

/// A directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "http-server-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A threading server running on 127.0.0.1, stopped on drop.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

pub(crate) fn serve<F, H>(factory: F, config: HttpConfig) -> Running
where
    F: Fn(&HandlerCx<'_>) -> H + Send + Sync + 'static,
    H: HttpHandler + 'static,
{
    let mut server = HttpHooks::new(factory)
        .config(config)
        .threading_server("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let addr = server.server_address().inet().unwrap();
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(50)).unwrap();
        server.server_close();
    });
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends raw bytes and reads until the server closes (5 s at most).
pub(crate) fn raw_request(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// `python3 -m http.server` on 127.0.0.1, an ephemeral port, over `dir`.
pub(crate) struct PyServer {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl PyServer {
    pub(crate) fn start(dir: &Path) -> Option<PyServer> {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "-d"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdout = child.stdout.take()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut banner = Vec::new();
        let mut byte = [0u8; 1];
        while Instant::now() < deadline && !banner.ends_with(b"\n") {
            match stdout.read(&mut byte) {
                Ok(1) => banner.push(byte[0]),
                _ => break,
            }
        }
        let banner = String::from_utf8_lossy(&banner).into_owned();
        let port: u16 = banner
            .split(" port ")
            .nth(1)?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        Some(PyServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
