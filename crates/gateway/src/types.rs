//! The application interface of PEP 3333: the environ, `start_response`, the application
//! callable and the body it returns.
//!
//! Python: `wsgiref.types` (`WSGIEnvironment`, `StartResponse`, `WSGIApplication`,
//! `InputStream`, `ErrorStream`, `FileWrapper`).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::file_wrapper::FileWrapper;

mod vars;
pub(crate) use vars::Dup;

/// A stream shared by its handles, as a Python file object is by its references: counted
/// for the streams made per request, a plain reference for the process-wide ones
/// ([`InputStream::empty`], [`ErrorStream::stderr`]), whose handles are then copied
/// without touching a shared counter (two atomic operations per copy and drop otherwise,
/// several times per request).
enum Shared<T: ?Sized + 'static> {
    Counted(Arc<Mutex<Box<T>>>),
    Static(&'static Mutex<Box<T>>),
}

impl<T: ?Sized + 'static> Shared<T> {
    fn get(&self) -> &Mutex<Box<T>> {
        match self {
            Shared::Counted(a) => a,
            Shared::Static(r) => r,
        }
    }
}

impl<T: ?Sized + 'static> Clone for Shared<T> {
    fn clone(&self) -> Self {
        match self {
            Shared::Counted(a) => Shared::Counted(Arc::clone(a)),
            Shared::Static(r) => Shared::Static(r),
        }
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Python: `wsgiref.types.InputStream` (`read`, `readline`, `readlines`, `__iter__`).
///
/// The request body stream, `wsgi.input`: a shared handle (cloning it yields the same stream).
///
/// ```
/// use std::io::Read;
/// let input = gateway::InputStream::new(std::io::Cursor::new(b"a\nb".to_vec()));
/// assert_eq!(input.readline().unwrap(), b"a\n");
/// let mut rest = Vec::new();
/// input.clone().read_to_end(&mut rest).unwrap();
/// assert_eq!(rest, b"b");
/// ```
#[doc(alias = "wsgiref.types.InputStream")]
#[derive(Clone)]
pub struct InputStream {
    inner: Shared<dyn BufRead + Send>,
}

impl fmt::Debug for InputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<gateway::InputStream>")
    }
}

impl InputStream {
    /// Wraps any reader (buffered internally).
    pub fn new(reader: impl Read + Send + 'static) -> Self {
        Self::from_buf_read(BufReader::new(reader))
    }

    /// Wraps a reader that is already buffered.
    pub fn from_buf_read(reader: impl BufRead + Send + 'static) -> Self {
        InputStream {
            inner: Shared::Counted(Arc::new(Mutex::new(Box::new(reader)))),
        }
    }

    /// An empty body (Python's `BytesIO()` in `setup_testing_defaults`). Every call
    /// returns a handle to one shared empty stream (reading it never changes it), so a
    /// request without a body costs no allocation.
    pub fn empty() -> Self {
        static EMPTY: std::sync::OnceLock<Mutex<Box<dyn BufRead + Send>>> =
            std::sync::OnceLock::new();
        InputStream {
            inner: Shared::Static(EMPTY.get_or_init(|| Mutex::new(Box::new(io::empty())))),
        }
    }

    /// True for the shared stream [`empty`](Self::empty) returns: a request without a body,
    /// whose `wsgi.input` reads nothing however it is read.
    pub(crate) fn is_shared_empty(&self) -> bool {
        matches!(self.inner, Shared::Static(_))
    }

    /// Python: `wsgiref.types.InputStream.readline()`.
    ///
    /// Reads one line, newline included; empty at the end of the stream.
    #[doc(alias = "wsgiref.types.InputStream.readline")]
    pub fn readline(&self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        lock(self.inner.get()).read_until(b'\n', &mut line)?;
        Ok(line)
    }

    /// Python: `wsgiref.types.InputStream.readlines()`.
    ///
    /// Reads all remaining lines.
    #[doc(alias = "wsgiref.types.InputStream.readlines")]
    pub fn readlines(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut lines = Vec::new();
        loop {
            let line = self.readline()?;
            if line.is_empty() {
                return Ok(lines);
            }
            lines.push(line);
        }
    }

    /// Python: `wsgiref.types.InputStream.read(size)`.
    ///
    /// Reads at most `size` bytes (fewer only at the end of the stream).
    #[doc(alias = "wsgiref.types.InputStream.read")]
    pub fn read_size(&self, size: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        (&mut **lock(self.inner.get()))
            .take(size as u64)
            .read_to_end(&mut buf)?;
        Ok(buf)
    }
}

impl Read for InputStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        lock(self.inner.get()).read(buf)
    }
}

