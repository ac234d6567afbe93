"""Shared helpers: servers on 127.0.0.1 with an ephemeral port, bounded in time."""

import contextlib
import http.client
import socket
import threading
import time

import pytest

import pyserve
from pyserve.simple_server import make_server

TIMEOUT = 20


@contextlib.contextmanager
def production(app, **options):
    """Serves ``app`` with ``pyserve.serve`` on a thread; yields the port."""
    holder = {}
    ready = threading.Event()

    def on_ready(server):
        holder["server"] = server
        ready.set()

    options.setdefault("shutdown_timeout", 2.0)
    errors = []

    def run():
        try:
            pyserve.serve(app, "127.0.0.1", 0, ready=on_ready, **options)
        except BaseException as e:  # reported by the test
            errors.append(e)
            ready.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(TIMEOUT), "server did not start"
    if errors:
        raise errors[0]
    server = holder["server"]
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        t.join(TIMEOUT)
        assert not t.is_alive(), "server did not stop"
    if errors:
        raise errors[0]


@contextlib.contextmanager
def faithful(app, server_factory=make_server):
    """Serves ``app`` with ``pyserve.simple_server`` (serve_forever on a thread)."""
    httpd = server_factory("127.0.0.1", 0, app)
    t = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        t.join(TIMEOUT)
        httpd.server_close()


def request(port, method="GET", path="/", body=None, headers=None, conn=None):
    """One request with http.client; returns (response, body bytes)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp, data


def raw(port, data, timeout=TIMEOUT):
    """Sends raw bytes, returns everything read until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


@pytest.fixture
def hello_app():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello world!\n"]

    return app
