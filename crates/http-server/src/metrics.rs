//! Request metrics of a server on `socketserver::evloop`, in the Prometheus text format.
//!
//! [`Metered`] wraps any [`Protocol`] that speaks HTTP/1.x and counts what passes through
//! it, without allocating and without parsing more than the method of each request and
//! the status of each response: requests by method and status class, the time the
//! handler took (a histogram), and the bytes of requests and responses. [`HttpMetrics`]
//! holds the counters (atomics, shared by every event loop) and renders them.
//!
//! Python: no equivalent (gunicorn sends statsd metrics; prometheus_client's exposition
//! format is the one used here).
//!
//! ```
//! use http_server::metrics::HttpMetrics;
//! let m = HttpMetrics::default();
//! m.record(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", std::time::Duration::from_micros(300));
//! let text = m.render();
//! assert!(text.contains("pyserve_http_requests_total{method=\"GET\",status=\"2xx\"} 1\n"));
//! assert!(text.contains("pyserve_http_request_duration_seconds_bucket{le=\"0.001\"} 1\n"));
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use socketserver::Sink;
use socketserver::evloop::{Abort, ClearPreface, Frame, Protocol, ServeCx, Served, ServerHandle};

/// The methods counted by name; any other is `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];
/// Status classes; `other` for a response whose status could not be read.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];
/// Histogram bounds in microseconds (Prometheus `le` in seconds).
const BOUNDS_US: [u64; 10] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000, 10_000_000,
];

/// The counters of a server (see the [module documentation](self)).
///
/// Python: no equivalent.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    buckets: [AtomicU64; BOUNDS_US.len()],
    duration_us: AtomicU64,
    count: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

fn method_index(request: &[u8]) -> usize {
    let end = request.iter().position(|&b| b == b' ').unwrap_or(0);
    let m = &request[..end];
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|name| name.as_bytes() == m)
        .unwrap_or(METHODS.len() - 1)
}

fn class_index(response: &[u8]) -> usize {
    // `HTTP/1.1 200 ...`: the digit after the first space.
    match response.iter().position(|&b| b == b' ') {
        Some(i) if response.starts_with(b"HTTP/") => match response.get(i + 1) {
            Some(d @ b'1'..=b'5') => usize::from(d - b'1'),
            _ => CLASSES.len() - 1,
        },
        _ => CLASSES.len() - 1,
    }
}

impl HttpMetrics {
    /// Counts one request (`request`: its bytes, from the request line), its response
    /// (`response`: from the status line on; only the status is read) and the time it
    /// took.
    pub fn record(&self, request: &[u8], response: &[u8], took: Duration) {
        self.record_class(request, class_index(response), response.len(), took);
    }

    /// [`record`](Self::record) with the response's status class and length already known.
    fn record_class(&self, request: &[u8], class: usize, response_len: usize, took: Duration) {
        let r = Ordering::Relaxed;
        self.requests[method_index(request)][class].fetch_add(1, r);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = BOUNDS_US.iter().position(|b| us <= *b) {
            self.buckets[i].fetch_add(1, r);
        }
        self.duration_us.fetch_add(us, r);
        self.count.fetch_add(1, r);
        self.bytes_in
            .fetch_add(u64::try_from(request.len()).unwrap_or(0), r);
        self.bytes_out
            .fetch_add(u64::try_from(response_len).unwrap_or(0), r);
    }

