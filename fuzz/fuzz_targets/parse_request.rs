//! Fuzz target: `http_server::parse_request` on arbitrary bytes, with CPython's limits and
//! with small ones. Invariants: no panic; a complete head never claims more bytes than it was
//! given, and parsing that prefix alone gives the same head; errors are 4xx/5xx.
#![no_main]

use http_server::{HttpConfig, Parsed, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut small = HttpConfig::default().protocol_version("HTTP/1.1");
    small.max_line = 64;
    small.max_headers = 8;
    for config in [HttpConfig::default(), small] {
        match parse_request(data, &config) {
            Ok(Parsed::Complete { head, consumed }) => {
                assert!(consumed <= data.len());
                match parse_request(&data[..consumed], &config) {
                    Ok(Parsed::Complete { head: again, consumed: c2 }) => {
                        assert_eq!(c2, consumed);
                        assert_eq!(again, head);
                    }
                    other => panic!("prefix parsed differently: {other:?}"),
                }
            }
            Ok(Parsed::Empty { consumed }) => assert!(consumed > 0 && consumed <= data.len()),
            Ok(Parsed::Partial) => {}
            Err(e) => assert!((400..600).contains(&e.code), "{e:?}"),
        }
    }
});
