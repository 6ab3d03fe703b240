//! The app stops within its deadline whatever its handlers do: a handler that never returns,
//! or that blocks its thread, is abandoned after `shutdown_timeout`; what was handled is
//! committed, the group is left, the producer flushed. While one partition's handler hangs,
//! the other partitions are handled and the consumer keeps polling (no eviction), as it does
//! while a key-ordered partition's window is full of hung handlers. A worker
//! that dies is an error, never `Ok(())`. On the embedded cluster.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context, Retry};
use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::producer::{Producer, Record};
use kafka_utils::settings::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "jobs", message = u64, key = u64, partitions = 2)]
    Jobs,
    #[topic(name = "jobs.done", message = u64)]
    Done,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "worker", groups = ["workers", "workers-check"])]
    Worker,
}

permissions! {
    Users::Worker => {
        Topics::Jobs => [Read, Write, AutoCommitOffset],
        Topics::Done => [Read, Write, AutoCommitOffset],
    },
}

struct Setup {
    _cluster: EmbeddedCluster,
    settings: Settings,
}

fn setup() -> Setup {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("jobs", 2).unwrap();
    cluster.create_topic("jobs.done", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_max_poll_records(1)
        .with_client_property("session.timeout.ms", "6000");
    Setup {
        _cluster: cluster,
        settings,
    }
}

/// Writes `count` jobs numbered from `first` to partition `partition`.
async fn write(settings: &Settings, partition: i32, first: u64, count: u64) {
    let producer = Producer::<users::Worker>::new(settings).unwrap();
    for n in first..first + count {
        let record = Record::new(&n).key(&n).partition(partition);
        producer
            .send_record(topics::Jobs, record)
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// The offset `group` committed for partition `partition` of `jobs`.
fn committed(settings: &Settings, group: &str, partition: i32) -> Option<i64> {
    let consumer: BaseConsumer = settings.consumer_config(group).unwrap().create().unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition("jobs", partition);
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    match committed
        .find_partition("jobs", partition)
        .map(|p| p.offset())
    {
        Some(rdkafka::Offset::Offset(offset)) => Some(offset),
        _ => None,
    }
}

/// Every `jobs.done` record, read until none comes for 2 s.
async fn done(settings: &Settings) -> Vec<u64> {
    let reader = Consumer::<users::Worker, u64>::builder(settings)
        .group("workers-check")
        .topic(topics::Done)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    // The first also waits for the group's join (3 s on the embedded cluster).
    let mut wait = Duration::from_secs(15);
    while let Ok(Ok(record)) = tokio::time::timeout(wait, reader.recv()).await {
        seen.push(record.value);
        wait = Duration::from_secs(2);
    }
    seen
}

/// Handles jobs 0, 1, 2 of partition 0 (replying to `jobs.done`), then hangs on job 3:
/// `block` says whether it blocks its thread or awaits for ever.
async fn hangs_on_the_fourth(
    job: u64,
    ctx: Context<users::Worker>,
    block: bool,
) -> Result<(), String> {
    if job == 3 {
        if block {
            std::thread::sleep(Duration::from_secs(12));
        } else {
            std::future::pending::<()>().await;
        }
    }
    ctx.producer()
        .send(topics::Done, &job)
        .await
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn stops_within_the_deadline(block: bool) {
    let setup = setup();
    write(&setup.settings, 0, 0, 20).await;
    let app = App::<users::Worker>::new(&setup.settings)
        .unwrap()
        .group("workers")
        .shutdown_timeout(Duration::from_secs(2))
        .handle(topics::Jobs, move |job, ctx| {
            hangs_on_the_fourth(job, ctx, block)
        });
    let started = Instant::now();
    let run = app.run_until(tokio::time::sleep(Duration::from_secs(4)));
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run_until returned");
    let took = started.elapsed();
    println!("block={block}: run_until returned {outcome:?} after {took:?}");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(
        took <= Duration::from_secs(8),
        "stop at 4 s + shutdown_timeout 2 s + 2 s, took {took:?}"
    );
    // What was handled is committed, and its replies were flushed.
    assert_eq!(committed(&setup.settings, "workers", 0), Some(3));
    assert_eq!(done(&setup.settings).await, vec![0, 1, 2]);
    // The group was left: a new member gets the partition at once, from the hung record.
    let next = Consumer::<users::Worker, u64>::builder(&setup.settings)
        .group("workers")
        .topic(topics::Jobs)
        .build()
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), next.recv())
        .await
        .expect("the partition came to the new member within 5 s")
        .unwrap();
    assert_eq!((first.partition, first.offset), (0, 3));
}

#[tokio::test]
async fn stopping_ends_within_the_deadline_while_a_handler_never_returns() {
    stops_within_the_deadline(false).await;
}

#[test]
fn stopping_ends_within_the_deadline_while_a_handler_blocks_its_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(stops_within_the_deadline(true));
    // The blocked thread is abandoned with the runtime.
    runtime.shutdown_background();
}

/// Runs an app (`configure`d) whose handler hangs on every record of partition 0, for twice
/// the poll interval, then writes 5 more records to partition 1: they are handled (the app is
/// still a member), partition 1 is committed and partition 0 is not. Returns how many handlers
/// started on partition 0 (a rebalance would have let them go and started them again).
async fn hang_partition_0_past_the_poll_interval(
    configure: fn(App<users::Worker>) -> App<users::Worker>,
) -> usize {
    let setup = setup();
    let settings = setup
        .settings
        .clone()
        .with_client_property("max.poll.interval.ms", "6000");
    // Ten keys on partition 0.
    write(&settings, 0, 0, 10).await;
    write(&settings, 1, 100, 5).await;
    let started_on_0 = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(Mutex::new(Vec::new()));
    let (starts, seen) = (Arc::clone(&started_on_0), Arc::clone(&handled));
    let app = App::<users::Worker>::new(&settings)
        .unwrap()
        .group("workers")
        .shutdown_timeout(Duration::from_secs(1));
    let app = configure(app).handle(
        topics::Jobs,
        move |job: u64, ctx: Context<users::Worker>| {
            let (starts, seen) = (Arc::clone(&starts), Arc::clone(&seen));
            async move {
                if ctx.partition == 0 {
                    starts.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                }
                seen.lock().unwrap().push(job);
                Ok::<(), String>(())
            }
        },
    );
    let later = async {
        // Twice the poll interval while partition 0's handlers hang: still a member.
        tokio::time::sleep(Duration::from_secs(13)).await;
        write(&settings, 1, 105, 5).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while handled.lock().unwrap().len() < 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(40), app.run_until(later))
        .await
        .expect("run_until returned");
    assert!(outcome.is_ok(), "{outcome:?}");
    let mut handled = handled.lock().unwrap().clone();
    handled.sort();
    assert_eq!(handled, (100..110).collect::<Vec<u64>>());
    assert_eq!(committed(&settings, "workers", 1), Some(10));
    assert_eq!(committed(&settings, "workers", 0), None);
    started_on_0.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_partitions_flow_while_one_handler_hangs_past_the_poll_interval() {
    assert_eq!(hang_partition_0_past_the_poll_interval(|app| app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_key_window_holds_past_twice_the_poll_interval_without_a_rebalance() {
    // A window of 3 fills with hung handlers and stays full.
    let started = hang_partition_0_past_the_poll_interval(|app| {
        app.ordering(kafka_utils::app::Ordering::Key)
            .max_in_flight(3)
    })
    .await;
    assert_eq!(started, 3);
}

/// A handler's future: ready at once, or (`pending`) never; it panics when dropped.
struct PanicsWhenDropped {
    panics: bool,
    pending: bool,
}

impl Future for PanicsWhenDropped {
    type Output = Result<(), String>;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        if self.pending {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if self.panics && !std::thread::panicking() {
            panic!("the handler's future panicked while dropped");
        }
    }
}

#[tokio::test]
async fn a_panic_when_a_finished_handlers_future_is_dropped_is_a_failed_attempt() {
    let setup = setup();
    write(&setup.settings, 0, 0, 5).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = App::<users::Worker>::new(&setup.settings)
        .unwrap()
        .group("workers")
        .retry(Retry::new(2, Duration::ZERO))
        .handle(
            topics::Jobs,
            move |job: u64, _ctx: Context<users::Worker>| {
                counted.fetch_add(1, Ordering::Relaxed);
                PanicsWhenDropped {
                    panics: job == 1,
                    pending: false,
                }
            },
        );
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        app.run_until(tokio::time::sleep(Duration::from_secs(15))),
    )
    .await
    .expect("run_until returned");
    let error = outcome.expect_err("a handler that panicked is not Ok(())");
    let text = error.to_string();
    println!("{text}");
    assert!(
        text.contains("offset 1") && text.contains("panicked"),
        "{text}"
    );
    // Job 0 is committed; job 1 is not, nor anything after it.
    assert_eq!(committed(&setup.settings, "workers", 0), Some(1));
    // Tried twice (the retry policy), then given up.
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_worker_that_dies_when_its_handler_is_abandoned_is_an_error() {
    let setup = setup();
    write(&setup.settings, 0, 0, 5).await;
    let app = App::<users::Worker>::new(&setup.settings)
        .unwrap()
        .group("workers")
        .shutdown_timeout(Duration::from_secs(1))
        .handle(
            topics::Jobs,
            move |job: u64, _ctx: Context<users::Worker>| PanicsWhenDropped {
                panics: job == 1,
                pending: job == 1,
            },
        );
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        app.run_until(tokio::time::sleep(Duration::from_secs(4))),
    )
    .await
    .expect("run_until returned");
    let error = outcome.expect_err("a worker that died is not Ok(())");
    let text = error.to_string();
    println!("{text}");
    assert!(
        text.contains("`jobs` partition 0") && text.contains("panicked"),
        "{text}"
    );
    assert_eq!(committed(&setup.settings, "workers", 0), Some(1));
}
