"""Real applications served by pyserve and checked with a real client (http.client);
httpbin is compared with the same app under CPython's wsgiref server as an oracle."""

import json
import re
import threading
import urllib.parse
import wsgiref.simple_server

import pytest

from conftest import TIMEOUT, faithful, production, request


def test_flask():
    flask = pytest.importorskip("flask")
    app = flask.Flask("pyserve_test")

    @app.route("/")
    def index():
        return "Hello from Flask"

    @app.route("/json/<int:n>")
    def as_json(n):
        return flask.jsonify(n=n, doubled=n * 2)

    @app.route("/form", methods=["POST"])
    def form():
        return f"name={flask.request.form['name']}"

    @app.route("/stream")
    def stream():
        def gen():
            for i in range(3):
                yield f"part{i};"

        return flask.Response(gen(), mimetype="text/plain")

    @app.route("/boom")
    def boom():
        raise RuntimeError("flask view failed")

    with production(app) as port:
        resp, body = request(port)
        assert (resp.status, body) == (200, b"Hello from Flask")
        resp, body = request(port, path="/json/21")
        assert json.loads(body) == {"n": 21, "doubled": 42}
        assert resp.getheader("Content-Type") == "application/json"
        resp, body = request(
            port,
            "POST",
            "/form",
            body=urllib.parse.urlencode({"name": "café"}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert body.decode() == "name=café"
        resp, body = request(port, path="/stream")
        assert body == b"part0;part1;part2;"
        resp, body = request(port, path="/missing")
        assert resp.status == 404
        assert b"Not Found" in body
        resp, body = request(port, path="/boom")
        assert resp.status == 500
        assert b"Internal Server Error" in body


def django_app():
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="pyserve-tests",
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            DATABASES={},
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _django_views():
    from django.http import HttpResponse, JsonResponse
    from django.urls import path

    def hello(request):
        return HttpResponse("Hello from Django")

    def echo(request):
        return JsonResponse({"method": request.method, "a": request.POST.get("a")})

    return [path("", hello), path("echo", echo)]


urlpatterns = []


def test_django():
    app = django_app()
    urlpatterns[:] = _django_views()
    with production(app) as port:
        resp, body = request(port)
        assert (resp.status, body) == (200, b"Hello from Django")
        resp, body = request(port, path="/nowhere")
        assert resp.status == 404
        resp, body = request(
            port,
            "POST",
            "/echo",
            body="a=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert json.loads(body) == {"method": "POST", "a": "1"}
        # A chunked upload (http.client chunks an iterable body): Django reads
        # CONTENT_LENGTH bytes, which the server sets to the decoded length.
        resp, body = request(
            port,
            "POST",
            "/echo",
            body=iter([b"a=", b"chunk", b"ed"]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert json.loads(body) == {"method": "POST", "a": "chunked"}


def test_bottle():
    bottle = pytest.importorskip("bottle")
    app = bottle.Bottle()

    @app.route("/hello/<name>")
    def hello(name):
        return f"Hello {name}"

    @app.post("/sum")
    def total():
        return {"sum": sum(bottle.request.json)}

    with production(app) as port:
        resp, body = request(port, path="/hello/bottle")
        assert (resp.status, body) == (200, b"Hello bottle")
        resp, body = request(
            port, "POST", "/sum", body="[1, 2, 3]", headers={"Content-Type": "application/json"}
        )
        assert json.loads(body) == {"sum": 6}
        resp, body = request(port, path="/nope")
        assert resp.status == 404


def test_falcon():
    falcon = pytest.importorskip("falcon")

    class Things:
        def on_get(self, req, resp):
            resp.media = {"things": [1, 2]}

        def on_post(self, req, resp):
            resp.media = {"got": req.get_media()}
            resp.status = falcon.HTTP_201

    app = falcon.App()
    app.add_route("/things", Things())
    with production(app) as port:
        resp, body = request(port, path="/things")
        assert json.loads(body) == {"things": [1, 2]}
        resp, body = request(
            port, "POST", "/things", body='{"x": 1}', headers={"Content-Type": "application/json"}
        )
        assert resp.status == 201
        assert json.loads(body) == {"got": {"x": 1}}
        resp, body = request(port, path="/other")
        assert resp.status == 404


class Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def wsgiref_oracle(app):
    """CPython's own server for ``app`` (serve_forever on a thread)."""
    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=Quiet)
    t = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    t.start()
    return httpd, t


IGNORED = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}


def normalized(resp, body, port):
    headers = sorted(
        (k.lower(), v) for k, v in resp.getheaders() if k.lower() not in IGNORED
    )
    text = re.sub(rb"127\.0\.0\.1:\d+", b"127.0.0.1:PORT", body)
    text = re.sub(rb'"Connection": "[^"]*",?\s*', b"", text)
    return resp.status, headers, text


HTTPBIN_CASES = [
    ("GET", "/get?a=1&b=2", None, {}),
    ("GET", "/status/418", None, {}),
    ("GET", "/status/204", None, {}),
    ("GET", "/json", None, {}),
    ("GET", "/html", None, {}),
    ("GET", "/robots.txt", None, {}),
    ("GET", "/base64/SFRUUEJJTiBpcyBhd2Vzb21l", None, {}),
    ("GET", "/response-headers?X-Thing=1&X-Thing=2", None, {}),
    ("POST", "/post", b"k=v&k2=v2", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("PUT", "/put", b'{"x": [1, 2]}', {"Content-Type": "application/json"}),
    ("DELETE", "/delete", None, {}),
    ("GET", "/headers", None, {"X-Custom": "yes"}),
    ("GET", "/redirect-to?url=/get", None, {}),
    ("GET", "/bytes/64?seed=1", None, {}),
    ("GET", "/stream/3", None, {}),
    ("GET", "/nothing-here", None, {}),
]


def test_httpbin_against_wsgiref():
    httpbin = pytest.importorskip("httpbin")
    app = httpbin.app
    httpd, t = wsgiref_oracle(app)
    oracle_port = httpd.server_address[1]
    try:
        with production(app) as port:
            for method, path, body, headers in HTTPBIN_CASES:
                headers = dict(headers, Connection="close")
                ours = normalized(*request(port, method, path, body, headers), port)
                theirs = normalized(*request(oracle_port, method, path, body, headers), oracle_port)
                assert ours == theirs, f"{method} {path}"
    finally:
        httpd.shutdown()
        t.join(TIMEOUT)
        httpd.server_close()


def test_httpbin_on_the_faithful_face():
    httpbin = pytest.importorskip("httpbin")
    with faithful(httpbin.app) as port:
        resp, body = request(port, path="/get?x=1")
        assert resp.status == 200
        assert json.loads(body)["args"] == {"x": "1"}
