//! `cargo xtask bench python [--quick]`: the Python host against Python's WSGI servers.
//!
//! The anchors are installed with pip into the virtualenv `target/venv` (created when
//! missing): bjoern (`bjoern-binary`, C and libev), granian (Rust, tokio and hyper) and
//! Flask; CPython's own `wsgiref.simple_server` comes with Python. `pyserve` is built there
//! with `maturin develop --release`. One worker per server, pinned to core 1, wrk on core 0,
//! as the other scenarios (granian with one worker process, one runtime thread and one
//! blocking thread; its CPU counts its worker process).
//!
//! Scenarios (the first server of each is its anchor): WSGI hello (bjoern, pyserve,
//! pyserve without its access log, granian), the hello with a connection per request
//! (bjoern, pyserve, pyserve without its access log), the hello over HTTPS (granian, the
//! only anchor that serves TLS, and pyserve, both with the bench's certificate), Flask hello
//! (bjoern, pyserve, pyserve without its access log), `wsgiref.simple_server.demo_app`
//! (CPython's wsgiref server, pyserve), and 10,000 idle keep-alive connections to pyserve.
//! bjoern writes no access log and granian writes none by default; pyserve writes one line
//! a request to stderr by default (one `write` each), so the "no log" rows (`access_log=
//! "off"`) are the same work as the anchor's.
//!
//! Last, each application alone (hello, Flask, `demo_app`), timed in CPython on the server's
//! core with the environ pyserve passes it: the anchor's CPU a request divided by that is
//! the ceiling of the ratio against the anchor, since no server spends less than the
//! application on a request. The table after the runs shows it beside pyserve's own work.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::{Opts, Run, Server, idle_run, report, run_step, target_dir, wrk_run};

const PY_APPS: &str = r#"
import sys
from wsgiref.simple_server import demo_app

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello world!\n"]

def flask_app():
    import flask
    app = flask.Flask("bench")

    @app.route("/")
    def index():
        return "Hello world!\n"

    return app

APPS = {"hello": lambda: hello, "flask": flask_app, "demo": lambda: demo_app}

def alone(name, port, path):
    """The application alone: CPU microseconds a call, with the environ pyserve passes it
    for `GET path` (one request captures it), the body iterated and closed, and a C
    callable taking `(status, headers)` as `start_response` (`slice`: the cheapest
    stand-in for a server's). No server can spend less than this on a request."""
    import http.client, io, threading, time
    import pyserve
    app, seen = APPS[name](), {}

    def capture(environ, start_response):
        seen.update(environ)
        return app(environ, start_response)

    def ready(server):
        def get():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.putrequest("GET", path, skip_accept_encoding=True)  # Host only, as wrk
                c.endheaders()
                c.getresponse().read()
            finally:
                server.shutdown()
        threading.Thread(target=get).start()

    pyserve.serve(capture, "127.0.0.1", port, threads=1, access_log="off", ready=ready)
    seen["wsgi.input"] = io.BytesIO()

    def calls(n, run_app):
        t = time.process_time()
        for _ in range(n):
            env = seen.copy()  # an application may change its environ
            if run_app:
                body = app(env, slice)
                for _ in body:
                    pass
                if hasattr(body, "close"):
                    body.close()
        return time.process_time() - t

    n = 1
    while calls(n, True) < 0.2:
        n *= 2
    # Best of five, less the loop and the environ copy.
    best = min(calls(n, True) - calls(n, False) for _ in range(5))
    print(f"{best / n * 1e6:.3f}")

