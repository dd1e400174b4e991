//! Issue 19's soak run: mixed traffic at a steady rate against one FaceGate
//! on PostgreSQL, for minutes, through the same `FaceGate::handle` the
//! adapters call.
//!
//! ```text
//! FACEGATE_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1/postgres \
//!   cargo bench -p facegate-axum --bench soak
//! ```
//!
//! Each round runs one of everything below, one step per tick
//! (`FACEGATE_SOAK_RATE` steps a second, default 20), for
//! `FACEGATE_SOAK_SECS` (default 600): health, JWKS, the SDK, consent
//! versions, consent, enroll, match, detect-attributes, the face index, a
//! passive-liveness login (session, frames, result, verify), refresh, the
//! risk score, revoke, re-enroll (from a photo), an offline login synced,
//! a handoff (started, polled), users (list, get, status), signals,
//! threat intel, analytics,
//! usage, billing status, policies, a webhook (register, list,
//! deliveries, delete), the deletion receipt of the round's user after
//! deleting them, and the errors a client makes (malformed JSON, an
//! unknown route, a wrong key, a foreign id). Every answer is checked
//! against the status that step expects; anything else is counted and
//! printed.
//!
//! Printed: steps and rounds done, unexpected answers, resident memory
//! every minute, after the warm-up (`FACEGATE_SOAK_WARMUP_SECS`, default
//! the first tenth), at the end and over the second half, and the row counts
//! the traffic implies against those in the database.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_axum::FaceGate;
use facegate_conformance::{camera_jpeg, photo, photo_bytes};
use facegate_core::domain::{KeyEnvironment, LivenessMode};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_store_seaorm::SeaOrmStore;
use facegate_store_seaorm::testing::{DATABASE_URL_VAR, fresh_postgres_url};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

mod support;
use support::status_kib;

const CONSENT: &str = "I agree that my face is used to sign me in.";
const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OBAMA: &str = "face_recognition/obama.jpg";
const BIDEN: &str = "face_recognition/biden.jpg";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Client {
    facegate: FaceGate,
    key: String,
    ticker: tokio::time::Interval,
    /// (step, status) → count, of answers other than the step expected.
    unexpected: BTreeMap<(String, u16), u64>,
    steps: u64,
}

impl Client {
    /// One step: waits for its tick, sends, and checks the status.
    async fn step(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        body: Option<String>,
        key: Option<&str>,
        expected: u16,
    ) -> Value {
        self.step_with(name, method, path, body, key, &[], expected)
            .await
    }

    /// [`Self::step`] with more headers.
    #[allow(clippy::too_many_arguments)]
    async fn step_with(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        body: Option<String>,
        key: Option<&str>,
        headers: &[(&str, &str)],
        expected: u16,
    ) -> Value {
        self.ticker.tick().await;
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-device-fingerprint", FINGERPRINT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(key) = key.or(Some(&self.key)) {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = request
            .body(http_body_util::Full::new(Bytes::from(
                body.unwrap_or_default(),
            )))
            .unwrap();
        let response = self.facegate.handle(request).await;
        self.steps += 1;
        let status = response.status().as_u16();
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        if status != expected {
            let seen = self
                .unexpected
                .entry((name.to_owned(), status))
                .or_default();
            if *seen == 0 {
                eprintln!("soak: {name}: {status} (expected {expected}): {body}");
            }
            *seen += 1;
        }
        body
    }

    async fn json(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        body: Value,
        expected: u16,
    ) -> Value {
        self.step(name, method, path, Some(body.to_string()), None, expected)
            .await
    }

    async fn get(&mut self, name: &str, path: &str, expected: u16) -> Value {
        self.step(name, "GET", path, None, None, expected).await
    }
}

/// What a round did that leaves rows behind.
#[derive(Default)]
struct Tally {
    rounds: u64,
    consents: u64,
    deleted: u64,
    logins: u64,
    synced: u64,
    handoffs: u64,
}

