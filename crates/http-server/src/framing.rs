//! Response framing, decided once: how the end of a response body is found (RFC 9112
//! §6.3), from a typed response head and the request it answers.
//!
//! Python: no equivalent. CPython's `http.server` leaves framing to the handler and closes
//! HTTP/1.0 connections after each response; its HTTP/1.1 mode trusts whatever the handler
//! wrote.
//!
//! `choose_framing` is the one decision ([`Framing`] is its answer). The
//! [`Exchange`](crate::Exchange) records the head a handler builds with `send_response` /
//! `send_header` / `end_headers` (the status and the framing fields, noted as they are
//! sent) and, when the handler lets the server frame the body
//! ([`Exchange::end_headers_framed`](crate::Exchange::end_headers_framed), as the WSGI
//! gateway does), adds `Transfer-Encoding: chunked` to a body of unknown length answering
//! an HTTP/1.1 request. The event loops then enforce the choice on the bytes the handler
//! produced (`check_response`): a long body is cut, a short one closes the connection, a
//! body where none is allowed is dropped. A head a handler wrote as raw bytes is read with
//! httparse and judged the same way.

use crate::h1::chunked::{ChunkedDecoder, ChunkedLimits};
use crate::request::trim_ows;

/// How a response body is delimited on the wire.
///
/// Python: no equivalent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body may follow the head: a response to `HEAD`, a 1xx, 204 or 304 (RFC 9110
    /// §6.4.1).
    NoBody,
    /// `Content-Length` bytes follow.
    Length(u64),
    /// The chunked transfer coding delimits the body.
    Chunked,
    /// The body ends when the connection closes.
    Close,
}

/// The facts of a response head that framing depends on: status code, version,
/// `Content-Length`, `Transfer-Encoding` and `Connection`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) code: u16,
    pub(crate) version_11: bool,
    pub(crate) length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) says_close: bool,
    /// Conflicting or invalid `Content-Length` fields.
    pub(crate) bad: bool,
}

impl ResponseHead {
    /// The head of a status line `HTTP/1.x <code>`, before any field is noted.
    pub(crate) fn new(code: u16, version_11: bool) -> Self {
        ResponseHead {
            code,
            version_11,
            ..ResponseHead::default()
        }
    }

    /// Reads the response head at the start of `out` with httparse: the head and its
    /// length, or `None` when `out` does not start with a complete, well-formed head.
    pub(crate) fn parse(out: &[u8]) -> Option<(ResponseHead, usize)> {
        let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 128];
        let mut resp = httparse::Response::new(&mut []);
        let Ok(httparse::Status::Complete(len)) = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut resp, out, &mut slots)
        else {
            return None;
        };
        let mut head = ResponseHead::new(resp.code?, resp.version == Some(1));
        for h in resp.headers.iter() {
            head.note(h.name.as_bytes(), h.value);
        }
        Some((head, len))
    }

    /// Takes in one header field (a token name and its value as sent): the framing fields
    /// set `length`, `chunked` and `says_close`; a later `Transfer-Encoding` or
    /// `Connection` overrides an earlier one, two different lengths are `bad`.
    pub(crate) fn note(&mut self, name: &[u8], value: &[u8]) {
        // The length picks the one name to compare (most fields are none of the three).
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let v = crate::request::content_length(trim_ows(value));
                match (self.length, v) {
                    (None, Some(v)) => self.length = Some(v),
                    (Some(a), Some(b)) if a == b => {}
                    _ => self.bad = true,
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                let v = trim_ows(value);
                self.chunked = v.len() >= 7 && v[v.len() - 7..].eq_ignore_ascii_case(b"chunked");
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                self.says_close = trim_ows(value).eq_ignore_ascii_case(b"close");
            }
            _ => {}
        }
    }
}

/// What framing needs to know of the request a response answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestSide {
    /// The request's method is `HEAD`.
    pub(crate) head: bool,
    /// The request is HTTP/1.1, so its client reads the chunked coding (RFC 9112 §7: a
    /// server must not send it to an HTTP/1.0 client). A connection about to close is
    /// still chunked: the client then tells a cut body from a whole one.
    pub(crate) http11: bool,
}

