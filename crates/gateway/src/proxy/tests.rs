//! Tests of the trusted-proxy middleware, through the test client (which sets the peer).

use super::*;
use crate::testing::Client;

/// Answers with the environ values the middleware may change, one per line.
fn show(env: &Environ, sr: &mut dyn StartResponse) -> Result<Body> {
    let orig = env
        .extension::<Originals>(ORIGINALS_KEY)
        .map_or("-".to_owned(), |o| o.remote_addr.clone());
    let text = format!(
        "addr={} scheme={} host={} name={} port={} orig={} xff={}",
        env.get("REMOTE_ADDR").unwrap_or("-"),
        env.url_scheme(),
        env.get("HTTP_HOST").unwrap_or("-"),
        env.get("SERVER_NAME").unwrap_or("-"),
        env.get("SERVER_PORT").unwrap_or("-"),
        orig,
        env.get("HTTP_X_FORWARDED_FOR").unwrap_or("-"),
    );
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::from(text))
}

fn trusted(list: &str) -> TrustedProxies {
    list.parse().unwrap()
}

fn get<A: Application>(app: A, peer: &str, headers: &[(&str, &str)]) -> String {
    Client::new(app)
        .client_address(peer)
        .server("127.0.0.1", 8782)
        .request("GET", "/", headers, b"")
        .text()
}

#[test]
fn trusted_peer_x_forwarded_headers() {
    let app = ProxyFix::new(show, trusted("127.0.0.1"))
        .x_host(1)
        .x_port(1);
    let text = get(
        app,
        "127.0.0.1",
        &[
            ("Host", "backend:8782"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "example.com"),
            ("X-Forwarded-Port", "8443"),
        ],
    );
    assert_eq!(
        text,
        "addr=203.0.113.7 scheme=https host=example.com:8443 name=example.com port=8443 \
         orig=127.0.0.1 xff=203.0.113.7"
    );
}

#[test]
fn proto_alone_sets_the_default_port() {
    let app = ProxyFix::new(show, trusted("127.0.0.1"));
    let text = get(
        app,
        "127.0.0.1",
        &[("X-Forwarded-Proto", "HTTPS"), ("Host", "example.com")],
    );
    assert!(
        text.starts_with("addr=127.0.0.1 scheme=https host=example.com name=127.0.0.1 port=443"),
        "{text}"
    );
}

#[test]
fn forwarded_host_port_from_the_host_value() {
    let app = ProxyFix::new(show, trusted("127.0.0.1")).x_host(1);
    let text = get(
        app,
        "127.0.0.1",
        &[("X-Forwarded-Host", "[2001:db8::5]:8080")],
    );
    assert!(
        text.contains("host=[2001:db8::5]:8080 name=[2001:db8::5] port=8080"),
        "{text}"
    );
}

#[test]
fn untrusted_peer_headers_ignored_and_optionally_removed() {
    let headers = [
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "https"),
    ];
    let kept = get(
        ProxyFix::new(show, trusted("10.0.0.0/8")),
        "192.0.2.1",
        &headers,
    );
    assert_eq!(
        kept,
        "addr=192.0.2.1 scheme=http host=127.0.0.1 name=127.0.0.1 port=8782 orig=- \
         xff=203.0.113.7"
    );
    let removed = get(
        ProxyFix::new(show, trusted("10.0.0.0/8")).remove_untrusted(true),
        "192.0.2.1",
        &headers,
    );
    assert!(removed.ends_with("orig=- xff=-"), "{removed}");
    // Removal never touches a trusted peer's headers.
    let trusted_peer = get(
        ProxyFix::new(show, trusted("10.0.0.0/8")).remove_untrusted(true),
        "10.0.0.1",
        &headers,
    );
    assert!(trusted_peer.ends_with("xff=203.0.113.7"), "{trusted_peer}");
}

#[test]
fn multiple_hops_stop_at_the_first_untrusted_address() {
    let chain = [("X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.0.0.2")];
    // Two trusted proxies (10.0.0.1 talks to us, 10.0.0.2 in front of it), three hops
    // allowed: the client is 203.0.113.7, its own claim (198.51.100.1) is not believed.
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).x_for(3);
    assert!(get(app, "10.0.0.1", &chain).starts_with("addr=203.0.113.7 "));
    // One hop allowed: the nearest entry, even though it is a proxy.
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).x_for(1);
    assert!(get(app, "10.0.0.1", &chain).starts_with("addr=10.0.0.2 "));
    // Two hops allowed: exactly the client.
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).x_for(2);
    assert!(get(app, "10.0.0.1", &chain).starts_with("addr=203.0.113.7 "));
    // Duplicate headers arrive joined with a bare comma: the same list.
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).x_for(3);
    let split = [
        ("X-Forwarded-For", "198.51.100.1, 203.0.113.7"),
        ("X-Forwarded-For", "10.0.0.2"),
    ];
    assert!(get(app, "10.0.0.1", &split).starts_with("addr=203.0.113.7 "));
}

