//! Latin-1 (ISO-8859-1): PEP 3333's "native strings" map bytes to chars one to one.
//!
//! Python: `bytes.decode('iso-8859-1')` and `str.encode('iso-8859-1')`.

/// Decodes bytes as Latin-1: each byte becomes the char of the same value.
///
/// Python: `bytes.decode('iso-8859-1')`.
///
/// ```
/// assert_eq!(stdx::latin1::decode(b"\xc3\xa4"), "\u{c3}\u{a4}");
/// ```
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::new();
    decode_into(bytes, &mut out);
    out
}

/// [`decode`], borrowed when `bytes` are ASCII (the usual header value): no allocation.
///
/// Python: `bytes.decode('iso-8859-1')`.
///
/// ```
/// use std::borrow::Cow;
/// assert!(matches!(stdx::latin1::decode_cow(b"curl/8"), Cow::Borrowed("curl/8")));
/// assert_eq!(stdx::latin1::decode_cow(b"\xe9"), "\u{e9}");
/// ```
#[doc(alias = "bytes.decode")]
pub fn decode_cow(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match crate::ascii::as_str(bytes) {
        Some(text) => std::borrow::Cow::Borrowed(text),
        None => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// [`decode`], appending to `out` (no allocation when `out` has room).
///
/// ```
/// let mut s = String::from("a=");
/// stdx::latin1::decode_into(b"\xe9", &mut s);
/// assert_eq!(s, "a=\u{e9}");
/// ```
pub fn decode_into(bytes: &[u8], out: &mut String) {
    match crate::ascii::as_str(bytes) {
        // ASCII is valid UTF-8 with the same chars.
        Some(text) => out.push_str(text),
        None => out.extend(bytes.iter().map(|&b| char::from(b))),
    }
}

/// Encodes a string as Latin-1; `None` when a char is beyond U+00FF (where Python raises
/// `UnicodeEncodeError`).
///
/// Python: `str.encode('iso-8859-1')`.
///
/// ```
/// assert_eq!(stdx::latin1::encode("\u{c3}\u{a4}"), Some(vec![0xc3, 0xa4]));
/// assert_eq!(stdx::latin1::encode("\u{20ac}"), None);
/// ```
pub fn encode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    encode_into(s, &mut out).then_some(out)
}

/// [`encode`], appending to `out`; false (and `out` unchanged) when a char is beyond
/// U+00FF.
///
/// ```
/// let mut out = b"x".to_vec();
/// assert!(stdx::latin1::encode_into("\u{e9}", &mut out));
/// assert!(!stdx::latin1::encode_into("\u{20ac}", &mut out));
/// assert_eq!(out, b"x\xe9");
/// ```
#[inline]
pub fn encode_into(s: &str, out: &mut Vec<u8>) -> bool {
    if s.is_ascii() {
        out.extend_from_slice(s.as_bytes());
        true
    } else {
        encode_beyond_ascii(s, out)
    }
}

/// [`encode_into`] for text that is not all ASCII.
fn encode_beyond_ascii(s: &str, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => {
                out.truncate(start);
                return false;
            }
        }
    }
    true
}

/// True when every char of `s` is at most U+00FF (a valid PEP 3333 native string).
///
/// ```
/// assert!(stdx::latin1::is_latin1("caf\u{e9}") && !stdx::latin1::is_latin1("\u{20ac}"));
/// ```
pub fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        let text = decode(&all);
        assert_eq!(text.chars().count(), 256);
        assert!(is_latin1(&text));
        assert_eq!(encode(&text), Some(all));
    }
}
