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
//! The adapter only translates: every path under `/v1` goes to
//! [`FaceGate::handle`], which owns routing, auth, limits and errors, so the
//! API behaves the same on every framework.
#![forbid(unsafe_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;

pub use facegate_core::FaceGate;

/// The FaceGate REST API (under `/v1`, plus `/.well-known/jwks.json`) as a
/// router to `.merge()` (or `.nest()`) into the host's app.
pub fn router(facegate: FaceGate) -> Router {
    Router::new()
        .route("/v1", any(serve))
        .route("/v1/{*path}", any(serve))
        .route("/.well-known/jwks.json", any(serve))
        .with_state(facegate)
}

async fn serve(State(facegate): State<FaceGate>, request: Request) -> Response {
    facegate.handle(request).await.map(Body::from)
}
