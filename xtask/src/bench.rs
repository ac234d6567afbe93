//! `cargo xtask bench [--quick]`: end-to-end benchmarks against anchor servers, in one run.
//! `cargo xtask bench python [--quick]`: the Python host's scenarios (see `bench/python.rs`).
//! `--rounds N` runs N alternated rounds instead of three (one with `--quick`).
//!
//! Load generator: `wrk` (Debian package, installed when missing), pinned to core 0 with the
//! server on core 1 (`taskset`), as in `shared/design/performance.md`: on a 2-core machine
//! that keeps the client from stealing the server's core. Each server pair runs alternately
//! (A B A B ...) for several rounds; the table shows medians and ratios against the anchor
//! measured in the same run, because absolute numbers drift on a shared machine.
//!
//! Anchors are built from crates.io in a scratch directory outside the repository
//! (`$TMPDIR/pyserve-bench-anchors`): a tiny_http hello server (4 threads), a hyper 1.x +
//! tokio hello server (2 workers), and the same hyper server behind tokio-rustls (ring
//! provider) for the HTTPS scenarios, which use one throwaway certificate made with the
//! `openssl` command for both servers. `--tls-only` runs just the HTTPS scenarios and the
//! idle TLS connections. Python's `wsgiref.simple_server` and `http.server` run
//! from the machine's python3.
//!
//! `keep-alive hello, pipelined 16` sends 16 requests per write on each connection (a wrk
//! Lua script written to `target/bench/pipeline.lua`), as HTTP/1.1 pipelining clients and
//! TechEmpower's plaintext test do; wrk reports no latency percentiles for it.
//!
//! Every server runs with `RUST_LOG=warn` (no access lines), but for the scenario
//! `keep-alive hello, access log on`, which compares `demo --app hello` with itself writing
//! the buffered access log (`--access-logfile`, `RUST_LOG=info`) in the same run.
//!
//! Output: a table on stdout, raw runs as JSON in `target/bench/runs.json`, a Markdown summary
//! in `target/bench/summary.md` and an SVG bar chart in `target/bench/rps.svg`.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{cargo, run_step};

mod python;

const TINY_HTTP_MAIN: &str = r#"
use std::io::Cursor;
fn main() {
    let port: u16 = std::env::args().nth(1).unwrap().parse().unwrap();
    let server = std::sync::Arc::new(tiny_http::Server::http(("127.0.0.1", port)).unwrap());
    let mut threads = Vec::new();
    for _ in 0..4 {
        let s = server.clone();
        threads.push(std::thread::spawn(move || {
            for rq in s.incoming_requests() {
                let h = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/plain"[..]).unwrap();
                let _ = rq.respond(tiny_http::Response::new(200.into(), vec![h], Cursor::new(b"Hello world!\n".to_vec()), Some(13), None));
            }
        }));
    }
    for t in threads { let _ = t.join(); }
}
"#;

const HYPER_MAIN: &str = r#"
use std::convert::Infallible;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"Hello world!\n")));
    r.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    Ok(r)
}
fn main() {
    let port: u16 = std::env::args().nth(1).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello)).await;
            });
        }
    });
}
"#;

/// The TLS anchor: the hyper hello server above behind tokio-rustls (ring provider, ALPN
/// `http/1.1`), with the same certificate and key as ours.
const HYPER_TLS_MAIN: &str = r#"
use std::convert::Infallible;
use std::sync::Arc;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"Hello world!\n")));
    r.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    Ok(r)
}
fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().unwrap().parse().unwrap();
    let (cert, key) = (args.next().unwrap(), args.next().unwrap());
    let certs = CertificateDer::pem_file_iter(&cert).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions().unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key).unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tls), service_fn(hello)).await;
                }
            });
        }
    });
}
"#;

/// Holds N idle TLS keep-alive connections (each after one request) until stdin closes.
const PY_TLS_IDLE: &str = r#"
import socket, ssl, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conns, answered = [], 0
for _ in range(n):
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        if s.recv(4096):
            answered += 1
        conns.append(s)
    except OSError:
        break
print(answered, flush=True)
sys.stdin.read()
"#;

