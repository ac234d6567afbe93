//! Bytes known to be ASCII as `&str`, without the second validation pass `str::from_utf8`
//! would make after `is_ascii` (header names and values, request lines: a few times per
//! request on the hot path).
//!
//! The crate's only `unsafe`, argued below and tested. `gateway` has the same module:
//! `gateway`'s core does not depend on this crate (the WSGI core stays free of HTTP), and the
//! safe alternative costs 1-2% of a request's instructions.

#![allow(unsafe_code)]

/// `bytes` as text when every byte is ASCII; `None` otherwise.
pub(crate) fn as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and a sequence of such bytes is valid UTF-8
        // (each byte is a one-byte code point), which is all `from_utf8_unchecked` requires.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::as_str;

    #[test]
    fn ascii_only() {
        assert_eq!(as_str(b""), Some(""));
        assert_eq!(as_str(b"GET / HTTP/1.1\r\n"), Some("GET / HTTP/1.1\r\n"));
        let all_ascii: Vec<u8> = (0u8..0x80).collect();
        assert_eq!(as_str(&all_ascii).map(str::len), Some(128));
        assert_eq!(as_str(&all_ascii).map(str::as_bytes), Some(&all_ascii[..]));
        // Any byte from 0x80 up is refused, alone or inside valid UTF-8.
        for b in 0x80..=0xffu8 {
            assert_eq!(as_str(&[b'a', b]), None);
        }
        assert_eq!(as_str("é".as_bytes()), None);
    }
}