impl Read for &InputStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        lock(self.inner.get()).read(buf)
    }
}

/// Python: `wsgiref.types.ErrorStream` (`write`, `writelines`, `flush`).
///
/// The error stream, `wsgi.errors`: a shared handle (cloning it yields the same stream).
///
/// ```
/// use std::io::Write;
/// let (mut errors, captured) = gateway::ErrorStream::memory();
/// writeln!(errors, "oops").unwrap();
/// assert_eq!(captured.contents(), b"oops\n");
/// ```
#[doc(alias = "wsgiref.types.ErrorStream")]
#[derive(Clone)]
pub struct ErrorStream {
    inner: Shared<dyn Write + Send>,
    name: &'static str,
}

impl fmt::Debug for ErrorStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<gateway::ErrorStream name='{}'>", self.name)
    }
}

impl ErrorStream {
    /// Wraps any writer.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        ErrorStream {
            inner: Shared::Counted(Arc::new(Mutex::new(Box::new(writer)))),
            name: "<stream>",
        }
    }

    /// The process's standard error (Python: `sys.stderr`). Every call returns a handle to
    /// the same stream (handlers are made per request: this costs no allocation).
    pub fn stderr() -> Self {
        static STDERR: std::sync::OnceLock<Mutex<Box<dyn Write + Send>>> =
            std::sync::OnceLock::new();
        ErrorStream {
            inner: Shared::Static(STDERR.get_or_init(|| Mutex::new(Box::new(io::stderr())))),
            name: "<stderr>",
        }
    }

    /// An in-memory stream and a handle to read what was written (Python: `StringIO()`).
    pub fn memory() -> (Self, SharedBuffer) {
        let buf = SharedBuffer::default();
        let stream = ErrorStream {
            inner: Shared::Counted(Arc::new(Mutex::new(Box::new(buf.clone())))),
            name: "<memory>",
        };
        (stream, buf)
    }

    /// Python: `wsgiref.types.ErrorStream.write(s)`.
    ///
    /// Writes a string.
    #[doc(alias = "wsgiref.types.ErrorStream.write")]
    pub fn write_str(&self, s: &str) -> io::Result<()> {
        lock(self.inner.get()).write_all(s.as_bytes())
    }

    /// Python: `wsgiref.types.ErrorStream.writelines(seq)`.
    ///
    /// Writes each string.
    #[doc(alias = "wsgiref.types.ErrorStream.writelines")]
    pub fn writelines<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        let mut w = lock(self.inner.get());
        for line in lines {
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

impl Write for ErrorStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(self.inner.get()).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        lock(self.inner.get()).flush()
    }
}

/// A cloneable in-memory byte buffer: every clone writes to, and reads from, the same bytes.
///
/// Use it to capture a stream in a test (`wsgi.errors`, a handler's stdout).
///
/// ```
/// use std::io::Write;
/// let buf = gateway::SharedBuffer::default();
/// buf.clone().write_all(b"hi").unwrap();
/// assert_eq!(buf.contents(), b"hi");
/// ```
#[derive(Clone, Debug, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }

    /// Everything written so far, decoded as UTF-8 (lossily).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A non-string environ value added by a middleware (Python: any object under a dotted key).
#[derive(Clone)]
struct Extension {
    value: Arc<dyn Any + Send + Sync>,
    repr: String,
}

/// Python: the values of a `WSGIEnvironment` dict.
///
/// One environ value as [`Environ::items`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvValue<'a> {
    /// A native string (CGI and HTTP variables, `wsgi.url_scheme`).
    Str(&'a str),
    /// `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once`.
    Bool(bool),
    /// `wsgi.version`.
    Version(u32, u32),
    /// An object (`wsgi.input`, `wsgi.errors`, `wsgi.file_wrapper`, middleware objects),
    /// given by its `<...>` description.
    Object(&'a str),
}

impl EnvValue<'_> {
    /// The value as Python's `repr()` prints it (`'text'`, `True`, `(1, 0)`, `<...>`).
    ///
    /// ```
    /// use gateway::EnvValue;
    /// assert_eq!(EnvValue::Version(1, 0).repr(), "(1, 0)");
    /// assert_eq!(EnvValue::Bool(false).repr(), "False");
    /// assert_eq!(EnvValue::Str("it's").repr(), "\"it's\"");
    /// ```
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    /// Python: `repr()` of the value, as [`repr`](Self::repr), appended to `out`.
    #[doc(alias = "repr")]
    pub fn write_repr(&self, out: &mut String) {
        match self {
            EnvValue::Str(s) => stdx::repr::py_repr_into(s, out),
            EnvValue::Bool(true) => out.push_str("True"),
            EnvValue::Bool(false) => out.push_str("False"),
            EnvValue::Version(a, b) if *a < 10 && *b < 10 => {
                for c in [
                    '(',
                    char::from(b'0' + *a as u8),
                    ',',
                    ' ',
                    char::from(b'0' + *b as u8),
                    ')',
                ] {
                    out.push(c);
                }
            }
            EnvValue::Version(a, b) => {
                use fmt::Write as _;
                let _ = write!(out, "({a}, {b})");
            }
            EnvValue::Object(d) => out.push_str(d),
        }
    }
}