const PY_WSGI: &str = r#"
import sys
from wsgiref.simple_server import make_server, demo_app, WSGIRequestHandler
class Quiet(WSGIRequestHandler):
    def log_message(self, *a): pass
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello world!\n"]
app = demo_app if sys.argv[2] == "demo" else hello
make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=Quiet).serve_forever()
"#;

const PY_HTTP: &str = r#"
import sys, functools, http.server
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
h = functools.partial(Quiet, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), h).serve_forever()
"#;

struct Opts {
    quick: bool,
    duration: u32,
    rounds: usize,
    connections: u32,
}

#[derive(Clone)]
struct Server {
    name: &'static str,
    cmd: Vec<String>,
    port: u16,
    /// Speaks HTTPS (wrk's URL scheme).
    tls: bool,
}

#[derive(Clone, Debug, Default)]
struct Run {
    server: String,
    scenario: String,
    round: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_req: f64,
    errors: u64,
    kib_per_idle_conn: f64,
    threads: u64,
}

/// Entry point of `cargo xtask bench`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    // Only the HTTPS scenarios (and the idle TLS connections), for a short look.
    let tls_only = args.iter().any(|a| a == "--tls-only");
    if args.iter().any(|a| a == "--anchors-only") {
        let bin = build_anchors()?;
        eprintln!("xtask: anchors built in {}", bin.display());
        return Ok(());
    }
    // `--rounds N`: more alternated rounds, for a noisy host (the medians settle).
    let rounds = match args.iter().position(|a| a == "--rounds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .ok_or("--rounds takes a positive number")?,
        None if quick => 1,
        None => 3,
    };
    let opts = Opts {
        quick,
        duration: if quick { 2 } else { 5 },
        rounds,
        connections: 50,
    };
    ensure_tools()?;
    if args.iter().any(|a| a == "python") {
        return python::run(root, &opts);
    }
    run_step(
        "build ours",
        cargo().args(["build", "--release", "-p", "demo"]),
    )?;
    // The command needs its feature (`pkg/feature` beside a second `-p` does not build it).
    run_step(
        "build http-server",
        cargo().args([
            "build",
            "--release",
            "-p",
            "pyserve-http-server",
            "--features",
            "cli",
        ]),
    )?;
    let release = target_dir(root).join("release");
    let anchors = build_anchors()?;
    let out_dir = target_dir(root).join("bench");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let static_dir = out_dir.join("static");
    fs::create_dir_all(&static_dir).map_err(|e| e.to_string())?;
    fs::write(static_dir.join("small.txt"), b"Hello world!\n").map_err(|e| e.to_string())?;
    fs::write(static_dir.join("big.bin"), vec![b'x'; 1 << 20]).map_err(|e| e.to_string())?;
    let pipeline_lua = out_dir.join("pipeline.lua");
    fs::write(&pipeline_lua, PIPELINE_LUA).map_err(|e| e.to_string())?;
    let pipeline_lua = pipeline_lua.display().to_string();
    let py = fs::canonicalize(out_dir.join(".")).map_err(|e| e.to_string())?;
    fs::write(py.join("py_wsgi.py"), PY_WSGI).map_err(|e| e.to_string())?;
    fs::write(py.join("py_http.py"), PY_HTTP).map_err(|e| e.to_string())?;
    fs::write(py.join("py_tls_idle.py"), PY_TLS_IDLE).map_err(|e| e.to_string())?;
    let (cert, key) = bench_certificate(&out_dir)?;

    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let demo = release.join("demo").display().to_string();
    let httpd = release.join("http-server").display().to_string();
    let sd = static_dir.display().to_string();
    let hyper = Server {
        name: "hyper",
        cmd: s(&[&anchors.join("hyper-hello").display().to_string(), "{port}"]),
        port: 18001,
        tls: false,
    };
    let tiny = Server {
        name: "tiny_http",
        cmd: s(&[&anchors.join("tiny-hello").display().to_string(), "{port}"]),
        port: 18002,
        tls: false,
    };
    let ours_hello = Server {
        name: "demo --app hello",
        cmd: s(&[
            &demo,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--app",
            "hello",
            "--threads",
            "1",
        ]),
        port: 18003,
        tls: false,
    };
    // The same server with the buffered access log on (the event is at INFO level, above
    // the `RUST_LOG=warn` every server gets): issue 17's ratio, logged / unlogged.
    let access_log = out_dir.join("access.log").display().to_string();
    let mut logged_cmd = s(&["env", "RUST_LOG=info"]);
    logged_cmd.extend(ours_hello.cmd.iter().cloned());
    logged_cmd.extend(s(&["--access-logfile", &access_log]));
    let ours_logged = Server {
        name: "demo --app hello --access-logfile",
        cmd: logged_cmd,
        port: 18013,
        tls: false,
    };
    let ours_demo = Server {
        name: "demo --app demo",
        cmd: s(&[
            &demo,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--threads",
            "1",
        ]),
        port: 18004,
        tls: false,
    };
    let ours_faithful = Server {
        name: "demo --faithful",
        cmd: s(&[
            &demo,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--faithful",
        ]),
        port: 18005,
        tls: false,
    };
    let py_demo = Server {
        name: "python wsgiref demo_app",
        cmd: s(&[
            "python3",
            &py.join("py_wsgi.py").display().to_string(),
            "{port}",
            "demo",
        ]),
        port: 18006,
        tls: false,
    };
    let py_hello = Server {
        name: "python wsgiref hello",
        cmd: s(&[
            "python3",
            &py.join("py_wsgi.py").display().to_string(),
            "{port}",
            "hello",
        ]),
        port: 18007,
        tls: false,
    };
    let ours_static = Server {
        name: "http-server",
        cmd: s(&[&httpd, "{port}", "-b", "127.0.0.1", "-d", &sd]),
        port: 18008,
        tls: false,
    };
    let py_static = Server {
        name: "python -m http.server",
        cmd: s(&[
            "python3",
            &py.join("py_http.py").display().to_string(),
            "{port}",
            &sd,
        ]),
        port: 18009,
        tls: false,
    };

    let hyper_tls = Server {
        name: "hyper + tokio-rustls",
        cmd: s(&[
            &anchors.join("hyper-tls-hello").display().to_string(),
            "{port}",
            &cert,
            &key,
        ]),
        port: 18010,
        tls: true,
    };
    let ours_tls = Server {
        name: "demo --app hello (TLS)",
        cmd: s(&[
            &demo,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--app",
            "hello",
            "--threads",
            "1",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ]),
        port: 18011,
        tls: true,
    };

    let mut runs: Vec<Run> = Vec::new();
    let ka = "keep-alive hello";
    let tls_ka = "keep-alive HTTPS hello";
    let tls_new = "new TLS connection per request";
    let close = "connection per request";
    let logged = "keep-alive hello, access log on";
    let pipelined = "keep-alive hello, pipelined 16";
    // (scenario, path, wrk extra args, servers; the first server is the anchor)
    let mut plan: Vec<(&str, &str, Vec<&str>, Vec<Server>)> = vec![
        (
            ka,
            "/",
            vec![],
            vec![hyper.clone(), ours_hello.clone(), tiny.clone()],
        ),
        (
            close,
            "/",
            vec!["-H", "Connection: close"],
            vec![hyper.clone(), ours_hello.clone(), tiny.clone()],
        ),
        (
            pipelined,
            "/",
            vec!["-s", &pipeline_lua],
            vec![hyper.clone(), ours_hello.clone()],
        ),
        (logged, "/", vec![], vec![ours_hello.clone(), ours_logged]),
        (
            "demo_app",
            "/xyz?abc",
            vec![],
            vec![ours_hello.clone(), ours_demo.clone(), py_demo.clone()],
        ),
        (
            "faithful (HTTP/1.0, one thread)",
            "/xyz?abc",
            vec![],
            vec![py_hello.clone(), ours_faithful.clone()],
        ),
        (
            "static small file",
            "/small.txt",
            vec![],
            vec![py_static.clone(), ours_static.clone()],
        ),
        (
            "static 1 MiB file",
            "/big.bin",
            vec![],
            vec![py_static.clone(), ours_static.clone()],
        ),
        (
            tls_ka,
            "/",
            vec![],
            vec![hyper_tls.clone(), ours_tls.clone()],
        ),
        (
            tls_new,
            "/",
            vec!["-H", "Connection: close"],
            vec![hyper_tls.clone(), ours_tls.clone()],
        ),
    ];
    if tls_only {
        plan.retain(|(name, ..)| *name == tls_ka || *name == tls_new);
    } else if opts.quick {
        plan.retain(|(name, ..)| {
            *name == ka || *name == logged || *name == "demo_app" || *name == tls_ka
        });
    }
    for (scenario, path, extra, servers) in &plan {
        for round in 0..opts.rounds {
            for server in servers {
                let r = wrk_run(server, scenario, path, extra, &opts, round)?;
                eprintln!(
                    "xtask: {scenario:<32} {:<26} round {round}: {:>9.0} rps  p99 {:>7.2} ms  cpu {:>6.1} us/req",
                    server.name, r.rps, r.p99_ms, r.cpu_us_per_req
                );
                runs.push(r);
            }
        }
    }
    // The logged server's lines were only there to be written.
    let _ = fs::remove_file(&access_log);
    let idle_counts: &[usize] = if opts.quick || tls_only {
        &[1000]
    } else {
        &[1000, 10000]
    };
    for &n in idle_counts {
        for server in [&hyper_tls, &ours_tls] {
            let r = idle_tls_run(server, n, &py.join("py_tls_idle.py"))?;
            eprintln!(
                "xtask: idle TLS {n:<6} {:<26}: {:.2} KiB per connection, {} threads",
                server.name, r.kib_per_idle_conn, r.threads
            );
            runs.push(r);
        }
        if tls_only {
            continue;
        }
        for server in [&hyper, &ours_hello, &tiny] {
            let r = idle_run(server, n)?;
            eprintln!(
                "xtask: idle {n:<6} {:<26}: {:.2} KiB per connection, {} threads",
                server.name, r.kib_per_idle_conn, r.threads
            );
            runs.push(r);
        }
    }
    report(&out_dir, &plan, &runs, idle_counts)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn ensure_tools() -> Result<(), String> {
    if !have("wrk") {
        run_step(
            "apt-get update",
            Command::new("apt-get").args(["update", "-qq"]),
        )?;
        run_step(
            "install wrk",
            Command::new("apt-get").args(["install", "-y", "-qq", "wrk"]),
        )?;
    }
    if !have("taskset") {
        return Err("taskset (util-linux) is missing".to_owned());
    }
    Ok(())
}

