//! The Python library's FastAPI service, in Rust: the admin provisions the topology, a
//! producer feeds orders, a typed handler takes them (recording metrics and writing an audit
//! record), a periodic health check logs the state, and the actuator endpoints serve health,
//! metrics and Prometheus text.
//!
//! ```sh
//! cargo run -p kafka-utils-examples --example service        # on the embedded default
//! bash broker/kafka.sh run cargo run -p kafka-utils-examples --example service
//! curl -s localhost:8080/actuator/health
//! ```
//!
//! `SERVICE_HTTP_ADDR` sets where it listens (default `127.0.0.1:8080`; port 0 picks a free
//! one, printed at start). It stops gracefully on Ctrl-C or SIGTERM, or after
//! `SERVICE_RUN_SECS` seconds when that is set.
//!
//! Its log (its own events, kafka-utils' and librdkafka's) goes through
//! `kafka_utils::logging`: text on standard output, JSON with `SERVICE_LOG_FORMAT=json`,
//! rotated files in `SERVICE_LOG_DIR` when that is set.

use std::sync::Arc;
use std::time::Duration;

use kafka_utils::admin::KafkaAdmin;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::health::HealthCheck;
use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::{actuator, app};
use kafka_utils_examples::service::{BoxError, Order, TOPOLOGY, handle, topics, users};

/// Where the cluster is: `KAFKA_BOOTSTRAP_SERVERS`, or the embedded default.
async fn cluster(settings: &mut Settings) -> Result<Option<EmbeddedCluster>, BoxError> {
    if let Some(servers) = &settings.bootstrap_servers {
        println!("service: using the cluster at {servers}");
        let admin = KafkaAdmin::new(settings, &TOPOLOGY)?;
        print!("{}", admin.ensure_topics().await?);
        // The ACLs need a user that may alter them; a service usually may not.
        if let Err(e) = admin.ensure_acls().await {
            println!("service: ACLs not provisioned ({e})");
        }
        return Ok(None);
    }
    let cluster = EmbeddedCluster::start(1)?;
    for topic in TOPOLOGY.topics() {
        cluster.create_topic(topic.name, topic.partitions.unwrap_or(1))?;
    }
    println!(
        "service: KAFKA_BOOTSTRAP_SERVERS is not set, so running on the embedded default ({})",
        cluster.bootstrap_servers()
    );
    settings.bootstrap_servers = Some(cluster.bootstrap_servers());
    Ok(Some(cluster))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Kept to the end: what is still queued is written when it drops.
    let _log = kafka_utils::logging::init()?;
    let mut settings = Settings::from_env()?;
    let _embedded = cluster(&mut settings).await?;
    let metrics = Metrics::new();
    let health = Arc::new(HealthCheck::new(&settings, &TOPOLOGY)?);

    let handler_metrics = metrics.clone();
    let app = App::<users::OrderService>::new(&settings)?
        .metrics(&metrics)
        .handle(topics::Orders, move |order: Order, ctx| {
            handle(order, ctx, handler_metrics.clone())
        });
    health.watch(app.probe());

    let address = std::env::var("SERVICE_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| format!("SERVICE_HTTP_ADDR=`{address}`: cannot listen there: {e}"))?;
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "order service\n" }))
        .merge(actuator::router(Arc::clone(&health), metrics.clone()));
    println!("service: listening on http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });

    // A shop that sends an order every 200 ms.
    let producer = Producer::<users::OrderService>::new(&settings)?.metrics(&metrics);
    let shop = producer.clone();
    let shopping = tokio::spawn(async move {
        for id in 0u64.. {
            let order = Order {
                id,
                amount_cents: (id * 7_919) % 150_000,
            };
            let record = kafka_utils::producer::Record::new(&order).key(&order.id);
            if let Ok(sent) = shop.send_record(topics::Orders, record).await {
                let _ = sent.await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    // The periodic health check.
    let periodic = Arc::clone(&health);
    let checking = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let report = periodic.check().await;
            tracing::info!(status = ?report.status, "service health");
        }
    });

    let run_for = std::env::var("SERVICE_RUN_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let stop = async move {
        let deadline = async {
            match run_for {
                Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = deadline => {}
            () = app::shutdown_signal() => {}
        }
    };
    app.run_until(stop).await?;
    // The shop and the periodic check end before the cluster they use (the embedded one
    // goes with `main`).
    shopping.abort();
    checking.abort();
    let _ = tokio::join!(shopping, checking);
    producer.close().await?;
    println!("service: stopped");
    Ok(())
}