/// Python: `wsgiref.types.WSGIEnvironment` (a `dict[str, Any]`).
///
/// The WSGI environ: CGI/HTTP variables as Latin-1 native strings, the typed `wsgi.*`
/// entries, and room for middleware keys. Iteration ([`Environ::items`]) is sorted by key.
///
/// Every string value should hold only chars up to U+00FF ("native strings", PEP 3333):
/// use [`Environ::set_bytes`] / [`Environ::get_bytes`] to convert from and to the wire
/// bytes. [`crate::validate::Validator`] checks the rule.
///
/// ```
/// let mut env = gateway::Environ::new();
/// env.set_bytes("PATH_INFO", b"/caf\xc3\xa9");
/// assert_eq!(env.get("PATH_INFO"), Some("/caf\u{c3}\u{a9}"));
/// assert_eq!(env.get_bytes("PATH_INFO").unwrap(), b"/caf\xc3\xa9");
/// let keys: Vec<String> = env.items().into_iter().map(|(k, _)| k).collect();
/// assert!(keys.windows(2).all(|w| w[0] <= w[1]));
/// ```
#[doc(alias = "wsgiref.types.WSGIEnvironment")]
#[derive(Clone)]
pub struct Environ {
    vars: vars::Vars,
    version: (u32, u32),
    /// `http` and `https` (the usual schemes) are static: no string per request.
    url_scheme: Option<std::borrow::Cow<'static, str>>,
    input: Option<InputStream>,
    errors: Option<ErrorStream>,
    multithread: bool,
    multiprocess: bool,
    run_once: bool,
    file_wrapper: bool,
    /// `None` while empty: most environs never hold one, and dropping an empty map still
    /// costs a walk per request.
    extensions: Option<BTreeMap<String, Extension>>,
}

impl Default for Environ {
    fn default() -> Self {
        Environ {
            vars: vars::Vars::default(),
            version: (1, 0),
            url_scheme: None,
            input: None,
            errors: None,
            multithread: false,
            multiprocess: false,
            run_once: false,
            file_wrapper: false,
            extensions: None,
        }
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.items() {
            m.entry(&k, &v.repr());
        }
        m.finish()
    }
}

/// The `<...>` description `wsgi.input` prints as.
pub(crate) const INPUT_REPR: &str = "<gateway::InputStream>";
/// The `<...>` description `wsgi.file_wrapper` prints as.
pub(crate) const FILE_WRAPPER_REPR: &str = "<class 'gateway::util::FileWrapper'>";

impl Environ {
    /// An empty environ: no variables, `wsgi.version` `(1, 0)`, the flags `False`.
    pub fn new() -> Self {
        Self::default()
    }

