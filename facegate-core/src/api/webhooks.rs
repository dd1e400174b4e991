//! Webhook endpoints (`/v1/webhooks`, server keys only), their delivery
//! log, and the worker that delivers the outbox: each pending delivery
//! claimed by one worker among the instances, signed with the endpoint's
//! secret, retried with a doubling backoff until it succeeds or its event
//! is older than the retry window.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::Tenant;
use crate::error::{ApiError, FieldIssue};
use crate::events::{
    AttemptOutcome, DeliveryStatus, DueDelivery, Event, EventKind, WebhookDelivery, WebhookEndpoint,
};
use crate::ids::{DeliveryId, EventId, WebhookId};
use crate::sealed;
use crate::webhook::{SIGNATURE_HEADER, WebhookConfig, signature_header};

/// Deliveries a worker claims at once (and sends concurrently).
const CLAIM_BATCH: u32 = 16;
/// What a tenant may write about an endpoint.
const MAX_DESCRIPTION: usize = 256;

/// The webhook settings and this instance's worker.
pub(super) struct Webhooks {
    config: WebhookConfig,
    /// `None` when no client could be built (logged): nothing is sent.
    client: Option<reqwest::Client>,
    /// Wakes the worker when this instance writes events.
    wake: Arc<tokio::sync::Notify>,
    worker_started: AtomicBool,
}

