//! Liveness ceremonies and verify, on real photos through the local engine.
//!
//! Still photos stand in for camera frames. For challenge actions the test
//! uses what the models really report: `obama2.jpg` is turned to his right
//! (yaw +21° from the frontal `obama.jpg`), its mirror image turned to his
//! left (−12°), and `obama3.jpg` looks up (pitch +21°).

use facegate_core::domain::{
    LivenessAction, LivenessChallenge, LivenessMode, LivenessSession, UserStatus,
};
use facegate_core::ids::LivenessSessionId;
use serde_json::{Value, json};

use crate::support::{
    Reply, TestApp, assert_error, camera_frame, mirrored_photo, photo, reencoded_photo,
};

pub const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OBAMA: &str = "face_recognition/obama.jpg";
const OBAMA_RIGHT: &str = "face_recognition/obama2.jpg";
const OBAMA_UP: &str = "face_recognition/obama3.jpg";
const BIDEN: &str = "face_recognition/biden.jpg";

/// An app whose tenant draws challenges from the actions the test photos show.
pub async fn active_app() -> TestApp {
    let app = TestApp::with_face_engine().await;
    app.settings(|s| {
        s.liveness.actions = vec![
            LivenessAction::TurnLeft,
            LivenessAction::TurnRight,
            LivenessAction::LookUp,
        ]
    })
    .await;
    app
}

pub async fn passive_app() -> TestApp {
    let app = TestApp::with_face_engine().await;
    app.settings(|s| s.liveness.mode = LivenessMode::Passive)
        .await;
    app
}

/// A photo of Obama performing `action`; each use of a photo gets fresh
/// bytes (a camera never sends the same frame twice).
fn performing(action: &str, used: usize) -> String {
    let quality = 92 - 2 * used as u8;
    match action {
        "turn_left" => mirrored_photo(OBAMA_RIGHT, quality),
        "turn_right" => reencoded_photo(OBAMA_RIGHT, quality),
        "look_up" => reencoded_photo(OBAMA_UP, quality),
        other => panic!("no test photo performs {other}"),
    }
}

/// Frames answering the challenge: Obama facing the camera, then each
/// action; in passive mode a burst of three.
pub fn frames_for(challenge: &Value) -> Vec<String> {
    if challenge["mode"] == "passive" {
        return vec![
            camera_frame(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ];
    }
    let mut frames = vec![camera_frame(OBAMA)];
    let mut used = std::collections::HashMap::new();
    for action in challenge["actions"].as_array().unwrap() {
        let action = action.as_str().unwrap();
        let count = used.entry(action).or_insert(0);
        frames.push(performing(action, *count));
        *count += 1;
    }
    frames
}

pub fn frames_body(nonce: &Value, frames: &[String]) -> Value {
    json!({
        "nonce": nonce,
        "frames": frames.iter().enumerate().map(|(i, image)| json!({
            "image": image,
            "timestamp_ms": 1_700_000_000_000_i64 + 700 * i as i64,
        })).collect::<Vec<_>>(),
    })
}

pub async fn start(app: &TestApp, headers: &[(&str, &str)]) -> Reply {
    app.call_with("POST", "/v1/liveness/session", None, headers)
        .await
}

pub async fn upload(app: &TestApp, started: &Value, frames: &[String]) -> Reply {
    let id = started["session_id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/v1/liveness/session/{id}/frames"),
        Some(frames_body(&started["challenge"]["nonce"], frames)),
    )
    .await
}

/// A completed session: started with `headers`, frames from `frames_of`.
pub async fn session_with(
    app: &TestApp,
    headers: &[(&str, &str)],
    frames_of: impl FnOnce(&Value) -> Vec<String>,
) -> (String, Reply) {
    let started = start(app, headers).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let frames = frames_of(&started.body["challenge"]);
    let judged = upload(app, &started.body, &frames).await;
    (
        started.body["session_id"].as_str().unwrap().to_owned(),
        judged,
    )
}