    /// An environ holding these string variables.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut env = Self::new();
        for (k, v) in vars {
            env.set(k, v);
        }
        env
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`environ.get(key)`).
    ///
    /// A string variable (`wsgi.url_scheme` included).
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn get(&self, key: &str) -> Option<&str> {
        if key == "wsgi.url_scheme" {
            return self.url_scheme.as_deref();
        }
        self.vars.get(key)
    }

    /// A string variable encoded back to its Latin-1 bytes; `None` when missing or when it
    /// holds a char beyond U+00FF.
    pub fn get_bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.get(key).and_then(stdx::latin1::encode)
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`environ[key] = value`).
    ///
    /// Sets a string variable (`wsgi.url_scheme` included).
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.set_str(&key.into(), &value.into());
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`environ[key] = value`).
    ///
    /// [`set`](Self::set) from borrowed text (no allocation for the key or the value
    /// beyond the environ's own buffer).
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn set_str(&mut self, key: &str, value: &str) {
        if key == "wsgi.url_scheme" {
            self.url_scheme = Some(match value {
                "http" => "http".into(),
                "https" => "https".into(),
                other => other.to_owned().into(),
            });
        } else {
            self.vars.insert(key, value);
        }
    }

    /// Copies the string variables of `template` into this environ, which must hold none
    /// yet (the servers' per-request copy of their base environ).
    #[cfg_attr(not(feature = "simple-server"), allow(dead_code))]
    pub(crate) fn copy_vars_from(&mut self, template: &Environ) {
        if self.vars.len() == 0 && self.url_scheme.is_none() {
            self.vars.extend_from_empty(&template.vars);
            self.url_scheme.clone_from(&template.url_scheme);
        } else {
            for (k, v) in template.vars.iter() {
                self.set_str(k, v);
            }
            if let Some(s) = &template.url_scheme {
                self.set_str("wsgi.url_scheme", s);
            }
        }
    }

    /// Python: `environ.update(vars)`.
    ///
    /// Adds every variable of `vars`. Same as [`set`](Self::set) for each.
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn extend_vars(&mut self, vars: &BTreeMap<String, String>) {
        if self.vars.len() == 0
            && self.url_scheme.is_none()
            && !vars.contains_key("wsgi.url_scheme")
        {
            // Distinct keys into an empty environ: no lookups needed.
            self.vars
                .extend_new(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            return;
        }
        for (k, v) in vars {
            self.set_str(k, v);
        }
    }

    /// Sets a variable whose key and value are written in place into the environ's
    /// buffer (no allocation per variable): `write_key` appends the key; if that key is
    /// new, `write_value` appends its value; if it is present, `dup` decides.
    pub(crate) fn set_with(
        &mut self,
        write_key: impl FnOnce(&mut String),
        dup: Dup,
        write_value: impl FnOnce(&mut String),
    ) {
        self.vars.push_with(write_key, dup, write_value);
    }

    /// Adds a string variable the caller knows is absent (no lookup).
    pub(crate) fn push_new_var(&mut self, key: &str, value: &str) {
        debug_assert!(!self.vars.contains(key) && key != "wsgi.url_scheme");
        self.vars.push_new(key, value);
    }

    /// True when the string variable `key` is set (`wsgi.*` entries and extensions not
    /// considered).
    pub(crate) fn contains_var(&self, key: &str) -> bool {
        self.vars.contains(key)
    }

    /// An environ with room for `bytes` of variable keys and values and `vars` variables.
    ///
    /// Python: no equivalent (a dict grows on its own).
    pub fn with_capacity(bytes: usize, vars: usize) -> Self {
        Environ {
            vars: vars::Vars::with_capacity(bytes, vars),
            ..Environ::default()
        }
    }

    /// Sets a string variable from wire bytes, decoded as Latin-1.
    pub fn set_bytes(&mut self, key: impl Into<String>, value: &[u8]) {
        self.set(key, stdx::latin1::decode(value));
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`environ.setdefault(key, value)`).
    ///
    /// Sets `key` unless it is present; returns the value now stored.
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn setdefault(&mut self, key: &str, value: impl Into<String>) -> &str {
        if !self.contains(key) {
            self.set(key, value);
        }
        self.get(key).unwrap_or("")
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`del environ[key]`).
    ///
    /// Removes a string variable or a middleware extension.
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn remove(&mut self, key: &str) -> Option<String> {
        if key == "wsgi.url_scheme" {
            return self.url_scheme.take().map(std::borrow::Cow::into_owned);
        }
        if let Some(ext) = &mut self.extensions {
            ext.remove(key);
        }
        self.vars.remove(key)
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`key in environ`).
    ///
    /// True when `key` is present (string variables, the `wsgi.*` entries, extensions).
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn contains(&self, key: &str) -> bool {
        match key {
            "wsgi.version" | "wsgi.multithread" | "wsgi.multiprocess" | "wsgi.run_once" => true,
            "wsgi.url_scheme" => self.url_scheme.is_some(),
            "wsgi.input" => self.input.is_some(),
            "wsgi.errors" => self.errors.is_some(),
            "wsgi.file_wrapper" => self.file_wrapper,
            _ => {
                self.vars.contains(key)
                    || self
                        .extensions
                        .as_ref()
                        .is_some_and(|e| e.contains_key(key))
            }
        }
    }

    /// The string variables, sorted by key.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.sorted().into_iter()
    }

    /// The string variables in the order they were set (Python: iterating the environ
    /// dict, whose order is insertion order): no sorting, for a host that builds its own
    /// dict from them.
    pub fn vars_in_order(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter()
    }

    /// Every entry, sorted by key, as Python's `sorted(environ.items())`.
    pub fn items(&self) -> Vec<(String, EnvValue<'_>)> {
        self.sorted_items()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Python: `sorted(environ.items())`, as [`items`](Self::items) with borrowed keys (no
    /// allocation per entry).
    ///
    /// ```
    /// let env = gateway::Environ::from_vars([("B", "2"), ("A", "1")]);
    /// let keys: Vec<&str> = env.sorted_items().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(&keys[..3], ["A", "B", "wsgi.multiprocess"]);
    /// ```
    pub fn sorted_items(&self) -> Vec<(&str, EnvValue<'_>)> {
        // Three sequences in key order, merged: the string variables (sorted), the
        // `wsgi.*` entries (listed in order here), the extensions (a BTreeMap).
        let mut wsgi: Vec<(&str, EnvValue<'_>)> = Vec::with_capacity(8);
        if let Some(e) = &self.errors {
            let repr = match e.name {
                "<stderr>" => "<gateway::ErrorStream name='<stderr>'>",
                "<memory>" => "<gateway::ErrorStream name='<memory>'>",
                _ => "<gateway::ErrorStream name='<stream>'>",
            };
            wsgi.push(("wsgi.errors", EnvValue::Object(repr)));
        }
        if self.file_wrapper {
            wsgi.push(("wsgi.file_wrapper", EnvValue::Object(FILE_WRAPPER_REPR)));
        }
        if self.input.is_some() {
            wsgi.push(("wsgi.input", EnvValue::Object(INPUT_REPR)));
        }
        wsgi.push(("wsgi.multiprocess", EnvValue::Bool(self.multiprocess)));
        wsgi.push(("wsgi.multithread", EnvValue::Bool(self.multithread)));
        wsgi.push(("wsgi.run_once", EnvValue::Bool(self.run_once)));
        if let Some(s) = &self.url_scheme {
            wsgi.push(("wsgi.url_scheme", EnvValue::Str(s)));
        }
        wsgi.push((
            "wsgi.version",
            EnvValue::Version(self.version.0, self.version.1),
        ));
        let extensions = self
            .extensions
            .iter()
            .flatten()
            .map(|(k, ext)| (k.as_str(), EnvValue::Object(&ext.repr)));
        let no_extensions = self.extensions.as_ref().is_none_or(BTreeMap::is_empty);
        let extension_count = self.extensions.as_ref().map_or(0, BTreeMap::len);
        let mut items = Vec::with_capacity(self.vars.len() + wsgi.len() + extension_count);
        self.vars
            .sorted_into(&mut items, |k, v| (k, EnvValue::Str(v)));
        // The variables before `wsgi.` (all the CGI ones, upper case) need no merging; the
        // usual environ has none after it, and no extensions: the `wsgi.*` entries follow.
        let split = items.partition_point(|(k, _)| *k < "wsgi.");
        if split == items.len() && no_extensions {
            items.extend(wsgi);
            return items;
        }
        let rest: Vec<(&str, EnvValue<'_>)> = items.drain(split..).collect();
        if no_extensions {
            merge_sorted(rest.into_iter(), wsgi.into_iter(), &mut items);
        } else {
            let mut others = Vec::with_capacity(wsgi.len() + extension_count);
            merge_sorted(wsgi.into_iter(), extensions, &mut others);
            merge_sorted(rest.into_iter(), others.into_iter(), &mut items);
        }
        items
    }

    /// Python: `wsgiref.types.WSGIEnvironment` (`sorted(environ)`).
    ///
    /// The keys, sorted.
    #[doc(alias = "wsgiref.types.WSGIEnvironment")]
    pub fn keys(&self) -> Vec<String> {
        self.items().into_iter().map(|(k, _)| k).collect()
    }

    /// `wsgi.version`, always `(1, 0)` unless changed.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// Sets `wsgi.version`.
    pub fn set_version(&mut self, version: (u32, u32)) {
        self.version = version;
    }

    /// `wsgi.url_scheme` (`http` when it was never set).
    pub fn url_scheme(&self) -> &str {
        self.url_scheme.as_deref().unwrap_or("http")
    }

    /// `wsgi.url_scheme`, `None` when it was never set.
    pub fn url_scheme_opt(&self) -> Option<&str> {
        self.url_scheme.as_deref()
    }

    /// Sets `wsgi.url_scheme` (a `&'static str` such as `"https"` is kept without a copy).
    pub fn set_url_scheme(&mut self, scheme: impl Into<std::borrow::Cow<'static, str>>) {
        self.url_scheme = Some(scheme.into());
    }

    /// `wsgi.input`, the request body (an empty stream when none was set).
    pub fn input(&self) -> InputStream {
        self.input.clone().unwrap_or_else(InputStream::empty)
    }

    /// True when `wsgi.input` reads nothing: unset, or the shared stream of
    /// [`InputStream::empty`] (a request without a body). Python: none; a host that wraps
    /// the stream in an object of its own can share one such object between these requests.
    pub fn input_is_empty(&self) -> bool {
        self.input.as_ref().is_none_or(InputStream::is_shared_empty)
    }

    /// True when `wsgi.input` was set.
    pub fn has_input(&self) -> bool {
        self.input.is_some()
    }

    /// Sets `wsgi.input`.
    pub fn set_input(&mut self, input: InputStream) {
        self.input = Some(input);
    }

    /// `wsgi.errors` (a stream that discards everything when none was set).
    pub fn errors(&self) -> ErrorStream {
        self.errors
            .clone()
            .unwrap_or_else(|| ErrorStream::new(io::sink()))
    }

    /// True when `wsgi.errors` was set.
    pub fn has_errors(&self) -> bool {
        self.errors.is_some()
    }

    /// Sets `wsgi.errors`.
    pub fn set_errors(&mut self, errors: ErrorStream) {
        self.errors = Some(errors);
    }

    /// `wsgi.multithread`.
    pub fn multithread(&self) -> bool {
        self.multithread
    }

    /// `wsgi.multiprocess`.
    pub fn multiprocess(&self) -> bool {
        self.multiprocess
    }

    /// `wsgi.run_once`.
    pub fn run_once(&self) -> bool {
        self.run_once
    }

    /// Sets `wsgi.multithread`, `wsgi.multiprocess` and `wsgi.run_once`.
    pub fn set_flags(&mut self, multithread: bool, multiprocess: bool, run_once: bool) {
        self.multithread = multithread;
        self.multiprocess = multiprocess;
        self.run_once = run_once;
    }

    /// True when the server offers `wsgi.file_wrapper` (build one with
    /// [`FileWrapper::new`] and return it as [`Body::file`]).
    pub fn file_wrapper(&self) -> bool {
        self.file_wrapper
    }

    /// Offers (or withdraws) `wsgi.file_wrapper`.
    pub fn set_file_wrapper(&mut self, offered: bool) {
        self.file_wrapper = offered;
    }

    /// Stores a non-string value under a (dotted) middleware key, with the description
    /// its `repr` prints.
    ///
    /// ```
    /// let mut env = gateway::Environ::new();
    /// env.insert_extension("myapp.user_id", 42u64, "42");
    /// assert_eq!(env.extension::<u64>("myapp.user_id"), Some(&42));
    /// ```
    pub fn insert_extension<T: Any + Send + Sync>(
        &mut self,
        key: impl Into<String>,
        value: T,
        repr: impl Into<String>,
    ) {
        self.extensions.get_or_insert_default().insert(
            key.into(),
            Extension {
                value: Arc::new(value),
                repr: repr.into(),
            },
        );
    }

    /// A middleware value of type `T`.
    pub fn extension<T: Any + Send + Sync>(&self, key: &str) -> Option<&T> {
        self.extensions
            .as_ref()?
            .get(key)?
            .value
            .downcast_ref::<T>()
    }
}

/// Appends the merge of two sequences sorted by key to `out`.
fn merge_sorted<'a>(
    a: impl Iterator<Item = (&'a str, EnvValue<'a>)>,
    b: impl Iterator<Item = (&'a str, EnvValue<'a>)>,
    out: &mut Vec<(&'a str, EnvValue<'a>)>,
) {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

/// Python: `wsgiref.types.StartResponse` (and the `write` it returns).
/// Implemented by the handler ([`crate::handlers::Response`]), by middleware
/// ([`crate::validate::Validator`]) and by test doubles.
///
/// The `start_response` callable of PEP 3333, and the `write()` callable it returns.
///
/// ```
/// use gateway::{Body, Environ, Result, StartResponse};
/// fn app(_env: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
///     sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
///     sr.write(b"streamed ")?;
///     Ok(Body::from("and returned"))
/// }
/// let resp = gateway::testing::Client::new(app).get("/");
/// assert_eq!(resp.text(), "streamed and returned");
/// ```
#[doc(alias = "wsgiref.types.StartResponse")]
#[doc(alias = "start_response")]
pub trait StartResponse {
    /// Python: `wsgiref.types.StartResponse.__call__` (`start_response(status, headers, exc_info=None)`).
    ///
    /// Sets the status (`"200 OK"`) and headers; with `exc_info` (the error being handled),
    /// replaces them if nothing was sent yet, else returns that error back.
    #[doc(alias = "wsgiref.types.StartResponse.__call__")]
    fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        exc_info: Option<Error>,
    ) -> Result<()>;

    /// Python: the `write(data)` callable returned by `start_response`.
    ///
    /// Writes body bytes at once (sending the headers first).
    fn write(&mut self, data: &[u8]) -> Result<()>;
}

impl<S: StartResponse + ?Sized> StartResponse for &mut S {
    fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        exc_info: Option<Error>,
    ) -> Result<()> {
        (**self).start_response(status, headers, exc_info)
    }
    fn write(&mut self, data: &[u8]) -> Result<()> {
        (**self).write(data)
    }
}

/// Python: `wsgiref.types.WSGIApplication`. Implemented for closures and functions of the
/// right shape, and for `Arc<A>` / `Box<dyn Application>`.
///
/// A WSGI application: `(environ, start_response) -> body`.
///
/// ```
/// use gateway::{Application, Body, Environ, Result, StartResponse};
/// struct Hello;
/// impl Application for Hello {
///     fn call(&self, _env: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
///         sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
///         Ok(Body::from("Hello"))
///     }
/// }
/// assert_eq!(gateway::testing::Client::new(Hello).get("/").text(), "Hello");
/// ```
#[doc(alias = "wsgiref.types.WSGIApplication")]
pub trait Application: Send + Sync {
    /// Python: `wsgiref.types.WSGIApplication` (`application(environ, start_response)`).
    #[doc(alias = "wsgiref.types.WSGIApplication")]
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body>;
}

impl<F> Application for F
where
    F: Fn(&Environ, &mut dyn StartResponse) -> Result<Body> + Send + Sync,
{
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        self(environ, start_response)
    }
}

