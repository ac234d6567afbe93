//! Integration tests of the supervisor with real worker processes (`sh`, `sleep`): the
//! crash-loop stop and the heartbeat timeout. Every wait is bounded by the supervisor's
//! own limits, and the test checks how long it took.

use std::process::Command;
use std::time::{Duration, Instant};

use supervisor::{Bind, BindOptions, Config, Error, Supervisor};

fn listener() -> socketserver::evloop::Listener {
    "127.0.0.1:0"
        .parse::<Bind>()
        .unwrap()
        .listen(&BindOptions::default())
        .unwrap()
}

#[test]
fn a_crash_loop_stops_the_supervisor_with_a_clear_error() {
    let started = Instant::now();
    let config = Config {
        workers: 2,
        ..Config::default()
    };
    let e = Supervisor::new(config)
        .run(&[listener()], |_| {
            let mut c = Command::new("sh");
            c.args(["-c", "exit 3"]);
            c
        })
        .unwrap_err();
    let took = started.elapsed();
    match &e {
        Error::CrashLoop {
            deaths,
            window,
            last,
        } => {
            assert_eq!(*deaths, 5);
            assert_eq!(*window, Duration::from_secs(10));
            assert_eq!(last, "exit status 3");
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .starts_with("workers are crashing: 5 died within 10s (last: exit status 3)"),
        "{e}"
    );
    // Back-off between respawns (100, 200, 400 ms...), but not spinning for long.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_worker_that_never_beats_is_killed_after_the_timeout() {
    let started = Instant::now();
    let config = Config {
        workers: 1,
        worker_timeout: Some(Duration::from_millis(300)),
        crash_limit: 2,
        ..Config::default()
    };
    // `sleep` never writes a heartbeat: each one is killed after 300 ms and replaced,
    // and the second death stops the supervisor.
    let e = Supervisor::new(config)
        .run(&[listener()], |_| {
            let mut c = Command::new("sleep");
            c.arg("30");
            c
        })
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        e.to_string()
            .contains("killed after missing its heartbeat (signal 9)"),
        "{e}"
    );
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn invalid_configuration_is_refused_before_any_worker_starts() {
    for (config, msg) in [
        (
            Config {
                workers: 0,
                ..Config::default()
            },
            "workers must be at least 1",
        ),
        (
            Config {
                max_requests: Some(0),
                ..Config::default()
            },
            "max requests must be at least 1",
        ),
        (
            Config {
                worker_timeout: Some(Duration::from_millis(10)),
                ..Config::default()
            },
            "worker timeout",
        ),
    ] {
        let e = Supervisor::new(config)
            .run(&[listener()], |_| panic!("no worker may start"))
            .unwrap_err();
        assert!(e.to_string().contains(msg), "{e}");
    }
}
