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
        self._core = _core.FaithfulServer(host, port, self.application)
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