if __name__ == "__main__":
    if sys.argv[1] == "alone":
        alone(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit()
    server, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = APPS[name]()
    if server == "bjoern":
        import bjoern
        bjoern.run(app, "127.0.0.1", port)
    elif server == "wsgiref":
        from wsgiref.simple_server import make_server, WSGIRequestHandler
        class Quiet(WSGIRequestHandler):
            def log_message(self, *a): pass
        make_server("127.0.0.1", port, app, handler_class=Quiet).serve_forever()
    else:
        import pyserve
        tls = dict(tls_cert=sys.argv[4], tls_key=sys.argv[5]) if len(sys.argv) > 5 else {}
        # "pyserve-quiet": no access log, the same work as bjoern (which has none).
        log = "off" if server == "pyserve-quiet" else None
        pyserve.serve(app, "127.0.0.1", port, threads=1, access_log=log, **tls)
"#;

/// Runs the Python scenarios and writes `target/bench/python.md`.
pub(super) fn run(root: &Path, opts: &Opts) -> Result<(), String> {
    let target = target_dir(root);
    let venv = target.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run_step(
            "python3 -m venv target/venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
    }
    run_step(
        "pip install the anchors (maturin, bjoern-binary, granian, flask)",
        Command::new(venv.join("bin/pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "maturin",
            "bjoern-binary",
            "granian",
            "flask",
        ]),
    )?;
    run_step(
        "maturin develop --release (pyserve)",
        Command::new(venv.join("bin/maturin"))
            .args(["develop", "--release", "--quiet"])
            .current_dir(root.join("crates/python"))
            .env("VIRTUAL_ENV", &venv)
            .env("CARGO_TARGET_DIR", &target),
    )?;
    let out_dir = target.join("bench");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let script = out_dir.join("py_apps.py");
    fs::write(&script, PY_APPS).map_err(|e| e.to_string())?;
    let py = python.display().to_string();
    let script = script.display().to_string();
    let server = |name: &'static str, kind: &str, app: &str, port: u16| Server {
        name,
        cmd: vec![
            py.clone(),
            script.clone(),
            kind.to_owned(),
            app.to_owned(),
            "{port}".to_owned(),
        ],
        port,
        tls: false,
    };
    let (cert, key) = super::bench_certificate(&out_dir)?;
    let pyserve_tls = Server {
        name: "pyserve hello (TLS)",
        cmd: [&py, &script, "pyserve", "hello", "{port}", &cert, &key]
            .map(|a| a.to_string())
            .to_vec(),
        port: 18111,
        tls: true,
    };
    let granian = |name: &'static str, port: u16, tls: bool| {
        let mut cmd = [
            venv.join("bin/granian").display().to_string(),
            "--interface".into(),
            "wsgi".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "{port}".into(),
            "--workers".into(),
            "1".into(),
            "--runtime-threads".into(),
            "1".into(),
            "--blocking-threads".into(),
            "1".into(),
            "--working-dir".into(),
            out_dir.display().to_string(),
        ]
        .to_vec();
        if tls {
            cmd.extend(["--ssl-certificate".into(), cert.clone()]);
            cmd.extend(["--ssl-keyfile".into(), key.clone()]);
        }
        cmd.push("py_apps:hello".into());
        Server {
            name,
            cmd,
            port,
            tls,
        }
    };
    let plan: Vec<(&str, &str, Vec<&str>, Vec<Server>)> = vec![
        (
            "python: WSGI hello",
            "/",
            vec![],
            vec![
                server("bjoern hello", "bjoern", "hello", 18101),
                server("pyserve hello", "pyserve", "hello", 18102),
                server("pyserve hello, no log", "pyserve-quiet", "hello", 18113),
                granian("granian hello", 18110, false),
            ],
        ),
        (
            "python: HTTPS hello",
            "/",
            vec![],
            vec![granian("granian hello (TLS)", 18112, true), pyserve_tls],
        ),
        (
            "python: hello, connection per request",
            "/",
            vec!["-H", "Connection: close"],
            vec![
                server("bjoern hello", "bjoern", "hello", 18108),
                server("pyserve hello", "pyserve", "hello", 18109),
                server("pyserve hello, no log", "pyserve-quiet", "hello", 18115),
            ],
        ),
        (
            "python: Flask hello",
            "/",
            vec![],
            vec![
                server("bjoern flask", "bjoern", "flask", 18103),
                server("pyserve flask", "pyserve", "flask", 18104),
                server("pyserve flask, no log", "pyserve-quiet", "flask", 18114),
            ],
        ),
        (
            "python: demo_app",
            "/xyz?abc",
            vec![],
            vec![
                server("wsgiref demo_app", "wsgiref", "demo", 18105),
                server("pyserve demo_app", "pyserve", "demo", 18106),
            ],
        ),
    ];
    let mut runs: Vec<Run> = Vec::new();
    for (scenario, path, extra, servers) in &plan {
        for round in 0..opts.rounds {
            for s in servers {
                let r = wrk_run(s, scenario, path, extra, opts, round)?;
                eprintln!(
                    "xtask: {scenario:<24} {:<18} round {round}: {:>9.0} rps  p99 {:>7.2} ms  cpu {:>6.1} us/req",
                    s.name, r.rps, r.p99_ms, r.cpu_us_per_req
                );
                runs.push(r);
            }
        }
    }
    let idle: &[usize] = if opts.quick { &[1000] } else { &[10_000] };
    let pyserve = server("pyserve hello", "pyserve", "hello", 18107);
    for &n in idle {
        let r = idle_run(&pyserve, n)?;
        eprintln!(
            "xtask: idle {n:<6} {:<18}: {:.2} KiB per connection, {} threads",
            pyserve.name, r.kib_per_idle_conn, r.threads
        );
        runs.push(r);
    }
    report(&out_dir, &plan, &runs, idle)?;
    // The applications alone, for the ceiling of each ratio (see `ceilings`).
    let mut alone = Vec::new();
    for (app, path, port) in [
        ("hello", "/", 18116),
        ("flask", "/", 18117),
        ("demo", "/xyz?abc", 18118),
    ] {
        let out = Command::new("timeout")
            .args(["120", "taskset", "-c", "1", &py, &script, "alone", app])
            .arg(port.to_string())
            .arg(path)
            .output()
            .map_err(|e| format!("the application {app} alone: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let us: f64 = text
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("the application {app} alone printed {text:?}"))?;
        eprintln!("xtask: the application {app} alone: {us:.2} us a call");
        alone.push(us);
    }
    let table = ceilings(&plan, &runs, &alone);
    println!("{table}");
    let mut md = fs::read_to_string(out_dir.join("summary.md")).unwrap_or_default();
    md.push('\n');
    md.push_str(&table);
    fs::write(out_dir.join("python.md"), md).map_err(|e| e.to_string())?;
    Ok(())
}

