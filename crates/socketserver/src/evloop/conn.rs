//! One connection: its socket, its protocol session, its buffers and deadlines, and the
//! read → frame → serve → write cycle that runs with the loop lock released.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use super::buf::{Fill, InBuf, OutBuf};
use super::timers::Deadline;
use super::{Abort, EventLoopConfig, Frame, Protocol, ServeCx};
use crate::{Address, Error, HandlerCx, ServerInfo, Sink};

/// Reads per turn before a connection yields to the others of its loop.
const READ_BUDGET: usize = 16;

/// Output bytes past which a connection sends before serving its next pipelined request.
const PIPELINED_OUTPUT: usize = 64 * 1024;

/// `Interim` answers in a row before a connection is judged broken.
const MAX_INTERIMS: usize = 8;

/// How long a graceful shutdown keeps a connection that was accepted but has not sent its
/// first request yet: its client connected just before (or was queued in the backlog when)
/// the shutdown began, and its request is on the way.
pub(crate) const FIRST_REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// An accepted socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
    /// A TLS session over TCP; its handshake runs as bytes arrive, under the request
    /// deadline.
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::NonBlockingTls<mio::net::TcpStream>>),
}

impl Stream {
    /// Encrypted bytes wait for the socket (the response is not all sent yet).
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.wants_write(),
            _ => false,
        }
    }

    /// When the TLS handshake began, while it is not finished.
    pub(crate) fn handshake_started(&self) -> Option<Instant> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.handshake_started(),
            _ => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }
    /// Plain sockets have nothing to flush; a TLS session pushes its queued records, or says
    /// `WouldBlock`.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket().as_fd(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket_mut().register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket_mut().reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket_mut().deregister(r),
        }
    }
}

/// Why a connection is being processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// A returned connection, a requeue, or shutdown: read (until WouldBlock), frame,
    /// serve, write.
    Io,
    /// A readiness event without a hang-up or error: like `Io`, but a short read may end
    /// the reading (the socket was drained; a later arrival is a new edge).
    Edge,
    /// Its deadline passed.
    Expire,
    /// The shutdown grace period ended.
    Kill,
}

/// What the loop does with a connection after processing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keep it; `requeue`: process it again soon (it stopped with work left).
    Keep { requeue: bool },
    /// Keep it, and write its pending output once the other connections of the batch are
    /// served ([`Conn::flush_deferred`]).
    Flush,
    /// Close it.
    Close,
}

/// What a connection needs from its server while it is processed.
pub(crate) struct Env<'a, P> {
    pub(crate) protocol: &'a P,
    pub(crate) config: &'a EventLoopConfig,
    pub(crate) info: &'a ServerInfo,
    /// Announces a blocking call (steals the loop for a standby thread).
    pub(crate) hint: &'a (dyn Fn() + Sync),
    /// True while this thread still owns the loop.
    pub(crate) owner: &'a dyn Fn() -> bool,
    /// Set when the server starts shutting down.
    pub(crate) shutdown: &'a AtomicBool,
    /// When a shutdown's grace period ends.
    pub(crate) force_at: &'a Mutex<Option<Instant>>,
    /// When the poll that reported this connection ready returned.
    pub(crate) polled_at: Instant,
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn<S> {
    pub(crate) stream: Stream,
    pub(crate) addr: Address,
    pub(crate) id: u64,
    pub(crate) session: S,
    pub(crate) input: InBuf,
    pub(crate) output: OutBuf,
    pub(crate) deadline: Deadline,
    /// When the first byte of the buffered partial request arrived.
    request_since: Option<Instant>,
    /// When the pending output last made progress (or first blocked).
    write_since: Option<Instant>,
    eof: bool,
    close_after_flush: bool,
    /// When it was accepted.
    accepted_at: Instant,
    /// Whether a request was served on it.
    served_any: bool,
    /// Counted in its loop's idle connections (see `LoopState::put`).
    pub(crate) idle_counted: bool,
}

fn caught<R>(what: &str, addr: &Address, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            let error = Error::from_panic(&*payload);
            tracing::error!(client = %addr, %error, "protocol {what} panicked; closing the connection");
            None
        }
    }
}

impl<S: Default> Conn<S> {
    pub(crate) fn new(stream: Stream, addr: Address, id: u64, accepted_at: Instant) -> Self {
        Conn {
            stream,
            addr,
            id,
            session: S::default(),
            input: InBuf::default(),
            output: OutBuf::default(),
            deadline: Deadline::default(),
            request_since: None,
            write_since: None,
            eof: false,
            close_after_flush: false,
            accepted_at,
            served_any: false,
            idle_counted: false,
        }
    }
}

impl<S> Conn<S> {
    /// No partial request and no pending output.
    pub(crate) fn is_idle(&self) -> bool {
        self.input.is_empty() && self.output.is_empty() && !self.stream.wants_write()
    }