fn build_anchors() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join("pyserve-bench-anchors");
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    let projects: [(&str, &str, &str); 3] = [
        ("tiny-hello", "tiny_http = \"0.12\"\n", TINY_HTTP_MAIN),
        (
            "hyper-hello",
            "hyper = { version = \"1\", features = [\"server\", \"http1\"] }\nhyper-util = { version = \"0.1\", features = [\"tokio\"] }\nhttp-body-util = \"0.1\"\ntokio = { version = \"1\", features = [\"rt-multi-thread\", \"net\", \"macros\"] }\n",
            HYPER_MAIN,
        ),
        (
            "hyper-tls-hello",
            "hyper = { version = \"1\", features = [\"server\", \"http1\"] }\nhyper-util = { version = \"0.1\", features = [\"tokio\"] }\nhttp-body-util = \"0.1\"\ntokio = { version = \"1\", features = [\"rt-multi-thread\", \"net\", \"macros\"] }\ntokio-rustls = { version = \"0.26\", default-features = false, features = [\"ring\", \"tls12\"] }\nrustls = { version = \"0.23\", default-features = false, features = [\"ring\", \"std\", \"tls12\"] }\n",
            HYPER_TLS_MAIN,
        ),
    ];
    for (name, deps, main) in projects {
        let p = dir.join(name);
        fs::create_dir_all(p.join("src")).map_err(|e| e.to_string())?;
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{deps}\n[profile.release]\ncodegen-units = 4\n\n[workspace]\n"
        );
        fs::write(p.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        fs::write(p.join("src/main.rs"), main).map_err(|e| e.to_string())?;
        let target = dir.join("target");
        run_step(
            &format!("build anchor {name}"),
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&p)
                .env("CARGO_TARGET_DIR", &target)
                .args(["build", "--release", "--quiet"]),
        )?;
        fs::copy(target.join("release").join(name), bin.join(name))
            .map_err(|e| format!("copy {name}: {e}"))?;
    }
    Ok(bin)
}

