//! Parsing a request head: the request line (CPython's word splitting and version rules) and
//! the header block (one pass over its lines, with the strict framing rules of RFC 9112;
//! httparse's value classes, and its verdict on a line the pass finds fault with).
//!
//! Everything here is pure: bytes in, a [`RequestHead`] or an [`HttpError`] out.

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
#[derive(Clone, Default)]
pub struct Headers {
    // Three buffers whatever the number of fields (a request's head is copied into them
    // once, and they are recycled whole): the names back to back, the values back to back,
    // and where each field's name and value are. `remove` forgets spans, not bytes.
    names: String,
    values: Vec<u8>,
    spans: Vec<Span>,
}

/// Where a field's name is in [`Headers::names`] and its value in [`Headers::values`].
#[derive(Debug, Clone, Copy)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
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
            spans: Vec::with_capacity(n),
            ..Headers::default()
        }
    }

    /// Appends a field (the name as sent; the value as raw bytes).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.push_str(&name.into(), &value.into());
    }

    /// Appends a field, copying `name` and `value`.
    fn push_str(&mut self, name: &str, value: &[u8]) {
        let name_start = self.names.len();
        self.names.push_str(name);
        let value_start = self.values.len();
        self.values.extend_from_slice(value);
        self.spans.push(Span {
            name: (name_start, self.names.len()),
            value: (value_start, self.values.len()),
        });
    }

    /// Appends a field parsed from a request: a token name (so ASCII) and a value.
    fn push_field(&mut self, name: &[u8], value: &[u8]) {
        self.push_str(stdx::ascii::as_str(name).unwrap_or_default(), value);
    }

    fn name(&self, s: &Span) -> &str {
        &self.names[s.name.0..s.name.1]
    }

    fn value(&self, s: &Span) -> &[u8] {
        &self.values[s.value.0..s.value.1]
    }

    /// The value of field number `index`.
    fn value_at(&self, index: usize) -> &[u8] {
        self.value(&self.spans[index])
    }

    /// The first value of `name`, decoded as Latin-1 (one char per byte), as Python's
    /// `headers.get(name)`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_raw(name).map(latin1)
    }

    /// The first value of `name` as raw bytes.
    pub fn get_raw(&self, name: &str) -> Option<&[u8]> {
        self.spans
            .iter()
            .find(|s| self.name(s).eq_ignore_ascii_case(name))
            .map(|s| self.value(s))
    }

    /// Every value of `name`, in order (Python: `headers.get_all(name)`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.spans
            .iter()
            .filter(move |s| self.name(s).eq_ignore_ascii_case(name))
            .map(|s| self.value(s))
    }

    /// Removes every field named `name` (Python: `del headers[name]`).
    pub fn remove(&mut self, name: &str) {
        let names = &self.names;
        self.spans
            .retain(|s| !names[s.name.0..s.name.1].eq_ignore_ascii_case(name));
    }

    /// True when a field named `name` is present (Python: `name in headers`).
    pub fn contains(&self, name: &str) -> bool {
        self.get_all(name).next().is_some()
    }

    /// Every field in order, names as the client spelled them (Python: `headers.items()`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        self.spans.iter().map(|s| (self.name(s), self.value(s)))
    }

    /// No fields, in buffers recycled from an earlier request when some are available.
    fn pooled() -> Self {
        crate::pool::take(&HEADERS)
    }

    /// Gives the buffers back to the thread's pool (cleared; dropped when the pool is full
    /// or they are large).
    pub(crate) fn recycle(mut self) {
        if self.spans.capacity() == 0
            || self.spans.capacity() > MAX_POOLED_FIELDS
            || self.names.capacity() > MAX_POOLED_BYTES
            || self.values.capacity() > MAX_POOLED_BYTES
        {
            return;
        }
        self.names.clear();
        self.values.clear();
        self.spans.clear();
        let _ = HEADERS.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < MAX_POOLED_HEADERS {
                p.push(self);
            }
        });
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Equal when the fields are (names as spelled, values, order).
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// The fields, as `(name, value bytes)` pairs.
impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Fields<'a>(&'a Headers);
        impl std::fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.0.iter()).finish()
            }
        }
        f.debug_struct("Headers")
            .field("fields", &Fields(self))
            .finish()
    }
}

