//! Rebalance hygiene, on the embedded cluster: a consumer dropped (or an app cancelled) while
//! a health check watches it leaves its group at once; a revoked partition's records are not
//! handled by the app that lost it, and its committed offset never moves backwards when the
//! partition comes back to an app whose old handler was still running.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context};
use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::health::HealthCheck;
use kafka_utils::prelude::*;
use kafka_utils::producer::{Producer, Record};
use kafka_utils::settings::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "tasks", message = u64, key = u64, partitions = 4)]
    Tasks,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "member", groups = ["members"])]
    Member,
}

permissions! { Users::Member => { Topics::Tasks => [Read, Write, AutoCommitOffset] } }

/// The session timeout of every member: a member that is gone without leaving holds its
/// partitions this long; one that stays but never polls, `max.poll.interval.ms` (300 s).
const SESSION: Duration = Duration::from_secs(6);

struct Setup {
    _cluster: EmbeddedCluster,
    settings: Settings,
}

fn setup(partitions: i32) -> Setup {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("tasks", partitions).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_client_property("session.timeout.ms", SESSION.as_millis().to_string());
    Setup {
        _cluster: cluster,
        settings,
    }
}

/// Writes `per_partition` tasks to each of `partitions` partitions: the task's number is
/// `partition * 1000 + n`.
async fn write(settings: &Settings, partitions: i32, per_partition: u64) {
    for partition in 0..partitions {
        write_partition(settings, partition, 0, per_partition).await;
    }
}

/// Writes `count` tasks to partition `partition`, numbered from `partition * 1000 + first`.
async fn write_partition(settings: &Settings, partition: i32, first: u64, count: u64) {
    let producer = Producer::<users::Member>::new(settings).unwrap();
    let mut pending = Vec::new();
    for n in first..first + count {
        let task = u64::try_from(partition).unwrap() * 1000 + n;
        let record = Record::new(&task).key(&task).partition(partition);
        pending.push(producer.send_record(topics::Tasks, record).await.unwrap());
    }
    for delivery in pending {
        delivery.await.unwrap();
    }
}

fn consumer(settings: &Settings) -> Consumer<users::Member, u64> {
    Consumer::<users::Member, u64>::builder(settings)
        .topic(topics::Tasks)
        .build()
        .unwrap()
}

/// How long until a new member of the group receives a record.
async fn a_new_member_receives(settings: &Settings) -> Duration {
    let started = Instant::now();
    let next = consumer(settings);
    tokio::time::timeout(SESSION + Duration::from_secs(5), next.recv())
        .await
        .expect("the new member got the partitions within the session timeout + 5 s")
        .unwrap();
    started.elapsed()
}

#[tokio::test]
async fn a_dropped_consumer_leaves_its_group_while_a_health_check_watches_it() {
    let setup = setup(1);
    write(&setup.settings, 1, 10).await;
    let health = HealthCheck::new(&setup.settings, &TOPOLOGY).unwrap();
    let first = consumer(&setup.settings);
    health.watch(first.probe());
    tokio::time::timeout(Duration::from_secs(15), first.recv())
        .await
        .expect("joined")
        .unwrap();
    drop(first);
    let took = a_new_member_receives(&setup.settings).await;
    println!("a new member received after {took:?}");
    drop(health);
}

#[tokio::test]
async fn a_cancelled_app_leaves_its_group_while_a_health_check_watches_it() {
    let setup = setup(1);
    write(&setup.settings, 1, 10).await;
    let health = HealthCheck::new(&setup.settings, &TOPOLOGY).unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let handled = Arc::clone(&started);
    let app = App::<users::Member>::new(&setup.settings).unwrap().handle(
        topics::Tasks,
        move |_task: u64, _ctx: Context<users::Member>| {
            let handled = Arc::clone(&handled);
            async move {
                handled.notify_one();
                std::future::pending::<()>().await;
                Ok::<(), String>(())
            }
        },
    );
    health.watch(app.probe());
    let running = app.run_until(std::future::pending::<()>());
    // Cancelled once a handler runs: the app's future is dropped mid-run.
    tokio::select! {
        _ = running => panic!("the app ended by itself"),
        () = started.notified() => {}
    }
    let took = a_new_member_receives(&setup.settings).await;
    println!("a new member received after {took:?}");
    drop(health);
}

