//! The decode path under arbitrary input (proptest): payloads, keys and headers of any bytes
//! never panic, they give an error value; and through an app (on the embedded cluster),
//! every record that cannot be decoded is a dead letter carrying its error, and every other
//! one is handled: none is lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_utils::app::{App, Context};
use kafka_utils::codec::{Codec, Json, KafkaKey};
use kafka_utils::dead_letter::{DeadLetterInfo, Reason};
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
use kafka_utils::trace::parse_traceparent;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub customer: String,
    pub lines: Vec<(String, u32)>,
    pub note: Option<String>,
}

/// Bytes that are often almost JSON: arbitrary bytes, JSON fragments, and mutated orders.
fn payloads() -> impl Strategy<Value = Vec<u8>> {
    let order = (
        any::<u64>(),
        ".*",
        proptest::collection::vec((".*", any::<u32>()), 0..3),
    )
        .prop_map(|(id, customer, lines)| {
            serde_json::to_vec(&Order {
                id,
                customer,
                lines,
                note: None,
            })
            .unwrap_or_default()
        });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        order.clone(),
        (order, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut bytes, at, byte)| {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            bytes
        }),
        "[\\[\\]{}\":,0-9a-z ]{0,40}".prop_map(String::into_bytes),
    ]
}

/// Headers as a record carries them (`None`: a null value).
type HeaderList = Vec<(String, Option<Vec<u8>>)>;

fn headers() -> impl Strategy<Value = HeaderList> {
    proptest::collection::vec(
        (
            "(kafka-utils\\.dlq\\.[a-z]{0,9}|[a-z.\\-]{0,12})",
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        ),
        0..6,
    )
}

proptest! {
    #[test]
    fn decoding_any_payload_gives_a_value_or_an_error(bytes in payloads()) {
        let _ = Codec::<Order>::decode(&Json, &bytes);
        let _ = Codec::<u64>::decode(&Json, &bytes);
        let _ = Codec::<String>::decode(&Json, &bytes);
        let _ = Codec::<HashMap<String, f64>>::decode(&Json, &bytes);
        let _ = Codec::<serde_json::Value>::decode(&Json, &bytes);
    }

    #[test]
    fn reading_any_key_gives_a_value_or_an_error(key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))) {
        let key = key.as_deref();
        let _ = <u64 as KafkaKey>::read_key(key);
        let _ = <i32 as KafkaKey>::read_key(key);
        let _ = <String as KafkaKey>::read_key(key);
        let _ = <Vec<u8> as KafkaKey>::read_key(key);
        let _ = <() as KafkaKey>::read_key(key);
    }

    #[test]
    fn any_headers_are_read_without_panicking(headers in headers()) {
        let _ = DeadLetterInfo::from_headers(&headers);
        for (_, value) in &headers {
            let _ = parse_traceparent(value.as_deref().unwrap_or_default());
        }
    }

    #[test]
    fn dead_letter_headers_read_back_what_was_written(
        topic in ".*", partition in any::<i32>(), offset in any::<i64>(),
        timestamp in proptest::option::of(any::<i64>()), group in ".*", error in ".*",
        attempts in any::<u32>(), time in any::<i64>(), reason in 0..3usize,
    ) {
        let info = DeadLetterInfo {
            topic, partition, offset, timestamp, group, error, attempts, time,
            reason: [Reason::Decode, Reason::Handler, Reason::Panic][reason],
        };
        let written: Vec<(String, Option<Vec<u8>>)> = info
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Some(v.into_bytes())))
            .collect();
        prop_assert_eq!(DeadLetterInfo::from_headers(&written), Some(info));
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    assert!(Codec::<serde_json::Value>::decode(&Json, deep.as_bytes()).is_err());
    assert!(Codec::<Order>::decode(&Json, deep.as_bytes()).is_err());
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "fuzz.orders", message = Order, partitions = 2, dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "fuzz.orders.dlq", message = Order, partitions = 1)]
    OrdersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "fuzz")]
    Fuzz,
}

permissions! {
    Users::Fuzz => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
    },
}

const RECORDS: usize = 300;

#[tokio::test]
async fn every_undecodable_record_is_a_dead_letter_with_its_error() {
    // Fixed seed: the same records every run.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (payloads(), headers());
    let records: Vec<(Vec<u8>, HeaderList)> = (0..RECORDS)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();

    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("fuzz.orders", 2).unwrap();
    cluster.create_topic("fuzz.orders.dlq", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers());
    // Written raw, by (partition, offset): the key says which record it is.
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    for (i, (payload, headers)) in records.iter().enumerate() {
        let owned = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: v.as_deref(),
            })
        });
        let key = i.to_string();
        let record = BaseRecord::<_, _, ()>::to("fuzz.orders")
            .key(&key)
            .payload(payload)
            .headers(owned);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let decodable: BTreeMap<usize, Order> = records
        .iter()
        .enumerate()
        .filter_map(|(i, (p, _))| Codec::<Order>::decode(&Json, p).ok().map(|o| (i, o)))
        .collect();
    let undecodable = RECORDS - decodable.len();
    assert!(
        undecodable > 50 && decodable.len() > 50,
        "{undecodable} of {RECORDS}"
    );

    let handled: Arc<Mutex<Vec<(usize, Order)>>> = Arc::default();
    let log = Arc::clone(&handled);
    let metrics = Metrics::new();
    let app = App::<users::Fuzz>::new(&settings)
        .unwrap()
        .metrics(&metrics)
        .handle(topics::Orders, move |order: Order, ctx: Context<_>| {
            let log = Arc::clone(&log);
            async move {
                let key =
                    String::from_utf8(ctx.key().unwrap_or_default().to_vec()).unwrap_or_default();
                log.lock()
                    .unwrap()
                    .push((key.parse().unwrap_or(usize::MAX), order));
                Ok::<(), String>(())
            }
        });
    let progress = metrics.clone();
    app.run_until(async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let s = progress.snapshot();
            let n = |w: &str| s["topics"]["fuzz.orders"][w].as_f64().unwrap_or(0.0) as usize;
            if n("handled") + n("dead_lettered") >= RECORDS {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "stuck: {s:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();

    // Every decodable record handled, as it was sent.
    let handled: BTreeMap<usize, Order> = handled.lock().unwrap().drain(..).collect();
    assert_eq!(handled, decodable);

    // Every other one a dead letter: byte for byte, its headers kept, its error given.
    let reader: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "fuzz-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&["fuzz.orders.dlq"]).unwrap();
    let mut letters = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while letters < undecodable && std::time::Instant::now() < deadline {
        let Some(message) = reader.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.unwrap();
        let i: usize = std::str::from_utf8(message.key().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        let (payload, sent_headers) = &records[i];
        assert!(!decodable.contains_key(&i), "record {i} was decodable");
        assert_eq!(message.payload().unwrap_or_default(), payload.as_slice());
        let headers = kafka_utils::consumer::owned_headers(&message);
        assert_eq!(&headers[..sent_headers.len()], sent_headers.as_slice());
        let info = DeadLetterInfo::from_headers(&headers).expect("the dead-letter headers");
        assert_eq!((info.reason, info.attempts), (Reason::Decode, 0));
        assert!(
            info.error.starts_with(&format!(
                "decoding the record at offset {} of `fuzz.orders` partition {}",
                info.offset, info.partition
            )),
            "{}",
            info.error
        );
        letters += 1;
    }
    assert_eq!(letters, undecodable);
}
