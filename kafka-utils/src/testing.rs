//! A test kit for a service's handlers: typed, deterministic, no broker to install, the
//! same app code as in production. Feature `testing`, for dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! kafka-utils = { version = "0.1", features = ["testing"] }
//! ```
//!
//! # A test
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::testing::*;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "requests", message = u32)]
//!     Requests,
//!     #[topic(name = "answers", message = u32)]
//!     Answers,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "doubler")]
//!     Doubler,
//! }
//!
//! permissions! {
//!     Users::Doubler => {
//!         Topics::Requests => [Read, AutoCommitOffset],
//!         Topics::Answers => [Write],
//!     },
//! }
//!
//! async fn double(n: u32, ctx: Context<users::Doubler>) -> Result<(), kafka_utils::Error> {
//!     ctx.producer().send(topics::Answers, &(n * 2)).await?.await?;
//!     Ok(())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let kit = TestKit::start(&TOPOLOGY).await?;
//! let app = kit.run(App::<users::Doubler>::new(kit.settings())?.handle(topics::Requests, double))?;
//! kit.send(topics::Requests, &21).await?;
//! app.settle().await?;
//! kit.read(topics::Answers).await?.assert_values(&[42]);
//! app.stop().await?;
//! kit.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Where it runs
//!
//! [`TestKit::start`] starts librdkafka's in-process mock cluster (the real client speaks
//! the real protocol to it; nothing to install, no JVM) and creates every declared topic
//! with its declared partitions: a kit of its own for each test, so tests run in parallel
//! without seeing each other. With `KAFKA_BOOTSTRAP_SERVERS` set (or with
//! [`TestKit::real`]), the same test runs on that cluster instead, with the rest of the
//! environment's settings (security, SASL): every declared topic is created under a prefix
//! of the test's own (`kafka-utils-test.<start>.<pid>.<n>.`), which every client made from
//! [`TestKit::settings`] uses without the code knowing (`Context::topic` still says
//! `requests`), and deleted with the groups of the apps it ran at [`TestKit::close`] (or,
//! without waiting for the cluster, when the kit is dropped). Topics a killed test left
//! behind are deleted by the next kit after an hour.
//!
//! # Running an app and waiting for it
//!
//! [`TestKit::run`] runs an [`App`] in the background, as it runs in
//! production. [`RunningApp::settle`] waits until the app has handled and committed every
//! record on its topics and its handlers' records are acknowledged, by comparing the
//! group's committed offsets with the partitions' ends, as the cluster says them: no sleep,
//! no timeout to guess. A test that sent N records and settled has N handled, never fewer.
//!
//! # Reading back
//!
//! [`TestKit::read`] reads every record of a topic up to its end, typed, with its metadata
//! ([`Records`], a slice of [`Received`](crate::consumer::Received)); [`TestKit::dead_letters`]
//! reads a topic's dead letters with their [`DeadLetterInfo`](crate::dead_letter::DeadLetterInfo).
//! Their `assert_*` methods say what was expected and what came.
//!
//! # Faults
//!
//! On the embedded cluster, [`TestKit::faults`] takes brokers down, delays answers and fails
//! requests ([`EmbeddedCluster::fail_requests`]), so that a test reaches the retry and
//! dead-letter paths of its handlers.
//!
//! # Retries without waiting
//!
//! The kit's settings retry after 1 ms (`KAFKA_RETRY_BACKOFF_MS`, doubling): an app's
//! default in-place retries take milliseconds, where the default 100 ms makes three attempts
//! take 300 ms. An app given its own [`Retry`](crate::app::Retry) keeps its backoff: in
//! tests give it `Duration::ZERO`. The kit's apps commit every 10 ms, so that a settle
//! sees their commits at once.

use std::sync::Arc;

use crate::Error;
use crate::access::{Topic, User, UserEnum};
use crate::app::App;
use crate::codec::{Codec, CodecError, Json, KafkaKey};
use crate::embedded::EmbeddedCluster;
use crate::producer::{Delivered, Producer, Record};
use crate::settings::Settings;
use crate::topology::{Topology, UserSpec};

mod cluster;
mod observer;
mod reading;
mod running;

pub use crate::embedded::{ApiKey, RDKafkaRespErr};
pub use reading::{DeadLetter, DeadLetters, Records};
pub use running::{RunningApp, SETTLE_WITHIN};

use cluster::Backend;

/// A test's cluster, its topics and what it sends and reads (see the [module docs](self)).
pub struct TestKit {
    topology: &'static Topology,
    settings: Settings,
    // Declared before `backend`: the kit's clients go before its cluster.
    sender: Producer<Outside>,
    backend: Backend,
}

