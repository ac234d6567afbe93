//! Fuzz target: `gateway::headers::Headers` driven by a byte script (append, set, delete,
//! setdefault, add_header). Invariants: no panic; whatever was accepted serialises to lines
//! that parse back as the same header fields (no value can split the response).
#![no_main]

use gateway::headers::Headers;
use libfuzzer_sys::fuzz_target;

fn text(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fuzz_target!(|data: &[u8]| {
    let mut h = Headers::new();
    for op in data.split(|&b| b == 0xff) {
        let Some((&kind, rest)) = op.split_first() else {
            continue;
        };
        let mid = rest.iter().position(|&b| b == 0xfe).unwrap_or(rest.len());
        let name = text(&rest[..mid]);
        let value = text(rest.get(mid + 1..).unwrap_or_default());
        match kind % 5 {
            0 => {
                let _ = h.append(name.clone(), value);
            }
            1 => {
                let _ = h.set(name.clone(), value);
            }
            2 => h.delete(&name),
            3 => {
                let _ = h.setdefault(&name, &value);
            }
            _ => {
                let _ = h.add_header(&name, Some(&value), &[("a_b", Some(&value)), ("c", None)]);
            }
        }
        let _ = h.get(&name);
        let _ = h.get_all(&name);
    }
    let bytes = h.to_bytes();
    let mut fields = [httparse::EMPTY_HEADER; 256];
    if h.len() <= fields.len() {
        match httparse::parse_headers(&bytes, &mut fields) {
            Ok(httparse::Status::Complete((n, parsed))) => {
                assert_eq!(n, bytes.len());
                assert_eq!(parsed.len(), h.len());
            }
            other => panic!("headers do not read back: {other:?} {bytes:?}"),
        }
    }
});