    /// Requests counted so far.
    pub fn requests(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The counters in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let r = Ordering::Relaxed;
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP pyserve_http_requests_total Requests served, by method and status class.\n\
             # TYPE pyserve_http_requests_total counter\n",
        );
        for (m, row) in METHODS.iter().zip(&self.requests) {
            for (c, n) in CLASSES.iter().zip(row) {
                let n = n.load(r);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "pyserve_http_requests_total{{method=\"{m}\",status=\"{c}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP pyserve_http_request_duration_seconds Time the handler took per request.\n\
             # TYPE pyserve_http_request_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (b, n) in BOUNDS_US.iter().zip(&self.buckets) {
            cumulative += n.load(r);
            let le = *b as f64 / 1e6;
            let _ = writeln!(
                out,
                "pyserve_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(r);
        let _ = writeln!(
            out,
            "pyserve_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             pyserve_http_request_duration_seconds_sum {}\n\
             pyserve_http_request_duration_seconds_count {count}",
            self.duration_us.load(r) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP pyserve_http_received_bytes_total Bytes of requests (heads and bodies).\n\
             # TYPE pyserve_http_received_bytes_total counter\n\
             pyserve_http_received_bytes_total {}\n\
             # HELP pyserve_http_sent_bytes_total Bytes of responses.\n\
             # TYPE pyserve_http_sent_bytes_total counter\n\
             pyserve_http_sent_bytes_total {}",
            self.bytes_in.load(r),
            self.bytes_out.load(r)
        );
        out
    }

    /// [`render`](Self::render) followed by the gauges of the server that counts them:
    /// connections open and idle, and loop hand-offs (what a `/metrics` page shows).
    ///
    /// Python: no equivalent.
    pub fn render_with(&self, server: &ServerHandle) -> String {
        let mut text = self.render();
        let _ = write!(
            text,
            "# HELP pyserve_connections_open Connections open.\n\
             # TYPE pyserve_connections_open gauge\n\
             pyserve_connections_open {}\n\
             # HELP pyserve_connections_idle Connections open with no request in progress.\n\
             # TYPE pyserve_connections_idle gauge\n\
             pyserve_connections_idle {}\n\
             # HELP pyserve_loop_handoffs_total Event loops handed to a standby thread because a \
             handler blocked.\n\
             # TYPE pyserve_loop_handoffs_total counter\n\
             pyserve_loop_handoffs_total {}\n",
            server.connections(),
            server.idle_connections(),
            server.handoffs()
        );
        text
    }
}

/// A [`Protocol`] that counts each request it serves in an [`HttpMetrics`].
///
/// The response's bytes are what `serve` appended to the output; a large response the
/// engine sent while it grew is counted from what was left (so its status may count as
/// `other`).
///
/// Python: no equivalent.
#[derive(Debug)]
pub struct Metered<P> {
    inner: P,
    metrics: Arc<HttpMetrics>,
}

impl<P> Metered<P> {
    /// `inner`, counted in `metrics`.
    pub fn new(inner: P, metrics: Arc<HttpMetrics>) -> Self {
        Metered { inner, metrics }
    }
}

impl<P: Protocol> Protocol for Metered<P> {
    type Session = P::Session;

    fn frame(&self, session: &mut Self::Session, input: &[u8]) -> Frame {
        self.inner.frame(session, input)
    }

    fn serve(
        &self,
        session: &mut Self::Session,
        request: &[u8],
        out: &mut Vec<u8>,
        cx: &ServeCx<'_>,
    ) -> Served {
        let started = Instant::now();
        let fresh = SinkCount {
            start: out.len(),
            sent: 0,
            class: None,
        };
        // A response may go out in parts before `serve` returns: the sink counts them.
        let counting = cx.handler().sink().map(|inner| CountingSink {
            inner,
            count: Mutex::new(fresh),
        });
        let served = match &counting {
            Some(sink) => self.inner.serve(session, request, out, &cx.with_sink(sink)),
            None => self.inner.serve(session, request, out, cx),
        };
        let took = started.elapsed();
        let count = counting.map_or(fresh, |sink| {
            sink.count
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
        });
        let rest = out.get(count.start..).unwrap_or(&[]);
        let class = count.class.unwrap_or_else(|| class_index(rest));
        self.metrics
            .record_class(request, class, count.sent + rest.len(), took);
        served
    }

    fn abort(&self, session: &mut Self::Session, input: &[u8], why: Abort) -> Vec<u8> {
        self.inner.abort(session, input, why)
    }

    fn clear_preface(&self) -> Option<ClearPreface> {
        self.inner.clear_preface()
    }
}

/// The loop's sink, counting the response bytes that go through it for [`Metered`].
struct CountingSink<'a> {
    inner: &'a dyn Sink,
    count: Mutex<SinkCount>,
}

/// What a [`CountingSink`] saw.
#[derive(Clone, Copy)]
struct SinkCount {
    /// Where this response starts in the buffer (0 after a send).
    start: usize,
    /// Bytes of this response sent.
    sent: usize,
    /// The status class of the first part sent.
    class: Option<usize>,
}

impl Sink for CountingSink<'_> {
    fn send(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        {
            let mut c = self.count.lock().unwrap_or_else(PoisonError::into_inner);
            let response = out.get(c.start..).unwrap_or(&[]);
            if c.class.is_none() && !response.is_empty() {
                c.class = Some(class_index(response));
            }
            c.sent += response.len();
            c.start = 0;
        }
        self.inner.send(out)
    }

