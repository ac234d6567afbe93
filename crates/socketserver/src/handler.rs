//! Request handlers: `BaseRequestHandler` and `StreamRequestHandler`.

use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

use crate::{Address, Connection, Result, ServerInfo};

/// What a handler is told about its request besides the connection itself.
///
/// Python: the `client_address` and `server` attributes of `BaseRequestHandler` (the
/// back-pointer to the server becomes this read-only context).
#[derive(Clone, Copy)]
pub struct HandlerCx<'a> {
    /// Python: `BaseRequestHandler.client_address`.
    pub client_address: &'a Address,
    /// Python: `BaseRequestHandler.server` (its read-only facts).
    pub server: &'a ServerInfo,
    pub(crate) blocking: Option<&'a (dyn Fn() + Sync)>,
    received: Option<Instant>,
    polled: Option<Instant>,
    sink: Option<&'a dyn Sink>,
}

/// Sends what a handler has written so far while it is still serving: the event loops'
/// write path, lent to a handler through [`HandlerCx::sink`].
///
/// Under the event loops a protocol writes its response into a buffer that the loop sends
/// once the protocol returns; a response whose length is not known in advance (a stream of
/// events, a long download) goes out part by part through a sink instead.
///
/// Python: no equivalent (a Python handler writes to its socket, which sends at once).
pub trait Sink: Sync {
    /// Sends all of `out` (the buffer the protocol was given to write its response into;
    /// what the loop already sent of it is not sent again), waiting for the client to take
    /// it, then empties `out`.
    ///
    /// When the client is slow to take it, the wait is announced as a blocking call (see
    /// [`HandlerCx::blocking`]): the event loop goes on under another thread meanwhile.
    /// Waits at most the loop's write timeout for each progress (then fails with
    /// [`io::ErrorKind::TimedOut`]).
    ///
    /// # Errors
    ///
    /// The client went away, took nothing for the write timeout, or the server is shutting
    /// down and its grace period is over ([`io::ErrorKind::ConnectionAborted`]: an endless
    /// response ends then). `out` is emptied all the same: the connection can carry no more
    /// of the response, it is closed when the protocol returns, and later sends fail at
    /// once.
    fn send(&self, out: &mut Vec<u8>) -> io::Result<()>;

