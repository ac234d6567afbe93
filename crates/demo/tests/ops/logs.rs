//! Access logs: `--access-logfile` buffered per thread and flushed within a second and at
//! stop, `--access-logformat` in gunicorn's atoms, reopened on SIGUSR1 (logrotate), with
//! and without the supervisor.

use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::common::{get_once, wait_for};
use crate::support::{Demo, TempDir};

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (at most 3 s: the flush interval is 1 s) until `path` has `n` access lines.
fn wait_lines(demo: &Demo, path: &std::path::Path, n: usize) -> Duration {
    let t = Instant::now();
    wait_for(demo, Duration::from_secs(3), "access lines", || {
        lines(path).iter().filter(|l| l.contains("\"GET ")).count() >= n
    });
    t.elapsed()
}

#[test]
fn a_custom_format_buffered_to_a_file_and_reopened_on_sigusr1() {
    let dir = TempDir::new("ops-logs");
    let path = dir.path().join("access.log");
    let mut demo = Demo::production(&[
        "--workers",
        "2",
        "--threads",
        "1",
        "--app",
        "hello",
        "--access-logfile",
        path.to_str().unwrap(),
        "--access-logformat",
        "%(h)s \"%(r)s\" %(s)s %(b)s %(D)sus %(p)s",
    ]);
    for i in 0..10 {
        assert_eq!(
            get_once(demo.addr(), &format!("/first{i}?x"))
                .unwrap()
                .status,
            200
        );
    }
    let took = wait_lines(&demo, &path, 10);
    eprintln!("10 access lines in the file after {took:?}");
    let first = lines(&path);
    let access: Vec<&String> = first.iter().filter(|l| l.contains("\"GET ")).collect();
    assert_eq!(access.len(), 10, "{first:?}");
    for l in &access {
        let (head, pid) = l.rsplit_once(' ').unwrap();
        assert!(head.starts_with("127.0.0.1 \"GET /first"), "{l}");
        assert!(
            head.contains(" HTTP/1.1\" 200 13 ") && head.ends_with("us"),
            "{l}"
        );
        assert!(pid.starts_with('<') && pid.ends_with('>'), "{l}");
    }
    // logrotate: move the file away, then SIGUSR1 to the supervisor.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    demo.signal(Signal::USR1);
    // The supervisor and both workers reopen (and say so in the new file).
    wait_for(&demo, Duration::from_secs(10), "the reopen", || {
        lines(&path)
            .iter()
            .filter(|l| l.contains("access log reopened"))
            .count()
            >= 3
    });
    for _ in 0..5 {
        assert_eq!(get_once(demo.addr(), "/after").unwrap().status, 200);
    }
    wait_lines(&demo, &path, 5);
    assert!(lines(&path).iter().all(|l| !l.contains("\"GET /first")));
    assert_eq!(
        lines(&rotated)
            .iter()
            .filter(|l| l.contains("\"GET "))
            .count(),
        10
    );
    assert!(demo.terminate().success());
}

#[test]
fn buffered_lines_are_written_when_the_server_stops() {
    let dir = TempDir::new("ops-logs-stop");
    let path = dir.path().join("access.log");
    let mut demo = Demo::production(&[
        "--threads",
        "1",
        "--app",
        "hello",
        "--access-logfile",
        path.to_str().unwrap(),
        "--access-log",
        "common",
    ]);
    for _ in 0..3 {
        assert_eq!(get_once(demo.addr(), "/x").unwrap().status, 200);
    }
    // At once, before the flush interval: the stop writes them.
    assert!(demo.terminate().success());
    let access: Vec<String> = lines(&path)
        .into_iter()
        .filter(|l| l.contains("\"GET /x HTTP/1.1\" 200 13"))
        .collect();
    assert_eq!(access.len(), 3, "{:?}", lines(&path));
    assert!(access[0].starts_with("127.0.0.1 - - ["), "{access:?}");
    // Other events go to the same file.
    assert!(
        lines(&path)
            .iter()
            .any(|l| l.contains("signal 15: shutting down")),
        "{:?}",
        lines(&path)
    );
}

#[test]
fn access_log_off_writes_no_access_line_but_the_other_events() {
    let mut demo = Demo::production(&["--threads", "1", "--app", "hello", "--access-log", "off"]);
    for _ in 0..3 {
        assert_eq!(get_once(demo.addr(), "/quiet").unwrap().status, 200);
    }
    assert!(demo.terminate().success());
    let log = demo.stderr();
    assert!(!log.contains("/quiet"), "{log}");
    assert!(log.contains("signal 15: shutting down"), "{log}");
}
