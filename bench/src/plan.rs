//! The run: which clients do what, in which order, each in a process of its own.
//!
//! Every measurement is repeated `reps` times; even repetitions run the clients in the
//! listed order, odd ones in reverse, so that no client always meets the broker (its JIT,
//! the page cache) in the state another left. Producers write a topic recreated for each
//! run; consumers read one topic filled once per workload, each in a new group.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde::{Deserialize, Serialize};

use crate::clients::{
    BoxError, latency_topic, ordering_topic, retrying_topic, retrying_topics, topic_for,
};
use crate::job::{Job, Kind, Op, Outcome, is_java, is_python};
use crate::stats::Percentiles;

/// A payload the benchmark sends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Workload {
    pub label: &'static str,
    pub kind: Kind,
    pub size: usize,
    /// Records written for the consumers to read: about 3 s of reading for the Rust clients
    /// on the 2-core machine (a read of 1 s was decided by its first fetches and by the
    /// machine's speed at that moment: the typed consumer's ratio to raw ran 0.8-1.2 from one
    /// run to the next).
    pub fill: u64,
}

impl Workload {
    /// The records its topic is filled with, `fill` scaled (`BENCH_FILL_SCALE`), at least 1,000.
    pub fn fill_count(&self, scale: f64) -> u64 {
        ((self.fill as f64 * scale) as u64).max(1000)
    }
}

/// The three workloads of the issue: 100 B of bytes, ~1 KB and ~10 KB of JSON.
pub const WORKLOADS: [Workload; 3] = [
    Workload {
        label: "100 B bytes",
        kind: Kind::Bytes,
        size: 100,
        fill: 8_000_000,
    },
    Workload {
        label: "1 KB JSON",
        kind: Kind::Json,
        size: 1024,
        fill: 3_000_000,
    },
    Workload {
        label: "10 KB JSON",
        kind: Kind::Json,
        size: 10_240,
        fill: 400_000,
    },
];

/// The clients of each measurement.
pub const PRODUCERS: [&str; 8] = [
    "raw",
    "typed",
    "detached",
    "detached@throughput",
    "java",
    "confluent",
    "aiokafka",
    "faststream",
];
pub const CONSUMERS: [&str; 7] = [
    "raw",
    "typed",
    "runner",
    "java",
    "confluent",
    "aiokafka",
    "faststream",
];
pub const LATENCY: [&str; 7] = [
    "raw",
    "runner",
    "runner@low_latency",
    "java",
    "confluent",
    "aiokafka",
    "faststream",
];

/// The orderings measured, each an app (the `runner`) at `App::ordering(…)` with
/// `max_in_flight(ORDERING_WINDOW)`; recorded as client `runner/<ordering>`.
pub const ORDERINGS: [&str; 3] = ["partition", "key", "unordered"];

/// The orderings' `max_in_flight` (records at once per partition).
pub const ORDERING_WINDOW: usize = 64;

/// The orderings' two handlers: one that awaits 5 ms (an I/O-bound service: records handled
/// per second, for `seconds`), and a no-op one (the ordering's own cost: CPU per record,
/// over the whole topic).
pub const ORDERING_HANDLERS: [(&str, u64); 2] = [("5 ms handler", 5), ("no-op handler", 0)];

/// Records the ordering topic holds (1,000 keys, 3 partitions), scaled by `BENCH_FILL_SCALE`.
pub const ORDERING_FILL: u64 = 1_000_000;

/// The retry topics' cost to the other records: the runner's latency on the retrying topic
/// at [`RETRYING_RATE`], with no record failing, and with one (the first measured) failing
/// every attempt (2 s and 5 s on retry topics, then the dead letter); recorded as client
/// `runner/<variant>`, workload [`RETRYING_LABEL`].
pub const RETRYING: [&str; 2] = ["retry-none", "retry-failing"];

/// The retrying latency's offered rate.
pub const RETRYING_RATE: u64 = 1_000;

/// The workload the retrying latency is recorded as.
pub const RETRYING_LABEL: &str = "1 KB JSON, retry topics";

/// The client a run of `ordering` is recorded as.
pub fn ordering_client(ordering: &str) -> String {
    format!("runner/{ordering}")
}

