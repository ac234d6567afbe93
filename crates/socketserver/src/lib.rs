//! `socketserver`: Python's `socketserver` module in Rust.
//!
//! A server is a [`Transport`] (the listening socket: TCP, UDP, Unix) plus [`ServerHooks`]
//! (the overridable methods of Python's `BaseServer`: `verify_request`, `process_request`,
//! `finish_request`, `shutdown_request`, `handle_error`, ...) and makes a fresh
//! [`RequestHandler`] per request. [`BaseServer::handle_request`] and
//! [`BaseServer::serve_forever`] wait on a mio selector, as CPython's do on `selectors`.
//!
//! # Porting from Python
//!
//! This crate ports `socketserver` of CPython 3.11. Class attributes became config structs
//! ([`TcpConfig`], [`StreamConfig`], [`ServerConfig`]), overridable methods became
//! defaulted trait methods (with their default bodies in [`default`] for `super()` calls),
//! mix-ins became adapters ([`Threading`], [`Forking`]). Every public item names its Python
//! original and carries its dotted name as a rustdoc alias: search the docs for
//! `socketserver.BaseServer.handle_request`. The full table is `docs/porting-map.md`;
//! [`testing`] drives servers, hooks and handlers without a socket.
//!
//! # Example
//!
//! The echo server of Python's documentation:
//!
//! ```
//! use socketserver::{RequestHandlerClass, StreamHandler, StreamRequestHandler, HandlerCx,
//!                    RwStream, TcpConfig, TcpServer, TcpTransport, Result};
//! use std::io::{Read, Write};
//!
//! struct Echo;
//! impl StreamHandler for Echo {
//!     fn handle(&mut self, stream: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
//!         let line = stream.readline(65536)?;        // self.rfile.readline()
//!         stream.write_all(&line.to_ascii_uppercase())?; // self.wfile.write(...)
//!         Ok(())
//!     }
//! }
//!
//! let transport = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpConfig::default())?;
//! let mut server = TcpServer::new(transport, RequestHandlerClass(|| StreamRequestHandler::new(Echo)))?;
//! let addr = server.server_address().inet().unwrap();
//! let client = std::thread::spawn(move || {
//!     let mut c = std::net::TcpStream::connect(addr).unwrap();
//!     c.write_all(b"hello\n").unwrap();
//!     let mut reply = String::new();
//!     c.read_to_string(&mut reply).unwrap();
//!     reply
//! });
//! server.handle_request()?;
//! assert_eq!(client.join().unwrap(), "HELLO\n");
//! # Ok::<(), socketserver::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

pub use crate::address::{Address, getfqdn, inet_address};
pub use crate::datagram::{
    DatagramRequest, DatagramRequestHandler, UdpConfig, UdpTransport, UnixDatagramTransport,
};
pub use crate::error::{Error, Result};
pub use crate::forking::{Forking, ForkingConfig};
pub use crate::handler::{
    BufStream, HandlerCx, RequestHandler, RwStream, Sink, StreamConfig, StreamHandler,
    StreamRequestHandler,
};
pub use crate::server::{
    BaseServer, Failed, RequestHandlerClass, ServerConfig, ServerHooks, ServerInfo, ShutdownHandle,
    default,
};
pub use crate::threading::{Threading, ThreadingConfig, process_request_thread};
#[cfg(feature = "tls")]
pub use crate::tls::{TlsAcceptor, TlsConfig, TlsStream, TlsTransport};
pub use crate::transport::{Connection, TcpConfig, TcpTransport, Transport};
pub use crate::unix::UnixStreamTransport;

mod address;
mod datagram;
mod error;
pub mod evloop;
mod forking;
mod handler;
mod server;
pub mod testing;
mod threading;
#[cfg(feature = "tls")]
mod tls;
mod transport;
mod unix;

/// A TCP server.
///
/// Python: `socketserver.TCPServer`.
#[doc(alias = "socketserver.TCPServer")]
pub type TcpServer<H> = BaseServer<TcpTransport, H>;

/// A UDP server: one datagram per request (see [`DatagramRequestHandler`]).
///
/// Python: `socketserver.UDPServer`.
#[doc(alias = "socketserver.UDPServer")]
pub type UdpServer<H> = BaseServer<UdpTransport, H>;

/// A Unix domain stream server.
///
/// Python: `socketserver.UnixStreamServer`.
#[doc(alias = "socketserver.UnixStreamServer")]
pub type UnixStreamServer<H> = BaseServer<UnixStreamTransport, H>;

/// A Unix domain datagram server.
///
/// Python: `socketserver.UnixDatagramServer`.
#[doc(alias = "socketserver.UnixDatagramServer")]
pub type UnixDatagramServer<H> = BaseServer<UnixDatagramTransport, H>;

/// A TCP server with a thread per request.
///
/// Python: `socketserver.ThreadingTCPServer` (`class ThreadingTCPServer(ThreadingMixIn,
/// TCPServer)`).
#[doc(alias = "socketserver.ThreadingTCPServer")]
pub type ThreadingTcpServer<H> = BaseServer<TcpTransport, Threading<H>>;

/// A UDP server with a thread per request.
///
/// Python: `socketserver.ThreadingUDPServer`.
#[doc(alias = "socketserver.ThreadingUDPServer")]
pub type ThreadingUdpServer<H> = BaseServer<UdpTransport, Threading<H>>;

/// A Unix domain stream server with a thread per request.
///
/// Python: `socketserver.ThreadingUnixStreamServer`.
#[doc(alias = "socketserver.ThreadingUnixStreamServer")]
pub type ThreadingUnixStreamServer<H> = BaseServer<UnixStreamTransport, Threading<H>>;

/// A Unix domain datagram server with a thread per request.
///
/// Python: `socketserver.ThreadingUnixDatagramServer`.
#[doc(alias = "socketserver.ThreadingUnixDatagramServer")]
pub type ThreadingUnixDatagramServer<H> = BaseServer<UnixDatagramTransport, Threading<H>>;

/// A TCP server with a process per request.
///
/// Python: `socketserver.ForkingTCPServer`.
#[doc(alias = "socketserver.ForkingTCPServer")]
pub type ForkingTcpServer<H> = BaseServer<TcpTransport, Forking<H>>;

/// A UDP server with a process per request.
///
/// Python: `socketserver.ForkingUDPServer`.
#[doc(alias = "socketserver.ForkingUDPServer")]
pub type ForkingUdpServer<H> = BaseServer<UdpTransport, Forking<H>>;

/// A Unix domain stream server with a process per request.
///
/// Python: `socketserver.ForkingUnixStreamServer` (added in 3.12; 3.11's tests build it by
/// hand as `ForkingMixIn` + `UnixStreamServer`).
#[doc(alias = "socketserver.ForkingUnixStreamServer")]
pub type ForkingUnixStreamServer<H> = BaseServer<UnixStreamTransport, Forking<H>>;

/// A Unix domain datagram server with a process per request.
///
/// Python: `socketserver.ForkingUnixDatagramServer` (added in 3.12; 3.11's tests build it
/// by hand as `ForkingMixIn` + `UnixDatagramServer`).
#[doc(alias = "socketserver.ForkingUnixDatagramServer")]
pub type ForkingUnixDatagramServer<H> = BaseServer<UnixDatagramTransport, Forking<H>>;
