//! What the orchestrator asks of one client process, and what the client answers.
//!
//! Both travel as JSON: the job as the client's last argument, the outcome as the last line
//! of its standard output. The Python clients (`bench/python/clients.py`) read and write the
//! same shapes, so every client, in either language, is measured the same way.

use serde::{Deserialize, Serialize};

/// The clients measured, in the order the tables list them. `@profile`: a kafka-utils client
/// at that [`Profile`](kafka_utils::settings::Profile) rather than the default.
pub const CLIENTS: [&str; 10] = [
    "raw",
    "typed",
    "detached",
    "detached@throughput",
    "runner",
    "runner@low_latency",
    "java",
    "confluent",
    "aiokafka",
    "faststream",
];

/// The clients written in Python (run by the virtualenv's interpreter).
pub fn is_python(client: &str) -> bool {
    matches!(client, "confluent" | "aiokafka" | "faststream")
}

/// Apache Kafka's Java client (`bench/java`, run by `java -jar`).
pub fn is_java(client: &str) -> bool {
    client == "java"
}

/// What a client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Send for `seconds` as fast as the client can, then wait for every acknowledgement.
    Produce,
    /// Read (decode, hand to a no-op handler, commit) up to `count` records or for `seconds`.
    Consume,
    /// Send at `rate` msgs/s and receive in the same process; record produce → handler times.
    Latency,
    /// Write exactly `count` records (the raw producer fills the consumers' topic).
    Fill,
    /// Write exactly `count` keyed records to the ordering topic (the typed producer).
    FillKeyed,
    /// An app at `ordering` handles the ordering topic from its start, with a handler that
    /// awaits `handler_ms` (0: a no-op one), for `seconds` after its first record or until
    /// `count` records.
    Ordered,
}

/// The payload of every record: opaque bytes, or the JSON of [`Payload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bytes,
    Json,
}

/// One client run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub client: String,
    pub op: Op,
    pub bootstrap: String,
    pub topic: String,
    pub kind: Kind,
    /// Bytes of each record's payload (for JSON: about, see [`body_len`]).
    pub size: usize,
    /// Produce: how long to send; consume: the longest to read; latency: how long to measure.
    pub seconds: f64,
    /// Consume: at most this many records; fill: exactly this many.
    pub count: u64,
    pub group: String,
    /// Latency: offered msgs/s.
    pub rate: u64,
    /// Latency: the first seconds of sending, not recorded (group join, JIT, connections).
    pub warmup_seconds: f64,
    /// Ordered: `partition`, `key` or `unordered` (only the orderings' jobs carry it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ordering: String,
    /// Ordered: the app's `max_in_flight`, records at once per partition.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: usize,
    /// Ordered: how long the handler awaits, in ms (0: it returns at once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub handler_ms: u64,
    /// Latency on the retrying topic: the first measured record fails every attempt (it goes
    /// through the retry topics to the dead letter) and is not timed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failing: bool,
}

fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What a client measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// Records acknowledged (produce), handled (consume) or timed (latency).
    pub messages: u64,
    /// From the first send (or first record received) to the last acknowledgement (or record).
    pub seconds: f64,
    /// The process's CPU time (all threads, user and system) over the measured part.
    pub cpu_seconds: f64,
    /// The process's peak resident set, in KiB.
    pub peak_rss_kb: u64,
    /// Latency: produce call (its scheduled time) → handler entry, per record, in ns.
    #[serde(default)]
    pub latency_ns: Vec<u64>,
    /// Latency: records sent after the warm-up that never reached the handler.
    #[serde(default)]
    pub lost: u64,
}

/// The record's JSON value: the same fields, in the same order, in every client.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Payload {
    pub id: u64,
    /// Throughput: the id; latency: the scheduled send time, ns since the client started.
    pub sent_at: u64,
    pub body: String,
}

/// The body length that makes a payload's compact JSON about `size` bytes
/// (`{"id":…,"sent_at":…,"body":"…"}` takes 47 with a 6-digit id and a 13-digit time).
pub fn body_len(size: usize) -> usize {
    size.saturating_sub(47)
}

/// The body of every JSON payload of `size`.
pub fn body(size: usize) -> String {
    "x".repeat(body_len(size))
}

/// CPU seconds this process has used so far (all threads, user and system).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (in parentheses, which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// This process's peak resident set (`VmHWM`), in KiB.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_about_their_size() {
        for size in [1024, 10_240] {
            let value = Payload {
                id: 500_000,
                sent_at: 1_700_000_000_000,
                body: body(size),
            };
            assert_eq!(serde_json::to_vec(&value).unwrap().len(), size);
        }
    }

    #[test]
    fn a_job_reads_back() {
        let text = r#"{"client":"raw","op":"produce","bootstrap":"127.0.0.1:9092","topic":"t",
            "kind":"json","size":1024,"seconds":4.0,"count":0,"group":"g","rate":0,
            "warmup_seconds":0.0}"#;
        let job: Job = serde_json::from_str(text).unwrap();
        assert_eq!((job.op, job.kind), (Op::Produce, Kind::Json));
    }

    #[test]
    fn this_process_has_used_cpu_and_memory() {
        assert!(cpu_seconds() >= 0.0);
        assert!(peak_rss_kb() > 0);
    }
}