impl<A: Application + ?Sized> Application for Arc<A> {
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        (**self).call(environ, start_response)
    }
}

impl Application for Box<dyn Application> {
    fn call(&self, environ: &Environ, start_response: &mut dyn StartResponse) -> Result<Body> {
        (**self).call(environ, start_response)
    }
}

type ChunkIter = Box<dyn Iterator<Item = Result<Vec<u8>>> + Send>;

enum BodyKind {
    /// Exactly one chunk (the usual body): no list to allocate.
    One(Option<Vec<u8>>),
    /// Exactly one chunk the program holds for its whole run: nothing to allocate or copy.
    Static(Option<&'static [u8]>),
    Chunks {
        iter: std::vec::IntoIter<Vec<u8>>,
        len: usize,
    },
    Iter(ChunkIter),
    File(FileWrapper),
    Closed,
}

/// Python: the `Iterable[bytes]` a `WSGIApplication` returns.
///
/// The iterable an application returns: byte chunks, with a close hook that runs exactly
/// once (Python's `result.close()`), when the handler closes it or, failing that, on drop.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
/// let closes = Arc::new(AtomicUsize::new(0));
/// let c = closes.clone();
/// let mut body = gateway::Body::from(vec![b"a".to_vec(), b"b".to_vec()])
///     .on_close(move || { c.fetch_add(1, Ordering::SeqCst); });
/// assert_eq!(body.len(), Some(2));
/// assert_eq!(body.next().unwrap().unwrap(), b"a");
/// body.close();
/// drop(body);
/// assert_eq!(closes.load(Ordering::SeqCst), 1);
/// ```
pub struct Body {
    kind: BodyKind,
    on_close: Vec<Box<dyn FnOnce() + Send>>,
    len_hint: Option<usize>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            BodyKind::One(_) | BodyKind::Static(_) => "Chunks(len=1)".to_owned(),
            BodyKind::Chunks { len, .. } => format!("Chunks(len={len})"),
            BodyKind::Iter(_) => "Iter".to_owned(),
            BodyKind::File(fw) => format!("{fw:?}"),
            BodyKind::Closed => "Closed".to_owned(),
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

impl Body {
    /// A body with no chunks (Python: `[]`).
    pub fn empty() -> Self {
        Self::chunks(Vec::new())
    }

