//! The command line of `demo` (a contract other people script against: keep it stable).

use clap::{Parser, ValueEnum};
use gateway::proxy::TrustedProxies;
use http_server::logging::AccessLogFormat;
use std::path::PathBuf;

/// The access log format (`--access-log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AccessLog {
    /// CPython's `log_message` line (`127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`).
    Python,
    /// Apache's common log format.
    Common,
    /// Apache's combined log format (common, then referer and user agent).
    Combined,
    /// One JSON object per line, for every event.
    Json,
}

impl From<AccessLog> for AccessLogFormat {
    fn from(a: AccessLog) -> Self {
        match a {
            AccessLog::Python => AccessLogFormat::Python,
            AccessLog::Common => AccessLogFormat::Common,
            AccessLog::Combined => AccessLogFormat::Combined,
            AccessLog::Json => AccessLogFormat::Json,
        }
    }
}

/// Which WSGI application to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AppKind {
    /// `wsgiref.simple_server.demo_app`: `Hello world!` and the sorted environ.
    Demo,
    /// `Hello world!\n`, for benchmarks.
    Hello,
    /// GET streams `?size=N` bytes (default 1 MiB) with no length (chunked under
    /// HTTP/1.1); other methods answer the body's length and FNV-1a hash. For proxy tests.
    Stream,
}

/// Serve the seed's `demo_app` (Python: `make_server('', 8782, demo_app)`).
#[derive(Debug, Parser)]
#[command(name = "demo", version, about)]
pub(crate) struct Args {
    /// Address to bind; empty means every IPv4 interface (Python's `''`).
    #[arg(long, default_value = "")]
    pub(crate) host: String,
    /// Port to bind (the seed's 8782).
    #[arg(long, default_value_t = 8782)]
    pub(crate) port: u16,
    /// Event loops (production face); default: one per core.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// CPython's behaviour exactly: make_server + serve_forever, one thread, HTTP/1.0.
    #[arg(long)]
    pub(crate) faithful: bool,
    /// Serve one request with handle_request(), then exit (as the seed does).
    #[arg(long)]
    pub(crate) once: bool,
    /// Open the default browser at http://localhost:PORT/xyz?abc (the seed's webbrowser.open).
    #[arg(long)]
    pub(crate) open: bool,
    /// The application: demo (demo_app) or hello (`Hello world!`).
    #[arg(long, value_enum, default_value_t = AppKind::Demo)]
    pub(crate) app: AppKind,
    /// Most threads blocked in handlers at once beyond the loops (production face).
    #[arg(long)]
    pub(crate) max_blocking: Option<usize>,
    /// Most open connections; accepting pauses at the cap (production face).
    #[arg(long)]
    pub(crate) max_connections: Option<usize>,
    /// Largest request body in bytes (production face).
    #[arg(long, default_value_t = 32 << 20)]
    pub(crate) max_body: u64,
    /// Seconds a whole request may take to arrive (production face).
    #[arg(long, default_value_t = 30)]
    pub(crate) request_timeout: u64,
    /// Seconds an idle keep-alive connection is kept (production face).
    #[arg(long, default_value_t = 60)]
    pub(crate) idle_timeout: u64,
    /// Seconds a graceful shutdown waits for requests in flight (production face).
    #[arg(long, default_value_t = 30)]
    pub(crate) shutdown_timeout: u64,
    /// Worker processes sharing the port with SO_REUSEPORT (production face).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Serve on a Unix domain socket at PATH instead of TCP (production face).
    #[arg(long)]
    pub(crate) unix: Option<PathBuf>,
    /// Trust X-Forwarded-For and X-Forwarded-Proto from these peers: addresses, CIDR
    /// networks, and `unix` for Unix-socket peers (`127.0.0.1,10.0.0.0/8,unix`).
    #[arg(long, value_name = "ADDR[,ADDR|CIDR...]")]
    pub(crate) trusted_proxy: Option<TrustedProxies>,
    /// Proxies in front of the server: how many X-Forwarded-For entries to walk back.
    #[arg(long, default_value_t = 1, requires = "trusted_proxy")]
    pub(crate) proxy_hops: usize,
    /// Access log format on stderr.
    #[arg(long, value_enum, default_value_t = AccessLog::Python)]
    pub(crate) access_log: AccessLog,
    /// Every connection opens with a PROXY protocol v1 or v2 header (HAProxy, nginx
    /// `proxy_protocol on`); its client address is used (production face).
    #[arg(long)]
    pub(crate) proxy_protocol: bool,
}
