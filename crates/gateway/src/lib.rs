//! `gateway`: Python's `wsgiref` in Rust.
