//! FACEIO's PIN: chosen at enrollment, asked at verify when the tenant
//! says so, three tries per liveness session.

use facegate_core::domain::{LivenessMode, PinMode};
use serde_json::json;

use crate::liveness::{live_session, verify};
use crate::support::{TestApp, assert_error, photo};

const OBAMA: &str = "face_recognition/obama.jpg";
const BIDEN: &str = "face_recognition/biden.jpg";
const OBAMA_RIGHT: &str = "face_recognition/obama2.jpg";

async fn pin_app(mode: PinMode, unique: bool) -> TestApp {
    let app = TestApp::with_face_engine().await;
    app.settings(|s| {
        s.liveness.mode = LivenessMode::Passive;
        s.pin.mode = mode;
        s.pin.unique = unique;
    })
    .await;
    app
}

/// Enrolls a photo (no ceremony needed) with a PIN.
async fn enroll_photo(app: &TestApp, image: &str, pin: &str) -> crate::support::Reply {
    let body = json!({ "name": "P", "role": "guard", "consent_id": app.consent().await,
                       "face_image": photo(image), "pin": pin });
    app.call("POST", "/v1/enroll", Some(body)).await
}

async fn verify_with_pin(app: &TestApp, session: &str, pin: &str) -> crate::support::Reply {
    app.call(
        "POST",
        "/v1/verify",
        Some(json!({ "liveness_session_id": session, "pin": pin })),
    )
    .await
}

#[tokio::test]
async fn a_pin_confirms_the_face_and_three_wrong_ones_spend_the_session() {
    let app = pin_app(PinMode::Always, false).await;
    let enrolled = enroll_photo(&app, OBAMA, "4711").await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let user_id = enrolled.body["user_id"].clone();
    // FACEIO's enrollment details: the engine's age and gender estimates.
    assert!(enrolled.body["details"]["age"].as_f64().unwrap() > 18.0);
    // The estimate itself is the model's (obama.jpg sits near its boundary).
    let gender = enrolled.body["details"]["gender"].as_str().unwrap();
    assert!(["male", "female"].contains(&gender), "{gender}");

    // The face matches, the PIN must confirm it; the session survives the prompt.
    let session = live_session(&app, &[]).await;
    assert_error(&verify(&app, &session, &[]).await, 401, "PIN_REQUIRED");
    let wrong = verify_with_pin(&app, &session, "0000").await;
    assert_error(&wrong, 401, "WRONG_PIN_CODE");
    assert_eq!(wrong.body["attempts_remaining"], 2);
    assert_error(
        &verify_with_pin(&app, &session, "12").await,
        400,
        "VALIDATION_FAILED",
    );
    let right = verify_with_pin(&app, &session, "4711").await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.body["matched"], true);
    assert_eq!(right.body["user"]["id"], user_id);
    assert_error(
        &verify_with_pin(&app, &session, "4711").await,
        400,
        "LIVENESS_SESSION_CONSUMED",
    );

    // Three wrong PINs: the session is spent, even for the right PIN after.
    let session = live_session(&app, &[]).await;
    for remaining in [2, 1, 0] {
        let wrong = verify_with_pin(&app, &session, "1111").await;
        assert_error(&wrong, 401, "WRONG_PIN_CODE");
        assert_eq!(wrong.body["attempts_remaining"], remaining);
    }
    assert_error(
        &verify_with_pin(&app, &session, "4711").await,
        400,
        "LIVENESS_SESSION_CONSUMED",
    );
}

#[tokio::test]
async fn enrollment_asks_for_a_pin_without_spending_the_session() {
    let app = pin_app(PinMode::Always, true).await;
    let session = live_session(&app, &[]).await;
    let enroll = |consent_id: String, pin: Option<&str>| {
        let mut body = json!({ "name": "P", "role": "guard", "consent_id": consent_id,
                               "liveness_session_id": session });
        if let Some(pin) = pin {
            body["pin"] = json!(pin);
        }
        body
    };
    let missing = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, None)),
        )
        .await;
    assert_error(&missing, 400, "PIN_REQUIRED");
    for bad in ["123", "12345678901234567", "12a4"] {
        let refused = app
            .call(
                "POST",
                "/v1/enroll",
                Some(enroll(app.consent().await, Some(bad))),
            )
            .await;
        assert_error(&refused, 400, "VALIDATION_FAILED");
    }

    // Another user holds 2024: the uniqueness option refuses it.
    let first = enroll_photo(&app, BIDEN, "2024").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let taken = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, Some("2024"))),
        )
        .await;
    assert_error(&taken, 409, "UNIQUE_PIN_REQUIRED");

    // The same ceremony still enrolls, with a free PIN.
    let enrolled = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, Some("2025"))),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let stored = app
        .facegate
        .store()
        .user(
            &app.tenant,
            &facegate_core::ids::UserId::from_string(enrolled.body["user_id"].as_str().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
    let hash = stored.pin_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("2025"),
        "{hash}"
    );
}

