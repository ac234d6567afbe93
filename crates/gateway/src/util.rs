//! Miscellaneous WSGI-related utilities.
//!
//! Python: `wsgiref.util` (plus `wsgiref.handlers.format_date_time` and the Rust-only
//! helpers this port needs: Latin-1 conversion and Python's `repr` of a string).
//!
//! `quote` stays hand-written for fidelity: it is `urllib.parse.quote(encoding='latin1')`
//! with a caller's `safe` set, which `percent-encoding` (UTF-8 bytes, const sets) is not.

use std::time::SystemTime;

use crate::types::{Environ, ErrorStream, InputStream};

pub use crate::file_wrapper::FileWrapper;

/// Python: `wsgiref.util.guess_scheme`.
///
/// Guesses `wsgi.url_scheme`: `https` when `HTTPS` is `yes`, `on` or `1`, else `http`.
///
/// ```
/// let mut env = gateway::Environ::new();
/// assert_eq!(gateway::util::guess_scheme(&env), "http");
/// env.set("HTTPS", "on");
/// assert_eq!(gateway::util::guess_scheme(&env), "https");
/// ```
#[doc(alias = "wsgiref.util.guess_scheme")]
pub fn guess_scheme(environ: &Environ) -> &'static str {
    match environ.get("HTTPS") {
        Some("yes" | "on" | "1") => "https",
        _ => "http",
    }
}

/// `urllib.parse.quote(s, safe, encoding='latin1')`: characters beyond Latin-1 (which
/// Python refuses) are percent-encoded as UTF-8.
fn quote(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let push_byte = |out: &mut String, b: u8| {
        let c = b as char;
        if b.is_ascii_alphanumeric() || "_.-~".contains(c) || (b < 0x80 && safe.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    };
    for ch in s.chars() {
        let cp = ch as u32;
        if cp <= 0xFF {
            push_byte(&mut out, cp as u8);
        } else {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                push_byte(&mut out, b);
            }
        }
    }
    out
}

/// Python: `wsgiref.util.application_uri`.
///
/// The application's base URI (no `PATH_INFO` or `QUERY_STRING`).
///
/// ```
/// let mut env = gateway::Environ::new();
/// env.set("SCRIPT_NAME", "/sp\u{e4}m");
/// gateway::util::setup_testing_defaults(&mut env);
/// assert_eq!(gateway::util::application_uri(&env), "http://127.0.0.1/sp%E4m");
/// ```
#[doc(alias = "wsgiref.util.application_uri")]
pub fn application_uri(environ: &Environ) -> String {
    let scheme = environ.url_scheme();
    let mut url = format!("{scheme}://");
    match environ.get("HTTP_HOST") {
        Some(host) if !host.is_empty() => url.push_str(host),
        _ => {
            url.push_str(environ.get("SERVER_NAME").unwrap_or(""));
            let port = environ.get("SERVER_PORT").unwrap_or("");
            let default = if scheme == "https" { "443" } else { "80" };
            if port != default {
                url.push(':');
                url.push_str(port);
            }
        }
    }
    let script = match environ.get("SCRIPT_NAME") {
        Some(s) if !s.is_empty() => s,
        _ => "/",
    };
    url.push_str(&quote(script, "/"));
    url
}

