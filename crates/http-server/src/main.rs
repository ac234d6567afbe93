//! `http-server`: the Rust `python -m http.server`.
//!
//! Serves a directory over HTTP with a threading server, logging each request to stderr in
//! CPython's format. `http-server [-b ADDRESS] [-d DIR] [-p VERSION] [port]`.

use std::path::PathBuf;

use clap::Parser;
use http_server::SimpleHttpHandler;
use http_server::logging::CpythonLines;

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

#[allow(
    clippy::print_stdout,
    reason = "the binary's banner goes to stdout, as Python's"
)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .event_format(CpythonLines)
        .finish()
        .with(http_server::logging::rust_log_filter());
    let _ = tracing::subscriber::set_global_default(subscriber);
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
