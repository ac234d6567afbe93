//! Shared helpers for the examples (see `examples/README.md`).
