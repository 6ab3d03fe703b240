//! The targets, each judged on the run's medians: the ratios to raw rust-rdkafka and to the
//! peers, the latency of each profile against every peer's, and the producer's peak memory.

use std::fmt::Write as _;

use crate::job::Op;
use crate::plan::{ORDERING_HANDLERS, RETRYING_LABEL, RETRYING_RATE, WORKLOADS, ordering_client};
use crate::report::{Results, number};
use crate::stats::median;

/// The peers a latency target must beat: every client that is neither raw nor ours.
const PEERS: [&str; 4] = ["java", "confluent", "aiokafka", "faststream"];

pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

/// Writes the targets' table.
pub(crate) fn table(results: &Results, out: &mut String) {
    let json = WORKLOADS[1].label;
    let _ = writeln!(
        out,
        "| target | measured (median, same run) | |\n| --- | --- | --- |"
    );
    let ratio = |op: Op, workload: &str, a: &str, b: &str| {
        results.median_rate(op, workload, a) / results.median_rate(op, workload, b)
    };
    // A client's ratio to raw at each workload, and whether all reach `floor`.
    let to_raw = |op: Op, client: &str, floor: f64| -> (String, bool) {
        let ratios: Vec<(&str, f64)> = WORKLOADS
            .iter()
            .map(|w| (w.label, ratio(op, w.label, client, "raw")))
            .collect();
        let text = ratios.iter().map(|(w, r)| format!("{w}: {r:.2}"));
        let met = ratios.iter().all(|(_, r)| *r >= floor);
        (text.collect::<Vec<_>>().join(", "), met)
    };
    // The producer at the default profile two ways: a future per record, and detached (what
    // the raw program does).
    let (futures, futures_met) = to_raw(Op::Produce, "typed", 0.95);
    let (detached, detached_met) = to_raw(Op::Produce, "detached", 0.95);
    let verdict_text = match (futures_met, detached_met) {
        (true, _) => verdict(true).to_string(),
        (false, true) => format!("{} detached; not with a future per record", verdict(true)),
        (false, false) => verdict(false).to_string(),
    };
    let _ = writeln!(
        out,
        "| typed producer, default profile, ≥ 0.95 × raw at librdkafka's defaults | detached: {detached}; a future per record: {futures} | {verdict_text} |"
    );
    let mut per_workload = |what: &str, op: Op, client: &str, floor: f64| {
        let (text, met) = to_raw(op, client, floor);
        let _ = writeln!(
            out,
            "| {what} ≥ {floor:.2} × raw | {text} | {} |",
            verdict(met)
        );
    };
    per_workload(
        "typed producer, `throughput` profile, detached,",
        Op::Produce,
        "detached@throughput",
        1.0,
    );
    per_workload("typed consumer", Op::Consume, "typed", 0.90);
    per_workload("handler runner", Op::Consume, "runner", 0.90);
    for (what, op, ours, vs, floor) in [
        ("typed producer", Op::Produce, "typed", "java", 1.5),
        ("typed consumer", Op::Consume, "typed", "java", 1.5),
        ("typed producer", Op::Produce, "typed", "confluent", 3.0),
        ("typed producer", Op::Produce, "typed", "aiokafka", 10.0),
        ("handler runner", Op::Consume, "runner", "faststream", 10.0),
    ] {
        let r = ratio(op, json, ours, vs);
        let _ = writeln!(
            out,
            "| {what} ≥ {floor} × {vs}, {json} | {r:.1} × | {} |",
            verdict(r >= floor)
        );
    }
    latency(results, out);
    memory(results, out);
    orderings(results, out);
    retrying(results, out);
}

/// The retry topics: while one record keeps failing (retry topics 2 s and 5 s, then the dead
/// letter), the other records' p99 ≤ 1.2 × a run with none failing. Written when measured.
fn retrying(results: &Results, out: &mut String) {
    let p99 = |variant: &str| {
        results.median_latency_of(
            RETRYING_LABEL,
            RETRYING_RATE,
            &format!("runner/{variant}"),
            |p| p.p99_us,
        )
    };
    let (failing, none) = (p99("retry-failing"), p99("retry-none"));
    if failing.is_nan() || none.is_nan() {
        return;
    }
    let r = failing / none;
    let _ = writeln!(
        out,
        "| the other records' p99 while one keeps failing (retry topics 2 s, 5 s) ≤ 1.2 × none failing, {}/s | {r:.2} × ({} vs {} ms) | {} |",
        number(RETRYING_RATE as f64),
        number(failing),
        number(none),
        verdict(r <= 1.2)
    );
}

