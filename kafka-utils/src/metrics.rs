//! Metrics: the built-in per-topic counters and histograms, metrics of the service's own,
//! a JSON snapshot (like the Python library's `get_metrics()`) and the Prometheus text
//! exposition, written by the `prometheus-client` crate.
//!
//! Built in, labelled by `topic`: `kafka_messages_produced_total`,
//! `kafka_produce_errors_total`, `kafka_messages_consumed_total`,
//! `kafka_messages_handled_total`, `kafka_handler_errors_total`,
//! `kafka_messages_retried_total` (sent to a retry topic, by the topic it was read from),
//! `kafka_messages_dead_lettered_total`, and the histograms `kafka_handler_duration_seconds`
//! and `kafka_delivery_latency_seconds`. [`crate::producer::Producer::metrics`] and
//! [`crate::app::App::metrics`] feed them.
//!
//! From librdkafka's statistics (every `KAFKA_STATISTICS_INTERVAL_MS`), labelled by `client`
//! (the user) and `instance` (librdkafka's handle name): the gauges
//! `kafka_client_queue_messages` (a producer's records not yet acknowledged),
//! `kafka_client_broker_rtt_seconds` (also by `type` and `broker`) and `kafka_consumer_lag`
//! (by `topic` and `partition`: the partition's end minus the committed offset). librdkafka
//! hands a consumer's reports over while it is polled, as the [`crate::app::App`] always is.
//!
//! ```
//! use kafka_utils::metrics::Metrics;
//!
//! let metrics = Metrics::new();
//! metrics.record_metric("orders_open", 3.0, &[("region", "eu")])?;
//! metrics.increment("orders_rejected", 1.0, &[])?;
//! let text = metrics.prometheus();
//! assert!(text.contains("orders_open{region=\"eu\"} 3.0"));
//! assert_eq!(metrics.snapshot()["custom"]["orders_open"][0]["value"], 3.0);
//! assert!(metrics.record_metric("orders open", 1.0, &[]).is_err());
//! # Ok::<(), kafka_utils::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

use crate::Error;

mod statistics;

type Labels = Vec<(String, String)>;
type Counters = Family<Labels, Counter<f64, AtomicU64>>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 100 µs to about 52 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

/// The built-in metrics of one topic, looked up once and then updated without locks.
pub(crate) struct TopicMetrics {
    pub(crate) produced: Counter<f64, AtomicU64>,
    pub(crate) produce_errors: Counter<f64, AtomicU64>,
    pub(crate) consumed: Counter<f64, AtomicU64>,
    pub(crate) handled: Counter<f64, AtomicU64>,
    pub(crate) handler_errors: Counter<f64, AtomicU64>,
    pub(crate) retried: Counter<f64, AtomicU64>,
    pub(crate) dead_lettered: Counter<f64, AtomicU64>,
    pub(crate) handler_duration: Timing,
    pub(crate) delivery_latency: Timing,
}

/// A histogram, with its count and sum kept for the JSON snapshot too.
#[derive(Clone)]
pub(crate) struct Timing {
    histogram: Histogram,
    count: Arc<AtomicU64>,
    sum_micros: Arc<AtomicU64>,
}

