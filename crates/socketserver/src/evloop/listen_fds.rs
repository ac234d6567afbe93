//! Listeners inherited through systemd socket activation (`sd_listen_fds` semantics).
//!
//! The one place of the event loop that needs `unsafe`: taking ownership of the file
//! descriptors 3, 4, ... that the service manager passed.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::Listener;

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes the listening sockets passed by systemd socket activation (or any manager that
/// follows its protocol): when `LISTEN_PID` is this process, `LISTEN_FDS` descriptors from
/// fd 3 on. Each must be a listening stream socket (TCP or Unix); it is marked close-on-exec.
///
/// Returns an empty vector when nothing was passed to this process, and on every call after
/// the first (the descriptors are owned once). The environment is left as it is (changing it
/// is unsafe in a threaded program); the `LISTEN_PID` check keeps child processes from
/// taking them.
///
/// Python: no equivalent (Python programs call `socket.socket(fileno=3)` by hand); the
/// production face's engine (see `docs/ARCHITECTURE.md`). C: `sd_listen_fds(0)`.
///
/// ```
/// // Not started by systemd: nothing inherited.
/// assert!(socketserver::evloop::listen_fds()?.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "sd_listen_fds")]
#[doc(alias = "LISTEN_FDS")]
pub fn listen_fds() -> io::Result<Vec<Listener>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let count = match parse(pid.as_deref(), fds.as_deref(), std::process::id())? {
        0 => return Ok(Vec::new()),
        n => n,
    };
    let last = LISTEN_FDS_START
        .checked_add(RawFd::try_from(count).map_err(|_| invalid("LISTEN_FDS is too large"))?)
        .ok_or_else(|| invalid("LISTEN_FDS is too large"))?;
    let range = LISTEN_FDS_START..last;
    for fd in range.clone() {
        check(fd)?;
    }
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(count);
    for fd in range {
        // SAFETY: `check` verified that `fd` is open and a listening stream socket; the
        // service manager passed it to this process (LISTEN_PID is our pid) for us to own,
        // and the `TAKEN` flag guarantees this loop runs once per process, so no other
        // owner of the descriptor is created by this function.
        let listener = unsafe {
            if is_unix(fd)? {
                Listener::Unix(std::os::unix::net::UnixListener::from_raw_fd(fd))
            } else {
                Listener::Tcp(std::net::TcpListener::from_raw_fd(fd))
            }
        };
        out.push(listener);
    }
    Ok(out)
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The number of inherited descriptors meant for process `me`.
fn parse(pid: Option<&str>, fds: Option<&str>, me: u32) -> io::Result<usize> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(0);
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| invalid("LISTEN_PID is not a number"))?;
    if pid != me {
        return Ok(0);
    }
    fds.trim()
        .parse()
        .map_err(|_| invalid("LISTEN_FDS is not a number"))
}

/// Checks that `fd` is an open, listening stream socket and sets close-on-exec.
fn check(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD only reads the descriptor flags; an unknown fd gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and stays open while borrowed: nothing
    // else in this function closes it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    if sock.r#type()? != socket2::Type::STREAM || !sock.is_listener()? {
        return Err(invalid(
            "an inherited descriptor is not a listening stream socket",
        ));
    }
    sock.set_cloexec(true)?;
    Ok(())
}

fn is_unix(fd: RawFd) -> io::Result<bool> {
    // SAFETY: as in `check`, which ran before for this descriptor.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    Ok(sock.local_addr()?.domain() == socket2::Domain::UNIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_follows_sd_listen_fds() {
        assert_eq!(parse(None, Some("2"), 7).unwrap(), 0);
        assert_eq!(parse(Some("7"), None, 7).unwrap(), 0);
        assert_eq!(
            parse(Some("8"), Some("2"), 7).unwrap(),
            0,
            "meant for another pid"
        );
        assert_eq!(parse(Some("7"), Some("2"), 7).unwrap(), 2);
        assert!(parse(Some("x"), Some("2"), 7).is_err());
        assert!(parse(Some("7"), Some("two"), 7).is_err());
    }

    #[test]
    fn check_refuses_non_sockets_and_accepts_listeners() {
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        assert!(check(fd).is_err());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        check(fd).unwrap();
        assert!(!is_unix(fd).unwrap());
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(check(std::os::fd::AsRawFd::as_raw_fd(&s)).is_err());
    }
}
