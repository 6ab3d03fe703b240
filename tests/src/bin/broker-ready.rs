//! Waits until the broker under test answers metadata requests on every listener it has.
//!
//! `broker/kafka.sh wait` runs this after launching the broker. It exits 0 once the
//! PLAINTEXT listener answers and each configured SASL/TLS listener accepts the `admin`
//! user (or a client certificate), and 1 when `KAFKA_TEST_READY_TIMEOUT_SECS` (default
//! 90) pass first, saying which listener did not answer and with what error.

use std::time::{Duration, Instant};

use kafka_utils_tests::{Mechanism, TestCluster, TestUser, Transport};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn probe(name: &str, mut config: ClientConfig, deadline: Instant) -> Result<Duration, String> {
    let started = Instant::now();
    config
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "250")
        .set("socket.connection.setup.timeout.ms", "2000");
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("{name}: cannot create a client: {e}"))?;
    loop {
        match consumer.fetch_metadata(None, Duration::from_millis(1000)) {
            Ok(metadata) if !metadata.brokers().is_empty() => return Ok(started.elapsed()),
            Ok(_) => {}
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("{name}: no metadata answer: {e}"));
            }
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return Err(format!("{name}: metadata listed no broker"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main() {
    let secs = std::env::var("KAFKA_TEST_READY_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(90);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let cluster = match TestCluster::from_env() {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("broker-ready: {e}");
            std::process::exit(2);
        }
    };
    let admin = TestUser::admin();
    let mut listeners = vec![("PLAINTEXT", cluster.plaintext_config())];
    if cluster.sasl_plaintext.is_some() {
        listeners.push((
            "SASL_PLAINTEXT (SCRAM-SHA-512, admin)",
            cluster.sasl_config(Transport::Plaintext, Mechanism::ScramSha512, &admin),
        ));
    }
    if cluster.sasl_ssl.is_some() && cluster.ca_file.is_some() {
        listeners.push((
            "SASL_SSL (PLAIN, admin)",
            cluster.sasl_config(Transport::Tls, Mechanism::Plain, &admin),
        ));
    }
    if cluster.ssl.is_some() && cluster.client_cert_dir.is_some() {
        listeners.push((
            "SSL (client certificate of alice)",
            cluster.mtls_config(&TestUser::alice()),
        ));
    }
    for (name, config) in listeners {
        match probe(name, config, deadline) {
            Ok(took) => eprintln!(
                "broker-ready: {name} answered after {} ms",
                took.as_millis()
            ),
            Err(e) => {
                eprintln!("broker-ready: {e}");
                std::process::exit(1);
            }
        }
    }
}
