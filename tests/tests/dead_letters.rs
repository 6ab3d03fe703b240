//! Poison records, failing and panicking handlers mixed into one stream, against the real
//! broker: every good record is handled, in order per key; every bad one is in the dead
//! letter topic byte for byte with headers that say where it came from and why; the app
//! keeps running through all of it and commits everything; nothing else is lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_utils::app::{App, Context, Retry};
use kafka_utils::dead_letter::{DeadLetterInfo, Reason};
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils_tests::TestCluster;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

/// What every good record carries: who sent it, its sequence, and what the handler is to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub producer: u32,
    pub seq: u64,
    pub act: Act,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    Take,
    /// Fails on the first attempt only.
    Flaky,
    /// Fails on every attempt.
    Fail,
    /// Panics on every attempt.
    Panic,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "dlq.orders", message = Order, key = u32, partitions = 3, dead_letter = OrdersDlq)]
    Orders,
    /// What the service could not take.
    #[topic(name = "dlq.orders.dlq", message = Order, partitions = 1)]
    OrdersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "dlq-service", groups = ["dlq-service"])]
    Service,
}

permissions! {
    Users::Service => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
    },
}

const PRODUCERS: u32 = 6;
const PER_PRODUCER: u64 = 150;

/// What a record is, decided by its sequence.
fn act(seq: u64) -> Act {
    match seq {
        s if s % 23 == 5 => Act::Fail,
        s if s % 31 == 7 => Act::Panic,
        s if s % 11 == 3 => Act::Flaky,
        _ => Act::Take,
    }
}

/// One record as produced: where it landed and its bytes.
#[derive(Debug, Clone)]
struct Sent {
    key: Vec<u8>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    /// `None` for a poison record (not an `Order`).
    order: Option<(u32, u64, Act)>,
}

/// Produces the stream with a raw client (so that poison records can be among it), and
/// returns every record by its (partition, offset).
async fn produce(cluster: &TestCluster) -> BTreeMap<(i32, i64), Sent> {
    let producer: FutureProducer = cluster
        .plaintext_config()
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let mut pending = Vec::new();
    for seq in 0..PER_PRODUCER {
        for p in 0..PRODUCERS {
            let key = p.to_string().into_bytes();
            let (payload, order) = match seq % 37 {
                // Not JSON at all; a JSON of the wrong shape; a null payload.
                17 => (Some(b"\xff\x00 not json".to_vec()), None),
                29 => (Some(br#"{"producer":"x"}"#.to_vec()), None),
                33 if p == 0 => (None, None),
                _ => {
                    let order = Order {
                        producer: p,
                        seq,
                        act: act(seq),
                    };
                    let bytes = serde_json::to_vec(&order).unwrap();
                    (Some(bytes), Some((p, seq, order.act)))
                }
            };
            let headers = vec![
                ("origin".to_string(), Some(format!("p{p}").into_bytes())),
                ("empty".to_string(), None),
            ];
            let owned = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
                h.insert(Header {
                    key: k,
                    value: v.as_deref(),
                })
            });
            let mut record = FutureRecord::to("dlq.orders").key(&key).headers(owned);
            if let Some(payload) = &payload {
                record = record.payload(payload);
            }
            let delivery = producer.send_result(record).unwrap();
            pending.push((
                delivery,
                Sent {
                    key,
                    payload,
                    headers,
                    order,
                },
            ));
        }
    }
    let mut sent = BTreeMap::new();
    for (delivery, record) in pending {
        let delivered = delivery.await.unwrap().unwrap();
        sent.insert((delivered.partition, delivered.offset), record);
    }
    sent
}

/// Every record of the dead-letter topic, read with a raw client.
fn read_dead_letters(cluster: &TestCluster, expected: usize) -> Vec<Sent> {
    let consumer: BaseConsumer = cluster
        .plaintext_config()
        .set("group.id", kafka_utils_tests::unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["dlq.orders.dlq"]).unwrap();
    let mut letters = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while letters.len() < expected && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let headers = kafka_utils_tests::owned_headers(&message);
        letters.push(Sent {
            key: message.key().unwrap_or_default().to_vec(),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            order: None,
        });
    }
    // Nothing beyond what was expected.
    assert!(consumer.poll(Duration::from_secs(1)).is_none());
    letters
}