/// A live session of Obama performing the challenge.
pub async fn live_session(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let (id, judged) = session_with(app, headers, frames_for).await;
    assert_eq!(judged.status, 200, "{}", judged.body);
    assert_eq!(judged.body["is_live"], true, "{}", judged.body);
    id
}

pub async fn enroll_obama(app: &TestApp) -> String {
    let consent_id = app.consent().await;
    let enrolled = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({
                "name": "Barack", "role": "guard", "consent_id": consent_id,
                "face_image": photo(OBAMA), "email": "barack@example.com",
            })),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    enrolled.body["user_id"].as_str().unwrap().to_owned()
}

pub async fn verify(app: &TestApp, session: &str, headers: &[(&str, &str)]) -> Reply {
    app.call_with(
        "POST",
        "/v1/verify",
        Some(json!({ "liveness_session_id": session })),
        headers,
    )
    .await
}

#[tokio::test]
async fn a_session_starts_with_a_challenge_and_no_cloud_credentials() {
    let app = TestApp::with_face_engine().await;
    let started = start(&app, &[]).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let body = &started.body;
    assert!(body["session_id"].as_str().unwrap().len() == 36);
    assert_eq!(body["credentials"], Value::Null);
    assert_eq!(body["region"], Value::Null);
    assert_eq!(body["challenge"]["mode"], "active");
    let actions = body["challenge"]["actions"].as_array().unwrap();
    assert!((2..=3).contains(&actions.len()), "{body}");
    assert_eq!(body["challenge"]["nonce"].as_str().unwrap().len(), 32);
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let lifetime = expires - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::seconds(170) && lifetime <= chrono::Duration::minutes(3));

    let pending = app
        .call(
            "GET",
            &format!(
                "/v1/liveness/result/{}",
                body["session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_error(&pending, 400, "LIVENESS_NOT_COMPLETED");
}

#[tokio::test]
async fn performing_the_challenge_is_live_and_skipping_it_is_not() {
    let app = active_app().await;
    // Challenges are random: a few of them.
    for _ in 0..3 {
        live_session(&app, &[]).await;
    }
    let (id, judged) = session_with(&app, &[], frames_for).await;
    assert_eq!(judged.status, 200, "{}", judged.body);
    assert_eq!(judged.body["is_live"], true, "{}", judged.body);
    let confidence = judged.body["confidence"].as_f64().unwrap();
    assert!(confidence >= 90.0, "{}", judged.body);
    // Only the outcome leaves the server, never the sub-scores.
    let mut keys: Vec<&str> = judged
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["confidence", "is_live", "session_id"]);
    let result = app
        .call("GET", &format!("/v1/liveness/result/{id}"), None)
        .await;
    assert_eq!(
        result.body,
        json!({ "is_live": true, "confidence": confidence })
    );

    // The frontal photo again and again (re-encoded): no action performed.
    let (_, still) = session_with(&app, &[], |_| {
        vec![
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ]
    })
    .await;
    assert_eq!(still.body["is_live"], false, "{}", still.body);
    assert!(still.body["confidence"].as_f64().unwrap() < 50.0);

    // The actions in reverse order do not answer the challenge either
    // (unless it reads the same both ways, like left-right-left).
    let mut palindrome = false;
    let (_, reversed) = session_with(&app, &[], |challenge| {
        let actions = challenge["actions"].as_array().unwrap();
        palindrome = actions.iter().eq(actions.iter().rev());
        let mut frames = frames_for(challenge);
        frames[1..].reverse();
        frames
    })
    .await;
    assert_eq!(reversed.body["is_live"], palindrome, "{}", reversed.body);
}

#[tokio::test]
async fn different_people_or_a_replayed_frame_fail_with_zero_confidence() {
    let app = passive_app().await;
    let (_, mixed) = session_with(&app, &[], |_| {
        vec![photo(OBAMA), photo(BIDEN), reencoded_photo(OBAMA, 90)]
    })
    .await;
    assert_eq!(
        mixed.body,
        json!({ "session_id": mixed.body["session_id"], "is_live": false, "confidence": 0.0 })
    );
    let (_, replayed) = session_with(&app, &[], |_| {
        vec![photo(OBAMA), photo(OBAMA), reencoded_photo(OBAMA, 90)]
    })
    .await;
    assert_eq!(replayed.body["is_live"], false);
    assert_eq!(replayed.body["confidence"], 0.0);
}

#[tokio::test]
async fn uploads_are_checked_before_any_inference() {
    let app = passive_app().await;
    let started = start(&app, &[]).await.body;
    let id = started["session_id"].as_str().unwrap();
    let path = format!("/v1/liveness/session/{id}/frames");
    let wrong_nonce = frames_body(
        &json!("00"),
        &[
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ],
    );
    let reply = app.call("POST", &path, Some(wrong_nonce)).await;
    assert_error(&reply, 400, "VALIDATION_FAILED");
    assert_eq!(reply.body["details"][0]["path"], json!(["nonce"]));
    let too_few = frames_body(&started["challenge"]["nonce"], &[photo(OBAMA)]);
    assert_error(
        &app.call("POST", &path, Some(too_few)).await,
        400,
        "VALIDATION_FAILED",
    );
    let mut backwards = frames_body(
        &started["challenge"]["nonce"],
        &[
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ],
    );
    backwards["frames"][2]["timestamp_ms"] = json!(0);
    assert_error(
        &app.call("POST", &path, Some(backwards)).await,
        400,
        "VALIDATION_FAILED",
    );
    let not_an_image = frames_body(
        &started["challenge"]["nonce"],
        &[
            "bm90IGFuIGltYWdl".to_owned(),
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
        ],
    );
    assert_error(
        &app.call("POST", &path, Some(not_an_image)).await,
        400,
        "INVALID_IMAGE_FORMAT",
    );

    // None of that used the session up.
    let judged = upload(
        &app,
        &started,
        &[
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ],
    )
    .await;
    assert_eq!(judged.body["is_live"], true, "{}", judged.body);
    let again = upload(
        &app,
        &started,
        &[
            photo(OBAMA),
            reencoded_photo(OBAMA, 90),
            mirrored_photo(OBAMA, 90),
        ],
    )
    .await;
    assert_error(&again, 400, "LIVENESS_ALREADY_COMPLETED");
    assert_error(
        &app.call(
            "POST",
            "/v1/liveness/session/00000000-0000-0000-0000-000000000000/frames",
            Some(json!({"nonce": "x", "frames": []})),
        )
        .await,
        404,
        "LIVENESS_SESSION_NOT_FOUND",
    );
}

#[tokio::test]
async fn verify_returns_the_full_response_and_the_session_is_single_use() {
    let app = active_app().await;
    let user_id = enroll_obama(&app).await;
    let session = live_session(&app, &[("x-device-fingerprint", FINGERPRINT)]).await;
    let verified = verify(&app, &session, &[("x-device-fingerprint", FINGERPRINT)]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    let body = &verified.body;
    assert_eq!(body["matched"], true);
    assert!(body["confidence"].as_f64().unwrap() >= 90.0);
    assert_eq!(
        body["user"],
        json!({ "id": user_id, "name": "Barack", "role": "guard", "metadata": {} })
    );
    assert!(body["session_id"].as_str().unwrap().starts_with("sess_"));
    assert!(body["device_id"].as_str().unwrap().starts_with("dev_"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("fgr_"));
    // A first login, from a device and a network never seen for Barack.
    assert_eq!(body["risk"]["level"], "medium", "{body}");
    let codes: Vec<_> = body["risk"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.starts_with(&["new_device", "new_network"]), "{body}");
    assert_eq!(body["risk"]["step_up_required"], false);
    assert_eq!(body["re_enrollment_required"], false);
    let token = body["verification_token"].as_str().unwrap();
    let ring = app.facegate.key_ring().await.unwrap();
    let claims = ring.verify(token).unwrap();
    assert_eq!(claims.sub, user_id);
    assert_eq!(claims.sid, body["session_id"].as_str().unwrap());
    assert_eq!(claims.dfp.as_deref(), Some(FINGERPRINT));

    assert_error(
        &verify(&app, &session, &[]).await,
        400,
        "LIVENESS_SESSION_CONSUMED",
    );
    assert_error(
        &verify(&app, "00000000-0000-0000-0000-000000000000", &[]).await,
        404,
        "LIVENESS_SESSION_NOT_FOUND",
    );
    // A session id of another tenant is unknown here.
    let (_, other_key) = app.other_tenant().await;
    let other_session = live_session(&app, &[]).await;
    let reply = app
        .call_as(
            &other_key,
            "POST",
            "/v1/verify",
            Some(json!({ "liveness_session_id": other_session })),
        )
        .await;
    assert_error(&reply, 404, "LIVENESS_SESSION_NOT_FOUND");

    let risk = app
        .call(
            "GET",
            &format!(
                "/v1/sessions/{}/risk-score",
                body["session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(risk.status, 200, "{}", risk.body);
    assert_eq!(risk.body["risk_score"], body["risk"]["score"]);
    assert_eq!(risk.body["confidence"], body["confidence"]);
    assert_error(
        &app.call("GET", "/v1/sessions/sess_nope/risk-score", None)
            .await,
        404,
        "SESSION_NOT_FOUND",
    );
}

#[tokio::test]
async fn verify_refuses_pending_failed_and_expired_sessions() {
    let app = passive_app().await;
    enroll_obama(&app).await;
    let pending = start(&app, &[]).await.body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &verify(&app, &pending, &[]).await,
        400,
        "LIVENESS_NOT_COMPLETED",
    );

    let (failed, _) = session_with(&app, &[], |_| {
        vec![photo(OBAMA), photo(BIDEN), reencoded_photo(OBAMA, 90)]
    })
    .await;
    assert_error(&verify(&app, &failed, &[]).await, 403, "LIVENESS_FAILED");
    assert_error(
        &verify(&app, &failed, &[]).await,
        400,
        "LIVENESS_SESSION_CONSUMED",
    );

    // A session whose three minutes are up.
    let now = facegate_core::clock::now();
    let expired = LivenessSession {
        id: LivenessSessionId::generate(),
        tenant_id: app.tenant.clone(),
        device_id: "dev_x".into(),
        mode: LivenessMode::Passive,
        challenge: LivenessChallenge {
            actions: vec![],
            nonce: "ab".into(),
        },
        created_at: now - chrono::Duration::minutes(4),
        expires_at: now - chrono::Duration::minutes(1),
        completion: None,
        consumed_at: None,
        pin_failures: 0,
    };
    app.facegate
        .store()
        .insert_liveness_session(&expired)
        .await
        .unwrap();
    assert_error(
        &verify(&app, expired.id.as_str(), &[]).await,
        400,
        "LIVENESS_SESSION_EXPIRED",
    );
    let late = app
        .call(
            "POST",
            &format!("/v1/liveness/session/{}/frames", expired.id),
            Some(frames_body(
                &json!("ab"),
                &[
                    photo(OBAMA),
                    reencoded_photo(OBAMA, 90),
                    mirrored_photo(OBAMA, 90),
                ],
            )),
        )
        .await;
    assert_error(&late, 400, "LIVENESS_SESSION_EXPIRED");
}

#[tokio::test]
async fn a_live_stranger_is_matched_false_and_suspended_users_get_no_token() {
    let app = passive_app().await;
    let user_id = enroll_obama(&app).await;
    let (biden, _) = session_with(&app, &[], |_| {
        vec![
            photo(BIDEN),
            reencoded_photo(BIDEN, 90),
            mirrored_photo(BIDEN, 90),
        ]
    })
    .await;
    let stranger = verify(&app, &biden, &[]).await;
    assert_eq!(stranger.status, 200, "{}", stranger.body);
    assert_eq!(stranger.body["matched"], false);
    assert_eq!(stranger.body["verification_token"], Value::Null);
    assert_eq!(stranger.body["user"], Value::Null);

    for (status, code) in [
        (UserStatus::Suspended, "USER_SUSPENDED"),
        (UserStatus::Locked, "USER_LOCKED"),
    ] {
        let patched = app
            .call(
                "PATCH",
                &format!("/v1/users/{user_id}/status"),
                Some(json!({ "status": status })),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        let session = live_session(&app, &[]).await;
        assert_error(&verify(&app, &session, &[]).await, 403, code);
    }
}

#[tokio::test]
async fn a_malformed_device_fingerprint_is_400() {
    let app = passive_app().await;
    for bad in ["abc", &"g".repeat(64), &"a".repeat(65)] {
        let reply = start(&app, &[("x-device-fingerprint", bad)]).await;
        assert_error(&reply, 400, "VALIDATION_FAILED");
        assert_eq!(
            reply.body["details"][0]["path"],
            json!(["x-device-fingerprint"])
        );
        let reply = verify(
            &app,
            "00000000-0000-0000-0000-000000000000",
            &[("x-device-fingerprint", bad)],
        )
        .await;
        assert_error(&reply, 400, "VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn five_failures_lock_the_device_and_the_user_they_showed() {
    let app = passive_app().await;
    enroll_obama(&app).await;
    let attacker = [("x-device-id", "attacker-phone")];
    // Obama's face, then someone else's: a failed check, attributed to Obama.
    for _ in 0..5 {
        let (_, judged) = session_with(&app, &attacker, |_| {
            vec![photo(OBAMA), photo(BIDEN), reencoded_photo(OBAMA, 90)]
        })
        .await;
        assert_eq!(judged.body["is_live"], false, "{}", judged.body);
    }
    let locked = start(&app, &attacker).await;
    assert_error(&locked, 429, "TOO_MANY_ATTEMPTS");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((29 * 60..=30 * 60).contains(&retry_after), "{retry_after}");

    // Another device may still run a ceremony, but Obama is locked out.
    let session = live_session(&app, &[("x-device-id", "kiosk-2")]).await;
    assert_error(
        &verify(&app, &session, &[("x-device-id", "kiosk-2")]).await,
        429,
        "TOO_MANY_ATTEMPTS",
    );

    // The lockout rules are the tenant's risk policy.
    let rules = json!({ "block_threshold": 0.9, "step_up_threshold": 0.6, "max_failed_attempts": 6, "lockout_duration_minutes": 30 });
    let set = app.call("POST", "/v1/policy/risk", Some(rules)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(start(&app, &attacker).await.status, 200);
}

#[tokio::test]
async fn enroll_takes_the_reference_frame_of_a_live_session_once() {
    let app = passive_app().await;
    let session = live_session(&app, &[]).await;
    let enroll = |consent_id: String, session: &str| json!({ "name": "Barack", "role": "guard", "consent_id": consent_id, "liveness_session_id": session });
    let enrolled = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, &session)),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let user_id = enrolled.body["user_id"].as_str().unwrap();

    // The enrolled face is the one in the session: a photo of it matches.
    let matched = app
        .call(
            "POST",
            "/v1/match",
            Some(json!({ "image": photo(OBAMA_UP) })),
        )
        .await;
    assert_eq!(matched.body["user"]["id"], user_id, "{}", matched.body);

    let again = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, &session)),
        )
        .await;
    assert_error(&again, 400, "LIVENESS_SESSION_CONSUMED");
    let both = app
        .call(
            "POST",
            "/v1/enroll",
            Some(
                json!({ "name": "B", "role": "guard", "consent_id": app.consent().await,
                         "liveness_session_id": session, "face_image": photo(OBAMA) }),
            ),
        )
        .await;
    assert_error(&both, 400, "VALIDATION_FAILED");
}

#[tokio::test]
async fn verify_hands_back_the_enrollment_payload() {
    let app = passive_app().await;
    let payload = json!({ "member": 7, "perks": ["lounge"], "note": "FACEIO-style payload" });
    let enroll = |consent_id: String, payload: Value| {
        json!({ "name": "Barack", "role": "guard", "consent_id": consent_id,
                "face_image": photo(OBAMA), "payload": payload })
    };
    let too_big = json!("x".repeat(16 * 1024 + 1));
    let refused = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, too_big)),
        )
        .await;
    assert_error(&refused, 413, "PAYLOAD_TOO_LARGE");
    let enrolled = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, payload.clone())),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);

    let session = live_session(&app, &[]).await;
    let verified = verify(&app, &session, &[]).await;
    assert_eq!(verified.body["matched"], true, "{}", verified.body);
    assert_eq!(verified.body["payload"], payload);
}

