//! Proof that the broker under test is a real Kafka broker with real security:
//! messages go through it, SASL and TLS logins are checked, and ACLs are enforced.

use std::time::Duration;

use futures::StreamExt;
use kafka_utils_tests::{
    Mechanism, RecordingContext, TestCluster, TestUser, Transport, unique_name,
};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, FutureProducer, FutureRecord};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `count` keyed messages to `topic` and returns (partition, offset) of each.
async fn produce(config: &ClientConfig, topic: &str, count: usize) -> Vec<(i32, i64)> {
    let producer: FutureProducer = config
        .clone()
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "20000")
        .create()
        .expect("producer");
    let sends = (0..count).map(|i| {
        let producer = &producer;
        async move {
            let key = format!("key-{i}");
            let payload = format!("message {i}");
            let headers = OwnedHeaders::new().insert(Header {
                key: "seq",
                value: Some(i.to_string().as_bytes()),
            });
            let record = FutureRecord::to(topic)
                .key(&key)
                .payload(&payload)
                .headers(headers);
            producer
                .send(record, TIMEOUT)
                .await
                .map(|d| (d.partition, d.offset))
                .map_err(|(e, _)| e)
        }
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("producing to `{topic}` failed: {e}"))
}

/// Reads `count` messages of `topic` from the beginning, in a new group.
async fn consume(config: &ClientConfig, topic: &str, count: usize) -> Vec<(String, String, usize)> {
    let consumer: StreamConsumer = config
        .clone()
        .set("group.id", unique_name("smoke-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut stream = consumer.stream();
    let mut got = Vec::new();
    while got.len() < count {
        let message = tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no message from `{topic}` within {TIMEOUT:?}; got {got:?}"))
            .expect("stream ended")
            .unwrap_or_else(|e| panic!("consuming `{topic}` failed: {e}"));
        let key = String::from_utf8(message.key().expect("key").to_vec()).expect("utf-8 key");
        let payload =
            String::from_utf8(message.payload().expect("payload").to_vec()).expect("utf-8");
        let headers = message.headers().expect("headers");
        let seq = headers.iter().find(|h| h.key == "seq").expect("seq header");
        let seq = std::str::from_utf8(seq.value.expect("seq value"))
            .expect("utf-8")
            .parse()
            .expect("number");
        got.push((key, payload, seq));
    }
    got.sort_by_key(|m| m.2);
    got
}

fn assert_round_trip(got: &[(String, String, usize)], count: usize) {
    assert_eq!(got.len(), count);
    for (i, (key, payload, seq)) in got.iter().enumerate() {
        assert_eq!(*seq, i);
        assert_eq!(key, &format!("key-{i}"));
        assert_eq!(payload, &format!("message {i}"));
    }
}

#[tokio::test]
async fn plaintext_listener_produces_and_consumes() {
    let cluster = TestCluster::get();
    let topic = unique_name("smoke.plaintext");
    cluster.create_topic(&topic, 3).await;
    let config = cluster.plaintext_config();

    let delivered = produce(&config, &topic, 50).await;
    assert!(delivered.iter().all(|(p, o)| (0..3).contains(p) && *o >= 0));
    let got = consume(&config, &topic, 50).await;
    assert_round_trip(&got, 50);
}

/// Logs in with `mechanism` over `transport`: right password works, wrong one is refused.
fn assert_login(transport: Transport, mechanism: Mechanism) {
    let cluster = TestCluster::get();
    let alice = TestUser::alice();
    let consumer: BaseConsumer = cluster
        .sasl_config(transport, mechanism, &alice)
        .create()
        .expect("client");
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .unwrap_or_else(|e| panic!("{mechanism:?} over {transport:?} as alice: {e}"));
    assert_eq!(metadata.brokers().len(), 1);

    let wrong = TestUser {
        password: "not-the-password".into(),
        ..alice
    };
    let consumer: BaseProducer<RecordingContext> = cluster
        .sasl_config(transport, mechanism, &wrong)
        .create_with_context(RecordingContext::default())
        .expect("client");
    let reason = RecordingContext::wait_for_error(&consumer, TIMEOUT, |e, _| {
        e.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication)
    })
    .unwrap_or_else(|errors| {
        panic!("{mechanism:?} over {transport:?}: a wrong password was not refused: {errors:?}")
    });
    assert!(reason.contains("Authentication failed"), "{reason}");
}

#[test]
fn sasl_plain_over_plaintext_checks_the_password() {
    assert_login(Transport::Plaintext, Mechanism::Plain);
}

#[test]
fn sasl_scram_sha_512_over_plaintext_checks_the_password() {
    assert_login(Transport::Plaintext, Mechanism::ScramSha512);
}

#[test]
fn sasl_scram_sha_256_over_plaintext_checks_the_password() {
    assert_login(Transport::Plaintext, Mechanism::ScramSha256);
}

#[test]
fn sasl_plain_over_tls_checks_the_password() {
    assert_login(Transport::Tls, Mechanism::Plain);
}

#[test]
fn sasl_scram_sha_512_over_tls_checks_the_password() {
    assert_login(Transport::Tls, Mechanism::ScramSha512);
}

#[test]
fn tls_without_the_test_ca_is_refused() {
    let cluster = TestCluster::get();
    let mut config = cluster.sasl_config(Transport::Tls, Mechanism::Plain, &TestUser::alice());
    // The system's trust store does not know the test CA: the handshake must fail.
    config.set("ssl.ca.location", "probe");
    let consumer: BaseProducer<RecordingContext> = config
        .create_with_context(RecordingContext::default())
        .expect("client");
    let reason = RecordingContext::wait_for_error(&consumer, TIMEOUT, |_, reason| {
        reason.contains("certificate verify failed")
    })
    .unwrap_or_else(|errors| panic!("an unverified broker was not refused: {errors:?}"));
    assert!(reason.contains("SSL handshake failed"), "{reason}");
}

#[test]
fn mutual_tls_needs_a_client_certificate() {
    let cluster = TestCluster::get();
    let consumer: BaseConsumer = cluster
        .mtls_config(&TestUser::bob())
        .create()
        .expect("client");
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .expect("bob's certificate is accepted");
    assert_eq!(metadata.brokers().len(), 1);

    let mut config = cluster.mtls_config(&TestUser::bob());
    config
        .remove("ssl.certificate.location")
        .remove("ssl.key.location");
    let consumer: BaseProducer<RecordingContext> = config
        .create_with_context(RecordingContext::default())
        .expect("client");
    // The broker ends the handshake with a `bad certificate` alert.
    RecordingContext::wait_for_error(&consumer, TIMEOUT, |_, reason| {
        reason.contains("bad certificate")
    })
    .unwrap_or_else(|errors| panic!("a client without certificate was not refused: {errors:?}"));
}

#[tokio::test]
async fn a_user_without_acl_is_denied_and_admin_is_allowed() {
    let cluster = TestCluster::get();
    let topic = unique_name("smoke.acl");
    cluster.create_topic(&topic, 1).await;

    // carol has no ACL at all: the broker refuses her write on the topic.
    let carol = cluster.sasl_config(
        Transport::Plaintext,
        Mechanism::ScramSha512,
        &TestUser::carol(),
    );
    let producer: FutureProducer = carol
        .clone()
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer");
    let err = producer
        .send(FutureRecord::to(&topic).key("k").payload("denied"), TIMEOUT)
        .await
        .expect_err("carol has no Write ACL");
    assert_eq!(
        err.0.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{:?}",
        err.0
    );

    // Nor may she read it (she lacks Describe too, so the topic is hidden from her).
    let consumer: BaseConsumer = carol.create().expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(&topic), TIMEOUT)
        .expect("metadata request itself is allowed");
    let error = metadata.topics()[0].error();
    assert_eq!(
        error.map(RDKafkaErrorCode::from),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );

    // admin, a super user, logs in over SASL_SSL and may write and read it.
    let admin = cluster.sasl_config(Transport::Tls, Mechanism::ScramSha512, &TestUser::admin());
    produce(&admin, &topic, 5).await;
    let got = consume(&admin, &topic, 5).await;
    assert_round_trip(&got, 5);
}
