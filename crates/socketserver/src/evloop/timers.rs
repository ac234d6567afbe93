//! Connection deadlines: a min-heap of `(instant, slot, connection id)` with lazy deletion.
//!
//! A connection records its current deadline and the earliest entry it has in the heap
//! (`armed`). Moving a deadline later pushes nothing: when the old entry pops, the loop sees
//! the later deadline and re-arms. Moving it earlier pushes a new entry. So a keep-alive
//! connection serving thousands of requests keeps one or two entries, not thousands.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One heap entry.
pub(crate) type Entry = (Instant, usize, u64);

/// The deadline heap of one loop.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
}

/// A connection's side of the bookkeeping.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Deadline {
    /// When the connection must be looked at.
    pub(crate) at: Option<Instant>,
    /// The earliest heap entry this connection still has (maybe already popped if it is
    /// `<= now`).
    pub(crate) armed: Option<Instant>,
}

impl Timers {
    /// Sets `d.at = at` and pushes an entry when none earlier is pending.
    pub(crate) fn set(
        &mut self,
        d: &mut Deadline,
        at: Option<Instant>,
        slot: usize,
        id: u64,
        now: Instant,
    ) {
        d.at = at;
        let Some(at) = at else { return };
        let need = match d.armed {
            None => true,
            Some(armed) => armed <= now || at < armed,
        };
        if need {
            self.heap.push(Reverse((at, slot, id)));
            d.armed = Some(at);
        }
    }

    /// The nearest pending entry.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Pops one entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.heap.peek() {
            Some(Reverse((t, _, _))) if *t <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// A popped entry for a live connection: true when its deadline passed; otherwise
    /// re-arms for the later deadline.
    pub(crate) fn on_pop(
        &mut self,
        d: &mut Deadline,
        popped: Instant,
        slot: usize,
        id: u64,
        now: Instant,
    ) -> bool {
        if d.armed == Some(popped) {
            d.armed = None;
        }
        match d.at {
            Some(at) if at <= now => true,
            Some(at) => {
                if d.armed.is_none_or(|a| a <= now) {
                    self.heap.push(Reverse((at, slot, id)));
                    d.armed = Some(at);
                }
                false
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn later_deadlines_push_nothing_and_rearm_on_pop() {
        let mut t = Timers::default();
        let mut d = Deadline::default();
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        t.set(&mut d, Some(t0 + s), 0, 1, t0);
        for i in 2..100 {
            t.set(&mut d, Some(t0 + s * i), 0, 1, t0);
        }
        assert_eq!(t.len(), 1);
        let (at, slot, id) = t.pop_due(t0 + s).unwrap();
        assert!(!t.on_pop(&mut d, at, slot, id, t0 + s));
        assert_eq!(t.next(), Some(t0 + s * 99));
        let (at, slot, id) = t.pop_due(t0 + s * 99).unwrap();
        assert!(t.on_pop(&mut d, at, slot, id, t0 + s * 99));
    }

    #[test]
    fn earlier_deadline_pushes() {
        let mut t = Timers::default();
        let mut d = Deadline::default();
        let t0 = Instant::now();
        t.set(&mut d, Some(t0 + Duration::from_secs(60)), 3, 9, t0);
        t.set(&mut d, Some(t0 + Duration::from_secs(1)), 3, 9, t0);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert!(t.pop_due(t0).is_none());
    }
}
