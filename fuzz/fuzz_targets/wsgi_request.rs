//! Fuzz target: whole requests through `h1::HttpProtocol` with gateway's
//! `WsgiRequestHandler` (the production face of `demo`), over in-memory buffers: the
//! environ built from hostile heads, the WSGI handler's state machine and the HTTP layer's
//! framing of what the application gives it. The application picks its behaviour from the
//! path's second byte: `demo_app`, an echo of the body with its length, chunks of unknown
//! length, `write()` before the body, an error before the headers, an error after them, a
//! `Content-Length` that lies (short and long), and a 204/304 with a body. The first input
//! byte picks how many bytes arrive per read. Invariants: no panic; every byte sent parses
//! as well-formed HTTP responses; at most one final response per framed request; nothing
//! after the connection was told to close.
#![no_main]

#[path = "common/app.rs"]
mod app;
#[path = "common/responses.rs"]
mod responses;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gateway::simple_server::{WsgiRequestHandler, WsgiShared, base_environ, http_config};
use http_server::h1::HttpProtocol;
use libfuzzer_sys::fuzz_target;
use socketserver::evloop::{Frame, Protocol, ServeCx, Served};
use socketserver::{Address, HandlerCx, ServerInfo};

use app::{KIND, app};
use responses::count_responses;

/// The behaviours whose response is cut short on purpose (an error after the headers, a
/// body shorter than its `Content-Length`): the connection must then close, which is how
/// the client learns the response is incomplete.
const CUT: [u8; 2] = [5, 6];

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 32).max(1);
    let mut config = http_config().protocol_version("HTTP/1.1");
    config.max_line = 256;
    config.max_headers = 16;
    let shared = Arc::new(WsgiShared::new(
        Arc::new(app) as Arc<dyn gateway::Application>,
        base_environ("localhost", 8782),
    ));
    let p = HttpProtocol::new(
        move |_: &HandlerCx<'_>| WsgiRequestHandler::shared(shared.clone()),
        config,
    )
    .max_head(1024);
    let addr = Address::Inet("127.0.0.1:9".parse().unwrap());
    let info = ServerInfo::new(Address::Inet("127.0.0.1:8782".parse().unwrap()));
    let cx = ServeCx::new(HandlerCx::new(&addr, &info));
    let mut session = Default::default();
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
                    KIND.store(u8::MAX, Ordering::Relaxed);
                    let served = p.serve(&mut session, &buf[..n], &mut out, &cx);
                    let head = buf.starts_with(b"HEAD");
                    let counted = count_responses(&out, false).or_else(|e| {
                        if head {
                            count_responses(&out, true)
                        } else {
                            Err(e)
                        }
                    });
                    let finals = match counted {
                        Ok(finals) => finals,
                        Err(_) if CUT.contains(&KIND.load(Ordering::Relaxed)) => {
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
});
