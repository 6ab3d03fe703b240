//! Settings: where the cluster is, how to log in, and the client tunables.
//!
//! [`Settings::from_env`] reads the process environment and a `.env` file in the current
//! directory (the process environment wins), with the variable names of the Python library
//! this crate replaces. [`Settings::new`] and its `with_*` methods build the same value in
//! code. Every bad value is an error that names the variable, the value and what is accepted;
//! a password never appears in `Debug` output or in an error.
//!
//! | variable | default | accepted |
//! | --- | --- | --- |
//! | `KAFKA_BOOTSTRAP_SERVERS` | none (the embedded cluster, where a program offers it) | `host:port[,host:port...]` |
//! | `SERVICE_NAME` | none | a declared user's name |
//! | `KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT` | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
//! | `KAFKA_SASL_MECHANISM` | `PLAIN` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` |
//! | `KAFKA_USERNAME`, `KAFKA_PASSWORD` | none; required with SASL | text |
//! | `KAFKA_SSL_CAFILE` | the system's trust store | a PEM file |
//! | `KAFKA_SSL_CERTFILE`, `KAFKA_SSL_KEYFILE` | none (no client certificate) | PEM files, both or neither |
//! | `KAFKA_SSL_KEY_PASSWORD` | none (the key is not encrypted) | text |
//! | `KAFKA_AUTO_OFFSET_RESET` | `earliest` | `earliest`, `latest`, `none` |
//! | `KAFKA_MAX_POLL_INTERVAL_MS` | `300000` | milliseconds |
//! | `KAFKA_MAX_POLL_RECORDS` | `500` | 1..=100000 |
//! | `KAFKA_ENABLE_AUTO_COMMIT` | `true` | `true`, `false` |
//! | `KAFKA_RETRY_BACKOFF_MS` | `100` | milliseconds |
//! | `KAFKA_COMPRESSION_TYPE` | `none` | `none`, `gzip`, `snappy`, `lz4`, `zstd` |
//! | `KAFKA_BATCH_SIZE` | librdkafka's (1000000) | bytes |
//! | `KAFKA_PROFILE` | `balanced` | `balanced`, `low_latency`, `throughput`: what the clients trade, latency or throughput ([`profile`]) |
//! | `KAFKA_LINGER_MS` | the profile's: 1, 0 or librdkafka's 5 | milliseconds |
//! | `KAFKA_BUFFER_MEMORY` | `33554432` (32 MiB, the Java client's) | bytes a producer may hold unacknowledged, 1024..=2199023254528; a sender waits for room |
//! | `KAFKA_REQUEST_TIMEOUT_MS` | `30000` | milliseconds |
//! | `KAFKA_MAX_IN_FLIGHT_REQUESTS` | `5` | 1..=5 (idempotence needs at most 5) |
//! | `KAFKA_STATISTICS_INTERVAL_MS` | `15000` | milliseconds between librdkafka statistics (into [`crate::metrics`]); `0` turns them off |
//!
//! # Secrets as operators keep them
//!
//! Every variable may be given as `<NAME>_FILE` instead, the path of a file that holds its
//! value (its trailing line break dropped), as container platforms mount secrets:
//! `KAFKA_PASSWORD_FILE=/run/secrets/kafka-password`. Setting both is an error naming both.
//! A password (and a username) read from a file rotates without a restart: every client made
//! from these settings — producers, consumers, apps, health checks — checks the file every
//! second, and when it changed, its new logins use the new credentials
//! (`rd_kafka_sasl_set_credentials`; connections already logged in stay until the broker
//! asks them to log in again, `connections.max.reauth.ms`). While an operator rotates a
//! password, a broker that already has the new one refuses the old: a refused login is
//! final only once every bootstrap broker refused it or it lasted 10 s (see
//! [`crate::Error::Refused`]), and a new password lifts it. [`crate::scram::set_password`]
//! sets a SCRAM password on the cluster.
//!
//! No secret prints: passwords show as `***` in `Debug` and `Display`, and so does every
//! client property that holds one ([`is_sensitive`]); errors name a property, never its value.
//!
//! ```
//! use kafka_utils::settings::{Settings, SecurityProtocol};
//!
//! let env = [
//!     ("KAFKA_BOOTSTRAP_SERVERS", "broker:9093"),
//!     ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
//!     ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
//!     ("KAFKA_USERNAME", "my-service"),
//!     ("KAFKA_PASSWORD", "hunter2"),
//! ];
//! let settings = Settings::from_lookup(|name| {
//!     env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
//! })?;
//! assert_eq!(settings.security_protocol, SecurityProtocol::SaslSsl);
//! assert_eq!(settings.max_poll_records, 500);
//! assert!(!format!("{settings:?}").contains("hunter2"));
//!
//! let err = Settings::from_lookup(|name| {
//!     (name == "KAFKA_MAX_POLL_INTERVAL_MS").then(|| "5 minutes".to_string())
//! })
//! .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "KAFKA_MAX_POLL_INTERVAL_MS=`5 minutes` is not accepted: expected a whole number of milliseconds"
//! );
//! # Ok::<(), kafka_utils::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

