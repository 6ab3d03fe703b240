//! Compile-fail cases of the runtime's typed API (trybuild): a producer, consumer or handler
//! used without its grant. Each `fail/runtime/` file makes one mistake; its `.stderr` beside it
//! is the exact error, reviewed like code. Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p kafka-utils-ui-runtime-tests`.
//!
//! trybuild type-checks the cases (`cargo check`: no pass case here, so nothing is linked) in
//! a target directory of its own, where the build scripts of librdkafka, OpenSSL, zlib and zstd
//! would compile their C code again only to be thrown away. So before it runs, this test
//! writes a `.cargo/config.toml` there that overrides those four build scripts (Cargo's
//! `[target.<triple>.<links>]`) with the output the same scripts printed in this test's own
//! build (the cfgs, env and metadata the crates' Rust code reads). If that output is not
//! found, nothing is overridden and trybuild builds everything itself, slower but the same.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The packages whose build scripts compile C code, with their `links` names.
const NATIVE: [(&str, &str); 4] = [
    ("rdkafka-sys", "rdkafka"),
    ("openssl-sys", "openssl"),
    ("libz-sys", "z"),
    ("zstd-sys", "zstd"),
];

#[test]
fn ui() {
    override_native_builds();
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/fail/runtime/*.rs");
}

fn override_native_builds() {
    let exe = std::env::current_exe().expect("the test's own path");
    // <target>/<profile>/deps/ui-<hash>
    let profile = exe.parent().and_then(Path::parent).expect("a target dir");
    let target = profile.parent().expect("a target dir");
    let config_dir = target.join("tests/trybuild/.cargo");
    let config = config_dir.join("config.toml");
    let _ = std::fs::remove_file(&config);
    let Some(triple) = host_triple() else {
        eprintln!("ui: no host triple from rustc -vV; trybuild builds the C code itself");
        return;
    };
    let mut toml = String::from(
        "# Written by ui-tests-runtime/tests/ui.rs: the native build scripts' output from the\n\
         # main build, so trybuild's `cargo check` does not compile their C code again.\n",
    );
    for (package, links) in NATIVE {
        let Some(output) = newest_output(&profile.join("build"), package) else {
            eprintln!("ui: no build output of {package}; trybuild builds the C code itself");
            return;
        };
        toml.push_str(&section(&triple, links, &output));
    }
    std::fs::create_dir_all(&config_dir).expect("trybuild's target dir");
    std::fs::write(&config, toml).expect("trybuild's cargo config");
}

fn host_triple() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
}

/// `<build>/<package>-<hash>/output` of the run that wrote last.
fn newest_output(build: &Path, package: &str) -> Option<String> {
    let prefix = format!("{package}-");
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(build).ok()?.flatten() {
        let name = entry.file_name();
        let Some(hash) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let output = entry.path().join("output");
        let Ok(modified) = output.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if newest.as_ref().is_none_or(|(at, _)| modified > *at) {
            newest = Some((modified, output));
        }
    }
    std::fs::read_to_string(newest?.1).ok()
}

/// The override section of one `links` name, from its build script's `cargo:` lines.
fn section(triple: &str, links: &str, output: &str) -> String {
    let (mut cfgs, mut envs, mut metadata) = (Vec::new(), Vec::new(), Vec::new());
    for line in output.lines() {
        let Some(instruction) = line
            .strip_prefix("cargo::")
            .or_else(|| line.strip_prefix("cargo:"))
        else {
            continue;
        };
        let Some((key, value)) = instruction.split_once('=') else {
            continue;
        };
        match key {
            "rustc-cfg" => cfgs.push(value),
            "rustc-env" => envs.extend(value.split_once('=')),
            "metadata" => metadata.extend(value.split_once('=')),
            key if key.starts_with("rustc-") || key.starts_with("rerun-") || key == "warning" => {}
            key => metadata.push((key, value)),
        }
    }
    let mut s = format!("\n[target.{triple}.{links}]\n");
    let list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
        format!("[{}]", quoted.join(", "))
    };
    let _ = writeln!(s, "rustc-cfg = {}", list(&cfgs));
    let env: Vec<String> = envs
        .iter()
        .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
        .collect();
    let _ = writeln!(s, "rustc-env = {{ {} }}", env.join(", "));
    for (key, value) in metadata {
        let _ = writeln!(s, "{} = {}", quote(key), quote(value));
    }
    s
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
