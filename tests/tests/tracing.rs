//! A trace follows a message: the `kafka.handle` span of the app that handles a record is a
//! child of the `kafka.produce` span that sent it, through the record's W3C `traceparent`
//! header, with tracing-opentelemetry and an in-memory exporter, through the real broker. Each
//! span names the topic, partition and offset of its record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kafka_utils::app::{App, Context};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::trace::{TRACEPARENT, parse_traceparent};
use kafka_utils_tests::TestCluster;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "traced.jobs", message = u32, partitions = 1)]
    Jobs,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "traced", groups = ["traced"])]
    Traced,
}

permissions! { Users::Traced => { Topics::Jobs => [Read, Write, AutoCommitOffset] } }

#[tokio::test]
async fn the_handler_span_is_a_child_of_the_producer_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("kafka-utils-test")));
    // Global, as a service sets it: spans end on librdkafka's threads too (a parent closed
    // by its last child on another thread is closed through that thread's dispatcher).
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this test binary");

    let cluster = TestCluster::get();
    cluster.recreate_topic("traced.jobs", 1).await;
    let settings = cluster.settings();
    let producer = Producer::<users::Traced>::new(&settings).unwrap();
    let delivered = async {
        producer
            .send(topics::Jobs, &7)
            .await
            .unwrap()
            .await
            .unwrap()
    }
    .instrument(tracing::info_span!("request"))
    .await;
    producer.close().await.unwrap();

    let seen_header = Arc::new(std::sync::Mutex::new(None));
    let handled = Arc::new(AtomicU32::new(0));
    let (header, done) = (Arc::clone(&seen_header), Arc::clone(&handled));
    let app = App::<users::Traced>::new(&settings).unwrap().handle(
        topics::Jobs,
        move |_: u32, ctx: Context<users::Traced>| {
            let (header, done) = (Arc::clone(&header), Arc::clone(&done));
            async move {
                let value = ctx.header(TRACEPARENT).map(<[u8]>::to_vec);
                if let Ok(mut header) = header.lock() {
                    *header = value;
                }
                tracing::info_span!("work").in_scope(|| {});
                done.fetch_add(1, Ordering::SeqCst);
                Ok::<(), std::convert::Infallible>(())
            }
        },
    );
    let stop = async {
        while handled.load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), app.run_until(stop))
        .await
        .expect("handled within 60 s")
        .unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let find = |name: &str| {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!(
                "no `{name}` span in {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    let (request, produce, handle, work) = (
        find("request"),
        find("kafka.produce"),
        find("kafka.handle"),
        find("work"),
    );
    let trace = request.span_context.trace_id();
    assert_eq!(produce.parent_span_id, request.span_context.span_id());
    assert_eq!(
        handle.span_context.trace_id(),
        trace,
        "the handler continues the trace"
    );
    assert_eq!(handle.parent_span_id, produce.span_context.span_id());
    assert_eq!(work.parent_span_id, handle.span_context.span_id());
    let (partition, offset) = (i64::from(delivered.partition), delivered.offset);
    assert_eq!(
        attributes(
            produce,
            &[
                "messaging.destination.name",
                "messaging.kafka.partition",
                "messaging.kafka.offset"
            ]
        ),
        [
            Value::from("traced.jobs"),
            Value::I64(partition),
            Value::I64(offset)
        ]
    );
    assert_eq!(
        attributes(
            handle,
            &[
                "messaging.source.name",
                "messaging.kafka.partition",
                "messaging.kafka.offset",
                "attempt"
            ]
        ),
        [
            Value::from("traced.jobs"),
            Value::I64(partition),
            Value::I64(offset),
            Value::I64(1)
        ]
    );

    let header = seen_header
        .lock()
        .unwrap()
        .clone()
        .expect("a traceparent header");
    let (trace_id, parent, flags) = parse_traceparent(&header).expect("a valid traceparent");
    assert_eq!(trace_id.to_be_bytes(), trace.to_bytes());
    assert_eq!(
        parent.to_be_bytes(),
        produce.span_context.span_id().to_bytes()
    );
    assert_eq!(flags, 1);
}

/// The values of `keys` among the span's attributes, in that order; panics naming a missing one.
fn attributes(span: &SpanData, keys: &[&str]) -> Vec<Value> {
    keys.iter()
        .map(|key| {
            span.attributes
                .iter()
                .find(|KeyValue { key: k, .. }| k.as_str() == *key)
                .map(|kv| kv.value.clone())
                .unwrap_or_else(|| panic!("no `{key}` on `{}`: {:?}", span.name, span.attributes))
        })
        .collect()
}
