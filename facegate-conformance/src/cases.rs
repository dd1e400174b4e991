//! The cases. Each builds a fresh fixture around the adapter `make` returns
//! and walks one area of the API; the adapter-specific tests in each crate
//! go deeper, these hold the frameworks to one behaviour.

use std::future::Future;

use facegate_core::FaceGate;
use facegate_core::domain::LivenessMode;
use serde_json::{Value, json};

use crate::fixture::{camera_frame, photo};
use crate::{Adapter, Engine, Fixture, Reply};

pub use crate::events::*;
pub use crate::handoff::*;
pub use crate::isolation::*;
pub use crate::policy::*;
pub use crate::privacy::*;
pub use crate::provider::*;
pub use crate::signals::*;
pub use crate::sync::*;
pub use crate::threats::*;
pub use crate::trust::*;
pub use crate::usage::*;

/// Test photos (scripts/fetch-testdata), for the cases and the example apps' tests.
pub const OBAMA: &str = "face_recognition/obama.jpg";
pub const OBAMA_2: &str = "face_recognition/obama2.jpg";
pub const OBAMA_3: &str = "face_recognition/obama3.jpg";
pub const BIDEN: &str = "face_recognition/biden.jpg";
pub const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

case!(
    /// `GET /v1/health` needs no key and reports the database and engine.
    health_is_public(fx) {
        let reply = fx.raw("GET", "/v1/health", &[], "").await;
        let body = reply.assert_ok(200);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["checks"]["db"]["status"], "ok");
        let engine = match fx.engine() {
            Engine::Local => "local",
            Engine::Rekognition => "rekognition",
        };
        assert_eq!(body["provider"], engine);
        assert_eq!(body["checks"][engine]["status"], "ok");
        assert!(body["checks"][engine]["latencyMs"].is_u64());
    }
);

case!(
    jwks_is_public(fx) {
        let reply = fx.raw("GET", "/.well-known/jwks.json", &[], "").await;
        let key = &reply.assert_ok(200)["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert!(key["kid"].is_string());
    }
);

case!(
    /// The OpenAPI document needs no key and lists every route the core serves.
    openapi_document_is_public(fx) {
        let (status, headers, text) = fx.get_text("/v1/openapi.json").await;
        assert_eq!(status, 200);
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, template) in facegate_core::ROUTE_TABLE {
            let path: String = template
                .split('/')
                .map(|s| match s.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => s.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            assert!(
                doc["paths"][&path][method.to_ascii_lowercase()].is_object(),
                "{method} {template} is not in the document"
            );
        }
    }
);

case!(
    /// The browser SDK, public and importable from other origins.
    sdk_is_public(fx) {
        let (status, headers, text) = fx.get_text("/v1/sdk/facegate.js").await;
        assert_eq!(status, 200);
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(header("access-control-allow-origin"), Some("*"));
        assert!(text.contains("export class FaceGateClient"));
        let (status, _, types) = fx.get_text("/v1/sdk/facegate.d.ts").await;
        assert_eq!(status, 200);
        assert!(types.contains("FaceGateClient"));
        let (status, headers, widget) = fx.get_text("/v1/sdk/facegate-widget.js").await;
        assert_eq!(status, 200);
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/javascript; charset=utf-8")
        );
        assert!(widget.contains("FaceGateWidget"));
        let (status, _, _) = fx.get_text("/v1/sdk/facegate-widget.d.ts").await;
        assert_eq!(status, 200);
    }
);

case!(
    unknown_routes_and_methods(fx) {
        for path in ["/v1/nothing-here", "/v1", "/v1/", "/v1/users/u/too/deep"] {
            fx.call("GET", path, None).await.assert_error(404, "NOT_FOUND");
        }
        fx.call("POST", "/v1/users", Some(json!({}))).await.assert_error(405, "METHOD_NOT_ALLOWED");
        fx.raw("PUT", "/v1/health", &[], "").await.assert_error(405, "METHOD_NOT_ALLOWED");
    }
);

case!(
    api_keys(fx) {
        fx.raw("GET", "/v1/users", &[], "").await.assert_error(401, "MISSING_API_KEY");
        fx.raw("GET", "/v1/users", &[("authorization", "Bearer fg_test_nope")], "")
            .await
            .assert_error(401, "INVALID_API_KEY");
        let by_header = fx.raw("GET", "/v1/users", &[("x-api-key", &fx.key)], "").await;
        assert_eq!(by_header.assert_ok(200)["users"], json!([]));
    }
);

