//! `--workers N`: N processes under `supervisor::Supervisor`, which binds every listener
//! once (or takes systemd's), starts this same program as its workers with the listeners
//! inherited, replaces them when they die, reloads them on SIGHUP and stops them on
//! SIGTERM/SIGINT (gracefully) or SIGQUIT (at once).

use std::path::{Path, PathBuf};
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

/// Binds every address (all or nothing: a failure closes those already bound).
pub(crate) fn listen_all(args: &Args, specs: &[Bind]) -> Result<Vec<Listener>, super::BoxError> {
    let options = BindOptions {
        backlog: args.backlog,
        unix_mode: args.unix_mode,
        reuse_port: args.reuse_port,
    };
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        match spec.listen(&options) {
            Ok(l) => out.push(l),
            Err(e) => {
                drop(out);
                for s in specs.iter().take_while(|s| *s != spec) {
                    if let Some(p) = s.unix_path() {
                        let _ = std::fs::remove_file(p);
                    }
                }
                return Err(e.into());
            }
        }
    }
    Ok(out)
}

/// `--pid FILE`: the process id, written once listening and removed on exit.
#[derive(Debug)]
pub(crate) struct PidFile(PathBuf);

impl PidFile {
    pub(crate) fn write(path: &Path) -> Result<PidFile, super::BoxError> {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write the pid file {}: {e}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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
    let mut unix_paths = Vec::new();
    let inherited = listen_fds()?;
    let listeners: Vec<Listener> = if !inherited.is_empty() {
        tracing::info!(
            "supervising workers on {} inherited socket(s) (systemd socket activation)",
            inherited.len()
        );
        inherited
    } else {
        let specs = bind_specs(args);
        let listeners = listen_all(args, &specs)?;
        unix_paths = specs
            .iter()
            .filter_map(|b| b.unix_path().map(Path::to_path_buf))
            .collect();
        listeners
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
    drop(pid);
    for p in unix_paths {
        let _ = std::fs::remove_file(p);
    }
    Ok(result?)
}
