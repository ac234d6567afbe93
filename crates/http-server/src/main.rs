//! `http-server`: the Rust `python -m http.server`.
//!
//! Serves a directory over HTTP with a threading server, logging each request to stderr in
//! CPython's format. `http-server [-b ADDRESS] [-d DIR] [-p VERSION] [-H NAME VALUE]...
//! [--tls-cert PATH [--tls-key PATH] [--tls-password-file PATH]] [port]`.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;

use http_server::SimpleHttpHandler;
use http_server::logging::CpythonLines;

/// The usage line printed after an error and at the top of the help.
const USAGE: &str = "Usage: http-server [OPTIONS] [PORT]";

/// The help `-h`/`--help` prints (the layout clap gave it before the port to `lexopt`).
const HELP: &str = "\
Serve a directory over HTTP (Python's http.server)

Usage: http-server [OPTIONS] [PORT]

Arguments:
  [PORT]  bind to this port [default: 8000]

Options:
  -b, --bind <ADDRESS>         bind to this address (default: all interfaces)
  -d, --directory <DIRECTORY>  serve this directory (default: current directory)
  -p, --protocol <VERSION>     conform to this HTTP version [default: HTTP/1.0]
  -H, --header <NAME> <VALUE>  add this header to every 200 response (repeatable)
      --tls-cert <PATH>        serve HTTPS with this certificate chain (PEM)
      --tls-key <PATH>         the private key (PEM; default: in the certificate file)
      --tls-password-file <PATH>
                               the password of an encrypted key
  -h, --help                   Print help
  -V, --version                Print version";

/// Command line of `python -m http.server` (without `--cgi`: CGIHTTPRequestHandler is not
/// ported).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    /// bind to this address (default: all interfaces)
    bind: Option<String>,
    /// serve this directory (default: current directory)
    directory: Option<PathBuf>,
    /// conform to this HTTP version
    protocol: String,
    /// bind to this port
    port: u16,
    /// `-H NAME VALUE`, in order: extra headers of 200 responses (Python 3.15).
    headers: Vec<(String, String)>,
    /// `--tls-cert`: serve HTTPS with this certificate chain (Python 3.14).
    tls_cert: Option<PathBuf>,
    /// `--tls-key`: the private key, when not in the certificate file.
    tls_key: Option<PathBuf>,
    /// `--tls-password-file`: holds the password of an encrypted key.
    tls_password_file: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            bind: None,
            directory: None,
            protocol: "HTTP/1.0".to_owned(),
            port: 8000,
            headers: Vec::new(),
            tls_cert: None,
            tls_key: None,
            tls_password_file: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Serve, with these arguments.
    Run(Args),
    /// `-h`/`--help`: print [`HELP`] and exit 0.
    Help,
    /// `-V`/`--version`: print the version and exit 0.
    Version,
}

