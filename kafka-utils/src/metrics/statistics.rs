//! librdkafka's statistics (its JSON report, every `statistics.interval.ms`) into gauges.

use serde_json::Value;

use super::{Labels, Metrics, escape_label_value};

impl Metrics {
    /// Takes in a librdkafka statistics report (its JSON) of client `client` (the user's
    /// name). Read leniently, field by field: rust-rdkafka's `Statistics` struct rejects the
    /// whole report when librdkafka adds or changes a field it expects.
    pub(crate) fn record_statistics(&self, client: &str, json: &[u8]) {
        let Ok(stats) = serde_json::from_slice::<Value>(json) else {
            return;
        };
        let b = &self.inner.builtin;
        let label = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), escape_label_value(v)))
                .collect()
        };
        let kind = stats["type"].as_str().unwrap_or("unknown");
        // librdkafka's name of the handle (`<client.id>#producer-<n>`): two clients of one
        // user are two series, not one that each overwrites.
        let instance = stats["name"].as_str().unwrap_or("unknown");
        if kind == "producer"
            && let Some(queued) = stats["msg_cnt"].as_f64()
        {
            b.queue_messages
                .get_or_create(&label(&[("client", client), ("instance", instance)]))
                .set(queued);
        }
        if let Some(brokers) = stats["brokers"].as_object() {
            for broker in brokers.values() {
                let node = broker["nodeid"].as_i64().unwrap_or(-1);
                // A bootstrap connection (-1) is not a broker; a window with no samples has 0.
                let rtt = broker["rtt"]["avg"].as_f64().unwrap_or(0.0);
                if node < 0 || rtt <= 0.0 {
                    continue;
                }
                let node = node.to_string();
                let labels = label(&[
                    ("client", client),
                    ("instance", instance),
                    ("type", kind),
                    ("broker", &node),
                ]);
                b.broker_rtt.get_or_create(&labels).set(rtt / 1e6);
            }
        }
        if kind != "consumer" {
            return;
        }
        let Some(topics) = stats["topics"].as_object() else {
            return;
        };
        for (topic, detail) in topics {
            let Some(partitions) = detail["partitions"].as_object() else {
                continue;
            };
            for (partition, detail) in partitions {
                let lag = detail["consumer_lag"].as_i64().unwrap_or(-1);
                // -1: the internal unassigned partition, or a lag not known yet.
                if partition.starts_with('-') || lag < 0 {
                    continue;
                }
                let labels = label(&[
                    ("client", client),
                    ("instance", instance),
                    ("topic", topic),
                    ("partition", partition),
                ]);
                b.consumer_lag.get_or_create(&labels).set(lag as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer's report, cut down from a real one of librdkafka 2.x (the fields read, and
    /// a few neighbours).
    const CONSUMER: &str = r#"{
        "name": "svc#consumer-4", "type": "consumer", "msg_cnt": 0,
        "brokers": {
            "127.0.0.1:9092/bootstrap": {"nodeid": -1, "rtt": {"avg": 0}},
            "127.0.0.1:9092/1": {"nodeid": 1, "rtt": {"avg": 8419, "p99": 9000}},
            "GroupCoordinator": {"nodeid": -1, "rtt": {"avg": 500}}
        },
        "topics": {"orders": {"topic": "orders", "partitions": {
            "-1": {"partition": -1, "consumer_lag": -1},
            "0": {"partition": 0, "committed_offset": 4, "hi_offset": 4, "consumer_lag": 0},
            "1": {"partition": 1, "committed_offset": 2, "hi_offset": 9, "consumer_lag": 7},
            "2": {"partition": 2, "committed_offset": -1001, "consumer_lag": -1}
        }}}
    }"#;

    /// The sample lines of `family`, sorted (a family keeps its series in a hash map).
    fn lines(metrics: &Metrics, family: &str) -> Vec<String> {
        let mut lines: Vec<String> = metrics
            .prometheus()
            .lines()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn a_consumer_report_gives_rtt_and_lag_per_partition() {
        let metrics = Metrics::new();
        metrics.record_statistics("svc", CONSUMER.as_bytes());
        assert_eq!(
            lines(&metrics, "kafka_consumer_lag"),
            [
                r#"kafka_consumer_lag{client="svc",instance="svc#consumer-4",topic="orders",partition="0"} 0.0"#,
                r#"kafka_consumer_lag{client="svc",instance="svc#consumer-4",topic="orders",partition="1"} 7.0"#,
            ]
        );
        assert_eq!(
            lines(&metrics, "kafka_client_broker_rtt_seconds"),
            [
                r#"kafka_client_broker_rtt_seconds{client="svc",instance="svc#consumer-4",type="consumer",broker="1"} 0.008419"#
            ]
        );
        assert!(lines(&metrics, "kafka_client_queue_messages").is_empty());
    }

    #[test]
    fn a_producer_report_gives_its_queue() {
        let metrics = Metrics::new();
        let report =
            r#"{"name": "p#producer-1", "type": "producer", "msg_cnt": 12, "brokers": {}}"#;
        metrics.record_statistics("svc", report.as_bytes());
        assert_eq!(
            lines(&metrics, "kafka_client_queue_messages"),
            [r#"kafka_client_queue_messages{client="svc",instance="p#producer-1"} 12.0"#]
        );
    }

    #[test]
    fn a_report_that_is_not_what_is_expected_changes_nothing() {
        let metrics = Metrics::new();
        let before = metrics.prometheus();
        for report in [
            "",
            "not json",
            "[]",
            r#"{"type": 3, "brokers": [], "topics": {"t": 1}}"#,
            r#"{"type": "consumer", "topics": {"t": {"partitions": {"0": {"consumer_lag": "x"}}}}}"#,
        ] {
            metrics.record_statistics("svc", report.as_bytes());
        }
        assert_eq!(metrics.prometheus(), before);
    }
}
