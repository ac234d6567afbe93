//! Integration tests of `http-server` (one binary, modules per area).

mod support;
