//! Criterion micro-benchmarks of request parsing: `parse_request` on typical heads and the
//! chunked decoder, so a regression shows before the end-to-end numbers move.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits};
use http_server::{HttpConfig, parse_request};
use std::hint::black_box;

const SMALL: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8782\r\n\r\n";
const BROWSER: &[u8] = b"GET /xyz?abc HTTP/1.1\r\nHost: localhost:8782\r\nConnection: keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"156\"\r\nsec-ch-ua-mobile: ?0\r\nUpgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=0123456789abcdef; theme=dark\r\n\r\n";

fn parse(c: &mut Criterion) {
    let cfg = HttpConfig::default().protocol_version("HTTP/1.1");
    let mut g = c.benchmark_group("parse_request");
    for (name, req) in [("small", SMALL), ("browser", BROWSER)] {
        g.throughput(Throughput::Bytes(req.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| parse_request(black_box(req), &cfg).expect("valid request"))
        });
    }
    g.finish();
}

fn chunked(c: &mut Criterion) {
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend(std::iter::repeat_n(b'x', 1024));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode_64KiB", |b| {
        b.iter(|| {
            let mut d = ChunkedDecoder::new(ChunkedLimits::default());
            d.feed(black_box(&body))
                .expect("valid body")
                .expect("complete")
        })
    });
    g.finish();
}

criterion_group!(benches, parse, chunked);
criterion_main!(benches);
