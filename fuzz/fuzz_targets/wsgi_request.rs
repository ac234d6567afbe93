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
use socketserver::HandlerCx;

use app::{KIND, app};
use responses::drive;

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
    // The behaviour the application picked, read and reset after each request.
    drive(&p, step, input, || {
        CUT.contains(&KIND.swap(u8::MAX, Ordering::Relaxed))
    });
});