/// Issue 19: with a master key, face templates and the reference images and
/// probes of live sessions are stored sealed (AES-256-GCM), each bound to
/// its tenant and row. An instance with the key loads its index and signs
/// people in from them; one without the key, or with another, refuses to
/// work from them (500) rather than run with faces missing from its index
/// (which would let a face enroll twice); a template moved to another
/// face's row does not open either.
#[tokio::test]
async fn biometrics_are_sealed_at_rest_under_the_master_key() {
    use facegate_core::sealed::{MasterKey, is_sealed};
    use facegate_store_seaorm::entity::{face_enrollment, liveness_session};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

    let master = MasterKey::from_bytes([19; 32]);
    let app = TestApp::with_face_engine_and(|b| b.master_key(master.clone())).await;
    app.settings(|s| s.liveness.mode = LivenessMode::Passive)
        .await;
    let barack = enroll_obama(&app).await;
    let session = live_session(&app, &[]).await;

    let db = app.database().connection();
    let faces = face_enrollment::Entity::find().all(db).await.unwrap();
    assert_eq!(faces.len(), 1);
    let template = faces[0].template.clone().unwrap();
    assert!(
        is_sealed(&template),
        "the template is sealed in the database"
    );
    let row = liveness_session::Entity::find_by_id(session.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let image = row.reference_image.unwrap();
    assert!(
        image.starts_with("fgsealed1:"),
        "the reference image is sealed"
    );
    // What is sealed is the JPEG, bound to this tenant and session. (Not a
    // search for JPEG bytes in the sealed text: random base64 holds any
    // four characters now and then.)
    let session_id = LivenessSessionId::from_string(session.clone());
    let bound = facegate_core::sealed::Biometric::ReferenceImage {
        tenant: &app.tenant,
        session: &session_id,
    };
    assert!(
        bound
            .open_text(Some(&master), &image)
            .unwrap()
            .starts_with("/9j/")
    );
    assert!(bound.open_text(None, &image).is_err());
    assert!(
        is_sealed(&row.reference_probe.unwrap()),
        "the probe is sealed"
    );

    // Without the key, or with another: 500, never a half-loaded index.
    for configure in [None, Some(MasterKey::from_bytes([7; 32]))] {
        let other = app.restarted_with(|b| match configure {
            Some(key) => b.master_key(key),
            None => b,
        });
        assert_error(
            &other.call("GET", "/v1/face-index", None).await,
            500,
            "INTERNAL_ERROR",
        );
        assert_error(&verify(&other, &session, &[]).await, 500, "INTERNAL_ERROR");
    }

    // Restarted with the key: the index loads from the sealed templates,
    // verify reads the sealed image and probe.
    let restarted = app.restarted_with(|b| b.master_key(master.clone()));
    let verified = verify(&restarted, &session, &[]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(
        verified.body["user"]["id"],
        barack.as_str(),
        "{}",
        verified.body
    );

    // Another face's sealed template copied into Barack's row: it does not open there.
    let consent_id = app.consent().await;
    let joe = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "Joe", "role": "guard", "consent_id": consent_id, "face_image": photo(BIDEN) })),
        )
        .await;
    assert_eq!(joe.status, 201, "{}", joe.body);
    let faces = face_enrollment::Entity::find().all(db).await.unwrap();
    let (barack_face, joe_face) = match faces[0].user_id == barack {
        true => (&faces[0], &faces[1]),
        false => (&faces[1], &faces[0]),
    };
    let mut moved: face_enrollment::ActiveModel = barack_face.clone().into();
    moved.template = Set(joe_face.template.clone());
    moved.update(db).await.unwrap();
    let restarted = app.restarted_with(|b| b.master_key(master));
    assert_error(
        &restarted.call("GET", "/v1/face-index", None).await,
        500,
        "INTERNAL_ERROR",
    );
}

