//! `supervisor`: the process manager of pyserve's servers, in the manner of gunicorn's
//! arbiter.
//!
//! A [`Supervisor`] is given listening sockets (bound once with [`Bind::listen`], or taken
//! from systemd socket activation) and a way to build a worker's command. It starts the
//! workers with the sockets inherited (so every worker accepts on the same socket: a Unix
//! socket works with several workers, and nothing is reset while workers come and go),
//! replaces those that die (with a back-off, and a crash-loop stop), reloads gracefully on
//! `SIGHUP`, kills workers that miss their heartbeat, and speaks systemd's `sd_notify`.
//! A worker finds its side with [`Worker::from_env`].
//!
//! # Porting from Python
//!
//! Python's `socketserver` has no process manager (its `ForkingMixIn` forks per request);
//! this crate is what gunicorn's `Arbiter` is to a WSGI application: signals `HUP`, `TERM`,
//! `INT`, `QUIT`, `USR1`, `TTIN` and `TTOU` mean what they mean there. See
//! `docs/deployment.md` for the systemd units and the reload procedure, and
//! `docs/porting-map.md` for the Python names.
//!
//! # Example
//!
//! ```
//! use supervisor::{Bind, BindOptions, Config, Supervisor};
//! // Configuration is checked before anything listens or starts.
//! assert!(Supervisor::validate(&Config { workers: 0, ..Config::default() }).is_err());
//! let bind: Bind = "127.0.0.1:0".parse()?;
//! let listener = bind.listen(&BindOptions::default())?;
//! assert!(listener.local_addr()?.inet().is_some());
//! # Ok::<(), supervisor::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

pub use crate::arbiter::{Config, Supervisor, WorkerSpec};
pub use crate::bind::{Bind, BindOptions, PidFile, SocketFiles, bind_event_loops, listen_all};
pub use crate::error::{Error, Result};
pub use crate::metrics::serve_metrics;
pub use crate::worker::{Counted, Worker};

mod arbiter;
mod bind;
mod error;
mod fds;
mod metrics;
mod protocol;
mod worker;
