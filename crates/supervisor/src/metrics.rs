//! Metrics summed across workers, and the listener that serves them to Prometheus.
//!
//! Each worker sends a snapshot of its counters (Prometheus text) over its control
//! channel; the supervisor adds the samples of every live worker, plus the counters of
//! the workers that exited (so a counter does not fall when a worker is replaced), plus
//! its own (`pyserve_worker_restarts_total`, `pyserve_workers`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// Metric families in the order first seen, each with its comment lines and samples.
#[derive(Debug, Default, Clone)]
struct Families {
    order: Vec<String>,
    comments: HashMap<String, Vec<String>>,
    samples: HashMap<String, Vec<(String, f64)>>,
    types: HashMap<String, String>,
}

impl Families {
    fn family_of(&self, name: &str) -> String {
        if self.types.contains_key(name) {
            return name.to_owned();
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && self.types.contains_key(base)
            {
                return base.to_owned();
            }
        }
        name.to_owned()
    }

    fn family(&mut self, name: &str) -> &mut Vec<(String, f64)> {
        if !self.samples.contains_key(name) {
            self.order.push(name.to_owned());
            self.samples.insert(name.to_owned(), Vec::new());
        }
        self.samples.get_mut(name).expect("inserted")
    }

    /// Adds the samples of `text` (when `counters_only`, of counter and histogram
    /// families only).
    fn add(&mut self, text: &str, counters_only: bool) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut words = rest.splitn(3, ' ');
                let (Some(kind), Some(name)) = (words.next(), words.next()) else {
                    continue;
                };
                if kind == "TYPE" {
                    self.types
                        .insert(name.to_owned(), words.next().unwrap_or("").to_owned());
                }
                self.family(name);
                let comments = self.comments.entry(name.to_owned()).or_default();
                if !comments.iter().any(|c| c == line) {
                    comments.push(line.to_owned());
                }
                continue;
            }
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let name = key.split('{').next().unwrap_or(key);
            let family = self.family_of(name);
            let kind = self.types.get(&family).map(String::as_str);
            if counters_only && !matches!(kind, Some("counter" | "histogram")) {
                continue;
            }
            let samples = self.family(&family);
            match samples.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v += value,
                None => samples.push((key.to_owned(), value)),
            }
        }
    }

    fn render(&self, out: &mut String) {
        for name in &self.order {
            for c in self.comments.get(name).into_iter().flatten() {
                out.push_str(c);
                out.push('\n');
            }
            for (key, value) in self.samples.get(name).into_iter().flatten() {
                let _ = writeln!(out, "{key} {value}");
            }
        }
    }
}

/// What the supervisor knows of its workers' metrics.
#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    /// The latest snapshot of each live worker, by serial.
    live: BTreeMap<u64, String>,
    /// The counters of workers that exited.
    retired: Families,
    pub(crate) restarts: u64,
    pub(crate) workers: usize,
}

impl Aggregate {
    pub(crate) fn update(&mut self, serial: u64, text: String) {
        self.live.insert(serial, text);
    }

    /// A worker exited: its last counters stay in the sums.
    pub(crate) fn retire(&mut self, serial: u64) {
        if let Some(text) = self.live.remove(&serial) {
            self.retired.add(&text, true);
        }
    }

    /// Every worker's samples added up, then the supervisor's.
    pub(crate) fn render(&self) -> String {
        let mut f = self.retired.clone();
        for text in self.live.values() {
            f.add(text, false);
        }
        let mut out = String::with_capacity(4096);
        f.render(&mut out);
        let _ = write!(
            out,
            "# HELP pyserve_worker_restarts_total Workers started to replace others (a death, a \
             missed heartbeat, --max-requests, a reload).\n\
             # TYPE pyserve_worker_restarts_total counter\n\
             pyserve_worker_restarts_total {}\n\
             # HELP pyserve_workers Worker processes running.\n\
             # TYPE pyserve_workers gauge\n\
             pyserve_workers {}\n",
            self.restarts, self.workers
        );
        out
    }
}

/// Serves `render()` as `GET /metrics` (Prometheus text format 0.0.4) on `listener`, from
/// a thread of its own, one connection at a time (each bounded by 2 s timeouts); any
/// other path is a 404. Returns once the thread runs.
///
/// ```
/// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = l.local_addr()?;
/// supervisor::serve_metrics(l, || "up 1\n".to_owned())?;
/// use std::io::{Read, Write};
/// let mut c = std::net::TcpStream::connect(addr)?;
/// c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
/// let mut reply = String::new();
/// c.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.0 200 OK\r\n") && reply.ends_with("\r\n\r\nup 1\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_metrics(
    listener: TcpListener,
    render: impl Fn() -> String + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head);
                let mut words = line.split_whitespace();
                let (method, path) = (words.next(), words.next());
                let reply = match (method, path.map(|p| p.split('?').next().unwrap_or(p))) {
                    (Some("GET" | "HEAD"), Some("/metrics")) => {
                        let body = render();
                        let mut r = format!(
                            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; \
                             charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        if method == Some("GET") {
                            r.push_str(&body);
                        }
                        r
                    }
                    _ => "HTTP/1.0 404 Not Found\r\nContent-Length: 10\r\nConnection: close\
                          \r\n\r\nnot found\n"
                        .to_owned(),
                };
                let _ = c.write_all(reply.as_bytes());
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "# HELP req_total Requests.\n# TYPE req_total counter\n\
                     req_total{m=\"GET\"} 2\n\
                     # TYPE dur histogram\ndur_bucket{le=\"1\"} 2\ndur_bucket{le=\"+Inf\"} 2\n\
                     dur_sum 0.5\ndur_count 2\n# TYPE open gauge\nopen 3\n";
    const B: &str = "# HELP req_total Requests.\n# TYPE req_total counter\n\
                     req_total{m=\"GET\"} 1\nreq_total{m=\"POST\"} 4\n\
                     # TYPE dur histogram\ndur_bucket{le=\"1\"} 5\ndur_bucket{le=\"+Inf\"} 5\n\
                     dur_sum 1\ndur_count 5\n# TYPE open gauge\nopen 1\n";

    #[test]
    fn sums_live_and_retired_workers_grouped_by_family() {
        let mut a = Aggregate::default();
        a.update(1, A.into());
        a.update(2, B.into());
        a.workers = 2;
        let t = a.render();
        assert!(
            t.starts_with(
                "# HELP req_total Requests.\n# TYPE req_total counter\n\
                 req_total{m=\"GET\"} 3\nreq_total{m=\"POST\"} 4\n\
                 # TYPE dur histogram\ndur_bucket{le=\"1\"} 7\ndur_bucket{le=\"+Inf\"} 7\n\
                 dur_sum 1.5\ndur_count 7\n# TYPE open gauge\nopen 4\n"
            ),
            "{t}"
        );
        assert!(t.ends_with("pyserve_workers 2\n"), "{t}");
        // Worker 1 exits: its counters stay, its gauge goes.
        a.retire(1);
        a.restarts = 1;
        let t = a.render();
        assert!(t.contains("req_total{m=\"GET\"} 3\n"), "{t}");
        assert!(t.contains("dur_count 7\n"), "{t}");
        assert!(t.contains("\nopen 1\n"), "{t}");
        assert!(t.contains("pyserve_worker_restarts_total 1\n"), "{t}");
    }
}
