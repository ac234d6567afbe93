//! Log formatting for binaries: CPython's bare access lines on stderr, or Apache's common
//! and combined formats, or JSON lines.
//!
//! The RFC 3339 and Apache dates and the JSON string escaping are hand-written for weight:
//! a few lines each instead of `chrono`/`time` and `serde_json` in every binary.
//!
//! Behind the `logging` feature (on with `cli`, the default), the only part of this crate
//! that depends on `tracing-subscriber`: a library user (`default-features = false`)
//! compiles no subscriber.
//!
//! Libraries in this workspace only emit `tracing` events; a binary chooses how to print
//! them. [`CpythonLines`] prints events of the `http_server::access` target exactly as
//! CPython's `BaseHTTPRequestHandler.log_message` writes them to stderr
//! (`127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`), and every other event
//! as `LEVEL: message key=value...`. [`AccessLines`] prints the same events in the
//! [`AccessLogFormat`] chosen, from the structured fields `log_request` adds to them
//! (`peer`, `method`, `path`, `protocol`, `request`, `status`, `bytes_sent`,
//! `duration_us`, `referer`, `user_agent`; see [`crate::default::log_message`]).
//!
//! ```
//! use http_server::logging::CpythonLines;
//! let subscriber = tracing_subscriber::fmt()
//!     .with_writer(std::io::stderr)
//!     .event_format(CpythonLines)
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(target: "http_server::access", "127.0.0.1 - - [date] \"GET / HTTP/1.0\" 200 -");
//! });
//! ```

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{Directive, EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// A `tracing-subscriber` event format: `http_server::access` events as CPython's bare
/// lines, others with their level and fields.
///
/// Python: the `sys.stderr.write` of `http.server.BaseHTTPRequestHandler.log_message`.
#[doc(alias = "http.server.BaseHTTPRequestHandler.log_message")]
#[derive(Debug, Clone, Copy, Default)]
pub struct CpythonLines;

struct Message(String, String);

impl tracing::field::Visit for Message {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        } else {
            self.1.push_str(&format!(" {}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.1.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for CpythonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut m = Message(String::new(), String::new());
        event.record(&mut m);
        if event.metadata().target() == "http_server::access" {
            writeln!(writer, "{}", m.0)
        } else {
            writeln!(writer, "{}: {}{}", event.metadata().level(), m.0, m.1)
        }
    }
}

/// The target of access events (`log_message`'s events).
pub const ACCESS_TARGET: &str = "http_server::access";

/// How [`AccessLines`] prints access events.
///
/// Python: `Python` is `http.server.BaseHTTPRequestHandler.log_message`'s format; the
/// others have no Python equivalent (gunicorn's `--access-logformat` and Apache's
/// `LogFormat` have them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLogFormat {
    /// CPython's line: `127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`
    /// (the default; other events as `LEVEL: message key=value...`).
    #[default]
    Python,
    /// Apache's common log format:
    /// `127.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 13` (`-` for no
    /// bytes); other events as `LEVEL: message key=value...`.
    Common,
    /// Apache's combined log format: common, then `"referer" "user-agent"`.
    Combined,
    /// One JSON object per line for every event: `time` (RFC 3339, UTC), `level`, `target`,
    /// `message`, then the event's fields (numbers as numbers).
    Json,
    /// No access lines: the installers filter the access events out where they are made
    /// ([`access_log_filter`]), so they cost nothing; other events as `LEVEL: message
    /// key=value...`.
    Off,
}

impl AccessLogFormat {
    /// The names [`FromStr`] accepts: `python`, `common`, `combined`, `json`, `off`.
    pub const NAMES: [&'static str; 5] = ["python", "common", "combined", "json", "off"];
}

impl FromStr for AccessLogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "python" => Ok(AccessLogFormat::Python),
            "common" => Ok(AccessLogFormat::Common),
            "combined" => Ok(AccessLogFormat::Combined),
            "json" => Ok(AccessLogFormat::Json),
            "off" => Ok(AccessLogFormat::Off),
            _ => Err(format!(
                "unknown access log format {s:?} (expected one of {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// A `tracing-subscriber` event format printing access events in an [`AccessLogFormat`].
///
/// Python: no equivalent (see [`AccessLogFormat`]).
///
/// ```
/// use http_server::logging::{AccessLines, AccessLogFormat};
/// let subscriber = tracing_subscriber::fmt()
///     .with_writer(std::io::stderr)
///     .event_format(AccessLines::new(AccessLogFormat::Combined))
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(
///         target: "http_server::access",
///         peer = "127.0.0.1", request = "GET / HTTP/1.1", status = 200u64,
///         bytes_sent = 13u64, referer = "-", user_agent = "curl/8",
///         "127.0.0.1 - - [date] \"GET / HTTP/1.1\" 200 13"
///     );
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLines {
    format: AccessLogFormat,
}

impl AccessLines {
    /// A formatter for `format`.
    pub fn new(format: AccessLogFormat) -> Self {
        AccessLines { format }
    }

    /// The format.
    pub fn format(&self) -> AccessLogFormat {
        self.format
    }

    /// Formats one event's parts (what [`FormatEvent::format_event`] writes, without the
    /// newline).
    fn line(
        &self,
        now: SystemTime,
        level: &tracing::Level,
        target: &str,
        fields: &Fields,
    ) -> String {
        let access = target == ACCESS_TARGET && fields.get("status").is_some();
        match self.format {
            AccessLogFormat::Python if target == ACCESS_TARGET => fields.message.clone(),
            AccessLogFormat::Common | AccessLogFormat::Combined if access => {
                let text = |k: &str| fields.get(k).map_or_else(|| "-".to_owned(), Value::text);
                let bytes = match fields.get("bytes_sent") {
                    Some(Value::U64(0)) | None => "-".to_owned(),
                    Some(v) => v.text(),
                };
                let mut line = format!(
                    "{} - - [{}] \"{}\" {} {}",
                    text("peer"),
                    apache_time(now),
                    apache_escape(&text("request")),
                    text("status"),
                    bytes
                );
                if self.format == AccessLogFormat::Combined {
                    let _ = write!(
                        line,
                        " \"{}\" \"{}\"",
                        apache_escape(&text("referer")),
                        apache_escape(&text("user_agent"))
                    );
                }
                line
            }
            AccessLogFormat::Json => {
                let mut line = format!(
                    "{{\"time\":\"{}\",\"level\":\"{level}\",\"target\":{},\"message\":{}",
                    rfc3339(now),
                    json_string(target),
                    json_string(&fields.message)
                );
                for (name, value) in &fields.values {
                    let _ = write!(line, ",{}:{}", json_string(name), value.json());
                }
                line.push('}');
                line
            }
            _ => {
                let mut line = format!("{level}: {}", fields.message);
                for (name, value) in &fields.values {
                    let _ = write!(line, " {name}={}", value.text());
                }
                line
            }
        }
    }
}

impl<S, N> FormatEvent<S, N> for AccessLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if self.format == AccessLogFormat::Python && meta.target() == ACCESS_TARGET {
            // The hot path (one event per request): CPython's line is the message, written
            // straight into the subscriber's buffer, the other fields not even recorded.
            let mut m = MessageOnly {
                writer: &mut writer,
                result: Ok(()),
            };
            event.record(&mut m);
            m.result?;
            return writeln!(writer);
        }
        writeln!(writer, "{}", gunicorn::reference_line(None, self, event))
    }
}

/// Writes an event's `message` field, and nothing else, to a writer.
struct MessageOnly<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl tracing::field::Visit for MessageOnly<'_, '_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.result = self.writer.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

/// A recorded field value.
///
/// Python: no equivalent.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (a `&str`, or a value recorded with `%` or `?`).
    Str(String),
    /// An unsigned number (`status`, `bytes_sent`, `duration_us`).
    U64(u64),
    /// A signed number.
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The value as text (numbers in decimal).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::U64(n) => n.to_string(),
            Value::I64(n) => n.to_string(),
            Value::F64(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    fn json(&self) -> String {
        match self {
            Value::Str(s) => json_string(s),
            Value::F64(n) if !n.is_finite() => "null".to_owned(),
            other => other.text(),
        }
    }
}

/// An event's message and fields, in the order recorded: what the access-log formats read,
/// and what a program that routes access events itself reads (the Python host hands them
/// to a request handler class's own `log_request`).
///
/// Python: no equivalent.
#[derive(Debug, Default)]
pub struct Fields {
    message: String,
    values: Vec<(&'static str, Value)>,
}

impl Fields {
    /// The fields of `event`.
    pub fn of(event: &Event<'_>) -> Self {
        let mut fields = Fields::default();
        event.record(&mut fields);
        fields
    }

    /// The `message` field (empty when the event has none).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The value of field `name` (other than `message`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The fields other than `message`, in the order recorded.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(n, v)| (*n, v))
    }

    fn put(&mut self, field: &tracing::field::Field, value: Value) {
        if field.name() == "message" {
            self.message = value.text();
        } else {
            self.values.push((field.name(), value));
        }
    }
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
}

/// Apache's `%t`: `[10/Oct/2000:13:55:36 +0000]` without the brackets, in UTC.
fn apache_time(t: SystemTime) -> String {
    // "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994:08:49:37 +0000"
    let d = httpdate::fmt_http_date(t);
    let p: Vec<&str> = d.split(' ').collect();
    format!("{}/{}/{}:{} +0000", p[1], p[2], p[3], p[4])
}

/// Apache's escaping of `%r` and `%{...}i`: `"` and `\` backslashed, control and non-ASCII
/// characters as `\xhh`.
fn apache_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
    }
    out
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RFC 3339 in UTC with milliseconds: `2026-11-24T10:00:00.123Z`.
fn rfc3339(t: SystemTime) -> String {
    let mut out = Vec::with_capacity(24);
    write_rfc3339(t, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`rfc3339`] appended to `out`, digit by digit.
fn write_rfc3339(t: SystemTime, out: &mut Vec<u8>) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Each number below its width's limit (`{:02}`), the year too unless past 9999.
    let digits = |out: &mut Vec<u8>, n: u64, width: u32| {
        for i in (0..width).rev() {
            out.push(b'0' + (n / 10u64.pow(i) % 10) as u8);
        }
    };
    match u64::try_from(year) {
        Ok(y) if y <= 9999 => digits(out, y, 4),
        _ => out.extend_from_slice(format!("{year:04}").as_bytes()),
    }
    for (sep, n, width) in [
        (b'-', month as u64, 2),
        (b'-', day as u64, 2),
        (b'T', rem / 3600, 2),
        (b':', rem / 60 % 60, 2),
        (b':', rem % 60, 2),
        (b'.', u64::from(d.subsec_millis()), 3),
    ] {
        out.push(sep);
        digits(out, n, width);
    }
    out.push(b'Z');
}

#[cfg(test)]
mod tests;

pub use self::buffered::{BufferedLog, LogWriter};
pub use self::gunicorn::{AccessTemplate, TemplateLines};

mod access_layer;
mod buffered;
mod gunicorn;

/// Installs, as the process's global `tracing` subscriber, access lines in `template`
/// (else in `format`) written to `writer` (for example a [`BufferedLog`], or
/// `std::io::stderr`), and filtered by [`rust_log_filter`]. Returns false when a global
/// subscriber was already set.
///
/// Python: no equivalent; gunicorn's `--access-logfile` and `--access-logformat`.
pub fn install_subscriber<W>(
    format: AccessLogFormat,
    template: Option<AccessTemplate>,
    writer: W,
) -> bool
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, warning) = access_log_filter(format);
    let installed =
        tracing::dispatcher::set_global_default(access_dispatch(format, template, writer, filter))
            .is_ok();
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    installed
}

