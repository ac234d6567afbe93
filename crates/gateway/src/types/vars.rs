//! The string variables of an [`Environ`](super::Environ), packed: every key and value lives
//! in one string buffer, and an entry is four offsets into it.
//!
//! A request's environ holds twenty-odd short strings. As a `BTreeMap<String, String>` that
//! cost two allocations per entry plus the tree's nodes (and as many frees afterwards), which
//! was the largest single cost of serving a small request. Packed, a whole environ is two
//! allocations; a lookup is a scan of about twenty entries comparing lengths first.
//! Iteration in key order (Python's `sorted(environ)`) sorts on demand.

/// What [`Vars::push_with`] does when the key is already present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dup {
    /// Append the separator and the new value to the old one (CGI's repeated headers).
    Join(char),
    /// Replace the old value.
    Replace,
    /// The caller knows the key is absent: no lookup (checked in debug builds).
    New,
}

/// Packed string variables: keys and values in `buf`, located by `entries`.
#[derive(Clone)]
pub(crate) struct Vars {
    buf: String,
    entries: Vec<Entry>,
    /// Bytes of `buf` that no entry refers to any more (a replaced or removed variable).
    garbage: usize,
    /// One bit per key ever added ([`bit`] of its tail): a key whose bit is clear is
    /// absent without a scan. A request looks up several absent keys (`HTTPS`, each new
    /// `HTTP_*` name, `CONTENT_TYPE`); a removed key leaves its bit set, which only costs
    /// a scan.
    seen: u64,
    /// For each bit of `seen`, the entry (index + 1) last added with that bit: a lookup
    /// tries it first, as a hash table would, and scans only when it holds another key
    /// (two keys sharing a bit) or was moved by a removal. 0 when none.
    slots: [u8; 64],
}

impl Default for Vars {
    fn default() -> Self {
        Vars {
            buf: String::new(),
            entries: Vec::new(),
            garbage: 0,
            seen: 0,
            slots: [0; 64],
        }
    }
}

