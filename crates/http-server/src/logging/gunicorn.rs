//! Access lines in a format string of gunicorn's atoms (`--access-logformat`).

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::SystemTime;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{ACCESS_TARGET, AccessLines, Fields, Value, apache_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(String),
    /// `%(x)s`: one of gunicorn's atoms, by name and by meaning.
    Atom(String, Atom),
}

/// What an atom prints (see [`AccessTemplate`]'s table), recognised once when the template
/// is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Atom {
    /// `h`
    Peer,
    /// `l`, `u`, and every unknown atom
    Dash,
    /// `t`
    Time,
    /// `r`
    Request,
    /// `m`
    Method,
    /// `U`
    PathOnly,
    /// `q`
    Query,
    /// `H`
    Protocol,
    /// `s`
    Status,
    /// `B`
    Bytes,
    /// `b`
    BytesOrDash,
    /// `f`, `{referer}i`
    Referer,
    /// `a`, `{user-agent}i`
    UserAgent,
    /// `T`
    Seconds,
    /// `M`
    Millis,
    /// `D`
    Micros,
    /// `L`
    DecimalSeconds,
    /// `p`
    Pid,
}

impl Atom {
    fn named(name: &str) -> Atom {
        match name {
            "h" => Atom::Peer,
            "t" => Atom::Time,
            "r" => Atom::Request,
            "m" => Atom::Method,
            "U" => Atom::PathOnly,
            "q" => Atom::Query,
            "H" => Atom::Protocol,
            "s" => Atom::Status,
            "B" => Atom::Bytes,
            "b" => Atom::BytesOrDash,
            "f" | "{referer}i" | "{Referer}i" => Atom::Referer,
            "a" | "{user-agent}i" | "{User-Agent}i" => Atom::UserAgent,
            "T" => Atom::Seconds,
            "M" => Atom::Millis,
            "D" => Atom::Micros,
            "L" => Atom::DecimalSeconds,
            "p" => Atom::Pid,
            _ => Atom::Dash,
        }
    }
}

/// An access log format in gunicorn's atoms (`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s
/// %(b)s "%(f)s" "%(a)s"` is gunicorn's default), parsed once.
///
/// | Atom | Value |
/// |---|---|
/// | `h` | the client's address |
/// | `l`, `u` | `-` (ident and user: no authentication) |
/// | `t` | the time, `[10/Oct/2000:13:55:36 +0000]` |
/// | `r` | the request line |
/// | `m`, `U`, `q`, `H` | the method, the path without its query, the query, the protocol |
/// | `s` | the status |
/// | `B`, `b` | the response's bytes (`b`: `-` for none) |
/// | `f`, `a` | the referer, the user agent |
/// | `T`, `M`, `D`, `L` | the request's time in seconds, milliseconds, microseconds, and decimal seconds |
/// | `p` | `<pid>` |
/// | `{referer}i`, `{user-agent}i` | those request headers (others: `-`) |
///
/// An unknown atom prints `-`; `%%` is `%`.
///
/// Python: no equivalent; gunicorn's `--access-logformat`.
///
/// ```
/// use http_server::logging::AccessTemplate;
/// let t: AccessTemplate = "%(h)s \"%(r)s\" %(s)s %(b)s %(D)s".parse().unwrap();
/// assert_ne!(t, "%(h)s".parse().unwrap());
/// assert!("%(h)s %(r".parse::<AccessTemplate>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTemplate {
    pub(super) pieces: Vec<Piece>,
}

impl FromStr for AccessTemplate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            text.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(after) = rest.strip_prefix("%%") {
                text.push('%');
                rest = after;
                continue;
            }
            let Some(inner) = rest.strip_prefix("%(") else {
                text.push('%');
                rest = &rest[1..];
                continue;
            };
            let end = inner
                .find(")s")
                .ok_or_else(|| format!("unterminated atom at {rest:?} (expected %(name)s)"))?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            let name = &inner[..end];
            pieces.push(Piece::Atom(name.to_owned(), Atom::named(name)));
            rest = &inner[end + 2..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(AccessTemplate { pieces })
    }
}

