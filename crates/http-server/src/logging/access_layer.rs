//! The access log's own path: a `tracing` layer that formats the one event per request
//! (target `http_server::access`, from `log_request`) straight into the sink's buffer, and
//! hands every other event to the `fmt` layer it wraps.
//!
//! The access event stays a `tracing` event (filtered by `RUST_LOG` like the others); only
//! its formatting is hand-written: its callsite is recognised once, each field the format
//! reads is written where it belongs in the line (the value's own text, escaped once),
//! the others are skipped, and nothing is allocated. Any event the fast formats do not
//! cover (an access event without a status, under the Apache formats or a template) is
//! formatted by the reference code ([`AccessLines::line`], [`AccessTemplate::render`]),
//! and the tests compare the two for every format.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

use super::gunicorn::{Atom, Piece, reference_line};
use super::{
    ACCESS_TARGET, AccessLines, AccessLogFormat, AccessTemplate, BufferedLog, write_rfc3339,
};

/// The fields the fast formats read, by slot.
const NAMES: [&str; 11] = [
    "message",
    "peer",
    "method",
    "path",
    "protocol",
    "request",
    "status",
    "bytes_sent",
    "duration_us",
    "referer",
    "user_agent",
];
const MESSAGE: u8 = 0;
const PEER: u8 = 1;
const METHOD: u8 = 2;
const PATH: u8 = 3;
const PROTOCOL: u8 = 4;
const REQUEST: u8 = 5;
const STATUS: u8 = 6;
const BYTES: u8 = 7;
const DURATION: u8 = 8;
const REFERER: u8 = 9;
const USER_AGENT: u8 = 10;
/// A field no fast format reads by name.
const OTHER: u8 = u8::MAX;

const fn bit(slot: u8) -> u16 {
    1 << slot
}

/// How the layer prints access events.
#[derive(Debug, Clone)]
enum Style {
    /// CPython's line: the message (every access event).
    Python,
    /// Apache's common or combined format (access events with a status).
    Apache { combined: bool },
    /// One JSON object (access events with a status field).
    Json,
    /// gunicorn's atoms (access events with a status).
    Template(AccessTemplate),
}

impl Style {
    /// The slots the style reads, and those it escapes (Apache's `%r` and `%{...}i`).
    fn slots(&self) -> (u16, u16) {
        match self {
            Style::Python => (bit(MESSAGE), 0),
            Style::Apache { combined } => {
                let quoted = bit(REQUEST)
                    | if *combined {
                        bit(REFERER) | bit(USER_AGENT)
                    } else {
                        0
                    };
                (bit(PEER) | bit(STATUS) | bit(BYTES) | quoted, quoted)
            }
            // The JSON visitor writes every field.
            Style::Json => (0, 0),
            Style::Template(t) => {
                let mut need = bit(STATUS);
                for piece in &t.pieces {
                    if let Piece::Atom(_, atom) = piece {
                        need |= match atom {
                            Atom::Peer => bit(PEER),
                            Atom::Request => bit(REQUEST),
                            Atom::Method => bit(METHOD),
                            Atom::PathOnly | Atom::Query => bit(PATH),
                            Atom::Protocol => bit(PROTOCOL),
                            Atom::Bytes | Atom::BytesOrDash => bit(BYTES),
                            Atom::Referer => bit(REFERER),
                            Atom::UserAgent => bit(USER_AGENT),
                            Atom::Seconds | Atom::Millis | Atom::Micros | Atom::DecimalSeconds => {
                                bit(DURATION)
                            }
                            Atom::Dash | Atom::Time | Atom::Status | Atom::Pid => 0,
                        };
                    }
                }
                (need, 0)
            }
        }
    }
}

/// An access callsite's fields: the slot of each field, by its index in the callsite.
#[derive(Debug, Clone, Copy)]
struct Plan {
    slots: [u8; 32],
}

impl Plan {
    /// The plan for events of `meta`, or `None` when they are not this style's.
    fn new(meta: &Metadata<'_>, style: &Style) -> Option<Plan> {
        if meta.target() != ACCESS_TARGET {
            return None;
        }
        let mut slots = [OTHER; 32];
        let mut status = false;
        for field in meta.fields() {
            let slot = NAMES
                .iter()
                .position(|n| *n == field.name())
                .map_or(OTHER, |i| i as u8);
            status |= slot == STATUS;
            if let Some(s) = slots.get_mut(field.index()) {
                *s = slot;
            }
        }
        (status || matches!(style, Style::Python)).then_some(Plan { slots })
    }

