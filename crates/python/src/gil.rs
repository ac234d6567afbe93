//! The GIL: which server threads are in Python, taking it for a request, and waiting
//! without it while Python's signal handlers still run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Threads of this process inside a Python call made for a request (holding the GIL or
/// waiting for it). When another one is, a new request would wait for the GIL: the
/// handler announces that as a block (see [`crate::serve`]).
pub(crate) static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// Threads taking the GIL for something other than a request (the worker's liveness
/// probe, [`can_take`]): with [`IN_PYTHON`], what the interpreter's exit waits for.
pub(crate) static PROBING: AtomicUsize = AtomicUsize::new(0);

/// Set at the interpreter's exit (`_core.begin_exit`): probes stop taking the GIL.
pub(crate) static EXITING: AtomicBool = AtomicBool::new(false);

/// Takes the GIL and lets it go: returns (true) once no thread holds it, which a C call
/// that keeps the GIL prevents for as long as it runs. A supervised worker's heartbeat
/// asks this, so that such a worker misses its beats and is replaced.
pub(crate) fn can_take() -> bool {
    PROBING.fetch_add(1, Ordering::SeqCst);
    if EXITING.load(Ordering::SeqCst) {
        // The interpreter finalizes soon: a thread waiting for the GIL then is ended
        // across Rust frames. Either this sees the flag, or the exit sees the count.
        PROBING.fetch_sub(1, Ordering::SeqCst);
        return true;
    }
    crate::tstate::keep();
    Python::attach(|_| ());
    PROBING.fetch_sub(1, Ordering::SeqCst);
    true
}

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
