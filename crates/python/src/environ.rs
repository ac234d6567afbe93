//! The environ as a Python dict, and the objects in it: `wsgi.input`, `wsgi.errors`,
//! `wsgi.file_wrapper`.
//!
//! Python: `wsgiref.handlers.BaseHandler.setup_environ` and `wsgiref.util.FileWrapper`.
//! The dict is a copy of a prepared one holding the entries that never change (`wsgi.version`,
//! `wsgi.errors`, `wsgi.file_wrapper`, `wsgi.input_terminated`...), with the request's
//! variables set under interned key strings.

use std::io::{Read, Seek};

use gateway::{Environ, ErrorStream, InputStream};
use pyo3::prelude::*;
use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString, PyTuple};

/// The environ keys that get an interned Python string, made once per process.
const KNOWN: &[&str] = &[
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "HTTPS",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_REFERER",
    "HTTP_CACHE_CONTROL",
    "HTTP_AUTHORIZATION",
    "HTTP_ORIGIN",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUEST_ID",
    "HTTP_UPGRADE_INSECURE_REQUESTS",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_EXPECT",
    "wsgi.input",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
];

/// The index of `key` in [`KNOWN`] (a `match`: the compiler dispatches on the length first).
fn known_index(key: &str) -> Option<usize> {
    match key {
        "REQUEST_METHOD" => Some(0),
        "SCRIPT_NAME" => Some(1),
        "PATH_INFO" => Some(2),
        "QUERY_STRING" => Some(3),
        "CONTENT_TYPE" => Some(4),
        "CONTENT_LENGTH" => Some(5),
        "SERVER_NAME" => Some(6),
        "SERVER_PORT" => Some(7),
        "SERVER_PROTOCOL" => Some(8),
        "SERVER_SOFTWARE" => Some(9),
        "GATEWAY_INTERFACE" => Some(10),
        "REMOTE_ADDR" => Some(11),
        "REMOTE_HOST" => Some(12),
        "HTTPS" => Some(13),
        "HTTP_HOST" => Some(14),
        "HTTP_USER_AGENT" => Some(15),
        "HTTP_ACCEPT" => Some(16),
        "HTTP_ACCEPT_ENCODING" => Some(17),
        "HTTP_ACCEPT_LANGUAGE" => Some(18),
        "HTTP_CONNECTION" => Some(19),
        "HTTP_COOKIE" => Some(20),
        "HTTP_REFERER" => Some(21),
        "HTTP_CACHE_CONTROL" => Some(22),
        "HTTP_AUTHORIZATION" => Some(23),
        "HTTP_ORIGIN" => Some(24),
        "HTTP_X_FORWARDED_FOR" => Some(25),
        "HTTP_X_FORWARDED_PROTO" => Some(26),
        "HTTP_X_REQUEST_ID" => Some(27),
        "HTTP_UPGRADE_INSECURE_REQUESTS" => Some(28),
        "HTTP_IF_NONE_MATCH" => Some(29),
        "HTTP_IF_MODIFIED_SINCE" => Some(30),
        "HTTP_TRANSFER_ENCODING" => Some(31),
        "HTTP_EXPECT" => Some(32),
        "wsgi.input" => Some(33),
        "wsgi.url_scheme" => Some(34),
        "wsgi.multithread" => Some(35),
        "wsgi.multiprocess" => Some(36),
        "wsgi.run_once" => Some(37),
        _ => None,
    }
}

/// The interned key strings of [`KNOWN`].
fn interned(py: Python<'_>) -> &Vec<Py<PyString>> {
    static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        debug_assert!(
            KNOWN
                .iter()
                .enumerate()
                .all(|(i, k)| known_index(k) == Some(i))
        );
        KNOWN
            .iter()
            .map(|k| PyString::intern(py, k).unbind())
            .collect()
    })
}

/// Where `wsgi.errors` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorsTo {
    /// Python's `sys.stderr`, looked up per request (wsgiref's `get_stderr`).
    SysStderr,
    /// The server's log ([`crate::log::errors_stream`]): the process's standard error (log
    /// events with the `json` format), written without the GIL.
    ServerLog,
}

/// The value the prepared dict holds for a known key: the last one a request had, with its
/// text when it is a string.
#[derive(Debug)]
struct Slot {
    text: Option<Box<str>>,
    obj: Py<PyAny>,
}

