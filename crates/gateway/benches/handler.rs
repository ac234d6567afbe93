//! Criterion micro-benchmarks of the WSGI handler state machine over in-memory streams:
//! `SimpleHandler::run` with a hello app and with `demo_app`, no socket involved; and
//! `production_path`: one keep-alive request through the event loop's protocol, `hello`
//! with the access log off and on (`hello_logged`), and `demo_app`.

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::handlers::{BaseHandler, HandlerConfig, StreamIo};
use gateway::simple_server::demo_app;
use gateway::{Body, Environ, ErrorStream, InputStream, Result, StartResponse};
use std::collections::BTreeMap;
use std::hint::black_box;

fn hello(_e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    // As the `demo --app hello` application does.
    Ok(Body::from_static(b"Hello world!\n"))
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

/// One keep-alive request through the whole production path without a socket:
/// `HttpProtocol::frame` + `serve` (parse, `WsgiRequestHandler`, environ, handler, response
/// checks), the user-space work the event loop does per request.
fn production_path(c: &mut Criterion) {
    use gateway::simple_server::{WsgiRequestHandler, WsgiShared, base_environ, http_config};
    use http_server::h1::HttpProtocol;
    use socketserver::evloop::ServeCx;
    use socketserver::{Address, HandlerCx, ServerInfo};
    use std::sync::Arc;

    let request: &[u8] =
        b"GET /xyz?abc HTTP/1.1\r\nHost: localhost:8782\r\nUser-Agent: wrk\r\n\r\n";
    let addr = Address::Inet("127.0.0.1:40000".parse().expect("address"));
    let info = ServerInfo::new(Address::Inet("127.0.0.1:8782".parse().expect("address")));
    let env = base_environ("localhost", 8782);
    // `hello_logged`: `hello` with the access log on, as `demo --access-logfile` has it
    // (CPython's lines, buffered per thread; here into /dev/null).
    let access_log = http_server::logging::BufferedLog::file(
        std::path::Path::new("/dev/null"),
        64 << 10,
        std::time::Duration::from_secs(1),
    )
    .expect("/dev/null opens");
    let logged = http_server::logging::access_dispatch(
        http_server::logging::AccessLogFormat::Python,
        None,
        access_log,
        http_server::logging::env_filter("info").0,
    );
    let mut g = c.benchmark_group("production_path");
    for (name, app, log) in [
        (
            "hello",
            Arc::new(hello) as Arc<dyn gateway::Application>,
            None,
        ),
        (
            "hello_logged",
            Arc::new(hello) as Arc<dyn gateway::Application>,
            Some(&logged),
        ),
        (
            "demo_app",
            Arc::new(demo_app) as Arc<dyn gateway::Application>,
            None,
        ),
    ] {
        // As a server does: the shared state built once, one reference per request.
        let shared = Arc::new(WsgiShared::new(app, env.clone()));
        let protocol = HttpProtocol::new(
            move |_cx: &HandlerCx<'_>| WsgiRequestHandler::shared(shared.clone()),
            http_config().protocol_version("HTTP/1.1"),
        );
        let mut session = Default::default();
        let mut out = Vec::with_capacity(4096);
        g.bench_function(name, |b| {
            let mut measure = || {
                b.iter(|| {
                    out.clear();
                    // As the event loop does: its clock read once per poll, outside the
                    // request (here once per iteration, outside `one_request`).
                    let polled = std::time::Instant::now();
                    let cx = ServeCx::new(
                        HandlerCx::new(&addr, &info)
                            .with_received(polled)
                            .with_polled(polled),
                    );
                    one_request(&protocol, &mut session, black_box(request), &mut out, &cx)
                })
            };
            match log {
                Some(dispatch) => tracing::dispatcher::with_default(dispatch, measure),
                None => measure(),
            }
        });
    }
    g.finish();
}

/// One request: `frame`, then `serve`. Never inlined, so that `cargo xtask instructions`
/// finds it by name in a callgrind profile whatever the optimiser inlines below it.
#[inline(never)]
fn one_request<P: socketserver::evloop::Protocol>(
    protocol: &P,
    session: &mut P::Session,
    request: &[u8],
    out: &mut Vec<u8>,
    cx: &socketserver::evloop::ServeCx<'_>,
) -> socketserver::evloop::Served {
    match protocol.frame(session, request) {
        socketserver::evloop::Frame::Complete(n) => protocol.serve(session, &request[..n], out, cx),
        other => panic!("unexpected {other:?}"),
    }
}

criterion_group!(production, production_path);
criterion_main!(benches, production);
