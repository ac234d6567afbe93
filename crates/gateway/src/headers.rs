//! Response headers.
//!
//! Python: `wsgiref.headers`.

use std::fmt;

use crate::error::{Error, Result};

use stdx::ascii::{is_tchar, printable as printable_ascii};

/// Checks a header name: a non-empty RFC 9110 token.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "a header name must not be empty"
    } else if !name.bytes().all(is_tchar) {
        "a header name must be a token (letters, digits and !#$%&'*+-.^_`|~)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidHeaderName {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a header value: no CR, LF or NUL, and only Latin-1 chars.
pub(crate) fn check_value(name: &str, value: &str) -> Result<()> {
    // The usual value is printable ASCII: one pass tells, and only a value that fails it
    // is looked at again to say why.
    if printable_ascii(value.as_bytes()) {
        return Ok(());
    }
    let reason = if value.contains(['\r', '\n']) {
        "a header value must not contain CR or LF"
    } else if value.contains('\0') {
        "a header value must not contain NUL"
    } else if value.chars().any(|c| (c < ' ' && c != '\t') || c == '\x7f') {
        "a header value must not contain control characters (RFC 9110 section 5.5)"
    } else if !crate::util::is_latin1(value) {
        "a header value must be Latin-1 (chars up to U+00FF)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidHeaderValue {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    })
}

/// [`<[u8]>::eq_ignore_ascii_case`], eight bytes at a time: each word is lowercased with
/// a few integer operations (exact for every byte value; no carry crosses a byte), the
/// last word overlapping the one before when the length is not a multiple of eight.
pub(crate) fn ascii_eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let lower = |x: u64| {
        let seven = x & LOW7;
        // Bit 7 set in each byte above `@` and not above `Z`, without bit 7 of its own.
        let upper = (seven + 0x3f3f_3f3f_3f3f_3f3f) & !(seven + 0x2525_2525_2525_2525) & !x & HIGH;
        x | (upper >> 2)
    };
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.eq_ignore_ascii_case(b);
    }
    let mut i = 0;
    while i + 8 < n {
        if lower(word(a, i)) != lower(word(b, i)) {
            return false;
        }
        i += 8;
    }
    lower(word(a, n - 8)) == lower(word(b, n - 8))
}

/// Python's `_formatparam`: `key="value"` (always quoted, as `add_header` calls it).
fn formatparam(param: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{param}=\"{v}\"")
        }
        _ => param.to_owned(),
    }
}

/// Python: `wsgiref.headers.Headers`.
///
/// An ordered list of response header `(name, value)` pairs with case-insensitive lookup.
/// Names must be tokens and values must hold no CR, LF or NUL (so a header can never split
/// the response).
///
/// ```
/// use gateway::headers::Headers;
/// let mut h = Headers::new();
/// h.set("Content-Type", "text/plain").unwrap();
/// h.add_header("Content-Disposition", Some("attachment"), &[("filename", Some("bud.gif"))]).unwrap();
/// assert_eq!(h.get("content-type"), Some("text/plain"));
/// assert_eq!(
///     h.to_string(),
///     "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"bud.gif\"\r\n\r\n"
/// );
/// assert!(h.set("X-Bad", "a\r\nInjected: yes").is_err());
/// ```
#[doc(alias = "wsgiref.headers.Headers")]
#[derive(Default)]
pub struct Headers {
    /// Names and values back to back (a deleted header leaves its text behind until the
    /// next compaction): one buffer per list instead of two strings per header.
    text: String,
    /// Where each header's name and value are in `text`, in order.
    entries: Vec<Entry>,
}

/// One header: the byte ranges of its name and value in [`Headers::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
}

thread_local! {
    /// The buffers of the last header list dropped on this thread, kept for the next one:
    /// a server builds one list per response.
    static SPARE: std::cell::Cell<Option<(String, Vec<Entry>)>> =
        const { std::cell::Cell::new(None) };
}

/// Buffers larger than this are freed rather than kept.
const MAX_SPARE: usize = 8 << 10;

