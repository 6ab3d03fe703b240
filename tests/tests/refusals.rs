//! The cluster refusing a user, against the real broker's SASL listener: a wrong password
//! fails a producer, a consumer and an app promptly with an error that says what to check
//! (librdkafka alone would retry for ever); a missing ACL on the topic stops a consumer;
//! a dead letter the broker refuses stops the app with nothing committed.

use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context};
use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils::{Error, acl};
use kafka_utils_tests::{Mechanism, TestCluster, TestUser, Transport};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "refusal.events", message = u64, partitions = 1, dead_letter = EventsDlq)]
    Events,
    #[topic(name = "refusal.events.dlq", message = u64, partitions = 1)]
    EventsDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "alice", groups = ["refusal-alice"])]
    Alice,
    #[user(name = "carol", groups = ["refusal-carol"])]
    Carol,
    #[user(name = "dave", groups = ["refusal-dave"])]
    Dave,
}

permissions! {
    Users::Alice => {
        Topics::Events => [Read, Write, AutoCommitOffset],
        Topics::EventsDlq => [Write],
    },
    Users::Carol => { Topics::Events => [Read, AutoCommitOffset] },
    Users::Dave => { Topics::Events => [Read, AutoCommitOffset] },
}

/// Declared and granted, but never provisioned: the broker will refuse dave's dead letters.
mod unprovisioned {
    use super::*;
    permissions! {
        static UNPROVISIONED;
        Users::Dave => { Topics::EventsDlq => [Write] },
    }
}

/// How soon a refusal must be reported (librdkafka alone: `message.timeout.ms`, 300 s, or never).
const PROMPTLY: Duration = Duration::from_secs(20);

fn settings_of(user: &TestUser) -> Settings {
    TestCluster::get().sasl_settings(Transport::Plaintext, Mechanism::ScramSha512, user)
}

fn wrong_password() -> Settings {
    let mut alice = TestUser::alice();
    alice.password = "not-alice-secret".into();
    settings_of(&alice)
}

