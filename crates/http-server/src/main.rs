//! `http-server`: the Rust `python -m http.server`.
//!
//! Serves a directory over HTTP with a threading server, logging each request to stderr in
//! CPython's format. `http-server [-b ADDRESS] [-d DIR] [-p VERSION] [port]`.

use std::fmt;
use std::path::PathBuf;

use clap::Parser;
use http_server::SimpleHttpHandler;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Command line of `python -m http.server` (without `--cgi`: CGIHTTPRequestHandler is not
/// ported).
#[derive(Debug, Parser)]
#[command(
    name = "http-server",
    version,
    about = "Serve a directory over HTTP (Python's http.server)"
)]
struct Args {
    /// bind to this address (default: all interfaces)
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    bind: Option<String>,
    /// serve this directory (default: current directory)
    #[arg(short = 'd', long = "directory")]
    directory: Option<PathBuf>,
    /// conform to this HTTP version
    #[arg(
        short = 'p',
        long = "protocol",
        value_name = "VERSION",
        default_value = "HTTP/1.0"
    )]
    protocol: String,
    /// bind to this port
    #[arg(default_value_t = 8000)]
    port: u16,
}

/// Prints `http_server::access` events as CPython's bare lines, others with their level.
struct CpythonLines;

struct Message(String, String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.1.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for CpythonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut m = Message(String::new(), String::new());
        event.record(&mut m);
        if event.metadata().target() == "http_server::access" {
            writeln!(writer, "{}", m.0)
        } else {
            writeln!(writer, "{}: {}{}", event.metadata().level(), m.0, m.1)
        }
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the binary's banner goes to stdout, as Python's"
)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .event_format(CpythonLines)
        .init();
    let directory = match args.directory.map_or_else(std::env::current_dir, Ok) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot read the current directory: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = SimpleHttpHandler::http_config().protocol_version(args.protocol);
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&interrupted);
    let result = http_server::test(
        move |_cx: &socketserver::HandlerCx<'_>| SimpleHttpHandler::new(directory.clone()),
        config,
        args.port,
        args.bind.as_deref(),
        move |banner, stop| {
            println!("{banner}");
            let signals = signal_hook::iterator::Signals::new([
                signal_hook::consts::SIGINT,
                signal_hook::consts::SIGTERM,
            ]);
            match signals {
                Ok(mut signals) => {
                    std::thread::spawn(move || {
                        if signals.forever().next().is_some() {
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                            stop.request();
                        }
                    });
                }
                Err(e) => tracing::error!("cannot install the signal handler: {e}"),
            }
        },
    );
    match result {
        Ok(()) => {
            if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                println!("\nKeyboard interrupt received, exiting.");
            }
            // Like Python's sys.exit with daemon threads: open keep-alive connections do not
            // hold the exit.
            std::process::exit(0)
        }
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
