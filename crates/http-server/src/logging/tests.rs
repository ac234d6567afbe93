//! Tests of the access-log formats: byte-exact lines from recorded fields, and the fields
//! `log_request` really emits.

use std::io::{BufRead, Cursor, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketserver::{Address, HandlerCx, ServerInfo};

use super::*;
use crate::{Exchange, HttpConfig, HttpHandler, handle_one_request};

/// 2000-10-10 13:55:36 UTC (Apache's documentation example, in UTC).
fn when() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(971_186_136_042)
}

fn access_fields(ua: &str) -> Fields {
    let s = |v: &str| Value::Str(v.to_owned());
    Fields {
        message: "127.0.0.1 - - [10/Oct/2000 13:55:36] \"GET /a.gif HTTP/1.0\" 200 2326".to_owned(),
        values: vec![
            ("client", s("127.0.0.1:5555")),
            ("peer", s("127.0.0.1")),
            ("method", s("GET")),
            ("path", s("/a.gif")),
            ("protocol", s("HTTP/1.0")),
            ("request", s("GET /a.gif HTTP/1.0")),
            ("status", Value::U64(200)),
            ("bytes_sent", Value::U64(2326)),
            ("duration_us", Value::U64(1500)),
            ("referer", s("http://www.example.com/start.html")),
            ("user_agent", s(ua)),
        ],
    }
}

fn line(format: AccessLogFormat, target: &str, fields: &Fields) -> String {
    AccessLines::new(format).line(when(), &tracing::Level::INFO, target, fields)
}

#[test]
fn python_common_combined_json_lines() {
    let f = access_fields("Mozilla/4.08 [en] (Win98; I ;Nav)");
    assert_eq!(
        line(AccessLogFormat::Python, ACCESS_TARGET, &f),
        "127.0.0.1 - - [10/Oct/2000 13:55:36] \"GET /a.gif HTTP/1.0\" 200 2326"
    );
    assert_eq!(
        line(AccessLogFormat::Common, ACCESS_TARGET, &f),
        "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.0\" 200 2326"
    );
    assert_eq!(
        line(AccessLogFormat::Combined, ACCESS_TARGET, &f),
        "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.0\" 200 2326 \
         \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\""
    );
    assert_eq!(
        line(AccessLogFormat::Json, ACCESS_TARGET, &f),
        r#"{"time":"2000-10-10T13:55:36.042Z","level":"INFO","target":"http_server::access","message":"127.0.0.1 - - [10/Oct/2000 13:55:36] \"GET /a.gif HTTP/1.0\" 200 2326","client":"127.0.0.1:5555","peer":"127.0.0.1","method":"GET","path":"/a.gif","protocol":"HTTP/1.0","request":"GET /a.gif HTTP/1.0","status":200,"bytes_sent":2326,"duration_us":1500,"referer":"http://www.example.com/start.html","user_agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"}"#
    );
}

