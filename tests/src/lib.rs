//! Test support: where the broker under test is, who may log in to it, and clients for it.
//!
//! The whole test suite runs against one real Apache Kafka broker that `broker/kafka.sh`
//! starts before `cargo test` and stops after it (see `scripts/test.sh`). The script
//! exports where its listeners are; [`TestCluster::get`] reads that once per test binary.
//!
//! To test an existing cluster instead, set `KAFKA_BOOTSTRAP_SERVERS` (its PLAINTEXT
//! listener, on which the client is a super user) and, for the SASL and TLS tests,
//! `KAFKA_TEST_SASL_PLAINTEXT_BOOTSTRAP`, `KAFKA_TEST_SASL_SSL_BOOTSTRAP`,
//! `KAFKA_TEST_SSL_BOOTSTRAP`, `KAFKA_TEST_SSL_CAFILE`, `KAFKA_TEST_CLIENT_CERT_DIR`
//! and the users' passwords (`KAFKA_TEST_PASSWORD_<USER>`, default `<user>-secret`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

pub mod exposition;
pub mod faults;
mod http;

pub use http::{HttpAnswer, http_get};
pub use kafka_utils::consumer::owned_headers;

/// Where the broker under test listens, read from the environment `broker/kafka.sh` exports.
#[derive(Debug, Clone)]
pub struct TestCluster {
    /// PLAINTEXT listener; its principal (`ANONYMOUS`) is a super user.
    pub bootstrap: String,
    /// SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), if any.
    pub sasl_plaintext: Option<String>,
    /// SASL_SSL listener (the same mechanisms over TLS), if any.
    pub sasl_ssl: Option<String>,
    /// SSL listener that requires a client certificate, if any.
    pub ssl: Option<String>,
    /// The CA that signed the broker's certificate.
    pub ca_file: Option<PathBuf>,
    /// Where `<user>.crt` and `<user>.key` client certificates are.
    pub client_cert_dir: Option<PathBuf>,
}

/// A user the broker knows, with PLAIN and SCRAM credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Principal name (`User:<name>`).
    pub name: &'static str,
    /// Its password, for PLAIN and SCRAM alike.
    pub password: String,
}

impl std::fmt::Debug for TestUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestUser {
    fn new(name: &'static str) -> Self {
        let var = format!("KAFKA_TEST_PASSWORD_{}", name.to_ascii_uppercase());
        let password = std::env::var(var).unwrap_or_else(|_| format!("{name}-secret"));
        TestUser { name, password }
    }

    /// The super user `admin`.
    pub fn admin() -> Self {
        Self::new("admin")
    }
    /// `alice`: no ACL unless a test grants one; has a client certificate.
    pub fn alice() -> Self {
        Self::new("alice")
    }
    /// `bob`: no ACL unless a test grants one; has a client certificate.
    pub fn bob() -> Self {
        Self::new("bob")
    }
    /// `carol`: no ACL unless a test grants one.
    pub fn carol() -> Self {
        Self::new("carol")
    }
    /// `dave`: no ACL unless a test grants one.
    pub fn dave() -> Self {
        Self::new("dave")
    }
}

/// A SASL mechanism the broker's SASL listeners accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `PLAIN`
    Plain,
    /// `SCRAM-SHA-256`
    ScramSha256,
    /// `SCRAM-SHA-512`
    ScramSha512,
}

