//! Issue 19: what sealing biometric data at rest (a master key) costs.
//!
//! ```text
//! cargo bench -p facegate-axum --bench sealed_at_rest            # SQLite in a temporary file
//! FACEGATE_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1/postgres \
//!   cargo bench -p facegate-axum --bench sealed_at_rest          # PostgreSQL
//! ```
//!
//! - **Index load**: two tenants of `FACEGATE_BENCH_FACES` faces (default
//!   100,000; copies of a real template), one stored plain, one sealed,
//!   each in a database of its own: an instance with a master key seals
//!   every plain template it meets (the re-seal pass), which a keyless
//!   instance then cannot open. Fresh instances (an empty index each, as
//!   after a restart; the plain one without a master key, the sealed one
//!   with) load them through `GET /v1/face-index`, alternating,
//!   `FACEGATE_BENCH_ROUNDS` times (default 3): the median of each.
//! - **Opening alone**: the same number of templates opened in a loop,
//!   one core (the part of the load that sealing adds).
//! - **Enroll**: `POST /v1/enroll` with a real photo, 30 times on an
//!   instance with a master key and 30 without (each on its database),
//!   interleaved: p50 of each.

use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_axum::FaceGate;
use facegate_conformance::photo;
use facegate_core::clock;
use facegate_core::domain::{FaceEnrollment, KeyEnvironment, User, UserStatus};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::sealed::{Biometric, MasterKey};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_store_seaorm::SeaOrmStore;
use facegate_store_seaorm::testing::{DATABASE_URL_VAR, fresh_postgres_url};
use serde_json::{Value, json};

const CONSENT: &str = "I agree that my face is used to sign me in.";
const PHOTO: &str = "face_recognition/obama.jpg";
const PER_USER: usize = 500;
const ENROLLMENTS: usize = 30;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn instance(url: &str, engine: &LocalFaceEngine, key: Option<&MasterKey>) -> FaceGate {
    let store = SeaOrmStore::connect(url).await.expect("store");
    let builder = FaceGate::builder(store)
        .consent_registry(facegate_core::StaticConsentRegistry::new().with_version("v1", CONSENT))
        .face_provider(engine.restarted());
    match key {
        Some(key) => builder.master_key(key.clone()),
        None => builder,
    }
    .build()
}