    /// A body of exactly one chunk (Python: `[chunk]`): its length is known, so it gets a
    /// `Content-Length`.
    pub fn one(chunk: Vec<u8>) -> Self {
        Body {
            kind: BodyKind::One(Some(chunk)),
            on_close: Vec::new(),
            len_hint: None,
        }
    }

    /// A body of one chunk the program holds for its whole run (Python: `[b"literal"]`),
    /// sent without being copied into a buffer of its own first.
    pub fn from_static(chunk: &'static [u8]) -> Self {
        Body {
            kind: BodyKind::Static(Some(chunk)),
            on_close: Vec::new(),
            len_hint: None,
        }
    }

    /// The next chunk when it is a static one (see [`from_static`](Self::from_static)):
    /// the handler writes it without the copy [`Iterator::next`] makes.
    pub(crate) fn next_static(&mut self) -> Option<&'static [u8]> {
        match &mut self.kind {
            BodyKind::Static(chunk) => chunk.take(),
            _ => None,
        }
    }

    /// A list of chunks (Python: `[b"...", b"..."]`): its length is known, so a one-chunk
    /// body gets a `Content-Length`.
    pub fn chunks(chunks: Vec<Vec<u8>>) -> Self {
        let len = chunks.len();
        Body {
            kind: BodyKind::Chunks {
                iter: chunks.into_iter(),
                len,
            },
            on_close: Vec::new(),
            len_hint: None,
        }
    }

