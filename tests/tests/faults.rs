//! Faults on a three-broker cluster (`broker/cluster.sh`, replication factor 3,
//! `min.insync.replicas=2`), the way Kafka's own system tests do it: bounce the processes,
//! then count what was lost, duplicated and reordered. Each message carries (producer,
//! sequence). Bounded in count and time; `KAFKA_FAULT_SCALE=10` runs longer, by hand.
//!
//! 1. Brokers killed with SIGKILL and restarted, several times, while two idempotent
//!    `acks=all` producers write: every acknowledged message is in the log exactly once,
//!    in order per key; every other one returned an error.
//! 2. A rebalance under load: a second app joins the group, then leaves: every message is
//!    handled, no gaps, and what repeats is at most what was in the handlers at the revokes.
//! 3. An app killed with SIGKILL inside its handler, then restarted: every message is
//!    handled at least once; what is handled twice comes after the last commit.
//! 4. A rolling restart (each broker stopped with SIGTERM and started again, in turn) while
//!    two idempotent producers log in over SASL (SCRAM-SHA-512): every acknowledged message
//!    is in the log exactly once, and the producers still work afterwards (a broker that
//!    refuses a login while it starts does not end them).
//! 5. An app handling by key ([`Ordering::Key`], a window of 64 per partition) under load
//!    while a second such app joins and leaves and a broker is killed and restarted: every
//!    message is handled, each key's in order, and what repeats is at most the windows.
//! 6. Scenario 3 with an app handling by key: killed inside its handlers and restarted,
//!    nothing is lost, each key's records are first handled in order, nothing before the
//!    last commit repeats, and what repeats is at most the windows (the app commits what it
//!    finished soon, not only every `auto.commit.interval.ms`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_utils::access::DeadLetterFor;
use kafka_utils::app::{App, Context, Ordering};
use kafka_utils::prelude::*;
use kafka_utils::producer::{Producer, Record};
use kafka_utils_tests::faults::{self, Counts, FaultCluster};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg {
    pub producer: u32,
    pub seq: u64,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "faults.produce", message = Msg, key = u32, partitions = 3)]
    Produce,
    #[topic(name = "faults.rebalance", message = Msg, key = u32, partitions = 6)]
    Rebalance,
    #[topic(name = "faults.killed", message = Msg, key = u32, partitions = 3)]
    Killed,
    #[topic(name = "faults.rolling", message = Msg, key = u32, partitions = 3)]
    Rolling,
    /// Messages keyed by `Msg::producer` (a key here), handled by key.
    #[topic(name = "faults.keyed", message = Msg, key = u32, partitions = 3)]
    Keyed,
    #[topic(name = "faults.killed.keyed", message = Msg, key = u32, partitions = 3)]
    KilledKeyed,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "faults", groups = ["faults-rebalance", "faults-killed", "faults-keyed", "faults-killed-keyed"])]
    Service,
}

permissions! {
    Users::Service => {
        Topics::Produce => [Write],
        Topics::Rebalance => [Read, Write, AutoCommitOffset],
        Topics::Killed => [Read, Write, AutoCommitOffset],
        Topics::Rolling => [Write],
        Topics::Keyed => [Read, Write, AutoCommitOffset],
        Topics::KilledKeyed => [Read, Write, AutoCommitOffset],
    },
}

fn report(scenario: &str, counts: Counts, detail: &str) {
    println!(
        "checker [{scenario}]: lost {}, duplicated {}, reordered {} ({detail})",
        counts.lost, counts.duplicated, counts.reordered
    );
}

