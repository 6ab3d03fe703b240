//! Every supported kind of message and key goes through the real broker with the typed
//! producer and comes back through the typed consumer; what the broker holds is checked
//! with a plain rdkafka consumer.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_utils::consumer::{Consumer, Received};
use kafka_utils::prelude::*;
use kafka_utils::producer::{Producer, Record};
use kafka_utils_tests::TestCluster;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub item: String,
    pub price: f64,
    pub tags: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Created { id: u64 },
    Renamed { id: u64, name: String },
    Deleted,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "roundtrip.orders", message = Order, key = u64, partitions = 3)]
    Orders,
    #[topic(name = "roundtrip.events", message = Event, key = String, partitions = 2)]
    Events,
    #[topic(name = "roundtrip.texts", message = String)]
    Texts,
    #[topic(name = "roundtrip.maps", message = BTreeMap<String, Vec<i64>>, key = Vec<u8>)]
    Maps,
    #[topic(name = "roundtrip.detached", message = Order, key = u64, partitions = 2)]
    Detached,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "roundtrip", groups = ["roundtrip-orders", "roundtrip-events", "roundtrip-texts", "roundtrip-maps", "roundtrip-detached"])]
    Service,
}

permissions! {
    Users::Service => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Events => [Read, Write, AutoCommitOffset],
        Topics::Texts => [Read, Write, AutoCommitOffset],
        Topics::Maps => [Read, Write, AutoCommitOffset],
        Topics::Detached => [Read, Write, AutoCommitOffset],
    },
}

const TIMEOUT: Duration = Duration::from_secs(60);

/// Reads `count` records of `topic` as raw bytes, to see what the broker holds.
fn raw_records(topic: &str, count: usize) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let consumer: BaseConsumer = TestCluster::get()
        .plaintext_config()
        .set("group.id", kafka_utils_tests::unique_name("raw-check"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("raw consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {count} raw records",
            records.len()
        );
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.expect("raw record");
            records.push((
                message.key().map(<[u8]>::to_vec),
                message.payload().unwrap_or_default().to_vec(),
            ));
        }
    }
    records
}

async fn receive_all<M>(consumer: &Consumer<users::Service, M>, count: usize) -> Vec<Received<M>>
where
    kafka_utils::codec::Json: kafka_utils::codec::Codec<M>,
{
    let mut all = Vec::new();
    while all.len() < count {
        let batch = tokio::time::timeout(TIMEOUT, consumer.recv_batch())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} records arrived", all.len()))
            .expect("records decode");
        assert!(
            batch.len() <= 500,
            "a batch is bounded by KAFKA_MAX_POLL_RECORDS"
        );
        consumer.ack_batch(&batch).expect("ack");
        all.extend(batch);
    }
    consumer.commit().await.expect("commit");
    all
}