/// How much to measure (from `BENCH_*` variables, see the README).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub bootstrap: String,
    pub reps: usize,
    pub seconds: f64,
    pub latency_seconds: f64,
    pub latency_warmup: f64,
    pub rates: Vec<u64>,
    /// Which clients run (all by default).
    pub clients: Vec<String>,
    /// Fill counts are multiplied by this (a quick run reads less).
    pub fill_scale: f64,
    /// The Python interpreter of the virtualenv holding the Python clients.
    pub python: Option<String>,
    /// The Java client's classpath (`bench/java`, built by `scripts/bench.sh`).
    #[serde(default)]
    pub java_classpath: Option<String>,
}

/// One client run and what it measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub op: Op,
    pub workload: String,
    pub size: usize,
    pub rate: u64,
    pub client: String,
    pub rep: usize,
    pub messages: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_kb: u64,
    pub lost: u64,
    pub latency: Option<Percentiles>,
}

impl Run {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
    /// CPU µs per record.
    pub fn cpu_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.messages.max(1) as f64
    }
}

/// The Python clients' script.
fn python_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/clients.py")
}

/// Where the clients of the other languages are: the virtualenv's Python, the Java
/// client's classpath.
#[derive(Debug, Clone, Copy)]
pub struct Peers<'a> {
    pub python: Option<&'a str>,
    pub java_classpath: Option<&'a str>,
}

/// Writes the page cache's dirty pages out (`sync`): what the last client made the broker
/// write (gigabytes, for a producer at full speed) is otherwise flushed while the next one
/// runs, and slows it down.
fn write_back() {
    if let Err(e) = Command::new("sync").status() {
        eprintln!("bench: `sync` failed ({e}); the next client may share the disk with the last");
    }
}

/// Runs one client process, once the disk is quiet, and reads its outcome (the last line of
/// its output).
pub fn run_client(job: &Job, peers: Peers<'_>) -> Result<Outcome, BoxError> {
    write_back();
    let text = serde_json::to_string(job)?;
    let mut command = if is_java(&job.client) {
        let classpath = peers.java_classpath.ok_or_else(|| {
            format!(
                "client `{}` is the Java client: set BENCH_JAVA_CLASSPATH to bench/java's classpath (scripts/bench.sh does)",
                job.client
            )
        })?;
        let mut command = Command::new("java");
        command.args(["-cp", classpath, "dev.kafkautils.bench.Bench"]);
        command
    } else if is_python(&job.client) {
        let python = peers.python;
        let python = python.ok_or_else(|| {
            format!(
                "client `{}` is a Python client: set BENCH_PYTHON to the virtualenv's python (scripts/bench.sh does)",
                job.client
            )
        })?;
        let mut command = Command::new(python);
        command.arg(python_script());
        command
    } else {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("client");
        command
    };
    let mut child = command
        .arg(&text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting client `{}`: {e}", job.client))?;
    // Read while it runs: a latency run's samples fill more than a pipe holds.
    let mut stdout = child
        .stdout
        .take()
        .ok_or("the client's output is not piped")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let limit = Duration::from_secs_f64(job.seconds + job.warmup_seconds + 180.0);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            return Err(format!(
                "client `{}` ({:?}) ran over {limit:?}; stopped",
                job.client, job.op
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().map_err(|_| "the output reader panicked")??;
    if !status.success() {
        return Err(format!(
            "client `{}` ({:?}, {} B) failed: {status}",
            job.client, job.op, job.size
        )
        .into());
    }
    let last = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).map_err(|e| {
        format!(
            "client `{}` answered `{last:.200}`, not an outcome: {e}",
            job.client
        )
        .into()
    })
}

/// Deletes `topic` if it exists and creates it anew with 3 partitions; returns once its
/// partitions have leaders.
pub async fn recreate(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<(), BoxError> {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let _ = admin.delete_topics(&[topic], &options).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let new = NewTopic::new(topic, 3, TopicReplication::Fixed(1));
        match admin.create_topics([&new], &options).await?.remove(0) {
            Ok(_) => break,
            // Still being deleted.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err((_, code)) => {
                return Err(format!("could not recreate topic `{topic}`: {code}").into());
            }
        }
    }
    while Instant::now() < deadline {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(5))?;
        let ready = metadata.topics().iter().any(|t| {
            t.name() == topic
                && t.partitions().len() == 3
                && t.partitions().iter().all(|p| p.leader() >= 0)
        });
        if ready {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("topic `{topic}` has no leaders after 60 s").into())
}

/// The clients of `all` this configuration runs, in the order of repetition `rep`.
fn order<'a>(config: &Config, all: &[&'a str], rep: usize) -> Vec<&'a str> {
    let mut chosen: Vec<&str> = all
        .iter()
        .copied()
        .filter(|c| config.clients.iter().any(|k| k == c))
        .collect();
    if rep % 2 == 1 {
        chosen.reverse();
    }
    chosen
}

