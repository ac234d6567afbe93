//! The `demo` binary against clients nobody here wrote: Python's `http.client` and
//! `urllib.request`, curl, headless Chromium, and a differential test against Python's own
//! `wsgiref.simple_server`; plus its lifecycle (`--once`, SIGTERM). Every test runs the
//! built binary on `127.0.0.1` port 0 and bounds every wait.

mod chromium;
mod curl;
mod differential;
mod lifecycle;
mod malformed;
mod python_clients;
mod support;
mod tls;
mod workers;
