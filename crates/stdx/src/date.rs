//! The `Date` header's text (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) and CPython's
//! log time (`06/Nov/1994 08:49:37`), formatted at most once a second per thread.
//!
//! Python: `email.utils.formatdate(usegmt=True)`, as `http.server`'s `date_time_string`
//! and `wsgiref.handlers.format_date_time` use it.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime};

/// The IMF-fixdate of `t`.
///
/// Python: `wsgiref.handlers.format_date_time(t)`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(1_149_533_394);
/// assert_eq!(stdx::date::format(t), "Mon, 05 Jun 2006 18:49:54 GMT");
/// ```
pub fn format(t: SystemTime) -> String {
    let mut out = Vec::with_capacity(29);
    write(t, &mut out);
    crate::ascii::as_str(&out)
        .map(str::to_owned)
        .unwrap_or_else(|| httpdate::fmt_http_date(t))
}

/// Appends [`format`](fn@format)'s text for `t` to `out`, without formatting when the second is the
/// one this thread formatted last (servers ask for "now" on every response).
///
/// ```
/// let mut out = Vec::new();
/// stdx::date::write(std::time::UNIX_EPOCH, &mut out);
/// assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 GMT");
/// ```
pub fn write(t: SystemTime, out: &mut Vec<u8>) {
    if with_second(t, |texts| out.extend_from_slice(&texts.http)).is_none() {
        out.extend_from_slice(httpdate::fmt_http_date(t).as_bytes());
    }
}

/// Appends the time of `t` as CPython's log lines print it, `06/Nov/1994 08:49:37` (in
/// UTC; CPython uses local time), formatted once a second per thread with
/// [`write`](fn@write)'s text (an access log asks for "now" on every request).
///
/// Python: `http.server.BaseHTTPRequestHandler.log_date_time_string`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let mut out = String::from("[");
/// stdx::date::write_log(UNIX_EPOCH + Duration::from_secs(1_149_533_394), &mut out);
/// assert_eq!(out, "[05/Jun/2006 18:49:54");
/// ```
#[doc(alias = "http.server.BaseHTTPRequestHandler.log_date_time_string")]
pub fn write_log(t: SystemTime, out: &mut String) {
    let cached = with_second(t, |texts| {
        out.push_str(crate::ascii::as_str(&texts.log).unwrap_or_default());
    });
    if cached.is_none() {
        // The thread is being torn down: no cache.
        let http = httpdate::fmt_http_date(t);
        let p: Vec<&str> = http.split(' ').collect();
        if let [_, day, month, year, time, ..] = p[..] {
            for part in [day, "/", month, "/", year, " ", time] {
                out.push_str(part);
            }
        }
    }
}

/// The texts of one wall second.
struct Second {
    secs: u64,
    /// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    http: [u8; 29],
    /// CPython's log time: `06/Nov/1994 08:49:37`.
    log: [u8; 20],
}

/// Runs `f` on the texts of `t`'s second, formatted when the second is not the one this
/// thread formatted last; `None` (and `f` not run) for a time before 1970 or a date that
/// is not 29 bytes long (which `httpdate` does not format), or while the thread is being
/// torn down.
fn with_second<R>(t: SystemTime, f: impl FnOnce(&Second) -> R) -> Option<R> {
    thread_local! {
        static LAST: RefCell<Second> = const {
            RefCell::new(Second { secs: u64::MAX, http: [0; 29], log: [0; 20] })
        };
    }
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    LAST.try_with(|last| {
        let mut last = last.borrow_mut();
        if last.secs != secs {
            let text = httpdate::fmt_http_date(t);
            let http = <[u8; 29]>::try_from(text.as_bytes()).ok()?;
            // "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994 08:49:37"
            let mut log = [b'/'; 20];
            log[..2].copy_from_slice(&http[5..7]);
            log[3..6].copy_from_slice(&http[8..11]);
            log[7..11].copy_from_slice(&http[12..16]);
            log[11] = b' ';
            log[12..].copy_from_slice(&http[17..25]);
            *last = Second { secs, http, log };
        }
        Some(f(&last))
    })
    .ok()
    .flatten()
}

