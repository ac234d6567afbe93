//! `cargo xtask doclinks`: keeps the docs' links to Rust items pointing at the lines that
//! define them.
//!
//! A markdown link in `README.md` or `docs/*.md` whose text is one Rust item in backticks
//! (`` [`WsgiServer::bind`](../crates/gateway/src/simple_server/server.rs#L423) ``, or with
//! a keyword: `` [`fn serve_parsed`](...) ``) and whose target is a `.rs` file names the line
//! that defines the item. Code moves under such links, so `cargo xtask doclinks` rewrites
//! every `#L<n>` to the line found now (and adds the anchor to a link that has none), and
//! prints what it changed. [`check`] is the tidy rule: it fails on a link whose line does
//! not define its item, telling to run the command.
//!
//! Where an item is defined, in the linked file (a search, not a parse):
//! - `name`: the first line defining it (`fn`, `struct`, `enum`, `trait`, `type`, `const`,
//!   `static`, `mod`, `union`, `macro_rules!`), else the first `impl ... name` line;
//! - `A::b`: the first definition of `b` inside an `impl`, `trait` or `mod` block that
//!   names `A` (`impl A`, `impl T for A`, `trait A`, `mod A`; `impl A for T` counts less),
//!   else the first definition of `b` after the line of `impl ... A` / `struct A` (a
//!   variant or field of `A` too), else the first definition of `b` in the file;
//! - a leading `crate::path::` is ignored, `()` and generic arguments are dropped, and a
//!   keyword before the name (`fn`, `struct`...) keeps only definitions of that kind.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Keywords that introduce a named item.
const ITEM_KEYWORDS: [&str; 10] = [
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "mod",
    "union",
    "macro_rules",
];

/// Words that may open a line defining an item (before its keyword).
const LINE_OPENERS: [&str; 17] = [
    "pub",
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "mod",
    "union",
    "macro_rules",
    "unsafe",
    "async",
    "extern",
    "impl",
    "default",
    "auto",
];

/// `cargo xtask doclinks`: rewrites the line anchors of every item link, printing each
/// change. Fails when a link names an item its file does not define.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut changed = 0;
    let mut sources = Sources::default();
    for md in markdown_files(root) {
        let rel = relative(root, &md);
        let Ok(text) = fs::read_to_string(&md) else {
            problems.push(format!("{rel}: cannot read"));
            continue;
        };
        let dir = md.parent().unwrap_or(root).to_path_buf();
        let fixed = fix_links(&text, &mut |target| sources.get(&dir.join(target)));
        for c in &fixed.changes {
            println!("{rel}:{}: {}", c.line, c.describe());
        }
        for m in &fixed.missing {
            problems.push(format!("{rel}:{}: {}", m.line, m.describe()));
        }
        if fixed.text != text {
            fs::write(&md, &fixed.text).map_err(|e| format!("{rel}: cannot write: {e}"))?;
            changed += fixed.changes.len();
        }
    }
    println!("doclinks: {changed} link(s) updated");
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The tidy rule: one problem per item link whose line does not define its item.
pub(crate) fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sources = Sources::default();
    for md in markdown_files(root) {
        let rel = relative(root, &md);
        let Ok(text) = fs::read_to_string(&md) else {
            continue;
        };
        let dir = md.parent().unwrap_or(root).to_path_buf();
        let fixed = fix_links(&text, &mut |target| sources.get(&dir.join(target)));
        for c in &fixed.changes {
            problems.push(format!(
                "{rel}:{}: {}: run `cargo xtask doclinks`",
                c.line,
                c.describe()
            ));
        }
        for m in &fixed.missing {
            problems.push(format!("{rel}:{}: {}", m.line, m.describe()));
        }
    }
    problems
}

/// `README.md` and `docs/*.md`, sorted.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("README.md")];
    if let Ok(entries) = fs::read_dir(root.join("docs")) {
        let mut docs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        docs.sort();
        out.extend(docs);
    }
    out.retain(|p| p.is_file());
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Source files read once per run.
#[derive(Default)]
struct Sources(HashMap<PathBuf, Option<String>>);

impl Sources {
    fn get(&mut self, path: &Path) -> Option<String> {
        self.0
            .entry(path.to_path_buf())
            .or_insert_with(|| fs::read_to_string(path).ok())
            .clone()
    }
}

