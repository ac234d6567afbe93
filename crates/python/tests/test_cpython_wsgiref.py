"""CPython's own ``Lib/test/test_wsgiref.py`` ``IntegrationTests``, run against
``pyserve.simple_server``: the file is read from this Python's ``test`` package and
executed with one change, its ``wsgiref.simple_server`` import swapped for
``pyserve.simple_server`` (nothing of it is copied here)."""

import os
import types
import unittest

import pytest


def load_cpython_tests():
    try:
        import test
        from test import support  # noqa: F401
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(test.__file__), "test_wsgiref.py")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        source = f.read()
    swapped = source.replace(
        "from wsgiref.simple_server import", "from pyserve.simple_server import"
    )
    assert swapped.count("from pyserve.simple_server import") == 2, "the imports moved"
    module = types.ModuleType("cpython_test_wsgiref_on_pyserve")
    module.__file__ = path
    exec(compile(swapped, path, "exec"), module.__dict__)
    return module


MODULE = load_cpython_tests()
NAMES = (
    sorted(n for n in dir(MODULE.IntegrationTests) if n.startswith("test_"))
    if MODULE is not None
    else []
)


# Tests (new in CPython 3.15) whose last step reads ``wsgi.input`` past the end of a
# request that has no ``Content-Length``: CPython's ``wsgi.input`` is the connection's
# ``rfile``, ours ends where the body ends (docs/divergences.md), so that step reads
# nothing. Every step before it must pass, and that step must fail only on the body.
BODY_PAST_THE_END = {
    "test_wsgi_input_iter",
    "test_wsgi_input_read",
    "test_wsgi_input_readline",
    "test_wsgi_input_readlines",
}


@pytest.mark.skipif(MODULE is None, reason="this Python has no test package (test_wsgiref)")
@pytest.mark.parametrize("name", NAMES)
def test_integration(name):
    import pyserve.simple_server

    assert MODULE.WSGIServer is pyserve.simple_server.WSGIServer
    assert MODULE.make_server is pyserve.simple_server.make_server
    suite = unittest.TestSuite([MODULE.IntegrationTests(name)])
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    problems = [text for _, text in result.errors + result.failures]
    if name in BODY_PAST_THE_END:
        assert not result.errors, "\n".join(problems)
        assert len(result.failures) == 1, "\n".join(problems)
        text = result.failures[0][1]
        assert "assertEndsWith(out, b\"Te" in text, text
        # What that step gets here: a 200 with an empty body.
        app = MODULE.validator(MODULE.input_app("read", 5))
        out, _ = MODULE.run_amock(app, b"GET / HTTP/1.0\n\nTest 1\nTest 2\n")
        assert out.startswith(b"HTTP/1.0 200 OK\r\n"), out
        assert out.endswith(b"\r\n\r\n"), out
        return
    assert result.wasSuccessful(), "\n".join(problems)
