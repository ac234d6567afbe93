"""``pyserve --workers N``: the supervisor ``demo --workers`` runs, with Python workers.

Real processes and signals on 127.0.0.1; every wait is bounded (``TIMEOUT``)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import TIMEOUT, request
from test_cli import HERE, start, stop


def children_of(pid):
    """The live (not zombie) child processes of ``pid``."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            out.add(int(entry))
    return out


def wait_until(what, check, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log(proc):
    proc.errfile.seek(0)
    return proc.errfile.read()


def served_pid(port):
    resp, body = request(port)
    assert resp.status == 200
    pid, multiprocess = body.decode().split()
    return int(pid), multiprocess


def test_workers_share_the_port():
    """Moved from test_cli.py: two workers, each answering on the one port."""
    proc, port = start("apps.hello:pid", "--workers", "2", "--port", "0")
    try:
        pids = set()
        deadline = time.monotonic() + TIMEOUT
        while len(pids) < 2 and time.monotonic() < deadline:
            pid, flag = served_pid(port)
            assert flag == "True"
            pids.add(pid)
        assert len(pids) == 2, pids
        # The workers are the supervisor's children, and it never imports the app.
        assert pids == children_of(proc.pid)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "supervisor stopped" in err, err


def test_a_dead_worker_is_replaced():
    proc, port = start("apps.hello:pid", "--workers", "2", "--port", "0")
    try:
        first = wait_until("two workers", lambda: len(children_of(proc.pid)) == 2 and
                           children_of(proc.pid))
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        second = wait_until(
            "a replacement",
            lambda: (c := children_of(proc.pid)) and len(c) == 2 and victim not in c and c,
        )
        new = (second - first).pop()
        # The replacement serves on the same port (the supervisor kept the socket).
        wait_until("the replacement to answer", lambda: served_pid(port)[0] == new)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "signal 9" in err, err


def test_a_crash_loop_stops_the_server():
    """An app that fails to import in every worker: five deaths in ten seconds stop the
    supervisor with a clear error instead of respawning forever."""
    out = subprocess.run(
        [sys.executable, "-m", "pyserve", "apps.hello:missing", "--workers", "2",
         "--port", "0"],
        cwd=HERE, capture_output=True, text=True, timeout=TIMEOUT * 2,
    )
    assert out.returncode == 1, out
    assert "workers are crashing" in out.stderr, out.stderr
    assert "missing" in out.stderr  # the worker's own traceback


def test_max_requests_replaces_a_worker():
    proc, port = start("apps.hello:pid", "--workers", "1", "--max-requests", "5",
                       "--port", "0")
    try:
        pids = []
        deadline = time.monotonic() + TIMEOUT
        while len(set(pids)) < 3 and time.monotonic() < deadline:
            pids.append(served_pid(port)[0])
        assert len(set(pids)) >= 3, pids
        # Each replaced worker served its whole budget first; it keeps serving until its
        # replacement serves (a new interpreter takes a while), so it may serve more.
        order = list(dict.fromkeys(pids))
        for pid in order[:-1]:
            assert pids.count(pid) >= 5, pids
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "request budget reached" in err, err


def test_a_stopped_worker_is_killed_after_the_worker_timeout():
    """A worker that stops answering the heartbeat (SIGSTOP) is killed and replaced."""
    # 2 s: long enough for a new interpreter to start on a loaded machine (the timeout
    # runs from the worker's start), short enough for the test.
    proc, port = start("apps.hello:pid", "--workers", "1", "--worker-timeout", "2",
                       "--port", "0")
    try:
        (first,) = wait_until("a worker", lambda: children_of(proc.pid))
        os.kill(first, signal.SIGSTOP)
        start_at = time.monotonic()
        (second,) = wait_until(
            "a replacement",
            lambda: (c := children_of(proc.pid)) and first not in c and len(c) == 1 and c,
        )
        assert time.monotonic() - start_at < 15
        assert served_pid(port)[0] == second
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "heartbeat" in err, err


def start_gil_held(*options):
    """``pyserve apps.stuck:gil_held --workers 1``, its worker answered once, and a
    connection whose ``/stuck`` request holds that worker's GIL."""
    proc, port = start("apps.stuck:gil_held", "--workers", "1", "--port", "0", *options)
    try:
        (worker,) = wait_until("a worker", lambda: children_of(proc.pid))
        assert served_pid(port)[0] == worker
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
    except BaseException:
        stop(proc)
        raise
    return proc, port, worker, s


@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="free-threaded CPython: no GIL for a C call to hold")
def test_a_worker_whose_gil_a_c_call_holds_is_killed_after_the_worker_timeout():
    """A request sleeps in C holding the GIL: the event loop still turns (it hands the
    waiting requests to other threads) but nothing is answered; the heartbeat, which takes
    the GIL, stops, and the worker is killed and replaced."""
    proc, port, first, s = start_gil_held("--worker-timeout", "2")
    try:
        start_at = time.monotonic()
        (second,) = wait_until(
            "a replacement",
            lambda: (c := children_of(proc.pid)) and first not in c and len(c) == 1 and c,
        )
        assert time.monotonic() - start_at < 15
        assert s.recv(1024) == b"", "the wedged worker's connection is closed"
        s.close()
        assert served_pid(port)[0] == second
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "heartbeat" in err, err


