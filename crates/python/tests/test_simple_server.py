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
