"""The production face (``pyserve.serve``): PEP 3333 as wsgiref does it, on HTTP/1.1."""

import errno
import http.client
import io
import os
import socket
import sys
import threading
import time
import urllib.request
import wsgiref.simple_server
from wsgiref.validate import validator

import pytest

import pyserve
from conftest import TIMEOUT, faithful, production, raw, request


def test_hello_keep_alive(hello_app):
    with production(hello_app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        for _ in range(3):
            resp, body = request(port, conn=conn)
            assert resp.status == 200
            assert body == b"Hello world!\n"
            assert resp.getheader("Content-Length") == "13"
            assert resp.version == 11
            assert not resp.will_close
        conn.close()


def test_environ_as_wsgiref_builds_it():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with production(app) as port:
        raw(
            port,
            b"GET /caf%C3%A9/%2Fx?q=%20 HTTP/1.1\r\nHost: h\r\nX-Test: a \r\n"
            b"X-Test: b\r\nConnection: close\r\n\r\n",
        )
    assert seen["PATH_INFO"] == "/caf\xc3\xa9//x"
    assert seen["QUERY_STRING"] == "q=%20"
    assert seen["HTTP_X_TEST"] == "a,b"
    assert seen["REQUEST_METHOD"] == "GET"
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["wsgi.version"] == (1, 0)
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["wsgi.multithread"] is True
    assert seen["wsgi.multiprocess"] is False
    assert seen["wsgi.run_once"] is False
    assert seen["wsgi.input_terminated"] is True
    assert seen["wsgi.file_wrapper"] is pyserve.FileWrapper
    for k, v in seen.items():
        if k.isupper():
            assert type(v) is str
            v.encode("latin-1")


def test_environ_holds_only_this_requests_variables():
    # Each environ is a copy of a prepared dict that keeps the last request's values:
    # a later request must see its own values and none of the keys it lacks.
    seen = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        seen.append((dict(environ), body))
        environ["HTTP_X_APP"] = "mutated"  # an app's change stays in its own environ
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    requests = [
        b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: one\r\nAccept: */*\r\n\r\n",
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: text/x\r\nContent-Length: 3\r\n\r\nabc",
        b"GET /a HTTP/1.1\r\nHost: g\r\nCookie: c=1\r\n\r\n",
        b"GET /a?x=1 HTTP/1.0\r\nUser-Agent: one\r\n\r\n",
    ]
    with production(app) as port:
        for req in requests:
            raw(port, req)
    assert len(seen) == 4
    (first, b1), (second, b2), (third, b3), (fourth, b4) = seen
    assert (b1, b2, b3, b4) == (b"", b"abc", b"", b"")
    assert first["HTTP_USER_AGENT"] == "one" and first["HTTP_ACCEPT"] == "*/*"
    assert first["QUERY_STRING"] == "x=1" and first["REQUEST_METHOD"] == "GET"
    assert second["REQUEST_METHOD"] == "POST" and second["PATH_INFO"] == "/b"
    assert second["CONTENT_TYPE"] == "text/x" and second["CONTENT_LENGTH"] == "3"
    assert "HTTP_USER_AGENT" not in second and "HTTP_ACCEPT" not in second
    assert third["CONTENT_TYPE"] == "text/plain" and third["QUERY_STRING"] == ""
    assert third["HTTP_HOST"] == "g" and third["HTTP_COOKIE"] == "c=1"
    assert third["wsgi.input"] is first["wsgi.input"]  # the shared empty stream
    assert second["wsgi.input"] is not first["wsgi.input"]
    assert "HTTP_COOKIE" not in fourth and "HTTP_HOST" not in fourth
    assert fourth["SERVER_PROTOCOL"] == "HTTP/1.0" and fourth["HTTP_USER_AGENT"] == "one"
    for env, _ in seen:
        assert "HTTP_X_APP" not in env
        assert env.get("CONTENT_LENGTH", "") in ("", "3")


def test_environ_values_that_differ_in_one_byte_are_not_taken_for_the_last_ones():
    # The prepared dict keeps a value when the request's equals the last request's: the
    # comparison must see a difference at any position of values of the same length.
    agents = ["a" * 40, "a" * 39 + "b", "b" + "a" * 39, "a" * 20 + "c" + "a" * 19, "a" * 40]
    seen = []

    def app(environ, start_response):
        seen.append(environ["HTTP_USER_AGENT"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with production(app) as port:
        for agent in agents:
            raw(port, f"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: {agent}\r\n\r\n".encode())
    assert seen == agents


def test_concurrent_requests_never_see_another_requests_environ():
    """The prepared environ dict is shared by the loop threads (under a lock): with several
    threads, blocking requests handed off, and clients whose requests differ in every
    variable, each application call sees its own request's values and none of another's."""
    import random

    def app(environ, start_response):
        if random.random() < 0.1:
            time.sleep(0.002)  # a blocking moment: the loop hands its other requests off
        body = environ["wsgi.input"].read()
        fields = ("PATH_INFO", "QUERY_STRING", "HTTP_X_ID", "HTTP_USER_AGENT", "CONTENT_TYPE")
        out = [environ.get(k, "-") for k in fields] + [body.decode()]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["|".join(out).encode()]

    wrong = []

    def client(n, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        for i in range(100):
            ident = f"{n}-{i}"
            headers = {"X-Id": ident}
            if i % 3:
                headers["User-Agent"] = f"agent-{n}"
            if i % 5 == 0:
                headers["Content-Type"] = f"type/{n}"
            body = ident.encode() if i % 2 else None
            query = f"q={ident}" if i % 4 else ""
            path = f"/p{n}/{i}" + (f"?{query}" if query else "")
            conn.request("POST" if body else "GET", path, body=body, headers=headers)
            got = conn.getresponse().read().decode()
            want = "|".join(
                [
                    f"/p{n}/{i}",
                    query,
                    ident,
                    f"agent-{n}" if i % 3 else "-",
                    f"type/{n}" if i % 5 == 0 else "text/plain",  # wsgiref's default
                    ident if body else "",
                ]
            )
            if got != want:
                wrong.append((want, got))
        conn.close()

    with production(app, threads=3) as port:
        clients = [threading.Thread(target=client, args=(n, port)) for n in range(6)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(TIMEOUT)
            assert not t.is_alive()
    assert wrong == []


def counting(body_items, fail_at=None, start=True):
    """A response iterable counting its close() calls."""

    class Body:
        closes = 0

        def __init__(self):
            self.i = 0

        def __iter__(self):
            return self

        def __next__(self):
            if fail_at is not None and self.i == fail_at:
                raise ValueError("boom in the body")
            if self.i >= len(body_items):
                raise StopIteration
            self.i += 1
            return body_items[self.i - 1]

        def close(self):
            type(self).closes += 1

    return Body


def test_close_called_once_on_success():
    Body = counting([b"a", b"b", b"c"])

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with production(app) as port:
        resp, body = request(port)
        assert body == b"abc"
        assert resp.getheader("Transfer-Encoding") == "chunked"
    assert Body.closes == 1


def test_a_result_of_one_block_gets_a_content_length_as_wsgiref_gives_it():
    """wsgiref's ``set_content_length`` asks ``len(result)`` when the first bytes go out
    with headers that name no length: a result of one block gets a ``Content-Length``
    whatever its type (a tuple, a list subclass, any iterable with ``__len__``), one
    without a length (``TypeError``) is streamed, and a ``__len__`` raising anything else
    is the application's error (500, ``close()`` called). Both faces against CPython's
    wsgiref itself."""
    closes = []

    class Sized:
        def __init__(self, n, items, exc=None):
            self.n, self.items, self.exc = n, items, exc

        def __len__(self):
            if self.exc is not None:
                raise self.exc
            return self.n

        def __iter__(self):
            return iter(self.items)

        def close(self):
            closes.append(1)

    class ListOf(list):
        pass

    def write_then_tuple(write):
        write(b"w")
        return (b"r",)

    results = {
        "/tuple": lambda w: (b"one",),
        "/empty-tuple": lambda w: (),
        "/list-subclass": lambda w: ListOf([b"two"]),
        "/sized-1": lambda w: Sized(1, [b"ab"]),
        "/sized-2": lambda w: Sized(2, [b"ab", b"cd"]),
        "/iterator": lambda w: iter([b"ab"]),
        "/len-type-error": lambda w: Sized(1, [b"ab"], TypeError("no length")),
        "/len-runtime-error": lambda w: Sized(1, [b"ab"], RuntimeError("boom in __len__")),
        "/write-then-tuple": write_then_tuple,
    }

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/named-length":
            # A length in the headers: wsgiref never asks len().
            start_response("200 OK", [("Content-Length", "2")])
            return Sized(1, [b"ok"], RuntimeError("len() asked"))
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        return results[path](write)

    paths = [*results, "/named-length"]
    sized = ["/sized-1", "/sized-2", "/len-type-error", "/len-runtime-error", "/named-length"]

    def strip(response):
        lines = response.split(b"\r\n")
        return b"\r\n".join(l for l in lines if not l.startswith((b"Date:", b"Server:")))

    def answers(port):
        return {
            p: strip(raw(port, f"GET {p} HTTP/1.0\r\nHost: x\r\n\r\n".encode()))
            for p in paths
        }

    with faithful(app, server_factory=wsgiref.simple_server.make_server) as port:
        expected = answers(port)
    assert len(closes) == len(sized)
    assert b"Content-Length: 3\r\n" in expected["/tuple"]
    assert expected["/len-runtime-error"].startswith(b"HTTP/1.0 500 ")
    closes.clear()
    with faithful(app) as port:
        assert answers(port) == expected
    assert len(closes) == len(sized)
    closes.clear()
    with production(app) as port:
        for p in paths:
            resp, body = request(port, path=p)
            want = expected[p]
            assert want.startswith(b"HTTP/1.0 %d " % resp.status), p
            assert want.endswith(b"\r\n\r\n" + body), p
            assert (resp.getheader("Content-Length") is not None) == (
                b"\r\nContent-Length: " in want
            ), p
    assert len(closes) == len(sized)


def test_iteration_stops_once_the_content_length_is_produced():
    """PEP 3333 ("Handling the Content-Length Header"): the server should stop iterating
    once the declared length is sent. The production face stops after a first item that
    is the whole body and closes the iterable once; CPython's wsgiref (the faithful face)
    iterates to the end."""
    steps = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "5"), ("Content-Type", "text/plain")])

        def body():
            try:
                yield b"hello"
                steps.append("resumed")
                yield b""
            finally:
                steps.append("finally")

        return body()

    with production(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        for _ in range(2):
            resp, body = request(port, conn=conn)
            assert (resp.status, body) == (200, b"hello")
            assert resp.getheader("Content-Length") == "5"
        conn.close()
    assert steps == ["finally", "finally"]

    # A first item short of the length: iterated to the end, as before.
    Body = counting([b"ab", b"c"])

    def short(environ, start_response):
        start_response("200 OK", [("Content-Length", "3")])
        return Body()

    with production(short) as port:
        resp, body = request(port)
        assert body == b"abc"
    assert Body.closes == 1

    steps.clear()
    with faithful(app) as port:
        resp, body = request(port)
        assert body == b"hello"
    assert steps == ["resumed", "finally"]


def test_close_called_once_on_error_before_headers(capfd):
    Body = counting([b"a"], fail_at=0)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with production(app) as port:
        resp, body = request(port)
        assert resp.status == 500
        # The server keeps serving.
        resp, body = request(port)
        assert resp.status == 500
    assert Body.closes == 2
    err = capfd.readouterr().err
    assert "ValueError: boom in the body" in err
    assert "Traceback (most recent call last):" in err


def test_close_called_once_on_error_after_headers():
    Body = counting([b"a", b"b"], fail_at=1)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with production(app) as port:
        out = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")
        # The body broke off: no chunked terminator.
        assert not out.endswith(b"0\r\n\r\n")
    assert Body.closes == 1


def test_close_called_once_on_client_abort():
    closed = threading.Event()

    class Endless:
        # Finite, so the test ends even if the disconnect went unnoticed (an endless body
        # is test_endless_generator_client_disconnect_closes_it_once).
        closes = 0
        left = 400

        def __iter__(self):
            return self

        def __next__(self):
            if self.left == 0:
                raise StopIteration
            self.left -= 1
            return b"x" * 65536

        def close(self):
            type(self).closes += 1
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Endless()

    with production(app, request_timeout=5.0) as port:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        assert closed.wait(15), "close() not called after the client went away"
    assert Endless.closes == 1


def test_a_silent_connection_is_closed_and_others_are_served(hello_app):
    """The listener defers accepting a connection until its request arrives (one second at
    most): one that never speaks is still accepted, then closed as idle, and a client that
    sends its request meanwhile is answered."""
    with production(hello_app, idle_timeout=0.5) as port:
        silent = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        resp, body = request(port)
        assert (resp.status, body) == (200, b"Hello world!\n")
        try:
            assert silent.recv(1000) == b""
        except ConnectionResetError:
            pass
        silent.close()


def _read_until(s, data, needle):
    """Reads from ``s`` until ``needle`` is in what was read (``data`` and more)."""
    while needle not in data:
        chunk = s.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    return data


def test_generator_body_is_sent_as_it_is_produced():
    """PEP 3333: the first chunk reaches the client while the generator still runs (it
    waits for the client to have it), then the connection serves the next request."""
    got_first = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] != "/stream":
            return [b"next"]

        def body():
            yield b"first"
            if not got_first.wait(TIMEOUT):
                yield b"the first chunk never arrived"
                return
            yield b"second"

        return body()

    with production(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            data = _read_until(s, b"", b"5\r\nfirst\r\n")
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"\r\nTransfer-Encoding: chunked\r\n" in data
            assert data.endswith(b"\r\n\r\n5\r\nfirst\r\n"), data
            got_first.set()
            data = _read_until(s, data, b"0\r\n\r\n")
            assert data.endswith(b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n"), data
            # The connection stays in step.
            s.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            data = _read_until(s, b"", b"\r\n\r\nnext")
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Content-Length: 4\r\n" in data


def test_endless_generator_client_disconnect_closes_it_once():
    """An endless body (server-sent events) reaches the client; when the client goes away
    the body's close() is called once, and the server keeps serving."""
    closed = threading.Event()

    class Events:
        closes = 0

        def __init__(self):
            self.i = 0

        def __iter__(self):
            return self

        def __next__(self):
            time.sleep(0.005)
            self.i += 1
            return b"data: %d\n\n" % self.i

        def close(self):
            type(self).closes += 1
            closed.set()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/events":
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return Events()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with production(app) as port:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_until(s, b"", b"data: 3\n\n")
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        assert closed.wait(TIMEOUT), "close() not called after the client went away"
        resp, body = request(port)
        assert resp.status == 200
        assert body == b"ok"
    assert Events.closes == 1


def test_endless_generator_ends_with_the_shutdown_grace_period():
    """A shutdown does not wait forever for an endless body: when its grace period ends
    the next send fails, and the body's close() is called once."""
    closed = threading.Event()

    class Ticks:
        closes = 0

        def __iter__(self):
            return self

        def __next__(self):
            time.sleep(0.01)
            return b"tick\n"

        def close(self):
            type(self).closes += 1
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Ticks()

    with production(app, shutdown_timeout=0.5) as port:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_until(s, b"", b"tick\n")
        t0 = time.monotonic()
    assert closed.wait(TIMEOUT), "close() not called after the shutdown"
    assert time.monotonic() - t0 >= 0.5
    assert Ticks.closes == 1
    s.close()


def test_exception_before_headers_is_500_and_server_lives(capfd):
    calls = []

    def app(environ, start_response):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        if len(calls) == 2:
            raise KeyboardInterrupt
        if len(calls) == 3:
            raise SystemExit(3)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]

    with production(app) as port:
        for _ in range(3):
            resp, body = request(port)
            assert resp.status == 500
            assert body == b"A server error occurred.  Please contact the administrator."
        resp, body = request(port)
        assert (resp.status, body) == (200, b"fine")
    err = capfd.readouterr().err
    assert "RuntimeError: first call fails" in err
    assert "KeyboardInterrupt" in err
    assert "SystemExit: 3" in err


def test_str_body_is_an_error():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["not bytes"]

    with production(app) as port:
        resp, body = request(port)
        assert resp.status == 500


def test_write_callable_and_exc_info():
    def writer(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned"]

    def replaces(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("oops")
        except ValueError:
            start_response("503 Busy", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"busy"]

    def reraises(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"sent")
        try:
            raise ValueError("late")
        except ValueError:
            try:
                start_response("500 Error", [], sys.exc_info())
            except ValueError:
                return [b" re-raised"]
        return [b" not re-raised"]

    with production(writer) as port:
        resp, body = request(port)
        assert body == b"written and returned"
    with production(replaces) as port:
        resp, body = request(port)
        assert (resp.status, body) == (503, b"busy")
    with production(reraises) as port:
        resp, body = request(port)
        assert body == b"sent re-raised"


def test_write_between_yields_keeps_the_order():
    """write() calls made while the iterable makes its next item go out before that item,
    as under wsgiref (each write() is sent when called there)."""

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"1")
        yield b"2"
        write(b"3")
        write(b"4")
        yield b"5"
        write(b"6")
        yield b""
        write(b"7")

    with production(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        for _ in range(2):
            resp, body = request(port, conn=conn)
            assert body == b"1234567"
        conn.close()
    with faithful(app) as port:
        assert request(port)[1] == b"1234567"
    with faithful(app, wsgiref.simple_server.make_server) as port:
        assert request(port)[1] == b"1234567"


def test_start_response_in_generator():
    def app(environ, start_response):
        start_response("201 Created", [("Content-Type", "text/plain")])
        yield b"one"
        yield b""
        yield b"two"

    def lazy(environ, start_response):
        def gen():
            start_response("202 Accepted", [("Content-Type", "text/plain")])
            yield b"late"

        return gen()

    with production(app) as port:
        resp, body = request(port)
        assert (resp.status, body) == (201, b"onetwo")
    with production(lazy) as port:
        resp, body = request(port)
        assert (resp.status, body) == (202, b"late")


def test_start_response_checks():
    results = {}

    def app(environ, start_response):
        for name, args in {
            "short": ("200", []),
            "code": ("20X OK", []),
            "space": ("200OK", []),
            "tuple": ("200 OK", ()),
            "hop": ("200 OK", [("Connection", "close")]),
            "bytes": (b"200 OK", []),
        }.items():
            try:
                start_response(*args)
                results[name] = None
            except (AssertionError, TypeError) as e:
                results[name] = str(e)
        start_response("200 OK", [])
        try:
            start_response("200 OK", [])
        except AssertionError as e:
            results["twice"] = str(e)
        return [b""]

    with production(app) as port:
        request(port)
    assert results["short"] == "Status must be at least 4 characters"
    assert results["code"] == "Status message must begin w/3-digit code"
    assert results["space"] == "Status message must have a space after code"
    assert results["tuple"] == "Headers must be a list of name/value tuples"
    assert results["hop"] == "Hop-by-hop header, 'Connection: close', not allowed"
    assert results["bytes"].startswith("Status must be of type str")
    assert results["twice"] == "Headers already set!"


def test_wsgi_input_chunked_upload():
    got = {}

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        got["first"] = inp.readline()
        got["limited"] = inp.readline(3)
        got["read"] = inp.read(4)
        got["lines"] = list(inp)
        got["eof"] = inp.read()
        got["length"] = environ.get("CONTENT_LENGTH")
        got["te"] = environ.get("HTTP_TRANSFER_ENCODING")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    body = b"line one\nabcdef\nthird\nlast"
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:5], body[5:17], body[17:])
    ) + b"0\r\n\r\n"
    with production(app) as port:
        out = raw(
            port,
            b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + chunked,
        )
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert got["first"] == b"line one\n"
    assert got["limited"] == b"abc"
    assert got["read"] == b"def\n"
    assert got["lines"] == [b"third\n", b"last"]
    assert got["eof"] == b""
    # The decoded length, as if the client had sent Content-Length.
    assert got["length"] == str(len(body))
    assert got["te"] is None


def test_file_wrapper_large_file(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(1 << 16) * 64  # 4 MiB
    path.write_bytes(data)
    closed = []

    class Tracked:
        def __init__(self, f):
            self.f = f

        def read(self, n):
            return self.f.read(n)

        def fileno(self):
            return self.f.fileno()

        def tell(self):
            return self.f.tell()

        def close(self):
            closed.append(1)
            self.f.close()

    def app(environ, start_response):
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))],
        )
        return environ["wsgi.file_wrapper"](Tracked(open(path, "rb")), 65536)

    with production(app) as port:
        for _ in range(2):
            resp, body = request(port)
            assert resp.status == 200
            assert body == data
    assert len(closed) == 2


