//! A record the standalone consumer cannot decode is never committed past by accident: the
//! partition's later records wait until someone decides about it (acknowledges it on
//! purpose, or sends it to the dead letter), while other partitions flow. On the embedded
//! cluster.

use std::time::{Duration, Instant};

use kafka_utils::Error;
use kafka_utils::consumer::{Consumer, Received};
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "letters", message = String, partitions = 2, dead_letter = LettersDlq)]
    Letters,
    #[topic(name = "letters.dlq", message = String)]
    LettersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "reader", groups = ["readers"])]
    Reader,
}

permissions! {
    Users::Reader => {
        Topics::Letters => [Read, Write, AutoCommitOffset],
        Topics::LettersDlq => [Read, Write, AutoCommitOffset],
    },
}

/// The five records of the issue: `a`, `b`, `{not json`, `d`, `e`, as JSON strings but one.
const PAYLOADS: [&str; 5] = ["\"a\"", "\"b\"", "{not json", "\"d\"", "\"e\""];

struct Setup {
    _cluster: EmbeddedCluster,
    settings: Settings,
}

fn setup(partitions: i32) -> Setup {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("letters", partitions).unwrap();
    cluster.create_topic("letters.dlq", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_auto_commit(false)
        .with_client_property("session.timeout.ms", "6000");
    Setup {
        _cluster: cluster,
        settings,
    }
}

/// Writes `payloads` to partition `partition` of `letters`, in order.
fn write(settings: &Settings, partition: i32, payloads: &[&str]) {
    let producer: BaseProducer = settings.producer_config().unwrap().create().unwrap();
    for payload in payloads {
        producer
            .send(
                BaseRecord::<(), str>::to("letters")
                    .partition(partition)
                    .payload(*payload),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn consumer(settings: &Settings) -> Consumer<users::Reader, String> {
    Consumer::<users::Reader, String>::builder(settings)
        .group("readers")
        .topic(topics::Letters)
        .build()
        .unwrap()
}

/// How long joining the group may take (the embedded cluster waits 3 s for more members).
const JOIN: Duration = Duration::from_secs(15);

/// What a user's loop sees: `recv_batch` until a call brings nothing for `quiet`, acking
/// every record it receives; the offsets received and the offsets that came as errors.
async fn receive_and_ack_all(
    consumer: &Consumer<users::Reader, String>,
    quiet: Duration,
) -> (Vec<(i32, i64)>, Vec<Error>) {
    let (mut received, mut errors) = (Vec::new(), Vec::new());
    // The first call also waits for the group's join.
    let mut wait = JOIN;
    while let Ok(batch) = tokio::time::timeout(wait, consumer.recv_batch()).await {
        wait = quiet;
        match batch {
            Ok(batch) => {
                for record in &batch {
                    consumer.ack(record).unwrap();
                    received.push((record.partition, record.offset));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (received, errors)
}

/// The first thing a new member of the group receives, within `within`.
async fn first_received(
    settings: &Settings,
    within: Duration,
) -> Option<Result<Received<String>, Error>> {
    let next = consumer(settings);
    let first = tokio::time::timeout(within, next.recv()).await.ok();
    next.close().await.unwrap();
    first
}

#[tokio::test]
async fn a_record_nobody_decided_about_is_received_again_by_the_next_member() {
    let setup = setup(1);
    write(&setup.settings, 0, &PAYLOADS);
    let first = consumer(&setup.settings);
    let (received, errors) = receive_and_ack_all(&first, Duration::from_secs(3)).await;
    assert!(received.starts_with(&[(0, 0), (0, 1)]), "{received:?}");
    assert!(
        matches!(errors.as_slice(), [Error::Decode { offset: 2, .. }]),
        "{errors:?}"
    );
    first.commit().await.unwrap();
    first.close().await.unwrap();

    // Nobody acknowledged offset 2: the next member starts there.
    let again = first_received(&setup.settings, Duration::from_secs(15)).await;
    match again {
        Some(Err(Error::Decode {
            partition: 0,
            offset: 2,
            ..
        })) => {}
        other => panic!("the next member did not start at the undecided record: {other:?}"),
    }
}

#[tokio::test]
async fn closing_or_dropping_with_records_carried_ends_promptly() {
    // A decode error inside a batch leaves the records after it taken from librdkafka and
    // kept by the consumer; they must be destroyed before the librdkafka handle.
    for close in [true, false] {
        let setup = setup(1);
        write(&setup.settings, 0, &PAYLOADS);
        let carrying = consumer(&setup.settings);
        let batch = tokio::time::timeout(Duration::from_secs(15), carrying.recv_batch())
            .await
            .expect("a batch")
            .expect("records before the bad one");
        assert_eq!(batch.len(), 2, "{batch:?}");
        let started = Instant::now();
        // A thread of its own: a hang fails the test instead of hanging the runtime.
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if close {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(carrying.close()).unwrap();
            } else {
                drop(carrying);
            }
            let _ = done.send(());
        });
        ended
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("close={close}: still closing after 20 s"));
        println!("close={close}: ended in {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn skipping_the_undecodable_record_on_purpose_lets_its_partition_go_on() {
    let setup = setup(1);
    write(&setup.settings, 0, &PAYLOADS);
    let first = consumer(&setup.settings);
    let (received, errors) = receive_and_ack_all(&first, Duration::from_secs(2)).await;
    assert_eq!(received, [(0, 0), (0, 1)]);
    let [error] = errors.as_slice() else {
        panic!("{errors:?}")
    };
    let text = error.to_string();
    assert!(
        text.contains("offset 2") && text.contains("Consumer::skip"),
        "{text}"
    );
    let record = error.record().expect("the record comes with the error");
    assert_eq!(
        (record.topic, record.partition, record.offset),
        ("letters", 0, 2)
    );
    assert_eq!(record.payload.as_deref(), Some(&b"{not json"[..]));
    // Acknowledging a record after it is refused while it waits for a decision.
    let refused = first.ack_offset("letters", 0, 4).unwrap_err().to_string();
    assert!(
        refused.contains("not received") || refused.contains("offset 2"),
        "{refused}"
    );
    first.skip(record).unwrap();
    let (after, errors) = receive_and_ack_all(&first, Duration::from_secs(2)).await;
    assert_eq!(after, [(0, 3), (0, 4)], "{errors:?}");
    first.close().await.unwrap();
    // Everything was decided about: the next member gets nothing.
    assert!(
        first_received(&setup.settings, Duration::from_secs(8))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn the_undecodable_record_goes_to_the_dead_letter_byte_for_byte() {
    let setup = setup(1);
    write(&setup.settings, 0, &PAYLOADS);
    let first = consumer(&setup.settings);
    let (_, errors) = receive_and_ack_all(&first, Duration::from_secs(2)).await;
    let record = errors[0].record().expect("the record").clone();
    let producer = kafka_utils::producer::Producer::<users::Reader>::new(&setup.settings).unwrap();
    first
        .dead_letter(topics::Letters, &record, &producer)
        .await
        .unwrap();
    let (after, _) = receive_and_ack_all(&first, Duration::from_secs(2)).await;
    assert_eq!(after, [(0, 3), (0, 4)]);
    first.close().await.unwrap();

    // Read raw: the dead letter holds the bytes that are not a `String`.
    let raw: rdkafka::consumer::BaseConsumer = setup
        .settings
        .consumer_config("dlq-check")
        .unwrap()
        .create()
        .unwrap();
    use rdkafka::consumer::Consumer as _;
    use rdkafka::message::Message as _;
    raw.subscribe(&["letters.dlq"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let letter = loop {
        if let Some(Ok(message)) = raw.poll(Duration::from_millis(200)) {
            break message.detach();
        }
        assert!(Instant::now() < deadline, "no dead letter within 15 s");
    };
    assert_eq!(letter.payload(), Some(&b"{not json"[..]));
    let headers = kafka_utils::consumer::owned_headers(&letter);
    let info = kafka_utils::dead_letter::DeadLetterInfo::from_headers(&headers).unwrap();
    assert_eq!(
        (info.topic.as_str(), info.partition, info.offset),
        ("letters", 0, 2)
    );
    assert_eq!(info.reason, kafka_utils::dead_letter::Reason::Decode);
    assert_eq!(info.group, "readers");
}

#[tokio::test]
async fn other_partitions_flow_while_one_waits_for_a_decision() {
    let setup = setup(2);
    write(&setup.settings, 0, &PAYLOADS);
    write(&setup.settings, 1, &["\"p\"", "\"q\"", "\"r\""]);
    let first = consumer(&setup.settings);
    let (received, errors) = receive_and_ack_all(&first, Duration::from_secs(2)).await;
    let mut received = received;
    received.sort();
    assert_eq!(received, [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    first.commit().await.unwrap();
    first.close().await.unwrap();
}