#[test]
fn escaping_and_missing_values() {
    let mut f = access_fields("evil\" agent\\\n\u{e9}");
    f.values
        .retain(|(k, _)| *k != "referer" && *k != "bytes_sent");
    assert_eq!(
        line(AccessLogFormat::Combined, ACCESS_TARGET, &f),
        "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.0\" 200 - \"-\" \
         \"evil\\\" agent\\\\\\x0a\\xc3\\xa9\""
    );
    let json = line(AccessLogFormat::Json, ACCESS_TARGET, &f);
    assert!(
        json.ends_with("\"user_agent\":\"evil\\\" agent\\\\\\n\u{e9}\"}"),
        "{json}"
    );
    assert_eq!(json_string("a\u{1}\u{2028}b"), r#""a\u0001\u2028b""#);
    // Zero bytes print as "-" in Apache's formats.
    let mut f = access_fields("x");
    f.values.retain(|(k, _)| *k != "bytes_sent");
    f.values.push(("bytes_sent", Value::U64(0)));
    assert!(line(AccessLogFormat::Common, ACCESS_TARGET, &f).ends_with("\" 200 -"));
}

#[test]
fn other_events() {
    let f = Fields {
        message: "serving".to_owned(),
        values: vec![("port", Value::U64(8782)), ("ok", Value::Bool(true))],
    };
    for format in [AccessLogFormat::Python, AccessLogFormat::Common] {
        assert_eq!(line(format, "demo", &f), "INFO: serving port=8782 ok=true");
    }
    assert_eq!(
        line(AccessLogFormat::Json, "demo", &f),
        r#"{"time":"2000-10-10T13:55:36.042Z","level":"INFO","target":"demo","message":"serving","port":8782,"ok":true}"#
    );
    // log_error's messages share the access target but are not requests.
    let err = Fields {
        message: "127.0.0.1 - - [d] code 404, message File not found".to_owned(),
        values: vec![("client", Value::Str("127.0.0.1:1".to_owned()))],
    };
    assert_eq!(
        line(AccessLogFormat::Python, ACCESS_TARGET, &err),
        err.message
    );
    assert_eq!(
        line(AccessLogFormat::Common, ACCESS_TARGET, &err),
        "INFO: 127.0.0.1 - - [d] code 404, message File not found client=127.0.0.1:1"
    );
}

#[test]
fn rfc3339_dates() {
    let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000Z");
    assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20.000Z");
    assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59.000Z");
}

#[test]
fn format_names() {
    for name in AccessLogFormat::NAMES {
        assert!(name.parse::<AccessLogFormat>().is_ok());
    }
    assert_eq!("JSON".parse(), Ok(AccessLogFormat::Json));
    assert!("apache".parse::<AccessLogFormat>().is_err());
}

#[test]
fn rust_log_is_an_env_filter_that_reports_invalid_directives() {
    let (filter, warning) = env_filter("");
    assert_eq!(filter.to_string(), "info");
    assert_eq!(warning, None);
    // Span and field directives, which the targets-only filter did not take.
    let (filter, warning) = env_filter("warn,http_server::access=off,[request{client}]=debug");
    assert_eq!(warning, None);
    let shown = filter.to_string();
    assert!(shown.contains("http_server::access=off"), "{shown}");
    assert!(shown.contains("[request{client}]=debug"), "{shown}");
    // An invalid directive is named, the valid ones stay: not silently `info`.
    let (filter, warning) = env_filter("warn,http_server=loud");
    assert_eq!(filter.to_string(), "warn");
    let warning = warning.unwrap();
    assert!(
        warning.starts_with("ignoring invalid RUST_LOG directive `http_server=loud` ("),
        "{warning}"
    );
    assert!(warning.ends_with("; filter in effect: warn"), "{warning}");
    let (filter, warning) = env_filter("=x,[");
    assert_eq!(filter.to_string(), "info");
    assert!(warning.unwrap().contains("directives `=x` ("));
}

#[test]
fn access_log_off_filters_the_access_events_out_and_keeps_the_rest() {
    for (format, access_on) in [
        (AccessLogFormat::Python, true),
        (AccessLogFormat::Json, true),
        (AccessLogFormat::Off, false),
    ] {
        let (filter, _) = super::access_log_filter(format);
        let dispatch = access_dispatch(format, None, std::io::sink, filter);
        tracing::dispatcher::with_default(&dispatch, || {
            assert_eq!(
                tracing::enabled!(target: "http_server::access", tracing::Level::INFO),
                access_on,
                "{format:?}"
            );
            assert!(tracing::enabled!(target: "socketserver", tracing::Level::INFO));
            assert!(tracing::enabled!(target: "socketserver", tracing::Level::WARN));
        });
    }
}

/// A connection in memory (also for the access layer's tests).
pub(super) struct Duplex {
    pub(super) input: Cursor<Vec<u8>>,
    pub(super) output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl BufRead for Duplex {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.input.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.input.consume(n);
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer whose bytes the test reads back (also for the access layer's tests).
#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    /// What was written, as text.
    pub(super) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Answers 200 with a body, logging its size as a WSGI server does (`log_request` with
/// the bytes sent), besides the size-less log of `send_response`.
struct SizedReply;

impl HttpHandler for SizedReply {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> crate::Result<()> {
        ex.send_response_only(200, None)?;
        ex.send_header("Content-Length", "5")?;
        ex.end_headers()?;
        ex.wfile().write_all(b"hello")?;
        self.log_request(ex, Some(200), Some(5));
        Ok(())
    }
}

fn served(format: AccessLogFormat, request: &[u8]) -> String {
    let out = Shared::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .event_format(AccessLines::new(format))
        .finish();
    let addr = Address::Inet("192.0.2.1:4321".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:80".parse().unwrap()));
    let mut conn = Duplex {
        input: Cursor::new(request.to_vec()),
        output: Vec::new(),
    };
    tracing::subscriber::with_default(subscriber, || {
        handle_one_request(
            &mut SizedReply,
            &mut conn,
            &HandlerCx::new(&addr, &info),
            &HttpConfig::default(),
        )
        .unwrap();
    });
    out.text()
}

#[test]
fn log_request_emits_the_structured_fields() {
    let req = b"GET /p?q HTTP/1.0\r\nUser-Agent: t/1\r\nReferer: http://r/\r\n\r\n";
    let json = served(AccessLogFormat::Json, req);
    for part in [
        r#""target":"http_server::access""#,
        r#""client":"192.0.2.1:4321","peer":"192.0.2.1","method":"GET","path":"/p?q","protocol":"HTTP/1.0","request":"GET /p?q HTTP/1.0","status":200,"bytes_sent":5,"duration_us":"#,
        r#""referer":"http://r/","user_agent":"t/1"}"#,
    ] {
        assert!(json.contains(part), "{part}\n{json}");
    }
    assert_eq!(json.lines().count(), 1, "{json}");
    let combined = served(AccessLogFormat::Combined, req);
    assert!(
        combined.ends_with("] \"GET /p?q HTTP/1.0\" 200 5 \"http://r/\" \"t/1\"\n"),
        "{combined}"
    );
    assert!(combined.starts_with("192.0.2.1 - - ["), "{combined}");
    // The message stays CPython's line, and an error reply logs both of CPython's lines.
    let python = served(AccessLogFormat::Python, b"BREW / HTTP/1.0\r\n\r\n");
    let lines: Vec<&str> = python.lines().collect();
    assert_eq!(lines.len(), 2, "{python}");
    assert!(
        lines[0].ends_with("] code 501, message Unsupported method ('BREW')"),
        "{python}"
    );
    assert!(
        lines[1].ends_with("] \"BREW / HTTP/1.0\" 501 -"),
        "{python}"
    );
    let json = served(AccessLogFormat::Json, b"BREW / HTTP/1.0\r\n\r\n");
    assert!(
        !json.lines().next().unwrap().contains("\"status\""),
        "{json}"
    );
    assert!(
        json.lines().nth(1).unwrap().contains("\"status\":501,"),
        "{json}"
    );
    assert!(!json.contains("bytes_sent"), "{json}");
}