#[tokio::test]
async fn a_clear_match_needs_no_pin_unless_the_tenant_always_asks() {
    let app = pin_app(PinMode::WhenAmbiguous, false).await;
    let enrolled = enroll_photo(&app, OBAMA, "4711").await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let session = live_session(&app, &[]).await;
    let verified = verify(&app, &session, &[]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["matched"], true);

    // With the threshold raised to just under this match, it is ambiguous.
    let confidence = verified.body["confidence"].as_f64().unwrap() as f32;
    app.settings(|s| s.match_threshold = confidence - 1.0).await;
    let session = live_session(&app, &[]).await;
    assert_error(&verify(&app, &session, &[]).await, 401, "PIN_REQUIRED");
    assert_eq!(verify_with_pin(&app, &session, "4711").await.status, 200);

    // PINs off: one sent at enrollment is refused, none is asked at verify.
    app.settings(|s| {
        s.pin.mode = PinMode::Off;
        s.match_threshold = 90.0;
    })
    .await;
    let refused = enroll_photo(&app, BIDEN, "1234").await;
    assert_error(&refused, 400, "VALIDATION_FAILED");
    let session = live_session(&app, &[]).await;
    assert_eq!(verify(&app, &session, &[]).await.status, 200);
}

#[tokio::test]
async fn three_wrong_pins_count_towards_the_lockout() {
    let app = pin_app(PinMode::Always, false).await;
    app.settings(|s| {
        s.liveness.lockout_minutes = 30;
        // The per-user PIN limit is the next test's.
        s.pin.max_wrong_per_user = 100;
    })
    .await;
    let enrolled = enroll_photo(&app, OBAMA, "4711").await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    // Five sessions spent on wrong PINs lock out the device, and the user
    // the frames showed (on any device).
    let device = [("x-device-id", "guessing-phone")];
    for _ in 0..5 {
        let session = live_session(&app, &device).await;
        for _ in 0..3 {
            assert_error(
                &verify_with_pin(&app, &session, "0000").await,
                401,
                "WRONG_PIN_CODE",
            );
        }
    }
    let locked = app
        .call_with("POST", "/v1/liveness/session", None, &device)
        .await;
    assert_error(&locked, 429, "TOO_MANY_ATTEMPTS");
    let elsewhere = live_session(&app, &[("x-device-id", "other-phone")]).await;
    assert_error(
        &verify_with_pin(&app, &elsewhere, "4711").await,
        429,
        "TOO_MANY_ATTEMPTS",
    );
}

#[tokio::test]
async fn two_people_matching_is_ambiguous_and_the_pin_says_who_it_is() {
    let app = pin_app(PinMode::WhenAmbiguous, true).await;
    // Two enrollments of one face stand in for twins.
    app.settings(|s| s.prevent_duplicates = false).await;
    let first = enroll_photo(&app, OBAMA, "1111").await;
    let twin = enroll_photo(&app, OBAMA_RIGHT, "2222").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(twin.status, 201, "{}", twin.body);

    for (pin, who) in [("2222", &twin), ("1111", &first)] {
        let session = live_session(&app, &[]).await;
        assert_error(&verify(&app, &session, &[]).await, 401, "PIN_REQUIRED");
        let wrong = verify_with_pin(&app, &session, "3333").await;
        assert_error(&wrong, 401, "WRONG_PIN_CODE");
        let confirmed = verify_with_pin(&app, &session, pin).await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        assert_eq!(
            confirmed.body["user"]["id"], who.body["user_id"],
            "PIN {pin}"
        );
    }
}

#[tokio::test]
async fn without_pins_an_ambiguous_match_stands_on_the_face() {
    let app = pin_app(PinMode::WhenAmbiguous, false).await;
    app.settings(|s| s.prevent_duplicates = false).await;
    for image in [OBAMA, OBAMA_RIGHT] {
        let body = json!({ "name": "P", "role": "guard", "consent_id": app.consent().await,
                           "face_image": photo(image) });
        assert_eq!(app.call("POST", "/v1/enroll", Some(body)).await.status, 201);
    }
    let session = live_session(&app, &[]).await;
    let verified = verify(&app, &session, &[]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["matched"], true);
}