async fn call(facegate: &FaceGate, key: &str, method: &str, path: &str, body: Value) -> Value {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = facegate.handle(request).await;
    let status = response.status();
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// A tenant of `count` faces, each `template` sealed under `key` (if any)
/// for its own row; returns the tenant and a server key of it.
async fn tenant_of(
    facegate: &FaceGate,
    name: &str,
    count: usize,
    template: &[u8],
    key: Option<&MasterKey>,
) -> (TenantId, String) {
    let tenant = facegate.create_tenant(name).await.unwrap().id;
    // Every enrollment here is the same face.
    facegate
        .update_tenant_settings(&tenant, |s| s.prevent_duplicates = false)
        .await
        .unwrap();
    for chunk in 0..count.div_ceil(PER_USER) {
        let user = User {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
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
        let faces: Vec<FaceEnrollment> = (0..PER_USER.min(count - chunk * PER_USER))
            .map(|_| {
                let id = FaceId::generate();
                let sealed = Biometric::Template {
                    tenant: &tenant,
                    user: &user.id,
                    face: &id,
                }
                .seal(key, template.to_vec());
                FaceEnrollment {
                    provider_face_id: id.to_string(),
                    id,
                    tenant_id: tenant.clone(),
                    user_id: user.id.clone(),
                    provider: "local".into(),
                    angle: "front".into(),
                    confidence: 99.0,
                    enrolled_with_glasses: false,
                    template: Some(sealed),
                    created_at: clock::now(),
                }
            })
            .collect();
        facegate
            .store()
            .insert_user(&user, &faces, None, &[])
            .await
            .unwrap();
    }
    let api_key = facegate
        .mint_api_key(&tenant, KeyEnvironment::Test)
        .await
        .unwrap();
    (tenant, api_key.key.expose_secret().to_owned())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let faces = setting("FACEGATE_BENCH_FACES", 100_000);
    let rounds = setting("FACEGATE_BENCH_ROUNDS", 3).max(1);
    let server = std::env::var(DATABASE_URL_VAR).ok();
    let database = if server.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let files: Vec<_> = ["plain", "sealed"]
        .map(|kind| {
            std::env::temp_dir().join(format!(
                "facegate-sealed-bench-{}-{kind}.db",
                std::process::id()
            ))
        })
        .into();
    let mut urls = Vec::new();
    for file in &files {
        urls.push(match &server {
            Some(server) => fresh_postgres_url(server).await,
            None => format!("sqlite://{}", file.display()),
        });
    }
    let (plain_url, sealed_url) = (&urls[0], &urls[1]);
    let engine =
        LocalFaceEngine::load(EngineConfig::default()).expect("models (scripts/fetch-models)");
    let master = MasterKey::from_bytes([19; 32]);
    let setup = instance(plain_url, &engine, None).await;
    let sealing = instance(sealed_url, &engine, Some(&master)).await;

    // A real template, from a real enrollment.
    let (enrolled, key) = tenant_of(&setup, "enrolled", 0, &[], None).await;
    enroll(&setup, &key, &photo(PHOTO)).await;
    let template = setup
        .store()
        .faces_of_tenant(&enrolled)
        .await
        .unwrap()
        .pop()
        .and_then(|face| face.template)
        .expect("an enrolled template");

    // Index load.
    let fill = Instant::now();
    let (_, plain) = tenant_of(&setup, "plain", faces, &template, None).await;
    let (_, sealed) = tenant_of(&sealing, "sealed", faces, &template, Some(&master)).await;
    println!(
        "sealed_at_rest on {database}: stored 2 × {faces} faces in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let (mut plain_loads, mut sealed_loads) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (url, key, master_key, loads) in [
            (plain_url, &plain, None, &mut plain_loads),
            (sealed_url, &sealed, Some(&master), &mut sealed_loads),
        ] {
            let fresh = instance(url, &engine, master_key).await;
            let start = Instant::now();
            let index = call(&fresh, key, "GET", "/v1/face-index", Value::Null).await;
            loads.push(start.elapsed());
            assert_eq!(index["indexed_faces"], json!(faces), "{index}");
        }
    }
    let (plain_load, sealed_load) = (median(plain_loads), median(sealed_loads));
    println!(
        "index load, {faces} faces, median of {rounds}: plain {:.0} ms, sealed {:.0} ms ({:+.1}%)",
        ms(plain_load),
        ms(sealed_load),
        (sealed_load.as_secs_f64() / plain_load.as_secs_f64() - 1.0) * 100.0,
    );

    // Opening alone.
    let (tenant, user) = (TenantId::generate(), UserId::generate());
    let ids: Vec<FaceId> = (0..faces).map(|_| FaceId::generate()).collect();
    let stored: Vec<Vec<u8>> = ids
        .iter()
        .map(|face| {
            Biometric::Template {
                tenant: &tenant,
                user: &user,
                face,
            }
            .seal(Some(&master), template.clone())
        })
        .collect();
    let start = Instant::now();
    let mut bytes = 0;
    for (face, stored) in ids.iter().zip(&stored) {
        let opened = Biometric::Template {
            tenant: &tenant,
            user: &user,
            face,
        }
        .open(Some(&master), stored)
        .unwrap();
        bytes += opened.len();
    }
    let opening = start.elapsed();
    println!(
        "opening {faces} templates of {} bytes alone: {:.0} ms ({:.2} µs each), one core",
        bytes / faces.max(1),
        ms(opening),
        opening.as_secs_f64() * 1e6 / faces.max(1) as f64,
    );

    // Enroll.
    let (_, plain_enroll) = tenant_of(&setup, "enroll plain", 0, &[], None).await;
    let (_, sealed_enroll) = tenant_of(&sealing, "enroll sealed", 0, &[], None).await;
    let image = photo(PHOTO);
    let (mut plain_times, mut sealed_times) = (Vec::new(), Vec::new());
    for _ in 0..ENROLLMENTS {
        for (facegate, key, times) in [
            (&setup, &plain_enroll, &mut plain_times),
            (&sealing, &sealed_enroll, &mut sealed_times),
        ] {
            times.push(enroll(facegate, key, &image).await);
        }
    }
    println!(
        "enroll p50 of {ENROLLMENTS}: plain {:.1} ms, sealed {:.1} ms",
        ms(median(plain_times)),
        ms(median(sealed_times)),
    );
    for file in files {
        let _ = std::fs::remove_file(file);
    }
}

/// One enrollment of `image` (consent first, off the clock); the time
/// `POST /v1/enroll` took.
async fn enroll(facegate: &FaceGate, key: &str, image: &str) -> Duration {
    let hash = facegate_core::ConsentVersion::new("v1", CONSENT).consent_text_hash;
    let consent = json!({ "consent_version": "v1", "consent_text_hash": hash });
    let consent = call(facegate, key, "POST", "/v1/consent", consent).await;
    let body = json!({
        "name": "bench", "role": "member",
        "consent_id": consent["consent_id"], "face_image": image,
    });
    let start = Instant::now();
    call(facegate, key, "POST", "/v1/enroll", body).await;
    start.elapsed()
}
