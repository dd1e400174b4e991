//! The trust model, held to both adapters: whose tokens a guard accepts,
//! what a client (browser) key reaches, and the abuse paths of issue 11.
//! Each case fails on the code before the fix it covers.

use base64::Engine as _;
use facegate_core::domain::{KeyEnvironment, OriginRules, Tenant, TenantStatus, User, UserStatus};
use facegate_core::ids::{TenantId, UserId};
use serde_json::{Value, json};

use crate::cases::{FINGERPRINT, enroll_obama, live_session, passive, profile};
use crate::fixture::{camera_frame, photo};
use crate::{Adapter, Fixture, PINNED_TENANT, Reply};

const BIDEN: &str = "face_recognition/biden.jpg";

/// A user of `tenant` stored directly, and a session with its token.
async fn token_of<A: Adapter>(fx: &Fixture<A>, tenant: &TenantId, role: &str) -> String {
    let store = fx.facegate.store();
    if store.tenant(tenant).await.unwrap().is_none() {
        store
            .insert_tenant(&Tenant {
                id: tenant.clone(),
                name: "other".into(),
                status: TenantStatus::Active,
                settings: Default::default(),
                created_at: facegate_core::clock::now(),
            })
            .await
            .unwrap();
    }
    let user = User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        name: "Other".into(),
        role: role.into(),
        email: None,
        phone: None,
        external_id: None,
        metadata: json!({}),
        payload: None,
        pin_hash: None,
        status: UserStatus::Active,
        created_at: facegate_core::clock::now(),
    };
    store.insert_user(&user, &[], None, &[]).await.unwrap();
    fx.facegate
        .open_session(&user, "dev-1", None, 99.0, 0.0)
        .await
        .unwrap()
        .verification_token
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn get_with_token<A: Adapter>(fx: &Fixture<A>, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    fx.raw("GET", path, &[("authorization", &bearer)], "").await
}

case!(
    /// A guard pinned to a tenant refuses every other tenant's tokens; an
    /// unpinned guard refuses the demo tenant's unless it allows the demo.
    guard_pins_tenants(fx) {
        let ours = token_of(&fx, &fx.tenant, "user").await;
        let pinned = token_of(&fx, &TenantId::from_string(PINNED_TENANT), "user").await;
        let demo = token_of(&fx, &TenantId::demo(), "demo").await;
        assert_eq!(claims(&demo)["aud"], "facegate-demo");
        assert_eq!(claims(&ours)["aud"], "facegate");

        get_with_token(&fx, "/api/profile", &ours).await.assert_ok(200);
        get_with_token(&fx, "/api/profile", &pinned).await.assert_ok(200);
        get_with_token(&fx, "/api/profile", &demo).await.assert_error(401, "INVALID_TOKEN");
        get_with_token(&fx, "/api/pinned", &pinned).await.assert_ok(200);
        get_with_token(&fx, "/api/pinned", &ours).await.assert_error(401, "INVALID_TOKEN");
        get_with_token(&fx, "/api/pinned", &demo).await.assert_error(401, "INVALID_TOKEN");
        let demo_ok = get_with_token(&fx, "/api/demo", &demo).await;
        assert_eq!(demo_ok.assert_ok(200)["role"], "demo");
        get_with_token(&fx, "/api/demo", &ours).await.assert_ok(200);
    }
);

case!(
    /// Suspending a tenant ends its tokens at the guard at once, and
    /// activating it again does not bring them back.
    suspended_tenant_tokens(fx) {
        let token = token_of(&fx, &fx.tenant, "user").await;
        get_with_token(&fx, "/api/profile", &token).await.assert_ok(200);
        fx.facegate.set_tenant_status(&fx.tenant, TenantStatus::Suspended).await.unwrap();
        get_with_token(&fx, "/api/profile", &token).await.assert_error(401, "INVALID_TOKEN");
        fx.facegate.set_tenant_status(&fx.tenant, TenantStatus::Active).await.unwrap();
        get_with_token(&fx, "/api/profile", &token).await.assert_error(401, "INVALID_TOKEN");
    }
);

/// A client key of the fixture's tenant.
async fn client_key<A: Adapter>(fx: &Fixture<A>, origins: OriginRules) -> String {
    fx.facegate
        .mint_client_key(&fx.tenant, KeyEnvironment::Test, origins)
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned()
}

async fn call_as<A: Adapter>(
    fx: &Fixture<A>,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("x-api-key", key), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    let body = body.map_or_else(String::new, |b| b.to_string());
    fx.raw(method, path, &headers, body).await
}

