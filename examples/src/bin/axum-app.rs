//! An existing axum service that adds face login by mounting FaceGate.
//!
//! ```text
//! cargo run -p facegate-examples --bin axum-app
//! FACEGATE_ADDR=0.0.0.0:3000 FACEGATE_DATABASE_URL=postgres://… cargo run -p facegate-examples --bin axum-app
//! ```

use axum::Json;
use axum::Router;
use axum::routing::get;
use facegate_axum::{FaceGateAuthLayer, FaceGateUser};
use facegate_examples::{Settings, init_tracing, start_facegate};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let settings = Settings::from_env();
    let facegate = start_facegate(&settings).await?;

    // The host's own routes: a public home page and a profile that only a
    // user signed in with FaceGate reaches… This example also lets in the
    // people who try the /demo page (role `demo`, anyone can enroll): a real
    // service leaves `allow_demo` out and pins its tenant with `.tenant(id)`.
    let guarded = Router::new()
        .route("/api/profile", get(profile))
        .layer(FaceGateAuthLayer::new(facegate.clone()).allow_demo());
    let app = Router::new()
        .route("/", get(home))
        .merge(guarded)
        // …and the FaceGate API beside them.
        .merge(facegate_axum::router(facegate.clone()));

    // Metrics on their own listener: the scraper reaches it, the public not.
    if let Some(addr) = &settings.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
        let metrics = facegate_axum::metrics_router(facegate);
        tokio::spawn(async move { axum::serve(listener, metrics).await });
    }

    let listener = tokio::net::TcpListener::bind(&settings.addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", settings.addr))?;
    tracing::info!(
        "example service on http://{} (FaceGate API under /v1, database {})",
        listener.local_addr()?,
        settings.database_for_logs()
    );
    if settings.demo {
        tracing::info!("try face login at http://{}/demo", listener.local_addr()?);
    }
    // With the peer address, the demo rate-limits each client on its own.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}

async fn home() -> &'static str {
    "Example service. The FaceGate API is mounted under /v1 (try GET /v1/health); \
     try face login at /demo.\n"
}

/// The host's own API, for the verified FaceGate user.
async fn profile(user: FaceGateUser) -> Json<Value> {
    Json(json!({ "user_id": user.sub, "name": user.name, "role": user.role }))
}