/// A link whose anchor was (or must be) rewritten.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// The markdown line (1-based).
    pub(crate) line: usize,
    pub(crate) item: String,
    pub(crate) file: String,
    /// The line the link pointed at, `None` when it had no anchor.
    pub(crate) from: Option<usize>,
    pub(crate) to: usize,
}

impl Change {
    fn describe(&self) -> String {
        match self.from {
            Some(from) => format!(
                "[`{}`]({}#L{from}) points at a line not defining it: now #L{}",
                self.item, self.file, self.to
            ),
            None => format!(
                "[`{}`]({}) links the file, not the line: now #L{}",
                self.item, self.file, self.to
            ),
        }
    }
}

/// A link whose item was not found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Missing {
    pub(crate) line: usize,
    pub(crate) item: String,
    pub(crate) file: String,
    /// The file itself could not be read.
    pub(crate) no_file: bool,
}

impl Missing {
    fn describe(&self) -> String {
        if self.no_file {
            format!("[`{}`]({}): no such file", self.item, self.file)
        } else {
            format!(
                "[`{}`]({}): the file defines no `{}`",
                self.item, self.file, self.item
            )
        }
    }
}

/// The markdown with every item link's anchor set to its item's line.
#[derive(Debug, Default)]
pub(crate) struct Fixed {
    pub(crate) text: String,
    pub(crate) changes: Vec<Change>,
    pub(crate) missing: Vec<Missing>,
}

/// Rewrites the item links of `markdown`; `source` reads a link's file (its target without
/// the anchor, as written).
pub(crate) fn fix_links(markdown: &str, source: &mut dyn FnMut(&str) -> Option<String>) -> Fixed {
    let mut fixed = Fixed::default();
    let mut fence: Option<&str> = None;
    for (n, line) in markdown.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(open) if open == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fixed.text.push_str(line);
            continue;
        }
        let line = fix_line(line, n + 1, source, &mut fixed);
        fixed.text.push_str(&line);
    }
    fixed
}

/// One markdown line with its item links fixed.
fn fix_line(
    line: &str,
    number: usize,
    source: &mut dyn FnMut(&str) -> Option<String>,
    fixed: &mut Fixed,
) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find("[`") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(link) = parse_link(after) else {
            out.push_str("[`");
            rest = after;
            continue;
        };
        let (text, path, anchor) = (link.text, link.path, link.anchor);
        let consumed = &after[..link.len];
        rest = &after[link.len..];
        let Some(item) = Item::parse(text) else {
            out.push_str("[`");
            out.push_str(consumed);
            continue;
        };
        let found = source(path).map(|src| resolve(&src, &item));
        match found {
            Some(Some(at)) => {
                if anchor != Some(at) {
                    fixed.changes.push(Change {
                        line: number,
                        item: text.to_owned(),
                        file: path.to_owned(),
                        from: anchor,
                        to: at,
                    });
                }
                out.push_str(&format!("[`{text}`]({path}#L{at})"));
            }
            other => {
                fixed.missing.push(Missing {
                    line: number,
                    item: text.to_owned(),
                    file: path.to_owned(),
                    no_file: other.is_none(),
                });
                out.push_str("[`");
                out.push_str(consumed);
            }
        }
    }
    out.push_str(rest);
    out
}

/// A link `` [`text`](path.rs#Ln) `` after its opening `` [` ``.
struct Link<'a> {
    text: &'a str,
    path: &'a str,
    anchor: Option<usize>,
    /// Bytes from after `` [` `` to after `)`.
    len: usize,
}

/// Reads `` text`](target) `` at the start of `s`; `None` unless `target` is a `.rs` file,
/// bare or with a `#L<n>` anchor.
fn parse_link(s: &str) -> Option<Link<'_>> {
    let close = s.find('`')?;
    let text = &s[..close];
    let target_start = close + "`](".len();
    if !s[close..].starts_with("`](") {
        return None;
    }
    let target_len = s[target_start..].find(')')?;
    let target = &s[target_start..target_start + target_len];
    let (path, anchor) = match target.split_once("#L") {
        Some((path, n)) => (path, Some(n.parse::<usize>().ok()?)),
        None => (target, None),
    };
    if !path.ends_with(".rs") || path.contains(char::is_whitespace) {
        return None;
    }
    Some(Link {
        text,
        path,
        anchor,
        len: target_start + target_len + 1,
    })
}

