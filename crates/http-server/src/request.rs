//! Parsing a request head: the request line (CPython's word splitting and version rules) and
//! the header block (httparse underneath, with the strict framing rules of RFC 9112).
//!
//! Everything here is pure: bytes in, a [`RequestHead`] or an [`HttpError`] out.

use std::fmt::Write as _;

use crate::{HttpConfig, HttpError};

/// The request's header fields: ordered, looked up case-insensitively, values kept as the
/// raw bytes the client sent (leading and trailing whitespace removed).
///
/// Python: `BaseHTTPRequestHandler.headers` (an `http.client.HTTPMessage`), whose values are
/// the bytes decoded as Latin-1: [`get`](Self::get) gives that view.
///
/// ```
/// let mut h = http_server::Headers::new();
/// h.push("Content-Type", b"text/plain");
/// h.push("X-Twice", b"1");
/// h.push("x-twice", b"2");
/// assert_eq!(h.get("content-type").as_deref(), Some("text/plain"));
/// assert_eq!(h.get_all("X-TWICE").collect::<Vec<_>>(), [b"1", b"2"]);
/// assert!(h.contains("x-twice") && !h.contains("Host"));
/// ```
#[doc(alias = "http.client.HTTPMessage")]
#[doc(alias = "http.server.BaseHTTPRequestHandler.headers")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers::default()
    }

    /// No fields, with room for `n`.
    ///
    /// Python: no equivalent.
    pub fn with_capacity(n: usize) -> Self {
        Headers {
            fields: Vec::with_capacity(n),
        }
    }

    /// Appends a field (the name as sent; the value as raw bytes).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.fields.push((name.into(), value.into()));
    }

    /// The first value of `name`, decoded as Latin-1 (one char per byte), as Python's
    /// `headers.get(name)`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_raw(name).map(latin1)
    }

    /// The first value of `name` as raw bytes.
    pub fn get_raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name`, in order (Python: `headers.get_all(name)`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Removes every field named `name` (Python: `del headers[name]`).
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// True when a field named `name` is present (Python: `name in headers`).
    pub fn contains(&self, name: &str) -> bool {
        self.get_all(name).next().is_some()
    }

    /// Every field in order, names as the client spelled them (Python: `headers.items()`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Gives the fields' buffers back to the thread's pool (see `pool`).
    pub(crate) fn recycle(self) {
        for (name, value) in self.fields {
            crate::pool::give_string(name);
            crate::pool::give_bytes(value);
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no `Content-Length`, no `Transfer-Encoding`).
    None,
    /// `Content-Length` bytes follow the head.
    Length(u64),
    /// The body is `chunked` (the final transfer coding).
    Chunked,
}

/// A parsed request line.
///
/// Python: the attributes `parse_request` sets from `raw_requestline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// The line decoded as Latin-1, trailing CR and LF removed (Python: `requestline`).
    pub requestline: String,
    /// The method (Python: `command`).
    pub command: String,
    /// The request target, with a leading `//` reduced to `/` (Python: `path`, gh-87389).
    pub path: String,
    /// The version as sent, `HTTP/0.9` for a simple request (Python: `request_version`).
    pub request_version: String,
    /// The version as numbers: `(0, 9)` for a simple request.
    pub version: (u32, u32),
    /// Whether the connection closes after this request, from the versions alone.
    pub close_connection: bool,
}

/// A parsed request head.
///
/// Python: the state of a `BaseHTTPRequestHandler` after a successful `parse_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request line and what it says.
    pub line: RequestLine,
    /// The line as received, line ending included (Python: `raw_requestline`).
    pub raw_requestline: Vec<u8>,
    /// The header fields (Python: `headers`).
    pub headers: Headers,
    /// Whether the connection closes after this request (Python: `close_connection`, after
    /// the `Connection` header is applied).
    pub close_connection: bool,
    /// True when the client sent `Expect: 100-continue` and both sides speak HTTP/1.1, so
    /// `handle_expect_100` must run before the handler.
    pub expect_100: bool,
    /// How the body is framed.
    pub body: BodyFraming,
}

/// The outcome of [`parse_request`] on a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet: read more.
    Partial,
    /// The request line holds no words: CPython closes the connection without a reply.
    Empty {
        /// Bytes consumed (the blank line).
        consumed: usize,
    },
    /// A complete head of `consumed` bytes.
    Complete {
        /// The head.
        head: RequestHead,
        /// Bytes consumed: the body (if any) starts there.
        consumed: usize,
    },
}