    fn send_file(
        &self,
        out: &mut Vec<u8>,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> std::io::Result<u64> {
        // What is buffered first, counted as `send` counts it; then the file's bytes.
        self.send(out)?;
        let sent = self.inner.send_file(out, file, offset, len)?;
        let mut c = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        c.sent += usize::try_from(sent).unwrap_or(usize::MAX);
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_methods_classes_durations_and_bytes() {
        let m = HttpMetrics::default();
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        m.record(b"GET / HTTP/1.1\r\n\r\n", ok, Duration::from_micros(100));
        m.record(b"GET /x HTTP/1.1\r\n\r\n", ok, Duration::from_millis(3));
        m.record(
            b"BREW / HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 418 x\r\n\r\n",
            Duration::ZERO,
        );
        m.record(b"POST / HTTP/1.1\r\n\r\nab", b"", Duration::from_secs(20));
        let t = m.render();
        for line in [
            "pyserve_http_requests_total{method=\"GET\",status=\"2xx\"} 2\n",
            "pyserve_http_requests_total{method=\"OTHER\",status=\"4xx\"} 1\n",
            "pyserve_http_requests_total{method=\"POST\",status=\"other\"} 1\n",
            "pyserve_http_request_duration_seconds_bucket{le=\"0.0005\"} 2\n",
            "pyserve_http_request_duration_seconds_bucket{le=\"0.005\"} 3\n",
            "pyserve_http_request_duration_seconds_bucket{le=\"10\"} 3\n",
            "pyserve_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n",
            "pyserve_http_request_duration_seconds_count 4\n",
            "pyserve_http_request_duration_seconds_sum 20.0031\n",
            "pyserve_http_received_bytes_total 77\n",
        ] {
            assert!(t.contains(line), "{line:?} not in\n{t}");
        }
        assert!(!t.contains("HEAD"), "zero series are left out");
        assert_eq!(m.requests(), 4);
    }

    /// Writes a response after an earlier one still in the buffer, sending it in part.
    struct Streams;

    impl Protocol for Streams {
        type Session = ();
        fn frame(&self, _: &mut (), input: &[u8]) -> Frame {
            Frame::Complete(input.len())
        }
        fn serve(&self, _: &mut (), _: &[u8], out: &mut Vec<u8>, cx: &ServeCx<'_>) -> Served {
            out.extend_from_slice(b"HTTP/1.1 404 Not Found\r\n\r\nab");
            let sink = cx.handler().sink().expect("a sink");
            sink.send(out).unwrap();
            out.extend_from_slice(b"cd");
            Served::CLOSE
        }
    }

    /// A sink that drops what it is given.
    struct Discard;

    impl Sink for Discard {
        fn send(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
            out.clear();
            Ok(())
        }
    }

    #[test]
    fn counts_a_response_sent_in_parts() {
        let metrics = Arc::new(HttpMetrics::default());
        let metered = Metered::new(Streams, metrics.clone());
        let addr = socketserver::Address::Unix(None);
        let info = socketserver::ServerInfo::new(addr.clone());
        let cx = ServeCx::new(socketserver::HandlerCx::new(&addr, &info).with_sink(&Discard));
        let mut out = b"earlier response".to_vec();
        metered.serve(&mut (), b"GET / HTTP/1.1\r\n\r\n", &mut out, &cx);
        assert_eq!(out, b"cd");
        let t = metrics.render();
        for line in [
            "pyserve_http_requests_total{method=\"GET\",status=\"4xx\"} 1\n",
            "pyserve_http_sent_bytes_total 30\n",
        ] {
            assert!(t.contains(line), "{line:?} not in\n{t}");
        }
    }
}
