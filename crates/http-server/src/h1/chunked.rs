//! The chunked transfer coding (RFC 9112 §7.1): a resumable, strict decoder and an encoder.
//!
//! Python: no equivalent in `http.server` (it never decodes request bodies); used by the
//! production face to de-chunk bodies for `rfile` and `wsgi.input`.

/// Limits on a chunked body; exceeding one is an error, never a hang.
#[derive(Debug, Clone, Copy)]
pub struct ChunkedLimits {
    /// Largest decoded body.
    pub max_body: u64,
    /// Longest chunk-size line (size, extensions and CRLF).
    pub max_size_line: usize,
    /// Largest trailer section (all trailer lines together).
    pub max_trailers: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits {
            max_body: 16 << 20,
            max_size_line: 4096,
            max_trailers: 16 << 10,
        }
    }
}

/// Why a chunked body was refused (each is a 400, or a 413 for [`ChunkedError::TooLarge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkedError {
    /// The chunk size is not bare hexadecimal (sign, `0x`, whitespace, `_`, empty).
    #[error("invalid chunk size")]
    BadSize,
    /// The chunk size overflows.
    #[error("chunk size overflows")]
    Overflow,
    /// Chunk data is not followed by CRLF.
    #[error("missing CRLF after chunk data")]
    MissingCrlf,
    /// A chunk extension is not `;name` or `;name=value` (RFC 9112 §7.1.1: a token name, a
    /// token or quoted-string value, optional whitespace only around `;` and `=`).
    #[error("invalid chunk extension")]
    BadExtension,
    /// A chunk-size line (with its extensions) is too long.
    #[error("chunk extensions too long")]
    LineTooLong,
    /// The trailer section is too long or malformed.
    #[error("invalid or oversized trailers")]
    BadTrailers,
    /// The decoded body is larger than the limit.
    #[error("chunked body too large")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailers,
    Done,
}

/// A resumable decoder: feed it the whole body buffer so far (from the first chunk-size byte)
/// each time more bytes arrive; it resumes where it stopped and appends decoded data.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    limits: ChunkedLimits,
    state: State,
    pos: usize,
    decoded: Vec<u8>,
    trailer_bytes: usize,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new(limits: ChunkedLimits) -> Self {
        ChunkedDecoder {
            limits,
            state: State::Size,
            pos: 0,
            decoded: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// Decodes what `input` holds beyond what was already decoded. Returns `Ok(Some(n))` once
    /// the body (last chunk and trailers) is complete, `n` being the bytes of `input` it spans;
    /// `Ok(None)` when more input is needed.
    pub fn feed(&mut self, input: &[u8]) -> Result<Option<usize>, ChunkedError> {
        loop {
            match self.state {
                State::Done => return Ok(Some(self.pos)),
                State::Size => {
                    let rest = &input[self.pos..];
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > self.limits.max_size_line {
                            return Err(ChunkedError::LineTooLong);
                        }
                        return Ok(None);
                    };
                    if nl + 1 > self.limits.max_size_line {
                        return Err(ChunkedError::LineTooLong);
                    }
                    if nl == 0 || rest[nl - 1] != b'\r' {
                        return Err(ChunkedError::BadSize);
                    }
                    let size = parse_size_line(&rest[..nl - 1])?;
                    self.pos += nl + 1;
                    if self.decoded.len() as u64 + size > self.limits.max_body {
                        return Err(ChunkedError::TooLarge);
                    }
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    let rest = &input[self.pos..];
                    if rest.is_empty() {
                        return Ok(None);
                    }
                    let take = (rest.len() as u64).min(left) as usize;
                    self.decoded.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    let left = left - take as u64;
                    if left > 0 {
                        self.state = State::Data(left);
                        return Ok(None);
                    }
                    self.state = State::DataCr;
                }
                State::DataCr | State::DataLf => {
                    let Some(&b) = input.get(self.pos) else {
                        return Ok(None);
                    };
                    let want = if self.state == State::DataCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if b != want {
                        return Err(ChunkedError::MissingCrlf);
                    }
                    self.pos += 1;
                    self.state = if self.state == State::DataCr {
                        State::DataLf
                    } else {
                        State::Size
                    };
                }
                State::Trailers => {
                    let rest = &input[self.pos..];
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if self.trailer_bytes + rest.len() > self.limits.max_trailers {
                            return Err(ChunkedError::BadTrailers);
                        }
                        return Ok(None);
                    };
                    self.trailer_bytes += nl + 1;
                    if self.trailer_bytes > self.limits.max_trailers {
                        return Err(ChunkedError::BadTrailers);
                    }
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    self.pos += nl + 1;
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if !valid_trailer(line) {
                        return Err(ChunkedError::BadTrailers);
                    }
                }
            }
        }
    }

    /// The data decoded so far.
    pub fn decoded(&self) -> &[u8] {
        &self.decoded
    }

    /// Takes the decoded data.
    pub fn into_decoded(self) -> Vec<u8> {
        self.decoded
    }
}

