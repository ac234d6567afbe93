//! Helpers of the operations tests: worker pids, bounded waits, an HTTP/1.1 client that
//! reads whole responses.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::Demo;

/// The pids of `pid`'s children (a supervisor's workers).
pub(crate) fn children_of(pid: u32) -> HashSet<u32> {
    let mut out = HashSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        let mut fields = after.split_whitespace();
        let state = fields.next();
        if fields.next() == Some(&pid.to_string()) && state != Some("Z") {
            out.insert(child);
        }
    }
    out
}

/// Waits (at most `limit`) until `check` holds; panics with `what` and the demo's log.
pub(crate) fn wait_for(demo: &Demo, limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            demo.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most `limit`) until the demo's log holds `needle`: the log is read from a
/// pipe by a thread of its own, so a line the server wrote just before the state a test
/// waited for may not have been read yet.
pub(crate) fn wait_for_log(demo: &Demo, limit: Duration, needle: &str) {
    wait_for(demo, limit, &format!("the log line {needle:?}"), || {
        demo.stderr().contains(needle)
    });
}

/// How many times `needle` occurs in the demo's log.
pub(crate) fn log_count(demo: &Demo, needle: &str) -> usize {
    demo.stderr().matches(needle).count()
}

/// Sends `kill(2)` to `pid`.
pub(crate) fn kill(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(pid, sig).expect("kill(2)");
}

/// A whole response read from a stream: status code, whether the server closes, body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) close: bool,
    pub(crate) body: Vec<u8>,
}

/// Reads one response with a `Content-Length` (what the demo's apps send). `Ok(None)`: the
/// connection ended before the first byte of a response.
pub(crate) fn read_response(s: &mut impl Read) -> std::io::Result<Option<Response>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = match s.read(&mut byte) {
            Ok(n) => n,
            Err(e) if buf.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("cut in the head: {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no content-length in {head:?}")))?;
    let close = head.contains("\r\nconnection: close");
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut byte)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("body cut at {} of {length} bytes", body.len()),
            ));
        }
        body.extend_from_slice(&byte[..n]);
    }
    Ok(Some(Response {
        status,
        close,
        body,
    }))
}

/// A new connection with 10 s timeouts.
pub(crate) fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// One request on a new connection that asks to close: the whole response or an error.
pub(crate) fn get_once(addr: SocketAddr, path: &str) -> Result<Response, String> {
    let mut s = connect(addr).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    match read_response(&mut s) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err("closed before a response".into()),
        Err(e) => Err(format!("read: {e}")),
    }
}
