//! The one-pass request-head parser against the rules as first written: `parse_request` and
//! `parse_headers` must give the same head, the same `Partial`, or the same error (code,
//! message and explanation) as a reference implementation kept here (the parser as it was
//! before it was fused into one pass: the request line split from a decoded string, the
//! lines found, counted, then checked one by one, the framing and `Host` rules applied by
//! looking the fields up again), on random heads full of near misses.

use http_server::{HttpConfig, parse_headers, parse_request};
use proptest::prelude::*;

/// The reference: the parser as first written (per-line checks, several passes).
mod oracle {
    use http_server::{
        BodyFraming, Headers, HttpConfig, HttpError, Parsed, RequestHead, RequestLine, py_repr,
    };

    pub(super) fn parse_request(buf: &[u8], config: &HttpConfig) -> Result<Parsed, HttpError> {
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
        let head = finish_head(line, raw.to_vec(), headers, body, config)?;
        Ok(Parsed::Complete {
            head,
            consumed: pos,
        })
    }

    fn parse_request_line(
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
            let bad =
                || HttpError::new(400).message(format!("Bad request version ({})", py_repr(v)));
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
            request_version = Some(v.to_owned());
        }
        let request_version = request_version.unwrap_or_else(|| "HTTP/0.9".to_owned());
        if !(2..=3).contains(&count) {
            return Err(HttpError::new(400)
                .message(format!("Bad request syntax ({})", py_repr(&requestline))));
        }
        let (command, mut path) = (words[0].to_owned(), words[1].to_owned());
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

