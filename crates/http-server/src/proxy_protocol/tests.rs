//! Tests of the PROXY protocol parser and of the wrapper over `HttpProtocol`.

use std::io::{Read, Write};
use std::time::Duration;

use socketserver::evloop::{EventLoopConfig, EventLoopServer};
use socketserver::{HandlerCx, ServerInfo};

use super::*;
use crate::h1::HttpProtocol;
use crate::{Exchange, HttpConfig, HttpHandler, Result};

fn v4(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn v1_tcp4_tcp6_unknown() {
    let (h, n) = parse(b"PROXY TCP6 2001:db8::1 ::1 4711 8080\r\nrest")
        .unwrap()
        .unwrap();
    assert_eq!(n, 38);
    assert_eq!(
        h,
        ProxyHeader::Inet {
            source: v4("[2001:db8::1]:4711"),
            destination: v4("[::1]:8080")
        }
    );
    assert_eq!(h.source(), Some(Address::Inet(v4("[2001:db8::1]:4711"))));
    let (h, n) = parse(b"PROXY UNKNOWN\r\n").unwrap().unwrap();
    assert_eq!((h, n), (ProxyHeader::Local, 15));
    let (h, _) = parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.source(), None);
    let max = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(max.len(), V1_MAX_LEN);
    assert_eq!(parse(max).unwrap().unwrap().1, V1_MAX_LEN);
}

