//! Billing providers: where a tenant pays for one of the host's plans
//! ([`crate::usage::Plans`]). FaceGate counts and enforces; a provider
//! takes the money. `facegate-billing-stripe` is one; without one,
//! `POST /v1/billing/checkout`, `POST /v1/billing/portal` and
//! `POST /v1/webhooks/stripe` answer 503 `billing_not_configured`.
//!
//! A subscription is a ceremony in two steps, as in webauthn-rs:
//! [`BillingProvider::start_checkout`] sends the tenant to the provider's
//! hosted page, and the provider's signed webhook finishes it
//! ([`BillingProvider::receive_webhook`]), naming the tenant and its plan.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::ids::TenantId;

/// What the tenant asks to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest<'a> {
    pub tenant: &'a TenantId,
    /// A plan the host sells, checked by FaceGate before the call.
    pub plan: &'a str,
    /// The tenant's customer at the provider (see
    /// [`BillingProvider::create_customer`]), stored by FaceGate first.
    pub customer_id: &'a str,
}

/// A verified webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's event id: a redelivery has the same one.
    pub id: String,
    /// When the provider created it: an older event never undoes a newer one.
    pub created: DateTime<Utc>,
    /// What it changes, if anything FaceGate follows.
    pub change: Option<BillingChange>,
}

/// What an event says of one subscription of one customer. FaceGate applies
/// it only to the tenant whose stored customer it is, and only if the tenant
/// has no other subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingChange {
    pub tenant: TenantId,
    pub customer_id: String,
    pub subscription_id: String,
    /// `None`: the subscription ended, back to the default plan.
    pub plan: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The webhook's signature is missing, wrong or too old.
    #[error("invalid webhook signature: {0}")]
    InvalidSignature(String),
    /// A signed webhook whose body is not an event.
    #[error("malformed webhook event: {0}")]
    MalformedEvent(String),
    /// The plan has no price at the provider.
    #[error("plan {0:?} cannot be bought through the billing provider")]
    PlanNotForSale(String),
    /// The provider refused or could not be reached.
    #[error("billing provider: {0}")]
    Provider(String),
}

/// Takes payment for the host's plans.
#[async_trait]
pub trait BillingProvider: Send + Sync + 'static {
    /// The provider's name, as in its webhook route (`stripe`).
    fn name(&self) -> &'static str;

    /// The provider's customer for a tenant that has none yet; FaceGate
    /// stores it before any checkout, and follows only its events.
    async fn create_customer(
        &self,
        tenant: &TenantId,
        tenant_name: &str,
    ) -> Result<String, BillingError>;

    /// A hosted page where the tenant's customer subscribes to a plan; its
    /// URL.
    async fn start_checkout(&self, request: CheckoutRequest<'_>) -> Result<String, BillingError>;

    /// A hosted page where the tenant's customer manages its subscription.
    async fn open_portal(&self, customer_id: &str) -> Result<String, BillingError>;

    /// Verifies a webhook delivery (its raw body and headers) and reads it.
    fn receive_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, BillingError>;
}