fn assert_refused(error: &Error, user: &str, says: &str) {
    let text = error.to_string();
    println!("refused: {text}");
    assert!(
        matches!(error, Error::Refused { user: u, .. } if u == user) && text.contains(says),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_the_producer_promptly() {
    let started = Instant::now();
    let producer = Producer::<users::Alice>::new(&wrong_password()).unwrap();
    let outcome = tokio::time::timeout(PROMPTLY, async {
        producer.send(topics::Events, &1).await?.await
    })
    .await
    .expect("refused within 20 s, not left to time out");
    let error = outcome.expect_err("the broker refused the login");
    assert_refused(&error, "alice", "could not log in");
    assert!(error.to_string().contains("KAFKA_PASSWORD"), "{error}");
    // What is sent afterwards fails at once.
    let again = producer.send(topics::Events, &2).await;
    assert_refused(&again.expect_err("refused"), "alice", "could not log in");
    println!("producer refused after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_wrong_password_stops_the_app_and_the_consumer_promptly() {
    let consumer = Consumer::<users::Alice, u64>::builder(&wrong_password())
        .topic(topics::Events)
        .build()
        .unwrap();
    let received = tokio::time::timeout(PROMPTLY, consumer.recv())
        .await
        .expect("refused within 20 s");
    assert_refused(&received.expect_err("refused"), "alice", "could not log in");

    let app = App::<users::Alice>::new(&wrong_password())
        .unwrap()
        .handle(topics::Events, |_: u64, _: Context<_>| async {
            Ok::<(), Error>(())
        });
    let ran = tokio::time::timeout(PROMPTLY, app.run_until(std::future::pending()))
        .await
        .expect("the app stops within 20 s");
    assert_refused(&ran.expect_err("refused"), "alice", "could not log in");
}

#[tokio::test]
async fn a_consumer_without_its_acls_is_told_so() {
    // carol has no ACL at all (the broker says so whether the topic exists or not).
    let consumer = Consumer::<users::Carol, u64>::builder(&settings_of(&TestUser::carol()))
        .topic(topics::Events)
        .build()
        .unwrap();
    let received = tokio::time::timeout(PROMPTLY, consumer.recv())
        .await
        .expect("refused within 20 s");
    let error = received.expect_err("refused");
    let text = error.to_string();
    println!("refused: {text}");
    assert!(
        matches!(&error, Error::Refused { user, .. } if user == "carol")
            && (text.contains("topic") || text.contains("consumer group"))
            && text.contains("permissions!"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_dead_letter_stops_the_app_with_nothing_committed() {
    let cluster = TestCluster::get();
    cluster.create_topic("refusal.events", 1).await;
    cluster.create_topic("refusal.events.dlq", 1).await;
    // dave may read the topic and commit in his group; the dead-letter ACL is never made.
    let acls: Vec<_> = TOPOLOGY
        .acl_bindings()
        .into_iter()
        .filter(|b| b.principal == "User:dave")
        .collect();
    assert!(!acls.is_empty());
    assert!(
        unprovisioned::UNPROVISIONED
            .acl_bindings()
            .iter()
            .all(|b| !acls.contains(b))
    );
    let admin = cluster.settings();
    tokio::task::spawn_blocking(move || {
        let admin = acl::admin_client(&admin)?;
        acl::create_acls(&admin, &acls, Duration::from_secs(30))
    })
    .await
    .unwrap()
    .expect("the admin creates dave's ACLs");

    // A record that cannot be decoded as a u64, after everything already there.
    let raw: FutureProducer = cluster.plaintext_config().create().unwrap();
    let end = raw
        .send(
            FutureRecord::<(), _>::to("refusal.events").payload("not a number"),
            Duration::from_secs(30),
        )
        .await
        .expect("the poison record is written");
    let group = "refusal-dave";
    let before = cluster.committed_offset(group, "refusal.events", 0);

    let settings = settings_of(&TestUser::dave())
        .with_client_property("message.timeout.ms", "10000")
        .with_client_property("auto.offset.reset", "earliest");
    let app = App::<users::Dave>::new(&settings)
        .unwrap()
        .handle(topics::Events, |_: u64, _: Context<_>| async {
            Ok::<(), Error>(())
        });
    let ran = tokio::time::timeout(
        Duration::from_secs(60),
        app.run_until(std::future::pending()),
    )
    .await
    .expect("the app stops on the refused dead letter");
    let error = ran.expect_err("the dead letter was refused");
    println!("stopped: {error}");
    let Error::DeadLetter {
        dead_letter,
        offset,
        source,
        ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(
        (dead_letter.as_str(), *offset),
        ("refusal.events.dlq", end.offset)
    );
    // The broker refuses the write itself, or, when it answers that first, the idempotent
    // producer's id (dave may write to no topic): either way, a refusal that says so.
    assert!(
        matches!(&**source, Error::Kafka { source, .. }
            if source.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAuthorizationFailed))
            || matches!(&**source, Error::Kafka { source, what }
                if source.rdkafka_error_code()
                    == Some(RDKafkaErrorCode::ClusterAuthorizationFailed)
                    && what.contains("may write to no topic")),
        "{error}"
    );
    // The poison record is not committed: the next run meets it again.
    let after = cluster.committed_offset(group, "refusal.events", 0);
    assert!(
        after.is_none_or(|o| o <= end.offset),
        "{before:?} -> {after:?}"
    );
}

#[tokio::test]
async fn a_producer_without_any_write_grant_is_told_why_it_failed() {
    // dave may write no topic at all (his dead-letter ACL is never made), so the broker
    // refuses his idempotent producer its producer id, and librdkafka fails it for good: the
    // error says what was refused, not only "fatal".
    let producer = Producer::<users::Dave>::new(&settings_of(&TestUser::dave())).unwrap();
    let started = Instant::now();
    let sent = tokio::time::timeout(PROMPTLY, async {
        producer.send(topics::EventsDlq, &1).await?.await
    })
    .await
    .expect("answered");
    assert!(started.elapsed() < PROMPTLY);
    let error = sent.expect_err("dave may not write");
    let text = error.to_string();
    println!("dave's producer: {text}");
    assert!(text.contains("uthorization"), "{text}");
}

mod flipping {
    use super::*;

    #[derive(Debug, KafkaTopics)]
    pub(crate) enum Topics {
        #[topic(name = "refusal.flips", message = u64, partitions = 1)]
        Flips,
    }

    #[derive(Debug, KafkaUsers)]
    pub(crate) enum Users {
        #[user(name = "flipper")]
        Flipper,
    }

    permissions! { static FLIPS; Users::Flipper => { Topics::Flips => [Write] } }
}

/// Sets flipper's SCRAM password through the admin API (no JVM start).
async fn set_password_by_admin(password: &'static str) {
    let admin = TestCluster::get().settings();
    tokio::task::spawn_blocking(move || {
        let admin = acl::admin_client(&admin)?;
        kafka_utils::scram::set_password(
            &admin,
            "flipper",
            kafka_utils::settings::SaslMechanism::ScramSha512,
            &kafka_utils::settings::Secret::new(password.to_string()),
            Duration::from_secs(30),
        )
    })
    .await
    .unwrap()
    .expect("the admin sets flipper's password");
}

#[tokio::test]
async fn a_login_refused_for_a_while_does_not_end_the_producer() {
    use flipping::{FLIPS, topics as flips, users as flippers};
    let cluster = TestCluster::get();
    cluster.recreate_topic("refusal.flips", 1).await;
    tokio::task::spawn_blocking(|| {
        TestCluster::get().set_scram_password_with_kafka_tools("flipper", "flipper-first");
        let admin = acl::admin_client(&TestCluster::get().settings())?;
        acl::create_acls(&admin, &FLIPS.acl_bindings(), Duration::from_secs(30))
    })
    .await
    .unwrap()
    .expect("flipper's password and ACLs");
    let mut flipper = TestUser::alice();
    flipper.name = "flipper";
    flipper.password = "flipper-first".into();
    let producer = Producer::<flippers::Flipper>::new(&settings_of(&flipper)).unwrap();
    producer
        .send(flips::Flips, &0)
        .await
        .unwrap()
        .await
        .unwrap();

    // The broker takes another password: flipper's connections must log in again within 5 s
    // (`connections.max.reauth.ms`) and are refused. Records wait. Set through the admin API,
    // not Kafka's tool (which set the first one): the tool's JVM takes seconds to start and to
    // end, under CI's load long enough to push the refusal past the 10 s a served client is
    // given before `started` is even taken.
    let started = Instant::now();
    set_password_by_admin("flipper-second").await;
    let mut pending = Vec::new();
    let mut n = 1u64;
    let refused = loop {
        let delivery = producer.send(flips::Flips, &n).await.expect("still queued");
        pending.push((Instant::now(), tokio::spawn(delivery)));
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A record unanswered for 1.5 s: the login is refused.
        if let Some((sent, _)) = pending.iter().find(|(sent, task)| {
            !task.is_finished() && sent.elapsed() > Duration::from_millis(1500)
        }) {
            break *sent;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "flipper's login was not refused within 20 s of the new password"
        );
    };
    // Refused for a while (well within the 10 s a served client is given), then the password
    // is back: set through the admin API, which takes no JVM start.
    tokio::time::sleep(Duration::from_secs(2)).await;
    set_password_by_admin("flipper-first").await;
    println!(
        "records waited for {:?} before the password was back, {:?} after it was changed",
        refused.elapsed(),
        started.elapsed()
    );
    let sent = pending.len();
    for (_, delivery) in pending {
        tokio::time::timeout(Duration::from_secs(60), delivery)
            .await
            .expect("answered")
            .unwrap()
            .expect("delivered once the login works again");
    }
    println!("{sent} records sent meanwhile, all delivered");
    producer
        .send(flips::Flips, &61)
        .await
        .unwrap()
        .await
        .unwrap();
}
