//! The side-by-side benchmark of kafka-utils: raw rust-rdkafka, kafka-utils' typed producer,
//! consumer and handler runner, Apache Kafka's Java client, confluent-kafka-python, aiokafka
//! and FastStream, on one
//! broker, in one run, each client in a process of its own (so that its CPU time and peak
//! memory are its own).
//!
//! `bash scripts/bench.sh` runs it all: the broker, the Python virtualenv, this program,
//! `BENCHMARKS.md` and the chart. See [`plan`] for what is measured and in which order, and
//! [`job`] for what a client is asked and answers.

pub mod clients;
pub mod codecs;
pub mod job;
pub mod machine;
pub mod plan;
pub mod report;
pub mod scale;
pub mod stats;
mod targets;
