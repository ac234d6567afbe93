//! `cargo xtask tidy`: rules the compiler does not check.
//!
//! - every `.rs` file opens with a `//!` comment saying what it is for;
//! - library sources never print (`println!` and friends): they log through `tracing`;
//! - every Rust path named in `docs/porting-map.md` exists in the sources;
//! - every link to a Rust item in `README.md` and `docs/*.md` points at the line defining
//!   it (`cargo xtask doclinks` fixes them; see [`crate::doclinks`]).
//!
//! It also runs as a `#[test]`, so a plain `cargo test` enforces it.

use std::fs;
use std::path::{Path, PathBuf};

/// Runs every rule; the error lists each problem on its own line.
pub(crate) fn run(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for file in rust_files(root) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{rel}: does not open with a `//!` comment"));
        }
        if is_library_source(&rel) {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for mac in ["println!(", "print!(", "eprintln!(", "eprint!(", "dbg!("] {
                    if code.contains(mac) && !in_test_module(&text, n) {
                        problems.push(format!(
                            "{rel}:{}: `{mac}` in a library: log with tracing",
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    problems.extend(check_porting_map(root));
    problems.extend(crate::doclinks::check(root));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["crates", "examples", "xtask", "fuzz"] {
        walk(&root.join(dir), &mut out);
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name == "target" || name.starts_with('.') || name == "corpus" || name == "artifacts"
            {
                continue;
            }
            walk(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn is_library_source(rel: &str) -> bool {
    let lib_crates = [
        "crates/socketserver/src/",
        "crates/http-server/src/",
        "crates/gateway/src/",
        "crates/supervisor/src/",
    ];
    lib_crates.iter().any(|c| rel.starts_with(c))
        && !rel.ends_with("/main.rs")
        && !rel.contains("/bin/")
        && !rel.ends_with("/tests.rs")
        && !rel.contains("/tests/")
}

/// True when line `n` sits after a `#[cfg(test)]` module opener (test code may print).
fn in_test_module(text: &str, n: usize) -> bool {
    text.lines().take(n).any(|l| l.trim() == "#[cfg(test)]")
}

/// Where each crate named in the porting map keeps its sources.
fn crate_dir(root: &Path, name: &str) -> Option<PathBuf> {
    let dir = match name {
        "socketserver" => "crates/socketserver/src",
        "http_server" => "crates/http-server/src",
        "gateway" => "crates/gateway/src",
        "demo" => "crates/demo/src",
        _ => return None,
    };
    Some(root.join(dir))
}

/// Checks the Rust column of every row of `docs/porting-map.md`.
fn check_porting_map(root: &Path) -> Vec<String> {
    let map = root.join("docs/porting-map.md");
    let Ok(text) = fs::read_to_string(&map) else {
        return vec!["docs/porting-map.md is missing".to_owned()];
    };
    let mut problems = Vec::new();
    let mut sources: std::collections::HashMap<String, Vec<Vec<String>>> = Default::default();
    let mut rows = 0;
    for (n, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        rows += 1;
        for path in backticked(cells[2]) {
            if !path.contains("::") {
                continue;
            }
            let segments: Vec<&str> = path
                .split("::")
                .map(|s| s.split('<').next().unwrap_or(s).trim_end_matches("()"))
                .collect();
            let Some(dir) = crate_dir(root, segments[0]) else {
                problems.push(format!(
                    "docs/porting-map.md:{}: unknown crate in `{path}`",
                    n + 1
                ));
                continue;
            };
            let idents = sources
                .entry(segments[0].to_owned())
                .or_insert_with(|| defined_idents(&dir));
            for seg in &segments[1..] {
                if !idents.iter().any(|defs| defs.iter().any(|d| d == seg)) {
                    problems.push(format!(
                        "docs/porting-map.md:{}: `{path}`: no definition of `{seg}` in {}",
                        n + 1,
                        dir.strip_prefix(root).unwrap_or(&dir).display()
                    ));
                    break;
                }
            }
        }
    }
    if rows == 0 {
        problems.push("docs/porting-map.md has no rows".to_owned());
    }
    problems
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// The identifiers each source line defines: items after a keyword, and fields, variants and
/// re-exports by their leading name.
fn defined_idents(dir: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            let defs = line_defs(line);
            if !defs.is_empty() {
                out.push(defs);
            }
        }
    }
    out
}

fn line_defs(line: &str) -> Vec<String> {
    let t = line.trim();
    if t.starts_with("//") {
        return Vec::new();
    }
    let words: Vec<&str> = t
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let keywords = [
        "fn", "struct", "enum", "trait", "type", "mod", "const", "static", "union",
    ];
    let mut defs = Vec::new();
    for pair in words.windows(2) {
        if keywords.contains(&pair[0]) {
            defs.push(pair[1].to_owned());
        }
    }
    // `pub use a::{B, C}` and `pub use a::B as D`: every name re-exported.
    if t.starts_with("pub use") || t.starts_with("pub(crate) use") {
        defs.extend(words.iter().skip(2).map(|w| (*w).to_owned()));
    }
    // Fields (`pub name: T`) and variants (`Name,` `Name(..)` `Name {`).
    let rest = t
        .trim_start_matches("pub(crate) ")
        .trim_start_matches("pub ");
    let ident: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !ident.is_empty() {
        let after = rest[ident.len()..].trim_start();
        if after.starts_with(':') && !after.starts_with("::")
            || after.starts_with('(')
            || after.starts_with(',')
            || after.starts_with('{')
            || after.is_empty()
            || after.starts_with('=')
        {
            defs.push(ident);
        }
    }
    defs
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy() {
        if let Err(problems) = super::run(&crate::root()) {
            panic!("tidy found problems:\n{}", problems.join("\n"));
        }
    }

    #[test]
    fn line_defs_finds_items_fields_and_variants() {
        assert_eq!(
            super::line_defs("    pub fn handle_request(&mut self)"),
            ["handle_request"]
        );
        assert_eq!(super::line_defs("pub struct TcpConfig {"), ["TcpConfig"]);
        assert_eq!(
            super::line_defs("    pub request_queue_size: i32,"),
            ["request_queue_size"]
        );
        assert_eq!(super::line_defs("    Inet(SocketAddr),"), ["Inet"]);
        assert!(super::line_defs("// fn nothing").is_empty());
        assert!(super::line_defs("let x = y;").is_empty());
    }
}
