//! The crate's error type.

use std::io;

/// Errors of the supervisor and of the worker side of its protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error (binding, spawning, signalling, the control channel).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// A `--bind` address that does not parse.
    #[error("invalid bind address '{value}': {reason}")]
    Bind {
        /// The address as given.
        value: String,
        /// Why it is not valid.
        reason: String,
    },
    /// Binding an address failed.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address as given.
        address: String,
        /// The error of `bind`/`listen`.
        #[source]
        source: io::Error,
    },
    /// Writing the pid file failed.
    #[error("cannot write the pid file {}: {source}", path.display())]
    PidFile {
        /// The file.
        path: std::path::PathBuf,
        /// The error of the write.
        #[source]
        source: io::Error,
    },
    /// A configuration value that is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Workers died too often: `deaths` within `window`.
    #[error(
        "workers are crashing: {deaths} died within {window:?} (last: {last}); stopping instead of respawning"
    )]
    CrashLoop {
        /// How many died.
        deaths: usize,
        /// Within how long.
        window: std::time::Duration,
        /// How the last one ended.
        last: String,
    },
    /// The environment a supervisor set for its worker is malformed.
    #[error("malformed worker environment: {0}")]
    WorkerEnv(String),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::Io(e.into())
    }
}
