//! Log formatting for binaries: CPython's bare access lines on stderr.
//!
//! Libraries in this workspace only emit `tracing` events; a binary chooses how to print
//! them. [`CpythonLines`] prints events of the `http_server::access` target exactly as
//! CPython's `BaseHTTPRequestHandler.log_message` writes them to stderr
//! (`127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`), and every other event
//! as `LEVEL: message key=value...`.
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

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