/// The slot of a key's tail in [`Vars::slots`] and its bit in [`Vars::seen`]: its top six
/// bits after a multiplicative hash.
fn slot(tail: u64) -> usize {
    (tail.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

/// The bit of [`Vars::seen`] for a key's tail.
fn bit(tail: u64) -> u64 {
    1 << slot(tail)
}

/// One variable: the byte ranges of its key and of its value in `Vars::buf`.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: usize,
    key_len: usize,
    val: usize,
    val_len: usize,
    /// The key's last eight bytes (fewer for a short key) as a number: a lookup compares
    /// it, and the length, before it compares bytes. CGI names share their beginnings
    /// (`SERVER_`, `HTTP_`) and often their lengths, rarely their ends.
    tail: u64,
}

/// See [`Entry::tail`].
fn tail(key: &[u8]) -> u64 {
    match key.last_chunk::<8>() {
        Some(t) => u64::from_le_bytes(*t),
        None => key
            .iter()
            .enumerate()
            .fold(0u64, |t, (i, &b)| t | u64::from(b) << (8 * i)),
    }
}

impl Vars {
    /// Room for `bytes` of keys and values and `entries` variables: the buffers of an
    /// environ this thread dropped earlier when there is one (see [`Drop`] below), else new
    /// ones.
    pub(crate) fn with_capacity(bytes: usize, entries: usize) -> Self {
        let (mut buf, mut list) = crate::spare::take(&SPARE).unwrap_or_default();
        buf.reserve(bytes);
        list.reserve(entries);
        Vars {
            buf,
            entries: list,
            garbage: 0,
            seen: 0,
            slots: [0; 64],
        }
    }

    fn key_of(&self, e: &Entry) -> &str {
        &self.buf[e.key..e.key + e.key_len]
    }

    fn val_of(&self, e: &Entry) -> &str {
        &self.buf[e.val..e.val + e.val_len]
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.find_bytes(key.as_bytes())
    }

    fn find_bytes(&self, k: &[u8]) -> Option<usize> {
        let t = tail(k);
        if self.seen & bit(t) == 0 {
            return None;
        }
        let buf = self.buf.as_bytes();
        // The tail holds a key of up to eight bytes whole; up to sixteen, its first eight
        // bytes and the tail overlap to cover it: no byte comparison left to call for.
        let n = k.len();
        let head = k.first_chunk::<8>().map(|h| u64::from_le_bytes(*h));
        let is_key = |e: &Entry| {
            e.tail == t
                && e.key_len == n
                && match head {
                    None => true,
                    Some(h) if n <= 16 => {
                        buf[e.key..]
                            .first_chunk::<8>()
                            .map(|b| u64::from_le_bytes(*b))
                            == Some(h)
                    }
                    Some(_) => &buf[e.key..e.key + n] == k,
                }
        };
        let hint = usize::from(self.slots[slot(t)]).wrapping_sub(1);
        if self.entries.get(hint).is_some_and(is_key) {
            return Some(hint);
        }
        self.entries.iter().position(is_key)
    }

    /// Notes that the entry at `index` holds a key whose tail is `t`.
    fn note_slot(&mut self, index: usize, t: u64) {
        self.seen |= bit(t);
        self.slots[slot(t)] = u8::try_from(index + 1).unwrap_or(0);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.find(key).map(|i| self.val_of(&self.entries[i]))
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub(crate) fn insert(&mut self, key: &str, value: &str) {
        match self.find(key) {
            Some(i) => {
                let e = self.entries[i];
                let val = self.buf.len();
                self.buf.push_str(value);
                self.garbage += e.val_len;
                self.entries[i].val = val;
                self.entries[i].val_len = value.len();
                self.maybe_compact();
            }
            None => self.push_new(key, value),
        }
    }

    /// Adds every variable of `other` to an empty set: two copies, no lookups.
    #[cfg_attr(not(feature = "simple-server"), allow(dead_code))]
    pub(crate) fn extend_from_empty(&mut self, other: &Vars) {
        debug_assert!(self.entries.is_empty() && self.buf.is_empty());
        self.buf.push_str(&other.buf);
        self.entries.extend_from_slice(&other.entries);
        self.garbage = other.garbage;
        self.seen = other.seen;
        self.slots = other.slots;
    }

    /// Adds variables the caller knows are absent and distinct.
    pub(crate) fn extend_new<'a>(&mut self, vars: impl Iterator<Item = (&'a str, &'a str)>) {
        for (k, v) in vars {
            self.push_new(k, v);
        }
    }

    /// Adds a variable the caller knows is absent.
    pub(crate) fn push_new(&mut self, key: &str, value: &str) {
        let k = self.buf.len();
        self.buf.push_str(key);
        let v = self.buf.len();
        self.buf.push_str(value);
        let t = tail(key.as_bytes());
        self.note_slot(self.entries.len(), t);
        self.entries.push(Entry {
            key: k,
            key_len: key.len(),
            val: v,
            val_len: value.len(),
            tail: t,
        });
    }

    /// Sets a variable whose key and value are appended in place to the buffer, in two
    /// steps: `write_key` appends the key; when that key is new, `write_value` appends the
    /// value; when it is already present, `dup` says what happens. No allocation beyond
    /// the buffer's growth.
    pub(crate) fn push_with(
        &mut self,
        write_key: impl FnOnce(&mut String),
        dup: Dup,
        write_value: impl FnOnce(&mut String),
    ) {
        let k = self.buf.len();
        write_key(&mut self.buf);
        let key_len = self.buf.len() - k;
        let key_tail = tail(&self.buf.as_bytes()[k..]);
        let existing = if matches!(dup, Dup::New) {
            debug_assert!(self.find_bytes(&self.buf.as_bytes()[k..]).is_none());
            None
        } else {
            self.find_bytes(&self.buf.as_bytes()[k..])
        };
        match existing {
            None => {
                self.note_slot(self.entries.len(), key_tail);
                let v = self.buf.len();
                write_value(&mut self.buf);
                self.entries.push(Entry {
                    key: k,
                    key_len,
                    val: v,
                    val_len: self.buf.len() - v,
                    tail: key_tail,
                });
            }
            Some(i) => {
                // The key just written is not needed: drop it, then keep, join or replace.
                self.buf.truncate(k);
                let e = self.entries[i];
                let v = self.buf.len();
                match dup {
                    Dup::Join(sep) => {
                        self.buf.extend_from_within(e.val..e.val + e.val_len);
                        self.buf.push(sep);
                    }
                    Dup::Replace | Dup::New => {}
                }
                write_value(&mut self.buf);
                self.garbage += e.val_len;
                self.entries[i].val = v;
                self.entries[i].val_len = self.buf.len() - v;
                self.maybe_compact();
            }
        }
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.find(key)?;
        let e = self.entries.swap_remove(i);
        let value = self.val_of(&e).to_owned();
        self.garbage += e.key_len + e.val_len;
        self.maybe_compact();
        Some(value)
    }

    /// Every variable, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (self.key_of(e), self.val_of(e)))
    }

    /// Every variable, sorted by key.
    pub(crate) fn sorted(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::with_capacity(self.entries.len());
        self.sorted_into(&mut out, |k, v| (k, v));
        out
    }

    /// Appends every variable to `out`, sorted by key, as `item(key, value)`.
    pub(crate) fn sorted_into<'a, T>(
        &'a self,
        out: &mut Vec<T>,
        item: impl Fn(&'a str, &'a str) -> T,
    ) {
        // Sorted by the keys' first eight bytes as one big-endian number (which orders like
        // the bytes themselves), comparing whole keys only on a tie: most CGI names differ
        // early, so most comparisons are one integer comparison instead of a memcmp.
        let buf = self.buf.as_bytes();
        let key = |i: usize| {
            let e = &self.entries[i];
            &buf[e.key..e.key + e.key_len]
        };
        let prefix = |k: &[u8]| match k.first_chunk::<8>() {
            Some(p) => u64::from_be_bytes(*p),
            None => k
                .iter()
                .enumerate()
                .fold(0u64, |p, (i, &b)| p | u64::from(b) << (56 - 8 * i)),
        };
        let cmp =
            |a: &(u64, usize), b: &(u64, usize)| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(key(b.1)));
        let pair = |i: usize| {
            let e = &self.entries[i];
            item(self.key_of(e), self.val_of(e))
        };
        let n = self.entries.len();
        out.reserve(n);
        // A server's environs hold the same keys in the same order request after request:
        // the order found last on this thread is tried first, and kept when the keys it
        // gives are strictly ascending (keys are unique, so that is the sorted order).
        let remembered = LAST_ORDER.try_with(|last| {
            let mut last = last.try_borrow_mut().ok()?;
            let holds = last.len() == n && last.iter().all(|&i| i < n) && {
                let mut prev: Option<(u64, usize)> = None;
                last.iter().all(|&i| {
                    let this = (prefix(key(i)), i);
                    let ascending = prev.is_none_or(|p| cmp(&p, &this).is_lt());
                    prev = Some(this);
                    ascending
                })
            };
            if !holds {
                let mut keys: Vec<(u64, usize)> = (0..n).map(|i| (prefix(key(i)), i)).collect();
                keys.sort_unstable_by(cmp);
                last.clear();
                last.extend(keys.iter().map(|&(_, i)| i));
            }
            out.extend(last.iter().map(|&i| pair(i)));
            Some(())
        });
        if !matches!(remembered, Ok(Some(()))) {
            // Only while the thread is torn down (or re-entered).
            let mut keys: Vec<(u64, usize)> = (0..n).map(|i| (prefix(key(i)), i)).collect();
            keys.sort_unstable_by(cmp);
            out.extend(keys.into_iter().map(|(_, i)| pair(i)));
        }
    }

    /// Rewrites the buffer without its garbage once that is most of it, so an environ
    /// that is changed many times stays small.
    fn maybe_compact(&mut self) {
        if self.garbage < 1024 || self.garbage * 2 < self.buf.len() {
            return;
        }
        let mut fresh = Vars::with_capacity(self.buf.len() - self.garbage, self.entries.len());
        for (k, v) in self.iter() {
            fresh.push_new(k, v);
        }
        *self = fresh;
    }
}