impl Timing {
    fn new(histogram: Histogram) -> Self {
        Timing {
            histogram,
            count: Arc::new(AtomicU64::new(0)),
            sum_micros: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn observe(&self, elapsed: Duration) {
        self.histogram.observe(elapsed.as_secs_f64());
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Value {
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        json!({ "count": self.count.load(Ordering::Relaxed), "sum_seconds": sum })
    }
}

struct Builtin {
    produced: Counters,
    produce_errors: Counters,
    consumed: Counters,
    handled: Counters,
    handler_errors: Counters,
    retried: Counters,
    dead_lettered: Counters,
    handler_duration: Histograms,
    delivery_latency: Histograms,
    queue_messages: Gauges,
    broker_rtt: Gauges,
    consumer_lag: Gauges,
}

/// A custom metric and the last value of each of its label sets (for the snapshot).
type CustomMetric = (Custom, BTreeMap<Labels, f64>);

enum Custom {
    Gauge(Gauges),
    Counter(Counters),
}

struct Inner {
    registry: RwLock<Registry>,
    builtin: Builtin,
    topics: RwLock<HashMap<&'static str, Arc<TopicMetrics>>>,
    custom: Mutex<BTreeMap<String, CustomMetric>>,
}

/// A service's metrics. Cheap to clone; clones share everything. See the
/// [module docs](self).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

const BUILTIN: [(&str, &str); 12] = [
    ("kafka_messages_produced", "Records the broker acknowledged"),
    ("kafka_produce_errors", "Records that failed for good"),
    ("kafka_messages_consumed", "Records received"),
    ("kafka_messages_handled", "Records a handler handled"),
    ("kafka_handler_errors", "Handler attempts that failed"),
    (
        "kafka_messages_retried",
        "Records sent to a retry topic, by the topic they were read from",
    ),
    (
        "kafka_messages_dead_lettered",
        "Records sent to a dead-letter topic",
    ),
    (
        "kafka_handler_duration_seconds",
        "Time a handler took per record",
    ),
    (
        "kafka_delivery_latency_seconds",
        "Time from send to the delivery report",
    ),
    (
        "kafka_client_queue_messages",
        "Records in the producer's queue, not yet acknowledged (librdkafka statistics)",
    ),
    (
        "kafka_client_broker_rtt_seconds",
        "Average request round trip to each broker (librdkafka statistics)",
    ),
    (
        "kafka_consumer_lag",
        "Records behind the partition's end, per assigned partition (librdkafka statistics)",
    ),
];

/// `\`, `"` and a line feed escaped as `\\`, `\"` and `\n`, as the text formats ask.
fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn valid_name(name: &str, first: impl Fn(char) -> bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(first)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Metrics {
    /// A fresh set of metrics with the built-in ones registered.
    pub fn new() -> Self {
        let builtin = Builtin {
            produced: Counters::default(),
            produce_errors: Counters::default(),
            consumed: Counters::default(),
            handled: Counters::default(),
            handler_errors: Counters::default(),
            retried: Counters::default(),
            dead_lettered: Counters::default(),
            handler_duration: Histograms::new_with_constructor(seconds_histogram),
            delivery_latency: Histograms::new_with_constructor(seconds_histogram),
            queue_messages: Gauges::default(),
            broker_rtt: Gauges::default(),
            consumer_lag: Gauges::default(),
        };
        let mut registry = Registry::default();
        // A fixed-size pattern: adding a name without its family (or the reverse) does not
        // compile.
        let [
            produced,
            produce_errors,
            consumed,
            handled,
            handler_errors,
            retried,
            dead_lettered,
            handler_duration,
            delivery_latency,
            queue_messages,
            broker_rtt,
            consumer_lag,
        ] = BUILTIN;
        for ((name, help), family) in [
            (produced, &builtin.produced),
            (produce_errors, &builtin.produce_errors),
            (consumed, &builtin.consumed),
            (handled, &builtin.handled),
            (handler_errors, &builtin.handler_errors),
            (retried, &builtin.retried),
            (dead_lettered, &builtin.dead_lettered),
        ] {
            registry.register(name, help, family.clone());
        }
        for ((name, help), family) in [
            (handler_duration, &builtin.handler_duration),
            (delivery_latency, &builtin.delivery_latency),
        ] {
            registry.register(name, help, family.clone());
        }
        for ((name, help), family) in [
            (queue_messages, &builtin.queue_messages),
            (broker_rtt, &builtin.broker_rtt),
            (consumer_lag, &builtin.consumer_lag),
        ] {
            registry.register(name, help, family.clone());
        }
        Metrics {
            inner: Arc::new(Inner {
                registry: RwLock::new(registry),
                builtin,
                topics: RwLock::new(HashMap::new()),
                custom: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The built-in metrics of `topic` (created on first use).
    pub(crate) fn topic(&self, topic: &'static str) -> Arc<TopicMetrics> {
        if let Some(found) = self
            .inner
            .topics
            .read()
            .ok()
            .and_then(|t| t.get(topic).cloned())
        {
            return found;
        }
        let labels = vec![("topic".to_string(), topic.to_string())];
        let b = &self.inner.builtin;
        let metrics = Arc::new(TopicMetrics {
            produced: b.produced.get_or_create_owned(&labels),
            produce_errors: b.produce_errors.get_or_create_owned(&labels),
            consumed: b.consumed.get_or_create_owned(&labels),
            handled: b.handled.get_or_create_owned(&labels),
            handler_errors: b.handler_errors.get_or_create_owned(&labels),
            retried: b.retried.get_or_create_owned(&labels),
            dead_lettered: b.dead_lettered.get_or_create_owned(&labels),
            handler_duration: Timing::new(b.handler_duration.get_or_create_owned(&labels)),
            delivery_latency: Timing::new(b.delivery_latency.get_or_create_owned(&labels)),
        });
        if let Ok(mut topics) = self.inner.topics.write() {
            topics.insert(topic, Arc::clone(&metrics));
        }
        metrics
    }

    fn custom(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        counter: bool,
        update: impl FnOnce(&Custom, &Labels) -> f64,
    ) -> Result<(), Error> {
        let bad = |message: String| Error::Settings {
            variable: "metric",
            message: format!(" `{name}`: {message}"),
        };
        if !valid_name(name, |c| c.is_ascii_alphabetic() || c == '_' || c == ':') {
            return Err(bad(
                "a metric name is letters, digits, `_` and `:`, not starting with a digit".into(),
            ));
        }
        if BUILTIN
            .iter()
            .any(|(b, _)| name == *b || name.starts_with(&format!("{b}_")))
        {
            return Err(bad("that name is a built-in metric's".into()));
        }
        if let Some((label, _)) = labels.iter().find(|(l, _)| {
            !valid_name(l, |c| c.is_ascii_alphabetic() || c == '_')
                || l.contains(':')
                || l.starts_with("__")
        }) {
            return Err(bad(format!(
                "label `{label}` is not a label name (letters, digits and `_`, not starting with a digit or `__`)"
            )));
        }
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // prometheus-client writes label values as they are (matter-labs/vise#37 met the
        // same): escape them as the exposition format asks, for the registry only.
        let escaped: Labels = labels
            .iter()
            .map(|(k, v)| (k.clone(), escape_label_value(v)))
            .collect();
        let mut custom = self
            .inner
            .custom
            .lock()
            .map_err(|_| Error::Runtime("the metrics lock was poisoned".into()))?;
        if !custom.contains_key(name) {
            let metric = if counter {
                let family = Counters::default();
                self.register(name, family.clone())?;
                Custom::Counter(family)
            } else {
                let family = Gauges::default();
                self.register(name, family.clone())?;
                Custom::Gauge(family)
            };
            custom.insert(name.to_string(), (metric, BTreeMap::new()));
        }
        let Some((metric, values)) = custom.get_mut(name) else {
            return Err(Error::Runtime(format!("metric `{name}` vanished")));
        };
        match (metric, counter) {
            (Custom::Counter(_), false) => Err(bad("it is a counter (use `increment`)".into())),
            (Custom::Gauge(_), true) => Err(bad("it is a gauge (use `record_metric`)".into())),
            (metric, _) => {
                let value = update(metric, &escaped);
                values.insert(labels, value);
                Ok(())
            }
        }
    }

    fn register(
        &self,
        name: &str,
        metric: impl prometheus_client::registry::Metric,
    ) -> Result<(), Error> {
        let mut registry = self
            .inner
            .registry
            .write()
            .map_err(|_| Error::Runtime("the metrics registry lock was poisoned".into()))?;
        registry.register(name, format!("{name} (recorded by the service)"), metric);
        Ok(())
    }

    /// Sets gauge `name` with `labels` to `value` (created on first use).
    pub fn record_metric(
        &self,
        name: &str,
        value: f64,
        labels: &[(&str, &str)],
    ) -> Result<(), Error> {
        self.custom(name, labels, false, |metric, labels| {
            if let Custom::Gauge(family) = metric {
                family.get_or_create(labels).set(value);
            }
            value
        })
    }

    /// Adds `by` (not negative) to counter `name` with `labels` (created on first use);
    /// Prometheus shows it as `<name>_total`.
    pub fn increment(&self, name: &str, by: f64, labels: &[(&str, &str)]) -> Result<(), Error> {
        if by.is_nan() || by < 0.0 {
            return Err(Error::Settings {
                variable: "metric",
                message: format!(" `{name}`: a counter only goes up; got {by}"),
            });
        }
        self.custom(name, labels, true, |metric, labels| match metric {
            Custom::Counter(family) => {
                let counter = family.get_or_create(labels);
                counter.inc_by(by);
                counter.get()
            }
            Custom::Gauge(_) => f64::NAN,
        })
    }

    /// The Prometheus text exposition (OpenMetrics 1.0, which Prometheus reads).
    pub fn prometheus(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.inner.registry.read() {
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }

    /// Everything as JSON: `{"topics": {<topic>: {...}}, "custom": {<name>: [{"labels", "value"}]}}`.
    pub fn snapshot(&self) -> Value {
        let mut topics = serde_json::Map::new();
        if let Ok(all) = self.inner.topics.read() {
            let mut names: Vec<&&str> = all.keys().collect();
            names.sort();
            for name in names {
                let m = &all[*name];
                topics.insert(
                    name.to_string(),
                    json!({
                        "produced": m.produced.get(),
                        "produce_errors": m.produce_errors.get(),
                        "consumed": m.consumed.get(),
                        "handled": m.handled.get(),
                        "handler_errors": m.handler_errors.get(),
                        "retried": m.retried.get(),
                        "dead_lettered": m.dead_lettered.get(),
                        "handler_duration": m.handler_duration.snapshot(),
                        "delivery_latency": m.delivery_latency.snapshot(),
                    }),
                );
            }
        }
        let mut custom = serde_json::Map::new();
        if let Ok(all) = self.inner.custom.lock() {
            for (name, (_, values)) in all.iter() {
                let samples: Vec<Value> = values
                    .iter()
                    .map(|(labels, value)| {
                        let labels: serde_json::Map<String, Value> =
                            labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                        json!({ "labels": labels, "value": value })
                    })
                    .collect();
                custom.insert(name.clone(), Value::Array(samples));
            }
        }
        json!({ "topics": topics, "custom": custom })
    }
}
