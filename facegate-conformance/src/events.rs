//! Issue 16, held to both adapters: webhook endpoints, signed deliveries
//! to a real local receiver, retries, the delivery log and redelivery,
//! and the events the API's changes report.

use std::future::Future;
use std::time::Duration;

use facegate_core::FaceGate;
use facegate_core::domain::{KeyEnvironment, OriginRules};
use facegate_core::webhook::{DEFAULT_TOLERANCE_SECS, WebhookConfig, verify_signature};
use serde_json::{Value, json};

use crate::cases::{
    BIDEN, FINGERPRINT, OBAMA, OBAMA_2, checked_session, enroll_obama, live_session, passive,
};
use crate::receiver::{Received, Receiver};
use crate::{Adapter, Engine, Fixture};

/// Retries within the test's patience; receivers on this machine allowed.
pub fn fast_webhooks() -> WebhookConfig {
    let mut config = WebhookConfig::default().danger_allow_private_targets();
    config.first_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(200);
    config.poll_every = Duration::from_millis(50);
    config.timeout = Duration::from_secs(5);
    config.max_endpoints = 3;
    config
}

/// Registers `url` for `events`; returns the answer (with the secret).
pub(crate) async fn register<A: Adapter>(fx: &Fixture<A>, url: &str, events: &[&str]) -> Value {
    let reply = fx
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": url, "events": events, "description": "tests" })),
        )
        .await;
    reply.assert_ok(201).clone()
}

/// Checks a delivery's signature with the verifier receivers use, and
/// that its headers name its event.
#[track_caller]
pub(crate) fn assert_signed(received: &Received, secret: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    verify_signature(
        secret.as_bytes(),
        received.header("facegate-signature"),
        &received.body,
        now,
        DEFAULT_TOLERANCE_SECS,
    )
    .expect("the delivery is signed with the endpoint's secret");
    let event = received.json();
    assert_eq!(received.header("facegate-event-id"), event["id"]);
    assert_eq!(received.header("facegate-event-type"), event["type"]);
    assert_eq!(received.header("content-type"), "application/json");
    event
}

