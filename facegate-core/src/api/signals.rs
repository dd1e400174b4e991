//! `POST /v1/signals`: a batch of a client's telemetry (attempts, retries,
//! camera errors) for the statistics and the risk engine. A browser's
//! (client) key may send it, in the `Authorization` header or, for
//! `navigator.sendBeacon` (which cannot set headers), as the body's
//! `api_key`.
//!
//! Cheap to refuse: the batch is validated whole before anything is written
//! (every bad signal named by its index), counted against a per-network
//! limit in the database, and written by at most
//! [`SignalsConfig::max_concurrent_writes`] requests at once per instance;
//! beyond that, 503 with `Retry-After` (the spec's "ingestion unavailable").

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rate_limit::FixedWindow;
use super::{ClientAddr, FaceGate, wire};
use crate::clock;
use crate::domain::{Signal, Tenant};
use crate::error::{ApiError, FieldIssue};
use crate::providers::risk::network_of;

/// Signals one request may carry (the spec's 100).
pub const MAX_SIGNALS: usize = 100;
/// How old a signal may be (the spec's 24 hours) and how far ahead of the
/// server's clock (60 s).
const MAX_AGE: chrono::Duration = chrono::Duration::hours(24);
const MAX_AHEAD: chrono::Duration = chrono::Duration::seconds(60);
/// A signal's `data`, as JSON.
pub const MAX_DATA_BYTES: usize = 1024;
/// `source` and `type`.
const MAX_NAME: usize = 64;

/// How signals are taken in ([`crate::FaceGateBuilder::signals`]).
#[derive(Debug, Clone)]
pub struct SignalsConfig {
    /// Batches this instance writes at once; more answer 503. Default 8.
    pub max_concurrent_writes: usize,
    /// Requests per minute from one network (a /24 or /48) to one tenant,
    /// counted in the database across instances. Default 120. Without the
    /// client's address (an adapter that cannot tell it) every client
    /// shares one bucket.
    pub requests_per_minute: u32,
    /// Requests per minute to one tenant from everywhere, counted the same
    /// way: what bounds the rows a public client key can add. Default 600
    /// (at most 60 000 signals a minute).
    pub tenant_requests_per_minute: u32,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            max_concurrent_writes: 8,
            requests_per_minute: 120,
            tenant_requests_per_minute: 600,
        }
    }
}

/// The config and this instance's write slots.
pub(super) struct Signals {
    config: SignalsConfig,
    writes: Arc<tokio::sync::Semaphore>,
}