/// Python: `wsgiref.util.request_uri`.
///
/// The full request URI, optionally with the query string.
///
/// ```
/// let mut env = gateway::Environ::new();
/// env.set("SCRIPT_NAME", "/spammity");
/// env.set("PATH_INFO", "/spam");
/// env.set("QUERY_STRING", "say=ni");
/// gateway::util::setup_testing_defaults(&mut env);
/// assert_eq!(gateway::util::request_uri(&env, true), "http://127.0.0.1/spammity/spam?say=ni");
/// ```
#[doc(alias = "wsgiref.util.request_uri")]
pub fn request_uri(environ: &Environ, include_query: bool) -> String {
    let mut url = application_uri(environ);
    let path_info = quote(environ.get("PATH_INFO").unwrap_or(""), "/;=,");
    match environ.get("SCRIPT_NAME") {
        Some(s) if !s.is_empty() => url.push_str(&path_info),
        _ => url.push_str(path_info.get(1..).unwrap_or("")),
    }
    if include_query && let Some(q) = environ.get("QUERY_STRING").filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// `posixpath.normpath`.
fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && parts.is_empty()) || parts.last() == Some(&"..") {
            parts.push(comp);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = format!("{}{}", "/".repeat(initial), parts.join("/"));
    if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// Python: `wsgiref.util.shift_path_info`.
///
/// Shifts one name from `PATH_INFO` to `SCRIPT_NAME` and returns it; `None` when
/// `PATH_INFO` has no segment left.
///
/// ```
/// let mut env = gateway::Environ::new();
/// env.set("SCRIPT_NAME", "/a");
/// env.set("PATH_INFO", "/x/y");
/// assert_eq!(gateway::util::shift_path_info(&mut env).as_deref(), Some("x"));
/// assert_eq!(env.get("SCRIPT_NAME"), Some("/a/x"));
/// assert_eq!(env.get("PATH_INFO"), Some("/y"));
/// ```
#[doc(alias = "wsgiref.util.shift_path_info")]
pub fn shift_path_info(environ: &mut Environ) -> Option<String> {
    let path_info = environ.get("PATH_INFO").unwrap_or("").to_owned();
    if path_info.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = path_info.split('/').collect();
    if parts.len() > 2 {
        let last = parts.len() - 1;
        let middle: Vec<&str> = parts[1..last]
            .iter()
            .copied()
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let tail = parts[last];
        parts.truncate(1);
        parts.extend(middle);
        parts.push(tail);
    }
    let name = parts.get(1).copied().unwrap_or("").to_owned();
    if parts.len() > 1 {
        parts.remove(1);
    }
    let script = environ.get("SCRIPT_NAME").unwrap_or("").to_owned();
    let mut script_name = normpath(&format!("{script}/{name}"));
    if script_name.ends_with('/') {
        script_name.pop();
    }
    if name.is_empty() && !script_name.ends_with('/') {
        script_name.push('/');
    }
    environ.set("SCRIPT_NAME", script_name);
    environ.set("PATH_INFO", parts.join("/"));
    if name == "." { None } else { Some(name) }
}

/// Python: `wsgiref.util.setup_testing_defaults`.
///
/// Fills `environ` with trivial defaults for testing, never replacing a value already set:
/// `SERVER_NAME`, `SERVER_PROTOCOL`, `HTTP_HOST`, `REQUEST_METHOD`, `SCRIPT_NAME`,
/// `PATH_INFO`, `wsgi.url_scheme` and `SERVER_PORT` (the other `wsgi.*` entries are typed
/// fields of [`Environ`] and always present: an empty `wsgi.input`, an in-memory
/// `wsgi.errors`, `wsgi.version` `(1, 0)`, the flags `False`).
///
/// ```
/// let mut env = gateway::Environ::new();
/// gateway::util::setup_testing_defaults(&mut env);
/// assert_eq!(env.get("HTTP_HOST"), Some("127.0.0.1"));
/// assert_eq!(env.get("SERVER_PORT"), Some("80"));
/// ```
#[doc(alias = "wsgiref.util.setup_testing_defaults")]
pub fn setup_testing_defaults(environ: &mut Environ) {
    environ.setdefault("SERVER_NAME", "127.0.0.1");
    environ.setdefault("SERVER_PROTOCOL", "HTTP/1.0");
    let server_name = environ.get("SERVER_NAME").unwrap_or("").to_owned();
    environ.setdefault("HTTP_HOST", server_name);
    environ.setdefault("REQUEST_METHOD", "GET");
    if !environ.contains("SCRIPT_NAME") && !environ.contains("PATH_INFO") {
        environ.setdefault("SCRIPT_NAME", "");
        environ.setdefault("PATH_INFO", "/");
    }
    if !environ.has_input() {
        environ.set_input(InputStream::empty());
    }
    if !environ.has_errors() {
        environ.set_errors(ErrorStream::memory().0);
    }
    if environ.url_scheme_opt().is_none() {
        let scheme = guess_scheme(environ);
        environ.set_url_scheme(scheme);
    }
    let port = match environ.url_scheme() {
        "http" => "80",
        "https" => "443",
        _ => return,
    };
    environ.setdefault("SERVER_PORT", port);
}

/// Python: `wsgiref.util.is_hop_by_hop`.
///
/// True when `header_name` is an HTTP/1.1 hop-by-hop header (case-insensitive).
///
/// ```
/// assert!(gateway::util::is_hop_by_hop("Keep-Alive"));
/// assert!(!gateway::util::is_hop_by_hop("Trailer"));
/// ```
#[doc(alias = "wsgiref.util.is_hop_by_hop")]
pub fn is_hop_by_hop(header_name: &str) -> bool {
    const HOPPISH: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    ];
    HOPPISH.iter().any(|h| h.eq_ignore_ascii_case(header_name))
}

/// Python: `wsgiref.handlers.format_date_time` (which takes a POSIX timestamp).
///
/// Formats a time as an IMF-fixdate (`Mon, 05 Jun 2006 18:49:54 GMT`).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(1_149_533_394);
/// assert_eq!(gateway::util::format_date_time(t), "Mon, 05 Jun 2006 18:49:54 GMT");
/// ```
#[doc(alias = "wsgiref.handlers.format_date_time")]
pub fn format_date_time(timestamp: SystemTime) -> String {
    stdx::date::format(timestamp)
}

/// Python: `bytes.decode('iso-8859-1')`.
pub use stdx::latin1::decode as latin1_decode;
/// Python: `str.encode('iso-8859-1')` (`None` where Python raises `UnicodeEncodeError`).
pub use stdx::latin1::encode as latin1_encode;
/// True when every char of `s` is at most U+00FF (a valid PEP 3333 native string).
pub use stdx::latin1::is_latin1;
/// Python's `repr()` of a `str`.
pub use stdx::repr::py_repr;

#[cfg(test)]
mod tests;
