//! The `demo` binary: the seed's `make_server('', 8782, demo_app)`, in two faces.
//!
//! - `demo --faithful`: exactly `make_server(host, port, demo_app)` then `serve_forever()`,
//!   as CPython's `wsgiref.simple_server`: one thread, HTTP/1.0, one request per connection.
//! - `demo --once`: `make_server(...)` then `handle_request()` once, as the seed does.
//! - `demo` (the default): the production face. The same `WSGIRequestHandler` on per-core
//!   event loops (`socketserver::evloop`) with HTTP/1.1 keep-alive, limits, timeouts and a
//!   graceful shutdown on SIGTERM/SIGINT.
//! - `demo --workers N`: a `supervisor::Supervisor` binds the listeners once and runs N
//!   copies of this program as its workers (the same arguments; `supervisor::Worker`
//!   tells a worker it is one), with respawn, reload on SIGHUP and a heartbeat.
//!
//! Each request is logged on stderr in CPython's format
//! (`127.0.0.1 - - [24/Nov/2026 10:00:00] "GET /xyz?abc HTTP/1.1" 200 1234`), or in
//! Apache's common or combined format, or as JSON lines (`--access-log`), or in gunicorn's
//! atoms (`--access-logformat`); `--access-logfile` buffers the lines per event loop.
//! `--metrics-bind` serves Prometheus metrics.
//!
//! Behind a reverse proxy: `--trusted-proxy ADDR[,ADDR|CIDR...]` wraps the application in
//! `gateway::proxy::ProxyFix` (the client's address and scheme from `X-Forwarded-For` and
//! `X-Forwarded-Proto` of those peers); `--proxy-protocol` expects a PROXY protocol header
//! on every connection (`http_server::proxy_protocol`).
//!
//! HTTPS: `--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]` serves TLS on the
//! production face (rustls; each connection's handshake driven by the event loops).

#![allow(
    clippy::print_stdout,
    reason = "a command-line program: the banner goes to stdout as in CPython"
)]

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod app;
mod cli;
mod workers;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gateway::Application;
use gateway::proxy::ProxyFix;
use gateway::simple_server::{
    WsgiRequestHandler, WsgiShared, base_environ, http_config, make_server,
};
use http_server::h1::chunked::ChunkedLimits;
use http_server::h1::{H1Limits, HttpProtocol};
use http_server::logging::{AccessLogFormat, AccessTemplate, BufferedLog};
use http_server::metrics::{HttpMetrics, Metered};
use http_server::proxy_protocol::ProxyProtocol;
use socketserver::HandlerCx;
use socketserver::evloop::{EventLoopConfig, EventLoopServer, Protocol, listen_fds};

use crate::cli::Args;

fn main() -> ExitCode {
    let parsed = cli::parse_with_env(std::env::args_os().skip(1), |k| std::env::var_os(k));
    let parsed = match parsed {
        Ok(cli::Command::Run(args)) => args.check_face().map(|()| cli::Command::Run(args)),
        other => other,
    };
    let args = match parsed {
        Ok(cli::Command::Run(args)) => args,
        Ok(cli::Command::Help) => return say(&mut std::io::stdout(), &cli::help()),
        Ok(cli::Command::Version) => return say(&mut std::io::stdout(), &cli::version()),
        Err(e) => {
            let text = format!(
                "error: {e}\n\n{}\n\nFor more information, try '--help'.",
                cli::USAGE
            );
            say(&mut std::io::stderr(), &text);
            // Usage errors exit with 2, as clap's and Python's argparse do.
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&args) {
        say(&mut std::io::stderr(), &format!("error: {e}"));
        return ExitCode::FAILURE;
    }
    let result = match supervisor::Worker::from_env() {
        // Started by a supervisor (`--workers`): serve the inherited listeners.
        Ok(Some(worker)) => run(&args, Some(worker)),
        Err(e) => Err(e.into()),
        Ok(None) => match args.workers {
            Some(n) => workers::supervise(&args, n),
            None => run(&args, None),
        },
    };
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("demo: {e}");
            ExitCode::FAILURE
        }
    };
    // The server stopped: write out the buffered access lines.
    if let Some(log) = ACCESS_LOG.get() {
        log.flush();
    }
    code
}

/// The buffered access log (`--access-logfile`), flushed at exit and reopened on SIGUSR1.
static ACCESS_LOG: std::sync::OnceLock<BufferedLog> = std::sync::OnceLock::new();

