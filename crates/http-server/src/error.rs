//! The crate's error types: [`Error`] for failures, [`HttpError`] for status replies.

use std::fmt;
use std::io;

/// Errors raised while serving HTTP.
///
/// Python: the exceptions `http.server` lets propagate out of a handler (`OSError`s from the
/// socket, anything a `do_GET` raises) and the `http.client.HTTPException`s of header parsing
/// (those become [`HttpError`] replies instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on the connection.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// An error from the `socketserver` layer.
    #[error(transparent)]
    Socket(#[from] socketserver::Error),
    /// A response header that would split the response (a name that is not a token, or a
    /// value holding CR, LF or NUL).
    ///
    /// Python 3.11 writes such headers as they are; 3.12 raises `ValueError`.
    #[error("invalid response header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name, as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header or status text that is not Latin-1.
    ///
    /// Python: the `UnicodeEncodeError` of `.encode('latin-1', 'strict')`.
    #[error("text is not latin-1: {0:?}")]
    NotLatin1(String),
    /// An error raised by a handler or by a layer above this crate (the gateway's errors).
    #[error(transparent)]
    Handler(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Wraps any error a handler raises (Python: any exception out of `do_GET`).
    pub fn handler<E>(error: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Error::Handler(error.into())
    }

    /// True when this is a socket timeout (Python: `TimeoutError`).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            Error::Socket(e) => e.is_timeout(),
            _ => false,
        }
    }
}

impl From<Error> for socketserver::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => socketserver::Error::Io(e),
            Error::Socket(e) => e,
            other => socketserver::Error::handler(other),
        }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP error reply to send: what `parse_request` and the driver hand to
/// [`HttpHandler::send_error`](crate::HttpHandler::send_error).
///
/// Python: the arguments of `BaseHTTPRequestHandler.send_error(code, message, explain)`;
/// `None` means "the standard phrase / description of `code`".
#[doc(alias = "http.server.BaseHTTPRequestHandler.send_error")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code (Python: `code`).
    pub code: u16,
    /// The reason phrase (Python: `message`).
    pub message: Option<String>,
    /// The long explanation shown in the error page (Python: `explain`).
    pub explain: Option<String>,
}

impl HttpError {
    /// An error reply with the standard phrase and description of `code`.
    ///
    /// ```
    /// let e = http_server::HttpError::new(404);
    /// assert_eq!((e.code, e.message, e.explain), (404, None, None));
    /// ```
    pub fn new(code: u16) -> Self {
        HttpError {
            code,
            message: None,
            explain: None,
        }
    }

    /// Sets the reason phrase.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the explanation.
    pub fn explain(mut self, explain: impl Into<String>) -> Self {
        self.explain = Some(explain.into());
        self
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phrase = self
            .message
            .as_deref()
            .or_else(|| crate::responses(self.code).map(|r| r.0))
            .unwrap_or("???");
        write!(f, "{} {}", self.code, phrase)
    }
}

impl std::error::Error for HttpError {}
