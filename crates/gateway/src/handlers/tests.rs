//! Tests of the `BaseHandler` state machine, ported from CPython's `HandlerTests` and
//! extended to every path: byte-exact output over in-memory streams.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::types::SharedBuffer;

const DATE: &str = "Mon, 05 Jun 2006 18:49:54 GMT";

/// Pins the clock so the `Date` header is known.
#[derive(Default)]
struct Pinned {
    closed: Vec<ResponseSummary>,
}

impl HandlerHooks for Pinned {
    fn date_time_string(&self) -> String {
        DATE.to_owned()
    }
    fn close(&mut self, summary: &ResponseSummary) {
        self.closed.push(summary.clone());
    }
}

type TestHandler = BaseHandler<StreamIo<Vec<u8>>, Pinned>;

/// CPython's `ErrorHandler`: a `BaseCGIHandler` over `BytesIO`s with
/// `setup_testing_defaults(kw)`, multithread and multiprocess.
fn error_handler(kw: &[(&str, &str)]) -> (TestHandler, SharedBuffer) {
    let mut env = Environ::from_vars(kw.iter().copied());
    util::setup_testing_defaults(&mut env);
    let vars: BTreeMap<String, String> = env
        .vars()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (stderr, captured) = ErrorStream::memory();
    let io = StreamIo::from_streams(InputStream::empty(), Vec::new(), stderr, vars);
    let mut config = HandlerConfig::base_cgi();
    config.wsgi_multithread = true;
    config.wsgi_multiprocess = true;
    (BaseHandler::new(io, Pinned::default(), config), captured)
}

fn out(h: &TestHandler) -> String {
    util::latin1_decode(&h.io().stdout)
}

fn hello_app(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    sr.start_response(
        "200 OK",
        &[("Content-Type", "text/plain"), ("Date", DATE)],
        None,
    )?;
    Ok(Body::from("Hello, world!"))
}

fn non_error_app(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    sr.start_response("200 OK", &[], None)?;
    Ok(Body::empty())
}

const ERROR_PAGE: &str = "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\
    Content-Length: 59\r\n\r\nA server error occurred.  Please contact the administrator.";

#[test]
fn test_environ() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testEnviron
    let (mut h, _) = error_handler(&[("X", "Y"), ("HOME", "/override/home")]);
    h.config_mut().os_environ = [
        ("HOME", "/my/home"),
        ("PATH", "/my/path"),
        ("LANG", "fr_FR.UTF-8"),
        ("SCRIPT_NAME", "test_script_name"),
        ("SERVER_NAME", "test_server_name"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    h.setup_environ();
    let env = h.environ();
    assert_eq!(env.version(), h.config().wsgi_version);
    assert!(env.multithread() && env.multiprocess() && !env.run_once());
    assert!(env.file_wrapper());
    let mut expected = Environ::new();
    util::setup_testing_defaults(&mut expected);
    let mut want: BTreeMap<&str, &str> = expected.vars().collect();
    for (k, v) in [("PATH", "/my/path"), ("LANG", "fr_FR.UTF-8")] {
        want.insert(k, v);
    }
    want.insert("X", "Y");
    want.insert("HOME", "/override/home");
    let got: BTreeMap<&str, &str> = env.vars().collect();
    assert_eq!(got, want);
    assert_eq!(env.url_scheme(), "http");
    let keys = env.keys();
    for k in [
        "wsgi.input",
        "wsgi.errors",
        "wsgi.version",
        "wsgi.run_once",
        "wsgi.url_scheme",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.file_wrapper",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} missing");
    }
}

#[test]
fn test_cgi_environ() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testCGIEnviron
    let mut h = SimpleHandler::base_cgi(
        io::empty(),
        Vec::new(),
        io::sink(),
        Vec::<(String, String)>::new(),
    );
    h.setup_environ();
    for key in ["wsgi.url_scheme", "wsgi.input", "wsgi.errors"] {
        assert!(h.environ().contains(key), "{key}");
    }
}

#[test]
fn test_scheme() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testScheme
    let (mut h, _) = error_handler(&[("HTTPS", "on")]);
    h.setup_environ();
    assert_eq!(h.environ().url_scheme(), "https");
    assert_eq!(h.scheme(), "https");
    let (mut h, _) = error_handler(&[]);
    h.setup_environ();
    assert_eq!(h.environ().url_scheme(), "http");
}