/// Who handled what: (partition, offset) → the apps that handled it, in order.
type Handled = Arc<Mutex<BTreeMap<(i32, i64), Vec<&'static str>>>>;

fn app(
    settings: &Settings,
    name: &'static str,
    handled: &Handled,
    slow: Duration,
) -> App<users::Member> {
    let handled = Arc::clone(handled);
    App::<users::Member>::new(settings)
        .unwrap()
        .shutdown_timeout(Duration::from_secs(2))
        .handle(
            topics::Tasks,
            move |_task: u64, ctx: Context<users::Member>| {
                let handled = Arc::clone(&handled);
                async move {
                    tokio::time::sleep(slow).await;
                    handled
                        .lock()
                        .unwrap()
                        .entry((ctx.partition, ctx.offset))
                        .or_default()
                        .push(name);
                    Ok::<(), String>(())
                }
            },
        )
}

async fn until_handled(handled: &Handled, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while handled.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} handled within {within:?}",
            handled.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partitions_queued_records_are_not_handled_by_the_app_that_lost_it() {
    let setup = setup(4);
    let settings = setup.settings.clone().with_max_poll_records(10);
    write(&settings, 4, 40).await;
    let handled: Handled = Arc::default();
    let a = app(&settings, "A", &handled, Duration::from_millis(50));
    let b = app(&settings, "B", &handled, Duration::from_millis(50));
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let run_a = tokio::spawn(a.run_until(async {
        let _ = stopped_a.await;
    }));
    until_handled(&handled, 20, Duration::from_secs(30)).await;
    // B joins while A's workers hold queued records of every partition.
    let run_b = tokio::spawn(b.run_until(async {
        let _ = stopped_b.await;
    }));
    until_handled(&handled, 160, Duration::from_secs(60)).await;
    let _ = stop_a.send(());
    let _ = stop_b.send(());
    run_a.await.unwrap().unwrap();
    run_b.await.unwrap().unwrap();
    let handled = handled.lock().unwrap();
    let twice: Vec<_> = handled.iter().filter(|(_, by)| by.len() > 1).collect();
    println!(
        "handled twice across the rebalance: {}: {twice:?}",
        twice.len()
    );
    // At most the records in A's handlers when the revoke came: one per partition.
    assert!(twice.len() <= 4, "{} handled twice: {twice:?}", twice.len());
}