fn job(config: &Config, client: &str, op: Op, workload: &Workload) -> Job {
    Job {
        client: client.to_string(),
        op,
        bootstrap: config.bootstrap.clone(),
        topic: topic_for(workload.kind).to_string(),
        kind: workload.kind,
        size: workload.size,
        seconds: config.seconds,
        count: u64::MAX,
        group: String::new(),
        rate: 0,
        warmup_seconds: 0.0,
        ordering: String::new(),
        window: 0,
        handler_ms: 0,
        failing: false,
    }
}

fn record(
    op: Op,
    workload: &str,
    size: usize,
    rate: u64,
    client: &str,
    rep: usize,
    o: &Outcome,
) -> Run {
    let run = Run {
        op,
        workload: workload.to_string(),
        size,
        rate,
        client: client.to_string(),
        rep,
        messages: o.messages,
        seconds: o.seconds,
        cpu_seconds: o.cpu_seconds,
        peak_rss_kb: o.peak_rss_kb,
        lost: o.lost,
        latency: Percentiles::of(&o.latency_ns),
    };
    let latency = run
        .latency
        .map(|p| {
            format!(
                ", p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms, {} lost",
                p.p50_us / 1e3,
                p.p99_us / 1e3,
                p.p999_us / 1e3,
                o.lost
            )
        })
        .unwrap_or_default();
    eprintln!(
        "bench: {op:?} {workload} rep {rep} {client}: {} records in {:.2} s = {:.0}/s, {:.2} CPU µs/record, peak RSS {} MiB{latency}",
        run.messages,
        run.seconds,
        run.rate(),
        run.cpu_us(),
        run.peak_rss_kb / 1024,
    );
    run
}

/// Runs every measurement and returns the runs.
pub async fn run_all(config: &Config) -> Result<Vec<Run>, BoxError> {
    let settings = kafka_utils::settings::Settings::new(config.bootstrap.clone());
    let admin: AdminClient<DefaultClientContext> = settings.client_config()?.create()?;
    let python = Peers {
        python: config.python.as_deref(),
        java_classpath: config.java_classpath.as_deref(),
    };
    let pid = std::process::id();
    let mut runs = Vec::new();
    // One unrecorded produce per workload first: the broker's JIT warms up on it.
    for workload in &WORKLOADS {
        recreate(&admin, topic_for(workload.kind)).await?;
        run_client(&job(config, "raw", Op::Produce, workload), python)?;
    }
    for workload in &WORKLOADS {
        for rep in 0..config.reps {
            for client in order(config, &PRODUCERS, rep) {
                recreate(&admin, topic_for(workload.kind)).await?;
                let outcome = run_client(&job(config, client, Op::Produce, workload), python)?;
                runs.push(record(
                    Op::Produce,
                    workload.label,
                    workload.size,
                    0,
                    client,
                    rep,
                    &outcome,
                ));
            }
        }
    }
    for workload in &WORKLOADS {
        recreate(&admin, topic_for(workload.kind)).await?;
        let count = workload.fill_count(config.fill_scale);
        let fill = Job {
            op: Op::Fill,
            count,
            ..job(config, "raw", Op::Fill, workload)
        };
        run_client(&fill, python)?;
        eprintln!(
            "bench: {} filled with {count} records of {}",
            fill.topic, workload.label
        );
        for rep in 0..config.reps {
            for client in order(config, &CONSUMERS, rep) {
                let consume = Job {
                    count,
                    group: format!("bench-{pid}-{}-{rep}-{client}", workload.size),
                    ..job(config, client, Op::Consume, workload)
                };
                let outcome = run_client(&consume, python)?;
                runs.push(record(
                    Op::Consume,
                    workload.label,
                    workload.size,
                    0,
                    client,
                    rep,
                    &outcome,
                ));
            }
        }
        // Free the disk before the next workload.
        recreate(&admin, topic_for(workload.kind)).await?;
    }
    let json = WORKLOADS[1];
    for &rate in &config.rates {
        for rep in 0..config.reps {
            for client in order(config, &LATENCY, rep) {
                recreate(&admin, latency_topic()).await?;
                let timed = Job {
                    topic: latency_topic().to_string(),
                    rate,
                    seconds: config.latency_seconds,
                    warmup_seconds: config.latency_warmup,
                    group: format!("bench-{pid}-latency-{rate}-{rep}-{client}"),
                    ..job(config, client, Op::Latency, &json)
                };
                let outcome = run_client(&timed, python)?;
                runs.push(record(
                    Op::Latency,
                    json.label,
                    json.size,
                    rate,
                    client,
                    rep,
                    &outcome,
                ));
            }
        }
    }
    if config.clients.iter().any(|c| c == "runner") {
        orderings(config, &admin, python, &mut runs).await?;
        retrying(config, &admin, python, &mut runs).await?;
    }
    Ok(runs)
}

