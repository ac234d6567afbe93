//! `cargo xtask pythons [3.12 3.13 3.14 3.15 3.14t]`: the Python host's tests on other CPythons.
//!
//! The machine's CPython is 3.11 (the one CI tests). The package supports 3.11 to 3.15, so
//! this command builds each newer CPython from its release tarball (as packaged by Debian
//! or Ubuntu, whose mirrors this machine reaches; pinned by SHA-256) under
//! `target/pythons/<version>`, makes a virtualenv `target/pythons/venv-<version>` with
//! maturin, pytest and the applications the tests serve, builds the extension there
//! (`maturin develop`, target directory `target/pythons/cargo-<version>`) and runs
//! `crates/python/tests` with it. Each installed CPython brings its own `test` package, so
//! that version's `Lib/test/test_wsgiref.py` runs against `pyserve.simple_server` too.
//! `3.14t` is the free-threaded build of 3.14 (`--disable-gil`).
//!
//! Not part of `ci`: building five CPythons takes about 30 minutes on two cores. Built
//! interpreters and virtualenvs are kept, so a second run only rebuilds the extension and
//! tests. When a mirror drops a tarball (distributions keep only current versions), update
//! the table below with the new file and its hash.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run_step;

/// One CPython release: its version, where its source tarball is, and the tarball's SHA-256.
struct Release {
    version: &'static str,
    url: &'static str,
    sha256: &'static str,
}

const RELEASES: &[Release] = &[
    Release {
        version: "3.12",
        url: "http://archive.ubuntu.com/ubuntu/pool/main/p/python3.12/python3.12_3.12.3.orig.tar.xz",
        sha256: "56bfef1fdfc1221ce6720e43a661e3eb41785dd914ce99698d8c7896af4bdaa1",
    },
    Release {
        version: "3.13",
        url: "http://deb.debian.org/debian/pool/main/p/python3.13/python3.13_3.13.15.orig.tar.xz",
        sha256: "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76",
    },
    Release {
        version: "3.14",
        url: "http://archive.ubuntu.com/ubuntu/pool/main/p/python3.14/python3.14_3.14.4.orig.tar.xz",
        sha256: "d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8",
    },
    // Debian's mirror had 3.15's second release candidate, not yet 3.15.0, on 2026-12-05.
    Release {
        version: "3.15",
        url: "http://deb.debian.org/debian/pool/main/p/python3.15/python3.15_3.15.0~rc2.orig.tar.xz",
        sha256: "8d93af5eaaaea5adfd41bd786a7ba3f03f2ad1ab57c6a65e0b963deab91d5ad7",
    },
    // The free-threaded build of 3.14 (`--disable-gil`, `python3.14t`).
    Release {
        version: "3.14t",
        url: "http://archive.ubuntu.com/ubuntu/pool/main/p/python3.14/python3.14_3.14.4.orig.tar.xz",
        sha256: "d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8",
    },
];

/// Debian packages CPython's build needs for the modules the tests use (ssl, sqlite3 for
/// Django, ctypes, compression, uuid).
const BUILD_DEPS: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "zlib1g-dev",
    "libffi-dev",
    "libsqlite3-dev",
    "libbz2-dev",
    "liblzma-dev",
    "uuid-dev",
];

