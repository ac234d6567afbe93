//! Tests of `util`, ported from CPython's `UtilityTests`, and the differential test of
//! `py_repr` against the Python on this machine.

use std::io::Cursor;

use super::*;

fn env_of(kw: &[(&str, &str)]) -> Environ {
    Environ::from_vars(kw.iter().copied())
}

fn check_shift(sn_in: &str, pi_in: &str, part: Option<&str>, sn_out: &str, pi_out: &str) {
    let mut env = env_of(&[("SCRIPT_NAME", sn_in), ("PATH_INFO", pi_in)]);
    setup_testing_defaults(&mut env);
    assert_eq!(
        shift_path_info(&mut env).as_deref(),
        part,
        "{sn_in:?} {pi_in:?}"
    );
    assert_eq!(env.get("PATH_INFO"), Some(pi_out), "{sn_in:?} {pi_in:?}");
    assert_eq!(env.get("SCRIPT_NAME"), Some(sn_out), "{sn_in:?} {pi_in:?}");
}

#[test]
fn test_simple_shifts() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testSimpleShifts
    check_shift("", "/", Some(""), "/", "");
    check_shift("", "/x", Some("x"), "/x", "");
    check_shift("/", "", None, "/", "");
    check_shift("/a", "/x/y", Some("x"), "/a/x", "/y");
    check_shift("/a", "/x/", Some("x"), "/a/x", "/");
}

#[test]
fn test_normalized_shifts() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testNormalizedShifts
    check_shift("/a/b", "/../y", Some(".."), "/a", "/y");
    check_shift("", "/../y", Some(".."), "", "/y");
    check_shift("/a/b", "//y", Some("y"), "/a/b/y", "");
    check_shift("/a/b", "//y/", Some("y"), "/a/b/y", "/");
    check_shift("/a/b", "/./y", Some("y"), "/a/b/y", "");
    check_shift("/a/b", "/./y/", Some("y"), "/a/b/y", "/");
    check_shift("/a/b", "///./..//y/.//", Some(".."), "/a", "/y/");
    check_shift("/a/b", "///", Some(""), "/a/b/", "");
    check_shift("/a/b", "/.//", Some(""), "/a/b/", "");
    check_shift("/a/b", "/x//", Some("x"), "/a/b/x", "/");
    check_shift("/a/b", "/.", None, "/a/b", "");
}

#[test]
fn test_defaults() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testDefaults
    for (key, value) in [
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", "80"),
        ("SERVER_PROTOCOL", "HTTP/1.0"),
        ("HTTP_HOST", "127.0.0.1"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", "/"),
        ("wsgi.url_scheme", "http"),
    ] {
        let mut env = Environ::new();
        setup_testing_defaults(&mut env);
        assert_eq!(env.get(key), Some(value), "{key}");
        // An existing value is kept.
        let mut env = env_of(&[(key, "alt")]);
        setup_testing_defaults(&mut env);
        assert_eq!(env.get(key), Some("alt"), "{key}");
    }
    let mut env = Environ::new();
    setup_testing_defaults(&mut env);
    assert_eq!(env.version(), (1, 0));
    assert!(!env.run_once() && !env.multithread() && !env.multiprocess());
    assert!(env.has_input() && env.has_errors());
    assert_eq!(env.input().read_size(10).unwrap(), b"");
}

#[test]
fn test_cross_defaults() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testCrossDefaults
    let check = |key: &str, value: &str, kw: &[(&str, &str)]| {
        let mut env = env_of(kw);
        setup_testing_defaults(&mut env);
        assert_eq!(env.get(key), Some(value), "{key} {kw:?}");
    };
    check("HTTP_HOST", "foo.bar", &[("SERVER_NAME", "foo.bar")]);
    check("wsgi.url_scheme", "https", &[("HTTPS", "on")]);
    check("wsgi.url_scheme", "https", &[("HTTPS", "1")]);
    check("wsgi.url_scheme", "https", &[("HTTPS", "yes")]);
    check("wsgi.url_scheme", "http", &[("HTTPS", "foo")]);
    check("SERVER_PORT", "80", &[("HTTPS", "foo")]);
    check("SERVER_PORT", "443", &[("HTTPS", "on")]);
}

#[test]
fn test_guess_scheme() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testGuessScheme
    assert_eq!(guess_scheme(&Environ::new()), "http");
    assert_eq!(guess_scheme(&env_of(&[("HTTPS", "foo")])), "http");
    assert_eq!(guess_scheme(&env_of(&[("HTTPS", "on")])), "https");
    assert_eq!(guess_scheme(&env_of(&[("HTTPS", "yes")])), "https");
    assert_eq!(guess_scheme(&env_of(&[("HTTPS", "1")])), "https");
}

fn check_app_uri(uri: &str, kw: &[(&str, &str)]) {
    let mut env = env_of(kw);
    setup_testing_defaults(&mut env);
    assert_eq!(application_uri(&env), uri, "{kw:?}");
}

