//! `POST /v1/billing/checkout` and `POST /v1/billing/portal` (server keys),
//! and the billing provider's webhook, `POST /v1/webhooks/stripe` (keyless:
//! its signature is the credential). See [`crate::billing`].

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::{FaceGate, wire};
use crate::billing::{BillingError, CheckoutRequest};
use crate::clock;
use crate::domain::Tenant;
use crate::error::{ApiError, FieldIssue};
use crate::usage::{BillingEventOutcome, BillingUpdate};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckoutBody {
    plan: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct HostedPage {
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Received {
    received: bool,
    /// A redelivery of an event already recorded (our addition).
    duplicate: bool,
}

impl From<BillingError> for ApiError {
    fn from(err: BillingError) -> Self {
        match err {
            BillingError::InvalidSignature(_) => ApiError::InvalidWebhookSignature,
            BillingError::MalformedEvent(detail) => ApiError::MalformedJson(detail),
            BillingError::PlanNotForSale(plan) => ApiError::Validation(vec![FieldIssue::new(
                "plan",
                format!("{plan:?} cannot be bought through the billing provider"),
            )]),
            BillingError::Provider(detail) => ApiError::ProviderFailed(detail),
        }
    }
}

impl FaceGate {
    fn billing_provider(&self) -> Result<&dyn crate::billing::BillingProvider, ApiError> {
        self.inner
            .billing
            .as_deref()
            .ok_or(ApiError::BillingNotConfigured)
    }

    /// A tenant with a live subscription changes plans in the portal: a
    /// second subscription would bill it twice.
    pub(super) async fn billing_checkout(
        &self,
        tenant: &Tenant,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let provider = self.billing_provider()?;
        let request: CheckoutBody = wire::parse_json(body)?;
        if self.inner.plans.get(&request.plan).is_none() {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "plan",
                "not one of this service's plans",
            )]));
        }
        let billing = self.inner.store.tenant_billing(&tenant.id).await?;
        if billing.subscription_id.is_some() {
            return Err(ApiError::SubscriptionExists);
        }
        // Stored before any page exists: the webhook follows this customer
        // only, so a checkout no FaceGate call started changes nothing.
        let customer = match billing.customer_id {
            Some(customer) => customer,
            None => {
                let created = provider.create_customer(&tenant.id, &tenant.name).await?;
                self.inner
                    .store
                    .set_billing_customer(&tenant.id, &created)
                    .await?
            }
        };
        let url = provider
            .start_checkout(CheckoutRequest {
                tenant: &tenant.id,
                plan: &request.plan,
                customer_id: &customer,
            })
            .await?;
        tracing::info!(tenant = %tenant.id, plan = %request.plan, "checkout started");
        Ok(wire::json_response(StatusCode::OK, &HostedPage { url }))
    }

    pub(super) async fn billing_portal(
        &self,
        tenant: &Tenant,
    ) -> Result<Response<Bytes>, ApiError> {
        let provider = self.billing_provider()?;
        let billing = self.inner.store.tenant_billing(&tenant.id).await?;
        let customer = billing.customer_id.ok_or(ApiError::NoBillingAccount)?;
        let url = provider.open_portal(&customer).await?;
        Ok(wire::json_response(StatusCode::OK, &HostedPage { url }))
    }

    /// The provider's webhook: verified by signature, recorded once by
    /// event id, applied under the store's conditions (the tenant's own
    /// customer and subscription, not older than its last change). Answers
    /// 2xx to everything it verified, so the provider stops redelivering
    /// events that change nothing here. Returns the tenant it was about,
    /// for the audit trail.
    pub(super) async fn billing_webhook(
        &self,
        provider_name: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(Response<Bytes>, Option<Tenant>), ApiError> {
        let provider = self.billing_provider()?;
        if provider.name() != provider_name {
            return Err(ApiError::RouteNotFound);
        }
        let event = provider.receive_webhook(headers, body)?;
        let (update, tenant) = match event.change {
            Some(change) => self.billing_update(change, event.created).await?,
            None => (None, None),
        };
        let outcome = self
            .inner
            .store
            .record_billing_event(provider.name(), &event.id, clock::now(), update.as_ref())
            .await?;
        if let Some(update) = &update {
            match outcome {
                BillingEventOutcome::Applied => {
                    tracing::info!(tenant = %update.tenant, plan = ?update.plan, event = %event.id, "plan changed by the billing provider")
                }
                BillingEventOutcome::Ignored => {
                    tracing::info!(tenant = %update.tenant, event = %event.id, "billing event for another customer or subscription, or older than the last change: ignored")
                }
                BillingEventOutcome::Duplicate | BillingEventOutcome::Recorded => {}
            }
        }
        let answer = wire::json_response(
            StatusCode::OK,
            &Received {
                received: true,
                duplicate: outcome == BillingEventOutcome::Duplicate,
            },
        );
        Ok((answer, tenant))
    }

    /// The update a verified change asks for: none for a tenant that does
    /// not exist or a plan the host does not sell (logged). Whose customer
    /// and subscription it is, the store checks as it writes.
    async fn billing_update(
        &self,
        change: crate::billing::BillingChange,
        event_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Option<BillingUpdate>, Option<Tenant>), ApiError> {
        let Some(tenant) = self.inner.store.tenant(&change.tenant).await? else {
            tracing::warn!(tenant = %change.tenant, "billing event for an unknown tenant: ignored");
            return Ok((None, None));
        };
        if let Some(plan) = &change.plan
            && self.inner.plans.get(plan).is_none()
        {
            tracing::warn!(tenant = %change.tenant, plan, "billing event names a plan this service does not sell: ignored");
            return Ok((None, Some(tenant)));
        }
        let update = BillingUpdate {
            tenant: change.tenant,
            customer_id: change.customer_id,
            subscription_id: change.subscription_id,
            plan: change.plan,
            event_at,
        };
        Ok((Some(update), Some(tenant)))
    }
}
