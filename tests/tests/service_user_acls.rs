//! The service runs as its own user over SASL (PLAIN and SCRAM-SHA-512, on SASL_PLAINTEXT and
//! on SASL_SSL with KAFKA_SSL_CAFILE), with only the ACLs its grants imply, and produces and
//! consumes; without an ACL the broker refuses it.

use std::time::Duration;

use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils_tests::{Mechanism, TestCluster, TestUser, Transport};
use rdkafka::types::RDKafkaErrorCode;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "acl.requests", message = String, partitions = 1)]
    Requests,
    /// Declared and granted, but its ACLs are never created (see `UNPROVISIONED`).
    #[topic(name = "acl.unprovisioned", message = String, partitions = 1)]
    Unprovisioned,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "alice", groups = ["alice-group"])]
    Alice,
}

permissions! {
    Users::Alice => { Topics::Requests => [Read, Write, AutoCommitOffset] },
}

mod unprovisioned {
    use super::*;
    permissions! {
        static UNPROVISIONED;
        Users::Alice => { Topics::Unprovisioned => [Write] },
    }
}

const TIMEOUT: Duration = Duration::from_secs(60);

async fn provision() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("acl.requests", 1).await;
    cluster.recreate_topic("acl.unprovisioned", 1).await;
    let acls = TOPOLOGY.acl_bindings();
    // Topic READ, WRITE, DESCRIBE on acl.requests; group READ, DESCRIBE on alice-group.
    assert_eq!(acls.len(), 5);
    let settings = cluster.settings();
    tokio::task::spawn_blocking(move || {
        let admin = kafka_utils::acl::admin_client(&settings)?;
        kafka_utils::acl::create_acls(&admin, &acls, TIMEOUT)
    })
    .await
    .unwrap()
    .expect("the admin creates the ACLs");
}

async fn round_trip(settings: &Settings, label: &str) {
    let producer = Producer::<users::Alice>::new(settings).unwrap();
    let mut pending = Vec::new();
    for i in 0..5 {
        let text = format!("{label} {i}");
        pending.push(producer.send(topics::Requests, &text).await.unwrap());
    }
    for delivery in pending {
        delivery
            .await
            .unwrap_or_else(|e| panic!("{label}: alice's write was refused: {e}"));
    }
    producer.close().await.unwrap();

    // The group continues where the previous login left it: exactly these five.
    let consumer = Consumer::<users::Alice, String>::builder(settings)
        .group("alice-group")
        .topic(topics::Requests)
        .build()
        .unwrap();
    for i in 0..5 {
        let received = tokio::time::timeout(TIMEOUT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{label}: nothing received"))
            .unwrap_or_else(|e| panic!("{label}: alice's read was refused: {e}"));
        assert_eq!(received.value, format!("{label} {i}"));
        consumer.ack(&received).unwrap();
    }
    consumer
        .close()
        .await
        .unwrap_or_else(|e| panic!("{label}: alice's commit was refused: {e}"));
}

#[tokio::test]
async fn the_service_user_works_with_exactly_its_acls_over_every_sasl_login() {
    provision().await;
    let cluster = TestCluster::get();
    let alice = TestUser::alice();
    for (transport, mechanism) in [
        (Transport::Plaintext, Mechanism::Plain),
        (Transport::Plaintext, Mechanism::ScramSha512),
        (Transport::Tls, Mechanism::Plain),
        (Transport::Tls, Mechanism::ScramSha512),
    ] {
        let settings = cluster.sasl_settings(transport, mechanism, &alice);
        round_trip(&settings, &format!("{transport:?}/{mechanism:?}")).await;
    }

    // The same from environment variables, as a deployed service reads them.
    let ca = cluster.ca_file().to_string_lossy().to_string();
    let env = [
        ("KAFKA_BOOTSTRAP_SERVERS", cluster.sasl_ssl.clone().unwrap()),
        ("SERVICE_NAME", "alice".to_string()),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL".to_string()),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".to_string()),
        ("KAFKA_USERNAME", "alice".to_string()),
        ("KAFKA_PASSWORD", alice.password.clone()),
        ("KAFKA_SSL_CAFILE", ca),
    ];
    let settings =
        Settings::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
            .unwrap();
    assert!(matches!(settings.service_user::<Users>(), Ok(Users::Alice)));
    round_trip(&settings, "env").await;
    assert_eq!(
        cluster.committed_offset("alice-group", "acl.requests", 0),
        Some(25)
    );

    // A grant whose ACLs were not provisioned: the broker refuses the write.
    let settings = cluster.sasl_settings(Transport::Tls, Mechanism::ScramSha512, &alice);
    let producer = Producer::<users::Alice>::new(
        &settings.with_client_property("message.timeout.ms", "10000"),
    )
    .unwrap();
    let err = producer
        .send(topics::Unprovisioned, &"refused".to_string())
        .await
        .unwrap()
        .await
        .expect_err("no ACL, no write");
    match &err {
        kafka_utils::Error::Kafka { source, .. } => assert_eq!(
            source.rdkafka_error_code(),
            Some(RDKafkaErrorCode::TopicAuthorizationFailed),
            "{err}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("acl.unprovisioned"), "{err}");
    assert_eq!(unprovisioned::UNPROVISIONED.grants.len(), 1);
}
