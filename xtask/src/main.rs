//! Project automation, run as `cargo xtask <command>` (std only, so it builds in seconds).
//!
//! - `ci`: fmt check, clippy with `-D warnings` (also on `gateway` without its default
//!   features), the tests, rustdoc with `-D warnings` (the workspace, then each published
//!   library alone with its default features),
//!   `cargo package` (with its verify build) of the publishable crates, tidy.
//! - `tidy`: the repository's own rules (see [`tidy`]).
//! - `package`: the `cargo package` step of `ci` alone, and the Python package's sdist.
//! - `doclinks`: points the docs' links to Rust items at the lines defining them (see
//!   [`doclinks`]); run it after code moves, tidy fails until then.
//! - `bench`: end-to-end benchmarks against anchor servers (see `bench.rs`).
//! - `fuzz`: runs each cargo-fuzz target for a while.
//! - `soak`: a million requests against the release `demo`, checking memory and descriptors.
//! - `instructions`: user-space instructions per request on the production path (callgrind).
//! - `pythons`: the Python host's tests on CPython 3.12, 3.13, 3.14, 3.15 and
//!   free-threaded 3.14t, built from source (see `pythons.rs`).

#![allow(
    clippy::print_stderr,
    reason = "xtask is a command-line tool: it reports on stderr"
)]
#![allow(clippy::print_stdout, reason = "xtask prints its tables on stdout")]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod doclinks;
mod instructions;
mod pythons;
mod soak;
mod tidy;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::run(&root()).map_err(|problems| problems.join("\n")),
        Some("doclinks") => doclinks::run(&root()),
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("package") => package(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("soak") => soak::run(&root(), &args[1..]),
        Some("instructions") => instructions::run(&root()),
        Some("pythons") => pythons::run(&root(), &args[1..]),
        _ => Err("usage: cargo xtask <ci|tidy|package|doclinks|bench [python] [--quick|--tls-only|--anchors-only] [--rounds N]|fuzz [--seconds N]|soak [--requests N]|instructions|pythons [3.12 3.13 3.14 3.15 3.14t]>".to_owned()),
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

/// `PATH` with `dir` first.
pub(crate) fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(p) = env::var_os("PATH") {
        paths.extend(env::split_paths(&p));
    }
    env::join_paths(paths).unwrap_or_default()
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
            "pyserve-gateway",
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The HTTP library without `cli`/`logging` (as gateway and library users build it).
    run_step(
        "clippy http-server --no-default-features",
        cargo().args([
            "clippy",
            "-p",
            "pyserve-http-server",
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    no_subscriber_in_libraries()?;
    // The README's test command.
    run_step("test", cargo().args(["test", "--workspace"]))?;
    run_step(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    // Each publishable library alone with its default features, as docs.rs documents it:
    // the workspace build above unifies features, so a link to an item behind a feature
    // another crate turns on resolves there and breaks here.
    for krate in PUBLISHED_LIBRARIES {
        run_step(
            &format!("doc {krate} alone"),
            cargo()
                .args(["doc", "--no-deps", "-p", krate])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )?;
    }
    package()?;
    tidy::run(&root()).map_err(|problems| problems.join("\n"))?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// The library crates published to crates.io.
const PUBLISHED_LIBRARIES: [&str; 5] = [
    "pyserve-stdx",
    "pyserve-socketserver",
    "pyserve-http-server",
    "pyserve-gateway",
    "pyserve-supervisor",
];

/// `cargo package` of every publishable crate, with its verify build.
fn package() -> Result<(), String> {
    // Every publishable crate packages and its package builds: packaged together, the
    // `pyserve-*` crates' dependencies on each other resolve against a local registry of
    // the packages just made (cargo >= 1.90), so the verify build needs nothing published.
    // New library crates are included; the unpublished members (`publish = false`, which
    // `cargo package --workspace` would still package) are excluded by name.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("package-verify");
    forget_earlier_packages(&target_dir)?;
    run_step(
        "package",
        cargo()
            .args([
                "package",
                "--workspace",
                "--exclude",
                "demo",
                "--exclude",
                "examples",
                "--exclude",
                "xtask",
                // Published to PyPI as an sdist (below), not to crates.io.
                "--exclude",
                "pyserve-python",
                "--allow-dirty",
                "--target-dir",
            ])
            .arg(&target_dir),
    )?;
    python_sdist()
}

/// The Python package's source distribution (`maturin sdist`), with the maturin of the
/// virtualenv `.ci/run` makes under `target/venv`. Outside CI, a machine without it skips
/// this step with a note; in CI (`CI` set) a missing maturin fails.
fn python_sdist() -> Result<(), String> {
    let maturin = root().join("target/venv/bin/maturin");
    if !maturin.exists() {
        if env::var_os("CI").is_some() {
            return Err(format!("python sdist: {} is missing", maturin.display()));
        }
        eprintln!(
            "xtask: python sdist skipped: no {} (run .ci/run's pip step)",
            maturin.display()
        );
        return Ok(());
    }
    let out = root().join("target/sdist");
    let _ = std::fs::remove_dir_all(&out);
    run_step(
        "python sdist",
        Command::new(maturin)
            .current_dir(root())
            .args([
                "sdist",
                "--manifest-path",
                "crates/python/Cargo.toml",
                "--out",
            ])
            .arg(&out),
    )
}

/// Removes what earlier `cargo package` runs left of our packages, which the next run
/// would take for current: cargo's verify build unpacks each `.crate` of its local registry
/// into `$CARGO_HOME/registry/src/-<hash>/<name>-<version>` (a file registry has no host,
/// hence the leading `-`) and does not unpack it again while that directory exists, and it
/// takes a registry crate's build as fresh whatever its sources. With the version unchanged
/// and the sources changed, a second run verified against the first run's code (seen with
/// cargo 1.95: a dependent failed on methods the stale copy lacked). So the `pyserve-*`
/// directories of file registries and the `pyserve-*` fingerprints of the verify build's
/// own target directory (`target_dir`, where nothing else builds) are removed first.
fn forget_earlier_packages(target_dir: &Path) -> Result<(), String> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let mut dirs = vec![target_dir.join("debug").join(".fingerprint")];
    if let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join("src")) {
        dirs.extend(
            registries
                .flatten()
                .filter(|r| r.file_name().to_string_lossy().starts_with('-'))
                .map(|r| r.path()),
        );
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("pyserve-") {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("cannot remove {}: {e}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Libraries emit events, binaries install subscribers: the default build of each library
/// crate has no `tracing-subscriber` (http-server's command needs its `cli` feature).
fn no_subscriber_in_libraries() -> Result<(), String> {
    for build in [
        &["-p", "pyserve-stdx"][..],
        &["-p", "pyserve-socketserver"],
        &["-p", "pyserve-http-server"],
        &["-p", "pyserve-gateway"],
    ] {
        let out = cargo()
            .args(["tree", "-e", "normal", "--prefix", "none"])
            .args(build)
            .output()
            .map_err(|e| format!("cargo tree: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo tree {build:?} failed"));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        if tree.lines().any(|l| l.starts_with("tracing-subscriber ")) {
            return Err(format!(
                "cargo tree -e normal {}: a library build depends on tracing-subscriber",
                build.join(" ")
            ));
        }
    }
    eprintln!("xtask: == no tracing-subscriber in the library builds");
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
