//! A delivery that fails comes back to the caller as an error and is counted, never
//! dropped: with no broker answering (127.0.0.1:9 refuses every connection), records fail
//! once `message.timeout.ms` passes; a full queue makes senders wait (not fail, not drop)
//! until space frees, and then their records fail the same way. A record sent detached
//! (no future) that fails is counted and said in the log, with its topic and why.

use std::sync::{Arc, Mutex, OnceLock};
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
        .metrics(&metrics);
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

/// The messages of the error events logged in this test binary.
fn logged_errors() -> &'static Mutex<Vec<String>> {
    static LOGGED: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LOGGED.get_or_init(|| {
        let logged = Arc::new(Mutex::new(Vec::new()));
        let layer = ErrorLog(Arc::clone(&logged));
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        logged
    })
}

/// Keeps each error event as `message topic=… error=…`; interested in nothing else, so
/// that the producer's spans stay disabled (the path without an entry per record).
struct ErrorLog(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorLog {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if metadata.is_event() && *metadata.level() == tracing::Level::ERROR {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

/// Waits up to 30 s for `failed` failures in `producer`'s totals.
async fn failures(producer: &Producer<users::Stranded>, failed: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while producer.delivery_totals().failed < failed {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            producer.delivery_totals()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(producer.delivery_totals().delivered, 0);
}

/// How many failed records the log reported (a line per run of the same topic and error).
fn lost_records_logged() -> u64 {
    let logged = logged_errors().lock().unwrap();
    logged
        .iter()
        .filter(|line| {
            line.contains("nobody awaits were not delivered")
                && line.contains("topic=nowhere.events")
                && line.contains("timed out")
        })
        .map(|line| {
            let records = line.split(" records=").nth(1).expect("a count");
            records.split(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum()
}

#[tokio::test]
async fn detached_records_that_fail_are_counted_and_logged_with_or_without_metrics() {
    logged_errors();
    let before = lost_records_logged();
    // Without metrics: no entry per record; the report alone is counted and logged.
    let settings = Settings::new("127.0.0.1:9").with_client_property("message.timeout.ms", "1500");
    let bare = Producer::<users::Stranded>::new(&settings).unwrap();
    for n in 0..5u64 {
        bare.send_detached(topics::Events, &n)
            .await
            .expect("queued");
    }
    failures(&bare, 5).await;
    // With metrics: an entry keeps the send time; the failure is counted there too.
    let (measured, metrics) = stranded(None);
    for n in 0..3u64 {
        let record = Record::new(&n).header("h", "v");
        measured
            .send_record_detached(topics::Events, record)
            .await
            .expect("queued");
    }
    failures(&measured, 3).await;
    assert_eq!(errors_counted(&metrics), 3.0);
    // A dropped future's failure is logged too (and counted in the totals).
    drop(measured.send(topics::Events, &9).await.expect("queued"));
    failures(&measured, 4).await;
    assert_eq!(
        lost_records_logged() - before,
        9,
        "{:?}",
        logged_errors().lock().unwrap()
    );
}
