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
