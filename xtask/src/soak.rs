//! `cargo xtask soak [--requests N]`: a long run against the release `demo --app hello`
//! (production face) on 127.0.0.1, checking for leaks.
//!
//! Builds `demo` in release mode, starts it on a free loopback port, and drives N requests
//! (default 1,000,000) from four client threads: keep-alive connections of 1 to 32 requests,
//! some ending with `Connection: close`, others dropped by the client, and about 1% malformed
//! requests (which must get a 400 and a close). The server's resident memory (`VmRSS`) and
//! open descriptors (`/proc/PID/fd`) are sampled after a warm-up, at the middle and at the
//! end; the run fails if RSS grew by more than 20 MiB after the warm-up, if descriptors did
//! not come back to their start count, or if any answer was wrong.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{cargo, run_step};

const CLIENTS: u64 = 4;
const WARM_UP: u64 = 20_000;
const RSS_BOUND_KIB: u64 = 20 * 1024;

/// Runs the soak test.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut requests = 1_000_000u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--requests" => {
                requests = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--requests takes a number")?;
            }
            other => return Err(format!("soak: unknown argument {other}")),
        }
    }
    let requests = requests.max(WARM_UP * 2);
    run_step(
        "build demo (release)",
        cargo().args(["build", "--release", "-p", "demo"]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("demo");
    let port = free_port()?;
    let mut server = Server(
        Command::new(&bin)
            .args(["--app", "hello", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?,
    );
    let pid = server.0.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(addr)?;

    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_client = requests / CLIENTS;
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (done, errors, stop) = (done.clone(), errors.clone(), stop.clone());
            std::thread::spawn(move || client(addr, per_client, i + 1, &done, &errors, &stop))
        })
        .collect();
    let total = per_client * CLIENTS;
    let mut samples: Vec<(&str, u64, Sample)> = Vec::new();
    let checkpoints = [("start", WARM_UP), ("middle", total / 2)];
    let mut next = 0;
    while done.load(Ordering::Relaxed) < total && clients.iter().any(|c| !c.is_finished()) {
        let n = done.load(Ordering::Relaxed);
        if next < checkpoints.len() && n >= checkpoints[next].1 {
            samples.push((checkpoints[next].0, n, Sample::take(pid)?));
            eprintln!(
                "soak: {} after {n} requests: {}",
                checkpoints[next].0,
                samples.last().unwrap().2
            );
            next += 1;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            stop.store(true, Ordering::Relaxed);
            return Err(format!(
                "soak: the server exited ({status}) after {n} requests"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for c in clients {
        c.join().map_err(|_| "a client thread panicked")?;
    }
    let elapsed = start.elapsed();
    let n = done.load(Ordering::Relaxed);
    // Every client connection is closed now: give the server a moment to see it.
    let first = samples.first().map(|s| s.2).ok_or("no start sample")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut end = Sample::take(pid)?;
    while end.fds > first.fds && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        end = Sample::take(pid)?;
    }
    samples.push(("end", n, end));
    eprintln!("soak: end after {n} requests: {end}");
    let errors = errors.load(Ordering::Relaxed);
    println!(
        "soak: {n} requests in {:.1} s ({:.0} req/s), {errors} errors",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    for (name, at, s) in &samples {
        println!("soak: {name:>6} (after {at:>8} requests): {s}");
    }
    drop(server.0.kill());
    let _ = server.0.wait();
    if errors > 0 {
        return Err(format!("soak: {errors} wrong or missing answers"));
    }
    let grown = end.rss_kib.saturating_sub(first.rss_kib);
    if grown > RSS_BOUND_KIB {
        return Err(format!(
            "soak: resident memory grew by {grown} KiB after the warm-up (bound {RSS_BOUND_KIB} KiB)"
        ));
    }
    if end.fds > first.fds {
        return Err(format!(
            "soak: {} descriptors open at the end, {} at the start",
            end.fds, first.fds
        ));
    }
    println!(
        "soak: passed (RSS +{grown} KiB, descriptors {} -> {})",
        first.fds, end.fds
    );
    Ok(())
}

/// The server process, killed if the soak ends early.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
}

impl Sample {
    fn take(pid: u32) -> Result<Sample, String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("server gone: {e}"))?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmRSS")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map_err(|e| e.to_string())?
            .count();
        Ok(Sample { rss_kib, fds })
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB, {} open descriptors",
            self.rss_kib as f64 / 1024.0,
            self.fds
        )
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn wait_for(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("demo did not listen on {addr}"))
}

/// A small deterministic generator (xorshift), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const MALFORMED: &[&[u8]] = &[
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: x\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
];

/// Drives `count` requests over successive connections; counts each answered request in
/// `done` and each wrong answer in `errors`.
fn client(
    addr: SocketAddr,
    count: u64,
    seed: u64,
    done: &AtomicU64,
    errors: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut left = count;
    while left > 0 && !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(addr) else {
            errors.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_nodelay(true);
        let mut w = match stream.try_clone() {
            Ok(w) => w,
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let mut r = BufReader::new(stream);
        let on_this = (rng.next() % 32 + 1).min(left);
        let close_politely = rng.next().is_multiple_of(2);
        for i in 0..on_this {
            left -= 1;
            if rng.next().is_multiple_of(100) {
                let bad = MALFORMED[(rng.next() % MALFORMED.len() as u64) as usize];
                let ok = w.write_all(bad).is_ok() && read_answer(&mut r) == Some(400) && {
                    let mut rest = Vec::new();
                    matches!(r.read_to_end(&mut rest), Ok(0))
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
                break;
            }
            let last = i + 1 == on_this;
            let req: &[u8] = if last && close_politely {
                b"GET /soak HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
            } else {
                b"GET /soak HTTP/1.1\r\nHost: soak\r\n\r\n"
            };
            if w.write_all(req).is_err() || read_answer(&mut r) != Some(200) {
                errors.fetch_add(1, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
                break;
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads one response; its status if well-formed with a `Content-Length` body.
fn read_answer(r: &mut BufReader<TcpStream>) -> Option<u16> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status: u16 = line.get(9..12)?.parse().ok()?;
    let mut len = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        if h == "\r\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            len = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    Some(status)
}
