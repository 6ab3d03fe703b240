//! `BENCHMARKS.md`: the targets, the tables (median, range, ratio to raw rdkafka), the JSON
//! libraries, the machine, and the chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::codecs::CodecCost;
use crate::job::Op;
use crate::plan::{
    CONSUMERS, Config, LATENCY, ORDERING_HANDLERS, ORDERINGS, PRODUCERS, RETRYING, RETRYING_LABEL,
    RETRYING_RATE, Run, WORKLOADS, ordering_client,
};
use crate::stats::{median, range};

/// Everything one benchmark run produced: what `results.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub started: String,
    pub seconds: f64,
    pub machine: BTreeMap<String, String>,
    pub config: Config,
    pub codecs: Vec<CodecCost>,
    pub runs: Vec<Run>,
    /// The admin at scale (see [`crate::scale`]), when it ran.
    #[serde(default)]
    pub admin: Option<crate::scale::AdminScale>,
    /// Why the admin at scale has no figures, when it ran and failed.
    #[serde(default)]
    pub admin_error: Option<String>,
}

/// What the clients are, for the tables' readers.
const DESCRIPTIONS: [(&str, &str); 11] = [
    (
        "raw",
        "rust-rdkafka `BaseProducer` / `BaseConsumer` (`poll`, one record per call) at librdkafka's defaults (`linger.ms` 5, a 1 GiB queue; `fetch.queue.backoff.ms` 20 as every librdkafka consumer here): pre-serialized bytes out; serde_json decode in",
    ),
    (
        "typed",
        "kafka-utils `Producer` at the default profile (`balanced`: `linger.ms` 1 while records are in flight, a record sent while none is leaves at once; Nagle off, a 32 MiB queue) (encodes each typed value, one delivery future per record) / `Consumer` (`recv_batch` + `ack_batch`: each assigned partition read from its own librdkafka queue, a batch per call; no headers read, like raw)",
    ),
    (
        "detached",
        "kafka-utils `Producer::send_detached` at the default profile (encodes each typed value; no future per record: acknowledgements are counted, as the raw program counts them, and checked with `delivery_totals` after the flush)",
    ),
    (
        "detached@throughput",
        "the same at the `throughput` profile (`Settings::throughput()`: librdkafka's `linger.ms` 5 and Nagle; the 32 MiB queue)",
    ),
    (
        "runner",
        "kafka-utils `App` at the default profile: partitions read from their own queues a batch per call, decode, no-op async handler per record, offset stored after it returns (at least once)",
    ),
    (
        "runner@low_latency",
        "the same with the typed producer and the app at the `low_latency` profile (`Settings::low_latency()`: `linger.ms` 0, Nagle off)",
    ),
    (
        "runner/partition, runner/key, runner/unordered",
        "kafka-utils `App` at the default profile handling the ordering topic (a `u64` per record, keys `n % 1000` as `u32`, 3 partitions) at `App::ordering(…)`: `Ordering::Partition`, `Key` or `Unordered`, `max_in_flight(64)`; the handler awaits `tokio::time::sleep(5 ms)` or returns at once; records and CPU counted from the first record on",
    ),
    (
        "java",
        "Apache Kafka's Java client (`bench/java`, kafka-clients at the broker's version, its defaults: `linger.ms` 5, `batch.size` 16 KiB, `buffer.memory` 32 MiB, auto commit, `max.poll.records` 500), Jackson `writeValueAsBytes` / `readValue` per record; 2 s of unmeasured JIT warm-up before each produce and consume (a consumer reads in a group of its own, then again from the start)",
    ),
    (
        "confluent",
        "confluent-kafka-python: `json.dumps` per record; consumer `consume(500)`, `fetch.queue.backoff.ms` 20 as ours, offsets stored once per batch after its handlers",
    ),
    (
        "aiokafka",
        "aiokafka: `send` futures; consumer `getmany(max_records=500)` with auto commit",
    ),
    (
        "faststream",
        "FastStream (aiokafka) publisher with a pydantic model / subscriber with a pydantic-typed handler per record (as the runner's), default ack policy",
    ),
];

impl Results {
    pub(crate) fn runs(&self, op: Op, workload: &str, rate: u64, client: &str) -> Vec<&Run> {
        self.runs
            .iter()
            .filter(|r| {
                r.op == op && r.workload == workload && r.rate == rate && r.client == client
            })
            .collect()
    }

