//! PEP 3333 conformance checking middleware.
//!
//! Python: `wsgiref.validate`. Put [`validator`] between a server and an application: it
//! changes nothing, but turns every protocol violation it sees, by the server or by the
//! application, into an [`Error::Validation`] naming the PEP 3333 rule. Rules the Rust types
//! already enforce (argument counts, `bytes` chunks, a list of tuples for the headers, an
//! iterable body, `exc_info`'s type, the stream methods of `wsgi.input`/`wsgi.errors`) are
//! not checked again; Python's `WSGIWarning`s become `tracing::warn!` events.
//!
//! ```
//! use gateway::{Body, Environ, Error, Result, StartResponse};
//! use gateway::validate::validator;
//!
//! fn no_content_type(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
//!     sr.start_response("200 OK", &[], None)?;
//!     Ok(Body::from("hi"))
//! }
//! let client = gateway::testing::Client::new(validator(no_content_type)).without_validator();
//! let err = client.try_get("/").unwrap_err();
//! assert!(matches!(err, Error::Validation { rule: "Content-Type", .. }), "{err}");
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::types::{Application, Body, Environ, StartResponse};

fn violation(rule: &'static str, message: impl Into<String>) -> Error {
    Error::Validation {
        rule,
        message: message.into(),
    }
}

fn assert_(cond: bool, rule: &'static str, message: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(violation(rule, message()))
    }
}

/// Python: `wsgiref.validate.validator`.
///
/// Wraps `application` in the PEP 3333 checker.
#[doc(alias = "wsgiref.validate.validator")]
pub fn validator<A: Application>(application: A) -> Validator<A> {
    Validator::new(application)
}

/// Python: the `lint_app` closure `wsgiref.validate.validator` returns.
///
/// The checking middleware [`validator`] builds; itself an [`Application`].
#[doc(alias = "wsgiref.validate.validator")]
#[derive(Clone, Debug)]
pub struct Validator<A> {
    application: A,
    keep_len: bool,
}

impl<A: Application> Validator<A> {
    /// Same as [`validator`].
    pub fn new(application: A) -> Self {
        Validator {
            application,
            keep_len: false,
        }
    }

    /// A validator whose wrapped body still reports the application's `len()`, so a one-chunk
    /// response keeps its `Content-Length` (CPython's wrapper hides it; the test client
    /// wants the real server's headers).
    pub(crate) fn keeping_len(application: A) -> Self {
        Validator {
            application,
            keep_len: true,
        }
    }

    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.application
    }
}

impl<A: Application> Application for Validator<A> {
    /// Python: `wsgiref.validate.validator`'s `lint_app(environ, start_response)`.
    #[doc(alias = "wsgiref.validate.validator")]
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        check_environ(environ)?;
        let started = Arc::new(AtomicBool::new(false));
        let body = {
            let mut wrapper = StartResponseWrapper {
                inner: start_response,
                started: &started,
            };
            self.application.call(environ, &mut wrapper)?
        };
        let len = if self.keep_len { body.len() } else { None };
        Ok(Body::iter(IteratorWrapper {
            inner: body,
            started: Some(started),
        })
        .with_len(len))
    }
}

/// Python: `wsgiref.validate.start_response_wrapper` and `WriteWrapper`.
#[doc(alias = "wsgiref.validate.start_response_wrapper")]
struct StartResponseWrapper<'a, 'b> {
    inner: &'a mut dyn StartResponse,
    started: &'b AtomicBool,
}

impl StartResponse for StartResponseWrapper<'_, '_> {
    fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        exc_info: Option<Error>,
    ) -> Result<()> {
        check_status(status)?;
        check_headers(headers)?;
        check_content_type(status, headers)?;
        self.started.store(true, Ordering::SeqCst);
        self.inner.start_response(status, headers, exc_info)
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write(data)
    }
}

/// Python: `wsgiref.validate.IteratorWrapper`.
#[doc(alias = "wsgiref.validate.IteratorWrapper")]
struct IteratorWrapper {
    inner: Body,
    started: Option<Arc<AtomicBool>>,
}

impl Iterator for IteratorWrapper {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let v = self.inner.next()?;
        if let Some(started) = self.started.take()
            && !started.load(Ordering::SeqCst)
        {
            return Some(Err(violation(
                "start_response before the body",
                "the application returned and its body is being iterated, but \
                     start_response has not yet been called",
            )));
        }
        Some(v)
    }
}

const REQUIRED_KEYS: [&str; 3] = ["REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"];
const KNOWN_METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE",
];