/// The endpoint's delivery log, after waiting until none is pending.
pub(crate) async fn settled_deliveries<A: Adapter>(fx: &Fixture<A>, webhook: &str) -> Vec<Value> {
    for _ in 0..400 {
        let reply = fx
            .call("GET", &format!("/v1/webhooks/{webhook}/deliveries"), None)
            .await;
        let deliveries = reply.assert_ok(200)["deliveries"]
            .as_array()
            .unwrap()
            .clone();
        if deliveries.iter().all(|d| d["status"] != "pending") {
            return deliveries;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deliveries of {webhook} still pending");
}

/// Endpoints: validation, scope, limits, tenants; deliveries signed and
/// retried (a receiver failing twice gets three attempts); the log, its
/// pages, a redelivery, and deletion.
pub async fn webhooks_sign_retry_and_log<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    let fx = Fixture::configured(make, engine, |b| b.webhooks(fast_webhooks())).await;
    let steady = Receiver::start(&[]).await;
    let flaky = Receiver::start(&[500, 503]).await;

    // Bad registrations: every problem named, nothing stored.
    let bad = fx
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": "ftp://example.test/x", "events": ["user.enrolled", "nope"] })),
        )
        .await;
    bad.assert_error(400, "VALIDATION_FAILED");
    let paths: Vec<Value> = bad.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].clone())
        .collect();
    assert_eq!(paths, [json!(["url"]), json!(["events", "1"])]);
    fx.call("POST", "/v1/webhooks", Some(json!({ "events": [] })))
        .await
        .assert_error(400, "VALIDATION_FAILED");
    // A browser's key cannot see or add endpoints.
    let client = fx
        .facegate
        .mint_client_key(&fx.tenant, KeyEnvironment::Test, OriginRules::default())
        .await
        .unwrap();
    let bearer = format!("Bearer {}", client.key.expose_secret());
    for (method, path) in [("GET", "/v1/webhooks"), ("POST", "/v1/webhooks")] {
        fx.raw(
            method,
            path,
            &[
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ],
            json!({ "url": steady.url }).to_string(),
        )
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    }
    let listed = fx.call("GET", "/v1/webhooks", None).await;
    assert_eq!(listed.assert_ok(200)["webhooks"], json!([]));

    let all = register(&fx, &steady.url, &[]).await;
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(all["events"], json!(["*"]));
    let deletions = register(&fx, &flaky.url, &["user.deleted"]).await;
    let flaky_secret = deletions["secret"].as_str().unwrap();
    let listed = fx.call("GET", "/v1/webhooks", None).await;
    let listed = listed.assert_ok(200)["webhooks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|w| w.get("secret").is_none()));
    assert_eq!(listed[1]["events"], json!(["user.deleted"]));

    // An enrollment, delivered once, signed.
    let user = enroll_obama(&fx).await;
    let got = steady.wait_for(1).await;
    let enrolled = assert_signed(&got[0], &secret);
    assert_eq!(enrolled["type"], "user.enrolled");
    assert_eq!(enrolled["data"]["user_id"], user.as_str());
    assert_eq!(enrolled["tenant_id"], fx.tenant.as_str());
    assert!(enrolled["id"].as_str().unwrap().starts_with("evt_"));
    let webhook = all["id"].as_str().unwrap();
    let log = settled_deliveries(&fx, webhook).await;
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status_code"], 200);
    assert_eq!(log[0]["event_id"], enrolled["id"]);
    assert!(flaky.received().is_empty(), "filtered out");

    // A receiver failing twice: three attempts, the third succeeds.
    fx.call("DELETE", &format!("/v1/users/{user}"), None)
        .await
        .assert_ok(200);
    let attempts = flaky.wait_for(3).await;
    let deleted: Vec<Value> = attempts
        .iter()
        .map(|r| assert_signed(r, flaky_secret))
        .collect();
    assert!(deleted.iter().all(|e| e["id"] == deleted[0]["id"]));
    assert_eq!(deleted[0]["type"], "user.deleted");
    assert_eq!(deleted[0]["data"]["reason"], "user_request");
    let flaky_id = deletions["id"].as_str().unwrap();
    let log = settled_deliveries(&fx, flaky_id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 200);
    assert_eq!(log[0]["last_error"], Value::Null);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(flaky.received().len(), 3, "nothing after the success");

    // Pages, newest first.
    let steady_log = settled_deliveries(&fx, webhook).await;
    assert_eq!(steady_log.len(), 2);
    assert_eq!(steady_log[0]["event_type"], "user.deleted");
    let page = fx
        .call(
            "GET",
            &format!("/v1/webhooks/{webhook}/deliveries?limit=1"),
            None,
        )
        .await;
    let page = page.assert_ok(200).clone();
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    let before = page["next_before"].as_str().unwrap();
    let next = fx
        .call(
            "GET",
            &format!("/v1/webhooks/{webhook}/deliveries?limit=1&before={before}"),
            None,
        )
        .await;
    assert_eq!(
        next.assert_ok(200)["deliveries"][0]["event_type"],
        "user.enrolled"
    );
    fx.call(
        "GET",
        &format!("/v1/webhooks/{webhook}/deliveries?limit=0"),
        None,
    )
    .await
    .assert_error(400, "VALIDATION_FAILED");

    // A redelivery: the same event, signed afresh.
    let first = steady_log[1]["id"].as_str().unwrap();
    let redelivered = fx
        .call(
            "POST",
            &format!("/v1/webhooks/{webhook}/deliveries/{first}/redeliver"),
            None,
        )
        .await;
    assert_eq!(redelivered.assert_ok(202)["status"], "pending");
    let got = steady.wait_for(3).await;
    let again = assert_signed(&got[2], &secret);
    assert_eq!(again["id"], enrolled["id"]);
    assert_eq!(again, enrolled, "the same payload");
    let log = settled_deliveries(&fx, webhook).await;
    assert_eq!(log[1]["attempts"], 2);
    fx.call(
        "POST",
        &format!("/v1/webhooks/{webhook}/deliveries/dlv_nope/redeliver"),
        None,
    )
    .await
    .assert_error(404, "DELIVERY_NOT_FOUND");
    // Another endpoint's delivery is not this one's.
    fx.call(
        "POST",
        &format!("/v1/webhooks/{flaky_id}/deliveries/{first}/redeliver"),
        None,
    )
    .await
    .assert_error(404, "DELIVERY_NOT_FOUND");

    // Another tenant sees none of it.
    let other = fx.facegate.create_tenant("other").await.unwrap();
    let other_key = fx
        .facegate
        .mint_api_key(&other.id, KeyEnvironment::Test)
        .await
        .unwrap();
    let other_bearer = format!("Bearer {}", other_key.key.expose_secret());
    let as_other = [
        ("authorization", other_bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let listed = fx.raw("GET", "/v1/webhooks", &as_other, "").await;
    assert_eq!(listed.assert_ok(200)["webhooks"], json!([]));
    for (method, path) in [
        ("GET", format!("/v1/webhooks/{webhook}/deliveries")),
        ("DELETE", format!("/v1/webhooks/{webhook}")),
    ] {
        fx.raw(method, &path, &as_other, "")
            .await
            .assert_error(404, "WEBHOOK_NOT_FOUND");
    }
    fx.raw(
        "POST",
        &format!("/v1/webhooks/{webhook}/deliveries/{first}/redeliver"),
        &as_other,
        "",
    )
    .await
    .assert_error(404, "DELIVERY_NOT_FOUND");

    // At most three endpoints here (16 by default).
    register(&fx, &steady.url, &["auth.failed"]).await;
    fx.call("POST", "/v1/webhooks", Some(json!({ "url": steady.url })))
        .await
        .assert_error(409, "WEBHOOK_LIMIT_REACHED");

    // Deleted: gone with its log, and no longer delivered to.
    let gone = fx
        .call("DELETE", &format!("/v1/webhooks/{flaky_id}"), None)
        .await;
    assert_eq!(gone.assert_ok(200)["deleted"], true);
    fx.call("DELETE", &format!("/v1/webhooks/{flaky_id}"), None)
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");
    fx.call("GET", &format!("/v1/webhooks/{flaky_id}/deliveries"), None)
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");
}

/// What the API's changes report, each once: enrollment, logins that
/// succeed and fail, re-enrollment, a session revoked, consent revoked
/// (with its user); and a receiver that never answers does not hold a
/// login up.
pub async fn events_report_what_happened<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    // A receiver gets 30 s to answer: longer than this whole case.
    let mut config = fast_webhooks();
    config.timeout = Duration::from_secs(30);
    let fx = Fixture::configured(make, engine, |b| b.webhooks(config)).await;
    passive(&fx).await;
    let hanging = Receiver::hanging().await;
    let held = register(&fx, &hanging.url, &["user.enrolled"]).await;
    let receiver = Receiver::start(&[]).await;
    let secret = register(&fx, &receiver.url, &[]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let consent = fx.consent().await;
    let enrolled = fx
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({
                "name": "Barack", "role": "guard", "consent_id": consent,
                "face_image": crate::photo(OBAMA),
            })),
        )
        .await;
    let user = enrolled.assert_ok(201)["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The hanging receiver holds its delivery; the login goes ahead.
    hanging.wait_for(1).await;
    let device = [("x-device-fingerprint", FINGERPRINT)];
    let session = live_session(&fx, &device).await;
    let login = fx
        .call_with(
            "POST",
            "/v1/verify",
            Some(json!({ "liveness_session_id": session })),
            &device,
        )
        .await;
    let login = login.assert_ok(200).clone();
    assert!(login["verification_token"].is_string());
    let session_id = login["session_id"].as_str().unwrap();

    // Frames of two people: the liveness check fails, and so does a
    // login with it.
    let failed = checked_session(&fx, &device, &[OBAMA, BIDEN, OBAMA_2]).await;
    fx.call_with(
        "POST",
        "/v1/verify",
        Some(json!({ "liveness_session_id": failed })),
        &device,
    )
    .await
    .assert_error(403, "LIVENESS_FAILED");

    fx.call(
        "POST",
        &format!("/v1/users/{user}/re-enroll"),
        Some(json!({ "face_image": crate::photo(OBAMA_2) })),
    )
    .await
    .assert_ok(200);
    fx.call("POST", &format!("/v1/session/{session_id}/revoke"), None)
        .await
        .assert_ok(200);
    // A repeat changes nothing, and reports nothing.
    fx.call("POST", &format!("/v1/session/{session_id}/revoke"), None)
        .await
        .assert_ok(200);
    fx.call("DELETE", &format!("/v1/consent/{consent}"), None)
        .await
        .assert_ok(200);
    fx.call("DELETE", &format!("/v1/consent/{consent}"), None)
        .await
        .assert_ok(200);

    let expected = [
        "user.enrolled",
        "auth.succeeded",
        "auth.failed",
        "liveness.failed",
        "user.re_enrolled",
        "session.revoked",
        "consent.revoked",
        "user.deleted",
    ];
    let got = receiver.wait_for(expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), got.len(), "{:?}", receiver.types());
    let events: Vec<Value> = got_all.iter().map(|r| assert_signed(r, &secret)).collect();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    let mut wanted = expected.to_vec();
    wanted.sort_unstable();
    assert_eq!(types, wanted);
    let of = |kind: &str| events.iter().find(|e| e["type"] == kind).unwrap();
    assert_eq!(of("auth.succeeded")["data"]["user_id"], user.as_str());
    assert_eq!(of("auth.succeeded")["data"]["session_id"], session_id);
    assert_eq!(of("auth.failed")["data"]["reason"], "LIVENESS_FAILED");
    assert_eq!(
        of("auth.failed")["data"]["liveness_session_id"],
        failed.as_str()
    );
    assert_eq!(
        of("liveness.failed")["data"]["liveness_session_id"],
        failed.as_str()
    );
    assert_eq!(of("liveness.failed")["data"]["reason"], "different_people");
    assert_eq!(of("session.revoked")["data"]["reason"], "api");
    assert_eq!(of("session.revoked")["data"]["user_id"], user.as_str());
    assert_eq!(of("consent.revoked")["data"]["user_deleted"], true);
    assert_eq!(of("user.deleted")["data"]["reason"], "consent_revoked");
    // Nothing biometric travels: ids, codes and numbers only.
    for event in &events {
        let text = event.to_string();
        assert!(text.len() < 1024, "{text}");
        assert!(!text.contains("/9j/"), "no JPEG in {text}");
    }
    // The hanging receiver still holds its one request, and every other
    // delivery went ahead of it.
    assert_eq!(hanging.received().len(), 1);
    let reply = fx
        .call(
            "GET",
            &format!("/v1/webhooks/{}/deliveries", held["id"].as_str().unwrap()),
            None,
        )
        .await;
    let held_log = reply.assert_ok(200)["deliveries"].clone();
    assert_eq!(held_log[0]["status"], "pending");
    assert_eq!(held_log[0]["attempts"], 0);
}

