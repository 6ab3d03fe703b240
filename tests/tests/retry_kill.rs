//! A retry topic's delay across a crash, against the real broker: an app killed with SIGKILL
//! while a failed record waits out its delay on the retry topic loses nothing; restarted,
//! it handles the record from the retry topic once due, and every other record too.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils_tests::TestCluster;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "retrykill.orders", message = u64, key = u64, partitions = 1,
            retry = ["3s"], dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "retrykill.orders.dlq", message = u64, partitions = 1)]
    OrdersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "retrykill", groups = ["retrykill"])]
    Shop,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
    },
}

const COUNT: u64 = 50;

/// The order that fails on its topic and passes on the retry topic.
const FAILING: u64 = 7;

/// The app's process, which the test kills: prints `handled N retry|origin` for each order
/// handled and `failed N` for the failing one's failure. Does nothing unless started by the
/// test.
#[tokio::test]
async fn child_app() {
    if std::env::var("KU_RETRYKILL_CHILD").as_deref() != Ok("1") {
        return;
    }
    // The killed process stays a member until its session times out: keep that short.
    let settings = TestCluster::get()
        .settings()
        .with_client_property("session.timeout.ms", "6000")
        .with_client_property("heartbeat.interval.ms", "1000");
    let app = App::<users::Shop>::new(&settings)
        .unwrap()
        .group("retrykill")
        .handle(
            topics::Orders,
            |n: u64, ctx: Context<users::Shop>| async move {
                let retry = ctx.topic.contains(".retry.");
                if n == FAILING && !retry {
                    println!("failed {n}");
                    return Err(format!("order {n} fails on its own topic"));
                }
                println!("handled {n} {}", if retry { "retry" } else { "origin" });
                Ok(())
            },
        );
    app.run_until(std::future::pending::<()>()).await.unwrap();
}

/// Starts the app's process.
fn spawn() -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_app", "--nocapture", "--test-threads=1"])
        .env("KU_RETRYKILL_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's lines until `enough` says so (or its output ends), within 90 s.
async fn read_until(
    mut child: std::process::Child,
    enough: impl Fn(&[String]) -> bool + Send + 'static,
) -> (Vec<String>, std::process::Child) {
    let stdout = child.stdout.take().unwrap();
    let reading = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // The harness may print `test child_app ... ` before the first line.
            let line = match (line.find("handled "), line.find("failed ")) {
                (Some(at), _) | (None, Some(at)) => line[at..].to_string(),
                _ => continue,
            };
            lines.push(line);
            if enough(&lines) {
                break;
            }
        }
        (lines, child)
    });
    tokio::time::timeout(Duration::from_secs(90), reading)
        .await
        .expect("the child's lines in time")
        .unwrap()
}

/// The orders the lines say were handled (from either topic).
fn handled(lines: &[String]) -> BTreeSet<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("handled "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn an_app_killed_during_a_retry_delay_loses_nothing_and_retries_after_restart() {
    let cluster = TestCluster::get();
    for topic in TOPOLOGY.topics() {
        cluster.recreate_topic(topic.name, 1).await;
    }
    let producer = Producer::<users::Shop>::new(&cluster.settings()).unwrap();
    for n in 0..COUNT {
        producer
            .send_record(topics::Orders, Record::new(&n).key(&n))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    producer.close().await.unwrap();

    // The first process: every order but the failing one handled, the failing one failed.
    let (first, mut child) = read_until(spawn(), |lines| {
        handled(lines).len() == COUNT as usize - 1 && lines.iter().any(|l| l.starts_with("failed"))
    })
    .await;
    // Killed once the failing order is on the retry topic, well inside its 3 s delay.
    let ends: BaseConsumer = cluster.plaintext_config().create().unwrap();
    let retry_topic = "retrykill.orders.retry.3s";
    let deadline = Instant::now() + Duration::from_secs(2);
    while ends
        .fetch_watermarks(retry_topic, 0, Duration::from_secs(5))
        .unwrap()
        .1
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "the failing order never reached {retry_topic}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Instant::now();
    child.kill().unwrap(); // SIGKILL, during the delay
    child.wait().unwrap();
    assert!(
        !handled(&first).contains(&FAILING),
        "the failing order was handled before the kill: {first:?}"
    );

    // The second process: the failing order comes back from the retry topic once due.
    let (second, mut child) = read_until(spawn(), |lines| {
        lines
            .iter()
            .any(|l| l == &format!("handled {FAILING} retry"))
    })
    .await;
    let after = killed.elapsed();
    let _ = child.kill();
    child.wait().unwrap();
    let all: BTreeSet<u64> = handled(&first).union(&handled(&second)).copied().collect();
    println!(
        "retry across a kill: {} handled before the kill, {} lines after it; order {FAILING} handled from the retry topic {after:?} after the kill",
        handled(&first).len(),
        second.len()
    );
    assert_eq!(all, (0..COUNT).collect::<BTreeSet<_>>(), "an order lost");
}
