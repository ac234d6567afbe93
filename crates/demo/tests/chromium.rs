//! The seed's `webbrowser.open('http://localhost:8782/xyz?abc')`, in headless Chromium: the
//! page text holds `demo_app`'s listing. Fails when Chromium is missing and `CI` is set;
//! prints a skip note otherwise.

use std::path::Path;
use std::process::Command;

use crate::support::{CHILD_LIMIT, Demo, TempDir, run};

const CHROMIUM: &str = "/usr/bin/chromium";

/// `chromium --headless --dump-dom URL`: the DOM after the page loaded (bounded in time).
fn dump_dom(url: &str) -> String {
    let profile = TempDir::new("chromium-profile");
    let out = run(
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--dump-dom", url]),
        CHILD_LIMIT,
    );
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[allow(clippy::print_stderr, reason = "the skip note")]
fn the_seed_page_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} is missing and CI is set: install the chromium package"
        );
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install chromium)");
        return;
    }
    for demo in [Demo::production(&[]), Demo::faithful(&[])] {
        let dom = dump_dom(&demo.url("/xyz?abc"));
        // A text/plain page: Chromium shows it in a <pre>, with `'` as is and `<` escaped.
        for text in [
            "Hello world!",
            "PATH_INFO = '/xyz'",
            "QUERY_STRING = 'abc'",
            "REQUEST_METHOD = 'GET'",
        ] {
            assert!(dom.contains(text), "{text} not in\n{dom}");
        }
        assert!(dom.contains("HTTP_USER_AGENT = 'Mozilla/5.0"), "{dom}");
        let log = demo.stderr();
        assert!(log.contains("\"GET /xyz?abc HTTP/1.1\" 200 "), "{log}");
    }
}
