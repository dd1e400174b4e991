//! A stateful local stand-in for AWS Rekognition, for FaceGate's tests.
//!
//! No emulator on the package registries implements Rekognition's
//! collections or Face Liveness, so this peer does, over AWS's own wire
//! protocol: JSON 1.1 (`X-Amz-Target: RekognitionService.<Operation>`),
//! requests signed with SigV4 and checked against the peer's keys
//! ([`sigv4`]), AWS's error shapes, collections and faces per account and
//! region, and real face matching by FaceGate's local engine (a different
//! person does not match). Liveness sessions expire after three minutes on
//! the peer's own clock, which tests can move.
//!
//! The one part that is not AWS's protocol: the browser's streaming step
//! (`StartFaceLivenessSession`, a WebSocket to AWS) is stood in for by
//! `POST /_peer/liveness-sessions/{id}/complete`, which judges given frames
//! with the local engine's passive anti-spoof model. Other control routes
//! under `/_peer/` move the clock, make the next requests fail with a given
//! AWS error, and count the calls per operation.

#![forbid(unsafe_code)]

mod liveness;
mod ops;
pub mod sigv4;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use facegate_face_local::LocalFaceEngine;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

pub use liveness::Refused;
pub use sigv4::{Caller, PeerCredentials};

/// The face model version the peer reports, as Rekognition's current one.
const FACE_MODEL_VERSION: &str = "7.0";

/// An AWS error: HTTP status, the error code (`__type`) and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterException", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceNotFoundException", message)
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalServerError", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            [
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", self.code.as_str()),
            ],
            json!({ "__type": self.code, "message": self.message }).to_string(),
        )
            .into_response()
    }
}

/// The peer: its keys, its engine and everything its callers created.
#[derive(Clone)]
pub struct Peer {
    state: Arc<PeerState>,
}

struct PeerState {
    engine: LocalFaceEngine,
    credentials: HashMap<String, PeerCredentials>,
    data: Mutex<ops::Data>,
    /// Added to the real clock for session expiry (moved by tests).
    clock_offset_ms: AtomicI64,
    /// Errors the next signed requests get, in order.
    fail_next: Mutex<Vec<AwsError>>,
    fail_next_of: Mutex<BTreeMap<String, Vec<AwsError>>>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl Peer {
    /// A peer that accepts requests signed with `credentials` and matches
    /// faces with `engine` (its models; the peer keeps its own indexes).
    pub fn new(engine: &LocalFaceEngine, credentials: Vec<PeerCredentials>) -> Self {
        Self {
            state: Arc::new(PeerState {
                engine: engine.restarted(),
                credentials: credentials
                    .into_iter()
                    .map(|c| (c.access_key_id.clone(), c))
                    .collect(),
                data: Mutex::new(ops::Data::default()),
                clock_offset_ms: AtomicI64::new(0),
                fail_next: Mutex::new(Vec::new()),
                fail_next_of: Mutex::new(BTreeMap::new()),
                calls: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The AWS endpoint at `/` and the control routes under `/_peer/`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", post(aws_endpoint))
            .route(
                "/_peer/liveness-sessions/{id}/complete",
                post(liveness::complete),
            )
            .route("/_peer/clock", post(advance_clock))
            .route("/_peer/fail-next", post(fail_next))
            .route("/_peer/calls", get(calls))
            .with_state(self.clone())
    }

    /// A peer for one test: one account's key, served on a free local port
    /// (the URL to give the SDK as its endpoint).
    pub async fn start_local(
        engine: &LocalFaceEngine,
        credentials: PeerCredentials,
    ) -> std::io::Result<(Self, String)> {
        let peer = Self::new(engine, vec![credentials]);
        let addr = peer.clone().spawn(([127, 0, 0, 1], 0).into()).await?;
        Ok((peer, format!("http://{addr}")))
    }

    /// Serves the peer on `addr` (port 0: any free port) until the process ends.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let router = self.router();
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(%err, "the Rekognition peer stopped");
            }
        });
        Ok(bound)
    }

