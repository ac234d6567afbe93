//! What the HTTP fuzz targets check of the bytes a server sent: that a client can read
//! them as responses (shared by `h1_request` and `wsgi_request`), and the loop that feeds a
//! protocol its input as the event loop does.

use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits};
use socketserver::evloop::{Frame, Protocol, ServeCx, Served};
use socketserver::{Address, HandlerCx, ServerInfo};

/// Feeds `input` to `p`, `step` bytes a read, framing and serving each request as the event
/// loop does, and checks what is sent: well-formed responses, at most one final response a
/// request, nothing after a close, no endless interim answers. `cut_allowed` is asked after
/// each request is served whether its response may be cut short (then the connection must
/// close).
pub fn drive<P: Protocol>(p: &P, step: usize, input: &[u8], cut_allowed: impl Fn() -> bool)
where
    P::Session: Default,
{
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:8782".parse().unwrap()));
    let cx = ServeCx::new(HandlerCx::new(&addr, &info));
    let mut session = P::Session::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut interims = 0;
    for _ in 0..(input.len() * 2 + 8) {
        if fed < input.len() {
            let end = (fed + step).min(input.len());
            buf.extend_from_slice(&input[fed..end]);
            fed = end;
        }
        while !buf.is_empty() {
            let mut out = Vec::new();
            match p.frame(&mut session, &buf) {
                Frame::Incomplete => break,
                Frame::Interim(b) => {
                    assert!(b.starts_with(b"HTTP/1.1 100 "));
                    interims += 1;
                    assert!(interims < 8, "interim answers without progress");
                    break;
                }
                Frame::Reject(b) => {
                    let n = count_responses(&b, false).unwrap();
                    assert!(n <= 1);
                    return;
                }
                Frame::Complete(n) => {
                    assert!(n > 0 && n <= buf.len());
                    interims = 0;
                    let served = p.serve(&mut session, &buf[..n], &mut out, &cx);
                    let cut = cut_allowed();
                    let head = method_is_head(&buf);
                    let counted = count_responses(&out, false).or_else(|e| {
                        if head {
                            count_responses(&out, true)
                        } else {
                            Err(e)
                        }
                    });
                    let finals = match counted {
                        Ok(finals) => finals,
                        Err(_) if cut => {
                            assert!(
                                served == Served::CLOSE,
                                "a cut response left the connection open"
                            );
                            return;
                        }
                        Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&out)),
                    };
                    assert!(finals <= 1, "{finals} responses to one request");
                    buf.drain(..n);
                    if served == Served::CLOSE {
                        return;
                    }
                }
            }
        }
        if fed == input.len() && buf.is_empty() {
            return;
        }
    }
}

/// Whether the request line's method is `HEAD` as the server reads it: CPython's
/// `split()`, whose whitespace (as latin-1 text) a line may also start with (RFC 9112 §3
/// lets a recipient ignore whitespace before the method).
fn method_is_head(request: &[u8]) -> bool {
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let space = |b: &u8| {
        matches!(
            b,
            b'\t' | b'\x0b' | b'\x0c' | b'\r' | 0x1c..=0x1f | b' ' | 0x85 | 0xa0
        )
    };
    line.split(space).find(|w| !w.is_empty()) == Some(b"HEAD".as_slice())
}

/// Final responses in `out`, or an error if it is not well-formed HTTP. `head` says the
/// response may answer a HEAD request (no body whatever its headers say).
pub fn count_responses(out: &[u8], head: bool) -> std::result::Result<usize, String> {
    let mut pos = 0;
    let mut finals = 0;
    while pos < out.len() {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hs);
        let n = match r.parse(&out[pos..]) {
            Ok(httparse::Status::Complete(n)) => n,
            other => return Err(format!("unreadable at {pos}: {other:?}")),
        };
        pos += n;
        let code = r.code.unwrap_or(0);
        if (100..200).contains(&code) {
            continue;
        }
        finals += 1;
        let len = r
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| {
                std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
        let chunked = r.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                && h.value.to_ascii_lowercase().ends_with(b"chunked")
        });
        if head || code == 204 || code == 304 {
            continue;
        }
        match (len, chunked) {
            (Some(Some(len)), _) => {
                if pos + len > out.len() {
                    return Err("truncated".into());
                }
                pos += len;
            }
            (Some(None), _) => return Err("bad Content-Length".into()),
            (None, true) => {
                let mut d = ChunkedDecoder::new(ChunkedLimits {
                    max_body: u64::MAX,
                    ..ChunkedLimits::default()
                });
                match d.feed(&out[pos..]) {
                    Ok(Some(used)) => pos += used,
                    other => return Err(format!("bad chunked body {other:?}")),
                }
            }
            (None, false) => pos = out.len(),
        }
    }
    Ok(finals)
}