/// Writes `per_producer` messages from each of `producers` producers with `settings`, paced
/// over about `seconds`, then one more each once that is over; returns the acknowledged and
/// the failed (producer, seq).
async fn produce_paced<T>(
    settings: kafka_utils::settings::Settings,
    topic: T,
    producers: u32,
    per_producer: u64,
    seconds: u64,
) -> (BTreeSet<(u32, u64)>, BTreeSet<(u32, u64)>)
where
    T: WritableBy<users::Service, Message = Msg, Key = u32>,
{
    let settings = settings.with_client_property("message.timeout.ms", "60000");
    let batch = 50u64;
    let pause = Duration::from_millis(seconds * 1000 * batch / per_producer.max(1));
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let producer_handle = Producer::<users::Service>::new(&settings).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut pending = FuturesUnordered::new();
            let (mut acked, mut failed) = (BTreeSet::new(), BTreeSet::new());
            for seq in 0..per_producer {
                let msg = Msg { producer, seq };
                let record = Record::new(&msg).key(&producer);
                match producer_handle.send_record(topic, record).await {
                    Ok(delivery) => pending.push(async move { (seq, delivery.await) }),
                    Err(_) => {
                        failed.insert((producer, seq));
                    }
                }
                if seq % batch == batch - 1 {
                    tokio::time::sleep(pause).await;
                }
            }
            while let Some((seq, outcome)) = pending.next().await {
                match outcome {
                    Ok(_) => acked.insert((producer, seq)),
                    Err(_) => failed.insert((producer, seq)),
                };
            }
            // Still working after whatever happened meanwhile: one more, acknowledged.
            let last = Msg {
                producer,
                seq: per_producer,
            };
            producer_handle
                .send_record(topic, Record::new(&last).key(&producer))
                .await
                .expect("the producer still takes records")
                .await
                .expect("the producer still delivers");
            acked.insert((producer, per_producer));
            producer_handle.close().await.unwrap();
            (acked, failed)
        }));
    }
    let (mut acked, mut failed) = (BTreeSet::new(), BTreeSet::new());
    for task in tasks {
        let (a, f) = task.await.unwrap();
        acked.extend(a);
        failed.extend(f);
    }
    (acked, failed)
}