    /// Sends `out` (as [`send`](Self::send)), then `len` bytes of `file` from `offset`
    /// (the file's own position is left alone); returns how many of those bytes went out,
    /// fewer than `len` only when the file ended first.
    ///
    /// The default reads the file in blocks and sends each; the event loops' sink uses
    /// `sendfile(2)` on a plain socket instead, so the bytes never enter the process.
    ///
    /// Python: `socket.sendfile` (which `wsgiref.handlers.BaseHandler.sendfile` is the
    /// hook for).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and the file's read errors.
    #[doc(alias = "socket.socket.sendfile")]
    fn send_file(
        &self,
        out: &mut Vec<u8>,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> io::Result<u64> {
        self.send(out)?;
        send_file_in_blocks(self, out, file, offset, len)
    }
}

/// The bytes of `file` from `offset` (at most `len`) read in blocks and sent through
/// `sink` one block at a time: [`Sink::send_file`] where `sendfile(2)` cannot serve (the
/// default, and a TLS session). Returns how many were sent.
pub(crate) fn send_file_in_blocks<S: Sink + ?Sized>(
    sink: &S,
    out: &mut Vec<u8>,
    file: &std::fs::File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut sent = 0;
    let mut block = vec![0; 64 << 10];
    while sent < len {
        let want = usize::try_from(len - sent).map_or(block.len(), |n| n.min(block.len()));
        let n = match file.read_at(&mut block[..want], offset + sent) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.extend_from_slice(&block[..n]);
        sink.send(out)?;
        sent += n as u64;
    }
    Ok(sent)
}

impl std::fmt::Debug for HandlerCx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerCx")
            .field("client_address", &self.client_address)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl<'a> HandlerCx<'a> {
    /// A context for `client_address` on `server`.
    ///
    /// Python: no equivalent (the handler's constructor arguments).
    pub fn new(client_address: &'a Address, server: &'a ServerInfo) -> Self {
        HandlerCx {
            client_address,
            server,
            blocking: None,
            received: None,
            polled: None,
            sink: None,
        }
    }

    /// A context whose [`sink`](Self::sink) is `sink` (set by the event loops).
    ///
    /// Python: no equivalent.
    pub fn with_sink(mut self, sink: &'a dyn Sink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The way to send the response written so far while still serving, when the server
    /// buffers responses (the event loops); `None` where a handler writes to its socket
    /// itself.
    ///
    /// Python: no equivalent.
    pub fn sink(&self) -> Option<&'a dyn Sink> {
        self.sink
    }

    /// A context that says when the request began to arrive (set by the event loops,
    /// which frame a request before its handler runs).
    ///
    /// Python: no equivalent.
    pub fn with_received(mut self, at: Instant) -> Self {
        self.received = Some(at);
        self
    }

    /// When the request began to arrive, when the server knows (the event loops do; the
    /// blocking servers leave it to the handler, which reads the request itself).
    ///
    /// Python: no equivalent.
    pub fn received(&self) -> Option<Instant> {
        self.received
    }

    /// A context that says when the event loop last read the clock, just before serving:
    /// the time its poll for this batch of connections returned.
    ///
    /// Python: no equivalent.
    pub fn with_polled(mut self, at: Instant) -> Self {
        self.polled = Some(at);
        self
    }

    /// A recent time the server read for free (see [`with_polled`](Self::with_polled)), at
    /// most the batch's processing time old: for handlers that want "about now" without a
    /// clock read of their own (the `Date` header). `None` outside the event loops.
    ///
    /// Python: no equivalent.
    pub fn polled(&self) -> Option<Instant> {
        self.polled
    }

    /// A context whose [`blocking`](Self::blocking) announcements call `hint`: used by
    /// event-loop strategies to hand their loop to another thread.
    pub fn with_blocking_hint(mut self, hint: &'a (dyn Fn() + Sync)) -> Self {
        self.blocking = Some(hint);
        self
    }

    /// Announces that `f` may block (a database call, a sleep, a slow upstream) and runs it.
    ///
    /// Under the faithful, thread-per-server model this just runs `f`. Under an event-loop
    /// strategy, the loop is first handed to a standby thread so other connections keep being
    /// served while this handler blocks. Python has no equivalent: its handlers always own a
    /// thread.
    pub fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        if let Some(hint) = self.blocking {
            hint();
        }
        f()
    }
}

/// A per-request handler: a fresh value per request, like Python's handler instance.
///
/// Python: `socketserver.BaseRequestHandler`. Its `__init__` (`setup()`, then `handle()`,
/// then `finish()` even when `handle()` raised) is [`crate::default::finish_request`].
#[doc(alias = "socketserver.BaseRequestHandler")]
pub trait RequestHandler<C> {
    /// Called before [`handle`](Self::handle); when it fails, neither `handle` nor `finish` run.
    ///
    /// Python: `socketserver.BaseRequestHandler.setup`.
    #[doc(alias = "socketserver.BaseRequestHandler.setup")]
    fn setup(&mut self, _request: &mut C, _cx: &HandlerCx<'_>) -> Result<()> {
        Ok(())
    }

    /// Services the request.
    ///
    /// Python: `socketserver.BaseRequestHandler.handle`.
    #[doc(alias = "socketserver.BaseRequestHandler.handle")]
    fn handle(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> Result<()>;

    /// Called after [`handle`](Self::handle), also when it failed.
    ///
    /// Python: `socketserver.BaseRequestHandler.finish`.
    #[doc(alias = "socketserver.BaseRequestHandler.finish")]
    fn finish(&mut self, _request: &mut C, _cx: &HandlerCx<'_>) -> Result<()> {
        Ok(())
    }
}

impl<C, H: RequestHandler<C> + ?Sized> RequestHandler<C> for Box<H> {
    fn setup(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).setup(request, cx)
    }
    fn handle(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).handle(request, cx)
    }
    fn finish(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).finish(request, cx)
    }
}

