"""The ``pyserve`` command: ``pyserve [OPTIONS] MODULE:APP``.

Options are named as those of this project's ``demo`` binary (``--host``, ``--port``,
``--bind``, ``--workers``, ``--max-requests``, ``--worker-timeout``, ``--threads``,
``--faithful``, ``--unix``, ``--access-log``, ``--trusted-proxy``, ``--proxy-protocol``,
``--tls-cert``, ``--pid``, limits and timeouts), plus gunicorn's ``--factory``, ``--chdir``
and ``--reload``; each may also be set with its
``PYSERVE_*`` environment variable, the command line winning.
"""

import argparse
import importlib
import os
import signal
import sys
import threading
import time

ENV_PREFIX = "PYSERVE_"


def static_mount(text):
    """``--static``: ``PREFIX=DIR`` (``/static=./static``)."""
    prefix, sep, directory = text.partition("=")
    if not sep or not prefix.startswith("/") or not directory:
        raise argparse.ArgumentTypeError(f"{text!r} is not PREFIX=DIR (e.g. /static=./static)")
    return prefix, directory


def octal(text):
    """``--unix-mode``: permission bits in octal (``660``, ``0o660``)."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode") from None
    if not 0 <= mode <= 0o7777:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return mode


def env_name(option):
    """The environment variable of ``--option`` (``--max-body``: ``PYSERVE_MAX_BODY``)."""
    return ENV_PREFIX + option.lstrip("-").upper().replace("-", "_")


def parser():
    p = argparse.ArgumentParser(
        prog="pyserve",
        # `--por 9000` must not pass for `--port` (the environment variable would win over
        # it: only options spelled out count as given).
        allow_abbrev=False,
        description="Serve a Python WSGI application on the Rust core.",
        epilog="Every option may also be set with its environment variable (shown in "
               "brackets); an option given on the command line wins.",
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"pyserve {__version__}")
    p.add_argument("app", metavar="MODULE:APP",
                   help="the application: pkg.module:name, pkg.module:create_app() (called), "
                        "or pkg.module:create_app with --factory")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind; empty means every IPv4 interface (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    p.add_argument("--bind", action="append", metavar="ADDRESS", default=None,
                   help="listen on HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N instead of "
                        "--host/--port/--unix; repeat for several (the variable holds "
                        "addresses separated by spaces)")
    p.add_argument("--unix-mode", type=octal, metavar="MODE", default=None,
                   help="permission bits of the Unix sockets bound with --bind (octal, e.g. 660)")
    p.add_argument("--backlog", type=int, default=1024,
                   help="the listen() backlog (default: 1024)")
    p.add_argument("--reuse-port", action="store_true",
                   help="let other processes bind the TCP port too (SO_REUSEPORT); without it a "
                        "port in use is an error")
    p.add_argument("--pid", metavar="FILE", default=None,
                   help="write the process id (the supervisor's with --workers) to FILE")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes, each with its own interpreter, under a supervisor "
                        "that binds once and replaces them; SIGHUP reloads them gracefully, "
                        "SIGTTIN/SIGTTOU add or remove one")
    p.add_argument("--max-requests", type=int, default=None,
                   help="requests after which a worker is replaced, gracefully (with --workers)")
    p.add_argument("--max-requests-jitter", type=int, default=0,
                   help="up to this many more requests per worker, drawn at random (default: 0)")
    p.add_argument("--worker-timeout", type=float, default=30,
                   help="seconds a worker may miss its heartbeat before it is killed and "
                        "replaced (with --workers); 0: no heartbeat (default: 30)")
    p.add_argument("--threads", type=int, default=None,
                   help="event loops per process (default: 1; Python runs one thread at a time)")
    p.add_argument("--faithful", action="store_true",
                   help="CPython's wsgiref.simple_server exactly: one thread, HTTP/1.0")
    p.add_argument("--once", action="store_true",
                   help="serve one request with handle_request(), then exit")
    p.add_argument("--unix", metavar="PATH", default=None,
                   help="serve on a Unix domain socket at PATH instead of TCP")
    p.add_argument("--access-log", default="python",
                   choices=["python", "common", "combined", "json", "off"],
                   help="access log format on stderr, or off (default: python)")
    p.add_argument("--access-logfile", metavar="PATH", default=None,
                   help="write the access log to this file, buffered (`-`: stderr); reopened "
                        "on SIGUSR1")
    p.add_argument("--access-logformat", metavar="FORMAT", default=None,
                   help="the access log line in gunicorn's atoms, e.g. "
                        "'%%(h)s %%(l)s %%(u)s %%(t)s \"%%(r)s\" %%(s)s %%(b)s %%(D)s'")
    p.add_argument("--metrics-bind", metavar="ADDR", default=None,
                   help="serve Prometheus metrics at http://ADDR/metrics (its own listener; "
                        "summed over the workers with --workers)")
    p.add_argument("--trusted-proxy", default=None, metavar="ADDR[,ADDR|CIDR...]",
                   help="trust X-Forwarded-For and X-Forwarded-Proto from these peers")
    p.add_argument("--proxy-hops", type=int, default=1,
                   help="proxies in front of the server: X-Forwarded-For entries to walk back (default: 1)")
    p.add_argument("--proxy-protocol", action="store_true",
                   help="expect a PROXY protocol header (v1 or v2, as HAProxy sends) on every "
                        "connection; the client address it names becomes REMOTE_ADDR")
    p.add_argument("--tls-cert", metavar="PATH", default=None,
                   help="serve HTTPS with this certificate chain (PEM; production face)")
    p.add_argument("--tls-key", metavar="PATH", default=None,
                   help="the TLS private key (PEM: PKCS#8, PKCS#1, SEC1 or encrypted PKCS#8; "
                        "default: in the certificate file)")
    p.add_argument("--tls-password-file", metavar="PATH", default=None,
                   help="a file holding the password of an encrypted TLS key")
    p.add_argument("--max-blocking", type=int, default=None,
                   help="most threads blocked in handlers at once beyond the loops")
    p.add_argument("--max-connections", type=int, default=None,
                   help="most open connections; accepting pauses at the cap")
    p.add_argument("--max-body", type=int, default=32 << 20,
                   help="largest request body in bytes (default: 33554432)")
    p.add_argument("--max-line", type=int, default=65536,
                   help="longest request line (longer: 414) or header line (longer: 431) in "
                        "bytes (default: 65536)")
    p.add_argument("--max-headers", type=int, default=100,
                   help="most lines of a request's header block, its closing blank line "
                        "included, as CPython counts them (default: 100, so 99 fields); "
                        "more: 431")
    p.add_argument("--request-timeout", type=float, default=30,
                   help="seconds a whole request may take to arrive (default: 30)")
    p.add_argument("--idle-timeout", type=float, default=60,
                   help="seconds an idle keep-alive connection is kept (default: 60)")
    p.add_argument("--shutdown-timeout", type=float, default=30,
                   help="seconds a graceful shutdown waits for requests in flight (default: 30)")
    p.add_argument("--static", action="append", type=static_mount, metavar="PREFIX=DIR",
                   default=None,
                   help="serve the files under DIR at PREFIX (/static=./static) from Rust, "
                        "without the application: GET and HEAD, no directory listing; repeat "
                        "for several (the variable holds mounts separated by spaces)")
    p.add_argument("--reload", action="store_true",
                   help="development: watch the Python files under the working directory (or "
                        "--reload-dir) and reload the workers when one changes; a change that "
                        "breaks the import keeps the last good code serving")
    p.add_argument("--reload-dir", action="append", metavar="DIR", default=None,
                   help="with --reload, watch this directory instead; repeat for several (the "
                        "variable holds directories separated by ':')")
    p.add_argument("--factory", action="store_true",
                   help="APP is a factory: call it (with no arguments) to get the application")
    p.add_argument("--chdir", metavar="DIR", default=None,
                   help="change to DIR before importing the application")
    for action in p._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            action.help = f"{action.help} [env: {env_name(action.option_strings[-1])}]"
    return p


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


def parse_args(argv, environ=None):
    """Parses ``argv``, then takes each option not given from its ``PYSERVE_*`` variable
    (as ``demo`` does): flags win over the environment. A bad value names the option and
    the variable."""
    environ = os.environ if environ is None else environ
    p = parser()
    args = p.parse_args(argv)
    given = set()
    for a in argv:
        if a == "--":
            break
        if a.startswith("--"):
            given.add(a.split("=", 1)[0])
    for action in p._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        option = action.option_strings[-1]
        name = env_name(option)
        if option in given or name not in environ:
            continue
        text = environ[name]

        def bad(reason):
            p.error(f"argument {option} (from {name}): {reason}: {text!r}")

        if isinstance(action, argparse._StoreTrueAction):
            if text.lower() in TRUE:
                setattr(args, action.dest, True)
            elif text.lower() not in FALSE:
                bad("expected 1, true, yes, on, 0, false, no or off")
            continue
        if action.dest in ("bind", "static"):
            values = text.split()
        elif action.dest == "reload_dir":
            values = [v for v in text.split(os.pathsep) if v]
        else:
            values = [text]
        converted = []
        for v in values:
            try:
                v = action.type(v) if action.type else v
            except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
                bad(str(e) or "invalid value")
            if action.choices is not None and v not in action.choices:
                bad(f"choose from {', '.join(map(str, action.choices))}")
            converted.append(v)
        many = isinstance(action, argparse._AppendAction)
        setattr(args, action.dest, converted if many else converted[0])
    return p, args


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


def banner(host, port, scheme="HTTP"):
    print(f"Serving {scheme} on {host} port {port} ...", flush=True)


def print_banners(addresses, scheme="HTTP"):
    for addr in addresses:
        if isinstance(addr, tuple):
            banner(addr[0], addr[1], scheme)
        else:
            print(f"Serving {scheme} on {addr} ...", flush=True)


def bind_addresses(args):
    """The addresses the supervisor binds: ``--bind``, else ``--unix``, else
    ``--host``/``--port``."""
    if args.bind:
        return list(args.bind)
    if args.unix is not None:
        return [f"unix:{args.unix}"]
    host = args.host or "0.0.0.0"
    return [f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"]


#: Directories ``--reload`` never looks into (besides hidden ones and virtualenvs).
SKIP_DIRS = frozenset(("__pycache__", "node_modules", "site-packages"))


def python_files(dirs):
    """The modification times of the ``.py`` files under ``dirs``: what ``--reload``
    compares every second (hidden directories, ``__pycache__`` and virtualenvs left out)."""
    seen = {}
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [
                d for d in subdirs
                if not d.startswith(".") and d not in SKIP_DIRS
                and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
            ]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    try:
                        seen[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        pass
    return seen


def watch(dirs, interval=1.0):
    """``--reload``: a daemon thread that sends this process (the supervisor) SIGHUP, its
    graceful reload, when a watched file changes, appears or goes away."""
    def run():
        before = python_files(dirs)
        while True:
            time.sleep(interval)
            now = python_files(dirs)
            if now != before:
                changed = sorted(p for p in now.keys() | before.keys()
                                 if now.get(p) != before.get(p))
                print(f"pyserve: {changed[0]} changed"
                      + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
                      + ": reloading", file=sys.stderr, flush=True)
                before = now
                os.kill(os.getpid(), signal.SIGHUP)

    threading.Thread(target=run, name="pyserve-reload", daemon=True).start()


def supervise(args, argv):
    """``--workers N``: the supervisor ``demo --workers`` runs (``_core.supervise``) binds
    every address once and runs N copies of this command as its workers, with the
    sockets inherited; it returns on SIGTERM/SIGINT/SIGQUIT once the workers are gone."""
    from . import _core

    # The supervisor answers SIGINT itself: no KeyboardInterrupt in this process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if args.reload:
        dirs = args.reload_dir or [args.chdir or os.getcwd()]
        print(f"pyserve: watching the Python files under {', '.join(dirs)}",
              file=sys.stderr, flush=True)
        watch(dirs)
    try:
        _core.supervise(
            [sys.executable, "-m", "pyserve", *argv],
            args.workers or 1,
            bind_addresses(args),
            backlog=args.backlog,
            unix_mode=args.unix_mode,
            reuse_port=args.reuse_port,
            max_requests=args.max_requests,
            max_requests_jitter=args.max_requests_jitter,
            worker_timeout=args.worker_timeout or None,
            # The workers' own grace period, and some time to exit after it.
            graceful_timeout=args.shutdown_timeout + 5,
            pid=args.pid,
            ready=lambda addresses: print_banners(addresses, scheme(args)),
            metrics_bind=args.metrics_bind,
        )
    except (OSError, ValueError, RuntimeError) as e:
        print(f"pyserve: error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def scheme(args):
    """The banner's protocol name: ``HTTPS`` with ``--tls-cert`` (as ``demo``)."""
    return "HTTPS" if args.tls_cert else "HTTP"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p, args = parse_args(argv)
    if args.tls_cert is None and (args.tls_key or args.tls_password_file):
        p.error("--tls-key and --tls-password-file need --tls-cert")
    if args.faithful or args.once:
        for given, option in ((args.tls_cert, "--tls-cert"),
                              (args.proxy_protocol, "--proxy-protocol"),
                              (args.static, "--static")):
            if given:
                p.error(f"{option} needs the production face (without --faithful/--once)")
    from . import _core, serve
    from .simple_server import make_server

    try:
        _core.install_log(args.access_log, logfile=args.access_logfile,
                          logformat=args.access_logformat)
    except ValueError as e:
        p.error(str(e))
    except OSError as e:
        print(f"pyserve: error: {e}", file=sys.stderr, flush=True)
        return 1
    worker = _core.is_worker()
    if args.reload_dir and not args.reload:
        p.error("--reload-dir needs --reload")
    if (args.workers is not None or args.reload) and not worker:
        if args.faithful or args.once:
            option = "--workers" if args.workers is not None else "--reload"
            p.error(f"{option} needs the production face (without --faithful/--once)")
        if args.workers is not None and args.workers < 1:
            p.error(f"argument --workers: must be at least 1: {args.workers}")
        if args.max_requests is not None and args.max_requests < 1:
            p.error(f"argument --max-requests: must be at least 1: {args.max_requests}")
        if args.max_requests_jitter < 0:
            p.error(f"argument --max-requests-jitter: must not be negative: "
                    f"{args.max_requests_jitter}")
        if args.worker_timeout and not args.worker_timeout >= 0.2:
            p.error(f"argument --worker-timeout: must be 0 (no heartbeat) or at least 0.2: "
                    f"{args.worker_timeout:g}")
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
        # A supervised worker stays quiet: the supervisor prints once every worker serves.
        if not worker:
            print_banners(server.server_addresses, scheme(args))

    if worker:
        # SIGHUP is the supervisor's reload signal (a terminal's hang-up sends it to the
        # whole group): it does not stop a worker.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # SIGUSR1 (the supervisor passes it on) reopens the access log file, for logrotate.
    signal.signal(signal.SIGUSR1, lambda signum, frame: _core.reopen_logs())
    options = dict(
        unix=args.unix,
        bind=args.bind,
        backlog=args.backlog,
        unix_mode=args.unix_mode,
        reuse_port=args.reuse_port,
        pid=None if worker else args.pid,
        max_blocking=args.max_blocking,
        max_connections=args.max_connections,
        max_body=args.max_body,
        max_line=args.max_line,
        max_headers=args.max_headers,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
        shutdown_timeout=args.shutdown_timeout,
        trusted_proxy=args.trusted_proxy,
        proxy_hops=args.proxy_hops,
        multiprocess=worker and (args.workers or 1) > 1,
        metrics_bind=args.metrics_bind,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_password_file=args.tls_password_file,
        proxy_protocol=args.proxy_protocol,
        static_dirs=args.static,
    )
    if args.threads is not None:
        options["threads"] = args.threads
    try:
        serve(app, args.host, args.port, ready=ready, **options)
    except (OSError, ValueError) as e:
        print(f"pyserve: error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
