//! An existing actix-web service that adds face login by mounting FaceGate:
//! the actix counterpart of `axum-app`, with the same settings.
//!
//! ```text
//! cargo run -p facegate-examples --bin actix-app
//! FACEGATE_ADDR=0.0.0.0:3000 FACEGATE_DATABASE_URL=postgres://… cargo run -p facegate-examples --bin actix-app
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use facegate_actix::{FaceGateAuth, FaceGateUser};
use facegate_examples::{Settings, init_tracing, start_facegate};
use serde_json::json;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let settings = Settings::from_env();
    let facegate = start_facegate(&settings).await?;

    // Metrics on their own server: the scraper reaches it, the public not.
    if let Some(addr) = &settings.metrics_addr {
        let metrics = facegate_actix::configure_metrics(facegate.clone());
        let server = HttpServer::new(move || App::new().configure(metrics.clone()))
            .workers(1)
            .disable_signals()
            .bind(addr)
            .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        for addr in server.addrs() {
            tracing::info!("metrics on http://{addr}/metrics");
        }
        actix_web::rt::spawn(server.run());
    }

    let server = HttpServer::new(move || {
        App::new()
            // The host's own routes: a public home page and a profile that
            // only a user signed in with FaceGate reaches… This example also
            // lets in the people who try the /demo page (role `demo`, anyone
            // can enroll): a real service leaves `allow_demo` out and pins
            // its tenant with `.tenant(id)`.
            .route("/", web::get().to(home))
            .service(
                web::resource("/api/profile")
                    .wrap(FaceGateAuth::new(facegate.clone()).allow_demo())
                    .route(web::get().to(profile)),
            )
            // …and the FaceGate API beside them.
            .configure(facegate_actix::configure(facegate.clone()))
    })
    .bind(&settings.addr)
    .map_err(|err| format!("cannot listen on {}: {err}", settings.addr))?;
    for addr in server.addrs() {
        tracing::info!(
            "example service on http://{addr} (FaceGate API under /v1, database {})",
            settings.database_for_logs()
        );
    }
    // Stops gracefully on Ctrl-C.
    server.run().await?;
    Ok(())
}

async fn home() -> &'static str {
    "Example service. The FaceGate API is mounted under /v1 (try GET /v1/health); \
     try face login at /demo.\n"
}

/// The host's own API, for the verified FaceGate user.
async fn profile(user: FaceGateUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "user_id": user.sub, "name": user.name, "role": user.role }))
}
