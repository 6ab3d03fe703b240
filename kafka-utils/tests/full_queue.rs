//! A producer whose librdkafka queue fills by bytes (`queue.buffering.max.kbytes`, long
//! before its count limit): senders wait for room and every record is delivered, each
//! encoded exactly once (a record that met the full queue is kept as encoded, not encoded
//! again on every retry).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_utils::codec::{Codec, CodecError};
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "full.blobs", message = String)]
    Blobs,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "filler")]
    Filler,
}

permissions! { Users::Filler => { Topics::Blobs => [Write] } }

/// Writes a string's bytes, and counts how often it was asked to.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl Codec<String> for Counting {
    fn encode(&self, value: &String, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::new(e.to_string()))
    }
}

#[tokio::test]
async fn a_queue_full_by_bytes_makes_senders_wait_and_encodes_each_record_once() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("full.blobs", 1).unwrap();
    // 64 KiB of queue for 8 KiB records: about 8 fit, far below the count limit.
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_client_property("queue.buffering.max.kbytes", "64")
        .with_client_property("linger.ms", "1");
    let encodes = Counting::default();
    let producer =
        Producer::<users::Filler, Counting>::with_codec(&settings, encodes.clone()).unwrap();
    let blob = "x".repeat(8 * 1024);
    let records = 400;
    let sent = async {
        let mut deliveries = Vec::with_capacity(records);
        for _ in 0..records {
            deliveries.push(producer.send(topics::Blobs, &blob).await.expect("queued"));
        }
        for delivery in deliveries {
            delivery.await.expect("delivered");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), sent)
        .await
        .expect("every record delivered in time");
    assert_eq!(
        encodes.0.load(Ordering::Relaxed),
        records,
        "each record encoded once"
    );
    producer.close().await.unwrap();
}

#[tokio::test]
async fn a_record_larger_than_the_buffer_is_an_error_naming_buffer_memory_not_a_hang() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("full.blobs", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers()).with_buffer_memory(4096);
    let producer =
        Producer::<users::Filler, Counting>::with_codec(&settings, Counting::default()).unwrap();
    let small = producer
        .send(topics::Blobs, &"x".repeat(100))
        .await
        .expect("a small record fits");
    small.await.expect("delivered");
    let sent = tokio::time::timeout(
        Duration::from_secs(10),
        producer.send(topics::Blobs, &"x".repeat(8 * 1024)),
    )
    .await
    .expect("an answer, not a wait for room that never comes");
    let Err(err) = sent else {
        panic!("a record larger than the whole buffer was queued");
    };
    let err = err.to_string();
    assert_eq!(
        err,
        "KAFKA_BUFFER_MEMORY is smaller than a record of 8192 bytes for topic `full.blobs`: \
         the producer's queue cannot hold it; raise it above the largest record"
    );
    producer.close().await.unwrap();
}
