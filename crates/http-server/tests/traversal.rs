//! `translate_path` never leaves the served directory: a fuzz-style corpus, checked both on
//! the mapped path and by requesting each path from a served directory holding a secret
//! next to it.

use std::path::Component;

use http_server::testing::Harness;
use http_server::{SimpleHttpHandler, translate_path};

use crate::support::TempDir;

const ATTEMPTS: &[&str] = &[
    "/../secret.txt",
    "/../../../../etc/passwd",
    "/..",
    "/../",
    "..",
    "../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2F..%2Fsecret.txt",
    "/%252e%252e/secret.txt",
    "/./.././secret.txt",
    "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/%5c..%5c..%5csecret.txt",
    "/%00/../secret.txt",
    "/secret.txt%00.html",
    "//../secret.txt",
    "/%2f%2f..%2f..%2fsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/..;/secret.txt",
    "/.../secret.txt",
    "/sub/..%00/secret.txt",
    "/?/../../secret.txt",
    "/#/../../secret.txt",
    "/ /../../secret.txt",
    "/%20..%20/secret.txt",
    "/etc/passwd",
    "file:///etc/passwd",
    "http://example.com/../../secret.txt",
];

#[test]
fn translate_path_stays_inside() {
    let root = std::path::Path::new("/srv/root");
    assert!(ATTEMPTS.len() >= 20);
    for a in ATTEMPTS {
        let p = translate_path(root, a);
        assert!(p.starts_with(root), "{a} -> {p:?}");
        let rel = p.strip_prefix(root).unwrap();
        assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "{a} -> {p:?}"
        );
    }
}

#[test]
fn served_directory_never_leaks_the_secret() {
    let outer = TempDir::new("traversal");
    outer.write("secret.txt", b"TOP SECRET");
    outer.write("etc/passwd", b"TOP SECRET");
    let served = outer.path().join("www");
    std::fs::create_dir_all(served.join("sub")).unwrap();
    std::fs::write(served.join("public.txt"), b"public").unwrap();
    for a in ATTEMPTS {
        let mut h = SimpleHttpHandler::new(&served);
        let req = format!("GET {a} HTTP/1.0\r\n\r\n");
        let t = Harness::new().run(&mut h, req.as_bytes());
        assert!(!t.responses.is_empty(), "{a}");
        assert!(
            !t.output.windows(10).any(|w| w == b"TOP SECRET"),
            "{a} leaked: {:?}",
            t.statuses()
        );
    }
}

/// More encodings of the same attempts: overlong and alternative UTF-8 for `.` and `/`,
/// double encoding, Windows drive and UNC forms, absolute paths spelled with escapes.
const MORE_ATTEMPTS: &[&str] = &[
    "/%c0%af..%c0%af..%c0%afsecret.txt",
    "/..%c0%afsecret.txt",
    "/..%c1%9csecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%c0%2e%c0%2e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..%252fsecret.txt",
    "/%u002e%u002e/secret.txt",
    "/%e2%80%a4%e2%80%a4/secret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/%2fetc%2fpasswd",
    "/%2F%2F..%2F..%2Fsecret.txt",
    "/C:\\..\\secret.txt",
    "/C:/../secret.txt",
    "/\\\\server\\share\\..\\secret.txt",
    "/%5c%5c..%5c..%5csecret.txt",
    "/sub/.%2e/.%2e/secret.txt",
    "/sub/%2e./%2e./secret.txt",
    "/sub/%2E%2e/%2e%2E/secret.txt",
    "/..%00/secret.txt",
    "/%00../secret.txt",
    "/..%0d%0a/secret.txt",
    "/.%00./secret.txt",
    "/sub/..;/..;/secret.txt",
    "/sub/./../../secret.txt",
    "/sub//..//..//secret.txt",
    "/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/link/../../secret.txt",
    "/link/..%2f..%2fsecret.txt",
    "/link/%2e%2e/%2e%2e/secret.txt",
    // Surrogate escapes (bytes of names that are not UTF-8) stand for 0x80..0xFF only.
    "/%ED%B2%AE%ED%B2%AE/secret.txt",
    "/%ED%A0%80/../../secret.txt",
    "/%ED%B3%BF/..%ED%B2%AF..%ED%B2%AFsecret.txt",
];

#[test]
fn more_encodings_stay_inside() {
    let root = std::path::Path::new("/srv/root");
    for a in MORE_ATTEMPTS {
        let p = translate_path(root, a);
        let rel = p
            .strip_prefix(root)
            .unwrap_or_else(|_| panic!("{a} -> {p:?}"));
        assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "{a} -> {p:?}"
        );
    }
}

/// A served directory holding a symbolic link to a directory outside it, next to a secret.
fn served_with_link(outer: &TempDir) -> std::path::PathBuf {
    outer.write("secret.txt", b"TOP SECRET");
    outer.write("elsewhere/public-there.txt", b"linked on purpose");
    let served = outer.path().join("www");
    std::fs::create_dir_all(served.join("sub")).unwrap();
    std::os::unix::fs::symlink(outer.path().join("elsewhere"), served.join("link")).unwrap();
    served
}

