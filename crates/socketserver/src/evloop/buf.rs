//! Connection buffers that cost nothing while a connection is idle.
//!
//! Input is read into a per-thread scratch buffer that a connection borrows while it is being
//! processed; if a partial request remains, the connection keeps a right-sized copy and the
//! scratch goes back to the thread. Output buffers are recycled the same way.

use std::cell::Cell;
use std::io::{self, Read};

/// Size of the per-thread read scratch buffer.
pub(crate) const SCRATCH: usize = 64 * 1024;

/// Largest output buffer kept for reuse.
const KEEP_OUT: usize = 256 * 1024;

thread_local! {
    static IN_SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static OUT_SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

fn take(slot: &'static std::thread::LocalKey<Cell<Vec<u8>>>) -> Vec<u8> {
    slot.with(Cell::take)
}

fn give(slot: &'static std::thread::LocalKey<Cell<Vec<u8>>>, v: Vec<u8>) {
    slot.with(|c| {
        let cur = c.take();
        c.set(if cur.capacity() >= v.capacity() {
            cur
        } else {
            v
        });
    });
}

/// Buffered input: `data[start..end]` are unconsumed bytes; `data` is fully initialised.
#[derive(Debug, Default)]
pub(crate) struct InBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

/// What one read brought.
pub(crate) enum Fill {
    /// New bytes were appended, filling the free space: more may be waiting.
    Bytes,
    /// New bytes were appended and the read was short: the socket had no more at that
    /// moment, so (edge-triggered) a later arrival brings a new readiness event.
    Drained,
    /// The peer closed its side.
    Eof,
    /// Nothing more now.
    WouldBlock,
}

impl InBuf {
    /// The unconsumed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drops the first `n` unconsumed bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// One read from `r` into the free space, growing up to `limit` buffered bytes (at
    /// least one byte of room is always made, so the caller sees the overflow).
    pub(crate) fn fill(&mut self, r: &mut impl Read, limit: usize) -> io::Result<Fill> {
        if self.data.is_empty() {
            self.data = take(&IN_SCRATCH);
            if self.data.len() < SCRATCH {
                self.data = vec![0; SCRATCH];
            }
        }
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let want = (self.data.len() * 2).min(limit.saturating_add(1).max(SCRATCH));
                let want = want.max(self.data.len() + 1);
                self.data.resize(want, 0);
            }
        }
        loop {
            match r.read(&mut self.data[self.end..]) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    let full = self.end + n == self.data.len();
                    self.end += n;
                    return Ok(if full { Fill::Bytes } else { Fill::Drained });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the scratch back to this thread when empty; shrinks to size when a partial
    /// request stays buffered.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            let v = std::mem::take(&mut self.data);
            if v.len() == SCRATCH {
                give(&IN_SCRATCH, v);
            }
            self.clear();
        } else if self.data.len() >= SCRATCH && self.len() * 4 < self.data.len() {
            let keep = self.bytes().to_vec();
            let big = std::mem::replace(&mut self.data, keep);
            self.start = 0;
            self.end = self.data.len();
            if big.len() == SCRATCH {
                give(&IN_SCRATCH, big);
            }
        }
    }

    /// Bytes of memory held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.data.capacity()
    }
}

/// Buffered output: `data[pos..]` is still to be sent.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    pub(crate) data: Vec<u8>,
    pub(crate) pos: usize,
}

impl OutBuf {
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    /// Bytes still to be sent.
    pub(crate) fn pending(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The vector to append to (taking this thread's spare one when empty).
    pub(crate) fn vec(&mut self) -> &mut Vec<u8> {
        if self.data.capacity() == 0 {
            self.data = take(&OUT_SCRATCH);
        }
        &mut self.data
    }

    /// Everything was sent: give the vector back to this thread.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            let mut v = std::mem::take(&mut self.data);
            self.pos = 0;
            if v.capacity() > 0 && v.capacity() <= KEEP_OUT {
                v.clear();
                give(&OUT_SCRATCH, v);
            }
        }
    }

    /// Writes as much as the socket takes: `Ok(true)` when everything was sent.
    pub(crate) fn flush(&mut self, w: &mut impl io::Write) -> io::Result<(bool, usize)> {
        let mut sent = 0;
        while self.pos < self.data.len() {
            match w.write(&self.data[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n;
                    sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((false, sent)),
                Err(e) => return Err(e),
            }
        }
        // A TLS session may still hold records the socket would not take.
        match w.flush() {
            Ok(()) => Ok((true, sent)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((false, sent)),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn partial_input_is_shrunk_and_scratch_reused() {
        let mut b = InBuf::default();
        let mut src = Cursor::new(b"abc".to_vec());
        assert!(matches!(
            b.fill(&mut src, 1 << 20).unwrap(),
            Fill::Bytes | Fill::Drained
        ));
        assert_eq!(b.bytes(), b"abc");
        b.release();
        assert_eq!(b.held(), 3, "a partial request keeps a right-sized copy");
        b.consume(3);
        b.release();
        assert_eq!(b.held(), 0, "an idle connection holds no buffer");
        assert!(matches!(b.fill(&mut src, 1 << 20).unwrap(), Fill::Eof));
    }

    #[test]
    fn grows_past_scratch_up_to_limit() {
        let mut b = InBuf::default();
        let mut src = Cursor::new(vec![7u8; SCRATCH * 2]);
        while let Fill::Bytes | Fill::Drained = b.fill(&mut src, SCRATCH + 10).unwrap() {
            if b.len() > SCRATCH + 10 {
                break;
            }
        }
        assert!(b.len() > SCRATCH + 10);
        assert!(b.held() <= 2 * SCRATCH);
    }

    #[test]
    fn output_flushes_and_releases() {
        let mut o = OutBuf::default();
        o.vec().extend_from_slice(b"hello");
        let mut sink = Vec::new();
        assert_eq!(o.flush(&mut sink).unwrap(), (true, 5));
        assert_eq!(sink, b"hello");
        o.release();
        assert_eq!(o.data.capacity(), 0);
    }
}