/// What the virtualenvs get: the build tool, the test runner, the applications served.
const PIP_PACKAGES: &[&str] = &[
    "maturin", "pytest", "flask", "django", "bottle", "falcon", "httpbin",
];

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let wanted: Vec<&Release> = if args.is_empty() {
        RELEASES.iter().collect()
    } else {
        args.iter()
            .map(|v| {
                RELEASES.iter().find(|r| r.version == v).ok_or_else(|| {
                    let known: Vec<_> = RELEASES.iter().map(|r| r.version).collect();
                    format!("unknown version {v} (known: {})", known.join(" "))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let base = root.join("target/pythons");
    std::fs::create_dir_all(base.join("src")).map_err(|e| format!("{}: {e}", base.display()))?;
    ensure_build_deps()?;
    // test_cli.py compares `pyserve` with `demo` on the wire (target/debug/demo).
    run_step("build demo", crate::cargo().args(["build", "-p", "demo"]))?;
    let mut results = Vec::new();
    for release in wanted {
        let python = build_python(&base, release)?;
        let venv = make_venv(&base, release, &python)?;
        let outcome = test(root, &base, release, &venv);
        results.push((release.version, outcome));
    }
    println!("| CPython | pytest |");
    println!("|---|---|");
    let mut failed = false;
    for (version, outcome) in &results {
        let text = match outcome {
            Ok(summary) => summary.clone(),
            Err(e) => {
                failed = true;
                format!("FAILED: {e}")
            }
        };
        println!("| {version} | {text} |");
    }
    if failed {
        Err("the Python host's tests failed on at least one CPython".to_owned())
    } else {
        Ok(())
    }
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn ensure_build_deps() -> Result<(), String> {
    let missing: Vec<&str> = BUILD_DEPS
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run_step(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    run_step(
        "install CPython's build dependencies",
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Downloads, checks, configures, builds and installs one CPython; returns its interpreter.
fn build_python(base: &Path, release: &Release) -> Result<PathBuf, String> {
    let v = release.version;
    let prefix = base.join(v);
    let python = prefix.join(format!("bin/python{v}"));
    if python.exists() {
        return Ok(python);
    }
    let file = release.url.rsplit('/').next().unwrap_or("python.tar.xz");
    let tarball = base.join("src").join(file);
    if !tarball.exists() {
        let partial = tarball.with_extension("part");
        run_step(
            &format!("download CPython {v}"),
            Command::new("curl")
                .args(["-fsSL", "--retry", "3", "-o"])
                .arg(&partial)
                .arg(release.url),
        )
        .map_err(|e| format!("{e}: the mirror may have dropped this release; update RELEASES in xtask/src/pythons.rs"))?;
        std::fs::rename(&partial, &tarball).map_err(|e| e.to_string())?;
    }
    let sum = Command::new("sha256sum")
        .arg(&tarball)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let sum = String::from_utf8_lossy(&sum.stdout);
    if sum.split_whitespace().next() != Some(release.sha256) {
        return Err(format!(
            "{}: SHA-256 {} does not match the pinned {}",
            tarball.display(),
            sum.split_whitespace().next().unwrap_or("?"),
            release.sha256
        ));
    }
    let build = base.join(format!("build-{v}"));
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(&build).map_err(|e| e.to_string())?;
    run_step(
        &format!("unpack CPython {v}"),
        Command::new("tar")
            .args(["xf"])
            .arg(&tarball)
            .args(["--strip-components=1", "-C"])
            .arg(&build),
    )?;
    run_step(
        &format!("configure CPython {v}"),
        Command::new("./configure")
            .arg("--quiet")
            .arg(format!("--prefix={}", prefix.display()))
            .args(v.ends_with('t').then_some("--disable-gil"))
            .current_dir(&build)
            .stdout(Stdio::null()),
    )?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    run_step(
        &format!("build CPython {v}"),
        Command::new("make")
            .args(["-s", &format!("-j{jobs}")])
            .current_dir(&build)
            .stdout(Stdio::null()),
    )?;
    run_step(
        &format!("install CPython {v}"),
        Command::new("make")
            .args(["-s", "install"])
            .current_dir(&build)
            .stdout(Stdio::null()),
    )?;
    let _ = std::fs::remove_dir_all(&build);
    if python.exists() {
        Ok(python)
    } else {
        Err(format!("{} missing after make install", python.display()))
    }
}

/// The virtualenv for one version, with [`PIP_PACKAGES`] (an application pip cannot
/// install on that version is reported and its tests skip).
fn make_venv(base: &Path, release: &Release, python: &Path) -> Result<PathBuf, String> {
    let venv = base.join(format!("venv-{}", release.version));
    let pip = venv.join("bin/pip");
    if !pip.exists() {
        run_step(
            &format!("virtualenv for {}", release.version),
            Command::new(python).args(["-m", "venv"]).arg(&venv),
        )?;
    }
    let pip_install = |packages: &[&str]| {
        Command::new(&pip)
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !pip_install(PIP_PACKAGES) {
        for package in PIP_PACKAGES {
            if !pip_install(&[package]) {
                eprintln!(
                    "xtask: pip cannot install {package} on CPython {}",
                    release.version
                );
            }
        }
    }
    Ok(venv)
}

/// Builds the extension into `venv` and runs the test suite; returns pytest's summary line.
fn test(root: &Path, base: &Path, release: &Release, venv: &Path) -> Result<String, String> {
    let bin = venv.join("bin");
    let path = crate::path_with(&bin);
    run_step(
        &format!("maturin develop for {}", release.version),
        Command::new(bin.join("maturin"))
            .args(["develop", "--quiet"])
            .current_dir(root.join("crates/python"))
            .env("VIRTUAL_ENV", venv)
            .env(
                "CARGO_TARGET_DIR",
                base.join(format!("cargo-{}", release.version)),
            )
            .env("PATH", &path),
    )?;
    eprintln!("xtask: == pytest on CPython {}", release.version);
    let out = Command::new(bin.join("python"))
        .args([
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "crates/python/tests",
        ])
        .current_dir(root)
        .env("PATH", &path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("pytest: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && (l.contains("passed") || l.contains("failed")))
        .unwrap_or("no summary")
        .trim_matches(|c: char| c == '=' || c.is_whitespace())
        .to_owned();
    if out.status.success() {
        Ok(summary)
    } else {
        Err(summary)
    }
}
