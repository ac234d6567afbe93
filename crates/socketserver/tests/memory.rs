//! In-memory tests of hook order and handler life cycle, through `socketserver::testing`.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketserver::testing::{Hook, MemConnection, MemTransport, Recorder};
use socketserver::{
    Address, BaseServer, Error, HandlerCx, RequestHandler, RequestHandlerClass, Result,
    ServerHooks, StreamConfig, StreamRequestHandler, Threading,
};

use crate::support::{EchoLine, TEST_STR};

/// What a [`Scripted`] handler does, and the calls it saw.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Echo,
    FailSetup,
    FailHandle,
    PanicHandle,
}

type Calls = Arc<Mutex<Vec<&'static str>>>;

struct Scripted {
    mode: Mode,
    calls: Calls,
}

impl RequestHandler<MemConnection> for Scripted {
    fn setup(&mut self, _r: &mut MemConnection, _cx: &HandlerCx<'_>) -> Result<()> {
        self.calls.lock().unwrap().push("setup");
        if self.mode == Mode::FailSetup {
            return Err(Error::handler("setup failed"));
        }
        Ok(())
    }
    fn handle(&mut self, r: &mut MemConnection, _cx: &HandlerCx<'_>) -> Result<()> {
        self.calls.lock().unwrap().push("handle");
        match self.mode {
            Mode::FailHandle => Err(Error::handler("handle failed")),
            Mode::PanicHandle => panic!("handler exploded"),
            _ => {
                let mut input = Vec::new();
                r.read_to_end(&mut input)?;
                r.write_all(&input)?;
                Ok(())
            }
        }
    }
    fn finish(&mut self, _r: &mut MemConnection, _cx: &HandlerCx<'_>) -> Result<()> {
        self.calls.lock().unwrap().push("finish");
        Ok(())
    }
}

/// Hooks that make [`Scripted`] handlers; `mode` may change between requests.
struct Hooks {
    mode: Mutex<Mode>,
    calls: Calls,
    verify: bool,
}

impl ServerHooks<MemConnection> for Hooks {
    type Handler = Scripted;
    fn make_handler(&self, _cx: &HandlerCx<'_>) -> Scripted {
        Scripted {
            mode: *self.mode.lock().unwrap(),
            calls: Arc::clone(&self.calls),
        }
    }
    fn verify_request(&self, _request: &MemConnection, _client: &Address) -> bool {
        self.verify
    }
}

fn server(
    mode: Mode,
    verify: bool,
) -> (
    BaseServer<MemTransport, Recorder<Hooks>>,
    MemTransport,
    Calls,
) {
    let calls = Calls::default();
    let hooks = Hooks {
        mode: Mutex::new(mode),
        calls: Arc::clone(&calls),
        verify,
    };
    let transport = MemTransport::new();
    let server = BaseServer::new(transport.clone(), Recorder::new(hooks)).unwrap();
    (server, transport, calls)
}

#[test]
fn served_request_runs_hooks_in_order() {
    let (mut server, transport, calls) = server(Mode::Echo, true);
    let client = transport.connect(b"abc".to_vec());
    server.handle_request().unwrap();
    let log = server.hooks().log();
    assert_eq!(
        log.hooks(),
        [
            Hook::VerifyRequest,
            Hook::ProcessRequest,
            Hook::FinishRequest,
            Hook::ShutdownRequest
        ]
    );
    assert_eq!(*calls.lock().unwrap(), ["setup", "handle", "finish"]);
    assert_eq!(client.output(), b"abc");
    assert!(client.is_shut_down());
    assert!(client.is_closed());
}

// CPython: Lib/test/test_socketserver.py::MiscTestCase::test_shutdown_request_called_if_verify_request_false
#[test]
fn refused_verification_shuts_down_without_processing() {
    let (mut server, transport, calls) = server(Mode::Echo, false);
    let client = transport.connect(b"abc".to_vec());
    assert!(server.handle_request_noblock().unwrap());
    let log = server.hooks().log();
    assert_eq!(log.hooks(), [Hook::VerifyRequest, Hook::ShutdownRequest]);
    assert!(calls.lock().unwrap().is_empty(), "no handler may run");
    assert_eq!(client.output(), b"");
    assert!(client.is_shut_down() && client.is_closed());
}

#[test]
fn failing_handler_goes_to_handle_error_then_shutdown() {
    let (mut server, transport, calls) = server(Mode::FailHandle, true);
    let client = transport.connect(b"abc".to_vec());
    server.handle_request().unwrap();
    let log = server.hooks().log();
    assert_eq!(
        log.hooks(),
        [
            Hook::VerifyRequest,
            Hook::ProcessRequest,
            Hook::FinishRequest,
            Hook::HandleError,
            Hook::ShutdownRequest
        ]
    );
    assert_eq!(log.errors(), ["handle failed"]);
    // Python: BaseRequestHandler.__init__ runs finish() in a finally clause.
    assert_eq!(*calls.lock().unwrap(), ["setup", "handle", "finish"]);
    assert!(client.is_shut_down() && client.is_closed());
}

