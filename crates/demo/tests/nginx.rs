//! A real nginx (the Debian package) in front of the `demo` binary, on loopback: upstreams
//! over TCP and over a Unix socket with keep-alive, the client's address through
//! `--trusted-proxy`, a 20 MiB upload, a chunked response, and no 502 across a graceful
//! restart of the demo, nor across reloads of its supervisor (`--workers`, SIGHUP).
//!
//! nginx runs as the current user from a temporary directory (config, pid, logs and temp
//! paths inside it) with `-p DIR -c DIR/nginx.conf -g 'daemon off;'`. When nginx is not
//! installed the tests print a skip note, and fail when `CI` is set (`.ci/run` installs it).

#![allow(
    clippy::print_stderr,
    reason = "the skip note when nginx is missing goes to the test's stderr"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const DEMO: &str = env!("CARGO_BIN_EXE_demo");
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The nginx binary, or `None` (with a note) when it is missing outside CI.
fn nginx_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is not installed (CI is set: `.ci/run` installs the Debian package `nginx`)"
        );
        eprintln!("note: nginx is not installed; skipping the nginx tests (apt-get install nginx)");
    }
    found
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pyserve-nginx-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop.
struct Proc(Child);

impl Proc {
    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound, then released for nginx to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `demo` with `args` (stderr to `log`), waits for its banner and returns it.
fn start_demo(args: &[&str], log: &Path) -> (Proc, String) {
    let mut child = Command::new(DEMO)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("demo {args:?} printed no banner"));
    assert!(banner.starts_with("Serving HTTP on "), "{banner:?}");
    (Proc(child), banner.trim().to_owned())
}

/// The port of a banner (`Serving HTTP on 127.0.0.1 port 41234 ...`).
fn banner_port(banner: &str) -> u16 {
    banner.split(' ').nth(5).unwrap().parse().unwrap()
}

/// Waits until a Unix socket accepts connections.
fn wait_unix(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never listened",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Nginx {
    proc: Proc,
    port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx in `dir` with `upstreams` (`name` -> `server ...;` lines) and
    /// `locations` (`location` blocks).
    fn start(bin: &Path, dir: &Path, upstreams: &str, locations: &str) -> Nginx {
        let port = free_port();
        let d = dir.display();
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let user = if root { "user root;" } else { "" };
        let conf = format!(
            r#"{user}
worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$status $upstream_status $request_method $request_uri';
    access_log {d}/access.log upstream;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 32m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_read_timeout 20s;
{upstreams}
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"#
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = proc.0.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "nginx never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            proc,
            port,
            dir: dir.to_owned(),
        }
    }

    /// The statuses nginx logged (`status upstream_status method uri` lines).
    fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.proc.terminate();
        self.proc.wait_exit(Duration::from_secs(5));
    }
}

