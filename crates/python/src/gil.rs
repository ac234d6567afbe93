//! The GIL: which server threads are in Python, taking it for a request, and waiting
//! without it while Python's signal handlers still run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Threads of this process inside a Python call made for a request (holding the GIL or
/// waiting for it). When another one is, a new request would wait for the GIL: the
/// handler announces that as a block (see [`crate::serve`]).
pub(crate) static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with the GIL, counted in [`IN_PYTHON`].
pub(crate) fn with_gil<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    struct Count;
    impl Drop for Count {
        fn drop(&mut self) {
            IN_PYTHON.fetch_sub(1, Ordering::Relaxed);
        }
    }
    IN_PYTHON.fetch_add(1, Ordering::Relaxed);
    let _count = Count;
    crate::tstate::keep();
    Python::attach(f)
}

/// Runs `f` on a helper thread while this thread waits without the GIL, waking every
/// 100 ms to run Python's signal handlers; when one raises, `stop` is called, `f` is
/// waited for, and the exception is returned.
pub(crate) fn interruptible<R: Send>(
    py: Python<'_>,
    stop: impl Fn() + Sync,
    f: impl FnOnce() -> R + Send,
) -> PyResult<R> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("pyserve-serve".into())
            .spawn_scoped(s, move || {
                let r = f();
                let _ = tx.send(());
                r
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let mut raised = None;
        let mut rx = rx;
        loop {
            let (r, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
            rx = back;
            if !matches!(r, Err(std::sync::mpsc::RecvTimeoutError::Timeout)) {
                break;
            }
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                py.detach(&stop);
                raised = Some(e);
            }
        }
        let r = py
            .detach(|| worker.join())
            .map_err(|_| PyRuntimeError::new_err("the server thread panicked"))?;
        match raised {
            Some(e) => Err(e),
            None => Ok(r),
        }
    })
}