/// The committed offset of each partition of `tasks`, as a separate client sees it.
fn committed(checker: &BaseConsumer, partitions: i32) -> HashMap<i32, i64> {
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition("tasks", partition);
    }
    let Ok(committed) = checker.committed_offsets(list, Duration::from_secs(5)) else {
        return HashMap::new();
    };
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(offset) => Some((e.partition(), offset)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_that_comes_back_never_commits_below_what_its_other_owner_committed() {
    let setup = setup(2);
    // Commits on revoke and at the stop only: what is committed is what was stored then.
    let settings = setup
        .settings
        .clone()
        .with_max_poll_records(1)
        .with_auto_commit(false);
    // Three records each at first: A's hung worker has nothing queued behind its record,
    // so A serves the revoke while the handler still runs.
    write(&settings, 2, 3).await;
    let handled: Handled = Arc::default();
    // A hangs on offset 2 of each partition, once, for longer than its revoke may wait.
    let hung = Arc::new(Mutex::new(Vec::<i32>::new()));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let a = {
        let (handled, hung, release) = (
            Arc::clone(&handled),
            Arc::clone(&hung),
            Arc::clone(&release),
        );
        App::<users::Member>::new(&settings)
            .unwrap()
            .shutdown_timeout(Duration::from_secs(1))
            .handle(
                topics::Tasks,
                move |_task: u64, ctx: Context<users::Member>| {
                    let (handled, hung, release) = (
                        Arc::clone(&handled),
                        Arc::clone(&hung),
                        Arc::clone(&release),
                    );
                    async move {
                        let first_time = ctx.offset == 2 && {
                            let mut hung = hung.lock().unwrap();
                            let first = !hung.contains(&ctx.partition);
                            hung.push(ctx.partition);
                            first
                        };
                        if first_time {
                            // Until the test lets it go: after the partition came back.
                            let _ =
                                tokio::time::timeout(Duration::from_secs(60), release.acquire())
                                    .await;
                        }
                        handled
                            .lock()
                            .unwrap()
                            .entry((ctx.partition, ctx.offset))
                            .or_default()
                            .push("A");
                        Ok::<(), String>(())
                    }
                },
            )
    };
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let run_a = tokio::spawn(a.run_until(async {
        let _ = stopped_a.await;
    }));
    // Watch the committed offsets all along.
    let checker: BaseConsumer = settings
        .consumer_config("members")
        .unwrap()
        .create()
        .unwrap();
    let history = Arc::new(Mutex::new(Vec::<HashMap<i32, i64>>::new()));
    let watching = {
        let history = Arc::clone(&history);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Acquire) {
                let seen = committed(&checker, 2);
                history.lock().unwrap().push(seen);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        (stop, thread)
    };
    // A has both partitions and hangs in both (offsets 0 and 1 of each handled).
    until_handled(&handled, 4, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // B takes a partition from A (whose handler of it hangs), handles it to the end, leaves.
    let b = app(&settings, "B", &handled, Duration::ZERO);
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let run_b = tokio::spawn(b.run_until(async {
        let _ = stopped_b.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    let taken = loop {
        let by_b = handled
            .lock()
            .unwrap()
            .iter()
            .find(|(_, by)| by.contains(&"B"))
            .map(|((partition, _), _)| *partition);
        if let Some(partition) = by_b {
            break partition;
        }
        assert!(Instant::now() < deadline, "B handled nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let kept = 1 - taken;
    // More records for B's partition only: A's hung worker of the other one has nothing
    // queued, so A keeps polling and serves every rebalance.
    write_partition(&settings, taken, 3, 17).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while handled
        .lock()
        .unwrap()
        .keys()
        .filter(|(p, _)| *p == taken)
        .count()
        < 20
    {
        assert!(Instant::now() < deadline, "B did not handle its partition");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_b.send(());
    run_b.await.unwrap().unwrap();
    // The partition comes back to A; A's old handlers of offset 2 end only after that.
    tokio::time::sleep(Duration::from_secs(6)).await;
    release.add_permits(2);
    write_partition(&settings, kept, 3, 17).await;
    until_handled(&handled, 40, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = stop_a.send(());
    run_a.await.unwrap().unwrap();
    watching.0.store(true, std::sync::atomic::Ordering::Release);
    watching.1.join().unwrap();
    // And what A committed as it stopped.
    let last: BaseConsumer = settings
        .consumer_config("members")
        .unwrap()
        .create()
        .unwrap();
    let last = tokio::task::spawn_blocking(move || committed(&last, 2))
        .await
        .unwrap();
    let mut history = history.lock().unwrap();
    history.push(last);
    for partition in 0..2 {
        let offsets: Vec<i64> = history
            .iter()
            .filter_map(|h| h.get(&partition).copied())
            .collect();

        let backwards = offsets.windows(2).find(|w| w[1] < w[0]);
        assert!(
            backwards.is_none(),
            "partition {partition}'s committed offset moved backwards: {offsets:?}"
        );
        assert_eq!(
            offsets.last(),
            Some(&20),
            "partition {partition}: {offsets:?}"
        );
    }
}
