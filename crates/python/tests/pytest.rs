//! Runs the Python test suite of the `pyserve` package (`crates/python/tests/*.py`).
//!
//! Builds the extension into the virtualenv `target/venv` (`maturin develop`, with its own
//! target directory `target/pyserve-build` so it never waits for this cargo's lock), then
//! runs `pytest` there. `.ci/run` creates that virtualenv with maturin, pytest and the
//! applications the tests serve. Without it (or without Python), the test prints a note and
//! passes on a developer's machine, and fails when `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Skips (prints why) outside CI; fails in CI.
#[allow(
    clippy::print_stderr,
    reason = "the note a developer sees when the Python toolchain is missing"
)]
fn missing(what: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "{what}: CI must provide it (.ci/run installs the virtualenv)"
    );
    eprintln!("note: skipping the pyserve Python tests: {what}");
}

#[test]
fn pytest_suite() {
    let root = root();
    let target = target_dir(&root);
    let venv = target.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        missing(&format!(
            "no virtualenv at {} (python3 -m venv {0} && {0}/bin/pip install maturin pytest)",
            venv.display()
        ));
        return;
    }
    let has = |module: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for module in ["maturin", "pytest"] {
        if !has(module) {
            missing(&format!("{module} is not installed in {}", venv.display()));
            return;
        }
    }
    let maturin = venv.join("bin/maturin");
    let status = Command::new(&maturin)
        .args(["develop", "--quiet"])
        .current_dir(root.join("crates/python"))
        .env("VIRTUAL_ENV", &venv)
        .env("CARGO_TARGET_DIR", target.join("pyserve-build"))
        .env("PATH", path_with(&venv.join("bin")))
        .status()
        .expect("run maturin develop");
    assert!(status.success(), "maturin develop failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "crates/python/tests",
        ])
        .current_dir(&root)
        .env("PATH", path_with(&venv.join("bin")))
        .status()
        .expect("run pytest");
    assert!(status.success(), "pytest failed");
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(paths).unwrap_or_default()
}
