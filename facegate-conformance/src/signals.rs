//! Issue 16, held to both adapters: `POST /v1/signals`. Batches validated
//! whole (every bad signal named by its index), idempotent per signal id,
//! sent by a page with its client key (a header, or a beacon's body), and
//! refused cheaply when busy or over the limit; retries feed the risk score.

use std::future::Future;

use facegate_core::FaceGate;
use facegate_core::domain::{KeyEnvironment, OriginRules};
use serde_json::{Value, json};

use crate::cases::{FINGERPRINT, enroll_obama, live_session, passive};
use crate::{Adapter, Engine, Fixture, Reply};

const PAGE: &str = "https://app.example.test";

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn signal(kind: &str, timestamp: i64) -> Value {
    json!({
        "signal_id": uuid_v4(),
        "source": "sdk-js",
        "type": kind,
        "timestamp": timestamp,
        "data": { "attempt_number": 2 },
    })
}

/// A random UUID, as a browser's `crypto.randomUUID()`.
fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn batch(signals: Vec<Value>) -> Value {
    json!({ "device_fingerprint": FINGERPRINT, "signals": signals })
}

/// What `navigator.sendBeacon` sends: no headers but the page's origin, a
/// text/plain body carrying the key.
async fn beacon<A: Adapter>(fx: &Fixture<A>, key: &str, origin: &str) -> Reply {
    let mut body = batch(vec![signal("retry", now_ms())]);
    body["api_key"] = Value::String(key.to_owned());
    let headers = [
        ("origin", origin),
        ("content-type", "text/plain;charset=UTF-8"),
    ];
    fx.raw("POST", "/v1/signals", &headers, body.to_string())
        .await
}

