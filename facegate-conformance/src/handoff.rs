//! Issue 15, held to both adapters: cross-device handoff. The desktop
//! starts it with its API key, a phone holding only the token passes the
//! check, and the desktop (and only it) collects the session.

use chrono::{Duration, Utc};
use facegate_core::domain::KeyEnvironment;
use facegate_store_seaorm::entity::handoff;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::cases::{OBAMA, OBAMA_2, OBAMA_3, enroll_obama, passive, profile};
use crate::fixture::camera_frame;
use crate::{Adapter, Fixture, Reply};

/// The desktop: Chrome on Windows, with its own device fingerprint.
pub const DESKTOP_FINGERPRINT: &str =
    "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7";
pub const DESKTOP_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub(crate) const PHONE: [(&str, &str); 2] = [
    ("x-device-id", "phone-1"),
    (
        "user-agent",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
];

/// A handoff the desktop started: the create answer.
pub(crate) async fn start_handoff<A: Adapter>(fx: &Fixture<A>, body: Value) -> Value {
    let reply = fx
        .call_with(
            "POST",
            "/v1/handoff",
            Some(body),
            &[
                ("x-device-fingerprint", DESKTOP_FINGERPRINT),
                ("user-agent", DESKTOP_AGENT),
                ("host", "auth.example.test"),
            ],
        )
        .await;
    reply.assert_ok(201).clone()
}

fn token(started: &Value) -> &str {
    started["handoff_token"].as_str().unwrap()
}

/// The desktop's poll, with its API key and this secret.
pub(crate) async fn status<A: Adapter>(fx: &Fixture<A>, started: &Value, secret: &str) -> Reply {
    fx.call_with(
        "GET",
        &format!("/v1/handoff/{}/status", token(started)),
        None,
        &[("x-handoff-secret", secret)],
    )
    .await
}

/// A phone request: the token in the path, no API key.
pub(crate) async fn phone<A: Adapter>(
    fx: &Fixture<A>,
    started: &Value,
    step: &str,
    body: Option<Value>,
    device: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(device);
    let body = body.map_or_else(String::new, |b| b.to_string());
    fx.raw(
        "POST",
        &format!("/v1/handoff/{}/{step}", token(started)),
        &headers,
        body,
    )
    .await
}

/// A live session of Obama run on the phone, through the handoff's routes.
pub(crate) async fn phone_session<A: Adapter>(fx: &Fixture<A>, started: &Value) -> String {
    let begun = phone(fx, started, "liveness", None, &PHONE).await;
    let begun = begun.assert_ok(200).clone();
    let id = begun["session_id"].as_str().unwrap().to_owned();
    let frames: Vec<Value> = [OBAMA, OBAMA_2, OBAMA_3]
        .iter()
        .enumerate()
        .map(|(i, path)| json!({ "image": camera_frame(path), "timestamp_ms": 1_000 + 400 * i as i64 }))
        .collect();
    let judged = phone(
        fx,
        started,
        &format!("liveness/{id}/frames"),
        Some(json!({ "nonce": begun["challenge"]["nonce"], "frames": frames })),
        &PHONE,
    )
    .await;
    assert_eq!(judged.assert_ok(200)["is_live"], true, "{}", judged.body);
    id
}

/// Moves a handoff's expiry into the past.
async fn expire<A: Adapter>(fx: &Fixture<A>) {
    handoff::Entity::update_many()
        .col_expr(
            handoff::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::seconds(1)),
        )
        .filter(handoff::Column::TenantId.eq(fx.tenant.as_str()))
        .exec(fx.db.connection())
        .await
        .unwrap();
}

