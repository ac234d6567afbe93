//! The access layer against the reference: the `fmt` subscriber with [`AccessLines`] or
//! [`TemplateLines`] that `access_dispatch` installed before, byte for byte, in every
//! format, for real requests (odd request lines and user agents included) and for
//! hand-made events.

use std::io::Cursor;
use std::time::Duration;

use socketserver::{Address, HandlerCx, ServerInfo};
use tracing_subscriber::layer::SubscriberExt;

use super::super::tests::{Duplex, Shared};
use super::super::{TemplateLines, access_dispatch, env_filter};
use super::*;
use crate::{Exchange, HttpConfig, HttpHandler, handle_one_request};

/// The subscriber `access_dispatch` built before the access layer.
fn reference(format: AccessLogFormat, template: Option<&str>, out: &Shared) -> tracing::Dispatch {
    let out = out.clone();
    let builder = tracing_subscriber::fmt().with_writer(move || out.clone());
    let filter = env_filter("info").0;
    match template {
        Some(t) => tracing::Dispatch::new(
            builder
                .event_format(TemplateLines::new(
                    t.parse().unwrap(),
                    AccessLines::new(format),
                ))
                .finish()
                .with(filter),
        ),
        None => tracing::Dispatch::new(
            builder
                .event_format(AccessLines::new(format))
                .finish()
                .with(filter),
        ),
    }
}

const TEMPLATES: [&str; 2] = [
    "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"",
    "%(h)s %(m)s %(U)s ?%(q)s %(H)s %(s)s %(B)s %(b)s %(T)s %(M)s %(D)s %(L)s %(p)s \
     %({user-agent}i)s %({x-other}i)s %(zz)s 100%% %d",
];

/// Every format and template, each as (name, format, template).
fn styles() -> Vec<(String, AccessLogFormat, Option<&'static str>)> {
    // `off` prints no access line (its filter drops them: `logging::tests`).
    let mut all: Vec<_> = AccessLogFormat::NAMES
        .iter()
        .filter(|n| **n != "off")
        .map(|n| (n.to_string(), n.parse().unwrap(), None))
        .collect();
    for t in TEMPLATES {
        for f in [AccessLogFormat::Python, AccessLogFormat::Json] {
            all.push((format!("{t} ({f:?})"), f, Some(t)));
        }
    }
    all
}

/// The times in a line (Apache's `[10/Oct/2000:13:55:36 +0000]`, JSON's `"time"`), as `#`.
fn mask_times(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let mask = |b: &mut Vec<u8>, from: usize, len: usize| {
        for c in b.iter_mut().skip(from).take(len) {
            *c = b'#';
        }
    };
    let text = s.to_owned();
    for (i, _) in text.match_indices(" +0000]") {
        mask(&mut b, i.saturating_sub(20), 20);
    }
    for (i, _) in text.match_indices("\"time\":\"") {
        mask(&mut b, i + 8, 24);
    }
    String::from_utf8(b).unwrap()
}

