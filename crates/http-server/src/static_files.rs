//! `SimpleHTTPRequestHandler`: serving a directory's files and listings.
//!
//! Percent-decoding and -encoding are the `percent-encoding` crate's; `urlsplit`, the
//! `Range` parser and the HTML escaping stay hand-written to match CPython's
//! `urllib.parse.urlsplit`, `http.server` and `html.escape(quote=False)` exactly.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

use crate::{Exchange, HttpConfig, HttpHandler, Result};

mod types;

/// The default `extensions_map` of `SimpleHTTPRequestHandler`.
///
/// Python: `http.server.SimpleHTTPRequestHandler.extensions_map`.
pub fn default_extensions_map() -> HashMap<String, String> {
    [
        (".gz", "application/gzip"),
        (".Z", "application/octet-stream"),
        (".bz2", "application/x-bzip2"),
        (".xz", "application/x-xz"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Serves the files of a directory: `GET` and `HEAD`, `index.html`/`index.htm`, directory
/// listings, a 301 to add a directory's missing slash, `Last-Modified` / `If-Modified-Since`.
/// Beyond Python: single byte ranges (`Range: bytes=a-b` → 206, unsatisfiable → 416,
/// `Accept-Ranges: bytes`).
///
/// Python: `http.server.SimpleHTTPRequestHandler`. Use it with
/// [`SimpleHttpHandler::http_config`] (`server_version = "SimpleHTTP/0.6"`).
///
/// ```
/// use http_server::{testing::{Harness, Request}, SimpleHttpHandler};
/// let dir = std::env::temp_dir().join(format!("simple-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("hello.txt"), "hi\n")?;
/// let mut h = SimpleHttpHandler::new(&dir);
/// let t = Harness::new().config(SimpleHttpHandler::http_config())
///     .run(&mut h, &Request::get("/hello.txt").to_bytes());
/// let r = &t.responses[0];
/// assert_eq!((r.status, r.header("Content-type"), r.body.as_slice()),
///            (200, Some("text/plain"), &b"hi\n"[..]));
/// assert!(r.header("Server").unwrap().starts_with("SimpleHTTP/0.6 "));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "http.server.SimpleHTTPRequestHandler")]
#[derive(Debug, Clone)]
pub struct SimpleHttpHandler {
    /// The directory served (Python: `directory`, default the current one).
    pub directory: PathBuf,
    /// Extension → type overrides consulted before `mimetypes` (Python: `extensions_map`).
    pub extensions_map: HashMap<String, String>,
    /// `(name, value)` pairs added to every 200 response (a file or a directory listing),
    /// after the server's own headers; never to other statuses (Python 3.15,
    /// `extra_response_headers`; the CLI's `-H/--header NAME VALUE`).
    ///
    /// A pair whose name the server already sent in that response (`Content-type`,
    /// `Content-Length`, `Last-Modified`, `Accept-Ranges`, `Server`, `Date`, compared without
    /// case) is left out, so the server's own headers are never overridden nor doubled
    /// (CPython appends such a pair as a second header).
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.extra_response_headers")]
    pub extra_response_headers: Vec<(String, String)>,
    /// When true, directory listings carry CPython 3.14's `<style>` with
    /// `color-scheme: light dark` (the browser's dark mode); false (the default) keeps
    /// 3.11's bytes. Error pages have their own switch:
    /// [`DARK_MODE_ERROR_MESSAGE`](crate::DARK_MODE_ERROR_MESSAGE).
    pub dark_mode: bool,
}

/// What [`SimpleHttpHandler::send_head`] leaves to copy: an open file and the byte range of
/// it to send, or an in-memory page.
#[derive(Debug)]
pub enum Body {
    /// `len` bytes of `file` from `start`.
    File {
        /// The open file.
        file: File,
        /// First byte to send.
        start: u64,
        /// Number of bytes to send.
        len: u64,
    },
    /// A generated page (a directory listing).
    Bytes(Vec<u8>),
}

impl SimpleHttpHandler {
    /// Serves `directory`.
    ///
    /// Python: `SimpleHTTPRequestHandler(..., directory=directory)`.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        SimpleHttpHandler {
            directory: directory.into(),
            extensions_map: default_extensions_map(),
            extra_response_headers: Vec::new(),
            dark_mode: false,
        }
    }

    /// Directory listings that follow the browser's dark mode, as CPython 3.14 writes them
    /// (see [`dark_mode`](Self::dark_mode)).
    ///
    /// Python: `SimpleHTTPRequestHandler.list_directory` (3.14).
    ///
    /// ```
    /// use http_server::{testing::{Harness, Request}, SimpleHttpHandler};
    /// let mut h = SimpleHttpHandler::new(std::env::temp_dir()).with_dark_mode();
    /// let t = Harness::new().run(&mut h, &Request::get("/").to_bytes());
    /// assert!(t.responses[0].text().contains(":root {\ncolor-scheme: light dark;\n}"));
    /// ```
    pub fn with_dark_mode(mut self) -> Self {
        self.dark_mode = true;
        self
    }

    /// Adds `(name, value)` pairs to every 200 response: see
    /// [`extra_response_headers`](Self::extra_response_headers).
    ///
    /// Python: `SimpleHTTPRequestHandler(..., extra_response_headers=headers)` (3.15).
    ///
    /// ```
    /// use http_server::{testing::{Harness, Request}, SimpleHttpHandler};
    /// let dir = std::env::temp_dir().join(format!("extra-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("a.txt"), "a")?;
    /// let mut h = SimpleHttpHandler::new(&dir)
    ///     .with_extra_response_headers([("X-Frame-Options", "DENY")]);
    /// let t = Harness::new().config(SimpleHttpHandler::http_config())
    ///     .run(&mut h, &Request::get("/a.txt").to_bytes());
    /// assert_eq!(t.responses[0].header("X-Frame-Options"), Some("DENY"));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "extra_response_headers")]
    pub fn with_extra_response_headers<N, V>(
        mut self,
        headers: impl IntoIterator<Item = (N, V)>,
    ) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        self.extra_response_headers
            .extend(headers.into_iter().map(|(n, v)| (n.into(), v.into())));
        self
    }

    /// Sends [`extra_response_headers`](Self::extra_response_headers), but none named in
    /// `sent` (the headers this 200 response already has, besides `Server` and `Date`).
    fn send_extra_response_headers(&self, ex: &mut Exchange<'_>, sent: &[&str]) -> Result<()> {
        for (name, value) in &self.extra_response_headers {
            let taken = ["Server", "Date"]
                .iter()
                .chain(sent)
                .any(|s| s.eq_ignore_ascii_case(name));
            if !taken {
                ex.send_header(name, value)?;
            }
        }
        Ok(())
    }

    /// Serves the current directory (Python's default).
    pub fn current_dir() -> io::Result<Self> {
        Ok(Self::new(std::env::current_dir()?))
    }

    /// The class attributes of `SimpleHTTPRequestHandler`: the default ones with
    /// `server_version = "SimpleHTTP/0.6"`.
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.server_version`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.server_version")]
    pub fn http_config() -> HttpConfig {
        HttpConfig::default().server_version("SimpleHTTP/0.6")
    }

    /// Sends the status line and headers common to `GET` and `HEAD`, and returns what is left
    /// to copy (`None` when the reply is complete: an error, a redirect, a 304).
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.send_head`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.send_head")]
    pub fn send_head(&mut self, ex: &mut Exchange<'_>) -> Result<Option<Body>> {
        let mut path = self.translate_path(&ex.path);
        if path.is_dir() {
            let mut parts = urlsplit(&ex.path);
            if !parts.path.ends_with('/') {
                self.send_response(ex, 301, None)?;
                parts.path.push('/');
                // CVE-2021-28861: a location starting with `//` or `/\` would be taken as
                // another host by browsers. `parse_request` collapses leading slashes; a
                // backslash is sent percent-encoded (the same resource for translate_path).
                parts.path = parts.path.replace('\\', "%5C");
                ex.send_header("Location", &parts.unsplit())?;
                ex.send_header("Content-Length", "0")?;
                ex.end_headers()?;
                return Ok(None);
            }
            match ["index.html", "index.htm"]
                .iter()
                .map(|i| path.join(i))
                .find(|p| p.is_file())
            {
                Some(index) => path = index,
                None => return self.list_directory(ex, &path),
            }
        }
        let ctype = self.guess_type(&path);
        if path.as_os_str().as_bytes().ends_with(b"/") {
            self.send_error(ex, 404, Some("File not found"), None)?;
            return Ok(None);
        }
        let Ok(mut file) = File::open(&path) else {
            self.send_error(ex, 404, Some("File not found"), None)?;
            return Ok(None);
        };
        let meta = file.metadata()?;
        if meta.is_dir() {
            self.send_error(ex, 404, Some("File not found"), None)?;
            return Ok(None);
        }
        let size = meta.len();
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let mtime_secs = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if ex.headers.contains("If-Modified-Since") && !ex.headers.contains("If-None-Match") {
            let ims = ex.headers.get("If-Modified-Since").unwrap_or_default();
            if let Ok(ims) = httpdate::parse_http_date(ims.trim()) {
                let ims = ims.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                if mtime_secs <= ims {
                    self.send_response(ex, 304, None)?;
                    ex.end_headers()?;
                    return Ok(None);
                }
            }
        }
        let last_modified = self.date_time_string(Some(
            UNIX_EPOCH + std::time::Duration::from_secs(mtime_secs),
        ));
        match parse_range(ex.headers.get("Range").as_deref(), size) {
            Range::Unsatisfiable => {
                self.send_response(ex, 416, None)?;
                ex.send_header("Content-Range", &format!("bytes */{size}"))?;
                ex.send_header("Content-Length", "0")?;
                ex.end_headers()?;
                Ok(None)
            }
            Range::Bytes(start, end) => {
                let len = end - start + 1;
                self.send_response(ex, 206, None)?;
                ex.send_header("Content-type", &ctype)?;
                ex.send_header("Content-Range", &format!("bytes {start}-{end}/{size}"))?;
                ex.send_header("Content-Length", &len.to_string())?;
                ex.send_header("Last-Modified", &last_modified)?;
                ex.send_header("Accept-Ranges", "bytes")?;
                ex.end_headers()?;
                file.seek(SeekFrom::Start(start))?;
                Ok(Some(Body::File { file, start, len }))
            }
            Range::Whole => {
                self.send_response(ex, 200, None)?;
                ex.send_header("Content-type", &ctype)?;
                ex.send_header("Content-Length", &size.to_string())?;
                ex.send_header("Last-Modified", &last_modified)?;
                ex.send_header("Accept-Ranges", "bytes")?;
                self.send_extra_response_headers(
                    ex,
                    &[
                        "Content-type",
                        "Content-Length",
                        "Last-Modified",
                        "Accept-Ranges",
                    ],
                )?;
                ex.end_headers()?;
                Ok(Some(Body::File {
                    file,
                    start: 0,
                    len: size,
                }))
            }
        }
    }

    /// Sends a directory listing's headers and returns the page (sorted case-insensitively,
    /// names HTML-escaped, links percent-encoded, `/` after directories, `@` after symbolic
    /// links); 404 `No permission to list directory` when it cannot be read.
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.list_directory`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.list_directory")]
    pub fn list_directory(&mut self, ex: &mut Exchange<'_>, path: &Path) -> Result<Option<Body>> {
        let Ok(entries) = fs::read_dir(path) else {
            self.send_error(ex, 404, Some("No permission to list directory"), None)?;
            return Ok(None);
        };
        let mut names: Vec<std::ffi::OsString> = entries
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort_by_cached_key(|n| n.to_string_lossy().to_lowercase());
        let displaypath = html_escape_bytes(&unquote(&ex.path));
        let mut r: Vec<Vec<u8>> = Vec::new();
        let mut title = b"Directory listing for ".to_vec();
        title.extend_from_slice(&displaypath);
        r.push(b"<!DOCTYPE HTML>".to_vec());
        r.push(b"<html lang=\"en\">".to_vec());
        r.push(b"<head>".to_vec());
        r.push(b"<meta charset=\"utf-8\">".to_vec());
        if self.dark_mode {
            r.push(
                b"<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>"
                    .to_vec(),
            );
        }
        r.push([b"<title>".as_slice(), &title, b"</title>\n</head>"].concat());
        r.push([b"<body>\n<h1>".as_slice(), &title, b"</h1>"].concat());
        r.push(b"<hr>\n<ul>".to_vec());
        for name in &names {
            let full = path.join(name);
            let mut display = name.as_bytes().to_vec();
            let mut link = display.clone();
            if full.is_dir() {
                display.push(b'/');
                link.push(b'/');
            }
            if full
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                display = name.as_bytes().to_vec();
                display.push(b'@');
            }
            r.push(
                [
                    b"<li><a href=\"".as_slice(),
                    quote_name(&link).as_bytes(),
                    b"\">",
                    &html_escape_bytes(&display),
                    b"</a></li>",
                ]
                .concat(),
            );
        }
        r.push(b"</ul>\n<hr>\n</body>\n</html>\n".to_vec());
        let encoded = r.join(&b"\n"[..]);
        self.send_response(ex, 200, None)?;
        ex.send_header("Content-type", "text/html; charset=utf-8")?;
        ex.send_header("Content-Length", &encoded.len().to_string())?;
        self.send_extra_response_headers(ex, &["Content-type", "Content-Length"])?;
        ex.end_headers()?;
        Ok(Some(Body::Bytes(encoded)))
    }

    /// Maps a request path to a file under [`directory`](Self::directory); see
    /// [`translate_path`].
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.translate_path`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.translate_path")]
    pub fn translate_path(&self, path: &str) -> PathBuf {
        translate_path(&self.directory, path)
    }

    /// The type of a file: [`extensions_map`](Self::extensions_map) by extension (as is,
    /// then lower-cased), then CPython's `mimetypes` table, then `mime_guess`, then
    /// `application/octet-stream`.
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.guess_type`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.guess_type")]
    pub fn guess_type(&self, path: &Path) -> String {
        let name = path.to_string_lossy();
        let ext = splitext(&name);
        if let Some(t) = self.extensions_map.get(ext) {
            return t.clone();
        }
        if let Some(t) = self.extensions_map.get(&ext.to_lowercase()) {
            return t.clone();
        }
        guess_type(&name).unwrap_or_else(|| "application/octet-stream".to_owned())
    }

    /// Copies a body to the client.
    ///
    /// Python: `http.server.SimpleHTTPRequestHandler.copyfile` (`shutil.copyfileobj`).
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.copyfile")]
    pub fn copyfile(&mut self, source: Body, output: &mut dyn Write) -> Result<()> {
        match source {
            Body::File { file, len, .. } => {
                // Python's shutil.copyfileobj reads 64 KiB at a time; std::io::copy's 8 KiB
                // would make four times as many write calls on a socket.
                let mut file = file.take(len);
                let mut buf = vec![0u8; (len as usize).clamp(1, 128 << 10)];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e.into()),
                    };
                    output.write_all(&buf[..n])?;
                }
            }
            Body::Bytes(b) => output.write_all(&b)?,
        }
        Ok(())
    }
}

impl HttpHandler for SimpleHttpHandler {
    /// Python: `http.server.SimpleHTTPRequestHandler.do_GET`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.do_GET")]
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        if let Some(body) = self.send_head(ex)? {
            self.copyfile(body, ex.wfile())?;
        }
        Ok(())
    }

    /// Python: `http.server.SimpleHTTPRequestHandler.do_HEAD`.
    #[doc(alias = "http.server.SimpleHTTPRequestHandler.do_HEAD")]
    fn do_head(&mut self, ex: &mut Exchange<'_>) -> Result<()> {
        self.send_head(ex)?;
        Ok(())
    }
}

/// Maps a request path to a path under `directory`, never outside it: the query and fragment
/// are dropped, `%xx` escapes decoded (UTF-8), `.` and `..` resolved lexically (never above
/// the root), empty components dropped, and a trailing slash kept. Backslashes are ordinary
/// characters on POSIX; a NUL leaves a path no file can have.
///
/// Python: `http.server.SimpleHTTPRequestHandler.translate_path`.
///
/// ```
/// use std::path::Path;
/// let root = Path::new("/srv/www");
/// assert_eq!(http_server::translate_path(root, "/a/b.txt?x=1"), root.join("a/b.txt"));
/// assert_eq!(http_server::translate_path(root, "/../../etc/passwd"), root.join("etc/passwd"));
/// assert_eq!(http_server::translate_path(root, "/%2e%2e/%2e%2e/etc"), root.join("etc"));
/// assert_eq!(http_server::translate_path(root, "/sub/"), root.join("sub/"));
/// ```
pub fn translate_path(directory: &Path, path: &str) -> PathBuf {
    let path = path.split('?').next().unwrap_or("");
    let path = path.split('#').next().unwrap_or("");
    let trailing_slash = path.trim_end().ends_with('/');
    let decoded = unquote(path);
    let mut words: Vec<&[u8]> = Vec::new();
    for w in decoded.split(|b| *b == b'/') {
        match w {
            b"" | b"." => {}
            b".." => {
                words.pop();
            }
            w => words.push(w),
        }
    }
    let mut out = directory.to_path_buf();
    for w in words {
        out.push(std::ffi::OsStr::from_bytes(w));
    }
    if trailing_slash {
        out.push("");
    }
    out
}

/// The type of a file name by CPython's built-in `mimetypes` rules (suffix map, encodings
/// stripped, case-sensitive then lower-case lookup), then `mime_guess`.
///
/// Python: `mimetypes.guess_type(path)[0]`.
///
/// ```
/// assert_eq!(http_server::guess_type("a/b.HTML").as_deref(), Some("text/html"));
/// assert_eq!(http_server::guess_type("x.tgz").as_deref(), Some("application/x-tar"));
/// assert_eq!(http_server::guess_type("noext"), None);
/// ```
#[doc(alias = "mimetypes.guess_type")]
pub fn guess_type(path: &str) -> Option<String> {
    let mut base = path.to_owned();
    let mut ext = splitext(&base).to_owned();
    while let Some((_, to)) = types::SUFFIX_MAP.iter().find(|(from, _)| *from == ext) {
        base = format!("{}{}", &base[..base.len() - ext.len()], to);
        ext = splitext(&base).to_owned();
    }
    if types::ENCODINGS_MAP.contains(&ext.as_str()) {
        base.truncate(base.len() - ext.len());
        ext = splitext(&base).to_owned();
    }
    let lookup = |e: &str| {
        types::TYPES_MAP
            .binary_search_by_key(&e, |(k, _)| k)
            .ok()
            .map(|i| types::TYPES_MAP[i].1.to_owned())
    };
    if ext.is_empty() {
        return None;
    }
    lookup(&ext)
        .or_else(|| lookup(&ext.to_lowercase()))
        .or_else(|| {
            mime_guess::from_ext(&ext[1..])
                .first_raw()
                .map(str::to_owned)
        })
}

/// Python's `posixpath.splitext(p)[1]`: the last `.suffix` of the last component, not counting
/// leading dots.
fn splitext(p: &str) -> &str {
    let name = p.rsplit('/').next().unwrap_or(p);
    let stripped = name.trim_start_matches('.');
    match stripped.rfind('.') {
        Some(i) => &stripped[i..],
        None => "",
    }
}

/// A request path as file-system bytes, as CPython's `translate_path` gets them:
/// `urllib.parse.unquote(path, errors='surrogatepass')` (`%xx` escapes to bytes, read as
/// UTF-8 in which encoded surrogates may stand), then the file system's encoding (UTF-8
/// with `surrogateescape`: U+DC80..U+DCFF are the bytes 0x80..0xFF of a name that is not
/// UTF-8, as [`quote_name`] writes them in a listing). When that reading fails, Python's
/// fallback `unquote(path)`: invalid UTF-8 becomes U+FFFD.
fn unquote(s: &str) -> Vec<u8> {
    let raw: Vec<u8> = percent_decode_str(s).collect();
    if std::str::from_utf8(&raw).is_ok() {
        return raw;
    }
    surrogates_to_bytes(&raw)
        .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned().into_bytes())
}

