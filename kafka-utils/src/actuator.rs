//! The actuator endpoints, as an axum [`Router`] to serve alone or merge into the
//! service's own:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /actuator/health` | [`crate::health::Health`] as JSON; HTTP 503 when DOWN, else 200 |
//! | `GET /actuator/health/liveness` | [`HealthCheck::liveness`]: the process is alive (never the cluster); 503 when DOWN |
//! | `GET /actuator/health/readiness` | [`HealthCheck::readiness`]: the cluster, the topics, the consumers assigned; 503 when DOWN |
//! | `GET /actuator/metrics` | [`Metrics::snapshot`] as JSON |
//! | `GET /actuator/prometheus` | [`Metrics::prometheus`], `application/openmetrics-text` |
//!
//! Every health answer comes within the check's timeout (800 ms by default), whatever the
//! cluster does: point Kubernetes' `livenessProbe` at the liveness route and its
//! `readinessProbe` at the readiness route.
//!
//! ```no_run
//! # use kafka_utils::prelude::*;
//! # #[derive(KafkaTopics)] pub enum Topics { #[topic(name = "t", message = String)] T }
//! # #[derive(KafkaUsers)] pub enum Users { #[user(name = "u")] U }
//! # permissions! { Users::U => { Topics::T => [Read] } }
//! use std::sync::Arc;
//! use kafka_utils::{actuator, health::HealthCheck, metrics::Metrics, settings::Settings};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let health = Arc::new(HealthCheck::new(&Settings::from_env()?, &TOPOLOGY)?);
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my service" }))
//!     .merge(actuator::router(health, Metrics::new()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::health::{Health, HealthCheck, Status};
use crate::metrics::Metrics;

/// The content type of the Prometheus endpoint (OpenMetrics 1.0, which Prometheus reads).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct Actuator {
    health: Arc<HealthCheck>,
    metrics: Metrics,
}

/// The `/actuator/*` routes over `health` and `metrics`.
pub fn router(health: Arc<HealthCheck>, metrics: Metrics) -> Router {
    Router::new()
        .route("/actuator/health", get(health_endpoint))
        .route("/actuator/health/liveness", get(liveness_endpoint))
        .route("/actuator/health/readiness", get(readiness_endpoint))
        .route("/actuator/metrics", get(metrics_endpoint))
        .route("/actuator/prometheus", get(prometheus_endpoint))
        .with_state(Actuator { health, metrics })
}

async fn health_endpoint(State(actuator): State<Actuator>) -> Response {
    answer(actuator.health.check().await)
}

async fn liveness_endpoint(State(actuator): State<Actuator>) -> Response {
    answer(actuator.health.liveness().await)
}

async fn readiness_endpoint(State(actuator): State<Actuator>) -> Response {
    answer(actuator.health.readiness().await)
}

/// `health` as JSON: 503 when DOWN, else 200.
fn answer(health: Health) -> Response {
    let code = if health.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(health)).into_response()
}

async fn metrics_endpoint(State(actuator): State<Actuator>) -> Response {
    axum::Json(actuator.metrics.snapshot()).into_response()
}

async fn prometheus_endpoint(State(actuator): State<Actuator>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        actuator.metrics.prometheus(),
    )
        .into_response()
}