/// Parses a request head from a buffer that starts at a request line.
///
/// Applies every rule of [`parse_request_line`] and [`parse_headers`], the limits of
/// `config` (a request line over `max_line` bytes is 414, a header line over it 431, more
/// than `max_headers - 1` fields 431: CPython's boundary) and the `Connection` / `Expect`
/// rules of `config.protocol_version`.
///
/// Python: `BaseHTTPRequestHandler.parse_request` (plus the request-line read of
/// `handle_one_request`), as a pure function: it sends nothing, it returns the error
/// reply instead.
///
/// ```
/// use http_server::{parse_request, HttpConfig, Parsed, BodyFraming};
/// let cfg = HttpConfig::default();
/// let Parsed::Complete { head, consumed } =
///     parse_request(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", &cfg)?
/// else { panic!("incomplete") };
/// assert_eq!((head.line.command.as_str(), consumed), ("POST", 48));
/// assert_eq!(head.body, BodyFraming::Length(3));
/// assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHo", &cfg)?, Parsed::Partial);
/// assert_eq!(parse_request(b"GET / HTTP/2.0\r\n\r\n", &cfg).unwrap_err().code, 505);
/// # Ok::<(), http_server::HttpError>(())
/// ```
#[doc(alias = "http.server.BaseHTTPRequestHandler.parse_request")]
pub fn parse_request(buf: &[u8], config: &HttpConfig) -> Result<Parsed, HttpError> {
    let limit = config.max_line;
    let Some(nl) = memchr(b'\n', &buf[..buf.len().min(limit + 1)]) else {
        if buf.len() > limit {
            return Err(HttpError::new(414));
        }
        return Ok(Parsed::Partial);
    };
    let raw = &buf[..=nl];
    let Some(line) = parse_request_line(raw, &config.protocol_version)? else {
        return Ok(Parsed::Empty {
            consumed: raw.len(),
        });
    };
    let mut pos = raw.len();
    let mut count = 0usize;
    loop {
        let rest = &buf[pos..];
        let Some(nl) = memchr(b'\n', &rest[..rest.len().min(limit + 1)]) else {
            if rest.len() > limit {
                return Err(line_too_long());
            }
            return Ok(Parsed::Partial);
        };
        count += 1;
        if count > config.max_headers {
            return Err(too_many_headers(config.max_headers));
        }
        pos += nl + 1;
        if nl == 0 || (nl == 1 && rest[0] == b'\r') {
            break;
        }
    }
    let (headers, body) = parse_headers_framed(&buf[raw.len()..pos], config)?;
    let head = finish_head(line, crate::pool::bytes_from(raw), headers, body, config)?;
    Ok(Parsed::Complete {
        head,
        consumed: pos,
    })
}