impl Webhooks {
    pub(super) fn new(config: WebhookConfig) -> Self {
        let client = config
            .client()
            .inspect_err(|err| tracing::error!(%err, "no webhook client; deliveries stay queued"))
            .ok();
        Self {
            config,
            client,
            wake: Arc::default(),
            worker_started: AtomicBool::new(false),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateWebhookRequest {
    url: String,
    /// Event types, or `["*"]` (the default) for all.
    #[serde(default)]
    events: Vec<String>,
    description: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WebhookView {
    id: WebhookId,
    url: String,
    events: Vec<&'static str>,
    description: Option<String>,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    created_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            events: if endpoint.events.is_empty() {
                vec!["*"]
            } else {
                endpoint.events.iter().map(|k| k.as_str()).collect()
            },
            id: endpoint.id,
            url: endpoint.url,
            description: endpoint.description,
            created_at: endpoint.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// Shown once: FaceGate keeps it to sign with, and never shows it again.
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DeliveryView {
    id: DeliveryId,
    event_id: EventId,
    event_type: EventKind,
    status: DeliveryStatus,
    attempts: u32,
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    next_attempt_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    last_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    created_at: DateTime<Utc>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_kind,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct WebhookList {
    webhooks: Vec<WebhookView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DeletedWebhook {
    deleted: bool,
    id: WebhookId,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DeliveryPage {
    deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; `null` on the last.
    next_before: Option<DeliveryId>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(super) struct DeliveriesQuery {
    limit: Option<u32>,
    #[param(inline)]
    before: Option<DeliveryId>,
}

impl FaceGate {
    pub(super) async fn create_webhook(
        &self,
        tenant: &Tenant,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: CreateWebhookRequest = wire::parse_json(body)?;
        let config = &self.inner.webhooks.config;
        let mut issues = Vec::new();
        if let Err(why) = config.check_url(&request.url) {
            issues.push(FieldIssue::new("url", why));
        }
        let mut events = Vec::new();
        for (i, name) in request.events.iter().enumerate() {
            match EventKind::parse(name) {
                Some(kind) if !events.contains(&kind) => events.push(kind),
                Some(_) => {}
                None if name == "*" => {}
                None => issues.push(FieldIssue::new(
                    &format!("events.{i}"),
                    "not an event type (see docs/events.md)",
                )),
            }
        }
        if request.events.iter().any(|name| name == "*") {
            events.clear();
        }
        if request
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            issues.push(FieldIssue::new(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        if !issues.is_empty() {
            return Err(ApiError::Validation(issues));
        }
        let id = WebhookId::generate();
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        let stored = match &self.inner.master_key {
            Some(key) => key.seal(id.as_str(), secret.as_bytes()),
            None => secret.as_bytes().to_vec(),
        };
        let endpoint = WebhookEndpoint {
            id,
            tenant_id: tenant.id.clone(),
            url: request.url,
            events,
            secret: stored,
            description: request.description,
            created_at: clock::now(),
        };
        let max = config.max_endpoints;
        if !self.inner.store.insert_webhook(&endpoint, max).await? {
            return Err(ApiError::WebhookLimitReached { max });
        }
        tracing::info!(tenant = %tenant.id, webhook = %endpoint.id, "webhook endpoint registered");
        Ok(wire::json_response(
            StatusCode::CREATED,
            &CreatedWebhook {
                webhook: endpoint.into(),
                secret,
            },
        ))
    }

    pub(super) async fn list_webhooks(&self, tenant: &Tenant) -> Result<Response<Bytes>, ApiError> {
        let webhooks: Vec<WebhookView> = self
            .inner
            .store
            .webhooks(&tenant.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(wire::json_response(
            StatusCode::OK,
            &WebhookList { webhooks },
        ))
    }

    pub(super) async fn delete_webhook(
        &self,
        tenant: &Tenant,
        id: &WebhookId,
    ) -> Result<Response<Bytes>, ApiError> {
        if !self.inner.store.delete_webhook(&tenant.id, id).await? {
            return Err(ApiError::WebhookNotFound);
        }
        tracing::info!(tenant = %tenant.id, webhook = %id, "webhook endpoint deleted");
        Ok(wire::json_response(
            StatusCode::OK,
            &DeletedWebhook {
                deleted: true,
                id: id.clone(),
            },
        ))
    }

    pub(super) async fn webhook_deliveries(
        &self,
        tenant: &Tenant,
        id: &WebhookId,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: DeliveriesQuery = wire::parse_query(query)?;
        let limit = query.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "limit",
                "between 1 and 100",
            )]));
        }
        let deliveries = self
            .inner
            .store
            .webhook_deliveries(&tenant.id, id, query.before.as_ref(), limit)
            .await?
            .ok_or(ApiError::WebhookNotFound)?;
        let next_before = (deliveries.len() == limit as usize)
            .then(|| deliveries.last().map(|d| d.id.clone()))
            .flatten();
        let deliveries: Vec<DeliveryView> = deliveries.into_iter().map(Into::into).collect();
        Ok(wire::json_response(
            StatusCode::OK,
            &DeliveryPage {
                deliveries,
                next_before,
            },
        ))
    }

    pub(super) async fn redeliver(
        &self,
        tenant: &Tenant,
        id: &WebhookId,
        delivery: &DeliveryId,
    ) -> Result<Response<Bytes>, ApiError> {
        let queued = self
            .inner
            .store
            .redeliver(&tenant.id, id, delivery, clock::now())
            .await?
            .ok_or(ApiError::DeliveryNotFound)?;
        self.events_written();
        Ok(wire::json_response(
            StatusCode::ACCEPTED,
            &DeliveryView::from(queued),
        ))
    }

    /// Writes events that report no stored change (a refused login). A
    /// failure is logged, never the request's.
    pub(super) async fn record_events(&self, events: &[Event]) {
        match self.inner.store.record_events(events).await {
            Ok(()) => self.events_written(),
            Err(err) => tracing::warn!(%err, "could not record events"),
        }
    }

    /// Wakes this instance's delivery worker (starting it the first time).
    pub(super) fn events_written(&self) {
        self.start_webhook_worker();
        self.inner.webhooks.wake.notify_one();
    }

    /// Starts the delivery worker once per instance, in the background. It
    /// holds the service weakly and ends when the service is dropped.
    pub(super) fn start_webhook_worker(&self) {
        let webhooks = &self.inner.webhooks;
        if !webhooks.config.worker
            || webhooks.client.is_none()
            || webhooks.worker_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            webhooks.worker_started.store(false, Ordering::Release);
            return;
        };
        let service = Arc::downgrade(&self.inner);
        let wake = Arc::clone(&webhooks.wake);
        let poll_every = webhooks.config.poll_every;
        let in_flight = Arc::new(tokio::sync::Semaphore::new(webhooks.config.max_in_flight));
        runtime.spawn(async move {
            loop {
                let Some(inner) = service.upgrade() else {
                    return;
                };
                let free = in_flight.available_permits().min(CLAIM_BATCH as usize);
                let claimed = match free {
                    0 => 0,
                    free => FaceGate { inner }.dispatch_due(free, &in_flight).await,
                };
                // A full batch: there may be more due at once.
                if claimed > 0 && claimed == free {
                    continue;
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll_every) => {}
                }
            }
        });
    }

    /// Claims up to `room` due deliveries and sends each in its own task,
    /// holding one of the worker's permits: a receiver that hangs holds up
    /// its own delivery only. Returns how many were claimed.
    async fn dispatch_due(&self, room: usize, in_flight: &Arc<tokio::sync::Semaphore>) -> usize {
        let webhooks = &self.inner.webhooks;
        let Some(client) = &webhooks.client else {
            return 0;
        };
        let now = clock::now();
        // The send's own timeout, and a minute to record it.
        let lease = chrono::Duration::from_std(webhooks.config.timeout)
            .ok()
            .and_then(|timeout| timeout.checked_add(&chrono::Duration::seconds(60)))
            .and_then(|lease| now.checked_add_signed(lease))
            .unwrap_or(now + chrono::Duration::hours(1));
        let limit = u32::try_from(room).unwrap_or(CLAIM_BATCH);
        let due = match self.inner.store.claim_deliveries(now, lease, limit).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(%err, "could not claim webhook deliveries");
                return 0;
            }
        };
        let claimed = due.len();
        for delivery in due {
            let Ok(permit) = Arc::clone(in_flight).try_acquire_owned() else {
                // Not reached (claims fit the free permits); the claim runs
                // out and another pass sends it.
                break;
            };
            let service = self.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let outcome = service.attempt(&client, &delivery).await;
                // Unrecorded, the claim runs out and the delivery is sent
                // again: at least once.
                if let Err(err) = service
                    .inner
                    .store
                    .finish_delivery(&delivery, &outcome)
                    .await
                {
                    let id = &delivery.delivery.id;
                    tracing::warn!(%err, delivery = %id, "could not record a webhook attempt");
                }
                drop(permit);
                // The endpoint's next delivery may be claimed now.
                service.inner.webhooks.wake.notify_one();
            });
        }
        claimed
    }

    async fn attempt(&self, client: &reqwest::Client, due: &DueDelivery) -> AttemptOutcome {
        let config = &self.inner.webhooks.config;
        let sent = self.send(client, due).await;
        let at = clock::now();
        let (status_code, error) = match sent {
            Ok(code) => {
                return AttemptOutcome {
                    at,
                    status_code: Some(code),
                    error: None,
                    status: DeliveryStatus::Succeeded,
                    next_attempt_at: None,
                };
            }
            Err(failure) => failure,
        };
        tracing::info!(delivery = %due.delivery.id, ?status_code, ?error, "webhook delivery failed");
        let age = (at - due.event.created_at).to_std().unwrap_or_default();
        let (status, next_attempt_at) = if age >= config.give_up_after {
            (DeliveryStatus::Failed, None)
        } else {
            let doublings = due.delivery.attempts.min(20);
            let backoff = config
                .first_backoff
                .saturating_mul(1 << doublings)
                .min(config.max_backoff);
            let next = chrono::Duration::from_std(backoff)
                .ok()
                .and_then(|backoff| at.checked_add_signed(backoff))
                .unwrap_or(at + chrono::Duration::hours(1));
            (DeliveryStatus::Pending, Some(next))
        };
        AttemptOutcome {
            at,
            status_code,
            error: Some(error),
            status,
            next_attempt_at,
        }
    }

    /// Sends one delivery; `Ok` with a 2xx status, or the status (when the
    /// receiver answered) and why it failed.
    async fn send(
        &self,
        client: &reqwest::Client,
        due: &DueDelivery,
    ) -> Result<u16, (Option<u16>, String)> {
        let config = &self.inner.webhooks.config;
        let url = reqwest::Url::parse(&due.url)
            .map_err(|_| (None, "the endpoint's URL does not parse".to_owned()))?;
        if !config.may_send_to(&url) {
            return Err((None, "the endpoint's address is not public".to_owned()));
        }
        let label = due.delivery.endpoint_id.as_str();
        let secret = sealed::open(self.inner.master_key.as_ref(), label, &due.secret)
            .map_err(|err| (None, err.to_string()))?;
        let body = due.event.payload();
        let signature = signature_header(&secret, clock::now().timestamp(), &body);
        let response = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("FaceGate-Event-Id", due.event.id.as_str())
            .header("FaceGate-Event-Type", due.event.kind.as_str())
            .header("FaceGate-Delivery-Id", due.delivery.id.as_str())
            .body(body)
            .send()
            .await
            .map_err(|err| (None, crate::webhook::target::describe(&err)))?;
        // The body is not read: a receiver's answer is its status.
        let status = response.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err((Some(status.as_u16()), format!("answered {status}")))
        }
    }
}
