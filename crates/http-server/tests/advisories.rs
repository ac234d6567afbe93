//! Regression tests named after the request-smuggling and robustness advisories of other
//! Python and Rust HTTP servers: each states what the advisory was about and asserts this
//! server's safe behaviour, over `parse_request` and through `h1::HttpProtocol` (every bad
//! request is followed by a pipelined `GET /smuggled` that must never be answered).

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use http_server::h1::HttpProtocol;
use http_server::{Exchange, HttpConfig, HttpHandler, Result};
use socketserver::HandlerCx;

use crate::framing::{
    SMUGGLED, assert_h1_rejects, assert_h1_serves, drive, parse_err, parse_ok, protocol, responses,
};
use crate::hostile::{Baseline, SERIAL, get, hostile_config, start_with};

/// Each input is refused with `code` by both faces, and nothing after it is served.
#[track_caller]
fn refused(cases: &[&[u8]], code: u16) {
    let p = protocol();
    for c in cases {
        assert_eq!(parse_err(c).code, code, "{:?}", String::from_utf8_lossy(c));
        assert_h1_rejects(&p, c, code);
    }
}

// waitress CVE-2019-16785: waitress accepted a bare LF as the end of a header line where a
// front-end did not, so the two disagreed on which headers a request had. Here a bare LF
// ends a line in the head everywhere (as CPython), so a header hidden behind it is seen, and
// a bare CR (which front-ends treat in different ways) is refused; chunked framing lines need
// CRLF.
#[test]
fn cve_2019_16785_lf_only_line_endings() {
    let r = assert_h1_serves(&protocol(), b"GET /lf HTTP/1.1\nHost: x\n\n");
    assert_eq!(r.body, b"hello /lf host=x");
    // The Transfer-Encoding after a bare LF is a header of its own: with a Content-Length
    // the request is ambiguous and refused, never framed by one of the two.
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
        ],
        400,
    );
    assert_h1_rejects(
        &protocol(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
        400,
    );
}

// waitress CVE-2019-16786: waitress looked for a single Transfer-Encoding value; anything but
// `chunked` fell through to Content-Length, while a front-end honoured the coding list.
#[test]
fn cve_2019_16786_transfer_encoding_other_than_chunked() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// waitress CVE-2019-16789: special whitespace (vertical tab, form feed, Unicode spaces) in a
// Transfer-Encoding value was stripped by waitress, which then saw `chunked` where a
// front-end saw an invalid header and used Content-Length.
#[test]
fn cve_2019_16789_special_whitespace_in_transfer_encoding() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xc2\xa0chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// waitress CVE-2019-16792: with two Content-Length headers waitress treated the request as
// having no body, so the body was parsed as the next request.
#[test]
fn cve_2019_16792_two_content_length_headers() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\nContent-Length: 36\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 36\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        ],
        400,
    );
}

// waitress CVE-2022-24761: waitress parsed chunk sizes and Content-Length with Python's
// `int()`, which takes a sign, `0x`, `_` and surrounding whitespace; a front-end reading them
// strictly framed the body differently.
#[test]
fn cve_2022_24761_lenient_chunk_size_and_content_length() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n0123456789",
        ],
        400,
    );
    let p = protocol();
    for size in [&b"+3"[..], b"0x3", b"0_3", b" 3", b"3 ", b"-0"] {
        let mut r = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        r.extend_from_slice(size);
        r.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_h1_rejects(&p, &r, 400);
    }
}

// waitress CVE-2024-49768: with request look-ahead on, waitress went on to process a
// pipelined request sent after an invalid one, before closing.
#[test]
fn cve_2024_49768_pipelined_request_after_an_invalid_one() {
    let p = protocol();
    let mut input = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec();
    for _ in 0..3 {
        input.extend_from_slice(SMUGGLED);
    }
    let (out, open) = drive(&p, &input);
    let rs = responses(&out, 0);
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0].status, 400);
    assert!(!open);
    assert_eq!(parse_err(&input).code, 400);
}

// waitress CVE-2024-49769: a client that closed its connection before waitress looked at it
// left a dead socket in waitress's list: the main loop spun on it (CPU) and leaked it. Here
// clients that connect and vanish (closed or reset, with or without a request) leave nothing
// behind, and the server keeps answering.
#[test]
fn cve_2024_49769_clients_closing_early_are_cleaned_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = start_with(hostile_config(), protocol());
    let base = Baseline::take(&server);
    for i in 0..200 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        if i % 2 == 0 {
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        if i % 3 == 0 {
            let s2 = socket2::Socket::from(s);
            s2.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s2);
        } else {
            drop(s);
        }
    }
    assert_eq!(get(server.addr, "/alive").0, 200);
    base.assert_recovered(&server, "CVE-2024-49769");
}

/// A handler that tries to split its response with a header value holding CRLF.
struct Splitter;