    /// A lazy iterator of fallible chunks (Python: a generator). Its length is unknown.
    pub fn iter<I, T, E>(iter: I) -> Self
    where
        I: IntoIterator<Item = std::result::Result<T, E>>,
        I::IntoIter: Send + 'static,
        T: Into<Vec<u8>>,
        E: Into<Error>,
    {
        Body {
            kind: BodyKind::Iter(Box::new(
                iter.into_iter()
                    .map(|r| r.map(Into::into).map_err(Into::into)),
            )),
            on_close: Vec::new(),
            len_hint: None,
        }
    }

    /// A [`FileWrapper`] (Python: `environ['wsgi.file_wrapper'](filelike, blksize)`).
    pub fn file(wrapper: FileWrapper) -> Self {
        Body {
            kind: BodyKind::File(wrapper),
            on_close: Vec::new(),
            len_hint: None,
        }
    }

    /// Adds a hook run once when the body is closed (Python: the iterable's `close()`).
    #[must_use]
    pub fn on_close(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_close.push(Box::new(hook));
        self
    }

    /// The number of chunks when known (Python: `len(result)`).
    pub fn len(&self) -> Option<usize> {
        match &self.kind {
            BodyKind::Chunks { len, .. } => Some(*len),
            BodyKind::One(_) | BodyKind::Static(_) => Some(1),
            _ => self.len_hint,
        }
    }

