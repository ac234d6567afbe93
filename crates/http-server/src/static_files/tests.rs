//! Unit tests of the static file helpers.

use super::*;

#[test]
fn ranges() {
    assert_eq!(parse_range(None, 10), Range::Whole);
    assert_eq!(parse_range(Some("bytes=0-4"), 10), Range::Bytes(0, 4));
    assert_eq!(parse_range(Some("bytes=5-"), 10), Range::Bytes(5, 9));
    assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Bytes(7, 9));
    assert_eq!(parse_range(Some("bytes=-30"), 10), Range::Bytes(0, 9));
    assert_eq!(parse_range(Some("bytes=3-100"), 10), Range::Bytes(3, 9));
    assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
    assert_eq!(parse_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
    assert_eq!(parse_range(Some("bytes=5-2"), 10), Range::Whole);
    assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Whole);
    assert_eq!(parse_range(Some("items=0-1"), 10), Range::Whole);
    assert_eq!(parse_range(Some("bytes=x-1"), 10), Range::Whole);
}

#[test]
fn splitext_like_posixpath() {
    assert_eq!(splitext("a/b.tar.gz"), ".gz");
    assert_eq!(splitext(".bashrc"), "");
    assert_eq!(splitext("a.b/c"), "");
    assert_eq!(splitext("x."), ".");
}

#[test]
fn quote_and_unquote() {
    assert_eq!(quote("a b/ü&<".as_bytes()), "a%20b/%C3%BC%26%3C");
    assert_eq!(unquote("%C3%A4%zz%2F"), "ä%zz/".as_bytes());
    assert_eq!(unquote("%ff"), "\u{fffd}".as_bytes());
}

#[test]
fn urlsplit_roundtrip() {
    let p = urlsplit("/dir?x=1#f");
    assert_eq!(
        (p.path.as_str(), p.query.as_str(), p.fragment.as_str()),
        ("/dir", "x=1", "f")
    );
    assert_eq!(p.unsplit(), "/dir?x=1#f");
    assert_eq!(urlsplit("http://h/d").unsplit(), "http://h/d");
}

#[test]
fn guess_type_cpython_answers() {
    let h = SimpleHttpHandler::new("/");
    for (name, want) in [
        ("a.txt", "text/plain"),
        ("a.html", "text/html"),
        ("a.htm", "text/html"),
        ("a.css", "text/css"),
        ("a.js", "text/javascript"),
        ("a.json", "application/json"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.svg", "image/svg+xml"),
        ("a.pdf", "application/pdf"),
        ("a.wasm", "application/wasm"),
        ("a.tar.gz", "application/gzip"),
        ("a.bz2", "application/x-bzip2"),
        ("a.xz", "application/x-xz"),
        ("a.Z", "application/octet-stream"),
        ("a.TXT", "text/plain"),
        ("a.svgz", "image/svg+xml"),
        ("a.py", "text/x-python"),
        ("noext", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
    ] {
        assert_eq!(h.guess_type(Path::new(name)), want, "{name}");
    }
}
