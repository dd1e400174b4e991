//! HTTP throughput of a host route behind `FaceGateAuthLayer` against the same
//! route without it, in one run. The target is guarded >= 0.9x unguarded.
//!
//! ```text
//! cargo bench -p facegate-axum --bench guard
//! ```
//!
//! Everything is real: a SeaORM store on in-memory SQLite, a signed-in user
//! with a session and an Ed25519 token, an axum host app served over TCP on
//! 127.0.0.1, and keep-alive HTTP/1.1 clients (hyper) in the same process.
//! Three routes, measured in interleaved rounds:
//!
//! - `GET /api/public`: no guard, no extractor (the baseline);
//! - `GET /api/profile`: behind the guard with its default cache, handler
//!   takes `FaceGateUser`;
//! - `GET /api/profile-uncached`: the same behind a guard with
//!   `session_recheck: 0` (signature check and session read on every
//!   request), for information: it shows what the cache buys.
//!
//! Every route answers the same JSON (`{"name":"Ada"}`), and every request
//! carries the same `Authorization` header, so requests and responses are the
//! same size everywhere.
//!
//! Settings (environment): `FACEGATE_BENCH_SECS` (measured seconds per round,
//! default 3), `FACEGATE_BENCH_WARMUP_SECS` (default 1),
//! `FACEGATE_BENCH_CONCURRENCY` (clients, default 16), `FACEGATE_BENCH_ROUNDS`
//! (default 3). Missing the target is reported, not an error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::{Json, Router};
use bytes::Bytes;
use facegate_axum::{FaceGate, FaceGateAuthLayer, FaceGateUser, GuardConfig};
use facegate_core::clock;
use facegate_core::domain::{User, UserStatus};
use facegate_core::ids::UserId;
use facegate_core::store::prelude::*;
use facegate_store_seaorm::SeaOrmStore;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

const TARGET: f64 = 0.9;
const BODY: &str = r#"{"name":"Ada"}"#;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Unguarded,
    Guarded,
    Uncached,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Unguarded, Variant::Guarded, Variant::Uncached];

    fn path(self) -> &'static str {
        match self {
            Variant::Unguarded => "/api/public",
            Variant::Guarded => "/api/profile",
            Variant::Uncached => "/api/profile-uncached",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Variant::Unguarded => "unguarded",
            Variant::Guarded => "guarded (cache, recheck 2 s)",
            Variant::Uncached => "guarded (recheck 0, no cache)",
        }
    }
}

struct Settings {
    measure: Duration,
    warmup: Duration,
    concurrency: usize,
    rounds: usize,
}

impl Settings {
    fn from_env() -> Self {
        Self {
            measure: Duration::from_secs_f64(env_number("FACEGATE_BENCH_SECS", 3.0)),
            warmup: Duration::from_secs_f64(env_number("FACEGATE_BENCH_WARMUP_SECS", 1.0)),
            concurrency: env_number("FACEGATE_BENCH_CONCURRENCY", 16.0).max(1.0) as usize,
            rounds: env_number("FACEGATE_BENCH_ROUNDS", 3.0).max(1.0) as usize,
        }
    }
}

fn env_number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .unwrap_or_else(|| panic!("{name}={value}: expected a non-negative number")),
        Err(_) => default,
    }
}

/// What one round of one variant measured.
struct Round {
    requests: u64,
    /// Latency of every measured request, in nanoseconds.
    latencies: Vec<u64>,
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing else to parse.
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(settings));
}

async fn run(settings: Settings) {
    let (addr, token) = start_host().await;
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
    check_routes(addr, &auth).await;

    println!(
        "facegate guard bench: {} clients, {} rounds x ({:.1} s warm-up + {:.1} s) per variant, \
         {} worker threads, token {} bytes",
        settings.concurrency,
        settings.rounds,
        settings.warmup.as_secs_f64(),
        settings.measure.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        token.len(),
    );

    let mut results: Vec<(Variant, Vec<Round>)> =
        Variant::ALL.iter().map(|v| (*v, Vec::new())).collect();
    for round in 1..=settings.rounds {
        for (variant, rounds) in &mut results {
            let measured = load(addr, variant.path(), &auth, &settings).await;
            println!(
                "  round {round}: {:<30} {:>10.0} req/s",
                variant.label(),
                measured.requests as f64 / settings.measure.as_secs_f64()
            );
            rounds.push(measured);
        }
    }

    report(&results, &settings);
}

/// A host app with the three routes, served on 127.0.0.1; and a valid token.
async fn start_host() -> (SocketAddr, String) {
    let store: SeaOrmStore = facegate_store_seaorm::testing::test_store().await;
    let facegate = FaceGate::builder(store.clone()).build();
    let uncached = FaceGate::builder(store.clone())
        .guard(GuardConfig {
            session_recheck: Duration::ZERO,
            ..GuardConfig::default()
        })
        .build();

    let tenant = facegate.create_tenant("bench").await.expect("tenant");
    let now = clock::now();
    let user = User {
        id: UserId::generate(),
        tenant_id: tenant.id.clone(),
        name: "Ada".into(),
        role: "guard".into(),
        email: Some("ada@example.com".into()),
        phone: None,
        external_id: None,
        metadata: json!({}),
        payload: None,
        pin_hash: None,
        status: UserStatus::Active,
        created_at: now,
    };
    store
        .insert_user(&user, &[], None, &[])
        .await
        .expect("user");
    let token = facegate
        .open_session(&user, "dev_bench", None, 98.5, 0.05)
        .await
        .expect("session")
        .verification_token;

    let guarded = Router::new()
        .route("/api/profile", get(profile))
        .layer(FaceGateAuthLayer::new(facegate.clone()));
    let guarded_uncached = Router::new()
        .route("/api/profile-uncached", get(profile))
        .layer(FaceGateAuthLayer::new(uncached.clone()));
    let public = Router::new().route("/api/public", get(public));
    let app = guarded.merge(guarded_uncached).merge(public);

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (addr, token)
}