/// The prepared dict each request's environ is copied from, and what it holds.
///
/// Besides the entries that never change, it keeps, under each known key, the value the
/// last request that had that key gave it. A request's copy then has its final size at
/// once (a dict grown from five entries to two dozen is rebuilt three times), and only the
/// values that differ from the last request's are set: the method, the protocol, the
/// server's own variables and a client's usual headers are neither decoded nor stored
/// again. Keys the request lacks are deleted from its copy. Strings and booleans are
/// immutable, so sharing them between requests is safe; the server owns them.
#[derive(Debug)]
struct Prepared {
    base: Py<PyDict>,
    slots: Vec<Option<Slot>>,
    /// The known keys `base` holds (bit `i`: [`KNOWN`]`[i]`).
    held: u64,
}

const _: () = assert!(KNOWN.len() <= 64);

/// Whether two byte strings are equal, without libc's `memcmp`: every byte is compared,
/// with no early exit, so the compiler emits plain (vectorised) loads instead of a call.
///
/// `==` calls `memcmp`, and for the few dozen bytes of an environ value glibc's AVX-512
/// version (`__memcmp_evex_movbe`) stalls on its masked load on this machine: 7% of the
/// Python hello's CPU was that stall under [`Prepared::put_str`] (`perf record`,
/// `perf annotate`). With this loop the hello went from 177-182k to 190-192k requests/s
/// and from 5.4-5.6 to 5.3 µs of CPU per request (server pinned to one core,
/// `wrk -t1 -c50 -d5s`, three alternated rounds).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

impl Prepared {
    /// Gives known key `i` of `d` (a copy of `base`) the string `v`.
    fn put_str(
        &mut self,
        py: Python<'_>,
        d: &Bound<'_, PyDict>,
        i: usize,
        v: &str,
    ) -> PyResult<()> {
        if let Some(s) = &self.slots[i]
            && s.text
                .as_deref()
                .is_some_and(|t| same_bytes(t.as_bytes(), v.as_bytes()))
        {
            return Ok(());
        }
        let obj = PyString::new(py, v).into_any();
        self.remember(py, d, i, Some(v.into()), obj)
    }

    /// Gives known key `i` of `d` (a copy of `base`) the immutable object `obj`.
    fn put_obj(
        &mut self,
        py: Python<'_>,
        d: &Bound<'_, PyDict>,
        i: usize,
        obj: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if let Some(s) = &self.slots[i]
            && s.text.is_none()
            && s.obj.is(&obj)
        {
            return Ok(());
        }
        self.remember(py, d, i, None, obj)
    }

    fn remember(
        &mut self,
        py: Python<'_>,
        d: &Bound<'_, PyDict>,
        i: usize,
        text: Option<Box<str>>,
        obj: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let k = interned(py)[i].bind(py);
        d.set_item(k, &obj)?;
        self.base.bind(py).set_item(k, &obj)?;
        self.slots[i] = Some(Slot {
            text,
            obj: obj.unbind(),
        });
        self.held |= 1 << i;
        Ok(())
    }
}

/// The entries of the environ that do not change between requests, and how to add the
/// request's own.
///
/// Python: `wsgiref.handlers.BaseHandler.setup_environ` (`os_environ` copied, then the
/// `wsgi.*` entries).
#[derive(Debug)]
#[doc(alias = "wsgiref.handlers.BaseHandler.setup_environ")]
pub(crate) struct EnvTemplate {
    prepared: std::sync::Mutex<Prepared>,
    errors: ErrorsTo,
    /// `wsgi.input` for a request without a body: reading an empty stream changes nothing,
    /// so one object serves every such request.
    empty_input: Py<Input>,
}

impl EnvTemplate {
    /// A template whose `wsgi.multithread`/`wsgi.multiprocess` are as given (the request's
    /// environ may still change them).
    pub(crate) fn new(py: Python<'_>, errors: ErrorsTo) -> PyResult<Self> {
        let base = PyDict::new(py);
        base.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        if errors == ErrorsTo::ServerLog {
            base.set_item(
                "wsgi.errors",
                Bound::new(
                    py,
                    Errors {
                        stream: crate::log::errors_stream(),
                    },
                )?,
            )?;
        }
        Ok(EnvTemplate {
            prepared: std::sync::Mutex::new(Prepared {
                base: base.unbind(),
                slots: KNOWN.iter().map(|_| None).collect(),
                held: 0,
            }),
            errors,
            empty_input: Py::new(py, Input::new(InputStream::empty()))?,
        })
    }

