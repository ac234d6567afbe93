//! Response header fields: the one rule a field must meet to be sent, and [`Fields`], a
//! list that holds only fields that meet it.
//!
//! The rule ([`check`]) is the workspace's only one: `http_server::Exchange::send_header`
//! applies it, the gateway's `wsgiref.headers.Headers` keeps its pairs in a [`Fields`] (with
//! or without the HTTP server), and `http_server::Exchange::send_fields` sends such a list
//! without looking at its fields again (a `Fields` cannot hold one that breaks the rule).
//!
//! Python: the checks of `http.server.BaseHTTPRequestHandler.send_header` (3.12+) and of
//! `wsgiref.handlers.BaseHandler.start_response` (its control-character fix).

use std::cell::Cell;

use crate::ascii::{is_token, printable};

/// Why a field cannot be sent: it would split the response, hide a control character in
/// it, or cannot be written in Latin-1.
///
/// Python: the `ValueError` (`Invalid header name`/`value`) of `http.client`'s header
/// checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.reason())]
#[non_exhaustive]
pub enum FieldError {
    /// The name is empty.
    EmptyName,
    /// The name holds a byte that is not a `tchar`.
    NameNotToken,
    /// The value holds CR or LF (it would end the field early).
    LineBreak,
    /// The value holds NUL.
    Nul,
    /// The value holds another control character than HTAB.
    Control,
    /// The value holds a character above U+00FF.
    NotLatin1,
}

impl FieldError {
    /// True when the name (not the value) is at fault.
    ///
    /// Python: no equivalent (the message names which).
    pub fn is_name(self) -> bool {
        matches!(self, FieldError::EmptyName | FieldError::NameNotToken)
    }

    /// The reason, as a sentence (what `Display` writes).
    ///
    /// Python: the `ValueError`'s message, without the offending text.
    pub fn reason(self) -> &'static str {
        match self {
            FieldError::EmptyName => "a header name must not be empty",
            FieldError::NameNotToken => {
                "a header name must be a token (letters, digits and !#$%&'*+-.^_`|~)"
            }
            FieldError::LineBreak => "a header value must not contain CR or LF",
            FieldError::Nul => "a header value must not contain NUL",
            FieldError::Control => {
                "a header value must not contain control characters (RFC 9110 section 5.5)"
            }
            FieldError::NotLatin1 => "a header value must be Latin-1 (chars up to U+00FF)",
        }
    }
}

/// Checks a field name: a non-empty RFC 9110 token.
///
/// Python: `http.client._is_legal_header_name`.
#[doc(alias = "http.client._is_legal_header_name")]
#[inline]
pub fn check_name(name: &str) -> Result<(), FieldError> {
    if is_token(name.as_bytes()) {
        Ok(())
    } else if name.is_empty() {
        Err(FieldError::EmptyName)
    } else {
        Err(FieldError::NameNotToken)
    }
}

/// Checks a field value: no CR, LF, NUL or other control character than HTAB, and only
/// Latin-1 characters.
///
/// Python: `http.client._is_illegal_header_value`, plus the Latin-1 rule of
/// `wsgiref.handlers`' `start_response`.
#[doc(alias = "http.client._is_illegal_header_value")]
#[inline]
pub fn check_value(value: &str) -> Result<(), FieldError> {
    // The usual value is printable ASCII: one pass tells, and only a value that fails it
    // is looked at again to say why.
    if printable(value.as_bytes()) {
        Ok(())
    } else {
        fault_in_value(value)
    }
}

/// The fault of a value that is not printable ASCII, if it has one.
fn fault_in_value(value: &str) -> Result<(), FieldError> {
    if value.contains(['\r', '\n']) {
        Err(FieldError::LineBreak)
    } else if value.contains('\0') {
        Err(FieldError::Nul)
    } else if value.chars().any(|c| (c < ' ' && c != '\t') || c == '\x7f') {
        Err(FieldError::Control)
    } else if !crate::latin1::is_latin1(value) {
        Err(FieldError::NotLatin1)
    } else {
        Ok(())
    }
}

/// Checks a field: [`check_name`], then [`check_value`].
///
/// Python: the two checks of `http.client.HTTPConnection.putheader`.
///
/// ```
/// use stdx::field::{check, FieldError};
/// assert_eq!(check("Content-Type", "text/plain; charset=utf-8"), Ok(()));
/// assert_eq!(check("X-Name", "caf\u{e9}\tau lait"), Ok(()));
/// assert_eq!(check("Bad Name", "v"), Err(FieldError::NameNotToken));
/// assert_eq!(check("X", "a\r\nSet-Cookie: x=1"), Err(FieldError::LineBreak));
/// assert_eq!(check("X", "\u{20ac}"), Err(FieldError::NotLatin1));
/// ```
#[inline]
pub fn check(name: &str, value: &str) -> Result<(), FieldError> {
    check_name(name)?;
    check_value(value)
}