def test_file_wrapper_keep_alive_offset_and_short_file(tmp_path):
    """A ``FileWrapper`` over a real file with ``Content-Length`` goes out with
    ``sendfile(2)`` through the loop's sink: the connection then stays in step for the next
    requests; a file read from an offset sends from there; a file shorter than its
    ``Content-Length`` closes the connection instead of hanging it."""
    import http.client

    path = tmp_path / "data.bin"
    data = os.urandom(1 << 20)
    path.write_bytes(data)

    def app(environ, start_response):
        f = open(path, "rb")
        q = environ.get("QUERY_STRING", "")
        if q == "offset":
            f.seek(1000)
            length = len(data) - 1000
        elif q == "short":
            length = len(data) + 10
        else:
            length = len(data)
        start_response("200 OK", [("Content-Length", str(length))])
        return environ["wsgi.file_wrapper"](f, 65536)

    with production(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            for path_q, want in [("/", data), ("/?offset", data[1000:]), ("/", data)]:
                conn.request("GET", path_q)
                resp = conn.getresponse()
                assert resp.status == 200
                assert resp.read() == want
                assert not resp.will_close
            conn.request("GET", "/?short")
            resp = conn.getresponse()
            with pytest.raises(http.client.IncompleteRead):
                resp.read()
        finally:
            conn.close()
        # The server goes on.
        assert request(port)[1] == data


def test_file_wrapper_over_a_device_or_pipe_stops_at_its_length():
    """A ``FileWrapper`` over something that is not a regular file (a pipe, an endless
    device) cannot go out with ``sendfile``; it is read block by block and no further than
    its ``Content-Length``: the server neither reads ``/dev/urandom`` forever nor keeps a
    pipe's surplus, and the connection carries the next request."""
    import http.client

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/pipe":
            r, w = os.pipe()
            os.write(w, b"x" * 50_000)  # less than a pipe holds
            os.close(w)
            f = os.fdopen(r, "rb")
            length = 1000
        else:
            f = open("/dev/urandom", "rb")
            length = 16
        start_response("200 OK", [("Content-Length", str(length))])
        return environ["wsgi.file_wrapper"](f, 8192)

    with production(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            for path, n in [("/urandom", 16), ("/pipe", 1000), ("/urandom", 16)]:
                resp, body = request(port, path=path, conn=conn)
                assert resp.status == 200
                assert len(body) == n
                assert not resp.will_close
        finally:
            conn.close()


def test_a_known_length_generator_is_streamed():
    """Each block of a body with a ``Content-Length`` goes out before the next is made
    (PEP 3333: servers "must not delay the transmission of any block")."""
    go = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "6")])
        yield b"one"
        assert go.wait(TIMEOUT), "the client never saw the first block"
        yield b"two"

    with production(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"\r\n\r\none"):
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
            go.set()
            while not got.endswith(b"two"):
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
        assert b"Content-Length: 6\r\n" in got


