//! `--workers N`: N processes under `supervisor::Supervisor`, which binds every listener
//! once (or takes systemd's), starts this same program as its workers with the listeners
//! inherited, replaces them when they die, reloads them on SIGHUP and stops them on
//! SIGTERM/SIGINT (gracefully) or SIGQUIT (at once).

use std::process::Command;
use std::time::Duration;

use socketserver::evloop::{Listener, listen_fds};
use supervisor::{Bind, BindOptions, Config, Supervisor};

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

/// Runs the supervisor until a stop signal or a crash loop.
pub(crate) fn supervise(args: &Args, workers: usize) -> Result<(), super::BoxError> {
    let config = config(args, workers);
    Supervisor::validate(&config)?;
    let exe = std::env::current_exe()?;
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut unix_path = None;
    let inherited = listen_fds()?;
    let listeners: Vec<Listener> = if !inherited.is_empty() {
        tracing::info!(
            "supervising workers on {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        inherited
    } else if let Some(path) = &args.unix {
        let bind = Bind::Unix(path.clone());
        unix_path = Some(path.clone());
        vec![bind.listen(&BindOptions::default())?]
    } else {
        let bind = Bind::Tcp {
            host: args.host.clone(),
            port: args.port,
        };
        vec![bind.listen(&BindOptions::default())?]
    };
    let local = listeners
        .first()
        .map(Listener::local_addr)
        .transpose()?
        .ok_or("no listener")?;
    let result = Supervisor::new(config)
        .on_ready(move || match local.inet() {
            Some(a) => super::banner(&a.ip().to_string(), a.port()),
            None => super::banner_path(&local.to_string()),
        })
        .run(&listeners, |_| {
            let mut c = Command::new(&exe);
            c.args(&argv);
            c
        });
    drop(listeners);
    if let Some(p) = unix_path {
        let _ = std::fs::remove_file(p);
    }
    Ok(result?)
}
