//! Records the compiler version once for the whole workspace: `stdx::rustc_version!()`
//! expands to it as a string literal, so `concat!` can build the `Server` strings
//! (`http_server`'s `sys_version`, `gateway`'s `SYS_VERSION`, CPython's `Python/3.11.7`).

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = format!(
        "/// The version of the compiler that built the workspace (`1.95.0`), as a string\n\
         /// literal: `concat!(\"Rust/\", stdx::rustc_version!())`.\n\
         ///\n\
         /// Python: the version part of `platform.python_version()` in `sys_version`.\n\
         #[macro_export]\n\
         macro_rules! rustc_version {{\n    () => {{\n        {version:?}\n    }};\n}}\n"
    );
    std::fs::write(out.join("rustc_version.rs"), text).expect("write rustc_version.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