def test_validator_raises_nothing(capfd):
    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.errors"].write("")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"validated"]

    with production(validator(app)) as port:
        for method, body in (("GET", None), ("POST", b"x=1"), ("HEAD", None)):
            resp, data = request(port, method, "/v?a=b", body=body)
            assert resp.status == 200, capfd.readouterr().err
    assert "AssertionError" not in capfd.readouterr().err


def test_busy_port_raises_oserror():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(OSError) as e:
            pyserve.Server(lambda e, s: [], "127.0.0.1", port)
        assert e.value.errno == errno.EADDRINUSE
        from pyserve.simple_server import make_server

        with pytest.raises(OSError) as e:
            make_server("127.0.0.1", port, lambda e, s: [])
        assert e.value.errno == errno.EADDRINUSE


def test_a_port_another_server_holds_is_busy_unless_reuse_port(hello_app):
    """Each event loop has its own SO_REUSEPORT listener, yet a second server does not
    silently take part of the first one's connections: it fails, unless it asks to share."""
    first = pyserve.Server(hello_app, "127.0.0.1", 0, threads=2)
    port = first.server_address[1]
    with pytest.raises(OSError) as e:
        pyserve.Server(hello_app, "127.0.0.1", port, threads=2)
    assert e.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(e.value)
    second = pyserve.Server(hello_app, "127.0.0.1", port, reuse_port=True)
    assert second.server_address == ("127.0.0.1", port)