case!(
    /// The spec's flow: start, scan, check on the phone, complete; the
    /// desktop collects the session once, and it opens the guarded route.
    handoff_signs_the_desktop_in(fx) {
        passive(&fx).await;
        let user = enroll_obama(&fx).await;
        let started = start_handoff(&fx, json!({ "mode": "verify" })).await;
        let handoff = token(&started);
        assert!(handoff.starts_with("fgh_") && handoff.len() >= 4 + 43, "{started}");
        assert_eq!(
            started["verify_url"],
            format!("https://auth.example.test/v1/handoff/{handoff}/verify")
        );
        assert_eq!(started["ws_url"], format!("wss://auth.example.test/v1/handoff/{handoff}/ws"));
        // Without a configured public URL: https (the token must not cross
        // a network in the clear), except on this machine.
        let local = fx
            .call_with("POST", "/v1/handoff", None, &[("host", "127.0.0.1:8080")])
            .await;
        assert!(local.assert_ok(201)["verify_url"].as_str().unwrap().starts_with("http://127.0.0.1:8080/"));
        assert!(started["expires_at"].as_str().unwrap().ends_with('Z'));
        let code = started["match_code"].as_str().unwrap();
        assert_eq!(code.len(), 6);
        assert!(started["qr_svg"].as_str().unwrap().contains("<svg"));
        let secret = started["desktop_secret"].as_str().unwrap().to_owned();

        // The status needs the desktop's secret, and is pending.
        status(&fx, &started, "").await.assert_error(401, "INVALID_HANDOFF_SECRET");
        status(&fx, &started, "fgd_wrong").await.assert_error(401, "INVALID_HANDOFF_SECRET");
        let pending = status(&fx, &started, &secret).await;
        assert_eq!(pending.assert_ok(200)["status"], "pending");
        assert_eq!(pending.body["session_data"], Value::Null);

        // The phone's page is the same for any token.
        let (page_status, page_headers, page) =
            fx.get_text(&format!("/v1/handoff/{handoff}/verify")).await;
        assert_eq!(page_status, 200);
        assert!(page_headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page_headers["referrer-policy"], "no-referrer");
        assert!(page.contains("<html"));

        // Before its camera starts, the phone is shown who asked.
        phone(&fx, &started, "scan", None, &[]).await.assert_error(400, "VALIDATION_FAILED");
        let scanned = phone(&fx, &started, "scan", None, &PHONE).await;
        let scanned = scanned.assert_ok(200);
        assert_eq!(scanned["match_code"], code);
        assert_eq!(scanned["mode"], "verify");
        assert_eq!(scanned["desktop"]["browser"], "Chrome");
        assert_eq!(scanned["desktop"]["os"], "Windows 10");
        assert_eq!(status(&fx, &started, &secret).await.body["status"], "scanned");
        // The first phone keeps it.
        phone(&fx, &started, "scan", None, &[("x-device-id", "phone-2")])
            .await
            .assert_error(409, "HANDOFF_IN_USE");
        phone(&fx, &started, "liveness", None, &[("x-device-id", "phone-2")])
            .await
            .assert_error(409, "HANDOFF_IN_USE");

        // A new phone, an unknown network, another device asking: the
        // default rules want a step-up, answered like /v1/verify's (no token).
        let live = phone_session(&fx, &started).await;
        let stepped = phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": live })), &PHONE).await;
        let stepped = stepped.assert_ok(200);
        assert_eq!(stepped["risk"]["step_up_type"], "liveness_active", "{stepped}");
        assert_eq!(stepped["verification_token"], Value::Null);
        assert_eq!(status(&fx, &started, &secret).await.body["status"], "scanned");
        let rules = json!({
            "block_threshold": 0.95, "step_up_threshold": 0.9,
            "max_failed_attempts": 5, "lockout_duration_minutes": 30, "mode": "enforce",
        });
        fx.call("POST", "/v1/policy/risk", Some(rules)).await.assert_ok(200);
        let live = phone_session(&fx, &started).await;
        let done = phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": live })), &PHONE).await;
        // The phone is told it worked, and gets nothing to sign in with.
        assert_eq!(done.assert_ok(200), &json!({ "status": "completed", "matched": true }));
        phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": live })), &PHONE)
            .await
            .assert_error(409, "HANDOFF_ALREADY_COMPLETED");

        // The desktop collects its session once…
        let completed = status(&fx, &started, &secret).await;
        let completed = completed.assert_ok(200).clone();
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["user_id"], user.as_str());
        let data = &completed["session_data"];
        assert_eq!(data["user"]["id"], user.as_str());
        assert_eq!(data["collected"], false);
        // The phone's network is unknown here: the distance counts (fails closed).
        let factors: Vec<&str> = data["risk"]["factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(factors.contains(&"handoff_distance"), "{factors:?}");
        let verification = data["verification_token"].as_str().unwrap();
        assert!(data["refresh_token"].as_str().unwrap().starts_with("fgr_"));
        // …bound to the desktop's device, not the phone's.
        let opened = profile(&fx, verification, Some(DESKTOP_FINGERPRINT)).await;
        assert_eq!(opened.assert_ok(200)["sub"], user.as_str());
        profile(&fx, verification, Some(crate::cases::FINGERPRINT))
            .await
            .assert_error(401, "INVALID_TOKEN");
        let again = status(&fx, &started, &secret).await;
        let again = again.assert_ok(200);
        assert_eq!(again["session_data"]["collected"], true);
        assert_eq!(again["session_data"]["verification_token"], Value::Null);
        assert_eq!(again["session_data"]["refresh_token"], Value::Null);
    }
);

