//! Fuzz target: `gateway::headers::Headers` driven by a byte script (append, set, delete,
//! setdefault, add_header). Invariants: no panic; whatever was accepted serialises to one
//! `name: value` CRLF line per field (no value can split the response).
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
    // Every accepted pair is exactly one `name: value` line: nothing can split the
    // response, and no value holds a control character but HTAB (RFC 9110 §5.5; this
    // target found that `\x01` used to be accepted).
    let bytes = h.to_bytes();
    assert!(bytes.ends_with(b"\r\n\r\n") || (h.is_empty() && bytes == b"\r\n"));
    let lines: Vec<&[u8]> = bytes[..bytes.len() - 2]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), h.len(), "{bytes:?}");
    for (line, (name, _)) in lines.iter().zip(h.iter()) {
        let line = line.strip_suffix(b"\r").expect("CRLF line ends");
        assert!(!line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f));
        assert!(line.starts_with(name.as_bytes()) && line[name.len()..].starts_with(b": "));
    }
});