def test_slow_app_does_not_hold_fast_requests():
    """20 requests to an app that sleeps 1 s; fast requests on other connections are all
    answered in under 50 ms meanwhile."""

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            time.sleep(1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with production(app, max_blocking=64) as port:
        slow = []

        def slow_client():
            resp, body = request(port, path="/slow")
            slow.append(body)

        threads = [threading.Thread(target=slow_client) for _ in range(20)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            resp, body = request(port, path="/fast")
            worst = max(worst, time.monotonic() - t0)
            assert body == b"done"
        for t in threads:
            t.join(TIMEOUT)
        assert slow == [b"done"] * 20
        assert worst < 0.05, f"a fast request took {worst * 1000:.1f} ms"


def test_shutdown_from_another_thread(hello_app):
    server = pyserve.Server(hello_app, "127.0.0.1", 0, shutdown_timeout=2.0)
    port = server.server_address[1]
    t = threading.Thread(target=server.serve)
    t.start()
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=TIMEOUT).read() == b"Hello world!\n"
    server.shutdown()
    t.join(TIMEOUT)
    assert not t.is_alive()


def test_malformed_requests_like_demo(hello_app):
    with production(hello_app) as port:
        out = raw(port, b"GARBAGE\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 ")
        out = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 ")
        out = raw(port, b"GET / HTTP/2.0\r\n\r\n")
        assert out.split(b" ")[1] in (b"505", b"400")


def test_reason_phrases_are_this_pythons(hello_app):
    """Both faces take status phrases and error pages from the running interpreter's
    ``BaseHTTPRequestHandler.responses`` (CPython 3.13 renamed 414 to "URI Too Long")."""
    import http.server

    phrase, explain = http.server.BaseHTTPRequestHandler.responses[414]
    long_line = b"GET /" + b"x" * 65537 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for face, version in ((production, b"HTTP/1.1"), (faithful, b"HTTP/1.0")):
        with face(hello_app) as port:
            out = raw(port, long_line)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0] == version + b" 414 " + phrase.encode(), head
        assert f"Message: {phrase}.".encode() in body
        assert f"Error code explanation: 414 - {explain}.".encode() in body