impl Drop for Headers {
    fn drop(&mut self) {
        if self.text.capacity() == 0 || self.text.capacity() > MAX_SPARE {
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        let mut entries = std::mem::take(&mut self.entries);
        text.clear();
        entries.clear();
        crate::spare::keep(&SPARE, (text, entries));
    }
}

impl Clone for Headers {
    fn clone(&self) -> Self {
        let mut h = Headers::with_capacity(self.entries.len());
        for (k, v) in self.iter() {
            h.push_checked(k, v);
        }
        h
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// Iterator over a [`Headers`]' pairs, in order (`(&name, &value)`).
///
/// Python: iterating `wsgiref.headers.Headers.items()` (without copying the pairs).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    text: &'a str,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        let e = self.entries.next()?;
        Some(pair(self.text, e))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let e = self.entries.next_back()?;
        Some(pair(self.text, e))
    }
}

fn pair<'a>(text: &'a str, e: &Entry) -> (&'a str, &'a str) {
    let (n, v) = (e.name as usize, e.value as usize);
    (
        &text[n..n + e.name_len as usize],
        &text[v..v + e.value_len as usize],
    )
}

impl Headers {
    /// Python: `wsgiref.headers.Headers()`.
    ///
    /// An empty list.
    #[doc(alias = "wsgiref.headers.Headers.__init__")]
    pub fn new() -> Self {
        Self::default()
    }