/// The orderings: the keyed topic filled once, then per repetition each ordering with each
/// handler, in a new group (the orderings in the listed order, then reversed).
async fn orderings(
    config: &Config,
    admin: &AdminClient<DefaultClientContext>,
    peers: Peers<'_>,
    runs: &mut Vec<Run>,
) -> Result<(), BoxError> {
    let topic = ordering_topic();
    recreate(admin, topic).await?;
    let count = ((ORDERING_FILL as f64 * config.fill_scale) as u64).max(1000);
    let base = Workload {
        label: "",
        kind: Kind::Bytes,
        size: 8,
        fill: ORDERING_FILL,
    };
    let fill = Job {
        topic: topic.to_string(),
        count,
        ..job(config, "typed", Op::FillKeyed, &base)
    };
    run_client(&fill, peers)?;
    eprintln!("bench: {topic} filled with {count} records over 1,000 keys");
    let pid = std::process::id();
    for rep in 0..config.reps {
        let mut chosen = ORDERINGS.to_vec();
        if rep % 2 == 1 {
            chosen.reverse();
        }
        for (label, handler_ms) in ORDERING_HANDLERS {
            for ordering in &chosen {
                let ordered = Job {
                    topic: topic.to_string(),
                    count,
                    group: format!("bench-{pid}-ordering-{handler_ms}-{rep}-{ordering}"),
                    ordering: ordering.to_string(),
                    window: ORDERING_WINDOW,
                    handler_ms,
                    ..job(config, "runner", Op::Ordered, &base)
                };
                let outcome = run_client(&ordered, peers)?;
                let client = ordering_client(ordering);
                runs.push(record(Op::Ordered, label, 8, 0, &client, rep, &outcome));
            }
        }
    }
    // Free the disk.
    recreate(admin, topic).await
}

/// The retrying latency: per repetition, no record failing and one failing (in the listed
/// order, then reversed), each on the retrying topic and its retry topics recreated.
async fn retrying(
    config: &Config,
    admin: &AdminClient<DefaultClientContext>,
    peers: Peers<'_>,
    runs: &mut Vec<Run>,
) -> Result<(), BoxError> {
    let json = WORKLOADS[1];
    let pid = std::process::id();
    for rep in 0..config.reps {
        let mut chosen = RETRYING.to_vec();
        if rep % 2 == 1 {
            chosen.reverse();
        }
        for variant in chosen {
            for topic in retrying_topics() {
                recreate(admin, topic).await?;
            }
            let timed = Job {
                topic: retrying_topic().to_string(),
                rate: RETRYING_RATE,
                seconds: config.latency_seconds,
                warmup_seconds: config.latency_warmup,
                group: format!("bench-{pid}-retrying-{rep}-{variant}"),
                failing: variant == "retry-failing",
                ..job(config, "runner", Op::Latency, &json)
            };
            let outcome = run_client(&timed, peers)?;
            let client = format!("runner/{variant}");
            runs.push(record(
                Op::Latency,
                RETRYING_LABEL,
                json.size,
                RETRYING_RATE,
                &client,
                rep,
                &outcome,
            ));
        }
    }
    // Free the disk.
    for topic in retrying_topics() {
        recreate(admin, topic).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetitions_alternate_the_order_of_the_chosen_clients() {
        let config = Config {
            bootstrap: String::new(),
            reps: 2,
            seconds: 1.0,
            latency_seconds: 1.0,
            latency_warmup: 1.0,
            rates: vec![1000],
            clients: vec!["typed".into(), "raw".into(), "faststream".into()],
            fill_scale: 1.0,
            python: None,
            java_classpath: None,
        };
        assert_eq!(
            order(&config, &PRODUCERS, 0),
            ["raw", "typed", "faststream"]
        );
        assert_eq!(
            order(&config, &PRODUCERS, 1),
            ["faststream", "typed", "raw"]
        );
        assert_eq!(order(&config, &LATENCY, 0), ["raw", "faststream"]);
    }
}
