//! Stripe as FaceGate's billing provider ([`facegate_core::billing`]).
//!
//! ```no_run
//! use facegate_billing_stripe::{StripeBilling, StripeConfig};
//!
//! fn build(store: impl facegate_core::Store) -> facegate_core::FaceGate {
//!     let stripe = StripeConfig::new("sk_live_…", "whsec_…")
//!         .price("pro", "price_1Pro…")
//!         .price("business", "price_1Business…")
//!         .return_urls("https://app.example/billing/done", "https://app.example/billing");
//!     facegate_core::FaceGate::builder(store)
//!         .billing(StripeBilling::new(stripe).expect("a complete Stripe config"))
//!         .build()
//! }
//! ```
//!
//! - `POST /v1/billing/checkout { "plan": "pro" }` creates the tenant's
//!   Stripe customer once (metadata `tenant_id`; FaceGate stores it before
//!   any checkout) and a Checkout Session in `subscription` mode for the
//!   plan's price; the answer is its `url`.
//! - `POST /v1/billing/portal` opens a Billing Portal session for it.
//! - `POST /v1/webhooks/stripe` takes Stripe's events: the raw body checked
//!   against `Stripe-Signature` (see [`signature`]), then read by
//!   [`events`]' rules into the tenant's new plan.
//!
//! A small typed client over reqwest rather than `async-stripe`: FaceGate
//! makes three calls and reads four events (docs/usage-and-billing.md has
//! the build figures that decided it).
#![forbid(unsafe_code)]

mod events;
pub mod signature;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use facegate_core::billing::{BillingError, BillingProvider, CheckoutRequest, WebhookEvent};
use facegate_core::ids::TenantId;
use http::HeaderMap;
use serde_json::Value;

/// Where Stripe's API is; tests point [`StripeConfig::api_base`] at a peer.
pub const STRIPE_API: &str = "https://api.stripe.com";

/// How FaceGate talks to the host's Stripe account.
#[derive(Clone)]
pub struct StripeConfig {
    secret_key: String,
    webhook_secret: String,
    /// Plan name → Stripe price id.
    prices: BTreeMap<String, String>,
    success_url: String,
    cancel_url: String,
    portal_return_url: String,
    api_base: String,
    webhook_tolerance_secs: i64,
    timeout: Duration,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"…")
            .field("webhook_secret", &"…")
            .field("prices", &self.prices)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeConfig {
    /// The account's secret key (`sk_…`, or a restricted `rk_…` allowed to
    /// write customers, Checkout and Portal sessions) and the webhook
    /// endpoint's signing secret (`whsec_…`).
    pub fn new(secret_key: &str, webhook_secret: &str) -> Self {
        Self {
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            prices: BTreeMap::new(),
            success_url: String::new(),
            cancel_url: String::new(),
            portal_return_url: String::new(),
            api_base: STRIPE_API.to_owned(),
            webhook_tolerance_secs: signature::DEFAULT_TOLERANCE_SECS,
            timeout: Duration::from_secs(15),
        }
    }

    /// The Stripe price a plan is sold at (a recurring price). Plans
    /// without one cannot be checked out.
    pub fn price(mut self, plan: &str, price_id: &str) -> Self {
        self.prices.insert(plan.to_owned(), price_id.to_owned());
        self
    }

    /// Where Stripe sends the tenant after paying (`success`), and back
    /// from an abandoned checkout or from the portal (`back`).
    pub fn return_urls(mut self, success: &str, back: &str) -> Self {
        self.success_url = success.to_owned();
        self.cancel_url = back.to_owned();
        self.portal_return_url = back.to_owned();
        self
    }

    /// Another Stripe API (a local peer in tests).
    pub fn api_base(mut self, base: &str) -> Self {
        self.api_base = base.trim_end_matches('/').to_owned();
        self
    }

    /// How old (or early) a webhook's signed timestamp may be; default 300 s.
    pub fn webhook_tolerance(mut self, tolerance: Duration) -> Self {
        self.webhook_tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        self
    }
}

