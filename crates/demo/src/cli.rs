//! The command line of `demo` (a contract other people script against: keep it stable).
//!
//! Parsed with `lexopt` (no dependencies) by the pure [`parse_with_env`], which mirrors what
//! the former clap parser accepted: `--flag value` and `--flag=value`, each option at most
//! once (but `--bind`), a value that looks like an option (`--host --port`) is a missing
//! value, `-h`/`--help` and `-V`/`--version`, and usage errors worded as clap's (the binary
//! exits with status 2). Each option not given is then read from its `PYSERVE_*` variable.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::PathBuf;

use gateway::proxy::TrustedProxies;
use http_server::logging::AccessLogFormat;

/// The access log format (`--access-log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessLog {
    /// CPython's `log_message` line (`127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`).
    Python,
    /// Apache's common log format.
    Common,
    /// Apache's combined log format (common, then referer and user agent).
    Combined,
    /// One JSON object per line, for every event.
    Json,
    /// No access lines (other events as `LEVEL: message`).
    Off,
}

impl From<AccessLog> for AccessLogFormat {
    fn from(a: AccessLog) -> Self {
        match a {
            AccessLog::Python => AccessLogFormat::Python,
            AccessLog::Common => AccessLogFormat::Common,
            AccessLog::Combined => AccessLogFormat::Combined,
            AccessLog::Json => AccessLogFormat::Json,
            AccessLog::Off => AccessLogFormat::Off,
        }
    }
}

/// The values of `--access-log`: (spelling, value, help).
const ACCESS_LOGS: &[(&str, AccessLog, &str)] = &[
    (
        "python",
        AccessLog::Python,
        "CPython's `log_message` line (`127.0.0.1 - - [24/Nov/2026 10:00:00] \"GET / HTTP/1.1\" 200 13`)",
    ),
    ("common", AccessLog::Common, "Apache's common log format"),
    (
        "combined",
        AccessLog::Combined,
        "Apache's combined log format (common, then referer and user agent)",
    ),
    (
        "json",
        AccessLog::Json,
        "One JSON object per line, for every event",
    ),
    (
        "off",
        AccessLog::Off,
        "No access lines (warnings and errors still logged)",
    ),
];

/// Which WSGI application to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppKind {
    /// `wsgiref.simple_server.demo_app`: `Hello world!` and the sorted environ.
    Demo,
    /// `Hello world!\n`, for benchmarks.
    Hello,
    /// GET streams `?size=N` bytes (default 1 MiB) with no length (chunked under
    /// HTTP/1.1); other methods answer the body's length and FNV-1a hash. For proxy tests.
    Stream,
}

/// The values of `--app`: (spelling, value, help).
const APPS: &[(&str, AppKind, &str)] = &[
    (
        "demo",
        AppKind::Demo,
        "`wsgiref.simple_server.demo_app`: `Hello world!` and the sorted environ",
    ),
    ("hello", AppKind::Hello, "`Hello world!\\n`, for benchmarks"),
    (
        "stream",
        AppKind::Stream,
        "GET streams `?size=N` bytes (default 1 MiB) with no length (chunked under HTTP/1.1); \
         other methods answer the body's length and FNV-1a hash. For proxy tests",
    ),
];

/// Serve the seed's `demo_app` (Python: `make_server('', 8782, demo_app)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    /// Address to bind; empty means every IPv4 interface (Python's `''`).
    pub(crate) host: String,
    /// Port to bind (the seed's 8782).
    pub(crate) port: u16,
    /// Event loops (production face); default: one per core.
    pub(crate) threads: Option<usize>,
    /// CPython's behaviour exactly: make_server + serve_forever, one thread, HTTP/1.0.
    pub(crate) faithful: bool,
    /// Serve one request with handle_request(), then exit (as the seed does).
    pub(crate) once: bool,
    /// Open the default browser at http://localhost:PORT/xyz?abc (the seed's webbrowser.open).
    pub(crate) open: bool,
    /// The application: demo, hello or stream.
    pub(crate) app: AppKind,
    /// Most threads blocked in handlers at once beyond the loops (production face).
    pub(crate) max_blocking: Option<usize>,
    /// Most open connections; accepting pauses at the cap (production face).
    pub(crate) max_connections: Option<usize>,
    /// Largest request body in bytes (production face).
    pub(crate) max_body: u64,
    /// Longest request line or header line in bytes (production face; CPython's `_MAXLINE`).
    pub(crate) max_line: usize,
    /// Most lines of a request's header block, its closing blank line included (production
    /// face; CPython's `_MAXHEADERS`, which lets 99 fields through).
    pub(crate) max_headers: usize,
    /// Seconds a whole request may take to arrive (production face).
    pub(crate) request_timeout: u64,
    /// Seconds an idle keep-alive connection is kept (production face).
    pub(crate) idle_timeout: u64,
    /// Seconds a graceful shutdown waits for requests in flight (production face).
    pub(crate) shutdown_timeout: u64,
    /// Worker processes under a supervisor that binds once and respawns them (production
    /// face).
    pub(crate) workers: Option<usize>,
    /// Requests after which a worker is replaced (with --workers).
    pub(crate) max_requests: Option<u64>,
    /// Up to this many more requests per worker, drawn at random (with --max-requests).
    pub(crate) max_requests_jitter: u64,
    /// Seconds a worker may miss its heartbeat before it is killed and replaced (with
    /// --workers); 0 turns the heartbeat off.
    pub(crate) worker_timeout: u64,
    /// Serve on a Unix domain socket at PATH instead of TCP (production face).
    pub(crate) unix: Option<PathBuf>,
    /// Trust X-Forwarded-For and X-Forwarded-Proto from these peers: addresses, CIDR
    /// networks, and `unix` for Unix-socket peers (`127.0.0.1,10.0.0.0/8,unix`).
    pub(crate) trusted_proxy: Option<TrustedProxies>,
    /// Proxies in front of the server: how many X-Forwarded-For entries to walk back.
    pub(crate) proxy_hops: usize,
    /// Access log format on stderr.
    pub(crate) access_log: AccessLog,
    /// Every connection opens with a PROXY protocol v1 or v2 header (HAProxy, nginx
    /// `proxy_protocol on`); its client address is used (production face).
    pub(crate) proxy_protocol: bool,
    /// Addresses to listen on, instead of --host/--port/--unix (repeatable).
    pub(crate) bind: Vec<supervisor::Bind>,
    /// Permission bits of Unix sockets (octal).
    pub(crate) unix_mode: Option<u32>,
    /// The `listen()` backlog.
    pub(crate) backlog: i32,
    /// Write the (supervisor's) process id to this file.
    pub(crate) pid: Option<PathBuf>,
    /// Set SO_REUSEPORT on --bind TCP sockets, so other processes may share the port.
    pub(crate) reuse_port: bool,
    /// Write the access log to this file (`-`: stderr), reopened on SIGUSR1.
    pub(crate) access_logfile: Option<PathBuf>,
    /// The access log line in gunicorn's atoms (`%(h)s %(r)s %(s)s %(b)s %(D)s`).
    pub(crate) access_logformat: Option<String>,
    /// Serve Prometheus metrics on this address (its own listener).
    pub(crate) metrics_bind: Option<String>,
    /// Serve HTTPS with these files (production face).
    pub(crate) tls: TlsFiles,
}

