"""pyserve: Python WSGI applications served by a Rust core.

- ``pyserve.simple_server``: a drop-in for ``wsgiref.simple_server`` (the faithful face).
- ``pyserve.serve(app, host="127.0.0.1", port=8000, **options)``: the production server
  (HTTP/1.1 keep-alive, limits, timeouts, graceful shutdown), blocking until SIGINT,
  SIGTERM or ``shutdown()`` from another thread.
- ``pyserve MODULE:APP`` (or ``python -m pyserve``): the same from the command line.
"""

import signal
import threading

from . import _core
from ._core import FileWrapper, Server, __version__

__all__ = ["serve", "Server", "FileWrapper", "install_log", "__version__"]


def install_log(access_log="python", logfile=None, logformat=None):
    """Chooses the access log format (python, common, combined, json), or a gunicorn-style
    ``logformat``, and a ``logfile`` the lines are buffered into (``"-"``: stderr; flushed
    at least every second and when a server stops; ``_core.reopen_logs()`` reopens it),
    before the first server starts; the first choice in a process wins."""
    return _core.install_log(access_log, logfile=logfile, logformat=logformat)


def serve(app, host="127.0.0.1", port=8000, *, access_log=None, ready=None, **options):
    """Serve ``app`` on the production face until SIGINT, SIGTERM or
    ``server.shutdown()``.

    ``options`` are the keyword arguments of ``pyserve.Server``: ``unix``, ``threads``,
    ``max_blocking``, ``max_connections``, ``max_body``, ``max_line``, ``max_headers``,
    ``request_timeout``, ``idle_timeout``, ``shutdown_timeout``, ``trusted_proxy``,
    ``proxy_hops``, ``multiprocess``, ``bind`` (a list of addresses: ``HOST:PORT``,
    ``unix:PATH``, ``fd://N``), ``backlog``, ``unix_mode``, ``pid``, ``metrics_bind``
    (Prometheus metrics at ``http://ADDR/metrics``), ``tls_cert``, ``tls_key`` and
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

        def stop(signum, frame):
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
