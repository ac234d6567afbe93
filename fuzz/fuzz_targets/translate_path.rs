//! Fuzz target: `http_server::translate_path` never leaves the served directory: the result
//! starts with the root and, below it, holds only normal components (no `..`, no root, no
//! `.`), whatever the request path.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path: String = data.iter().map(|&b| b as char).collect();
    let root = Path::new("/srv/www");
    for p in [path.as_str(), String::from_utf8_lossy(data).as_ref()] {
        let out = http_server::translate_path(root, p);
        let rel = out.strip_prefix(root).expect("under the root");
        assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "{p:?} -> {out:?}"
        );
    }
});
