//! Stripe billing against a real local Stripe: localstripe with Checkout and
//! Billing Portal sessions (`scripts/stripe-test-peer`), at
//! `FACEGATE_TEST_STRIPE_URL` or started by this test. FaceGate runs behind
//! axum on a local port, so the peer's signed webhooks reach it as Stripe's
//! would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use facegate_billing_stripe::{StripeBilling, StripeConfig, signature};
use facegate_core::FaceGate;
use facegate_core::domain::KeyEnvironment;
use facegate_core::store::prelude::*;
use facegate_core::usage::{Plan, PlanFeature, Plans};
use serde_json::{Value, json};

const PEER_KEY: &str = "sk_test_facegatebilling";

/// The peer CI started (always used when set), or one the project's script
/// starts; `None` when that cannot run here (no Python venv), said on stdout.
fn peer_url() -> Option<String> {
    if let Ok(url) = std::env::var("FACEGATE_TEST_STRIPE_URL") {
        return Some(url);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stripe-test-peer");
    let out = Command::new("bash")
        .args([script, "start"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/stripe-test-peer");
    if !out.status.success() {
        println!(
            "skipped: scripts/stripe-test-peer could not start localstripe (python3 with venv and pip needed); CI sets FACEGATE_TEST_STRIPE_URL"
        );
        return None;
    }
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("FACEGATE_TEST_STRIPE_URL="))
        .map(str::to_owned)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid_like())
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{:x}", std::process::id())
}

/// The peer's own API, as the Stripe dashboard or the paying customer.
struct Peer {
    base: String,
    http: reqwest::Client,
}

impl Peer {
    async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(PEER_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn plan(&self) -> String {
        let (status, body) = self
            .send(reqwest::Method::GET, "/v1/billing/status", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["plan"].as_str().unwrap().to_owned()
    }

    /// Waits for the peer's webhooks to move the tenant to `plan`.
    async fn await_plan(&self, plan: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.plan().await == plan {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the tenant never got plan {plan}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A webhook delivery as Stripe would send it, signed at `at`.
    async fn deliver(&self, event: &Value, secret: &str, at: i64) -> (u16, Value) {
        let body = event.to_string();
        let response = self
            .http
            .post(format!("{}/v1/webhooks/stripe", self.base))
            .header(
                "stripe-signature",
                signature::sign(body.as_bytes(), secret, at),
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn checkout_portal_and_webhooks_against_localstripe() {
    let Some(base) = peer_url() else {
        return;
    };
    let peer = Peer {
        base,
        http: reqwest::Client::new(),
    };
    // The host's Stripe account: a monthly price for "pro".
    let price = unique("price_pro_");
    peer.call(
        reqwest::Method::POST,
        "/v1/plans",
        &[
            ("id", &price),
            ("amount", "9900"),
            ("currency", "usd"),
            ("interval", "month"),
            ("product[name]", "FaceGate Pro"),
        ],
    )
    .await;

    let webhook_secret = unique("whsec_");
    let store = facegate_store_seaorm::testing::test_store().await;
    let plans = Plans::new([
        Plan::new("free", "Free").hard_mau_limit(10),
        Plan::new("pro", "Pro")
            .price_monthly(99.0)
            .mau_limit(1000, 0.05)
            .feature(PlanFeature::Analytics),
    ])
    .unwrap();
    let stripe = StripeConfig::new(PEER_KEY, &webhook_secret)
        .api_base(&peer.base)
        .price("pro", &price)
        .return_urls(
            "https://app.example/billing/done",
            "https://app.example/billing",
        );
    let facegate = FaceGate::builder(store.clone())
        .plans(plans)
        .billing(StripeBilling::new(stripe).unwrap())
        .build();
    let tenant = facegate.create_tenant("Acme").await.unwrap();
    let key = facegate
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = facegate_axum::router(facegate.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api {
        base: base.clone(),
        key: key.key.expose_secret().to_owned(),
        http: reqwest::Client::new(),
    };
    // Stripe's webhook endpoint for this account: FaceGate's route. Not
    // `customer.subscription.created`: the completed checkout alone must
    // move the tenant (localstripe's new subscriptions are active at once).
    let events = [
        "checkout.session.completed",
        "customer.subscription.deleted",
    ];
    let mut form = vec![
        ("url", format!("{base}/v1/webhooks/stripe")),
        ("secret", webhook_secret.clone()),
    ];
    form.extend(events.iter().map(|e| ("events[]", (*e).to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    peer.call(
        reqwest::Method::POST,
        &format!("/_config/webhooks/{}", unique("fg")),
        &form,
    )
    .await;

    assert_eq!(api.plan().await, "free");
    let (status, body) = api
        .send(reqwest::Method::POST, "/v1/billing/portal", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NO_BILLING_ACCOUNT"))
    );
    for (plan, why) in [("free", "no Stripe price"), ("gold", "not sold")] {
        let (status, body) = api
            .send(
                reqwest::Method::POST,
                "/v1/billing/checkout",
                Some(json!({ "plan": plan })),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_FAILED")),
            "{why}: {body}"
        );
    }

    // Checkout: the tenant's customer once, then a hosted page.
    let (status, first) = api
        .send(
            reqwest::Method::POST,
            "/v1/billing/checkout",
            Some(json!({ "plan": "pro" })),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let url = first["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/checkout/cs_test_", peer.base)),
        "{url}"
    );
    let customer = store
        .tenant_billing(&tenant.id)
        .await
        .unwrap()
        .customer_id
        .unwrap();
    let on_stripe = peer
        .call(
            reqwest::Method::GET,
            &format!("/v1/customers/{customer}"),
            &[],
        )
        .await;
    assert_eq!(on_stripe["metadata"]["tenant_id"], tenant.id.as_str());
    let (_, second) = api
        .send(
            reqwest::Method::POST,
            "/v1/billing/checkout",
            Some(json!({ "plan": "pro" })),
        )
        .await;
    assert_ne!(second["url"], first["url"]);
    assert_eq!(
        store
            .tenant_billing(&tenant.id)
            .await
            .unwrap()
            .customer_id
            .as_deref(),
        Some(customer.as_str()),
        "one customer per tenant"
    );

    // The customer pays on the hosted page: Stripe's signed webhooks move
    // the tenant to the plan.
    let session_id = url.rsplit('/').next().unwrap();
    peer.call(
        reqwest::Method::POST,
        &format!("/_test/checkout/{session_id}/complete"),
        &[],
    )
    .await;
    api.await_plan("pro").await;
    let (_, analytics) = api
        .send(reqwest::Method::GET, "/v1/analytics/overview", None)
        .await;
    assert_eq!(analytics["period"], "30d", "{analytics}");
    let billing = store.tenant_billing(&tenant.id).await.unwrap();
    let subscription = billing.subscription_id.clone().unwrap();
    assert!(subscription.starts_with("sub_"));

    let (status, portal) = api
        .send(reqwest::Method::POST, "/v1/billing/portal", None)
        .await;
    assert_eq!(status, 200, "{portal}");
    assert!(
        portal["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/p/session/", peer.base))
    );

    // A redelivered event is acknowledged and changes nothing; an old or
    // forged signature is refused.
    let delivered = peer
        .call(
            reqwest::Method::GET,
            "/v1/events?type=checkout.session.completed&limit=100",
            &[],
        )
        .await;
    let completed = delivered["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["object"]["id"] == session_id)
        .expect("the peer kept the event")
        .clone();
    let now = chrono::Utc::now().timestamp();
    let (status, body) = api.deliver(&completed, &webhook_secret, now).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let mut fresh = completed.clone();
    fresh["id"] = json!(unique("evt_replay_"));
    let (status, body) = api.deliver(&fresh, &webhook_secret, now - 301).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_SIGNATURE")),
        "expired"
    );
    let (status, body) = api.deliver(&fresh, "whsec_forged", now).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_SIGNATURE")),
        "forged"
    );
    let unsigned = api
        .http
        .post(format!("{base}/v1/webhooks/stripe"))
        .body(fresh.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);

    // The subscription is cancelled on Stripe: back to the default plan.
    peer.call(
        reqwest::Method::DELETE,
        &format!("/v1/subscriptions/{subscription}"),
        &[],
    )
    .await;
    api.await_plan("free").await;

    // An event older than the change already applied undoes nothing.
    let mut stale = completed;
    stale["id"] = json!(unique("evt_stale_"));
    stale["created"] = json!(now - 3600);
    let (status, body) = api.deliver(&stale, &webhook_secret, now).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    assert_eq!(api.plan().await, "free");
    // A signed checkout FaceGate did not start (a payment link naming this
    // tenant, another customer) changes nothing either, however recent.
    let mut foreign = stale.clone();
    foreign["id"] = json!(unique("evt_foreign_"));
    foreign["created"] = json!(now + 60);
    foreign["data"]["object"]["customer"] = json!("cus_someone_else");
    let (status, _) = api.deliver(&foreign, &webhook_secret, now).await;
    assert_eq!(status, 200);
    assert_eq!(api.plan().await, "free");
}