/// The orderings: with a handler that awaits 5 ms, `Key` ≥ 20 × `Partition` and ≥ 0.8 ×
/// `Unordered` in records/s; with a no-op handler, `Key`'s CPU per record ≤ 1.3 ×
/// `Partition`'s. Written when the run measured them.
fn orderings(results: &Results, out: &mut String) {
    let (waits, noop) = (ORDERING_HANDLERS[0].0, ORDERING_HANDLERS[1].0);
    let rate = |ordering: &str| results.median_rate(Op::Ordered, waits, &ordering_client(ordering));
    let cpu = |ordering: &str| {
        let runs = results.runs(Op::Ordered, noop, 0, &ordering_client(ordering));
        median(&runs.iter().map(|r| r.cpu_us()).collect::<Vec<_>>())
    };
    if rate("key").is_nan() {
        return;
    }
    for (what, name, floor) in [
        ("partition", "Partition", 20.0),
        ("unordered", "Unordered", 0.8),
    ] {
        let r = rate("key") / rate(what);
        let _ = writeln!(
            out,
            "| `Ordering::Key` (window 64) ≥ {floor} × `Ordering::{name}`, records/s with a 5 ms handler (3 partitions, 1,000 keys) | {r:.2} × ({} vs {}/s) | {} |",
            number(rate("key")),
            number(rate(what)),
            verdict(r >= floor)
        );
    }
    let r = cpu("key") / cpu("partition");
    let _ = writeln!(
        out,
        "| `Ordering::Key`'s CPU per record ≤ 1.3 × `Partition`'s, no-op handler | {r:.2} × ({} vs {} µs) | {} |",
        number(cpu("key")),
        number(cpu("partition")),
        verdict(r <= 1.3)
    );
}

/// Which percentile of a latency run.
type Pick = fn(&crate::stats::Percentiles) -> f64;

/// The latency targets: p50 ≤ 1 ms and p99 ≤ 2 ms at 1,000/s, p99 ≤ 3 ms at 10,000/s, each
/// below every peer's; for the default profile and the low-latency one.
fn latency(results: &Results, out: &mut String) {
    let peer_best = |rate: u64, pick: Pick| {
        PEERS
            .iter()
            .map(|peer| (results.median_latency(rate, peer, pick), *peer))
            .filter(|(v, _)| !v.is_nan())
            .min_by(|a, b| a.0.total_cmp(&b.0))
    };
    let targets: [(u64, &str, Pick, f64); 3] = [
        (1000, "p50", |p| p.p50_us, 1.0),
        (1000, "p99", |p| p.p99_us, 2.0),
        (10_000, "p99", |p| p.p99_us, 3.0),
    ];
    for client in ["runner@low_latency", "runner"] {
        for (rate, name, pick, bound) in targets {
            let ours = results.median_latency(rate, client, pick);
            let (best, best_name) = peer_best(rate, pick).unwrap_or((f64::NAN, "no peer"));
            let below = ours < best || best.is_nan();
            let _ = writeln!(
                out,
                "| {name} produce → handler ≤ {bound} ms at {rate}/s and below every peer's ({client}) | {ours:.2} ms; best peer {best_name} {best:.2} ms | {} |",
                if ours <= bound && below {
                    verdict(true).to_string()
                } else if below {
                    format!("{}: below every peer, above {bound} ms", verdict(false))
                } else {
                    verdict(false).to_string()
                }
            );
        }
    }
}

/// Peak memory: the typed producer at 10 KB stays within 128 MiB (`KAFKA_BUFFER_MEMORY`).
fn memory(results: &Results, out: &mut String) {
    let ten = WORKLOADS[2].label;
    let runs = results.runs(Op::Produce, ten, 0, "typed");
    let rss: Vec<f64> = runs.iter().map(|r| r.peak_rss_kb as f64 / 1024.0).collect();
    let peak = rss.iter().copied().fold(f64::NAN, f64::max);
    let _ = writeln!(
        out,
        "| typed producer's peak RSS ≤ 128 MiB, {ten} (the default `KAFKA_BUFFER_MEMORY`) | {peak:.0} MiB at most | {} |",
        verdict(peak <= 128.0)
    );
}