#[test]
fn test_content_length() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testContentLength
    let trivial_app1 = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from(e.url_scheme().as_bytes()))
    };
    let trivial_app2 = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        sr.write(e.url_scheme().as_bytes())?;
        Ok(Body::empty())
    };
    let trivial_app3 = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from("\u{442}\u{435}\u{441}\u{442}"))
    };
    let trivial_app4 = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Length", "12345")], None)?;
        Ok(Body::empty())
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&trivial_app1).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 4\r\n\r\nhttp");

    let (mut h, _) = error_handler(&[]);
    h.run(&trivial_app2).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nhttp");

    let (mut h, _) = error_handler(&[]);
    h.run(&trivial_app3).unwrap();
    assert_eq!(
        h.io().stdout,
        b"Status: 200 OK\r\nContent-Length: 8\r\n\r\n\xd1\x82\xd0\xb5\xd1\x81\xd1\x82"
    );

    let (mut h, _) = error_handler(&[]);
    h.run(&trivial_app4).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 12345\r\n\r\n");
}

#[test]
fn content_length_only_for_exactly_one_chunk() {
    let two = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from(vec![b"ab".to_vec(), b"cd".to_vec()]))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&two).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nabcd");
    let lazy = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::iter(vec![Ok::<_, Error>(b"abcd".to_vec())]))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&lazy).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nabcd");
    // A static chunk is one chunk too.
    let fixed = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from_static(b"abcd"))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&fixed).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 4\r\n\r\nabcd");
    // A lazy body that reports one block (Python: an iterable whose `len()` is 1) too.
    let sized = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::iter(vec![Ok::<_, Error>(b"abcd".to_vec())]).with_len(Some(1)))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&sized).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 4\r\n\r\nabcd");
}

#[test]
fn test_basic_error_output() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testBasicErrorOutput
    let (mut h, err) = error_handler(&[]);
    h.run(&non_error_app).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(err.text(), "");

    let error_app = |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> {
        Err(Error::app("This should be caught by handler"))
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&error_app).unwrap();
    assert_eq!(out(&h), ERROR_PAGE);
    assert_eq!(err.text(), "App: This should be caught by handler\n");
    assert!(h.summary().error);
}

#[test]
fn test_error_after_output() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testErrorAfterOutput
    let error_app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        sr.write(b"Some output has been sent")?;
        Err(Error::app("This should be caught by handler"))
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&error_app).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nSome output has been sent");
    assert!(err.text().contains("This should be caught by handler"));
    assert!(h.summary().close_connection);
}

#[test]
fn test_header_formats() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testHeaderFormats
    for ssw in [Some("FooBar/1.0"), None] {
        let sw = ssw.map(|s| format!("Server: {s}\r\n")).unwrap_or_default();
        for version in ["1.0", "1.1"] {
            for proto in ["HTTP/0.9", "HTTP/1.0", "HTTP/1.1"] {
                let (mut h, _) = error_handler(&[("SERVER_PROTOCOL", proto)]);
                h.config_mut().origin_server = false;
                h.config_mut().http_version = version.to_owned();
                h.config_mut().server_software = ssw.map(str::to_owned);
                h.run(&non_error_app).unwrap();
                assert_eq!(out(&h), "Status: 200 OK\r\nContent-Length: 0\r\n\r\n");

                let (mut h, _) = error_handler(&[("SERVER_PROTOCOL", proto)]);
                h.config_mut().origin_server = true;
                h.config_mut().http_version = version.to_owned();
                h.config_mut().server_software = ssw.map(str::to_owned);
                h.run(&non_error_app).unwrap();
                if proto == "HTTP/0.9" {
                    assert_eq!(out(&h), "");
                } else {
                    assert_eq!(
                        out(&h),
                        format!(
                            "HTTP/{version} 200 OK\r\nDate: {DATE}\r\n{sw}Content-Length: 0\r\n\r\n"
                        )
                    );
                }
            }
        }
    }
}

#[test]
fn test_bytes_data() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testBytesData
    let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response(
            "200 OK",
            &[("Content-Type", "text/plain; charset=utf-8")],
            None,
        )?;
        Ok(Body::from(b"data".to_vec()))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(
        out(&h),
        "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\ndata"
    );
}

