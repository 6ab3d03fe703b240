//! The admin at scale: `admin-scale` (the `kafka-utils-scale` crate, built by
//! `scripts/bench.sh` with 1,000 topics and 10,000 ACLs) plans, applies and plans again on
//! the benchmark's broker, after every other measurement; the build of that crate is the
//! derive's cost for the topology.

use std::fmt::Write as _;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::clients::BoxError;
use crate::targets::verdict;

/// What `admin-scale` measured, and how long its crate took to build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminScale {
    pub topics: usize,
    pub partitions: u64,
    pub acls: usize,
    /// `plan` on a cluster without the topology.
    pub plan_seconds: f64,
    pub planned_topics: usize,
    pub planned_acls: usize,
    pub apply_seconds: f64,
    /// `plan` right after `apply`: it must find nothing.
    pub replan_seconds: f64,
    pub replan_changes: bool,
    /// `cargo build --release -p kafka-utils-scale` after its build script changed
    /// (`BENCH_SCALE_BUILD_SECONDS`, from `scripts/bench.sh`).
    #[serde(default)]
    pub build_seconds: Option<f64>,
}

/// Runs `admin-scale` at `bin` on the cluster of `bootstrap`.
pub fn measure(bin: &str, bootstrap: &str) -> Result<AdminScale, BoxError> {
    let out = Command::new(bin)
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        // `apply` waits, for at most the request timeout, until the cluster shows what it
        // applied. A broker publishes the 10,000 ACLs only once it has created the 3,000
        // partitions' logs (78 s on this machine's disk on 2026-12-07, against 23-34 s
        // before): the time is what is measured (its target is 60 s), so it may take
        // 3 min rather than fail at the default 30 s.
        .env("KAFKA_REQUEST_TIMEOUT_MS", "180000")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting {bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{bin} failed: {}", out.status).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut scale: AdminScale =
        serde_json::from_str(last).map_err(|e| format!("{bin} answered `{last:.200}`: {e}"))?;
    scale.build_seconds = std::env::var("BENCH_SCALE_BUILD_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    Ok(scale)
}

/// The section of `BENCHMARKS.md`, with the targets (plan ≤ 3 s, apply ≤ 60 s, re-plan ≤ 3 s
/// and empty).
pub fn markdown(scale: &AdminScale, out: &mut String) {
    let _ = writeln!(
        out,
        "A topology of {} topics ({} partitions) and {} ACLs, declared as a service declares one \
         (`bench/scale`: a `#[derive(KafkaTopics)]` enum, a `#[derive(KafkaUsers)]` enum, one \
         `permissions!`), on this run's broker (`admin-scale`):\n",
        crate::report::number(scale.topics as f64),
        crate::report::number(scale.partitions as f64),
        crate::report::number(scale.acls as f64),
    );
    let _ = writeln!(
        out,
        "| step | target | measured | |\n| --- | --- | ---: | --- |"
    );
    let _ = writeln!(
        out,
        "| `plan` on a cluster without it ({} topics and {} ACLs to create) | ≤ 3 s | {:.2} s | {} |",
        scale.planned_topics,
        scale.planned_acls,
        scale.plan_seconds,
        verdict(scale.plan_seconds <= 3.0)
    );
    let _ = writeln!(
        out,
        "| `apply` | ≤ 60 s | {:.1} s | {} |",
        scale.apply_seconds,
        verdict(scale.apply_seconds <= 60.0)
    );
    let _ = writeln!(
        out,
        "| `plan` again: {} | ≤ 3 s, nothing to do | {:.2} s | {} |",
        if scale.replan_changes {
            "changes found"
        } else {
            "nothing to do"
        },
        scale.replan_seconds,
        verdict(scale.replan_seconds <= 3.0 && !scale.replan_changes)
    );
    if let Some(build) = scale.build_seconds {
        let _ = writeln!(
            out,
            "| the derive: `cargo build --release -p kafka-utils-scale` (its dependencies built) | | {build:.1} s | |"
        );
    }
}