def test_faithful_face_serves(hello_app):
    with faithful(hello_app) as port:
        resp, body = request(port)
        assert body == b"Hello world!\n"
        assert resp.version == 10
        # This interpreter's wsgiref: "WSGIServer/0.2 CPython/3.11.7" ("WSGIServer
        # CPython/3.15.0" from 3.15, which dropped the module's version).
        software = wsgiref.simple_server.software_version
        assert resp.getheader("Server") == software


def test_pipelined_requests_are_answered_in_order():
    # Twenty requests in one write, fixed-length, streamed (chunked) and with a body: the
    # server serves them all from its buffer and sends the answers together, in order.
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if path.startswith("/stream/"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return iter([path.encode(), b"|", body])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [path.encode() + b"|" + body]

    wire = b""
    expected = []
    for i in range(20):
        kind = ("plain", "stream", "post")[i % 3]
        if kind == "post":
            data = f"body-{i}".encode()
            wire += (
                f"POST /post/{i} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode() + data
        else:
            data = b""
            wire += f"GET /{kind}/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        expected.append((kind, f"/{kind}/{i}|".encode() + data))

    class Unclosed(io.BufferedReader):
        def close(self):  # each response closes its file; the next reads on
            pass

    class Replay:
        def __init__(self, data):
            self.file = Unclosed(io.BytesIO(data))

        def makefile(self, *args, **kwargs):
            return self.file

    with production(app) as port:
        replay = Replay(raw(port, wire))
    for kind, body in expected:
        resp = http.client.HTTPResponse(replay, method="POST" if kind == "post" else "GET")
        resp.begin()
        assert resp.status == 200
        assert resp.read() == body
        if kind == "stream":
            assert resp.getheader("Transfer-Encoding") == "chunked"
        else:
            assert resp.getheader("Content-Length") == str(len(body))
    assert replay.file.read() == b"", "nothing after the last answer"


def test_unix_socket(tmp_path, hello_app):
    path = str(tmp_path / "pyserve.sock")
    server = pyserve.Server(hello_app, unix=path, shutdown_timeout=2.0)
    assert server.server_address == path
    t = threading.Thread(target=server.serve)
    t.start()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(TIMEOUT)
            s.connect(path)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")
        assert out.endswith(b"Hello world!\n")
    finally:
        server.shutdown()
        t.join(TIMEOUT)


def test_unix_path_that_is_a_file_is_refused_and_kept(tmp_path, hello_app):
    """``unix=PATH`` replaces only a stale socket: a regular file there is an error, and
    stays (it used to be deleted)."""
    path = tmp_path / "notes.txt"
    path.write_text("keep me\n")
    with pytest.raises(OSError) as e:
        pyserve.Server(hello_app, unix=str(path))
    assert "is not a socket" in str(e.value)
    assert path.read_text() == "keep me\n"


def _gen_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"gen"
    yield b"erated"


def _write_app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written")
    return [b""]


def _lines_app(environ, start_response):
    inp = environ["wsgi.input"]
    n = int(environ.get("CONTENT_LENGTH") or 0)
    first = inp.readline(n) if n else b""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [first or b"none"]


def _file_app(environ, start_response):
    import io

    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"wrapped file"), 4)