/// Writes `per_key` messages for each of `keys` keys (`Msg { producer: key, seq }`), sequence
/// by sequence, from one idempotent producer, paced over about `seconds`; returns the
/// acknowledged and the failed (key, seq).
async fn produce_keyed<T>(
    settings: kafka_utils::settings::Settings,
    topic: T,
    keys: u32,
    per_key: u64,
    seconds: u64,
) -> (BTreeSet<(u32, u64)>, BTreeSet<(u32, u64)>)
where
    T: WritableBy<users::Service, Message = Msg, Key = u32>,
{
    let settings = settings.with_client_property("message.timeout.ms", "60000");
    let producer = Producer::<users::Service>::new(&settings).unwrap();
    let pause = Duration::from_millis(seconds * 1000 / per_key.max(1));
    let mut pending = FuturesUnordered::new();
    let (mut acked, mut failed) = (BTreeSet::new(), BTreeSet::new());
    for seq in 0..per_key {
        for key in 0..keys {
            let msg = Msg { producer: key, seq };
            match producer
                .send_record(topic, Record::new(&msg).key(&key))
                .await
            {
                Ok(delivery) => pending.push(async move { ((key, seq), delivery.await) }),
                Err(_) => {
                    failed.insert((key, seq));
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
    while let Some((sent, outcome)) = pending.next().await {
        match outcome {
            Ok(_) => acked.insert(sent),
            Err(_) => failed.insert(sent),
        };
    }
    producer.close().await.unwrap();
    (acked, failed)
}

/// Every message of `topic`, per partition in offset order.
fn log_of(cluster: &FaultCluster, topic: &str) -> Vec<(u32, u64)> {
    cluster
        .read_all(topic)
        .into_values()
        .flatten()
        .map(|(_, payload)| {
            let msg: Msg = serde_json::from_slice(&payload).expect("a Msg");
            (msg.producer, msg.seq)
        })
        .collect()
}

/// Scenario 1: SIGKILL a broker while producing, restart it, several times.
async fn producers_survive_broker_kills(cluster: &FaultCluster) {
    let scale = faults::scale();
    let topic = "faults.produce";
    cluster.create_topic(topic, 3).await;
    let (producers, per_producer, seconds) = (2, 4_000 * u64::from(scale), 12 * u64::from(scale));
    let bounces = 3 * scale;
    let started = Instant::now();
    let production = produce_paced(
        cluster.settings(),
        topics::Produce,
        producers,
        per_producer,
        seconds,
    );
    let bouncing = async {
        for bounce in 0..bounces {
            let node = bounce % 3 + 1;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            cluster.kill(node);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            cluster.start_node(node);
            let synced = tokio::task::spawn_blocking({
                let bootstrap = cluster.bootstrap.clone();
                move || {
                    faults::wait_for_full_isr(&bootstrap, "faults.produce", Duration::from_secs(60))
                }
            });
            synced.await.unwrap();
            println!(
                "bounce {} of {bounces}: node {node} killed and back in sync",
                bounce + 1
            );
        }
    };
    let ((acked, failed), ()) = tokio::join!(production, bouncing);
    // And one more each once it was over.
    let sent = producers as usize * (per_producer as usize + 1);
    assert_eq!(acked.len() + failed.len(), sent, "every send was answered");
    let log = log_of(cluster, topic);
    let counts = faults::check(&acked, &log);
    let unacked_in_log = log.iter().filter(|m| failed.contains(m)).count();
    report(
        "broker kills",
        counts,
        &format!(
            "{sent} sent, {} acknowledged, {} failed ({unacked_in_log} of them written anyway), {bounces} kill -9 bounces, {:?}",
            acked.len(),
            failed.len(),
            started.elapsed()
        ),
    );
    assert_eq!(counts, Counts::default());
}

/// How many handlers run at once, and the most that ever did.
#[derive(Default)]
struct InHandlers {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl InHandlers {
    fn enter(&self) {
        use std::sync::atomic::Ordering::AcqRel;
        let now = self.now.fetch_add(1, AcqRel) + 1;
        self.most.fetch_max(now, AcqRel);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
    fn most(&self) -> usize {
        self.most.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Completes once `handled` holds `expected` different messages; fails the test after
/// `within`.
async fn all_handled(handled: Arc<Mutex<Vec<(u32, u64)>>>, expected: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let unique: BTreeSet<(u32, u64)> = handled.lock().unwrap().iter().copied().collect();
        if unique.len() >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {expected} handled",
            unique.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An app that logs (producer, seq) as it handles `topic`, in group `group`, each handler
/// waiting `wait` (a call to a database, say).
fn logging_app<T>(
    cluster: &FaultCluster,
    (topic, group): (T, &str),
    wait: Duration,
    log: Arc<Mutex<Vec<(u32, u64)>>>,
    in_handlers: Arc<InHandlers>,
) -> App<users::Service>
where
    T: ReadableBy<users::Service, Message = Msg> + CommittableBy<users::Service>,
    T::DeadLetter: DeadLetterFor<users::Service>,
{
    App::<users::Service>::new(&cluster.settings())
        .unwrap()
        .group(group)
        .handle(topic, move |msg: Msg, _: Context<_>| {
            let (log, in_handlers) = (Arc::clone(&log), Arc::clone(&in_handlers));
            async move {
                in_handlers.enter();
                tokio::time::sleep(wait).await;
                log.lock().unwrap().push((msg.producer, msg.seq));
                in_handlers.leave();
                Ok::<(), String>(())
            }
        })
}

/// Scenario 2: a second app joins the group under load, then leaves.
async fn a_rebalance_under_load_leaves_no_gap(cluster: &FaultCluster) {
    let scale = u64::from(faults::scale());
    cluster.create_topic("faults.rebalance", 6).await;
    let (producers, per_producer, seconds) = (3, 1_500 * scale, 9 * scale);
    let handled: Arc<Mutex<Vec<(u32, u64)>>> = Arc::default();
    let (in_first, in_second) = (Arc::<InHandlers>::default(), Arc::<InHandlers>::default());
    let first = logging_app(
        cluster,
        (topics::Rebalance, "faults-rebalance"),
        Duration::from_micros(200),
        Arc::clone(&handled),
        Arc::clone(&in_first),
    );
    let second = logging_app(
        cluster,
        (topics::Rebalance, "faults-rebalance"),
        Duration::from_micros(200),
        Arc::clone(&handled),
        Arc::clone(&in_second),
    );
    let (joined, leave) = (
        Duration::from_secs(3 * scale),
        Duration::from_secs(6 * scale),
    );
    let produced = produce_paced(
        cluster.settings(),
        topics::Rebalance,
        producers,
        per_producer,
        seconds,
    );
    let expected_total = (producers as u64 * (per_producer + 1)) as usize;
    let all_handled = all_handled(
        Arc::clone(&handled),
        expected_total,
        Duration::from_secs(60 + seconds * 2),
    );
    let first_run = first.run_until(all_handled);
    let second_run = async {
        tokio::time::sleep(joined).await;
        println!("second app joins");
        second.run_until(tokio::time::sleep(leave - joined)).await?;
        println!("second app left");
        Ok::<(), kafka_utils::Error>(())
    };
    let ((acked, failed), first_result, second_result) =
        tokio::join!(produced, first_run, second_run);
    first_result.unwrap();
    second_result.unwrap();
    assert!(failed.is_empty(), "{} sends failed", failed.len());
    let handled = handled.lock().unwrap().clone();
    let counts = faults::check(&acked, &handled);
    // Two revokes: the first app's when the second joins, the second's when it leaves. A
    // revoke lets the records in hand finish, stores and commits them before it completes,
    // and hands out nothing more of the revoked partitions: what repeats is at most what was
    // in the revoked app's handlers then.
    let bound = in_first.most() + in_second.most();
    report(
        "rebalance",
        counts,
        &format!(
            "{} produced, {} handlings; at most {} and {} records in the apps' handlers at once, \
             so at most {bound} may repeat",
            acked.len(),
            handled.len(),
            in_first.most(),
            in_second.most()
        ),
    );
    assert_eq!(counts.lost, 0);
    assert!(
        counts.duplicated <= bound,
        "{} duplicated, more than the {bound} in handlers at the revokes",
        counts.duplicated
    );
}

/// Scenario 5: apps handling by key, one joining and leaving, a broker killed meanwhile.
async fn key_ordered_apps_through_a_rebalance_and_a_broker_kill(cluster: &FaultCluster) {
    let scale = u64::from(faults::scale());
    cluster.create_topic("faults.keyed", 3).await;
    let window = 64;
    let (keys, per_key, seconds) = (60, 50 * scale, 9 * scale);
    let handled: Arc<Mutex<Vec<(u32, u64)>>> = Arc::default();
    let (in_first, in_second) = (Arc::<InHandlers>::default(), Arc::<InHandlers>::default());
    let app = |in_handlers: &Arc<InHandlers>| {
        logging_app(
            cluster,
            (topics::Keyed, "faults-keyed"),
            Duration::from_millis(2),
            Arc::clone(&handled),
            Arc::clone(in_handlers),
        )
        .ordering(Ordering::Key)
        .max_in_flight(window)
    };
    let (first, second) = (app(&in_first), app(&in_second));
    let produced = produce_keyed(cluster.settings(), topics::Keyed, keys, per_key, seconds);
    let expected_total = (u64::from(keys) * per_key) as usize;
    let all_handled = all_handled(
        Arc::clone(&handled),
        expected_total,
        Duration::from_secs(90 + seconds * 2),
    );
    let first_run = first.run_until(all_handled);
    let second_run = async {
        tokio::time::sleep(Duration::from_secs(2 * scale)).await;
        println!("second key-ordered app joins");
        second
            .run_until(tokio::time::sleep(Duration::from_secs(4 * scale)))
            .await?;
        println!("second key-ordered app left");
        Ok::<(), kafka_utils::Error>(())
    };
    // After the second app left: a rebalance and a broker's return are each their own event.
    let bounce = async {
        tokio::time::sleep(Duration::from_secs(7 * scale)).await;
        cluster.kill(2);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cluster.start_node(2);
        let synced = tokio::task::spawn_blocking({
            let bootstrap = cluster.bootstrap.clone();
            move || faults::wait_for_full_isr(&bootstrap, "faults.keyed", Duration::from_secs(90))
        });
        synced.await.unwrap();
        println!("node 2 killed under the key-ordered apps and back in sync");
    };
    let ((acked, failed), first_result, second_result, ()) =
        tokio::join!(produced, first_run, second_run, bounce);
    first_result.unwrap();
    second_result.unwrap();
    assert!(failed.is_empty(), "{} sends failed", failed.len());
    let handled = handled.lock().unwrap().clone();
    let counts = faults::check(&acked, &handled);
    let key_order = faults::key_order_violations(&handled);
    // Two revokes (the second app joining, then leaving): each waits for the handlers
    // running, so what repeats is at most the handlers a revoke gave up on; and never more
    // than the windows of the partitions revoked.
    let bound = (in_first.most() + in_second.most()).min(2 * 3 * window);
    report(
        "key ordering: rebalance and broker kill",
        counts,
        &format!(
            "{} produced over {keys} keys, {} handlings; {key_order} handled out of their key's \
             order; at most {} and {} handlers at once in the apps (window {window} per \
             partition), so at most {bound} may repeat",
            acked.len(),
            handled.len(),
            in_first.most(),
            in_second.most()
        ),
    );
    assert_eq!(counts.lost, 0);
    assert_eq!(key_order, 0, "records handled out of their key's order");
    assert!(
        counts.duplicated <= bound,
        "{} duplicated, more than the {bound} in handlers at the revokes",
        counts.duplicated
    );
}

#[tokio::test]
async fn faults_on_a_three_broker_cluster() {
    let state = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-cluster");
    let cluster = tokio::task::spawn_blocking(move || FaultCluster::start(&state))
        .await
        .unwrap();
    producers_survive_broker_kills(&cluster).await;
    a_rebalance_under_load_leaves_no_gap(&cluster).await;
    an_app_killed_in_its_handler_repeats_only_what_followed_its_commit(
        &cluster,
        Ordering::Partition,
    )
    .await;
    producers_over_sasl_survive_a_rolling_restart(&cluster).await;
    key_ordered_apps_through_a_rebalance_and_a_broker_kill(&cluster).await;
    an_app_killed_in_its_handler_repeats_only_what_followed_its_commit(&cluster, Ordering::Key)
        .await;
}

/// Scenario 4: a rolling restart of every broker while idempotent producers log in over SASL.
async fn producers_over_sasl_survive_a_rolling_restart(cluster: &FaultCluster) {
    let scale = faults::scale();
    let topic = "faults.rolling";
    cluster.create_topic(topic, 3).await;
    let (producers, per_producer, seconds) = (2, 3_000 * u64::from(scale), 25 * u64::from(scale));
    let started = Instant::now();
    let production = produce_paced(
        cluster.sasl_settings(),
        topics::Rolling,
        producers,
        per_producer,
        seconds,
    );
    let rolling = async {
        for round in 0..scale {
            for node in 1..=3 {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                cluster.stop_node(node);
                cluster.start_node(node);
                let synced = tokio::task::spawn_blocking({
                    let bootstrap = cluster.bootstrap.clone();
                    move || {
                        faults::wait_for_full_isr(
                            &bootstrap,
                            "faults.rolling",
                            Duration::from_secs(90),
                        )
                    }
                });
                synced.await.unwrap();
                println!(
                    "rolling restart {}: node {node} restarted and back in sync",
                    round + 1
                );
            }
        }
    };
    let ((acked, failed), ()) = tokio::join!(production, rolling);
    let log = log_of(cluster, topic);
    let counts = faults::check(&acked, &log);
    let unacked_in_log = log.iter().filter(|m| failed.contains(m)).count();
    report(
        "rolling restart over SASL",
        counts,
        &format!(
            "{} acknowledged, {} failed ({unacked_in_log} of them written anyway), every \
             producer delivered again afterwards, {:?}",
            acked.len(),
            failed.len(),
            started.elapsed()
        ),
    );
    assert_eq!(counts, Counts::default());
    assert!(failed.is_empty(), "{} sends failed", failed.len());
}

/// Scenario 3 (and 6, handled by key): the app's process is killed (SIGKILL) while its
/// handlers run, and restarted.
async fn an_app_killed_in_its_handler_repeats_only_what_followed_its_commit(
    cluster: &FaultCluster,
    ordering: Ordering,
) {
    let scale = u64::from(faults::scale());
    let keyed = ordering == Ordering::Key;
    let (topic, group) = if keyed {
        ("faults.killed.keyed", "faults-killed-keyed")
    } else {
        ("faults.killed", "faults-killed")
    };
    cluster.create_topic(topic, 3).await;
    let (acked, failed) = if keyed {
        produce_keyed(cluster.settings(), topics::KilledKeyed, 40, 75 * scale, 1).await
    } else {
        produce_paced(cluster.settings(), topics::Killed, 3, 1_000 * scale, 1).await
    };
    assert!(failed.is_empty());
    let kill_after = acked.len() / 3;
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_app", "--nocapture", "--test-threads=1"])
            .env("KU_FAULT_BOOTSTRAP", &cluster.bootstrap)
            .env("KU_FAULT_ORDERING", ordering.name())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // The first process: killed once it has handled a third.
    let (first, mut child) = read_handled(spawn(), Some(kill_after)).await;
    child.kill().unwrap(); // SIGKILL, inside a handler (each sleeps)
    child.wait().unwrap();
    let committed: Vec<Option<i64>> = (0..3)
        .map(|p| kafka_utils_tests::committed_offset(cluster.config(), group, topic, p))
        .collect();
    // The second process: runs until everything is handled.
    let (second, mut child) = read_handled(spawn(), None).await;
    let _ = child.kill();
    child.wait().unwrap();

    let seen: Vec<(u32, u64)> = first.iter().chain(&second).map(|h| (h.0, h.1)).collect();
    let counts = faults::check(&acked, &seen);
    // A repeat is fine only for a record at or after its partition's last commit.
    let first_set: BTreeSet<(i32, i64)> = first.iter().map(|h| (h.2, h.3)).collect();
    let early_repeats = second
        .iter()
        .filter(|h| first_set.contains(&(h.2, h.3)))
        .filter(|h| committed[h.2 as usize].is_some_and(|c| h.3 < c))
        .count();
    // The repeats after the commit, split: those inside the partition's finished prefix at the
    // kill (stored, or about to be, and not yet committed: the commit's lag) and those
    // past its first unfinished record (never stored: what a window lets finish ahead).
    let (lagged, ahead) = split_repeats(&first_set, &second, &committed);
    // Each key's records handled the first time in order (a key is `Msg::producer`).
    let key_order = faults::key_order_violations(&seen);
    report(
        &format!("app killed, ordering {ordering}"),
        counts,
        &format!(
            "{} produced; {} handled before the kill, {} after; committed at the kill {committed:?}; {early_repeats} repeated before the commit; of the repeats after it, {lagged} inside the finished prefix (not yet committed) and {ahead} past an unfinished record (per partition at most the window); {key_order} handled out of their key's order",
            acked.len(),
            first.len(),
            second.len()
        ),
    );
    assert_eq!((counts.lost, early_repeats), (0, 0));
    assert!(
        committed.iter().any(Option::is_some),
        "nothing was committed before the kill: the scenario checked no commit"
    );
    if keyed {
        assert_eq!(key_order, 0, "records handled out of their key's order");
        // What repeats is at most the windows (64 per partition, the default).
        assert!(
            counts.duplicated <= 3 * 64,
            "{} repeated, more than the windows (3 x 64)",
            counts.duplicated
        );
    }
}

/// The repeats (records of `second` also handled before the kill, `first`) at or after their
/// partition's commit, counted in two: inside the partition's contiguous run of records
/// handled before the kill from the commit on, and past its first record not handled then.
fn split_repeats(
    first: &BTreeSet<(i32, i64)>,
    second: &[(u32, u64, i32, i64)],
    committed: &[Option<i64>],
) -> (usize, usize) {
    let prefix_end = |partition: i32| {
        let mut offset = committed[partition as usize].unwrap_or(0);
        while first.contains(&(partition, offset)) {
            offset += 1;
        }
        offset
    };
    let ends: Vec<i64> = (0..committed.len() as i32).map(prefix_end).collect();
    let repeats = second.iter().filter(|h| first.contains(&(h.2, h.3)));
    let repeats = repeats.filter(|h| committed[h.2 as usize].is_none_or(|c| h.3 >= c));
    repeats.fold((0, 0), |(lagged, ahead), h| {
        if h.3 < ends[h.2 as usize] {
            (lagged + 1, ahead)
        } else {
            (lagged, ahead + 1)
        }
    })
}

/// (producer, seq, partition, offset) as the child printed them, until `stop_after` lines
/// (or until it printed `done`).
async fn read_handled(
    mut child: std::process::Child,
    stop_after: Option<usize>,
) -> (Vec<(u32, u64, i32, i64)>, std::process::Child) {
    let stdout = child.stdout.take().unwrap();
    let reading = tokio::task::spawn_blocking(move || {
        let mut handled = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.contains("child done") {
                break;
            }
            if let Some((_, rest)) = line.split_once("handled ") {
                let f: Vec<&str> = rest.split(' ').collect();
                handled.push((
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                ));
                if stop_after.is_some_and(|n| handled.len() >= n) {
                    break;
                }
            }
        }
        (handled, child)
    });
    tokio::time::timeout(Duration::from_secs(180), reading)
        .await
        .expect("the child handled records in time")
        .unwrap()
}

/// The killed app's process: handles `faults.killed` in group `faults-killed`, printing
/// each record as it finishes, until nothing new came for 5 s.
#[tokio::test]
async fn child_app() {
    let Ok(bootstrap) = std::env::var("KU_FAULT_BOOTSTRAP") else {
        return; // only as the fault test's child
    };
    // When the last record was handled (none yet: `None`).
    let last: Arc<Mutex<Option<Instant>>> = Arc::default();
    let seen = Arc::clone(&last);
    // The killed process stays a group member until its session times out: keep that short.
    // librdkafka's commit interval as it is (5 s): the app commits sooner on its own.
    let settings = kafka_utils::settings::Settings::new(bootstrap)
        .with_client_property("session.timeout.ms", "6000")
        .with_client_property("heartbeat.interval.ms", "1000");
    let keyed = std::env::var("KU_FAULT_ORDERING").as_deref() == Ok("key");
    // By key, handlers run at once: slower ones, so that commits fall before the kill.
    let wait = Duration::from_millis(if keyed { 20 } else { 1 });
    let handler = move |msg: Msg, ctx: Context<_>| {
        let seen = Arc::clone(&seen);
        async move {
            tokio::time::sleep(wait).await;
            println!(
                "handled {} {} {} {}",
                msg.producer, msg.seq, ctx.partition, ctx.offset
            );
            *seen.lock().unwrap() = Some(Instant::now());
            Ok::<(), String>(())
        }
    };
    let app = App::<users::Service>::new(&settings).unwrap();
    let app = if keyed {
        app.group("faults-killed-keyed")
            .ordering(Ordering::Key)
            .handle(topics::KilledKeyed, handler)
    } else {
        app.group("faults-killed").handle(topics::Killed, handler)
    };
    let started = Instant::now();
    let quiet = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let last = *last.lock().unwrap();
            let idle = last.map_or(started.elapsed() > Duration::from_secs(120), |t| {
                t.elapsed() > Duration::from_secs(5)
            });
            if idle {
                break;
            }
        }
    };
    app.run_until(quiet).await.unwrap();
    println!("child done");
}
