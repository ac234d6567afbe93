//! `demo` run as an operator runs it: under its supervisor (`--workers`), with real
//! processes and signals (sent with `kill(2)`), on `127.0.0.1` or a Unix socket, every
//! wait bounded and every client loop bounded in count and time.

#[allow(
    dead_code,
    reason = "the helpers of every demo test binary; this one uses some"
)]
mod support;

mod ops {
    pub(crate) mod common;
    mod config;
    mod logs;
    mod metrics;
    mod supervisor;
}