#[test]
fn spoofed_leftmost_entries_are_not_believed() {
    // The client sent "X-Forwarded-For: 127.0.0.1" hoping to look local; nginx appended
    // its real address.
    let spoof = [("X-Forwarded-For", "127.0.0.1, 1.2.3.4, 203.0.113.7")];
    for hops in [1, 2, 5] {
        let app = ProxyFix::new(show, trusted("127.0.0.1")).x_for(hops);
        assert!(
            get(app, "127.0.0.1", &spoof).starts_with("addr=203.0.113.7 "),
            "hops {hops}"
        );
    }
    // And a spoof sent straight to the server (no proxy) changes nothing.
    let app = ProxyFix::new(show, trusted("127.0.0.1")).x_for(5);
    assert!(get(app, "203.0.113.7", &spoof).starts_with("addr=203.0.113.7 "));
}

#[test]
fn malformed_values_are_ignored() {
    let app = || {
        ProxyFix::new(show, trusted("127.0.0.1"))
            .x_for(3)
            .x_host(1)
            .x_port(1)
    };
    // Garbage in the rightmost entry: nothing is believed.
    for bad in [
        "not-an-ip",
        "unknown",
        "_hidden",
        "",
        "1.2.3.4.5",
        "[::1",
        "300.1.1.1",
    ] {
        let text = get(app(), "127.0.0.1", &[("X-Forwarded-For", bad)]);
        assert!(text.starts_with("addr=127.0.0.1 "), "{bad:?}: {text}");
    }
    // Garbage further left stops the walk at the last good, untrusted... or trusted hop.
    let text = get(
        app(),
        "127.0.0.1",
        &[("X-Forwarded-For", "garbage, 127.0.0.1")],
    );
    assert!(text.starts_with("addr=127.0.0.1 "), "{text}");
    // Ports on addresses are accepted and dropped.
    let text = get(app(), "127.0.0.1", &[("X-Forwarded-For", "192.0.2.9:5555")]);
    assert!(text.starts_with("addr=192.0.2.9 "), "{text}");
    let text = get(
        app(),
        "127.0.0.1",
        &[("X-Forwarded-For", "[2001:db8::9]:5555")],
    );
    assert!(text.starts_with("addr=2001:db8::9 "), "{text}");
    // Bad scheme, host and port values change nothing.
    let text = get(
        app(),
        "127.0.0.1",
        &[
            ("X-Forwarded-Proto", "javascript"),
            ("X-Forwarded-Host", "evil host"),
            ("X-Forwarded-Port", "99999"),
        ],
    );
    assert_eq!(
        text,
        "addr=127.0.0.1 scheme=http host=127.0.0.1 name=127.0.0.1 port=8782 orig=127.0.0.1 xff=-"
    );
    // The port of a host is digits only: `valid_port` trimmed it, so `h: 1` and `h:\r 1`
    // became HTTP_HOST (found by fuzz/fuzz_targets/forwarded.rs).
    for bad_host in ["a/b", "x:y", "[::1]junk", "[zz]", "h:0", "h: 1", "4:\r 1"] {
        let text = get(app(), "127.0.0.1", &[("X-Forwarded-Host", bad_host)]);
        assert!(text.contains("host=127.0.0.1 "), "{bad_host:?}: {text}");
    }
}

#[test]
fn counts_larger_than_the_list_ignore_the_header() {
    // werkzeug: x_proto=2 needs two values.
    let app = ProxyFix::new(show, trusted("127.0.0.1")).x_proto(2);
    let one = get(app.clone(), "127.0.0.1", &[("X-Forwarded-Proto", "https")]);
    assert!(one.contains("scheme=http "), "{one}");
    let two = get(app, "127.0.0.1", &[("X-Forwarded-Proto", "https, http")]);
    assert!(two.contains("scheme=https "), "{two}");
}

#[test]
fn rfc7239_forwarded_with_ipv6() {
    let app = ProxyFix::new(show, trusted("127.0.0.1,::1")).forwarded(1);
    let text = get(
        app,
        "::1",
        &[
            (
                "Forwarded",
                r#"for="[2001:db8::1]:4711";proto=https;host="example.com:8443""#,
            ),
            // Ignored: Forwarded is present and on.
            ("X-Forwarded-For", "192.0.2.1"),
        ],
    );
    assert_eq!(
        text,
        "addr=2001:db8::1 scheme=https host=example.com:8443 name=example.com port=8443 \
         orig=::1 xff=192.0.2.1"
    );
}

#[test]
fn rfc7239_forwarded_hops_and_spoofing() {
    let header = r#"for=6.6.6.6;proto=http, For="192.0.2.60";Proto=HTTPS;by=10.0.0.2, for=10.0.0.2;proto=http"#;
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).forwarded(3);
    let text = get(app, "10.0.0.1", &[("Forwarded", header)]);
    // 10.0.0.2 (trusted) forwarded for 192.0.2.60 (not trusted): stop; its element's proto.
    assert!(text.starts_with("addr=192.0.2.60 scheme=https "), "{text}");
    let app = ProxyFix::new(show, trusted("10.0.0.0/8")).forwarded(1);
    let text = get(app, "10.0.0.1", &[("Forwarded", header)]);
    assert!(text.starts_with("addr=10.0.0.2 scheme=http "), "{text}");
}