#[test]
fn panicking_handler_is_handled_and_the_server_keeps_serving() {
    let (mut server, transport, calls) = server(Mode::PanicHandle, true);
    let first = transport.connect(b"one".to_vec());
    server.handle_request().unwrap();
    let log = server.hooks().log();
    assert_eq!(
        log.hooks(),
        [
            Hook::VerifyRequest,
            Hook::ProcessRequest,
            Hook::FinishRequest,
            Hook::HandleError,
            Hook::ShutdownRequest
        ]
    );
    assert!(
        log.errors()[0].contains("handler exploded"),
        "{:?}",
        log.errors()
    );
    assert!(first.is_closed());
    // A panic is a failed handle(): finish() still runs, as after a Python exception.
    assert_eq!(*calls.lock().unwrap(), ["setup", "handle", "finish"]);

    *server.hooks().inner().mode.lock().unwrap() = Mode::Echo;
    let second = transport.connect(b"two".to_vec());
    server.handle_request().unwrap();
    assert_eq!(second.output(), b"two");
    assert_eq!(log.count(Hook::HandleError), 1);
}

#[test]
fn setup_failure_skips_handle_and_finish() {
    let (mut server, transport, calls) = server(Mode::FailSetup, true);
    let client = transport.connect(b"abc".to_vec());
    server.handle_request().unwrap();
    assert_eq!(*calls.lock().unwrap(), ["setup"]);
    let log = server.hooks().log();
    assert_eq!(
        log.hooks(),
        [
            Hook::VerifyRequest,
            Hook::ProcessRequest,
            Hook::FinishRequest,
            Hook::HandleError,
            Hook::ShutdownRequest
        ]
    );
    assert_eq!(log.errors(), ["setup failed"]);
    assert!(client.is_closed());
}

#[test]
fn get_request_errors_are_swallowed() {
    let (mut server, transport, _calls) = server(Mode::Echo, true);
    transport.push_error(io::ErrorKind::ConnectionAborted);
    transport.push_error(io::ErrorKind::Other);
    let client = transport.connect(b"after".to_vec());
    assert!(!server.handle_request_noblock().unwrap());
    assert!(!server.handle_request_noblock().unwrap());
    assert!(server.handle_request_noblock().unwrap());
    assert_eq!(client.output(), b"after");
    assert_eq!(server.hooks().log().count(Hook::HandleError), 0);
    // Nothing queued: no request taken.
    assert!(!server.handle_request_noblock().unwrap());
}

#[test]
fn client_address_reaches_verify_and_handler() {
    struct Who;
    impl RequestHandler<MemConnection> for Who {
        fn handle(&mut self, r: &mut MemConnection, cx: &HandlerCx<'_>) -> Result<()> {
            write!(r, "{} on {}", cx.client_address, cx.server.server_address)?;
            Ok(())
        }
    }
    let transport =
        MemTransport::with_address("192.0.2.1:80".parse::<std::net::SocketAddr>().unwrap());
    let client = transport.connect_from(
        "198.51.100.9:4242".parse::<std::net::SocketAddr>().unwrap(),
        b"",
    );
    let hooks = Recorder::new(RequestHandlerClass(|| Who));
    let log = hooks.log();
    let mut server = BaseServer::new(transport, hooks).unwrap();
    server.handle_request().unwrap();
    assert_eq!(client.output_string(), "198.51.100.9:4242 on 192.0.2.1:80");
    assert_eq!(log.client_addresses()[0].port(), 4242);
}

#[test]
fn stream_request_handler_applies_its_class_attributes() {
    let transport = MemTransport::new();
    let client = transport.connect(TEST_STR.to_vec());
    let config = StreamConfig {
        timeout: Some(Duration::from_secs(3)),
        disable_nagle_algorithm: true,
        ..StreamConfig::default()
    };
    let hooks =
        RequestHandlerClass(move || StreamRequestHandler::with_config(EchoLine, config.clone()));
    let mut server = BaseServer::new(transport, hooks).unwrap();
    server.handle_request().unwrap();
    assert_eq!(client.output(), TEST_STR);
    assert_eq!(client.read_timeout(), Some(Duration::from_secs(3)));
    assert_eq!(client.write_timeout(), Some(Duration::from_secs(3)));
    assert!(client.nodelay());
    assert!(
        client.flushes() >= 1,
        "StreamRequestHandler.finish flushes wfile"
    );
}