#[track_caller]
fn assert_needs_server_key(reply: &Reply) {
    reply.assert_error(403, "INSUFFICIENT_SCOPE");
    assert_eq!(reply.body["required_scope"], "server");
}

case!(
    /// A browser key runs the ceremony (consent, liveness, enroll from the
    /// live session, verify, exchange) and reaches nothing else.
    client_keys_reach_the_ceremony_only(fx) {
        passive(&fx).await;
        let key = client_key(&fx, OriginRules::default()).await;
        assert!(key.starts_with("fg_test_pub_"));
        let user_id = enroll_obama(&fx).await;
        for (method, path) in [
            ("GET", "/v1/users".to_owned()),
            ("GET", format!("/v1/users/{user_id}")),
            ("DELETE", format!("/v1/users/{user_id}")),
            ("PATCH", format!("/v1/users/{user_id}/status")),
            ("POST", "/v1/match".to_owned()),
            ("POST", "/v1/detect-attributes".to_owned()),
            ("GET", "/v1/face-index".to_owned()),
            ("POST", "/v1/session/sess_x/revoke".to_owned()),
            ("GET", "/v1/sessions/sess_x/risk-score".to_owned()),
            ("DELETE", "/v1/consent/00000000-0000-0000-0000-000000000000".to_owned()),
        ] {
            assert_needs_server_key(&call_as(&fx, &key, method, &path, Some(json!({})), &[]).await);
        }
        // Re-enrollment: the user's own live face only (see the rotation case).
        let re_enroll = format!("/v1/users/{user_id}/re-enroll");
        call_as(&fx, &key, "POST", &re_enroll, Some(json!({ "face_image": photo(BIDEN) })), &[])
            .await
            .assert_error(400, "VALIDATION_FAILED");
        // Nothing was deleted by the refused calls.
        fx.call("GET", &format!("/v1/users/{user_id}"), None).await.assert_ok(200);

        let hash = facegate_core::ConsentVersion::new("v1", crate::fixture::CONSENT_TEXT).consent_text_hash;
        let linked = json!({ "consent_version": "v1", "consent_text_hash": hash, "user_id": user_id });
        assert_needs_server_key(&call_as(&fx, &key, "POST", "/v1/consent", Some(linked), &[]).await);
        let consent = call_as(&fx, &key, "POST", "/v1/consent",
            Some(json!({ "consent_version": "v1", "consent_text_hash": hash })), &[]).await;
        let consent = consent.assert_ok(201)["consent_id"].clone();
        let photo_enroll = json!({ "name": "B", "role": "user", "consent_id": consent, "face_image": photo(BIDEN) });
        assert_needs_server_key(&call_as(&fx, &key, "POST", "/v1/enroll", Some(photo_enroll), &[]).await);
        let session = live_session(&fx, &[]).await;
        // Nothing a host might trust: no link, contact, metadata or role of its choosing.
        for (field, value) in [
            ("external_id", json!("host-user-1")),
            ("email", json!("ceo@victim.example")),
            ("phone", json!("+15550100")),
            ("metadata", json!({ "plan": "gold" })),
            ("role", json!("admin")),
        ] {
            let mut body = json!({ "name": "B", "consent_id": consent, "liveness_session_id": session });
            body[field] = value;
            assert_needs_server_key(&call_as(&fx, &key, "POST", "/v1/enroll", Some(body), &[]).await);
        }

        // The login itself works with the browser key.
        let verified = call_as(&fx, &key, "POST", "/v1/verify",
            Some(json!({ "liveness_session_id": session })), &[]).await;
        let token = verified.assert_ok(200)["verification_token"].clone();
        let exchanged = call_as(&fx, &key, "POST", "/v1/session",
            Some(json!({ "verification_token": token })), &[]).await;
        assert_eq!(exchanged.assert_ok(200)["user"]["id"], user_id.as_str());

        // Match only where the tenant allows it, and then by id alone.
        fx.settings(|s| s.client_match = true).await;
        let matched = call_as(&fx, &key, "POST", "/v1/match", Some(json!({ "image": photo(crate::cases::OBAMA_2) })), &[]).await;
        assert_eq!(matched.assert_ok(200)["user"], json!({ "id": user_id }));
        let full = fx.call("POST", "/v1/match", Some(json!({ "image": photo(crate::cases::OBAMA_2) }))).await;
        assert_eq!(full.assert_ok(200)["user"]["name"], "Barack");
    }
);