/// Python: `wsgiref.validate.check_environ`.
///
/// Checks an environ as a server must build it.
#[doc(alias = "wsgiref.validate.check_environ")]
pub fn check_environ(environ: &Environ) -> Result<()> {
    const RULE: &str = "environ";
    for key in REQUIRED_KEYS {
        assert_(environ.get(key).is_some(), RULE, || {
            format!("environment missing required key: {key:?}")
        })?;
    }
    for key in ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"] {
        assert_(environ.get(key).is_none(), RULE, || {
            format!(
                "environment should not have the key: {key} (use {} instead)",
                &key[5..]
            )
        })?;
    }
    if environ.get("QUERY_STRING").is_none() {
        tracing::warn!(
            "QUERY_STRING is not in the WSGI environment; the cgi module will use sys.argv \
             when this variable is missing, so application errors are more likely"
        );
    }
    for (key, value) in environ.vars() {
        assert_(crate::util::is_latin1(value), "native strings", || {
            format!(
                "environ value of {key} must be a native string of Latin-1 chars: {}",
                crate::util::py_repr(value)
            )
        })?;
    }
    let scheme = environ.url_scheme_opt();
    assert_(matches!(scheme, Some("http" | "https")), RULE, || {
        format!("wsgi.url_scheme unknown: {scheme:?}")
    })?;
    let method = environ.get("REQUEST_METHOD").unwrap_or("");
    if !KNOWN_METHODS.contains(&method) {
        tracing::warn!("unknown REQUEST_METHOD: {method:?}");
    }
    let script_name = environ.get("SCRIPT_NAME").unwrap_or("");
    assert_(
        script_name.is_empty() || script_name.starts_with('/'),
        RULE,
        || format!("SCRIPT_NAME doesn't start with /: {script_name:?}"),
    )?;
    let path_info = environ.get("PATH_INFO").unwrap_or("");
    assert_(
        path_info.is_empty() || path_info.starts_with('/'),
        RULE,
        || format!("PATH_INFO doesn't start with /: {path_info:?}"),
    )?;
    if let Some(cl) = environ.get("CONTENT_LENGTH").filter(|c| !c.is_empty()) {
        assert_(cl.trim().parse::<i64>().is_ok_and(|n| n >= 0), RULE, || {
            format!("invalid CONTENT_LENGTH: {cl:?}")
        })?;
    }
    if script_name.is_empty() {
        assert_(environ.get("PATH_INFO").is_some(), RULE, || {
            "one of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least be '/' \
             if SCRIPT_NAME is empty)"
                .to_owned()
        })?;
    }
    assert_(script_name != "/", RULE, || {
        "SCRIPT_NAME cannot be '/'; it should instead be '', and PATH_INFO should be '/'".to_owned()
    })
}

/// Python: `wsgiref.validate.check_status`.
///
/// Checks a status string.
#[doc(alias = "wsgiref.validate.check_status")]
pub fn check_status(status: &str) -> Result<()> {
    const RULE: &str = "status";
    let code = status.split_whitespace().next().unwrap_or("");
    assert_(code.chars().count() == 3, RULE, || {
        format!("status codes must be three characters: {code:?}")
    })?;
    let n: u16 = code
        .parse()
        .map_err(|_| violation(RULE, format!("status code is not a number: {code:?}")))?;
    assert_(n >= 100, RULE, || format!("status code is invalid: {n}"))?;
    if status.len() < 4 || status.as_bytes()[3] != b' ' {
        tracing::warn!(
            "the status string ({status:?}) should be a three-digit integer followed by a \
             single space and a status explanation"
        );
    }
    Ok(())
}

/// Python: `wsgiref.validate.check_headers`.
///
/// Checks the response headers.
#[doc(alias = "wsgiref.validate.check_headers")]
pub fn check_headers(headers: &[(&str, &str)]) -> Result<()> {
    const RULE: &str = "response headers";
    for (name, value) in headers {
        assert_(!name.eq_ignore_ascii_case("status"), RULE, || {
            format!(
                "the Status header cannot be used; it conflicts with CGI script, and HTTP \
                 status is not given through headers (value: {value:?})"
            )
        })?;
        assert_(!name.contains(['\n', ':']), RULE, || {
            format!("header names may not contain ':' or '\\n': {name:?}")
        })?;
        let mut chars = name.chars();
        let good = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        assert_(good, RULE, || format!("bad header name: {name:?}"))?;
        assert_(!name.ends_with(['-', '_']), RULE, || {
            format!("names may not end in '-' or '_': {name:?}")
        })?;
        if let Some(bad) = value.chars().find(|c| u32::from(*c) < 0o40) {
            return Err(violation(
                RULE,
                format!("bad header value: {value:?} (bad char: {bad:?})"),
            ));
        }
    }
    Ok(())
}

/// Python: `wsgiref.validate.check_content_type`.
///
/// Checks that a `Content-Type` is present, except in a 204 or 304 response, where it must
/// not be.
#[doc(alias = "wsgiref.validate.check_content_type")]
pub fn check_content_type(status: &str, headers: &[(&str, &str)]) -> Result<()> {
    const RULE: &str = "Content-Type";
    let code: u16 = status
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let no_body = code == 204 || code == 304;
    let has = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    match (has, no_body) {
        (true, true) => Err(violation(
            RULE,
            format!(
                "Content-Type header found in a {code} response, which must not return content"
            ),
        )),
        (false, false) => Err(violation(
            RULE,
            format!("no Content-Type header found in headers ({headers:?})"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