/// Headers kept per thread for reuse (requests on a thread are mostly served one at a time).
const MAX_POOLED_HEADERS: usize = 4;
/// Headers with room for more fields are freed, not kept.
const MAX_POOLED_FIELDS: usize = 128;
/// Headers with a larger name or value buffer are freed, not kept.
const MAX_POOLED_BYTES: usize = 16 * 1024;

thread_local! {
    /// Recycled headers (no fields, their buffers' capacity kept).
    static HEADERS: std::cell::RefCell<Vec<Headers>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no `Content-Length`, no `Transfer-Encoding`).
    #[default]
    None,
    /// `Content-Length` bytes follow the head.
    Length(u64),
    /// The body is `chunked` (the final transfer coding).
    Chunked,
}

/// A parsed request line.
///
/// Python: the attributes `parse_request` sets from `raw_requestline`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
#[allow(
    clippy::large_enum_variant,
    reason = "a return value, moved once; a box would cost an allocation per request"
)]
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
/// reply instead. Both faces run it: [`handle_one_request`](crate::handle_one_request)
/// over the head it read from the stream, `h1::HttpProtocol` over the bytes the event
/// loop buffered.
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
    // CPython reads `readline(65537)` and refuses more than 65536 bytes: a line whose end
    // is not within the first `max_line` bytes (line ending included) is 414 once
    // `max_line + 1` bytes are in, whether or not the next byte ends it.
    let limit = config.max_line;
    let Some(nl) = memchr(b'\n', &buf[..buf.len().min(limit)]) else {
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
    let Some(fields) = scan_fields(&buf[raw.len()..], config, true)? else {
        return Ok(Parsed::Partial);
    };
    let consumed = raw.len() + fields.len;
    let head = finish_noted(
        line,
        crate::pool::bytes_from(raw),
        fields.headers,
        fields.body,
        &fields.notes,
        config,
    )?;
    Ok(Parsed::Complete { head, consumed })
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
    let text = trim_line_end(raw);
    let requestline = latin1_pooled(text);
    // Latin-1 text is as long as its bytes only when they are all ASCII.
    let ascii = requestline.len() == text.len();
    // The first words (Python: `requestline.split()`); four are enough to tell a valid line
    // (two or three words) from an invalid one.
    let mut words = [""; 4];
    let count = split_words(&requestline, ascii, &mut words);
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
        version = match v {
            // The usual versions, without the general parse.
            "HTTP/1.1" => (1, 1),
            "HTTP/1.0" => (1, 0),
            _ => parse_version(v)?,
        };
        if version >= (1, 1) && protocol_version >= "HTTP/1.1" {
            close_connection = false;
        }
        if version >= (2, 0) {
            return Err(HttpError::new(505)
                .message(format!("Invalid HTTP version ({})", &v["HTTP/".len()..])));
        }
        request_version = Some(v);
    }
    if !(2..=3).contains(&count) {
        return Err(
            HttpError::new(400).message(format!("Bad request syntax ({})", py_repr(&requestline)))
        );
    }
    let [command, mut path, request_version] =
        crate::pool::strings_from([words[0], words[1], request_version.unwrap_or("HTTP/0.9")]);
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

/// `HTTP/major.minor`, each part 1 to 10 digits, as numbers (CPython's rules).
fn parse_version(v: &str) -> Result<(u32, u32), HttpError> {
    let bad = || HttpError::new(400).message(format!("Bad request version ({})", py_repr(v)));
    let base = v.strip_prefix("HTTP/").ok_or_else(bad)?;
    let number = |p: &str| !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit());
    let (major, minor) = match base.split_once('.') {
        Some((a, b)) if number(a) && number(b) => (a, b),
        _ => return Err(bad()),
    };
    let major: u32 = major.parse().map_err(|_| bad())?;
    let minor: u32 = minor.parse().map_err(|_| bad())?;
    Ok((major, minor))
}