/// A buffered byte stream with Python's file methods: the `rfile` and `wfile` of a stream
/// handler behind one object.
///
/// Read with the [`BufRead`] methods (`rfile`), write with the [`Write`] methods (`wfile`).
/// Blanket-implemented for every `BufRead + Write` type.
///
/// Python: `StreamRequestHandler.rfile` and `StreamRequestHandler.wfile`.
#[doc(alias = "rfile")]
#[doc(alias = "wfile")]
pub trait RwStream: BufRead + Write {
    /// Reads one line, `\n` included, of at most `limit` bytes; an empty vector at the end of
    /// the stream.
    ///
    /// Python: `rfile.readline(limit)`.
    #[doc(alias = "rfile.readline")]
    fn readline(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.take(limit as u64).read_until(b'\n', &mut line)?;
        Ok(line)
    }
}

impl<T: BufRead + Write + ?Sized> RwStream for T {}

/// A stream over a connection with a read buffer (`rbufsize`) and a write buffer
/// (`wbufsize`; 0 writes through at once, as Python's unbuffered `_SocketWriter`).
///
/// Python: the two `socket.makefile` objects of `StreamRequestHandler.setup`.
#[doc(alias = "socket.makefile")]
#[derive(Debug)]
pub struct BufStream<S> {
    inner: S,
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    wbuf: Vec<u8>,
    wbufsize: usize,
}

impl<S> BufStream<S> {
    /// A stream reading through a buffer of `rbufsize` bytes and writing through one of
    /// `wbufsize` bytes (0: unbuffered).
    pub fn new(inner: S, rbufsize: usize, wbufsize: usize) -> Self {
        BufStream {
            inner,
            rbuf: vec![0; rbufsize.max(1)].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            wbuf: Vec::new(),
            wbufsize,
        }
    }

    /// The underlying connection.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The underlying connection, mutably (reads through it bypass the buffer).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Bytes read from the connection but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..self.rlen]
    }

    /// Returns the connection, dropping unsent buffered output.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Read> Read for BufStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rpos == self.rlen && buf.len() >= self.rbuf.len() {
            return self.inner.read(buf);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<S: Read> BufRead for BufStream<S> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.rpos == self.rlen {
            self.rpos = 0;
            self.rlen = 0;
            let n = loop {
                match self.inner.read(&mut self.rbuf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            self.rlen = n;
        }
        Ok(&self.rbuf[self.rpos..self.rlen])
    }

    fn consume(&mut self, amt: usize) {
        self.rpos = (self.rpos + amt).min(self.rlen);
    }
}

impl<S: Write> Write for BufStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.wbufsize == 0 {
            // Python's _SocketWriter: sendall, so a write is never partial.
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        if self.wbuf.len() + buf.len() > self.wbufsize {
            self.flush_buf()?;
        }
        if buf.len() >= self.wbufsize {
            self.inner.write_all(buf)?;
        } else {
            self.wbuf.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.inner.flush()
    }
}

impl<S: Write> BufStream<S> {
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let r = self.inner.write_all(&self.wbuf);
            self.wbuf.clear();
            r?;
        }
        Ok(())
    }
}

/// Class attributes of `StreamRequestHandler`.
///
/// Python: `socketserver.StreamRequestHandler.rbufsize`, `wbufsize`, `timeout`,
/// `disable_nagle_algorithm`.
#[doc(alias = "socketserver.StreamRequestHandler.rbufsize")]
#[doc(alias = "socketserver.StreamRequestHandler.wbufsize")]
#[doc(alias = "socketserver.StreamRequestHandler.timeout")]
#[doc(alias = "socketserver.StreamRequestHandler.disable_nagle_algorithm")]
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Read buffer size (Python's `-1`, "default buffering", is 8192 bytes).
    pub rbufsize: usize,
    /// Write buffer size; 0 (Python's default) writes through at once.
    pub wbufsize: usize,
    /// Socket timeout for reads and writes (Python's default: `None`).
    pub timeout: Option<Duration>,
    /// Set `TCP_NODELAY` (Python's default: `False`).
    pub disable_nagle_algorithm: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            rbufsize: 8192,
            wbufsize: 0,
            timeout: None,
            disable_nagle_algorithm: false,
        }
    }
}

