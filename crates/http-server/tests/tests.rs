//! Integration tests of `http-server` (one binary, modules per area).

mod advisories;
mod chromium;
mod cli;
mod cpython;
mod differential;
mod equivalence;
mod framing;
mod h1;
mod headers;
mod heads;
mod hostile;
mod parse;
mod porting_map;
mod props;
mod support;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
mod tls_evloop;
mod traversal;
mod upstream;
