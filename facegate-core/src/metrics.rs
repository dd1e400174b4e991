//! Prometheus metrics, opt-in ([`crate::FaceGateBuilder::metrics`]), in an
//! owned `prometheus-client` registry (no global recorder to clash with the
//! host's): [`crate::FaceGate::metrics_text`] renders them for a scrape,
//! served on a separate listener or a route of the host's choosing.
//!
//! Labels are bounded: route templates (never raw paths), method, status
//! class, outcome codes from fixed lists. Tenant ids appear only when the
//! host opts in ([`MetricsConfig::per_tenant`]); user ids never do.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `facegate_requests` | counter | `route`, `method`, `status` (`2xx`…) |
//! | `facegate_request_duration_seconds` | histogram | `route` |
//! | `facegate_logins` | counter | `outcome` (`success` or the error code), `tenant` when opted in |
//! | `facegate_liveness_checks` | counter | `outcome` (`live` or the failure) |
//! | `facegate_engine_inferences_running`, `…_waiting` | gauge | — |
//! | `facegate_engine_inferences`, `facegate_engine_inference_seconds` | counter | — |
//! | `facegate_index_faces` | gauge | — (faces in this instance's in-memory index) |
//! | `facegate_webhook_backlog` | gauge | — (deliveries pending, all tenants) |

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The exposition's content type: `prometheus-client` writes OpenMetrics
/// text, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the host asks of the metrics.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// Label logins with the tenant id. Off by default: with many tenants
    /// the series multiply, and ids are the host's business to expose.
    pub per_tenant: bool,
}

/// The engine's load at a scrape (see [`crate::FaceProvider::load`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineLoad {
    /// Inferences running now.
    pub running: usize,
    /// Admitted and waiting for a worker.
    pub waiting: usize,
    /// Inferences finished since start, and their total time in seconds.
    pub inferences: u64,
    pub inference_seconds: f64,
    /// Faces in the engine's in-memory index, all tenants.
    pub indexed_faces: usize,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: String,
    tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Values read at a scrape, for the collector.
#[derive(Debug, Default)]
struct Snapshot {
    engine: Option<EngineLoad>,
    webhook_backlog: Option<u64>,
}

#[derive(Debug, Default)]
struct ScrapeCollector {
    snapshot: std::sync::Arc<Mutex<Snapshot>>,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(load) = snapshot.engine {
            gauge(
                &mut encoder,
                "facegate_engine_inferences_running",
                "Face engine inferences running now",
                int(load.running),
            )?;
            gauge(
                &mut encoder,
                "facegate_engine_inferences_waiting",
                "Face engine inferences admitted and waiting for a worker",
                int(load.waiting),
            )?;
            let done = ConstCounter::new(load.inferences);
            done.encode(encoder.encode_descriptor(
                "facegate_engine_inferences",
                "Face engine inferences finished",
                None,
                done.metric_type(),
            )?)?;
            let seconds = ConstCounter::new(load.inference_seconds);
            seconds.encode(encoder.encode_descriptor(
                "facegate_engine_inference_seconds",
                "Time spent in face engine inferences",
                None,
                seconds.metric_type(),
            )?)?;
            gauge(
                &mut encoder,
                "facegate_index_faces",
                "Faces in this instance's in-memory face index",
                int(load.indexed_faces),
            )?;
        }
        if let Some(backlog) = snapshot.webhook_backlog {
            gauge(
                &mut encoder,
                "facegate_webhook_backlog",
                "Webhook deliveries pending, all tenants",
                i64::try_from(backlog).unwrap_or(i64::MAX),
            )?;
        }
        Ok(())
    }
}

/// The registry and its metrics.
pub(crate) struct Metrics {
    config: MetricsConfig,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    logins: Family<LoginLabels, Counter>,
    liveness: Family<OutcomeLabels, Counter>,
    snapshot: std::sync::Arc<Mutex<Snapshot>>,
}

impl Metrics {
    pub(crate) fn new(config: MetricsConfig) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "facegate_requests",
            "Requests served, by route template, method and status class",
            requests.clone(),
        );
        // 5 ms to about 48 s: a JSON read to a slow login on a busy CPU.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.5, 11))
        });
        registry.register(
            "facegate_request_duration_seconds",
            "Time to answer a request, by route template",
            latency.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "facegate_logins",
            "Login attempts by outcome: success, or the error code",
            logins.clone(),
        );
        let liveness = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "facegate_liveness_checks",
            "Liveness checks judged, by outcome: live, or the failure",
            liveness.clone(),
        );
        let snapshot = std::sync::Arc::new(Mutex::new(Snapshot::default()));
        registry.register_collector(Box::new(ScrapeCollector {
            snapshot: snapshot.clone(),
        }));
        Self {
            config,
            registry,
            requests,
            latency,
            logins,
            liveness,
            snapshot,
        }
    }

    pub(crate) fn request(
        &self,
        route: &'static str,
        method: &http::Method,
        status: u16,
        seconds: f64,
    ) {
        let method = match *method {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::PATCH => "PATCH",
            http::Method::DELETE => "DELETE",
            http::Method::HEAD => "HEAD",
            http::Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    /// `outcome`: `success` or an error code (a fixed list).
    pub(crate) fn login(&self, outcome: &str, tenant: &crate::ids::TenantId) {
        let tenant = if self.config.per_tenant {
            tenant.to_string()
        } else {
            String::new()
        };
        self.logins
            .get_or_create(&LoginLabels {
                outcome: outcome.to_owned(),
                tenant,
            })
            .inc();
    }

    pub(crate) fn liveness(&self, outcome: &'static str) {
        self.liveness
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The text exposition, with values read at this scrape.
    pub(crate) fn render(
        &self,
        engine: Option<EngineLoad>,
        webhook_backlog: Option<u64>,
    ) -> String {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Snapshot {
            engine,
            webhook_backlog,
        };
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}