/// A receiver that keeps failing: retried until the event is older than
/// the retry window, then given up (`failed`, with the last answer); a
/// manual redelivery tries once more. Secrets are sealed at rest under the
/// master key, and deliveries still verify with the secret shown once.
pub async fn webhooks_give_up_and_seal_secrets<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    let mut config = fast_webhooks();
    config.give_up_after = Duration::from_millis(400);
    let master = facegate_core::sealed::MasterKey::from_bytes([9; 32]);
    let fx = Fixture::configured(make, engine, |b| b.webhooks(config).master_key(master)).await;
    let down = Receiver::start(&[500; 64]).await;
    let registered = register(&fx, &down.url, &["user.enrolled"]).await;
    let secret = registered["secret"].as_str().unwrap();
    let webhook = registered["id"].as_str().unwrap();

    use sea_orm::EntityTrait as _;
    let row = facegate_store_seaorm::entity::webhook_endpoint::Entity::find_by_id(webhook)
        .one(fx.db.connection())
        .await
        .unwrap()
        .unwrap();
    assert!(facegate_core::sealed::is_sealed(&row.secret));
    assert!(
        !row.secret
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the secret is not stored in the clear"
    );

    enroll_obama(&fx).await;
    let log = settled_deliveries(&fx, webhook).await;
    assert_eq!(log[0]["status"], "failed");
    let attempts = log[0]["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "retried before giving up: {attempts}");
    assert_eq!(log[0]["last_status_code"], 500);
    assert_eq!(log[0]["last_error"], "answered 500 Internal Server Error");
    assert_eq!(log[0]["next_attempt_at"], Value::Null);
    let received = down.received();
    assert_eq!(received.len() as u64, attempts);
    for attempt in &received {
        assert_signed(attempt, secret);
    }

    let id = log[0]["id"].as_str().unwrap();
    fx.call(
        "POST",
        &format!("/v1/webhooks/{webhook}/deliveries/{id}/redeliver"),
        None,
    )
    .await
    .assert_ok(202);
    down.wait_for(received.len() + 1).await;
    let log = settled_deliveries(&fx, webhook).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempts"].as_u64().unwrap(), attempts + 1);
}
