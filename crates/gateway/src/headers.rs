//! Response headers.
//!
//! Python: `wsgiref.headers`.

use std::fmt;

use crate::error::{Error, Result};

use stdx::field::{FieldError, Fields};

/// The gateway's error for a field that fails the HTTP layer's rule
/// ([`stdx::field::check`]).
pub(crate) fn field_error(name: &str, value: &str, e: FieldError) -> Error {
    if e.is_name() {
        Error::InvalidHeaderName {
            name: name.to_owned(),
            reason: e.reason(),
        }
    } else {
        Error::InvalidHeaderValue {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: e.reason(),
        }
    }
}

/// Python's `_formatparam`: `key="value"` (always quoted, as `add_header` calls it).
fn formatparam(param: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{param}=\"{v}\"")
        }
        _ => param.to_owned(),
    }
}

/// Python: `wsgiref.headers.Headers`.
///
/// An ordered list of response header `(name, value)` pairs with case-insensitive lookup.
/// Names must be tokens and values must hold no CR, LF or NUL (so a header can never split
/// the response).
///
/// ```
/// use gateway::headers::Headers;
/// let mut h = Headers::new();
/// h.set("Content-Type", "text/plain").unwrap();
/// h.add_header("Content-Disposition", Some("attachment"), &[("filename", Some("bud.gif"))]).unwrap();
/// assert_eq!(h.get("content-type"), Some("text/plain"));
/// assert_eq!(
///     h.to_string(),
///     "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"bud.gif\"\r\n\r\n"
/// );
/// assert!(h.set("X-Bad", "a\r\nInjected: yes").is_err());
/// ```
#[doc(alias = "wsgiref.headers.Headers")]
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Headers {
    /// The pairs, in the HTTP layer's checked list (so the server sends them without
    /// checking them again).
    fields: Fields,
}

/// Iterator over a [`Headers`]' pairs, in order (`(&name, &value)`).
///
/// Python: iterating `wsgiref.headers.Headers.items()` (without copying the pairs).
pub type Iter<'a> = stdx::field::Iter<'a>;

impl Headers {
    /// Python: `wsgiref.headers.Headers()`.
    ///
    /// An empty list.
    #[doc(alias = "wsgiref.headers.Headers.__init__")]
    pub fn new() -> Self {
        Self::default()
    }