impl Signals {
    pub(super) fn new(config: SignalsConfig) -> Self {
        Self {
            writes: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_writes)),
            config,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignalsRequest {
    device_fingerprint: String,
    /// Each checked on its own, so every bad one is named by its index.
    #[schema(value_type = Vec<SignalIn>)]
    signals: Vec<Value>,
    /// A beacon's client key (it cannot set headers); read by `dispatch`.
    #[serde(default, rename = "api_key")]
    _api_key: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignalIn {
    signal_id: String,
    source: String,
    #[serde(rename = "type")]
    kind: String,
    /// Milliseconds since the epoch, as the spec's example.
    timestamp: i64,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Accepted {
    /// New signals stored.
    accepted: u64,
    /// Signals stored before (resends), not counted again.
    duplicates: u64,
}

/// The body's `api_key`, for a request without a key header (a beacon).
pub(super) fn beacon_key(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct KeyOnly {
        api_key: Option<String>,
    }
    serde_json::from_slice::<KeyOnly>(body).ok()?.api_key
}

impl FaceGate {
    pub(super) async fn ingest_signals(
        &self,
        tenant: &Tenant,
        client: Option<ClientAddr>,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        // Every field is checked below, NUL included, and reported at once.
        let request: SignalsRequest = wire::parse_json_unscreened(body)?;
        let now = clock::now();
        let signals = validate(tenant, &request, now)?;
        let config = &self.inner.signals.config;
        let network = client.map_or_else(|| "unknown".to_owned(), |c| network_of(c.0));
        for (limit, bucket) in [
            (
                config.requests_per_minute,
                format!("signals:{}:{network}", tenant.id),
            ),
            (
                config.tenant_requests_per_minute,
                format!("signals:{}", tenant.id),
            ),
        ] {
            FixedWindow {
                limit,
                window: Duration::from_secs(60),
            }
            .check(self.inner.store.as_ref(), &bucket, now)
            .await?;
        }
        let Ok(_slot) = self.inner.signals.writes.try_acquire() else {
            return Err(ApiError::SignalsUnavailable);
        };
        let accepted = self.inner.store.insert_signals(&signals).await?;
        let duplicates = u64::try_from(request.signals.len())
            .unwrap_or(u64::MAX)
            .saturating_sub(accepted);
        if duplicates == 0 {
            // Analytics' client retries. A batch that repeats signals (a
            // beacon's resend) is not counted again, its new ones included.
            self.count_usage(Some((tenant.id.clone(), signal_tallies(&signals))))
                .await;
        }
        Ok(wire::json_response(
            StatusCode::ACCEPTED,
            &Accepted {
                accepted,
                duplicates,
            },
        ))
    }
}

/// A batch's signals by type, for the rollup: `attempt`, `retry`, and any
/// other type as `other` (types are the client's to name).
fn signal_tallies(signals: &[Signal]) -> Vec<crate::usage::UsageTally> {
    let mut counts = std::collections::BTreeMap::<&str, u32>::new();
    for signal in signals {
        let kind = match signal.kind.as_str() {
            kind @ ("attempt" | "retry") => kind,
            _ => "other",
        };
        *counts.entry(kind).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(kind, count)| crate::usage::UsageTally {
            metric: crate::usage::UsageMetric::Signal,
            dimension: kind.to_owned(),
            count,
            success: false,
            latency_ms: 0,
            confidence: None,
        })
        .collect()
}

/// The batch as signals, or every problem in it.
fn validate(
    tenant: &Tenant,
    request: &SignalsRequest,
    now: DateTime<Utc>,
) -> Result<Vec<Signal>, ApiError> {
    let mut issues = Vec::new();
    let fingerprint = request.device_fingerprint.to_ascii_lowercase();
    if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
        issues.push(FieldIssue::new(
            "device_fingerprint",
            "a hex SHA-256 (64 characters)",
        ));
    }
    if request.signals.is_empty() || request.signals.len() > MAX_SIGNALS {
        issues.push(FieldIssue::new(
            "signals",
            format!("between 1 and {MAX_SIGNALS} signals"),
        ));
        return Err(ApiError::Validation(issues));
    }
    let mut signals = Vec::with_capacity(request.signals.len());
    for (i, raw) in request.signals.iter().enumerate() {
        let at = |field: &str| {
            if field.is_empty() {
                format!("signals.{i}")
            } else {
                format!("signals.{i}.{field}")
            }
        };
        let signal: SignalIn = match serde_json::from_value(raw.clone()) {
            Ok(signal) => signal,
            Err(err) => {
                issues.push(FieldIssue::new(&at(""), err.to_string()));
                continue;
            }
        };
        let before = issues.len();
        let signal_id = match uuid::Uuid::parse_str(&signal.signal_id) {
            Ok(id) => id.hyphenated().to_string(),
            Err(_) => {
                issues.push(FieldIssue::new(&at("signal_id"), "a UUID"));
                String::new()
            }
        };
        for (field, value) in [("source", &signal.source), ("type", &signal.kind)] {
            if !is_name(value) {
                issues.push(FieldIssue::new(
                    &at(field),
                    format!("1 to {MAX_NAME} letters, digits, '.', '_', ':' or '-'"),
                ));
            }
        }
        let occurred_at = DateTime::<Utc>::from_timestamp_millis(signal.timestamp)
            .filter(|t| *t >= now - MAX_AGE && *t <= now + MAX_AHEAD);
        if occurred_at.is_none() {
            issues.push(FieldIssue::new(
                &at("timestamp"),
                "milliseconds since the epoch, within the last 24 hours and at most 60 s ahead",
            ));
        }
        let data = signal.data.unwrap_or(Value::Object(Default::default()));
        let text = data.to_string();
        // NUL has no place in PostgreSQL's jsonb (nor in telemetry).
        if !data.is_object() || text.len() > MAX_DATA_BYTES || text.contains("\\u0000") {
            issues.push(FieldIssue::new(
                &at("data"),
                format!("an object of at most {MAX_DATA_BYTES} bytes of JSON"),
            ));
        }
        if issues.len() > before {
            continue;
        }
        signals.push(Signal {
            tenant_id: tenant.id.clone(),
            signal_id,
            device_fingerprint: fingerprint.clone(),
            source: signal.source,
            kind: signal.kind,
            occurred_at: occurred_at.unwrap_or(now),
            data,
            received_at: now,
        });
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    Ok(signals)
}

fn is_name(value: &str) -> bool {
    (1..=MAX_NAME).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
