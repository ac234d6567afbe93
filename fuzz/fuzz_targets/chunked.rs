//! Fuzz target: the chunked decoder (`http_server::h1::chunked`). The input is fed whole and
//! in pieces (the first byte picks the piece size); both must agree, never panic, and a
//! complete body never spans more than the input. Re-encoding what was decoded and decoding
//! again gives the same bytes.
#![no_main]

use http_server::h1::chunked::{ChunkedDecoder, ChunkedLimits, encode_chunk, encode_last_chunk};
use libfuzzer_sys::fuzz_target;

fn limits() -> ChunkedLimits {
    ChunkedLimits {
        max_body: 1 << 16,
        max_size_line: 256,
        max_trailers: 1024,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let mut whole = ChunkedDecoder::new(limits());
    let whole_result = whole.feed(body);
    if let Ok(Some(n)) = whole_result {
        assert!(n <= body.len());
    }
    let step = usize::from(step).max(1);
    let mut pieces = ChunkedDecoder::new(limits());
    let mut end = 0;
    let pieces_result = loop {
        end = (end + step).min(body.len());
        match pieces.feed(&body[..end]) {
            Ok(None) if end < body.len() => continue,
            other => break other,
        }
    };
    assert_eq!(whole_result, pieces_result);
    if let Ok(Some(_)) = whole_result {
        assert_eq!(whole.decoded(), pieces.decoded());
        let mut wire = Vec::new();
        encode_chunk(whole.decoded(), &mut wire);
        encode_last_chunk(&mut wire);
        let mut again = ChunkedDecoder::new(limits());
        assert_eq!(again.feed(&wire), Ok(Some(wire.len())));
        assert_eq!(again.decoded(), whole.decoded());
    }
});
