//! Fuzz target: `http_server::proxy_protocol::parse`, the PROXY protocol v1 and v2 parser,
//! on untrusted bytes (the first bytes of every connection when `--proxy-protocol` is on).
//! Invariants: no panic; a header's length is within the input and the bytes after it do
//! not change the answer; every shorter prefix of a header asks for more bytes (never an
//! error, never another header); an address header re-encodes (`encode_v1`, `encode_v2`)
//! to one that parses to the same addresses; any addresses, encoded, parse back to
//! themselves whatever bytes follow.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use http_server::proxy_protocol::{ProxyHeader, V2_SIGNATURE, encode_v1, encode_v2, parse};
use libfuzzer_sys::fuzz_target;

fn check(input: &[u8]) {
    let Ok(Some((header, len))) = parse(input) else {
        return;
    };
    assert!(len > 0 && len <= input.len(), "{len} of {}", input.len());
    assert_eq!(parse(&input[..len]), Ok(Some((header.clone(), len))));
    for k in 0..len {
        assert_eq!(parse(&input[..k]), Ok(None), "prefix {k} of {len}");
    }
    if let ProxyHeader::Inet {
        source,
        destination,
    } = header
    {
        let v2 = encode_v2(source, destination);
        assert_eq!(
            parse(&v2),
            Ok(Some((
                ProxyHeader::Inet {
                    source,
                    destination
                },
                v2.len()
            )))
        );
        if source.is_ipv4() == destination.is_ipv4() {
            let v1 = encode_v1(source, destination);
            assert_eq!(
                parse(&v1),
                Ok(Some((
                    ProxyHeader::Inet {
                        source,
                        destination
                    },
                    v1.len()
                )))
            );
        }
    }
}

/// Addresses from the first bytes of `data` (IPv4 or IPv6 by the first bit), so the
/// success path runs on every input, with the rest of `data` after the header.
fn encoded(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let n = if kind & 1 == 0 { 4 } else { 16 };
    if rest.len() < 2 * n + 4 {
        return;
    }
    let (addrs, after) = rest.split_at(2 * n + 4);
    let ip = |b: &[u8]| -> IpAddr {
        match <[u8; 16]>::try_from(b) {
            Ok(a) => IpAddr::from(a),
            Err(_) => IpAddr::from([b[0], b[1], b[2], b[3]]),
        }
    };
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let source = SocketAddr::new(ip(&addrs[..n]), port(&addrs[2 * n..]));
    let destination = SocketAddr::new(ip(&addrs[n..2 * n]), port(&addrs[2 * n + 2..]));
    for header in [
        encode_v1(source, destination),
        encode_v2(source, destination),
    ] {
        let mut input = header.clone();
        input.extend_from_slice(after);
        assert_eq!(
            parse(&input),
            Ok(Some((
                ProxyHeader::Inet {
                    source,
                    destination
                },
                header.len()
            ))),
            "{source} {destination}"
        );
        check(&input);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    encoded(data);
    // The fuzzer rarely finds the 12-byte signature or `PROXY ` on its own: also try the
    // input after each of them.
    let mut v2 = V2_SIGNATURE.to_vec();
    v2.extend_from_slice(data);
    check(&v2);
    let mut v1 = b"PROXY ".to_vec();
    v1.extend_from_slice(data);
    check(&v1);
});
