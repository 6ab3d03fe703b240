//! The default profile sends a record at once when none of the producer's records is in
//! flight, whatever `linger.ms` says (see `producer/kick.rs`); `throughput` holds it for
//! `linger.ms` as librdkafka does. A `linger.ms` of 2 s makes the difference plain.

use std::time::{Duration, Instant};

use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::settings::Profile;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "idle.replies", message = String)]
    Replies,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "replier")]
    Replier,
}

permissions! { Users::Replier => { Topics::Replies => [Write] } }

const LINGER: Duration = Duration::from_secs(2);

/// How long each of three records sent one after another, each alone, took to be
/// acknowledged by a producer at `profile` with a `linger.ms` of [`LINGER`].
async fn lone_records(profile: Profile) -> Vec<Duration> {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("idle.replies", 1).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_profile(profile)
        .with_client_property("linger.ms", LINGER.as_millis().to_string());
    let producer = Producer::<users::Replier>::new(&settings).unwrap();
    // The first send also fetches the topic's metadata: not what is measured.
    producer
        .send(topics::Replies, &"warm-up".to_string())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut took = Vec::new();
    for i in 0..3 {
        let started = Instant::now();
        let delivery = producer
            .send(topics::Replies, &format!("reply {i}"))
            .await
            .unwrap();
        delivery.await.unwrap();
        took.push(started.elapsed());
    }
    producer.close().await.unwrap();
    took
}

#[tokio::test]
async fn the_default_profile_sends_a_lone_record_without_waiting_for_linger() {
    let took = lone_records(Profile::Balanced).await;
    assert!(
        took.iter().all(|t| *t < LINGER / 2),
        "each lone record should leave at once, not after linger.ms ({LINGER:?}): {took:?}"
    );
}

#[tokio::test]
async fn the_throughput_profile_holds_a_lone_record_for_linger() {
    let took = lone_records(Profile::Throughput).await;
    assert!(
        took.iter().all(|t| *t >= LINGER / 2),
        "each lone record should wait out linger.ms ({LINGER:?}): {took:?}"
    );
}
