"""No Python object outlives its request: every path through the server (a list body, a
generator, ``write()``, ``wsgi.input``, a ``FileWrapper`` over a real file and over a
``BytesIO``, an exception before and after the headers, ``exc_info``, a ``str`` body, a
client that goes away mid-response, a malformed request) runs in rounds, and the
interpreter's allocated blocks and GC-tracked objects must stop growing with the count.

A reference kept by mistake on any of these paths (an environ dict, a ``start_response``
object, a body iterator, an exception, a bytes chunk) leaves at least one block a round in
every window of rounds, which the test reports; checked by adding such leaks on purpose,
in the application and in the server's Rust code (a ``mem::forget`` of the
``start_response`` object of one kind of request)."""

import gc
import io
import socket
import sys
import time

from conftest import TIMEOUT, faithful, production, raw

# Windows of rounds to run before a leak is reported.
WINDOWS = 12
# The real file the `/file` requests send (`sendfile` on the production face).
FILE = {}


def _app(environ, start_response):
    """The application, dispatching on the path to one behaviour per request kind."""
    path = environ["PATH_INFO"]
    if path == "/list":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]
    if path == "/gen":

        def gen():
            yield b"gen"
            yield b"erated"

        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written")
        return [b"", b"!"]
    if path == "/input":
        # Read as far as CONTENT_LENGTH, as a portable application does (on the faithful
        # face, as under CPython's wsgiref, `read()` would wait for more).
        inp = environ["wsgi.input"]
        n = int(environ.get("CONTENT_LENGTH") or 0)
        first = inp.readline(n)
        rest = inp.read(n - len(first))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [first, rest]
    if path == "/bytesio":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"wrapped file"), 4)
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(FILE["path"], "rb"))
    if path == "/raise-before":
        raise ValueError("before the headers")
    if path == "/raise-after":

        def failing():
            yield b"part"
            raise ValueError("after the headers")

        start_response("200 OK", [("Content-Type", "text/plain")])
        return failing()
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("replaced")
        except KeyError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path == "/str":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["not bytes"]
    if path == "/endless":

        def endless():
            while True:
                yield b"x" * 65536

        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return endless()
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such path"]


def _abort(port):
    """Starts an endless response, reads a little of it, and resets the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(1000).startswith(b"HTTP/1.1 200 OK")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def _keep_alive_batch(port):
    """Every well-formed kind once on one keep-alive connection, then a closing request."""
    get = "GET {} HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"line one\nline two"
    post = (
        b"POST /input HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    chunked = (
        b"POST /input HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nab\ncd\r\n0\r\n\r\n"
    )
    reqs = b"".join(
        get.format(p).encode()
        for p in ("/list", "/gen", "/write", "/bytesio", "/file", "/raise-before", "/exc-info")
    )
    reqs += post + chunked + b"GET /str HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw(port, reqs)
    # Ten answers, three of them 500s (the exception before the headers, the
    # replaced status, the str body): none of them closes the connection.
    assert out.count(b"HTTP/1.1 ") == 10, out[-400:]
    assert out.count(b"HTTP/1.1 500 ") == 3, out[-400:]


def _one_round(port):
    _keep_alive_batch(port)
    # An exception after the headers: the connection is closed mid-body.
    out = raw(port, b"GET /raise-after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and b"part" in out
    _abort(port)
    out = raw(port, b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out


def _settle():
    """Lets the server finish what the last requests started (an aborted response's
    close(), a closed connection's cleanup), then collects garbage."""
    time.sleep(0.3)
    for _ in range(3):
        gc.collect()


def _assert_stops_growing(one_round, warm_up, window):
    """Runs ``one_round`` ``warm_up`` times, then in windows of ``window`` rounds until one
    window leaves fewer than ``window / 2`` more allocated blocks and no more GC-tracked
    objects; returns what each window left, or fails after ``WINDOWS`` windows.

    What fills once fills during the first windows (tracebacks' source lines, interned
    values, the server's prepared environ), and the count then still creeps up by less and
    less, most likely CPython's free lists, which keep freed tuples, lists and dicts as
    allocated blocks and grow when more of them than ever before are alive at once. By
    hand on the production face, the blocks each window of 100 rounds added from the
    start: 1,668, 322, 120, 37, 18, 8, 3, 2, 7, 6. A leak of one block a round leaves at
    least ``window`` blocks in every window."""
    for _ in range(warm_up):
        one_round()
    _settle()
    seen = []
    for _ in range(WINDOWS):
        blocks0 = sys.getallocatedblocks()
        objects0 = len(gc.get_objects())
        for _ in range(window):
            one_round()
        _settle()
        seen.append(
            (sys.getallocatedblocks() - blocks0, len(gc.get_objects()) - objects0)
        )
        blocks, objects = seen[-1]
        if blocks < window / 2 and objects <= 0:
            return seen
    raise AssertionError(
        f"every window of {window} rounds left more (blocks, GC-tracked objects): {seen}"
    )


def test_no_python_object_outlives_its_request(tmp_path, capfd):
    FILE["path"] = tmp_path / "file.txt"
    FILE["path"].write_bytes(b"a real file\n" * 1000)
    with production(_app, request_timeout=5.0) as port:
        _assert_stops_growing(lambda: _one_round(port), warm_up=200, window=100)
    err = capfd.readouterr().err
    assert "ValueError: before the headers" in err and "ValueError: after the headers" in err


def _faithful_round(port):
    """Each kind once on the faithful face (HTTP/1.0: a connection a request)."""
    for path in ("/list", "/gen", "/write", "/bytesio", "/file", "/exc-info"):
        out = raw(port, b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
        assert out.startswith((b"HTTP/1.0 200 ", b"HTTP/1.0 500 ")), out[:200]
    for path in ("/raise-before", "/str"):
        out = raw(port, b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
        assert out.startswith(b"HTTP/1.0 500 "), out[:200]
    out = raw(port, b"POST /input HTTP/1.0\r\nContent-Length: 8\r\n\r\nab\ncd\nef")
    assert out.endswith(b"ab\ncd\nef"), out
    out = raw(port, b"GET /raise-after HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.0 200 ") and b"part" in out, out
    raw(port, b"GET /x HTTP/1.0\r\nContent-Length: nope\r\n\r\n")
    out = raw(port, b"GET / HTTP/9.9\r\n\r\n")
    assert out.startswith(b"HTTP/1.0 505 "), out


def test_no_python_object_outlives_its_request_on_the_faithful_face(tmp_path, capfd):
    """The same on ``pyserve.simple_server`` (``WSGIServer.serve_forever``)."""
    FILE["path"] = tmp_path / "file.txt"
    FILE["path"].write_bytes(b"a real file\n" * 1000)
    with faithful(_app) as port:
        _assert_stops_growing(lambda: _faithful_round(port), warm_up=100, window=50)
    err = capfd.readouterr().err
    assert "ValueError: before the headers" in err and "ValueError: after the headers" in err