#[test]
fn test_close_on_error() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testCloseOnError
    let closes = Arc::new(AtomicUsize::new(0));
    let c = closes.clone();
    let error_app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        sr.write(b"Some output has been sent")?;
        let c = c.clone();
        let crashy = vec![
            Ok(b"blah".to_vec()),
            Err(Error::app("This should be caught by handler")),
        ];
        Ok(Body::iter(crashy).on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&error_app).unwrap();
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    assert_eq!(
        out(&h),
        "Status: 200 OK\r\n\r\nSome output has been sentblah"
    );
    assert!(err.text().contains("This should be caught by handler"));
}

/// A stream that accepts at most `n` bytes per write.
struct PartialWriter {
    n: usize,
    written: Vec<u8>,
    calls: usize,
}

impl Write for PartialWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        let k = b.len().min(self.n);
        self.written.extend_from_slice(&b[..k]);
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn test_partial_write() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testPartialWrite
    for n in [7, 1] {
        let w = PartialWriter {
            n,
            written: Vec::new(),
            calls: 0,
        };
        let mut h = SimpleHandler::simple(
            io::empty(),
            w,
            io::sink(),
            [("SERVER_PROTOCOL", "HTTP/1.0")],
        );
        h.run(&hello_app).unwrap();
        let expected: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\
            Date: Mon, 05 Jun 2006 18:49:54 GMT\r\nContent-Length: 13\r\n\r\nHello, world!";
        assert_eq!(h.io().stdout.written, expected);
        if n == 1 {
            assert_eq!(h.io().stdout.calls, expected.len());
        }
    }
}

/// A stream whose writes fail with `kind`.
struct AbortingWriter(io::ErrorKind);

impl Write for AbortingWriter {
    fn write(&mut self, _b: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(self.0, "aborting"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn test_client_connection_terminations() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testClientConnectionTerminations
    for kind in [
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::ConnectionReset,
    ] {
        let (stderr, captured) = ErrorStream::memory();
        let io = StreamIo::from_streams(
            InputStream::empty(),
            AbortingWriter(kind),
            stderr,
            [("SERVER_PROTOCOL".to_owned(), "HTTP/1.0".to_owned())].into(),
        );
        let mut h = BaseHandler::new(io, (), HandlerConfig::simple());
        h.run(&hello_app).unwrap();
        assert_eq!(captured.text(), "", "{kind:?}");
        assert!(h.summary().close_connection);
    }
}

#[test]
fn test_dont_reset_internal_state_on_exception() {
    // CPython: Lib/test/test_wsgiref.py::HandlerTests::testDontResetInternalStateOnException
    let (stderr, captured) = ErrorStream::memory();
    let io = StreamIo::from_streams(
        InputStream::empty(),
        AbortingWriter(io::ErrorKind::Other),
        stderr,
        [("SERVER_PROTOCOL".to_owned(), "HTTP/1.0".to_owned())].into(),
    );
    let mut h = BaseHandler::new(io, (), HandlerConfig::simple());
    h.run(&hello_app).unwrap();
    assert!(
        captured.text().starts_with("Io: i/o error: aborting"),
        "{}",
        captured.text()
    );
    assert!(h.headers().is_some());
    assert_eq!(h.status(), Some("200 OK"));
    assert_eq!(h.environ().get("SERVER_PROTOCOL"), Some("HTTP/1.0"));
}

#[test]
fn write_before_start_response_is_an_error() {
    let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        let err = sr.write(b"too early").unwrap_err();
        assert!(matches!(err, Error::WriteBeforeStartResponse));
        Err(err)
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), ERROR_PAGE);
    assert_eq!(
        err.text(),
        "WriteBeforeStartResponse: write() before start_response()\n"
    );
}

#[test]
fn headers_set_twice_is_an_error() {
    let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        sr.start_response("404 Not Found", &[], None)?;
        Ok(Body::empty())
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), ERROR_PAGE);
    assert!(
        err.text()
            .starts_with("HeadersAlreadySet: headers already set!")
    );
}

#[test]
fn exc_info_before_headers_replaces_status_and_headers() {
    let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("X-First", "1")], None)?;
        sr.start_response(
            "503 Busy",
            &[("Retry-After", "5")],
            Some(Error::app("db down")),
        )?;
        Ok(Body::from("later"))
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(
        out(&h),
        "Status: 503 Busy\r\nRetry-After: 5\r\nContent-Length: 5\r\n\r\nlater"
    );
    assert_eq!(err.text(), "");
}

#[test]
fn exc_info_after_headers_propagates_the_original_error() {
    let app = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        sr.write(b"partial")?;
        let back = sr
            .start_response("500 Oops", &[], Some(Error::app("original failure")))
            .unwrap_err();
        assert_eq!(back.to_string(), "original failure");
        Err(back)
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\npartial");
    assert_eq!(err.text(), "App: original failure\n");
}