#[tokio::test]
async fn poison_failing_and_panicking_records_go_to_the_dead_letter_topic() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("dlq.orders", 3).await;
    cluster.recreate_topic("dlq.orders.dlq", 1).await;
    // The handler's planned panics are caught by the app; keep them out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        if !panic.to_string().contains("is poison") {
            default_hook(panic);
        }
    }));
    let sent = produce(cluster).await;
    let partitions: BTreeSet<i32> = sent.keys().map(|(p, _)| *p).collect();
    assert!(partitions.len() >= 2, "the keys spread over {partitions:?}");
    let bad: BTreeSet<(i32, i64)> = sent
        .iter()
        .filter(|(_, s)| !matches!(s.order, Some((_, _, Act::Take | Act::Flaky))))
        .map(|(at, _)| *at)
        .collect();
    let good = sent.len() - bad.len();

    // (producer, seq) in the order handled, and the attempts of the flaky ones.
    let handled: Arc<Mutex<Vec<(u32, u64)>>> = Arc::default();
    let tried: Arc<Mutex<HashMap<(u32, u64), u32>>> = Arc::default();
    let metrics = Metrics::new();
    let (log, attempts) = (Arc::clone(&handled), Arc::clone(&tried));
    let app = App::<users::Service>::new(&cluster.settings())
        .unwrap()
        .metrics(&metrics)
        .retry(Retry::new(3, Duration::from_millis(5)))
        .handle(topics::Orders, move |order: Order, _: Context<_>| {
            let (log, attempts) = (Arc::clone(&log), Arc::clone(&attempts));
            async move {
                let tries = {
                    let mut attempts = attempts.lock().unwrap();
                    let n = attempts.entry((order.producer, order.seq)).or_insert(0);
                    *n += 1;
                    *n
                };
                match order.act {
                    Act::Fail => return Err(format!("order {} refused", order.seq)),
                    Act::Panic => panic!("order {} is poison", order.seq),
                    Act::Flaky if tries == 1 => return Err("try again".to_string()),
                    _ => {}
                }
                log.lock().unwrap().push((order.producer, order.seq));
                Ok(())
            }
        });
    let (progress, bad_count) = (metrics.clone(), bad.len());
    let done = async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let snapshot = progress.snapshot();
            let count = |what: &str| {
                snapshot["topics"]["dlq.orders"][what]
                    .as_f64()
                    .unwrap_or(0.0)
            };
            if count("handled") as usize >= good && count("dead_lettered") as usize >= bad_count {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "stuck: {snapshot:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    app.run_until(done)
        .await
        .expect("the app keeps running through poison");

    // The checker: lost, duplicated, reordered (per producer, i.e. per key).
    let handled = handled.lock().unwrap().clone();
    let expected: BTreeSet<(u32, u64)> = sent
        .values()
        .filter_map(|s| s.order)
        .filter(|(_, _, act)| matches!(act, Act::Take | Act::Flaky))
        .map(|(p, seq, _)| (p, seq))
        .collect();
    let unique: BTreeSet<(u32, u64)> = handled.iter().copied().collect();
    let lost = expected.difference(&unique).count();
    let duplicated = handled.len() - unique.len();
    let mut last: HashMap<u32, u64> = HashMap::new();
    let mut reordered = 0;
    for (producer, seq) in &handled {
        if last
            .insert(*producer, *seq)
            .is_some_and(|before| before > *seq)
        {
            reordered += 1;
        }
    }
    println!(
        "checker: {} handled, {} dead-lettered; lost {lost}, duplicated {duplicated}, reordered {reordered}",
        handled.len(),
        bad.len()
    );
    assert_eq!((lost, duplicated, reordered), (0, 0, 0));
    assert_eq!(unique.len(), good);
    // Flaky records took two attempts; failing and panicking ones three.
    let tried = tried.lock().unwrap().clone();
    for s in sent.values() {
        if let Some((p, seq, act)) = s.order {
            let want = match act {
                Act::Take => 1,
                Act::Flaky => 2,
                Act::Fail | Act::Panic => 3,
            };
            assert_eq!(tried.get(&(p, seq)), Some(&want), "{act:?} {p}/{seq}");
        }
    }

    // Each bad record once in the dead-letter topic: its key, payload and headers as
    // sent, then the headers that say where it came from and why.
    let letters = read_dead_letters(cluster, bad.len());
    assert_eq!(letters.len(), bad.len());
    let mut seen = BTreeSet::new();
    for letter in &letters {
        let info = DeadLetterInfo::from_headers(&letter.headers).expect("dead-letter headers");
        assert_eq!(
            (info.topic.as_str(), info.group.as_str()),
            ("dlq.orders", "dlq-service")
        );
        assert!(
            seen.insert((info.partition, info.offset)),
            "twice: {info:?}"
        );
        let original = &sent[&(info.partition, info.offset)];
        assert_eq!(letter.key, original.key);
        assert_eq!(letter.payload, original.payload, "{info:?}");
        assert_eq!(letter.headers[..2], original.headers[..], "{info:?}");
        assert!(info.timestamp.is_some() && info.time >= info.timestamp.unwrap());
        let (reason, attempts) = match original.order {
            None => (Reason::Decode, 0),
            Some((_, _, Act::Panic)) => (Reason::Panic, 3),
            Some(_) => (Reason::Handler, 3),
        };
        assert_eq!((info.reason, info.attempts), (reason, attempts), "{info:?}");
        match reason {
            Reason::Panic => assert!(info.error.contains("panicked: order"), "{}", info.error),
            Reason::Handler => assert!(info.error.contains("refused"), "{}", info.error),
            Reason::Decode => assert!(
                info.error.starts_with("decoding the record"),
                "{}",
                info.error
            ),
            other => panic!("no {other} dead letters here: {info:?}"),
        }
    }
    assert_eq!(seen, bad);

    // Everything committed: a restarted app would start at the end.
    for partition in 0..3 {
        let end = sent.keys().filter(|(p, _)| *p == partition).count() as i64;
        assert_eq!(
            cluster.committed_offset("dlq-service", "dlq.orders", partition),
            (end > 0).then_some(end),
            "partition {partition}"
        );
    }
    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot["topics"]["dlq.orders"]["dead_lettered"],
        bad.len() as f64
    );
}