#[test]
fn v1_strict() {
    for bad in [
        &b"PROXY TCP4 192.0.2.1 192.0.2.2 56324\r\n"[..],
        b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443 extra\r\n",
        b"PROXY TCP4  192.0.2.1 192.0.2.2 56324 443\r\n",
        b"PROXY TCP4 192.0.2.1 192.0.2.2 056324 443\r\n",
        b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 443\r\n",
        b"PROXY TCP4 192.0.2.1 192.0.2.2 -1 443\r\n",
        b"PROXY TCP4 ::1 192.0.2.2 1 443\r\n",
        b"PROXY TCP6 192.0.2.1 ::1 1 443\r\n",
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 443 \r\n",
        b"PROXY tcp4 192.0.2.1 192.0.2.2 1 443\r\n",
        b"PROXY UDP4 192.0.2.1 192.0.2.2 1 443\r\n",
        b"PROXY TCP4 192.0.2.1\t192.0.2.2 1 443\r\n",
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 443\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"proxy TCP4",
        b"\r\n\r\n\0\r\nQUIX\n",
    ] {
        assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let long = [b"PROXY UNKNOWN ".as_slice(), &[b'a'; 100]].concat();
    assert_eq!(parse(&long), Err(ProxyProtocolError::TooLong));
    assert_eq!(parse(b"HELLO"), Err(ProxyProtocolError::Missing));
}

#[test]
fn incomplete_headers_ask_for_more_byte_by_byte() {
    let v1 = b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n";
    let v2 = encode_v2(v4("[2001:db8::1]:1"), v4("[2001:db8::2]:2"));
    for whole in [v1.as_slice(), &v2] {
        for i in 0..whole.len() {
            assert_eq!(parse(&whole[..i]), Ok(None), "{i} bytes");
        }
        assert_eq!(parse(whole).unwrap().unwrap().1, whole.len());
    }
}

#[test]
fn v2_inet_local_unspec_unix_and_tlvs() {
    let src = v4("192.0.2.1:5000");
    let dst = v4("192.0.2.2:80");
    let mut h = encode_v2(src, dst);
    assert_eq!(
        parse(&h).unwrap(),
        Some((
            ProxyHeader::Inet {
                source: src,
                destination: dst
            },
            28
        ))
    );
    // TLVs after the addresses are skipped (a PP2_TYPE_ALPN and an empty NOOP).
    h[14..16].copy_from_slice(&(12u16 + 5 + 3).to_be_bytes());
    h.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2', 0x04, 0x00, 0x00]);
    h.extend_from_slice(b"GET");
    assert_eq!(parse(&h).unwrap().unwrap().1, 36);
    // Mixed families are sent as IPv6 (IPv4 mapped).
    let h = encode_v2(src, v4("[::1]:80"));
    let (header, len) = parse(&h).unwrap().unwrap();
    assert_eq!(len, 52);
    assert_eq!(
        header.source(),
        Some(Address::Inet(v4("[::ffff:192.0.2.1]:5000")))
    );
    // LOCAL (a health check): the real peer is kept, addresses skipped.
    let mut local = encode_v2(src, dst);
    local[12] = 0x20;
    assert_eq!(parse(&local).unwrap(), Some((ProxyHeader::Local, 28)));
    // PROXY with AF_UNSPEC and no addresses.
    let unspec = [V2_SIGNATURE.as_slice(), &[0x21, 0x00, 0x00, 0x00]].concat();
    assert_eq!(parse(&unspec).unwrap(), Some((ProxyHeader::Local, 16)));
    // AF_UNIX.
    let mut unix = [V2_SIGNATURE.as_slice(), &[0x21, 0x31, 0x00, 216]].concat();
    let mut paths = vec![0u8; 216];
    paths[..9].copy_from_slice(b"/run/a.sk");
    unix.extend_from_slice(&paths);
    let (header, _) = parse(&unix).unwrap().unwrap();
    assert_eq!(
        header,
        ProxyHeader::Unix {
            source: Some(PathBuf::from("/run/a.sk")),
            destination: None
        }
    );
}

#[test]
fn v2_strict() {
    let good = encode_v2(v4("192.0.2.1:5000"), v4("192.0.2.2:80"));
    let with = |i: usize, b: u8| {
        let mut h = good.clone();
        h[i] = b;
        h
    };
    for (what, bad) in [
        ("version 1 in a v2 header", with(12, 0x11)),
        ("command 2", with(12, 0x22)),
        ("family 4", with(13, 0x41)),
        ("transport 3", with(13, 0x13)),
        ("length below the addresses", with(15, 11)),
        ("IPv6 family with IPv4 length", with(13, 0x21)),
    ] {
        assert!(parse(&bad).is_err(), "{what}");
    }
    // A TLV that overruns the declared length.
    let mut h = good.clone();
    h[14..16].copy_from_slice(&15u16.to_be_bytes());
    h.extend_from_slice(&[0x01, 0x00, 0x05]);
    assert!(parse(&h).is_err());
    // A truncated TLV header.
    let mut h = good;
    h[14..16].copy_from_slice(&14u16.to_be_bytes());
    h.extend_from_slice(&[0x01, 0x00]);
    assert_eq!(parse(&h), Err(ProxyProtocolError::V2("truncated TLV")));
}

#[test]
fn encode_v1_round_trips() {
    for (s, d) in [
        ("192.0.2.1:1", "192.0.2.2:65535"),
        ("[2001:db8::1]:4711", "[::1]:80"),
    ] {
        let (s, d) = (v4(s), v4(d));
        let h = encode_v1(s, d);
        let parsed = parse(&h).unwrap().unwrap();
        assert_eq!(
            parsed,
            (
                ProxyHeader::Inet {
                    source: s,
                    destination: d
                },
                h.len()
            )
        );
    }
    assert_eq!(
        encode_v1(v4("192.0.2.1:1"), v4("[::1]:2")),
        b"PROXY UNKNOWN\r\n"
    );
}

/// Answers with the client address it was given.
struct WhoAmI;

impl HttpHandler for WhoAmI {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        let body = format!("{} {}", ex.client_address(), ex.path);
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.wfile().write_all(body.as_bytes())?;
        Ok(())
    }

    fn log_message(&self, _ex: &Exchange<'_>, _args: std::fmt::Arguments<'_>) {}
}

