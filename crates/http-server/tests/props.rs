//! Properties (proptest, modest case counts): `parse_request` reads back what a serialiser
//! wrote; chunk-encoding then decoding is the identity whatever the chunking and however the
//! bytes arrive; any byte string through `HttpProtocol` gets well-formed responses or a close,
//! never a panic and never more than one response per framed request.

use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits, encode_chunk, encode_last_chunk};
use http_server::{BodyFraming, Parsed, parse_request};
use proptest::prelude::*;
use socketserver::evloop::{Frame, Protocol, ServeCx, Served};
use socketserver::{Address, HandlerCx, ServerInfo};

use crate::framing::{cfg11, protocol, try_responses};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        Just("DELETE".to_owned()),
        "[A-Z]{1,10}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[A-Za-z0-9._~%-]{1,8}", 0..5),
        prop::option::of("[A-Za-z0-9=&]{0,10}"),
    )
        .prop_map(|(segments, query)| {
            let mut p = format!("/{}", segments.join("/"));
            if let Some(q) = query {
                p.push('?');
                p.push_str(&q);
            }
            p
        })
}

/// A field value: visible characters with inner spaces or tabs, none at either end.
fn value() -> impl Strategy<Value = String> {
    "([!-~]([ \t!-~]{0,20}[!-~])?)?"
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    minor: u8,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = Req> {
    (
        method(),
        path(),
        0u8..=1,
        prop::collection::vec((token(), value()), 0..10),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(method, path, minor, headers, body)| {
            let reserved = [
                "host",
                "content-length",
                "transfer-encoding",
                "connection",
                "expect",
            ];
            let headers = headers
                .into_iter()
                .filter(|(n, _)| !reserved.contains(&n.to_ascii_lowercase().as_str()))
                .collect();
            Req {
                method,
                path,
                minor,
                headers,
                body,
            }
        })
}

fn serialise(r: &Req, line_end: &str) -> (Vec<u8>, usize) {
    let mut head = format!("{} {} HTTP/1.{}{line_end}", r.method, r.path, r.minor);
    head.push_str(&format!("Host: example.com{line_end}"));
    for (n, v) in &r.headers {
        head.push_str(&format!("{n}: {v}{line_end}"));
    }
    if !r.body.is_empty() {
        head.push_str(&format!("Content-Length: {}{line_end}", r.body.len()));
    }
    head.push_str(line_end);
    let mut bytes = head.into_bytes();
    let head_len = bytes.len();
    bytes.extend_from_slice(&r.body);
    (bytes, head_len)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn parse_reads_back_a_serialised_request(r in request(), lf in any::<bool>()) {
        let (bytes, head_len) = serialise(&r, if lf { "\n" } else { "\r\n" });
        let Ok(Parsed::Complete { head, consumed }) = parse_request(&bytes, &cfg11()) else {
            panic!("not parsed: {:?}", String::from_utf8_lossy(&bytes));
        };
        prop_assert_eq!(consumed, head_len);
        prop_assert_eq!(&head.line.command, &r.method);
        prop_assert_eq!(&head.line.path, &r.path);
        prop_assert_eq!(head.line.version, (1, u32::from(r.minor)));
        let mut want: Vec<(String, Vec<u8>)> = vec![("Host".into(), b"example.com".to_vec())];
        want.extend(r.headers.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())));
        if !r.body.is_empty() {
            want.push(("Content-Length".into(), r.body.len().to_string().into_bytes()));
        }
        let got: Vec<(String, Vec<u8>)> =
            head.headers.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
        prop_assert_eq!(got, want);
        let framing = if r.body.is_empty() {
            BodyFraming::None
        } else {
            BodyFraming::Length(r.body.len() as u64)
        };
        prop_assert_eq!(head.body, framing);
    }

    #[test]
    fn chunk_encode_then_decode_is_identity(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        step in 1usize..64,
    ) {
        let mut wire = Vec::new();
        for p in &pieces {
            encode_chunk(p, &mut wire);
        }
        encode_last_chunk(&mut wire);
        wire.extend_from_slice(b"NEXT");
        // The bytes arrive `step` at a time; the decoder resumes each time.
        let mut d = ChunkedDecoder::new(ChunkedLimits::default());
        let mut end = 0;
        let used = loop {
            end = (end + step).min(wire.len());
            if let Some(n) = d.feed(&wire[..end]).unwrap() {
                break n;
            }
            prop_assert!(end < wire.len(), "never complete");
        };
        prop_assert_eq!(used, wire.len() - 4);
        prop_assert_eq!(d.into_decoded(), pieces.concat());
    }

    #[test]
    fn any_bytes_get_responses_or_a_close(input in hostile_input(), step in 1usize..40) {
        let p = protocol();
        let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
        let info = ServerInfo::new(addr.clone());
        let cx = ServeCx::new(HandlerCx::new(&addr, &info));
        let mut session = Default::default();
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut served = 0usize;
        let mut interims = 0;
        for _ in 0..(input.len() * 2 + 16) {
            if fed < input.len() {
                let end = (fed + step).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            let mut closed = false;
            while !buf.is_empty() {
                match p.frame(&mut session, &buf) {
                    Frame::Incomplete => break,
                    Frame::Interim(b) => {
                        out.extend(b);
                        interims += 1;
                        prop_assert!(interims < 8);
                        break;
                    }
                    Frame::Reject(b) => {
                        out.extend(b);
                        closed = true;
                        break;
                    }
                    Frame::Complete(n) => {
                        prop_assert!(n > 0 && n <= buf.len());
                        let before = out.len();
                        let s = p.serve(&mut session, &buf[..n], &mut out, &cx);
                        // At most one final response per framed request, well-formed
                        // (without a body if it may answer a HEAD).
                        let delta = &out[before..];
                        let finals = match try_responses(delta, 0) {
                            Ok(rs) if rs.len() <= 1 => rs.len(),
                            first => match try_responses(delta, 1) {
                                Ok(rs) if rs.len() <= 1 && buf.starts_with(b"HEAD") => rs.len(),
                                second => panic!(
                                    "{first:?} / {second:?}: {:?}",
                                    String::from_utf8_lossy(delta)
                                ),
                            },
                        };
                        served += finals;
                        buf.drain(..n);
                        if s == Served::CLOSE {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            if closed || (fed == input.len() && buf.is_empty()) {
                break;
            }
        }
        prop_assert!(served <= input.len());
    }
}

/// Random bytes, and valid requests with a few bytes changed, cut or repeated.
fn hostile_input() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        Just(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Just(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
        Just(
            b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
                .to_vec()
        ),
        Just(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok".to_vec()),
        Just(b"GET http://a:1/b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Just(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec()),
    ];
    let mutated = (
        prop::collection::vec(valid, 1..4),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(reqs, edits, cut)| {
            let mut b = reqs.concat();
            for (at, byte) in edits {
                let i = at.index(b.len());
                b[i] = byte;
            }
            let keep = cut.index(b.len() + 1).max(b.len() / 2);
            b.truncate(keep);
            b
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..200), mutated]
}