case!(
    /// Accepted once, counted once; a bad batch stores nothing and names
    /// each bad signal by its index; a page's client key may send them, in
    /// the header or in a beacon's body, from its own origin only.
    signals_are_validated_idempotent_and_open_to_pages(fx) {
        let now = now_ms();
        let sent = vec![signal("attempt", now), signal("retry", now - 1000), signal("camera_error", now)];
        let first = fx.call("POST", "/v1/signals", Some(batch(sent.clone()))).await;
        assert_eq!(first.assert_ok(202), &json!({ "accepted": 3, "duplicates": 0 }));
        let again = fx.call("POST", "/v1/signals", Some(batch(sent.clone()))).await;
        assert_eq!(again.assert_ok(202), &json!({ "accepted": 0, "duplicates": 3 }));

        let fresh = signal("attempt", now);
        let mut too_big = signal("attempt", now);
        too_big["data"] = json!({ "blob": "x".repeat(2000) });
        let bad = vec![
            fresh.clone(),
            json!({ "signal_id": "not-a-uuid", "source": "sdk-js", "type": "retry", "timestamp": now }),
            signal("retry", now - 25 * 3600 * 1000),
            signal("retry", now + 120 * 1000),
            too_big,
            json!({ "signal_id": uuid_v4(), "source": "sdk-js", "timestamp": now }),
            json!({ "signal_id": uuid_v4(), "source": "bad source!", "type": "retry", "timestamp": now, "data": [1] }),
            json!({ "signal_id": uuid_v4(), "source": "sdk-js", "type": "retry", "timestamp": now, "data": { "n": "a\u{0}b" } }),
        ];
        let refused = fx.call("POST", "/v1/signals", Some(batch(bad))).await;
        refused.assert_error(400, "VALIDATION_FAILED");
        let paths: Vec<Value> = refused.body["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].clone())
            .collect();
        assert_eq!(
            paths,
            [
                json!(["signals", "1", "signal_id"]),
                json!(["signals", "2", "timestamp"]),
                json!(["signals", "3", "timestamp"]),
                json!(["signals", "4", "data"]),
                json!(["signals", "5"]),
                json!(["signals", "6", "source"]),
                json!(["signals", "6", "data"]),
                json!(["signals", "7", "data"]),
            ]
        );
        // Nothing of the refused batch was stored: its good signal is new.
        let alone = fx.call("POST", "/v1/signals", Some(batch(vec![fresh]))).await;
        assert_eq!(alone.assert_ok(202)["accepted"], 1);

        let many: Vec<Value> = (0..101).map(|_| signal("attempt", now)).collect();
        let over = fx.call("POST", "/v1/signals", Some(batch(many))).await;
        over.assert_error(400, "VALIDATION_FAILED");
        assert_eq!(over.body["details"][0]["path"], json!(["signals"]));
        fx.call("POST", "/v1/signals", Some(batch(vec![]))).await.assert_error(400, "VALIDATION_FAILED");
        let unnamed = json!({ "device_fingerprint": "abc", "signals": [signal("attempt", now)] });
        let refused = fx.call("POST", "/v1/signals", Some(unnamed)).await;
        assert_eq!(refused.body["details"][0]["path"], json!(["device_fingerprint"]));

        // A page's key: in the header, or in a beacon's text/plain body.
        let client = fx
            .facegate
            .mint_client_key(
                &fx.tenant,
                KeyEnvironment::Test,
                OriginRules { allowed: vec![PAGE.into()], ..Default::default() },
            )
            .await
            .unwrap();
        let client_key = client.key.expose_secret().to_owned();
        let bearer = format!("Bearer {client_key}");
        let by_header = fx
            .raw(
                "POST",
                "/v1/signals",
                &[("authorization", &bearer), ("origin", PAGE), ("content-type", "application/json")],
                batch(vec![signal("attempt", now)]).to_string(),
            )
            .await;
        assert_eq!(by_header.assert_ok(202)["accepted"], 1);
        assert_eq!(beacon(&fx, &client_key, PAGE).await.assert_ok(202)["accepted"], 1);
        beacon(&fx, &client_key, "https://evil.example").await.assert_error(403, "FORBIDDEN_ORIGIN");
        beacon(&fx, &fx.key, PAGE).await.assert_error(403, "INSUFFICIENT_SCOPE");
        beacon(&fx, "fg_test_pub_nope", PAGE).await.assert_error(401, "INVALID_API_KEY");
        // A beacon names its page; a key open to any page takes beacons only
        // from the pages CORS allows (none here).
        let mut no_origin = batch(vec![signal("retry", now)]);
        no_origin["api_key"] = Value::String(client_key.clone());
        fx.raw("POST", "/v1/signals", &[("content-type", "text/plain")], no_origin.to_string())
            .await
            .assert_error(403, "EMPTY_ORIGIN");
        let open = fx
            .facegate
            .mint_client_key(&fx.tenant, KeyEnvironment::Test, OriginRules::default())
            .await
            .unwrap();
        beacon(&fx, open.key.expose_secret(), PAGE).await.assert_error(403, "FORBIDDEN_ORIGIN");
        let keyless = batch(vec![signal("retry", now)]).to_string();
        fx.raw("POST", "/v1/signals", &[("origin", PAGE)], keyless)
            .await
            .assert_error(401, "MISSING_API_KEY");
    }
);

/// Over the per-network limit: 429 with `Retry-After`; with no write slot
/// free: the spec's 503, with `Retry-After`.
pub async fn signals_busy_and_limited<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    let config = facegate_core::SignalsConfig {
        max_concurrent_writes: 0,
        requests_per_minute: 2,
        tenant_requests_per_minute: 1000,
    };
    let fx = Fixture::configured(make, engine, |b| b.signals(config)).await;
    let body = || batch(vec![signal("attempt", now_ms())]);
    for _ in 0..2 {
        let busy = fx.call("POST", "/v1/signals", Some(body())).await;
        busy.assert_error(503, "SIGNAL_INGESTION_UNAVAILABLE");
        assert_eq!(busy.header("retry-after"), Some("1"));
    }
    let limited = fx.call("POST", "/v1/signals", Some(body())).await;
    limited.assert_error(429, "RATE_LIMITED");
    assert!(limited.header("retry-after").is_some());
}

case!(
    /// Retries a device's client reported raise its next login's risk.
    signals_feed_the_risk_score(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        let now = now_ms();
        let retries: Vec<Value> = (0..5).map(|i| signal("retry", now - i * 1000)).collect();
        fx.call("POST", "/v1/signals", Some(batch(retries))).await.assert_ok(202);
        let device = [("x-device-fingerprint", FINGERPRINT)];
        let session = live_session(&fx, &device).await;
        let login = fx
            .call_with("POST", "/v1/verify", Some(json!({ "liveness_session_id": session })), &device)
            .await;
        let factors = login.assert_ok(200)["risk"]["factors"].clone();
        let retries = factors
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "client_retries")
            .unwrap_or_else(|| panic!("{factors}"));
        assert_eq!(retries["value"], 1.0);
        // Another device's retries are not this one's.
        let other = [("x-device-fingerprint", "ab".repeat(32))];
        let other: Vec<(&str, &str)> = other.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let session = live_session(&fx, &other).await;
        let login = fx
            .call_with("POST", "/v1/verify", Some(json!({ "liveness_session_id": session })), &other)
            .await;
        let factors = login.assert_ok(200)["risk"]["factors"].clone();
        assert!(factors.as_array().unwrap().iter().all(|f| f["code"] != "client_retries"), "{factors}");
    }
);
