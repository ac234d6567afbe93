"""HTTPS (``tls_cert``, ``--tls-cert``) and the PROXY protocol (``proxy_protocol``,
``--proxy-protocol``) on the production face, with Python's ``ssl`` and ``http.client``
as the clients. Certificates are made per session with the ``openssl`` command (CI
installs it; elsewhere the tests skip without it). Every wait is bounded (``TIMEOUT``)."""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys

import pytest

from conftest import TIMEOUT, production, raw
from test_cli import start, stop
from test_workers import served_pid

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, its key in clear and encrypted (PKCS#8)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide the openssl command (.ci/run installs it)")
        pytest.skip("no openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("pki")
    cert, key, enc, pw = d / "cert.pem", d / "key.pem", d / "enc.pem", d / "pw.txt"
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, timeout=TIMEOUT)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj",
        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    run("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", str(key), "-out",
        str(enc), "-passout", f"pass:{PASSWORD}")
    pw.write_text(PASSWORD + "\n")
    return {"cert": str(cert), "key": str(key), "enc": str(enc), "pw": str(pw)}


def client_context(pki):
    ctx = ssl.create_default_context(cafile=pki["cert"])
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def https(port, pki):
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                       context=client_context(pki))


def scheme_app(environ, start_response):
    body = " ".join([
        environ["wsgi.url_scheme"],
        environ.get("HTTPS", "-"),
        environ["REMOTE_ADDR"],
        environ["SERVER_PROTOCOL"],
    ]).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def test_https_keep_alive_environ_and_alpn(pki):
    with production(scheme_app, tls_cert=pki["cert"], tls_key=pki["key"]) as port:
        conn = https(port, pki)
        try:
            for _ in range(3):
                conn.request("GET", "/")
                resp = conn.getresponse()
                assert resp.status == 200
                assert resp.read() == b"https on 127.0.0.1 HTTP/1.1"
                assert not resp.will_close
            # One TLS session carried the three requests; ALPN chose HTTP/1.1.
            assert conn.sock.selected_alpn_protocol() == "http/1.1"
            assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        finally:
            conn.close()


def test_https_streamed_body_and_post(pki):
    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        # No length: chunked over TLS.
        return (part for part in (b"got ", str(len(data)).encode(), b" bytes"))

    with production(app, tls_cert=pki["cert"], tls_key=pki["key"]) as port:
        conn = https(port, pki)
        try:
            body = b"x" * 300_000
            conn.request("POST", "/upload", body=body)
            resp = conn.getresponse()
            assert resp.getheader("Transfer-Encoding") == "chunked"
            assert resp.read() == b"got 300000 bytes"
        finally:
            conn.close()


def test_encrypted_key_with_password_file(pki):
    with production(scheme_app, tls_cert=pki["cert"], tls_key=pki["enc"],
                    tls_password_file=pki["pw"]) as port:
        conn = https(port, pki)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().read().startswith(b"https on ")
        finally:
            conn.close()


def test_plain_http_on_the_https_port_is_closed_and_the_server_lives(pki):
    with production(scheme_app, tls_cert=pki["cert"], tls_key=pki["key"]) as port:
        out = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # Not an HTTP answer in clear: at most a TLS alert record, then the close.
        assert not out.startswith(b"HTTP/"), out
        conn = https(port, pki)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_bad_tls_arguments_raise_before_binding(pki, tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(OSError) as e:
        with production(scheme_app, tls_cert=missing):
            pass
    assert "nope.pem" in str(e.value)
    with pytest.raises(OSError) as e:
        with production(scheme_app, tls_cert=pki["cert"], tls_key=pki["enc"]):
            pass  # an encrypted key without its password
    assert "enc.pem" in str(e.value)
    with pytest.raises(ValueError, match="need tls_cert"):
        with production(scheme_app, tls_key=pki["key"]):
            pass


def test_proxy_protocol_sets_the_client_address():
    with production(scheme_app, proxy_protocol=True) as port:
        request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = raw(port, b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8000\r\n" + request)
        assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out
        assert out.endswith(b"http - 203.0.113.7 HTTP/1.1"), out
        # Version 2, IPv6 source.
        v2 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21, 0, 36])
              + socket.inet_pton(socket.AF_INET6, "2001:db8::5")
              + socket.inet_pton(socket.AF_INET6, "::1")
              + (5555).to_bytes(2, "big") + (80).to_bytes(2, "big"))
        out = raw(port, v2 + request)
        assert out.endswith(b"http - 2001:db8::5 HTTP/1.1"), out
        # Without the header the connection is closed unanswered, and the server lives.
        assert raw(port, request) == b""
        out = raw(port, b"PROXY TCP4 198.51.100.1 127.0.0.1 1 2\r\n" + request)
        assert out.endswith(b"http - 198.51.100.1 HTTP/1.1"), out