mod build;
mod parse;
pub mod profile;
mod redact;
mod rotation;
mod scope;

pub use parse::Secret;
pub use profile::Profile;
pub(crate) use redact::client_error;
pub use redact::is_sensitive;
pub(crate) use rotation::{Rotate, watch as watch_credentials};
pub(crate) use scope::Scope;

/// How clients connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// No TLS, no login.
    Plaintext,
    /// TLS; a client certificate when one is configured.
    Ssl,
    /// SASL login without TLS.
    SaslPlaintext,
    /// SASL login over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The name Kafka and librdkafka use.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
    fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
    fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// How SASL logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`: the password is sent (use TLS).
    Plain,
    /// `SCRAM-SHA-256`
    ScramSha256,
    /// `SCRAM-SHA-512`
    ScramSha512,
}

impl SaslMechanism {
    /// The name Kafka and librdkafka use.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Where a consumer starts in a partition its group has no offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// The oldest record.
    Earliest,
    /// Only records produced from now on.
    Latest,
    /// Fail instead.
    None,
}

/// Producer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed.
    None,
    /// gzip
    Gzip,
    /// snappy
    Snappy,
    /// lz4
    Lz4,
    /// zstd
    Zstd,
}

impl Compression {
    /// The name librdkafka uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Everything a client needs to know about the cluster and itself. See the [module docs](self).
#[derive(Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `KAFKA_BOOTSTRAP_SERVERS`; `None` means no cluster was given.
    pub bootstrap_servers: Option<String>,
    /// `SERVICE_NAME`: the declared user this service runs as.
    pub service_name: Option<String>,
    /// `KAFKA_SECURITY_PROTOCOL`
    pub security_protocol: SecurityProtocol,
    /// `KAFKA_SASL_MECHANISM`
    pub sasl_mechanism: SaslMechanism,
    /// `KAFKA_USERNAME`
    pub username: Option<String>,
    /// The file `KAFKA_USERNAME` was read from (`KAFKA_USERNAME_FILE`), if it was: re-read
    /// with the password's when that changes.
    pub username_file: Option<PathBuf>,
    /// `KAFKA_PASSWORD` (or the file `KAFKA_PASSWORD_FILE` names: see [`Secret::file`])
    pub password: Option<Secret>,
    /// `KAFKA_SSL_CAFILE`
    pub ssl_cafile: Option<PathBuf>,
    /// `KAFKA_SSL_CERTFILE`
    pub ssl_certfile: Option<PathBuf>,
    /// `KAFKA_SSL_KEYFILE`
    pub ssl_keyfile: Option<PathBuf>,
    /// `KAFKA_SSL_KEY_PASSWORD`: the passphrase of an encrypted `KAFKA_SSL_KEYFILE`.
    pub ssl_key_password: Option<Secret>,
    /// `KAFKA_AUTO_OFFSET_RESET`
    pub auto_offset_reset: AutoOffsetReset,
    /// `KAFKA_MAX_POLL_INTERVAL_MS`
    pub max_poll_interval_ms: u32,
    /// `KAFKA_MAX_POLL_RECORDS`
    pub max_poll_records: usize,
    /// `KAFKA_ENABLE_AUTO_COMMIT`
    pub enable_auto_commit: bool,
    /// `KAFKA_RETRY_BACKOFF_MS`
    pub retry_backoff_ms: u32,
    /// `KAFKA_COMPRESSION_TYPE`
    pub compression: Compression,
    /// `KAFKA_BATCH_SIZE`
    pub batch_size: Option<u32>,
    /// `KAFKA_PROFILE`: what the clients trade, latency or throughput (see [`profile`]).
    pub profile: Profile,
    /// `KAFKA_LINGER_MS`: overrides the profile's.
    pub linger_ms: Option<u32>,
    /// `KAFKA_BUFFER_MEMORY`: the bytes of records a producer holds that the cluster has not
    /// acknowledged (librdkafka's `queue.buffering.max.kbytes`, 1 GiB by default there); a
    /// sender waits for room, nothing is dropped.
    pub buffer_memory: u64,
    /// `KAFKA_REQUEST_TIMEOUT_MS`
    pub request_timeout_ms: u32,
    /// `KAFKA_MAX_IN_FLIGHT_REQUESTS`
    pub max_in_flight_requests: u32,
    /// `KAFKA_STATISTICS_INTERVAL_MS`
    pub statistics_interval_ms: u32,
    /// Further librdkafka properties, set last (see [`Settings::with_client_property`]).
    pub client_properties: Vec<(String, String)>,
    /// Where the names live on the cluster (the test kit's per-test prefix; see
    /// `settings/scope.rs`).
    pub(crate) scope: Scope,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("service_name", &self.service_name)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("username", &self.username)
            .field("username_file", &self.username_file)
            .field("password", &self.password)
            .field(
                "password_file",
                &self.password.as_ref().and_then(Secret::file),
            )
            .field("ssl_cafile", &self.ssl_cafile)
            .field("ssl_certfile", &self.ssl_certfile)
            .field("ssl_keyfile", &self.ssl_keyfile)
            .field("ssl_key_password", &self.ssl_key_password)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("max_poll_interval_ms", &self.max_poll_interval_ms)
            .field("max_poll_records", &self.max_poll_records)
            .field("enable_auto_commit", &self.enable_auto_commit)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("compression", &self.compression)
            .field("batch_size", &self.batch_size)
            .field("profile", &self.profile)
            .field("linger_ms", &self.linger_ms)
            .field("buffer_memory", &self.buffer_memory)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_in_flight_requests", &self.max_in_flight_requests)
            .field("statistics_interval_ms", &self.statistics_interval_ms)
            .field(
                "client_properties",
                &self
                    .client_properties
                    .iter()
                    .map(|(k, v)| format!("{k}={}", redact::shown(k, v)))
                    .collect::<Vec<_>>(),
            )
            .field("name_prefix", &self.scope.prefix())
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bootstrap_servers: None,
            service_name: None,
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: SaslMechanism::Plain,
            username: None,
            username_file: None,
            password: None,
            ssl_cafile: None,
            ssl_certfile: None,
            ssl_keyfile: None,
            ssl_key_password: None,
            auto_offset_reset: AutoOffsetReset::Earliest,
            max_poll_interval_ms: 300_000,
            max_poll_records: 500,
            enable_auto_commit: true,
            retry_backoff_ms: 100,
            compression: Compression::None,
            batch_size: None,
            profile: Profile::Balanced,
            linger_ms: None,
            buffer_memory: Self::BUFFER_MEMORY,
            request_timeout_ms: 30_000,
            max_in_flight_requests: 5,
            statistics_interval_ms: 15_000,
            client_properties: Vec::new(),
            scope: Scope::default(),
        }
    }
}