/// An ordered list of response fields, each of which passed [`check`]: names and values
/// back to back in one buffer (a removed field leaves its text behind until the next
/// compaction), with case-insensitive lookup.
///
/// The storage of the gateway's `wsgiref.headers.Headers`; an `http_server::Exchange`
/// sends one with its `send_fields`.
///
/// Python: the `_headers` list of `(name, value)` tuples inside
/// `wsgiref.headers.Headers` (whose names `gateway::headers::Headers` keeps).
///
/// ```
/// use stdx::field::Fields;
/// let mut f = Fields::new();
/// f.push("Content-Type", "text/plain")?;
/// f.push("Set-Cookie", "a=1")?;
/// f.push("set-cookie", "b=2")?;
/// assert_eq!(f.get("content-type"), Some("text/plain"));
/// assert_eq!(f.get_all("SET-COOKIE").collect::<Vec<_>>(), ["a=1", "b=2"]);
/// assert!(f.push("X", "a\nb").is_err());
/// assert_eq!(f.remove("Set-Cookie"), 2);
/// assert_eq!(f.iter().collect::<Vec<_>>(), [("Content-Type", "text/plain")]);
/// # Ok::<(), stdx::field::FieldError>(())
/// ```
#[derive(Default)]
pub struct Fields {
    text: String,
    entries: Vec<Entry>,
}

/// One field: the byte ranges of its name and value in [`Fields::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
}

thread_local! {
    /// The buffers of the last list dropped on this thread, kept for the next one: a
    /// server builds one list per response.
    static SPARE: Cell<Option<(String, Vec<Entry>)>> = const { Cell::new(None) };
}

/// Buffers larger than this are freed rather than kept.
const MAX_SPARE: usize = 8 << 10;

impl Drop for Fields {
    fn drop(&mut self) {
        if self.text.capacity() == 0 || self.text.capacity() > MAX_SPARE {
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        let mut entries = std::mem::take(&mut self.entries);
        text.clear();
        entries.clear();
        let _ = SPARE.try_with(|s| s.set(Some((text, entries))));
    }
}

impl Clone for Fields {
    fn clone(&self) -> Self {
        let mut f = Fields::with_capacity(self.entries.len());
        for (k, v) in self.iter() {
            f.push_unchecked(k, v);
        }
        f
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Fields {}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a [`Fields`]' pairs, in order (`(&name, &value)`).
///
/// Python: iterating the list of `(name, value)` tuples.
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

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

fn pair<'a>(text: &'a str, e: &Entry) -> (&'a str, &'a str) {
    let (n, v) = (e.name as usize, e.value as usize);
    (
        &text[n..n + e.name_len as usize],
        &text[v..v + e.value_len as usize],
    )
}

impl Fields {
    /// An empty list.
    ///
    /// Python: `[]`.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `n` fields, in the buffers of a list this thread
    /// dropped earlier when there is one.
    ///
    /// Python: no equivalent.
    pub fn with_capacity(n: usize) -> Self {
        let (mut text, mut entries) = SPARE
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default();
        text.reserve(32 * n);
        entries.reserve(n);
        Fields { text, entries }
    }

    /// Appends a field after [`check`]ing it, keeping any of the same name.
    ///
    /// Python: `list.append((name, value))`, after the checks.
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), FieldError> {
        check(name, value)?;
        self.push_unchecked(name, value);
        Ok(())
    }

    /// Sets `Content-Length: n`, replacing any `Content-Length` (what a server adds when
    /// it knows the body's length).
    ///
    /// Python: `headers['Content-Length'] = str(n)`, as
    /// `wsgiref.handlers.BaseHandler.set_content_length` does it.
    pub fn set_content_length(&mut self, n: u64) {
        self.remove("Content-Length");
        let mut digits = [0u8; 20];
        // A token and digits: nothing to check.
        self.push_unchecked("Content-Length", crate::decimal(n, &mut digits));
    }

    /// Appends a field already known to meet the rule (one of this list's, or a checked
    /// one).
    fn push_unchecked(&mut self, name: &str, value: &str) {
        // Lists are far below 4 GiB; a larger one would be refused long before (the
        // offsets saturate rather than wrap, and lookups then fail safely).
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

    /// True when `e` is named `name` (case-insensitively): the length first, then the
    /// bytes (as bytes: no char-boundary checks).
    #[inline]
    fn is_named(&self, e: &Entry, name: &str) -> bool {
        let at = e.name as usize;
        e.name_len as usize == name.len()
            && self
                .text
                .as_bytes()
                .get(at..at + name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The number of fields, repeated names included.
    ///
    /// Python: `len(headers)`.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no field.
    ///
    /// Python: `not headers`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every field named `name` (case-insensitively); returns how many.
    ///
    /// Python: `del headers[name]`.
    pub fn remove(&mut self, name: &str) -> usize {
        if !self.contains(name) {
            return 0;
        }
        let before = self.entries.len();
        let text = &self.text;
        self.entries.retain(|e| {
            !(e.name_len as usize == name.len() && pair(text, e).0.eq_ignore_ascii_case(name))
        });
        let removed = before - self.entries.len();
        if removed != 0 {
            self.compact_if_wasteful();
        }
        removed
    }

    /// Drops the text of removed fields once it outweighs the live text, so a list that
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
            self.push_unchecked(k, v);
        }
    }

    /// The first value of `name`, case-insensitively.
    ///
    /// Python: `headers.get(name)`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| self.is_named(e, name))
            .map(|e| pair(&self.text, e).1)
    }

