//! What the HTTP fuzz targets check of the bytes a server sent: that a client can read
//! them as responses (shared by `h1_request` and `wsgi_request`).

use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits};

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