    /// Calls per operation so far (signed requests that reached an operation).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.state.calls).clone()
    }

    /// Faces held in all collections (what a deletion must bring down).
    pub fn stored_faces(&self) -> usize {
        lock(&self.state.data).face_count()
    }

    /// Moves the peer's clock (session expiry) forward.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.state
            .clock_offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// The next signed requests fail with these errors, one each.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = AwsError>) {
        lock(&self.state.fail_next).extend(errors);
    }

    /// The next requests of `operation` (`DeleteFaces`, …) fail with these
    /// errors, one each; other operations go on as usual.
    pub fn fail_next_of(&self, operation: &str, errors: impl IntoIterator<Item = AwsError>) {
        lock(&self.state.fail_next_of)
            .entry(operation.to_owned())
            .or_default()
            .extend(errors);
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            + chrono::Duration::milliseconds(self.state.clock_offset_ms.load(Ordering::SeqCst))
    }
}

/// Poisoning cannot leave the peer's maps half-changed (each change is one
/// insert or remove), so a panicked holder's data is still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn aws_endpoint(
    State(peer): State<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&peer, &method, &uri, &headers, &body).await {
        Ok(answer) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            answer.to_string(),
        )
            .into_response(),
        Err(err) => {
            tracing::debug!(code = %err.code, message = %err.message, "peer error");
            err.into_response()
        }
    }
}

async fn handle(
    peer: &Peer,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, AwsError> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let full_uri = format!(
        "http://{host}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let caller = sigv4::verify(
        &peer.state.credentials,
        method.as_str(),
        &full_uri,
        headers,
        body,
        SystemTime::now(),
    )?;
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("RekognitionService."))
        .ok_or_else(|| {
            AwsError::new(
                400,
                "UnknownOperationException",
                "X-Amz-Target must name a RekognitionService operation",
            )
        })?
        .to_owned();
    *lock(&peer.state.calls)
        .entry(operation.clone())
        .or_default() += 1;
    if let Some(err) = {
        let mut of_operation = lock(&peer.state.fail_next_of);
        let queued = of_operation.get_mut(&operation).filter(|q| !q.is_empty());
        queued.map(|q| q.remove(0))
    } {
        return Err(err);
    }
    if let Some(err) = {
        let mut queued = lock(&peer.state.fail_next);
        (!queued.is_empty()).then(|| queued.remove(0))
    } {
        return Err(err);
    }
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|err| AwsError::new(400, "SerializationException", err.to_string()))?
    };
    ops::dispatch(peer, &caller, &operation, input).await
}

async fn advance_clock(State(peer): State<Peer>, body: axum::Json<Value>) -> Response {
    let seconds = body.get("advance_seconds").and_then(Value::as_i64);
    match seconds {
        Some(seconds) if seconds >= 0 => {
            peer.advance_clock(chrono::Duration::seconds(seconds));
            axum::Json(json!({ "now": peer.now() })).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            "advance_seconds: a non-negative integer",
        )
            .into_response(),
    }
}

async fn fail_next(State(peer): State<Peer>, body: axum::Json<Value>) -> Response {
    let count = body.get("count").and_then(Value::as_u64).unwrap_or(1);
    let Some(code) = body.get("code").and_then(Value::as_str) else {
        return (StatusCode::BAD_REQUEST, "code: an AWS error code").into_response();
    };
    let status = match code {
        "InternalServerError" => 500,
        "AccessDeniedException" => 403,
        _ => 400,
    };
    let error = AwsError::new(status, code, format!("{code} (injected by the peer)"));
    peer.fail_next(std::iter::repeat_n(error, count.min(1000) as usize));
    StatusCode::NO_CONTENT.into_response()
}

async fn calls(State(peer): State<Peer>) -> axum::Json<BTreeMap<String, u64>> {
    axum::Json(peer.calls())
}