/// Parses a request line (its line ending included or not) as CPython does: split on
/// whitespace; three words give a version (`HTTP/x.y`, each part 1 to 10 digits, below 2.0),
/// two words are an HTTP/0.9 `GET`. `Ok(None)` when the line holds no words (CPython then
/// closes the connection without replying).
///
/// Errors: 400 `Bad request version ('...')`, 505 `Invalid HTTP version (2.0)`, 400
/// `Bad request syntax ('...')`, 400 `Bad HTTP/0.9 request type ('...')` (the text shown as
/// Python's `repr`).
///
/// Python: the first half of `BaseHTTPRequestHandler.parse_request`.
///
/// ```
/// use http_server::parse_request_line;
/// let l = parse_request_line(b"GET //evil.example/ HTTP/1.1\r\n", "HTTP/1.1")?.unwrap();
/// assert_eq!((l.path.as_str(), l.close_connection), ("/evil.example/", false));
/// let e = parse_request_line(b"GET /spaced out HTTP/1.1\r\n", "HTTP/1.0").unwrap_err();
/// assert_eq!(e.message.as_deref(), Some("Bad request syntax ('GET /spaced out HTTP/1.1')"));
/// # Ok::<(), http_server::HttpError>(())
/// ```
pub fn parse_request_line(
    raw: &[u8],
    protocol_version: &str,
) -> Result<Option<RequestLine>, HttpError> {
    let requestline = requestline_of(raw);
    // The first words (Python: `requestline.split()`); four are enough to tell a valid line
    // (two or three words) from an invalid one.
    let mut words = [""; 4];
    let count = split_words(&requestline, &mut words);
    let words = &words[..count.min(4)];
    if count == 0 {
        return Ok(None);
    }
    let mut close_connection = true;
    let mut request_version = None;
    let mut version = (0, 9);
    if count >= 3 {
        // The last word: with more than four words, find it again.
        let v = if count > 4 {
            requestline
                .split(is_py_space)
                .rfind(|w| !w.is_empty())
                .unwrap_or_default()
        } else {
            words[count - 1]
        };
        let bad = || HttpError::new(400).message(format!("Bad request version ({})", py_repr(v)));
        let base = v.strip_prefix("HTTP/").ok_or_else(bad)?;
        let number =
            |p: &str| !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit());
        let (major, minor) = match base.split_once('.') {
            Some((a, b)) if number(a) && number(b) => (a, b),
            _ => return Err(bad()),
        };
        let major: u32 = major.parse().map_err(|_| bad())?;
        let minor: u32 = minor.parse().map_err(|_| bad())?;
        version = (major, minor);
        if version >= (1, 1) && protocol_version >= "HTTP/1.1" {
            close_connection = false;
        }
        if version >= (2, 0) {
            return Err(HttpError::new(505).message(format!("Invalid HTTP version ({base})")));
        }
        request_version = Some(crate::pool::string_from(v));
    }
    let request_version = request_version.unwrap_or_else(|| "HTTP/0.9".to_owned());
    if !(2..=3).contains(&count) {
        return Err(
            HttpError::new(400).message(format!("Bad request syntax ({})", py_repr(&requestline)))
        );
    }
    let (command, mut path) = (
        crate::pool::string_from(words[0]),
        crate::pool::string_from(words[1]),
    );
    if count == 2 {
        close_connection = true;
        if command != "GET" {
            return Err(HttpError::new(400)
                .message(format!("Bad HTTP/0.9 request type ({})", py_repr(&command))));
        }
    }
    if path.starts_with("//") {
        path = format!("/{}", path.trim_start_matches('/'));
    }
    let _ = words;
    Ok(Some(RequestLine {
        requestline,
        command,
        path,
        request_version,
        version,
        close_connection,
    }))
}

/// Python's `line.split()`: puts the first words of `line` in `words` and returns how many
/// words there are, counting at most one past `words.len()`.
fn split_words<'a>(line: &'a str, words: &mut [&'a str; 4]) -> usize {
    let mut count = 0;
    let mut push = |w: &'a str| {
        if count < words.len() {
            words[count] = w;
        }
        count += 1;
        count <= words.len()
    };
    if line.is_ascii() {
        // Bytes are chars: split on the ASCII whitespace bytes without decoding.
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if is_py_space(char::from(b[i])) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !is_py_space(char::from(b[i])) {
                i += 1;
            }
            if !push(&line[start..i]) {
                break;
            }
        }
    } else {
        for w in line.split(is_py_space).filter(|w| !w.is_empty()) {
            if !push(w) {
                break;
            }
        }
    }
    count
}

/// The strict rules of RFC 9112 §3 that CPython lacks, for a line [`parse_request_line`]
/// accepted (the production face applies them; the faithful face keeps CPython's leniency,
/// which its tests pin: `GET test HTTP/1.0` serves `test`, an ESC in the target is logged
/// escaped): no control character (bare CR, NUL, VT...) but the SP and HTAB separators, a
/// method that is a token, and a target in one of the four forms: origin-form (`/...`),
/// absolute-form (`scheme:...`), authority-form (`host:port`, CONNECT only) or `*` (OPTIONS
/// only).
pub(crate) fn check_line_strict(
    requestline: &str,
    command: &str,
    target: &str,
) -> Result<(), HttpError> {
    if requestline
        .chars()
        .any(|c| (c < ' ' && c != '\t') || c == '\x7f')
    {
        return Err(
            HttpError::new(400).message(format!("Bad request syntax ({})", py_repr(requestline)))
        );
    }
    if !command.bytes().all(is_tchar) {
        return Err(HttpError::new(400)
            .message(format!("Bad request method ({})", py_repr(command)))
            .explain("the method is not a token (RFC 9110 §9)".to_owned()));
    }
    let bad_target = |why: &str| {
        HttpError::new(400)
            .message(format!("Bad request target ({})", py_repr(target)))
            .explain(why.to_owned())
    };
    match target_form(target) {
        TargetForm::Origin | TargetForm::Absolute => {
            if command == "CONNECT" {
                return Err(bad_target("CONNECT takes an authority-form target"));
            }
        }
        TargetForm::Authority => {
            if command != "CONNECT" {
                return Err(bad_target("an authority-form target is for CONNECT only"));
            }
        }
        TargetForm::Asterisk => {
            if command != "OPTIONS" {
                return Err(bad_target("an asterisk-form target is for OPTIONS only"));
            }
        }
        TargetForm::Invalid => {
            return Err(bad_target(
                "the request target is in no form of RFC 9112 §3.2",
            ));
        }
    }
    Ok(())
}