/// Every wrong PIN counts against the user, whatever the session or device:
/// after the tenant's maximum the user is locked out, the right PIN too.
#[tokio::test]
async fn wrong_pins_count_against_the_user_across_sessions_and_devices() {
    let app = pin_app(PinMode::Always, false).await;
    app.settings(|s| s.pin.max_wrong_per_user = 4).await;
    assert_eq!(enroll_photo(&app, OBAMA, "4711").await.status, 201);
    for device in ["phone-a", "phone-b"] {
        let session = live_session(&app, &[("x-device-id", device)]).await;
        for _ in 0..2 {
            assert_error(
                &verify_with_pin(&app, &session, "0000").await,
                401,
                "WRONG_PIN_CODE",
            );
        }
    }
    let third = live_session(&app, &[("x-device-id", "phone-c")]).await;
    let locked = verify_with_pin(&app, &third, "4711").await;
    assert_error(&locked, 429, "TOO_MANY_ATTEMPTS");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 25 * 60, "{retry_after}");
}

/// Parallel verifies on one session cannot test more than its three PINs:
/// each try is reserved in the database before the PIN is hashed.
#[tokio::test]
async fn parallel_guesses_on_one_session_get_three_tries_in_all() {
    let app = pin_app(PinMode::Always, false).await;
    assert_eq!(enroll_photo(&app, OBAMA, "4711").await.status, 201);
    let session = live_session(&app, &[]).await;
    let guesses = (0..8).map(|i| {
        let app = &app;
        let session = &session;
        async move { verify_with_pin(app, session, &format!("{:04}", 1000 + i)).await }
    });
    let replies = futures_util::future::join_all(guesses).await;
    let wrong = replies
        .iter()
        .filter(|r| r.body["code"] == "WRONG_PIN_CODE")
        .count();
    let spent = replies
        .iter()
        .filter(|r| r.body["code"] == "LIVENESS_SESSION_CONSUMED")
        .count();
    assert_eq!(
        (wrong, spent),
        (3, 5),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_error(
        &verify_with_pin(&app, &session, "4711").await,
        400,
        "LIVENESS_SESSION_CONSUMED",
    );
}

/// With unique PINs, "taken" says someone has that PIN: each check is a try
/// of the ceremony, so one live session cannot list the PINs in use.
#[tokio::test]
async fn the_unique_pin_check_is_not_an_oracle() {
    let app = pin_app(PinMode::Always, true).await;
    assert_eq!(enroll_photo(&app, BIDEN, "2024").await.status, 201);
    let session = live_session(&app, &[]).await;
    let enroll = |consent_id: String, pin: &str| {
        json!({ "name": "P", "role": "guard", "consent_id": consent_id,
                "liveness_session_id": session, "pin": pin })
    };
    for _ in 0..3 {
        let taken = app
            .call(
                "POST",
                "/v1/enroll",
                Some(enroll(app.consent().await, "2024")),
            )
            .await;
        assert_error(&taken, 409, "UNIQUE_PIN_REQUIRED");
    }
    let spent = app
        .call(
            "POST",
            "/v1/enroll",
            Some(enroll(app.consent().await, "1999")),
        )
        .await;
    assert_error(&spent, 400, "LIVENESS_SESSION_CONSUMED");
}

/// A PIN is compared with the best match and the runner-up: both are
/// charged for a wrong one, so a look-alike cannot guess a victim's PIN
/// against the victim's own counter never moving.
#[tokio::test]
async fn wrong_pins_are_charged_to_every_candidate() {
    let app = pin_app(PinMode::WhenAmbiguous, false).await;
    app.settings(|s| {
        s.prevent_duplicates = false;
        s.pin.max_wrong_per_user = 2;
    })
    .await;
    // Two people enrolled from photos of one face: every match is ambiguous.
    assert_eq!(enroll_photo(&app, OBAMA, "1111").await.status, 201);
    assert_eq!(enroll_photo(&app, OBAMA_RIGHT, "2222").await.status, 201);
    for device in ["a", "b"] {
        let session = live_session(&app, &[("x-device-id", device)]).await;
        assert_error(
            &verify_with_pin(&app, &session, "0000").await,
            401,
            "WRONG_PIN_CODE",
        );
    }
    // Both are out of tries now, whichever of them the face matched best.
    for pin in ["1111", "2222"] {
        let session = live_session(&app, &[("x-device-id", "c")]).await;
        assert_error(
            &verify_with_pin(&app, &session, pin).await,
            429,
            "TOO_MANY_ATTEMPTS",
        );
    }
}
