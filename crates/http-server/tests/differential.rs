//! The same raw requests to our server and to `python3 -m http.server` over the same
//! directory: status codes, header names (Date, Server and our extra `Accept-Ranges` aside)
//! and bodies must agree; documented divergences are checked as divergences.

use http_server::SimpleHttpHandler;
use http_server::testing::Response;

use crate::support::{PyServer, TempDir, raw_request, serve};

fn names(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !matches!(n.as_str(), "Date" | "Server" | "Accept-Ranges"))
        .collect()
}

fn values(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "Date" | "Server" | "Accept-Ranges"))
        .cloned()
        .collect()
}

#[test]
fn same_answers_as_cpython() {
    let dir = TempDir::new("differential");
    dir.write("a.txt", b"hello\n");
    dir.write("page.html", b"<p>hi</p>");
    dir.write("data.json", b"{}");
    dir.write("with space.txt", b"spaced");
    dir.write("\u{fc}nicode-\u{20ac}.txt", b"unicode");
    dir.write("<script>alert(1)</script>.txt", b"xss");
    dir.write("sub/inner.txt", b"inner");
    dir.write("odd dir/&amp;.txt", b"amp");
    dir.write("withindex/index.html", b"<h1>index</h1>");
    let Some(py) = PyServer::start(dir.path()) else {
        panic!("python3 -m http.server did not start (python3 is required for this test)");
    };
    let ours = serve(
        {
            let d = dir.path().to_path_buf();
            move |_: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new(d.clone())
        },
        SimpleHttpHandler::http_config(),
    );
    let lm = Response::parse(&raw_request(ours.addr, b"GET /a.txt HTTP/1.0\r\n\r\n"))
        .header("Last-Modified")
        .unwrap()
        .to_owned();
    let requests: Vec<String> = vec![
        "GET /a.txt HTTP/1.0".into(),
        "HEAD /a.txt HTTP/1.0".into(),
        "GET /page.html HTTP/1.0".into(),
        "GET /data.json HTTP/1.0".into(),
        "GET / HTTP/1.0".into(),
        "GET /sub HTTP/1.0".into(),
        "GET /sub/ HTTP/1.0".into(),
        "GET /sub?x=1 HTTP/1.0".into(),
        "GET //sub HTTP/1.0".into(),
        "GET /withindex/ HTTP/1.0".into(),
        "GET /missing HTTP/1.0".into(),
        "GET /a.txt/ HTTP/1.0".into(),
        "HEAD /missing HTTP/1.0".into(),
        "GET /with%20space.txt HTTP/1.0".into(),
        "GET /%C3%BCnicode-%E2%82%AC.txt HTTP/1.0".into(),
        "GET /%3Cscript%3Ealert%281%29%3C/script%3E.txt HTTP/1.0".into(),
        "GET /odd%20dir/ HTTP/1.0".into(),
        "GET /odd%20dir HTTP/1.0".into(),
        "GET /%3Cscript%3E HTTP/1.0".into(),
        format!("GET /a.txt HTTP/1.0\r\nIf-Modified-Since: {lm}"),
        "GET /a.txt HTTP/1.0\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT".into(),
        "GET /a.txt HTTP/1.0\r\nIf-Modified-Since: garbage".into(),
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close".into(),
        "POST / HTTP/1.0".into(),
        "BREW /pot HTTP/1.0".into(),
        "GET /spaced out HTTP/1.0".into(),
        "GET /../../etc/passwd HTTP/1.0".into(),
    ];
    for req in &requests {
        let raw = format!("{req}\r\n\r\n");
        let a = Response::parse(&raw_request(ours.addr, raw.as_bytes()));
        let b = Response::parse(&raw_request(py.addr, raw.as_bytes()));
        assert_eq!(a.status, b.status, "{req}");
        assert_eq!(a.reason, b.reason, "{req}");
        assert_eq!(names(&a), names(&b), "{req}");
        assert_eq!(values(&a), values(&b), "{req}");
        assert_eq!(a.text(), b.text(), "{req}");
    }
    // Documented divergence: a bad version gets a status line here, the bare page there.
    let raw = b"GET / HTTP/1.x\r\n\r\n";
    let a = Response::parse(&raw_request(ours.addr, raw));
    let b = Response::parse(&raw_request(py.addr, raw));
    assert_eq!((a.status, b.status), (400, 0));
    assert_eq!(a.text(), b.text());
}
