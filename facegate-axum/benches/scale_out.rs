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
//! - **Login throughput**: full passive-liveness logins (start a session,
//!   upload three 640×480 camera frames, verify, call a host route behind
//!   `FaceGateAuthLayer`), first one at a time for the wall and CPU time of
//!   each stage (the process's CPU; PostgreSQL's is its own process's),
//!   then from several clients at once on one instance and spread over two:
//!   logins per second and the process's CPU milliseconds per login. The
//!   frames are encoded before the clock starts (a browser's work).
//!
//! Settings (environment): `FACEGATE_BENCH_ENROLLMENTS` (default 200),
//! `FACEGATE_BENCH_COLD_FACES` (default 100000), `FACEGATE_BENCH_LOGINS`
//! (per run, default 60), `FACEGATE_BENCH_CLIENTS` (default 4).

mod support;
use support::status_kib;

use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_axum::FaceGate;
use facegate_conformance::{camera_jpeg, photo, photo_bytes};
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
    call_with(facegate, method, path, body, &[]).await
}

async fn call_with(
    facegate: &FaceGate,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
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

const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Three camera frames of one person at 640×480, as a browser sends them:
/// a head-and-shoulders shot that moves a little from frame to frame (each
/// frame also has its own pixels: the server refuses a replayed frame).
fn login_frames(count: usize) -> Vec<[String; 3]> {
    let photo = image::load_from_memory(&photo_bytes(PHOTOS[0])).unwrap();
    let photo = photo.resize(720, 960, image::imageops::FilterType::Triangle);
    let frames: Vec<image::RgbImage> = [(0, 0), (24, 16), (48, 32)]
        .iter()
        .map(|&(x, y)| photo.crop_imm(x, y, 640, 480).to_rgb8())
        .collect();
    (0..count)
        .map(|_| std::array::from_fn(|i| camera_jpeg(frames[i].clone(), 90)))
        .collect()
}

/// Wall and process CPU time of one stage of a login (the CPU figure means
/// something one login at a time only; PostgreSQL's own is not in it).
#[derive(Default, Clone, Copy)]
struct Stage {
    wall: Duration,
    cpu: Duration,
}

impl Stage {
    fn timed() -> impl FnOnce() -> Stage {
        let (wall, cpu) = (Instant::now(), cpu_time());
        move || Stage {
            wall: wall.elapsed(),
            cpu: cpu_time() - cpu,
        }
    }
}

impl std::ops::AddAssign for Stage {
    fn add_assign(&mut self, other: Stage) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

/// Each stage of one login.
#[derive(Default, Clone, Copy)]
struct Stages {
    session: Stage,
    frames: Stage,
    verify: Stage,
    guarded: Stage,
}

async fn login(facegate: &FaceGate, host: &axum::Router, frames: &[String; 3]) -> Stages {
    use tower::ServiceExt as _;
    let device = ("x-device-fingerprint", FINGERPRINT);
    let mut stages = Stages::default();
    let stage = Stage::timed();
    let (status, started) =
        call_with(facegate, "POST", "/v1/liveness/session", None, &[device]).await;
    assert_eq!(status, 200, "{started}");
    stages.session = stage();
    let id = started["session_id"].as_str().unwrap();
    let body = json!({
        "nonce": started["challenge"]["nonce"],
        "frames": frames.iter().enumerate().map(|(i, image)| json!({
            "image": image, "timestamp_ms": 1_000 + 400 * i as i64,
        })).collect::<Vec<_>>(),
    });
    let stage = Stage::timed();
    let (status, judged) = call(
        facegate,
        "POST",
        &format!("/v1/liveness/session/{id}/frames"),
        Some(body),
    )
    .await;
    assert_eq!(
        (status, &judged["is_live"]),
        (200, &json!(true)),
        "{judged}"
    );
    stages.frames = stage();
    let stage = Stage::timed();
    let body = json!({ "liveness_session_id": id });
    let (status, verified) = call_with(facegate, "POST", "/v1/verify", Some(body), &[device]).await;
    assert_eq!(
        (status, &verified["matched"]),
        (200, &json!(true)),
        "{verified}"
    );
    stages.verify = stage();
    let stage = Stage::timed();
    let request = http::Request::builder()
        .uri("/api/profile")
        .header(
            "authorization",
            format!(
                "Bearer {}",
                verified["verification_token"].as_str().unwrap()
            ),
        )
        .header(device.0, device.1)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = host.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    stages.guarded = stage();
    stages
}

/// CPU time of the whole process so far (user + system).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// `logins` logins from `clients` concurrent clients, spread over
/// `instances` round robin: logins per second and CPU ms per login.
async fn throughput(
    instances: &[(FaceGate, axum::Router)],
    frames: Vec<[String; 3]>,
    clients: usize,
) -> (f64, f64) {
    let logins = frames.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(frames));
    let cpu = cpu_time();
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (facegate, host) = instances[client % instances.len()].clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                loop {
                    let Some(frames) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    login(&facegate, &host, &frames).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu).as_secs_f64();
    (logins as f64 / wall, cpu * 1e3 / logins as f64)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

#[tokio::main]
async fn main() {
    // RUST_LOG=info shows why a login failed, should one.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let Ok(server) = std::env::var(DATABASE_URL_VAR) else {
        println!("scale_out: set {DATABASE_URL_VAR} to a PostgreSQL server; skipped");
        return;
    };
    let enrollments = setting("FACEGATE_BENCH_ENROLLMENTS", 200);
    let cold_faces = setting("FACEGATE_BENCH_COLD_FACES", 100_000);
    let logins = setting("FACEGATE_BENCH_LOGINS", 60);
    let clients = setting("FACEGATE_BENCH_CLIENTS", 4);
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
        a.store()
            .insert_user(&user, &faces, None, &[])
            .await
            .unwrap();
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

    // Login throughput: one enrolled person, passive liveness, no PIN.
    if logins == 0 {
        return;
    }
    a.update_tenant_settings(&tenant, |s| {
        s.liveness.mode = facegate_core::domain::LivenessMode::Passive;
        s.pin.mode = facegate_core::domain::PinMode::Off;
        s.prevent_duplicates = true;
    })
    .await
    .unwrap();
    // One person to log in as: the propagation run's enrollments go first.
    for user in a
        .store()
        .users_created_before(&tenant, clock::now(), 10_000)
        .await
        .unwrap()
    {
        a.delete_user(
            &tenant,
            &user,
            facegate_core::deletion::DeletionReason::TenantRequest,
        )
        .await
        .unwrap();
    }
    enroll(&a, &photos[0]).await;
    let host = |facegate: &FaceGate| {
        axum::Router::new()
            .route("/api/profile", axum::routing::get(|| async { "ok" }))
            .layer(facegate_axum::FaceGateAuthLayer::new(facegate.clone()))
    };
    let one = [(a.clone(), host(&a))];
    let two = [(a.clone(), host(&a)), (b.clone(), host(&b))];
    // Warm up, then one at a time: the stages.
    for frames in login_frames(3) {
        login(&a, &one[0].1, &frames).await;
    }
    let mut total = Stages::default();
    let serial = login_frames(logins.min(20));
    for frames in &serial {
        let stages = login(&a, &one[0].1, frames).await;
        total.session += stages.session;
        total.frames += stages.frames;
        total.verify += stages.verify;
        total.guarded += stages.guarded;
    }
    let n = serial.len() as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / n;
    let shown = |s: Stage| format!("{:.1} ms ({:.0} ms CPU)", ms(s.wall), ms(s.cpu));
    println!(
        "login stages, one at a time ({} logins): session {}, frames {}, verify {}, guarded route {}",
        serial.len(),
        shown(total.session),
        shown(total.frames),
        shown(total.verify),
        shown(total.guarded),
    );
    let (rate, cpu) = throughput(&one, login_frames(logins), clients).await;
    println!(
        "logins, one instance, {clients} clients: {rate:.1} logins/s, {cpu:.0} ms CPU per login"
    );
    let (rate, cpu) = throughput(&two, login_frames(logins), clients).await;
    println!(
        "logins, two instances on one PostgreSQL (one process, the same 2 cores), {clients} clients: {rate:.1} logins/s, {cpu:.0} ms CPU per login"
    );
}