/// The subscriber [`install_subscriber`] installs, filtered by `filter` instead of
/// `RUST_LOG`: for [`tracing::dispatcher::with_default`] (a benchmark or a test with the
/// server's own access log).
///
/// Python: no equivalent; gunicorn's `--access-logfile` and `--access-logformat`.
///
/// ```
/// use http_server::logging::{AccessLogFormat, access_dispatch, env_filter};
/// let (filter, _) = env_filter("info");
/// let dispatch = access_dispatch(AccessLogFormat::Python, None, std::io::sink, filter);
/// tracing::dispatcher::with_default(&dispatch, || {
///     assert!(tracing::enabled!(target: "http_server::access", tracing::Level::INFO));
/// });
/// ```
pub fn access_dispatch<W>(
    format: AccessLogFormat,
    template: Option<AccessTemplate>,
    writer: W,
    filter: EnvFilter,
) -> tracing::Dispatch
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    // Access events take the access layer's own path (straight into a `BufferedLog`'s
    // thread buffer); the `fmt` layer it wraps prints every other event.
    let (shared, sink) = access_layer::share(writer);
    let others = tracing_subscriber::fmt::layer().with_writer(shared);
    let lines = AccessLines::new(format);
    match template {
        Some(t) => {
            let others = others.event_format(TemplateLines::new(t.clone(), lines));
            let layer = access_layer::AccessLayer::new(format, Some(t), sink, others);
            tracing::Dispatch::new(Registry::default().with(layer).with(filter))
        }
        None => {
            let others = others.event_format(lines);
            let layer = access_layer::AccessLayer::new(format, None, sink, others);
            tracing::Dispatch::new(Registry::default().with(layer).with(filter))
        }
    }
}

