//! A password rotated without a restart, on the real broker: a service reads its password
//! from `KAFKA_PASSWORD_FILE`; an operator changes the user's SCRAM password through the
//! admin API, then rewrites the file. The running producer and app go on, nothing lost: the
//! broker's SASL listener makes every connection log in again every 5 s
//! (`connections.max.reauth.ms`, see `broker/kafka.sh`), those logins are refused until the
//! file changes (not final: a refused login lasting less than 10 s ends nothing), and once
//! the clients read the new password from the file, their logins succeed again.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_utils::acl;
use kafka_utils::app::{App, Context};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::scram;
use kafka_utils::settings::{SaslMechanism, Secret, Settings};
use kafka_utils_tests::TestCluster;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "rotation.events", message = u64, partitions = 1)]
    Events,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "rotator", groups = ["rotator"])]
    Rotator,
}

permissions! { Users::Rotator => { Topics::Events => [Read, Write, AutoCommitOffset] } }

const RECORDS: u64 = 1_600;

/// Sets rotator's SCRAM-SHA-512 password on the broker, as the super user.
async fn set_password(password: &str) {
    let admin = TestCluster::get().settings();
    let password = Secret::new(password.to_string());
    tokio::task::spawn_blocking(move || {
        let admin = acl::admin_client(&admin)?;
        scram::set_password(
            &admin,
            "rotator",
            SaslMechanism::ScramSha512,
            &password,
            Duration::from_secs(30),
        )
    })
    .await
    .unwrap()
    .expect("the admin sets the password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_rotated_through_its_file_keeps_the_service_going() {
    let cluster = TestCluster::get();
    cluster.recreate_topic("rotation.events", 1).await;
    set_password("rotator-first").await;
    let admin = cluster.settings();
    tokio::task::spawn_blocking(move || {
        let admin = acl::admin_client(&admin)?;
        acl::create_acls(&admin, &TOPOLOGY.acl_bindings(), Duration::from_secs(30))
    })
    .await
    .unwrap()
    .expect("the admin creates rotator's ACLs");

    let dir = std::env::temp_dir().join(format!("ku-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("kafka-password");
    std::fs::write(&file, "rotator-first\n").unwrap();
    let env: HashMap<&str, String> = [
        (
            "KAFKA_BOOTSTRAP_SERVERS",
            cluster.sasl_plaintext.clone().expect("the SASL listener"),
        ),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT".into()),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
        ("KAFKA_USERNAME", "rotator".into()),
        ("KAFKA_PASSWORD_FILE", file.to_string_lossy().into_owned()),
        ("SERVICE_NAME", "rotator".into()),
    ]
    .into();
    let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
    assert!(!format!("{settings:?}").contains("rotator-first"));

    let handled = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = Arc::clone(&handled);
    let app = App::<users::Rotator>::new(&settings).unwrap().handle(
        topics::Events,
        move |n: u64, _: Context<_>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().insert(n);
                Ok::<(), String>(())
            }
        },
    );
    let (stop_app, app_stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = app_stopped.await;
    }));

    let producer = Producer::<users::Rotator>::new(&settings).unwrap();
    let started = Instant::now();
    let rotation = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        set_password("rotator-second").await;
        println!("{:?}: the broker has the new password", started.elapsed());
        // The operator updates the mounted secret a little later.
        tokio::time::sleep(Duration::from_secs(2)).await;
        std::fs::write(&file, "rotator-second\n").unwrap();
        println!("{:?}: the file has the new password", started.elapsed());
    };
    let production = async {
        let mut pending = FuturesUnordered::new();
        let (mut acked, mut failed) = (BTreeSet::new(), Vec::new());
        for n in 0..RECORDS {
            match producer.send(topics::Events, &n).await {
                Ok(delivery) => pending.push(async move { (n, delivery.await) }),
                Err(e) => failed.push((n, e.to_string())),
            }
            // Over 16 s: through the rotation and well past it.
            tokio::time::sleep(Duration::from_millis(10)).await;
            while let Some(Some((n, outcome))) = pending.next().now_or_never() {
                match outcome {
                    Ok(_) => acked.insert(n),
                    Err(e) => {
                        failed.push((n, e.to_string()));
                        false
                    }
                };
            }
        }
        while let Some((n, outcome)) = pending.next().await {
            match outcome {
                Ok(_) => acked.insert(n),
                Err(e) => {
                    failed.push((n, e.to_string()));
                    false
                }
            };
        }
        (acked, failed)
    };
    let ((acked, failed), ()) = tokio::join!(production, rotation);
    println!(
        "{:?}: {} acknowledged, {} failed",
        started.elapsed(),
        acked.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "sends failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    assert_eq!(acked.len() as u64, RECORDS);
    let deadline = Instant::now() + Duration::from_secs(60);
    while handled.lock().unwrap().len() < acked.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} handled",
            handled.lock().unwrap().len(),
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_app.send(());
    running.await.unwrap().expect("the app ran to its stop");
    producer.close().await.unwrap();
    // The old password is refused now, the new one taken: the rotation really happened.
    let mut stale = settings.clone();
    stale.password = Some(Secret::new("rotator-first".into()));
    let old = Producer::<users::Rotator>::new(&stale).unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(20), async {
        old.send(topics::Events, &0).await?.await
    })
    .await
    .expect("answered");
    assert!(
        matches!(refused, Err(kafka_utils::Error::Refused { .. })),
        "{refused:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

use futures::FutureExt as _;
