//! `Headers` as a value: equality and `Debug` see the fields only (not how they are stored,
//! nor what `remove` left behind), and a parsed head's fields read back as sent.

use http_server::{Headers, HttpConfig, Parsed, parse_request};

#[test]
fn equality_and_debug_see_the_fields_only() {
    let mut edited = Headers::new();
    edited.push("Host", b"a".to_vec());
    edited.push("X-Gone", b"1".to_vec());
    edited.push("x-gone", b"2".to_vec());
    edited.push("B", b"\xe9".to_vec());
    edited.remove("X-GONE");
    let mut fresh = Headers::with_capacity(2);
    fresh.push("Host", "a");
    fresh.push("B", b"\xe9".to_vec());
    assert_eq!(edited, fresh);
    assert_eq!(edited.len(), 2);
    assert_eq!(
        format!("{edited:?}"),
        r#"Headers { fields: [("Host", [97]), ("B", [233])] }"#
    );
    fresh.push("C", "");
    assert_ne!(edited, fresh);
    let mut reordered = Headers::new();
    reordered.push("B", b"\xe9".to_vec());
    reordered.push("Host", "a");
    assert_ne!(edited, reordered);
    assert_eq!(edited.clone(), edited);
}

#[test]
fn parsed_fields_read_back_as_sent() {
    let cfg = HttpConfig::default().protocol_version("HTTP/1.1");
    let buf = b"GET / HTTP/1.1\r\nHost: h:1\r\nX-A:\t 1 \t\r\nx-a: caf\xe9\r\nEmpty:\r\n\r\n";
    let Ok(Parsed::Complete { mut head, .. }) = parse_request(buf, &cfg) else {
        panic!("not parsed");
    };
    let h = &head.headers;
    let fields: Vec<(&str, &[u8])> = h.iter().collect();
    assert_eq!(
        fields,
        [
            ("Host", &b"h:1"[..]),
            ("X-A", b"1"),
            ("x-a", b"caf\xe9"),
            ("Empty", b"")
        ]
    );
    assert_eq!(h.get("X-a").as_deref(), Some("1"));
    assert_eq!(
        h.get_all("x-A").collect::<Vec<_>>(),
        [&b"1"[..], b"caf\xe9"]
    );
    assert_eq!(h.get("x-missing"), None);
    head.headers.remove("host");
    head.headers.push("Host", "other");
    assert_eq!(head.headers.get_raw("HOST"), Some(&b"other"[..]));
    assert_eq!(head.headers.iter().last(), Some(("Host", &b"other"[..])));
}