    /// Python: `wsgiref.headers.Headers(headers)`.
    ///
    /// A list of pairs, each checked.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self> {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.append(n, v)?;
        }
        Ok(h)
    }

    /// An empty list with room for `n` headers, in the buffers of a list this thread
    /// dropped earlier when there is one.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let (mut text, mut entries) = crate::spare::take(&SPARE).unwrap_or_default();
        text.reserve(32 * n);
        entries.reserve(n);
        Headers { text, entries }
    }

    /// Appends a pair the caller has already checked with `check_name` and `check_value`.
    pub(crate) fn push_checked(&mut self, name: &str, value: &str) {
        // Header lists are far below 4 GiB; a larger one would be refused long before
        // (the offsets saturate rather than wrap, and lookups then fail safely).
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let name_at = at(self.text.len());
        self.text.push_str(name);
        let value_at = at(self.text.len());
        self.text.push_str(value);
        self.entries.push(Entry {
            name: name_at,
            name_len: at(name.len()),
            value: value_at,
            value_len: at(value.len()),
        });
    }

    /// Sets a header the server adds, whose name and value need no check (a static token
    /// and a value the server formatted), replacing any of that name.
    pub(crate) fn set_static(&mut self, name: &'static str, value: &str) {
        self.delete(name);
        self.push_checked(name, value);
    }

    /// True when `e` is named `name` (case-insensitively): the length first, then the bytes
    /// (as bytes: no char-boundary checks).
    #[inline]
    fn is_named(&self, e: &Entry, name: &str) -> bool {
        let at = e.name as usize;
        e.name_len as usize == name.len()
            && self
                .text
                .as_bytes()
                .get(at..at + name.len())
                .is_some_and(|n| ascii_eq_ignore_case(n, name.as_bytes()))
    }

    /// Appends one pair, keeping any existing header of that name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        check_name(&name)?;
        check_value(&name, &value)?;
        self.push_checked(&name, &value);
        Ok(())
    }

    /// Python: `wsgiref.headers.Headers.__len__`.
    ///
    /// The number of headers, duplicates included.
    #[doc(alias = "wsgiref.headers.Headers.__len__")]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no header.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Python: `wsgiref.headers.Headers.__setitem__`.
    ///
    /// Replaces every header named `name` by one `name: value` at the end.
    #[doc(alias = "wsgiref.headers.Headers.__setitem__")]
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        check_name(&name)?;
        check_value(&name, &value)?;
        self.delete(&name);
        self.push_checked(&name, &value);
        Ok(())
    }

    /// Python: `wsgiref.headers.Headers.__delitem__`.
    ///
    /// Deletes every header named `name` (no error when missing).
    #[doc(alias = "wsgiref.headers.Headers.__delitem__")]
    pub fn delete(&mut self, name: &str) {
        let before = self.entries.len();
        let text = &self.text;
        self.entries.retain(|e| {
            !(e.name_len as usize == name.len() && pair(text, e).0.eq_ignore_ascii_case(name))
        });
        if self.entries.len() != before {
            self.compact_if_wasteful();
        }
    }

    /// Drops the text of deleted headers once it outweighs the live text, so a list that
    /// is set over and over stays small.
    fn compact_if_wasteful(&mut self) {
        let live: usize = self
            .entries
            .iter()
            .map(|e| (e.name_len + e.value_len) as usize)
            .sum();
        if self.text.len() <= 2 * live + 256 {
            return;
        }
        let old = std::mem::take(&mut self.text);
        let entries = std::mem::take(&mut self.entries);
        self.text.reserve(live);
        for e in &entries {
            let (k, v) = pair(&old, e);
            self.push_checked(k, v);
        }
    }

    /// The first value of `name`, case-insensitively. Python: `headers.get(name)` and
    /// `headers[name]` (both return `None` when missing).
    #[doc(alias = "wsgiref.headers.Headers.get")]
    #[doc(alias = "wsgiref.headers.Headers.__getitem__")]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| self.is_named(e, name))
            .map(|e| pair(&self.text, e).1)
    }

    /// Python: `wsgiref.headers.Headers.__contains__`.
    ///
    /// True when a header named `name` exists.
    #[doc(alias = "wsgiref.headers.Headers.__contains__")]
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| self.is_named(e, name))
    }

    /// Python: `wsgiref.headers.Headers.get_all`.
    ///
    /// Every value of `name`, in order.
    #[doc(alias = "wsgiref.headers.Headers.get_all")]
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| self.is_named(e, name))
            .map(|e| pair(&self.text, e).1)
            .collect()
    }

    /// Python: `wsgiref.headers.Headers.keys`.
    ///
    /// The names, in order, duplicates included.
    #[doc(alias = "wsgiref.headers.Headers.keys")]
    pub fn keys(&self) -> Vec<&str> {
        self.iter().map(|(k, _)| k).collect()
    }

    /// Python: `wsgiref.headers.Headers.values`.
    ///
    /// The values, in order.
    #[doc(alias = "wsgiref.headers.Headers.values")]
    pub fn values(&self) -> Vec<&str> {
        self.iter().map(|(_, v)| v).collect()
    }

    /// Python: `wsgiref.headers.Headers.items`.
    ///
    /// A copy of the pairs, in order.
    #[doc(alias = "wsgiref.headers.Headers.items")]
    pub fn items(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Iterates over the pairs without copying.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            entries: self.entries.iter(),
        }
    }

    /// Python: `wsgiref.headers.Headers.setdefault`.
    ///
    /// The first value of `name`, or adds `name: value` and returns `value`.
    #[doc(alias = "wsgiref.headers.Headers.setdefault")]
    pub fn setdefault(&mut self, name: &str, value: &str) -> Result<String> {
        if let Some(v) = self.get(name) {
            return Ok(v.to_owned());
        }
        self.append(name, value)?;
        Ok(value.to_owned())
    }

    /// Python: `wsgiref.headers.Headers.add_header`.
    ///
    /// Appends `name: value; key="param"; flag`: each parameter's underscores become dashes,
    /// a `None` parameter value writes the bare key, other values are always quoted.
    #[doc(alias = "wsgiref.headers.Headers.add_header")]
    pub fn add_header(
        &mut self,
        name: &str,
        value: Option<&str>,
        params: &[(&str, Option<&str>)],
    ) -> Result<()> {
        let mut parts: Vec<String> = Vec::new();
        if let Some(v) = value {
            parts.push(v.to_owned());
        }
        for (k, v) in params {
            parts.push(formatparam(&k.replace('_', "-"), *v));
        }
        self.append(name, parts.join("; "))
    }

    /// Python: `wsgiref.headers.Headers.__bytes__`.
    ///
    /// The headers as Latin-1 bytes, each line ending in CRLF, plus the closing blank line.
    #[doc(alias = "wsgiref.headers.Headers.__bytes__")]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 4 * self.entries.len() + 2);
        self.write_bytes(&mut out);
        out
    }

    /// Appends the serialisation of [`to_bytes`](Self::to_bytes) to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        // Values are checked to be Latin-1 and names ASCII, so this is lossless.
        out.reserve(self.text.len() + 4 * self.entries.len() + 2);
        for (k, v) in self {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            stdx::latin1::encode_into(v, out);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Display for Headers {
    /// Python: `wsgiref.headers.Headers.__str__`: `Name: value\r\n` lines and a closing `\r\n`.
    #[doc(alias = "wsgiref.headers.Headers.__str__")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in self {
            write!(f, "{k}: {v}\r\n")?;
        }
        f.write_str("\r\n")
    }
}

impl fmt::Debug for Headers {
    /// Python: `wsgiref.headers.Headers.__repr__`, `Headers([('name', 'value')])`.
    #[doc(alias = "wsgiref.headers.Headers.__repr__")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("({}, {})", crate::util::py_repr(k), crate::util::py_repr(v)))
            .collect();
        write!(f, "Headers([{}])", items.join(", "))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests;