/// `--tls-cert`, `--tls-key`, `--tls-password-file` (as `http-server` and Python 3.14's
/// `http.server` spell them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// The certificate chain (PEM); HTTPS when set.
    pub(crate) cert: Option<PathBuf>,
    /// The private key (PEM); default: in the certificate file.
    pub(crate) key: Option<PathBuf>,
    /// A file holding the password of an encrypted key.
    pub(crate) password_file: Option<PathBuf>,
}

impl Default for Args {
    /// The defaults the help text shows (a unit test holds the two together).
    fn default() -> Self {
        Args {
            host: String::new(),
            port: 8782,
            threads: None,
            faithful: false,
            once: false,
            open: false,
            app: AppKind::Demo,
            max_blocking: None,
            max_connections: None,
            max_body: 32 << 20,
            max_line: 65536,
            max_headers: 100,
            request_timeout: 30,
            idle_timeout: 60,
            shutdown_timeout: 30,
            workers: None,
            max_requests: None,
            max_requests_jitter: 0,
            worker_timeout: 30,
            unix: None,
            trusted_proxy: None,
            proxy_hops: 1,
            access_log: AccessLog::Python,
            proxy_protocol: false,
            bind: Vec::new(),
            unix_mode: None,
            backlog: 1024,
            pid: None,
            reuse_port: false,
            access_logfile: None,
            access_logformat: None,
            metrics_bind: None,
            tls: TlsFiles::default(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Serve, with these arguments.
    Run(Box<Args>),
    /// `-h`/`--help`: print [`help`] on stdout and exit 0.
    Help,
    /// `-V`/`--version`: print [`version`] on stdout and exit 0.
    Version,
}

/// A usage error: the binary prints it on stderr with [`USAGE`] and exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CliError {
    /// An option this program does not have, or a positional argument (it takes none).
    #[error("unexpected argument '{0}' found")]
    Unexpected(String),
    /// An option that takes a value came last, or before another option.
    #[error("a value is required for '{0}' but none was supplied")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("invalid value '{value}' for '{option}': {reason}")]
    InvalidValue {
        /// The option with its value name (`--port <PORT>`).
        option: String,
        /// The value given.
        value: String,
        /// Why it is not valid.
        reason: String,
    },
    /// A value that is not one of the choices (`--app`, `--access-log`).
    #[error("invalid value '{value}' for '{option}'\n  [possible values: {choices}]")]
    InvalidChoice {
        /// The option with its value name.
        option: String,
        /// The value given.
        value: String,
        /// The choices, comma-separated.
        choices: String,
    },
    /// A value attached to a flag that takes none (`--once=yes`).
    #[error("unexpected value '{value}' for '{option}' found; no more were expected")]
    UnexpectedValue {
        /// The flag.
        option: String,
        /// The value given.
        value: String,
    },
    /// An option given twice.
    #[error("the argument '{0}' cannot be used multiple times")]
    Repeated(String),
    /// Two options that do not go together (`--workers` with `--faithful`).
    #[error("the argument '{0}' cannot be used with '{1}'")]
    Conflict(String, String),
    /// An option given without another one it needs (`--proxy-hops` without
    /// `--trusted-proxy`).
    #[error("the following required arguments were not provided:\n  {0}")]
    Requires(String),
}

impl From<lexopt::Error> for CliError {
    fn from(e: lexopt::Error) -> Self {
        match e {
            lexopt::Error::UnexpectedOption(o) => CliError::Unexpected(o),
            lexopt::Error::UnexpectedArgument(v) => {
                CliError::Unexpected(v.to_string_lossy().into_owned())
            }
            lexopt::Error::UnexpectedValue { option, value } => CliError::UnexpectedValue {
                option,
                value: value.to_string_lossy().into_owned(),
            },
            lexopt::Error::MissingValue { option } => {
                CliError::MissingValue(option.unwrap_or_default())
            }
            // The remaining kinds come from lexopt's value conversions, which `parse`
            // does not use; keep their wording all the same.
            other => CliError::Unexpected(other.to_string()),
        }
    }
}

/// The usage line printed after an error and at the top of the help.
pub(crate) const USAGE: &str = "Usage: demo [OPTIONS]";

/// One option: its long name, an optional short one, its value's name (none for a flag),
/// its one-line help and the default the help shows.
#[derive(Debug)]
struct Opt {
    long: &'static str,
    short: Option<char>,
    value: Option<&'static str>,
    help: &'static str,
    default: Option<&'static str>,
}

impl Opt {
    /// The (spelling, help) of each value the option takes, for options with a fixed set.
    fn choices(&self) -> Vec<(&'static str, &'static str)> {
        match self.long {
            "app" => APPS.iter().map(|(n, _, h)| (*n, *h)).collect(),
            "access-log" => ACCESS_LOGS.iter().map(|(n, _, h)| (*n, *h)).collect(),
            _ => Vec::new(),
        }
    }

    /// `--port <PORT>`, as errors name it.
    fn display(&self) -> String {
        match self.value {
            Some(v) => format!("--{} <{v}>", self.long),
            None => format!("--{}", self.long),
        }
    }
}

const fn opt(long: &'static str, value: Option<&'static str>, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value,
        help,
        default: None,
    }
}

const fn with_default(mut o: Opt, default: &'static str) -> Opt {
    o.default = Some(default);
    o
}

/// Every option, in the order the help lists them.
const OPTIONS: &[Opt] = &[
    with_default(
        opt(
            "host",
            Some("HOST"),
            "Address to bind; empty means every IPv4 interface (Python's `''`)",
        ),
        "",
    ),
    with_default(
        opt("port", Some("PORT"), "Port to bind (the seed's 8782)"),
        "8782",
    ),
    opt(
        "threads",
        Some("THREADS"),
        "Event loops (production face); default: one per core",
    ),
    opt(
        "faithful",
        None,
        "CPython's behaviour exactly: make_server + serve_forever, one thread, HTTP/1.0",
    ),
    opt(
        "once",
        None,
        "Serve one request with handle_request(), then exit (as the seed does)",
    ),
    opt(
        "open",
        None,
        "Open the default browser at http://localhost:PORT/xyz?abc (the seed's webbrowser.open)",
    ),
    with_default(opt("app", Some("APP"), "The application to serve"), "demo"),
    opt(
        "max-blocking",
        Some("MAX_BLOCKING"),
        "Most threads blocked in handlers at once beyond the loops (production face)",
    ),
    opt(
        "max-connections",
        Some("MAX_CONNECTIONS"),
        "Most open connections; accepting pauses at the cap (production face)",
    ),
    with_default(
        opt(
            "max-body",
            Some("MAX_BODY"),
            "Largest request body in bytes (production face)",
        ),
        "33554432",
    ),
    with_default(
        opt(
            "max-line",
            Some("MAX_LINE"),
            "Longest request line (longer: 414) or header line (longer: 431) in bytes \
             (production face)",
        ),
        "65536",
    ),
    with_default(
        opt(
            "max-headers",
            Some("MAX_HEADERS"),
            "Most lines of a request's header block, its closing blank line included, as CPython \
             counts them (100: 99 fields); more: 431 (production face)",
        ),
        "100",
    ),
    with_default(
        opt(
            "request-timeout",
            Some("REQUEST_TIMEOUT"),
            "Seconds a whole request may take to arrive (production face)",
        ),
        "30",
    ),
    with_default(
        opt(
            "idle-timeout",
            Some("IDLE_TIMEOUT"),
            "Seconds an idle keep-alive connection is kept (production face)",
        ),
        "60",
    ),
    with_default(
        opt(
            "shutdown-timeout",
            Some("SHUTDOWN_TIMEOUT"),
            "Seconds a graceful shutdown waits for requests in flight (production face)",
        ),
        "30",
    ),
    opt(
        "workers",
        Some("WORKERS"),
        "Worker processes under a supervisor that binds once and respawns them; SIGHUP \
         reloads them gracefully, SIGTTIN/SIGTTOU add or remove one (production face)",
    ),
    opt(
        "max-requests",
        Some("MAX_REQUESTS"),
        "Requests after which a worker is replaced, gracefully (with --workers)",
    ),
    with_default(
        opt(
            "max-requests-jitter",
            Some("MAX_REQUESTS_JITTER"),
            "Up to this many more requests per worker, drawn at random (with --max-requests)",
        ),
        "0",
    ),
    with_default(
        opt(
            "worker-timeout",
            Some("WORKER_TIMEOUT"),
            "Seconds a worker may miss its heartbeat before it is killed and replaced \
             (with --workers); 0: no heartbeat",
        ),
        "30",
    ),
    opt(
        "unix",
        Some("UNIX"),
        "Serve on a Unix domain socket at this path instead of TCP (production face)",
    ),
    opt(
        "trusted-proxy",
        Some("ADDR[,ADDR|CIDR...]"),
        "Trust X-Forwarded-For and X-Forwarded-Proto from these peers: addresses, CIDR \
         networks, and `unix` for Unix-socket peers (`127.0.0.1,10.0.0.0/8,unix`)",
    ),
    with_default(
        opt(
            "proxy-hops",
            Some("PROXY_HOPS"),
            "Proxies in front of the server: how many X-Forwarded-For entries to walk back \
             (needs --trusted-proxy)",
        ),
        "1",
    ),
    with_default(
        opt(
            "access-log",
            Some("ACCESS_LOG"),
            "Access log format on stderr",
        ),
        "python",
    ),
    opt(
        "proxy-protocol",
        None,
        "Every connection opens with a PROXY protocol v1 or v2 header (HAProxy, nginx \
         `proxy_protocol on`); its client address is used (production face)",
    ),
    opt(
        "bind",
        Some("ADDRESS"),
        "Listen on HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N instead of --host/--port/\
         --unix; repeat for several (production face)",
    ),
    opt(
        "unix-mode",
        Some("MODE"),
        "Permission bits of the Unix sockets bound (octal, e.g. 660)",
    ),
    with_default(
        opt(
            "backlog",
            Some("BACKLOG"),
            "The listen() backlog (production face)",
        ),
        "1024",
    ),
    opt(
        "reuse-port",
        None,
        "Let other processes bind the TCP port too (SO_REUSEPORT; without it a port in use \
         is an error)",
    ),
    opt(
        "pid",
        Some("FILE"),
        "Write the process id (the supervisor's with --workers) to this file",
    ),
    opt(
        "access-logfile",
        Some("PATH"),
        "Write the access log to this file, buffered (`-`: stderr); reopened on SIGUSR1",
    ),
    opt(
        "access-logformat",
        Some("FORMAT"),
        "The access log line in gunicorn's atoms, e.g. '%(h)s %(l)s %(u)s %(t)s \"%(r)s\" \
         %(s)s %(b)s %(D)s' (replaces --access-log's format)",
    ),
    opt(
        "tls-cert",
        Some("PATH"),
        "Serve HTTPS with this certificate chain (PEM; production face)",
    ),
    opt(
        "tls-key",
        Some("PATH"),
        "The TLS private key (PEM: PKCS#8, PKCS#1, SEC1 or encrypted PKCS#8; default: in the \
         certificate file)",
    ),
    opt(
        "tls-password-file",
        Some("PATH"),
        "A file holding the password of an encrypted TLS key",
    ),
    opt(
        "metrics-bind",
        Some("ADDR"),
        "Serve Prometheus metrics at http://ADDR/metrics, on a listener of their own",
    ),
    Opt {
        short: Some('h'),
        ..opt("help", None, "Print help")
    },
    Opt {
        short: Some('V'),
        ..opt("version", None, "Print version")
    },
];

/// Parses the arguments after the program's name (`std::env::args_os().skip(1)`), with no
/// environment.
#[cfg(test)]
pub(crate) fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    parse_with_env(args, |_| None)
}