#[test]
fn rfc7239_malformed_or_obfuscated() {
    let app = || ProxyFix::new(show, trusted("127.0.0.1")).forwarded(2);
    for bad in [
        "for=",
        "for=1.2.3.4;",
        "for=\"1.2.3.4",
        "for=1.2.3.4 junk",
        "=1.2.3.4",
        "for=1.2.3.4;for=5.6.7.8",
        "for=[2001:db8::1]",
    ] {
        let text = get(app(), "127.0.0.1", &[("Forwarded", bad)]);
        assert!(
            text.starts_with("addr=127.0.0.1 scheme=http "),
            "{bad:?}: {text}"
        );
    }
    // Obfuscated or unknown nodes stop the walk: nothing believed.
    for node in ["unknown", "_hidden", "\"_x:_y\""] {
        let text = get(app(), "127.0.0.1", &[("Forwarded", &format!("for={node}"))]);
        assert!(text.starts_with("addr=127.0.0.1 "), "{node}: {text}");
    }
    // Quoted pairs and spaces around elements.
    let text = get(
        app(),
        "127.0.0.1",
        &[("Forwarded", r#" for="192.0.2.\61" ; proto=https "#)],
    );
    assert!(text.starts_with("addr=192.0.2.61 scheme=https "), "{text}");
}

#[test]
fn unix_socket_peers_are_trusted_only_when_listed() {
    let h = [("X-Forwarded-For", "192.0.2.5")];
    let app = ProxyFix::new(show, trusted("127.0.0.1"));
    assert!(get(app, "", &h).starts_with("addr= "));
    let app = ProxyFix::new(show, trusted("127.0.0.1,unix"));
    assert!(get(app, "", &h).starts_with("addr=192.0.2.5 "));
}

#[test]
fn ipv4_mapped_peers_match_ipv4_networks() {
    let h = [("X-Forwarded-For", "192.0.2.5")];
    let app = ProxyFix::new(show, trusted("127.0.0.0/8"));
    assert!(get(app, "::ffff:127.0.0.1", &h).starts_with("addr=192.0.2.5 "));
}

#[test]
fn originals_are_kept_as_an_extension() {
    let app = ProxyFix::new(crate::simple_server::demo_app, trusted("127.0.0.1"));
    let text = get(app, "127.0.0.1", &[("X-Forwarded-For", "192.0.2.5")]);
    assert!(text.contains("REMOTE_ADDR = '192.0.2.5'\n"), "{text}");
    assert!(
        text.contains(
            "gateway.proxy_fix.orig = {'REMOTE_ADDR': '127.0.0.1', 'wsgi.url_scheme': 'http', \
             'HTTP_HOST': '127.0.0.1', 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '8782'}\n"
        ),
        "{text}"
    );
}

#[test]
fn cidr_parsing() {
    let ok = |s: &str| TrustedProxies::parse_net(s).unwrap().to_string();
    assert_eq!(ok("10.0.0.0/8"), "10.0.0.0/8");
    assert_eq!(ok("0.0.0.0/0"), "0.0.0.0/0");
    assert_eq!(ok("1.2.3.4"), "1.2.3.4/32");
    assert_eq!(ok("2001:db8::/32"), "2001:db8::/32");
    assert_eq!(ok("::/0"), "::/0");
    assert_eq!(ok("::ffff:10.0.0.0/8"), "10.0.0.0/8");
    for bad in [
        "",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "10/8",
        "::1/129",
        "x",
        "10.0.0.0/+8",
        "10.0.0.0/08x",
        "2001:db8::1/32",
        "1.2.3.4/1000",
    ] {
        assert!(TrustedProxies::parse_net(bad).is_err(), "{bad:?}");
    }
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let net = TrustedProxies::parse_net("2001:db8::/32").unwrap();
    assert!(net.contains(&ip("2001:db8:ffff::1")));
    assert!(!net.contains(&ip("2001:db9::1")));
    assert!(!net.contains(&ip("10.0.0.1")));
    let all = TrustedProxies::parse_net("0.0.0.0/0").unwrap();
    assert!(all.contains(&ip("255.255.255.255")));
    assert!(!all.contains(&ip("::1")));
    let err = "10.0.0.1/8".parse::<TrustedProxies>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid trusted proxy \"10.0.0.1/8\": host bits set"
    );
    assert!("127.0.0.1,,::1".parse::<TrustedProxies>().is_err());
    let set: TrustedProxies = " 127.0.0.1 , ::1, UNIX ".parse().unwrap();
    assert_eq!(set.to_string(), "127.0.0.1/32,::1/128,unix");
}
