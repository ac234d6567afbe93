"""``pyserve.simple_server`` as a drop-in for ``wsgiref.simple_server``."""

import errno
import socket
import sys
import threading
import time
import wsgiref.simple_server

import pytest

from conftest import TIMEOUT, request
from pyserve import simple_server
from pyserve.simple_server import WSGIRequestHandler, WSGIServer, demo_app, make_server


def test_names_and_classes():
    assert demo_app is wsgiref.simple_server.demo_app
    assert issubclass(WSGIServer, simple_server.HTTPServer)
    assert issubclass(WSGIRequestHandler, simple_server.BaseHTTPRequestHandler)
    # This interpreter's: "WSGIServer/0.2" up to 3.14, "WSGIServer" from 3.15.
    assert simple_server.server_version == wsgiref.simple_server.server_version
    assert (
        WSGIRequestHandler.server_version
        == wsgiref.simple_server.WSGIRequestHandler.server_version
    )
    if sys.version_info < (3, 15):
        assert simple_server.server_version == "WSGIServer/0.2"
        assert simple_server.__version__ == "0.2"


def test_seed_program_handle_request():
    httpd = make_server("", 0, demo_app)
    with httpd:
        port = httpd.server_address[1]
        assert httpd.base_environ["SERVER_PORT"] == str(port)
        assert httpd.get_app() is demo_app
        got = {}

        def client():
            resp, body = request(port, path="/xyz?abc")
            got["status"], got["body"] = resp.status, body

        t = threading.Thread(target=client)
        t.start()
        httpd.handle_request()
        t.join(TIMEOUT)
    assert got["status"] == 200
    assert got["body"].startswith(b"Hello world!\n\n")
    assert b"QUERY_STRING = 'abc'" in got["body"]


def test_timeout_and_set_app():
    httpd = make_server("127.0.0.1", 0, demo_app)
    with httpd:
        httpd.timeout = 0.2
        t0 = time.monotonic()
        httpd.handle_request()  # nobody comes: returns after the timeout
        assert 0.15 < time.monotonic() - t0 < 5

        def other(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"other app"]

        httpd.set_app(other)
        httpd.timeout = None
        port = httpd.server_address[1]
        got = []
        t = threading.Thread(target=lambda: got.append(request(port)[1]))
        t.start()
        httpd.handle_request()
        t.join(TIMEOUT)
        assert got == [b"other app"]


def test_serve_forever_and_shutdown(hello_app):
    httpd = make_server("127.0.0.1", 0, hello_app)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    t.start()
    try:
        port = httpd.server_address[1]
        for _ in range(3):
            resp, body = request(port)
            assert body == b"Hello world!\n"
            assert resp.getheader("Connection") == "close" or resp.will_close
    finally:
        httpd.shutdown()
        t.join(TIMEOUT)
        httpd.server_close()
    assert not t.is_alive()


def test_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OSError) as e:
            make_server("127.0.0.1", s.getsockname()[1], demo_app)
        assert e.value.errno == errno.EADDRINUSE


def test_a_handler_class_that_overrides_the_log_methods_logs_through_them(capfd):
    """The idiom ``class Quiet(WSGIRequestHandler): def log_message(...)`` (and a
    ``log_request`` that skips some requests) works as under CPython's wsgiref: the
    server's log lines go through the class's own methods, on a handler carrying the
    request's ``client_address``, ``requestline`` and ``command``; nothing else is written.
    The same requests under CPython's wsgiref give the same lines."""
    from conftest import faithful, raw

    def hello(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello"]

    def run(module):
        lines = []

        class Quiet(module.WSGIRequestHandler):
            def log_message(self, format, *args):
                lines.append((self.client_address[0], format % args))

            def log_request(self, code="-", size="-"):
                if getattr(self, "path", None) != "/health":
                    super().log_request(code, size)

        def factory(host, port, app):
            return module.make_server(host, port, app, handler_class=Quiet)

        with faithful(hello, server_factory=factory) as port:
            for path in ("/x?y", "/health"):
                resp, _ = request(port, path=path)
                assert resp.status == 200
            raw(port, b"GET\r\n\r\n")
        return lines

    expected = run(wsgiref.simple_server)
    capfd.readouterr()
    assert run(simple_server) == expected == [
        ("127.0.0.1", '"GET /x?y HTTP/1.1" 200 5'),
        ("127.0.0.1", "code 400, message Bad request syntax ('GET')"),
        ("127.0.0.1", '"GET" 400 -'),
    ]
    assert capfd.readouterr().err == ""


def test_a_log_method_that_raises_does_not_stop_the_server(capfd):
    from conftest import faithful

    def hello(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello"]

    class Broken(WSGIRequestHandler):
        def log_message(self, format, *args):
            raise RuntimeError("broken log")

    def factory(host, port, app):
        return make_server(host, port, app, handler_class=Broken)

    with faithful(hello, server_factory=factory) as port:
        for _ in range(2):
            resp, body = request(port)
            assert (resp.status, body) == (200, b"Hello")
    assert "RuntimeError: broken log" in capfd.readouterr().err


def test_handle_request_also_logs_through_an_overriding_class(capfd):
    lines = []

    class Quiet(WSGIRequestHandler):
        def log_message(self, format, *args):
            lines.append(format % args)

    with make_server("127.0.0.1", 0, demo_app, handler_class=Quiet) as httpd:
        httpd.timeout = TIMEOUT
        t = threading.Thread(target=httpd.handle_request)
        t.start()
        resp, _ = request(httpd.server_address[1], path="/xyz?abc")
        t.join(TIMEOUT)
        assert not t.is_alive()
    assert resp.status == 200
    assert lines == ['"GET /xyz?abc HTTP/1.1" 200 ' + resp.getheader("Content-Length")]
    assert capfd.readouterr().err == ""
