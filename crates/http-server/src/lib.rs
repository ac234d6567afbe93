//! `http_server`: Python's `http.server` in Rust.
