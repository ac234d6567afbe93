//! The supervisor stopping on a signal sent to its own process (a test binary of its own:
//! the signal reaches the whole process, so no other supervisor may run beside it).

use std::process::Command;
use std::time::{Duration, Instant};

use supervisor::{Bind, BindOptions, Config, Supervisor};

#[test]
fn sigterm_stops_gracefully_and_kills_a_worker_that_ignores_it() {
    let listener = "127.0.0.1:0"
        .parse::<Bind>()
        .unwrap()
        .listen(&BindOptions::default())
        .unwrap();
    let config = Config {
        workers: 2,
        graceful_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let me = rustix::process::getpid();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        rustix::process::kill_process(me, rustix::process::Signal::TERM).unwrap();
    });
    let started = Instant::now();
    // Workers that ignore SIGTERM: the supervisor kills them after the graceful timeout.
    Supervisor::new(config)
        .run(&[listener], |_| {
            let mut c = Command::new("sh");
            c.args(["-c", "trap '' TERM; while :; do sleep 0.1; done"]);
            c
        })
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