#[tokio::test]
async fn structs_with_integer_keys_and_headers_round_trip() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("roundtrip.orders", 3).await;
    let settings = cluster.settings();
    let producer = Producer::<users::Service>::new(&settings).unwrap();
    let orders: Vec<Order> = (0..300u64)
        .map(|id| Order {
            id,
            item: format!("item-{id} ✓"),
            price: id as f64 * 1.25,
            tags: vec!["a".into(); (id % 3) as usize],
            note: (id % 2 == 0).then(|| "even".to_string()),
        })
        .collect();
    let ids: Vec<u64> = orders.iter().map(|o| o.id).collect();
    let trace = "00-trace-01".to_string();
    let batch = producer
        .send_batch(
            topics::Orders,
            orders
                .iter()
                .zip(&ids)
                .map(|(o, id)| Record::new(o).key(id).header("trace", &trace)),
        )
        .await
        .unwrap();
    let reports = batch.wait().await;
    assert_eq!(reports.len(), 300);
    for report in &reports {
        let delivered = report.as_ref().expect("delivered");
        assert_eq!(delivered.topic, "roundtrip.orders");
        assert!((0..3).contains(&delivered.partition));
    }

    let consumer = Consumer::<users::Service, Order>::builder(&settings)
        .group("roundtrip-orders")
        .topic(topics::Orders)
        .build()
        .unwrap();
    let mut received = receive_all(&consumer, 300).await;
    received.sort_by_key(|r| r.value.id);
    for (r, order) in received.iter().zip(&orders) {
        assert_eq!(&r.value, order);
        assert_eq!(r.key_as::<u64>().unwrap(), order.id);
        assert_eq!(r.header("trace"), Some(trace.as_bytes()));
        assert!(r.timestamp.is_some());
        let report = reports[order.id as usize].as_ref().unwrap();
        assert_eq!((r.partition, r.offset), (report.partition, report.offset));
    }
    // The same key always went to the same partition.
    let raw = raw_records("roundtrip.orders", 300);
    for (key, payload) in raw {
        let id: u64 = String::from_utf8(key.expect("key"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(payload, serde_json::to_vec(&orders[id as usize]).unwrap());
    }
    consumer.close().await.unwrap();
    producer.close().await.unwrap();
}

#[tokio::test]
async fn records_sent_detached_are_all_written_and_counted() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("roundtrip.detached", 2).await;
    let settings = cluster.settings();
    let producer = Producer::<users::Service>::new(&settings).unwrap();
    let orders: Vec<Order> = (0..1_000u64)
        .map(|id| Order {
            id,
            item: format!("item-{id}"),
            price: 1.0,
            tags: Vec::new(),
            note: None,
        })
        .collect();
    for order in &orders {
        // Every other record with a key and a header (the path through rust-rdkafka).
        if order.id % 2 == 0 {
            producer
                .send_detached(topics::Detached, order)
                .await
                .unwrap();
        } else {
            let record = Record::new(order).key(&order.id).header("odd", "1");
            producer
                .send_record_detached(topics::Detached, record)
                .await
                .unwrap();
        }
    }
    producer.flush(TIMEOUT).await.unwrap();
    let totals = producer.delivery_totals();
    assert_eq!((totals.delivered, totals.failed), (1_000, 0));

    let consumer = Consumer::<users::Service, Order>::builder(&settings)
        .group("roundtrip-detached")
        .topic(topics::Detached)
        .build()
        .unwrap();
    let mut received = receive_all(&consumer, 1_000).await;
    received.sort_by_key(|r| r.value.id);
    for (r, order) in received.iter().zip(&orders) {
        assert_eq!(&r.value, order);
        match order.id % 2 {
            0 => assert_eq!((r.key.as_deref(), r.header("odd")), (None, None)),
            _ => assert_eq!(
                (r.key_as::<u64>().unwrap(), r.header("odd")),
                (order.id, Some(&b"1"[..]))
            ),
        }
    }
    consumer.close().await.unwrap();
    producer.close().await.unwrap();
}

#[tokio::test]
async fn enums_strings_maps_and_byte_keys_round_trip() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("roundtrip.events", 2).await;
    cluster.recreate_topic("roundtrip.texts", 1).await;
    cluster.recreate_topic("roundtrip.maps", 1).await;
    let settings = cluster.settings();
    let producer = Producer::<users::Service>::new(&settings).unwrap();

    let events = [
        Event::Created { id: 1 },
        Event::Renamed {
            id: 1,
            name: "Ünïcödé \"quoted\"".into(),
        },
        Event::Deleted,
    ];
    let mut pending = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let key = format!("entity-{}", i % 2);
        pending.push(
            producer
                .send_record(topics::Events, Record::new(event).key(&key))
                .await
                .unwrap(),
        );
    }
    let texts = ["plain", "", "with\nnewline", "emoji 🚀"].map(String::from);
    for text in &texts {
        pending.push(producer.send(topics::Texts, text).await.unwrap());
    }
    let map: BTreeMap<String, Vec<i64>> = [
        ("neg".to_string(), vec![-1, i64::MIN]),
        ("max".to_string(), vec![i64::MAX]),
    ]
    .into();
    let key = vec![0u8, 159, 146, 150];
    pending.push(
        producer
            .send_record(topics::Maps, Record::new(&map).key(&key))
            .await
            .unwrap(),
    );
    for delivery in pending {
        delivery.await.expect("delivered");
    }

    let consumer = Consumer::<users::Service, Event>::builder(&settings)
        .group("roundtrip-events")
        .topic(topics::Events)
        .build()
        .unwrap();
    let mut got = receive_all(&consumer, 3).await;
    got.sort_by_key(|r| (r.partition, r.offset));
    let mut values: Vec<Event> = got.iter().map(|r| r.value.clone()).collect();
    values.sort_by_key(|e| format!("{e:?}"));
    let mut expected = events.to_vec();
    expected.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(values, expected);
    assert!(
        got.iter()
            .all(|r| r.key_as::<String>().unwrap().starts_with("entity-"))
    );
    let raw = raw_records("roundtrip.events", 3);
    assert!(raw.iter().any(|(_, p)| p == br#"{"type":"deleted"}"#));

    let consumer = Consumer::<users::Service, String>::builder(&settings)
        .group("roundtrip-texts")
        .topic(topics::Texts)
        .build()
        .unwrap();
    let got = receive_all(&consumer, 4).await;
    assert_eq!(
        got.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        texts
    );
    assert!(
        got.iter().all(|r| r.key.is_none()),
        "no key declared, none sent"
    );

    let consumer = Consumer::<users::Service, BTreeMap<String, Vec<i64>>>::builder(&settings)
        .group("roundtrip-maps")
        .topic(topics::Maps)
        .build()
        .unwrap();
    let got = receive_all(&consumer, 1).await;
    assert_eq!(got[0].value, map);
    assert_eq!(got[0].key_as::<Vec<u8>>().unwrap(), key);
}

#[tokio::test]
async fn an_undecodable_record_is_an_error_naming_it_and_is_not_acknowledged() {
    let cluster = TestCluster::get();
    let topic = "roundtrip.texts.bad";
    cluster.recreate_topic(topic, 1).await;
    // Someone writes a non-JSON record to a topic whose messages are strings.
    let producer: rdkafka::producer::FutureProducer = cluster.plaintext_config().create().unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::<(), _>::to(topic).payload("not json"),
            TIMEOUT,
        )
        .await
        .unwrap();

    #[derive(Debug, KafkaTopics)]
    enum BadTopics {
        #[topic(name = "roundtrip.texts.bad", message = String)]
        Bad,
    }
    #[derive(Debug, KafkaUsers)]
    enum BadUsers {
        #[user(name = "roundtrip-bad")]
        Reader,
    }
    permissions! { static BAD; BadUsers::Reader => { BadTopics::Bad => [Read, AutoCommitOffset] } }

    let consumer = Consumer::<bad_users::Reader, String>::builder(&cluster.settings())
        .topic(bad_topics::Bad)
        .build()
        .unwrap();
    let err = tokio::time::timeout(TIMEOUT, consumer.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("decoding the record at offset 0 of `roundtrip.texts.bad` partition 0:"),
        "{err}"
    );
    consumer.commit().await.unwrap();
    assert_eq!(
        cluster.committed_offset("roundtrip-bad", topic, 0),
        None,
        "nothing was acknowledged"
    );
    let _ = (BadTopics::Bad, BadUsers::Reader, &BAD);
}

