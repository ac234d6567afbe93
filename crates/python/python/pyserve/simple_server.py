"""A drop-in for ``wsgiref.simple_server`` whose server is the Rust core.

Replace ``from wsgiref.simple_server import make_server, demo_app`` with
``from pyserve.simple_server import make_server, demo_app`` and the program runs as
before: one thread, ``handle_request()``/``serve_forever()``, HTTP/1.0, one request per
connection, the same environ, the same ``start_response`` checks and log lines. The
socket, the HTTP parsing and the WSGI handler state machine run in Rust
(``gateway::simple_server`` of this project); only the application runs in Python.

The classes are the ones of CPython's module (``WSGIServer`` is an
``http.server.HTTPServer``, ``WSGIRequestHandler`` a ``BaseHTTPRequestHandler``), so
code that subclasses them, or drives a handler over in-memory files as CPython's tests
do, keeps working. See docs/python.md for the differences.
"""

import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from platform import python_implementation
from wsgiref.handlers import SimpleHandler
from wsgiref import simple_server as _stdlib
from wsgiref.simple_server import demo_app

from . import _core

__all__ = ["WSGIServer", "WSGIRequestHandler", "demo_app", "make_server"]

# This interpreter's values: "WSGIServer/0.2" up to 3.14, "WSGIServer" from 3.15.
server_version = _stdlib.server_version
sys_version = python_implementation() + "/" + sys.version.split()[0]
software_version = server_version + " " + sys_version


def __getattr__(name):
    # ``__version__`` as this interpreter's module has it (deprecated, with a warning,
    # from 3.15).
    if name == "__version__":
        return getattr(_stdlib, "__version__")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ServerHandler(SimpleHandler):
    """CPython's ``ServerHandler`` (kept for code that imports it; the server itself runs
    the Rust handler)."""

    server_software = software_version

    def close(self):
        try:
            self.request_handler.log_request(
                self.status.split(" ", 1)[0], self.bytes_sent
            )
        finally:
            SimpleHandler.close(self)


class WSGIServer(HTTPServer):
    """BaseHTTPServer that implements the Python WSGI protocol, on the Rust core."""

    application = None
    _core = None

    def server_bind(self):
        """Bind with the Rust server and set up the environment."""
        host, port = self.server_address[:2]
        self._core = _core.FaithfulServer(
            host, port, self.application, _log_hook(self)
        )
        self.server_address = tuple(self._core.server_address)
        # ``self.socket`` stays a socket object for code that inspects it: a duplicate
        # of the Rust listener's descriptor (the listener itself is Rust's).
        try:
            self.socket.close()
            self.socket = socket.socket(fileno=os.dup(self._core.fileno()))
        except (OSError, TypeError):
            pass
        self.server_name = socket.getfqdn(host)
        self.server_port = self.server_address[1]
        self.setup_environ()

    def server_activate(self):
        # The Rust server listens as soon as it is bound.
        pass

    def setup_environ(self):
        # Set up base environment
        env = self.base_environ = {}
        env["SERVER_NAME"] = self.server_name
        env["GATEWAY_INTERFACE"] = "CGI/1.1"
        env["SERVER_PORT"] = str(self.server_port)
        env["REMOTE_HOST"] = ""
        env["CONTENT_LENGTH"] = ""
        env["SCRIPT_NAME"] = ""

    def get_app(self):
        return self.application

    def set_app(self, application):
        self.application = application
        if self._core is not None:
            self._core.set_app(application)

    def _sync_app(self):
        if self._core is None:
            raise OSError("the server is not bound")
        self._core.set_app(self.get_app())

    def fileno(self):
        if self._core is not None:
            return self._core.fileno()
        return super().fileno()

    def handle_request(self):
        """Handle one request, waiting at most ``self.timeout`` seconds for it."""
        self._sync_app()
        self._core.handle_request(self.timeout)

    def serve_forever(self, poll_interval=0.5):
        """Handle requests until ``shutdown()`` is called (from another thread)."""
        self._sync_app()
        self._core.serve_forever(poll_interval)

    def shutdown(self):
        """Stop ``serve_forever()`` and wait until it has stopped."""
        if self._core is not None:
            self._core.shutdown()

    def server_close(self):
        if self._core is not None:
            self._core.server_close()
        try:
            super().server_close()
        except OSError:
            pass


