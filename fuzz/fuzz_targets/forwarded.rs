//! Fuzz target: `gateway::proxy::ProxyFix` over untrusted forwarding headers: the RFC 7239
//! `Forwarded` parser and the `X-Forwarded-For`, `-Proto`, `-Host`, `-Port` readers, reached
//! through `ProxyFix::fix_environ` as a request reaches them. The first byte picks the
//! peer and the settings; the rest is the header values, separated by `\n`.
//! Invariants: no panic; from an untrusted peer nothing changes; otherwise `REMOTE_ADDR` is
//! an IP address, the scheme `http` or `https`, `SERVER_PORT` a port, and `HTTP_HOST` holds
//! no whitespace or control character (no forwarded value can smuggle one into the environ).
#![no_main]

use std::net::IpAddr;

use gateway::proxy::ProxyFix;
use gateway::{Body, Environ, Result, StartResponse};
use libfuzzer_sys::fuzz_target;

fn app(_env: &Environ, _sr: &mut dyn StartResponse) -> Result<Body> {
    Ok(Body::from(""))
}

const KEYS: [&str; 5] = [
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
];

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let peers = ["127.0.0.1", "10.1.2.3", "::ffff:10.9.9.9", "192.0.2.1", ""];
    let peer = peers[usize::from(config & 7) % peers.len()];
    let hops = usize::from((config >> 3) & 3) + 1;
    let fix = ProxyFix::new(app, "127.0.0.1, 10.0.0.0/8, ::1, unix".parse().unwrap())
        .x_for(hops)
        .x_proto(hops)
        .x_host(usize::from(config >> 5 & 1) * hops)
        .x_port(usize::from(config >> 6 & 1) * hops)
        .forwarded(usize::from(config >> 7) * hops)
        .remove_untrusted(config & 1 == 1);
    let mut env = Environ::new();
    env.set("REMOTE_ADDR", peer);
    env.set("HTTP_HOST", "example.org");
    env.set("SERVER_NAME", "example.org");
    env.set("SERVER_PORT", "8000");
    // WSGI environ strings are the header bytes as Latin-1.
    for (key, value) in KEYS.iter().zip(rest.split(|&b| b == b'\n')) {
        env.set(*key, value.iter().map(|&b| b as char).collect::<String>());
    }
    let fixed = fix.fix_environ(&env);
    if !fix.trusted().contains_peer(peer) {
        for key in ["REMOTE_ADDR", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT"] {
            assert_eq!(fixed.get(key), env.get(key), "{key}");
        }
        assert_eq!(fixed.url_scheme(), env.url_scheme());
        return;
    }
    let remote = fixed.get("REMOTE_ADDR").unwrap_or("");
    assert!(
        remote == peer || remote.parse::<IpAddr>().is_ok(),
        "{remote:?}"
    );
    assert!(
        matches!(fixed.url_scheme(), "http" | "https"),
        "{:?}",
        fixed.url_scheme()
    );
    let port = fixed.get("SERVER_PORT").unwrap_or("");
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{port:?}");
    for key in ["HTTP_HOST", "SERVER_NAME"] {
        let v = fixed.get(key).unwrap_or("");
        assert!(!v.is_empty(), "{key} empty");
        assert!(
            !v.chars().any(|c| c.is_whitespace() || c.is_control()),
            "{key} = {v:?}"
        );
    }
});
