//! The embedded default (librdkafka's in-process mock cluster) carries real messages.

use std::time::Duration;

use futures::StreamExt;
use kafka_utils::embedded::EmbeddedCluster;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

#[tokio::test]
async fn embedded_cluster_round_trips_messages_in_partition_order() {
    let cluster = EmbeddedCluster::start(3).expect("mock cluster");
    cluster.create_topic("orders", 4).expect("create topic");

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut delivered = Vec::new();
    for i in 0..40u32 {
        let key = format!("customer-{}", i % 4);
        let payload = i.to_string();
        let record = FutureRecord::to("orders").key(&key).payload(&payload);
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("delivered");
        delivered.push((delivery.partition, delivery.offset, i));
    }

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "embedded-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&["orders"]).expect("subscribe");
    let mut stream = consumer.stream();
    let mut received = Vec::new();
    while received.len() < delivered.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a message within 30 s")
            .expect("stream open")
            .expect("no consume error");
        let value: u32 = std::str::from_utf8(message.payload().expect("payload"))
            .expect("utf-8")
            .parse()
            .expect("number");
        received.push((message.partition(), message.offset(), value));
    }
    received.sort();
    delivered.sort();
    assert_eq!(received, delivered);
    // The same key always lands on the same partition, in send order.
    for key in 0..4 {
        let partitions: std::collections::BTreeSet<i32> = delivered
            .iter()
            .filter(|(_, _, v)| v % 4 == key)
            .map(|(p, _, _)| *p)
            .collect();
        assert_eq!(partitions.len(), 1, "key {key} spread over {partitions:?}");
    }
}

#[test]
fn embedded_cluster_refuses_an_invalid_topic_name_with_its_name() {
    let cluster = EmbeddedCluster::start(1).expect("mock cluster");
    match cluster.create_topic("bad\0name", 1) {
        Err(e) => assert!(e.to_string().contains("bad"), "{e}"),
        Ok(()) => panic!("a NUL byte in a topic name must be refused"),
    }
}