/// The four forms of a request target (RFC 9112 §3.2), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetForm {
    Origin,
    Absolute,
    Authority,
    Asterisk,
    Invalid,
}

fn target_form(target: &str) -> TargetForm {
    if target.starts_with('/') {
        return TargetForm::Origin;
    }
    if target == "*" {
        return TargetForm::Asterisk;
    }
    if let Some((scheme, rest)) = target.split_once(':') {
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        // `host:port` with a numeric port is authority-form; `scheme:rest` otherwise.
        let numeric_port = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
        if is_scheme && !numeric_port {
            return TargetForm::Absolute;
        }
        if valid_authority(target.as_bytes()) && !rest.is_empty() {
            return TargetForm::Authority;
        }
    }
    TargetForm::Invalid
}

/// `host [ ":" port ]` of RFC 3986 §3.2.2 without userinfo, as a `Host` field value or an
/// authority-form target must be: an IP-literal in brackets, or a reg-name / IPv4 address of
/// unreserved, sub-delims and `%xx` characters; a port of digits.
pub(crate) fn valid_authority(v: &[u8]) -> bool {
    let (host, port): (&[u8], &[u8]) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &v[1..close];
        let ipv6 = |b: &u8| b.is_ascii_hexdigit() || *b == b':' || *b == b'.';
        let future = |b: &u8| is_unreserved(*b) || is_sub_delim(*b) || *b == b':';
        let ok = match literal.first() {
            None => false,
            Some(b'v' | b'V') => literal.iter().all(future),
            Some(_) => literal.iter().all(ipv6),
        };
        if !ok {
            return false;
        }
        match &v[close + 1..] {
            [] => return true,
            [b':', port @ ..] => (&[][..], port),
            _ => return false,
        }
    } else {
        match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (v, &[][..]),
        }
    };
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            if !(host.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && host.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim(b)) {
            return false;
        }
        i += 1;
    }
    port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// The request line as CPython keeps it: decoded as Latin-1, trailing CR and LF removed.
///
/// Python: `str(raw_requestline, 'iso-8859-1').rstrip('\r\n')`.
pub fn requestline_of(raw: &[u8]) -> String {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    latin1_pooled(&raw[..end])
}

/// Parses a header block: the field lines after the request line, ending with the blank
/// line (or at the end of the input, as CPython accepts).
///
/// Limits as CPython's `http.client._read_headers` (a line over `max_line` bytes: 431
/// `Line too long`; `max_headers` lines counting the blank one: 431 `Too many headers`), then
/// the strict framing rules (400): no obs-fold, a colon on every line, no whitespace before
/// it, no bare CR, a token name, a value without control characters (httparse), a valid and
/// consistent `Content-Length`, `Transfer-Encoding` ending in `chunked`, never both.
///
/// Python: `http.client.parse_headers`, stricter.
///
/// ```
/// use http_server::{parse_headers, HttpConfig};
/// let h = parse_headers(b"Host: a\r\nX: 1\r\n\r\n", &HttpConfig::default())?;
/// assert_eq!(h.get("x").as_deref(), Some("1"));
/// let e = parse_headers(b"Host : a\r\n\r\n", &HttpConfig::default()).unwrap_err();
/// assert_eq!(e.code, 400);
/// # Ok::<(), http_server::HttpError>(())
/// ```
#[doc(alias = "http.client.parse_headers")]
pub fn parse_headers(block: &[u8], config: &HttpConfig) -> Result<Headers, HttpError> {
    parse_headers_framed(block, config).map(|(headers, _)| headers)
}