@pytest.mark.parametrize("app", [_gen_app, _write_app, _lines_app, _file_app])
def test_validator_around_apps(app, capfd):
    """``wsgiref.validate.validator`` around well-behaved apps raises nothing, for
    GET, HEAD, a POST with a length and a chunked POST."""
    with production(validator(app)) as port:
        for method, body, headers in (
            ("GET", None, {}),
            ("HEAD", None, {}),
            ("POST", b"a=1\nb=2", {"Content-Type": "application/x-www-form-urlencoded"}),
        ):
            resp, data = request(port, method, "/v", body=body, headers=headers)
            assert resp.status == 200, capfd.readouterr().err
        out = raw(
            port,
            b"POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        assert out.startswith(b"HTTP/1.1 200 OK")
    err = capfd.readouterr().err
    assert "AssertionError" not in err and "Traceback" not in err, err


def test_gc_finalizers_that_release_the_gil_during_environ_building():
    # A collection can start inside the server's own allocations (the environ dict's
    # copy) and run an application's __del__, which may release the GIL; another loop
    # thread then enters the same code. Waiting for the server's lock with the GIL held
    # would deadlock both threads.
    import gc

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            time.sleep(0)  # releases the GIL

    kept = []
    environs = []  # kept, so that each environ is a new dict, not one from a free list
    body = [b"ok"]

    def app(environ, start_response):
        environs.append(environ)
        kept.extend(Cycle() for _ in range(3))
        start_response("200 OK", [("Content-Type", "text/plain")])
        # Garbage left with no allocation after it: the next collection starts at the
        # server's next allocation, for the next request.
        kept.clear()
        return body

    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        with production(app, threads=2) as port:
            failures = []

            def client():
                try:
                    for _ in range(40):
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        c.request("GET", "/")
                        assert c.getresponse().read() == b"ok"
                        c.close()
                except Exception as e:  # reported below
                    failures.append(e)

            clients = [threading.Thread(target=client) for _ in range(6)]
            for t in clients:
                t.start()
            for t in clients:
                t.join(TIMEOUT)
            assert not any(t.is_alive() for t in clients), "the server stopped answering"
            assert not failures, failures
    finally:
        gc.set_threshold(*old)


def test_max_line_and_max_headers(hello_app):
    """``max_line``/``max_headers`` (``--max-line``/``--max-headers``) move CPython's
    65,536-byte line and 100-line header limits on the production face."""
    with production(hello_app, max_line=200, max_headers=4) as port:
        line = b"GET /" + b"a" * (200 - len(b"GET / HTTP/1.1\r\n")) + b" HTTP/1.1\r\n"
        assert len(line) == 200
        ok = raw(port, line + b"Host: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n"), ok
        over = raw(port, b"GET /a" + line[5:] + b"Host: x\r\n\r\n")
        # The reason phrase is this Python's (3.13 says `URI Too Long`).
        assert over.startswith(b"HTTP/1.1 414 "), over
        long_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"b" * 200 + b"\r\n\r\n"
        assert raw(port, long_header).startswith(b"HTTP/1.1 431 Line too long\r\n")
        four = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        assert raw(port, four).startswith(b"HTTP/1.1 431 Too many headers\r\n")
        three = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nConnection: close\r\n\r\n"
        assert raw(port, three).startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ValueError, match="max_line must be at least 16"):
        with production(hello_app, max_line=15):
            pass


