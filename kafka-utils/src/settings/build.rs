//! The builder: [`Settings`] set in code, each method the counterpart of a variable.

use std::path::PathBuf;

use super::{AutoOffsetReset, Profile, SaslMechanism, Secret, SecurityProtocol, Settings};

impl Settings {
    /// Sets `SERVICE_NAME`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Logs in with SASL `mechanism` as `username`, over TLS when `tls` is true.
    pub fn with_sasl(
        mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<String>,
        tls: bool,
    ) -> Self {
        self.security_protocol = if tls {
            SecurityProtocol::SaslSsl
        } else {
            SecurityProtocol::SaslPlaintext
        };
        self.sasl_mechanism = mechanism;
        self.username = Some(username.into());
        self.password = Some(Secret::new(password.into()));
        self
    }

    /// Verifies brokers against the CA in `path` (PEM).
    pub fn with_ssl_cafile(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_cafile = Some(path.into());
        if self.security_protocol == SecurityProtocol::Plaintext {
            self.security_protocol = SecurityProtocol::Ssl;
        }
        self
    }

    /// Presents the client certificate `cert` with its key `key` (PEM files): mutual TLS.
    pub fn with_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.ssl_certfile = Some(cert.into());
        self.ssl_keyfile = Some(key.into());
        if self.security_protocol == SecurityProtocol::Plaintext {
            self.security_protocol = SecurityProtocol::Ssl;
        }
        self
    }

    /// Sets `KAFKA_AUTO_OFFSET_RESET`.
    pub fn with_auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Sets `KAFKA_ENABLE_AUTO_COMMIT`.
    pub fn with_auto_commit(mut self, enabled: bool) -> Self {
        self.enable_auto_commit = enabled;
        self
    }

    /// Sets `KAFKA_PROFILE` (see [`profile`](super::profile)).
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// [`Profile::LowLatency`]: every record leaves at once.
    ///
    /// ```
    /// use kafka_utils::settings::Settings;
    ///
    /// let config = Settings::new("localhost:9092").low_latency().producer_config()?;
    /// assert_eq!(config.get("linger.ms"), Some("0"));
    /// assert_eq!(config.get("socket.nagle.disable"), Some("true"));
    /// # Ok::<(), kafka_utils::Error>(())
    /// ```
    pub fn low_latency(self) -> Self {
        self.with_profile(Profile::LowLatency)
    }

    /// [`Profile::Throughput`]: librdkafka's defaults, the most records per request.
    ///
    /// ```
    /// use kafka_utils::settings::Settings;
    ///
    /// let config = Settings::new("localhost:9092").throughput().producer_config()?;
    /// assert_eq!(config.get("linger.ms"), None);
    /// # Ok::<(), kafka_utils::Error>(())
    /// ```
    pub fn throughput(self) -> Self {
        self.with_profile(Profile::Throughput)
    }

    /// Sets `KAFKA_BUFFER_MEMORY`: the bytes of unacknowledged records a producer holds.
    pub fn with_buffer_memory(mut self, bytes: u64) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets `KAFKA_MAX_POLL_RECORDS`.
    pub fn with_max_poll_records(mut self, records: usize) -> Self {
        self.max_poll_records = records;
        self
    }

    /// Sets a librdkafka property this type has no field for (e.g. `session.timeout.ms`);
    /// it is applied last, over what the settings derive. A property that holds a secret
    /// (see [`is_sensitive`](super::is_sensitive)) shows as `***` in `Debug`; an error about a property (an
    /// unknown name, a value librdkafka refuses: [`Error::ClientProperty`](crate::Error::ClientProperty)) names it and
    /// never shows its value.
    pub fn with_client_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.client_properties.push((key.into(), value.into()));
        self
    }
}
