//! What a supervisor and its workers tell each other: the environment a worker is started
//! with, and the lines it writes on its control channel.

/// The control channel's descriptor in the worker (a Unix stream socket).
pub(crate) const ENV_CHANNEL: &str = "PYSERVE_SUPERVISOR_FD";
/// The inherited listening descriptors, comma-separated, in the supervisor's order.
pub(crate) const ENV_LISTEN_FDS: &str = "PYSERVE_SUPERVISOR_LISTEN_FDS";
/// The worker's serial number (1, 2, ... over the supervisor's life).
pub(crate) const ENV_SERIAL: &str = "PYSERVE_SUPERVISOR_WORKER";
/// Requests after which the worker asks to be replaced (jitter already added).
pub(crate) const ENV_MAX_REQUESTS: &str = "PYSERVE_SUPERVISOR_MAX_REQUESTS";
/// Milliseconds between heartbeats.
pub(crate) const ENV_HEARTBEAT_MS: &str = "PYSERVE_SUPERVISOR_HEARTBEAT_MS";
/// Milliseconds a worker told to stop may drain before the supervisor kills it; an
/// orphaned worker holds itself to the same deadline.
pub(crate) const ENV_GRACEFUL_MS: &str = "PYSERVE_SUPERVISOR_GRACEFUL_MS";

/// Variables a worker must not inherit from the supervisor: they were meant for the
/// supervisor only (systemd's protocol ties them to its pid).
pub(crate) const NOT_INHERITED: &[&str] = &[
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
];

/// One line from a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// Every listener is served: the worker takes traffic.
    Ready,
    /// Still alive.
    Beat,
    /// Reached its request budget: start a replacement, then stop this one.
    Retire,
    /// A metrics snapshot (Prometheus text of this worker's counters).
    Metrics(String),
}

impl Message {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Message::Ready => b"ready\n".to_vec(),
            Message::Beat => b"beat\n".to_vec(),
            Message::Retire => b"retire\n".to_vec(),
            Message::Metrics(text) => {
                let mut out = format!("metrics {}\n", text.len()).into_bytes();
                out.extend_from_slice(text.as_bytes());
                out
            }
        }
    }

    /// Reads one message; `Ok(None)` at the end of the stream.
    pub(crate) fn read(r: &mut impl std::io::BufRead) -> std::io::Result<Option<Message>> {
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let msg = match line.trim_end() {
                "ready" => Message::Ready,
                "beat" => Message::Beat,
                "retire" => Message::Retire,
                other => match other.strip_prefix("metrics ").map(str::parse::<usize>) {
                    Some(Ok(len)) if len <= 1 << 20 => {
                        let mut buf = vec![0u8; len];
                        r.read_exact(&mut buf)?;
                        Message::Metrics(String::from_utf8_lossy(&buf).into_owned())
                    }
                    _ => {
                        tracing::debug!(line = other, "unknown message from a worker");
                        continue;
                    }
                },
            };
            return Ok(Some(msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let all = [
            Message::Ready,
            Message::Beat,
            Message::Retire,
            Message::Metrics("a 1\nb 2\n".into()),
            Message::Beat,
        ];
        let mut wire: Vec<u8> = all.iter().flat_map(Message::encode).collect();
        wire.extend_from_slice(b"bogus\n");
        let mut r = std::io::Cursor::new(wire);
        for m in &all {
            assert_eq!(Message::read(&mut r).unwrap().as_ref(), Some(m));
        }
        assert_eq!(Message::read(&mut r).unwrap(), None);
    }
}