fn start(server: &Server) -> Result<Child, String> {
    let args: Vec<String> = server
        .cmd
        .iter()
        .map(|a| a.replace("{port}", &server.port.to_string()))
        .collect();
    // Pin the server to core 1 and lift the descriptor limit for the idle-connection runs.
    let script = format!(
        "ulimit -n $(ulimit -Hn); exec taskset -c 1 {}",
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Access logs off for every server (the anchors log nothing; the Python servers use a
    // quiet handler), so the comparison is of serving, not of writing log lines.
    let child = Command::new("sh")
        .args(["-c", &script])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", server.name))?;
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        sleep(Duration::from_millis(50));
    }
    Err(format!("{} did not start listening on {addr}", server.name))
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// utime + stime of a process and its live descendants (a server that serves from worker
/// processes, as granian does), in microseconds.
fn cpu_us(pid: u32) -> f64 {
    // (pid, parent, ticks) of every process.
    let mut procs: Vec<(u32, u32, f64)> = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ... utime stime: comm may hold spaces, so split after ')'.
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        let ppid = field(1).unwrap_or(0.0) as u32;
        procs.push((p, ppid, field(11).unwrap_or(0.0) + field(12).unwrap_or(0.0)));
    }
    let mut tree = vec![pid];
    let mut ticks = 0.0;
    while let Some(p) = tree.pop() {
        for &(child, parent, t) in &procs {
            if child == p {
                ticks += t;
            }
            if parent == p {
                tree.push(child);
            }
        }
    }
    ticks * 10_000.0 // USER_HZ = 100
}

fn status_field(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The pid of the real server: `sh -c "exec ..."` keeps the pid, so it is the child's.
fn wrk_run(
    server: &Server,
    scenario: &str,
    path: &str,
    extra: &[&str],
    opts: &Opts,
    round: usize,
) -> Result<Run, String> {
    let child = start(server)?;
    let scheme = if server.tls { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{}{path}", server.port);
    // Warm-up.
    let _ = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1", "-c10", "-d1s", &url])
        .args(extra)
        .output();
    let pid = child.id();
    let cpu0 = cpu_us(pid);
    let out = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1"])
        .arg(format!("-c{}", opts.connections))
        .arg(format!("-d{}s", opts.duration))
        .args(["--latency", "--timeout", "5s"])
        .args(extra)
        .arg(&url)
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let cpu1 = cpu_us(pid);
    stop(child);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let requests = parse_requests(&text);
    let mut r = Run {
        server: server.name.to_owned(),
        scenario: scenario.to_owned(),
        round,
        rps: parse_after(&text, "Requests/sec:").unwrap_or(0.0),
        p50_ms: parse_latency(&text, "50%").unwrap_or(0.0),
        p99_ms: parse_latency(&text, "99%").unwrap_or(0.0),
        errors: parse_errors(&text),
        ..Run::default()
    };
    if requests > 0.0 {
        r.cpu_us_per_req = (cpu1 - cpu0) / requests;
    }
    // Let TIME_WAIT sockets of connection-per-request runs drain a little.
    sleep(Duration::from_millis(
        if extra.contains(&"Connection: close") {
            1500
        } else {
            200
        },
    ));
    Ok(r)
}

fn parse_after(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.trim_start().starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

fn parse_requests(text: &str) -> f64 {
    // "  123456 requests in 5.00s, 12.34MB read"
    text.lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn parse_errors(text: &str) -> u64 {
    let mut n = 0;
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with("Socket errors:") || t.starts_with("Non-2xx") {
            n += t
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|d| d.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    n
}

fn parse_latency(text: &str, pct: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(pct))?;
    let v = line.split_whitespace().nth(1)?;
    let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic())?);
    let num: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => num / 1000.0,
        "ms" => num,
        "s" => num * 1000.0,
        "m" => num * 60_000.0,
        _ => return None,
    })
}

/// Opens `n` idle keep-alive connections (each having made one request), then reads the
/// server's resident memory growth and thread count, and checks it still answers at once.
fn idle_run(server: &Server, n: usize) -> Result<Run, String> {
    let child = start(server)?;
    let pid = child.id();
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    // One request first so lazy start-up allocations are not counted as per-connection cost.
    let _ = one_request(addr);
    sleep(Duration::from_millis(200));
    let rss0 = status_field(pid, "VmRSS:");
    let mut conns = Vec::with_capacity(n);
    let connect_deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..n {
        if Instant::now() > connect_deadline {
            break;
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(mut c) => {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                conns.push(c);
            }
            Err(_) => break,
        }
    }
    // Read each first response, within one overall deadline: a server that does not answer
    // (tiny_http past its thread count) must not cost a timeout per connection.
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut unanswered = 0usize;
    for c in &mut conns {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = c.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        if !matches!(c.read(&mut buf), Ok(n) if n > 0) {
            unanswered += 1;
        }
    }
    if unanswered > 0 {
        eprintln!(
            "xtask: warning: {} left {unanswered} of {n} requests unanswered",
            server.name
        );
    }
    sleep(Duration::from_millis(500));
    let rss1 = status_field(pid, "VmRSS:");
    let threads = status_field(pid, "Threads:");
    let still = one_request(addr);
    drop(conns);
    stop(child);
    if !still {
        eprintln!(
            "xtask: warning: {} did not answer with {n} idle connections open",
            server.name
        );
    }
    sleep(Duration::from_millis(500));
    Ok(Run {
        server: server.name.to_owned(),
        scenario: format!("{n} idle connections"),
        kib_per_idle_conn: (rss1.saturating_sub(rss0)) as f64 / n as f64,
        threads,
        ..Run::default()
    })
}

/// The bench's certificate and key (EC P-256, self-signed for `localhost`/`127.0.0.1`),
/// made with the `openssl` command once per run, shared by both TLS servers.
fn bench_certificate(out_dir: &Path) -> Result<(String, String), String> {
    let cert = out_dir.join("tls-cert.pem");
    let key = out_dir.join("tls-key.pem");
    run_step(
        "make the TLS certificate",
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    )?;
    Ok((cert.display().to_string(), key.display().to_string()))
}

/// [`idle_run`] over TLS: `n` connections that finished their handshake and one request,
/// held idle by a Python helper, then the server's resident memory growth per connection.
fn idle_tls_run(server: &Server, n: usize, helper: &Path) -> Result<Run, String> {
    let child = start(server)?;
    let pid = child.id();
    sleep(Duration::from_millis(200));
    let rss0 = status_field(pid, "VmRSS:");
    let mut holder = Command::new("python3")
        .arg(helper)
        .args([server.port.to_string(), n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let mut line = String::new();
    if let Some(out) = holder.stdout.as_mut() {
        let mut byte = [0u8; 1];
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline && out.read(&mut byte).is_ok_and(|k| k == 1) {
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0] as char);
        }
    }
    let answered: usize = line.trim().parse().unwrap_or(0);
    if answered < n {
        eprintln!(
            "xtask: warning: {} answered {answered} of {n} TLS connections",
            server.name
        );
    }
    sleep(Duration::from_millis(500));
    let rss1 = status_field(pid, "VmRSS:");
    let threads = status_field(pid, "Threads:");
    drop(holder.stdin.take());
    let _ = holder.wait();
    stop(child);
    sleep(Duration::from_millis(500));
    Ok(Run {
        server: server.name.to_owned(),
        scenario: format!("{n} idle TLS connections"),
        kib_per_idle_conn: (rss1.saturating_sub(rss0)) as f64 / answered.max(1) as f64,
        threads,
        ..Run::default()
    })
}

fn one_request(addr: SocketAddr) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    if c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(c.read(&mut buf), Ok(n) if n > 0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

type Plan<'a> = [(&'a str, &'a str, Vec<&'a str>, Vec<Server>)];