impl std::fmt::Debug for TestKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKit")
            .field("embedded", &self.is_embedded())
            .field("bootstrap_servers", &self.settings.bootstrap_servers)
            .field("name_prefix", &self.settings.scope.prefix())
            .field(
                "topics",
                &self.topology.topics().map(|t| t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The environment's cluster, when one is set.
fn environment_cluster() -> Option<String> {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

impl TestKit {
    /// A kit for `topology` on the embedded cluster, or on the cluster of
    /// `KAFKA_BOOTSTRAP_SERVERS` when it is set (see [`TestKit::real`]).
    pub async fn start(topology: &'static Topology) -> Result<Self, Error> {
        match environment_cluster() {
            Some(_) => Self::real(topology).await,
            None => Self::embedded(topology).await,
        }
    }

    /// A kit for `topology` on an embedded cluster of its own, whatever the environment says.
    pub async fn embedded(topology: &'static Topology) -> Result<Self, Error> {
        // The mock cluster's calls wait for its own thread: off the runtime.
        let (backend, settings) = tokio::task::spawn_blocking(move || cluster::embedded(topology))
            .await
            .map_err(|e| Error::Runtime(format!("starting the embedded cluster failed: {e}")))??;
        Self::with(topology, settings, backend)
    }

    /// A kit for `topology` on the cluster the environment names (`KAFKA_BOOTSTRAP_SERVERS`
    /// and the other settings of [`Settings::from_env`]), its topics under a prefix of the
    /// kit's own, deleted with it. An error when no cluster is set.
    pub async fn real(topology: &'static Topology) -> Result<Self, Error> {
        let settings = Settings::from_env()?;
        if settings.bootstrap_servers.is_none() {
            return Err(Error::Settings {
                variable: "KAFKA_BOOTSTRAP_SERVERS",
                message: " is not set; a kit on a real cluster needs it (`TestKit::start` \
                          runs on the embedded cluster without it)"
                    .into(),
            });
        }
        let (backend, settings) = cluster::real(topology, settings).await?;
        Self::with(topology, settings, backend)
    }

    fn with(
        topology: &'static Topology,
        settings: Settings,
        backend: Backend,
    ) -> Result<Self, Error> {
        Ok(TestKit {
            topology,
            sender: Producer::new(&settings)?,
            settings,
            backend,
        })
    }

    /// The settings of the kit's cluster: give them to the apps, producers and consumers
    /// under test.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether the kit runs on its embedded cluster (rather than a real one).
    pub fn is_embedded(&self) -> bool {
        matches!(self.backend, Backend::Embedded(_))
    }

    /// The name topic `T` has on the kit's cluster (with the kit's prefix on a real one).
    pub fn cluster_name<T: Topic>(&self, _topic: T) -> String {
        self.settings.cluster_name(T::NAME).into_owned()
    }

    /// Sends `message` to topic `T`, as the world outside the app does, and waits for the
    /// cluster's acknowledgement. Any declared topic, its message type only.
    pub async fn send<T>(&self, topic: T, message: &T::Message) -> Result<Delivered, Error>
    where
        T: Topic,
        T::Key: KafkaKey,
        Json: Codec<T::Message>,
    {
        self.send_record(topic, Record::new(message)).await
    }

    /// Sends `record` (a message with a key, headers or a partition) to topic `T` and waits
    /// for the cluster's acknowledgement.
    pub async fn send_record<T>(&self, _topic: T, record: Record<'_, T>) -> Result<Delivered, Error>
    where
        T: Topic,
        T::Key: KafkaKey,
        Json: Codec<T::Message>,
    {
        self.sender.send_any(record).await?.await
    }

    /// Sends `payload` (and `key`) to topic `T` as they are, not encoded: a record the
    /// app cannot decode, for its dead-letter path.
    pub async fn send_bytes<T: Topic>(
        &self,
        _topic: T,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<Delivered, Error> {
        self.sender
            .send_raw(T::NAME, key, Some(payload), &[])
            .await?
            .await
    }

    /// Runs `app` in the background (made with [`TestKit::settings`]); see
    /// [`RunningApp::settle`] and [`RunningApp::stop`]. An error for an app that cannot run
    /// (a group its user may not use).
    pub fn run<U: User, C: Clone + Send + Sync + 'static>(
        &self,
        app: App<U, C>,
    ) -> Result<RunningApp, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Runtime("`TestKit::run` runs the app on the tokio runtime it is called on, and this thread has none (use `#[tokio::test]`)".into())
        })?;
        let (group, topics, producer) = app.watched()?;
        if let Backend::Real(real) = &self.backend {
            let mut groups = real.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups.push(self.settings.cluster_name(&group).into_owned());
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let in_flight: Arc<dyn Fn() -> i32 + Send + Sync> = Arc::new(move || producer.in_flight());
        Ok(RunningApp::new(
            &self.settings,
            U::NAME,
            &group,
            &topics,
            in_flight,
            stop,
            task,
        ))
    }

    /// Every record of topic `T` up to its end now, decoded as JSON, in each partition's
    /// order (partition by partition), with its metadata.
    pub async fn read<T>(&self, topic: T) -> Result<Records<T::Message>, Error>
    where
        T: Topic,
        Json: Codec<T::Message>,
    {
        self.read_with(topic, Json).await
    }

    /// [`read`](Self::read), decoding with `codec`.
    pub async fn read_with<T, C>(&self, _topic: T, codec: C) -> Result<Records<T::Message>, Error>
    where
        T: Topic,
        C: Codec<T::Message>,
    {
        let messages = self.read_messages(T::NAME).await?;
        Records::decode(T::NAME, &messages, &codec)
    }

    /// The records the apps dead-lettered from topic `T` (read from its declared dead
    /// letter), each with where it came from and why.
    pub async fn dead_letters<T>(&self, _topic: T) -> Result<DeadLetters<T::Message>, Error>
    where
        T: Topic,
        T::DeadLetter: Topic,
        Json: Codec<T::Message>,
    {
        let dead_letter = <T::DeadLetter as Topic>::NAME;
        let messages = self.read_messages(dead_letter).await?;
        DeadLetters::read(dead_letter, &messages, json::<T::Message>)
    }

    async fn read_messages(
        &self,
        topic: &'static str,
    ) -> Result<Vec<rdkafka::message::OwnedMessage>, Error> {
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || reading::read_all(&settings, topic))
            .await
            .map_err(|e| Error::Runtime(format!("the test kit's read failed: {e}")))?
    }

    /// Ends the kit and waits until its cluster is cleaned up: on a real cluster, its topics
    /// and its apps' groups deleted. Stop the kit's apps first. Dropping a kit does the same
    /// without waiting: a test process that ends right after may leave the last kit's topics
    /// behind, and the next kit to start deletes those after an hour.
    pub async fn close(self) -> Result<(), Error> {
        let TestKit {
            sender, backend, ..
        } = self;
        sender.close().await?;
        match backend {
            Backend::Real(real) => tokio::task::spawn_blocking(move || real.delete_now())
                .await
                .map_err(|e| Error::Runtime(format!("the test kit's clean-up failed: {e}"))),
            Backend::Embedded(cluster) => {
                drop(cluster);
                Ok(())
            }
        }
    }

    /// The embedded cluster, to inject faults into: brokers down or slow, requests failed
    /// (see [`EmbeddedCluster`]). An error on a real cluster, where faults come from
    /// elsewhere (`broker/cluster.sh kill`).
    pub fn faults(&self) -> Result<&EmbeddedCluster, Error> {
        match &self.backend {
            Backend::Embedded(cluster) => Ok(cluster),
            Backend::Real(_) => Err(Error::Runtime(format!(
                "faults are injected through librdkafka's mock cluster, and this kit runs on \
                 the real cluster at {}; use `TestKit::embedded` for a test of faults",
                self.settings.bootstrap_servers.as_deref().unwrap_or("?")
            ))),
        }
    }
}

/// Decodes a payload as JSON (a dead letter's message, when asked).
fn json<M>(bytes: &[u8]) -> Result<M, CodecError>
where
    Json: Codec<M>,
{
    Json.decode(bytes)
}

/// The kit's own sender: no declared user, it stands for the world outside the app.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outside;

/// The enum of [`Outside`], as a user type needs one.
#[derive(Debug)]
pub(crate) enum OutsideUsers {
    Outside,
}

const OUTSIDE: UserSpec = UserSpec {
    name: "kafka-utils-test-kit",
    groups: &[],
    doc: "The test kit's sender.",
};

impl UserEnum for OutsideUsers {
    const ALL: &'static [Self] = &[OutsideUsers::Outside];
    const SPECS: &'static [UserSpec] = &[OUTSIDE];
    fn spec(&self) -> &'static UserSpec {
        &OUTSIDE
    }
}

impl User for Outside {
    type Users = OutsideUsers;
    const NAME: &'static str = OUTSIDE.name;
    const VARIANT: OutsideUsers = OutsideUsers::Outside;
    const SPEC: &'static UserSpec = &OUTSIDE;
}