/// SIGUSR1: reopen the access log file (after logrotate moved it).
fn reopen_logs() {
    if let Some(log) = ACCESS_LOG.get() {
        match log.reopen() {
            Ok(()) => tracing::info!("access log reopened"),
            Err(e) => tracing::error!(error = %e, "reopening the access log failed"),
        }
    }
}

/// Writes `text` and a newline, ignoring a closed pipe (`demo --help | head -1`), which
/// `println!` would turn into a panic.
fn say(out: &mut impl std::io::Write, text: &str) -> ExitCode {
    let _ = writeln!(out, "{}", text.trim_end());
    ExitCode::SUCCESS
}

/// Every event goes to stderr, one write per line, as CPython's servers do; with
/// `--access-logfile` the access lines are buffered per thread (64 KiB, written at least
/// every second and at exit) to that file or, with `-`, to stderr, with the other events.
fn init_logging(args: &Args) -> Result<(), BoxError> {
    // CPython's log lines are the whole message: no level, target or time prefix (the
    // default `python` format; `AccessLines` also writes Apache's formats and JSON lines).
    let format: AccessLogFormat = args.access_log.into();
    let template = match &args.access_logformat {
        Some(t) => Some(t.parse::<AccessTemplate>()?),
        None => None,
    };
    match &args.access_logfile {
        Some(path) => {
            let (size, every) = (64 << 10, Duration::from_secs(1));
            let log = if path.as_os_str() == "-" {
                BufferedLog::stderr(size, every)?
            } else {
                BufferedLog::file(path, size, every)
                    .map_err(|e| format!("cannot open the access log {}: {e}", path.display()))?
            };
            let _ = ACCESS_LOG.set(log.clone());
            http_server::logging::install_subscriber(format, template, log);
        }
        None if template.is_some() => {
            http_server::logging::install_subscriber(format, template, std::io::stderr);
        }
        None => {
            http_server::logging::install_stderr_subscriber(format);
        }
    }
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn run(args: &Args, worker: Option<supervisor::Worker>) -> Result<(), BoxError> {
    let mut app = app::pick(args.app);
    if let Some(trusted) = &args.trusted_proxy {
        tracing::info!("trusting X-Forwarded-For/-Proto from {trusted}");
        app = Arc::new(ProxyFix::new(app, trusted.clone()).x_for(args.proxy_hops));
    }
    if args.faithful || args.once {
        if args.tls.cert.is_some() {
            return Err("--tls-cert needs the production face (without --faithful/--once)".into());
        }
        if args.proxy_protocol {
            return Err(
                "--proxy-protocol needs the production face (without --faithful/--once)".into(),
            );
        }
        faithful(args, app)
    } else {
        production(args, app, worker)
    }
}

/// `make_server(host, port, app)` + `serve_forever()` (or `handle_request()` with `--once`).
fn faithful(args: &Args, app: Arc<dyn Application>) -> Result<(), BoxError> {
    let mut httpd = make_server(&args.host, args.port, app)?;
    let addr = httpd.server_address().inet().expect("an IP address");
    banner(&addr.ip().to_string(), addr.port());
    if args.open {
        app::open_browser(addr.port());
    }
    if args.once {
        httpd.handle_request()?;
        return Ok(());
    }
    let handle = httpd.shutdown_handle();
    on_signal(move |_again| handle.request(), false)?;
    httpd.serve_forever(Duration::from_millis(500))?;
    httpd.server_close();
    Ok(())
}

/// The production face: the same WSGI handler on event loops, HTTP/1.1.
fn production(
    args: &Args,
    app: Arc<dyn Application>,
    worker: Option<supervisor::Worker>,
) -> Result<(), BoxError> {
    let mut config = EventLoopConfig {
        backlog: args.backlog,
        // `--reuse-port`: other servers may bind the port too (without it a port in use
        // is an error, even though each loop has its own `SO_REUSEPORT` listener).
        share_port: args.reuse_port,
        defer_accept: Some(http_server::h1::DEFER_ACCEPT),
        ..EventLoopConfig::default()
    };
    if let Some(t) = args.threads {
        config.threads = t;
    }
    if let Some(m) = args.max_blocking {
        config.max_blocking = m;
    }
    if let Some(m) = args.max_connections {
        config.max_connections = m;
    }
    config.max_request_bytes = usize::try_from(args.max_body).unwrap_or(usize::MAX / 2) + (1 << 20);
    config.request_timeout = Duration::from_secs(args.request_timeout);
    config.idle_timeout = Some(Duration::from_secs(args.idle_timeout));
    config.shutdown_timeout = Duration::from_secs(args.shutdown_timeout);

    // The handlers share the application and the base environ, built once the server is
    // bound (the base environ names its address).
    let env_slot: Arc<EnvSlot> = Arc::default();
    let slot = env_slot.clone();
    let factory = move |_cx: &HandlerCx<'_>| {
        let shared = slot.get().expect("the server is bound before it serves");
        WsgiRequestHandler::shared(Arc::clone(shared))
    };
    let limits = H1Limits {
        max_body: args.max_body,
        chunked: ChunkedLimits {
            max_body: args.max_body,
            ..ChunkedLimits::default()
        },
    };
    let http = http_config()
        .protocol_version("HTTP/1.1")
        .limits(args.max_line, args.max_headers);
    let protocol = HttpProtocol::new(factory, http).limits(limits);
    // The certificate and key are loaded before anything listens: a bad file is an error
    // that names it.
    let tls = match &args.tls.cert {
        None => None,
        Some(cert) => {
            let files = &args.tls;
            let tls = socketserver::TlsConfig::from_files(
                cert,
                files.key.as_ref(),
                files.password_file.as_ref(),
            )?;
            Some(http_server::https_acceptor(&tls)?)
        }
    };
    if args.proxy_protocol {
        tracing::info!("expecting a PROXY protocol header on every connection");
        listen_and_serve(
            args,
            config,
            ProxyProtocol::new(protocol),
            &env_slot,
            Site { app, tls },
            worker,
        )
    } else {
        listen_and_serve(args, config, protocol, &env_slot, Site { app, tls }, worker)
    }
}