    /// The environ dict for one request.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        environ: &Environ,
    ) -> PyResult<Bound<'py, PyDict>> {
        // Another thread may hold the lock while it runs Python code that let the GIL go (a
        // collection started by an allocation here can run any `__del__`): the wait for
        // the lock is made without the GIL, or both threads would wait for ever.
        let mut p = self
            .prepared
            .lock_py_attached(py)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let d = p.base.bind(py).copy()?;
        // The known keys this request has.
        let mut set: u64 = 0;
        for (k, v) in environ.vars_in_order() {
            match known_index(k) {
                Some(i) => {
                    set |= 1 << i;
                    p.put_str(py, &d, i, v)?;
                }
                None => d.set_item(PyString::new(py, k), PyString::new(py, v))?,
            }
        }
        // The `wsgi.*` keys every request has: the last five of `KNOWN`.
        let wsgi = KNOWN.len() - 5;
        debug_assert_eq!(KNOWN[wsgi..][..2], ["wsgi.input", "wsgi.url_scheme"]);
        set |= 0b11111 << wsgi;
        let (input, scheme, multithread, multiprocess, run_once) =
            (wsgi, wsgi + 1, wsgi + 2, wsgi + 3, wsgi + 4);
        let url_scheme = environ.url_scheme();
        if url_scheme == "http" {
            let http = pyo3::intern!(py, "http").clone().into_any();
            p.put_obj(py, &d, scheme, http)?;
        } else {
            d.set_item(interned(py)[scheme].bind(py), url_scheme)?;
        }
        let flag = |b: bool| PyBool::new(py, b).to_owned().into_any();
        p.put_obj(py, &d, multithread, flag(environ.multithread()))?;
        p.put_obj(py, &d, multiprocess, flag(environ.multiprocess()))?;
        p.put_obj(py, &d, run_once, flag(environ.run_once()))?;
        if environ.input_is_empty() {
            p.put_obj(py, &d, input, self.empty_input.bind(py).clone().into_any())?;
        } else {
            // A new object per request: the request's only, never kept in the prepared dict.
            d.set_item(
                interned(py)[input].bind(py),
                Bound::new(py, Input::new(environ.input()))?,
            )?;
        }
        let mut absent = p.held & !set;
        while absent != 0 {
            let i = absent.trailing_zeros() as usize;
            absent &= absent - 1;
            d.del_item(interned(py)[i].bind(py))?;
        }
        drop(p);
        if self.errors == ErrorsTo::SysStderr {
            let stderr = py.import("sys")?.getattr("stderr")?;
            d.set_item("wsgi.errors", stderr)?;
        }
        Ok(d)
    }
}