    /// The median rate of a measurement (NaN when it did not run).
    pub fn median_rate(&self, op: Op, workload: &str, client: &str) -> f64 {
        let rates: Vec<f64> = self
            .runs(op, workload, 0, client)
            .iter()
            .map(|r| r.rate())
            .collect();
        median(&rates)
    }

    /// The median of a latency percentile, in ms.
    pub fn median_latency(
        &self,
        rate: u64,
        client: &str,
        pick: fn(&crate::stats::Percentiles) -> f64,
    ) -> f64 {
        self.median_latency_of(WORKLOADS[1].label, rate, client, pick)
    }

    /// The median over the repetitions of a latency percentile of `client` at `rate` on
    /// `workload`, in ms.
    pub fn median_latency_of(
        &self,
        workload: &str,
        rate: u64,
        client: &str,
        pick: fn(&crate::stats::Percentiles) -> f64,
    ) -> f64 {
        let values: Vec<f64> = self
            .runs(Op::Latency, workload, rate, client)
            .iter()
            .filter_map(|r| r.latency.as_ref().map(|p| pick(p) / 1e3))
            .collect();
        median(&values)
    }
}

pub(crate) fn number(value: f64) -> String {
    if value.is_nan() {
        "–".to_string()
    } else if value >= 100.0 {
        let whole = format!("{value:.0}");
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The median of `value` over `runs`.
fn median_of(runs: &[&Run], value: impl Fn(&Run) -> f64) -> f64 {
    median(&runs.iter().map(|r| value(r)).collect::<Vec<_>>())
}

fn throughput_table(results: &Results, op: Op, clients: &[&str], out: &mut String) {
    let _ = writeln!(
        out,
        "| payload | client | msgs/s (median) | range | MB/s | × raw | CPU µs/msg | peak RSS MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for workload in &WORKLOADS {
        let raw = results.median_rate(op, workload.label, "raw");
        for client in clients {
            let runs = results.runs(op, workload.label, 0, client);
            if runs.is_empty() {
                continue;
            }
            let rates: Vec<f64> = runs.iter().map(|r| r.rate()).collect();
            let rate = median(&rates);
            let (lo, hi) = range(&rates);
            let cpu = median_of(&runs, Run::cpu_us);
            let rss = median_of(&runs, |r| r.peak_rss_kb as f64 / 1024.0);
            let _ = writeln!(
                out,
                "| {} | {client} | {} | {}–{} | {} | {:.2} | {} | {} |",
                workload.label,
                number(rate),
                number(lo),
                number(hi),
                number(rate * workload.size as f64 / 1e6),
                rate / raw,
                number(cpu),
                number(rss),
            );
        }
    }
}

fn latency_table(results: &Results, out: &mut String) {
    let rows: Vec<(u64, String)> = results
        .config
        .rates
        .iter()
        .flat_map(|&rate| LATENCY.iter().map(move |c| (rate, c.to_string())))
        .collect();
    latency_rows(results, WORKLOADS[1].label, &rows, out);
}

/// The retry topics' rows: the runner on the retrying topic with no record failing and with
/// one failing every attempt.
fn retrying_table(results: &Results, out: &mut String) {
    let rows: Vec<(u64, String)> = RETRYING
        .iter()
        .map(|v| (RETRYING_RATE, format!("runner/{v}")))
        .collect();
    latency_rows(results, RETRYING_LABEL, &rows, out);
}

/// A latency table of `workload`: a row per (offered rate, client) measured.
fn latency_rows(results: &Results, workload: &str, rows: &[(u64, String)], out: &mut String) {
    let _ = writeln!(
        out,
        "| offered | client | p50 ms | p99 ms | p99.9 ms | max ms | p99 range | lost | CPU µs/msg | peak RSS MiB |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (rate, client) in rows {
        let (rate, client) = (*rate, client.as_str());
        {
            let runs = results.runs(Op::Latency, workload, rate, client);
            if runs.is_empty() {
                continue;
            }
            let p99s: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.latency.map(|p| p.p99_us / 1e3))
                .collect();
            let (lo, hi) = range(&p99s);
            let lost: u64 = runs.iter().map(|r| r.lost).sum();
            let cpu = median_of(&runs, Run::cpu_us);
            let rss = median_of(&runs, |r| r.peak_rss_kb as f64 / 1024.0);
            let _ = writeln!(
                out,
                "| {}/s | {client} | {} | {} | {} | {} | {}–{} | {lost} | {} | {} |",
                number(rate as f64),
                number(results.median_latency_of(workload, rate, client, |p| p.p50_us)),
                number(results.median_latency_of(workload, rate, client, |p| p.p99_us)),
                number(results.median_latency_of(workload, rate, client, |p| p.p999_us)),
                number(results.median_latency_of(workload, rate, client, |p| p.max_us)),
                number(lo),
                number(hi),
                number(cpu),
                number(rss),
            );
        }
    }
}

/// The orderings: per handler, each ordering's records/s, its ratio to `Partition`, CPU.
fn ordering_table(results: &Results, out: &mut String) {
    let _ = writeln!(
        out,
        "| handler | ordering | records/s (median) | range | × partition | CPU µs/record | peak RSS MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (label, _) in ORDERING_HANDLERS {
        let partition = results.median_rate(Op::Ordered, label, &ordering_client("partition"));
        for ordering in ORDERINGS {
            let runs = results.runs(Op::Ordered, label, 0, &ordering_client(ordering));
            if runs.is_empty() {
                continue;
            }
            let rates: Vec<f64> = runs.iter().map(|r| r.rate()).collect();
            let rate = median(&rates);
            let (lo, hi) = range(&rates);
            let _ = writeln!(
                out,
                "| {label} | {ordering} | {} | {}–{} | {:.2} | {} | {} |",
                number(rate),
                number(lo),
                number(hi),
                rate / partition,
                number(median_of(&runs, Run::cpu_us)),
                number(median_of(&runs, |r| r.peak_rss_kb as f64 / 1024.0)),
            );
        }
    }
}

fn codec_table(results: &Results, out: &mut String) {
    let _ = writeln!(
        out,
        "| payload | library | encode ns | decode ns | encode × serde_json | decode × serde_json |\n| ---: | --- | ---: | ---: | ---: | ---: |"
    );
    for cost in &results.codecs {
        let base = results
            .codecs
            .iter()
            .find(|c| c.size == cost.size && c.library == "serde_json");
        let (e, d) = base.map_or((f64::NAN, f64::NAN), |b| {
            (b.encode_ns / cost.encode_ns, b.decode_ns / cost.decode_ns)
        });
        let _ = writeln!(
            out,
            "| {} B | {} | {} | {} | {e:.2} | {d:.2} |",
            cost.size,
            cost.library,
            number(cost.encode_ns),
            number(cost.decode_ns)
        );
    }
}

/// How many records each consume workload's topic holds, as this run filled it.
fn fills(c: &Config) -> String {
    WORKLOADS
        .iter()
        .map(|w| {
            let count = w.fill_count(c.fill_scale);
            format!("{}: {} records", w.label, number(count as f64))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The whole of `BENCHMARKS.md` (`chart` is the PNG's path relative to it).
pub fn markdown(results: &Results, chart: &str) -> String {
    let mut out = String::new();
    let c = &results.config;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Made by `bash scripts/bench.sh` on {} in {:.0} min: one broker, one run, every client in a process of its own, \
         {} repetitions of each measurement (clients in the listed order, then reversed), median and range reported. \
         Ratios are to raw rust-rdkafka in the same run. Produce: each client sends for {} s as fast as it can, and only \
         acknowledged records count (idempotent, `acks=all` everywhere). Consume: each client reads a topic filled once \
         ({}), up to {} s after its first record, in a new group. Latency: one process sends 1 KB JSON records at a fixed rate \
         and handles them; the time is from the record's scheduled produce call to the handler's entry; {} s measured \
         after {} s of warm-up.\n",
        results.started,
        results.seconds / 60.0,
        c.reps,
        c.seconds,
        fills(c),
        c.seconds,
        c.latency_seconds,
        c.latency_warmup,
    );
    let _ = writeln!(out, "![throughput and latency]({chart})\n");
    let _ = writeln!(out, "## Targets\n");
    crate::targets::table(results, &mut out);
    let _ = writeln!(out, "\n## Produce\n");
    throughput_table(results, Op::Produce, &PRODUCERS, &mut out);
    let _ = writeln!(out, "\n## Consume\n");
    throughput_table(results, Op::Consume, &CONSUMERS, &mut out);
    let _ = writeln!(out, "\n## Latency, produce call → handler (1 KB JSON)\n");
    latency_table(results, &mut out);
    if results.runs.iter().any(|r| r.op == Op::Ordered) {
        let _ = writeln!(
            out,
            "\n## Orderings (3 partitions, 1,000 keys, `max_in_flight(64)`)\n\n\
             The ordering topic holds {} records; each run reads it from the start in a new group, \
             for {} s after its first record (the 5 ms handler) or all of it (the no-op handler).\n",
            number(((crate::plan::ORDERING_FILL as f64 * c.fill_scale) as u64).max(1000) as f64),
            c.seconds,
        );
        ordering_table(results, &mut out);
    }
    if results.runs.iter().any(|r| r.workload == RETRYING_LABEL) {
        let _ = writeln!(
            out,
            "\n## Retry topics: the other records' latency while one keeps failing\n\n\
             The runner handles 1 KB JSON records offered at {}/s on a topic with retry topics \
             `[\"2s\", \"5s\"]` and a dead letter, as the latency rows above (same warm-up and length); \
             in `retry-failing` the first measured record fails every attempt: once in place, then on \
             each retry topic once due, then it is dead-lettered (it is not timed, nor are records \
             read from the retry topics).\n",
            number(RETRYING_RATE as f64),
        );
        retrying_table(results, &mut out);
    }
    if let Some(scale) = &results.admin {
        let _ = writeln!(out, "\n## The admin at scale\n");
        crate::scale::markdown(scale, &mut out);
    } else if let Some(error) = &results.admin_error {
        let _ = writeln!(
            out,
            "\n## The admin at scale\n\n**Failed** in this run: {error}"
        );
    }
    let _ = writeln!(out, "\n## JSON: serde_json, sonic-rs, simd-json\n");
    let _ = writeln!(
        out,
        "Per record of the benchmark's payload, in this process (simd-json decodes a copy: it parses in place).\n"
    );
    codec_table(results, &mut out);
    let _ = writeln!(
        out,
        "\n## The clients\n\n| client | what it runs |\n| --- | --- |"
    );
    for (client, what) in DESCRIPTIONS {
        let _ = writeln!(out, "| {client} | {what} |");
    }
    let _ = writeln!(out, "\n## The machine\n\n| | |\n| --- | --- |");
    for (key, value) in &results.machine {
        let _ = writeln!(out, "| {key} | {value} |");
    }
    let _ = write!(out, "\n{LOG}");
    out
}

/// The hand-written log of what the numbers showed and what was done, after the tables.
const LOG: &str = include_str!("../LOG.md");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Percentiles;

    fn run(op: Op, workload: &str, rate: u64, client: &str, messages: u64) -> Run {
        Run {
            op,
            workload: workload.to_string(),
            size: 1024,
            rate,
            client: client.to_string(),
            rep: 0,
            messages,
            seconds: 1.0,
            cpu_seconds: messages as f64 * 1e-6,
            peak_rss_kb: 10_240,
            lost: 0,
            latency: (op == Op::Latency).then_some(Percentiles {
                p50_us: 2_000.0,
                p99_us: 8_000.0,
                p999_us: 12_000.0,
                max_us: 20_000.0,
            }),
        }
    }

    fn results() -> Results {
        let mut runs = Vec::new();
        for w in WORKLOADS {
            for (client, rate) in [
                ("raw", 1000),
                ("typed", 960),
                ("detached", 1010),
                ("detached@throughput", 1020),
                ("java", 400),
                ("confluent", 300),
                ("aiokafka", 90),
                ("faststream", 50),
            ] {
                runs.push(run(Op::Produce, w.label, 0, client, rate * 1000));
            }
            for (client, rate) in [
                ("raw", 1000),
                ("typed", 950),
                ("runner", 800),
                ("java", 700),
                ("faststream", 70),
            ] {
                runs.push(run(Op::Consume, w.label, 0, client, rate * 1000));
            }
        }
        runs.push(run(Op::Latency, WORKLOADS[1].label, 1000, "runner", 10_000));
        let mut fast = run(
            Op::Latency,
            WORKLOADS[1].label,
            1000,
            "runner@low_latency",
            10_000,
        );
        fast.latency = Some(Percentiles {
            p50_us: 500.0,
            p99_us: 1_500.0,
            p999_us: 3_000.0,
            max_us: 5_000.0,
        });
        runs.push(fast);
        runs.push(run(Op::Latency, WORKLOADS[1].label, 1000, "java", 10_000));
        for (ordering, waits, noop_cpu) in [
            ("partition", 500, 0.7),
            ("key", 24_000, 0.8),
            ("unordered", 25_000, 1.0),
        ] {
            let client = ordering_client(ordering);
            runs.push(run(Op::Ordered, "5 ms handler", 0, &client, waits));
            let mut noop = run(Op::Ordered, "no-op handler", 0, &client, 1_000_000);
            noop.cpu_seconds = noop_cpu;
            runs.push(noop);
        }
        Results {
            started: "2026-11-26".into(),
            seconds: 60.0,
            machine: BTreeMap::from([("cpu".to_string(), "a test CPU".to_string())]),
            config: Config {
                bootstrap: "127.0.0.1:9092".into(),
                reps: 1,
                seconds: 1.0,
                latency_seconds: 1.0,
                latency_warmup: 1.0,
                rates: vec![1000],
                clients: Vec::new(),
                fill_scale: 1.0,
                python: None,
                java_classpath: None,
            },
            codecs: Vec::new(),
            runs,
            admin: None,
            admin_error: None,
        }
    }

    #[test]
    fn the_targets_are_judged_on_the_medians() {
        let text = markdown(&results(), "chart.png");
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no line `{start}` in\n{text}"))
                .to_string()
        };
        assert!(line("| typed producer, default profile, ≥ 0.95").ends_with("**met** |"));
        assert!(line("| typed producer, `throughput` profile").ends_with("**met** |"));
        assert!(line("| typed producer ≥ 1.5 × java").contains("2.4 ×"));
        assert!(line("| typed consumer ≥ 1.5 × java").contains("1.4 ×"));
        assert!(line("| typed consumer ≥ 1.5 × java").ends_with("**not met** |"));
        let p50 = line(
            "| p50 produce → handler ≤ 1 ms at 1000/s and below every peer's (runner@low_latency)",
        );
        assert!(p50.contains("0.50 ms; best peer java 2.00 ms") && p50.ends_with("**met** |"));
        let p99 = line("| p99 produce → handler ≤ 2 ms at 1000/s and below every peer's (runner)");
        assert!(p99.ends_with("**not met** |"), "{p99}");
        assert!(line("| typed producer's peak RSS ≤ 128 MiB").ends_with("**met** |"));
        assert!(
            line("| handler runner ≥ 0.90").contains("0.80")
                && line("| handler runner ≥ 0.90").ends_with("**not met** |")
        );
        assert!(line("| typed producer ≥ 3 × confluent").contains("3.2 ×"));
        assert!(line("| typed producer ≥ 10 × aiokafka").ends_with("**met** |"));
        assert!(line("| handler runner ≥ 10 × faststream").contains("11.4 ×"));
        assert!(
            text.contains(
                "| 1 KB JSON | typed | 960,000 | 960,000–960,000 | 983 | 0.96 | 1.00 | 10.0 |"
            ),
            "{text}"
        );
        assert!(text.contains("![throughput and latency](chart.png)"));
        let key = line("| `Ordering::Key` (window 64) ≥ 20 × `Ordering::Partition`");
        assert!(key.contains("48.00 × (24,000 vs 500/s)") && key.ends_with("**met** |"));
        let unordered = line("| `Ordering::Key` (window 64) ≥ 0.8 × `Ordering::Unordered`");
        assert!(unordered.contains("0.96 ×") && unordered.ends_with("**met** |"));
        let cpu = line("| `Ordering::Key`'s CPU per record ≤ 1.3 × `Partition`'s");
        assert!(cpu.contains("1.14 × (0.80 vs 0.70 µs)") && cpu.ends_with("**met** |"));
        assert!(
            text.contains("| 5 ms handler | key | 24,000 | 24,000–24,000 | 48.00 | 1.00 | 10.0 |"),
            "{text}"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(123.4), "123");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(f64::NAN), "–");
    }
}