/// One of everything; `barack` is the person enrolled at the start.
async fn round(client: &mut Client, barack: &str, frames: &[String; 3], tally: &mut Tally) {
    let hash = facegate_core::ConsentVersion::new("v1", CONSENT).consent_text_hash;
    client.get("health", "/v1/health", 200).await;
    client.get("jwks", "/.well-known/jwks.json", 200).await;
    client.get("sdk", "/v1/sdk/facegate.js", 200).await;
    client
        .get("consent versions", "/v1/consent/versions", 200)
        .await;
    let consent = json!({ "consent_version": "v1", "consent_text_hash": hash });
    let consent = client
        .json("consent", "POST", "/v1/consent", consent, 201)
        .await;
    tally.consents += 1;
    let enroll = json!({
        "name": "Joe", "role": "member",
        "consent_id": consent["consent_id"], "face_image": photo(BIDEN),
    });
    let enrolled = client
        .json("enroll", "POST", "/v1/enroll", enroll, 201)
        .await;
    let user = enrolled["user_id"]
        .as_str()
        .unwrap_or("user_missing")
        .to_owned();
    let probe = json!({ "image": photo(BIDEN) });
    client
        .json("match", "POST", "/v1/match", probe.clone(), 200)
        .await;
    client
        .json(
            "detect-attributes",
            "POST",
            "/v1/detect-attributes",
            probe,
            200,
        )
        .await;
    client.get("face index", "/v1/face-index", 200).await;

    // A passive login of the person enrolled at the start.
    let started = client
        .json(
            "liveness session",
            "POST",
            "/v1/liveness/session",
            json!({}),
            200,
        )
        .await;
    let session = started["session_id"].as_str().unwrap_or("none").to_owned();
    let upload = json!({
        "nonce": started["challenge"]["nonce"],
        "frames": frames.iter().enumerate().map(|(i, image)| json!({
            "image": image, "timestamp_ms": 1_000 + 400 * i as i64,
        })).collect::<Vec<_>>(),
    });
    let frames_path = format!("/v1/liveness/session/{session}/frames");
    client
        .json("frames", "POST", &frames_path, upload, 200)
        .await;
    client
        .get(
            "liveness result",
            &format!("/v1/liveness/result/{session}"),
            200,
        )
        .await;
    let verified = client
        .json(
            "verify",
            "POST",
            "/v1/verify",
            json!({ "liveness_session_id": session }),
            200,
        )
        .await;
    tally.logins += 1;
    let refresh = json!({ "refresh_token": verified["refresh_token"] });
    let refreshed = client
        .json("refresh", "POST", "/v1/session/refresh", refresh, 200)
        .await;
    let login = verified["session_id"].as_str().unwrap_or("none").to_owned();
    client
        .get(
            "risk score",
            &format!("/v1/sessions/{login}/risk-score"),
            200,
        )
        .await;
    client
        .json(
            "revoke",
            "POST",
            &format!("/v1/session/{login}/revoke"),
            json!({}),
            200,
        )
        .await;
    let _ = refreshed;

    // His face again, from a photo (an administrator's migration): the
    // index swaps his face on every instance through the face log.
    let photo_again = json!({ "face_image": photo(OBAMA) });
    client
        .json(
            "re-enroll",
            "POST",
            &format!("/v1/users/{barack}/re-enroll"),
            photo_again,
            200,
        )
        .await;
    // A login his phone made offline, re-checked (at most 30 batches a
    // minute per tenant: a round takes longer than 2 s at the default rate).
    let offline = json!({ "records": [{
        "type": "offline_verify", "user_id": barack, "confidence": 90.0,
        "timestamp": (chrono::Utc::now() - chrono::Duration::minutes(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "frames": [frames[0]],
    }] });
    let synced = client.json("sync", "POST", "/v1/sync", offline, 200).await;
    if synced["re_verified"][0]["server_matched"] != json!(true) {
        eprintln!("soak: sync: not matched: {synced}");
    }
    tally.synced += 1;
    // A cross-device handoff the desktop starts and polls.
    let handoff = client
        .json("handoff", "POST", "/v1/handoff", json!({}), 201)
        .await;
    tally.handoffs += 1;
    let token = handoff["handoff_token"].as_str().unwrap_or("none");
    let secret = handoff["desktop_secret"].as_str().unwrap_or("none");
    client
        .step_with(
            "handoff status",
            "GET",
            &format!("/v1/handoff/{token}/status"),
            None,
            None,
            &[("x-handoff-secret", secret)],
            200,
        )
        .await;

    client.get("users", "/v1/users?limit=10", 200).await;
    client.get("user", &format!("/v1/users/{user}"), 200).await;
    let status = json!({ "status": "suspended" });
    client
        .json(
            "user status",
            "PATCH",
            &format!("/v1/users/{user}/status"),
            status,
            200,
        )
        .await;
    let signals = json!({ "device_fingerprint": FINGERPRINT, "signals": [{
        "signal_id": facegate_core::ids::LivenessSessionId::generate().to_string(), "source": "sdk-js", "type": "attempt",
        "timestamp": chrono::Utc::now().timestamp_millis(), "data": { "attempt_number": 1 },
    }] });
    client
        .json("signals", "POST", "/v1/signals", signals, 202)
        .await;
    client.get("threat intel", "/v1/threat-intel", 200).await;
    client
        .get("analytics", "/v1/analytics/overview?period=7d", 200)
        .await;
    client.get("devices", "/v1/analytics/devices", 200).await;
    client.get("failures", "/v1/analytics/failures", 200).await;
    client.get("usage", "/v1/usage/summary", 200).await;
    client.get("usage daily", "/v1/usage/daily", 200).await;
    client.get("billing", "/v1/billing/status", 200).await;
    client.get("policies", "/v1/policy", 200).await;
    let hook = json!({ "url": "https://hooks.example.com/facegate", "events": ["user.deleted"] });
    let hook = client
        .json("webhook", "POST", "/v1/webhooks", hook, 201)
        .await;
    let hook = hook["id"].as_str().unwrap_or("none").to_owned();
    client.get("webhooks", "/v1/webhooks", 200).await;
    client
        .get(
            "deliveries",
            &format!("/v1/webhooks/{hook}/deliveries"),
            200,
        )
        .await;

    let deleted = client
        .step(
            "delete user",
            "DELETE",
            &format!("/v1/users/{user}"),
            None,
            None,
            200,
        )
        .await;
    tally.deleted += 1;
    let receipt = deleted["receipt_id"].as_str().unwrap_or("none").to_owned();
    client
        .get("receipt", &format!("/v1/deletions/{receipt}"), 200)
        .await;
    client
        .step(
            "delete webhook",
            "DELETE",
            &format!("/v1/webhooks/{hook}"),
            None,
            None,
            200,
        )
        .await;

    // What clients get wrong.
    client
        .step(
            "malformed json",
            "POST",
            "/v1/consent",
            Some("{".into()),
            None,
            400,
        )
        .await;
    client.get("unknown route", "/v1/nothing-here", 404).await;
    client
        .step(
            "wrong key",
            "GET",
            "/v1/users",
            None,
            Some("fg_test_wrongwrongwrongwrongwrong"),
            401,
        )
        .await;
    client
        .get("foreign id", &format!("/v1/users/{user}"), 404)
        .await;
    tally.rounds += 1;
}

async fn count(db: &SeaOrmStore, table: &str, tenant: &str) -> i64 {
    let row = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            db.connection().get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = $1"),
            [tenant.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::main]
async fn main() {
    let Ok(server) = std::env::var(DATABASE_URL_VAR) else {
        println!("soak: set {DATABASE_URL_VAR} to a PostgreSQL server; skipped");
        return;
    };
    let secs = setting("FACEGATE_SOAK_SECS", 600);
    let rate = setting("FACEGATE_SOAK_RATE", 20).max(1);
    let url = fresh_postgres_url(&server).await;
    let store = SeaOrmStore::connect(&url).await.expect("store");
    let engine =
        LocalFaceEngine::load(EngineConfig::default()).expect("models (scripts/fetch-models)");
    let facegate = FaceGate::builder(store.clone())
        .consent_registry(facegate_core::StaticConsentRegistry::new().with_version("v1", CONSENT))
        .face_provider(engine)
        .build();
    let tenant = facegate.create_tenant("soak").await.unwrap().id;
    facegate
        .update_tenant_settings(&tenant, |s| s.liveness.mode = LivenessMode::Passive)
        .await
        .unwrap();
    let key = facegate
        .mint_api_key(&tenant, KeyEnvironment::Test)
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut client = Client {
        facegate: facegate.clone(),
        key,
        ticker,
        unexpected: BTreeMap::new(),
        steps: 0,
    };
    // The person who logs in every round.
    let hash = facegate_core::ConsentVersion::new("v1", CONSENT).consent_text_hash;
    let consent = json!({ "consent_version": "v1", "consent_text_hash": hash });
    let consent = client
        .json("setup consent", "POST", "/v1/consent", consent, 201)
        .await;
    let enroll = json!({
        "name": "Barack", "role": "member",
        "consent_id": consent["consent_id"], "face_image": photo(OBAMA),
    });
    let barack = client
        .json("setup enroll", "POST", "/v1/enroll", enroll, 201)
        .await["user_id"]
        .as_str()
        .expect("Barack enrolled")
        .to_owned();

    // Camera frames, encoded before the clock starts (a browser's work);
    // each login gets its own pixels.
    let still = image::load_from_memory(&photo_bytes(OBAMA)).unwrap();
    let still = still.resize(720, 960, image::imageops::FilterType::Triangle);
    let crops: Vec<image::RgbImage> = [(0, 0), (24, 16), (48, 32)]
        .iter()
        .map(|&(x, y)| still.crop_imm(x, y, 640, 480).to_rgb8())
        .collect();
    let frames = || -> [String; 3] { std::array::from_fn(|i| camera_jpeg(crops[i].clone(), 90)) };

    let mut tally = Tally::default();
    let start = Instant::now();
    let warm_up = Duration::from_secs(setting("FACEGATE_SOAK_WARMUP_SECS", secs / 10));
    let end = Duration::from_secs(secs);
    let mut rss_warm = None;
    let mut rss_peak = 0;
    // One sample a minute: two cannot tell growth that levels off (caches
    // filling to their bounds, the allocator's arenas) from a leak.
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut next = frames();
    while start.elapsed() < end {
        let now = frames();
        let frames = std::mem::replace(&mut next, now);
        round(&mut client, &barack, &frames, &mut tally).await;
        let rss = status_kib("VmRSS:");
        rss_peak = rss_peak.max(rss);
        if rss_warm.is_none() && start.elapsed() >= warm_up {
            rss_warm = Some(rss);
        }
        let minute = start.elapsed().as_secs() / 60;
        if minute > samples.last().map_or(0, |&(m, _)| m) {
            println!(
                "soak: minute {minute}: resident memory {} MiB, {} steps",
                rss / 1024,
                client.steps
            );
            samples.push((minute, rss));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss_end = status_kib("VmRSS:");
    let rss_warm = rss_warm.unwrap_or(rss_end);
    println!(
        "soak: {secs} s at {rate} steps/s: {} steps in {} rounds ({:.1} steps/s achieved)",
        client.steps,
        tally.rounds,
        client.steps as f64 / elapsed
    );
    let unexpected: u64 = client.unexpected.values().sum();
    println!("soak: unexpected answers: {unexpected}");
    for ((step, status), n) in &client.unexpected {
        println!("  {step}: {status} × {n}");
    }
    println!(
        "soak: resident memory after warm-up {} MiB, at the end {} MiB ({:+.1}%), peak {} MiB",
        rss_warm / 1024,
        rss_end / 1024,
        (rss_end as f64 / rss_warm as f64 - 1.0) * 100.0,
        rss_peak / 1024,
    );
    if let (Some(&(_, half)), Some(&(_, last))) = (samples.get(samples.len() / 2), samples.last()) {
        println!(
            "soak: over the second half {:+.1}% ({} → {} MiB)",
            (last as f64 / half as f64 - 1.0) * 100.0,
            half / 1024,
            last / 1024,
        );
    }

    // Rows the traffic implies.
    let tenant = tenant.as_str();
    let checks = [
        ("users", 1, count(&store, "users", tenant).await),
        (
            "face_enrollments",
            1,
            count(&store, "face_enrollments", tenant).await,
        ),
        (
            "consents",
            tally.consents as i64 + 1,
            count(&store, "consents", tenant).await,
        ),
        (
            "deletion_receipts",
            tally.deleted as i64,
            count(&store, "deletion_receipts", tenant).await,
        ),
        (
            "webhook_endpoints",
            0,
            count(&store, "webhook_endpoints", tenant).await,
        ),
        (
            "sessions",
            tally.logins as i64,
            count(&store, "sessions", tenant).await,
        ),
        (
            "sync_records",
            tally.synced as i64,
            count(&store, "sync_records", tenant).await,
        ),
        (
            "handoffs",
            tally.handoffs as i64,
            count(&store, "handoffs", tenant).await,
        ),
    ];
    let mut wrong = 0;
    for (table, expected, found) in checks {
        let mark = if expected == found { "ok" } else { "MISMATCH" };
        if expected != found {
            wrong += 1;
        }
        println!("soak: rows in {table}: {found} (traffic implies {expected}) {mark}");
    }
    if unexpected > 0 || wrong > 0 {
        std::process::exit(1);
    }
}
