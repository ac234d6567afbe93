//! `--metrics-bind`: Prometheus metrics on a listener of their own, summed across the
//! workers by the supervisor, scraped with curl.

use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::common::{children_of, connect, kill, read_response, wait_for, wait_for_log};
use crate::support::{Demo, run};

/// The metrics address the demo logged (`metrics at http://ADDR/metrics`), waited for:
/// the log pipe is read by a thread of its own, which a loaded machine runs late.
fn metrics_url(demo: &Demo) -> String {
    wait_for_log(demo, Duration::from_secs(10), "metrics at ");
    let log = demo.stderr();
    let start = log
        .find("metrics at ")
        .expect("the metrics address is logged")
        + 11;
    log[start..].split_whitespace().next().unwrap().to_owned()
}

fn scrape(url: &str) -> String {
    let out = run(
        Command::new("curl").args(["-sS", "--max-time", "5", url]),
        Duration::from_secs(10),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value of the sample `key` (`name{labels}`), if present.
fn sample(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
}

fn request(demo: &Demo, method: &str, path: &str) -> u16 {
    use std::io::Write;
    let mut s = connect(demo.addr()).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_response(&mut s).unwrap().unwrap().status
}

#[test]
fn metrics_are_summed_across_workers_on_their_own_listener() {
    let mut demo = Demo::production(&[
        "--workers",
        "2",
        "--threads",
        "1",
        "--app",
        "hello",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let url = metrics_url(&demo);
    assert!(!url.contains(&format!(":{}/", demo.port)), "{url}");
    for _ in 0..20 {
        assert_eq!(request(&demo, "GET", "/"), 200);
    }
    for _ in 0..3 {
        assert_eq!(request(&demo, "DELETE", "/x"), 200);
    }
    // The application's port serves the application, not the metrics.
    assert_eq!(request(&demo, "GET", "/metrics"), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(&url);
        if sample(&text, "pyserve_http_request_duration_seconds_count") == Some(24.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "counts never reached 24:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("{text}");
    let get = "pyserve_http_requests_total{method=\"GET\",status=\"2xx\"}";
    let delete = "pyserve_http_requests_total{method=\"DELETE\",status=\"2xx\"}";
    assert_eq!(sample(&text, get), Some(21.0), "{text}");
    assert_eq!(sample(&text, delete), Some(3.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "pyserve_http_request_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        Some(24.0)
    );
    assert!(sample(&text, "pyserve_http_sent_bytes_total").unwrap() > 24.0 * 13.0);
    assert!(sample(&text, "pyserve_http_received_bytes_total").unwrap() > 24.0 * 30.0);
    assert!(
        sample(&text, "pyserve_connections_open").is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "pyserve_loop_handoffs_total").is_some(),
        "{text}"
    );
    assert_eq!(sample(&text, "pyserve_workers"), Some(2.0));
    assert_eq!(sample(&text, "pyserve_worker_restarts_total"), Some(0.0));
    // One TYPE line per family, as Prometheus requires.
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let mut unique = types.clone();
    unique.dedup();
    assert_eq!(types.len(), unique.len(), "{text}");

    // A worker dies: it is replaced, counted, and its requests stay in the sums.
    let victim = *children_of(demo.pid()).iter().next().unwrap();
    kill(victim, Signal::KILL);
    wait_for(&demo, Duration::from_secs(10), "a replacement", || {
        let now = children_of(demo.pid());
        now.len() == 2 && !now.contains(&victim)
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(&url);
        if sample(&text, "pyserve_worker_restarts_total") == Some(1.0)
            && sample(&text, "pyserve_workers") == Some(2.0)
        {
            assert_eq!(sample(&text, get), Some(21.0), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no restart counted:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(demo.terminate().success());
}

#[test]
fn a_single_process_serves_its_own_metrics() {
    let mut demo = Demo::production(&[
        "--threads",
        "1",
        "--app",
        "hello",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let url = metrics_url(&demo);
    for _ in 0..5 {
        assert_eq!(request(&demo, "GET", "/"), 200);
    }
    let text = scrape(&url);
    assert_eq!(
        sample(
            &text,
            "pyserve_http_requests_total{method=\"GET\",status=\"2xx\"}"
        ),
        Some(5.0),
        "{text}"
    );
    assert!(text.contains("# TYPE pyserve_http_request_duration_seconds histogram\n"));
    // Two keep-alive connections left idle: counted open and idle (the loop publishes its
    // count when it next waits for events).
    let mut idle = Vec::new();
    for _ in 0..2 {
        use std::io::Write;
        let mut s = connect(demo.addr()).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s).unwrap().unwrap().status, 200);
        idle.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(&url);
        let open = sample(&text, "pyserve_connections_open").unwrap();
        let idle_n = sample(&text, "pyserve_connections_idle").unwrap();
        if open >= 2.0 && idle_n >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "open {open}, idle {idle_n}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(idle);
    let missing = scrape(&url.replace("/metrics", "/other"));
    assert_eq!(missing, "not found\n");
    assert!(demo.terminate().success());
}

#[test]
fn counters_survive_workers_replaced_at_max_requests() {
    let mut demo = Demo::production(&[
        "--workers",
        "1",
        "--threads",
        "1",
        "--app",
        "hello",
        "--max-requests",
        "5",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let url = metrics_url(&demo);
    for _ in 0..12 {
        assert_eq!(request(&demo, "GET", "/"), 200);
    }
    // Every request stays counted, including the last ones of each retired worker (sent
    // in its final snapshot as it exits).
    let key = "pyserve_http_requests_total{method=\"GET\",status=\"2xx\"}";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(&url);
        let restarts = sample(&text, "pyserve_worker_restarts_total").unwrap_or(0.0);
        if sample(&text, key) == Some(12.0) && restarts >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests {:?}, restarts {restarts}:\n{text}",
            sample(&text, key)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(demo.terminate().success());
}