/// The overridable part of a stream handler: it sees the connection as one buffered
/// [`RwStream`] (Python's `rfile` and `wfile`).
///
/// Object safe: the same handler runs over a socket (faithful face) and over a buffered,
/// already-framed request (event-loop face).
///
/// Python: a `socketserver.StreamRequestHandler` subclass's `setup`/`handle`/`finish`.
#[doc(alias = "socketserver.StreamRequestHandler")]
pub trait StreamHandler {
    /// Python: the subclass part of `StreamRequestHandler.setup`.
    fn setup(&mut self, _stream: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        Ok(())
    }
    /// Python: `StreamRequestHandler.handle` (reads `self.rfile`, writes `self.wfile`).
    fn handle(&mut self, stream: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()>;
    /// Python: the subclass part of `StreamRequestHandler.finish`.
    fn finish(&mut self, _stream: &mut dyn RwStream, _cx: &HandlerCx<'_>) -> Result<()> {
        Ok(())
    }
}

impl<H: StreamHandler + ?Sized> StreamHandler for Box<H> {
    fn setup(&mut self, stream: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).setup(stream, cx)
    }
    fn handle(&mut self, stream: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).handle(stream, cx)
    }
    fn finish(&mut self, stream: &mut dyn RwStream, cx: &HandlerCx<'_>) -> Result<()> {
        (**self).finish(stream, cx)
    }
}

/// Adapts a [`StreamHandler`] to a [`RequestHandler`]: applies the socket options, wraps the
/// connection in a [`BufStream`] and flushes it at the end.
///
/// Python: `socketserver.StreamRequestHandler` (its `setup` and `finish`).
#[derive(Debug)]
pub struct StreamRequestHandler<H> {
    /// The wrapped handler.
    pub handler: H,
    /// Buffer sizes, timeout and Nagle setting.
    pub config: StreamConfig,
}

impl<H> StreamRequestHandler<H> {
    /// Wraps `handler` with Python's default class attributes.
    pub fn new(handler: H) -> Self {
        StreamRequestHandler {
            handler,
            config: StreamConfig::default(),
        }
    }

    /// Wraps `handler` with the given class attributes.
    pub fn with_config(handler: H, config: StreamConfig) -> Self {
        StreamRequestHandler { handler, config }
    }
}

impl<C: Connection, H: StreamHandler> RequestHandler<C> for StreamRequestHandler<H> {
    /// Python: `socketserver.StreamRequestHandler.setup` (`settimeout`, `TCP_NODELAY`).
    fn setup(&mut self, request: &mut C, _cx: &HandlerCx<'_>) -> Result<()> {
        if self.config.timeout.is_some() {
            request.set_read_timeout(self.config.timeout)?;
            request.set_write_timeout(self.config.timeout)?;
        }
        if self.config.disable_nagle_algorithm {
            request.set_nodelay(true)?;
        }
        Ok(())
    }

    /// Runs the wrapped handler's setup, handle and finish over `rfile`/`wfile`, then
    /// flushes `wfile` (Python: `StreamRequestHandler.finish`; a final flush error is
    /// ignored, as Python ignores it).
    fn handle(&mut self, request: &mut C, cx: &HandlerCx<'_>) -> Result<()> {
        let mut stream = BufStream::new(request, self.config.rbufsize, self.config.wbufsize);
        self.handler.setup(&mut stream, cx)?;
        let r = self.handler.handle(&mut stream, cx);
        let f = self.handler.finish(&mut stream, cx);
        let _ = stream.flush();
        r.and(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn readline_respects_limit() {
        let mut s = BufStream::new(Cursor::new(b"abcdef\nxyz".to_vec()), 4, 0);
        assert_eq!(s.readline(3).unwrap(), b"abc");
        assert_eq!(s.readline(100).unwrap(), b"def\n");
        assert_eq!(s.readline(100).unwrap(), b"xyz");
        assert_eq!(s.readline(100).unwrap(), b"");
    }

    #[test]
    fn write_buffering() {
        let mut s = BufStream::new(Cursor::new(Vec::new()), 8, 4);
        s.write_all(b"ab").unwrap();
        assert!(s.get_ref().get_ref().is_empty());
        s.write_all(b"cdef").unwrap();
        s.flush().unwrap();
        assert_eq!(s.get_ref().get_ref(), b"abcdef");
    }
}
