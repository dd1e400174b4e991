//! The shared conformance suite (`facegate-conformance`) against the axum
//! adapter: the API as `router` mounts it, and the guard as a tower layer.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use facegate_axum::{FaceGate, FaceGateAuthLayer, FaceGateUser};
use facegate_conformance::PINNED_TENANT;
use facegate_core::ids::TenantId;
use serde_json::json;
use tower::ServiceExt;

struct AxumApp(Router);

#[async_trait::async_trait(?Send)]
impl facegate_conformance::Adapter for AxumApp {
    async fn send(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let response = self
            .0
            .clone()
            .oneshot(request.map(axum::body::Body::from))
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        http::Response::from_parts(parts, bytes)
    }
}

/// The host app the suite expects (see `facegate_conformance::Adapter`).
async fn app(facegate: FaceGate) -> AxumApp {
    let profile = Router::new()
        .route(
            "/api/profile",
            get(|user: FaceGateUser| async move {
                axum::Json(json!({ "sub": user.sub, "name": user.name }))
            }),
        )
        .layer(FaceGateAuthLayer::new(facegate.clone()).cookie("fg_token"));
    let admin = Router::new()
        .route(
            "/api/admin",
            get(|| async { axum::Json(json!({ "area": "admin" })) }),
        )
        .layer(FaceGateAuthLayer::new(facegate.clone()).require_role("admin"));
    let hello = Router::new()
        .route(
            "/hello",
            get(|user: Option<FaceGateUser>| async move {
                axum::Json(json!({ "user": user.map(|u| u.sub.clone()) }))
            }),
        )
        .layer(FaceGateAuthLayer::new(facegate.clone()).optional());
    let pinned = Router::new()
        .route(
            "/api/pinned",
            get(|user: FaceGateUser| async move { axum::Json(json!({ "sub": user.sub })) }),
        )
        .layer(
            FaceGateAuthLayer::new(facegate.clone()).tenant(TenantId::from_string(PINNED_TENANT)),
        );
    let demo = Router::new()
        .route(
            "/api/demo",
            get(|user: FaceGateUser| async move {
                axum::Json(json!({ "sub": user.sub, "role": user.role }))
            }),
        )
        .layer(FaceGateAuthLayer::new(facegate.clone()).allow_demo());
    AxumApp(
        facegate_axum::router(facegate)
            .merge(profile)
            .merge(admin)
            .merge(hello)
            .merge(pinned)
            .merge(demo),
    )
}

facegate_conformance::suite!(tokio::test, app);

/// The handoff's socket, through a real axum server.
#[tokio::test]
async fn handoff_socket() {
    facegate_conformance::socket::handoff_socket(|facegate| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, facegate_axum::router(facegate))
                .await
                .unwrap()
        });
        addr
    })
    .await;
}