/// Python's `line.split()`: puts the first words of `line` in `words` and returns how many
/// words there are, counting at most one past `words.len()`. `ascii`: every char of `line`
/// is ASCII.
fn split_words<'a>(line: &'a str, ascii: bool, words: &mut [&'a str; 4]) -> usize {
    let mut count = 0;
    let mut push = |w: &'a str| {
        if count < words.len() {
            words[count] = w;
        }
        count += 1;
        count <= words.len()
    };
    if ascii {
        // Bytes are chars: split on the ASCII whitespace bytes without decoding.
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if PY_SPACE[usize::from(b[i])] {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !PY_SPACE[usize::from(b[i])] {
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
    // A char below U+0020 or U+007F is that byte in UTF-8, and no byte of a longer char is
    // below 0x80: the bytes tell. Checked without a branch per byte (so it vectorises).
    if has_control(requestline.as_bytes()) {
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
    // The usual value in one pass: reg-name bytes, then `:port` or nothing.
    let plain = v.iter().position(|&b| !REG_NAME[usize::from(b)]);
    match plain {
        None => true,
        Some(i) if v[i] == b':' => {
            let port = &v[i + 1..];
            port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
        }
        // `%xx`, an IP-literal or a bad byte: the general rules.
        Some(_) => authority_rules(v),
    }
}

/// [`valid_authority`] by the rules as written, for any value.
fn authority_rules(v: &[u8]) -> bool {
    let (host, port): (&[u8], &[u8]) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &v[1..close];
        let ipv6 = |b: &u8| b.is_ascii_hexdigit() || *b == b':' || *b == b'.';
        let future = |b: &u8| REG_NAME[usize::from(*b)] || *b == b':';
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
        if REG_NAME[usize::from(b)] {
            i += 1;
            continue;
        }
        if b == b'%'
            && host.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && host.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
            continue;
        }
        return false;
    }
    port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
}

/// RFC 3986 `unreserved` or `sub-delims`: the bytes of a reg-name (besides `%xx`), as a
/// table (one load per byte).
static REG_NAME: [bool; 256] = alphanumeric_and(b"-._~!$&'()*+,;=");

/// A byte table: true for ASCII letters and digits and for the bytes of `extra`.
const fn alphanumeric_and(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// The request line as CPython keeps it: decoded as Latin-1, trailing CR and LF removed.
///
/// Python: `str(raw_requestline, 'iso-8859-1').rstrip('\r\n')`.
pub fn requestline_of(raw: &[u8]) -> String {
    latin1_pooled(trim_line_end(raw))
}

/// `raw` without its trailing CRs and LFs.
fn trim_line_end(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &raw[..end]
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
    let fields = scan_fields(block, config, false)?.expect("a whole block is never partial");
    Ok((fields.headers, fields.body))
}

/// What one pass over a header block found.
struct Fields {
    headers: Headers,
    body: BodyFraming,
    notes: Notes,
    /// Bytes of the block read, the blank line included.
    len: usize,
}

/// Parses the field lines of `block` in one pass: each line is found, checked and copied
/// once, and the fields the framing and [`finish_noted`] rules look at are noted on the way,
/// so nothing scans the fields again.
///
/// `stream`: `block` is what has arrived after the request line ([`parse_request`]): a line
/// without its end is `Ok(None)` (read more), and a line of exactly `max_line + 1` bytes is
/// found too long only once the head is complete (CPython reads the lines, then looks at
/// them). Otherwise `block` is the whole header block ([`parse_headers`]): its end ends the
/// last line.
///
/// The verdicts and messages are those of the rules as written in [`check_line`], which
/// judges every line the one-pass check does not accept; the limits come first, then the
/// first line at fault, then the framing.
fn scan_fields(
    block: &[u8],
    config: &HttpConfig,
    stream: bool,
) -> Result<Option<Fields>, HttpError> {
    let limit = config.max_line;
    let mut headers = Headers::pooled();
    let mut notes = Notes::default();
    let mut pos = 0;
    let mut count = 0usize;
    // A line of `limit + 1` bytes in a stream: too long, once the head is complete.
    let mut too_long = false;
    // The first line at fault: only the limits are checked after it.
    let mut fault: Option<HttpError> = None;
    loop {
        let rest = &block[pos..];
        if fault.is_none()
            && let Some(f) = field_line(rest)
        {
            // A well-formed field line, found and checked in one pass.
            let nl = f.next - 1;
            if nl > limit || (nl == limit && !stream) {
                return Err(line_too_long());
            }
            too_long |= nl == limit;
            count += 1;
            if count > config.max_headers {
                return Err(too_many_headers(config.max_headers));
            }
            let name = &rest[..f.name_end];
            let value = trim_ows(&rest[f.name_end + 1..f.body_end]);
            notes.note(headers.len(), name, value);
            headers.push_field(name, value);
            pos += f.next;
            continue;
        }
        // Any other line: the blank line, a faulty one, one not complete yet.
        let end = if stream {
            memchr(b'\n', &rest[..rest.len().min(limit + 1)])
        } else {
            memchr(b'\n', rest)
        };
        let line = match end {
            Some(nl) => &rest[..=nl],
            None if stream => {
                if rest.len() > limit {
                    return Err(line_too_long());
                }
                return Ok(None);
            }
            None if rest.is_empty() => break,
            None => rest,
        };
        if line.len() > limit {
            if !stream {
                return Err(line_too_long());
            }
            too_long = true;
        }
        count += 1;
        if count > config.max_headers {
            return Err(too_many_headers(config.max_headers));
        }
        pos += line.len();
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if fault.is_none() {
            match check_line(line) {
                Ok((name, value)) => {
                    notes.note(headers.len(), name, value);
                    headers.push_field(name, value);
                }
                Err(e) => fault = Some(e),
            }
        }
    }
    if too_long {
        return Err(line_too_long());
    }
    if let Some(e) = fault {
        return Err(e);
    }
    let body = notes.framing()?;
    Ok(Some(Fields {
        headers,
        body,
        notes,
        len: pos,
    }))
}

/// A field line as [`field_line`] found it.
struct FieldLine {
    /// The colon's index.
    name_end: usize,
    /// Where the value ends (its CR LF or LF).
    body_end: usize,
    /// The next line's start.
    next: usize,
}

/// The field line at the start of `rest` when it is well formed: a non-empty token, a
/// colon, value bytes (HTAB, SP, VCHAR, obs-text), then CR LF or LF. `None` for anything
/// else (the blank line, a line at fault, a line not complete yet): [`check_line`] judges
/// those.
///
/// Such a line passes every check of [`check_line`]: it does not start with whitespace (a
/// token byte comes first), has no CR but its end, its first colon ends a token name, and
/// every byte is a value byte.
fn field_line(rest: &[u8]) -> Option<FieldLine> {
    let mut i = 0;
    while i < rest.len() && is_tchar(rest[i]) {
        i += 1;
    }
    if i == 0 || rest.get(i) != Some(&b':') {
        return None;
    }
    let name_end = i;
    let end = skip_value_bytes(rest, i + 1);
    let next = match rest.get(end..end + 2) {
        Some([b'\r', b'\n']) => end + 2,
        Some([b'\n', _]) => end + 1,
        None if rest.get(end) == Some(&b'\n') => end + 1,
        _ => return None,
    };
    Some(FieldLine {
        name_end,
        body_end: end,
        next,
    })
}

/// The index of the first byte from `i` on that is not a value byte (or `b.len()`).
fn skip_value_bytes(b: &[u8], mut i: usize) -> usize {
    // Sixteen bytes at a time: one bit per byte that is not a value byte (the compiler
    // builds the mask with vector instructions), the first set bit is the end. Then the
    // last bytes one by one.
    while let Some(chunk) = b.get(i..i + 16) {
        let stops = chunk
            .iter()
            .enumerate()
            .fold(0u32, |m, (k, &c)| m | (u32::from(!is_value_byte(c)) << k));
        if stops != 0 {
            return i + stops.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < b.len() && is_value_byte(b[i]) {
        i += 1;
    }
    i
}

/// True when a byte of `b` is a control character other than HTAB (not a value byte).
///
/// `|` and `&`, not `||` and `&&`: no branch per byte, so the compiler checks many bytes
/// per instruction.
fn has_control(b: &[u8]) -> bool {
    b.iter().fold(false, |bad, &c| {
        bad | ((c < b' ') & (c != b'\t')) | (c == 0x7f)
    })
}

/// HTAB, SP, VCHAR or obs-text: the bytes of a field value (httparse's class).
fn is_value_byte(b: u8) -> bool {
    (b == b'\t') | ((b >= b' ') & (b != 0x7f))
}

/// Judges one field line by the rules as written (and as CPython users read them), in
/// their order: obs-fold, bare CR, no colon, whitespace before the colon, a name that is
/// not a token, value bytes. Returns the name and the trimmed value.
fn check_line(line: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    let body = line
        .strip_suffix(b"\n")
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .unwrap_or(line);
    let bad = |why: &str| {
        HttpError::new(400)
            .message(format!(
                "Bad header line ({})",
                py_repr(&requestline_of(line))
            ))
            .explain(why.to_owned())
    };
    if body.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
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
    if !body.iter().all(|&b| is_value_byte(b)) {
        // The verdict on the value bytes is httparse's.
        let mut one = [httparse::EMPTY_HEADER; 1];
        let mut owned = body.to_vec();
        owned.extend_from_slice(b"\r\n\r\n");
        match httparse::parse_headers(&owned, &mut one) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err(bad("invalid characters in the header value")),
        }
    }
    Ok((name, trim_ows(&body[colon + 1..])))
}

/// What the framing and [`finish_noted`] rules need from the fields, noted while they are
/// parsed: the `Content-Length` / `Transfer-Encoding` findings, the `Host` fields, and
/// where the first `Connection` and `Expect` fields are.
#[derive(Debug, Default)]
struct Notes {
    /// `Content-Length` fields seen.
    lengths: usize,
    /// The first one's value, when valid.
    length: Option<u64>,
    /// What is wrong with the `Content-Length` fields (the first fault found).
    bad_length: Option<&'static str>,
    /// Whether a `Transfer-Encoding` field was seen.
    has_te: bool,
    /// How many transfer codings they list.
    codings: usize,
    /// Whether the first and only coding so far is `chunked`.
    only_chunked: bool,
    /// `Host` fields seen.
    hosts: usize,
    /// Whether one of them is not a valid authority.
    bad_host: bool,
    /// The index of the first `Connection` field.
    connection: Option<usize>,
    /// The index of the first `Expect` field.
    expect: Option<usize>,
}

impl Notes {
    /// Notes field number `index`.
    fn note(&mut self, index: usize, name: &[u8], value: &[u8]) {
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"Host") => {
                self.hosts += 1;
                self.bad_host |= !valid_authority(value);
            }
            6 if name.eq_ignore_ascii_case(b"Expect") => {
                self.expect.get_or_insert(index);
            }
            10 if name.eq_ignore_ascii_case(b"Connection") => {
                self.connection.get_or_insert(index);
            }
            14 if name.eq_ignore_ascii_case(b"Content-Length") => {
                // RFC 9112 §6.3: one Content-Length field of plain digits. A list (`5, 5`)
                // or a repeated field is refused even when the values agree: a proxy may
                // have picked another one.
                self.lengths += 1;
                if self.bad_length.is_some() {
                } else if self.lengths > 1 {
                    self.bad_length = Some("more than one Content-Length field");
                } else {
                    self.length = content_length(value);
                    if self.length.is_none() {
                        self.bad_length = Some("invalid Content-Length value");
                    }
                }
            }
            17 if name.eq_ignore_ascii_case(b"Transfer-Encoding") => {
                // The transfer codings: how many, and whether the only one is `chunked`.
                self.has_te = true;
                for item in value.split(|b| *b == b',') {
                    let item = trim_ows(item);
                    if !item.is_empty() {
                        self.codings += 1;
                        self.only_chunked =
                            self.codings == 1 && item.eq_ignore_ascii_case(b"chunked");
                    }
                }
            }
            _ => {}
        }
    }

    /// Applies the `Content-Length` / `Transfer-Encoding` rules; returns the body framing.
    fn framing(&self) -> Result<BodyFraming, HttpError> {
        let bad = |m: &str, e: &str| {
            HttpError::new(400)
                .message(m.to_owned())
                .explain(e.to_owned())
        };
        if let Some(why) = self.bad_length {
            return Err(bad("Bad Content-Length", why));
        }
        if self.has_te {
            if self.length.is_some() {
                return Err(bad(
                    "Bad Transfer-Encoding",
                    "Content-Length together with Transfer-Encoding",
                ));
            }
            // Only `chunked` alone: no other coding is implemented (decoding `gzip, chunked`
            // would be needed to find what the application reads).
            if self.codings != 1 || !self.only_chunked {
                return Err(bad(
                    "Bad Transfer-Encoding",
                    "the final transfer coding must be chunked",
                ));
            }
            return Ok(BodyFraming::Chunked);
        }
        Ok(self.length.map_or(BodyFraming::None, BodyFraming::Length))
    }
}

/// A `Content-Length` value: 1 to 19 digits (so it fits a `u64`; RFC 9110 §8.6 allows no
/// sign). Requests and the responses the event loops check read it alike.
pub(crate) fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Combines a parsed request line and header block (with the notes taken while its fields
/// were parsed) into a head: Host rule, `Connection` and `Expect` rules, body framing.
fn finish_noted(
    line: RequestLine,
    raw_requestline: Vec<u8>,
    headers: Headers,
    body: BodyFraming,
    notes: &Notes,
    config: &HttpConfig,
) -> Result<RequestHead, HttpError> {
    if line.version >= (1, 1) && notes.hosts != 1 {
        return Err(HttpError::new(400)
            .message("Bad Host header")
            .explain("an HTTP/1.1 request needs exactly one Host header"));
    }
    // RFC 9112 §3.2: a Host that is not a valid authority is a 400 (any version).
    if notes.bad_host {
        return Err(HttpError::new(400)
            .message("Bad Host header")
            .explain("the Host header is not a valid authority"));
    }
    if body == BodyFraming::Chunked && line.version < (1, 1) {
        return Err(HttpError::new(400)
            .message("Bad Transfer-Encoding")
            .explain("Transfer-Encoding in an HTTP/1.0 request"));
    }
    let value = |i: Option<usize>| i.map_or(&[][..], |i| headers.value_at(i));
    let mut close_connection = line.close_connection;
    // Python lowercases the Latin-1 text; no char beyond ASCII lowercases into ASCII, so a
    // byte-wise ASCII comparison is the same test.
    let conntype = value(notes.connection);
    if conntype.eq_ignore_ascii_case(b"close") {
        close_connection = true;
    } else if conntype.eq_ignore_ascii_case(b"keep-alive")
        && config.protocol_version.as_str() >= "HTTP/1.1"
    {
        close_connection = false;
    }
    let expect_100 = value(notes.expect).eq_ignore_ascii_case(b"100-continue")
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

pub(crate) use stdx::ascii::is_tchar;

/// Python's `str.isspace` over Latin-1 characters (what `str.split()` splits on).
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// [`is_py_space`] of each ASCII char, as a table (one load per byte); false beyond ASCII.
static PY_SPACE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = matches!(
            b as u8,
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' '
        );
        b += 1;
    }
    t
};

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
    stdx::latin1::decode_into(bytes, &mut s);
    s
}

/// Python's `repr()` of a `str` (the request line and method in error messages).
pub use stdx::repr::py_repr;

#[cfg(test)]
mod tests;