/// The environment variable that sets option `long` (`--max-body`: `PYSERVE_MAX_BODY`).
pub(crate) fn env_name(long: &str) -> String {
    format!("PYSERVE_{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// Parses the arguments, then takes each option not given from its environment variable
/// ([`env_name`], read through `env`): flags win over the environment. A flag's variable
/// is `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`/empty; `PYSERVE_BIND` holds
/// addresses separated by spaces.
pub(crate) fn parse_with_env<I>(
    args: I,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Command, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let mut args = Args::default();
    let mut seen: HashSet<&'static str> = HashSet::new();
    while let Some(arg) = parser.next()? {
        let long = matches!(arg, Long(_));
        let found = match arg {
            Long(name) => OPTIONS.iter().find(|o| o.long == name),
            Short(c) => OPTIONS.iter().find(|o| o.short == Some(c)),
            Value(_) => None,
        };
        let Some(o) = found else {
            return Err(arg.unexpected().into());
        };
        // `--bind` is the one option that may be repeated.
        if !seen.insert(o.long) && o.long != "bind" {
            return Err(CliError::Repeated(o.display()));
        }
        if o.value.is_none() && long {
            // `--help=x`: lexopt reports a flag's attached value at the next `next()`, but
            // help and version return before that.
            if let Some(v) = parser.optional_value() {
                return Err(CliError::UnexpectedValue {
                    option: o.display(),
                    value: v.to_string_lossy().into_owned(),
                });
            }
        }
        match o.long {
            "help" => return Ok(Command::Help),
            "version" => return Ok(Command::Version),
            _ if o.value.is_none() => set_flag(&mut args, o),
            _ => {
                let v = value(&mut parser, o)?;
                set(&mut args, o, v, None)?;
            }
        }
    }
    for o in OPTIONS {
        if seen.contains(o.long) || matches!(o.long, "help" | "version") {
            continue;
        }
        let name = env_name(o.long);
        let Some(v) = env(&name) else { continue };
        if o.value.is_none() {
            let text = v.to_string_lossy().to_ascii_lowercase();
            match text.as_str() {
                "1" | "true" | "yes" | "on" => set_flag(&mut args, o),
                "0" | "false" | "no" | "off" | "" => {}
                _ => {
                    return Err(CliError::InvalidValue {
                        option: format!("{} (from {name})", o.display()),
                        value: v.to_string_lossy().into_owned(),
                        reason: "expected 1, true, yes, on, 0, false, no or off".into(),
                    });
                }
            }
        } else if o.long == "bind" {
            let text = string(o, v)?;
            for addr in text.split_whitespace() {
                set(&mut args, o, addr.into(), Some(&name))?;
            }
        } else {
            set(&mut args, o, v, Some(&name))?;
        }
        seen.insert(o.long);
    }
    if seen.contains("proxy-hops") && args.trusted_proxy.is_none() {
        let needed = OPTIONS.iter().find(|o| o.long == "trusted-proxy");
        return Err(CliError::Requires(
            needed.map(Opt::display).unwrap_or_default(),
        ));
    }
    check(&args, &seen)?;
    Ok(Command::Run(Box::new(args)))
}

fn set_flag(args: &mut Args, o: &Opt) {
    match o.long {
        "faithful" => args.faithful = true,
        "once" => args.once = true,
        "open" => args.open = true,
        "proxy-protocol" => args.proxy_protocol = true,
        "reuse-port" => args.reuse_port = true,
        other => unreachable!("flag --{other} in OPTIONS but not parsed"),
    }
}

/// Sets option `o` from `v` (`from`: the environment variable it came from, for errors).
fn set(args: &mut Args, o: &Opt, v: OsString, from: Option<&str>) -> Result<(), CliError> {
    let named = |e: CliError| match (from, e) {
        (
            Some(var),
            CliError::InvalidValue {
                option,
                value,
                reason,
            },
        ) => CliError::InvalidValue {
            option: format!("{option} (from {var})"),
            value,
            reason,
        },
        (
            Some(var),
            CliError::InvalidChoice {
                option,
                value,
                choices,
            },
        ) => CliError::InvalidChoice {
            option: format!("{option} (from {var})"),
            value,
            choices,
        },
        (_, e) => e,
    };
    match o.long {
        "unix" => args.unix = Some(v.into()),
        "pid" => args.pid = Some(v.into()),
        "access-logfile" => args.access_logfile = Some(v.into()),
        "tls-cert" => args.tls.cert = Some(v.into()),
        "tls-key" => args.tls.key = Some(v.into()),
        "tls-password-file" => args.tls.password_file = Some(v.into()),
        long => {
            let v = string(o, v).map_err(named)?;
            let r = match long {
                "host" => {
                    args.host = v;
                    Ok(())
                }
                "port" => parsed(o, &v).map(|p| args.port = p),
                "threads" => parsed(o, &v).map(|t| args.threads = Some(t)),
                "app" => choice(o, APPS, &v).map(|a| args.app = a),
                "max-blocking" => parsed(o, &v).map(|m| args.max_blocking = Some(m)),
                "max-connections" => parsed(o, &v).map(|m| args.max_connections = Some(m)),
                "max-body" => parsed(o, &v).map(|m| args.max_body = m),
                "max-line" => parsed(o, &v).map(|m| args.max_line = m),
                "max-headers" => parsed(o, &v).map(|m| args.max_headers = m),
                "request-timeout" => parsed(o, &v).map(|t| args.request_timeout = t),
                "idle-timeout" => parsed(o, &v).map(|t| args.idle_timeout = t),
                "shutdown-timeout" => parsed(o, &v).map(|t| args.shutdown_timeout = t),
                "workers" => parsed(o, &v).map(|w| args.workers = Some(w)),
                "max-requests" => parsed(o, &v).map(|m| args.max_requests = Some(m)),
                "max-requests-jitter" => parsed(o, &v).map(|j| args.max_requests_jitter = j),
                "worker-timeout" => parsed(o, &v).map(|t| args.worker_timeout = t),
                "trusted-proxy" => parsed(o, &v).map(|t| args.trusted_proxy = Some(t)),
                "proxy-hops" => parsed(o, &v).map(|h| args.proxy_hops = h),
                "access-log" => choice(o, ACCESS_LOGS, &v).map(|a| args.access_log = a),
                "access-logformat" => v
                    .parse::<http_server::logging::AccessTemplate>()
                    .map(|_| args.access_logformat = Some(v.clone()))
                    .map_err(|reason| CliError::InvalidValue {
                        option: o.display(),
                        value: v.clone(),
                        reason,
                    }),
                "bind" => bind(o, &v).map(|b| args.bind.push(b)),
                "backlog" => parsed(o, &v).map(|b| args.backlog = b),
                "unix-mode" => octal(o, &v).map(|m| args.unix_mode = Some(m)),
                "metrics-bind" => {
                    args.metrics_bind = Some(v);
                    Ok(())
                }
                other => unreachable!("option --{other} in OPTIONS but not parsed"),
            };
            r.map_err(named)?;
        }
    }
    Ok(())
}

/// A `--bind` address.
fn bind(o: &Opt, v: &str) -> Result<supervisor::Bind, CliError> {
    v.parse().map_err(|e| CliError::InvalidValue {
        option: o.display(),
        value: v.to_owned(),
        reason: match e {
            supervisor::Error::Bind { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// Permission bits in octal (`660`, `0660`, `0o660`).
fn octal(o: &Opt, v: &str) -> Result<u32, CliError> {
    let digits = v.strip_prefix("0o").unwrap_or(v);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| CliError::InvalidValue {
            option: o.display(),
            value: v.to_owned(),
            reason: "expected permission bits in octal, at most 777".into(),
        })
}

impl Args {
    /// Refuses the production face's options with `--faithful` or `--once` (checked by the
    /// binary after [`parse_with_env`], before anything listens; `parse` accepts every
    /// option alone).
    pub(crate) fn check_face(&self) -> Result<(), CliError> {
        let production_only = [
            ("workers", self.workers.is_some()),
            ("bind", !self.bind.is_empty()),
            ("metrics-bind", self.metrics_bind.is_some()),
        ];
        if self.faithful || self.once {
            let face = if self.faithful {
                "--faithful"
            } else {
                "--once"
            };
            if let Some((long, _)) = production_only.iter().find(|(_, on)| *on) {
                let o = OPTIONS.iter().find(|o| o.long == *long);
                return Err(CliError::Conflict(
                    o.map(Opt::display).unwrap_or_default(),
                    face.to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// Checks that hold between options, before anything listens.
fn check(args: &Args, seen: &HashSet<&'static str>) -> Result<(), CliError> {
    if args.tls.cert.is_none() && (args.tls.key.is_some() || args.tls.password_file.is_some()) {
        let needed = OPTIONS.iter().find(|o| o.long == "tls-cert");
        return Err(CliError::Requires(
            needed.map(Opt::display).unwrap_or_default(),
        ));
    }
    let invalid = |long: &str, value: String, reason: &str| {
        let o = OPTIONS.iter().find(|o| o.long == long);
        CliError::InvalidValue {
            option: o.map(Opt::display).unwrap_or_default(),
            value,
            reason: reason.to_owned(),
        }
    };
    if args.workers == Some(0) {
        return Err(invalid(
            "workers",
            "0".into(),
            "at least one worker is needed",
        ));
    }
    if args.max_requests == Some(0) {
        return Err(invalid("max-requests", "0".into(), "must be at least 1"));
    }
    // The shortest request line: `GET / HTTP/1.0`.
    if args.max_line < 16 {
        return Err(invalid(
            "max-line",
            args.max_line.to_string(),
            "must be at least 16",
        ));
    }
    if args.backlog < 1 {
        return Err(invalid(
            "backlog",
            args.backlog.to_string(),
            "must be at least 1",
        ));
    }
    if args.threads == Some(0) {
        return Err(invalid("threads", "0".into(), "must be at least 1"));
    }
    let classic = ["host", "port", "unix"]
        .into_iter()
        .find(|l| seen.contains(l));
    if let (Some(first), Some(other)) = (args.bind.first(), classic) {
        return Err(invalid(
            "bind",
            first.to_string(),
            &format!("--bind replaces --{other}: give one or the other"),
        ));
    }
    if let Some(addr) = &args.metrics_bind
        && let Err(e) = addr.parse::<std::net::SocketAddr>()
    {
        return Err(invalid("metrics-bind", addr.clone(), &e.to_string()));
    }
    Ok(())
}

/// The value of option `o`: attached (`--port=80`) or the next argument (`--port 80`), which
/// must not look like an option (clap's rule: `--host --port 80` lacks the host).
fn value(parser: &mut lexopt::Parser, o: &Opt) -> Result<OsString, CliError> {
    if let Some(v) = parser.optional_value() {
        return Ok(v);
    }
    let looks_like_option = |a: &OsStr| a.as_encoded_bytes().starts_with(b"-") && a.len() > 1;
    parser
        .raw_args()?
        .next_if(|a| !looks_like_option(a))
        .ok_or_else(|| CliError::MissingValue(o.display()))
}

/// The value as text.
fn string(o: &Opt, v: OsString) -> Result<String, CliError> {
    v.into_string().map_err(|v| CliError::InvalidValue {
        option: o.display(),
        value: v.to_string_lossy().into_owned(),
        reason: "invalid UTF-8".to_owned(),
    })
}

/// The value parsed with `FromStr` (numbers, the trusted-proxy list).
fn parsed<T>(o: &Opt, v: &str) -> Result<T, CliError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e: T::Err| CliError::InvalidValue {
        option: o.display(),
        value: v.to_owned(),
        reason: e.to_string(),
    })
}

/// The value as one of `choices` (exact spelling, as clap's `ValueEnum`).
fn choice<T: Copy>(o: &Opt, choices: &[(&str, T, &str)], v: &str) -> Result<T, CliError> {
    choices
        .iter()
        .find(|(name, _, _)| *name == v)
        .map(|(_, value, _)| *value)
        .ok_or_else(|| CliError::InvalidChoice {
            option: o.display(),
            value: v.to_owned(),
            choices: choices
                .iter()
                .map(|(name, _, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `demo 0.1.0`, as `--version` prints it.
pub(crate) fn version() -> String {
    format!("demo {}", env!("CARGO_PKG_VERSION"))
}

/// The help text `--help` prints: every option, its one-line help and its default.
pub(crate) fn help() -> String {
    let mut out = format!("{}\n\n{USAGE}\n\nOptions:\n", env!("CARGO_PKG_DESCRIPTION"));
    for o in OPTIONS {
        let short = o.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        let _ = writeln!(out, "  {short:>4}{}", o.display());
        let _ = write!(out, "          {}", o.help);
        if let Some(d) = o.default {
            let d = if d.is_empty() { "\"\"" } else { d };
            let _ = write!(out, " [default: {d}]");
        }
        if !matches!(o.long, "help" | "version") {
            let _ = write!(out, " [env: {}]", env_name(o.long));
        }
        out.push('\n');
        let choices = o.choices();
        let width = choices.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, help) in choices {
            let _ = writeln!(
                out,
                "          - {name}:{:pad$} {help}",
                "",
                pad = width - name.len()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Args {
        match parse(args.iter().copied()) {
            Ok(Command::Run(a)) => *a,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> CliError {
        match parse(args.iter().copied()) {
            Err(e) => e,
            Ok(c) => panic!("{args:?} parsed: {c:?}"),
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let a = run(&[]);
        assert_eq!(a, Args::default());
        assert_eq!(a.host, "");
        assert_eq!(a.port, 8782);
        assert_eq!(a.app, AppKind::Demo);
        assert_eq!(a.max_body, 32 << 20);
        assert_eq!((a.max_line, a.max_headers), (65536, 100));
        assert_eq!(
            (a.request_timeout, a.idle_timeout, a.shutdown_timeout),
            (30, 60, 30)
        );
        assert_eq!(a.proxy_hops, 1);
        assert_eq!(a.access_log, AccessLog::Python);
        assert!(!a.faithful && !a.once && !a.open && !a.proxy_protocol);
        assert_eq!(a.threads, None);
        assert_eq!(a.trusted_proxy, None);
        // `--` ends the options; nothing after it is fine.
        assert_eq!(run(&["--"]), Args::default());
    }

    #[test]
    fn every_option_with_separate_values() {
        let a = run(&[
            "--host",
            "127.0.0.1",
            "--port",
            "8080",
            "--threads",
            "3",
            "--faithful",
            "--once",
            "--open",
            "--app",
            "hello",
            "--max-blocking",
            "7",
            "--max-connections",
            "100",
            "--max-body",
            "1024",
            "--max-line",
            "8190",
            "--max-headers",
            "50",
            "--request-timeout",
            "5",
            "--idle-timeout",
            "6",
            "--shutdown-timeout",
            "7",
            "--workers",
            "4",
            "--unix",
            "/tmp/demo.sock",
            "--trusted-proxy",
            "127.0.0.1,10.0.0.0/8,unix",
            "--proxy-hops",
            "2",
            "--access-log",
            "json",
            "--proxy-protocol",
        ]);
        let expected = Args {
            host: "127.0.0.1".into(),
            port: 8080,
            threads: Some(3),
            faithful: true,
            once: true,
            open: true,
            app: AppKind::Hello,
            max_blocking: Some(7),
            max_connections: Some(100),
            max_body: 1024,
            max_line: 8190,
            max_headers: 50,
            request_timeout: 5,
            idle_timeout: 6,
            shutdown_timeout: 7,
            workers: Some(4),
            max_requests: None,
            max_requests_jitter: 0,
            worker_timeout: 30,
            unix: Some("/tmp/demo.sock".into()),
            trusted_proxy: Some("127.0.0.1,10.0.0.0/8,unix".parse().unwrap()),
            proxy_hops: 2,
            access_log: AccessLog::Json,
            proxy_protocol: true,
            ..Args::default()
        };
        assert_eq!(a, expected);
    }

    #[test]
    fn max_line_has_a_floor() {
        let e = err(&["--max-line", "15"]);
        assert!(e.to_string().contains("must be at least 16"), "{e}");
        assert_eq!(run(&["--max-line=16"]).max_line, 16);
    }

    #[test]
    fn every_option_with_equals_values() {
        let a = run(&[
            "--host=::1",
            "--port=0",
            "--threads=1",
            "--app=stream",
            "--max-blocking=2",
            "--max-connections=3",
            "--max-body=4",
            "--request-timeout=5",
            "--idle-timeout=6",
            "--shutdown-timeout=7",
            "--workers=8",
            "--unix=/run/x.sock",
            "--trusted-proxy=::1",
            "--proxy-hops=9",
            "--access-log=combined",
        ]);
        assert_eq!(a.host, "::1");
        assert_eq!(a.port, 0);
        assert_eq!(a.threads, Some(1));
        assert_eq!(a.app, AppKind::Stream);
        assert_eq!((a.max_blocking, a.max_connections), (Some(2), Some(3)));
        assert_eq!(a.max_body, 4);
        assert_eq!(
            (a.request_timeout, a.idle_timeout, a.shutdown_timeout),
            (5, 6, 7)
        );
        assert_eq!(a.workers, Some(8));
        assert_eq!(a.unix, Some(PathBuf::from("/run/x.sock")));
        assert_eq!(a.trusted_proxy, Some("::1".parse().unwrap()));
        assert_eq!(a.proxy_hops, 9);
        assert_eq!(a.access_log, AccessLog::Combined);
        // An empty attached value is a value (`--host=` is Python's `''`), as is a separate
        // empty argument.
        assert_eq!(run(&["--host="]).host, "");
        assert_eq!(run(&["--host", ""]).host, "");
        // A lone `-` is a value, not an option.
        assert_eq!(run(&["--unix", "-"]).unix, Some(PathBuf::from("-")));
        // An attached value may start with `-`.
        assert_eq!(run(&["--host=-x"]).host, "-x");
    }

    #[test]
    fn each_enum_value() {
        for (name, value, _) in APPS {
            assert_eq!(run(&["--app", name]).app, *value);
        }
        for (name, value, _) in ACCESS_LOGS {
            assert_eq!(run(&["--access-log", name]).access_log, *value);
        }
        assert_eq!(
            AccessLogFormat::from(AccessLog::Common),
            AccessLogFormat::Common
        );
        assert_eq!(
            err(&["--app", "HELLO"]).to_string(),
            "invalid value 'HELLO' for '--app <APP>'\n  [possible values: demo, hello, stream]"
        );
        assert_eq!(
            err(&["--access-log=xml"]).to_string(),
            "invalid value 'xml' for '--access-log <ACCESS_LOG>'\n  \
             [possible values: python, common, combined, json, off]"
        );
    }

    #[test]
    fn help_and_version() {
        for a in ["--help", "-h"] {
            assert_eq!(parse([a]), Ok(Command::Help));
        }
        for a in ["--version", "-V"] {
            assert_eq!(parse([a]), Ok(Command::Version));
        }
        // Help wins over what follows it, as with clap; an error before it still counts.
        assert_eq!(parse(["--help", "--bogus"]), Ok(Command::Help));
        assert!(parse(["--bogus", "--help"]).is_err());
        assert_eq!(
            parse(["--version=1"]),
            Err(CliError::UnexpectedValue {
                option: "--version".into(),
                value: "1".into()
            })
        );
        // A chain of short flags: the first decides, as with clap.
        assert_eq!(parse(["-hV"]), Ok(Command::Help));
        assert_eq!(version(), format!("demo {}", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn help_lists_every_option_with_its_default() {
        let h = help();
        assert!(h.contains(USAGE), "{h}");
        for o in OPTIONS {
            assert!(h.contains(&o.display()), "--{} missing:\n{h}", o.long);
            assert!(h.contains(o.help), "--{} help missing:\n{h}", o.long);
            for (name, _) in o.choices() {
                assert!(h.contains(&format!("- {name}:")), "{name} missing:\n{h}");
            }
        }
        assert!(h.contains("  -h, --help\n"), "{h}");
        assert!(h.contains("      --port <PORT>\n"), "{h}");
        assert!(h.contains("[default: 8782]"), "{h}");
        assert!(h.contains("[default: \"\"]"), "{h}");
        assert!(h.contains("[default: 33554432]"), "{h}");
    }

    #[test]
    fn the_help_defaults_are_the_real_defaults() {
        for o in OPTIONS {
            let Some(d) = o.default else { continue };
            let mut with = vec![format!("--{}={d}", o.long)];
            let mut without: Vec<String> = vec![];
            if o.long == "proxy-hops" {
                with.push("--trusted-proxy=::1".into());
                without.push("--trusted-proxy=::1".into());
            }
            assert_eq!(
                parse(with),
                parse(without),
                "--{}'s help default {d:?} is not its default",
                o.long
            );
        }
    }

    #[test]
    fn every_listed_option_is_parsed() {
        // An option in OPTIONS without its arm in `parse` would hit `unreachable!`.
        for o in OPTIONS {
            let arg = match o.value {
                Some(_) => format!("--{}=1", o.long),
                None => format!("--{}", o.long),
            };
            let mut args = vec![arg];
            if o.long == "proxy-hops" {
                args.push("--trusted-proxy=::1".into());
            }
            if let Err(CliError::Unexpected(e)) = parse(args) {
                panic!("--{} not parsed: {e}", o.long);
            }
        }
    }

    #[test]
    fn unknown_options_and_positionals() {
        assert_eq!(err(&["--bogus"]), CliError::Unexpected("--bogus".into()));
        assert_eq!(err(&["-x"]), CliError::Unexpected("-x".into()));
        assert_eq!(err(&["extra"]), CliError::Unexpected("extra".into()));
        assert_eq!(
            err(&["--", "--port"]),
            CliError::Unexpected("--port".into())
        );
        // No abbreviations (clap does not infer long options by default).
        assert_eq!(err(&["--por", "1"]), CliError::Unexpected("--por".into()));
        assert_eq!(
            err(&["--bogus"]).to_string(),
            "unexpected argument '--bogus' found"
        );
    }

    #[test]
    fn missing_values() {
        assert_eq!(
            err(&["--port"]),
            CliError::MissingValue("--port <PORT>".into())
        );
        // A following option is not taken as the value.
        assert_eq!(
            err(&["--host", "--port", "1"]),
            CliError::MissingValue("--host <HOST>".into())
        );
        assert_eq!(
            err(&["--unix", "--faithful"]),
            CliError::MissingValue("--unix <UNIX>".into())
        );
        assert_eq!(
            err(&["--trusted-proxy"]).to_string(),
            "a value is required for '--trusted-proxy <ADDR[,ADDR|CIDR...]>' but none was supplied"
        );
    }

    #[test]
    fn bad_numbers_and_proxies() {
        assert_eq!(
            err(&["--port", "abc"]).to_string(),
            "invalid value 'abc' for '--port <PORT>': invalid digit found in string"
        );
        assert!(matches!(
            err(&["--port=70000"]),
            CliError::InvalidValue { option, value, .. }
                if option == "--port <PORT>" && value == "70000"
        ));
        assert!(matches!(
            err(&["--max-body", "-5"]),
            CliError::MissingValue(_)
        ));
        assert!(matches!(
            err(&["--max-body=-5"]),
            CliError::InvalidValue { .. }
        ));
        assert!(matches!(
            err(&["--threads="]),
            CliError::InvalidValue { .. }
        ));
        assert!(matches!(
            err(&["--idle-timeout", "1.5"]),
            CliError::InvalidValue { .. }
        ));
        let e = err(&["--trusted-proxy", "10.0.0.0/33"]).to_string();
        assert!(
            e.starts_with(
                "invalid value '10.0.0.0/33' for '--trusted-proxy <ADDR[,ADDR|CIDR...]>': "
            ),
            "{e}"
        );
    }

    #[test]
    fn flags_take_no_value_and_options_come_once() {
        assert_eq!(
            err(&["--faithful=yes"]),
            CliError::UnexpectedValue {
                option: "--faithful".into(),
                value: "yes".into()
            }
        );
        assert_eq!(
            err(&["--port", "1", "--port=2"]).to_string(),
            "the argument '--port <PORT>' cannot be used multiple times"
        );
        assert_eq!(
            err(&["--once", "--once"]),
            CliError::Repeated("--once".into())
        );
    }

    #[test]
    fn proxy_hops_needs_trusted_proxy() {
        assert_eq!(
            err(&["--proxy-hops", "2"]),
            CliError::Requires("--trusted-proxy <ADDR[,ADDR|CIDR...]>".into())
        );
        // Even at its default value: giving it at all needs --trusted-proxy (as with clap).
        assert!(matches!(err(&["--proxy-hops=1"]), CliError::Requires(_)));
        let a = run(&["--proxy-hops", "2", "--trusted-proxy", "127.0.0.1"]);
        assert_eq!(a.proxy_hops, 2);
    }

    fn with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
        let env: Vec<(String, OsString)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        parse_with_env(args.iter().copied(), |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn run_env(args: &[&str], env: &[(&str, &str)]) -> Args {
        match with_env(args, env) {
            Ok(Command::Run(a)) => *a,
            other => panic!("{args:?} {env:?}: {other:?}"),
        }
    }

    #[test]
    fn bind_is_repeatable_and_parsed() {
        let a = run(&[
            "--bind",
            "127.0.0.1:8000",
            "--bind=[::1]:0",
            "--bind",
            "unix:/run/x.sock",
            "--bind",
            "fd://3",
            "--unix-mode",
            "660",
            "--backlog",
            "64",
            "--pid",
            "/run/demo.pid",
            "--reuse-port",
        ]);
        let shown: Vec<String> = a.bind.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["127.0.0.1:8000", "[::1]:0", "unix:/run/x.sock", "fd://3"]
        );
        assert_eq!(a.unix_mode, Some(0o660));
        assert_eq!(a.backlog, 64);
        assert_eq!(a.pid, Some(PathBuf::from("/run/demo.pid")));
        assert!(a.reuse_port);
        assert_eq!(run(&["--unix-mode=0o600"]).unix_mode, Some(0o600));
        assert_eq!(
            err(&["--bind", "localhost"]).to_string(),
            "invalid value 'localhost' for '--bind <ADDRESS>': expected HOST:PORT, \
             [IPv6]:PORT, unix:PATH or fd://N"
        );
        assert_eq!(
            err(&["--unix-mode", "999"]).to_string(),
            "invalid value '999' for '--unix-mode <MODE>': expected permission bits in octal, \
             at most 777"
        );
    }

    #[test]
    fn invalid_combinations_name_the_option_and_the_value() {
        assert_eq!(
            err(&["--workers", "0"]).to_string(),
            "invalid value '0' for '--workers <WORKERS>': at least one worker is needed"
        );
        assert_eq!(
            err(&["--max-requests=0"]).to_string(),
            "invalid value '0' for '--max-requests <MAX_REQUESTS>': must be at least 1"
        );
        assert_eq!(
            err(&["--backlog=0"]).to_string(),
            "invalid value '0' for '--backlog <BACKLOG>': must be at least 1"
        );
        assert_eq!(
            err(&["--bind", "127.0.0.1:1", "--port", "2"]).to_string(),
            "invalid value '127.0.0.1:1' for '--bind <ADDRESS>': --bind replaces --port: \
             give one or the other"
        );
        assert_eq!(
            run(&["--faithful", "--workers", "2"])
                .check_face()
                .unwrap_err()
                .to_string(),
            "the argument '--workers <WORKERS>' cannot be used with '--faithful'"
        );
        assert!(matches!(
            run(&["--once", "--bind", "127.0.0.1:1"]).check_face(),
            Err(CliError::Conflict(..))
        ));
        assert_eq!(run(&["--workers", "2"]).check_face(), Ok(()));
    }

    #[test]
    fn every_option_comes_from_the_environment_and_flags_win() {
        let a = run_env(
            &["--port", "9000"],
            &[
                ("PYSERVE_PORT", "1"),
                ("PYSERVE_HOST", "127.0.0.2"),
                ("PYSERVE_WORKERS", "3"),
                ("PYSERVE_MAX_BODY", "77"),
                ("PYSERVE_PROXY_PROTOCOL", "true"),
                ("PYSERVE_FAITHFUL", "0"),
                ("PYSERVE_ACCESS_LOG", "json"),
                ("PYSERVE_UNRELATED", "x"),
            ],
        );
        assert_eq!(a.port, 9000, "the flag wins");
        assert_eq!(a.host, "127.0.0.2");
        assert_eq!(a.workers, Some(3));
        assert_eq!(a.max_body, 77);
        assert!(a.proxy_protocol && !a.faithful);
        assert_eq!(a.access_log, AccessLog::Json);
        let a = run_env(&[], &[("PYSERVE_BIND", "127.0.0.1:1  unix:/tmp/a.sock")]);
        assert_eq!(a.bind.len(), 2);
        // A flag given replaces the whole environment list.
        let a = run_env(
            &["--bind", "127.0.0.1:5"],
            &[("PYSERVE_BIND", "127.0.0.1:1")],
        );
        assert_eq!(a.bind.len(), 1);
        assert_eq!(
            with_env(&[], &[("PYSERVE_PORT", "x")])
                .unwrap_err()
                .to_string(),
            "invalid value 'x' for '--port <PORT> (from PYSERVE_PORT)': invalid digit found in \
             string"
        );
        assert!(
            with_env(&[], &[("PYSERVE_ONCE", "maybe")])
                .unwrap_err()
                .to_string()
                .starts_with("invalid value 'maybe' for '--once (from PYSERVE_ONCE)'")
        );
        // Checks between options see the environment too.
        assert!(matches!(
            run_env(&["--faithful"], &[("PYSERVE_WORKERS", "2")]).check_face(),
            Err(CliError::Conflict(..))
        ));
    }

    #[test]
    fn help_shows_each_variable() {
        let h = help();
        for o in OPTIONS {
            if !matches!(o.long, "help" | "version") {
                assert!(h.contains(&format!("[env: {}]", env_name(o.long))), "{h}");
            }
        }
        assert!(h.contains("[default: 8782] [env: PYSERVE_PORT]"), "{h}");
        assert_eq!(
            env_name("max-requests-jitter"),
            "PYSERVE_MAX_REQUESTS_JITTER"
        );
    }

    #[test]
    fn tls_options_need_the_certificate() {
        let a = run(&[
            "--tls-cert",
            "c.pem",
            "--tls-key=k.pem",
            "--tls-password-file",
            "p.txt",
        ]);
        assert_eq!(
            a.tls,
            TlsFiles {
                cert: Some("c.pem".into()),
                key: Some("k.pem".into()),
                password_file: Some("p.txt".into()),
            }
        );
        assert_eq!(
            err(&["--tls-key", "k.pem"]),
            CliError::Requires("--tls-cert <PATH>".into())
        );
        assert!(matches!(
            err(&["--tls-password-file=p"]),
            CliError::Requires(_)
        ));
    }
}
