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


@pytest.mark.skipif(MODULE is None, reason="this Python has no test package (test_wsgiref)")
@pytest.mark.parametrize("name", NAMES)
def test_integration(name):
    import pyserve.simple_server

    assert MODULE.WSGIServer is pyserve.simple_server.WSGIServer
    assert MODULE.make_server is pyserve.simple_server.make_server
    suite = unittest.TestSuite([MODULE.IntegrationTests(name)])
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    problems = [text for _, text in result.errors + result.failures]
    assert result.wasSuccessful(), "\n".join(problems)