/// What the receive calls gave: the values, or the offset of the record that failed (which
/// is then skipped, so that the records after it come).
async fn outcomes(
    consumer: &Consumer<mixed_users::Reader, String>,
    one_at_a_time: bool,
    until: usize,
) -> Vec<Result<String, i64>> {
    let mut seen = Vec::new();
    while seen.len() < until {
        let received = if one_at_a_time {
            consumer.recv().await.map(|r| vec![r])
        } else {
            consumer.recv_batch().await
        };
        match received {
            Ok(batch) => seen.extend(batch.into_iter().map(|r| Ok(r.value))),
            Err(error @ kafka_utils::Error::Decode { .. }) => {
                let record = error
                    .record()
                    .expect("the consumer's decode error carries the record");
                seen.push(Err(record.offset));
                // Its partition's later records wait for a decision: skip it on purpose.
                consumer.skip(record).unwrap();
            }
            Err(other) => panic!("{other}"),
        }
    }
    seen
}

#[derive(Debug, KafkaTopics)]
enum MixedTopics {
    #[topic(name = "roundtrip.texts.mixed", message = String)]
    Mixed,
}

#[derive(Debug, KafkaUsers)]
enum MixedUsers {
    #[user(name = "roundtrip-mixed")]
    Reader,
}

permissions! { static MIXED; MixedUsers::Reader => { MixedTopics::Mixed => [Read, AutoCommitOffset] } }

#[tokio::test]
async fn a_bad_record_inside_a_batch_comes_after_those_before_it_and_before_those_after_it() {
    let cluster = TestCluster::get();
    let topic = "roundtrip.texts.mixed";
    cluster.recreate_topic(topic, 1).await;
    // One partition, written before anyone reads: the records arrive together, so the bad
    // one sits in the middle of what the consumer takes from librdkafka at once.
    let producer: rdkafka::producer::FutureProducer = cluster.plaintext_config().create().unwrap();
    for payload in ["\"a\"", "not json", "\"b\"", "\"c\""] {
        producer
            .send(
                rdkafka::producer::FutureRecord::<(), _>::to(topic).payload(payload),
                TIMEOUT,
            )
            .await
            .unwrap();
    }
    let expected = vec![Ok("a".to_string()), Err(1), Ok("b".into()), Ok("c".into())];
    for (group, one_at_a_time) in [
        ("roundtrip-mixed-batch", false),
        ("roundtrip-mixed-one", true),
    ] {
        let consumer = Consumer::<mixed_users::Reader, String>::builder(&cluster.settings())
            .group(group)
            .topic(mixed_topics::Mixed)
            .build()
            .unwrap();
        let seen = tokio::time::timeout(TIMEOUT, outcomes(&consumer, one_at_a_time, 4))
            .await
            .unwrap();
        assert_eq!(seen, expected, "{group}");
        consumer.close().await.unwrap();
    }
    let _ = (MixedTopics::Mixed, MixedUsers::Reader, &MIXED);
}
