//! Tests of the environ, the streams and the body.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[test]
fn environ_items_are_sorted_and_typed() {
    let mut env = Environ::from_vars([("Z", "last"), ("A", "first"), ("wsgi.zzz", "ext")]);
    env.set_input(InputStream::empty());
    env.set_errors(ErrorStream::stderr());
    env.set_url_scheme("https");
    env.set_flags(true, false, true);
    env.set_file_wrapper(true);
    env.insert_extension("myapp.obj", vec![1u8], "<myapp object>");
    let listing: Vec<String> = env
        .items()
        .into_iter()
        .map(|(k, v)| format!("{k} = {}", v.repr()))
        .collect();
    assert_eq!(
        listing,
        vec![
            "A = 'first'",
            "Z = 'last'",
            "myapp.obj = <myapp object>",
            "wsgi.errors = <gateway::ErrorStream name='<stderr>'>",
            "wsgi.file_wrapper = <class 'gateway::util::FileWrapper'>",
            "wsgi.input = <gateway::InputStream>",
            "wsgi.multiprocess = False",
            "wsgi.multithread = True",
            "wsgi.run_once = True",
            "wsgi.url_scheme = 'https'",
            "wsgi.version = (1, 0)",
            "wsgi.zzz = 'ext'",
        ]
    );
    assert_eq!(env.extension::<Vec<u8>>("myapp.obj"), Some(&vec![1u8]));
    assert_eq!(env.extension::<u8>("myapp.obj"), None);
    assert!(env.contains("myapp.obj") && env.contains("wsgi.version"));
    env.remove("myapp.obj");
    assert!(!env.contains("myapp.obj"));
    assert_eq!(
        format!("{:?}", Environ::from_vars([("K", "v")]))
            .lines()
            .count(),
        1
    );
}

#[test]
fn environ_clone_shares_streams() {
    let (errors, captured) = ErrorStream::memory();
    let mut env = Environ::new();
    env.set_errors(errors);
    env.set_input(InputStream::new(std::io::Cursor::new(b"abc".to_vec())));
    let copy = env.clone();
    copy.errors().write_str("via copy").unwrap();
    env.errors().writelines(["; ", "via original"]).unwrap();
    assert_eq!(captured.text(), "via copy; via original");
    assert_eq!(copy.input().read_size(1).unwrap(), b"a");
    assert_eq!(env.input().read_size(5).unwrap(), b"bc");
}

#[test]
fn environ_setdefault_and_bytes() {
    let mut env = Environ::new();
    assert_eq!(env.setdefault("K", "v1"), "v1");
    assert_eq!(env.setdefault("K", "v2"), "v1");
    env.set_bytes("B", b"\xff\x00");
    assert_eq!(env.get("B"), Some("\u{ff}\u{0}"));
    assert_eq!(env.get_bytes("B").unwrap(), b"\xff\x00");
    env.set("E", "\u{20ac}");
    assert_eq!(env.get_bytes("E"), None);
    assert_eq!(env.url_scheme_opt(), None);
    assert_eq!(env.url_scheme(), "http");
    env.set("wsgi.url_scheme", "https");
    assert_eq!(env.get("wsgi.url_scheme"), Some("https"));
    assert_eq!(env.remove("wsgi.url_scheme").as_deref(), Some("https"));
}

#[test]
fn input_stream_lines() {
    let input = InputStream::new(std::io::Cursor::new(b"a\nb\nc".to_vec()));
    assert_eq!(
        input.readlines().unwrap(),
        vec![b"a\n".to_vec(), b"b\n".to_vec(), b"c".to_vec()]
    );
    assert_eq!(input.readline().unwrap(), b"");
    assert_eq!(format!("{input:?}"), "<gateway::InputStream>");
}

#[test]
fn body_close_runs_once_even_on_drop() {
    let n = Arc::new(AtomicUsize::new(0));
    let hook = |n: &Arc<AtomicUsize>| {
        let n = n.clone();
        move || {
            n.fetch_add(1, Ordering::SeqCst);
        }
    };
    // Closed explicitly, then dropped.
    let mut b = Body::from("x").on_close(hook(&n));
    b.close();
    b.close();
    drop(b);
    assert_eq!(n.load(Ordering::SeqCst), 1);
    // Only dropped (an error path that forgot to close).
    drop(Body::iter(vec![Ok::<_, Error>(b"x".to_vec())]).on_close(hook(&n)));
    assert_eq!(n.load(Ordering::SeqCst), 2);
    // Dropped during a panic.
    let b = Body::empty().on_close(hook(&n));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _b = b;
        panic!("unwinding");
    }));
    assert!(r.is_err());
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