/// The one framing decision: how the body of a response with head `head`, answering
/// `request`, is delimited. With `may_chunk`, a body of unknown length on a connection
/// that stays open gets the chunked coding (the server then adds the header and frames
/// the body); without it, such a body is close-delimited.
pub(crate) fn choose_framing(
    head: &ResponseHead,
    request: RequestSide,
    may_chunk: bool,
) -> Framing {
    if request.head || (100..200).contains(&head.code) || head.code == 204 || head.code == 304 {
        Framing::NoBody
    } else if head.bad {
        Framing::Close
    } else if let Some(n) = head.length {
        Framing::Length(n)
    } else if head.chunked || (may_chunk && request.http11 && head.version_11) {
        Framing::Chunked
    } else {
        Framing::Close
    }
}

/// A final response head an [`Exchange`](crate::Exchange) wrote itself (status line,
/// checked fields, blank line, in one write): where it starts in the response buffer, how
/// long it is, and what it says. [`check_response`] takes it as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WrittenHead {
    /// The stream position when the head's write began: the response buffer's length,
    /// plus the bytes sent out of it while the handler ran.
    pub(crate) at: usize,
    /// The head's length, blank line included.
    pub(crate) len: usize,
    pub(crate) head: ResponseHead,
}

/// Enforces the framing of the response at `out[start..]`: skips interim (1xx) responses,
/// decides the final one's framing with [`choose_framing`], cuts a body longer than its
/// `Content-Length`, drops a body where none is allowed, and closes the connection when
/// the client could not find the end of the response (a short body, a malformed chunked
/// body, a close-delimited one). Adds `Connection: close` to the final head when the
/// connection is to close and the head does not say so. Returns whether the connection
/// may stay open.
///
/// `written` is the head the handler's [`Exchange`](crate::Exchange) recorded, if any;
/// other heads (bytes a handler wrote itself) are read with httparse.
pub(crate) fn check_response(
    out: &mut Vec<u8>,
    start: usize,
    written: Option<WrittenHead>,
    is_head: bool,
    keep_alive: bool,
) -> bool {
    let mut pos = start;
    let mut known = written.filter(|w| w.at == start && start + w.len <= out.len());
    debug_assert!(
        known.is_none_or(|w| ResponseHead::parse(&out[start..]) == Some((w.head, w.len))),
        "recorded head {known:?} differs from {:?}",
        ResponseHead::parse(&out[start..])
    );
    loop {
        // Not an HTTP response head a client can read (or none at all): never reuse the
        // connection.
        let Some((head, head_len)) = known
            .take()
            .map(|w| (w.head, w.len))
            .or_else(|| ResponseHead::parse(&out[pos..]))
        else {
            return false;
        };
        if (100..200).contains(&head.code) && head.code != 101 {
            pos += head_len;
            continue;
        }
        let body_start = pos + head_len;
        let body_len = (out.len() - body_start) as u64;
        // The decision as the exchange made it, but never adding a coding here.
        let request = RequestSide {
            head: is_head,
            http11: false,
        };
        // A head saying `Connection: close` closes whatever the handler decided (RFC 9112
        // §9.6: the client will not send another request on it).
        let mut keep = keep_alive && head.version_11 && !head.says_close && head.code != 101;
        if head.bad {
            tracing::error!("response with conflicting Content-Length headers: closing");
        }
        match choose_framing(&head, request, false) {
            Framing::NoBody => {
                if body_len > 0 {
                    tracing::error!(
                        bytes = body_len,
                        code = head.code,
                        "body sent where none is allowed: cut"
                    );
                    out.truncate(body_start);
                }
            }
            Framing::Length(declared) if body_len > declared => {
                tracing::error!(
                    declared,
                    written = body_len,
                    "response longer than its Content-Length: cut"
                );
                out.truncate(body_start + declared as usize);
            }
            Framing::Length(declared) if body_len < declared => {
                tracing::error!(
                    declared,
                    written = body_len,
                    "response shorter than its Content-Length: closing"
                );
                keep = false;
            }
            Framing::Length(_) => {}
            Framing::Chunked => {
                // Exactly one well-formed chunked body, or the client would read the next
                // response out of it.
                let mut check = ChunkedDecoder::new(ChunkedLimits {
                    max_body: u64::MAX,
                    max_size_line: 4096,
                    max_trailers: 64 << 10,
                });
                if check.feed(&out[body_start..]) != Ok(Some(body_len as usize)) {
                    tracing::error!(
                        written = body_len,
                        "malformed chunked response body: closing"
                    );
                    keep = false;
                }
            }
            Framing::Close => keep = false,
        }
        if !keep && !head.says_close && head.version_11 {
            let at = pos + head_len - 2;
            out.splice(at..at, b"Connection: close\r\n".iter().copied());
        }
        return keep;
    }
}

