//! Two instances on one PostgreSQL, both running the delivery worker
//! (docs/events.md): every event is delivered once, by one of them, the
//! other skipping the rows it has claimed (`FOR UPDATE SKIP LOCKED`). Runs
//! when `FACEGATE_TEST_DATABASE_URL` names a PostgreSQL server (CI sets
//! it); SQLite is one process.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use facegate_conformance::receiver::Receiver;
use facegate_core::domain::KeyEnvironment;
use facegate_core::{ConsentVersion, FaceGate, StaticConsentRegistry};
use facegate_store_seaorm::SeaOrmStore;
use serde_json::{Value, json};

const TEXT: &str = "I agree to face login.";

async fn call(gate: &FaceGate, method: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = gate.handle(request).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

async fn instance(url: &str) -> FaceGate {
    FaceGate::builder(SeaOrmStore::connect(url).await.unwrap())
        .consent_registry(StaticConsentRegistry::new().with_version("v1", TEXT))
        .webhooks(facegate_conformance::cases::fast_webhooks())
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_delivered_once_by_one_of_two_instances() {
    let Some(url) = facegate_store_seaorm::testing::postgres_for_instances().await else {
        return;
    };
    let (a, b) = (instance(&url).await, instance(&url).await);
    let tenant = a.create_tenant("webhooks").await.unwrap();
    let minted = a
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap();
    let key = minted.key.expose_secret();
    let receiver = Receiver::start(&[]).await;
    let (status, _) = call(
        &a,
        "POST",
        "/v1/webhooks",
        key,
        json!({ "url": receiver.url }),
    )
    .await;
    assert_eq!(status, 201);

    // Revocations on both instances, each an event.
    const EVENTS: usize = 40;
    let hash = ConsentVersion::new("v1", TEXT).consent_text_hash;
    for i in 0..EVENTS {
        let gate = if i % 2 == 0 { &a } else { &b };
        let consent = json!({ "consent_version": "v1", "consent_text_hash": hash });
        let (status, recorded) = call(gate, "POST", "/v1/consent", key, consent).await;
        assert_eq!(status, 201, "{recorded}");
        let id = recorded["consent_id"].as_str().unwrap();
        let (status, _) = call(
            gate,
            "DELETE",
            &format!("/v1/consent/{id}"),
            key,
            json!(null),
        )
        .await;
        assert_eq!(status, 200);
    }
    receiver.wait_for(EVENTS).await;
    // Time for a second delivery of anything, were one coming.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for delivery in receiver.received() {
        *seen
            .entry(delivery.json()["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), EVENTS);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}
