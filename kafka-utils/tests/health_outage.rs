//! A broker that goes away is DOWN in the very next report, within the timeout: no report
//! reuses an older one's UP. On the embedded cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::health::{DEFAULT_TIMEOUT, HealthCheck, Status};
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "outage.orders", message = String)]
    Orders,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "watcher")]
    Watcher,
}

permissions! { Users::Watcher => { Topics::Orders => [Read] } }

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_after_the_broker_went_is_down_and_in_time() {
    let cluster = Arc::new(EmbeddedCluster::start(1).unwrap());
    cluster.create_topic("outage.orders", 1).unwrap();
    let health = HealthCheck::new(&Settings::new(cluster.bootstrap_servers()), &TOPOLOGY).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while health.check().await.status != Status::Up {
        assert!(Instant::now() < deadline, "not UP within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let down = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || down.broker_down(-1))
        .await
        .unwrap()
        .unwrap();
    let mut slowest = Duration::ZERO;
    for n in 0..12 {
        let started = Instant::now();
        let report = health.check().await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert_eq!(
            report.status,
            Status::Down,
            "report {n} after the broker went: {report:#?}"
        );
        assert_eq!(
            report.components["kafka"].status,
            Status::Down,
            "{report:#?}"
        );
        assert!(
            took <= DEFAULT_TIMEOUT + Duration::from_millis(50),
            "report {n} took {took:?}"
        );
    }
    println!("12 reports DOWN, the slowest in {slowest:?}");
    let up = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || up.broker_up(-1))
        .await
        .unwrap()
        .unwrap();
}