/// Issue 19: values stored before a master key was configured, and values
/// sealed under a key since rotated (face templates, signing keys, webhook
/// secrets), are read as they are and sealed under the current key by the
/// re-seal pass; after a pass that leaves nothing, the old key can go.
#[tokio::test]
async fn the_reseal_pass_moves_everything_to_the_current_master_key() {
    use facegate_core::ResealReport;
    use facegate_core::sealed::{MasterKey, is_sealed};
    use facegate_store_seaorm::entity::face_enrollment;
    use sea_orm::EntityTrait;

    let app = TestApp::with_face_engine().await;
    enroll_obama(&app).await;
    app.facegate.key_ring().await.unwrap();
    let hook = json!({ "url": "https://hooks.example.com/facegate", "events": ["user.enrolled"] });
    assert_eq!(
        app.call("POST", "/v1/webhooks", Some(hook)).await.status,
        201
    );
    let db = app.database().connection();
    let template = || async {
        let faces = face_enrollment::Entity::find().all(db).await.unwrap();
        faces[0].template.clone().unwrap()
    };
    assert!(!is_sealed(&template().await));
    let index = |app: TestApp| async move {
        let reply = app.call("GET", "/v1/face-index", None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["indexed_faces"], 1, "{}", reply.body);
        app.facegate
            .key_ring()
            .await
            .expect("the signing keys open");
    };
    let all_three = ResealReport {
        templates: 1,
        signing_keys: 1,
        webhook_secrets: 1,
        left: 0,
    };

    // Passes run in the background of an instance's first request too:
    // each pass here is called on an instance that has served none.
    // A key configured: everything is sealed, and loads.
    let first = MasterKey::from_bytes([1; 32]);
    let keyed = app.restarted_with(|b| b.master_key(first.clone()));
    assert_eq!(keyed.facegate.run_maintenance().await.resealed, all_three);
    let sealed_once = template().await;
    assert!(is_sealed(&sealed_once));
    // Nothing left: the next pass has nothing to do.
    assert_eq!(
        keyed.facegate.reseal().await.unwrap(),
        ResealReport::default()
    );
    index(app.restarted_with(|b| b.master_key(first.clone()))).await;

    // Rotated: the new key, with the old one as previous, opens and re-seals it all.
    let second = MasterKey::from_bytes([2; 32]);
    let rotated = || second.clone().with_previous(first.clone());
    let rotating = app.restarted_with(|b| b.master_key(rotated()));
    assert_eq!(rotating.facegate.reseal().await.unwrap(), all_three);
    assert_ne!(template().await, sealed_once);
    index(app.restarted_with(|b| b.master_key(rotated()))).await;
    // The old key dropped: everything opens under the new key alone.
    index(app.restarted_with(|b| b.master_key(second.clone()))).await;
    // The old key alone opens nothing, and a pass says what it could not move.
    let old_only = app.restarted_with(|b| b.master_key(first.clone()));
    let stuck = ResealReport {
        left: 3,
        ..ResealReport::default()
    };
    assert_eq!(old_only.facegate.reseal().await.unwrap(), stuck);
    assert_error(
        &old_only.call("GET", "/v1/face-index", None).await,
        500,
        "INTERNAL_ERROR",
    );
}