thread_local! {
    /// The order [`Vars::sorted`] found last on this thread (entry indices, in key order).
    static LAST_ORDER: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };

    /// The buffers of the last environ dropped on this thread, kept for the next one: a
    /// server builds one environ per request, and reusing its buffers saves two
    /// allocations and two frees per request.
    static SPARE: std::cell::Cell<Option<(String, Vec<Entry>)>> =
        const { std::cell::Cell::new(None) };
}

/// Buffers larger than this are freed rather than kept.
const MAX_SPARE: usize = 16 << 10;

impl Drop for Vars {
    fn drop(&mut self) {
        if self.buf.capacity() == 0 || self.buf.capacity() > MAX_SPARE {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let mut entries = std::mem::take(&mut self.entries);
        buf.clear();
        entries.clear();
        crate::spare::keep(&SPARE, (buf, entries));
    }
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{Dup, Vars};
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_map() {
        let mut v = Vars::default();
        let mut m = BTreeMap::new();
        // A deterministic mix of inserts, replacements (shorter, longer, equal), joins and
        // removals, checked against a BTreeMap after every step; enough churn to compact.
        for round in 0..400u32 {
            let key = format!("K{}", round % 13);
            match round % 5 {
                0 | 1 => {
                    let value = "x".repeat((round as usize * 7) % 40);
                    v.insert(&key, &value);
                    m.insert(key.clone(), value);
                }
                2 => {
                    v.push_with(
                        |b| b.push_str(&key),
                        Dup::Join(','),
                        |b| b.push_str(&round.to_string()),
                    );
                    m.entry(key.clone())
                        .and_modify(|old: &mut String| {
                            old.push(',');
                            old.push_str(&round.to_string());
                        })
                        .or_insert_with(|| round.to_string());
                }
                3 => {
                    v.push_with(|b| b.push_str(&key), Dup::Join(';'), |b| b.push('j'));
                    m.entry(key.clone())
                        .and_modify(|old: &mut String| old.push_str(";j"))
                        .or_insert_with(|| "j".to_owned());
                }
                4 if round % 2 == 0 => {
                    let value = format!("r{round}");
                    v.push_with(|b| b.push_str(&key), Dup::Replace, |b| b.push_str(&value));
                    m.insert(key.clone(), value);
                }
                _ => assert_eq!(v.remove(&key), m.remove(&key)),
            }
            let sorted: Vec<(String, String)> = v
                .sorted()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let expected: Vec<(String, String)> = m.clone().into_iter().collect();
            assert_eq!(sorted, expected, "after round {round}");
            assert_eq!(v.len(), m.len());
            assert!(v.buf.len() <= 4096, "compaction keeps the buffer small");
        }
    }

    #[test]
    fn sorted_reuses_the_last_order_only_when_it_still_sorts() {
        // Keys sharing their first eight bytes and their lengths: the remembered order is
        // right for one environ and wrong for the next, which must be sorted afresh.
        let pool = [
            "HTTP_ACCEPT_A",
            "HTTP_ACCEPT_B",
            "HTTP_ACCEPT_C",
            "HTTP_ACCEPT",
            "HTTP_HOST",
            "PATH_INFO",
            "REQUEST_METHOD",
            "SERVER_NAME",
            "SERVER_PORT",
            "X",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..3_000 {
            let mut v = Vars::default();
            let mut m = BTreeMap::new();
            // Often the same keys in the same order (the remembered order holds), sometimes
            // a shuffle of the same lengths and prefixes, sometimes other keys.
            let n = if round % 3 == 0 {
                next(pool.len()) + 1
            } else {
                6
            };
            for i in 0..n {
                let key = if round % 3 == 1 {
                    pool[i]
                } else {
                    pool[next(pool.len())]
                };
                v.insert(key, &round.to_string());
                m.insert(key.to_owned(), round.to_string());
            }
            let got: Vec<(String, String)> = v
                .sorted()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(got, m.into_iter().collect::<Vec<_>>(), "round {round}");
        }
        // The two orders of two tied keys, one after the other.
        let mut a = Vars::default();
        a.insert("HTTP_ACCEPT_B", "1");
        a.insert("HTTP_ACCEPT_A", "2");
        assert_eq!(a.sorted(), [("HTTP_ACCEPT_A", "2"), ("HTTP_ACCEPT_B", "1")]);
        let mut b = Vars::default();
        b.insert("HTTP_ACCEPT_A", "2");
        b.insert("HTTP_ACCEPT_B", "1");
        assert_eq!(b.sorted(), [("HTTP_ACCEPT_A", "2"), ("HTTP_ACCEPT_B", "1")]);
    }

    #[test]
    fn dropped_buffers_are_reused_empty() {
        std::thread::spawn(|| {
            let mut v = Vars::with_capacity(512, 24);
            v.insert("REQUEST_METHOD", "GET");
            let cap = v.buf.capacity();
            drop(v);
            let again = Vars::with_capacity(16, 2);
            assert_eq!(again.len(), 0);
            assert!(again.buf.is_empty() && again.buf.capacity() == cap);
            assert_eq!(again.get("REQUEST_METHOD"), None);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn empty_values_and_lookups() {
        let mut v = Vars::with_capacity(64, 4);
        assert!(v.len() == 0 && v.get("A").is_none() && !v.contains("A"));
        v.insert("A", "");
        v.insert("AB", "2");
        assert_eq!(
            (v.get("A"), v.get("AB"), v.get("B")),
            (Some(""), Some("2"), None)
        );
        v.insert("AB", "2");
        assert_eq!(v.remove("A").as_deref(), Some(""));
        assert_eq!(format!("{v:?}"), r#"{"AB": "2"}"#);
    }

    #[test]
    fn keys_sharing_their_tail_and_length_stay_apart() {
        // Same last eight bytes and length: told apart by the first eight bytes (up to 16
        // bytes), by the bytes themselves beyond.
        let keys = [
            "abcd12345678",
            "abce12345678",
            "xxxxxxxx12345678",
            "yyyyyyyy12345678",
            "aaaaaaaaaaaaaaaaa12345678",
            "aaaaaaaaaaaaaaaab12345678",
            "12345678",
            "2345678",
        ];
        let mut v = Vars::default();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(v.get(k), None, "{k} before it is set");
            v.insert(k, &i.to_string());
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(v.get(k), Some(i.to_string().as_str()), "{k}");
        }
        assert_eq!(v.get("abcf12345678"), None);
        assert_eq!(v.get("aaaaaaaaaaaaaaaac12345678"), None);
    }
}