    fn valid_authority(v: &[u8]) -> bool {
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

    fn requestline_of(raw: &[u8]) -> String {
        let mut end = raw.len();
        while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        latin1_pooled(&raw[..end])
    }

    pub(super) fn parse_headers(block: &[u8], config: &HttpConfig) -> Result<Headers, HttpError> {
        parse_headers_framed(block, config).map(|(headers, _)| headers)
    }

    /// [`parse_headers`], and the body framing its rules found.
    fn parse_headers_framed(
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
            headers.push(String::from_utf8(name.to_vec()).unwrap(), value.to_vec());
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
    fn finish_head(
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

    fn line_too_long() -> HttpError {
        HttpError::new(431)
            .message("Line too long")
            .explain("got more than 65536 bytes when reading header line")
    }

    fn too_many_headers(max: usize) -> HttpError {
        HttpError::new(431)
            .message("Too many headers")
            .explain(format!("got more than {max} headers"))
    }

    fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
        hay.iter().position(|b| *b == needle)
    }

    /// `v` without leading and trailing spaces and tabs (RFC 9110's OWS).
    fn trim_ows(v: &[u8]) -> &[u8] {
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

    fn is_py_space(c: char) -> bool {
        matches!(
            c,
            '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}'
        )
    }

    /// Bytes as Latin-1 text: one char per byte.
    /// [`latin1`] into a recycled string (for the strings a request head keeps).
    fn latin1_pooled(bytes: &[u8]) -> String {
        latin1_into(bytes, String::new())
    }

    fn latin1(bytes: &[u8]) -> String {
        latin1_into(bytes, String::new())
    }

    /// `bytes` as Latin-1 text, appended to `s`.
    fn latin1_into(bytes: &[u8], mut s: String) -> String {
        match std::str::from_utf8(bytes).ok().filter(|_| bytes.is_ascii()) {
            // ASCII is valid UTF-8 with the same chars.
            Some(text) => s.push_str(text),
            None => s.extend(bytes.iter().map(|&b| b as char)),
        }
        s
    }
}

/// One of `items`, as bytes.
fn one_of(items: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::sample::select(items).prop_map(<[u8]>::to_vec)
}

/// A request line: mostly near-valid, with the separators, versions and bytes the rules
/// treat specially, sometimes random bytes.
fn request_line() -> impl Strategy<Value = Vec<u8>> {
    let method = one_of(&[
        b"GET", b"POST", b"HEAD", b"CONNECT", b"OPTIONS", b"G\xe9T", b"",
    ]);
    let target = one_of(&[
        b"/xyz?abc",
        b"/",
        b"//evil.example/",
        b"///a",
        b"*",
        b"http://a/b",
        b"a:80",
        b"/caf\xe9",
        b"/a\x1bb",
    ]);
    let version = one_of(&[
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/0.9",
        b"HTTP/2.0",
        b"HTTP/1.10",
        b"HTTP/01.1",
        b"HTTP/1",
        b"HTTX/1.1",
        b"HTTP/12345678901.1",
        b"HTTP/1.1 extra",
        b"",
    ]);
    let sep = one_of(&[
        b" ", b"  ", b"\t", b"\x0b", b"\x1c", b"\xa0", b"\x85", b"\r",
    ]);
    let end = one_of(&[b"\r\n", b"\n", b"\r\r\n", b" \r\n"]);
    let valid = one_of(&[
        b"GET /xyz?abc HTTP/1.1\r\n",
        b"POST /form HTTP/1.1\r\n",
        b"GET / HTTP/1.0\r\n",
        b"PUT /x HTTP/1.0\n",
    ]);
    prop_oneof![
        6 => valid,
        3 => (method, sep.clone(), target, sep, version, end).prop_map(
            |(m, s1, t, s2, v, e)| [m, s1, t, s2, v, e].concat()
        ),
        1 => (prop::collection::vec(any::<u8>(), 0..12), one_of(&[b"\r\n", b"\n"]))
            .prop_map(|(l, e)| [l, e].concat()),
    ]
}

/// A header line: usually well formed (a field the framing, `Host`, `Connection` or
/// `Expect` rules read, with a value they accept or refuse, or any token and value);
/// otherwise a name, a separator, a value and an ending from lists of faults and near
/// misses, or random bytes.
fn field_line() -> impl Strategy<Value = Vec<u8>> {
    let pair = |names: &'static [&'static [u8]], values: &'static [&'static [u8]]| {
        (one_of(names), one_of(values))
    };
    let well_formed = prop_oneof![
        pair(
            &[b"Host", b"host"],
            &[b"localhost:8782", b"[::1]:80", b"a%41b", b"a%4", b"h:x"]
        ),
        pair(
            &[b"Content-Length", b"content-length"],
            &[
                b"5",
                b"05",
                b"5, 5",
                b"1234567890123456789",
                b"12345678901234567890",
                b"-1",
                b""
            ],
        ),
        pair(
            &[b"Transfer-Encoding", b"TRANSFER-ENCODING"],
            &[
                b"chunked",
                b"CHUNKED",
                b"gzip, chunked",
                b"chunked, ",
                b" , chunked",
                b"chunked, chunked",
                b""
            ],
        ),
        pair(
            &[b"Connection", b"connection"],
            &[b"close", b"Keep-Alive", b"upgrade"]
        ),
        pair(
            &[b"Expect", b"expect"],
            &[b"100-continue", b"100-Continue", b"nothing"]
        ),
        (
            "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}".prop_map(String::into_bytes),
            "[ \t!-~]{0,40}".prop_map(String::into_bytes),
        ),
    ];
    let well_formed = (
        well_formed,
        one_of(&[b":", b": ", b":\t", b":  "]),
        one_of(&[b"", b" ", b"\t "]),
        one_of(&[b"\r\n", b"\r\n", b"\n"]),
    )
        .prop_map(|((n, v), s, pad, e)| [n, s, v, pad, e].concat());
    let prefix = one_of(&[b"", b"", b"", b"", b" ", b"\t"]);
    let name = prop_oneof![
        3 => one_of(&[b"Host", b"Content-Length", b"Transfer-Encoding", b"Connection", b"X-A"]),
        2 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}".prop_map(String::into_bytes),
        1 => one_of(&[b"", b"X Y", b"X\x01", b"caf\xe9", b"X\r", b"(x)", b"X-A "]),
    ];
    let sep = one_of(&[b":", b": ", b": ", b":\t", b" :", b"\t:", b"", b"::"]);
    let value = prop_oneof![
        4 => one_of(&[
            b"",
            b"localhost:8782",
            b"bad host",
            b"chunked",
            b"5",
            b"x\x01y",
            b"\x7f",
            b"caf\xe9",
            b"a\rb",
            b"a:b:c",
            b"  padded \t",
        ]),
        1 => "[ \t!-~]{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ];
    let end = one_of(&[b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r\r\n", b""]);
    let faulty = prop_oneof![
        9 => (prefix, name, sep, value, end).prop_map(|(p, n, s, v, e)| [p, n, s, v, e].concat()),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop_oneof![6 => well_formed, 1 => faulty]
}

/// A head: a request line, field lines, usually the blank line, maybe a body; sometimes cut
/// short. Small limits make the line and count limits bite.
fn head() -> impl Strategy<Value = (Vec<u8>, usize, HttpConfig)> {
    let config = (
        prop_oneof![3 => Just(65536usize), 1 => 8usize..48],
        prop_oneof![3 => Just(100usize), 1 => 1usize..8],
        prop::bool::ANY,
    )
        .prop_map(|(line, count, v11)| {
            HttpConfig::default()
                .limits(line, count)
                .protocol_version(if v11 { "HTTP/1.1" } else { "HTTP/1.0" })
        });
    (
        request_line(),
        prop::collection::vec(field_line(), 0..6),
        one_of(&[b"\r\n", b"\r\n", b"\n", b""]),
        one_of(&[b"", b"abcde", b"GET / HTTP/1.1\r\n\r\n"]),
        prop::option::weighted(0.2, any::<prop::sample::Index>()),
        config,
    )
        .prop_map(|(line, fields, blank, tail, cut, config)| {
            let start = line.len();
            let mut buf = [line, fields.concat(), blank, tail].concat();
            if let Some(cut) = cut {
                buf.truncate(cut.index(buf.len() + 1));
            }
            (buf, start, config)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// `parse_request` gives what the reference gives, whatever the head.
    #[test]
    fn parse_request_matches_the_reference((buf, _, config) in head()) {
        prop_assert_eq!(parse_request(&buf, &config), oracle::parse_request(&buf, &config));
    }

    /// `parse_headers` gives what the reference gives on the bytes after the request line
    /// (a whole block: its end ends the last line).
    #[test]
    fn parse_headers_matches_the_reference((buf, start, config) in head()) {
        let block = &buf[start.min(buf.len())..];
        prop_assert_eq!(parse_headers(block, &config), oracle::parse_headers(block, &config));
    }
}

/// The cases the properties should reach are reached: every limit, every fault, every
/// framing outcome (so a generator change cannot quietly stop testing one).
#[test]
fn the_generators_reach_every_verdict() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = head();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let (buf, _, config) = strategy.new_tree(&mut runner).unwrap().current();
        let verdict = match oracle::parse_request(&buf, &config) {
            Ok(http_server::Parsed::Complete { head, .. }) => format!("complete {:?}", head.body),
            Ok(other) => format!("{other:?}")
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned(),
            Err(e) => format!("{} {}", e.code, e.explain.unwrap_or_default()),
        };
        seen.insert(verdict);
    }
    for wanted in [
        "Partial",
        "Empty",
        "complete None",
        "complete Length(5)",
        "complete Chunked",
        "431 got more than 65536 bytes when reading header line",
        "400 obsolete line folding is not accepted",
        "400 bare CR in a header line",
        "400 header line without a colon",
        "400 whitespace between the header name and the colon",
        "400 invalid header name",
        "400 invalid characters in the header value",
        "400 more than one Content-Length field",
        "400 invalid Content-Length value",
        "400 Content-Length together with Transfer-Encoding",
        "400 the final transfer coding must be chunked",
        "400 an HTTP/1.1 request needs exactly one Host header",
        "400 the Host header is not a valid authority",
        "400 Transfer-Encoding in an HTTP/1.0 request",
        "505 ",
        "414 ",
    ] {
        assert!(
            seen.iter().any(|v| v.starts_with(wanted)),
            "no case gives {wanted:?}; seen: {seen:#?}"
        );
    }
    assert!(
        seen.iter()
            .any(|v| v.starts_with("431 got more than") && v.ends_with("headers"))
    );
}
