//! Tests of the validator: `demo_app` passes, each violation of a broken application or
//! environ is caught and names its rule.

use super::*;
use crate::simple_server::demo_app;
use crate::testing::Client;

/// A `start_response` that records what it got.
#[derive(Default)]
struct Recorder {
    status: Option<String>,
    written: Vec<u8>,
}

impl StartResponse for Recorder {
    fn start_response(
        &mut self,
        status: &str,
        _headers: &[(&str, &str)],
        _exc_info: Option<Error>,
    ) -> Result<()> {
        self.status = Some(status.to_owned());
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.written.extend_from_slice(data);
        Ok(())
    }
}

fn good_environ() -> Environ {
    let mut env = Environ::from_vars([("QUERY_STRING", "")]);
    crate::util::setup_testing_defaults(&mut env);
    env
}

fn rule_of(e: &Error) -> &'static str {
    match e {
        Error::Validation { rule, .. } => rule,
        other => panic!("not a validation error: {other}"),
    }
}

#[test]
fn demo_app_passes() {
    let resp = Client::new(demo_app).get("/xyz?abc");
    assert_eq!(resp.status(), "200 OK");
    let mut r = Recorder::default();
    let body = validator(demo_app).call(&good_environ(), &mut r).unwrap();
    let chunks: Vec<Vec<u8>> = body.map(|c| c.unwrap()).collect();
    assert!(chunks[0].starts_with(b"Hello world!\n\n"));
    assert_eq!(r.status.as_deref(), Some("200 OK"));
}

fn app_with(status: &'static str, headers: Vec<(&'static str, &'static str)>) -> impl Application {
    move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response(status, &headers, None)?;
        Ok(Body::from("x"))
    }
}

#[test]
fn response_violations_are_caught() {
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "200 OK",
            vec![],
            "Content-Type",
            "no Content-Type header found",
        ),
        (
            "204 No Content",
            vec![("Content-Type", "text/plain")],
            "Content-Type",
            "in a 204 response",
        ),
        (
            "304 Not Modified",
            vec![("Content-type", "text/plain")],
            "Content-Type",
            "in a 304 response",
        ),
        (
            "2000 OK",
            vec![("Content-Type", "text/plain")],
            "status",
            "three characters",
        ),
        (
            "099 Low",
            vec![("Content-Type", "text/plain")],
            "status",
            "status code is invalid: 99",
        ),
        (
            "2x0 OK",
            vec![("Content-Type", "text/plain")],
            "status",
            "not a number",
        ),
        (
            "200 OK",
            vec![("Content-Type", "text/plain"), ("Status", "200")],
            "response headers",
            "Status header cannot be used",
        ),
        (
            "200 OK",
            vec![("Content-Type", "text/plain"), ("X-Trailing-", "v")],
            "response headers",
            "may not end in '-' or '_'",
        ),
        (
            "200 OK",
            vec![("Content-Type", "text/plain"), ("1st", "v")],
            "response headers",
            "bad header name",
        ),
        (
            "200 OK",
            vec![("Content-Type", "text/plain"), ("X:Y", "v")],
            "response headers",
            "may not contain ':'",
        ),
        (
            "200 OK",
            vec![("Content-Type", "text/plain"), ("X-Tab", "a\tb")],
            "response headers",
            "bad char: '\\t'",
        ),
    ];
    for (status, headers, rule, fragment) in cases {
        let client = Client::new(app_with(status, headers));
        let err = client.try_get("/").unwrap_err();
        assert_eq!(rule_of(&err), rule, "{status}: {err}");
        assert!(
            err.to_string().contains(fragment),
            "{err} lacks {fragment:?}"
        );
    }
}

#[test]
fn body_before_start_response_is_caught() {
    let app =
        |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> { Ok(Body::from("early")) };
    let err = Client::new(app).try_get("/").unwrap_err();
    assert_eq!(rule_of(&err), "start_response before the body");
    // Without the validator the handler still refuses, with its own error (Python:
    // `AssertionError("write() before start_response()")`).
    let err = Client::new(app)
        .without_validator()
        .try_get("/")
        .unwrap_err();
    assert!(matches!(err, Error::WriteBeforeStartResponse), "{err}");
    let empty = |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> { Ok(Body::empty()) };
    let err = Client::new(empty)
        .without_validator()
        .try_get("/")
        .unwrap_err();
    assert!(matches!(err, Error::NoStartResponse), "{err}");
}

#[test]
fn environ_violations_are_caught() {
    let app = validator(demo_app);
    let mut cases: Vec<(Environ, &str)> = Vec::new();
    let mut e = good_environ();
    e.remove("REQUEST_METHOD");
    cases.push((e, "missing required key: \"REQUEST_METHOD\""));
    let mut e = good_environ();
    e.remove("SERVER_PORT");
    cases.push((e, "missing required key: \"SERVER_PORT\""));
    let mut e = good_environ();
    e.set("HTTP_CONTENT_TYPE", "text/html");
    cases.push((
        e,
        "should not have the key: HTTP_CONTENT_TYPE (use CONTENT_TYPE instead)",
    ));
    let mut e = good_environ();
    e.set("HTTP_CONTENT_LENGTH", "3");
    cases.push((e, "use CONTENT_LENGTH instead"));
    let mut e = good_environ();
    e.set("wsgi.url_scheme", "ftp");
    cases.push((e, "wsgi.url_scheme unknown"));
    let mut e = good_environ();
    e.set("SCRIPT_NAME", "app");
    cases.push((e, "SCRIPT_NAME doesn't start with /"));
    let mut e = good_environ();
    e.set("SCRIPT_NAME", "/");
    cases.push((e, "SCRIPT_NAME cannot be '/'"));
    let mut e = good_environ();
    e.set("PATH_INFO", "x");
    cases.push((e, "PATH_INFO doesn't start with /"));
    let mut e = good_environ();
    e.remove("PATH_INFO");
    cases.push((e, "one of SCRIPT_NAME or PATH_INFO are required"));
    let mut e = good_environ();
    e.set("CONTENT_LENGTH", "-1");
    cases.push((e, "invalid CONTENT_LENGTH"));
    let mut e = good_environ();
    e.set("CONTENT_LENGTH", "ten");
    cases.push((e, "invalid CONTENT_LENGTH"));
    let mut e = good_environ();
    e.set("HTTP_X_NAME", "\u{20ac}");
    cases.push((e, "native string of Latin-1 chars"));
    for (env, fragment) in cases {
        let err = app.call(&env, &mut Recorder::default()).unwrap_err();
        assert!(
            err.to_string().contains(fragment),
            "{err} lacks {fragment:?}"
        );
    }
    // An empty CONTENT_LENGTH and a missing QUERY_STRING (a warning only) pass.
    let mut e = good_environ();
    e.set("CONTENT_LENGTH", "");
    e.remove("QUERY_STRING");
    assert!(app.call(&e, &mut Recorder::default()).is_ok());
}

#[test]
fn write_goes_through_and_close_runs_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let closes = Arc::new(AtomicUsize::new(0));
    let c = closes.clone();
    let app = move |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        sr.write(b"a")?;
        let c = c.clone();
        Ok(Body::from("b").on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let mut r = Recorder::default();
    let mut body = validator(app).call(&good_environ(), &mut r).unwrap();
    assert_eq!(
        body.len(),
        None,
        "the wrapper hides len(), as CPython's does"
    );
    assert_eq!(body.next().unwrap().unwrap(), b"b");
    body.close();
    drop(body);
    assert_eq!(r.written, b"a");
    assert_eq!(closes.load(Ordering::SeqCst), 1);
}