case!(
    /// 404 for another tenant and for unknown tokens, 410 once expired,
    /// and a decline on the phone ends it.
    handoff_expiry_decline_and_tenants(fx) {
        let started = start_handoff(&fx, json!({})).await;
        assert_eq!(started["mode"], "verify");
        let secret = started["desktop_secret"].as_str().unwrap().to_owned();
        let other = fx.facegate.create_tenant("other").await.unwrap();
        let other_key = fx
            .facegate
            .mint_api_key(&other.id, KeyEnvironment::Test)
            .await
            .unwrap()
            .key
            .expose_secret()
            .to_owned();
        let bearer = format!("Bearer {other_key}");
        let foreign = fx
            .raw(
                "GET",
                &format!("/v1/handoff/{}/status", token(&started)),
                &[("authorization", &bearer), ("x-handoff-secret", &secret)],
                "",
            )
            .await;
        foreign.assert_error(404, "HANDOFF_NOT_FOUND");
        let unknown = json!({ "handoff_token": "fgh_unknown" });
        phone(&fx, &unknown, "scan", None, &PHONE).await.assert_error(404, "HANDOFF_NOT_FOUND");
        fx.call("POST", "/v1/handoff", Some(json!({ "mode": "login" })))
            .await
            .assert_error(400, "VALIDATION_FAILED");
        fx.call("POST", "/v1/handoff", Some(json!({ "mode": "verify", "enroll": { "name": "x" } })))
            .await
            .assert_error(400, "VALIDATION_FAILED");

        // Declined on the phone: the desktop hears so; nothing goes on.
        phone(&fx, &started, "scan", None, &PHONE).await.assert_ok(200);
        let declined = phone(&fx, &started, "decline", None, &PHONE).await;
        assert_eq!(declined.assert_ok(200)["status"], "declined");
        assert_eq!(status(&fx, &started, &secret).await.assert_ok(200)["status"], "declined");
        phone(&fx, &started, "liveness", None, &PHONE)
            .await
            .assert_error(409, "HANDOFF_DECLINED");
        phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": "00000000-0000-0000-0000-000000000000" })), &PHONE)
            .await
            .assert_error(409, "HANDOFF_DECLINED");

        // Ten minutes on: 410 for the desktop and the phone alike.
        let late = start_handoff(&fx, json!({ "mode": "verify" })).await;
        let late_secret = late["desktop_secret"].as_str().unwrap().to_owned();
        phone(&fx, &late, "scan", None, &PHONE).await.assert_ok(200);
        expire(&fx).await;
        status(&fx, &late, &late_secret).await.assert_error(410, "HANDOFF_EXPIRED");
        phone(&fx, &late, "scan", None, &PHONE).await.assert_error(410, "HANDOFF_EXPIRED");
        phone(&fx, &late, "liveness", None, &PHONE).await.assert_error(410, "HANDOFF_EXPIRED");
        // A client key may start and follow handoffs (the desktop is a browser).
        let client = fx
            .facegate
            .mint_client_key(&fx.tenant, KeyEnvironment::Test, Default::default())
            .await
            .unwrap()
            .key
            .expose_secret()
            .to_owned();
        let by_browser = fx
            .raw("POST", "/v1/handoff", &[("authorization", &format!("Bearer {client}"))], "")
            .await;
        assert_eq!(by_browser.assert_ok(201)["mode"], "verify");
    }
);

