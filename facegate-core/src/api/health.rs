//! `GET /v1/health`: liveness and readiness probe, no API key.

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{FaceGate, HEALTH_PROBE_TIMEOUT, wire};

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct HealthResponse {
    status: &'static str,
    checks: Map<String, Value>,
    /// The face engine in use, if any.
    provider: Option<&'static str>,
    version: &'static str,
    uptime_seconds: u64,
}

impl FaceGate {
    pub(super) async fn health(&self) -> Response<Bytes> {
        let mut checks = Map::new();
        let db_ok = probe(&mut checks, "db", self.inner.store.ping()).await;
        let provider = self.inner.face.as_ref().map(|face| face.name());
        let provider_ok = match &self.inner.face {
            Some(face) => probe(&mut checks, face.name(), face.health()).await,
            None => true,
        };
        let (status, code) = match (db_ok, provider_ok) {
            (false, _) => ("unhealthy", StatusCode::SERVICE_UNAVAILABLE),
            (true, false) => ("degraded", StatusCode::OK),
            (true, true) => ("healthy", StatusCode::OK),
        };
        wire::json_response(
            code,
            &HealthResponse {
                status,
                checks,
                provider,
                version: env!("CARGO_PKG_VERSION"),
                uptime_seconds: self.inner.started.elapsed().as_secs(),
            },
        )
    }
}

/// Runs one check with a time limit and records `{ status, latencyMs }` under `name`.
async fn probe<E: std::fmt::Display>(
    checks: &mut Map<String, Value>,
    name: &str,
    check: impl Future<Output = Result<(), E>>,
) -> bool {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(HEALTH_PROBE_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {HEALTH_PROBE_TIMEOUT:?}")),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let entry = match &outcome {
        Ok(()) => json!({ "status": "ok", "latencyMs": latency_ms }),
        Err(err) => {
            tracing::warn!(check = name, error = %err, "health check failed");
            json!({ "status": "error", "latencyMs": latency_ms })
        }
    };
    checks.insert(name.to_owned(), entry);
    outcome.is_ok()
}
