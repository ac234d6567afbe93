//! One spare value per thread and kind: the buffers one request drops, the next one reuses.
//!
//! A server builds an environ, a header list and a status string per request; keeping the
//! last one's buffers (cleared, and only while they are small: each caller bounds them)
//! saves their allocations and frees. Python: no equivalent (its objects are allocated
//! by the interpreter).

use std::cell::Cell;
use std::thread::LocalKey;

/// A thread's spare slot for `T`.
pub(crate) type Slot<T> = LocalKey<Cell<Option<T>>>;

/// Takes this thread's spare, if it has one.
pub(crate) fn take<T: 'static>(slot: &'static Slot<T>) -> Option<T> {
    slot.try_with(Cell::take).ok().flatten()
}

/// Keeps `value` as this thread's spare, in place of any kept before; while the thread is
/// being torn down it is dropped instead.
pub(crate) fn keep<T: 'static>(slot: &'static Slot<T>, value: T) {
    let _ = slot.try_with(|s| s.set(Some(value)));
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SLOT: Cell<Option<Vec<u8>>> = const { Cell::new(None) };
    }

    #[test]
    fn keeps_the_last_value_until_taken() {
        std::thread::spawn(|| {
            assert_eq!(take(&SLOT), None);
            keep(&SLOT, vec![1]);
            keep(&SLOT, vec![2]);
            assert_eq!(take(&SLOT), Some(vec![2]));
            assert_eq!(take(&SLOT), None);
        })
        .join()
        .unwrap();
    }
}
