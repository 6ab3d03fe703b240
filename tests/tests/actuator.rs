//! The actuator endpoints over real HTTP (a TCP socket, HTTP/1.1) against the real broker:
//! health as JSON (503 when DOWN), the metrics snapshot, and the Prometheus text that an
//! OpenMetrics parser accepts, with counters that moved when records flowed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_utils::actuator::{self, OPENMETRICS_CONTENT_TYPE};
use kafka_utils::consumer::Consumer;
use kafka_utils::health::HealthCheck;
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils_tests::exposition::{Sample, family_type, samples, total};
use kafka_utils_tests::{TestCluster, http_get};
use openmetrics_parser::OpenMetricsType;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "actuator.events", message = String, partitions = 1)]
    Events,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "actuator-svc", groups = ["actuator-svc"])]
    Service,
}

permissions! { Users::Service => { Topics::Events => [Read, Write, AutoCommitOffset] } }

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `samples` without their `instance` label (librdkafka's handle name, numbered per process).
fn without_instance(mut samples: Vec<Sample>) -> Vec<Sample> {
    for (labels, _) in &mut samples {
        labels.remove("instance");
    }
    samples
}

/// The consumer's lag sample for the one partition, at 0.
fn lag_zero() -> Sample {
    let labels = labels(&[
        ("client", "actuator-svc"),
        ("topic", "actuator.events"),
        ("partition", "0"),
    ]);
    (labels, 0.0)
}

/// Serves the actuator on a free port of 127.0.0.1 until the test ends.
async fn serve(health: HealthCheck, metrics: Metrics) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = actuator::router(Arc::new(health), metrics);
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// `GET path`: the status, the content type and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String, String) {
    let answer = http_get(address, path).await;
    (answer.status, answer.content_type, answer.body)
}

#[tokio::test]
async fn endpoints_over_http() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("actuator.events", 1).await;
    let mut settings = cluster.settings();
    // librdkafka's statistics every 100 ms, so that its gauges show up soon.
    settings.statistics_interval_ms = 100;
    let metrics = Metrics::new();
    let producer = Producer::<users::Service>::new(&settings)
        .unwrap()
        .metrics(&metrics);
    for i in 0..4 {
        let delivery = producer.send(topics::Events, &format!("event {i}")).await;
        delivery.unwrap().await.unwrap();
    }
    let consumer =
        Consumer::<users::Service, String>::builder(&settings.clone().with_auto_commit(false))
            .metrics(&metrics)
            .topic(topics::Events)
            .build()
            .unwrap();
    let mut seen = 0;
    while seen < 4 {
        let batch = tokio::time::timeout(Duration::from_secs(60), consumer.recv_batch());
        let batch = batch.await.expect("records").expect("decoded");
        consumer.ack_batch(&batch).unwrap();
        seen += batch.len();
    }
    consumer.commit().await.unwrap();
    // The statistics reports after the commit carry the committed offset: lag 0.
    let lag_known = Instant::now() + Duration::from_secs(30);
    while without_instance(samples(&metrics.prometheus(), "kafka_consumer_lag")) != [lag_zero()] {
        assert!(
            Instant::now() < lag_known,
            "no lag of 0 in the statistics:\n{}",
            metrics.prometheus()
        );
        // librdkafka hands a consumer's statistics over when the consumer is polled.
        let poll = tokio::time::timeout(Duration::from_millis(100), consumer.recv_batch());
        assert!(poll.await.is_err(), "no records beyond the 4");
    }
    metrics
        .record_metric("open_orders", 12.0, &[("shop", "eu")])
        .unwrap();
    let address = serve(HealthCheck::new(&settings, &TOPOLOGY).unwrap(), metrics).await;

    let (status, content_type, body) = get(address, "/actuator/health").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "UP", "{health:#}");
    assert_eq!(health["components"]["kafka"]["status"], "UP");
    assert_eq!(
        health["components"]["topics"]["details"]["present"][0],
        "actuator.events"
    );

    let (status, _, body) = get(address, "/actuator/metrics").await;
    assert_eq!(status, 200);
    let snapshot: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(snapshot["topics"]["actuator.events"]["produced"], 4.0);
    assert_eq!(snapshot["custom"]["open_orders"][0]["value"], 12.0);

    let (status, content_type, body) = get(address, "/actuator/prometheus").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, OPENMETRICS_CONTENT_TYPE)
    );
    assert_eq!(total(&body, "kafka_messages_produced"), 4.0, "{body}");
    for (family, kind) in [
        ("kafka_messages_produced", OpenMetricsType::Counter),
        ("kafka_delivery_latency_seconds", OpenMetricsType::Histogram),
        ("kafka_handler_duration_seconds", OpenMetricsType::Histogram),
        ("kafka_client_queue_messages", OpenMetricsType::Gauge),
        ("kafka_client_broker_rtt_seconds", OpenMetricsType::Gauge),
        ("kafka_consumer_lag", OpenMetricsType::Gauge),
        ("open_orders", OpenMetricsType::Gauge),
    ] {
        assert_eq!(
            family_type(&body, family),
            Some(kind),
            "{family} in\n{body}"
        );
    }
    // librdkafka's statistics: the producer's queue is drained, both clients measured a
    // round trip to the one broker, and the consumer is not behind.
    let queue = samples(&body, "kafka_client_queue_messages");
    assert_eq!(queue.len(), 1, "{body}");
    assert_eq!(
        (queue[0].0["client"].as_str(), queue[0].1),
        ("actuator-svc", 0.0)
    );
    assert!(queue[0].0["instance"].contains("#producer-"), "{body}");
    let rtt = samples(&body, "kafka_client_broker_rtt_seconds");
    let kinds: Vec<&str> = rtt.iter().map(|(l, _)| l["type"].as_str()).collect();
    assert!(
        kinds.contains(&"producer") && kinds.contains(&"consumer"),
        "{body}"
    );
    assert!(rtt.iter().all(|(_, s)| *s > 0.0 && *s < 5.0), "{body}");
    let lag = without_instance(samples(&body, "kafka_consumer_lag"));
    assert_eq!(lag, [lag_zero()], "{body}");

    let (status, _, body) = get(address, "/actuator/nothing").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn health_is_503_when_no_broker_answers() {
    let settings = Settings::new("127.0.0.1:9");
    let health = HealthCheck::new(&settings, &TOPOLOGY)
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let address = serve(health, Metrics::new()).await;
    let (status, _, body) = get(address, "/actuator/health").await;
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "DOWN");
    assert_eq!(health["components"]["kafka"]["status"], "DOWN");
}
