//! A broker that goes away is DOWN in the very next check, within the timeout: no check
//! falls back to an older report's UP. A request that comes while a check runs gets the last
//! report at once when it is fresh, else waits for that check. On the embedded cluster.

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

/// Starts a check of `health` and returns once it has run for 100 ms.
async fn check_running(health: &Arc<HealthCheck>) -> tokio::task::JoinHandle<Status> {
    let checking = Arc::clone(health);
    let running = tokio::spawn(async move { checking.check().await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_while_a_check_runs_gets_a_fresh_last_report_at_once() {
    let cluster = Arc::new(EmbeddedCluster::start(1).unwrap());
    cluster.create_topic("outage.orders", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers());
    let health = Arc::new(HealthCheck::new(&settings, &TOPOLOGY).unwrap());
    let down = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || down.broker_down(-1))
        .await
        .unwrap()
        .unwrap();
    // Each check waits for the gone broker until its deadline.
    assert_eq!(health.check().await.status, Status::Down);

    // The last report is 100 ms old: served at once.
    let running = check_running(&health).await;
    let started = Instant::now();
    assert_eq!(health.check().await.status, Status::Down);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100), "it waited {took:?}");
    assert_eq!(running.await.unwrap(), Status::Down);

    // Older than WHILE_CHECKING: the request waits for the running check.
    tokio::time::sleep(kafka_utils::health::WHILE_CHECKING).await;
    let running = check_running(&health).await;
    let started = Instant::now();
    assert_eq!(health.check().await.status, Status::Down);
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(300) && took <= DEFAULT_TIMEOUT,
        "it took {took:?}"
    );
    assert_eq!(running.await.unwrap(), Status::Down);
    let up = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || up.broker_up(-1))
        .await
        .unwrap()
        .unwrap();
}
