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

#[test]
fn a_listed_name_reads_back_to_its_bytes() {
    // CPython's forms (`quote(os.fsdecode(name), errors='surrogatepass')`).
    assert_eq!(quote_name(b"caf\xe9.bin"), "caf%ED%B3%A9.bin");
    assert_eq!(quote_name("café".as_bytes()), "caf%C3%A9");
    assert_eq!(quote_name(b"a b/"), "a%20b/");
    assert_eq!(unquote("caf%ED%B3%A9.bin"), b"caf\xe9.bin");
    assert_eq!(unquote("caf%C3%A9"), "café".as_bytes());
    // Not UTF-8 and no surrogate: Python's fallback, U+FFFD.
    assert_eq!(unquote("caf%E9"), "caf\u{FFFD}".as_bytes());
    // A surrogate that escapes no byte (U+D800) stays as its three bytes.
    assert_eq!(unquote("%ED%A0%80"), b"\xed\xa0\x80");
    // Any name: its link reads back to it (a cheap generator, every length to 12).
    let mut x: u32 = 12345;
    for len in 0..=12 {
        for _ in 0..500 {
            let name: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .filter(|b| *b != b'/')
                .collect();
            assert_eq!(unquote(&quote_name(&name)), name, "{name:?}");
        }
    }
}