#[test]
fn test_app_uris() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testAppURIs
    check_app_uri("http://127.0.0.1/", &[]);
    check_app_uri("http://127.0.0.1/spam", &[("SCRIPT_NAME", "/spam")]);
    check_app_uri("http://127.0.0.1/sp%E4m", &[("SCRIPT_NAME", "/sp\u{e4}m")]);
    check_app_uri(
        "http://spam.example.com:2071/",
        &[
            ("HTTP_HOST", "spam.example.com:2071"),
            ("SERVER_PORT", "2071"),
        ],
    );
    check_app_uri(
        "http://spam.example.com/",
        &[("SERVER_NAME", "spam.example.com")],
    );
    check_app_uri(
        "http://127.0.0.1/",
        &[
            ("HTTP_HOST", "127.0.0.1"),
            ("SERVER_NAME", "spam.example.com"),
        ],
    );
    check_app_uri("https://127.0.0.1/", &[("HTTPS", "on")]);
    // Python passes HTTP_HOST=None; an absent HTTP_HOST is the Rust equivalent.
    let mut env = env_of(&[("SERVER_PORT", "8000")]);
    setup_testing_defaults(&mut env);
    env.remove("HTTP_HOST");
    assert_eq!(application_uri(&env), "http://127.0.0.1:8000/");
}

fn check_req_uri(uri: &str, query: bool, kw: &[(&str, &str)]) {
    let mut env = env_of(kw);
    setup_testing_defaults(&mut env);
    assert_eq!(request_uri(&env, query), uri, "{kw:?}");
}

#[test]
fn test_req_uris() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testReqURIs
    check_req_uri("http://127.0.0.1/", true, &[]);
    check_req_uri("http://127.0.0.1/spam", true, &[("SCRIPT_NAME", "/spam")]);
    check_req_uri(
        "http://127.0.0.1/sp%E4m",
        true,
        &[("SCRIPT_NAME", "/sp\u{e4}m")],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam",
        true,
        &[("SCRIPT_NAME", "/spammity"), ("PATH_INFO", "/spam")],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/sp%E4m",
        true,
        &[("SCRIPT_NAME", "/spammity"), ("PATH_INFO", "/sp\u{e4}m")],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam;ham",
        true,
        &[("SCRIPT_NAME", "/spammity"), ("PATH_INFO", "/spam;ham")],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam;cookie=1234,5678",
        true,
        &[
            ("SCRIPT_NAME", "/spammity"),
            ("PATH_INFO", "/spam;cookie=1234,5678"),
        ],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam?say=ni",
        true,
        &[
            ("SCRIPT_NAME", "/spammity"),
            ("PATH_INFO", "/spam"),
            ("QUERY_STRING", "say=ni"),
        ],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam?s%E4y=ni",
        true,
        &[
            ("SCRIPT_NAME", "/spammity"),
            ("PATH_INFO", "/spam"),
            ("QUERY_STRING", "s%E4y=ni"),
        ],
    );
    check_req_uri(
        "http://127.0.0.1/spammity/spam",
        false,
        &[
            ("SCRIPT_NAME", "/spammity"),
            ("PATH_INFO", "/spam"),
            ("QUERY_STRING", "say=ni"),
        ],
    );
}

#[test]
fn test_file_wrapper() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testFileWrapper
    let text = "xyz".repeat(50);
    let mut fw = FileWrapper::new(Cursor::new(text.into_bytes()), 120);
    assert_eq!(fw.blksize(), 120);
    assert_eq!(fw.next().unwrap().unwrap(), "xyz".repeat(40).into_bytes());
    assert_eq!(fw.next().unwrap().unwrap(), "xyz".repeat(10).into_bytes());
    assert!(fw.next().is_none());
    assert!(!fw.is_closed());
    fw.close();
    assert!(fw.is_closed());
    assert!(fw.next().is_none());
}

#[test]
fn test_hop_by_hop() {
    // CPython: Lib/test/test_wsgiref.py::UtilityTests::testHopByHop
    let title = |s: &str| {
        s.split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-")
    };
    for hop in "Connection Keep-Alive Proxy-Authenticate Proxy-Authorization TE Trailers Transfer-Encoding Upgrade".split(' ') {
        for alt in [hop.to_owned(), title(hop), hop.to_uppercase(), hop.to_lowercase()] {
            assert!(is_hop_by_hop(&alt), "{alt}");
        }
    }
    for hop in "Accept Cache-Control Date Pragma Trailer Via Warning".split(' ') {
        for alt in [
            hop.to_owned(),
            title(hop),
            hop.to_uppercase(),
            hop.to_lowercase(),
        ] {
            assert!(!is_hop_by_hop(&alt), "{alt}");
        }
    }
}

#[test]
fn normpath_matches_posixpath() {
    for (input, want) in [
        ("", "."),
        ("/", "/"),
        ("//", "//"),
        ("///", "/"),
        ("/a/b/..", "/a"),
        ("/..", "/"),
        ("a/../..", ".."),
        ("../a", "../a"),
        ("//x/./y/", "//x/y"),
    ] {
        assert_eq!(normpath(input), want, "{input:?}");
    }
}

#[test]
fn latin1_round_trip() {
    let all: Vec<u8> = (0..=255).collect();
    let s = latin1_decode(&all);
    assert_eq!(s.chars().count(), 256);
    assert!(is_latin1(&s));
    assert_eq!(latin1_encode(&s).unwrap(), all);
    assert_eq!(latin1_encode("\u{100}"), None);
}

#[test]
fn format_date_time_is_imf_fixdate() {
    use std::time::{Duration, UNIX_EPOCH};
    assert_eq!(
        format_date_time(UNIX_EPOCH),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert_eq!(
        format_date_time(UNIX_EPOCH + Duration::from_secs(1_230_125_372)),
        "Wed, 24 Dec 2008 13:29:32 GMT"
    );
}
