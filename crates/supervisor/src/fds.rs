//! Taking ownership of descriptors inherited from the parent process: the one place of
//! this crate that needs `unsafe`.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use socketserver::evloop::Listener;

/// Descriptors this process already took, with the inode each had (a number closed since
/// and reused for another file is a new descriptor).
static TAKEN: Mutex<Option<HashSet<(RawFd, u64, u64)>>> = Mutex::new(None);

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Takes ownership of the inherited descriptor `fd` after checking that it is open,
/// marking it close-on-exec. Fails for a descriptor this function already returned (the
/// same number on the same inode).
fn take(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(invalid(format!("descriptor {fd} is negative")));
    }
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let set = taken.get_or_insert_with(HashSet::new);
    // SAFETY: F_GETFD only reads the descriptor flags of `fd`; on a descriptor that is not
    // open it fails with EBADF and touches nothing.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(borrowed).map_err(|e| {
        invalid(format!(
            "descriptor {fd} is not open: {}",
            io::Error::from(e)
        ))
    })?;
    let stat = rustix::fs::fstat(borrowed)?;
    let key = (fd, stat.st_dev, stat.st_ino);
    if set.contains(&key) {
        return Err(invalid(format!("descriptor {fd} was already taken")));
    }
    rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC)?;
    set.insert(key);
    // SAFETY: `fd` is open (checked above). It was passed to this process by its parent
    // (a supervisor's environment variable or an explicit `fd://N`) for this process to
    // own, and the `TAKEN` set guarantees that this function creates at most one owner
    // per descriptor in this process.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Takes `fd` as a listening stream socket (TCP or Unix).
pub(crate) fn take_listener(fd: RawFd) -> io::Result<Listener> {
    let owned = take(fd)?;
    let sock = socket2::SockRef::from(&owned);
    let listening = sock.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
        && sock.is_listener().unwrap_or(false);
    if !listening {
        return Err(invalid(format!(
            "descriptor {fd} is not a listening stream socket"
        )));
    }
    Ok(if sock.local_addr()?.domain() == socket2::Domain::UNIX {
        Listener::Unix(std::os::unix::net::UnixListener::from(owned))
    } else {
        Listener::Tcp(std::net::TcpListener::from(owned))
    })
}

/// Takes `fd` as a connected Unix stream socket (the supervisor's control channel).
pub(crate) fn take_unix_stream(fd: RawFd) -> io::Result<std::os::unix::net::UnixStream> {
    let owned = take(fd)?;
    let sock = socket2::SockRef::from(&owned);
    if sock.r#type()? != socket2::Type::STREAM
        || sock.local_addr()?.domain() != socket2::Domain::UNIX
    {
        return Err(invalid(format!(
            "descriptor {fd} is not a Unix stream socket"
        )));
    }
    Ok(std::os::unix::net::UnixStream::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn takes_a_listener_once_and_refuses_other_descriptors() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let fd = l.into_raw_fd();
        let taken = take_listener(fd).unwrap();
        assert_eq!(
            taken.local_addr().unwrap().inet(),
            Some(addr),
            "the same socket"
        );
        let e = take_listener(fd).unwrap_err();
        assert!(e.to_string().contains("already taken"), "{e}");

        // (Opened while `taken` holds its number, so the number is a new one.)
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let e = take_listener(file.into_raw_fd()).unwrap_err();
        assert!(e.to_string().contains("not a listening"), "{e}");
        drop(taken);

        let connected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(take_listener(connected.into_raw_fd()).is_err());

        assert!(take_listener(-1).is_err());
        // A descriptor number that is not open (far above anything this test opened).
        assert!(take_listener(900_000).is_err());
    }

    #[test]
    fn takes_a_unix_stream() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        let mut a = take_unix_stream(fd).unwrap();
        use std::io::{Read, Write};
        a.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
        assert_eq!(a.as_raw_fd(), fd);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(take_unix_stream(l.into_raw_fd()).is_err());
    }
}
