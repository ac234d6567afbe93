//! `TCP_DEFER_ACCEPT`: a listener that wakes its server when a client's first bytes arrive,
//! not when its handshake completes.
//!
//! socket2 and rustix have no wrapper for this option, so this module calls `setsockopt`
//! itself: the event loop's second and last use of `unsafe`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// Sets `TCP_DEFER_ACCEPT` on a TCP listening socket: a connection becomes ready to accept
/// when its client's first data arrives, or once `after` has passed without any (rounded
/// up to whole seconds; the kernel counts it in SYN-ACK retransmissions, so a silent client
/// is accepted a little later). A connection that closes before sending anything is
/// accepted at once, to read its end.
///
/// For protocols whose clients speak first (HTTP, TLS, the PROXY protocol): each new
/// connection then wakes the server once, for its request, instead of twice (handshake,
/// then request), which is most of a connection-per-request client's cost of waking the
/// server. Never for a protocol where the server speaks first (SMTP's banner, FTP): its
/// clients would wait `after` for their greeting. Linux only; elsewhere it does nothing.
///
/// Python: no equivalent (`sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)`
/// by hand). nginx: `listen ... deferred`; systemd: `DeferAcceptSec=`.
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// socketserver::evloop::set_defer_accept(&listener, std::time::Duration::from_secs(1))?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "TCP_DEFER_ACCEPT")]
pub fn set_defer_accept(listener: &impl AsFd, after: Duration) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        let value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
        let fd = listener.as_fd();
        // SAFETY: `fd` is borrowed, so it stays open for the call; the kernel reads exactly
        // `size_of::<c_int>()` bytes from `value`, a live local of that size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&raw const value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (listener, after);
    Ok(())
}

/// The `TCP_DEFER_ACCEPT` value of `listener` as the kernel keeps it (0: not set).
#[cfg(all(test, target_os = "linux"))]
fn get(listener: &impl AsFd) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = -1;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is borrowed for the call; the kernel writes at most `len` bytes into
    // `value`, a live local of that size, and stores the written length in `len`.
    let r = unsafe {
        libc::getsockopt(
            listener.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    #[test]
    fn the_kernel_keeps_the_value() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(get(&l).unwrap(), 0);
        set_defer_accept(&l, Duration::from_millis(1500)).unwrap();
        // Stored as retransmissions and read back as the seconds they cover: at least 2.
        assert!(get(&l).unwrap() >= 2, "{}", get(&l).unwrap());
    }

    #[test]
    fn a_udp_socket_is_refused() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(set_defer_accept(&u, Duration::from_secs(1)).is_err());
    }

    /// A silent client is not handed to `accept` at once; one that sends is, with its bytes.
    #[test]
    fn accept_waits_for_the_first_bytes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        set_defer_accept(&l, Duration::from_secs(5)).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let _silent = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            l.accept().unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "a connection with no data yet was accepted"
        );
        let mut talker = TcpStream::connect(addr).unwrap();
        talker.write_all(b"hello").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut s, _) = loop {
            match l.accept() {
                Ok(pair) => break pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the talking client never came");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(s.peer_addr().unwrap(), talker.local_addr().unwrap());
        s.set_nonblocking(false).unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
    }
}
