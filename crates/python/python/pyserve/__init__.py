"""pyserve: Python WSGI applications served by a Rust core.

- ``pyserve.simple_server``: a drop-in for ``wsgiref.simple_server`` (the faithful face).
- ``pyserve.serve(app, host="127.0.0.1", port=8000, **options)``: the production server
  (HTTP/1.1 keep-alive, limits, timeouts, graceful shutdown), blocking until SIGINT,
  SIGTERM or ``shutdown()`` from another thread.
- ``pyserve MODULE:APP`` (or ``python -m pyserve``): the same from the command line.
"""

import atexit
import os
import signal
import sys
import threading
import time

from . import _core
from ._core import FileWrapper, Server, __version__

__all__ = ["serve", "Server", "FileWrapper", "install_log", "__version__"]


def install_log(access_log="python", logfile=None, logformat=None):
    """Chooses the access log format (python, common, combined, json, or off: no access
    lines), or a gunicorn-style ``logformat``, and a ``logfile`` the lines are buffered
    into (``"-"``: stderr; flushed at least every second and when a server stops;
    ``_core.reopen_logs()`` reopens it), before the first server starts; the first choice
    in a process wins."""
    return _core.install_log(access_log, logfile=logfile, logformat=logformat)


def serve(app, host="127.0.0.1", port=8000, *, access_log=None, ready=None, **options):
    """Serve ``app`` on the production face until SIGINT, SIGTERM or
    ``server.shutdown()``.

    ``options`` are the keyword arguments of ``pyserve.Server``: ``unix``, ``threads``,
    ``max_blocking``, ``max_connections``, ``max_body``, ``max_line``, ``max_headers``,
    ``request_timeout``, ``idle_timeout``, ``shutdown_timeout``, ``trusted_proxy``,
    ``proxy_hops``, ``multiprocess``, ``bind`` (a list of addresses: ``HOST:PORT``,
    ``unix:PATH``, ``fd://N``), ``backlog``, ``unix_mode``, ``reuse_port`` (let other
    processes bind the port too; without it a port in use raises ``OSError``), ``pid``,
    ``metrics_bind`` (Prometheus metrics at ``http://ADDR/metrics``), ``tls_cert``, ``tls_key`` and
    ``tls_password_file`` (HTTPS: PEM files, as ``--tls-cert``, ``--tls-key``,
    ``--tls-password-file``), ``proxy_protocol`` (a PROXY protocol header opens every
    connection) and ``static_dirs`` (``{"/static": "./static"}``: files served from Rust
    under a URL prefix, as ``--static``). ``ready``, when given, is called with the bound
    server before it serves (to print a banner, or to keep it and call ``shutdown()`` from
    another thread).
    """
    if access_log is not None:
        install_log(access_log)
    if isinstance(options.get("static_dirs"), dict):
        options["static_dirs"] = list(options["static_dirs"].items())
    server = Server(app, host, port, **options)
    if ready is not None:
        ready(server)
    restore = {}
    if threading.current_thread() is threading.main_thread():
        # A supervised worker stops when its supervisor says (a terminal's Ctrl-C reaches
        # it too, besides the supervisor's SIGTERM): only the first signal counts.
        escalate = not _core.is_worker()
        signals = []

        def stop(signum, frame):
            signals.append(signum)
            if len(signals) > 1 and escalate:
                # A second SIGINT/SIGTERM during the grace period: close everything now.
                _core.log_message("warning", f"signal {signum} again: stopping now")
                server.shutdown(0)
            else:
                server.shutdown()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                restore[sig] = signal.signal(sig, stop)
            except (ValueError, OSError):
                pass
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in restore.items():
            signal.signal(sig, handler)
    return None


#: How long the interpreter's exit waits for requests a shutdown abandoned to leave Python
#: once ``SystemExit`` was raised in them.
EXIT_WAIT = 2.0


def _stop_requests_at_exit():
    """At interpreter exit: requests a shutdown's grace period abandoned may still run
    Python on server threads, and CPython (3.11 to 3.13) cannot finalize under them (such a
    thread is ended where it waits for the GIL, across the Rust frames below it: the
    process aborts). ``SystemExit`` is raised in them; the exit waits up to
    ``EXIT_WAIT`` seconds for them to leave Python, and if one is stuck in C code, the
    process exits at once without finalizing (logs and ``sys.stdout``/``sys.stderr``
    flushed; status 1 after an uncaught exception, else 0)."""
    if not _core.begin_exit():
        return
    import ctypes

    running = sys._current_frames()
    stuck = [t for t in _core.server_threads() if t in running]
    _core.log_message("warning", f"exiting with {_core.requests_in_python()} request(s) still "
                                 f"running Python: raising SystemExit in them")
    for ident in stuck:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                   ctypes.py_object(SystemExit))
    deadline = time.monotonic() + EXIT_WAIT
    while _core.requests_in_python() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not _core.requests_in_python():
        return
    _core.log_message("error", f"{_core.requests_in_python()} request(s) did not stop (in C "
                               f"code, or catching SystemExit): exiting without finalizing "
                               f"the interpreter")
    _core.flush_logs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(1 if hasattr(sys, "last_value") else 0)


atexit.register(_stop_requests_at_exit)
