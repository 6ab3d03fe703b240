//! JSON Schema validation against the real broker: a producer with validation refuses a
//! record that breaks the schema (nothing is sent); records a raw client wrote that serde
//! accepts but the schema does not are handled by an app without validation, and go to the
//! dead letter with reason `schema` with it; what is not JSON at all stays a `decode` one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_utils::app::{App, Context};
use kafka_utils::dead_letter::{DeadLetterInfo, Reason};
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils_tests::TestCluster;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Line {
    #[schemars(length(min = 1))]
    pub sku: String,
    #[schemars(range(min = 1, max = 100))]
    pub quantity: u32,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "validated.lines", message = Line, partitions = 1, dead_letter = LinesDlq)]
    Lines,
    #[topic(name = "validated.lines.dlq", message = Line, partitions = 1)]
    LinesDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "validated", groups = ["validated-strict", "validated-lax"])]
    Service,
}

permissions! {
    Users::Service => {
        Topics::Lines => [Read, Write, AutoCommitOffset],
        Topics::LinesDlq => [Write],
    },
}

const RAW: [&str; 6] = [
    r#"{"sku": "a-1", "quantity": 1}"#,
    r#"{"sku": "a-2", "quantity": 500}"#,
    r#"{"sku": "", "quantity": 2}"#,
    r#"{"sku": "a-3", "quantity": 100}"#,
    "not json",
    r#"{"sku": "a-4", "quantity": 0}"#,
];

/// Runs an app in `group` until it handled or dead-lettered every raw record.
async fn run_app(group: &str, validate: bool) -> Vec<Line> {
    let handled: Arc<Mutex<Vec<Line>>> = Arc::default();
    let log = Arc::clone(&handled);
    let metrics = Metrics::new();
    let mut app = App::<users::Service>::new(&TestCluster::get().settings())
        .unwrap()
        .group(group)
        .metrics(&metrics)
        .handle(topics::Lines, move |line: Line, _: Context<_>| {
            let log = Arc::clone(&log);
            async move {
                log.lock().unwrap().push(line);
                Ok::<(), String>(())
            }
        });
    if validate {
        app = app.validate_schemas();
    }
    app.run_until(async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let s = metrics.snapshot();
            let n = |w: &str| s["topics"]["validated.lines"][w].as_f64().unwrap_or(0.0) as usize;
            if n("handled") + n("dead_lettered") >= RAW.len() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "stuck: {s:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    handled.lock().unwrap().clone()
}

#[tokio::test]
async fn the_schema_catches_what_serde_lets_through() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("validated.lines", 1).await;
    cluster.recreate_topic("validated.lines.dlq", 1).await;

    // A producer with validation refuses, and sends nothing.
    let producer = Producer::<users::Service>::new(&cluster.settings())
        .unwrap()
        .validate_schemas();
    let bad = Line {
        sku: "x".into(),
        quantity: 101,
    };
    let error = producer.send(topics::Lines, &bad).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, kafka_utils::Error::Invalid { .. })
            && text.contains("`validated.lines`")
            && text.contains("`/quantity`"),
        "{text}"
    );
    println!("refused: {text}");
    assert_eq!(producer.in_flight(), 0);

    // A raw client writes what it likes.
    let raw: FutureProducer = cluster.plaintext_config().create().unwrap();
    for payload in RAW {
        raw.send(
            FutureRecord::<(), _>::to("validated.lines").payload(payload),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    }

    // A consumer with validation: the first record passes, the second is an error naming it.
    let consumer = kafka_utils::consumer::Consumer::<users::Service, Line>::builder(
        &cluster.settings().with_auto_commit(false),
    )
    .group("validated-lax")
    .topic(topics::Lines)
    .validate_schemas()
    .build()
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.value.sku, "a-1");
    let second = consumer.recv().await.unwrap_err().to_string();
    assert!(
        second.starts_with("decoding the record at offset 1 of `validated.lines` partition 0: it breaks the topic's schema: at `/quantity`"),
        "{second}"
    );
    drop(consumer); // nothing acknowledged, nothing committed

    // Without validation, serde takes everything that is JSON of the right shape.
    let lax = run_app("validated-lax", false).await;
    assert_eq!(lax.len(), 5);

    // With it, only what the schema allows reaches the handler.
    let strict = run_app("validated-strict", true).await;
    let skus: Vec<&str> = strict.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["a-1", "a-3"]);

    let reader: BaseConsumer = cluster
        .plaintext_config()
        .set(
            "group.id",
            kafka_utils_tests::unique_name("validated-reader"),
        )
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&["validated.lines.dlq"]).unwrap();
    let mut letters = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The lax app dead-lettered the one that is not JSON; the strict one four.
    while letters.len() < 5 && std::time::Instant::now() < deadline {
        if let Some(message) = reader.poll(Duration::from_millis(200)) {
            let headers = kafka_utils_tests::owned_headers(&message.unwrap());
            letters.push(DeadLetterInfo::from_headers(&headers).expect("dead-letter headers"));
        }
    }
    let strict_letters: Vec<&DeadLetterInfo> = letters
        .iter()
        .filter(|l| l.group == "validated-strict")
        .collect();
    let reasons: Vec<(i64, Reason)> = strict_letters
        .iter()
        .map(|l| (l.offset, l.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, Reason::Schema),
            (2, Reason::Schema),
            (4, Reason::Decode),
            (5, Reason::Schema)
        ]
    );
    for letter in &strict_letters {
        println!(
            "dead letter: offset {} {}: {}",
            letter.offset, letter.reason, letter.error
        );
    }
    assert!(strict_letters[0].error.contains("`/quantity`"));
    assert!(strict_letters[1].error.contains("`/sku`"));
}
