//! `wsgiref.util.FileWrapper`: a file-like object served block by block, or through
//! `sendfile` when it wraps a real file. Re-exported as [`crate::util::FileWrapper`]; its own
//! module so that `types` (whose `Body` carries one) and `util` (whose functions read an
//! `Environ`) need not import each other.

use std::fs::File;
use std::io::{self, Read};

/// Python: `wsgiref.util.FileWrapper`. Return it from an application as
/// [`Body::file`](crate::Body::file); when it wraps a real [`File`] the handler takes the
/// `sendfile` path (`BaseHandler.result_is_file` / `BaseHandler.sendfile`).
///
/// Wraps a readable stream as an iterable of blocks of at most `blksize` bytes.
///
/// ```
/// use gateway::util::FileWrapper;
/// let mut fw = FileWrapper::new(std::io::Cursor::new(b"xyzxyz".to_vec()), 4);
/// let blocks: Vec<Vec<u8>> = fw.by_ref().map(|b| b.unwrap()).collect();
/// assert_eq!(blocks, vec![b"xyzx".to_vec(), b"yz".to_vec()]);
/// ```
#[doc(alias = "wsgiref.util.FileWrapper")]
pub struct FileWrapper {
    inner: Option<Filelike>,
    blksize: usize,
}

enum Filelike {
    File(File),
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for FileWrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.inner {
            None => "closed",
            Some(Filelike::File(_)) => "file",
            Some(Filelike::Reader(_)) => "reader",
        };
        f.debug_struct("FileWrapper")
            .field("filelike", &kind)
            .field("blksize", &self.blksize)
            .finish()
    }
}

impl FileWrapper {
    /// Python: `wsgiref.util.FileWrapper.__init__(filelike, blksize=8192)`.
    #[doc(alias = "wsgiref.util.FileWrapper.__init__")]
    pub fn new(filelike: impl Read + Send + 'static, blksize: usize) -> Self {
        FileWrapper {
            inner: Some(Filelike::Reader(Box::new(filelike))),
            blksize: blksize.max(1),
        }
    }

    /// Python: `wsgiref.util.FileWrapper` over an object with a `fileno()`.
    ///
    /// Wraps a real file, so the handler can use its `sendfile` path.
    #[doc(alias = "wsgiref.util.FileWrapper")]
    pub fn from_file(file: File, blksize: usize) -> Self {
        FileWrapper {
            inner: Some(Filelike::File(file)),
            blksize: blksize.max(1),
        }
    }

    /// The block size (Python: `wsgiref.util.FileWrapper.blksize`).
    #[doc(alias = "wsgiref.util.FileWrapper.blksize")]
    pub fn blksize(&self) -> usize {
        self.blksize
    }

    /// Python: `wsgiref.util.FileWrapper.filelike` (its `fileno()` is what `sendfile` needs).
    ///
    /// The wrapped file, when this wraps a real [`File`] that is not closed yet.
    #[doc(alias = "wsgiref.util.FileWrapper.filelike")]
    pub fn file_mut(&mut self) -> Option<&mut File> {
        match &mut self.inner {
            Some(Filelike::File(f)) => Some(f),
            _ => None,
        }
    }

    /// Python: `wsgiref.util.FileWrapper.close` (= `filelike.close`).
    ///
    /// Closes the wrapped stream (drops it).
    #[doc(alias = "wsgiref.util.FileWrapper.close")]
    pub fn close(&mut self) {
        self.inner = None;
    }

    /// True once [`close`](Self::close) ran (Python: `filelike.closed`).
    pub fn is_closed(&self) -> bool {
        self.inner.is_none()
    }

    fn read_block(&mut self) -> io::Result<Vec<u8>> {
        let blksize = self.blksize;
        let reader: &mut dyn Read = match &mut self.inner {
            None => return Ok(Vec::new()),
            Some(Filelike::File(f)) => f,
            Some(Filelike::Reader(r)) => r,
        };
        let mut buf = Vec::with_capacity(blksize.min(1 << 16));
        // Python's buffered read(n) returns n bytes unless the stream ends first.
        reader.take(blksize as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

impl Iterator for FileWrapper {
    type Item = io::Result<Vec<u8>>;

    /// Python: `wsgiref.util.FileWrapper.__next__`.
    #[doc(alias = "wsgiref.util.FileWrapper.__next__")]
    fn next(&mut self) -> Option<Self::Item> {
        match self.read_block() {
            Ok(b) if b.is_empty() => None,
            Ok(b) => Some(Ok(b)),
            Err(e) => Some(Err(e)),
        }
    }
}