impl HttpHandler for Splitter {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.send_response(ex, 200, None)?;
        let value = ex.path.replace("%0D%0A", "\r\n");
        ex.send_header("X-Echo", &value)?;
        ex.send_header("Content-Length", "2")?;
        ex.end_headers()?;
        ex.wfile().write_all(b"ok")?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

// gunicorn CVE-2018-1000164: gunicorn wrote application header values unchecked, so a value
// holding CRLF (often from the request, as here) injected headers or a whole response.
#[test]
fn cve_2018_1000164_crlf_in_response_headers() {
    let p = HttpProtocol::new(
        |_: &HandlerCx<'_>| Splitter,
        HttpConfig::default().protocol_version("HTTP/1.1"),
    );
    let (out, open) = drive(
        &p,
        b"GET /a%0D%0ASet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("\r\nSet-Cookie"), "{text}");
    let rs = responses(&out, 0);
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0].status, 500);
    assert!(!open);
}

// gunicorn CVE-2024-1135: gunicorn did not validate Transfer-Encoding properly: several
// Transfer-Encoding headers, or `chunked` not last, were taken as chunked (or ignored) where a
// front-end disagreed.
#[test]
fn cve_2024_1135_conflicting_transfer_encoding_headers() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// gunicorn CVE-2024-6827: gunicorn fell back to Content-Length when Transfer-Encoding held a
// value it did not understand (TE.CL smuggling).
#[test]
fn cve_2024_6827_invalid_transfer_encoding_falls_back_to_content_length() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\nContent-Length: 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// tiny_http RUSTSEC-2020-0031: tiny_http did not reject requests whose Transfer-Encoding and
// Content-Length framing disagreed, nor malformed Transfer-Encoding values.
#[test]
fn rustsec_2020_0031_tiny_http_transfer_encoding_smuggling() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked , identity\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// hyper CVE-2021-21299: hyper took some requests with several Transfer-Encoding headers
// (`chunked` in one, another coding in a later one) as chunked instead of refusing them.
#[test]
fn cve_2021_21299_hyper_multiple_transfer_encoding_headers() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ntransfer-encoding: x\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// hyper CVE-2021-32714: hyper's chunk-size parser overflowed (wrapping) on huge sizes, so a
// large size became a small one and the rest of the body a smuggled request.
#[test]
fn cve_2021_32714_hyper_chunk_size_overflow() {
    let p = protocol();
    for size in [
        &b"f0000000000000003"[..],
        b"10000000000000003",
        b"ffffffffffffffffff",
    ] {
        let mut r = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        r.extend_from_slice(size);
        r.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_h1_rejects(&p, &r, 400);
    }
    // Sizes that fit a u64 but pass the body limit: 413, still before any data is taken.
    assert_h1_rejects(
        &p,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff3\r\nabc\r\n0\r\n\r\n",
        413,
    );
    refused(
        &[b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551619\r\n\r\nabc"],
        400,
    );
}

// hyper CVE-2021-32715: hyper parsed Content-Length with `u64::from_str`, which takes a
// leading `+`, where front-ends refuse it or read it otherwise.
#[test]
fn cve_2021_32715_hyper_lenient_content_length() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n",
        ],
        400,
    );
}

// cheroot #230: cheroot accepted whitespace between a header name and its colon
// (`Transfer-Encoding : chunked`) and normalised it, where proxies forward it as another name.
#[test]
fn cheroot_230_whitespace_before_colon() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\nTransfer-Encoding : chunked\r\n\r\n8\r\nlength=1\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

// cheroot #275: cheroot ignored the first of two Content-Length headers, and answered a
// request with both Content-Length and Transfer-Encoding: its body became a pipelined request.
#[test]
fn cheroot_275_double_content_length_and_transfer_encoding() {
    refused(
        &[
            b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nabc\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
    // A body longer than its Content-Length: the rest is the next request, parsed as such
    // (and here refused), never a part of the first.
    let (out, open) = drive(
        &protocol(),
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nabc\r\n\r\n",
    );
    let rs = responses(&out, 0);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 400]);
    assert_eq!(rs[0].body, b"1:a");
    assert!(!open);
}

// cheroot #714: cheroot stripped whitespace after a header name (`Content-Length : 1`) and
// used the header.
#[test]
fn cheroot_714_whitespace_after_header_name() {
    refused(
        &[b"GET / HTTP/1.1\r\nHost: whatever\r\nContent-Length : 1\r\n\r\nZ"],
        400,
    );
    // Without the space, the same request is fine.
    let h = parse_ok(b"POST / HTTP/1.1\r\nHost: whatever\r\nContent-Length: 1\r\n\r\nZ");
    assert_eq!(h.body, http_server::BodyFraming::Length(1));
}

// cheroot #737: cheroot accepted several Content-Length headers and used the second, where
// a gateway used the first.
#[test]
fn cheroot_737_multiple_content_length() {
    refused(
        &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 36\r\n\r\nZGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nZ",
        ],
        400,
    );
}
