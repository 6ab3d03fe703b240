//! `recv_batch` stops at 512 KiB of payload (so that a batch of large records stays in the
//! CPU's cache), takes small records up to `KAFKA_MAX_POLL_RECORDS`, and loses or reorders
//! nothing it leaves for the next call. On the embedded cluster.

use std::time::Duration;

use kafka_utils::codec::Raw;
use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "blobs", message = Vec<u8>)]
    Blobs,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "reader", groups = ["readers"])]
    Reader,
}

permissions! {
    Users::Reader => { Topics::Blobs => [Read, Write, AutoCommitOffset] },
}

/// The payload a batch takes before it stops (as documented on `recv_batch`).
const BATCH_BYTES: usize = 512 * 1024;

/// Writes `count` records of `size` bytes to `blobs`, each holding its index in its first
/// four bytes.
fn write(settings: &Settings, count: u32, size: usize) {
    let producer: BaseProducer = settings.producer_config().unwrap().create().unwrap();
    for index in 0..count {
        let mut payload = vec![b'x'; size];
        payload[..4].copy_from_slice(&index.to_be_bytes());
        producer
            .send(BaseRecord::<(), [u8]>::to("blobs").payload(&payload))
            .unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Reads all `count` records: after the first, waits a moment so that librdkafka holds the
/// rest, then takes batches. Returns the batches' sizes (in records) and checks every record
/// came once, in order.
async fn read_all(settings: &Settings, count: u32) -> Vec<Vec<usize>> {
    let consumer = Consumer::<users::Reader, Vec<u8>>::builder(settings)
        .codec(Raw)
        .group("readers")
        .topic(topics::Blobs)
        .build()
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
        .await
        .expect("the first record within 20 s")
        .unwrap();
    let mut seen = vec![u32::from_be_bytes(first.value[..4].try_into().unwrap())];
    consumer.ack(&first).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut batches = Vec::new();
    while seen.len() < count as usize {
        let batch = tokio::time::timeout(Duration::from_secs(10), consumer.recv_batch())
            .await
            .expect("every record within 10 s of the one before")
            .unwrap();
        seen.extend(
            batch
                .iter()
                .map(|r| u32::from_be_bytes(r.value[..4].try_into().unwrap())),
        );
        batches.push(batch.iter().map(|r| r.value.len()).collect());
        consumer.ack_batch(&batch).unwrap();
    }
    assert_eq!(
        seen,
        (0..count).collect::<Vec<_>>(),
        "each record once, in order"
    );
    consumer.close().await.unwrap();
    batches
}

#[tokio::test]
async fn a_batch_of_large_records_stops_at_512_kib_and_the_rest_follow_in_order() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("blobs", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers()).with_auto_commit(false);
    write(&settings, 200, 10 * 1024);
    let batches = read_all(&settings, 200).await;
    for batch in &batches {
        // The record that reaches the budget is the batch's last.
        let before_last: usize = batch[..batch.len() - 1].iter().sum();
        assert!(
            before_last < BATCH_BYTES,
            "a batch went on past 512 KiB: {batch:?}"
        );
    }
    // 512 KiB is 51.2 records of 10 KiB: a batch of all that was fetched takes 52.
    assert_eq!(
        batches.iter().map(Vec::len).max(),
        Some(52),
        "batches: {:?}",
        batches.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn small_records_fill_a_batch_up_to_max_poll_records() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("blobs", 1).unwrap();
    let mut settings = Settings::new(cluster.bootstrap_servers()).with_auto_commit(false);
    settings.max_poll_records = 100;
    write(&settings, 301, 100);
    let batches = read_all(&settings, 301).await;
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|&n| n <= 100), "batches: {sizes:?}");
    assert_eq!(sizes.iter().max(), Some(&100), "batches: {sizes:?}");
}