impl Mechanism {
    /// The name librdkafka's `sasl.mechanism` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Whether a SASL connection runs over plain TCP or over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `SASL_PLAINTEXT`
    Plaintext,
    /// `SASL_SSL`, verifying the broker against the test CA.
    Tls,
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn env_string(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

impl TestCluster {
    /// Reads the cluster from the environment, or says how to start one.
    pub fn from_env() -> Result<TestCluster, String> {
        let bootstrap = env_string("KAFKA_BOOTSTRAP_SERVERS").ok_or_else(|| {
            "KAFKA_BOOTSTRAP_SERVERS is not set: these tests need a real Kafka broker. Run them \
             with `bash scripts/test.sh` (it starts one), or point KAFKA_BOOTSTRAP_SERVERS at a \
             cluster of your own"
                .to_string()
        })?;
        Ok(TestCluster {
            bootstrap,
            sasl_plaintext: env_string("KAFKA_TEST_SASL_PLAINTEXT_BOOTSTRAP"),
            sasl_ssl: env_string("KAFKA_TEST_SASL_SSL_BOOTSTRAP"),
            ssl: env_string("KAFKA_TEST_SSL_BOOTSTRAP"),
            ca_file: env_path("KAFKA_TEST_SSL_CAFILE"),
            client_cert_dir: env_path("KAFKA_TEST_CLIENT_CERT_DIR"),
        })
    }

    /// The cluster of this test run; panics with instructions when there is none.
    pub fn get() -> &'static TestCluster {
        static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
        CLUSTER.get_or_init(|| TestCluster::from_env().unwrap_or_else(|e| panic!("{e}")))
    }

    fn require<'a, T: ?Sized>(value: Option<&'a T>, var: &str) -> &'a T {
        value.unwrap_or_else(|| {
            panic!("{var} is not set: this test needs that listener of the broker under test")
        })
    }

    /// The CA file that verifies the broker (panics naming the variable when unset).
    pub fn ca_file(&self) -> &Path {
        Self::require(self.ca_file.as_deref(), "KAFKA_TEST_SSL_CAFILE")
    }

    /// A client config for the PLAINTEXT listener (super user).
    pub fn plaintext_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// A client config that logs in as `user` with `mechanism` over `transport`.
    pub fn sasl_config(
        &self,
        transport: Transport,
        mechanism: Mechanism,
        user: &TestUser,
    ) -> ClientConfig {
        let mut config = ClientConfig::new();
        match transport {
            Transport::Plaintext => {
                let bootstrap = Self::require(
                    self.sasl_plaintext.as_deref(),
                    "KAFKA_TEST_SASL_PLAINTEXT_BOOTSTRAP",
                );
                config
                    .set("bootstrap.servers", bootstrap)
                    .set("security.protocol", "SASL_PLAINTEXT");
            }
            Transport::Tls => {
                let bootstrap =
                    Self::require(self.sasl_ssl.as_deref(), "KAFKA_TEST_SASL_SSL_BOOTSTRAP");
                config
                    .set("bootstrap.servers", bootstrap)
                    .set("security.protocol", "SASL_SSL")
                    .set("ssl.ca.location", self.ca_file().to_string_lossy());
            }
        }
        config
            .set("sasl.mechanism", mechanism.as_str())
            .set("sasl.username", user.name)
            .set("sasl.password", &user.password);
        config
    }

    /// A client config for the mutual-TLS listener, presenting `user`'s client certificate.
    pub fn mtls_config(&self, user: &TestUser) -> ClientConfig {
        let bootstrap = Self::require(self.ssl.as_deref(), "KAFKA_TEST_SSL_BOOTSTRAP");
        let dir = Self::require(
            self.client_cert_dir.as_deref(),
            "KAFKA_TEST_CLIENT_CERT_DIR",
        );
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("security.protocol", "SSL")
            .set("ssl.ca.location", self.ca_file().to_string_lossy())
            .set(
                "ssl.certificate.location",
                dir.join(format!("{}.crt", user.name)).to_string_lossy(),
            )
            .set(
                "ssl.key.location",
                dir.join(format!("{}.key", user.name)).to_string_lossy(),
            );
        config
    }

    /// kafka-utils settings for the PLAINTEXT listener (super user).
    pub fn settings(&self) -> kafka_utils::settings::Settings {
        kafka_utils::settings::Settings::new(&self.bootstrap)
    }

    /// kafka-utils settings that log in as `user` with `mechanism` over `transport`.
    pub fn sasl_settings(
        &self,
        transport: Transport,
        mechanism: Mechanism,
        user: &TestUser,
    ) -> kafka_utils::settings::Settings {
        use kafka_utils::settings::{SaslMechanism, Settings};
        let (bootstrap, tls) = match transport {
            Transport::Plaintext => (
                Self::require(
                    self.sasl_plaintext.as_deref(),
                    "KAFKA_TEST_SASL_PLAINTEXT_BOOTSTRAP",
                ),
                false,
            ),
            Transport::Tls => (
                Self::require(self.sasl_ssl.as_deref(), "KAFKA_TEST_SASL_SSL_BOOTSTRAP"),
                true,
            ),
        };
        let mechanism = match mechanism {
            Mechanism::Plain => SaslMechanism::Plain,
            Mechanism::ScramSha256 => SaslMechanism::ScramSha256,
            Mechanism::ScramSha512 => SaslMechanism::ScramSha512,
        };
        let settings = Settings::new(bootstrap)
            .with_service_name(user.name)
            .with_sasl(mechanism, user.name, user.password.clone(), tls);
        if tls {
            settings.with_ssl_cafile(self.ca_file())
        } else {
            settings
        }
    }

    /// Deletes `name` if it exists and creates it anew, empty, with `partitions` partitions.
    pub async fn recreate_topic(&self, name: &str, partitions: i32) {
        let admin = self.admin();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let _ = admin.delete_topics(&[name], &options).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
            let results = admin
                .create_topics([&topic], &options)
                .await
                .expect("CreateTopics request");
            match results.into_iter().next() {
                Some(Ok(_)) => return,
                Some(Err(_)) if std::time::Instant::now() < deadline => {
                    // Still being deleted.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some(Err((topic, code))) => panic!("could not recreate topic `{topic}`: {code}"),
                None => panic!("no CreateTopics result for `{name}`"),
            }
        }
    }

    /// Sets `user`'s SCRAM-SHA-512 password with Kafka's own tool, as an operator would
    /// (`kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[...]'`: the broker's
    /// `kafka.admin.ConfigCommand`, from the classpath `broker/kafka.sh` resolved), over the
    /// PLAINTEXT listener.
    pub fn set_scram_password_with_kafka_tools(&self, user: &str, password: &str) {
        let state = env_path("KAFKA_TEST_STATE_DIR")
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../broker/state"));
        let classpath = std::fs::read_to_string(state.join("classpath.txt"))
            .expect("the broker's classpath (broker/kafka.sh start writes it)");
        let java = std::env::var("JAVA_HOME")
            .map(|home| Path::new(&home).join("bin/java"))
            .unwrap_or_else(|_| PathBuf::from("java"));
        let output = std::process::Command::new(java)
            .args(["-cp", classpath.trim(), "kafka.admin.ConfigCommand"])
            .args(["--bootstrap-server", &self.bootstrap, "--alter"])
            .args([
                "--add-config",
                &format!("SCRAM-SHA-512=[iterations=8192,password={password}]"),
            ])
            .args(["--entity-type", "users", "--entity-name", user])
            .output()
            .expect("java runs Kafka's ConfigCommand");
        assert!(
            output.status.success(),
            "kafka-configs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The offset `group` has committed for partition `partition` of `topic`, if any.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        committed_offset(self.plaintext_config(), group, topic, partition)
    }

    /// An admin client on the PLAINTEXT listener (super user).
    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.plaintext_config()
            .create()
            .expect("admin client for the PLAINTEXT listener")
    }

    /// Creates `name` with `partitions` partitions (replication 1) and waits until it exists.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin = self.admin();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics([&topic], &options)
            .await
            .expect("CreateTopics request");
        for result in results {
            if let Err((topic, code)) = result {
                panic!("could not create topic `{topic}`: {code}");
            }
        }
    }
}

