//! At-least-once against the real broker: a consumer process killed (SIGKILL) mid-stream
//! loses nothing, and what its successor in the same group receives again is exactly what
//! came after the last commit; the app runner's graceful stop commits what was handled;
//! a record whose handler keeps failing is not committed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use kafka_utils::app::{App, Context};
use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils_tests::TestCluster;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "alo.killed", message = u64, partitions = 1)]
    Killed,
    #[topic(name = "alo.graceful", message = u64, partitions = 1)]
    Graceful,
    #[topic(name = "alo.failing", message = u64, partitions = 1)]
    Failing,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "alo", groups = ["alo-killed", "alo-graceful", "alo-failing"])]
    Service,
}

permissions! {
    Users::Service => {
        Topics::Killed => [Read, Write, AutoCommitOffset],
        Topics::Graceful => [Read, Write, AutoCommitOffset],
        Topics::Failing => [Read, Write, AutoCommitOffset],
    },
}

const COUNT: u64 = 200;
const KILL_AFTER: usize = 90;

async fn produce_numbers<T>(topic: T, count: u64)
where
    T: WritableBy<users::Service, Message = u64, Key = ()>,
{
    let producer = Producer::<users::Service>::new(&TestCluster::get().settings()).unwrap();
    let mut pending = Vec::new();
    for n in 0..count {
        pending.push(producer.send(topic, &n).await.unwrap());
    }
    for delivery in pending {
        delivery.await.unwrap();
    }
    producer.close().await.unwrap();
}

/// The consumer process the parent test kills: handles slowly, acknowledges each record,
/// commits every 20, and says so on stdout. Does nothing unless started by the parent.
#[test]
fn child_consumer_process() {
    if std::env::var("KU_ALO_CHILD").as_deref() != Ok("1") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // A short session, so that the successor need not wait 45 s for the dead member.
        let settings = TestCluster::get()
            .settings()
            .with_auto_commit(false)
            .with_client_property("session.timeout.ms", "6000");
        let consumer = Consumer::<users::Service, u64>::builder(&settings)
            .group("alo-killed")
            .topic(topics::Killed)
            .build()
            .unwrap();
        let mut handled = 0;
        loop {
            let received = consumer.recv().await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            consumer.ack(&received).unwrap();
            println!("handled {}", received.offset);
            handled += 1;
            if handled % 20 == 0 {
                consumer.commit().await.unwrap();
                println!("committed {}", received.offset + 1);
            }
        }
    });
}

#[tokio::test]
async fn a_killed_consumer_loses_nothing_and_repeats_only_what_followed_its_last_commit() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("alo.killed", 1).await;
    produce_numbers(topics::Killed, COUNT).await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_consumer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KU_ALO_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let handled_by_child = tokio::task::spawn_blocking(move || {
        let mut handled = BTreeSet::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // The harness may print `test child_consumer_process ... ` before the first line.
            if let Some((_, offset)) = line.split_once("handled ") {
                handled.insert(offset.parse::<i64>().unwrap());
                if handled.len() == KILL_AFTER {
                    break;
                }
            }
        }
        (handled, child)
    });
    let (handled_by_child, mut child) =
        tokio::time::timeout(Duration::from_secs(120), handled_by_child)
            .await
            .expect("the child handled records in time")
            .unwrap();
    child.kill().unwrap(); // SIGKILL: no commit, no leaving the group.
    child.wait().unwrap();
    assert_eq!(handled_by_child.len(), KILL_AFTER);

    let committed = cluster
        .committed_offset("alo-killed", "alo.killed", 0)
        .expect("the child committed before it was killed");
    assert!(
        committed >= 80 && committed <= KILL_AFTER as i64,
        "committed {committed}"
    );

    // A successor in the same group (it waits for the dead member's session to expire).
    let consumer = Consumer::<users::Service, u64>::builder(&cluster.settings())
        .group("alo-killed")
        .topic(topics::Killed)
        .build()
        .unwrap();
    let mut received = Vec::new();
    while received.last() != Some(&(COUNT as i64 - 1)) {
        let r = tokio::time::timeout(Duration::from_secs(90), consumer.recv())
            .await
            .expect("the successor receives the rest")
            .unwrap();
        assert_eq!(r.value, r.offset as u64);
        consumer.ack(&r).unwrap();
        received.push(r.offset);
    }
    consumer.close().await.unwrap();

    // It starts exactly at the last commit and receives everything after it once.
    assert_eq!(received, (committed..COUNT as i64).collect::<Vec<_>>());
    // None lost.
    let all: BTreeSet<i64> = handled_by_child.iter().chain(&received).copied().collect();
    assert_eq!(all, (0..COUNT as i64).collect::<BTreeSet<_>>());
    // Duplicates only after the last commit.
    let duplicates: Vec<i64> = received
        .iter()
        .filter(|o| handled_by_child.contains(o))
        .copied()
        .collect();
    assert!(duplicates.iter().all(|o| *o >= committed), "{duplicates:?}");
    assert_eq!(
        cluster.committed_offset("alo-killed", "alo.killed", 0),
        Some(COUNT as i64)
    );
}

