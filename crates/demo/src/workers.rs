//! `--workers N`: N processes serving one port, each with its own `SO_REUSEPORT`
//! listeners; the first SIGINT/SIGTERM is passed on to every worker for a graceful stop.

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

/// Set in the environment of worker processes.
pub(crate) const WORKER_ENV: &str = "PYSERVE_DEMO_WORKER";

/// Starts `n` copies of this program (without `--workers`), waits for them, and forwards
/// SIGINT/SIGTERM to them.
pub(crate) fn supervise(n: usize, host: &str, port: u16) -> Result<(), super::BoxError> {
    let exe = std::env::current_exe()?;
    // Port 0 must mean one port for every worker: pick it here, in the SO_REUSEPORT group
    // the workers will join.
    let addr = socketserver::inet_address(host, port)?;
    let port = if port == 0 {
        let probe = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )?;
        probe.set_reuse_address(true)?;
        probe.set_reuse_port(true)?;
        probe.bind(&addr.into())?;
        probe.local_addr()?.as_socket().map_or(0, |a| a.port())
    } else {
        port
    };
    let mut args: Vec<String> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--workers" || a == "--port" {
            it.next();
        } else if !a.starts_with("--workers=") && !a.starts_with("--port=") {
            args.push(a);
        }
    }
    args.push("--port".to_owned());
    args.push(port.to_string());
    let children: Arc<Mutex<Vec<Child>>> = Arc::default();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for i in 0..n {
        let mut child = Command::new(&exe)
            .args(&args)
            .env(WORKER_ENV, i.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        // A worker prints its banner once it listens: wait for every one of them before
        // announcing the port, so a client never finds it closed.
        if let Some(out) = child.stdout.take() {
            let tx = ready_tx.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut lines = std::io::BufReader::new(out).lines();
                let _ = tx.send(lines.next().is_some());
                for _ in lines {}
            });
        }
        children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for _ in 0..n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !ready_rx.recv_timeout(left).unwrap_or(false) {
            tracing::warn!("a worker did not start listening");
        }
    }
    tracing::info!("started {n} workers");
    super::banner(&addr.ip().to_string(), port);
    let pids: Vec<u32> = children
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(Child::id)
        .collect();
    super::on_signal(move || {
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    })?;
    let mut failed = false;
    let mut list = std::mem::take(&mut *children.lock().unwrap_or_else(|e| e.into_inner()));
    for child in &mut list {
        failed |= !child.wait()?.success();
    }
    if failed {
        return Err("a worker failed".into());
    }
    Ok(())
}