#[test]
fn body_kinds() {
    assert_eq!(Body::empty().len(), Some(0));
    assert!(Body::empty().is_empty());
    assert_eq!(
        Body::from(vec![b"a".to_vec(), b"b".to_vec()]).len(),
        Some(2)
    );
    assert_eq!(Body::from(String::from("s")).len(), Some(1));
    assert_eq!(Body::from(&b"s"[..]).len(), Some(1));
    let it = Body::iter(vec![
        Ok::<_, std::io::Error>("a"),
        Err(std::io::Error::other("bad")),
    ]);
    assert_eq!(it.len(), None);
    let got: Vec<Result<Vec<u8>>> = it.collect();
    assert_eq!(got[0].as_ref().unwrap(), b"a");
    assert!(matches!(got[1], Err(Error::Io(_))));
    let mut f = Body::from(FileWrapper::new(std::io::Cursor::new(b"abc".to_vec()), 2));
    assert!(f.is_file());
    assert_eq!(f.next().unwrap().unwrap(), b"ab");
    assert!(f.file_wrapper_mut().is_some());
    f.close();
    assert!(f.is_closed());
    assert!(f.next().is_none());
    assert!(format!("{:?}", Body::empty()).contains("Chunks(len=0)"));
}

#[test]
fn applications_from_closures_arcs_and_boxes() {
    fn run(app: &dyn Application) -> String {
        let resp = crate::testing::Client::new(ArcApp(app)).get("/");
        resp.text()
    }
    struct ArcApp<'a>(&'a dyn Application);
    impl Application for ArcApp<'_> {
        fn call(&self, e: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
            self.0.call(e, sr)
        }
    }
    let closure = |_e: &Environ, sr: &mut dyn StartResponse| -> Result<Body> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
        Ok(Body::from("closure"))
    };
    let arc = Arc::new(closure);
    let boxed: Box<dyn Application> = Box::new(closure);
    assert_eq!(run(&closure), "closure");
    assert_eq!(run(&arc), "closure");
    assert_eq!(run(&boxed), "closure");
}

/// `sorted_items` merges three sorted sequences; check it against a plain sort, with keys
/// that interleave (a variable and an extension among the `wsgi.*` entries).
#[test]
fn sorted_items_is_sorted_like_python() {
    let mut env = Environ::from_vars([
        ("wsgi.k", "var"),
        ("PATH_INFO", "/"),
        ("a.lower", "x"),
        ("zzz", "last"),
    ]);
    env.set_url_scheme("https");
    env.set_input(crate::InputStream::empty());
    env.set_errors(crate::ErrorStream::stderr());
    env.set_file_wrapper(true);
    env.insert_extension("wsgi.l_ext", 1u8, "1");
    env.insert_extension("myapp.user", 2u8, "2");
    let keys: Vec<&str> = env.sorted_items().into_iter().map(|(k, _)| k).collect();
    let mut expected = keys.clone();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(keys.len(), 4 + 8 + 2);
    assert!(keys.contains(&"wsgi.k") && keys.contains(&"wsgi.l_ext"));
    // Variables after `wsgi.` without extensions, and the usual upper-case-only environ.
    for vars in [
        &[("zzz", "last"), ("PATH_INFO", "/"), ("wsgi.k", "var")][..],
        &[("SERVER_NAME", "x"), ("PATH_INFO", "/"), ("HTTP_HOST", "h")][..],
    ] {
        let mut env = Environ::from_vars(vars.iter().copied());
        env.set_url_scheme("http");
        env.set_input(crate::InputStream::empty());
        let keys: Vec<&str> = env.sorted_items().into_iter().map(|(k, _)| k).collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(keys.len(), 3 + 6, "{keys:?}");
    }
}

#[test]
fn static_bodies_are_one_chunk_read_once() {
    let mut b = Body::from_static(b"hello");
    assert_eq!(b.len(), Some(1));
    assert!(!b.is_empty() && !b.is_file());
    assert!(format!("{b:?}").contains("Chunks(len=1)"));
    assert_eq!(b.next_static(), Some(&b"hello"[..]));
    assert_eq!(b.next_static(), None);
    assert!(b.next().is_none(), "taken once only");
    // Iterated like any other body, the chunk comes out as an owned copy.
    let chunks: Vec<Vec<u8>> = Body::from_static(b"x").map(|c| c.unwrap()).collect();
    assert_eq!(chunks, [b"x".to_vec()]);
    let closes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = closes.clone();
    let mut b = Body::from_static(b"x").on_close(move || {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    b.close();
    drop(b);
    assert_eq!(closes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn only_the_shared_empty_stream_counts_as_an_empty_input() {
    let mut env = Environ::new();
    assert!(
        env.input_is_empty(),
        "no wsgi.input reads as the empty stream"
    );
    env.set_input(InputStream::empty());
    assert!(env.input_is_empty());
    assert!(InputStream::empty().is_shared_empty());
    // A stream over bytes is never taken for empty, even when it holds none: only the
    // shared stream is known to read nothing for ever.
    env.set_input(InputStream::new(std::io::Cursor::new(Vec::new())));
    assert!(!env.input_is_empty());
    env.set_input(InputStream::new(std::io::Cursor::new(b"body".to_vec())));
    assert!(!env.input_is_empty());
    assert!(!env.input().is_shared_empty());
}