case!(
    suspended_tenant(fx) {
        fx.facegate
            .set_tenant_status(&fx.tenant, facegate_core::domain::TenantStatus::Suspended)
            .await
            .unwrap();
        fx.call("GET", "/v1/users", None).await.assert_error(403, "TENANT_SUSPENDED");
    }
);

case!(
    malformed_and_invalid_bodies(fx) {
        let headers = [("authorization", format!("Bearer {}", fx.key)), ("content-type", "application/json".into())];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fx.raw("POST", "/v1/consent", &headers, "{not json")
            .await
            .assert_error(400, "INVALID_JSON");
        let invalid = fx.call("POST", "/v1/consent", Some(json!({ "consent_version": 7 }))).await;
        invalid.assert_error(400, "VALIDATION_FAILED");
        assert!(invalid.body["details"].as_array().is_some_and(|d| !d.is_empty()));
        // NUL characters: PostgreSQL stores none, so they are refused up
        // front (a proptest case on PostgreSQL found a 500 here).
        let nul = fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": "\u{0}" }))).await;
        nul.assert_error(400, "VALIDATION_FAILED");
        assert_eq!(nul.body["details"][0]["path"], json!(["liveness_session_id"]), "{}", nul.body);
        fx.call("GET", "/v1/users?after=%00", None)
            .await
            .assert_error(400, "VALIDATION_FAILED");
    }
);

case!(
    /// 64 KB for JSON routes, 6 MB for image routes: the core's limits, not
    /// the framework's.
    body_limits(fx) {
        let auth = format!("Bearer {}", fx.key);
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let big_json = format!("{{\"consent_version\":\"{}\"}}", "x".repeat(100 * 1024));
        fx.raw("POST", "/v1/consent", &headers, big_json)
            .await
            .assert_error(413, "PAYLOAD_TOO_LARGE");
        let big_image = format!("{{\"image\":\"{}\"}}", "A".repeat(7 * 1024 * 1024));
        fx.raw("POST", "/v1/match", &headers, big_image)
            .await
            .assert_error(413, "PAYLOAD_TOO_LARGE");
        // Under the image limit, the body reaches the engine.
        let photo_body = json!({ "image": photo(OBAMA) }).to_string();
        assert!(photo_body.len() > 256 * 1024, "larger than common framework defaults");
        let matched = fx.raw("POST", "/v1/match", &headers, photo_body).await;
        assert_eq!(matched.assert_ok(200)["matched"], false);
    }
);

case!(
    consent(fx) {
        let versions = fx.call("GET", "/v1/consent/versions", None).await;
        assert_eq!(versions.assert_ok(200)["versions"][0]["consent_version"], "v1");
        let id = fx.consent().await;
        fx.call("POST", "/v1/consent", Some(json!({ "consent_version": "v9", "consent_text_hash": "00" })))
            .await
            .assert_error(400, "INVALID_CONSENT_VERSION");
        let revoked = fx.call("DELETE", &format!("/v1/consent/{id}"), None).await;
        assert!(revoked.assert_ok(200)["revoked_at"].is_string());
        fx.call("DELETE", "/v1/consent/00000000-0000-0000-0000-000000000000", None)
            .await
            .assert_error(404, "CONSENT_NOT_FOUND");
    }
);

pub(crate) async fn enroll_obama<A: Adapter>(fx: &Fixture<A>) -> String {
    let consent_id = fx.consent().await;
    let reply = fx
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "Barack", "role": "guard", "consent_id": consent_id, "face_image": photo(OBAMA) })),
        )
        .await;
    reply.assert_ok(201)["user_id"].as_str().unwrap().to_owned()
}

case!(
    users(fx) {
        let id = enroll_obama(&fx).await;
        let listed = fx.call("GET", "/v1/users", None).await;
        assert_eq!(listed.assert_ok(200)["users"][0]["id"], id.as_str());
        let one = fx.call("GET", &format!("/v1/users/{id}"), None).await;
        assert_eq!(one.assert_ok(200)["name"], "Barack");
        let locked = fx
            .call("PATCH", &format!("/v1/users/{id}/status"), Some(json!({ "status": "locked" })))
            .await;
        assert_eq!(locked.assert_ok(200)["status"], "locked");
        fx.call("GET", "/v1/users/user_nope", None).await.assert_error(404, "USER_NOT_FOUND");
        let deleted = fx.call("DELETE", &format!("/v1/users/{id}"), None).await;
        assert_eq!(deleted.assert_ok(200)["deleted"]["faces"], 1);
    }
);

