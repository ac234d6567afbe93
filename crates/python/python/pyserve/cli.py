"""The ``pyserve`` command: ``pyserve [OPTIONS] MODULE:APP``.

Options are named as those of this project's ``demo`` binary (``--host``, ``--port``,
``--workers``, ``--threads``, ``--faithful``, ``--unix``, ``--access-log``,
``--trusted-proxy``, limits and timeouts), plus gunicorn's ``--factory`` and ``--chdir``.
"""

import argparse
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading

WORKER_ENV = "PYSERVE_WORKER"


def parser():
    p = argparse.ArgumentParser(
        prog="pyserve",
        description="Serve a Python WSGI application on the Rust core.",
    )
    p.add_argument("app", metavar="MODULE:APP",
                   help="the application: pkg.module:name, pkg.module:create_app() (called), "
                        "or pkg.module:create_app with --factory")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind; empty means every IPv4 interface (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes sharing the port with SO_REUSEPORT, each with its own interpreter")
    p.add_argument("--threads", type=int, default=None,
                   help="event loops per process (default: 1; Python runs one thread at a time)")
    p.add_argument("--faithful", action="store_true",
                   help="CPython's wsgiref.simple_server exactly: one thread, HTTP/1.0")
    p.add_argument("--once", action="store_true",
                   help="serve one request with handle_request(), then exit")
    p.add_argument("--unix", metavar="PATH", default=None,
                   help="serve on a Unix domain socket at PATH instead of TCP")
    p.add_argument("--access-log", default="python",
                   choices=["python", "common", "combined", "json"],
                   help="access log format on stderr (default: python)")
    p.add_argument("--trusted-proxy", default=None, metavar="ADDR[,ADDR|CIDR...]",
                   help="trust X-Forwarded-For and X-Forwarded-Proto from these peers")
    p.add_argument("--proxy-hops", type=int, default=1,
                   help="proxies in front of the server: X-Forwarded-For entries to walk back (default: 1)")
    p.add_argument("--max-blocking", type=int, default=None,
                   help="most threads blocked in handlers at once beyond the loops")
    p.add_argument("--max-connections", type=int, default=None,
                   help="most open connections; accepting pauses at the cap")
    p.add_argument("--max-body", type=int, default=32 << 20,
                   help="largest request body in bytes (default: 33554432)")
    p.add_argument("--request-timeout", type=float, default=30,
                   help="seconds a whole request may take to arrive (default: 30)")
    p.add_argument("--idle-timeout", type=float, default=60,
                   help="seconds an idle keep-alive connection is kept (default: 60)")
    p.add_argument("--shutdown-timeout", type=float, default=30,
                   help="seconds a graceful shutdown waits for requests in flight (default: 30)")
    p.add_argument("--factory", action="store_true",
                   help="APP is a factory: call it (with no arguments) to get the application")
    p.add_argument("--chdir", metavar="DIR", default=None,
                   help="change to DIR before importing the application")
    return p


def load_app(spec, factory=False):
    """Imports ``module:attr`` (``attr`` may be dotted, or a call ``name()``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        attr = "application"
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    if factory or call:
        obj = obj()
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    return obj


def banner(host, port):
    print(f"Serving HTTP on {host} port {port} ...", flush=True)


def supervise(args, argv):
    """``--workers N``: N copies of this command, each binding the port with SO_REUSEPORT;
    SIGINT/SIGTERM are passed on for a graceful stop."""
    port = args.port
    host = args.host or "0.0.0.0"
    if port == 0 and args.unix is None:
        # One port for every worker: pick it here, in the SO_REUSEPORT group they join.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        probe = socket.socket(family, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    else:
        probe = None
    rest = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--workers", "--port"):
            skip = True
            continue
        if a.startswith("--workers=") or a.startswith("--port="):
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "pyserve", *rest, "--port", str(port)]
    children = []
    for i in range(args.workers):
        env = dict(os.environ, **{WORKER_ENV: str(i)})
        children.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
    # Each worker prints its banner once it listens: wait for all before announcing.
    for child in children:
        child.stdout.readline()
        threading.Thread(target=child.stdout.read, daemon=True).start()
    if probe is not None:
        probe.close()
    banner(host, port)

    def forward(signum, frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    failed = False
    for child in children:
        failed |= child.wait() != 0
    return 1 if failed else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    from . import _core, serve
    from .simple_server import make_server

    _core.install_log(args.access_log)
    if args.workers is not None and args.workers > 1:
        if args.faithful or args.once:
            parser().error("--workers needs the production face (without --faithful/--once)")
        return supervise(args, argv)
    if args.chdir:
        os.chdir(args.chdir)
        sys.path.insert(0, os.getcwd())
    app = load_app(args.app, args.factory)
    if args.faithful or args.once:
        httpd = make_server(args.host, args.port, app)
        host, port = httpd.server_address[:2]
        banner(host, port)
        with httpd:
            if args.once:
                httpd.handle_request()
            else:
                try:
                    httpd.serve_forever()
                except KeyboardInterrupt:
                    pass
        return 0

    def ready(server):
        addr = server.server_address
        if isinstance(addr, tuple):
            banner(addr[0], addr[1])
        else:
            print(f"Serving HTTP on {addr} ...", flush=True)

    options = dict(
        unix=args.unix,
        max_blocking=args.max_blocking,
        max_connections=args.max_connections,
        max_body=args.max_body,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
        shutdown_timeout=args.shutdown_timeout,
        trusted_proxy=args.trusted_proxy,
        proxy_hops=args.proxy_hops,
        multiprocess=WORKER_ENV in os.environ,
    )
    if args.threads is not None:
        options["threads"] = args.threads
    serve(app, args.host, args.port, ready=ready, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