    /// During a graceful shutdown: until when an idle connection is kept because its first
    /// request may still be on the way (`None`: close it now).
    pub(crate) fn first_request_grace(&self, now: Instant) -> Option<Instant> {
        let until = self.accepted_at + FIRST_REQUEST_GRACE;
        (!self.served_any && !self.eof && now < until).then_some(until)
    }

    /// When the loop must look at this connection again.
    pub(crate) fn next_deadline(&self, config: &EventLoopConfig, now: Instant) -> Option<Instant> {
        if let Some(started) = self.stream.handshake_started() {
            // A TLS handshake lives under the request deadline, from the accept.
            return Some(started + config.request_timeout);
        }
        if !self.output.is_empty() || self.stream.wants_write() {
            Some(self.write_since.unwrap_or(now) + config.write_timeout)
        } else if !self.input.is_empty() {
            Some(self.request_since.unwrap_or(now) + config.request_timeout)
        } else {
            config.idle_timeout.map(|t| now + t)
        }
    }

    /// Processes the connection for `work`; the loop lock is not held.
    pub(crate) fn process<P>(&mut self, env: &Env<'_, P>, work: Work) -> Outcome
    where
        P: Protocol<Session = S>,
    {
        match work {
            Work::Io => self.io(env, false),
            Work::Edge => self.io(env, true),
            Work::Expire => self.expire(env),
            Work::Kill => {
                self.abort(env, Abort::Shutdown);
                Outcome::Close
            }
        }
    }

    fn expire<P: Protocol<Session = S>>(&mut self, env: &Env<'_, P>) -> Outcome {
        let now = Instant::now();
        if self.deadline.at.is_none_or(|at| at > now) {
            return Outcome::Keep { requeue: false };
        }
        if self.stream.handshake_started().is_some() {
            tracing::debug!(client = %self.addr, "tls handshake timeout");
        } else if !self.output.is_empty() {
            tracing::debug!(client = %self.addr, "write timeout");
        } else if !self.input.is_empty() {
            tracing::debug!(client = %self.addr, buffered = self.input.len(), "request timeout");
            self.abort(env, Abort::RequestTimeout);
        } else {
            tracing::trace!(client = %self.addr, "idle timeout");
        }
        Outcome::Close
    }

    /// Sends the protocol's last words for a partial request, best effort, once.
    fn abort<P: Protocol<Session = S>>(&mut self, env: &Env<'_, P>, why: Abort) {
        if self.input.is_empty() || !self.output.is_empty() {
            return;
        }
        let (session, input) = (&mut self.session, self.input.bytes());
        if let Some(bytes) = caught("abort", &self.addr, || {
            env.protocol.abort(session, input, why)
        }) {
            self.output.vec().extend_from_slice(&bytes);
            let _ = self.output.flush(&mut self.stream);
        }
        self.input.clear();
    }

    fn io<P: Protocol<Session = S>>(&mut self, env: &Env<'_, P>, edge: bool) -> Outcome {
        let mut interims = 0;
        let mut reads = 0;
        let mut drained = false;
        loop {
            if !(env.owner)() {
                // The loop was handed off while this thread served: give the connection back
                // (its new owner sends what is pending).
                return Outcome::Keep { requeue: true };
            }
            // Serve what the buffer holds first: pipelined answers go out in one write, once
            // no whole request is left (or enough output waits).
            let servable = !self.input.is_empty() && !self.close_after_flush;
            let held = servable && self.output.pending() >= PIPELINED_OUTPUT;
            if servable && !held {
                let (session, input) = (&mut self.session, self.input.bytes());
                let Some(frame) =
                    caught("frame", &self.addr, || env.protocol.frame(session, input))
                else {
                    return Outcome::Close;
                };
                match frame {
                    Frame::Complete(n) if n > 0 && n <= self.input.len() => {
                        interims = 0;
                        if !self.serve(env, n) {
                            self.close_after_flush = true;
                            self.input.clear();
                        }
                        continue;
                    }
                    Frame::Complete(n) => {
                        tracing::error!(client = %self.addr, len = n, buffered = self.input.len(),
                            "protocol framed an impossible request length; closing the connection");
                        return Outcome::Close;
                    }
                    Frame::Interim(bytes) => {
                        interims += 1;
                        if interims > MAX_INTERIMS {
                            tracing::error!(client = %self.addr, "protocol answers Interim without progress; closing the connection");
                            return Outcome::Close;
                        }
                        self.output.vec().extend_from_slice(&bytes);
                        continue;
                    }
                    Frame::Reject(bytes) => {
                        self.output.vec().extend_from_slice(&bytes);
                        self.close_after_flush = true;
                        self.input.clear();
                        continue;
                    }
                    Frame::Incomplete => {
                        if self.input.len() > env.config.max_request_bytes {
                            tracing::debug!(client = %self.addr, buffered = self.input.len(), "request too large");
                            // The answers to the requests before it go first.
                            if self.send() == Some(true) {
                                self.abort(env, Abort::TooLarge);
                            }
                            return Outcome::Close;
                        }
                    }
                }
            }
            // The socket is drained and every request in it answered: the answer waits for
            // the end of the batch, when the batch's answers go out one after another.
            if drained
                && self.input.is_empty()
                && !self.output.is_empty()
                && !self.close_after_flush
            {
                return Outcome::Flush;
            }
            if !self.output.is_empty() || self.stream.wants_write() {
                match self.send() {
                    Some(true) => {}
                    // Backpressure: read nothing more until the client makes room.
                    Some(false) => return Outcome::Keep { requeue: false },
                    None => return Outcome::Close,
                }
            }
            if self.close_after_flush {
                return Outcome::Close;
            }
            if held {
                // The output made room for more answers.
                continue;
            }
            if self.eof {
                return Outcome::Close;
            }
            if drained {
                // The last read emptied the socket: reading again would only say WouldBlock
                // (one syscall per request saved); new bytes bring a new edge.
                return Outcome::Keep { requeue: false };
            }
            if reads == READ_BUDGET {
                return Outcome::Keep { requeue: true };
            }
            reads += 1;
            let was_empty = self.input.is_empty();
            match self
                .input
                .fill(&mut self.stream, env.config.max_request_bytes)
            {
                Ok(fill @ (Fill::Bytes | Fill::Drained)) => {
                    interims = 0;
                    drained = edge && matches!(fill, Fill::Drained);
                    if was_empty {
                        // The bytes were there when the poll returned.
                        self.request_since = Some(env.polled_at);
                    }
                }
                Ok(Fill::Eof) => self.eof = true,
                Ok(Fill::WouldBlock) => return Outcome::Keep { requeue: false },
                Err(e) => {
                    tracing::debug!(client = %self.addr, error = %e, "read failed");
                    return Outcome::Close;
                }
            }
        }
    }

    /// Writes the output an [`Outcome::Flush`] left pending.
    pub(crate) fn flush_deferred(&mut self) -> Outcome {
        match self.send() {
            Some(true) if self.close_after_flush => Outcome::Close,
            Some(_) => Outcome::Keep { requeue: false },
            None => Outcome::Close,
        }
    }

    /// Writes pending output as far as the socket takes it: `Some(true)` when all of it was
    /// sent, `Some(false)` when the socket is full (the write deadline runs from the last
    /// progress), `None` when the write failed.
    fn send(&mut self) -> Option<bool> {
        match self.output.flush(&mut self.stream) {
            Ok((true, _)) => {
                self.write_since = None;
                Some(true)
            }
            Ok((false, sent)) => {
                if sent > 0 || self.write_since.is_none() {
                    self.write_since = Some(Instant::now());
                }
                Some(false)
            }
            Err(e) => {
                tracing::debug!(client = %self.addr, error = %e, "write failed");
                None
            }
        }
    }

    /// Serves the framed request `input[..n]`; false: close after the response.
    fn serve<P: Protocol<Session = S>>(&mut self, env: &Env<'_, P>, n: usize) -> bool {
        let received = self.request_since.unwrap_or(env.polled_at);
        self.output.vec();
        let before = self.output.data.len();
        let sink = ConnSink {
            state: Mutex::new(SinkState {
                stream: &mut self.stream,
                pos: &mut self.output.pos,
                cleared: false,
                failed: false,
            }),
            hint: env.hint,
            write_timeout: env.config.write_timeout,
            shutdown: env.shutdown,
            force_at: env.force_at,
        };
        let cx = ServeCx::new(
            HandlerCx::new(&self.addr, env.info)
                .with_blocking_hint(env.hint)
                .with_received(received)
                .with_polled(env.polled_at)
                .with_sink(&sink),
        )
        .closing_when(env.shutdown);
        let out = &mut self.output.data;
        let (session, request) = (&mut self.session, &self.input.bytes()[..n]);
        let served = caught("serve", &self.addr, || {
            env.protocol.serve(session, request, out, &cx)
        });
        let SinkState {
            cleared, failed, ..
        } = sink
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if failed {
            // The response went out in part and the connection cannot carry the rest.
            tracing::debug!(client = %self.addr, "streamed write failed; closing the connection");
            self.output.data.clear();
            self.output.pos = 0;
            return false;
        }
        let Some(served) = served else {
            // Nothing of a panicked response is sent but what the sink sent already (the
            // buffer then holds this response's bytes only); earlier ones still are.
            let keep = if cleared { 0 } else { before };
            self.output.data.truncate(keep.max(self.output.pos));
            return false;
        };
        self.input.consume(n);
        self.served_any = true;
        self.request_since = if self.input.is_empty() {
            None
        } else {
            Some(Instant::now())
        };
        served.keep_alive && !env.shutdown.load(Ordering::SeqCst)
    }
}

/// The [`Sink`] of a connection being served: sends the unsent part of the response
/// buffer from the serving thread, waiting with `poll(2)` when the socket is full (after
/// announcing the wait, so the loop goes on under a standby thread).
///
/// A send that the socket takes at once blocks nothing and hands nothing off: a body of
/// unknown length sent in one piece costs one write more than a buffered one, not a
/// thread. A handler that then blocks between its sends is caught by the watchdog.
struct ConnSink<'a> {
    state: Mutex<SinkState<'a>>,
    /// Announces a blocking wait (hands the loop to a standby thread).
    hint: &'a (dyn Fn() + Sync),
    write_timeout: Duration,
    /// Set when the server starts shutting down.
    shutdown: &'a AtomicBool,
    /// When a shutdown's grace period ends: a response still streaming is cut then.
    force_at: &'a Mutex<Option<Instant>>,
}