case!(
    faces(fx) {
        let id = enroll_obama(&fx).await;
        let duplicate = fx
            .call(
                "POST",
                "/v1/enroll",
                Some(json!({ "name": "B", "role": "guard", "consent_id": fx.consent().await, "face_image": photo(OBAMA_2) })),
            )
            .await;
        duplicate.assert_error(409, "USER_ALREADY_ENROLLED");
        fx.call("POST", "/v1/enroll", Some(json!({ "name": "B", "role": "guard", "face_image": photo(BIDEN) })))
            .await
            .assert_error(400, "CONSENT_REQUIRED");
        let matched = fx.call("POST", "/v1/match", Some(json!({ "image": photo(OBAMA_3) }))).await;
        assert_eq!(matched.assert_ok(200)["user"]["id"], id.as_str());
        let detected = fx.call("POST", "/v1/detect-attributes", Some(json!({ "image": photo(OBAMA) }))).await;
        assert!(detected.assert_ok(200)["faces"][0]["attributes"]["pose"].is_object());
        fx.call("POST", "/v1/match", Some(json!({ "image": "bm90IGFuIGltYWdl" })))
            .await
            .assert_error(400, "INVALID_IMAGE_FORMAT");
        let group = fx.call("POST", "/v1/match", Some(json!({ "image": photo("face-api/sample1.jpg") }))).await;
        group.assert_error(422, "MANY_FACES");
        let re_enrolled = fx
            .call("POST", &format!("/v1/users/{id}/re-enroll"), Some(json!({ "face_image": photo(OBAMA_2) })))
            .await;
        assert_eq!(re_enrolled.assert_ok(200)["user_id"], id.as_str());
    }
);

/// The host's guarded route with a token (and a device fingerprint).
pub(crate) async fn profile<A: Adapter>(
    fx: &Fixture<A>,
    token: &str,
    fingerprint: Option<&str>,
) -> Reply {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(fp) = fingerprint {
        headers.push(("x-device-fingerprint", fp));
    }
    fx.raw("GET", "/api/profile", &headers, "").await
}

#[track_caller]
pub(crate) fn assert_guard_refusal(reply: &Reply, status: u16, code: &str, challenge: &str) {
    reply.assert_error(status, code);
    assert_eq!(reply.header("www-authenticate"), Some(challenge));
}

