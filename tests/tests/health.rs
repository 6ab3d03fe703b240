//! HealthCheck against the real broker: UP with the declared topics, DOWN when one is missing
//! or when no broker answers (within the timeout), a consumer's lag per partition, and a
//! stalled poller.

use std::time::{Duration, Instant};

use kafka_utils::consumer::Consumer;
use kafka_utils::health::{HealthCheck, Status};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils_tests::TestCluster;
use serde_json::json;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "health.orders", message = String, partitions = 1)]
    Orders,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "health-svc", groups = ["health-svc"])]
    Service,
}

permissions! { Users::Service => { Topics::Orders => [Read, Write, AutoCommitOffset] } }

mod missing {
    use super::*;

    #[derive(Debug, KafkaTopics)]
    pub(crate) enum Absent {
        #[topic(name = "health.absent", message = String)]
        Absent,
    }

    permissions! { static WITH_ABSENT; Users::Service => { Absent::Absent => [Read] } }
}

#[tokio::test]
async fn up_with_lag_then_stalled() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("health.orders", 1).await;
    let settings = cluster.settings();
    let health = HealthCheck::new(&settings, &TOPOLOGY).unwrap();
    let report = health.check().await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "UP", "{json:#}");
    assert_eq!(json["components"]["kafka"]["details"]["brokers"], 1);
    assert_eq!(
        json["components"]["topics"]["details"]["present"],
        json!(["health.orders"])
    );

    let producer = Producer::<users::Service>::new(&settings).unwrap();
    for i in 0..5 {
        producer
            .send(topics::Orders, &format!("order {i}"))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    producer.close().await.unwrap();
    let settings = settings.with_auto_commit(false);
    let consumer = Consumer::<users::Service, String>::builder(&settings)
        .topic(topics::Orders)
        .build()
        .unwrap();
    health.watch(consumer.probe().stall_after(Duration::from_millis(500)));
    let mut received = Vec::new();
    while received.len() < 5 {
        let next = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await;
        received.push(next.expect("a record").expect("decoded"));
    }
    consumer.ack(&received[1]).unwrap();
    consumer.commit().await.unwrap();

    let report = health.check().await;
    let component = &report.components["consumer:health-svc"];
    assert_eq!(component.status, Status::Up, "{report:#?}");
    assert_eq!(component.details["lag"], json!({ "health.orders/0": 3 }));
    assert_eq!(component.details["total_lag"], 3);
    assert_eq!(component.details["group"], "health-svc");
    assert_eq!(component.details["stalled"], false);

    // No poll for longer than the threshold: the poller is stalled, the service DOWN.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let report = health.check().await;
    assert_eq!(report.status, Status::Down, "{report:#?}");
    assert_eq!(
        report.components["consumer:health-svc"].details["stalled"],
        true
    );

    // Waiting in a poll is not stalling.
    let waiting = tokio::time::timeout(Duration::from_secs(2), consumer.recv());
    let (report, _) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            health.check().await
        },
        waiting
    );
    assert_eq!(report.status, Status::Up, "{report:#?}");
    consumer.close().await.unwrap();
}

#[tokio::test]
async fn a_missing_topic_is_down() {
    let health = HealthCheck::new(&TestCluster::get().settings(), &missing::WITH_ABSENT).unwrap();
    let report = health.check().await;
    assert_eq!(report.status, Status::Down);
    let topics = &report.components["topics"];
    assert_eq!(topics.status, Status::Down);
    assert_eq!(topics.details["missing"], json!(["health.absent"]));
    assert_eq!(report.components["kafka"].status, Status::Up);
}

#[tokio::test]
async fn no_broker_is_down_within_the_timeout() {
    // Nothing listens on port 9 (discard) of this machine.
    let settings = Settings::new("127.0.0.1:9");
    let health = HealthCheck::new(&settings, &TOPOLOGY)
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let report = health.check().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.status, Status::Down);
    let kafka = &report.components["kafka"];
    assert_eq!(kafka.status, Status::Down);
    assert!(kafka.details["error"].as_str().is_some(), "{kafka:?}");
}
