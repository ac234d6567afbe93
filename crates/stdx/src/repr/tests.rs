//! `py_repr`: known values, and a differential test against `repr()` of the Python on
//! this machine.

use super::*;

fn repr_samples() -> Vec<String> {
    let mut v: Vec<String> = (0u32..=0xFF)
        .filter_map(char::from_u32)
        .map(|c| format!("a{c}b"))
        .collect();
    v.extend(
        [
            "",
            "'",
            "\"",
            "'\"",
            "it's",
            "say \"hi\"",
            "both ' and \"",
            "back\\slash",
            "/p%61th/?q=1",
            "\u{c3}\u{a4}",
            "tab\tnl\ncr\r",
            "\u{2028}\u{200b}\u{feff}",
            "\u{20ac}\u{4e2d}\u{1f600}",
            "\u{e000}\u{fdd0}\u{ffff}",
            "\u{3000}\u{a0}\u{ad}",
        ]
        .map(str::to_owned),
    );
    v
}

#[test]
fn py_repr_known_values() {
    assert_eq!(py_repr(""), "''");
    assert_eq!(py_repr("'"), "\"'\"");
    assert_eq!(py_repr("'\""), "'\\'\"'");
    assert_eq!(
        py_repr("\u{7f}\u{a0}\u{a1}\u{ad}\u{ff}"),
        "'\\x7f\\xa0\u{a1}\\xad\u{ff}'"
    );
    assert_eq!(py_repr("\u{c3}\u{a4}"), "'\u{c3}\u{a4}'");
    assert_eq!(py_repr("\u{2028}\u{20ac}"), "'\\u2028\u{20ac}'");
}

/// Differential test: `py_repr` against `repr()` of the Python on this machine, over every
/// Latin-1 char and a set of tricky strings. Skipped (with a note) when no python3 exists.
#[test]
fn py_repr_matches_python() {
    let samples = repr_samples();
    // Each sample travels as one line of hex (UTF-8), each repr comes back the same way.
    let script = "import sys\nfor line in sys.stdin.read().split():\n    r = repr(bytes.fromhex(line[1:]).decode('utf-8'))\n    print('x' + r.encode('utf-8').hex())\n";
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not found: differential test of py_repr skipped");
        return;
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for s in &samples {
            writeln!(stdin, "x{}", hex(s.as_bytes())).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let reprs: Vec<String> = text
        .lines()
        .map(|l| String::from_utf8(unhex(&l[1..])).unwrap())
        .collect();
    assert_eq!(reprs.len(), samples.len());
    for (s, want) in samples.iter().zip(reprs) {
        assert_eq!(py_repr(s), want, "{s:?}");
    }
}