/// What a ratio can reach at most. Every server spends at least the application's own
/// time on a request, so on one core no server can go faster than the anchor's CPU a
/// request divided by the application's time alone: the ceiling of the ratio against that
/// anchor. `alone` holds the µs a call of hello, Flask and `demo_app`, in that order.
fn ceilings(plan: &super::Plan<'_>, runs: &[Run], alone: &[f64]) -> String {
    let cpu = |scenario: &str, server: &str| {
        super::median(
            runs.iter()
                .filter(|r| r.scenario == scenario && r.server == server)
                .map(|r| r.cpu_us_per_req)
                .collect(),
        )
    };
    let mut md = String::from(
        "| application | alone, µs a call | anchor: server CPU µs/req | ceiling of the ratio (anchor ÷ alone) | pyserve: server CPU µs/req | pyserve's CPU besides the application alone, µs/req |\n|---|---|---|---|---|---|\n",
    );
    let scenarios = [
        "python: WSGI hello",
        "python: Flask hello",
        "python: demo_app",
    ];
    for (scenario, us) in scenarios.iter().zip(alone) {
        let Some((_, _, _, servers)) = plan.iter().find(|p| p.0 == *scenario) else {
            continue;
        };
        let anchor = cpu(scenario, servers[0].name);
        // pyserve doing the anchor's work: without its access log where there is a row.
        let pyserve = servers
            .iter()
            .find(|s| s.name.ends_with("no log"))
            .unwrap_or(&servers[1]);
        let ours = cpu(scenario, pyserve.name);
        let _ = writeln!(
            md,
            "| {scenario} | {us:.2} | {anchor:.1} ({}) | {:.1}x | {ours:.1} ({}) | {:.1} |",
            servers[0].name,
            anchor / us,
            pyserve.name,
            ours - us,
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scenario: &str, server: &str, cpu_us_per_req: f64) -> Run {
        Run {
            server: server.into(),
            scenario: scenario.into(),
            round: 0,
            rps: 1.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            cpu_us_per_req,
            errors: 0,
            kib_per_idle_conn: 0.0,
            threads: 0,
        }
    }

    fn server(name: &'static str) -> Server {
        Server {
            name,
            cmd: vec![],
            port: 0,
            tls: false,
        }
    }

    #[test]
    fn a_ceiling_is_the_anchors_cpu_over_the_application_alone() {
        let plan = vec![
            (
                "python: WSGI hello",
                "/",
                vec![],
                vec![
                    server("bjoern hello"),
                    server("pyserve hello"),
                    server("pyserve hello, no log"),
                ],
            ),
            (
                "python: demo_app",
                "/xyz?abc",
                vec![],
                vec![server("wsgiref demo_app"), server("pyserve demo_app")],
            ),
        ];
        let runs = [
            run("python: WSGI hello", "bjoern hello", 6.0),
            run("python: WSGI hello", "pyserve hello", 7.0),
            run("python: WSGI hello", "pyserve hello, no log", 5.5),
            run("python: demo_app", "wsgiref demo_app", 200.0),
            run("python: demo_app", "pyserve demo_app", 25.0),
        ];
        let table = ceilings(&plan, &runs, &[0.5, 50.0, 20.0]);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| python: WSGI hello | 0.50 | 6.0 (bjoern hello) | 12.0x | 5.5 (pyserve hello, no log) | 5.0 |",
                "| python: demo_app | 20.00 | 200.0 (wsgiref demo_app) | 10.0x | 25.0 (pyserve demo_app) | 5.0 |",
            ]
        );
    }
}