/// A Rust item named in a link's text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Item {
    /// The segment before the name (`A` of `A::b`).
    pub(crate) container: Option<String>,
    pub(crate) name: String,
    /// The keyword written before the name, if any.
    pub(crate) kind: Option<String>,
}

impl Item {
    /// `WsgiServer::bind`, `fn serve_parsed`, `http_server::Exchange::write_body()`;
    /// `None` for text that is not a path of identifiers.
    pub(crate) fn parse(text: &str) -> Option<Item> {
        let text = strip_generics(text.trim());
        let (kind, path) = match text.split_once(' ') {
            Some((kw, rest)) if ITEM_KEYWORDS.contains(&kw) || kw == "impl" => {
                (Some(kw.to_owned()), rest.trim())
            }
            Some(_) => return None,
            None => (None, text.as_str()),
        };
        let path = path.strip_suffix("()").unwrap_or(path);
        let path = path.strip_suffix('!').unwrap_or(path);
        let segments: Vec<&str> = path.split("::").collect();
        if segments.iter().any(|s| !is_ident(s)) {
            return None;
        }
        let name = (*segments.last()?).to_owned();
        let container = segments
            .len()
            .checked_sub(2)
            .map(|i| segments[i].to_owned());
        Some(Item {
            container,
            name,
            kind,
        })
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `s` without its `<...>` parts (an `->` inside them is not a bracket).
fn strip_generics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' if prev == '-' => {}
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
        prev = c;
    }
    out
}

/// The words of a line of code (identifiers and keywords), its `//` comment left out.
fn words(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_comment_or_attribute(t: &str) -> bool {
    t.starts_with("//") || t.starts_with("#[") || t.starts_with("#![") || t.starts_with('*')
}

/// Whether `line` defines `name` with one of `keywords` (`pub(crate) fn name<..>(`).
fn defines(line: &str, name: &str, keywords: &[&str]) -> bool {
    let t = line.trim_start();
    if is_comment_or_attribute(t) {
        return false;
    }
    let w = words(t);
    if !w.first().is_some_and(|first| LINE_OPENERS.contains(first)) {
        return false;
    }
    w.windows(2)
        .any(|pair| keywords.contains(&pair[0]) && pair[1] == name)
}

/// What a block header names: `(self, trait)` of `impl Trait for Self`, `(Self, None)` of
/// `impl Self`, `(Name, None)` of `trait`/`mod`/`struct`/`enum`/`union Name`; `None` for
/// other lines.
fn header_names(line: &str) -> Option<(String, Option<String>)> {
    let t = line.trim_start();
    if is_comment_or_attribute(t) {
        return None;
    }
    let w = words(t);
    let mut i = 0;
    // `pub`, `pub(crate)`, `pub(in path)`, `unsafe`, `default`, `auto`.
    while i < w.len()
        && ["pub", "crate", "super", "in", "unsafe", "default", "auto"].contains(&w[i])
    {
        i += 1;
    }
    match w.get(i) {
        Some(&"impl") => {
            let at = t.find("impl")? + "impl".len();
            let mut rest = &t[at..];
            if rest.starts_with('<') {
                rest = skip_generics(rest);
            }
            let rest = rest.split(['{', ';']).next().unwrap_or("");
            let rest = match rest.find(" where") {
                Some(w) => &rest[..w],
                None => rest,
            };
            match rest.split_once(" for ") {
                Some((tr, ty)) => Some((type_name(ty), Some(type_name(tr)))),
                None => Some((type_name(rest), None)),
            }
        }
        Some(kw) if ["trait", "mod", "struct", "enum", "union"].contains(kw) => {
            Some(((*w.get(i + 1)?).to_owned(), None))
        }
        _ => None,
    }
}

/// `s` (starting with `<`) after its balanced `<...>`.
fn skip_generics(s: &str) -> &str {
    let mut depth = 0usize;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if prev == '-' => {}
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return &s[i + 1..];
                }
            }
            _ => {}
        }
        prev = c;
    }
    ""
}