    /// Python: `wsgiref.headers.Headers(headers)`.
    ///
    /// A list of pairs, each checked.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self> {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.append(n, v)?;
        }
        Ok(h)
    }

    /// An empty list with room for `n` headers, in the buffers of a list this thread
    /// dropped earlier when there is one.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Headers {
            fields: Fields::with_capacity(n),
        }
    }

    /// The pairs as the HTTP layer's checked list (what the server sends).
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Appends one pair, keeping any existing header of that name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        self.push(&name, &value)
    }

    /// Appends one pair after the HTTP layer's check.
    pub(crate) fn push(&mut self, name: &str, value: &str) -> Result<()> {
        self.fields
            .push(name, value)
            .map_err(|e| field_error(name, value, e))
    }

    /// Sets `Content-Length: n`, replacing any (what `set_content_length` adds).
    pub(crate) fn set_content_length(&mut self, n: u64) {
        self.fields.set_content_length(n);
    }

    /// Python: `wsgiref.headers.Headers.__len__`.
    ///
    /// The number of headers, duplicates included.
    #[doc(alias = "wsgiref.headers.Headers.__len__")]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there is no header.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Python: `wsgiref.headers.Headers.__setitem__`.
    ///
    /// Replaces every header named `name` by one `name: value` at the end.
    #[doc(alias = "wsgiref.headers.Headers.__setitem__")]
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        stdx::field::check(&name, &value).map_err(|e| field_error(&name, &value, e))?;
        self.fields.remove(&name);
        self.push(&name, &value)
    }

    /// Python: `wsgiref.headers.Headers.__delitem__`.
    ///
    /// Deletes every header named `name` (no error when missing).
    #[doc(alias = "wsgiref.headers.Headers.__delitem__")]
    pub fn delete(&mut self, name: &str) {
        self.fields.remove(name);
    }

    /// The first value of `name`, case-insensitively. Python: `headers.get(name)` and
    /// `headers[name]` (both return `None` when missing).
    #[doc(alias = "wsgiref.headers.Headers.get")]
    #[doc(alias = "wsgiref.headers.Headers.__getitem__")]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// Python: `wsgiref.headers.Headers.__contains__`.
    ///
    /// True when a header named `name` exists.
    #[doc(alias = "wsgiref.headers.Headers.__contains__")]
    pub fn contains(&self, name: &str) -> bool {
        self.fields.contains(name)
    }

    /// Python: `wsgiref.headers.Headers.get_all`.
    ///
    /// Every value of `name`, in order.
    #[doc(alias = "wsgiref.headers.Headers.get_all")]
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.fields.get_all(name).collect()
    }

    /// Python: `wsgiref.headers.Headers.keys`.
    ///
    /// The names, in order, duplicates included.
    #[doc(alias = "wsgiref.headers.Headers.keys")]
    pub fn keys(&self) -> Vec<&str> {
        self.iter().map(|(k, _)| k).collect()
    }

    /// Python: `wsgiref.headers.Headers.values`.
    ///
    /// The values, in order.
    #[doc(alias = "wsgiref.headers.Headers.values")]
    pub fn values(&self) -> Vec<&str> {
        self.iter().map(|(_, v)| v).collect()
    }

    /// Python: `wsgiref.headers.Headers.items`.
    ///
    /// A copy of the pairs, in order.
    #[doc(alias = "wsgiref.headers.Headers.items")]
    pub fn items(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Iterates over the pairs without copying.
    pub fn iter(&self) -> Iter<'_> {
        self.fields.iter()
    }

    /// Python: `wsgiref.headers.Headers.setdefault`.
    ///
    /// The first value of `name`, or adds `name: value` and returns `value`.
    #[doc(alias = "wsgiref.headers.Headers.setdefault")]
    pub fn setdefault(&mut self, name: &str, value: &str) -> Result<String> {
        if let Some(v) = self.get(name) {
            return Ok(v.to_owned());
        }
        self.append(name, value)?;
        Ok(value.to_owned())
    }

    /// Python: `wsgiref.headers.Headers.add_header`.
    ///
    /// Appends `name: value; key="param"; flag`: each parameter's underscores become dashes,
    /// a `None` parameter value writes the bare key, other values are always quoted.
    #[doc(alias = "wsgiref.headers.Headers.add_header")]
    pub fn add_header(
        &mut self,
        name: &str,
        value: Option<&str>,
        params: &[(&str, Option<&str>)],
    ) -> Result<()> {
        let mut parts: Vec<String> = Vec::new();
        if let Some(v) = value {
            parts.push(v.to_owned());
        }
        for (k, v) in params {
            parts.push(formatparam(&k.replace('_', "-"), *v));
        }
        self.append(name, parts.join("; "))
    }

    /// Python: `wsgiref.headers.Headers.__bytes__`.
    ///
    /// The headers as Latin-1 bytes, each line ending in CRLF, plus the closing blank line.
    #[doc(alias = "wsgiref.headers.Headers.__bytes__")]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_bytes(&mut out);
        out
    }

    /// Appends the serialisation of [`to_bytes`](Self::to_bytes) to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        self.fields.write_lines(out);
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Display for Headers {
    /// Python: `wsgiref.headers.Headers.__str__`: `Name: value\r\n` lines and a closing `\r\n`.
    #[doc(alias = "wsgiref.headers.Headers.__str__")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in self {
            write!(f, "{k}: {v}\r\n")?;
        }
        f.write_str("\r\n")
    }
}

impl fmt::Debug for Headers {
    /// Python: `wsgiref.headers.Headers.__repr__`, `Headers([('name', 'value')])`.
    #[doc(alias = "wsgiref.headers.Headers.__repr__")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("({}, {})", crate::util::py_repr(k), crate::util::py_repr(v)))
            .collect();
        write!(f, "Headers([{}])", items.join(", "))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests;