#[test]
fn vanished_client_is_an_error_not_a_crash() {
    let transport = MemTransport::new();
    let (conn, client) = MemConnection::new(b"no newline".to_vec());
    transport.push(
        conn.with_read_error(io::ErrorKind::ConnectionReset),
        "127.0.0.1:1".parse::<std::net::SocketAddr>().unwrap(),
    );
    let hooks = Recorder::new(RequestHandlerClass(|| StreamRequestHandler::new(EchoLine)));
    let log = hooks.log();
    let mut server = BaseServer::new(transport.clone(), hooks).unwrap();
    server.handle_request().unwrap();
    assert_eq!(log.count(Hook::HandleError), 1);
    assert!(client.is_closed());
    let next = transport.connect(TEST_STR.to_vec());
    server.handle_request().unwrap();
    assert_eq!(next.output(), TEST_STR);
}

#[test]
fn closed_server_refuses_to_serve() {
    let (mut server, transport, _calls) = server(Mode::Echo, true);
    server.server_close();
    assert!(transport.is_closed());
    assert_eq!(server.hooks().log().hooks(), [Hook::ServerClose]);
    assert!(matches!(server.handle_request(), Err(Error::State(_))));
    assert!(matches!(
        server.serve_forever(Duration::from_millis(1)),
        Err(Error::State(_))
    ));
    // A second close is a no-op (Python's server_close is idempotent too).
    server.server_close();
    assert_eq!(server.hooks().log().count(Hook::ServerClose), 1);
}

#[test]
fn serve_forever_calls_service_actions_until_shut_down() {
    let (server, transport, _calls) = server(Mode::Echo, true);
    let log = server.hooks().log();
    let client = transport.connect(b"x".to_vec());
    let handle = server.shutdown_handle();
    let mut server = server;
    let t = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(5)).unwrap();
        server
    });
    assert!(log.wait_for(Hook::ServiceActions, 3, Duration::from_secs(10)));
    handle.request();
    let _server = crate::support::join_within(t, Duration::from_secs(10));
    assert_eq!(client.output(), b"x");
    let hooks = log.hooks();
    let first_service = hooks
        .iter()
        .position(|h| *h == Hook::ServiceActions)
        .unwrap();
    assert_eq!(
        &hooks[..first_service],
        [
            Hook::VerifyRequest,
            Hook::ProcessRequest,
            Hook::FinishRequest,
            Hook::ShutdownRequest
        ]
    );
}

#[test]
fn threading_runs_finish_and_shutdown_on_the_request_thread() {
    let calls = Calls::default();
    let hooks = Hooks {
        mode: Mutex::new(Mode::FailHandle),
        calls: Arc::clone(&calls),
        verify: true,
    };
    let recorder = Recorder::new(hooks);
    let log = recorder.log();
    let transport = MemTransport::new();
    let client = transport.connect(b"abc".to_vec());
    let mut server = BaseServer::new(transport, Threading::new(recorder)).unwrap();
    assert!(server.info().multithread);
    server.handle_request().unwrap();
    // Python's ThreadingMixIn.server_close: super().server_close() (the wrapped hooks'),
    // then join the request threads (block_on_close).
    server.server_close();
    let mut hooks = log.hooks();
    let close = hooks.iter().position(|h| *h == Hook::ServerClose).unwrap();
    hooks.remove(close);
    assert_eq!(
        hooks,
        [
            Hook::VerifyRequest,
            Hook::FinishRequest,
            Hook::HandleError,
            Hook::ShutdownRequest
        ]
    );
    assert!(client.is_shut_down() && client.is_closed());
    assert_eq!(server.hooks().tracked_threads(), 0);
}

#[test]
fn forward_process_request_calls_the_wrapped_override() {
    struct Custom;
    impl ServerHooks<MemConnection> for Custom {
        type Handler = Scripted;
        fn make_handler(&self, _cx: &HandlerCx<'_>) -> Scripted {
            unreachable!("the override below never makes a handler")
        }
        fn process_request(
            &self,
            mut request: MemConnection,
            _client: Address,
            _server: &Arc<socketserver::ServerInfo>,
        ) -> std::result::Result<(), socketserver::Failed<MemConnection>> {
            request.write_all(b"custom").unwrap();
            Ok(())
        }
    }
    let transport = MemTransport::new();
    let client = transport.connect(Vec::new());
    let recorder = Recorder::new(Custom).forward_process_request();
    let log = recorder.log();
    let mut server = BaseServer::new(transport, recorder).unwrap();
    server.handle_request().unwrap();
    assert_eq!(log.hooks(), [Hook::VerifyRequest, Hook::ProcessRequest]);
    assert_eq!(client.output(), b"custom");
    assert!(client.is_closed() && !client.is_shut_down());
}
