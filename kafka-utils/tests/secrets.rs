//! No secret prints: a librdkafka property that holds one, set through
//! `Settings::with_client_property`, never appears in `Debug` of the settings, in an error,
//! or in the log, for every property librdkafka marks sensitive (`_RK_SENSITIVE` in its
//! `rdkafka_conf.c`) and for every name that ends like a secret's. An error about a property
//! names the property, never its value, whatever the property.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::health::HealthCheck;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "secrets.events", message = String)]
    Events,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "keeper")]
    Keeper,
}

permissions! { Users::Keeper => { Topics::Events => [Read, Write, AutoCommitOffset] } }

/// Every property librdkafka 2.12 marks `_RK_SENSITIVE`.
const LIBRDKAFKA_SENSITIVE: &[&str] = &[
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "sasl.password",
    "sasl.username",
    "ssl.ca.pem",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl_key",
];

/// Names that are secrets by their ending (`password`, `secret`, `.pem`, `key`,
/// `jaas.config`), librdkafka's or not (an unknown one fails the client, and the error
/// must not show the value either).
const BY_ENDING: &[&str] = &[
    "ssl.truststore.password",
    "my.vault.secret",
    "ssl.certificate.pem",
    "my.api.key",
    "sasl.jaas.config",
    "SSL.KEY.PASSWORD",
];

/// Everything written to the log by any thread of this test binary.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .init();
        log
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&log().lock().unwrap()).into_owned()
}

/// Makes every kind of client from `settings`, for their errors and their log lines.
async fn every_client(settings: &Settings) -> Vec<String> {
    let mut errors = Vec::new();
    match Producer::<users::Keeper>::new(settings) {
        Ok(producer) => {
            let _ = producer.send(topics::Events, &"x".to_string()).await;
            let _ = producer.flush(std::time::Duration::from_millis(200)).await;
        }
        Err(e) => errors.push(format!("{e} / {e:?}")),
    }
    match Consumer::<users::Keeper, String>::builder(settings)
        .topic(topics::Events)
        .build()
    {
        Ok(consumer) => {
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(200), consumer.recv()).await;
        }
        Err(e) => errors.push(format!("{e} / {e:?}")),
    }
    if let Err(e) = HealthCheck::new(settings, &TOPOLOGY) {
        errors.push(format!("{e} / {e:?}"));
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sensitive_property_prints_anywhere() {
    log();
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("secrets.events", 1).unwrap();
    for (n, name) in LIBRDKAFKA_SENSITIVE.iter().chain(BY_ENDING).enumerate() {
        let marker = format!("S3CR3T-{n}-VALUE");
        let settings = Settings::new(cluster.bootstrap_servers())
            .with_service_name("keeper")
            .with_client_property(*name, marker.clone());
        let debug = format!("{settings:?}");
        assert!(!debug.contains(&marker), "Debug shows {name}: {debug}");
        assert!(debug.contains(name), "Debug does not name {name}: {debug}");
        for error in every_client(&settings).await {
            assert!(!error.contains(&marker), "an error shows {name}: {error}");
        }
    }
    let log = logged();
    for n in 0..LIBRDKAFKA_SENSITIVE.len() + BY_ENDING.len() {
        let marker = format!("S3CR3T-{n}-VALUE");
        assert!(!log.contains(&marker), "the log shows {marker}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_about_a_property_names_it_and_never_its_value() {
    log();
    let cluster = EmbeddedCluster::start(1).unwrap();
    // A mistyped name, and a value librdkafka refuses: neither error may hold the value.
    for (name, value) in [
        ("sasl.pasword", "hunter2-typo"),
        ("session.timeout.ms", "hunter2-not-a-number"),
        ("compression.codec", "hunter2-no-such-codec"),
    ] {
        let settings = Settings::new(cluster.bootstrap_servers()).with_client_property(name, value);
        let errors = every_client(&settings).await;
        assert!(!errors.is_empty(), "`{name}={value}` was accepted");
        for error in errors {
            assert!(
                !error.contains("hunter2"),
                "the error shows the value: {error}"
            );
            assert!(
                error.contains(name),
                "the error does not name `{name}`: {error}"
            );
        }
    }
    assert!(!logged().contains("hunter2"), "{}", logged());
}