case!(
    /// Enroll mode: the desktop names who to enroll, the phone gives the
    /// consent and the face; the desktop gets the enrollment.
    handoff_enrolls_with_consent(fx) {
        passive(&fx).await;
        fx.call("POST", "/v1/handoff", Some(json!({ "mode": "enroll" })))
            .await
            .assert_error(400, "VALIDATION_FAILED");
        fx.call("POST", "/v1/handoff", Some(json!({ "mode": "enroll", "enroll": { "name": "B", "face_image": "x" } })))
            .await
            .assert_error(400, "VALIDATION_FAILED");
        let started = start_handoff(
            &fx,
            json!({ "mode": "enroll", "enroll": { "name": "Barack", "role": "guard" } }),
        )
        .await;
        let secret = started["desktop_secret"].as_str().unwrap().to_owned();
        let scanned = phone(&fx, &started, "scan", None, &PHONE).await;
        let scanned = scanned.assert_ok(200).clone();
        assert_eq!(scanned["mode"], "enroll");
        assert_eq!(scanned["enroll_name"], "Barack");
        assert_eq!(scanned["consent"]["consent_version"], "v1");
        let live = phone_session(&fx, &started).await;
        // No consent, no enrollment; the session is kept for the retry.
        phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": live })), &PHONE)
            .await
            .assert_error(400, "CONSENT_REQUIRED");
        let consent = phone(
            &fx,
            &started,
            "consent",
            Some(json!({
                "consent_version": "v1",
                "consent_text_hash": scanned["consent"]["consent_text_hash"],
            })),
            &PHONE,
        )
        .await;
        let consent_id = consent.assert_ok(201)["consent_id"].as_str().unwrap().to_owned();
        // A live session this handoff did not start (the same phone, with a
        // key) completes nothing.
        let foreign = crate::cases::live_session(&fx, &PHONE).await;
        phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": foreign, "consent_id": consent_id })), &PHONE)
            .await
            .assert_error(404, "LIVENESS_SESSION_NOT_FOUND");
        // Two completions at once, each with its own session and consent:
        // one handoff enrolls one person.
        let second_live = phone_session(&fx, &started).await;
        let second_consent = phone(
            &fx,
            &started,
            "consent",
            Some(json!({
                "consent_version": "v1",
                "consent_text_hash": scanned["consent"]["consent_text_hash"],
            })),
            &PHONE,
        )
        .await;
        let second_consent = second_consent.assert_ok(201)["consent_id"].clone();
        let (first, second) = futures_util::future::join(
            phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": live, "consent_id": consent_id })), &PHONE),
            phone(&fx, &started, "complete", Some(json!({ "liveness_session_id": second_live, "consent_id": second_consent })), &PHONE),
        )
        .await;
        let (done, lost) = if first.status == 200 { (first, second) } else { (second, first) };
        assert_eq!(done.assert_ok(200)["status"], "completed");
        assert_eq!(lost.status, 409, "{}", lost.body);
        assert!(
            ["HANDOFF_IN_USE", "HANDOFF_ALREADY_COMPLETED"].contains(&lost.body["code"].as_str().unwrap()),
            "{}",
            lost.body
        );
        let users = fx.call("GET", "/v1/users", None).await;
        assert_eq!(users.assert_ok(200)["users"].as_array().unwrap().len(), 1);
        let completed = status(&fx, &started, &secret).await;
        let completed = completed.assert_ok(200);
        let user = completed["user_id"].as_str().unwrap();
        assert_eq!(completed["session_data"]["user_id"], user);
        let stored = fx.call("GET", &format!("/v1/users/{user}"), None).await;
        assert_eq!(stored.assert_ok(200)["name"], "Barack");
        assert_eq!(stored.body["role"], "guard");
    }
);