#[test]
fn app_panic_before_headers_sends_the_error_page() {
    let app = |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> {
        panic!("kaboom");
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), ERROR_PAGE);
    assert_eq!(err.text(), "Panic: the application panicked: kaboom\n");
}

#[test]
fn app_panic_after_headers_closes_the_connection() {
    let closes = Arc::new(AtomicUsize::new(0));
    let c = closes.clone();
    let app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        let c = c.clone();
        let chunks = (0..3).map(|i| {
            if i == 2 {
                panic!("kaboom in the body");
            }
            Ok::<_, Error>(format!("chunk{i};").into_bytes())
        });
        Ok(Body::iter(chunks).on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nchunk0;chunk1;");
    assert_eq!(
        err.text(),
        "Panic: the application panicked: kaboom in the body\n"
    );
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    let summary = h.summary();
    assert!(summary.error && summary.close_connection && summary.headers_sent);
    assert_eq!(h.hooks().closed.len(), 1);
}

#[test]
fn head_gets_headers_and_no_body() {
    let (mut h, _) = error_handler(&[("REQUEST_METHOD", "HEAD")]);
    h.config_mut().origin_server = true;
    h.run(&hello_app).unwrap();
    assert_eq!(
        out(&h),
        format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nDate: {DATE}\r\nContent-Length: 13\r\n\r\n"
        )
    );
    assert_eq!(h.bytes_sent(), 13);
}

#[test]
fn cgi_status_output() {
    let (mut h, _) = error_handler(&[]);
    h.run(&hello_app).unwrap();
    assert_eq!(
        out(&h),
        format!(
            "Status: 200 OK\r\nContent-Type: text/plain\r\nDate: {DATE}\r\nContent-Length: 13\r\n\r\nHello, world!"
        )
    );
}

#[test]
fn origin_server_adds_date_and_server() {
    let (mut h, _) = error_handler(&[]);
    h.config_mut().origin_server = true;
    h.config_mut().server_software = Some("WSGIServer/0.2".to_owned());
    h.run(&non_error_app).unwrap();
    assert_eq!(
        out(&h),
        format!(
            "HTTP/1.0 200 OK\r\nDate: {DATE}\r\nServer: WSGIServer/0.2\r\nContent-Length: 0\r\n\r\n"
        )
    );
    assert_eq!(h.environ().get("SERVER_SOFTWARE"), Some("WSGIServer/0.2"));
}

#[test]
fn start_response_rules() {
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "200",
            vec![],
            "InvalidStatus: invalid status \"200\": status must be at least 4 characters",
        ),
        (
            "20X OK",
            vec![],
            "InvalidStatus: invalid status \"20X OK\": status message must begin w/3-digit code",
        ),
        (
            "200OK",
            vec![],
            "InvalidStatus: invalid status \"200OK\": status message must have a space after code",
        ),
        (
            "200 OK\r\nX: y",
            vec![],
            "InvalidStatus: invalid status \"200 OK\\r\\nX: y\": status must not contain CR, LF or NUL",
        ),
        ("200 OK", vec![("Bad Name", "v")], "InvalidHeaderName"),
        ("200 OK", vec![("", "v")], "InvalidHeaderName"),
        (
            "200 OK",
            vec![("X-Split", "a\r\nSet-Cookie: evil")],
            "InvalidHeaderValue",
        ),
        ("200 OK", vec![("X-Nul", "a\0b")], "InvalidHeaderValue"),
        ("200 OK", vec![("X-Euro", "\u{20ac}")], "InvalidHeaderValue"),
        (
            "200 OK",
            vec![("Connection", "close")],
            "HopByHopHeader: hop-by-hop header, 'Connection: close', not allowed",
        ),
        (
            "200 OK",
            vec![("transfer-encoding", "chunked")],
            "HopByHopHeader",
        ),
    ];
    for (status, headers, want) in cases {
        let app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
            sr.start_response(status, &headers, None)?;
            Ok(Body::from("never sent"))
        };
        let (mut h, err) = error_handler(&[]);
        h.run(&app).unwrap();
        assert_eq!(out(&h), ERROR_PAGE, "{status}");
        assert!(err.text().starts_with(want), "{} vs {want}", err.text());
    }
}

