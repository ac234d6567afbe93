//! A directory listing loaded in headless Chromium: the page shows the files, and following
//! a link loads the file. Fails when Chromium is missing and `CI` is set; skips otherwise.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use http_server::SimpleHttpHandler;

use crate::support::{TempDir, serve};

const CHROMIUM: &str = "/usr/bin/chromium";

fn dump_dom(url: &str, profile: &Path) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[allow(clippy::print_stderr, reason = "the skip note")]
fn listing_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} is missing and CI is set: install the chromium package"
        );
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install chromium)");
        return;
    }
    let dir = TempDir::new("chromium");
    dir.write("hello world.txt", b"Hello from the file");
    dir.write("docs/readme.txt", b"inner");
    let profile = TempDir::new("chromium-profile");
    let srv = serve(
        {
            let d = dir.path().to_path_buf();
            move |_: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new(d.clone())
        },
        SimpleHttpHandler::http_config(),
    );
    let base = format!("http://{}/", srv.addr);
    let dom = dump_dom(&base, profile.path());
    assert!(dom.contains("Directory listing for /"), "{dom}");
    assert!(
        dom.contains("<a href=\"hello%20world.txt\">hello world.txt</a>"),
        "{dom}"
    );
    assert!(dom.contains("<a href=\"docs/\">docs/</a>"), "{dom}");
    // Follow the links as a click would: resolve the href against the page.
    let file = dump_dom(&format!("{base}hello%20world.txt"), profile.path());
    assert!(file.contains("Hello from the file"), "{file}");
    let sub = dump_dom(&format!("{base}docs"), profile.path());
    assert!(sub.contains("Directory listing for /docs/"), "{sub}");
}
