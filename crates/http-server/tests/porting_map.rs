//! Every row of `docs/porting-map.md` names a Rust path that exists: each path
//! is looked up in the crate's sources (items, methods, fields).

use std::collections::HashSet;

#[test]
fn porting_map_rows_resolve() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let map = std::fs::read_to_string(format!("{root}/docs/porting-map.md")).unwrap();
    let mut src = String::new();
    for f in walk(&format!("{}/src", env!("CARGO_MANIFEST_DIR"))) {
        src.push_str(&std::fs::read_to_string(f).unwrap());
    }
    let defined: HashSet<&str> = src
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    let mut rows = 0;
    for line in map.lines().filter(|l| l.starts_with("| `http.server")) {
        rows += 1;
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let rust = cells[2].trim_matches('`');
        if rust == "—" || rust.is_empty() {
            assert!(cells[4].contains("not ported"), "{line}");
            continue;
        }
        assert!(
            rust.starts_with("http_server::") || rust.starts_with("socketserver::"),
            "{line}"
        );
        for seg in rust.split("::").skip(1) {
            let seg = seg.trim_end_matches("()");
            assert!(
                defined.contains(seg),
                "{rust}: {seg} not found in the sources"
            );
        }
    }
    assert!(rows >= 60, "only {rows} rows");
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(p.to_str().unwrap()));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}