type Wrapped = ProxyProtocol<HttpProtocol<fn(&HandlerCx<'_>) -> WhoAmI>>;

fn wrapped() -> Wrapped {
    ProxyProtocol::new(HttpProtocol::new(
        (|_: &HandlerCx<'_>| WhoAmI) as fn(&HandlerCx<'_>) -> WhoAmI,
        HttpConfig::default().protocol_version("HTTP/1.1"),
    ))
}

/// Drives the protocol as the event loop does, feeding `input` in pieces of `step` bytes.
fn drive(p: &Wrapped, input: &[u8], step: usize) -> (String, bool) {
    let addr = Address::Inet(v4("127.0.0.1:9"));
    let info = ServerInfo::new(Address::Inet(v4("127.0.0.1:80")));
    let cx = ServeCx::new(HandlerCx::new(&addr, &info));
    let mut session = ProxySession::default();
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    for _ in 0..10_000 {
        match p.frame(&mut session, &buf) {
            Frame::Incomplete => {
                if fed == input.len() {
                    return (String::from_utf8_lossy(&out).into_owned(), true);
                }
                let next = (fed + step).min(input.len());
                buf.extend_from_slice(&input[fed..next]);
                fed = next;
            }
            Frame::Interim(b) => out.extend(b),
            Frame::Reject(b) => {
                out.extend(b);
                return (String::from_utf8_lossy(&out).into_owned(), false);
            }
            Frame::Complete(n) => {
                let served = p.serve(&mut session, &buf[..n], &mut out, &cx);
                buf.drain(..n);
                if served == Served::CLOSE {
                    return (String::from_utf8_lossy(&out).into_owned(), false);
                }
            }
        }
    }
    panic!("no progress");
}

#[test]
fn wrapper_serves_with_the_proxied_address_whole_and_byte_by_byte() {
    let requests = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let v1 = [
        encode_v1(v4("192.0.2.7:4000"), v4("10.0.0.1:80")),
        requests.to_vec(),
    ]
    .concat();
    let v2 = [
        encode_v2(v4("[2001:db8::7]:4711"), v4("[2001:db8::1]:80")),
        requests.to_vec(),
    ]
    .concat();
    for step in [usize::MAX, 1, 7] {
        let (out, open) = drive(&wrapped(), &v1, step);
        assert!(open, "{out}");
        assert!(out.contains("\r\n\r\n192.0.2.7:4000 /a"), "{out}");
        assert!(out.contains("\r\n\r\n192.0.2.7:4000 /b"), "{out}");
        let (out, _) = drive(&wrapped(), &v2, step);
        assert!(out.contains("\r\n\r\n[2001:db8::7]:4711 /a"), "{out}");
        assert!(out.contains("\r\n\r\n[2001:db8::7]:4711 /b"), "{out}");
    }
    let mut session = ProxySession::<crate::h1::H1Session>::default();
    assert_eq!(session.proxied_peer(), None);
    let p = wrapped();
    p.frame(&mut session, &v1);
    assert_eq!(
        session.proxied_peer(),
        Some(&Address::Inet(v4("192.0.2.7:4000")))
    );
}

#[test]
fn wrapper_keeps_the_peer_for_local_and_refuses_missing_headers() {
    let (out, _) = drive(
        &wrapped(),
        b"PROXY UNKNOWN\r\nGET /u HTTP/1.1\r\nHost: x\r\n\r\n",
        usize::MAX,
    );
    assert!(out.contains("127.0.0.1:9 /u"), "{out}");
    // A request without the header: closed, nothing answered, nothing served.
    let (out, open) = drive(&wrapped(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", usize::MAX);
    assert_eq!((out.as_str(), open), ("", false));
    let (out, open) = drive(
        &wrapped(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        1,
    );
    assert_eq!((out.as_str(), open), ("", false));
    // A second header on the same connection is an HTTP request (and a bad one).
    let v1 = encode_v1(v4("192.0.2.7:4000"), v4("10.0.0.1:80"));
    let (out, open) = drive(&wrapped(), &[v1.clone(), v1].concat(), usize::MAX);
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert!(!open);
}

#[test]
fn abort_skips_the_header() {
    let p = wrapped();
    let mut session = ProxySession::default();
    assert!(
        p.abort(&mut session, b"PROXY TCP4", Abort::RequestTimeout)
            .is_empty()
    );
    let input = [
        encode_v1(v4("192.0.2.7:4000"), v4("10.0.0.1:80")),
        b"GET / HTTP/1.1\r\nHo".to_vec(),
    ]
    .concat();
    assert_eq!(p.frame(&mut session, &input), Frame::Incomplete);
    let reply = p.abort(&mut session, &input, Abort::RequestTimeout);
    assert!(reply.starts_with(b"HTTP/1.1 408 "), "{reply:?}");
}

#[test]
fn over_loopback_on_the_event_loop() {
    let config = EventLoopConfig {
        threads: 1,
        ..EventLoopConfig::default()
    };
    let server = EventLoopServer::bind(v4("127.0.0.1:0"), config, wrapped()).unwrap();
    let addr = server.local_addr().inet().unwrap();
    let handle = server.handle();
    let serving = std::thread::spawn(move || server.serve());
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&encode_v2(v4("198.51.100.4:1234"), v4("127.0.0.1:80")))
        .unwrap();
    c.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert!(reply.ends_with("\r\n\r\n198.51.100.4:1234 /x"), "{reply}");
    handle.shutdown();
    serving.join().unwrap().unwrap();
}