    /// Reports `len` as the number of chunks of a lazy body: a middleware wrapping a list,
    /// or a Python iterable with a `len()` (what [`len`](Self::len) then returns, and
    /// `set_content_length` reads).
    ///
    /// Python: `len(result)` of a response iterable that is not a list.
    #[must_use]
    pub fn with_len(mut self, len: Option<usize>) -> Self {
        self.len_hint = len;
        self
    }

    /// True when the body is known to hold no chunk at all.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// True when the body is a [`FileWrapper`] (Python: `BaseHandler.result_is_file`).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, BodyKind::File(_))
    }

    /// The wrapper, when the body is a [`FileWrapper`].
    pub fn file_wrapper_mut(&mut self) -> Option<&mut FileWrapper> {
        match &mut self.kind {
            BodyKind::File(fw) => Some(fw),
            _ => None,
        }
    }

    /// True once [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, BodyKind::Closed)
    }

    /// Python: `result.close()`.
    ///
    /// Closes the body: runs the close hooks (once) and drops the chunks or the file.
    pub fn close(&mut self) {
        if let BodyKind::File(fw) = &mut self.kind {
            fw.close();
        }
        self.kind = BodyKind::Closed;
        for hook in self.on_close.drain(..) {
            hook();
        }
    }
}

impl Iterator for Body {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.kind {
            BodyKind::One(chunk) => chunk.take().map(Ok),
            BodyKind::Static(chunk) => chunk.take().map(|c| Ok(c.to_vec())),
            BodyKind::Chunks { iter, .. } => iter.next().map(Ok),
            BodyKind::Iter(it) => it.next(),
            BodyKind::File(fw) => fw.next().map(|r| r.map_err(Error::from)),
            BodyKind::Closed => None,
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if !self.on_close.is_empty() || !self.is_closed() {
            self.close();
        }
    }
}

impl From<Vec<Vec<u8>>> for Body {
    fn from(chunks: Vec<Vec<u8>>) -> Self {
        Body::chunks(chunks)
    }
}

impl From<Vec<u8>> for Body {
    /// One chunk.
    fn from(chunk: Vec<u8>) -> Self {
        Body::one(chunk)
    }
}

impl From<&[u8]> for Body {
    /// One chunk (copied; [`Body::from_static`] takes a `'static` one as it is).
    fn from(chunk: &[u8]) -> Self {
        Body::one(chunk.to_vec())
    }
}

impl From<&str> for Body {
    /// One chunk, UTF-8 encoded.
    fn from(chunk: &str) -> Self {
        Body::one(chunk.as_bytes().to_vec())
    }
}

impl From<String> for Body {
    /// One chunk, UTF-8 encoded.
    fn from(chunk: String) -> Self {
        Body::one(chunk.into_bytes())
    }
}

impl From<FileWrapper> for Body {
    fn from(wrapper: FileWrapper) -> Self {
        Body::file(wrapper)
    }
}

#[cfg(test)]
mod tests;