impl Settings {
    /// Settings for the cluster at `bootstrap_servers`, everything else at its default.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Settings {
            bootstrap_servers: Some(bootstrap_servers.into()),
            ..Settings::default()
        }
    }

    /// Reads the process environment, then `.env` in the current directory for what the
    /// environment does not set.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_and_file(Path::new(".env"))
    }

    /// Like [`Settings::from_env`], with the `.env` file at `path` (a missing file is fine).
    pub fn from_env_and_file(path: &Path) -> Result<Self, Error> {
        let file = parse::read_env_file(path)?;
        Self::from_lookup(|name| std::env::var(name).ok().or_else(|| file.get(name).cloned()))
    }

    /// Reads every variable through `lookup` (a variable it does not know is unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        parse::from_lookup(&lookup)
    }

    /// Checks that the settings hang together (what `from_env` checks too): SASL has a
    /// username and password, TLS files exist, a client certificate has its key.
    pub fn validate(&self) -> Result<(), Error> {
        parse::validate(self)
    }

    /// The librdkafka properties every client of these settings shares.
    pub fn client_config(&self) -> Result<rdkafka::ClientConfig, Error> {
        self.validate()?;
        let bootstrap = self
            .bootstrap_servers
            .as_deref()
            .ok_or_else(|| Error::Settings {
                variable: "KAFKA_BOOTSTRAP_SERVERS",
                message: " is not set; set it to the cluster's `host:port` list".into(),
            })?;
        let mut config = rdkafka::ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("security.protocol", self.security_protocol.as_str())
            .set("retry.backoff.ms", self.retry_backoff_ms.to_string())
            .set("request.timeout.ms", self.request_timeout_ms.to_string());
        if self.profile.nagle_off() {
            config.set("socket.nagle.disable", "true");
        }
        if let Some(name) = &self.service_name {
            config.set("client.id", name);
        }
        if self.security_protocol.uses_sasl() {
            config.set("sasl.mechanism", self.sasl_mechanism.as_str());
            if let Some(username) = &self.username {
                let current = self
                    .username_file
                    .as_deref()
                    .and_then(|f| parse::read_secret_file(f).ok());
                config.set("sasl.username", current.as_deref().unwrap_or(username));
            }
            if let Some(password) = &self.password {
                // A password from a file: as the file says now (it may have rotated since).
                let current = password
                    .file()
                    .and_then(|f| parse::read_secret_file(f).ok());
                config.set(
                    "sasl.password",
                    current.as_deref().unwrap_or(password.expose()),
                );
            }
        }
        if self.security_protocol.uses_tls() {
            if let Some(ca) = &self.ssl_cafile {
                config.set("ssl.ca.location", ca.to_string_lossy());
            }
            if let (Some(cert), Some(key)) = (&self.ssl_certfile, &self.ssl_keyfile) {
                config
                    .set("ssl.certificate.location", cert.to_string_lossy())
                    .set("ssl.key.location", key.to_string_lossy());
                if let Some(passphrase) = &self.ssl_key_password {
                    config.set("ssl.key.password", passphrase.expose());
                }
            }
        }
        Ok(self.apply_client_properties(config))
    }

    /// Producer properties: idempotent, `acks=all`, the profile's `linger.ms` (unless
    /// `KAFKA_LINGER_MS` sets one), `KAFKA_BUFFER_MEMORY` as `queue.buffering.max.kbytes`, and
    /// the production tunables.
    pub fn producer_config(&self) -> Result<rdkafka::ClientConfig, Error> {
        let mut config = self.client_config()?;
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", self.compression.as_str())
            .set(
                "max.in.flight.requests.per.connection",
                self.max_in_flight_requests.to_string(),
            );
        if let Some(batch) = self.batch_size {
            config.set("batch.size", batch.to_string());
        }
        let linger = self
            .linger_ms
            .map(|ms| ms.to_string())
            .or_else(|| self.profile.linger_ms().map(str::to_string));
        if let Some(linger) = linger {
            config.set("linger.ms", linger);
        }
        config.set(
            "queue.buffering.max.kbytes",
            self.buffer_memory.div_ceil(1024).to_string(),
        );
        config.set(
            "statistics.interval.ms",
            self.statistics_interval_ms.to_string(),
        );
        Ok(self.apply_client_properties(config))
    }

    /// Consumer properties for `group`: offsets are stored only after a message was handled
    /// (`enable.auto.offset.store=false`) and committed from there, automatically when
    /// `KAFKA_ENABLE_AUTO_COMMIT` is true.
    pub fn consumer_config(&self, group: &str) -> Result<rdkafka::ClientConfig, Error> {
        let mut config = self.client_config()?;
        // A producer's (and the admin's) property: librdkafka warns about it on a consumer.
        if !self
            .client_properties
            .iter()
            .any(|(k, _)| k == "request.timeout.ms")
        {
            config.remove("request.timeout.ms");
        }
        let reset = match self.auto_offset_reset {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "error",
        };
        config
            .set("group.id", self.scope.name(group))
            .set("auto.offset.reset", reset)
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", self.enable_auto_commit.to_string())
            .set(
                "max.poll.interval.ms",
                self.max_poll_interval_ms.to_string(),
            )
            .set("enable.partition.eof", "false")
            // librdkafka stops fetching a partition whose local queue holds more than
            // `queued.min.messages` and looks again only after this backoff (1 s by
            // default): a consumer that drains its queue faster than that sits idle for
            // the rest of the second. Looking again soon costs a timer, not a request.
            .set("fetch.queue.backoff.ms", Self::FETCH_QUEUE_BACKOFF_MS)
            .set(
                "statistics.interval.ms",
                self.statistics_interval_ms.to_string(),
            );
        if let Some(interval) = self.scope.commit_interval_ms {
            config.set("auto.commit.interval.ms", interval.to_string());
        }
        if let Some(session) = self.scope.session_timeout_ms {
            config
                .set("session.timeout.ms", session.to_string())
                .set("heartbeat.interval.ms", (session / 10).max(1).to_string());
        }
        Ok(self.apply_client_properties(config))
    }

    /// The cluster's name of topic (or consumer group) `declared`: the name itself, or with
    /// the test kit's per-test prefix (see `kafka_utils::testing`).
    pub fn cluster_name<'a>(&self, declared: &'a str) -> std::borrow::Cow<'a, str> {
        self.scope.name(declared)
    }

    /// The default `KAFKA_BUFFER_MEMORY`: 32 MiB, as the Java client's `buffer.memory`.
    pub const BUFFER_MEMORY: u64 = 32 * 1024 * 1024;

    /// The largest `KAFKA_BUFFER_MEMORY`: librdkafka's largest `queue.buffering.max.kbytes`.
    pub const BUFFER_MEMORY_LIMIT: u64 = i32::MAX as u64 * 1024;

    /// librdkafka's `fetch.queue.backoff.ms` in [`Settings::consumer_config`].
    pub const FETCH_QUEUE_BACKOFF_MS: &str = "20";

    /// The largest `KAFKA_MAX_POLL_RECORDS`: a batch reserves room for that many records,
    /// so an unbounded value could exhaust memory.
    pub const MAX_POLL_RECORDS_LIMIT: usize = 100_000;

    fn apply_client_properties(&self, mut config: rdkafka::ClientConfig) -> rdkafka::ClientConfig {
        for (key, value) in &self.client_properties {
            config.set(key, value);
        }
        config
    }

    /// The declared user named by `SERVICE_NAME`.
    pub fn service_user<E: crate::access::UserEnum>(&self) -> Result<&'static E, Error> {
        let name = self
            .service_name
            .as_deref()
            .ok_or_else(|| Error::Settings {
                variable: "SERVICE_NAME",
                message: format!(
                    " is not set; set it to the declared user this service runs as: {}",
                    parse::backticked(E::SPECS.iter().map(|s| s.name))
                ),
            })?;
        E::ALL
            .iter()
            .find(|user| user.name() == name)
            .ok_or_else(|| Error::Settings {
                variable: "SERVICE_NAME",
                message: format!(
                    "=`{name}` is not a declared user; the declared users are {}",
                    parse::backticked(E::SPECS.iter().map(|s| s.name))
                ),
            })
    }
}