    fn slot(&self, field: &Field) -> u8 {
        self.slots.get(field.index()).copied().unwrap_or(OTHER)
    }
}

/// Where the lines go: a [`BufferedLog`]'s thread buffer, or any writer, a line at a time.
#[derive(Debug)]
pub(super) enum Sink<W> {
    Buffered(BufferedLog),
    Writer(Arc<W>),
}

/// The writer shared by the access layer and the `fmt` layer it wraps.
#[derive(Debug)]
pub(super) struct SharedWriter<W>(Arc<W>);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for SharedWriter<W> {
    type Writer = W::Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.0.make_writer_for(meta)
    }
}

/// The layer: access events formatted here, every other event handed to `others`.
#[derive(Debug)]
pub(super) struct AccessLayer<L, W> {
    others: L,
    style: Style,
    /// The fallback formatter, for events the fast styles do not cover.
    lines: AccessLines,
    need: u16,
    escape: u16,
    sink: Sink<W>,
    /// The first access callsite seen, recognised once (the one `log_request` uses).
    hot: OnceLock<(Identifier, Plan)>,
}

/// Splits `writer` between the access layer (a [`BufferedLog`] is written to directly)
/// and the `fmt` layer it wraps.
pub(super) fn share<W: 'static>(writer: W) -> (SharedWriter<W>, Sink<W>) {
    let writer = Arc::new(writer);
    let any: &dyn std::any::Any = &*writer;
    let sink = match any.downcast_ref::<BufferedLog>() {
        Some(log) => Sink::Buffered(log.clone()),
        None => Sink::Writer(writer.clone()),
    };
    (SharedWriter(writer), sink)
}