/// The name of a type as written in an impl header: `&'a mut dyn a::B<C>` is `B`.
fn type_name(ty: &str) -> String {
    let mut t = ty.trim();
    loop {
        let before = t;
        t = t.trim_start_matches('&').trim_start();
        if t.starts_with('\'') {
            t = t
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r)
                .trim_start();
        }
        for prefix in ["mut ", "dyn ", "?"] {
            t = t.strip_prefix(prefix).unwrap_or(t).trim_start();
        }
        if t == before {
            break;
        }
    }
    let path: String = t
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    path.rsplit("::").next().unwrap_or("").to_owned()
}

/// The header of the block enclosing line `i`, if it is an `impl`, `trait`, `mod`,
/// `struct`, `enum` or `union` block.
fn enclosing_header(lines: &[&str], i: usize) -> Option<(String, Option<String>)> {
    let own = indent(lines[i]);
    for line in lines[..i].iter().rev() {
        let t = line.trim();
        if t.is_empty() || indent(line) >= own || is_comment_or_attribute(t) {
            continue;
        }
        if let Some(names) = header_names(line) {
            return Some(names);
        }
        // Between a header and its items: `where`, bounds, the brace.
        if t == "{" || t == "where" || t.ends_with(',') {
            continue;
        }
        return None;
    }
    None
}

/// The 1-based line defining `item` in `src`, as the module doc says.
pub(crate) fn resolve(src: &str, item: &Item) -> Option<usize> {
    let lines: Vec<&str> = src.lines().collect();
    let keywords: Vec<&str> = match &item.kind {
        Some(k) if k != "impl" => vec![k.as_str()],
        _ => ITEM_KEYWORDS.to_vec(),
    };
    let name = item.name.as_str();
    let defining: Vec<usize> = if item.kind.as_deref() == Some("impl") {
        Vec::new()
    } else {
        (0..lines.len())
            .filter(|&i| defines(lines[i], name, &keywords))
            .collect()
    };
    let impl_of = |i: usize, ty: &str| {
        words(lines[i]).contains(&"impl")
            && header_names(lines[i]).is_some_and(|(own, _)| own == ty)
    };
    let Some(container) = &item.container else {
        // A lone name: its definition, else the first `impl` of it.
        return defining
            .first()
            .copied()
            .or_else(|| (0..lines.len()).find(|&i| impl_of(i, name)))
            .map(|i| i + 1);
    };
    let container = container.as_str();
    // Inside a block that names the container.
    let mut best: Option<(u8, usize)> = None;
    for &i in &defining {
        let score = match enclosing_header(&lines, i) {
            Some((own, _)) if own == container => 2,
            Some((_, Some(tr))) if tr == container => 1,
            _ => 0,
        };
        if score > 0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, i));
        }
    }
    if let Some((_, i)) = best {
        return Some(i + 1);
    }
    // After the container's first header: a definition, else a variant or field.
    if let Some(h) =
        (0..lines.len()).find(|&i| header_names(lines[i]).is_some_and(|(own, _)| own == container))
    {
        if let Some(&i) = defining.iter().find(|&&i| i > h) {
            return Some(i + 1);
        }
        if item.kind.is_none()
            && let Some(i) = member_after(&lines, h, name)
        {
            return Some(i + 1);
        }
    }
    defining.first().map(|i| i + 1)
}