case!(
    /// FACEIO's authorized domains: a client key works only from its
    /// origins, and (when it says so) not without one.
    client_key_origins(fx) {
        let key = client_key(&fx, OriginRules {
            allowed: vec!["https://app.example".into()],
            reject_empty: true,
        }).await;
        let versions = |extra: &'static [(&'static str, &'static str)]| {
            let key = key.clone();
            let fx = &fx;
            async move { call_as(fx, &key, "GET", "/v1/consent/versions", None, extra).await }
        };
        versions(&[("origin", "https://app.example")]).await.assert_ok(200);
        versions(&[("referer", "https://app.example/login")]).await.assert_ok(200);
        versions(&[("origin", "https://evil.example")]).await.assert_error(403, "FORBIDDEN_ORIGIN");
        versions(&[("origin", "https://app.example.evil.example")]).await.assert_error(403, "FORBIDDEN_ORIGIN");
        versions(&[]).await.assert_error(403, "EMPTY_ORIGIN");
        // Server keys are for servers: no origin rules apply to them.
        fx.call("GET", "/v1/consent/versions", None).await.assert_ok(200);
    }
);

case!(
    /// `external_id` is unique per tenant, by index: the second user with
    /// it gets 409 and nothing of them is stored.
    external_ids_are_unique(fx) {
        let enroll = |photo_path: &'static str, consent: String| json!({
            "name": "U", "role": "user", "consent_id": consent,
            "face_image": photo(photo_path), "external_id": "host-42",
        });
        let first = fx.call("POST", "/v1/enroll", Some(enroll(crate::cases::OBAMA, fx.consent().await))).await;
        first.assert_ok(201);
        let consent = fx.consent().await;
        let second = fx.call("POST", "/v1/enroll", Some(enroll(BIDEN, consent.clone()))).await;
        second.assert_error(409, "EXTERNAL_ID_TAKEN");
        let users = fx.call("GET", "/v1/users", None).await;
        assert_eq!(users.assert_ok(200)["users"].as_array().unwrap().len(), 1);
        // The consent was not used up by the refused enrollment.
        let retry = json!({ "name": "U", "role": "user", "consent_id": consent, "face_image": photo(BIDEN) });
        fx.call("POST", "/v1/enroll", Some(retry)).await.assert_ok(201);
    }
);

case!(
    /// A verification token is exchanged once, from its own device; the
    /// guard, refresh and exchange read the fingerprint alike (any case).
    session_exchange_and_device_binding(fx) {
        passive(&fx).await;
        enroll_obama(&fx).await;
        let device = [("x-device-fingerprint", FINGERPRINT)];
        let session = live_session(&fx, &device).await;
        let login = fx
            .call_with("POST", "/v1/verify", Some(json!({ "liveness_session_id": session })), &device)
            .await;
        let login = login.assert_ok(200).clone();
        let token = login["verification_token"].as_str().unwrap();
        let upper = FINGERPRINT.to_ascii_uppercase();
        profile(&fx, token, Some(&upper)).await.assert_ok(200);

        let exchange = json!({ "verification_token": token });
        fx.call("POST", "/v1/session", Some(exchange.clone())).await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");
        let exchanged = fx
            .call_with("POST", "/v1/session", Some(exchange.clone()), &[("x-device-fingerprint", &upper)])
            .await;
        // The token the exchange minted is not exchanged again (no chains).
        let minted = json!({ "verification_token": exchanged.assert_ok(200)["token"] });
        profile(&fx, minted["verification_token"].as_str().unwrap(), Some(FINGERPRINT)).await.assert_ok(200);
        fx.call_with("POST", "/v1/session", Some(minted), &device)
            .await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");
        fx.call_with("POST", "/v1/session", Some(exchange), &device)
            .await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");

        // A thief's copy of the refresh token, sent from another device, is
        // refused without spending it: the owner's refresh still works.
        let refresh = json!({ "refresh_token": login["refresh_token"] });
        fx.call_with("POST", "/v1/session/refresh", Some(refresh.clone()), &[("x-device-fingerprint", &"0".repeat(64))])
            .await
            .assert_error(401, "INVALID_REFRESH_TOKEN");
        fx.call("POST", "/v1/session/refresh", Some(refresh.clone())).await
            .assert_error(401, "INVALID_REFRESH_TOKEN");
        let renewed = fx.call_with("POST", "/v1/session/refresh", Some(refresh), &[("x-device-fingerprint", &upper)]).await;
        renewed.assert_ok(200);
    }
);

