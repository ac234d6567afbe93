//! `demo --workers 2`: two processes share one port (the supervisor's listening socket,
//! inherited by both), both answer, and SIGTERM to the supervisor stops them all.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::{Demo, raw, split_response};

/// The pids of the supervisor's worker processes (children whose parent is `pid`).
fn children_of(pid: u32) -> HashSet<u32> {
    let mut out = HashSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        if after.split_whitespace().nth(1) == Some(&pid.to_string()) {
            out.insert(child);
        }
    }
    out
}

#[test]
fn two_workers_share_one_port() {
    let mut demo = Demo::production(&["--workers", "2", "--threads", "1"]);
    let workers = children_of(demo.pid());
    assert_eq!(workers.len(), 2, "{workers:?}");
    // Which process answers is the kernel's choice (a hash of the client's address and
    // port): both must get some of 64 fresh connections. A worker's event-loop threads
    // (`evloop-*`) sleep in epoll until a connection comes, so their voluntary context
    // switches count the work they were given.
    let switches = |pid: &u32| -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return 0;
        };
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("evloop-") && !c.starts_with("evloop-watchdog"))
            })
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .filter_map(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .sum()
    };
    let before: Vec<u64> = workers.iter().map(switches).collect();
    for _ in 0..64 {
        let reply = raw(
            demo.addr(),
            b"GET /xyz?abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let (status, _, body) = split_response(&reply);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(String::from_utf8_lossy(&body).contains("wsgi.multiprocess = True"));
    }
    let after: Vec<u64> = workers.iter().map(switches).collect();
    let busy = before.iter().zip(&after).filter(|(b, a)| a > b).count();
    assert_eq!(
        busy, 2,
        "both workers read requests: {before:?} -> {after:?}"
    );
    let status = demo.terminate();
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(100));
    for pid in workers {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "worker {pid} still running"
        );
    }
}
