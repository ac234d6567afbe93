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