def test_proxy_protocol_before_tls(pki):
    """A load balancer passing TLS through: the PROXY header in clear, then the client's
    TLS session on the same socket."""
    with production(scheme_app, tls_cert=pki["cert"], tls_key=pki["key"],
                    proxy_protocol=True, metrics_bind="127.0.0.1:0") as port:
        for header, client in [
            (b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n", "203.0.113.7"),
            (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12])
             + socket.inet_aton("198.51.100.4") + socket.inet_aton("127.0.0.1")
             + (5555).to_bytes(2, "big") + (443).to_bytes(2, "big"), "198.51.100.4"),
        ]:
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            s.sendall(header)
            with client_context(pki).wrap_socket(s, server_hostname="127.0.0.1") as t:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
                conn.sock = t
                for _ in range(2):
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    assert resp.read() == f"https on {client} HTTP/1.1".encode()
        # A TLS client that sends no header is closed unanswered; the server lives.
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        with pytest.raises((ssl.SSLError, OSError)):
            client_context(pki).wrap_socket(s, server_hostname="127.0.0.1").close()
        s.close()


def test_cli_https_with_two_workers(pki):
    proc, port = start("apps.hello:pid", "--workers", "2", "--port", "0",
                       "--tls-cert", pki["cert"], "--tls-key", pki["enc"],
                       "--tls-password-file", pki["pw"], banner="Serving HTTPS on ")
    try:
        pids = set()
        for _ in range(200):
            conn = https(port, pki)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                assert resp.status == 200
                pids.add(int(resp.read().split()[0]))
            finally:
                conn.close()
            if len(pids) == 2:
                break
        assert len(pids) == 2, pids
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_cli_proxy_protocol_before_tls_in_a_worker(pki):
    proc, port = start("apps.hello:app", "--workers", "1", "--port", "0", "--proxy-protocol",
                       "--tls-cert", pki["cert"], "--tls-key", pki["key"],
                       banner="Serving HTTPS on ")
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"PROXY TCP4 192.0.2.77 127.0.0.1 1 2\r\n")
        with client_context(pki).wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out = b""
            while chunk := t.recv(65536):
                out += chunk
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"Hello world!\n"), out
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert '192.0.2.77 - - [' in err, err


def test_cli_proxy_protocol():
    proc, port = start("apps.hello:app", "--port", "0", "--proxy-protocol")
    try:
        out = raw(port, b"PROXY TCP4 192.0.2.9 127.0.0.1 1 2\r\n"
                        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.endswith(b"Hello world!\n"), out
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert '192.0.2.9 - - [' in err, err


@pytest.mark.parametrize("args, message", [
    (["--tls-key", "k.pem"], "--tls-key and --tls-password-file need --tls-cert"),
    (["--tls-cert", "c.pem", "--faithful"], "--tls-cert needs the production face"),
    (["--proxy-protocol", "--once"], "--proxy-protocol needs the production face"),
    (["--tls-cert", "/nonexistent/c.pem"], "/nonexistent/c.pem"),
])
def test_cli_rejects_bad_tls_and_proxy_options(args, message):
    done = subprocess.run([sys.executable, "-m", "pyserve", "apps.hello:app", "--port", "0",
                           *args], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_sighup_reload_serves_a_renewed_certificate(pki, tmp_path):
    """Certificate renewal without a restart: replace the files, SIGHUP the supervisor;
    the new worker loads them, and the next handshake shows the new certificate."""
    from test_workers import children_of, log, wait_until

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(open(pki["cert"], "rb").read())
    key.write_bytes(open(pki["key"], "rb").read())
    proc, port = start("apps.hello:app", "--workers", "1", "--port", "0",
                       "--tls-cert", str(cert), "--tls-key", str(key),
                       banner="Serving HTTPS on ")

    def served_certificate():
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(s) as t:
                return t.getpeercert(binary_form=True)

    try:
        first = served_certificate()
        assert ssl.DER_cert_to_PEM_cert(first).strip() == cert.read_text().strip()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "2", "-subj", "/CN=renewed", "-addext",
                        "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=TIMEOUT)
        before = wait_until("one worker", lambda: children_of(proc.pid))
        proc.send_signal(signal.SIGHUP)
        wait_until("reload complete", lambda: "reload complete" in log(proc))
        wait_until("a new worker", lambda: (children_of(proc.pid) or before).isdisjoint(before))
        renewed = served_certificate()
        assert renewed != first
        assert ssl.DER_cert_to_PEM_cert(renewed).strip() == cert.read_text().strip()
    finally:
        code, err = stop(proc)
    assert code == 0, err