type EnvSlot = std::sync::OnceLock<Arc<WsgiShared<dyn Application>>>;

/// What the production face serves: the application, over TLS when `--tls-cert` asks.
struct Site {
    app: Arc<dyn Application>,
    tls: Option<socketserver::TlsAcceptor>,
}

/// Counts requests in metrics when `--metrics-bind` asks for them, then binds and serves.
fn listen_and_serve<P: Protocol>(
    args: &Args,
    config: EventLoopConfig,
    protocol: P,
    env_slot: &EnvSlot,
    site: Site,
    worker: Option<supervisor::Worker>,
) -> Result<(), BoxError> {
    if args.metrics_bind.is_some() {
        let metrics = Arc::new(HttpMetrics::default());
        let protocol = Metered::new(protocol, metrics.clone());
        bind_and_serve(
            args,
            config,
            protocol,
            env_slot,
            site,
            worker,
            Some(metrics),
        )
    } else {
        bind_and_serve(args, config, protocol, env_slot, site, worker, None)
    }
}

/// Binds (or takes the inherited sockets, a supervisor's or systemd's), then serves.
fn bind_and_serve<P: Protocol>(
    args: &Args,
    config: EventLoopConfig,
    protocol: P,
    env_slot: &EnvSlot,
    site: Site,
    worker: Option<supervisor::Worker>,
    metrics: Option<Arc<HttpMetrics>>,
) -> Result<(), BoxError> {
    if let Some(mut worker) = worker {
        let listeners = worker.take_listeners();
        let protocol = worker.counted(protocol);
        let server = EventLoopServer::from_listeners(listeners, config, protocol)?;
        return serve(args, server, env_slot, site, Some(worker), &[], metrics);
    }
    let inherited = listen_fds()?;
    let mut files = supervisor::SocketFiles::default();
    let addrs;
    let server = if !inherited.is_empty() {
        tracing::info!(
            "serving {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        addrs = addresses(&inherited)?;
        EventLoopServer::from_listeners(inherited, config, protocol)?
    } else if args.bind.is_empty() && args.unix.is_none() {
        // One SO_REUSEPORT listener per event loop (no accept contention between loops);
        // an error names the address, as `--bind`'s do.
        let server = supervisor::bind_event_loops(&args.host, args.port, config, protocol)?;
        addrs = vec![server.local_addr().clone()];
        server
    } else {
        let listeners;
        (listeners, files) =
            supervisor::listen_all(&workers::bind_specs(args), &workers::bind_options(args))?;
        addrs = addresses(&listeners)?;
        EventLoopServer::from_listeners(listeners, config, protocol)?
    };
    let _pid = args
        .pid
        .as_deref()
        .map(supervisor::PidFile::write)
        .transpose()?;
    let served = serve(args, server, env_slot, site, None, &addrs, metrics);
    drop(files);
    served
}

/// The addresses of `listeners`, for the banners.
fn addresses(
    listeners: &[socketserver::evloop::Listener],
) -> Result<Vec<socketserver::Address>, BoxError> {
    Ok(listeners
        .iter()
        .map(socketserver::evloop::Listener::local_addr)
        .collect::<std::io::Result<_>>()?)
}

/// Fills the base environ, announces the server (a banner, or a supervised worker's
/// readiness) and serves until a signal.
fn serve<P: Protocol>(
    args: &Args,
    mut server: EventLoopServer<P>,
    env_slot: &EnvSlot,
    site: Site,
    worker: Option<supervisor::Worker>,
    addrs: &[socketserver::Address],
    metrics: Option<Arc<HttpMetrics>>,
) -> Result<(), BoxError> {
    let Site { app, tls } = site;
    let https = tls.is_some();
    if let Some(acceptor) = tls {
        server = server.tls(acceptor);
    }
    server.info_mut().multithread = true;
    server.info_mut().multiprocess = args.workers.is_some_and(|n| n > 1);
    let info = server.info().clone();
    let mut env = base_environ(&info.server_name, info.server_port);
    if https {
        // CGI's `HTTPS=on`: `wsgi.url_scheme` is `https` (wsgiref's `guess_scheme`).
        env.insert("HTTPS".to_owned(), "on".to_owned());
    }
    let _ = env_slot.set(Arc::new(WsgiShared::new(app, env)));
    let local = server.local_addr().clone();
    let handle = server.handle();
    let stop = handle.clone();
    on_signal(
        move |again| {
            if again {
                stop.shutdown_within(Duration::ZERO);
            } else {
                stop.shutdown();
            }
        },
        worker.is_some(),
    )?;
    let worker = worker.map(Arc::new);
    let render = metrics.map(|m| {
        let handle = handle.clone();
        move || m.render_with(&handle)
    });
    match &worker {
        Some(w) => {
            // Stops when the supervisor is gone; beats only while the loops make progress.
            w.watch(&handle)?;
            w.ready()?;
            if let Some(render) = render.clone() {
                // The supervisor sums every worker's snapshot.
                w.push_metrics(&handle, render)?;
            }
        }
        None => {
            if let (Some(addr), Some(render)) = (&args.metrics_bind, render.clone()) {
                let l = std::net::TcpListener::bind(addr)
                    .map_err(|e| format!("cannot listen on the metrics address {addr}: {e}"))?;
                tracing::info!("metrics at http://{}/metrics", l.local_addr()?);
                supervisor::serve_metrics(l, render)?;
            }
            for a in addrs {
                match a.inet() {
                    Some(a) if https => {
                        println!("Serving HTTPS on {} port {} ...", a.ip(), a.port());
                    }
                    _ => banner_for(a),
                }
            }
            if args.open {
                app::open_browser(local.port());
            }
        }
    }
    server.serve()?;
    // The last counts, so the supervisor's sums keep them after this worker exits.
    if let (Some(w), Some(render)) = (&worker, &render) {
        let _ = w.send_metrics(&render());
    }
    Ok(())
}

/// CPython's `wsgiref.simple_server` banner (`Serving HTTP on 0.0.0.0 port 8782 ...`).
/// Supervised workers do not print it: the supervisor does, once every worker serves.
fn banner(host: &str, port: u16) {
    println!("Serving HTTP on {host} port {port} ...");
}

/// The banner for a listening address (TCP as CPython prints it, or a Unix path).
fn banner_for(local: &socketserver::Address) {
    match local.inet() {
        Some(a) => banner(&a.ip().to_string(), a.port()),
        None => println!("Serving HTTP on {local} ..."),
    }
}

/// Runs `stop(false)` on the first SIGINT or SIGTERM, from a signal-handling thread, and
/// `stop(true)` on the next ones (stop now); SIGUSR1 reopens the access log file. A
/// supervised worker heeds only the first signal (a terminal's Ctrl-C reaches it besides
/// the supervisor's SIGTERM), and ignores SIGHUP (the supervisor's reload signal, which a
/// terminal's hang-up sends to the whole group).
fn on_signal(stop: impl Fn(bool) + Send + 'static, worker: bool) -> Result<(), BoxError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
    let wanted: &[i32] = if worker {
        &[SIGINT, SIGTERM, SIGHUP, SIGUSR1]
    } else if ACCESS_LOG.get().is_some() {
        &[SIGINT, SIGTERM, SIGUSR1]
    } else {
        &[SIGINT, SIGTERM]
    };
    let mut signals = signal_hook::iterator::Signals::new(wanted)?;
    let mut stopping = false;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGUSR1 {
                    reopen_logs();
                } else if !stopping {
                    tracing::info!("signal {sig}: shutting down");
                    stopping = true;
                    stop(false);
                } else if !worker {
                    tracing::warn!("signal {sig} again: stopping now");
                    stop(true);
                }
            }
        })?;
    Ok(())
}