/// [`parse_headers`], and the body framing its rules found.
pub(crate) fn parse_headers_framed(
    block: &[u8],
    config: &HttpConfig,
) -> Result<(Headers, BodyFraming), HttpError> {
    // The lines up to the blank one, checked against the limits first (as CPython reads
    // them), so no field is looked at in a block that breaks a limit.
    let lines = || {
        let mut rest = block;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let end = memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            let line = &rest[..end];
            rest = if line == b"\r\n" || line == b"\n" {
                &[]
            } else {
                &rest[end..]
            };
            Some(line)
        })
    };
    let mut count = 0;
    let mut through_blank = 0;
    let mut ends_blank = false;
    for line in lines() {
        if line.len() > config.max_line {
            return Err(line_too_long());
        }
        count += 1;
        if count > config.max_headers {
            return Err(too_many_headers(config.max_headers));
        }
        through_blank += line.len();
        ends_blank = line == b"\r\n" || line == b"\n";
    }
    // The values' characters must be HTAB, SP, VCHAR or obs-text (httparse's classes).
    // A long block is checked by httparse at once (its SIMD pays off); a short one, the
    // usual request, by a scalar loop per line. A line either finds fault with goes
    // through httparse alone, for the verdict.
    let values_checked = through_blank > 512 && ends_blank && count <= 32 && {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        matches!(
            httparse::parse_headers(&block[..through_blank], &mut slots),
            Ok(httparse::Status::Complete(_))
        )
    };
    let mut headers = Headers::with_capacity(count);
    for line in lines() {
        let body = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if body.is_empty() {
            break;
        }
        let bad = |why: &str| {
            HttpError::new(400)
                .message(format!(
                    "Bad header line ({})",
                    py_repr(&requestline_of(line))
                ))
                .explain(why.to_owned())
        };
        if body[0] == b' ' || body[0] == b'\t' {
            return Err(bad("obsolete line folding is not accepted"));
        }
        if body.contains(&b'\r') {
            return Err(bad("bare CR in a header line"));
        }
        let Some(colon) = memchr(b':', body) else {
            return Err(bad("header line without a colon"));
        };
        let name = &body[..colon];
        if name.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err(bad("whitespace between the header name and the colon"));
        }
        if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
            return Err(bad("invalid header name"));
        }
        if !values_checked && !body.iter().all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f)) {
            let mut one = [httparse::EMPTY_HEADER; 1];
            let mut owned = body.to_vec();
            owned.extend_from_slice(b"\r\n\r\n");
            match httparse::parse_headers(&owned, &mut one) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => return Err(bad("invalid characters in the header value")),
            }
        }
        let value = trim_ows(&body[colon + 1..]);
        // A name is tokens only (checked above): ASCII, so valid UTF-8 as it is.
        let mut owned_name = crate::pool::string();
        owned_name.push_str(crate::ascii::as_str(name).unwrap_or_default());
        headers.push(owned_name, crate::pool::bytes_from(value));
    }
    let body = framing(&headers)?;
    Ok((headers, body))
}

/// Applies the `Content-Length` / `Transfer-Encoding` rules; returns the body framing.
fn framing(headers: &Headers) -> Result<BodyFraming, HttpError> {
    let bad = |m: &str, e: &str| {
        HttpError::new(400)
            .message(m.to_owned())
            .explain(e.to_owned())
    };
    // RFC 9112 §6.3: one Content-Length field of plain digits. A list (`5, 5`) or a repeated
    // field is refused even when the values agree: a proxy may have picked another one.
    let mut length: Option<u64> = None;
    for v in headers.get_all("Content-Length") {
        if length.is_some() {
            return Err(bad(
                "Bad Content-Length",
                "more than one Content-Length field",
            ));
        }
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) || v.len() > 19 {
            return Err(bad("Bad Content-Length", "invalid Content-Length value"));
        }
        let n: u64 = latin1(v)
            .parse()
            .map_err(|_| bad("Bad Content-Length", "invalid Content-Length value"))?;
        length = Some(n);
    }
    // The transfer codings: how many, and whether the only one is `chunked`.
    let mut codings = 0usize;
    let mut only_chunked = false;
    let mut has_te = false;
    for v in headers.get_all("Transfer-Encoding") {
        has_te = true;
        for item in v.split(|b| *b == b',') {
            let item = trim_ows(item);
            if !item.is_empty() {
                codings += 1;
                only_chunked = codings == 1 && item.eq_ignore_ascii_case(b"chunked");
            }
        }
    }
    if has_te {
        if length.is_some() {
            return Err(bad(
                "Bad Transfer-Encoding",
                "Content-Length together with Transfer-Encoding",
            ));
        }
        // Only `chunked` alone: no other coding is implemented (decoding `gzip, chunked`
        // would be needed to find what the application reads).
        if codings != 1 || !only_chunked {
            return Err(bad(
                "Bad Transfer-Encoding",
                "the final transfer coding must be chunked",
            ));
        }
        return Ok(BodyFraming::Chunked);
    }
    Ok(length.map_or(BodyFraming::None, BodyFraming::Length))
}

