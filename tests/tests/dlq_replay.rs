//! `dlq replay` at scale against the real broker: 10,000 dead letters written by an app go
//! back to their origin byte for byte (key, payload, the record's own headers, plus the
//! replay count), and a replay killed with SIGKILL about halfway and run again re-sends at
//! most the publishes that were in flight at the kill.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::admin::REPLAY_HEADER;
use kafka_utils::admin::cli::{Command as Cli, run};
use kafka_utils::app::{App, Context, Fail};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils_tests::TestCluster;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Headers as _;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "replay.orders", message = u64, key = u64, partitions = 1,
            dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "replay.orders.dlq", message = u64, partitions = 1)]
    OrdersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "replay", groups = ["replay"])]
    Shop,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::OrdersDlq => [Read, Write],
    },
}

const COUNT: u64 = 10_000;

/// The replay's publishes in flight at once (`admin/replay.rs`): what a kill may re-send.
const IN_FLIGHT: usize = 64;

/// A record as the broker holds it: key, payload and headers, raw.
type Raw = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

/// Every record of partition 0 of `topic`, from `from` to its end, raw.
fn read_raw(cluster: &TestCluster, topic: &str, from: i64) -> Vec<Raw> {
    let consumer: BaseConsumer = cluster
        .plaintext_config()
        .set("group.id", "replay-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition_offset(topic, 0, rdkafka::Offset::Offset(from))
        .unwrap();
    consumer.assign(&list).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = from;
    while next < high {
        assert!(
            Instant::now() < deadline,
            "{topic} read to {next} of {high}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        next = message.offset() + 1;
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        records.push((
            message.key().map(<[u8]>::to_vec),
            message.payload().map(<[u8]>::to_vec),
            headers,
        ));
    }
    records
}

/// The end of partition 0 of `topic`, as `ends` reads it.
fn end_of(ends: &BaseConsumer, topic: &str) -> i64 {
    ends.fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap()
        .1
}

/// The replay's process, which the test kills: `dlq replay replay.orders`. Does nothing
/// unless started by the test.
#[tokio::test]
async fn child_replay() {
    if std::env::var("KU_REPLAY_CHILD").as_deref() != Ok("1") {
        return;
    }
    let command = Cli::parse(["dlq", "replay", "replay.orders"]).unwrap();
    let mut out = Vec::new();
    run(&TOPOLOGY, command, &TestCluster::get().settings(), &mut out)
        .await
        .unwrap();
    println!("child done");
}

#[tokio::test]
async fn ten_thousand_dead_letters_replay_byte_for_byte_and_a_killed_replay_resends_at_most_what_was_in_flight()
 {
    let cluster = TestCluster::get();
    let ends: BaseConsumer = cluster.plaintext_config().create().unwrap();
    cluster.recreate_topic("replay.orders", 1).await;
    cluster.recreate_topic("replay.orders.dlq", 1).await;
    let group = "kafka-utils-dlq-replay.replay.orders.dlq";
    let _ = cluster
        .admin()
        .delete_groups(&[group], &rdkafka::admin::AdminOptions::new())
        .await;

    // 10,000 orders, each with a header of its own, all failed for good by the app.
    let producer = Producer::<users::Shop>::new(&cluster.settings()).unwrap();
    let mut deliveries = Vec::new();
    for n in 0..COUNT {
        let trace = format!("t-{n}");
        let record = Record::new(&n).key(&n).header("trace", &trace);
        deliveries.push(producer.send_record(topics::Orders, record).await.unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    producer.close().await.unwrap();
    let failed = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&failed);
    let app = App::<users::Shop>::new(&cluster.settings())
        .unwrap()
        .group("replay")
        .handle(topics::Orders, move |n: u64, _: Context<users::Shop>| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { Err::<(), _>(Fail::permanent(format!("order {n} is bad"))) }
        });
    let dead = async {
        while end_of(&ends, "replay.orders.dlq") < COUNT as i64 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), app.run_until(dead))
        .await
        .expect("10,000 dead letters within 2 min")
        .unwrap();
    let originals = read_raw(cluster, "replay.orders", 0);
    assert_eq!(originals.len(), COUNT as usize);

    // The replay, killed once it sent about half back.
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_replay", "--nocapture", "--test-threads=1"])
            .env("KU_REPLAY_CHILD", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let mut child = spawn();
    let half = COUNT as i64 + COUNT as i64 / 2;
    let at_kill = loop {
        let end = end_of(&ends, "replay.orders");
        if end >= half {
            break end;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the replay ended before half was back"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "replay too slow"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    child.kill().unwrap(); // SIGKILL: no last commit
    child.wait().unwrap();
    let replayed_at_kill = end_of(&ends, "replay.orders") - COUNT as i64;
    assert!(
        replayed_at_kill < COUNT as i64,
        "the kill came after the replay finished ({replayed_at_kill} back)"
    );
    let committed = cluster
        .committed_offset(group, "replay.orders.dlq", 0)
        .unwrap_or(0);

    // Run again: it goes on from its committed progress.
    let mut child = spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the second replay did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(child.wait().unwrap().success(), "the second replay failed");

    let replayed = read_raw(cluster, "replay.orders", COUNT as i64);
    let resent = replayed.len() as i64 - COUNT as i64;
    println!(
        "dlq replay: {COUNT} dead letters; killed with {replayed_at_kill} back (end {at_kill} when seen), {committed} committed; {} back in all, {resent} sent twice (in flight at most {IN_FLIGHT})",
        replayed.len()
    );
    assert!(
        (0..=IN_FLIGHT as i64).contains(&resent),
        "{resent} re-sent, more than the {IN_FLIGHT} in flight"
    );

    // Byte for byte: each original's key, payload and headers, plus the replay count 1.
    let mut by_key: HashMap<Option<Vec<u8>>, &Raw> = HashMap::new();
    for original in &originals {
        by_key.insert(original.0.clone(), original);
    }
    let mut seen: HashMap<Option<Vec<u8>>, usize> = HashMap::new();
    for back in &replayed {
        let original = by_key
            .get(&back.0)
            .unwrap_or_else(|| panic!("a replayed record with an unknown key {:?}", back.0));
        assert_eq!(back.1, original.1, "payload of key {:?}", back.0);
        let mut expected = original.2.clone();
        expected.push((REPLAY_HEADER.to_string(), Some(b"1".to_vec())));
        assert_eq!(back.2, expected, "headers of key {:?}", back.0);
        *seen.entry(back.0.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), COUNT as usize, "every dead letter back");
}
