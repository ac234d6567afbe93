//! Tests of `Headers`, ported from CPython's `HeaderTests`.

use super::*;

#[test]
fn test_mapping_interface() {
    // CPython: Lib/test/test_wsgiref.py::HeaderTests::testMappingInterface
    let test = vec![("x".to_owned(), "y".to_owned())];
    assert_eq!(Headers::new().len(), 0);
    assert_eq!(
        Headers::from_pairs(Vec::<(String, String)>::new())
            .unwrap()
            .len(),
        0
    );
    let h = Headers::from_pairs(test.clone()).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h.keys(), vec!["x"]);
    assert_eq!(h.values(), vec!["y"]);
    assert_eq!(h.items(), test);

    let mut h = Headers::new();
    h.delete("foo"); // no error
    h.set("Foo", "bar").unwrap();
    for name in ["foo", "Foo", "FOO"] {
        assert!(h.contains(name));
        assert!(h.get(name).is_some());
        assert!(!h.get_all(name).is_empty());
    }
    assert!(!h.contains("bar"));
    assert!(h.get("bar").is_none());
    assert!(h.get_all("bar").is_empty());

    assert_eq!(h.get("foo"), Some("bar"));
    h.set("foo", "baz").unwrap();
    assert_eq!(h.get("FOO"), Some("baz"));
    assert_eq!(h.get_all("foo"), vec!["baz"]);

    assert_eq!(h.get("foo").unwrap_or("whee"), "baz");
    assert_eq!(h.get("zoo").unwrap_or("whee"), "whee");
    assert_eq!(h.setdefault("foo", "whee").unwrap(), "baz");
    assert_eq!(h.setdefault("zoo", "whee").unwrap(), "whee");
    assert_eq!(h.get("foo"), Some("baz"));
    assert_eq!(h.get("zoo"), Some("whee"));
}

#[test]
fn test_extras() {
    // CPython: Lib/test/test_wsgiref.py::HeaderTests::testExtras
    let mut h = Headers::new();
    assert_eq!(h.to_string(), "\r\n");
    h.add_header("foo", Some("bar"), &[("baz", Some("spam"))])
        .unwrap();
    assert_eq!(h.get("foo"), Some("bar; baz=\"spam\""));
    assert_eq!(h.to_string(), "foo: bar; baz=\"spam\"\r\n\r\n");
    h.add_header("Foo", Some("bar"), &[("cheese", None)])
        .unwrap();
    assert_eq!(h.get_all("foo"), vec!["bar; baz=\"spam\"", "bar; cheese"]);
    assert_eq!(
        h.to_string(),
        "foo: bar; baz=\"spam\"\r\nFoo: bar; cheese\r\n\r\n"
    );
    assert_eq!(h.to_bytes(), h.to_string().into_bytes());
}

#[test]
fn add_header_params_quote_and_dash() {
    let mut h = Headers::new();
    h.add_header(
        "Content-Disposition",
        Some("attachment"),
        &[("file_name", Some("a \"b\"\\c")), ("size", Some(""))],
    )
    .unwrap();
    assert_eq!(
        h.get("content-disposition"),
        Some("attachment; file-name=\"a \\\"b\\\"\\\\c\"; size")
    );
    h.add_header("X-Only-Params", None, &[("a", Some("1"))])
        .unwrap();
    assert_eq!(h.get("x-only-params"), Some("a=\"1\""));
}

#[test]
fn refuses_cr_lf_and_bad_names() {
    let mut h = Headers::new();
    assert!(matches!(
        h.set("X", "a\rb"),
        Err(Error::InvalidHeaderValue { .. })
    ));
    assert!(matches!(
        h.set("X", "a\nb"),
        Err(Error::InvalidHeaderValue { .. })
    ));
    assert!(matches!(
        h.append("X Y", "v"),
        Err(Error::InvalidHeaderName { .. })
    ));
    assert!(matches!(
        h.setdefault("X:", "v"),
        Err(Error::InvalidHeaderName { .. })
    ));
    assert!(matches!(
        h.add_header("X", Some("v"), &[("p", Some("a\r\n"))]),
        Err(Error::InvalidHeaderValue { .. })
    ));
    assert!(h.is_empty());
}

#[test]
fn repr_and_bytes() {
    let h = Headers::from_pairs([("Content-Type", "text/plain"), ("X-L1", "caf\u{e9}")]).unwrap();
    assert_eq!(
        format!("{h:?}"),
        "Headers([('Content-Type', 'text/plain'), ('X-L1', 'caf\u{e9}')])"
    );
    assert_eq!(
        h.to_bytes(),
        b"Content-Type: text/plain\r\nX-L1: caf\xe9\r\n\r\n".to_vec()
    );
    let pairs: Vec<(&str, &str)> = (&h).into_iter().collect();
    assert_eq!(pairs[0], ("Content-Type", "text/plain"));
    assert_eq!(h.iter().count(), 2);
}

#[test]
fn control_characters_in_values_are_refused() {
    // Found by the `headers` fuzz target: RFC 9110 section 5.5 allows only HTAB, SP and
    // visible characters (plus obs-text) in a field value.
    let mut h = Headers::new();
    for bad in ["a\u{1}b", "\u{1b}[31m", "x\u{7f}"] {
        assert!(
            matches!(h.set("X-Test", bad), Err(Error::InvalidHeaderValue { .. })),
            "{bad:?}"
        );
    }
    h.set("X-Tab", "a\tb").unwrap();
    assert_eq!(h.get("x-tab"), Some("a\tb"));
}

#[test]
fn packed_list_survives_many_sets_and_deletes() {
    // The packed text keeps deleted headers' bytes until it compacts: the list must read
    // the same as a plain model throughout, and stay small.
    let mut h = Headers::new();
    let mut model: Vec<(String, String)> = Vec::new();
    for i in 0..2_000 {
        let name = format!("X-{}", i % 7);
        let value = format!("value {i} {}", "v".repeat(i % 50));
        h.set(name.as_str(), value.as_str()).unwrap();
        model.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        model.push((name.clone(), value));
        if i % 5 == 0 {
            let gone = format!("x-{}", (i / 5) % 7);
            h.delete(&gone);
            model.retain(|(k, _)| !k.eq_ignore_ascii_case(&gone));
        }
        if i % 97 == 0 {
            h.append("Set-Cookie", format!("c={i}")).unwrap();
            model.push(("Set-Cookie".to_owned(), format!("c={i}")));
        }
        assert_eq!(h.items(), model, "after step {i}");
    }
    let live: usize = model.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(
        h.fields().text_len() <= 2 * live + 256 + 200,
        "{} bytes",
        h.fields().text_len()
    );
    assert_eq!(h.get("SET-COOKIE"), Some("c=0"));
    assert_eq!(h.get_all("set-cookie").len(), 21);
}

#[test]
fn clone_and_equality_compare_the_pairs() {
    let mut a = Headers::new();
    a.set("A", "1").unwrap();
    a.set("B", "2").unwrap();
    a.set("A", "3").unwrap();
    let mut b = Headers::new();
    b.append("B", "2").unwrap();
    b.append("A", "3").unwrap();
    // The same pairs, whatever deleted text `a` still carries.
    assert_eq!(a, b);
    assert_eq!(a.clone(), b);
    b.append("C", "4").unwrap();
    assert_ne!(a, b);
    let pairs: Vec<_> = b.iter().rev().collect();
    assert_eq!(pairs, [("C", "4"), ("A", "3"), ("B", "2")]);
}
