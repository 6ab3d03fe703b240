//! Latency against throughput: what a producer waits for before it sends, chosen by name.
//!
//! librdkafka batches a partition's records for `linger.ms` (5 ms by default) before it
//! sends them. At a few thousand records a second that wait is most of a record's way from
//! the produce call to a handler: 4 ms of a 4.5 ms median on one broker on 127.0.0.1. With
//! no wait at all the same path takes 0.5 ms, but a producer sending as fast as it can then
//! wakes librdkafka's thread for almost every record and sends about half as many (100 B
//! records: 610,000/s against 1,100,000/s, same machine, same minutes). librdkafka waits in
//! whole milliseconds (a `linger.ms` of 0.5 behaves as 1), so no single wait gives both.
//!
//! The default gets both the way Nagle's algorithm does for TCP: a record handed over
//! while none of the producer's records is in flight leaves at once (the producer's own
//! thread calls `rd_kafka_flush`, during which librdkafka ignores `linger.ms`), and while
//! some are in flight, records are batched for `linger.ms` 1. A service sending now and
//! then (replies, events) gets the no-wait latency; one sending as fast as it can never
//! kicks and keeps its batches. A [`Profile`] says what else a service wants:
//!
//! | profile | `KAFKA_PROFILE` | `linger.ms` | a lone record | Nagle's algorithm | for |
//! | --- | --- | --- | --- | --- | --- |
//! | [`Profile::Balanced`] (the default) | `balanced` | 1 | leaves at once | off | most services: p50 about 0.5 ms at 1,000 records/s, 1.3 ms at 10,000/s; the throughput of librdkafka's defaults |
//! | [`Profile::LowLatency`] | `low_latency` | 0 | leaves at once | off | every record leaves at once, under load too; about twice the CPU per record at 10,000/s, and half the throughput at full speed for small records |
//! | [`Profile::Throughput`] | `throughput` | 5 (librdkafka's) | waits `linger.ms` | librdkafka's (on) | bulk loads that never wait on one record |
//!
//! The measured figures, with the peers beside them, are in `BENCHMARKS.md`. Nagle's
//! algorithm (`socket.nagle.disable`) holds a small write back until the last one is
//! acknowledged: off, a fetch or a small produce request leaves at once. `KAFKA_LINGER_MS`
//! (or [`Settings::linger_ms`](super::Settings::linger_ms)) overrides a profile's wait (a
//! lone record still leaves at once under `balanced`), and client properties override
//! everything.
//!
//! ```
//! use kafka_utils::settings::{Profile, Settings};
//!
//! let settings = Settings::new("localhost:9092").low_latency();
//! assert_eq!(settings.profile, Profile::LowLatency);
//! assert_eq!(settings.producer_config()?.get("linger.ms"), Some("0"));
//! assert_eq!(Settings::new("localhost:9092").producer_config()?.get("linger.ms"), Some("1"));
//! # Ok::<(), kafka_utils::Error>(())
//! ```

/// What a service trades: latency or throughput (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// `linger.ms=1`, a record sent while nothing is in flight leaves at once, Nagle off:
    /// the default.
    #[default]
    Balanced,
    /// `linger.ms=0`, Nagle off: every record leaves at once, under load too.
    LowLatency,
    /// librdkafka's own defaults (`linger.ms=5`, Nagle on): the most records per request.
    Throughput,
}

impl Profile {
    /// Every profile, with its `KAFKA_PROFILE` name.
    pub const NAMES: [(&'static str, Profile); 3] = [
        ("balanced", Profile::Balanced),
        ("low_latency", Profile::LowLatency),
        ("throughput", Profile::Throughput),
    ];

    /// Its `KAFKA_PROFILE` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Balanced => "balanced",
            Profile::LowLatency => "low_latency",
            Profile::Throughput => "throughput",
        }
    }

    /// The producer's `linger.ms`, where the profile sets one.
    pub(crate) fn linger_ms(self) -> Option<&'static str> {
        match self {
            Profile::Balanced => Some("1"),
            Profile::LowLatency => Some("0"),
            Profile::Throughput => None,
        }
    }

    /// Whether every client turns Nagle's algorithm off (`socket.nagle.disable`).
    pub(crate) fn nagle_off(self) -> bool {
        !matches!(self, Profile::Throughput)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