impl AccessTemplate {
    /// The line for one access event's fields, at `now` (the reference the access
    /// layer's own formatting is tested against, and its fallback).
    pub(super) fn render(&self, now: SystemTime, fields: &Fields) -> String {
        let text = |k: &str| fields.get(k).map_or_else(|| "-".to_owned(), Value::text);
        let micros = match fields.get("duration_us") {
            Some(Value::U64(n)) => *n,
            _ => 0,
        };
        let path = text("path");
        let (path_only, query) = path.split_once('?').unwrap_or((&path, ""));
        let mut out = String::with_capacity(128);
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Atom(_, a) => {
                    let _ = match a {
                        Atom::Peer => write!(out, "{}", text("peer")),
                        Atom::Dash => write!(out, "-"),
                        Atom::Time => write!(out, "[{}]", apache_time(now)),
                        Atom::Request => write!(out, "{}", text("request")),
                        Atom::Method => write!(out, "{}", text("method")),
                        Atom::PathOnly => write!(out, "{path_only}"),
                        Atom::Query => write!(out, "{query}"),
                        Atom::Protocol => write!(out, "{}", text("protocol")),
                        Atom::Status => write!(out, "{}", text("status")),
                        Atom::Bytes => write!(out, "{}", text("bytes_sent")),
                        Atom::BytesOrDash => match fields.get("bytes_sent") {
                            Some(Value::U64(0)) | None => write!(out, "-"),
                            Some(v) => write!(out, "{}", v.text()),
                        },
                        Atom::Referer => write!(out, "{}", text("referer")),
                        Atom::UserAgent => write!(out, "{}", text("user_agent")),
                        Atom::Seconds => write!(out, "{}", micros / 1_000_000),
                        Atom::Millis => write!(out, "{}", micros / 1_000),
                        Atom::Micros => write!(out, "{micros}"),
                        Atom::DecimalSeconds => {
                            write!(out, "{}.{:06}", micros / 1_000_000, micros % 1_000_000)
                        }
                        Atom::Pid => write!(out, "<{}>", std::process::id()),
                    };
                }
            }
        }
        out
    }
}

/// A `tracing-subscriber` event format: access events with a status in an
/// [`AccessTemplate`], every other event as [`AccessLines`] prints it.
///
/// Python: no equivalent; gunicorn's `--access-logformat`.
#[derive(Debug, Clone)]
pub struct TemplateLines {
    template: AccessTemplate,
    others: AccessLines,
}

impl TemplateLines {
    /// Access lines in `template`, other events as `others` prints them.
    pub fn new(template: AccessTemplate, others: AccessLines) -> Self {
        TemplateLines { template, others }
    }
}

impl<S, N> FormatEvent<S, N> for TemplateLines
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
        writeln!(
            writer,
            "{}",
            reference_line(Some(&self.template), &self.others, event)
        )
    }
}

/// An event's line (without its newline) as the reference formatters print it: an access
/// event with a status in `template` when there is one, every other event as `lines`
/// prints it. [`TemplateLines`] and [`AccessLines`] (off its hot path) print this; the
/// access layer falls back to it for the events its fast formats do not cover.
pub(super) fn reference_line(
    template: Option<&AccessTemplate>,
    lines: &AccessLines,
    event: &Event<'_>,
) -> String {
    let fields = Fields::of(event);
    let meta = event.metadata();
    let now = SystemTime::now();
    match template {
        Some(t) if meta.target() == ACCESS_TARGET && fields.get("status").is_some() => {
            t.render(now, &fields)
        }
        _ => lines.line(now, meta.level(), meta.target(), &fields),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        let mut f = Fields {
            message: "ignored".into(),
            values: Vec::new(),
        };
        for (k, v) in [
            ("peer", Value::Str("10.0.0.1".into())),
            ("method", Value::Str("GET".into())),
            ("path", Value::Str("/a/b?x=1".into())),
            ("protocol", Value::Str("HTTP/1.1".into())),
            ("request", Value::Str("GET /a/b?x=1 HTTP/1.1".into())),
            ("status", Value::U64(200)),
            ("bytes_sent", Value::U64(0)),
            ("duration_us", Value::U64(1_234_567)),
            ("referer", Value::Str("http://r/".into())),
            ("user_agent", Value::Str("curl/8".into())),
        ] {
            f.values.push((k, v));
        }
        f
    }

    #[test]
    fn every_atom() {
        let t: AccessTemplate = "%(h)s %(l)s %(u)s \"%(r)s\" %(m)s %(U)s %(q)s %(H)s %(s)s \
                                 %(B)s %(b)s \"%(f)s\" \"%(a)s\" %(T)s %(M)s %(D)s %(L)s \
                                 %({user-agent}i)s %({x-other}i)s %(zz)s 100%% %d"
            .parse()
            .unwrap();
        let line = t.render(SystemTime::UNIX_EPOCH, &fields());
        assert_eq!(
            line,
            "10.0.0.1 - - \"GET /a/b?x=1 HTTP/1.1\" GET /a/b x=1 HTTP/1.1 200 0 - \
             \"http://r/\" \"curl/8\" 1 1234 1234567 1.234567 curl/8 - - 100% %d"
        );
        let t: AccessTemplate = "%(t)s %(p)s".parse().unwrap();
        assert_eq!(
            t.render(SystemTime::UNIX_EPOCH, &fields()),
            format!("[01/Jan/1970:00:00:00 +0000] <{}>", std::process::id())
        );
        assert!("%(h".parse::<AccessTemplate>().is_err());
    }
}
