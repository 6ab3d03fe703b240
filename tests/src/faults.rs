//! Fault-test support: the three-broker cluster of `broker/cluster.sh` (started by the test,
//! stopped when dropped), and the checker that counts lost, duplicated and reordered
//! messages, each message carrying (producer, sequence).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Message as _, Offset, TopicPartitionList};

/// How much longer than the CI default the fault tests run (`KAFKA_FAULT_SCALE`, default 1):
/// `KAFKA_FAULT_SCALE=10` is the longer mode run by hand.
pub fn scale() -> u32 {
    std::env::var("KAFKA_FAULT_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s >= 1)
        .unwrap_or(1)
}

/// The three-node cluster, stopped (every node, by pid) when dropped.
#[derive(Debug)]
pub struct FaultCluster {
    state: PathBuf,
    /// `host:port` of the three nodes' PLAINTEXT listeners.
    pub bootstrap: String,
    /// `host:port` of their SASL_PLAINTEXT listeners (SCRAM-SHA-512; users `admin` and
    /// `alice`, password `<name>-secret`).
    pub sasl_bootstrap: String,
}

impl FaultCluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../broker/cluster.sh")
    }

    fn run(&self, args: &[&str]) {
        let status = Command::new("bash")
            .arg(Self::script())
            .args(args)
            .env("KAFKA_TEST_CLUSTER_STATE_DIR", &self.state)
            .status()
            .expect("bash runs broker/cluster.sh");
        assert!(status.success(), "broker/cluster.sh {args:?} failed");
    }

    /// Starts the cluster (state under `state_dir`) and waits until all three brokers are
    /// in the metadata.
    pub fn start(state_dir: &Path) -> Self {
        let mut cluster = FaultCluster {
            state: state_dir.to_path_buf(),
            bootstrap: String::new(),
            sasl_bootstrap: String::new(),
        };
        cluster.run(&["start"]);
        let env = std::fs::read_to_string(state_dir.join("env")).expect("the cluster's env file");
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} in the env file"))
                .to_string()
        };
        cluster.bootstrap = var("KAFKA_TEST_CLUSTER_BOOTSTRAP");
        cluster.sasl_bootstrap = var("KAFKA_TEST_CLUSTER_SASL_BOOTSTRAP");
        cluster.wait_for_brokers(3, Duration::from_secs(90));
        cluster
    }

    /// kill -9 node `n` (1..=3).
    pub fn kill(&self, n: u32) {
        self.run(&["kill", &n.to_string()]);
    }

    /// Starts node `n` again on its data.
    pub fn start_node(&self, n: u32) {
        self.run(&["start-node", &n.to_string()]);
    }

    /// Stops node `n` gracefully (SIGTERM), as a rolling restart does.
    pub fn stop_node(&self, n: u32) {
        self.run(&["stop-node", &n.to_string()]);
    }

    /// A client config for the cluster.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// kafka-utils settings for the cluster.
    pub fn settings(&self) -> kafka_utils::settings::Settings {
        kafka_utils::settings::Settings::new(&self.bootstrap)
    }

    /// kafka-utils settings that log in to the SASL listeners as `alice` (SCRAM-SHA-512).
    pub fn sasl_settings(&self) -> kafka_utils::settings::Settings {
        kafka_utils::settings::Settings::new(&self.sasl_bootstrap).with_sasl(
            kafka_utils::settings::SaslMechanism::ScramSha512,
            "alice",
            "alice-secret",
            false,
        )
    }

    /// Waits until the metadata lists `count` brokers.
    pub fn wait_for_brokers(&self, count: usize, timeout: Duration) {
        let client: BaseConsumer = self.config().create().expect("a metadata client");
        let deadline = Instant::now() + timeout;
        loop {
            let seen = client
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|m| m.brokers().len())
                .unwrap_or(0);
            if seen == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster shows {seen} brokers, not {count}, after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until all 3 brokers are up and every partition of `topic` has all 3 replicas
    /// in sync.
    pub fn wait_for_full_isr(&self, topic: &str, timeout: Duration) {
        wait_for_full_isr(&self.bootstrap, topic, timeout);
    }

    /// Creates `topic` with `partitions`, replication factor 3, `min.insync.replicas=2`.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.config().create().expect("admin");
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(3))
            .set("min.insync.replicas", "2");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin.create_topics([&new], &options).await.expect("create");
        for result in results {
            result.unwrap_or_else(|(t, e)| panic!("creating `{t}`: {e}"));
        }
        self.wait_for_full_isr(topic, Duration::from_secs(60));
    }

    /// Every record of `topic`, per partition in offset order: its key and payload.
    pub fn read_all(&self, topic: &str) -> BTreeMap<i32, Vec<(i64, Vec<u8>)>> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", "fault-checker")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a reader");
        let metadata = retrying("metadata", || {
            consumer.fetch_metadata(Some(topic), Duration::from_secs(10))
        });
        let partitions: Vec<i32> = metadata.topics()[0]
            .partitions()
            .iter()
            .map(|p| p.id())
            .collect();
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            let (_, high) = retrying("watermarks", || {
                consumer.fetch_watermarks(topic, *p, Duration::from_secs(10))
            });
            ends.insert(*p, high);
            assignment
                .add_partition_offset(topic, *p, Offset::Beginning)
                .expect("assignment");
        }
        consumer.assign(&assignment).expect("assign");
        let mut records: BTreeMap<i32, Vec<(i64, Vec<u8>)>> =
            partitions.iter().map(|p| (*p, Vec::new())).collect();
        let total: i64 = ends.values().sum();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut read = 0i64;
        while read < total && Instant::now() < deadline {
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            // Right after a node came back, librdkafka reports transport failures on the way
            // (and retries): what counts is that every record is read by the deadline.
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("reading `{topic}`: {e}; librdkafka retries");
                    continue;
                }
            };
            if message.offset() < ends[&message.partition()] {
                records.entry(message.partition()).or_default().push((
                    message.offset(),
                    message.payload().unwrap_or_default().to_vec(),
                ));
                read += 1;
            }
        }
        assert_eq!(read, total, "read back the whole of `{topic}`");
        records
    }
}