/// Python: `wsgiref.types.InputStream` (`read`, `readline`, `readlines`, `__iter__`), the
/// request body as `wsgi.input`. It ends where the body ends (`wsgi.input_terminated`).
#[doc(alias = "wsgiref.types.InputStream")]
#[pyclass(module = "pyserve._core", name = "InputStream")]
pub(crate) struct Input {
    src: InputStream,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl Input {
    fn new(src: InputStream) -> Self {
        Input {
            src,
            buf: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    /// Reads more into the buffer; false at the end of the body.
    fn fill(&mut self, py: Python<'_>) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let src = &mut self.src;
        let n = py.detach(|| src.read(&mut chunk))?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let end = self.pos.saturating_add(n).min(self.buf.len());
        let out = self.buf[self.pos..end].to_vec();
        self.pos = end;
        out
    }

    fn readline_bytes(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<u8>> {
        let mut scanned = 0;
        loop {
            let avail = &self.buf[self.pos..];
            let window = match limit {
                Some(l) => &avail[..avail.len().min(l)],
                None => avail,
            };
            if let Some(i) = window[scanned.min(window.len())..]
                .iter()
                .position(|&b| b == b'\n')
            {
                return Ok(self.take(scanned + i + 1));
            }
            if limit.is_some_and(|l| avail.len() >= l) {
                return Ok(self.take(limit.unwrap_or(0)));
            }
            scanned = avail.len();
            if !self.fill(py)? {
                let rest = self.buf.len() - self.pos;
                return Ok(self.take(rest));
            }
        }
    }
}

/// A Python size argument: `None` or negative means "all".
fn size_arg(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    /// `read(size=-1)`: at most `size` bytes, everything left when `size` is negative.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let want = size_arg(size);
        loop {
            let avail = self.buf.len() - self.pos;
            if want.is_some_and(|w| avail >= w) || !self.fill(py)? {
                break;
            }
        }
        let n = want.unwrap_or(usize::MAX);
        Ok(PyBytes::new(py, &self.take(n)))
    }

    /// `readline(size=-1)`: one line, newline included, of at most `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.readline_bytes(py, size_arg(size))?;
        Ok(PyBytes::new(py, &line))
    }

    /// `readlines(hint=-1)`: the remaining lines (stopping once `hint` bytes were read).
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = size_arg(hint).filter(|h| *h > 0);
        let out = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.readline_bytes(py, None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            out.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(out)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.readline_bytes(py, None)?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}

/// Python: `wsgiref.types.ErrorStream` (`write`, `writelines`, `flush`), `wsgi.errors`
/// on the production face: the server's log (standard error).
#[doc(alias = "wsgiref.types.ErrorStream")]
#[pyclass(module = "pyserve._core", name = "ErrorStream")]
pub(crate) struct Errors {
    stream: ErrorStream,
}

#[pymethods]
impl Errors {
    /// `write(s)`.
    fn write(&self, py: Python<'_>, s: &str) -> PyResult<()> {
        let stream = &self.stream;
        py.detach(|| stream.write_str(s))?;
        Ok(())
    }

    /// `writelines(seq)`.
    fn writelines(&self, py: Python<'_>, seq: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in seq.try_iter()? {
            let line: String = line?.extract()?;
            self.write(py, &line)?;
        }
        Ok(())
    }

    /// `flush()`.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let mut stream = self.stream.clone();
        py.detach(|| std::io::Write::flush(&mut stream))?;
        Ok(())
    }
}

/// Python: `wsgiref.util.FileWrapper(filelike, blksize=8192)`, offered as
/// `wsgi.file_wrapper`. Returned as the response, a wrapper over a real file is sent from
/// the file by the handler's `sendfile` path; otherwise it is iterated in blocks.
#[doc(alias = "wsgiref.util.FileWrapper")]
#[pyclass(module = "pyserve._core", name = "FileWrapper")]
pub(crate) struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn py_new(filelike: Py<PyAny>, blksize: usize) -> Self {
        FileWrapper {
            filelike,
            blksize: blksize.max(1),
        }
    }

    /// The wrapped object (wsgiref's `filelike` attribute).
    #[getter]
    fn filelike(&self, py: Python<'_>) -> Py<PyAny> {
        self.filelike.clone_ref(py)
    }

    /// The block size.
    #[getter]
    fn blksize(&self) -> usize {
        self.blksize
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1("read", (self.blksize,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    /// Closes the wrapped object when it has a `close()`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let f = self.filelike.bind(py);
        if f.hasattr("close")? {
            f.call_method0("close")?;
        }
        Ok(())
    }
}

impl FileWrapper {
    /// The body for the handler's `sendfile` path when the wrapped object is a regular
    /// file with a `fileno()` (opened again through `/proc/self/fd`, at the object's
    /// current position, so no file descriptor is shared); `None` otherwise.
    pub(crate) fn file_body(&self, py: Python<'_>) -> Option<gateway::Body> {
        let f = self.filelike.bind(py);
        let fd: i32 = f.call_method0("fileno").ok()?.extract().ok()?;
        let pos: u64 = f
            .call_method0("tell")
            .ok()
            .and_then(|p| p.extract().ok())
            .unwrap_or(0);
        let mut file = std::fs::File::open(format!("/proc/self/fd/{fd}")).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        file.seek(std::io::SeekFrom::Start(pos)).ok()?;
        let wrapper = gateway::util::FileWrapper::from_file(file, self.blksize);
        let filelike = self.filelike.clone_ref(py);
        Some(gateway::Body::file(wrapper).on_close(move || {
            crate::gil::with_gil(|py| {
                let f = filelike.bind(py);
                if f.hasattr("close").unwrap_or(false)
                    && let Err(e) = f.call_method0("close")
                {
                    let text = crate::errors::PythonError::new(py, &e);
                    tracing::error!(target: "pyserve", "the file's close() raised:\n{text}");
                }
                drop(filelike);
            });
        }))
    }
}
