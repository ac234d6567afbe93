//! The ownership word of one event loop: "a handler is running, generation N" and the one
//! CAS that hands the loop to a standby thread.
//!
//! The word is `generation << 2 | STOLEN | BUSY`:
//!
//! - the driving thread stores `busy(g)` (with a fresh `g`) before it runs user code on a
//!   connection, and afterwards tries `busy(g) → idle(g)` ([`Ownership::end`]);
//! - a thief (the handler's own [`HandlerCx::blocking`](crate::HandlerCx::blocking) hint, or
//!   the watchdog after seeing the same busy word twice) tries `busy(g) → stolen(g)`
//!   ([`Ownership::steal`]) and, when it wins, dispatches a standby thread to the loop.
//!
//! Both sides CAS from the same expected value `busy(g)`, so exactly one wins. Generations
//! only grow, and only the current driver stores a new `busy`, so a stale thief (an old
//! generation) can never succeed and a robbed driver can never get its loop back.

use std::sync::atomic::{AtomicU64, Ordering};

const BUSY: u64 = 1;
const STOLEN: u64 = 2;

/// The word while generation `g`'s user code runs and nobody stole the loop.
pub(crate) const fn busy(g: u64) -> u64 {
    (g << 2) | BUSY
}

/// The word after generation `g` ended on the thread that still owns the loop.
pub(crate) const fn idle(g: u64) -> u64 {
    g << 2
}

/// The word after the loop was taken from generation `g`'s thread.
pub(crate) const fn stolen(g: u64) -> u64 {
    (g << 2) | BUSY | STOLEN
}

/// Whether `word` is a running, not yet stolen generation (what the watchdog may steal).
pub(crate) const fn stealable(word: u64) -> Option<u64> {
    if word & (BUSY | STOLEN) == BUSY {
        Some(word >> 2)
    } else {
        None
    }
}

/// The atomic ownership word of one loop.
#[derive(Debug, Default)]
pub(crate) struct Ownership(AtomicU64);

impl Ownership {
    /// The driver (holding the loop lock) starts generation `g` of user code. Sequentially
    /// consistent: the watchdog's sleep handshake orders it before the driver's read of the
    /// watchdog's `asleep` flag.
    pub(crate) fn begin(&self, g: u64) {
        self.0.store(busy(g), Ordering::SeqCst);
    }

    /// The driver's user code of generation `g` returned: true when it still owns the loop.
    pub(crate) fn end(&self, g: u64) -> bool {
        self.0
            .compare_exchange(busy(g), idle(g), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Takes the loop from generation `g`: true when this call won (the caller must then
    /// dispatch a standby thread to the loop).
    pub(crate) fn steal(&self, g: u64) -> bool {
        self.0
            .compare_exchange(busy(g), stolen(g), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True while generation `g` runs and still owns the loop.
    pub(crate) fn owned_by(&self, g: u64) -> bool {
        self.0.load(Ordering::Acquire) == busy(g)
    }

    /// The current word (for the watchdog; sequentially consistent, see [`Self::begin`]).
    pub(crate) fn load(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests;