#[test]
fn symlinks_never_open_a_way_up() {
    let outer = TempDir::new("traversal-links");
    let served = served_with_link(&outer);
    for a in MORE_ATTEMPTS.iter().chain(ATTEMPTS) {
        let mut h = SimpleHttpHandler::new(&served);
        let req = format!("GET {a} HTTP/1.0\r\n\r\n");
        let t = Harness::new().run(&mut h, req.as_bytes());
        assert!(!t.responses.is_empty(), "{a}");
        assert!(
            !t.output.windows(10).any(|w| w == b"TOP SECRET"),
            "{a} leaked: {:?}",
            t.statuses()
        );
    }
    // `..` is resolved on the request path, never after following the link: `/link/..` is
    // the served root itself, not the link target's parent.
    let mut h = SimpleHttpHandler::new(&served);
    let t = Harness::new().run(&mut h, b"GET /link/../ HTTP/1.0\r\n\r\n");
    let body = String::from_utf8_lossy(&t.responses[0].body).into_owned();
    assert!(body.contains("href=\"sub/\""), "{body}");
    assert!(!body.contains("secret.txt"), "{body}");
    // A link the operator placed is followed, as CPython does (it is the operator's choice),
    // and shown with an `@` in listings.
    let mut h = SimpleHttpHandler::new(&served);
    let t = Harness::new().run(&mut h, b"GET /link/public-there.txt HTTP/1.0\r\n\r\n");
    assert_eq!(t.responses[0].body, b"linked on purpose");
    let mut h = SimpleHttpHandler::new(&served);
    let t = Harness::new().run(&mut h, b"GET / HTTP/1.0\r\n\r\n");
    assert!(String::from_utf8_lossy(&t.responses[0].body).contains(">link@</a>"));
}

#[test]
fn listings_and_error_pages_escape_html() {
    let outer = TempDir::new("traversal-xss");
    let served = outer.path().join("www");
    let evil = "<script>alert(1)</script>";
    std::fs::create_dir_all(served.join(evil)).unwrap();
    std::fs::write(
        served.join(evil).join("\"><img src=x onerror=alert(2)>"),
        b"x",
    )
    .unwrap();
    std::fs::write(served.join("a&b<i>.txt"), b"x").unwrap();
    let pages = [
        "/",
        "/%3Cscript%3Ealert(1)%3C/script%3E/",
        "/%3Cscript%3Ealert(1)%3C/script%3E/?q=%3Cscript%3E",
        "/<script>alert(3)</script>",
        "/missing<script>alert(4)</script>",
    ];
    for page in pages {
        let mut h = SimpleHttpHandler::new(&served);
        let t = Harness::new().run(&mut h, format!("GET {page} HTTP/1.0\r\n\r\n").as_bytes());
        for r in &t.responses {
            let body = String::from_utf8_lossy(&r.body);
            assert!(!body.contains("<script"), "{page}: {body}");
            assert!(!body.contains("<img"), "{page}: {body}");
            assert!(!body.contains("<i>"), "{page}: {body}");
        }
    }
    // Error pages built from the request line (400) escape it too.
    let mut h = SimpleHttpHandler::new(&served);
    let t = Harness::new().run(
        &mut h,
        b"GET /<script>alert(5)</script> extra HTTP/1.0\r\n\r\n",
    );
    assert_eq!(t.statuses(), [400]);
    let body = String::from_utf8_lossy(&t.responses[0].body);
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
}

#[test]
fn directory_redirects_never_leave_the_site() {
    let outer = TempDir::new("traversal-redirect");
    let served = outer.path().join("www");
    std::fs::create_dir_all(served.join("evil.example")).unwrap();
    std::fs::create_dir_all(served.join("a\\b")).unwrap();
    for target in [
        "//evil.example",
        "///evil.example",
        "/%2Fevil.example",
        "/%2F%2Fevil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "//evil.example?x=//y",
        "/a\\b",
        "/a%5Cb",
    ] {
        let mut h = SimpleHttpHandler::new(&served);
        let t = Harness::new().run(&mut h, format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
        for r in &t.responses {
            if let Some(loc) = r.header("Location") {
                assert!(loc.starts_with('/'), "{target} -> {loc}");
                assert!(
                    !loc.starts_with("//") && !loc.starts_with("/\\"),
                    "{target} -> {loc}"
                );
                assert!(!loc.contains('\\'), "{target} -> {loc}");
            }
        }
    }
}

/// A NUL in the path is a missing file (CPython's `open()` raises `ValueError` there and the
/// connection closes without an answer: a documented divergence).
#[test]
fn a_nul_in_the_path_is_not_found() {
    let d = TempDir::new("nul");
    d.write("public.txt", b"public");
    for path in ["/public.txt%00", "/public.txt%00.html", "/%00"] {
        let mut h = SimpleHttpHandler::new(d.path());
        let req = format!("GET {path} HTTP/1.0\r\n\r\n");
        let t = Harness::new().run(&mut h, req.as_bytes());
        assert_eq!(t.statuses(), [404], "{path}");
    }
}