def gone(pid):
    """True once ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="free-threaded CPython: no GIL for a C call to hold")
def test_an_orphaned_worker_that_cannot_stop_exits_after_the_graceful_timeout():
    """The supervisor is killed (SIGKILL: it cannot stop its workers) while a worker's
    request sleeps in C holding the GIL, so the worker's graceful stop can never finish:
    the worker exits by itself once the supervisor's graceful timeout (--shutdown-timeout
    plus 5 s) has passed, instead of running forever with the port open."""
    proc, port, worker, s = start_gil_held("--shutdown-timeout", "1")
    try:
        time.sleep(0.5)
        proc.kill()
        proc.wait(TIMEOUT)
        orphaned = time.monotonic()
        wait_until("the orphaned worker to exit", lambda: gone(worker), timeout=TIMEOUT)
        waited = time.monotonic() - orphaned
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        proc.errfile.seek(0)
        err = proc.errfile.read()
    # 6 s of grace (1 s to drain, 5 s more), less the moment it took to see the kill.
    assert 5.0 < waited < 15, (waited, err)
    assert "the supervisor is gone: stopping" in err, err
    assert "did not stop within its graceful timeout: exiting now" in err, err


def client(port, keep_alive, stop_flag, tally):
    """GET / in a loop, on one keep-alive connection or a new one each time. A reused
    connection closed before any byte of a response is retried once (RFC 9112 9.3.1: the
    server may close an idle connection; an idempotent request may be retried)."""
    conn = None
    n = 0
    while not stop_flag.is_set() and n < 20_000:
        n += 1
        for attempt in (1, 2):
            reused = conn is not None
            if conn is None:
                try:
                    conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                except OSError as e:
                    tally["failures"].append(f"connect: {e}")
                    break
            s = conn
            conn = None
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" +
                          (b"" if keep_alive else b"Connection: close\r\n") + b"\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError as e:
                if reused and attempt == 1:
                    tally["retried"] += 1
                    s.close()
                    continue
                tally["failures"].append(f"i/o: {e}")
                s.close()
                break
            if not data:
                s.close()
                if reused and attempt == 1:
                    tally["retried"] += 1
                    continue
                tally["failures"].append("closed before a response on a new connection")
                break
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            try:
                while len(body) < length:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    body += chunk
            except OSError as e:
                tally["failures"].append(f"body: {e}")
                s.close()
                break
            if head.startswith(b"HTTP/1.1 200 ") and len(body) == length:
                tally["ok"] += 1
                if keep_alive and b"connection: close" not in head.lower():
                    conn = s
                else:
                    s.close()
            else:
                tally["failures"].append(f"incomplete: {head[:40]!r} {len(body)}/{length}")
                s.close()
            break
    if conn is not None:
        conn.close()


def test_reload_under_load_loses_no_request():
    reloads = 3
    proc, port = start("apps.hello:app", "--workers", "2", "--port", "0")
    stop_flag = threading.Event()
    tallies = [{"ok": 0, "retried": 0, "failures": []} for _ in range(4)]
    threads = [
        threading.Thread(target=client, args=(port, ka, stop_flag, t), daemon=True)
        for ka, t in zip([True, True, False, False], tallies)
    ]
    try:
        generations = [wait_until("two workers",
                                  lambda: len(children_of(proc.pid)) == 2 and
                                  children_of(proc.pid))]
        for t in threads:
            t.start()
        for i in range(1, reloads + 1):
            time.sleep(0.4)
            proc.send_signal(signal.SIGHUP)
            wait_until("reload complete", lambda: log(proc).count("reload complete") >= i,
                       timeout=TIMEOUT * 2)
            generations.append(wait_until(
                "two workers", lambda: len(children_of(proc.pid)) == 2 and
                children_of(proc.pid)))
        time.sleep(0.4)
    finally:
        stop_flag.set()
        for t in threads:
            t.join(TIMEOUT * 2)
        code, err = stop(proc)
    ok = sum(t["ok"] for t in tallies)
    retried = sum(t["retried"] for t in tallies)
    failures = [f for t in tallies for f in t["failures"]]
    print(f"{reloads} reloads: {ok} responses complete, {retried} keep-alive retries, "
          f"{len(failures)} failures")
    assert not failures, failures[:10]
    assert ok > 200, ok
    for before, after in zip(generations, generations[1:]):
        assert before.isdisjoint(after), generations
    assert code == 0, err


def test_sigquit_stops_at_once_and_sigint_gracefully():
    proc, port = start("apps.hello:app", "--workers", "2", "--port", "0")
    request(port)
    proc.send_signal(signal.SIGQUIT)
    assert proc.wait(TIMEOUT) == 0
    proc.errfile.seek(0)
    assert "SIGQUIT" in proc.errfile.read()
    proc, port = start("apps.hello:app", "--workers", "2", "--port", "0")
    request(port)
    workers = children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    # The supervisor waited for its workers before it exited.
    assert workers and not any(os.path.exists(f"/proc/{w}") for w in workers)
    proc.errfile.seek(0)
    err = proc.errfile.read()
    assert "graceful stop" in err and "Traceback" not in err, err


def test_unix_socket_pid_file_and_environment(tmp_path):
    """``--bind unix:PATH`` with two workers (both reachable on the one socket), ``--pid``
    written and removed, options from ``PYSERVE_*`` variables."""
    path = tmp_path / "app.sock"
    pidfile = tmp_path / "pyserve.pid"
    env = dict(os.environ, PYSERVE_WORKERS="2", PYSERVE_PID=str(pidfile),
               PYSERVE_UNIX_MODE="660")
    errfile = open(tmp_path / "err.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyserve", "apps.hello:pid", "--bind", f"unix:{path}"],
        cwd=HERE, stdout=subprocess.PIPE, stderr=errfile, text=True, env=env,
    )
    proc.errfile = errfile
    try:
        line = proc.stdout.readline()
        assert line == f"Serving HTTP on {path} ...\n", (line, log(proc))
        assert int(pidfile.read_text()) == proc.pid
        assert oct(path.stat().st_mode & 0o777) == "0o660"
        pids = set()
        deadline = time.monotonic() + TIMEOUT
        while len(pids) < 2 and time.monotonic() < deadline:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(TIMEOUT)
            s.connect(str(path))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            s.close()
            assert data.startswith(b"HTTP/1.1 200 "), data
            pids.add(int(data.split(b"\r\n\r\n")[1].split()[0]))
        assert len(pids) == 2, pids
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert not pidfile.exists()
    assert not path.exists()


@pytest.mark.parametrize("args,env,message", [
    (["--workers", "0"], {}, "argument --workers: must be at least 1: 0"),
    (["--workers", "2", "--max-requests", "0"], {}, "argument --max-requests"),
    (["--workers", "2", "--worker-timeout", "0.1"], {}, "argument --worker-timeout"),
    (["--workers", "2", "--bind", "localhost"], {}, "invalid bind address 'localhost'"),
    ([], {"PYSERVE_PORT": "eighty"}, "argument --port (from PYSERVE_PORT)"),
    ([], {"PYSERVE_FAITHFUL": "maybe"}, "argument --faithful (from PYSERVE_FAITHFUL)"),
])
def test_invalid_configuration_is_refused_before_listening(args, env, message):
    out = subprocess.run(
        [sys.executable, "-m", "pyserve", "apps.hello:app", *args],
        cwd=HERE, capture_output=True, text=True, timeout=TIMEOUT,
        env=dict(os.environ, **env),
    )
    assert out.returncode in (1, 2), out
    assert message in out.stderr, out.stderr
    assert "Serving HTTP" not in out.stdout


def test_a_busy_port_names_the_address():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pyserve", "apps.hello:app", "--workers", "2",
             "--port", str(port)],
            cwd=HERE, capture_output=True, text=True, timeout=TIMEOUT,
        )
    finally:
        holder.close()
    assert out.returncode == 1, out
    assert f"Address already in use: '127.0.0.1:{port}'" in out.stderr, out.stderr


def test_help_names_the_environment_variables():
    out = subprocess.run([sys.executable, "-m", "pyserve", "--help"], cwd=HERE,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for name in ("PYSERVE_WORKERS", "PYSERVE_BIND", "PYSERVE_MAX_REQUESTS",
                 "PYSERVE_WORKER_TIMEOUT", "PYSERVE_PID"):
        assert f"[env: {name}]" in text, name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read().decode()
    finally:
        conn.close()


def test_metrics_and_access_logfile_with_workers(tmp_path):
    """``--metrics-bind`` (the supervisor sums its workers' counts, scraped by a real
    client) and ``--access-logfile`` (buffered, flushed within a second, reopened on
    SIGUSR1 after a logrotate-style move)."""
    mport = free_port()
    logfile = tmp_path / "access.log"
    proc, port = start("apps.hello:app", "--workers", "2", "--port", "0",
                       "--metrics-bind", f"127.0.0.1:{mport}",
                       "--access-logfile", str(logfile))
    try:
        for _ in range(10):
            assert request(port, path="/counted")[1] == b"Hello world!\n"
        wanted = 'pyserve_http_requests_total{method="GET",status="2xx"} 10\n'
        text = wait_until("the summed metrics", lambda: (t := scrape(mport)) and wanted in t
                          and t)
        assert "pyserve_workers 2\n" in text, text
        assert "pyserve_http_request_duration_seconds_count 10\n" in text, text
        lines = wait_until("the access lines", lambda: logfile.exists() and [
            l for l in logfile.read_text().splitlines() if "GET /counted" in l])
        assert len(lines) == 10, lines
        rotated = tmp_path / "access.log.1"
        logfile.rename(rotated)
        proc.send_signal(signal.SIGUSR1)
        # The supervisor and both workers reopen, each saying so in the new file.
        wait_until("three reopenings", lambda: logfile.exists() and
                   logfile.read_text().count("access log reopened") == 3)
        for _ in range(4):
            request(port, path="/after-rotation")
        wait_until("a line in the new file",
                   lambda: "GET /after-rotation" in logfile.read_text())
        wait_until("every line in the new file",
                   lambda: logfile.read_text().count("GET /after-rotation") == 4)
        assert "after-rotation" not in rotated.read_text()
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_metrics_single_process():
    mport = free_port()
    proc, port = start("apps.hello:app", "--port", "0", "--metrics-bind", f"127.0.0.1:{mport}")
    try:
        for _ in range(3):
            request(port)
        text = scrape(mport)
        assert 'pyserve_http_requests_total{method="GET",status="2xx"} 3\n' in text, text
        assert "pyserve_connections_open" in text
    finally:
        code, err = stop(proc)
    assert code == 0, err


RELOAD_APP = """
import os

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s %d" % (VERSION, os.getpid())]
"""


def test_a_reload_that_fails_keeps_the_previous_workers(tmp_path):
    """A deploy that breaks the import: SIGHUP starts new workers, they crash in a loop,
    and the supervisor goes back to the workers it had (as nginx does), which never stopped
    serving; the next good reload goes through."""
    module = tmp_path / "reloaded.py"
    module.write_text('VERSION = b"one"\n' + RELOAD_APP)
    proc, port = start("reloaded:app", "--workers", "2", "--port", "0", cwd=str(tmp_path))

    def answer():
        resp, body = request(port)
        assert resp.status == 200
        version, pid = body.split()
        return version, int(pid)

    try:
        wait_until("two workers", lambda: len(children_of(proc.pid)) == 2)
        first = children_of(proc.pid)
        module.write_text('raise RuntimeError("a broken deploy")\n' + RELOAD_APP)
        proc.send_signal(signal.SIGHUP)
        served = set()
        deadline = time.monotonic() + TIMEOUT
        while "reload failed" not in log(proc):
            assert time.monotonic() < deadline, log(proc)
            version, pid = answer()
            assert version == b"one" and pid in first
            served.add(pid)
        assert "new workers died within" in log(proc)
        assert "the previous workers keep serving" in log(proc)
        assert "a broken deploy" in log(proc)
        # The old generation still serves, and nothing is being restarted.
        assert wait_until("only the old workers", lambda: children_of(proc.pid) == first)
        for _ in range(20):
            version, pid = answer()
            assert version == b"one" and pid in first
        module.write_text('VERSION = b"two!"\n' + RELOAD_APP)
        proc.send_signal(signal.SIGHUP)
        wait_until("reload complete", lambda: "reload complete" in log(proc))
        version, pid = answer()
        assert version == b"two!" and pid not in first
        assert proc.poll() is None
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_reload_on_change_keeps_the_last_good_code(tmp_path):
    """``--reload``: saving a watched file reloads the worker; a save that breaks the
    import leaves the last good code serving until the next good save."""
    module = tmp_path / "devapp.py"
    module.write_text('VERSION = b"one"\n' + RELOAD_APP)
    (tmp_path / ".hidden").mkdir()
    proc, port = start("devapp:app", "--reload", "--port", "0", cwd=str(tmp_path))

    def version():
        resp, body = request(port)
        assert resp.status == 200
        return body.split()[0]

    try:
        assert version() == b"one"
        assert "watching the Python files under" in log(proc)
        # Files outside what is watched change nothing.
        (tmp_path / ".hidden" / "x.py").write_text("x = 1\n")
        (tmp_path / "notes.txt").write_text("not Python\n")
        time.sleep(2.5)
        assert "reloading" not in log(proc)
        module.write_text('VERSION = b"two!"\n' + RELOAD_APP)
        # The old worker answers until the new one serves and it has drained.
        wait_until("reload complete", lambda: log(proc).count("reload complete") == 1)
        assert version() == b"two!"
        assert "devapp.py changed: reloading" in log(proc)
        module.write_text("def broken(:\n" + RELOAD_APP)
        deadline = time.monotonic() + TIMEOUT
        while "reload failed" not in log(proc):
            assert time.monotonic() < deadline, log(proc)
            assert version() == b"two!"
        assert "SyntaxError" in log(proc)
        assert version() == b"two!"
        module.write_text('VERSION = b"three"\n' + RELOAD_APP)
        wait_until("reload complete", lambda: log(proc).count("reload complete") == 2)
        assert version() == b"three"
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_reload_dir_from_the_environment_and_refusals(tmp_path):
    from pyserve.cli import parse_args

    _, args = parse_args(["m:app", "--reload"], {"PYSERVE_RELOAD_DIR": "/a:/b c"})
    assert args.reload_dir == ["/a", "/b c"]
    _, args = parse_args(["m:app", "--reload-dir", "/x"], {"PYSERVE_RELOAD_DIR": "/a"})
    assert args.reload_dir == ["/x"]
    for extra, message in [(["--reload-dir", "/x"], "--reload-dir needs --reload"),
                           (["--reload", "--faithful"], "--reload needs the production face")]:
        done = subprocess.run([sys.executable, "-m", "pyserve", "apps.hello:app", *extra],
                              capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE)
        assert done.returncode == 2
        assert message in done.stderr, done.stderr
