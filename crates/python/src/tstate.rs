//! One Python thread state per server thread, kept for the thread's life.
//!
//! `Python::attach` on a thread that has no Python thread state creates one
//! (`PyGILState_Ensure`) and deletes it again when it lets the GIL go: per request, that
//! is an allocation, a fresh frame stack (an `mmap`) and its release, a third of the time
//! of a hello-world request on this machine. A server thread (an event loop, a standby
//! thread) instead makes its thread state once, the first time it runs Python, and keeps
//! it, without the GIL, until it exits; later `attach` calls only take the GIL.
//!
//! The Python thread ids of these threads are kept ([`server_threads`]): at exit, a request
//! abandoned by a shutdown's grace period may still run Python on one of them, and the
//! interpreter must not finalize under it (`pyserve/__init__.py`, `_stop_requests_at_exit`).
//!
//! The state of a thread that exits is not deleted (doing so needs the GIL, which a thread
//! exiting during interpreter shutdown must not wait for): a few kilobytes per server
//! thread that ever ran Python.

// The only unsafe code of the crate: three calls of CPython's C API, argued below.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::{Mutex, PoisonError};

use pyo3::ffi;

thread_local! {
    static KEPT: Cell<bool> = const { Cell::new(false) };
}

/// The Python thread ids (`threading.get_ident()`) of the server threads given a state.
static SERVER_THREADS: Mutex<Vec<std::ffi::c_ulong>> = Mutex::new(Vec::new());

/// The Python thread ids of the server threads that ever ran Python (some may have exited
/// since), for `PyThreadState_SetAsyncExc`.
pub(crate) fn server_threads() -> Vec<std::ffi::c_ulong> {
    SERVER_THREADS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Makes sure this thread has a Python thread state that outlives the next GIL release.
/// Must be called without the GIL (it is a no-op on threads Python already knows).
pub(crate) fn keep() {
    if KEPT.with(Cell::get) {
        return;
    }
    KEPT.with(|k| k.set(true));
    // SAFETY: the interpreter is initialized (this code runs inside the extension module,
    // which Python imported). `PyGILState_GetThisThreadState` only reads this thread's
    // thread-specific slot. When it is NULL the thread has no thread state, so it cannot
    // hold the GIL: `PyGILState_Ensure` creates a state and takes the GIL, and
    // `PyEval_SaveThread` releases the GIL this very call took, leaving the state in
    // place with its `PyGILState` counter at 1, so that later `Ensure`/`Release` pairs
    // (PyO3's `attach`) reuse it instead of creating and deleting one. A thread Python
    // already knows (non-NULL) is left alone.
    // `PyThread_get_thread_ident` has no precondition: it returns this thread's id.
    let ident = unsafe {
        if !ffi::PyGILState_GetThisThreadState().is_null() {
            return;
        }
        let _state = ffi::PyGILState_Ensure();
        let _saved = ffi::PyEval_SaveThread();
        ffi::PyThread_get_thread_ident()
    };
    let mut known = SERVER_THREADS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // A new thread may get the id of one that exited.
    if !known.contains(&ident) {
        known.push(ident);
    }
}
