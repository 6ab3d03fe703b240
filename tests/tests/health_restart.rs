//! Health follows the broker: UP, DOWN within the timeout once the broker is stopped, and UP
//! again after it restarts. The test runs a broker of its own (`broker/kafka.sh` with another
//! state directory and the next free ports), so that stopping it disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_utils::health::{HealthCheck, Status};
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
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
    #[user(name = "restart-svc")]
    Service,
}

permissions! { Users::Service => { Topics::Orders => [Read] } }

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

#[tokio::test]
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

    let health = HealthCheck::new(&Settings::new(&bootstrap), &TOPOLOGY)
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    wait_for(&health, Status::Up, Duration::from_secs(30)).await;

    broker.run("stop");
    let started = Instant::now();
    let report = health.check().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.status, Status::Down, "{report:#?}");
    assert_eq!(report.components["kafka"].status, Status::Down);

    broker.run("restart");
    broker.run("wait");
    let took = wait_for(&health, Status::Up, Duration::from_secs(60)).await;
    println!("health UP again {took:?} after the broker answered");
}