/// Installs, as the process's global `tracing` subscriber, [`AccessLines`] in `format`
/// written to stderr and filtered by [`rust_log_filter`] (what the `demo` binary uses).
/// Returns false when a global subscriber was already set. The library itself writes
/// nothing unless a binary calls this.
///
/// Built here rather than in the binary: the subscriber's generic code is then compiled
/// with this crate, in parallel with the crates that depend on it, instead of in the
/// binary's final (serial) step.
///
/// Python: no equivalent (CPython's servers always write their log lines to stderr).
pub fn install_stderr_subscriber(format: AccessLogFormat) -> bool {
    install_stderr_with(AccessLines::new(format), access_log_filter(format))
}

/// Installs, as the process's global `tracing` subscriber, the event format `format`
/// written to stderr and filtered by [`rust_log_filter`] (the `http-server` command uses
/// [`CpythonLines`]). Invalid `RUST_LOG` directives are reported first, as one `WARN`
/// event in the same format, whatever level the filter lets through. Returns false when a
/// global subscriber was already set.
///
/// Python: no equivalent (CPython's servers always write their log lines to stderr).
pub fn install_stderr<E>(format: E) -> bool
where
    E: FormatEvent<Registry, DefaultFields> + Clone + Send + Sync + 'static,
{
    install_stderr_with(format, rust_log_filter())
}