#[test]
fn returning_without_start_response_is_an_error() {
    let app = |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> { Ok(Body::empty()) };
    let (mut h, err) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(out(&h), ERROR_PAGE);
    assert!(err.text().starts_with("NoStartResponse"));
}

#[test]
fn body_closed_exactly_once_on_success() {
    let closes = Arc::new(AtomicUsize::new(0));
    let c = closes.clone();
    let app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        let c = c.clone();
        Ok(Body::from("x").on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    assert_eq!(h.hooks().closed[0].code(), "200");
    assert_eq!(h.hooks().closed[0].bytes_sent, 1);
}

#[test]
fn error_output_failure_is_returned() {
    struct BadErrorPage;
    impl HandlerHooks for BadErrorPage {
        fn error_output(
            &self,
            _environ: &Environ,
            _sr: &mut dyn StartResponse,
            _config: &HandlerConfig,
            _exc: Error,
        ) -> Result<Body> {
            Err(Error::app("error page failed"))
        }
    }
    let app =
        |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> { Err(Error::app("first")) };
    let mut h = SimpleHandler::base_cgi(
        io::empty(),
        Vec::new(),
        io::sink(),
        [("SERVER_PROTOCOL", "HTTP/1.0")],
    )
    .with_hooks(BadErrorPage);
    let e = h.run(&app).unwrap_err();
    assert_eq!(e.to_string(), "error page failed");
    assert!(h.io().stdout.is_empty());
}

#[test]
fn file_wrapper_over_a_real_file_takes_the_sendfile_path() {
    let path = std::env::temp_dir().join(format!("gateway-sendfile-{}.txt", std::process::id()));
    std::fs::write(&path, b"0123456789").unwrap();
    let p = path.clone();
    let app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        Ok(Body::file(util::FileWrapper::from_file(
            std::fs::File::open(&p)?,
            4,
        )))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&app).unwrap();
    assert_eq!(
        out(&h),
        "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n0123456789"
    );
    assert_eq!(h.bytes_sent(), 10);

    // A reader that is not a file is iterated in blocks.
    let app2 = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::file(util::FileWrapper::new(
            io::Cursor::new(b"0123456789".to_vec()),
            4,
        )))
    };
    let (mut h, _) = error_handler(&[]);
    h.run(&app2).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\n0123456789");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn wsgi_input_reads_the_request_body() {
    let app = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        let line = e.input().readline()?;
        let rest = e.input().read_size(100)?;
        sr.start_response("200 OK", &[], None)?;
        Ok(Body::from(vec![rest, line]))
    };
    let io = StreamIo::new(
        io::Cursor::new(b"first\nsecond".to_vec()),
        Vec::new(),
        io::sink(),
        [("SERVER_PROTOCOL", "HTTP/1.0")],
    );
    let mut h = BaseHandler::new(io, Pinned::default(), HandlerConfig::base_cgi());
    h.run(&app).unwrap();
    assert_eq!(out(&h), "Status: 200 OK\r\n\r\nsecondfirst\n");
}

#[test]
fn read_environ_and_iis_fix() {
    let env = read_environ();
    if let Ok(path) = std::env::var("PATH") {
        assert_eq!(env.get("PATH"), Some(&path));
    }
    let mut env: BTreeMap<String, String> = [("SCRIPT_NAME", "/app"), ("PATH_INFO", "/app/x")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    iis_fix_path_info(&mut env);
    assert_eq!(env["PATH_INFO"], "/x");
    let mut env: BTreeMap<String, String> = [("SCRIPT_NAME", "/app"), ("PATH_INFO", "/apple")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    iis_fix_path_info(&mut env);
    assert_eq!(env["PATH_INFO"], "/apple");
    assert!(needs_transcode("REDIRECT_HTTP_X") && !needs_transcode("HOME"));
}

#[test]
fn cgi_config_presets() {
    let c = HandlerConfig::cgi();
    assert!(!c.origin_server && c.wsgi_run_once && !c.wsgi_multithread && c.wsgi_multiprocess);
    let s = HandlerConfig::simple();
    assert!(s.origin_server && s.wsgi_multithread && !s.wsgi_multiprocess);
}

#[test]
fn a_handler_can_run_twice() {
    let (mut h, _) = error_handler(&[]);
    h.run(&non_error_app).unwrap();
    h.run(&non_error_app).unwrap();
    assert_eq!(
        out(&h),
        "Status: 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(2)
    );
    assert_eq!(h.hooks().closed.len(), 2);
}