impl<L, W> AccessLayer<L, W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Access events in `template` (else in `format`) to `sink`, the others to `others`.
    pub(super) fn new(
        format: AccessLogFormat,
        template: Option<AccessTemplate>,
        sink: Sink<W>,
        others: L,
    ) -> Self {
        let style = match (template, format) {
            (Some(t), _) => Style::Template(t),
            // `Off`: the filter keeps access events away from this layer.
            (None, AccessLogFormat::Python | AccessLogFormat::Off) => Style::Python,
            (None, AccessLogFormat::Common) => Style::Apache { combined: false },
            (None, AccessLogFormat::Combined) => Style::Apache { combined: true },
            (None, AccessLogFormat::Json) => Style::Json,
        };
        let (need, escape) = style.slots();
        AccessLayer {
            others,
            style,
            lines: AccessLines::new(format),
            need,
            escape,
            sink,
            hot: OnceLock::new(),
        }
    }

    /// Appends `event`'s line (and its newline) to `out`.
    fn format(&self, event: &Event<'_>, plan: &Plan, out: &mut Vec<u8>) {
        match &self.style {
            Style::Python => {
                // CPython's line is the message: written where it goes, nothing else read.
                event.record(&mut MessageOnly { plan, out });
                out.push(b'\n');
            }
            Style::Json => {
                let meta = event.metadata();
                let base = out.len();
                let mut v = JsonFields {
                    out,
                    message: None,
                    fragments: [(0, 0); 32],
                    n: 0,
                };
                event.record(&mut v);
                let (message, fragments, n) = (v.message, v.fragments, v.n);
                let start = out.len();
                out.extend_from_slice(b"{\"time\":\"");
                write_rfc3339(SystemTime::now(), out);
                out.extend_from_slice(b"\",\"level\":\"");
                out.extend_from_slice(meta.level().as_str().as_bytes());
                out.extend_from_slice(b"\",\"target\":");
                json_into(meta.target(), out);
                out.extend_from_slice(b",\"message\":");
                match message {
                    Some((s, e)) => out.extend_from_within(s..e),
                    None => out.extend_from_slice(b"\"\""),
                }
                for &(s, e) in &fragments[..n] {
                    out.extend_from_within(s..e);
                }
                out.extend_from_slice(b"}\n");
                close_up(out, base, start);
            }
            Style::Apache { combined } => {
                let base = out.len();
                let Some(v) = self.capture(event, plan, out) else {
                    return self.fallback(event, out);
                };
                let start = out.len();
                v.put(PEER, out);
                out.extend_from_slice(b" - - [");
                write_apache_time(SystemTime::now(), out);
                out.extend_from_slice(b"] \"");
                v.put(REQUEST, out);
                out.extend_from_slice(b"\" ");
                v.put(STATUS, out);
                out.push(b' ');
                v.put_bytes_or_dash(out);
                if *combined {
                    out.extend_from_slice(b" \"");
                    v.put(REFERER, out);
                    out.extend_from_slice(b"\" \"");
                    v.put(USER_AGENT, out);
                    out.push(b'"');
                }
                out.push(b'\n');
                close_up(out, base, start);
            }
            Style::Template(t) => {
                let base = out.len();
                let Some(v) = self.capture(event, plan, out) else {
                    return self.fallback(event, out);
                };
                let start = out.len();
                let micros = v
                    .get(DURATION)
                    .filter(|f| f.kind == Kind::U64)
                    .map_or(0, |f| f.num);
                for piece in &t.pieces {
                    let atom = match piece {
                        Piece::Text(text) => {
                            out.extend_from_slice(text.as_bytes());
                            continue;
                        }
                        Piece::Atom(_, atom) => atom,
                    };
                    match atom {
                        Atom::Peer => v.put(PEER, out),
                        Atom::Dash => out.push(b'-'),
                        Atom::Time => {
                            out.push(b'[');
                            write_apache_time(SystemTime::now(), out);
                            out.push(b']');
                        }
                        Atom::Request => v.put(REQUEST, out),
                        Atom::Method => v.put(METHOD, out),
                        Atom::PathOnly | Atom::Query => {
                            let (s, e) = v.get(PATH).map_or((0, 0), |f| (f.start, f.end));
                            let q = out[s..e].iter().position(|b| *b == b'?').map(|i| s + i);
                            match (atom, q) {
                                (Atom::PathOnly, Some(q)) => out.extend_from_within(s..q),
                                (Atom::PathOnly, None) if v.get(PATH).is_none() => out.push(b'-'),
                                (Atom::PathOnly, None) => out.extend_from_within(s..e),
                                (_, Some(q)) => out.extend_from_within(q + 1..e),
                                (_, None) => {}
                            }
                        }
                        Atom::Protocol => v.put(PROTOCOL, out),
                        Atom::Status => v.put(STATUS, out),
                        Atom::Bytes => v.put(BYTES, out),
                        Atom::BytesOrDash => v.put_bytes_or_dash(out),
                        Atom::Referer => v.put(REFERER, out),
                        Atom::UserAgent => v.put(USER_AGENT, out),
                        Atom::Seconds => decimal_into(micros / 1_000_000, out),
                        Atom::Millis => decimal_into(micros / 1_000, out),
                        Atom::Micros => decimal_into(micros, out),
                        Atom::DecimalSeconds => {
                            decimal_into(micros / 1_000_000, out);
                            out.push(b'.');
                            let mut buf = [0; 20];
                            let frac = stdx::decimal(micros % 1_000_000, &mut buf);
                            out.extend(std::iter::repeat_n(b'0', 6 - frac.len()));
                            out.extend_from_slice(frac.as_bytes());
                        }
                        Atom::Pid => {
                            out.push(b'<');
                            decimal_into(u64::from(std::process::id()), out);
                            out.push(b'>');
                        }
                    }
                }
                out.push(b'\n');
                close_up(out, base, start);
            }
        }
    }

    /// Records the fields the style reads at the end of `out`; `None` (and `out` as it
    /// was) when the event has no status, which the fast styles need.
    fn capture(&self, event: &Event<'_>, plan: &Plan, out: &mut Vec<u8>) -> Option<Captured> {
        let base = out.len();
        let mut v = SlotFields {
            plan,
            need: self.need,
            escape: self.escape,
            out,
            captured: Captured::default(),
        };
        event.record(&mut v);
        let captured = v.captured;
        if captured.get(STATUS).is_none() {
            out.truncate(base);
            return None;
        }
        Some(captured)
    }

    /// The reference formatting, for the events the fast styles do not cover.
    fn fallback(&self, event: &Event<'_>, out: &mut Vec<u8>) {
        let template = match &self.style {
            Style::Template(t) => Some(t),
            _ => None,
        };
        let line = reference_line(template, &self.lines, event);
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

/// Moves the line written at `start` down to `base`, over the recorded values.
fn close_up(out: &mut Vec<u8>, base: usize, start: usize) {
    let len = out.len() - start;
    out.copy_within(start.., base);
    out.truncate(base + len);
}

impl<S, L, W> Layer<S> for AccessLayer<L, W>
where
    S: Subscriber,
    L: Layer<S>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.others.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.others.on_layer(subscriber);
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let others = self.others.register_callsite(meta);
        match Plan::new(meta, &self.style) {
            Some(plan) => {
                // The hot callsite is `log_request`'s event (with a status), not the
                // `enabled!` check or `log_error`'s messages of the same target.
                if meta.is_event() && plan.slots.contains(&STATUS) {
                    let _ = self.hot.set((meta.callsite(), plan));
                }
                Interest::always()
            }
            None => others,
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        meta.target() == ACCESS_TARGET || self.others.enabled(meta, ctx)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.others.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.others.max_level_hint()
    }

    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.others.on_record(span, values, ctx);
    }

    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.others.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.others.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let computed;
        let plan = match self.hot.get() {
            Some((id, plan)) if *id == meta.callsite() => plan,
            _ => match Plan::new(meta, &self.style) {
                Some(plan) => {
                    computed = plan;
                    &computed
                }
                None => return self.others.on_event(event, ctx),
            },
        };
        match &self.sink {
            Sink::Buffered(log) => log.append(|out| self.format(event, plan, out)),
            Sink::Writer(w) => {
                let mut line = Vec::with_capacity(256);
                self.format(event, plan, &mut line);
                let _ = w.make_writer_for(meta).write_all(&line);
            }
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.others.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.others.on_exit(id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        self.others.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &tracing::span::Id, new: &tracing::span::Id, ctx: Context<'_, S>) {
        self.others.on_id_change(old, new, ctx);
    }
}

