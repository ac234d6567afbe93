//! The `demo` binary: the seed's `make_server('', 8782, demo_app)`.
fn main() {}