/// A usage error: printed on stderr with [`USAGE`], exit status 2 (as clap and argparse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum CliError {
    /// An option this program does not have, or a second positional argument.
    #[error("unexpected argument '{0}' found")]
    Unexpected(String),
    /// An option that takes a value came last, or before another option.
    #[error("a value is required for '{0}' but none was supplied")]
    MissingValue(&'static str),
    /// A value that does not parse (the port), or is not UTF-8 where text is needed.
    #[error("invalid value '{value}' for '{option}': {reason}")]
    InvalidValue {
        /// The option (`[PORT]` for the positional port).
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it is not valid.
        reason: String,
    },
    /// An option given twice.
    #[error("the argument '{0}' cannot be used multiple times")]
    Repeated(&'static str),
    /// A TLS option without `--tls-cert` (argparse's `parser.error` in Python 3.14).
    #[error("{0} requires --tls-cert to be set")]
    RequiresTlsCert(&'static str),
}

impl From<lexopt::Error> for CliError {
    fn from(e: lexopt::Error) -> Self {
        match e {
            lexopt::Error::UnexpectedOption(o) => CliError::Unexpected(o),
            lexopt::Error::UnexpectedArgument(v) => {
                CliError::Unexpected(v.to_string_lossy().into_owned())
            }
            // `--help=x` and the like: name the whole argument.
            lexopt::Error::UnexpectedValue { option, value } => {
                CliError::Unexpected(format!("{option}={}", value.to_string_lossy()))
            }
            other => CliError::Unexpected(other.to_string()),
        }
    }
}

/// Parses the arguments after the program's name (`std::env::args_os().skip(1)`):
/// `[-b ADDRESS] [-d DIR] [-p VERSION] [port]`, values separate (`-b 127.0.0.1`), attached
/// (`-b127.0.0.1`, `-b=127.0.0.1`) or after `=` (`--bind=127.0.0.1`), each option once.
fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    const BIND: &str = "--bind <ADDRESS>";
    const DIRECTORY: &str = "--directory <DIRECTORY>";
    const PROTOCOL: &str = "--protocol <VERSION>";
    const PORT: &str = "[PORT]";
    const HEADER: &str = "--header <NAME> <VALUE>";
    const TLS_CERT: &str = "--tls-cert <PATH>";
    const TLS_KEY: &str = "--tls-key <PATH>";
    const TLS_PASSWORD_FILE: &str = "--tls-password-file <PATH>";
    let mut parser = lexopt::Parser::from_args(args);
    let mut args = Args::default();
    let mut seen: Vec<&'static str> = Vec::new();
    while let Some(arg) = parser.next()? {
        let option = match arg {
            Short('h') => return Ok(Command::Help),
            Short('V') => return Ok(Command::Version),
            Long("help") => return flag(&mut parser, "--help", Command::Help),
            Long("version") => return flag(&mut parser, "--version", Command::Version),
            Short('b') | Long("bind") => BIND,
            Short('d') | Long("directory") => DIRECTORY,
            Short('p') | Long("protocol") => PROTOCOL,
            Long("tls-cert") => TLS_CERT,
            Long("tls-key") => TLS_KEY,
            Long("tls-password-file") => TLS_PASSWORD_FILE,
            Short('H') | Long("header") => {
                args.headers.push(header(&mut parser, HEADER)?);
                continue;
            }
            Value(v) if !seen.contains(&PORT) => {
                seen.push(PORT);
                let text = v.to_string_lossy();
                args.port = text.parse().map_err(|e| CliError::InvalidValue {
                    option: PORT,
                    value: text.clone().into_owned(),
                    reason: format!("{e}"),
                })?;
                continue;
            }
            other => return Err(other.unexpected().into()),
        };
        if seen.contains(&option) {
            return Err(CliError::Repeated(option));
        }
        seen.push(option);
        let v = value(&mut parser, option)?;
        match option {
            DIRECTORY => args.directory = Some(v.into()),
            TLS_CERT => args.tls_cert = Some(v.into()),
            TLS_KEY => args.tls_key = Some(v.into()),
            TLS_PASSWORD_FILE => args.tls_password_file = Some(v.into()),
            BIND => args.bind = Some(utf8(option, v)?),
            _ => args.protocol = utf8(option, v)?,
        }
    }
    if args.tls_cert.is_none() {
        if args.tls_key.is_some() {
            return Err(CliError::RequiresTlsCert("--tls-key"));
        }
        if args.tls_password_file.is_some() {
            return Err(CliError::RequiresTlsCert("--tls-password-file"));
        }
    }
    Ok(Command::Run(args))
}

/// The `NAME VALUE` pair after `-H`/`--header` (argparse's `nargs=2`): it must pass
/// [`http_server::field::check`], so that a bad header is refused here rather than on
/// every request.
fn header(parser: &mut lexopt::Parser, option: &'static str) -> Result<(String, String), CliError> {
    let name = utf8(option, value(parser, option)?)?;
    // The value may start with `-` (`-H X-Note -1`): take the next argument as it is.
    let value = match parser.optional_value() {
        Some(v) => v,
        None => parser
            .raw_args()?
            .next()
            .ok_or(CliError::MissingValue(option))?,
    };
    let value = utf8(option, value)?;
    // The rule every response field meets (`http_server::field::check`).
    match http_server::field::check(&name, &value) {
        Ok(()) => Ok((name, value)),
        Err(e) => Err(CliError::InvalidValue {
            option,
            value: if e.is_name() { name } else { value },
            reason: e.reason().to_owned(),
        }),
    }
}

/// The text of `option`'s value `v`, which must be UTF-8.
fn utf8(option: &'static str, v: OsString) -> Result<String, CliError> {
    v.into_string().map_err(|v| CliError::InvalidValue {
        option,
        value: v.to_string_lossy().into_owned(),
        reason: "invalid UTF-8".to_owned(),
    })
}

/// `command`, unless the long flag has a value attached (`--help=x`).
fn flag(parser: &mut lexopt::Parser, name: &str, command: Command) -> Result<Command, CliError> {
    match parser.optional_value() {
        Some(v) => Err(CliError::Unexpected(format!(
            "{name}={}",
            v.to_string_lossy()
        ))),
        None => Ok(command),
    }
}

/// The value of `option`: attached (`-b127.0.0.1`, `--bind=127.0.0.1`) or the next argument,
/// which must not look like an option (clap's rule: `-b -d x` lacks the address).
fn value(parser: &mut lexopt::Parser, option: &'static str) -> Result<OsString, CliError> {
    if let Some(v) = parser.optional_value() {
        return Ok(v);
    }
    let looks_like_option = |a: &OsStr| a.as_encoded_bytes().starts_with(b"-") && a.len() > 1;
    parser
        .raw_args()?
        .next_if(|a| !looks_like_option(a))
        .ok_or(CliError::MissingValue(option))
}

/// Writes `text` and a newline, ignoring a closed pipe (`http-server --help | head -1`),
/// which `println!` would turn into a panic.
fn say(out: &mut impl Write, text: &str) -> std::process::ExitCode {
    let _ = writeln!(out, "{text}");
    std::process::ExitCode::SUCCESS
}

/// Prints a usage error on stderr, with [`USAGE`]; exit status 2, as clap's and Python's
/// argparse's.
fn usage_error(message: &str) -> std::process::ExitCode {
    let text = format!("error: {message}\n\n{USAGE}\n\nFor more information, try '--help'.");
    say(&mut std::io::stderr(), &text);
    std::process::ExitCode::from(2)
}

#[allow(
    clippy::print_stdout,
    reason = "the binary's banner goes to stdout, as Python's"
)]
fn main() -> std::process::ExitCode {
    let args = match parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => return say(&mut std::io::stdout(), HELP),
        Ok(Command::Version) => {
            let version = concat!("http-server ", env!("CARGO_PKG_VERSION"));
            return say(&mut std::io::stdout(), version);
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let _ = http_server::logging::install_stderr(CpythonLines);
    let directory = match args.directory.map_or_else(std::env::current_dir, Ok) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot read the current directory: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = SimpleHttpHandler::http_config().protocol_version(args.protocol);
    let headers = args.headers;
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&interrupted);
    let tls = match &args.tls_cert {
        None => None,
        Some(cert) => {
            let mut tls = socketserver::TlsConfig::new(cert);
            if let Some(key) = &args.tls_key {
                tls = tls.keyfile(key);
            }
            if let Some(file) = &args.tls_password_file {
                tls = match tls.password_file(file) {
                    Ok(tls) => tls,
                    // Python: parser.error("Failed to read TLS password file: ...").
                    Err(e) => {
                        return usage_error(&format!("failed to read TLS password file: {e}"));
                    }
                };
            }
            Some(tls)
        }
    };
    let factory = move |_cx: &socketserver::HandlerCx<'_>| {
        SimpleHttpHandler::new(directory.clone())
            .with_extra_response_headers(headers.iter().cloned())
    };
    let ready = move |banner: &str, stop: socketserver::ShutdownHandle| {
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
    };
    let bind = args.bind.as_deref();
    let result = match &tls {
        None => http_server::test(factory, config, args.port, bind, ready),
        Some(tls) => http_server::test_tls(factory, config, args.port, bind, tls, ready),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Args {
        match parse(args.iter().copied()) {
            Ok(Command::Run(a)) => a,
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
    fn defaults() {
        let a = run(&[]);
        assert_eq!(a.port, 8000);
        assert_eq!(a.protocol, "HTTP/1.0");
        assert_eq!(a.bind, None);
        assert_eq!(a.directory, None);
        assert_eq!(a, Args::default());
    }

    #[test]
    fn every_option_short_and_long() {
        let expected = Args {
            bind: Some("127.0.0.1".into()),
            directory: Some("/srv/www".into()),
            protocol: "HTTP/1.1".into(),
            port: 8080,
            headers: Vec::new(),
            tls_cert: None,
            tls_key: None,
            tls_password_file: None,
        };
        let spellings: [&[&str]; 5] = [
            &[
                "-b",
                "127.0.0.1",
                "-d",
                "/srv/www",
                "-p",
                "HTTP/1.1",
                "8080",
            ],
            &[
                "--bind",
                "127.0.0.1",
                "--directory",
                "/srv/www",
                "--protocol",
                "HTTP/1.1",
                "8080",
            ],
            &[
                "--bind=127.0.0.1",
                "--directory=/srv/www",
                "--protocol=HTTP/1.1",
                "8080",
            ],
            &["-b127.0.0.1", "-d/srv/www", "-pHTTP/1.1", "8080"],
            &["8080", "-b=127.0.0.1", "-d=/srv/www", "-p=HTTP/1.1"],
        ];
        for args in spellings {
            assert_eq!(run(args), expected, "{args:?}");
        }
    }

    #[test]
    fn positional_port() {
        assert_eq!(run(&["0"]).port, 0);
        assert_eq!(run(&["65535"]).port, 65535);
        // After `--` a port that looks like an option is still the port (`-- 8001`).
        assert_eq!(run(&["--", "8001"]).port, 8001);
        assert_eq!(
            err(&["abc"]).to_string(),
            "invalid value 'abc' for '[PORT]': invalid digit found in string"
        );
        assert!(matches!(
            err(&["70000"]),
            CliError::InvalidValue {
                option: "[PORT]",
                ..
            }
        ));
    }

    #[test]
    fn too_many_positionals() {
        assert_eq!(err(&["8000", "8001"]), CliError::Unexpected("8001".into()));
        assert_eq!(
            err(&["8000", "extra"]).to_string(),
            "unexpected argument 'extra' found"
        );
    }

    #[test]
    fn unknown_options() {
        assert_eq!(err(&["-x"]), CliError::Unexpected("-x".into()));
        assert_eq!(err(&["--cgi"]), CliError::Unexpected("--cgi".into()));
        assert_eq!(err(&["--bin", "x"]), CliError::Unexpected("--bin".into()));
        // A negative port is an unknown short option, as with clap.
        assert_eq!(err(&["-5"]), CliError::Unexpected("-5".into()));
    }

    #[test]
    fn missing_values() {
        assert_eq!(err(&["-b"]), CliError::MissingValue("--bind <ADDRESS>"));
        assert_eq!(
            err(&["--directory"]),
            CliError::MissingValue("--directory <DIRECTORY>")
        );
        assert_eq!(
            err(&["-p", "-b", "x"]).to_string(),
            "a value is required for '--protocol <VERSION>' but none was supplied"
        );
    }

    #[test]
    fn options_come_once() {
        assert_eq!(
            err(&["--bind=1.2.3.4", "-b", "1.2.3.5"]).to_string(),
            "the argument '--bind <ADDRESS>' cannot be used multiple times"
        );
        assert_eq!(
            err(&["-d", "a", "-d", "b"]),
            CliError::Repeated("--directory <DIRECTORY>")
        );
    }

    #[test]
    fn header_option_repeats_and_keeps_order() {
        let a = run(&[
            "-H",
            "X-One",
            "1",
            "--header",
            "Cache-Control",
            "no-cache, no-store",
            "--header=X-Dash",
            "-1",
            "8001",
        ]);
        assert_eq!(a.port, 8001);
        assert_eq!(
            a.headers,
            [
                ("X-One".to_owned(), "1".to_owned()),
                ("Cache-Control".to_owned(), "no-cache, no-store".to_owned()),
                ("X-Dash".to_owned(), "-1".to_owned()),
            ]
        );
        assert_eq!(
            err(&["-H", "X-One"]),
            CliError::MissingValue("--header <NAME> <VALUE>")
        );
        assert_eq!(
            err(&["-H"]),
            CliError::MissingValue("--header <NAME> <VALUE>")
        );
        assert!(matches!(
            err(&["-H", "Bad Name", "v"]),
            CliError::InvalidValue { .. }
        ));
        assert!(matches!(
            err(&["-H", "X-Split", "a\r\nSet-Cookie: x=1"]),
            CliError::InvalidValue { .. }
        ));
    }

    #[test]
    fn tls_options() {
        let a = run(&[
            "--tls-cert",
            "c.pem",
            "--tls-key=k.pem",
            "--tls-password-file",
            "pw.txt",
        ]);
        assert_eq!(a.tls_cert, Some("c.pem".into()));
        assert_eq!(a.tls_key, Some("k.pem".into()));
        assert_eq!(a.tls_password_file, Some("pw.txt".into()));
        assert_eq!(run(&["--tls-cert", "both.pem"]).tls_key, None);
        assert_eq!(
            err(&["--tls-key", "k.pem"]).to_string(),
            "--tls-key requires --tls-cert to be set"
        );
        assert_eq!(
            err(&["--tls-password-file", "p"]),
            CliError::RequiresTlsCert("--tls-password-file")
        );
        assert_eq!(
            err(&["--tls-cert", "a", "--tls-cert", "b"]),
            CliError::Repeated("--tls-cert <PATH>")
        );
        assert_eq!(
            err(&["--tls-cert"]),
            CliError::MissingValue("--tls-cert <PATH>")
        );
    }

    #[test]
    fn help_and_version() {
        for a in ["-h", "--help"] {
            assert_eq!(parse([a]), Ok(Command::Help));
        }
        for a in ["-V", "--version"] {
            assert_eq!(parse([a]), Ok(Command::Version));
        }
        assert_eq!(parse(["-b", "::1", "--help", "x", "y"]), Ok(Command::Help));
        assert_eq!(err(&["--help=x"]), CliError::Unexpected("--help=x".into()));
        assert_eq!(parse(["-Vh"]), Ok(Command::Version));
        assert!(HELP.contains(USAGE));
        for needle in [
            "[PORT]",
            "[default: 8000]",
            "-b, --bind <ADDRESS>",
            "-d, --directory <DIRECTORY>",
            "-p, --protocol <VERSION>",
            "-H, --header <NAME> <VALUE>",
            "--tls-cert <PATH>",
            "--tls-key <PATH>",
            "--tls-password-file <PATH>",
            "[default: HTTP/1.0]",
            "-h, --help",
            "-V, --version",
        ] {
            assert!(HELP.contains(needle), "{needle} missing from the help");
        }
    }
}