/// Whether a connection may stay open after a response that went out in part while its
/// handler ran (so [`check_response`] cannot look at it whole): when the client finds the
/// body's end by itself, the chunked coding that [`written`](WrittenHead)'s head declares,
/// or when the `body` bytes sent are exactly its `Content-Length` (a file sent with the
/// sink's `send_file`); the handler finished without error (the caller knows).
pub(crate) fn streamed_keeps_alive(written: &WrittenHead, is_head: bool, body: u64) -> bool {
    let head = &written.head;
    let request = RequestSide {
        head: is_head,
        http11: false,
    };
    head.version_11
        && !head.says_close
        && head.code != 101
        && match choose_framing(head, request, false) {
            Framing::Chunked => true,
            // A body sent through the sink's `send_file`: kept when it was all there.
            Framing::Length(n) => body == n,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_reads_the_framing_fields() {
        let mut h = ResponseHead::default();
        h.note(b"Content-Type", b"text/plain");
        h.note(b"CONTENT-LENGTH", b" 12 ");
        h.note(b"Transfer-Encoding", b"gzip, Chunked");
        h.note(b"connection", b"Close");
        assert_eq!(h.length, Some(12));
        assert!(h.chunked && h.says_close && !h.bad);
        h.note(b"Content-Length", b"13");
        h.note(b"Connection", b"keep-alive");
        assert!(h.bad && !h.says_close);
    }

    #[test]
    fn one_decision_for_every_kind_of_head() {
        let get = RequestSide {
            head: false,
            http11: true,
        };
        let closing = RequestSide {
            http11: false,
            ..get
        };
        let head_req = RequestSide { head: true, ..get };
        let h = |code, length, chunked| ResponseHead {
            code,
            version_11: true,
            length,
            chunked,
            ..ResponseHead::default()
        };
        assert_eq!(
            choose_framing(&h(200, Some(5), false), get, true),
            Framing::Length(5)
        );
        assert_eq!(
            choose_framing(&h(200, None, true), get, false),
            Framing::Chunked
        );
        assert_eq!(
            choose_framing(&h(200, None, false), get, true),
            Framing::Chunked
        );
        assert_eq!(
            choose_framing(&h(200, None, false), get, false),
            Framing::Close
        );
        assert_eq!(
            choose_framing(&h(200, None, false), closing, true),
            Framing::Close
        );
        assert_eq!(
            choose_framing(&h(200, Some(5), false), head_req, true),
            Framing::NoBody
        );
        for code in [100, 204, 304] {
            assert_eq!(
                choose_framing(&h(code, None, false), get, true),
                Framing::NoBody
            );
        }
        let bad = ResponseHead {
            bad: true,
            ..h(200, Some(5), false)
        };
        assert_eq!(choose_framing(&bad, get, true), Framing::Close);
        let v10 = ResponseHead {
            version_11: false,
            ..h(200, None, false)
        };
        assert_eq!(choose_framing(&v10, get, true), Framing::Close);
    }
}