/// `fmt::Write` into bytes.
struct Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn decimal_into(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(stdx::decimal(n, &mut [0; 20]).as_bytes());
}

/// Writes the message, and only the message, to `out`.
struct MessageOnly<'a> {
    plan: &'a Plan,
    out: &'a mut Vec<u8>,
}

impl Visit for MessageOnly<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.plan.slot(field) == MESSAGE {
            self.out.extend_from_slice(value.as_bytes());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.plan.slot(field) == MESSAGE {
            let _ = write!(Bytes(self.out), "{value:?}");
        }
    }
}

/// How a value was recorded (what [`super::Value`] it would be).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Text,
    U64,
    Other,
}

/// A recorded value: its text at `start..end` of the buffer.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    set: bool,
    kind: Kind,
    num: u64,
    start: usize,
    end: usize,
}

#[derive(Debug, Default)]
struct Captured {
    slots: [Slot; NAMES.len()],
}

impl Captured {
    fn get(&self, slot: u8) -> Option<&Slot> {
        self.slots.get(usize::from(slot)).filter(|s| s.set)
    }

    /// The slot's text, or `-`.
    fn put(&self, slot: u8, out: &mut Vec<u8>) {
        match self.get(slot) {
            Some(s) => out.extend_from_within(s.start..s.end),
            None => out.push(b'-'),
        }
    }

    /// `bytes_sent`, `-` for none or zero.
    fn put_bytes_or_dash(&self, out: &mut Vec<u8>) {
        match self.get(BYTES) {
            Some(s) if s.kind == Kind::U64 && s.num == 0 => out.push(b'-'),
            Some(s) => out.extend_from_within(s.start..s.end),
            None => out.push(b'-'),
        }
    }
}

/// Records the values of the slots in `need` at the end of `out`, as their text (escaped
/// as Apache escapes them for the slots in `escape`).
struct SlotFields<'a> {
    plan: &'a Plan,
    need: u16,
    escape: u16,
    out: &'a mut Vec<u8>,
    captured: Captured,
}

impl SlotFields<'_> {
    /// The slot to record `field` in, if the style reads it.
    fn wanted(&self, field: &Field) -> Option<u8> {
        let slot = self.plan.slot(field);
        (slot != OTHER && self.need & bit(slot) != 0).then_some(slot)
    }

    /// A number or a boolean, as `Display` prints it.
    fn record_display(&mut self, field: &Field, value: &dyn fmt::Display) {
        if let Some(slot) = self.wanted(field) {
            self.record(slot, Kind::Other, 0, |out| {
                let _ = write!(Bytes(out), "{value}");
            });
        }
    }

    fn record(&mut self, slot: u8, kind: Kind, num: u64, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.out.len();
        write(self.out);
        if self.escape & bit(slot) != 0 && !self.out[start..].iter().all(|b| clean(*b)) {
            let raw = self.out.split_off(start);
            apache_escape_into(&raw, self.out);
        }
        self.captured.slots[usize::from(slot)] = Slot {
            set: true,
            kind,
            num,
            start,
            end: self.out.len(),
        };
    }
}

