//! The crate's error type.

use std::io;

/// Python: the `AssertionError`s that `wsgiref.handlers` and `wsgiref.validate` raise on
/// protocol misuse, plus whatever exception an application raises. Misuse that Python
/// `assert`s is a variant here, never a panic.
///
/// Every error the gateway layer reports.
#[doc(alias = "AssertionError")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Python: `AssertionError("write() before start_response()")` in
    /// `wsgiref.handlers.BaseHandler.write`.
    #[error("write() before start_response()")]
    WriteBeforeStartResponse,
    /// Python: `AssertionError("Headers already set!")` in
    /// `wsgiref.handlers.BaseHandler.start_response`, raised by a second call without `exc_info`.
    #[error("headers already set! (start_response() called again without exc_info)")]
    HeadersAlreadySet,
    /// Python: the `AttributeError` `BaseHandler.finish_content` hits on `self.headers` being `None`.
    ///
    /// The application returned its body without ever calling `start_response`.
    #[error("the application returned without calling start_response()")]
    NoStartResponse,
    /// Python: the status assertions of `wsgiref.handlers.BaseHandler.start_response`
    /// ("Status must be at least 4 characters", "Status message must begin w/3-digit code",
    /// "Status message must have a space after code").
    #[error("invalid status {status:?}: {reason}")]
    InvalidStatus {
        /// The status the application gave.
        status: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A response header name that is not an RFC 9110 token.
    #[error("invalid header name {name:?}: {reason}")]
    InvalidHeaderName {
        /// The offending name.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A response header value holding CR, LF, NUL or a character beyond Latin-1.
    #[error("invalid value for header {name:?}: {value:?}: {reason}")]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
        /// The offending value.
        value: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// Python: `AssertionError("Hop-by-hop header, '...', not allowed")` in
    /// `wsgiref.handlers.BaseHandler.start_response`.
    #[error("hop-by-hop header, '{name}: {value}', not allowed")]
    HopByHopHeader {
        /// The header's name.
        name: String,
        /// The header's value.
        value: String,
    },
    /// Python: the `AssertionError`s of `wsgiref.validate`.
    ///
    /// A PEP 3333 rule broken at run time, found by [`crate::validate::Validator`].
    #[error("PEP 3333 violation ({rule}): {message}")]
    Validation {
        /// The rule, as PEP 3333 words it (for example "start_response: the status").
        rule: &'static str,
        /// What was wrong, with the offending value.
        message: String,
    },
    /// The application panicked; the panic's message is kept.
    #[error("the application panicked: {0}")]
    Panic(String),
    /// Python: any exception an application raises.
    ///
    /// An error raised by the application (or a middleware).
    #[error(transparent)]
    App(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An I/O error from a stream.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// An error from the HTTP server underneath `simple_server`.
    #[cfg(feature = "simple-server")]
    #[error(transparent)]
    Http(#[from] http_server::Error),
}

#[cfg(feature = "simple-server")]
impl From<socketserver::Error> for Error {
    fn from(e: socketserver::Error) -> Self {
        Error::Http(http_server::Error::Socket(e))
    }
}

impl Error {
    /// Wraps any error raised by an application (Python: any exception).
    ///
    /// ```
    /// let e = gateway::Error::app("database unreachable");
    /// assert_eq!(e.to_string(), "database unreachable");
    /// ```
    pub fn app<E>(error: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Error::App(error.into())
    }

    /// Turns a caught panic payload into [`Error::Panic`].
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        Error::Panic(stdx::panic_message(payload))
    }

    /// True when the client went away (Python catches `ConnectionAbortedError`,
    /// `BrokenPipeError` and `ConnectionResetError` in `BaseHandler.run` and returns quietly).
    pub fn is_client_disconnect(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
        ))
    }

    /// A short name for the kind of error, used as the first word of the logged
    /// "traceback" (Python prints the exception class name, such as `AssertionError`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::WriteBeforeStartResponse => "WriteBeforeStartResponse",
            Error::HeadersAlreadySet => "HeadersAlreadySet",
            Error::NoStartResponse => "NoStartResponse",
            Error::InvalidStatus { .. } => "InvalidStatus",
            Error::InvalidHeaderName { .. } => "InvalidHeaderName",
            Error::InvalidHeaderValue { .. } => "InvalidHeaderValue",
            Error::HopByHopHeader { .. } => "HopByHopHeader",
            Error::Validation { .. } => "Validation",
            Error::Panic(_) => "Panic",
            Error::App(_) => "App",
            Error::Io(_) => "Io",
            #[cfg(feature = "simple-server")]
            Error::Http(_) => "Http",
        }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