/// [`install_stderr`] with this filter and the warning about its `RUST_LOG`.
fn install_stderr_with<E>(format: E, (filter, warning): (EnvFilter, Option<String>)) -> bool
where
    E: FormatEvent<Registry, DefaultFields> + Clone + Send + Sync + 'static,
{
    if let Some(warning) = warning {
        // Unfiltered: `RUST_LOG=error,typo` still says what it ignored.
        let loud = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .event_format(format.clone())
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::with_default(loud, || tracing::warn!("{warning}"));
    }
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .event_format(format)
        .with_env_filter(filter)
        .finish();
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

/// The filter binaries read from `RUST_LOG`, with `tracing-subscriber`'s [`EnvFilter`]
/// semantics: levels, targets, spans and fields (`warn`, `http_server::access=off,info`,
/// `[request{client=127.0.0.1:5000}]=debug`); `info` when unset or empty.
///
/// Invalid directives are left out, the valid ones kept; the second value is then the
/// warning to log (the installers above log it), never silently `info`.
///
/// Python: no equivalent (CPython's servers always write their log lines to stderr).
pub fn rust_log_filter() -> (EnvFilter, Option<String>) {
    match std::env::var("RUST_LOG") {
        Ok(value) => env_filter(&value),
        Err(std::env::VarError::NotPresent) => env_filter(""),
        Err(std::env::VarError::NotUnicode(value)) => {
            let (filter, _) = env_filter("");
            let warning = format!("ignoring RUST_LOG={value:?}: not UTF-8; logging at info");
            (filter, Some(warning))
        }
    }
}

/// [`rust_log_filter`] for the access log format `format`: with
/// [`AccessLogFormat::Off`], the access events ([`ACCESS_TARGET`]) are filtered out
/// whatever `RUST_LOG` says (so `tracing::enabled!` is false where they are made).
///
/// Python: no equivalent (uvicorn's `--no-access-log`; gunicorn logs no access lines by
/// default).
pub fn access_log_filter(format: AccessLogFormat) -> (EnvFilter, Option<String>) {
    let (filter, warning) = rust_log_filter();
    if format != AccessLogFormat::Off {
        return (filter, warning);
    }
    let off: Directive = format!("{ACCESS_TARGET}=off")
        .parse()
        .expect("a valid directive");
    (filter.add_directive(off), warning)
}

/// [`rust_log_filter`] of the value `value`: the valid directives (`info` when there are
/// none) and, when some are invalid, a warning naming each with its error.
///
/// Python: no equivalent.
pub fn env_filter(value: &str) -> (EnvFilter, Option<String>) {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for directive in value.split(',').filter(|d| !d.trim().is_empty()) {
        match directive.parse::<Directive>() {
            Ok(_) => valid.push(directive),
            Err(e) => invalid.push(format!("`{directive}` ({e})")),
        }
    }
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(valid.join(","))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let warning = (!invalid.is_empty()).then(|| {
        format!(
            "ignoring invalid RUST_LOG directive{} {}; filter in effect: {filter}",
            if invalid.len() == 1 { "" } else { "s" },
            invalid.join(", ")
        )
    });
    (filter, warning)
}
