//! Issue 14, held to both adapters: the policy routes, the risk engine's
//! decisions (block, step-up by PIN or by a second active check, shadow
//! mode), lockouts that grow, continuous re-verification and face rotation.

use chrono::{Duration, Utc};
use facegate_core::domain::{KeyEnvironment, LivenessAction, OriginRules};
use facegate_store_seaorm::entity::{face_enrollment, liveness_session, session};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::cases::{
    BIDEN, FINGERPRINT, OBAMA, OBAMA_2, checked_session, enroll_obama, live_session, passive,
    profile,
};
use crate::fixture::{camera_frame, camera_jpeg, photo_bytes};
use crate::{Adapter, Fixture, Reply};

async fn set_policy<A: Adapter>(fx: &Fixture<A>, kind: &str, config: Value) -> Reply {
    fx.call("POST", &format!("/v1/policy/{kind}"), Some(config))
        .await
}

/// Risk rules with these thresholds; lockouts as by default.
pub(crate) async fn risk_rules<A: Adapter>(fx: &Fixture<A>, step_up: f64, block: f64, mode: &str) {
    let rules = json!({
        "block_threshold": block, "step_up_threshold": step_up,
        "max_failed_attempts": 5, "lockout_duration_minutes": 30, "mode": mode,
    });
    set_policy(fx, "risk", rules).await.assert_ok(200);
}

async fn verify<A: Adapter>(fx: &Fixture<A>, body: Value) -> Reply {
    fx.call_with(
        "POST",
        "/v1/verify",
        Some(body),
        &[("x-device-fingerprint", FINGERPRINT)],
    )
    .await
}

#[track_caller]
fn assert_no_tokens(answer: &Value) {
    for field in ["verification_token", "refresh_token", "session_id"] {
        assert_eq!(answer[field], Value::Null, "{field}: {answer}");
    }
}