/// A variant or field `name` in the block opened at line `h` (up to its closing brace).
fn member_after(lines: &[&str], h: usize, name: &str) -> Option<usize> {
    let base = indent(lines[h]);
    for (i, line) in lines.iter().enumerate().skip(h + 1) {
        let t = line.trim();
        if t.starts_with('}') && indent(line) <= base {
            return None;
        }
        if is_comment_or_attribute(t) {
            continue;
        }
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if let Some(after) = t.strip_prefix(name) {
            let after = after.trim_start();
            if after.is_empty()
                || after.starts_with([',', '(', '{', '='])
                || after.starts_with(':') && !after.starts_with("::")
            {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{Item, fix_links, resolve};

    const SOURCE: &str = "\
//! A small module.

/// A server.
pub struct Server<A: ?Sized> {
    app: A,
}

impl<A: ?Sized> std::fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

pub fn bind() {}

impl<A: Fn() -> u8> Server<A> {
    /// Binds.
    pub fn bind(&self) {}

    pub(crate) fn serve(&self) {
        fn inner() {}
    }
}

impl<F, H> Protocol for Server<F>
where
    F: Fn(&u8) -> H,
{
    fn frame(&self) {}
    fn serve(&self) {}
}

pub trait Protocol {
    fn frame(&self);
}

pub mod default {
    pub fn serve() {}
}

pub enum Framing {
    NoBody,
    Length(u64),
}
";

    fn item(text: &str) -> Item {
        Item::parse(text).unwrap_or_else(|| panic!("{text} is an item"))
    }

    #[test]
    fn parses_item_names() {
        assert_eq!(
            item("WsgiServer::bind"),
            Item {
                container: Some("WsgiServer".into()),
                name: "bind".into(),
                kind: None
            }
        );
        assert_eq!(item("fn serve_parsed").kind.as_deref(), Some("fn"));
        assert_eq!(
            item("http_server::Exchange::write_body()").name,
            "write_body"
        );
        assert_eq!(
            item("BaseServer<T, H>::new").container.as_deref(),
            Some("BaseServer")
        );
        assert_eq!(Item::parse("crates/demo/src/main.rs"), None);
        assert_eq!(Item::parse("server.rs"), None);
        assert_eq!(Item::parse("do this"), None);
    }

    #[test]
    fn resolves_items_to_their_lines() {
        let at = |text: &str| resolve(SOURCE, &item(text));
        assert_eq!(at("Server"), Some(4));
        assert_eq!(at("bind"), Some(14), "the free function comes first");
        assert_eq!(at("Server::bind"), Some(18), "the method, in `impl Server`");
        assert_eq!(
            at("Server::serve"),
            Some(20),
            "`impl Server` before `impl T for Server`"
        );
        assert_eq!(at("Server::frame"), Some(29), "through a `where` clause");
        assert_eq!(
            at("Protocol::frame"),
            Some(34),
            "the trait's own item first"
        );
        assert_eq!(at("default::serve"), Some(38));
        assert_eq!(at("fn serve"), Some(20));
        assert_eq!(at("Framing::Length"), Some(43), "a variant");
        assert_eq!(at("Framing"), Some(41));
        assert_eq!(at("Server::missing"), None);
        assert_eq!(at("Nothing"), None);
    }

    #[test]
    fn rewrites_anchors_and_reports_what_it_cannot_find() {
        let md = "\
# Walk

[`Server::bind`](../src/server.rs#L3) then [`Protocol::frame`](../src/server.rs#L34),
[`fn serve`](../src/server.rs) and [`server.rs`](../src/server.rs) (a file).
[`Server::gone`](../src/server.rs#L9), [`Server`](../src/missing.rs#L1).

```text
[`Server::bind`](../src/server.rs#L3) in a code block
```
[`WsgiServer`](crates/gateway) is no Rust file.
";
        let fixed = fix_links(md, &mut |path: &str| {
            (path == "../src/server.rs").then(|| SOURCE.to_owned())
        });
        let expected = "\
# Walk

[`Server::bind`](../src/server.rs#L18) then [`Protocol::frame`](../src/server.rs#L34),
[`fn serve`](../src/server.rs#L20) and [`server.rs`](../src/server.rs) (a file).
[`Server::gone`](../src/server.rs#L9), [`Server`](../src/missing.rs#L1).

```text
[`Server::bind`](../src/server.rs#L3) in a code block
```
[`WsgiServer`](crates/gateway) is no Rust file.
";
        assert_eq!(fixed.text, expected);
        let changes: Vec<(usize, &str, Option<usize>, usize)> = fixed
            .changes
            .iter()
            .map(|c| (c.line, c.item.as_str(), c.from, c.to))
            .collect();
        assert_eq!(
            changes,
            [(3, "Server::bind", Some(3), 18), (4, "fn serve", None, 20)]
        );
        let missing: Vec<(usize, &str, bool)> = fixed
            .missing
            .iter()
            .map(|m| (m.line, m.item.as_str(), m.no_file))
            .collect();
        assert_eq!(missing, [(5, "Server::gone", false), (5, "Server", true)]);
        // A second run changes nothing.
        let again = fix_links(&fixed.text, &mut |path: &str| {
            (path == "../src/server.rs").then(|| SOURCE.to_owned())
        });
        assert_eq!(again.text, expected);
        assert!(again.changes.is_empty());
    }
}