/// `chunk-size [ chunk-ext ]`: bare hex digits, then optionally extensions (checked by
/// [`check_extensions`], then ignored).
fn parse_size_line(line: &[u8]) -> Result<u64, ChunkedError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkedError::BadSize);
    }
    // No cap on the digits (RFC 9112 §7.1: `1*HEXDIG`): leading zeros are fine, a value
    // past `u64` overflows below; the size line's own limit bounds the work.
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = (b as char).to_digit(16).ok_or(ChunkedError::BadSize)? as u64;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(d))
            .ok_or(ChunkedError::Overflow)?;
    }
    let rest = &line[digits..];
    if rest.is_empty() {
        return Ok(size);
    }
    // Extensions: BWS ";" ... — anything else after the digits is invalid.
    let after_ws = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|i| &rest[i..])
        .unwrap_or(&[]);
    if after_ws.first() != Some(&b';') {
        return Err(ChunkedError::BadSize);
    }
    check_extensions(rest)?;
    Ok(size)
}

/// Checks the extensions after a chunk size against RFC 9112 §7.1.1:
///
/// ```text
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// ```
///
/// so a bare `;`, an empty name or value, whitespace after the last extension, an
/// unterminated quoted-string and control characters (but HTAB) are refused.
fn check_extensions(ext: &[u8]) -> Result<(), ChunkedError> {
    let bad = Err(ChunkedError::BadExtension);
    let ows = |mut i: usize| {
        while matches!(ext.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    let token = |i: usize| i + ext[i..].iter().take_while(|&&b| is_tchar(b)).count();
    let mut i = 0;
    while i < ext.len() {
        i = ows(i);
        if ext.get(i) != Some(&b';') {
            return bad;
        }
        let name = ows(i + 1);
        i = token(name);
        if i == name {
            return bad;
        }
        let eq = ows(i);
        if ext.get(eq) != Some(&b'=') {
            continue;
        }
        let value = ows(eq + 1);
        i = if ext.get(value) == Some(&b'"') {
            match quoted_string_end(ext, value) {
                Some(end) => end,
                None => return bad,
            }
        } else {
            token(value)
        };
        if i == value {
            return bad;
        }
    }
    Ok(())
}

/// Where the quoted-string starting at `ext[start]` (a `"`) ends, just past its closing
/// `"`; `None` when it is not terminated or holds a control character other than HTAB
/// (RFC 9110 §5.6.4: `qdtext` and `quoted-pair`).
fn quoted_string_end(ext: &[u8], start: usize) -> Option<usize> {
    let text = |b: u8| b == b'\t' || (b >= b' ' && b != 0x7f);
    let mut i = start + 1;
    loop {
        match *ext.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' if ext.get(i + 1).is_some_and(|&b| text(b)) => i += 2,
            b if b != b'\\' && text(b) => i += 1,
            _ => return None,
        }
    }
}

fn valid_trailer(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon].iter().all(|&b| is_tchar(b))
        && line[colon + 1..]
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

use stdx::ascii::is_tchar;

/// Appends `data` as one chunk (nothing for empty data: an empty chunk would end the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and an empty trailer section.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ChunkedError> {
        let mut d = ChunkedDecoder::new(ChunkedLimits::default());
        Ok(d.feed(input)?.map(|n| (d.into_decoded(), n)))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let body = b"5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (data, n) = decode(body).unwrap().unwrap();
        assert_eq!(data, b"hello, world!!!");
        assert_eq!(&body[n..], b"NEXT");
    }

    #[test]
    fn upper_and_lower_hex() {
        assert_eq!(
            decode(b"a\r\n0123456789\r\n0\r\n\r\n")
                .unwrap()
                .unwrap()
                .0
                .len(),
            10
        );
        assert_eq!(
            decode(b"A\r\n0123456789\r\n0\r\n\r\n")
                .unwrap()
                .unwrap()
                .0
                .len(),
            10
        );
    }

    #[test]
    fn resumes_byte_by_byte() {
        let body = b"3\r\nabc\r\n2;x\r\nde\r\n0\r\nT: v\r\n\r\n";
        let mut d = ChunkedDecoder::new(ChunkedLimits::default());
        for end in 0..body.len() {
            assert_eq!(d.feed(&body[..end]).unwrap(), None, "at {end}");
        }
        assert_eq!(d.feed(body).unwrap(), Some(body.len()));
        assert_eq!(d.decoded(), b"abcde");
    }

    #[test]
    fn rejects_bad_sizes() {
        for bad in [
            &b"+5\r\nhello\r\n0\r\n\r\n"[..],
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5 5\r\nhello\r\n0\r\n\r\n",
            b"5_0\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"-1\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
        ] {
            assert_eq!(
                decode(bad),
                Err(ChunkedError::BadSize),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            decode(b"11111111111111111\r\n"),
            Err(ChunkedError::Overflow)
        );
        assert_eq!(decode(b"FFFFFFFFFFFFFFFF\r\n"), Err(ChunkedError::TooLarge));
    }

    #[test]
    fn rejects_missing_crlf_after_data() {
        assert_eq!(
            decode(b"5\r\nhelloX\r\n0\r\n\r\n"),
            Err(ChunkedError::MissingCrlf)
        );
        assert_eq!(
            decode(b"5\r\nhello\rX0\r\n\r\n"),
            Err(ChunkedError::MissingCrlf)
        );
    }

    #[test]
    fn limits_extensions_and_trailers() {
        let mut long = b"5;".to_vec();
        long.extend(std::iter::repeat_n(b'a', 5000));
        assert_eq!(decode(&long), Err(ChunkedError::LineTooLong));
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            trailers.extend_from_slice(b"X-Long: aaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(decode(&trailers), Err(ChunkedError::BadTrailers));
        assert_eq!(
            decode(b"0\r\nno colon\r\n\r\n"),
            Err(ChunkedError::BadTrailers)
        );
    }

    #[test]
    fn accepts_chunk_extensions_of_the_rfc_grammar() {
        for ext in [
            &b";a"[..],
            b";a=b",
            b" ; a = b",
            b"\t;\ta\t=\tb",
            b";a;b=c;d",
            b";name=\"quoted value\"",
            b";a=\"\"",
            b";a=\"esc\\\"aped\\\\\"",
            b";a=\"tab\there\"",
            b";a=\"caf\xe9\"",
            b";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
        ] {
            let mut body = b"3".to_vec();
            body.extend_from_slice(ext);
            body.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
            let (data, n) = decode(&body)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(ext)))
                .unwrap();
            assert_eq!((data.as_slice(), n), (&b"abc"[..], body.len()));
        }
    }

    #[test]
    fn rejects_chunk_extensions_outside_the_rfc_grammar() {
        for ext in [
            &b";"[..],
            b";;",
            b"; ",
            b";a;",
            b";=b",
            b";a=",
            b";a= ",
            b";a=b ",
            b";a ",
            b";a=b c",
            b";a b",
            b";a=b=c",
            b";a,b",
            b";a=b,c",
            b";a=\"unterminated",
            b";a=\"bad\\",
            b";a=\"x\"y",
            b";a=\"\x00\"",
            b";a=\"\\\x01\"",
            b";a=\"\x7f\"",
            b";a\x00",
            b";a=\x01",
            b";a=b\rc",
            b";a=b\x0b",
            b";caf\xe9",
            b";a=caf\xe9",
            b";a=(b)",
            b";\"a\"",
        ] {
            let mut body = b"3".to_vec();
            body.extend_from_slice(ext);
            body.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
            assert_eq!(
                decode(&body),
                Err(ChunkedError::BadExtension),
                "{:?}",
                String::from_utf8_lossy(ext)
            );
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let mut out = Vec::new();
        for piece in [&b"abc"[..], b"", b"0123456789abcdef0123"] {
            encode_chunk(piece, &mut out);
        }
        encode_last_chunk(&mut out);
        let (data, n) = decode(&out).unwrap().unwrap();
        assert_eq!(data, b"abc0123456789abcdef0123");
        assert_eq!(n, out.len());
    }
}
