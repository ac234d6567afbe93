//! The crate's error type.

use std::io;

/// Errors raised by servers and request handlers.
///
/// Python: the `OSError`s and arbitrary exceptions that `socketserver` lets propagate or
/// hands to `BaseServer.handle_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from a socket or stream.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The request handler panicked; the payload's message is kept.
    #[error("request handler panicked: {0}")]
    HandlerPanicked(String),
    /// An error raised by a request handler or a layer above this crate.
    #[error(transparent)]
    Handler(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An operation needs a server state it is not in (for example `serve_forever` twice).
    #[error("invalid server state: {0}")]
    State(&'static str),
    /// A TLS certificate, key or password file that cannot be used; `path` names the file.
    #[cfg(feature = "tls")]
    #[error("{}: {reason}", path.display())]
    Tls {
        /// The file at fault.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// Wraps any error raised by a handler (Python: any exception a `handle()` raises).
    pub fn handler<E>(error: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Error::Handler(error.into())
    }

    /// Turns a caught panic payload into [`Error::HandlerPanicked`].
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        Error::HandlerPanicked(stdx::panic_message(payload))
    }

    /// True when this is a socket timeout (Python: `socket.timeout` / `TimeoutError`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
