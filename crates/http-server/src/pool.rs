//! Per-thread recycling of the small buffers a request's head is made of.
//!
//! Every request needs a handful of short owned strings (the request line, the method, the
//! path, the version, each header's name and value): allocating and freeing them costs more
//! than parsing them. An [`Exchange`](crate::Exchange) gives its buffers back here when it
//! is dropped, and the parser takes them from here, so a thread serving request after
//! request reuses the same few buffers. The pool is small and bounded (at most
//! [`MAX_POOLED`] buffers of at most [`MAX_CAPACITY`] bytes per thread), so a burst of large
//! requests cannot make it hold memory.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Buffers kept per thread and kind.
pub(crate) const MAX_POOLED: usize = 32;
/// Larger buffers are freed, not kept.
pub(crate) const MAX_CAPACITY: usize = 4096;

thread_local! {
    static STRINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static BYTES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An item of `pool`, or a new one when the pool is empty (or gone, at thread exit).
pub(crate) fn take<T: Default>(pool: &'static LocalKey<RefCell<Vec<T>>>) -> T {
    pool.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// An empty string, recycled when one is available.
pub(crate) fn string() -> String {
    take(&STRINGS)
}

/// Each text in a recycled string, with one visit to the pool (a request line's words).
pub(crate) fn strings_from<const N: usize>(texts: [&str; N]) -> [String; N] {
    let mut spare: [String; N] = std::array::from_fn(|_| String::new());
    let _ = STRINGS.try_with(|p| {
        let mut p = p.borrow_mut();
        for s in &mut spare {
            match p.pop() {
                Some(recycled) => *s = recycled,
                None => break,
            }
        }
    });
    for (s, text) in spare.iter_mut().zip(texts) {
        s.push_str(text);
    }
    spare
}

/// An empty byte buffer, recycled when one is available.
pub(crate) fn bytes() -> Vec<u8> {
    take(&BYTES)
}

/// `data` in a recycled byte buffer.
pub(crate) fn bytes_from(data: &[u8]) -> Vec<u8> {
    let mut v = bytes();
    v.extend_from_slice(data);
    v
}

/// Gives several strings back with one visit to the pool (an exchange's four).
pub(crate) fn give_strings<const N: usize>(strings: [String; N]) {
    let _ = STRINGS.try_with(|p| {
        let mut p = p.borrow_mut();
        for mut s in strings {
            if s.capacity() != 0 && s.capacity() <= MAX_CAPACITY && p.len() < MAX_POOLED {
                s.clear();
                p.push(s);
            }
        }
    });
}

/// Gives a byte buffer back (cleared; dropped when the pool is full or it is large).
pub(crate) fn give_bytes(mut v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > MAX_CAPACITY {
        return;
    }
    v.clear();
    let _ = BYTES.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < MAX_POOLED {
            p.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycles_bounded_and_cleared() {
        // A fresh thread: nothing pooled yet.
        std::thread::spawn(|| {
            let [s] = strings_from(["GET"]);
            let cap = s.capacity();
            give_strings([s]);
            let again = string();
            assert!(
                again.is_empty() && again.capacity() == cap,
                "reused, cleared"
            );
            // Several in one visit: the pooled ones first, then new ones.
            give_strings([again]);
            let [a, b] = strings_from(["PUT", "/x"]);
            assert_eq!((a.as_str(), b.as_str()), ("PUT", "/x"));
            assert_eq!(a.capacity(), cap, "the pooled string is reused");
            give_strings([a, b]);
            assert_eq!(STRINGS.with(|p| p.borrow().len()), 2);
            let _ = strings_from(["a", "b"]);
            give_strings([
                String::with_capacity(8),
                String::new(),
                String::with_capacity(MAX_CAPACITY + 1),
            ]);
            let kept =
                STRINGS.with(|p| p.borrow().iter().map(String::capacity).collect::<Vec<_>>());
            assert_eq!(kept.len(), 1, "only the small, allocated one is kept");
            assert!(kept[0] >= 8);
            let _ = string();
            assert_eq!(string().capacity(), 0, "large buffers are not kept");
            let many: Vec<Vec<u8>> = (0..MAX_POOLED + 5).map(|_| bytes_from(b"x")).collect();
            for v in many {
                give_bytes(v);
            }
            let pooled = BYTES.with(|p| p.borrow().len());
            assert_eq!(pooled, MAX_POOLED);
        })
        .join()
        .unwrap();
    }
}
