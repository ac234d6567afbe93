//! Python's `repr()` of a `str`, as `demo_app` and the error pages print values.
//!
//! Python: `str.__repr__` (`Objects/unicodeobject.c`, `unicode_repr`).

/// Python's `repr()` of a `str`.
///
/// The quote is `'` unless the text holds `'` and no `"`; `\\`, `\n`, `\r`, `\t` and the
/// quote are escaped; non-printable characters become `\xNN` (0x00-0x1f, 0x7f-0xa0,
/// 0xad), `\uNNNN` or `\UNNNNNNNN`. Printability beyond Latin-1 follows a table of the
/// non-printable ranges Python's `str.isprintable` knows (separators, format characters,
/// private use, noncharacters); unassigned code points are printed as they are, where
/// Python escapes them.
///
/// Python: `repr(s)`.
///
/// ```
/// assert_eq!(stdx::repr::py_repr("it's"), r#""it's""#);
/// assert_eq!(stdx::repr::py_repr("a\tb\u{ad}"), r"'a\tb\xad'");
/// assert_eq!(stdx::repr::py_repr("\u{200b}"), r"'\u200b'");
/// ```
#[doc(alias = "repr")]
pub fn py_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    py_repr_into(s, &mut out);
    out
}

/// [`py_repr`], appended to `out`.
///
/// ```
/// let mut out = String::from("PATH_INFO = ");
/// stdx::repr::py_repr_into("/xyz", &mut out);
/// assert_eq!(out, "PATH_INFO = '/xyz'");
/// ```
pub fn py_repr_into(s: &str, out: &mut String) {
    // Branch-free over the bytes, so the compiler checks many at once.
    if s.bytes().fold(true, |ok, b| {
        ok & (b' '..=b'~').contains(&b) & (b != b'\\') & (b != b'\'')
    }) {
        // Printable ASCII with nothing to escape: the text in single quotes.
        out.reserve(s.len() + 2);
        out.push('\'');
        out.push_str(s);
        out.push('\'');
        return;
    }
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.reserve(s.len() + 2);
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
            c if is_printable(c) => out.push(c),
            c => {
                use std::fmt::Write as _;
                let cp = u32::from(c);
                let _ = if cp <= 0xFF {
                    write!(out, "\\x{cp:02x}")
                } else if cp <= 0xFFFF {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one char: exact for Latin-1, table-based beyond (see
/// [`py_repr`]).
///
/// ```
/// assert!(stdx::repr::is_printable('é') && !stdx::repr::is_printable('\u{a0}'));
/// ```
pub fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    match cp {
        0x20..=0x7E => true,
        0x00..=0x1F | 0x7F..=0xA0 | 0xAD => false,
        0xA1..=0xFF => true,
        // Zs other than the ASCII space, Zl, Zp.
        0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 => false,
        // Cf (format characters).
        0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890
        | 0x0891
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F => false,
        // Co (Cs cannot be in a Rust string).
        0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD => false,
        // Noncharacters (Cn).
        0xFDD0..=0xFDEF => false,
        cp if cp & 0xFFFE == 0xFFFE => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