/// A [`StripeConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeConfigError {
    #[error("the Stripe secret key is empty")]
    NoSecretKey,
    /// An empty secret would let anyone sign webhooks.
    #[error("the webhook signing secret is empty")]
    NoWebhookSecret,
    #[error("no plan has a Stripe price")]
    NoPrices,
    #[error("the return URLs are not set (StripeConfig::return_urls)")]
    NoReturnUrls,
}

/// Stripe, as a [`BillingProvider`].
pub struct StripeBilling {
    config: StripeConfig,
    plans_by_price: BTreeMap<String, String>,
    http: reqwest::Client,
}

impl StripeBilling {
    pub fn new(config: StripeConfig) -> Result<Self, StripeConfigError> {
        if config.secret_key.trim().is_empty() {
            return Err(StripeConfigError::NoSecretKey);
        }
        if config.webhook_secret.trim().is_empty() {
            return Err(StripeConfigError::NoWebhookSecret);
        }
        if config.prices.is_empty() {
            return Err(StripeConfigError::NoPrices);
        }
        if config.success_url.is_empty() || config.portal_return_url.is_empty() {
            return Err(StripeConfigError::NoReturnUrls);
        }
        let plans_by_price = config
            .prices
            .iter()
            .map(|(plan, price)| (price.clone(), plan.clone()))
            .collect();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .expect("a reqwest client with a timeout");
        Ok(Self {
            config,
            plans_by_price,
            http,
        })
    }

    /// A form POST to Stripe's API; Stripe's error message on failure.
    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, BillingError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.config.api_base))
            .bearer_auth(&self.config.secret_key)
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| BillingError::Provider(format!("{path}: {}", e.without_url())))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| BillingError::Provider(format!("{path}: {}", e.without_url())))?;
        if !status.is_success() {
            let message = body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(BillingError::Provider(format!(
                "{path}: {status}: {message}"
            )));
        }
        Ok(body)
    }

    fn field(body: &Value, name: &str, path: &str) -> Result<String, BillingError> {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| BillingError::Provider(format!("{path}: no {name} in the answer")))
    }
}

#[async_trait]
impl BillingProvider for StripeBilling {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_customer(
        &self,
        tenant: &TenantId,
        tenant_name: &str,
    ) -> Result<String, BillingError> {
        // A retry within Stripe's 24 h gets the same customer back.
        let key = format!("facegate-customer-{tenant}");
        let created = self
            .post(
                "/v1/customers",
                &[
                    ("name", tenant_name),
                    ("metadata[tenant_id]", tenant.as_str()),
                ],
                Some(&key),
            )
            .await?;
        Self::field(&created, "id", "/v1/customers")
    }

    async fn start_checkout(&self, request: CheckoutRequest<'_>) -> Result<String, BillingError> {
        let price = self
            .config
            .prices
            .get(request.plan)
            .ok_or_else(|| BillingError::PlanNotForSale(request.plan.to_owned()))?;
        let tenant = request.tenant.as_str();
        let session = self
            .post(
                "/v1/checkout/sessions",
                &[
                    ("mode", "subscription"),
                    ("customer", request.customer_id),
                    ("client_reference_id", tenant),
                    ("line_items[0][price]", price),
                    ("line_items[0][quantity]", "1"),
                    ("success_url", &self.config.success_url),
                    ("cancel_url", &self.config.cancel_url),
                    ("metadata[tenant_id]", tenant),
                    ("metadata[plan]", request.plan),
                    ("subscription_data[metadata][tenant_id]", tenant),
                    ("subscription_data[metadata][plan]", request.plan),
                ],
                None,
            )
            .await?;
        Self::field(&session, "url", "/v1/checkout/sessions")
    }

    async fn open_portal(&self, customer_id: &str) -> Result<String, BillingError> {
        let session = self
            .post(
                "/v1/billing_portal/sessions",
                &[
                    ("customer", customer_id),
                    ("return_url", &self.config.portal_return_url),
                ],
                None,
            )
            .await?;
        Self::field(&session, "url", "/v1/billing_portal/sessions")
    }

    fn receive_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, BillingError> {
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        signature::verify(
            header,
            body,
            &self.config.webhook_secret,
            facegate_core::clock::now().timestamp(),
            self.config.webhook_tolerance_secs,
        )
        .map_err(|e| BillingError::InvalidSignature(e.to_string()))?;
        events::parse(body, &self.plans_by_price)
    }
}