async fn profile(user: FaceGateUser) -> Json<serde_json::Value> {
    Json(json!({ "name": user.name.clone() }))
}

async fn public() -> Json<serde_json::Value> {
    Json(json!({ "name": "Ada".to_owned() }))
}

/// Before measuring: the guard refuses a request without a token, and every
/// route answers the same body to a request with one.
async fn check_routes(addr: SocketAddr, auth: &HeaderValue) {
    let mut client = Client::connect(addr).await;
    let (status, body) = client.get(Variant::Guarded.path(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body:?}");
    let (status, body) = client.get(Variant::Uncached.path(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body:?}");
    for variant in Variant::ALL {
        let (status, body) = client.get(variant.path(), Some(auth)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body:?}", variant.path());
        assert_eq!(body, BODY, "{}", variant.path());
    }
}

/// `concurrency` keep-alive clients hammering `path` for warm-up + measure;
/// counts the requests started within the measured window.
async fn load(
    addr: SocketAddr,
    path: &'static str,
    auth: &HeaderValue,
    settings: &Settings,
) -> Round {
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let until = measure_from + settings.measure;
    let clients: Vec<_> = (0..settings.concurrency)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                let mut requests = 0u64;
                let mut latencies = Vec::with_capacity(1 << 16);
                loop {
                    let sent = Instant::now();
                    if sent >= until {
                        break;
                    }
                    let (status, body) = client.get(path, Some(&auth)).await;
                    let latency = sent.elapsed();
                    assert_eq!(status, StatusCode::OK, "{path}: {body:?}");
                    assert_eq!(body.len(), BODY.len(), "{path}: {body:?}");
                    if sent >= measure_from {
                        requests += 1;
                        latencies.push(latency.as_nanos() as u64);
                    }
                }
                (requests, latencies)
            })
        })
        .collect();
    let mut round = Round {
        requests: 0,
        latencies: Vec::new(),
    };
    for client in clients {
        let (requests, latencies) = client.await.expect("client task");
        round.requests += requests;
        round.latencies.extend(latencies);
    }
    round
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { sender }
    }

    async fn get(&mut self, path: &str, auth: Option<&HeaderValue>) -> (StatusCode, Bytes) {
        let mut request = Request::get(path).header(header::HOST, "127.0.0.1");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        let request = request.body(Empty::new()).expect("request");
        self.sender.ready().await.expect("connection ready");
        let response = self.sender.send_request(request).await.expect("response");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, body)
    }
}

fn report(results: &[(Variant, Vec<Round>)], settings: &Settings) {
    let secs = settings.measure.as_secs_f64();
    let rate = |round: &Round| round.requests as f64 / secs;
    let median_rate = |rounds: &[Round]| median(rounds.iter().map(rate).collect());
    let baseline_rounds = &results
        .iter()
        .find(|(v, _)| *v == Variant::Unguarded)
        .expect("baseline")
        .1;
    let baseline = median_rate(baseline_rounds);

    println!();
    println!(
        "{:<30} {:>12} {:>10} {:>10} {:>10} {:>14}",
        "variant", "median req/s", "p50 us", "p99 us", "requests", "vs unguarded"
    );
    let mut guarded_ratio = f64::NAN;
    for (variant, rounds) in results {
        let mut latencies: Vec<u64> = rounds
            .iter()
            .flat_map(|r| r.latencies.iter().copied())
            .collect();
        latencies.sort_unstable();
        let requests: u64 = rounds.iter().map(|r| r.requests).sum();
        let median = median_rate(rounds);
        let ratio = median / baseline;
        if *variant == Variant::Guarded {
            guarded_ratio = ratio;
        }
        println!(
            "{:<30} {:>12.0} {:>10.1} {:>10.1} {:>10} {:>13.3}x",
            variant.label(),
            median,
            percentile(&latencies, 0.50) / 1e3,
            percentile(&latencies, 0.99) / 1e3,
            requests,
            ratio,
        );
    }
    for (variant, rounds) in results.iter().filter(|(v, _)| *v != Variant::Unguarded) {
        let per_round: Vec<String> = rounds
            .iter()
            .zip(baseline_rounds)
            .map(|(r, b)| format!("{:.3}", rate(r) / rate(b)))
            .collect();
        println!(
            "  per-round ratio, {}: {}",
            variant.label(),
            per_round.join(", ")
        );
    }
    println!();
    println!(
        "guard overhead: guarded = {guarded_ratio:.2}x of unguarded (target >= {TARGET}): {}",
        if guarded_ratio >= TARGET {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}
