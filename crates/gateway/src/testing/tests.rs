//! Tests of the test client.

use super::*;
use crate::simple_server::demo_app;

fn echo(environ: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    let body = environ.input().read_size(1 << 20)?;
    let info = format!(
        "{} {} {} {} {}|",
        environ.get("REQUEST_METHOD").unwrap_or(""),
        environ.get("PATH_INFO").unwrap_or(""),
        environ.get("QUERY_STRING").unwrap_or(""),
        environ.get("CONTENT_LENGTH").unwrap_or(""),
        environ.get("HTTP_X_TOKEN").unwrap_or("-"),
    );
    sr.start_response("201 Created", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::from(vec![info.into_bytes(), body]))
}

#[test]
fn get_post_and_request() {
    let c = Client::new(echo);
    let r = c.get("/a%20b?x=1");
    assert_eq!(r.status(), "201 Created");
    assert_eq!(r.status_code(), 201);
    assert_eq!(r.text(), "GET /a b x=1  -|");
    assert_eq!(r.headers().keys(), vec!["Date", "Server", "Content-Type"]);
    assert!(r.raw().starts_with(b"HTTP/1.0 201 Created\r\n"));

    assert_eq!(c.post("/p", "str body").text(), "POST /p  8 -|str body");
    assert_eq!(c.post("/p", &b"bytes"[..]).text(), "POST /p  5 -|bytes");
    assert_eq!(c.post("/p", vec![1u8, 2]).body(), b"POST /p  2 -|\x01\x02");
    let r = c.request("PUT", "/r", &[("X-Token", "t0k")], "");
    assert_eq!(r.text(), "PUT /r   t0k|");
}

#[test]
fn one_chunk_gets_content_length_and_head_no_body() {
    let c = Client::new(demo_app);
    let get = c.get("/");
    let head = c.request("HEAD", "/", &[], b"");
    assert!(head.body().is_empty());
    assert_eq!(
        head.headers().get("Content-Length").unwrap(),
        get.headers().get("Content-Length").unwrap().replace(
            &get.body().len().to_string(),
            &(get.body().len() + 1).to_string()
        ),
        "a HEAD gets the Content-Length its GET would (REQUEST_METHOD is one char longer)"
    );
}

#[test]
fn demo_app_environ_is_the_servers() {
    let r = Client::new(demo_app).get("/xyz?abc");
    let text = r.text();
    for line in [
        "CONTENT_LENGTH = ''",
        "CONTENT_TYPE = 'text/plain'",
        "GATEWAY_INTERFACE = 'CGI/1.1'",
        "HTTP_HOST = '127.0.0.1'",
        "PATH_INFO = '/xyz'",
        "QUERY_STRING = 'abc'",
        "REMOTE_ADDR = '127.0.0.1'",
        "REMOTE_HOST = ''",
        "REQUEST_METHOD = 'GET'",
        "SCRIPT_NAME = ''",
        "SERVER_NAME = '127.0.0.1'",
        "SERVER_PORT = '80'",
        "SERVER_PROTOCOL = 'HTTP/1.0'",
        "SERVER_SOFTWARE = 'WSGIServer/0.2'",
        "wsgi.multiprocess = False",
        "wsgi.multithread = False",
        "wsgi.run_once = False",
        "wsgi.url_scheme = 'http'",
        "wsgi.version = (1, 0)",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
}

#[test]
fn errors_panics_and_violations_are_returned_by_try() {
    let failing =
        |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> { Err(Error::app("boom")) };
    let err = Client::new(failing).try_get("/").unwrap_err();
    assert!(matches!(err, Error::App(_)));
    assert_eq!(err.to_string(), "boom");

    let panicking = |_e: &Environ, _sr: &mut dyn StartResponse| -> Result<Body> {
        panic!("app panicked on purpose")
    };
    let err = Client::new(panicking).try_get("/").unwrap_err();
    assert!(
        matches!(&err, Error::Panic(m) if m == "app panicked on purpose"),
        "{err}"
    );

    let late = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        sr.write(b"partial")?;
        Err(Error::app("after headers"))
    };
    let err = Client::new(late).try_get("/").unwrap_err();
    assert!(
        err.to_string()
            .contains("after the headers were sent: App: after headers"),
        "{err}"
    );

    let hop = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response(
            "200 OK",
            &[("Content-Type", "text/plain"), ("Connection", "close")],
            None,
        )?;
        Ok(Body::empty())
    };
    let err = Client::new(hop).try_get("/").unwrap_err();
    assert!(matches!(err, Error::HopByHopHeader { .. }), "{err}");

    let caught = std::panic::catch_unwind(|| Client::new(failing).get("/x"));
    let msg = caught.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert_eq!(
        msg,
        "gateway::testing::Client: GET /x: the application failed: boom (App)"
    );
}

#[test]
fn client_settings_and_errors_stream() {
    let app = |e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        e.errors().write_str("logged to wsgi.errors")?;
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        Ok(Body::from(crate::util::request_uri(e, true)))
    };
    let c = Client::new(app)
        .server("example.org", 8080)
        .client_address("10.0.0.1");
    let r = c.request("GET", "/a?b", &[("Host", "example.org:8080")], "");
    assert_eq!(r.text(), "http://example.org:8080/a?b");
    assert_eq!(r.errors(), "logged to wsgi.errors");
    let env = c.environ_for("GET", "/", &[], 0);
    assert_eq!(env["REMOTE_ADDR"], "10.0.0.1");
    assert_eq!(env["SERVER_PORT"], "8080");
    assert_eq!(env["HTTP_HOST"], "example.org");
}