case!(
    /// Re-enroll from a live session: the user's own face replaces theirs;
    /// another face needs `force`, and the forced change is on the audit trail.
    re_enroll_from_a_live_session(fx) {
        passive(&fx).await;
        let consent = fx.consent().await;
        let biden = fx
            .call("POST", "/v1/enroll", Some(json!({ "name": "Joe", "role": "user", "consent_id": consent, "face_image": photo(BIDEN) })))
            .await;
        let biden = biden.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
        let path = format!("/v1/users/{biden}/re-enroll");
        let session = live_session(&fx, &[]).await;
        fx.call("POST", &path, Some(json!({ "liveness_session_id": session }))).await
            .assert_error(409, "FACE_MISMATCH");
        let forced = fx.call("POST", &path, Some(json!({ "liveness_session_id": session, "force": true }))).await;
        assert_eq!(forced.assert_ok(200)["user_id"], biden.as_str());
        fx.call("POST", &path, Some(json!({ "liveness_session_id": session, "force": true }))).await
            .assert_error(400, "LIVENESS_SESSION_CONSUMED");
        let events = fx.facegate.store().audit_events(&fx.tenant, 10).await.unwrap();
        assert!(events.iter().any(|e| e.note.as_deref() == Some("forced_re_enroll") && e.status == 200));
        // Now the live face is theirs: a plain re-enroll from it needs no force.
        let again = live_session(&fx, &[]).await;
        fx.call("POST", &path, Some(json!({ "liveness_session_id": again }))).await.assert_ok(200);
    }
);

