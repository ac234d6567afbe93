//! Criterion micro-benchmarks of the WSGI handler state machine over in-memory streams:
//! `SimpleHandler::run` with a hello app and with `demo_app`, no socket involved.

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::handlers::{BaseHandler, HandlerConfig, StreamIo};
use gateway::simple_server::demo_app;
use gateway::{Body, Environ, ErrorStream, InputStream, Result, StartResponse};
use std::collections::BTreeMap;
use std::hint::black_box;

fn hello(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::from(&b"Hello world!\n"[..]))
}

fn environ() -> BTreeMap<String, String> {
    [
        ("REQUEST_METHOD", "GET"),
        ("PATH_INFO", "/xyz"),
        ("QUERY_STRING", "abc"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "8782"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_HOST", "localhost:8782"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("CONTENT_TYPE", "text/plain"),
        ("CONTENT_LENGTH", ""),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SCRIPT_NAME", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn run(c: &mut Criterion) {
    let env = environ();
    let mut g = c.benchmark_group("handler_run");
    g.bench_function("hello", |b| {
        b.iter(|| {
            let io = StreamIo::from_streams(
                InputStream::empty(),
                Vec::with_capacity(256),
                ErrorStream::new(std::io::sink()),
                env.clone(),
            );
            let mut h = BaseHandler::new(io, (), HandlerConfig::simple());
            h.run(black_box(&hello)).expect("hello runs");
            h.into_io().stdout
        })
    });
    g.bench_function("demo_app", |b| {
        b.iter(|| {
            let io = StreamIo::from_streams(
                InputStream::empty(),
                Vec::with_capacity(2048),
                ErrorStream::new(std::io::sink()),
                env.clone(),
            );
            let mut h = BaseHandler::new(io, (), HandlerConfig::simple());
            h.run(black_box(&demo_app)).expect("demo_app runs");
            h.into_io().stdout
        })
    });
    g.finish();
}

criterion_group!(benches, run);
criterion_main!(benches);
