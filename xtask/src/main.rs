//! Project automation, run as `cargo xtask <command>` (std only, so it builds in seconds).
//!
//! - `ci`: fmt check, clippy with `-D warnings` (also on `gateway` without its default
//!   features), the tests, rustdoc with `-D warnings`,
//!   `cargo package` of the library crates, tidy.
//! - `tidy`: the repository's own rules (see [`tidy`]).
//! - `bench`: end-to-end benchmarks against anchor servers (see `bench.rs`).
//! - `fuzz`: runs each cargo-fuzz target for a while.
//! - `soak`: a million requests against the release `demo`, checking memory and descriptors.
//! - `instructions`: user-space instructions per request on the production path (callgrind).

#![allow(
    clippy::print_stderr,
    reason = "xtask is a command-line tool: it reports on stderr"
)]
#![allow(clippy::print_stdout, reason = "xtask prints its tables on stdout")]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod instructions;
mod soak;
mod tidy;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::run(&root()).map_err(|problems| problems.join("\n")),
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("soak") => soak::run(&root(), &args[1..]),
        Some("instructions") => instructions::run(&root()),
        _ => Err("usage: cargo xtask <ci|tidy|bench [python] [--quick|--anchors-only]|fuzz [--seconds N]|soak [--requests N]|instructions>".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    c.current_dir(root());
    c
}

pub(crate) fn run_step(name: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: == {name}: {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    run_step("fmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run_step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The WSGI core without the HTTP server (`gateway` without `simple-server`, as the
    // fuzz targets and CGI users build it) stays warning-free.
    run_step(
        "clippy gateway --no-default-features",
        cargo().args([
            "clippy",
            "-p",
            "gateway",
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The README's test command.
    run_step("test", cargo().args(["test", "--workspace"]))?;
    run_step(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    // The library crates can be published: `cargo package` (without the verify build, which
    // the steps above cover; path dependencies resolve against the workspace's own packages).
    run_step(
        "package",
        cargo().args([
            "package",
            "--workspace",
            "--exclude",
            "demo",
            "--exclude",
            "examples",
            "--exclude",
            "xtask",
            "--no-verify",
            "--allow-dirty",
        ]),
    )?;
    tidy::run(&root()).map_err(|problems| problems.join("\n"))?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let mut seconds = 30u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--seconds" {
            seconds = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("--seconds takes a number")?;
        }
    }
    let fuzz_dir = root().join("fuzz");
    if !fuzz_dir.join("Cargo.toml").exists() {
        return Err("no fuzz/ crate in this checkout".to_owned());
    }
    let have = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        run_step(
            "install cargo-fuzz",
            cargo().args(["install", "cargo-fuzz"]),
        )?;
    }
    let list = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(&fuzz_dir)
        .args(["fuzz", "list"])
        .env("RUSTC_BOOTSTRAP", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let targets = String::from_utf8_lossy(&list.stdout).to_string();
    if !list.status.success() || targets.trim().is_empty() {
        return Err("cargo fuzz list found no targets".to_owned());
    }
    for target in targets.lines().filter(|l| !l.trim().is_empty()) {
        run_step(
            &format!("fuzz {target}"),
            Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
                .current_dir(&fuzz_dir)
                // The sanitizer build has nothing to share with the workspace's: keep it in
                // fuzz/target whatever CARGO_TARGET_DIR says.
                .env_remove("CARGO_TARGET_DIR")
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "fuzz",
                    "run",
                    target,
                    "--",
                    &format!("-max_total_time={seconds}"),
                ]),
        )?;
    }
    Ok(())
}
