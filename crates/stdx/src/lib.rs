//! `stdx`: the byte-level helpers the pyserve crates share, each written once.
//!
//! `socketserver`, `http_server` and `gateway` all need a few small things: the RFC 9110
//! `tchar` table, ASCII and printable checks, the rule a response header field must meet
//! (and a list that holds only such fields), Latin-1 ("native string") conversions,
//! Python's `repr()` of a `str`, the `Date` header's text, the message of a caught panic.
//! They live here, once, so the crates above agree on them (two `repr`s that disagreed
//! on `\u` escapes is how this crate started).
//!
//! # Porting from Python
//!
//! Nothing here is a Python module; each item names the Python behaviour it reproduces
//! (`str.isprintable`, `repr`, `bytes.decode('iso-8859-1')`, `email.utils.formatdate`).
//! See `docs/porting-map.md` for where each Python name lives.
//!
//! ```
//! assert!(stdx::ascii::is_token(b"Content-Type"));
//! assert_eq!(stdx::repr::py_repr("it's"), r#""it's""#);
//! assert_eq!(stdx::latin1::decode(b"caf\xe9"), "caf\u{e9}");
//! assert_eq!(stdx::decimal(1234, &mut [0; 20]), "1234");
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

include!(concat!(env!("OUT_DIR"), "/rustc_version.rs"));

pub mod ascii;
pub mod date;
pub mod field;
pub mod latin1;
pub mod repr;

/// `n` in decimal, written into `buf` without the formatting machinery (a `Content-Length`
/// or a status code per response).
///
/// Python: `str(n)`.
///
/// ```
/// assert_eq!(stdx::decimal(0, &mut [0; 20]), "0");
/// assert_eq!(stdx::decimal(u64::MAX, &mut [0; 20]), "18446744073709551615");
/// ```
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    ascii::as_str(&buf[i..]).unwrap_or_default()
}

/// An IPv4 address in dotted-quad form (`127.0.0.1`), written into `buf` without the
/// formatting machinery (`Ipv4Addr`'s `Display` costs about a thousand instructions; a
/// client's address is printed per request).
///
/// Python: `ipaddress.IPv4Address.__str__`, as `client_address[0]` holds it.
///
/// ```
/// let ip = std::net::Ipv4Addr::new(192, 168, 0, 10);
/// assert_eq!(stdx::dotted_quad(ip, &mut [0; 15]), "192.168.0.10");
/// ```
#[doc(alias = "ipaddress.IPv4Address.__str__")]
pub fn dotted_quad(ip: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            buf[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            buf[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + octet % 10;
        n += 1;
    }
    ascii::as_str(&buf[..n]).unwrap_or_default()
}

/// The message of a caught panic (`catch_unwind`'s payload): the `&str` or `String` it
/// carries, or a placeholder.
///
/// Python: `str(exc)` of the exception a handler raised.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(stdx::panic_message(&*payload), "boom 1");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_to_string() {
        let mut buf = [0u8; 20];
        for n in [
            0,
            1,
            9,
            10,
            13,
            99,
            100,
            4096,
            1 << 32,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
        for n in (0..100_000u64).step_by(7) {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn dotted_quad_matches_display() {
        let mut buf = [0u8; 15];
        for ip in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [9, 10, 99, 100],
            [255, 255, 255, 255],
        ] {
            let ip = std::net::Ipv4Addr::from(ip);
            assert_eq!(dotted_quad(ip, &mut buf), ip.to_string());
        }
        for n in (0..=u32::MAX).step_by(65_537) {
            let ip = std::net::Ipv4Addr::from(n);
            assert_eq!(dotted_quad(ip, &mut buf), ip.to_string());
        }
    }
}