/// Every run of digits as one `#`: for lines whose numbers differ between two runs of one request
/// (`duration_us`, the time in CPython's message).
fn mask_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// Runs `emit` under the reference, under the access layer writing to a plain writer, and
/// under the access layer writing to a [`BufferedLog`]: the three outputs.
fn three(
    format: AccessLogFormat,
    template: Option<&str>,
    emit: &dyn Fn(),
) -> (String, String, String) {
    let old = Shared::default();
    tracing::dispatcher::with_default(&reference(format, template, &old), emit);
    let new = Shared::default();
    let writer = new.clone();
    let template = template.map(|t| t.parse().unwrap());
    let dispatch = access_dispatch(
        format,
        template.clone(),
        move || writer.clone(),
        env_filter("info").0,
    );
    tracing::dispatcher::with_default(&dispatch, emit);
    let dir = std::env::temp_dir().join(format!(
        "access-layer-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.log");
    let _ = std::fs::remove_file(&path);
    let log = BufferedLog::file(&path, 1 << 16, Duration::from_secs(60)).unwrap();
    let dispatch = access_dispatch(format, template, log.clone(), env_filter("info").0);
    tracing::dispatcher::with_default(&dispatch, emit);
    log.flush();
    let buffered = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (old.text(), new.text(), buffered)
}

/// Answers 200 with a body and logs its size, as a WSGI server does; `BREW` gets 501.
struct Reply;

impl HttpHandler for Reply {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> crate::Result<()> {
        ex.send_response_only(200, None)?;
        ex.send_header("Content-Length", "5")?;
        ex.end_headers()?;
        ex.wfile().write_all(b"hello")?;
        self.log_request(ex, Some(200), Some(5));
        Ok(())
    }
}

fn serve(request: &[u8]) {
    let addr = Address::Inet("192.0.2.1:4321".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:80".parse().unwrap()));
    let mut conn = Duplex {
        input: Cursor::new(request.to_vec()),
        output: Vec::new(),
    };
    let _ = handle_one_request(
        &mut Reply,
        &mut conn,
        &HandlerCx::new(&addr, &info),
        &HttpConfig::default(),
    );
}

const REQUESTS: [&[u8]; 8] = [
    b"GET /p?q=1&r HTTP/1.0\r\nUser-Agent: t/1\r\nReferer: http://r/\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /a\"b\\c?x=\"y\" HTTP/1.0\r\nUser-Agent: evil\" agent\\ \t\x7f\xe9\r\n\r\n",
    b"GET /\xc3\xa9t\xc3\xa9 HTTP/1.0\r\nReferer: \"quoted\"\r\nUser-Agent: caf\xe9\r\n\r\n",
    b"GET /\x01\x1b[31m HTTP/1.0\r\n\r\n",
    b"BREW / HTTP/1.0\r\n\r\n",
    b"GET /no-version\r\n\r\n",
    b"\x16\x03\x01 garbage\r\n\r\n",
];

#[test]
fn real_requests_print_as_the_reference_prints_them() {
    for (name, format, template) in styles() {
        for request in REQUESTS {
            let emit = || serve(request);
            let (old, new, buffered) = three(format, template, &emit);
            assert!(!old.is_empty(), "{name}: nothing logged");
            let what = format!("{name}, {:?}", String::from_utf8_lossy(request));
            assert_eq!(mask_digits(&new), mask_digits(&old), "{what}");
            assert_eq!(
                mask_digits(&buffered),
                mask_digits(&old),
                "{what} (buffered)"
            );
        }
    }
}

/// Hand-made events: every value kind, missing and odd values, other events.
fn events() {
    let access = ACCESS_TARGET;
    tracing::info!(
        target: "http_server::access",
        client = %"127.0.0.1:5555",
        peer = %"127.0.0.1",
        method = %"GET",
        path = %"/a.gif?x=\"1\"",
        protocol = %"HTTP/1.0",
        request = %"GET /a.gif?x=\"1\" HTTP/1.0",
        status = Some(200u64),
        bytes_sent = 2326u64,
        duration_us = 1_234_567u64,
        referer = Some("http://www.example.com/start.html"),
        user_agent = Some("Mozilla/4.08 [en] (Win98; I ;Nav) \"\\\u{e9}\u{2028}\n"),
        message = %"127.0.0.1 - - [10/Oct/2000 13:55:36] \"GET /a.gif HTTP/1.0\" 200 2326",
    );
    // No status (CPython's `log_error` lines), no bytes, zero bytes.
    tracing::info!(target: "http_server::access", client = %"127.0.0.1:1", message = %"code 404, message x");
    tracing::info!(target: "http_server::access", peer = %"::1", request = %"-", status = 404u64, message = "m");
    tracing::info!(target: "http_server::access", status = 304u64, bytes_sent = 0u64, duration_us = 7u64, "no peer");
    tracing::info!(target: "http_server::access", status = None::<u64>, bytes_sent = 5u64, "status none");
    // Values of every kind, names the formats do not know, no message.
    tracing::info!(
        target: "http_server::access",
        status = "200 OK",
        bytes_sent = -3i64,
        duration_us = 1.5f64,
        ratio = f64::NAN,
        ok = true,
        peer = ?"debug peer",
        extra = "tab\there",
    );
    tracing::info!(target: "http_server::access", status = 200u64, message = 42u64);
    tracing::warn!(target: "http_server::access", status = 500u64, "a warning with a status");
    tracing::warn!(port = 8782u64, "not an access event");
    tracing::error!(error = %"boom \"x\"", "failed");
    let _ = access;
}

#[test]
fn hand_made_events_print_as_the_reference_prints_them() {
    for (name, format, template) in styles() {
        let (old, new, buffered) = three(format, template, &events);
        let pid = format!("<{}>", std::process::id());
        assert!(old.lines().count() >= 9, "{name}: {old}");
        assert_eq!(mask_times(&new), mask_times(&old), "{name}");
        assert_eq!(mask_times(&buffered), mask_times(&old), "{name} (buffered)");
        if template.is_some_and(|t| t.contains("%(p)s")) {
            assert!(new.contains(&pid), "{name}: {new}");
        }
    }
}

#[test]
fn the_fast_helpers_match_the_reference_helpers() {
    for s in ["plain", "a\"b\\c", "tab\t\x7f\u{e9}\u{2028}\u{1}", ""] {
        let mut out = Vec::new();
        apache_escape_into(s.as_bytes(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            super::super::apache_escape(s)
        );
        let mut out = Vec::new();
        json_into(s, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            super::super::json_string(s)
        );
    }
    for secs in [0, 951_782_400, 971_186_136, 1_700_000_000, 4_102_444_799] {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(secs * 1000 + 42);
        let mut out = Vec::new();
        write_apache_time(t, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            super::super::apache_time(t)
        );
    }
}

#[test]
fn rust_log_still_filters_access_events() {
    let out = Shared::default();
    let writer = out.clone();
    let dispatch = access_dispatch(
        AccessLogFormat::Combined,
        None,
        move || writer.clone(),
        env_filter("http_server::access=off,info").0,
    );
    tracing::dispatcher::with_default(&dispatch, || {
        serve(REQUESTS[0]);
        tracing::info!("kept");
    });
    assert_eq!(out.text(), "INFO: kept\n");
}