case!(
    guard_without_token(fx) {
        let missing = fx.raw("GET", "/api/profile", &[], "").await;
        assert_guard_refusal(&missing, 401, "MISSING_TOKEN", "Bearer");
        // An API key is not a user token.
        let key = format!("Bearer {}", fx.key);
        let with_key = fx.raw("GET", "/api/profile", &[("authorization", &key)], "").await;
        assert_guard_refusal(&with_key, 401, "MISSING_TOKEN", "Bearer");
        let garbage = profile(&fx, "not.a.token", None).await;
        assert_guard_refusal(&garbage, 401, "INVALID_TOKEN", r#"Bearer error="invalid_token""#);
        let anonymous = fx.raw("GET", "/hello", &[], "").await;
        assert_eq!(anonymous.assert_ok(200), &json!({ "user": null }));
    }
);

/// A live session of Obama (three photos of him): uploaded to a passive
/// tenant with the local engine, or streamed to the Rekognition peer.
pub(crate) async fn live_session<A: Adapter>(fx: &Fixture<A>, headers: &[(&str, &str)]) -> String {
    let id = checked_session(fx, headers, &[OBAMA, OBAMA_2, OBAMA_3]).await;
    let result = fx
        .call("GET", &format!("/v1/liveness/result/{id}"), None)
        .await;
    assert_eq!(result.assert_ok(200)["is_live"], true, "{}", result.body);
    id
}

/// A session whose check ran on these photos (as camera frames), settled.
pub(crate) async fn checked_session<A: Adapter>(
    fx: &Fixture<A>,
    headers: &[(&str, &str)],
    photos: &[&str],
) -> String {
    let frames: Vec<String> = photos.iter().map(|path| camera_frame(path)).collect();
    session_of_frames(fx, headers, frames).await
}

/// A session whose check ran on these frames (base64 images), settled.
pub(crate) async fn session_of_frames<A: Adapter>(
    fx: &Fixture<A>,
    headers: &[(&str, &str)],
    frames: Vec<String>,
) -> String {
    let started = fx
        .call_with("POST", "/v1/liveness/session", None, headers)
        .await;
    let started = started.assert_ok(200).clone();
    let id = started["session_id"].as_str().unwrap().to_owned();
    match &fx.peer {
        None => {
            let frames: Vec<Value> = frames
                .into_iter()
                .enumerate()
                .map(|(i, image)| json!({ "image": image, "timestamp_ms": 1_000 + 400 * i as i64 }))
                .collect();
            // With the ceremony's headers, as the SDK sends them on every call.
            let judged = fx
                .call_with(
                    "POST",
                    &format!("/v1/liveness/session/{id}/frames"),
                    Some(json!({ "nonce": started["challenge"]["nonce"], "frames": frames })),
                    headers,
                )
                .await;
            judged.assert_ok(200);
        }
        Some(peer) => {
            // The browser streams to AWS with the session's credentials.
            assert_eq!(
                started["credentials"]["accessKeyId"],
                crate::fixture::BROWSER_KEY_ID
            );
            assert_eq!(started["region"], "eu-west-1");
            peer.complete_liveness(&id, frames)
                .await
                .expect("the peer takes the frames");
        }
    }
    id
}

pub(crate) async fn passive<A: Adapter>(fx: &Fixture<A>) {
    fx.settings(|s| s.liveness.mode = LivenessMode::Passive)
        .await;
}

case!(
    /// The login and everything after it, through the adapter: liveness,
    /// verify, the guarded host route, session exchange, refresh, revoke.
    liveness_verify_and_sessions(fx) {
        passive(&fx).await;
        let revocations = crate::receiver::Receiver::start(&[]).await;
        crate::events::register(&fx, &revocations.url, &["session.revoked"]).await;
        let user_id = enroll_obama(&fx).await;
        let device = [("x-device-fingerprint", FINGERPRINT)];
        let session = live_session(&fx, &device).await;
        let result = fx.call("GET", &format!("/v1/liveness/result/{session}"), None).await;
        assert_eq!(result.assert_ok(200)["is_live"], true);
        let verified = fx
            .call_with("POST", "/v1/verify", Some(json!({ "liveness_session_id": session })), &device)
            .await;
        let login = verified.assert_ok(200).clone();
        assert_eq!(login["matched"], true);
        assert_eq!(login["user"]["id"], user_id.as_str());
        let token = login["verification_token"].as_str().unwrap();
        let session_id = login["session_id"].as_str().unwrap();

        let opened = profile(&fx, token, Some(FINGERPRINT)).await;
        assert_eq!(opened.assert_ok(200), &json!({ "sub": user_id, "name": "Barack" }));
        let cookie = format!("theme=dark; fg_token={token}");
        let by_cookie = fx
            .raw("GET", "/api/profile", &[("cookie", &cookie), ("x-device-fingerprint", FINGERPRINT)], "")
            .await;
        by_cookie.assert_ok(200);
        let bearer = format!("Bearer {token}");
        let hello = fx
            .raw("GET", "/hello", &[("authorization", &bearer), ("x-device-fingerprint", FINGERPRINT)], "")
            .await;
        assert_eq!(hello.assert_ok(200), &json!({ "user": user_id }));
        let other_device = profile(&fx, token, Some(&"0".repeat(64))).await;
        assert_guard_refusal(&other_device, 401, "INVALID_TOKEN", r#"Bearer error="invalid_token""#);
        let admin = fx
            .raw("GET", "/api/admin", &[("authorization", &bearer), ("x-device-fingerprint", FINGERPRINT)], "")
            .await;
        assert_guard_refusal(&admin, 403, "INSUFFICIENT_ROLE", r#"Bearer error="insufficient_scope""#);

        let exchanged = fx
            .call_with("POST", "/v1/session", Some(json!({ "verification_token": token })), &device)
            .await;
        assert_eq!(exchanged.assert_ok(200)["user"]["id"], user_id.as_str());
        let refreshed = fx
            .call_with("POST", "/v1/session/refresh", Some(json!({ "refresh_token": login["refresh_token"] })), &device)
            .await;
        assert_eq!(refreshed.assert_ok(200)["session_id"], session_id);
        fx.call_with("POST", "/v1/session/refresh", Some(json!({ "refresh_token": login["refresh_token"] })), &device)
            .await
            .assert_error(401, "REFRESH_TOKEN_REUSED");
        let refused = profile(&fx, token, Some(FINGERPRINT)).await;
        assert_guard_refusal(&refused, 401, "INVALID_TOKEN", r#"Bearer error="invalid_token""#);

        let risk = fx.call("GET", &format!("/v1/sessions/{session_id}/risk-score"), None).await;
        assert_eq!(risk.assert_ok(200)["session_id"], session_id);
        let revoked = fx.call("POST", &format!("/v1/session/{session_id}/revoke"), None).await;
        assert_eq!(revoked.assert_ok(200), &json!({ "revoked": true, "session_id": session_id }));
        fx.call("POST", "/v1/session/sess_nope/revoke", None).await.assert_error(404, "SESSION_NOT_FOUND");
        // The reuse ended the session, and said so once (the later revoke
        // found it ended).
        let reported = revocations.wait_for(1).await;
        let event = reported[0].json();
        assert_eq!(event["data"]["reason"], "refresh_token_reused");
        assert_eq!(event["data"]["session_id"], session_id);
        assert_eq!(event["data"]["user_id"], user_id.as_str());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(revocations.received().len(), 1);
    }
);

case!(
    liveness_errors(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        let verify = |id: &str| json!({ "liveness_session_id": id });
        fx.call("POST", "/v1/verify", Some(verify("00000000-0000-0000-0000-000000000000")))
            .await
            .assert_error(404, "LIVENESS_SESSION_NOT_FOUND");
        let pending = fx.call("POST", "/v1/liveness/session", None).await;
        let pending = pending.assert_ok(200)["session_id"].as_str().unwrap().to_owned();
        fx.call("POST", "/v1/verify", Some(verify(&pending))).await.assert_error(400, "LIVENESS_NOT_COMPLETED");
        let session = live_session(&fx, &[]).await;
        fx.call("POST", "/v1/verify", Some(verify(&session))).await.assert_ok(200);
        fx.call("POST", "/v1/verify", Some(verify(&session))).await.assert_error(400, "LIVENESS_SESSION_CONSUMED");
        fx.call_with("POST", "/v1/verify", Some(verify(&session)), &[("x-device-fingerprint", "abc")])
            .await
            .assert_error(400, "VALIDATION_FAILED");
    }
);

case!(
    /// Five failed checks from a device: 429 with `Retry-After`.
    lockout(fx) {
        passive(&fx).await;
        let device = [("x-device-id", "attacker")];
        for _ in 0..5 {
            let id = checked_session(&fx, &device, &[OBAMA, BIDEN, OBAMA_2]).await;
            let result = fx.call("GET", &format!("/v1/liveness/result/{id}"), None).await;
            assert_eq!(result.assert_ok(200)["is_live"], false);
        }
        let locked = fx.call_with("POST", "/v1/liveness/session", None, &device).await;
        locked.assert_error(429, "TOO_MANY_ATTEMPTS");
        let retry_after: u64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!(retry_after > 29 * 60);
    }
);

case!(
    session_providers(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        let session = live_session(&fx, &[]).await;
        let login = fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": session }))).await;
        let token = login.assert_ok(200)["verification_token"].clone();
        fx.call("POST", "/v1/session", Some(json!({ "verification_token": token, "provider": "auth0" })))
            .await
            .assert_error(501, "PROVIDER_NOT_IMPLEMENTED");
        fx.call("POST", "/v1/session", Some(json!({ "verification_token": "x.y.z" })))
            .await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");
    }
);

/// The keyless demo: off by default; on, the page, its preflight and
/// rate-limited ceremony routes on the demo tenant.
pub async fn demo<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    let fx = Fixture::configured(make, engine, |builder| {
        let mut demo = facegate_core::DemoConfig {
            requests_per_minute: 2,
            ..Default::default()
        };
        demo.settings.liveness.mode = LivenessMode::Passive;
        builder.demo(demo)
    })
    .await;
    for path in ["/demo", "/demo/"] {
        let (status, headers, page) = fx.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8")
        );
        assert!(page.contains("<html"));
    }
    // HEAD: the GET's status and headers, no body.
    let head = fx.raw("HEAD", "/demo", &[], "").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(head.body, Value::Null, "no body");
    let preflight = fx.raw("GET", "/demo/preflight", &[], "").await;
    let preflight = preflight.assert_ok(200);
    assert_eq!(preflight["ready"], true);
    assert_eq!(preflight["liveness"]["mode"], "passive");
    for _ in 0..2 {
        let started = fx.raw("POST", "/demo/liveness-session", &[], "").await;
        assert_eq!(started.assert_ok(200)["challenge"]["mode"], "passive");
    }
    let limited = fx.raw("POST", "/demo/liveness-session", &[], "").await;
    limited.assert_error(429, "RATE_LIMITED");
    assert!(limited.header("retry-after").is_some());
    fx.raw("GET", "/demo/nothing", &[], "")
        .await
        .assert_error(404, "NOT_FOUND");
    // The host's tenant is untouched, and /v1 still wants its key.
    fx.raw("POST", "/v1/liveness/session", &[], "")
        .await
        .assert_error(401, "MISSING_API_KEY");
}

/// Browser apps on listed origins may call the API; others get no grant.
pub async fn cors<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = A>,
{
    let app_origin = "https://app.example";
    let fx = Fixture::configured(make, engine, |builder| {
        builder.cors(facegate_core::CorsConfig {
            allowed_origins: vec![app_origin.into()],
        })
    })
    .await;
    let preflight = [
        ("origin", app_origin),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let granted = fx.raw("OPTIONS", "/v1/verify", &preflight, "").await;
    assert_eq!(granted.status, 204);
    assert_eq!(
        granted.header("access-control-allow-origin"),
        Some(app_origin)
    );
    assert!(
        granted
            .header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    let stranger = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let refused = fx.raw("OPTIONS", "/v1/verify", &stranger, "").await;
    assert_eq!(refused.status, 204);
    assert_eq!(refused.header("access-control-allow-origin"), None);

    // Answers, errors included, carry the grant for the allowed origin.
    let auth = format!("Bearer {}", fx.key);
    let listed = fx
        .raw(
            "GET",
            "/v1/users",
            &[("origin", app_origin), ("authorization", &auth)],
            "",
        )
        .await;
    listed.assert_ok(200);
    assert_eq!(
        listed.header("access-control-allow-origin"),
        Some(app_origin)
    );
    let refused = fx
        .raw("GET", "/v1/users", &[("origin", app_origin)], "")
        .await;
    refused.assert_error(401, "MISSING_API_KEY");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some(app_origin)
    );
    let other = fx
        .raw(
            "GET",
            "/v1/users",
            &[("origin", "https://evil.example"), ("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

case!(
    /// `GET /v1/face-index`: every face write is a numbered change of the
    /// tenant's face log, and the index holds what the store holds.
    face_index_follows_the_store(fx) {
        let index = fx.call("GET", "/v1/face-index", None).await;
        assert_eq!(index.assert_ok(200), &json!({ "engine": "local", "log_seq": 0, "indexed_faces": 0 }));
        let user_id = enroll_obama(&fx).await;
        let index = fx.call("GET", "/v1/face-index", None).await;
        assert_eq!(index.assert_ok(200)["indexed_faces"], 1);
        assert_eq!(index.assert_ok(200)["log_seq"], 1);
        let body = json!({ "face_image": photo(BIDEN) });
        fx.call("POST", &format!("/v1/users/{user_id}/re-enroll"), Some(body)).await.assert_ok(200);
        let index = fx.call("GET", "/v1/face-index", None).await;
        assert_eq!(index.assert_ok(200)["indexed_faces"], 1, "the old face removed, the new one added");
        assert_eq!(index.assert_ok(200)["log_seq"], 3);
        fx.call("DELETE", &format!("/v1/users/{user_id}"), None).await.assert_ok(200);
        // Forgotten by the deletion itself, not at the next face operation.
        assert_eq!(crate::fixture::engine().indexed_faces(&fx.tenant), 0);
        let index = fx.call("GET", "/v1/face-index", None).await;
        assert_eq!(index.assert_ok(200), &json!({ "engine": "local", "log_seq": 4, "indexed_faces": 0 }));
    }
);