fn factor_codes(answer: &Value) -> Vec<String> {
    answer["risk"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// A client (browser) key of the fixture's tenant.
async fn client_key<A: Adapter>(fx: &Fixture<A>) -> String {
    fx.facegate
        .mint_client_key(&fx.tenant, KeyEnvironment::Test, OriginRules::default())
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned()
}

/// Obama performing an active challenge on this device; the Rekognition
/// peer's check stands in for one (AWS's is challenge-based).
async fn active_session<A: Adapter>(fx: &Fixture<A>) -> String {
    let device = [("x-device-fingerprint", FINGERPRINT)];
    if fx.peer.is_some() {
        return checked_session(fx, &device, &[OBAMA, OBAMA_2, crate::cases::OBAMA_3]).await;
    }
    let started = fx
        .call_with(
            "POST",
            "/v1/liveness/session",
            Some(json!({ "mode": "active" })),
            &device,
        )
        .await;
    let started = started.assert_ok(200).clone();
    assert_eq!(started["challenge"]["mode"], "active");
    let id = started["session_id"].as_str().unwrap().to_owned();
    let photo = |path: &str, mirrored: bool, quality: u8| {
        let image = image::load_from_memory(&photo_bytes(path))
            .unwrap()
            .to_rgb8();
        let image = if mirrored {
            image::imageops::flip_horizontal(&image)
        } else {
            image
        };
        camera_jpeg(image, quality)
    };
    let mut frames = vec![camera_frame(OBAMA)];
    for (i, action) in started["challenge"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let quality = 92 - 2 * i as u8;
        frames.push(match action.as_str().unwrap() {
            "turn_left" => photo(OBAMA_2, true, quality),
            "turn_right" => photo(OBAMA_2, false, quality),
            "look_up" => photo(crate::cases::OBAMA_3, false, quality),
            other => panic!("no test photo performs {other}"),
        });
    }
    let frames: Vec<Value> = frames
        .into_iter()
        .enumerate()
        .map(|(i, image)| json!({ "image": image, "timestamp_ms": 1_700_000_000_000_i64 + 700 * i as i64 }))
        .collect();
    let judged = fx
        .call(
            "POST",
            &format!("/v1/liveness/session/{id}/frames"),
            Some(json!({ "nonce": started["challenge"]["nonce"], "frames": frames })),
        )
        .await;
    assert_eq!(judged.assert_ok(200)["is_live"], true, "{}", judged.body);
    id
}

/// A live session of Biden (never enrolled here): his photo as a camera
/// sends it, mirrored, and re-encoded, as a person holding still would.
pub(crate) async fn stranger_session<A: Adapter>(
    fx: &Fixture<A>,
    headers: &[(&str, &str)],
) -> String {
    let image = image::load_from_memory(&photo_bytes(BIDEN))
        .unwrap()
        .to_rgb8();
    let frames = vec![
        camera_frame(BIDEN),
        camera_jpeg(image::imageops::flip_horizontal(&image), 90),
        camera_jpeg(image, 90),
    ];
    crate::cases::session_of_frames(fx, headers, frames).await
}

/// The actions the test photos can perform, for active challenges.
async fn photo_actions<A: Adapter>(fx: &Fixture<A>) {
    fx.settings(|s| {
        s.liveness.actions = vec![
            LivenessAction::TurnLeft,
            LivenessAction::TurnRight,
            LivenessAction::LookUp,
        ]
    })
    .await;
}

case!(
    /// The spec's three upserts, exactly; our GET and DELETE; validation
    /// with details; server keys only; every change logged with its key.
    policy_routes(fx) {
        let rotation = json!({ "rotation_days": 90, "grace_period_days": 7, "notify_before_days": 14 });
        let created = set_policy(&fx, "rotation", rotation.clone()).await;
        assert_eq!(created.assert_ok(200), &json!({ "policy_type": "rotation", "action": "created", "config": rotation }));
        let rotation_2 = json!({ "rotation_days": 120, "grace_period_days": 7, "notify_before_days": 14 });
        let updated = set_policy(&fx, "rotation", rotation_2.clone()).await;
        assert_eq!(updated.assert_ok(200), &json!({ "policy_type": "rotation", "action": "updated", "config": rotation_2 }));
        let risk = json!({ "block_threshold": 0.9, "step_up_threshold": 0.6, "max_failed_attempts": 5, "lockout_duration_minutes": 30 });
        let set = set_policy(&fx, "risk", risk).await;
        assert_eq!(set.assert_ok(200)["config"]["mode"], "enforce");
        let continuous = json!({ "re_verify_interval_minutes": 30, "confidence_decay_rate": 0.1, "min_confidence": 85 });
        assert_eq!(set_policy(&fx, "continuous", continuous).await.assert_ok(200)["action"], "created");

        for (kind, body, field) in [
            ("risk", json!({ "block_threshold": 0.5, "step_up_threshold": 0.7, "max_failed_attempts": 5, "lockout_duration_minutes": 30 }), "step_up_threshold"),
            ("risk", json!({ "block_threshold": 1.5, "step_up_threshold": 0.5, "max_failed_attempts": 5, "lockout_duration_minutes": 30 }), "block_threshold"),
            ("risk", json!({ "block_threshold": 0.9, "step_up_threshold": 0.5, "max_failed_attempts": 0, "lockout_duration_minutes": 30 }), "max_failed_attempts"),
            ("continuous", json!({ "re_verify_interval_minutes": 30, "confidence_decay_rate": 0.1, "min_confidence": 101 }), "min_confidence"),
            ("continuous", json!({ "re_verify_interval_minutes": 0, "confidence_decay_rate": 0.1, "min_confidence": 85 }), "re_verify_interval_minutes"),
            ("rotation", json!({ "rotation_days": 0, "grace_period_days": 7, "notify_before_days": 0 }), "rotation_days"),
            ("rotation", json!({ "rotation_days": 90, "grace_period_days": 7 }), "notify_before_days"),
            ("rotation", json!({ "rotation_days": 90, "grace_period_days": 7, "notify_before_days": 1, "extra": 1 }), "extra"),
            ("rotation", json!({ "rotation_days": -3, "grace_period_days": 7, "notify_before_days": 1 }), "rotation_days"),
        ] {
            let refused = set_policy(&fx, kind, body).await;
            refused.assert_error(400, "VALIDATION_FAILED");
            assert!(
                refused.body["details"].as_array().unwrap().iter().any(|d| d["path"] == json!([field])),
                "{kind} {field}: {}", refused.body
            );
        }
        // A refused write changed nothing.
        let listed = fx.call("GET", "/v1/policy", None).await;
        let listed = listed.assert_ok(200).clone();
        let policy = |kind: &str| listed["policies"].as_array().unwrap().iter().find(|p| p["policy_type"] == kind).unwrap().clone();
        assert_eq!(policy("rotation")["config"], rotation_2);
        assert_eq!(policy("rotation")["is_default"], false);
        assert!(policy("rotation")["updated_at"].is_string());
        assert_eq!(policy("risk")["config"]["block_threshold"], 0.9);

        let deleted = fx.call("DELETE", "/v1/policy/continuous", None).await;
        assert_eq!(deleted.assert_ok(200), &json!({ "policy_type": "continuous", "deleted": true, "config": null }));
        let again = fx.call("DELETE", "/v1/policy/continuous", None).await;
        assert_eq!(again.assert_ok(200)["deleted"], false);
        let reset = fx.call("DELETE", "/v1/policy/risk", None).await;
        assert_eq!(reset.assert_ok(200)["config"]["step_up_threshold"], 0.6);
        fx.call("DELETE", "/v1/policy/nope", None).await.assert_error(404, "NOT_FOUND");
        fx.call("POST", "/v1/policy/nope", Some(json!({}))).await.assert_error(404, "NOT_FOUND");

        let listed = fx.call("GET", "/v1/policy", None).await;
        let listed = listed.assert_ok(200).clone();
        let defaults: Vec<_> = listed["policies"].as_array().unwrap().iter()
            .map(|p| (p["policy_type"].as_str().unwrap().to_owned(), p["is_default"].as_bool().unwrap()))
            .collect();
        assert_eq!(defaults, [("rotation".into(), false), ("risk".into(), true), ("continuous".into(), true)]);
        // Newest first: who changed what, before → after.
        let changes = listed["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 6);
        assert_eq!(changes[0]["policy_type"], "risk");
        assert_eq!(changes[0]["after"], Value::Null);
        assert_eq!(changes[5]["before"], Value::Null);
        assert_eq!(changes[4]["before"], rotation);
        assert_eq!(changes[4]["after"], rotation_2);
        let key_id = fx.facegate.store().api_keys(&fx.tenant).await.unwrap()[0].id.to_string();
        assert!(changes.iter().all(|c| c["changed_by"] == key_id.as_str()));

        // A browser key reaches none of it.
        let client = client_key(&fx).await;
        let bearer = format!("Bearer {client}");
        let headers = [("authorization", bearer.as_str()), ("content-type", "application/json")];
        for (method, path) in [("GET", "/v1/policy"), ("POST", "/v1/policy/risk"), ("DELETE", "/v1/policy/rotation")] {
            fx.raw(method, path, &headers, r#"{"block_threshold":1,"step_up_threshold":1,"max_failed_attempts":100,"lockout_duration_minutes":1}"#)
                .await
                .assert_error(403, "INSUFFICIENT_SCOPE");
        }
    }
);

case!(
    /// Blocked at the block threshold (no token, audited); the same login in
    /// shadow mode goes through and says what enforcing would have done.
    risk_blocks_and_shadow_mode_reports(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        // A first login on a device and network never seen: risky enough here.
        risk_rules(&fx, 0.3, 0.3, "enforce").await;
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        verify(&fx, json!({ "liveness_session_id": session })).await.assert_error(403, "RISK_BLOCKED");
        // Spent: a blocked login cannot be retried with the same ceremony.
        verify(&fx, json!({ "liveness_session_id": session })).await.assert_error(400, "LIVENESS_SESSION_CONSUMED");
        let audit = fx.facegate.store().audit_events(&fx.tenant, 10).await.unwrap();
        assert!(audit.iter().any(|e| e.route == "/v1/verify" && e.error_code.as_deref() == Some("RISK_BLOCKED")));

        risk_rules(&fx, 0.3, 0.3, "shadow").await;
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        let login = verify(&fx, json!({ "liveness_session_id": session })).await;
        let login = login.assert_ok(200).clone();
        assert!(login["verification_token"].is_string());
        assert_eq!(login["risk"]["mode"], "shadow");
        assert_eq!(login["risk"]["decision"], "block");
        assert_eq!(login["risk"]["step_up_required"], false);
        let codes = factor_codes(&login);
        assert!(codes.contains(&"new_device".to_owned()), "{codes:?}");
        // The adapter under test passes no client address: unknown, so risky.
        assert!(codes.contains(&"new_network".to_owned()), "{codes:?}");
        for factor in login["risk"]["factors"].as_array().unwrap() {
            assert!(factor["weight"].as_f64().unwrap() > 0.0 && factor["value"].as_f64().unwrap() > 0.0);
        }
        // The device is known now: the next login scores lower.
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        let next = verify(&fx, json!({ "liveness_session_id": session })).await;
        let next = next.assert_ok(200).clone();
        assert!(!factor_codes(&next).contains(&"new_device".to_owned()), "{next}");
        assert!(next["risk"]["score"].as_f64() < login["risk"]["score"].as_f64());
    }
);

case!(
    /// Step-up for a user with a PIN: no token until the PIN, sent with
    /// the same liveness session; the guard is never reached before.
    step_up_by_pin(fx) {
        passive(&fx).await;
        let consent = fx.consent().await;
        let enrolled = fx.call("POST", "/v1/enroll", Some(json!({
            "name": "Barack", "role": "guard", "consent_id": consent,
            "face_image": crate::fixture::photo(OBAMA), "pin": "4821",
        }))).await;
        enrolled.assert_ok(201);
        risk_rules(&fx, 0.3, 1.0, "enforce").await;
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        let asked = verify(&fx, json!({ "liveness_session_id": session })).await;
        let asked = asked.assert_ok(200).clone();
        assert_eq!(asked["matched"], true);
        assert_eq!(asked["risk"]["step_up_required"], true);
        assert_eq!(asked["risk"]["step_up_type"], "pin");
        assert_no_tokens(&asked);
        // Who matched is not said before the step-up.
        assert_eq!(asked["user"], Value::Null);
        assert_eq!(asked["step_up_id"], Value::Null);
        let wrong = verify(&fx, json!({ "liveness_session_id": session, "pin": "0000" })).await;
        wrong.assert_error(401, "WRONG_PIN_CODE");
        let passed = verify(&fx, json!({ "liveness_session_id": session, "pin": "4821" })).await;
        let passed = passed.assert_ok(200).clone();
        assert_eq!(passed["risk"]["step_up_required"], false);
        assert_eq!(passed["risk"]["step_up_type"], "pin");
        let token = passed["verification_token"].as_str().unwrap();
        profile(&fx, token, Some(FINGERPRINT)).await.assert_ok(200);
    }
);

case!(
    /// Step-up for a user without a PIN: a second, active check of the
    /// same person on the same device, once.
    step_up_by_active_liveness(fx) {
        passive(&fx).await;
        photo_actions(&fx).await;
        enroll_obama(&fx).await;
        risk_rules(&fx, 0.3, 1.0, "enforce").await;
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        let asked = verify(&fx, json!({ "liveness_session_id": session })).await;
        let asked = asked.assert_ok(200).clone();
        assert_eq!(asked["risk"]["step_up_type"], "liveness_active", "{asked}");
        assert_no_tokens(&asked);
        let step_up = asked["step_up_id"].as_str().unwrap().to_owned();
        // Nothing to present to a guarded route: the step-up id is no token.
        crate::cases::assert_guard_refusal(
            &profile(&fx, &step_up, Some(FINGERPRINT)).await, 401, "INVALID_TOKEN", r#"Bearer error="invalid_token""#);

        if fx.peer.is_none() {
            // A passive check is not a step-up.
            let weak = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
            verify(&fx, json!({ "liveness_session_id": weak, "step_up_for": step_up }))
                .await
                .assert_error(400, "VALIDATION_FAILED");
        }
        // Another device cannot finish it.
        let strong = active_session(&fx).await;
        let elsewhere = fx.call_with("POST", "/v1/verify",
            Some(json!({ "liveness_session_id": strong, "step_up_for": step_up })),
            &[("x-device-fingerprint", &"1".repeat(64))]).await;
        elsewhere.assert_error(404, "STEP_UP_NOT_FOUND");
        let done = verify(&fx, json!({ "liveness_session_id": strong, "step_up_for": step_up })).await;
        let done = done.assert_ok(200).clone();
        assert_eq!(done["risk"]["step_up_required"], false);
        let token = done["verification_token"].as_str().unwrap();
        profile(&fx, token, Some(FINGERPRINT)).await.assert_ok(200);
        let strong = active_session(&fx).await;
        verify(&fx, json!({ "liveness_session_id": strong, "step_up_for": step_up }))
            .await
            .assert_error(400, "STEP_UP_CONSUMED");
        verify(&fx, json!({ "liveness_session_id": strong, "step_up_for": "stp_nope" }))
            .await
            .assert_error(404, "STEP_UP_NOT_FOUND");
    }
);

/// A check that fails (two people in the frames).
async fn fail_check<A: Adapter>(fx: &Fixture<A>, device: &[(&str, &str)]) {
    let id = checked_session(fx, device, &[OBAMA, BIDEN, OBAMA_2]).await;
    let result = fx
        .call("GET", &format!("/v1/liveness/result/{id}"), None)
        .await;
    assert_eq!(result.assert_ok(200)["is_live"], false);
}

/// Moves a device's failed checks back in time.
async fn age_failures<A: Adapter>(fx: &Fixture<A>, device: &str, minutes: i64) {
    liveness_session::Entity::update_many()
        .col_expr(
            liveness_session::Column::CompletedAt,
            Expr::value(Utc::now() - Duration::minutes(minutes)),
        )
        .filter(liveness_session::Column::TenantId.eq(fx.tenant.as_str()))
        .filter(liveness_session::Column::DeviceId.eq(device))
        .exec(fx.db.connection())
        .await
        .unwrap();
}

case!(
    /// The risk policy's lockout: its own attempts and duration, and a
    /// second lockout twice as long as the first.
    lockout_follows_the_policy_and_grows(fx) {
        passive(&fx).await;
        let rules = json!({ "block_threshold": 0.9, "step_up_threshold": 0.6, "max_failed_attempts": 2, "lockout_duration_minutes": 10 });
        set_policy(&fx, "risk", rules).await.assert_ok(200);
        let device = [("x-device-id", "repeat-offender")];
        fail_check(&fx, &device).await;
        fail_check(&fx, &device).await;
        let locked = fx.call_with("POST", "/v1/liveness/session", None, &device).await;
        locked.assert_error(429, "TOO_MANY_ATTEMPTS");
        let wait: u64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!((9 * 60..=10 * 60).contains(&wait), "{wait}");
        // The first lockout is over; two more failures lock for twice as long.
        age_failures(&fx, "repeat-offender", 11).await;
        fail_check(&fx, &device).await;
        fail_check(&fx, &device).await;
        let again = fx.call_with("POST", "/v1/liveness/session", None, &device).await;
        again.assert_error(429, "TOO_MANY_ATTEMPTS");
        let wait: u64 = again.header("retry-after").unwrap().parse().unwrap();
        assert!((19 * 60..=20 * 60).contains(&wait), "{wait}");
    }
);

/// Moves a session's last verification back in time.
async fn age_session<A: Adapter>(fx: &Fixture<A>, id: &str, minutes: i64) {
    session::Entity::update_many()
        .col_expr(
            session::Column::LastVerifiedAt,
            Expr::value(Utc::now() - Duration::minutes(minutes)),
        )
        .filter(session::Column::Id.eq(id))
        .exec(fx.db.connection())
        .await
        .unwrap();
}

case!(
    /// Confidence decays from the last verification; past the policy's
    /// deadline the guard answers RFC 9470's challenge and refresh stops,
    /// until the same face re-verifies the session. Another face ends it.
    continuous_reverification(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        let policy = json!({ "re_verify_interval_minutes": 10080, "confidence_decay_rate": 0.5, "min_confidence": 80 });
        set_policy(&fx, "continuous", policy).await.assert_ok(200);
        let session = live_session(&fx, &[("x-device-fingerprint", FINGERPRINT)]).await;
        let login = verify(&fx, json!({ "liveness_session_id": session })).await;
        let login = login.assert_ok(200).clone();
        let id = login["session_id"].as_str().unwrap().to_owned();
        let c0 = login["confidence"].as_f64().unwrap();
        let fresh = fx.call("GET", &format!("/v1/sessions/{id}/risk-score"), None).await;
        let fresh = fresh.assert_ok(200).clone();
        assert_eq!(fresh["reverify_required"], false);
        assert!((fresh["confidence"].as_f64().unwrap() - c0).abs() < 0.2, "{fresh}");

        // Two hours on, c0·e^(−1) is well under 80.
        age_session(&fx, &id, 120).await;
        let decayed = fx.call("GET", &format!("/v1/sessions/{id}/risk-score"), None).await;
        let decayed = decayed.assert_ok(200).clone();
        assert_eq!(decayed["reverify_required"], true);
        let expected = c0 * (-1.0f64).exp();
        assert!((decayed["confidence"].as_f64().unwrap() - expected).abs() < 0.5, "{decayed} vs {expected}");
        let token = login["verification_token"].as_str().unwrap();
        let refused = profile(&fx, token, Some(FINGERPRINT)).await;
        refused.assert_error(401, "REVERIFY_REQUIRED");
        assert_eq!(
            refused.header("www-authenticate"),
            Some(r#"Bearer error="insufficient_user_authentication", error_description="A more recent face verification is required", max_age="604800""#)
        );
        let device = [("x-device-fingerprint", FINGERPRINT)];
        fx.call_with("POST", "/v1/session/refresh", Some(json!({ "refresh_token": login["refresh_token"] })), &device)
            .await
            .assert_error(401, "REVERIFY_REQUIRED");
        fx.call_with("POST", "/v1/session", Some(json!({ "verification_token": token })), &device)
            .await
            .assert_error(401, "REVERIFY_REQUIRED");
        // Knowing the session's id is not holding it: no refresh token, or
        // another, and nothing happens to it, another face or not.
        let stranger = stranger_session(&fx, &device).await;
        verify(&fx, json!({ "liveness_session_id": stranger, "session_id": id }))
            .await
            .assert_error(400, "VALIDATION_FAILED");
        verify(&fx, json!({ "liveness_session_id": stranger, "session_id": id, "refresh_token": format!("fgr_{}", "A".repeat(43)) }))
            .await
            .assert_error(401, "INVALID_REFRESH_TOKEN");
        // The session's own device only (its fingerprint, even, from another device).
        let other = [("x-device-fingerprint", FINGERPRINT), ("x-device-id", "not-the-users")];
        let elsewhere = stranger_session(&fx, &other).await;
        fx.call_with("POST", "/v1/verify",
            Some(json!({ "liveness_session_id": elsewhere, "session_id": id, "refresh_token": login["refresh_token"] })), &other)
            .await
            .assert_error(404, "SESSION_NOT_FOUND");

        // The same face, live: the same session, new tokens.
        let again = live_session(&fx, &device).await;
        let renewed = verify(&fx, json!({ "liveness_session_id": again, "session_id": id, "refresh_token": login["refresh_token"] })).await;
        let renewed = renewed.assert_ok(200).clone();
        assert_eq!(renewed["session_id"], id.as_str());
        assert_ne!(renewed["refresh_token"], login["refresh_token"]);
        let new_token = renewed["verification_token"].as_str().unwrap();
        profile(&fx, new_token, Some(FINGERPRINT)).await.assert_ok(200);
        let score = fx.call("GET", &format!("/v1/sessions/{id}/risk-score"), None).await;
        assert_eq!(score.assert_ok(200)["reverify_required"], false);
        assert_ne!(score.body["last_verified_at"], fresh["last_verified_at"]);
        let refreshed = fx.call_with("POST", "/v1/session/refresh", Some(json!({ "refresh_token": renewed["refresh_token"] })), &device).await;
        assert_eq!(refreshed.assert_ok(200)["session_id"], id.as_str());

        // Someone else's face, from the holder of the session: 403, and the session is over.
        let stranger = stranger_session(&fx, &device).await;
        verify(&fx, json!({ "liveness_session_id": stranger, "session_id": id, "refresh_token": refreshed.body["refresh_token"] }))
            .await
            .assert_error(403, "REVERIFY_FACE_MISMATCH");
        profile(&fx, refreshed.body["verification_token"].as_str().unwrap(), Some(FINGERPRINT))
            .await
            .assert_error(401, "INVALID_TOKEN");
        let later = live_session(&fx, &device).await;
        verify(&fx, json!({ "liveness_session_id": later, "session_id": id, "refresh_token": refreshed.body["refresh_token"] }))
            .await
            .assert_error(404, "SESSION_NOT_FOUND");
    }
);

/// Moves a user's enrolled faces back in time.
async fn age_faces<A: Adapter>(fx: &Fixture<A>, user: &str, days: i64) {
    face_enrollment::Entity::update_many()
        .col_expr(
            face_enrollment::Column::CreatedAt,
            Expr::value(Utc::now() - Duration::days(days)),
        )
        .filter(face_enrollment::Column::UserId.eq(user))
        .exec(fx.db.connection())
        .await
        .unwrap();
}

case!(
    /// A face due for rotation is flagged at verify; past the grace period
    /// verify refuses until the user re-enrolls from a live session, which
    /// a browser key may do for its own user.
    face_rotation(fx) {
        passive(&fx).await;
        let notices = crate::receiver::Receiver::start(&[]).await;
        crate::events::register(&fx, &notices.url, &["user.rotation_due"]).await;
        let user = enroll_obama(&fx).await;
        let rotation = json!({ "rotation_days": 90, "grace_period_days": 7, "notify_before_days": 14 });
        set_policy(&fx, "rotation", rotation).await.assert_ok(200);
        let shown = fx.call("GET", &format!("/v1/users/{user}"), None).await;
        let shown = shown.assert_ok(200).clone();
        assert!(shown["face_enrolled_at"].is_string() && shown["rotation_due_at"].is_string(), "{shown}");

        let device = [("x-device-fingerprint", FINGERPRINT)];
        age_faces(&fx, &user, 80).await;
        let session = live_session(&fx, &device).await;
        let notice = verify(&fx, json!({ "liveness_session_id": session })).await;
        let notice = notice.assert_ok(200).clone();
        assert_eq!(notice["re_enrollment_required"], true);
        let notice_token = notice["verification_token"].as_str().unwrap().to_owned();
        // Reported once per face, however many logins see it due.
        let session = live_session(&fx, &device).await;
        verify(&fx, json!({ "liveness_session_id": session })).await.assert_ok(200);
        let reported = notices.wait_for(1).await;
        assert_eq!(reported[0].json()["data"]["user_id"], user.as_str());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(notices.received().len(), 1);

        age_faces(&fx, &user, 98).await;
        let session = live_session(&fx, &device).await;
        verify(&fx, json!({ "liveness_session_id": session })).await.assert_error(403, "RE_ENROLLMENT_REQUIRED");

        // A browser key: its own user's live face, with that user's token.
        let client = client_key(&fx).await;
        let as_browser = |body: Value| re_enroll_as(&fx, &client, &user, body);
        let stranger = stranger_session(&fx, &[]).await;
        as_browser(json!({ "liveness_session_id": stranger, "force": true, "verification_token": notice_token }))
            .await
            .assert_error(403, "INSUFFICIENT_SCOPE");
        // The live match alone is not enough: the token says whose account it is.
        as_browser(json!({ "liveness_session_id": session })).await.assert_error(401, "INVALID_VERIFICATION_TOKEN");
        as_browser(json!({ "liveness_session_id": session, "verification_token": "x.y.z" }))
            .await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");
        as_browser(json!({ "liveness_session_id": stranger, "verification_token": notice_token }))
            .await
            .assert_error(409, "FACE_MISMATCH");
        // The session the hard stop kept re-enrolls the user, with the token
        // of a session opened before the hard stop.
        let re_enrolled = as_browser(json!({ "liveness_session_id": session, "verification_token": notice_token })).await;
        assert_eq!(re_enrolled.assert_ok(200)["user_id"], user.as_str());
        let session = live_session(&fx, &device).await;
        let after = verify(&fx, json!({ "liveness_session_id": session })).await;
        let after = after.assert_ok(200).clone();
        assert!(after["verification_token"].is_string());
        assert_eq!(after["re_enrollment_required"], false);
    }
);

/// `POST /v1/users/:id/re-enroll` with a client key, from the test's device.
async fn re_enroll_as<A: Adapter>(fx: &Fixture<A>, key: &str, user: &str, body: Value) -> Reply {
    let bearer = format!("Bearer {key}");
    fx.raw(
        "POST",
        &format!("/v1/users/{user}/re-enroll"),
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
            ("x-device-fingerprint", FINGERPRINT),
        ],
        body.to_string(),
    )
    .await
}
