"""Applications that misbehave at shutdown: one loops in Python, one sleeps in C (without
the GIL), one writes to ``wsgi.errors`` and fails; ``/`` answers at once in each."""

import ctypes
import time


def _ok(start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]


def busy(environ, start_response):
    if environ["PATH_INFO"] == "/stuck":
        while True:
            pass
    return _ok(start_response)


def in_c(environ, start_response):
    if environ["PATH_INFO"] == "/stuck":
        # CDLL calls let the GIL go: the thread is out of reach of Python's exceptions.
        ctypes.CDLL(None).sleep(3600)
    return _ok(start_response)


def slow_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] != "/stuck":
        return [b"ok\n"]

    def body():
        while True:
            yield b"x" * 65536
            time.sleep(0.01)

    return body()


def fails(environ, start_response):
    errors = environ["wsgi.errors"]
    errors.write("partial ")
    errors.write("line one\nline two\n")
    errors.write("unfinished")
    errors.flush()
    raise ValueError("boom")


def gil_held(environ, start_response):
    """``/stuck`` sleeps in C holding the GIL (a PyDLL call keeps it): every other request
    of the process waits for it."""
    if environ["PATH_INFO"] == "/stuck":
        ctypes.PyDLL(None).sleep(3600)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{__import__('os').getpid()} x".encode()]


def partial(environ, start_response):
    """``/nonl`` writes to ``wsgi.errors`` without a newline; any other path writes two lines."""
    errors = environ["wsgi.errors"]
    if environ["PATH_INFO"] == "/nonl":
        errors.write("no newline at end")
    else:
        errors.writelines(["a\n", "b\n"])
    return _ok(start_response)