fn report(out_dir: &Path, plan: &Plan<'_>, runs: &[Run], idle: &[usize]) -> Result<(), String> {
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default()
    );
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut md = format!(
        "Measured {date} on {machine} by `cargo xtask bench`; wrk -t1 -c50 pinned to core 0, server on core 1; medians of alternated rounds; ratio = rps / the first server of the scenario, measured in the same run.\n\n| scenario | server | rps | ratio | p50 ms | p99 ms | server CPU µs/req | errors |\n|---|---|---|---|---|---|---|---|\n"
    );
    let mut bars: Vec<(String, f64)> = Vec::new();
    for (scenario, _, _, servers) in plan {
        let anchor = median(
            runs.iter()
                .filter(|r| r.scenario == *scenario && r.server == servers[0].name)
                .map(|r| r.rps)
                .collect(),
        );
        for s in servers {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.scenario == *scenario && r.server == s.name)
                .collect();
            let rps = median(mine.iter().map(|r| r.rps).collect());
            let ratio = if anchor > 0.0 { rps / anchor } else { 0.0 };
            let _ = writeln!(
                md,
                "| {scenario} | {} | {rps:.0} | {ratio:.2} | {:.2} | {:.2} | {:.1} | {} |",
                s.name,
                median(mine.iter().map(|r| r.p50_ms).collect()),
                median(mine.iter().map(|r| r.p99_ms).collect()),
                median(mine.iter().map(|r| r.cpu_us_per_req).collect()),
                mine.iter().map(|r| r.errors).sum::<u64>(),
            );
            bars.push((format!("{scenario}: {}", s.name), rps));
        }
    }
    md.push_str("\n| idle connections | server | resident KiB per connection | threads |\n|---|---|---|---|\n");
    for n in idle {
        for r in runs
            .iter()
            .filter(|r| r.scenario == format!("{n} idle connections"))
        {
            let _ = writeln!(
                md,
                "| {n} | {} | {:.2} | {} |",
                r.server, r.kib_per_idle_conn, r.threads
            );
        }
        // TLS connections that finished their handshake and one request.
        for r in runs
            .iter()
            .filter(|r| r.scenario == format!("{n} idle TLS connections"))
        {
            let _ = writeln!(
                md,
                "| {n} (TLS) | {} | {:.2} | {} |",
                r.server, r.kib_per_idle_conn, r.threads
            );
        }
    }
    println!("{md}");
    fs::write(out_dir.join("summary.md"), &md).map_err(|e| e.to_string())?;
    fs::write(out_dir.join("runs.json"), runs_json(runs)).map_err(|e| e.to_string())?;
    fs::write(out_dir.join("rps.svg"), svg(&bars)).map_err(|e| e.to_string())?;
    eprintln!(
        "xtask: wrote {}/summary.md, runs.json, rps.svg",
        out_dir.display()
    );
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn runs_json(runs: &[Run]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {{\"server\": {:?}, \"scenario\": {:?}, \"round\": {}, \"rps\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"cpu_us_per_req\": {:.2}, \"errors\": {}, \"kib_per_idle_conn\": {:.3}, \"threads\": {}}}{}",
            r.server,
            r.scenario,
            r.round,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.cpu_us_per_req,
            r.errors,
            r.kib_per_idle_conn,
            r.threads,
            if i + 1 < runs.len() { "," } else { "" }
        );
    }
    s.push_str("]\n");
    s
}

