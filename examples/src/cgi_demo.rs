//! The reusable half of the `cgi_demo` example: `demo_app` as a CGI script.
//!
//! The example's `main` is Python's `wsgiref.handlers.CGIHandler().run(demo_app)`: the
//! request is the process environment and stdin, the response goes to stdout and starts
//! with a CGI `Status:` header. [`run_cgi`] runs the same handler configuration over
//! streams you choose, so a test can drive it in memory.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use gateway::handlers::{BaseHandler, HandlerConfig, StreamIo};
use gateway::{Application, Result};

/// Python: `wsgiref.handlers.CGIHandler().run(app)`, over given streams and CGI variables
/// instead of the process's (`HandlerConfig::cgi()`: a `Status:` line instead of a status
/// line, `wsgi.run_once` true, multi-process, single-threaded). Returns the output stream.
///
/// ```
/// use examples::cgi_demo::run_cgi;
/// let out = run_cgi(
///     &gateway::simple_server::demo_app,
///     [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/xyz"), ("QUERY_STRING", "abc")],
///     std::io::empty(),
///     Vec::new(),
///     std::io::sink(),
/// )
/// .unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("Status: 200 OK\r\n"));
/// assert!(text.contains("\nPATH_INFO = '/xyz'\n"));
/// ```
pub fn run_cgi<A, W, K, V>(
    app: &A,
    environ: impl IntoIterator<Item = (K, V)>,
    stdin: impl Read + Send + 'static,
    stdout: W,
    stderr: impl Write + Send + 'static,
) -> Result<W>
where
    A: Application + ?Sized,
    W: Write,
    K: Into<String>,
    V: Into<String>,
{
    let environ: BTreeMap<String, String> = environ
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let io = StreamIo::new(stdin, stdout, stderr, environ);
    let mut handler = BaseHandler::new(io, (), HandlerConfig::cgi());
    handler.run(app)?;
    Ok(handler.into_io().stdout)
}