impl Visit for SlotFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(slot) = self.wanted(field) {
            self.record(slot, Kind::Text, 0, |out| {
                out.extend_from_slice(value.as_bytes())
            });
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(slot) = self.wanted(field) {
            self.record(slot, Kind::U64, value, |out| decimal_into(value, out));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_display(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record_display(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_display(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(slot) = self.wanted(field) {
            self.record(slot, Kind::Text, 0, |out| {
                let _ = write!(Bytes(out), "{value:?}");
            });
        }
    }
}

/// Printable ASCII other than `"` and `\`: the bytes Apache leaves as they are in `%r` and
/// `%{...}i`, and JSON in a string (bytes of non-ASCII characters are checked by the
/// reference escaping, which knows U+2028 and U+2029).
fn clean(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'
}

/// [`super::apache_escape`], byte by byte (a non-ASCII character's UTF-8 bytes each as
/// `\xhh`, as there).
fn apache_escape_into(raw: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in raw {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b if clean(b) => out.push(b),
            b => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
}

/// Records every field as its JSON fragment (`,"name":value`) at the end of `out`, the
/// message as its JSON string apart.
struct JsonFields<'a> {
    out: &'a mut Vec<u8>,
    message: Option<(usize, usize)>,
    fragments: [(usize, usize); 32],
    n: usize,
}

impl JsonFields<'_> {
    fn fragment(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.out.len();
        if field.name() == "message" {
            write(self.out);
            self.message = Some((start, self.out.len()));
            return;
        }
        self.out.push(b',');
        json_into(field.name(), self.out);
        self.out.push(b':');
        write(self.out);
        if let Some(slot) = self.fragments.get_mut(self.n) {
            *slot = (start, self.out.len());
            self.n += 1;
        }
    }

    fn text(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        self.fragment(field, |out| {
            let start = out.len();
            out.push(b'"');
            write(out);
            if !out[start + 1..].iter().all(|b| clean(*b)) {
                let raw = out.split_off(start + 1);
                out.truncate(start);
                json_into(&String::from_utf8_lossy(&raw), out);
            } else {
                out.push(b'"');
            }
        });
    }

    /// A number or a boolean as written by `write`; as the message, its text in a JSON
    /// string (as the reference).
    fn scalar(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        if field.name() == "message" {
            self.text(field, write);
        } else {
            self.fragment(field, write);
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, |out| out.extend_from_slice(value.as_bytes()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(field, |out| decimal_into(value, out));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, |out| {
            let _ = write!(Bytes(out), "{value}");
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() || field.name() == "message" {
            self.scalar(field, |out| {
                let _ = write!(Bytes(out), "{value}");
            });
        } else {
            self.fragment(field, |out| out.extend_from_slice(b"null"));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.scalar(field, |out| {
            let _ = write!(Bytes(out), "{value}");
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, |out| {
            let _ = write!(Bytes(out), "{value:?}");
        });
    }
}

/// [`super::json_string`] appended to `out`.
fn json_into(s: &str, out: &mut Vec<u8>) {
    if s.bytes().all(clean) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(super::json_string(s).as_bytes());
    }
}

/// [`super::apache_time`] appended to `out`, from the thread's cached HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT` becomes `06/Nov/1994:08:49:37 +0000`).
fn write_apache_time(t: SystemTime, out: &mut Vec<u8>) {
    let at = out.len();
    stdx::date::write(t, out);
    let http: Option<[u8; 29]> = out[at..].try_into().ok();
    out.truncate(at);
    match http {
        Some(d) => {
            out.extend_from_slice(&[
                d[5], d[6], b'/', d[8], d[9], d[10], b'/', d[12], d[13], d[14], d[15], b':',
            ]);
            out.extend_from_slice(&d[17..25]);
            out.extend_from_slice(b" +0000");
        }
        None => out.extend_from_slice(super::apache_time(t).as_bytes()),
    }
}

#[cfg(test)]
mod tests;