/// `raw` read as UTF-8 that may hold encoded surrogates (`ED A0..BF xx`), with each of
/// U+DC80..U+DCFF turned back into the byte it escapes; other surrogates are kept as they
/// are (no name is valid UTF-8 with them). `None` when `raw` is not such UTF-8.
fn surrogates_to_bytes(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    loop {
        let bad = match std::str::from_utf8(rest) {
            Ok(_) => {
                out.extend_from_slice(rest);
                return Some(out);
            }
            Err(e) => e.valid_up_to(),
        };
        out.extend_from_slice(&rest[..bad]);
        match rest[bad..] {
            [0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF, ..] => {
                let cp = 0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
                match cp.checked_sub(0xDC00).map(u8::try_from) {
                    Some(Ok(byte)) if byte >= 0x80 => out.push(byte),
                    _ => out.extend_from_slice(&[0xED, b1, b2]),
                }
                rest = &rest[bad + 3..];
            }
            _ => return None,
        }
    }
}

/// A file name as a listing's link: the name read with the file system's encoding (UTF-8
/// with `surrogateescape`: each byte of a name that is not UTF-8 becomes U+DC80..U+DCFF),
/// then `urllib.parse.quote(name, errors='surrogatepass')`, as CPython's `list_directory`
/// writes it. [`unquote`] reads it back to the same bytes.
fn quote_name(name: &[u8]) -> String {
    let mut utf8 = Vec::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        utf8.extend_from_slice(chunk.valid().as_bytes());
        for &b in chunk.invalid() {
            // U+DC00 + b, encoded as UTF-8 (`surrogatepass`).
            let cp = 0xDC00 | u32::from(b);
            utf8.extend_from_slice(&[
                0xED,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]);
        }
    }
    quote(&utf8)
}

