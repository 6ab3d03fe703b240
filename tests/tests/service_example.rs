//! `examples/service.rs` against the real broker: started as its own process, it provisions
//! its topics, takes orders, and answers on the actuator endpoints over HTTP; the counters
//! move while orders flow; SIGTERM stops it gracefully. And its log, as operators read it:
//! JSON lines in rotated files with `SERVICE_LOG_FORMAT=json` and `SERVICE_LOG_DIR`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafka_utils_tests::exposition::{family_type, samples, total};
use kafka_utils_tests::{TestCluster, http_get};
use openmetrics_parser::OpenMetricsType;

/// The service process, killed if the test ends without stopping it.
struct Service {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service example's binary: the one `scripts/test.sh` built with the rest of the workspace
/// (`KAFKA_UTILS_SERVICE_EXAMPLE`), else built here, where cargo says it put it.
fn service_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KAFKA_UTILS_SERVICE_EXAMPLE") {
        return PathBuf::from(path);
    }
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "kafka-utils-examples",
            "--example",
            "service",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo build");
    assert!(
        built.status.success(),
        "building the service example failed"
    );
    String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "service")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the service example's executable")
}

impl Service {
    fn start() -> Self {
        Self::start_with(&[], true)
    }

    /// The example with `env` set; on the test broker, or on its embedded default.
    fn start_with(env: &[(&str, &str)], on_the_broker: bool) -> Self {
        let mut command = Command::new(service_binary());
        if on_the_broker {
            let cluster = TestCluster::get();
            command.env(
                "KAFKA_BOOTSTRAP_SERVERS",
                cluster.settings().bootstrap_servers.unwrap(),
            );
        } else {
            command.env_remove("KAFKA_BOOTSTRAP_SERVERS");
        }
        let mut child = command
            .env("SERVICE_HTTP_ADDR", "127.0.0.1:0")
            .env("SERVICE_RUN_SECS", "240")
            .env("KAFKA_STATISTICS_INTERVAL_MS", "500")
            // The test's own over the defaults.
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Service { child, lines }
    }

    fn wait_for_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the service never printed `{prefix}`");
    }
}

async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let answer = http_get(address, path).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn the_service_example_serves_its_actuator() {
    let service = Service::start();
    let line = service.wait_for_line("service: listening on http://");
    let address: SocketAddr = line
        .trim_start_matches("service: listening on http://")
        .parse()
        .expect("an address");

    // Orders flow: the handled counter moves, and the group settles.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (health, metrics) = loop {
        let (_, body) = get(address, "/actuator/metrics").await;
        let metrics: serde_json::Value = serde_json::from_str(&body).unwrap();
        let (status, body) = get(address, "/actuator/health").await;
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        let handled = metrics["topics"]["service.orders"]["handled"]
            .as_f64()
            .unwrap_or(0.0);
        let state = &health["components"]["consumer:order-service"]["details"]["state"];
        if handled >= 5.0 && state == "Stable" {
            assert_eq!(status, 200, "{health:#}");
            break (health, metrics);
        }
        assert!(
            Instant::now() < deadline,
            "no progress: {metrics:#} {health:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(health["status"], "UP", "{health:#}");
    assert_eq!(
        health["components"]["topics"]["details"]["present"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let accepted = metrics["custom"]["orders"].as_array().map(|samples| {
        samples
            .iter()
            .map(|s| s["value"].as_f64().unwrap_or(0.0))
            .sum::<f64>()
    });
    assert!(accepted.is_some_and(|n| n >= 5.0), "{metrics:#}");

    // The Prometheus text, read by a parser: the handled counter moved, and librdkafka's
    // statistics (every 500 ms here) give the lag of each of the 3 partitions the app
    // consumes and the round trip to the broker.
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let (status, body) = get(address, "/actuator/prometheus").await;
        assert_eq!(status, 200);
        let lags = samples(&body, "kafka_consumer_lag");
        let partitions: BTreeSet<&str> = lags
            .iter()
            .filter(|(l, _)| l["topic"] == "service.orders" && l["client"] == "order-service")
            .map(|(l, _)| l["partition"].as_str())
            .collect();
        if partitions.len() == 3 {
            break body;
        }
        assert!(Instant::now() < deadline, "no lag per partition:\n{body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(family_type(&body, "orders"), Some(OpenMetricsType::Counter));
    assert!(total(&body, "kafka_messages_handled") >= 5.0, "{body}");
    // The orders come one per 200 ms: the consumer keeps up.
    assert!(
        samples(&body, "kafka_consumer_lag")
            .iter()
            .all(|(_, lag)| *lag < 100.0),
        "{body}"
    );
    let rtt = samples(&body, "kafka_client_broker_rtt_seconds");
    assert!(
        rtt.iter().any(|(l, _)| l["type"] == "producer")
            && rtt.iter().any(|(l, _)| l["type"] == "consumer"),
        "{body}"
    );
    // Two producers of one user (the app's and the shop's): two series.
    assert_eq!(
        samples(&body, "kafka_client_queue_messages").len(),
        2,
        "{body}"
    );

    // SIGTERM: it stops gracefully (our own child, by its pid).
    let pid = service.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    service.wait_for_line("service: stopped");
}

#[test]
fn the_service_example_logs_json_lines_to_rotated_files() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("service-log");
    let _ = std::fs::remove_dir_all(&dir);
    let service = Service::start_with(
        &[
            ("SERVICE_LOG_FORMAT", "json"),
            ("SERVICE_LOG_DIR", dir.to_str().unwrap()),
            ("SERVICE_RUN_SECS", "6"),
        ],
        false,
    );
    service.wait_for_line("service: stopped");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the log directory")
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    // Rotated daily: the date is in the name.
    assert!(
        name.starts_with("service.") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let said = |message: &str| lines.iter().any(|l| l["message"] == message);
    assert!(said("app started") && said("partitions assigned"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "app started" && l["user"] == "order-service"),
        "{text}"
    );
}