impl ConnSink<'_> {
    /// The server is shutting down and its grace period is over.
    fn past_grace(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            && self
                .force_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some_and(|at| Instant::now() >= at)
    }
}

/// What a [`ConnSink`] works on: the socket and how much of the buffer was sent (the
/// connection's `OutBuf::pos`).
struct SinkState<'a> {
    stream: &'a mut Stream,
    pos: &'a mut usize,
    /// The buffer was emptied by a send: bytes written before it were all sent.
    cleared: bool,
    /// A send failed: nothing more of the response can go out.
    failed: bool,
}

impl Sink for ConnSink<'_> {
    fn send(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = if st.failed {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "an earlier send on this connection failed",
            ))
        } else if self.past_grace() {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server shut down: the response is cut",
            ))
        } else {
            st.send(out, self.hint, self.write_timeout)
        };
        out.clear();
        *st.pos = 0;
        st.cleared = true;
        st.failed |= sent.is_err();
        sent
    }

    fn send_file(&self, out: &mut Vec<u8>, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        self.send(out)?;
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let plain = matches!(&*st.stream, Stream::Tcp(_) | Stream::Unix(_));
        if !plain {
            // TLS: the bytes must go through the session; read and send them.
            drop(st);
            return crate::handler::send_file_in_blocks(self, out, file, offset, len);
        }
        let result = if self.past_grace() {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server shut down: the response is cut",
            ))
        } else {
            st.send_file(file, offset, len, self.hint, self.write_timeout)
        };
        st.failed |= result.is_err();
        result
    }
}