fn svg(bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(1.0, f64::max);
    let row = 22.0;
    let label_w = 420.0;
    let bar_w = 380.0;
    let h = row * bars.len() as f64 + 40.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"4\" y=\"16\" font-weight=\"bold\">requests per second (cargo xtask bench)</text>\n",
        label_w + bar_w + 80.0
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let w = bar_w * v / max;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#4a7ab8\"/><text x=\"{}\" y=\"{}\">{v:.0}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            label_w,
            row - 6.0,
            label_w + w + 4.0,
            y + 14.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// wrk script: every write on a connection carries 16 requests.
const PIPELINE_LUA: &str = r#"init = function(args)
   local r = {}
   for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
   req = table.concat(r)
end
request = function() return req end
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 5s test @ http://127.0.0.1:8000/\n  1 threads and 50 connections\n  Latency Distribution\n     50%  420.00us\n     75%    1.20ms\n     90%    2.00ms\n     99%    3.50ms\n  512345 requests in 5.00s, 50.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\nRequests/sec: 102469.00\nTransfer/sec:     10.00MB\n";

    #[test]
    fn parses_wrk_output() {
        assert_eq!(parse_after(WRK, "Requests/sec:"), Some(102469.0));
        assert_eq!(parse_latency(WRK, "50%"), Some(0.42));
        assert_eq!(parse_latency(WRK, "99%"), Some(3.5));
        assert_eq!(parse_requests(WRK), 512345.0);
        assert_eq!(parse_errors(WRK), 3);
    }

    #[test]
    fn median_of_rounds() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn svg_escapes_labels() {
        let s = svg(&[("a<b".to_owned(), 1.0)]);
        assert!(s.contains("a&lt;b"));
    }
}
