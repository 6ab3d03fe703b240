//! The Prometheus text, read back by a real parser (`prometheus-parse`): types, labels and
//! their escaping, and the built-in counters moving as records flow (on the embedded
//! cluster: this is about counting, not about the broker).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kafka_utils::app::{App, Context};
use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};

type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

fn parse(text: &str) -> Exposition {
    openmetrics_parser::openmetrics::parse_openmetrics(text)
        .unwrap_or_else(|e| panic!("not valid OpenMetrics text ({e:?}):\n{text}"))
}

/// A label value as written, unescaped (the parser checks the syntax but returns the
/// value as it stands in the text).
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// The family's type and the value of its sample with `label`.
fn value(
    exposition: &Exposition,
    family: &str,
    label: (&str, &str),
) -> Option<(OpenMetricsType, OpenMetricsValue)> {
    let family = exposition.families.get(family)?;
    family
        .iter_samples()
        .find(|s| {
            s.get_labelset().is_ok_and(|set| {
                set.get_label_value(label.0).map(unescape).as_deref() == Some(label.1)
            })
        })
        .map(|s| (family.family_type, s.value.clone()))
}

fn counter(exposition: &Exposition, family: &str, label: (&str, &str)) -> Option<f64> {
    match value(exposition, family, label)? {
        (OpenMetricsType::Counter, OpenMetricsValue::Counter(c)) => Some(c.value.as_f64()),
        other => panic!("{family} is not a counter: {other:?}"),
    }
}

#[test]
fn custom_metrics_are_typed_and_escaped() {
    let metrics = Metrics::new();
    let tricky = "say \"hi\"\\\nbye";
    metrics
        .record_metric("queue_depth", 7.5, &[("queue", tricky)])
        .unwrap();
    metrics
        .record_metric("queue_depth", 2.0, &[("queue", tricky)])
        .unwrap();
    metrics
        .increment("jobs_done", 2.0, &[("kind", "a")])
        .unwrap();
    metrics
        .increment("jobs_done", 3.0, &[("kind", "a")])
        .unwrap();
    let scrape = parse(&metrics.prometheus());
    match value(&scrape, "queue_depth", ("queue", tricky)) {
        Some((OpenMetricsType::Gauge, OpenMetricsValue::Gauge(v))) => assert_eq!(v.as_f64(), 2.0),
        other => panic!("queue_depth: {other:?}"),
    }
    assert_eq!(counter(&scrape, "jobs_done", ("kind", "a")), Some(5.0));

    let snapshot = metrics.snapshot();
    assert_eq!(snapshot["custom"]["jobs_done"][0]["value"], 5.0);
    assert_eq!(
        snapshot["custom"]["queue_depth"][0]["labels"]["queue"],
        tricky
    );

    for (name, labels, why) in [
        ("9lives", &[][..], "not starting with a digit"),
        ("kafka_messages_produced", &[][..], "built-in"),
        ("ok_name", &[("bad-label", "x")][..], "`bad-label`"),
        ("jobs_done", &[][..], "it is a counter"),
    ] {
        let err = metrics
            .record_metric(name, 1.0, labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
    }
    let err = metrics
        .increment("jobs_done", -1.0, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("only goes up"), "{err}");
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "metrics.jobs", message = u32, partitions = 1)]
    Jobs,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "metrics-worker", groups = ["metrics-worker", "metrics-worker-again"])]
    Worker,
}

permissions! { Users::Worker => { Topics::Jobs => [Read, Write, AutoCommitOffset] } }

#[tokio::test]
async fn built_in_counters_move_when_records_flow() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("metrics.jobs", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers());
    let metrics = Metrics::new();
    let producer = Producer::<users::Worker>::new(&settings)
        .unwrap()
        .metrics(&metrics);
    for job in 0..3u32 {
        producer
            .send(topics::Jobs, &job)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    producer.close().await.unwrap();

    // Job 1 fails once, then succeeds on the retry.
    let failures = Arc::new(AtomicU32::new(0));
    let handled = Arc::new(AtomicU32::new(0));
    let (fail, done) = (Arc::clone(&failures), Arc::clone(&handled));
    let app = App::<users::Worker>::new(&settings)
        .unwrap()
        .metrics(&metrics)
        .handle(topics::Jobs, move |job: u32, _: Context<users::Worker>| {
            let (fail, done) = (Arc::clone(&fail), Arc::clone(&done));
            async move {
                if job == 1 && fail.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("not yet");
                }
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
    let all_done = async {
        while handled.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), app.run_until(all_done))
        .await
        .expect("the app handles the three jobs")
        .unwrap();

    let scrape = parse(&metrics.prometheus());
    let topic = ("topic", "metrics.jobs");
    assert_eq!(
        counter(&scrape, "kafka_messages_produced", topic),
        Some(3.0)
    );
    assert_eq!(
        counter(&scrape, "kafka_messages_consumed", topic),
        Some(3.0)
    );
    assert_eq!(counter(&scrape, "kafka_messages_handled", topic), Some(3.0));
    assert_eq!(counter(&scrape, "kafka_handler_errors", topic), Some(1.0));
    match value(&scrape, "kafka_handler_duration_seconds", topic) {
        Some((OpenMetricsType::Histogram, OpenMetricsValue::Histogram(h))) => {
            assert_eq!(h.count, Some(4), "{h:?}")
        }
        other => panic!("kafka_handler_duration_seconds is {other:?}"),
    }
    // A plain consumer counts too (in its own group, it reads the three again).
    let consumer = Consumer::<users::Worker, u32>::builder(&settings)
        .group("metrics-worker-again")
        .metrics(&metrics)
        .topic(topics::Jobs)
        .build()
        .unwrap();
    let mut seen = 0;
    while seen < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(60), consumer.recv_batch());
        seen += batch.await.expect("records").expect("decoded").len();
    }
    consumer.close().await.unwrap();
    let scrape = parse(&metrics.prometheus());
    assert_eq!(
        counter(&scrape, "kafka_messages_consumed", topic),
        Some(6.0)
    );

    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot["topics"]["metrics.jobs"]["delivery_latency"]["count"],
        3
    );
    assert_eq!(snapshot["topics"]["metrics.jobs"]["handled"], 3.0);
}