impl SinkState<'_> {
    /// Writes `out[pos..]` and flushes (a TLS session's records), waiting for room at most
    /// `timeout` for each progress; `hint` announces each wait.
    fn send(&mut self, out: &[u8], hint: &dyn Fn(), timeout: Duration) -> io::Result<()> {
        // Read the clock only when the socket is full, and again after progress.
        let mut deadline = None;
        while *self.pos < out.len() {
            match self.stream.write(&out[*self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *self.pos += n;
                    deadline = None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let at = *deadline.get_or_insert_with(|| Instant::now() + timeout);
                    hint();
                    wait_writable(&*self.stream, at)?;
                }
                Err(e) => return Err(e),
            }
        }
        let at = Instant::now() + timeout;
        loop {
            match self.stream.flush() {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    hint();
                    wait_writable(&*self.stream, at)?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl SinkState<'_> {
    /// `sendfile(2)` from `file` to the (plain) socket, waiting for room as
    /// [`send`](Self::send) does; stops early when the file ends.
    fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        len: u64,
        hint: &dyn Fn(),
        timeout: Duration,
    ) -> io::Result<u64> {
        let mut at = offset;
        let mut deadline = None;
        while at - offset < len {
            let want = usize::try_from(len - (at - offset))
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            match rustix::fs::sendfile(&*self.stream, file, Some(&mut at), want) {
                Ok(0) => break,
                Ok(_) => deadline = None,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    let until = *deadline.get_or_insert_with(|| Instant::now() + timeout);
                    hint();
                    wait_writable(&*self.stream, until)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(at - offset)
    }
}

/// Waits until `fd` takes more bytes (or reports an error, which the next write returns);
/// [`io::ErrorKind::TimedOut`] at `deadline`.
fn wait_writable(fd: &impl AsFd, deadline: Instant) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took nothing for the write timeout",
            ));
        }
        // A timeout too long for a timespec waits without one (the deadline is then moot).
        let timeout = Timespec::try_from(left).ok();
        let mut fds = [PollFd::new(fd, PollFlags::OUT)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
