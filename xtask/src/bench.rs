//! `cargo xtask bench`: end-to-end throughput and latency against anchor servers.

use std::path::Path;

/// Runs the benchmark suite (see `docs/benchmarks.md`).
pub(crate) fn run(_root: &Path, _args: &[String]) -> Result<(), String> {
    Err("bench: not built yet (issue 7)".to_owned())
}
