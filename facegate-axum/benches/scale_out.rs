//! Several instances on one PostgreSQL (docs/scaling.md), in one process:
//! each instance its own store connection pool and its own local engine
//! index, as separate hosts would have.
//!
//! ```text
//! FACEGATE_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1/postgres \
//!   cargo bench -p facegate-axum --bench scale_out
//! ```
//!
//! - **Propagation**: enrollments on A (real photos through `POST
//!   /v1/enroll`); after each, the time from A's answer until B's index
//!   holds the face, as B's next face operation (here `GET
//!   /v1/face-index`) sees it, and how many tries that took.
//! - **Cold start**: a tenant with many faces (copies of a real template,
//!   stored through the store in batches) loaded into a fresh instance's
//!   index from PostgreSQL: the time of its first face operation and the
//!   resident memory it added.
//!
//! Settings (environment): `FACEGATE_BENCH_ENROLLMENTS` (default 200),
//! `FACEGATE_BENCH_COLD_FACES` (default 100000).

use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_axum::FaceGate;
use facegate_conformance::photo;
use facegate_core::clock;
use facegate_core::domain::{FaceEnrollment, User, UserStatus};
use facegate_core::ids::{FaceId, UserId};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_store_seaorm::SeaOrmStore;
use facegate_store_seaorm::testing::{DATABASE_URL_VAR, fresh_postgres_url};
use serde_json::{Value, json};

const KEY: &str = "fg_test_scaleoutbench00000000";
const CONSENT: &str = "I agree that my face is used to sign me in.";
const PHOTOS: [&str; 4] = [
    "face_recognition/obama.jpg",
    "face_recognition/obama2.jpg",
    "face_recognition/obama3.jpg",
    "face_recognition/biden.jpg",
];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn instance(url: &str, engine: &LocalFaceEngine) -> FaceGate {
    let store = SeaOrmStore::connect(url).await.expect("store");
    FaceGate::builder(store)
        .consent_registry(facegate_core::StaticConsentRegistry::new().with_version("v1", CONSENT))
        .face_provider(engine.restarted())
        .build()
}

async fn call(facegate: &FaceGate, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let response = facegate.handle(request).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

async fn enroll(facegate: &FaceGate, image: &str) -> Value {
    let hash = facegate_core::ConsentVersion::new("v1", CONSENT).consent_text_hash;
    let consent = json!({ "consent_version": "v1", "consent_text_hash": hash });
    let (status, consent) = call(facegate, "POST", "/v1/consent", Some(consent)).await;
    assert_eq!(status, 201, "{consent}");
    let body = json!({
        "name": "bench", "role": "member",
        "consent_id": consent["consent_id"], "face_image": image,
    });
    let (status, enrolled) = call(facegate, "POST", "/v1/enroll", Some(body)).await;
    assert_eq!(status, 201, "{enrolled}");
    enrolled
}

async fn indexed_faces(facegate: &FaceGate) -> u64 {
    let (status, body) = call(facegate, "GET", "/v1/face-index", None).await;
    assert_eq!(status, 200, "{body}");
    body["indexed_faces"].as_u64().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let Ok(server) = std::env::var(DATABASE_URL_VAR) else {
        println!("scale_out: set {DATABASE_URL_VAR} to a PostgreSQL server; skipped");
        return;
    };
    let enrollments = setting("FACEGATE_BENCH_ENROLLMENTS", 200);
    let cold_faces = setting("FACEGATE_BENCH_COLD_FACES", 100_000);
    let url = fresh_postgres_url(&server).await;
    let engine =
        LocalFaceEngine::load(EngineConfig::default()).expect("models (scripts/fetch-models)");
    let a = instance(&url, &engine).await;
    let b = instance(&url, &engine).await;
    let tenant = a.ensure_api_key(KEY, "bench").await.unwrap();
    a.update_tenant_settings(&tenant, |s| s.prevent_duplicates = false)
        .await
        .unwrap();
    let photos: Vec<String> = PHOTOS.iter().map(|p| photo(p)).collect();

    // Propagation.
    indexed_faces(&b).await;
    let mut delays = Vec::with_capacity(enrollments);
    let mut tries_total = 0;
    for i in 0..enrollments {
        enroll(&a, &photos[i % photos.len()]).await;
        let start = Instant::now();
        let mut tries = 0;
        while {
            tries += 1;
            indexed_faces(&b).await < i as u64 + 1
        } {}
        delays.push(start.elapsed());
        tries_total += tries;
    }
    delays.sort();
    println!(
        "propagation enroll on A → in B's index, {enrollments} enrollments: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.2} tries each on average",
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().unwrap().as_secs_f64() * 1e3,
        tries_total as f64 / enrollments as f64,
    );

    // Cold start: a second tenant of `cold_faces` faces.
    let template = a
        .store()
        .faces_of_tenant(&tenant)
        .await
        .unwrap()
        .pop()
        .and_then(|face| face.template)
        .expect("an enrolled template");
    let cold = a.create_tenant("cold").await.unwrap().id;
    let fill = Instant::now();
    const PER_USER: usize = 500;
    for chunk in 0..cold_faces.div_ceil(PER_USER) {
        let user = User {
            id: UserId::generate(),
            tenant_id: cold.clone(),
            name: format!("user {chunk}"),
            role: "member".into(),
            email: None,
            phone: None,
            external_id: None,
            metadata: json!({}),
            payload: None,
            pin_hash: None,
            status: UserStatus::Active,
            created_at: clock::now(),
        };
        let faces: Vec<FaceEnrollment> = (0..PER_USER.min(cold_faces - chunk * PER_USER))
            .map(|_| {
                let id = FaceId::generate();
                FaceEnrollment {
                    provider_face_id: id.to_string(),
                    id,
                    tenant_id: cold.clone(),
                    user_id: user.id.clone(),
                    provider: "local".into(),
                    angle: "front".into(),
                    confidence: 99.0,
                    enrolled_with_glasses: false,
                    template: Some(template.clone()),
                    created_at: clock::now(),
                }
            })
            .collect();
        a.store().insert_user(&user, &faces, None).await.unwrap();
    }
    println!(
        "cold start: stored {cold_faces} faces in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let key = a
        .mint_api_key(&cold, facegate_core::domain::KeyEnvironment::Test)
        .await
        .unwrap();
    let fresh = instance(&url, &engine).await;
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let request = http::Request::builder()
        .uri("/v1/face-index")
        .header(
            "authorization",
            format!("Bearer {}", key.key.expose_secret()),
        )
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let response = fresh.handle(request).await;
    let loaded = start.elapsed();
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["indexed_faces"], json!(cold_faces), "{body}");
    let after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    println!(
        "cold start: {cold_faces} faces from PostgreSQL into a fresh index in {:.2} s; resident memory +{} MiB after (peak of the process {} MiB)",
        loaded.as_secs_f64(),
        after.saturating_sub(before) / 1024,
        peak / 1024,
    );
}
