//! ASCII byte classes: RFC 9110 tokens, printable text, and bytes known to be ASCII seen
//! as `&str`.
//!
//! The workspace's one `as_str` is the only `unsafe` of this crate, argued below and
//! tested: it skips the second validation pass `str::from_utf8` would make after
//! `is_ascii` (header names and values, request lines: a few times per request).

#![allow(unsafe_code)]

/// `bytes` as text when every byte is ASCII; `None` otherwise.
///
/// ```
/// assert_eq!(stdx::ascii::as_str(b"GET"), Some("GET"));
/// assert_eq!(stdx::ascii::as_str(b"caf\xe9"), None);
/// ```
pub fn as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and a sequence of such bytes is valid UTF-8
        // (each byte is a one-byte code point), which is all `from_utf8_unchecked` requires.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

/// RFC 9110 `tchar`: letters, digits and ``!#$%&'*+-.^_`|~``, as a table (one load per
/// byte).
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// True for a byte of an RFC 9110 token (`tchar`).
///
/// ```
/// assert!(stdx::ascii::is_tchar(b'~') && !stdx::ascii::is_tchar(b':'));
/// ```
#[inline]
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// True when `bytes` is an RFC 9110 token: one or more `tchar`s (a header name, a
/// method, a chunk extension's name).
///
/// ```
/// assert!(stdx::ascii::is_token(b"X-Request-Id"));
/// assert!(!stdx::ascii::is_token(b"") && !stdx::ascii::is_token(b"Bad Name"));
/// ```
pub fn is_token(bytes: &[u8]) -> bool {
    // Branch-free over the bytes: names are short, and an early exit costs a branch each.
    !bytes.is_empty() && bytes.iter().fold(true, |ok, &b| ok & is_tchar(b))
}

/// True when every byte is HTAB or printable ASCII (SP to `~`): the usual header value,
/// status reason or `Server` string. Branch-free over the bytes, so the compiler checks
/// many at once.
///
/// ```
/// assert!(stdx::ascii::printable(b"text/plain; charset=utf-8\t"));
/// assert!(!stdx::ascii::printable(b"a\r\nb") && !stdx::ascii::printable(b"caf\xe9"));
/// ```
pub fn printable(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        ok & ((b == b'\t') | (b' '..=b'~').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_takes_ascii_only() {
        assert_eq!(as_str(b""), Some(""));
        assert_eq!(as_str(b"GET / HTTP/1.1\r\n"), Some("GET / HTTP/1.1\r\n"));
        let all_ascii: Vec<u8> = (0u8..0x80).collect();
        assert_eq!(as_str(&all_ascii).map(str::as_bytes), Some(&all_ascii[..]));
        // Any byte from 0x80 up is refused, alone or inside valid UTF-8.
        for b in 0x80..=0xffu8 {
            assert_eq!(as_str(&[b'a', b]), None);
        }
        assert_eq!(as_str("é".as_bytes()), None);
    }

    #[test]
    fn tchar_is_rfc_9110s() {
        let listed =
            b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), listed.contains(&b), "{b:#x}");
        }
    }

    #[test]
    fn printable_agrees_with_a_byte_loop_everywhere() {
        // Every byte value at every place of strings of 1 to 17 bytes.
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let want = b == b'\t' || (b' '..=b'~').contains(&b);
                    assert_eq!(printable(&s), want, "{s:?}");
                }
            }
        }
    }
}
