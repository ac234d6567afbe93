//! `cargo xtask instructions`: user-space instructions per request on the production path,
//! counted by valgrind's callgrind.
//!
//! Requests per second move by several percent between runs on a shared machine; an
//! instruction count does not (the same binary and input give the same count, whatever
//! else the machine is doing). So this is the number to watch when changing the hot path:
//! it runs the criterion bench `production_path` (one keep-alive request through
//! `HttpProtocol::frame` + `serve`: parsing, the WSGI handler, the application, the
//! response checks; no socket) under callgrind and divides the instructions spent in
//! the bench's `one_request` (`frame`, then `serve`) by the number of requests.
//!
//! It builds the bench with symbols in `target/instructions` (its own directory, so the
//! usual builds keep their settings) and needs `valgrind` (with `callgrind_annotate`).

use std::path::Path;
use std::process::Command;

/// The scenarios of the `production_path` bench (`hello_logged`: `hello` with the access
/// log the demo's `--access-logfile` installs).
const SCENARIOS: [&str; 3] = ["hello", "hello_logged", "demo_app"];

pub(crate) fn run(root: &Path) -> Result<(), String> {
    for tool in ["valgrind", "callgrind_annotate"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "{tool} is missing (Debian: apt-get install valgrind)"
            ));
        }
    }
    let target = root.join("target").join("instructions");
    let out = crate::cargo()
        .args([
            "bench",
            "-p",
            "pyserve-gateway",
            "--bench",
            "handler",
            "--no-run",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_BENCH_STRIP", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "false")
        .env("CARGO_PROFILE_BENCH_DEBUG", "line-tables-only")
        .output()
        .map_err(|e| format!("cargo bench --no-run: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("building the bench failed:\n{log}"));
    }
    // "  Executable benches/handler.rs (/path/to/handler-hash)"
    let exe = log
        .lines()
        .filter(|l| l.contains("Executable") && l.contains("benches/handler.rs"))
        .find_map(|l| {
            l.rsplit_once('(')
                .map(|(_, p)| p.trim_end_matches(')').to_owned())
        })
        .ok_or_else(|| format!("no bench executable in cargo's output:\n{log}"))?;
    println!("| production_path scenario | instructions per request |");
    println!("|---|---|");
    let mut counts = Vec::new();
    for name in SCENARIOS {
        let profile = target.join(format!("callgrind-{name}.out"));
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", profile.display()))
            .arg(&exe)
            .args([
                "--bench",
                &format!("production_path/{name}$"),
                "--profile-time",
                "2",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("valgrind: {e}"))?;
        if !status.success() {
            return Err(format!("valgrind failed on {name} ({status})"));
        }
        let per_request = per_request(&profile)?;
        println!("| {name} | {per_request} |");
        counts.push((name, per_request));
    }
    let count = |n: &str| counts.iter().find(|(name, _)| *name == n).map(|(_, c)| *c);
    if let (Some(off), Some(on)) = (count("hello"), count("hello_logged")) {
        // Requests per second scale as the inverse of the instructions per request.
        println!(
            "\naccess log on/off (hello / hello_logged): {:.3}",
            off as f64 / on as f64
        );
    }
    Ok(())
}

/// Instructions in the bench's `one_request` (`frame` then `serve`; inclusive) divided by
/// its calls.
fn per_request(profile: &Path) -> Result<u64, String> {
    let annotate = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("callgrind_annotate")
            .args(args)
            .arg(profile)
            .output()
            .map_err(|e| format!("callgrind_annotate: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let number = |s: &str| s.replace(',', "").parse::<u64>().ok();
    let inclusive = annotate(&["--inclusive=yes"])?;
    // "  123,456 (12.3%)  /path/benches/handler.rs:handler::one_request [/path/handler-..]"
    let total = inclusive
        .lines()
        .find(|l| l.contains("handler::one_request [") && !l.contains("=>"))
        .and_then(|l| l.split_whitespace().next().and_then(number))
        .ok_or("no one_request in the profile")?;
    // A caller line: "   123,456 (12.3%)  => .../handler.rs:handler::one_request (8,968x)".
    let tree = annotate(&["--tree=caller"])?;
    let calls = tree
        .lines()
        .find(|l| l.contains("=>") && l.contains("handler::one_request ("))
        .and_then(|l| {
            l.rsplit_once('(')
                .and_then(|(_, c)| number(c.trim_end_matches("x)")))
        })
        .ok_or("no call count for one_request in the profile")?;
    if total == 0 || calls == 0 {
        return Err("the profile has no one_request instructions".to_owned());
    }
    Ok(total / calls)
}
