//! The actuator endpoints over real HTTP (a TCP socket, HTTP/1.1) against the real broker:
//! health as JSON (503 when DOWN), the metrics snapshot, and the Prometheus text that an
//! OpenMetrics parser accepts, with counters that moved when records flowed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_utils::actuator::{self, OPENMETRICS_CONTENT_TYPE};
use kafka_utils::consumer::Consumer;
use kafka_utils::health::HealthCheck;
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils_tests::{TestCluster, http_get};
use openmetrics_parser::{OpenMetricsType, OpenMetricsValue};

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
        .with_metrics(&metrics);
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
    // Wait for a statistics report taken after the commit.
    tokio::time::sleep(Duration::from_millis(1500)).await;
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
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&body)
        .unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{body}"));
    let produced = &exposition.families["kafka_messages_produced"];
    assert_eq!(produced.family_type, OpenMetricsType::Counter);
    let total: f64 = produced
        .iter_samples()
        .map(|s| match &s.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(total, 4.0);
    assert_eq!(
        exposition.families["kafka_delivery_latency_seconds"].family_type,
        OpenMetricsType::Histogram
    );
    assert_eq!(
        exposition.families["open_orders"].family_type,
        OpenMetricsType::Gauge
    );

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