/// A JPEG of `side`×`side` flat grey: about 8 kB per megapixel.
pub fn compressible_jpeg(side: u32) -> String {
    // Grey: one channel, a few bits per 8×8 block.
    let image = image::GrayImage::from_pixel(side, side, image::Luma([120]));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Starts a passive session and uploads `frames` (`(image, timestamp_ms)`).
async fn upload_frames<A: Adapter>(fx: &Fixture<A>, frames: Vec<(String, i64)>) -> Reply {
    let started = fx.call("POST", "/v1/liveness/session", None).await;
    let started = started.assert_ok(200).clone();
    let id = started["session_id"].as_str().unwrap();
    let frames: Vec<Value> = frames
        .into_iter()
        .map(|(image, at)| json!({ "image": image, "timestamp_ms": at }))
        .collect();
    fx.call(
        "POST",
        &format!("/v1/liveness/session/{id}/frames"),
        Some(json!({ "nonce": started["challenge"]["nonce"], "frames": frames })),
    )
    .await
}

case!(
    /// Liveness uploads cost the server little however they are built: a
    /// burst that would decode to gigabytes is refused from its headers; the
    /// same picture sent twice in other encodings is a replay; client
    /// timestamps at the ends of `i64` are implausible, not a crash.
    liveness_abuse(fx) {
        passive(&fx).await;
        let bomb = compressible_jpeg(4096);
        let frames = (0..10).map(|i| (bomb.clone(), 1_000 + 100 * i)).collect();
        upload_frames(&fx, frames).await.assert_error(413, "PAYLOAD_TOO_LARGE");

        let obama = photo(crate::cases::OBAMA);
        let replayed = vec![
            (obama.clone(), 1_000),
            (format!("data:image/jpeg;base64,{obama}"), 1_400),
            (photo(crate::cases::OBAMA_2), 1_800),
        ];
        let judged = upload_frames(&fx, replayed).await;
        assert_eq!(judged.assert_ok(200)["is_live"], false, "{}", judged.body);

        // A live session keeps the frame as judged: camera-sized, whatever was sent.
        let live = live_session(&fx, &[]).await;
        let stored = fx
            .facegate
            .store()
            .liveness_session(&fx.tenant, &facegate_core::ids::LivenessSessionId::from_string(&live))
            .await
            .unwrap()
            .unwrap();
        let completion = stored.completion.unwrap();
        assert!(completion.reference_probe.is_some(), "the face as the check analysed it");
        let reference = completion.reference_image.unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(reference).unwrap();
        let (width, height) = image::load_from_memory(&bytes).unwrap().into_rgb8().dimensions();
        assert!(width.max(height) <= 1280, "{width}×{height}");

        let extremes = vec![
            (obama.clone(), i64::MIN),
            (photo(crate::cases::OBAMA_2), 0),
            (photo(crate::cases::OBAMA_3), i64::MAX),
        ];
        let judged = upload_frames(&fx, extremes).await;
        assert_eq!(judged.assert_ok(200)["is_live"], false, "{}", judged.body);
    }
);

case!(
    /// Deleting a user, or revoking their consent, also drops their face
    /// from liveness sessions not yet used: nothing of them is left to verify.
    biometric_leftovers(fx) {
        passive(&fx).await;
        for revoke_consent in [false, true] {
            let consent = fx.consent().await;
            let enrolled = fx
                .call("POST", "/v1/enroll", Some(json!({ "name": "B", "role": "user", "consent_id": consent, "face_image": photo(crate::cases::OBAMA) })))
                .await;
            let user = enrolled.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
            let waiting = live_session(&fx, &[]).await;
            if revoke_consent {
                fx.call("DELETE", &format!("/v1/consent/{consent}"), None).await.assert_ok(200);
            } else {
                fx.call("DELETE", &format!("/v1/users/{user}"), None).await.assert_ok(200);
            }
            let stored = fx
                .facegate
                .store()
                .liveness_session(&fx.tenant, &facegate_core::ids::LivenessSessionId::from_string(&waiting))
                .await
                .unwrap()
                .unwrap();
            let completion = stored.completion.unwrap();
            assert_eq!((completion.reference_image, completion.reference_probe), (None, None));
            fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": waiting }))).await
                .assert_error(403, "LIVENESS_FAILED");
        }
    }
);

case!(
    /// PIN tries are reserved in the database before the PIN is checked:
    /// eight parallel guesses on one ceremony get its three tries in all,
    /// and a user's wrong PINs across ceremonies lock them out (429), the
    /// right PIN too.
    pin_tries(fx) {
        passive(&fx).await;
        fx.settings(|s| {
            s.pin.mode = facegate_core::domain::PinMode::Always;
            s.pin.max_wrong_per_user = 4;
        })
        .await;
        let enrolled = fx
            .call("POST", "/v1/enroll", Some(json!({ "name": "B", "role": "user", "consent_id": fx.consent().await, "face_image": photo(crate::cases::OBAMA), "pin": "4711" })))
            .await;
        enrolled.assert_ok(201);
        let verify = |session: String, pin: String| {
            let fx = &fx;
            async move {
                fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": session, "pin": pin }))).await
            }
        };
        let session = live_session(&fx, &[]).await;
        let guesses = (0..8).map(|i| verify(session.clone(), format!("{}", 1000 + i)));
        let replies = futures_util::future::join_all(guesses).await;
        let count = |code: &str| replies.iter().filter(|r| r.body["code"] == code).count();
        assert_eq!((count("WRONG_PIN_CODE"), count("LIVENESS_SESSION_CONSUMED")), (3, 5));
        // A fourth wrong PIN on a new ceremony is the user's last in this window.
        let next = live_session(&fx, &[]).await;
        verify(next.clone(), "0000".into()).await.assert_error(401, "WRONG_PIN_CODE");
        let locked = verify(next, "4711".into()).await;
        locked.assert_error(429, "TOO_MANY_ATTEMPTS");
        assert!(locked.header("retry-after").is_some());
    }
);

case!(
    /// One camera upload makes one live session: the same frames sent to a
    /// second session are a replay. And a live session's face is probed a
    /// bounded number of times, PIN prompts included.
    replayed_uploads_and_probe_bounds(fx) {
        passive(&fx).await;
        let captured: Vec<(String, i64)> = [crate::cases::OBAMA, crate::cases::OBAMA_2, crate::cases::OBAMA_3]
            .iter()
            .enumerate()
            .map(|(i, path)| (camera_frame(path), 1_000 + 400 * i as i64))
            .collect();
        let first = upload_frames(&fx, captured.clone()).await;
        assert_eq!(first.assert_ok(200)["is_live"], true, "{}", first.body);
        let replayed = upload_frames(&fx, captured).await;
        assert_eq!(replayed.assert_ok(200)["is_live"], false, "{}", replayed.body);

        fx.settings(|s| s.pin.mode = facegate_core::domain::PinMode::Always).await;
        let enrolled = fx
            .call("POST", "/v1/enroll", Some(json!({ "name": "B", "role": "user", "consent_id": fx.consent().await, "face_image": photo(crate::cases::OBAMA), "pin": "4711" })))
            .await;
        enrolled.assert_ok(201);
        let session = live_session(&fx, &[]).await;
        for _ in 0..facegate_core::liveness::MAX_PROBES {
            fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": session }))).await
                .assert_error(401, "PIN_REQUIRED");
        }
        fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": session, "pin": "4711" }))).await
            .assert_error(400, "LIVENESS_SESSION_CONSUMED");
    }
);