    /// True when a field named `name` exists.
    ///
    /// Python: `name in headers`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| self.is_named(e, name))
    }

    /// Every value of `name`, in order.
    ///
    /// Python: `headers.get_all(name)`.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.entries
            .iter()
            .filter(move |e| self.is_named(e, name))
            .map(|e| pair(&self.text, e).1)
    }

    /// Iterates over the pairs, in order, without copying.
    ///
    /// Python: `headers.items()`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            entries: self.entries.iter(),
        }
    }

    /// The bytes of the names and values (what [`write_lines`](Self::write_lines) writes,
    /// less its `": "` and CRLFs).
    ///
    /// Python: no equivalent.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Appends each field as a `Name: value` line ending in CRLF, values in Latin-1
    /// (lossless: they were checked to be).
    ///
    /// Python: the lines of `bytes(headers)` (`wsgiref.headers.Headers.__bytes__`), without
    /// the blank line.
    pub fn write_lines(&self, out: &mut Vec<u8>) {
        out.reserve(self.text.len() + 4 * self.entries.len());
        for (k, v) in self {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            crate::latin1::encode_into(v, out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_each_fault() {
        assert_eq!(check("", "v"), Err(FieldError::EmptyName));
        for bad in ["X Y", "X:", "X\r", "é"] {
            assert_eq!(check(bad, "v"), Err(FieldError::NameNotToken), "{bad:?}");
        }
        assert_eq!(check("X", "a\rb"), Err(FieldError::LineBreak));
        assert_eq!(check("X", "a\nb"), Err(FieldError::LineBreak));
        assert_eq!(check("X", "a\0b"), Err(FieldError::Nul));
        for c in ['\u{1}', '\u{1f}', '\u{7f}', '\u{b}'] {
            assert_eq!(
                check("X", &format!("a{c}b")),
                Err(FieldError::Control),
                "{c:?}"
            );
        }
        assert_eq!(check("X", "\u{100}"), Err(FieldError::NotLatin1));
        for ok in ["", "a\tb", "caf\u{e9}", "\u{ff}", "~ !"] {
            assert_eq!(check("X-Ok", ok), Ok(()), "{ok:?}");
        }
        assert!(FieldError::EmptyName.is_name() && !FieldError::Nul.is_name());
        assert_eq!(
            FieldError::Control.reason(),
            FieldError::Control.to_string()
        );
    }

    #[test]
    fn refused_fields_leave_the_list_as_it_was() {
        let mut f = Fields::new();
        f.push("A", "1").unwrap();
        assert!(f.push("B", "x\r\nC: 2").is_err());
        assert!(f.push("B C", "2").is_err());
        assert_eq!(f.iter().collect::<Vec<_>>(), [("A", "1")]);
    }

    #[test]
    fn lines_are_latin1_and_lossless() {
        let mut f = Fields::new();
        f.push("X-L1", "caf\u{e9}").unwrap();
        f.push("Content-Length", "1").unwrap();
        f.set_content_length(12345);
        let mut out = Vec::new();
        f.write_lines(&mut out);
        assert_eq!(out, b"X-L1: caf\xe9\r\nContent-Length: 12345\r\n");
    }

    #[test]
    fn removal_compacts_and_keeps_order() {
        let mut f = Fields::new();
        for i in 0..200 {
            f.remove("X-Counter");
            f.push("X-Counter", &"v".repeat(i)).unwrap();
            f.push("X-Keep", &i.to_string()).unwrap();
        }
        assert!(f.text_len() < 4096, "compacted: {}", f.text_len());
        assert_eq!(f.get("x-counter").map(str::len), Some(199));
        assert_eq!(f.get_all("X-KEEP").count(), 200);
        assert_eq!(f.iter().next_back(), Some(("X-Keep", "199")));
        assert_eq!(f.clone(), f);
    }

    #[test]
    fn dropped_lists_lend_their_buffers_empty() {
        std::thread::spawn(|| {
            let mut f = Fields::with_capacity(4);
            f.push("Content-Type", "text/plain").unwrap();
            let cap = f.text.capacity();
            drop(f);
            let again = Fields::with_capacity(1);
            assert!(again.is_empty() && again.text.is_empty());
            assert_eq!(again.text.capacity(), cap);
            assert_eq!(again.get("Content-Type"), None);
        })
        .join()
        .unwrap();
    }
}