def test_static_dirs_are_served_without_the_application(tmp_path):
    """``static_dirs`` (``--static PREFIX=DIR``): files under a prefix come from Rust,
    with SimpleHTTPRequestHandler's headers and 304s, never a listing, never outside the
    directory; everything else reaches the application."""
    root = tmp_path / "assets"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red }\n")
    (root / "app.js").write_bytes(b"x" * 300_000)
    (tmp_path / "secret.txt").write_text("not for you\n")
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app " + environ["PATH_INFO"].encode()]

    with production(app, static_dirs={"/static/": str(root)}) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        resp, body = request(port, path="/static/css/site.css?v=3", conn=conn)
        assert resp.status == 200 and body == b"body { color: red }\n"
        assert resp.getheader("Content-Type") == "text/css"
        assert resp.getheader("Content-Length") == "20"
        modified = resp.getheader("Last-Modified")
        assert modified
        resp, body = request(port, path="/static/app.js", conn=conn)
        assert resp.status == 200 and body == b"x" * 300_000
        assert resp.getheader("Content-Type") == "text/javascript"
        resp, body = request(port, "HEAD", "/static/css/site.css", conn=conn)
        assert resp.status == 200 and body == b""
        assert resp.getheader("Content-Length") == "20"
        resp, body = request(port, path="/static/css/site.css", conn=conn,
                             headers={"If-Modified-Since": modified})
        assert resp.status == 304 and body == b""
        for missing in ("/static/nope.css", "/static/css/", "/static", "/static/",
                        "/static/../secret.txt", "/static/%2e%2e/secret.txt"):
            resp, body = request(port, path=missing, conn=conn)
            assert resp.status == 404, missing
            assert b"not for you" not in body
        # Not under the prefix, or not GET/HEAD: the application's.
        resp, body = request(port, path="/staticfile", conn=conn)
        assert body == b"app /staticfile"
        resp, body = request(port, "POST", "/static/css/site.css", body=b"x", conn=conn)
        assert body == b"app /static/css/site.css"
        conn.close()
    assert calls == ["/staticfile", "/static/css/site.css"]
    with pytest.raises(ValueError, match="is not a directory"):
        with production(app, static_dirs={"/static": str(tmp_path / "none")}):
            pass
    with pytest.raises(ValueError, match="must be a path like /static"):
        with production(app, static_dirs={"static": str(root)}):
            pass
