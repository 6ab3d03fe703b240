//! What the benchmark ran on: the CPU, memory, kernel, and the versions of every client.

use std::collections::BTreeMap;
use std::process::Command;

/// The first line of `/proc/cpuinfo` that starts with `key`, its value.
fn cpuinfo(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// What a command prints, trimmed (`None` if it does not run).
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The machine, and the versions of the Rust side (the Python side adds its own).
pub fn describe() -> BTreeMap<String, String> {
    let mut machine = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        machine.insert(k.to_string(), v.unwrap_or_else(|| "unknown".into()));
    };
    put("cpu", cpuinfo("model name"));
    // All of the machine's, not this process's (the benchmark runs pinned to one).
    let cores = std::fs::read_to_string("/proc/cpuinfo").ok().map(|text| {
        let count = text.lines().filter(|l| l.starts_with("processor")).count();
        count.to_string()
    });
    put("cores", cores);
    let memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
    });
    put("memory", memory);
    put(
        "kernel",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
    );
    put("rustc", output("rustc", &["--version"]));
    put(
        "librdkafka (Rust side)",
        Some(rdkafka::util::get_rdkafka_version().1),
    );
    put("java", std::env::var("BENCH_JAVA").ok());
    put("Java client", std::env::var("BENCH_JAVA_CLIENT").ok());
    put("broker", std::env::var("BENCH_BROKER").ok());
    put("pinning", std::env::var("BENCH_PINNING").ok());
    machine
}