/// A topic name no other test (of this or an earlier run on the same cluster) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}.{}.{nanos}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A producer context that keeps every error librdkafka reports (the `error_cb`), so a test
/// can tell *why* a connection failed: a wrong password, an unverified certificate.
#[derive(Debug, Default)]
pub struct RecordingContext {
    errors: std::sync::Mutex<Vec<(rdkafka::error::KafkaError, String)>>,
}

impl RecordingContext {
    /// The errors reported so far: the error and librdkafka's reason text.
    pub fn errors(&self) -> Vec<(rdkafka::error::KafkaError, String)> {
        self.errors
            .lock()
            .map(|errors| errors.clone())
            .unwrap_or_default()
    }

    /// Polls `client` until an error reported to this context satisfies `want`, or
    /// `timeout` passes; returns that error's reason.
    pub fn wait_for_error<C>(
        client: &C,
        timeout: Duration,
        want: impl Fn(&rdkafka::error::KafkaError, &str) -> bool,
    ) -> Result<String, Vec<(rdkafka::error::KafkaError, String)>>
    where
        C: WithRecordingContext,
    {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            client.poke();
            let errors = client.recording().errors();
            if let Some((_, reason)) = errors.iter().find(|(e, r)| want(e, r)) {
                return Ok(reason.clone());
            }
            if std::time::Instant::now() >= deadline {
                return Err(errors);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl rdkafka::ClientContext for RecordingContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push((error, reason.to_string()));
        }
    }
}

impl rdkafka::producer::ProducerContext for RecordingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// A client with a [`RecordingContext`] that can be made to talk to the broker.
pub trait WithRecordingContext {
    /// The context.
    fn recording(&self) -> &RecordingContext;
    /// Makes the client connect (a short metadata request).
    fn poke(&self);
}

impl WithRecordingContext for rdkafka::producer::BaseProducer<RecordingContext> {
    fn recording(&self) -> &RecordingContext {
        use rdkafka::producer::Producer;
        self.context()
    }
    fn poke(&self) {
        use rdkafka::producer::Producer;
        // A metadata request makes the client connect; polling serves the error events.
        let _ = self
            .client()
            .fetch_metadata(None, Duration::from_millis(200));
        self.poll(Duration::from_millis(100));
    }
}

/// The offset `group` committed for `topic`/`partition` on the cluster `config` points at,
/// asking again for up to 30 s while the group coordinator is starting (a fresh cluster
/// creates `__consumer_offsets` on first use).
pub fn committed_offset(
    mut config: ClientConfig,
    group: &str,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = config
        .set("group.id", group)
        .create()
        .expect("consumer for committed offsets");
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(topic, partition);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let committed = loop {
        match consumer.committed_offsets(list.clone(), Duration::from_secs(10)) {
            Ok(committed) => break committed,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("committed offsets of `{group}`: {e}; asking again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("committed offsets of `{group}`: {e}"),
        }
    };
    match committed
        .find_partition(topic, partition)
        .map(|p| p.offset())
    {
        Some(rdkafka::Offset::Offset(offset)) => Some(offset),
        _ => None,
    }
}