class WSGIRequestHandler(BaseHTTPRequestHandler):
    """The request handler: on real sockets the Rust core plays its part; over in-memory
    files (``setup()`` providing ``rfile`` and ``wfile``), ``handle()`` serves the request
    with the same Rust handler."""

    server_version = _stdlib.WSGIRequestHandler.server_version

    def get_environ(self):
        env = dict(self.server.base_environ)
        env["SERVER_PROTOCOL"] = self.request_version
        env["SERVER_SOFTWARE"] = self.server_version
        env["REQUEST_METHOD"] = self.command
        path, _, query = self.path.partition("?")
        from urllib.parse import unquote

        env["PATH_INFO"] = unquote(path, "iso-8859-1")
        env["QUERY_STRING"] = query
        return env

    def get_stderr(self):
        return sys.stderr

    def handle(self):
        """Handle a single HTTP request"""
        server = self.server
        address = self.client_address
        if isinstance(address, tuple) and len(address) >= 2:
            client = (str(address[0]), int(address[1]))
        else:
            client = ("127.0.0.1", 0)
        _core.handle_streams(
            server.get_app(),
            self.rfile,
            self.wfile,
            client,
            str(getattr(server, "server_name", "localhost")),
            int(getattr(server, "server_port", 80) or 80),
        )


#: The methods a request handler class logs with: when its class overrides one, the
#: server's log lines go through them, as under CPython's wsgiref.
_LOG_METHODS = (
    "log_request",
    "log_error",
    "log_message",
    "address_string",
    "log_date_time_string",
)


def _log_hook(server):
    """For a request handler class that overrides a log method (a ``log_message`` that
    silences the server, a ``log_request`` that skips health checks), a callable the Rust
    server calls with each log event's fields instead of writing the line: it calls the
    class's own ``log_request(code, size)`` or ``log_error("%s", message)`` on a handler
    carrying the request's ``client_address``, ``server``, ``requestline``, ``command``,
    ``path`` and ``request_version``. None for a class that logs as CPython's does (the
    Rust server writes the same lines itself)."""
    cls = server.RequestHandlerClass
    if all(
        getattr(cls, name, None) is getattr(BaseHTTPRequestHandler, name)
        for name in _LOG_METHODS
    ):
        return None

    def log(fields):
        handler = cls.__new__(cls)
        host, _, port = fields.get("client", "").rpartition(":")
        handler.client_address = (host.strip("[]"), int(port) if port.isdigit() else 0)
        handler.server = server
        handler.request = None
        handler.requestline = fields.get("request", "")
        # None before the request line was parsed, as in CPython.
        handler.command = fields.get("method") or None
        handler.path = fields.get("path") or None
        handler.request_version = fields.get("protocol")
        if "request" in fields:
            # ``ServerHandler.close``'s ``log_request(status code, bytes sent)``, or an
            # error reply's ``log_request(code)``.
            code = fields.get("status", "-")
            handler.log_request(str(code), fields.get("bytes_sent", "-"))
        else:
            # ``log_error``'s line: the message after ``host - - [date] ``.
            message = fields.get("message", "")
            _, sep, rest = message.partition("] ")
            handler.log_error("%s", rest if sep else message)

    return log


def make_server(
    host, port, app, server_class=WSGIServer, handler_class=WSGIRequestHandler
):
    """Create a new WSGI server listening on `host` and `port` for `app`"""
    server = server_class((host, port), handler_class)
    server.set_app(app)
    return server


if __name__ == "__main__":
    with make_server("", 8000, demo_app) as httpd:
        sa = httpd.socket.getsockname()
        print("Serving HTTP on", sa[0], "port", sa[1], "...")
        import webbrowser

        webbrowser.open("http://localhost:8000/xyz?abc")
        httpd.handle_request()  # serve one request, then exit
