//! Unit tests of the request parser.

use super::*;

#[test]
fn simple_get() {
    let cfg = HttpConfig::default();
    let Parsed::Complete { head, consumed } =
        parse_request(b"GET / HTTP/1.0\r\n\r\n", &cfg).unwrap()
    else {
        panic!("incomplete")
    };
    assert_eq!(consumed, 18);
    assert_eq!(head.line.command, "GET");
}

/// Header values are judged the same way whether the block is short (scalar check) or
/// long (httparse over the whole block): control characters refused, obs-text accepted.
#[test]
fn header_value_bytes_short_and_long_blocks() {
    let cfg = HttpConfig::default();
    let filler: String = (0..20)
        .map(|i| format!("X-Fill-{i}: {}\r\n", "v".repeat(30)))
        .collect();
    for pad in ["", filler.as_str()] {
        let block = format!("Host: a\r\n{pad}X-Ok: caf\u{e9}\r\n\r\n");
        // The value is sent as Latin-1 bytes (obs-text), not UTF-8.
        let bytes: Vec<u8> = block.chars().map(|c| c as u8).collect();
        let h = parse_headers(&bytes, &cfg).expect("obs-text is allowed");
        assert_eq!(h.get_raw("X-Ok"), Some(&b"caf\xe9"[..]));
        for bad in [b'\x01', b'\x7f', b'\0'] {
            let mut bytes = format!("Host: a\r\n{pad}X-Bad: a").into_bytes();
            bytes.push(bad);
            bytes.extend_from_slice(b"b\r\n\r\n");
            let e = parse_headers(&bytes, &cfg).unwrap_err();
            assert_eq!(e.code, 400, "byte {bad:#x}, block of {} bytes", bytes.len());
            assert_eq!(
                e.explain.as_deref(),
                Some("invalid characters in the header value")
            );
        }
    }
    assert!(filler.len() > 512, "the long block takes httparse's path");
}

/// The `tchar` table is RFC 9110's definition, byte for byte.
#[test]
fn tchar_table_matches_the_rfc() {
    for b in 0..=255u8 {
        let rfc = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        assert_eq!(is_tchar(b), rfc, "byte {b:#04x}");
    }
}

/// The reg-name table is RFC 3986's `unreserved` and `sub-delims`, byte for byte.
#[test]
fn reg_name_table_matches_the_rfc() {
    for b in 0..=255u8 {
        let rfc = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b);
        assert_eq!(REG_NAME[usize::from(b)], rfc, "byte {b:#04x}");
    }
}

/// The ASCII whitespace table is `is_py_space` on ASCII chars (Python's `str.isspace`).
#[test]
fn py_space_table_matches_is_py_space() {
    for b in 0..128u8 {
        assert_eq!(
            PY_SPACE[usize::from(b)],
            is_py_space(char::from(b)),
            "byte {b:#04x}"
        );
    }
}

#[test]
fn valid_authority_fast_path_agrees_with_the_rules() {
    // Every string of up to three bytes over an alphabet of each byte class the rules
    // treat apart, plus longer usual and unusual values.
    let alphabet: &[u8] = b"a1.-:[]%fv \x00\xe9@/";
    let mut values: Vec<Vec<u8>> = vec![Vec::new()];
    for len in 1..=3 {
        let mut idx = vec![0usize; len];
        loop {
            values.push(idx.iter().map(|&i| alphabet[i]).collect());
            let mut k = 0;
            while k < len {
                idx[k] += 1;
                if idx[k] < alphabet.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
            if k == len {
                break;
            }
        }
    }
    for v in [
        "127.0.0.1:18203",
        "example.com",
        "example.com:",
        "example.com:123456",
        "example.com:8o",
        "ex%41mple.com:80",
        "ex%4",
        "[::1]:8080",
        "[v1.x]",
        "a:b:c",
        "user@host",
    ] {
        values.push(v.as_bytes().to_vec());
    }
    for v in &values {
        assert_eq!(
            valid_authority(v),
            authority_rules(v),
            "{:?}",
            String::from_utf8_lossy(v)
        );
    }
}
