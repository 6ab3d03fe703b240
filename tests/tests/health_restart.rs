//! Health follows the broker: UP, DOWN within the timeout once the broker is stopped, and UP
//! again after it restarts; over HTTP, as Kubernetes probes it, every answer comes within 1 s
//! in every state, liveness stays 200 throughout (a broker outage is no reason to restart the
//! pod), and readiness goes 503 while the broker is away and 200 once it is back. The test
//! runs a broker of its own (`broker/kafka.sh` with another state directory and the next
//! free ports), so that stopping it disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::sync::Arc;

use kafka_utils::app::{App, Context};
use kafka_utils::health::{HealthCheck, Status};
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
use kafka_utils_tests::http_get;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "restart.orders", message = String, partitions = 1)]
    Orders,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "restart-svc", groups = ["restart-svc"])]
    Service,
}

permissions! { Users::Service => { Topics::Orders => [Read, AutoCommitOffset] } }

/// A broker of this test's own, stopped when dropped (also when the test fails).
struct OwnBroker {
    state: PathBuf,
}

impl OwnBroker {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../broker/kafka.sh")
    }

    fn run(&self, command: &str) {
        let status = Command::new("bash")
            .arg(Self::script())
            .arg(command)
            .env("KAFKA_TEST_STATE_DIR", &self.state)
            // Not the suite's broker: pick fresh ports, and do not treat it as external.
            .env_remove("KAFKA_BOOTSTRAP_SERVERS")
            .env_remove("KAFKA_TEST_PORT_BASE")
            .env_remove("KAFKA_TEST_BROKER_CPUS")
            .status()
            .unwrap_or_else(|e| panic!("running kafka.sh {command}: {e}"));
        assert!(status.success(), "kafka.sh {command} failed: {status}");
    }

    fn start() -> Self {
        let broker = OwnBroker {
            state: Path::new(env!("CARGO_TARGET_TMPDIR")).join("health-restart-broker"),
        };
        broker.run("start");
        broker.run("wait");
        broker
    }

    fn bootstrap(&self) -> String {
        let env = std::fs::read_to_string(self.state.join("env")).expect("the broker's env file");
        env.lines()
            .find_map(|l| l.strip_prefix("export KAFKA_BOOTSTRAP_SERVERS="))
            .expect("KAFKA_BOOTSTRAP_SERVERS in the env file")
            .to_string()
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.run("stop");
    }
}

async fn wait_for(health: &HealthCheck, status: Status, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let report = health.check().await;
        if report.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "health is not {status:?} after {within:?}: {report:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The three health routes, each answered within 1 s: their status codes.
async fn probe(address: std::net::SocketAddr, answers: &mut Vec<Duration>) -> (u16, u16, u16) {
    let mut codes = [0; 3];
    for (code, path) in codes.iter_mut().zip([
        "/actuator/health",
        "/actuator/health/liveness",
        "/actuator/health/readiness",
    ]) {
        let started = Instant::now();
        let answer = http_get(address, path).await;
        let took = started.elapsed();
        assert!(
            took <= Duration::from_secs(1),
            "{path} took {took:?}: {}",
            answer.body
        );
        answers.push(took);
        *code = answer.status;
    }
    (codes[0], codes[1], codes[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_broker_down_and_up() {
    let broker = OwnBroker::start();
    let bootstrap = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let topic = NewTopic::new("restart.orders", 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let created = admin.create_topics([&topic], &options).await.unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    drop(admin);

    let settings = Settings::new(&bootstrap);
    let health = Arc::new(HealthCheck::new(&settings, &TOPOLOGY).unwrap());
    let app = App::<users::Service>::new(&settings)
        .unwrap()
        .handle(topics::Orders, |_: String, _: Context<_>| async {
            Ok::<(), String>(())
        });
    health.watch(app.probe());
    let (stop_app, app_stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = app_stopped.await;
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = kafka_utils::actuator::router(Arc::clone(&health), Metrics::new());
    tokio::spawn(async move { axum::serve(listener, router).await });
    wait_for(&health, Status::Up, Duration::from_secs(30)).await;
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe(address, &mut answers).await != (200, 200, 200) {
        assert!(Instant::now() < deadline, "not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    broker.run("stop");
    let started = Instant::now();
    let report = health.check().await;
    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.status, Status::Down, "{report:#?}");
    assert_eq!(report.components["kafka"].status, Status::Down);
    // Away for a while: every answer in time, alive, not ready.
    let away = Instant::now();
    while away.elapsed() < Duration::from_secs(5) {
        let (health, liveness, readiness) = probe(address, &mut answers).await;
        assert_eq!((health, liveness, readiness), (503, 200, 503));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    broker.run("restart");
    let back = Instant::now();
    loop {
        let (_, liveness, readiness) = probe(address, &mut answers).await;
        assert_eq!(liveness, 200, "liveness while the broker comes back");
        if readiness == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(90),
            "not ready again within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = wait_for(&health, Status::Up, Duration::from_secs(60)).await;
    println!(
        "health UP again {took:?} after readiness; ready {:?} after the restart began",
        back.elapsed()
    );
    let slowest = answers.iter().max().copied().unwrap_or_default();
    println!(
        "{} health answers over HTTP, the slowest in {slowest:?}",
        answers.len()
    );
    let _ = stop_app.send(());
    running.await.unwrap().unwrap();
}
