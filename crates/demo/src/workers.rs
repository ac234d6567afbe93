//! `--workers N`: N processes under `supervisor::Supervisor`, which binds every listener
//! once (or takes systemd's), starts this same program as its workers with the listeners
//! inherited, replaces them when they die, reloads them on SIGHUP and stops them on
//! SIGTERM/SIGINT (gracefully) or SIGQUIT (at once).

use std::process::Command;
use std::time::Duration;

use socketserver::evloop::{Listener, listen_fds};
use supervisor::{Bind, BindOptions, Config, PidFile, SocketFiles, Supervisor};

use crate::cli::Args;

/// The supervisor's configuration from the command line.
pub(crate) fn config(args: &Args, workers: usize) -> Config {
    Config {
        workers,
        max_requests: args.max_requests,
        max_requests_jitter: args.max_requests_jitter,
        worker_timeout: match args.worker_timeout {
            0 => None,
            s => Some(Duration::from_secs(s)),
        },
        // The workers' own grace period, and some time to exit after it.
        graceful_timeout: Duration::from_secs(args.shutdown_timeout) + Duration::from_secs(5),
        ..Config::default()
    }
}

/// The addresses to listen on: `--bind`, else `--unix`, else `--host`/`--port`.
pub(crate) fn bind_specs(args: &Args) -> Vec<Bind> {
    if !args.bind.is_empty() {
        args.bind.clone()
    } else if let Some(path) = &args.unix {
        vec![Bind::Unix(path.clone())]
    } else {
        vec![Bind::Tcp {
            host: args.host.clone(),
            port: args.port,
        }]
    }
}

/// The `--bind` options of the command line.
pub(crate) fn bind_options(args: &Args) -> BindOptions {
    BindOptions {
        backlog: args.backlog,
        unix_mode: args.unix_mode,
        reuse_port: args.reuse_port,
        defer_accept: Some(http_server::h1::DEFER_ACCEPT),
    }
}

/// Runs the supervisor until a stop signal or a crash loop.
pub(crate) fn supervise(args: &Args, workers: usize) -> Result<(), super::BoxError> {
    let config = config(args, workers);
    Supervisor::validate(&config)?;
    let exe = std::env::current_exe()?;
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut supervisor = Supervisor::new(config);
    if let Some(addr) = &args.metrics_bind {
        // Its own listener, never inherited by the workers (close-on-exec).
        let l = std::net::TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on the metrics address {addr}: {e}"))?;
        tracing::info!("metrics at http://{}/metrics", l.local_addr()?);
        supervisor = supervisor.metrics(l);
    }
    let inherited = listen_fds()?;
    let (listeners, files) = if !inherited.is_empty() {
        tracing::info!(
            "supervising workers on {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        (inherited, SocketFiles::default())
    } else {
        supervisor::listen_all(&bind_specs(args), &bind_options(args))?
    };
    let addrs = listeners
        .iter()
        .map(Listener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let pid = args.pid.as_deref().map(PidFile::write).transpose()?;
    let result = supervisor
        .on_reopen(super::reopen_logs)
        .on_ready(move || {
            for a in &addrs {
                super::banner_for(a);
            }
        })
        .run(&listeners, |_| {
            let mut c = Command::new(&exe);
            c.args(&argv);
            c
        });
    drop(listeners);
    drop((pid, files));
    Ok(result?)
}
