//! Mount FaceGate in an axum application.
//!
//! ```no_run
//! # async fn demo(facegate: facegate_core::FaceGate) {
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my service" }))
//!     .merge(facegate_axum::router(facegate));
//! # }
//! ```
//!
//! The adapter only translates: every path under `/v1` (and `/demo`, which
//! answers 404 unless [`FaceGateBuilder::demo`](facegate_core::FaceGateBuilder::demo)
//! turned it on) goes to
//! [`FaceGate::handle`], which owns routing, auth, limits and errors, so the
//! API behaves the same on every framework.
#![forbid(unsafe_code)]

use axum::Router;
use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use facegate_core::handoff::{HANDOFF_AUTH_TIMEOUT, HandoffSocket, SocketClose};

pub use facegate_core::FaceGate;

/// The FaceGate REST API (under `/v1`, plus `/.well-known/jwks.json` and
/// `/demo`) as a
/// router to `.merge()` (or `.nest()`) into the host's app.
pub fn router(facegate: FaceGate) -> Router {
    Router::new()
        .route("/v1", any(serve))
        // A catch-all needs at least one character: `/v1/` is its own route.
        .route("/v1/", any(serve))
        .route("/v1/{*path}", any(serve))
        .route("/v1/handoff/{token}/ws", any(handoff_socket))
        .route("/.well-known/jwks.json", any(serve))
        .route("/demo", any(serve))
        .route("/demo/", any(serve))
        .route("/demo/{*path}", any(serve))
        .with_state(facegate)
}

/// `GET /metrics` in Prometheus' text format (see
/// [`facegate_core::metrics`]), for a separate listener the scraper reaches
/// and the public does not; 404 unless `FaceGateBuilder::metrics` is set.
pub fn metrics_router(facegate: FaceGate) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(facegate)
}

async fn metrics(State(facegate): State<FaceGate>) -> Response {
    match facegate.metrics_text().await {
        Some(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                facegate_core::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(State(facegate): State<FaceGate>, mut request: Request) -> Response {
    // Served with `into_make_service_with_connect_info`, the peer address
    // keys the demo's rate limit and feeds the risk engine. Behind a proxy,
    // the host's own middleware may set `ClientAddr` first (from the header
    // its trusted proxy writes): that one is kept.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
        .filter(|_| {
            request
                .extensions()
                .get::<facegate_core::ClientAddr>()
                .is_none()
        });
    if let Some(ConnectInfo(peer)) = peer {
        request
            .extensions_mut()
            .insert(facegate_core::ClientAddr(peer.ip()));
    }
    facegate.handle(request).await.map(Body::from)
}

/// `ws_url`: the desktop's socket of a cross-device handoff. The core
/// checks the upgrade (handoff, `Origin`) and the secret in the first
/// message, and feeds the status changes; this only carries them.
async fn handoff_socket(
    State(facegate): State<FaceGate>,
    Path(token): Path<String>,
    headers: http::HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let socket = match facegate.handoff_socket(&token, &headers).await {
        Ok(socket) => socket,
        Err(refused) => return refused.map(Body::from),
    };
    match upgrade {
        // The desktop sends one short message (its secret): nothing big is
        // buffered for anyone.
        Ok(upgrade) => upgrade
            .max_message_size(MAX_SOCKET_MESSAGE)
            .max_frame_size(MAX_SOCKET_MESSAGE)
            .on_upgrade(move |ws| carry_handoff(socket, ws)),
        Err(rejection) => rejection.into_response(),
    }
}

/// The largest message the desktop's socket takes.
const MAX_SOCKET_MESSAGE: usize = 1024;

async fn carry_handoff(socket: HandoffSocket, mut ws: WebSocket) {
    let first = tokio::time::timeout(HANDOFF_AUTH_TIMEOUT, first_text(&mut ws)).await;
    let feed = match first {
        Ok(Some(text)) => socket.authenticate(&text),
        Ok(None) => return,
        Err(_) => Err(SocketClose::NO_SECRET),
    };
    let mut messages = match feed {
        Ok(feed) => feed.spawn(),
        Err(close) => return close_with(&mut ws, close).await,
    };
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(text) => {
                    if ws.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => return close_with(&mut ws, SocketClose::DONE).await,
            },
            incoming = ws.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The client's first text message; `None` if it went away first.
async fn first_text(ws: &mut WebSocket) -> Option<String> {
    while let Some(Ok(message)) = ws.recv().await {
        match message {
            Message::Text(text) => return Some(text.to_string()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

async fn close_with(ws: &mut WebSocket, close: SocketClose) {
    let frame = CloseFrame {
        code: close.code,
        reason: close.reason.into(),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
}

pub use facegate_core::guard::{FaceGateAuthLayer, GuardConfig, GuardRejection};
pub use facegate_core::token::Claims;

/// The verified FaceGate user of a request behind [`FaceGateAuthLayer`].
///
/// ```no_run
/// async fn profile(user: facegate_axum::FaceGateUser) -> String {
///     format!("hello {}", user.name)
/// }
/// ```
/// Use `Option<FaceGateUser>` on routes that also serve anonymous visitors.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceGateUser(pub std::sync::Arc<Claims>);

impl std::ops::Deref for FaceGateUser {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for FaceGateUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<std::sync::Arc<Claims>>()
            .cloned()
            .map(FaceGateUser)
            .ok_or_else(|| GuardRejection::MissingToken.response())
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for FaceGateUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<std::sync::Arc<Claims>>()
            .cloned()
            .map(FaceGateUser))
    }
}
