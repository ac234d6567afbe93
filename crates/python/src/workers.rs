//! `pyserve --workers N`: the process manager `demo --workers` runs
//! (`supervisor::Supervisor`), with Python workers.
//!
//! The supervisor process binds every address once (or takes systemd's sockets), starts N
//! copies of the `pyserve` command with the listeners inherited, replaces those that die
//! (with a back-off, and a crash-loop stop), reloads them on SIGHUP, kills those that miss
//! their heartbeat (`--worker-timeout`), replaces those that reach `--max-requests`, and
//! stops them on SIGTERM/SIGINT (gracefully) or SIGQUIT (at once). It never imports the
//! application: only the workers do, each in its own interpreter.
//!
//! A worker finds its side in [`Server`](crate::serve::Server): `supervisor::Worker::from_env`
//! gives it the inherited listeners and the control channel.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use socketserver::evloop::Listener;
use supervisor::{BindOptions, Config, PidFile, Supervisor};

fn secs(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number")))
}

/// Runs the supervisor until SIGTERM/SIGINT/SIGQUIT (then returns) or a crash loop (then
/// raises `RuntimeError`). `command` is each worker's command line (the `pyserve` command
/// with the same options); `binds` the addresses, bound here before any worker starts (a
/// busy port raises `OSError` at once); `ready(addresses)` is called once every worker
/// serves, with the bound addresses (`(host, port)` tuples or Unix paths);
/// `metrics_bind` serves the workers' metrics, summed, as Prometheus text.
#[pyfunction]
#[pyo3(signature = (
    command, workers, binds, *, backlog = 1024, unix_mode = None, reuse_port = false,
    max_requests = None, max_requests_jitter = 0, worker_timeout = None,
    graceful_timeout = 35.0, pid = None, ready = None, metrics_bind = None,
))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of a Python API"
)]
pub(crate) fn supervise(
    py: Python<'_>,
    command: Vec<OsString>,
    workers: usize,
    binds: Vec<String>,
    backlog: i32,
    unix_mode: Option<u32>,
    reuse_port: bool,
    max_requests: Option<u64>,
    max_requests_jitter: u64,
    worker_timeout: Option<f64>,
    graceful_timeout: f64,
    pid: Option<PathBuf>,
    ready: Option<Py<PyAny>>,
    metrics_bind: Option<String>,
) -> PyResult<()> {
    crate::log::ensure();
    let config = Config {
        workers,
        max_requests,
        max_requests_jitter,
        worker_timeout: worker_timeout
            .filter(|t| *t > 0.0)
            .map(|t| secs("worker_timeout", t))
            .transpose()?,
        graceful_timeout: secs("graceful_timeout", graceful_timeout)?,
        ..Config::default()
    };
    Supervisor::validate(&config).map_err(crate::net::to_py)?;
    let Some((program, args)) = command.split_first() else {
        return Err(PyValueError::new_err("the worker command is empty"));
    };
    let binds = crate::net::parse_binds(&binds)?;
    let options = BindOptions {
        backlog,
        unix_mode,
        reuse_port,
        defer_accept: Some(http_server::h1::DEFER_ACCEPT),
    };
    let (listeners, files) = crate::net::listeners(&binds, &options)?;
    let addrs = listeners
        .iter()
        .map(Listener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let pid = pid
        .as_deref()
        .map(PidFile::write)
        .transpose()
        .map_err(crate::net::to_py)?;
    let mut supervisor = Supervisor::new(config).on_reopen(|| {
        // Logged by `reopen`, in the new file.
        let _ = crate::log::reopen();
    });
    if let Some(addr) = metrics_bind {
        // Its own listener, never inherited by the workers (close-on-exec); they send
        // their counts, the supervisor sums them.
        let l = std::net::TcpListener::bind(&addr).map_err(|source| {
            crate::net::to_py(supervisor::Error::Listen {
                address: addr.clone(),
                source,
            })
        })?;
        tracing::info!("metrics at http://{}/metrics", l.local_addr()?);
        supervisor = supervisor.metrics(l);
    }
    if let Some(ready) = ready {
        supervisor = supervisor.on_ready(move || {
            Python::attach(|py| {
                let called =
                    crate::net::addresses_to_py(py, &addrs).and_then(|a| ready.call1(py, (a,)));
                if let Err(e) = called {
                    e.print(py);
                }
            });
        });
    }
    let result = py.detach(|| {
        supervisor.run(&listeners, |_| {
            let mut c = Command::new(program);
            c.args(args);
            c
        })
    });
    drop(listeners);
    drop((pid, files));
    result.map_err(crate::net::to_py)
}

/// True when a supervisor started this process (the `pyserve` command then serves as a
/// worker instead of supervising).
#[pyfunction]
pub(crate) fn is_worker() -> bool {
    supervisor::Worker::in_env()
}