#[tokio::test]
async fn graceful_stop_commits_exactly_what_was_handled() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("alo.graceful", 1).await;
    produce_numbers(topics::Graceful, 100).await;

    let handled = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicI64::new(-1));
    let reached = Arc::new(tokio::sync::Notify::new());
    let (h, l, r) = (
        Arc::clone(&handled),
        Arc::clone(&last),
        Arc::clone(&reached),
    );
    let app = App::<users::Service>::new(&cluster.settings())
        .unwrap()
        .group("alo-graceful")
        .handle(
            topics::Graceful,
            move |n: u64, ctx: Context<users::Service>| {
                let (h, l, r) = (Arc::clone(&h), Arc::clone(&l), Arc::clone(&r));
                async move {
                    assert_eq!(n, ctx.offset as u64);
                    // In order: each record right after the previous one.
                    assert_eq!(l.swap(ctx.offset, Ordering::SeqCst), ctx.offset - 1);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if h.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                        r.notify_one();
                    }
                    Ok::<(), String>(())
                }
            },
        );
    let stop = async move { reached.notified().await };
    tokio::time::timeout(Duration::from_secs(120), app.run_until(stop))
        .await
        .expect("the app stops")
        .expect("the app ran without error");
    let handled = handled.load(Ordering::SeqCst);
    assert!((40..100).contains(&handled), "{handled}");
    assert_eq!(last.load(Ordering::SeqCst), handled as i64 - 1);
    assert_eq!(
        cluster.committed_offset("alo-graceful", "alo.graceful", 0),
        Some(handled as i64),
        "the commit covers every handled record and nothing more"
    );
}

#[tokio::test]
async fn a_record_that_keeps_failing_stops_the_app_uncommitted() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("alo.failing", 1).await;
    produce_numbers(topics::Failing, 10).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&attempts);
    let app = App::<users::Service>::new(&cluster.settings())
        .unwrap()
        .group("alo-failing")
        .handle(
            topics::Failing,
            move |n: u64, _ctx: Context<users::Service>| {
                let a = Arc::clone(&a);
                async move {
                    if n == 5 {
                        a.fetch_add(1, Ordering::SeqCst);
                        Err(format!("cannot handle {n}"))
                    } else {
                        Ok(())
                    }
                }
            },
        );
    let err = tokio::time::timeout(
        Duration::from_secs(120),
        app.run_until(std::future::pending()),
    )
    .await
    .expect("the app stops by itself")
    .expect_err("the failing record stops it");
    assert_eq!(
        err.to_string(),
        "handling the record at offset 5 of `alo.failing` partition 0 failed: cannot handle 5"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "three attempts");
    assert_eq!(
        cluster.committed_offset("alo-failing", "alo.failing", 0),
        Some(5)
    );
}
