//! `demo_app` as a CGI script (Python: `wsgiref.handlers.CGIHandler().run(demo_app)`).
//! A web server runs it with the request in the environment and the body on stdin; try it by
//! hand with
//! `REQUEST_METHOD=GET PATH_INFO=/xyz QUERY_STRING=abc cargo run -p examples --example cgi_demo </dev/null`.
//! The response starts with `Status: 200 OK`.

use std::io::Write;
use std::process::ExitCode;

use gateway::handlers::CgiHandler;
use gateway::simple_server::demo_app;

fn main() -> ExitCode {
    // No tracing subscriber: stdout is the response, and errors go to stderr through
    // wsgi.errors, as in Python.
    let outcome = CgiHandler::new().run(&demo_app);
    let flushed = std::io::stdout().flush();
    if outcome.is_ok() && flushed.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