/// A response as the client saw it.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a new connection (from `from`, a loopback address, when given),
/// `Connection: close`; the body decoded (Content-Length, chunked or until close).
fn request(
    port: u16,
    from: Option<&str>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    let stream = match from {
        Some(ip) => {
            use socket2::{Domain, Socket, Type};
            let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            let local: SocketAddr = format!("{ip}:0").parse().unwrap();
            s.bind(&local.into())?;
            s.connect_timeout(&to.into(), IO_TIMEOUT)?;
            TcpStream::from(s)
        }
        None => TcpStream::connect_timeout(&to, IO_TIMEOUT)?,
    };
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut w = &stream;
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    let mut r = BufReader::new(&stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed in the head"));
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let mut resp = Response {
        status,
        head,
        body: Vec::new(),
    };
    if resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size:?}")))?;
            if n == 0 {
                break;
            }
            let start = resp.body.len();
            resp.body.resize(start + n, 0);
            r.read_exact(&mut resp.body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = resp.header("Content-Length") {
        let n: usize = n.parse().map_err(std::io::Error::other)?;
        resp.body.resize(n, 0);
        r.read_exact(&mut resp.body)?;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

/// The connections (client ports) that reached the demo, from its JSON access log.
fn upstream_connections(log: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"target\":\"http_server::access\""))
        .filter_map(|l| {
            let start = l.find("\"client\":\"")? + 10;
            let end = l[start..].find('"')?;
            Some(l[start..start + end].to_owned())
        })
        .collect()
}

const PROXY_LOCATIONS: &str = r#"
        location /unix/ { proxy_pass http://unix_app/; }
        location / { proxy_pass http://tcp_app; }
"#;

#[test]
fn tcp_and_unix_upstreams_keep_alive_and_the_client_address() {
    let Some(bin) = nginx_binary() else { return };
    let tmp = TempDir::new("addr");
    let tcp_log = tmp.0.join("demo-tcp.log");
    let sock = tmp.0.join("demo.sock");
    let common = [
        "--threads",
        "1",
        "--trusted-proxy",
        "127.0.0.1,unix",
        "--access-log",
        "json",
    ];
    let (_tcp, banner) = start_demo(
        &[&common[..], &["--host", "127.0.0.1", "--port", "0"]].concat(),
        &tcp_log,
    );
    let tcp_port = banner_port(&banner);
    let (_unix, _) = start_demo(
        &[&common[..], &["--unix", sock.to_str().unwrap()]].concat(),
        &tmp.0.join("demo-unix.log"),
    );
    wait_unix(&sock);
    let upstreams = format!(
        "    upstream tcp_app {{ server 127.0.0.1:{tcp_port}; keepalive 4; }}\n    \
         upstream unix_app {{ server unix:{}; keepalive 4; }}\n",
        sock.display()
    );
    let nginx = Nginx::start(&bin, &tmp.0, &upstreams, PROXY_LOCATIONS);

    // The client connects from 127.0.0.2; nginx connects to the demo from 127.0.0.1 and
    // appends the client to X-Forwarded-For, which the middleware trusts from 127.0.0.1.
    let r = request(nginx.port, Some("127.0.0.2"), "GET", "/xyz?abc", &[], b"").unwrap();
    let t = r.text();
    assert_eq!(r.status, 200, "{t}");
    assert!(t.starts_with("Hello world!\n\n"), "{t}");
    assert!(t.contains("\nREMOTE_ADDR = '127.0.0.2'\n"), "{t}");
    assert!(t.contains("\nHTTP_X_FORWARDED_FOR = '127.0.0.2'\n"), "{t}");
    assert!(
        t.contains("\ngateway.proxy_fix.orig = {'REMOTE_ADDR': '127.0.0.1', "),
        "{t}"
    );
    assert!(t.contains("\nPATH_INFO = '/xyz'\n"), "{t}");
    // A spoofed X-Forwarded-For from the client is not believed.
    let r = request(
        nginx.port,
        Some("127.0.0.2"),
        "GET",
        "/",
        &[("X-Forwarded-For", "6.6.6.6")],
        b"",
    )
    .unwrap();
    let t = r.text();
    assert!(t.contains("\nREMOTE_ADDR = '127.0.0.2'\n"), "{t}");
    assert!(
        t.contains("\nHTTP_X_FORWARDED_FOR = '6.6.6.6, 127.0.0.2'\n"),
        "{t}"
    );
    // Over the Unix socket: the peer has no address; `unix` is trusted.
    let r = request(nginx.port, Some("127.0.0.2"), "GET", "/unix/u", &[], b"").unwrap();
    let t = r.text();
    assert_eq!(r.status, 200, "{t}");
    assert!(t.contains("\nREMOTE_ADDR = '127.0.0.2'\n"), "{t}");
    assert!(t.contains("\nPATH_INFO = '/u'\n"), "{t}");
    assert!(
        t.contains("\ngateway.proxy_fix.orig = {'REMOTE_ADDR': '', "),
        "{t}"
    );

    // Upstream keep-alive: 30 sequential requests reuse nginx's connection to the demo.
    for i in 0..30 {
        let r = request(nginx.port, None, "GET", &format!("/k{i}"), &[], b"").unwrap();
        assert_eq!(r.status, 200);
    }
    let conns = upstream_connections(&tcp_log);
    assert!(
        !conns.is_empty() && conns.len() <= 3,
        "32 requests over {} upstream connections: {conns:?}",
        conns.len()
    );
    assert!(
        nginx.access_log().iter().all(|l| l.starts_with("200 200 ")),
        "{:?}",
        nginx.access_log()
    );
}

/// FNV-1a 64, as `demo --app stream` hashes uploads.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn upload_of_20_mib_and_a_chunked_response() {
    let Some(bin) = nginx_binary() else { return };
    let tmp = TempDir::new("big");
    let sock = tmp.0.join("stream.sock");
    let (_tcp, banner) = start_demo(
        &[
            "--threads",
            "1",
            "--app",
            "stream",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        &tmp.0.join("demo-tcp.log"),
    );
    let tcp_port = banner_port(&banner);
    let (_unix, _) = start_demo(
        &[
            "--threads",
            "1",
            "--app",
            "stream",
            "--unix",
            sock.to_str().unwrap(),
        ],
        &tmp.0.join("demo-unix.log"),
    );
    wait_unix(&sock);
    let upstreams = format!(
        "    upstream tcp_app {{ server 127.0.0.1:{tcp_port}; keepalive 4; }}\n    \
         upstream unix_app {{ server unix:{}; keepalive 4; }}\n",
        sock.display()
    );
    let nginx = Nginx::start(&bin, &tmp.0, &upstreams, PROXY_LOCATIONS);

    let upload: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expected = format!("{} {:016x}\n", upload.len(), fnv1a(&upload));
    for prefix in ["/", "/unix/"] {
        let r = request(nginx.port, None, "POST", prefix, &[], &upload).unwrap();
        assert_eq!((r.status, r.text()), (200, expected.clone()), "{prefix}");
    }

    // The demo answers a GET of unknown length chunked; nginx passes it on chunked.
    let direct = request(tcp_port, None, "GET", "/?size=3000000", &[], b"").unwrap();
    assert_eq!(direct.header("Transfer-Encoding"), Some("chunked"));
    let want: Vec<u8> = (0..3_000_000usize).map(|i| (i % 251) as u8).collect();
    assert!(direct.body == want);
    for prefix in ["/", "/unix/"] {
        let r = request(
            nginx.port,
            None,
            "GET",
            &format!("{prefix}?size=3000000"),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Transfer-Encoding"), Some("chunked"), "{}", r.head);
        assert!(r.body == want, "{prefix}: {} bytes", r.body.len());
    }
    let log = nginx.access_log();
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log.iter().all(|l| l.starts_with("200 200 ")), "{log:?}");
}

#[test]
fn graceful_restart_behind_nginx_loses_no_request() {
    let Some(bin) = nginx_binary() else { return };
    let tmp = TempDir::new("restart");
    let port = free_port().to_string();
    let args = [
        "--threads",
        "1",
        "--app",
        "hello",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];
    let (mut old, _) = start_demo(&args, &tmp.0.join("demo-old.log"));
    let upstreams = format!(
        "    upstream tcp_app {{ server 127.0.0.1:{port}; keepalive 4; }}\n    \
         upstream unix_app {{ server 127.0.0.1:{port}; }}\n"
    );
    let nginx = Nginx::start(&bin, &tmp.0, &upstreams, PROXY_LOCATIONS);
    let nginx_port = nginx.port;

    // Two clients loop until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut other) = (0usize, Vec::new());
                while !stop.load(Ordering::SeqCst) {
                    match request(nginx_port, None, "GET", "/", &[], b"") {
                        Ok(r) if r.status == 200 && r.body == b"Hello world!\n" => ok += 1,
                        Ok(r) => other.push(format!("{} {}", r.status, r.text())),
                        Err(e) => other.push(e.to_string()),
                    }
                }
                (ok, other)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The new demo joins the port (`--reuse-port`: SO_REUSEPORT, which the old one's
    // per-loop listeners have), then the old one stops gracefully.
    let joining = [&args[..], &["--reuse-port"]].concat();
    let (_new, _) = start_demo(&joining, &tmp.0.join("demo-new.log"));
    std::thread::sleep(Duration::from_millis(200));
    old.terminate();
    assert!(
        old.wait_exit(Duration::from_secs(10)),
        "the old demo did not stop"
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failures) = (0, Vec::new());
    for c in clients {
        let (o, f) = c.join().unwrap();
        ok += o;
        failures.extend(f);
    }
    let log = nginx.access_log();
    let bad: Vec<&String> = log.iter().filter(|l| !l.starts_with("200 ")).collect();
    let new_served = std::fs::read_to_string(tmp.0.join("demo-new.log"))
        .unwrap_or_default()
        .matches("\"GET / HTTP/1.1\" 200")
        .count();
    assert!(
        bad.is_empty() && failures.is_empty(),
        "{} of {} requests failed across the restart: {bad:?} {failures:?}",
        bad.len(),
        log.len()
    );
    assert!(ok > 20, "only {ok} requests");
    assert!(new_served > 0, "the new demo served nothing");
    eprintln!(
        "graceful restart: {ok} requests, {} in nginx's log, 0 failed; the new demo served {new_served}",
        log.len()
    );
}

#[test]
fn supervisor_reload_behind_nginx_loses_no_request() {
    let Some(bin) = nginx_binary() else { return };
    let tmp = TempDir::new("reload");
    let sock = tmp.0.join("demo.sock");
    let log = tmp.0.join("demo.log");
    let sock_arg = format!("--unix={}", sock.display());
    let args = [
        "--workers",
        "2",
        "--threads",
        "1",
        "--app",
        "hello",
        &sock_arg,
    ];
    let (demo, _) = start_demo(&args, &log);
    wait_unix(&sock);
    let upstreams = format!(
        "    upstream tcp_app {{ server unix:{s}; keepalive 4; }}\n    \
         upstream unix_app {{ server unix:{s}; }}\n",
        s = sock.display()
    );
    let nginx = Nginx::start(&bin, &tmp.0, &upstreams, PROXY_LOCATIONS);
    let nginx_port = nginx.port;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut other) = (0usize, Vec::new());
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
                    match request(nginx_port, None, "GET", "/", &[], b"") {
                        Ok(r) if r.status == 200 && r.body == b"Hello world!\n" => ok += 1,
                        Ok(r) => other.push(format!("{} {}", r.status, r.text())),
                        Err(e) => other.push(e.to_string()),
                    }
                }
                (ok, other)
            })
        })
        .collect();
    // Three reloads (SIGHUP to the supervisor), each waited for.
    let pid = rustix::process::Pid::from_raw(demo.0.id() as i32).unwrap();
    for i in 1..=3 {
        std::thread::sleep(Duration::from_millis(300));
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("reload complete")
            .count()
            < i
        {
            assert!(Instant::now() < deadline, "reload {i} did not complete");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failures) = (0, Vec::new());
    for c in clients {
        let (o, f) = c.join().unwrap();
        ok += o;
        failures.extend(f);
    }
    let nginx_log = nginx.access_log();
    let bad: Vec<&String> = nginx_log
        .iter()
        .filter(|l| !l.starts_with("200 "))
        .collect();
    assert!(
        bad.is_empty() && failures.is_empty(),
        "{} of {} requests failed across the reloads: {bad:?} {failures:?}",
        bad.len(),
        nginx_log.len()
    );
    assert!(ok > 20, "only {ok} requests");
    eprintln!(
        "supervisor reload x3 behind nginx: {ok} requests, {} in nginx's log, 0 failed",
        nginx_log.len()
    );
}