impl Drop for FaultCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .env("KAFKA_TEST_CLUSTER_STATE_DIR", &self.state)
            .status();
    }
}

/// Calls `fetch` until it succeeds, for up to 60 s: right after a node comes back,
/// librdkafka can still answer from a broker handle it is replacing (`DestroyBroker`) or
/// from a leader that moved.
fn retrying<T>(what: &str, mut fetch: impl FnMut() -> rdkafka::error::KafkaResult<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match fetch() {
            Ok(value) => return value,
            Err(e) if Instant::now() < deadline => {
                eprintln!("{what}: {e}; trying again");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("{what}: {e}, still after 60 s"),
        }
    }
}

/// Waits until the cluster at `bootstrap` shows 3 brokers and every partition of `topic`
/// has all 3 replicas in sync (a free function, for `spawn_blocking`).
pub fn wait_for_full_isr(bootstrap: &str, topic: &str, timeout: Duration) {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("a metadata client");
    let deadline = Instant::now() + timeout;
    loop {
        let synced = client
            .fetch_metadata(Some(topic), Duration::from_secs(2))
            .ok()
            .is_some_and(|m| {
                m.brokers().len() == 3
                    && m.topics()
                        .first()
                        .is_some_and(|t| t.partitions().iter().all(|p| p.isr().len() == 3))
            });
        if synced {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{topic}` not fully in sync after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What the checker counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Acknowledged (or, for consumers, produced) and never seen.
    pub lost: usize,
    /// Seen more than once.
    pub duplicated: usize,
    /// Seen after a later sequence of the same producer.
    pub reordered: usize,
}

/// Counts lost, duplicated and reordered messages: `expected` is every (producer, sequence)
/// that must be seen; `seen` is what was, in the order seen per producer.
pub fn check(expected: &BTreeSet<(u32, u64)>, seen: &[(u32, u64)]) -> Counts {
    let mut counts = Counts::default();
    let mut times: HashMap<(u32, u64), usize> = HashMap::new();
    let mut last: HashMap<u32, u64> = HashMap::new();
    for &(producer, seq) in seen {
        *times.entry((producer, seq)).or_default() += 1;
        if last
            .insert(producer, seq)
            .is_some_and(|before| before > seq)
        {
            counts.reordered += 1;
        }
    }
    counts.duplicated = times.values().map(|n| n - 1).sum();
    counts.lost = expected.iter().filter(|m| !times.contains_key(m)).count();
    counts
}

/// Records handled out of their key's order: each message is (key, sequence), and a key's
/// sequences must be handled the first time in order. A record handled again after a crash
/// or a rebalance (a duplicate, counted by [`check`]) is not out of order.
pub fn key_order_violations(seen: &[(u32, u64)]) -> usize {
    let mut handled: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut newest: HashMap<u32, u64> = HashMap::new();
    let mut violations = 0;
    for &(key, seq) in seen {
        if !handled.insert((key, seq)) {
            continue;
        }
        match newest.get(&key) {
            Some(&before) if before > seq => violations += 1,
            _ => {
                newest.insert(key, seq);
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_counts_first_handlings_out_of_order_only() {
        // Key 1: 0, 1, then 0 again (a repeat), 2; key 2: 1 before 0 (out of order).
        let seen = [(1, 0), (1, 1), (1, 0), (2, 1), (1, 2), (2, 0)];
        assert_eq!(key_order_violations(&seen), 1);
        assert_eq!(key_order_violations(&[(1, 0), (2, 0), (1, 1), (2, 1)]), 0);
    }

    #[test]
    fn the_checker_counts_each_kind() {
        let expected: BTreeSet<(u32, u64)> = [(0, 0), (0, 1), (0, 2), (1, 0)].into();
        let seen = [(0, 0), (0, 2), (0, 1), (0, 2), (7, 7)];
        assert_eq!(
            check(&expected, &seen),
            Counts {
                lost: 1,
                duplicated: 1,
                reordered: 1
            }
        );
        assert_eq!(
            check(&expected, &[(0, 0), (0, 1), (0, 2), (1, 0)]),
            Counts::default()
        );
    }
}