/// `urllib.parse.quote`'s safe set with `safe='/'`: ASCII letters, digits, `_.-~` and `/`.
const QUOTE_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// `urllib.parse.quote(s)` over bytes: unreserved characters and `/` kept, the rest `%XX`.
fn quote(b: &[u8]) -> String {
    percent_encode(b, QUOTE_SAFE).to_string()
}

fn html_escape_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        match c {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    Whole,
    Bytes(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range; anything else (several ranges, other units, syntax errors) is ignored.
fn parse_range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (a.trim().is_empty(), num(a), num(b)) {
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                Range::Unsatisfiable
            } else {
                Range::Bytes(size.saturating_sub(n), size - 1)
            }
        }
        (false, Some(start), end) if end.is_some() || b.trim().is_empty() => {
            if end.is_some_and(|e| e < start) {
                return Range::Whole;
            }
            if start >= size {
                return Range::Unsatisfiable;
            }
            Range::Bytes(start, end.map_or(size - 1, |e| e.min(size - 1)))
        }
        _ => Range::Whole,
    }
}

/// A split URL (Python: `urllib.parse.urlsplit`).
struct Parts {
    scheme: String,
    netloc: Option<String>,
    path: String,
    query: String,
    fragment: String,
}

fn urlsplit(url: &str) -> Parts {
    let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut scheme = String::new();
    let mut rest = rest;
    if let Some(i) = rest.find(':') {
        let s = &rest[..i];
        if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = s.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = None;
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find('/').unwrap_or(r.len());
        netloc = Some(r[..end].to_owned());
        rest = &r[end..];
    }
    Parts {
        scheme,
        netloc,
        path: rest.to_owned(),
        query: query.to_owned(),
        fragment: fragment.to_owned(),
    }
}

impl Parts {
    fn unsplit(&self) -> String {
        let mut out = String::new();
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if let Some(n) = &self.netloc {
            out.push_str("//");
            out.push_str(n);
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&self.fragment);
        }
        out
    }
}

#[cfg(test)]
mod tests;