/// Appends the date of `at` (a monotonic time, such as an event loop's last poll) as
/// [`write`](fn@write) does, without reading the wall clock: the wall time is `at`'s distance from
/// a per-thread anchor (an `Instant` and a `SystemTime` read together), re-anchored once
/// `at` is a second past it or before it. The two clocks drift apart by well under a
/// millisecond a second, far below the header's one-second resolution.
///
/// ```
/// let mut out = Vec::new();
/// stdx::date::write_near(std::time::Instant::now(), &mut out);
/// assert_eq!(out.len(), 29);
/// ```
pub fn write_near(at: Instant, out: &mut Vec<u8>) {
    /// The anchor, and the date text of the wall second `since..until` falls in.
    struct Near {
        anchor: (Instant, SystemTime),
        since: Instant,
        until: Instant,
        text: [u8; 29],
    }
    thread_local! {
        static NEAR: RefCell<Option<Near>> = const { RefCell::new(None) };
    }
    let done = NEAR.try_with(|near| {
        let mut near = near.borrow_mut();
        // The usual case: the same wall second as the last response.
        if let Some(n) = near.as_ref()
            && at >= n.since
            && at < n.until
        {
            out.extend_from_slice(&n.text);
            return;
        }
        let (i0, s0) = match near.as_ref().map(|n| n.anchor) {
            Some((i0, s0)) if at >= i0 && at - i0 < Duration::from_secs(1) => (i0, s0),
            _ => (Instant::now(), SystemTime::now()),
        };
        let wall = s0 + at.saturating_duration_since(i0);
        let mut text = Vec::with_capacity(29);
        write(wall, &mut text);
        out.extend_from_slice(&text);
        // The text holds until the wall clock's next whole second.
        let into_second = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| Duration::from_nanos(u64::from(d.subsec_nanos())))
            .unwrap_or_default();
        if let Ok(text) = <[u8; 29]>::try_from(text.as_slice()) {
            *near = Some(Near {
                anchor: (i0, s0),
                since: at.max(i0),
                until: at.max(i0) + (Duration::from_secs(1) - into_second),
                text,
            });
        }
    });
    if done.is_err() {
        write(SystemTime::now(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_text_follows_the_second() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_149_533_394);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write(t, &mut a);
        write(t + Duration::from_secs(1), &mut b);
        assert_eq!(a, b"Mon, 05 Jun 2006 18:49:54 GMT");
        assert_eq!(b, b"Mon, 05 Jun 2006 18:49:55 GMT");
        let (mut a, mut b) = (String::new(), String::new());
        write_log(t, &mut a);
        write_log(t + Duration::from_secs(1), &mut b);
        assert_eq!(a, "05/Jun/2006 18:49:54");
        assert_eq!(b, "05/Jun/2006 18:49:55");
    }

    #[test]
    fn dates_near_an_instant_match_the_wall_clock() {
        use std::time::{Duration, Instant, SystemTime};
        std::thread::spawn(|| {
            let parse =
                |v: &[u8]| httpdate::parse_http_date(std::str::from_utf8(v).unwrap()).unwrap();
            let now = Instant::now();
            // Instants 100 ms apart over three seconds: each is dated within its second (the
            // cached text changes exactly when the wall second does).
            let wall0 = SystemTime::now();
            let base = Instant::now();
            let mut last = None;
            for k in 0..30u64 {
                let mut out = Vec::new();
                write_near(base + Duration::from_millis(100 * k), &mut out);
                let got = parse(&out);
                let expected = wall0 + Duration::from_millis(100 * k);
                let secs =
                    |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
                assert!(secs(got).abs_diff(secs(expected)) <= 1, "step {k}");
                assert!(last.is_none_or(|l| l <= got), "dates never go back");
                last = Some(got);
            }
            // A time ahead of the anchor is dated from it; one before it (stale) as now.
            for (offset, ahead) in [(0, true), (400, true), (1_700, true), (2_500, false)] {
                let at = if ahead {
                    now + Duration::from_millis(offset)
                } else {
                    now.checked_sub(Duration::from_millis(offset))
                        .unwrap_or(now)
                };
                let mut out = Vec::new();
                write_near(at, &mut out);
                let wall = SystemTime::now();
                let expected = if ahead {
                    wall + Duration::from_millis(offset)
                } else {
                    wall
                };
                let got = parse(&out);
                let diff = match got.duration_since(expected) {
                    Ok(d) => d,
                    Err(e) => e.duration(),
                };
                // One-second resolution, plus the time this loop takes.
                assert!(diff <= Duration::from_secs(2), "{offset} ms: {diff:?}");
            }
        })
        .join()
        .unwrap();
    }
}
