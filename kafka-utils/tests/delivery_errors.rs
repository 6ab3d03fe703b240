//! A delivery that fails comes back to the caller as an error and is counted, never
//! dropped: with no broker answering (127.0.0.1:9 refuses every connection), records fail
//! once `message.timeout.ms` passes; a full queue makes senders wait (not fail, not drop)
//! until space frees, and then their records fail the same way.

use std::time::{Duration, Instant};

use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::producer::{Producer, Record};
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "nowhere.events", message = u64)]
    Events,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "stranded")]
    Stranded,
}

permissions! { Users::Stranded => { Topics::Events => [Write] } }

fn stranded(queue: Option<u32>) -> (Producer<users::Stranded>, Metrics) {
    let mut settings =
        Settings::new("127.0.0.1:9").with_client_property("message.timeout.ms", "1500");
    if let Some(queue) = queue {
        settings = settings.with_client_property("queue.buffering.max.messages", queue.to_string());
    }
    let metrics = Metrics::new();
    let producer = Producer::<users::Stranded>::new(&settings)
        .unwrap()
        .with_metrics(&metrics);
    (producer, metrics)
}

fn errors_counted(metrics: &Metrics) -> f64 {
    metrics.snapshot()["topics"]["nowhere.events"]["produce_errors"]
        .as_f64()
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_record_the_broker_never_took_fails_after_the_message_timeout() {
    let (producer, metrics) = stranded(None);
    let started = Instant::now();
    let delivery = producer.send(topics::Events, &1).await.expect("queued");
    let error = tokio::time::timeout(Duration::from_secs(20), delivery)
        .await
        .expect("answered, not left hanging")
        .expect_err("no broker took it");
    let text = error.to_string();
    assert!(
        text.starts_with("delivering a record to topic `nowhere.events`")
            && text.contains("timed out"),
        "{text}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(errors_counted(&metrics), 1.0);
}

#[tokio::test]
async fn a_full_queue_holds_senders_back_until_records_fail_and_none_is_dropped() {
    let (producer, metrics) = stranded(Some(20));
    let started = Instant::now();
    let mut pending = Vec::new();
    for n in 0..60u64 {
        // Past 20 queued, this waits for room: the first records must time out first.
        let sent = tokio::time::timeout(Duration::from_secs(30), producer.send(topics::Events, &n))
            .await
            .expect("room within 30 s");
        pending.push(sent.expect("queued"));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the senders were held back"
    );
    let mut failed = 0;
    for delivery in pending {
        let outcome = tokio::time::timeout(Duration::from_secs(30), delivery)
            .await
            .expect("answered");
        assert!(outcome.is_err());
        failed += 1;
    }
    assert_eq!(failed, 60);
    assert_eq!(errors_counted(&metrics), 60.0);

    // A batch: one answer per record, in order, each an error.
    let records: Vec<u64> = (0..10).collect();
    let batch = producer
        .send_batch(topics::Events, records.iter().map(Record::new))
        .await
        .expect("queued");
    let reports = tokio::time::timeout(Duration::from_secs(30), batch.wait())
        .await
        .expect("answered");
    assert_eq!(reports.len(), 10);
    assert!(reports.iter().all(Result::is_err));
    assert_eq!(errors_counted(&metrics), 70.0);
}