/// Combines a parsed request line and header block into a head: Host rule, `Connection`
/// and `Expect` rules, body framing.
pub(crate) fn finish_head(
    line: RequestLine,
    raw_requestline: Vec<u8>,
    headers: Headers,
    body: BodyFraming,
    config: &HttpConfig,
) -> Result<RequestHead, HttpError> {
    if line.version >= (1, 1) && headers.get_all("Host").count() != 1 {
        return Err(HttpError::new(400)
            .message("Bad Host header")
            .explain("an HTTP/1.1 request needs exactly one Host header"));
    }
    // RFC 9112 §3.2: a Host that is not a valid authority is a 400 (any version).
    if headers.get_all("Host").any(|h| !valid_authority(h)) {
        return Err(HttpError::new(400)
            .message("Bad Host header")
            .explain("the Host header is not a valid authority"));
    }
    if body == BodyFraming::Chunked && line.version < (1, 1) {
        return Err(HttpError::new(400)
            .message("Bad Transfer-Encoding")
            .explain("Transfer-Encoding in an HTTP/1.0 request"));
    }
    let mut close_connection = line.close_connection;
    // Python lowercases the Latin-1 text; no char beyond ASCII lowercases into ASCII, so a
    // byte-wise ASCII comparison is the same test.
    let conntype = headers.get_raw("Connection").unwrap_or_default();
    if conntype.eq_ignore_ascii_case(b"close") {
        close_connection = true;
    } else if conntype.eq_ignore_ascii_case(b"keep-alive")
        && config.protocol_version.as_str() >= "HTTP/1.1"
    {
        close_connection = false;
    }
    let expect = headers.get_raw("Expect").unwrap_or_default();
    let expect_100 = expect.eq_ignore_ascii_case(b"100-continue")
        && config.protocol_version.as_str() >= "HTTP/1.1"
        && line.request_version.as_str() >= "HTTP/1.1";
    Ok(RequestHead {
        line,
        raw_requestline,
        headers,
        close_connection,
        expect_100,
        body,
    })
}

pub(crate) fn line_too_long() -> HttpError {
    HttpError::new(431)
        .message("Line too long")
        .explain("got more than 65536 bytes when reading header line")
}

pub(crate) fn too_many_headers(max: usize) -> HttpError {
    HttpError::new(431)
        .message("Too many headers")
        .explain(format!("got more than {max} headers"))
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// `v` without leading and trailing spaces and tabs (RFC 9110's OWS).
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |i| i + 1);
    &v[start..end.max(start)]
}

fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// RFC 9110 `tchar`: letters, digits and ``!#$%&'*+-.^_`|~``, as a table (one load per byte).
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Python's `str.isspace` over Latin-1 characters (what `str.split()` splits on).
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// Bytes as Latin-1 text: one char per byte.
/// [`latin1`] into a recycled string (for the strings a request head keeps).
pub(crate) fn latin1_pooled(bytes: &[u8]) -> String {
    latin1_into(bytes, crate::pool::string())
}

pub(crate) fn latin1(bytes: &[u8]) -> String {
    latin1_into(bytes, String::new())
}

/// `bytes` as Latin-1 text, appended to `s`.
fn latin1_into(bytes: &[u8], mut s: String) -> String {
    match crate::ascii::as_str(bytes) {
        // ASCII is valid UTF-8 with the same chars.
        Some(text) => s.push_str(text),
        None => s.extend(bytes.iter().map(|&b| b as char)),
    }
    s
}

/// Text as Python's `repr` of a `str` shows it: quotes chosen as Python chooses them, `\\`,
/// `\n`, `\r`, `\t` and `\xNN` / `\uNNNN` escapes for non-printable characters.
///
/// ```
/// assert_eq!(http_server::py_repr("it's"), r#""it's""#);
/// assert_eq!(http_server::py_repr("a\x1b\u{ad}é"), r"'a\x1b\xadé'");
/// ```
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests;
