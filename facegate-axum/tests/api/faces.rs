//! Enroll, match, detect-attributes and re-enroll with the local engine on
//! real photos.

use base64::Engine as _;
use facegate_core::domain::TenantSettings;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, assert_error, photo};

const OBAMA: &str = "face_recognition/obama.jpg";
const OBAMA_2: &str = "face_recognition/obama2.jpg";
const OBAMA_3: &str = "face_recognition/obama3.jpg";
const BIDEN: &str = "face_recognition/biden.jpg";
const GROUP: &str = "face-api/sample1.jpg";

async fn enroll(app: &TestApp, name: &str, image: &str) -> Reply {
    let consent = app.consent().await;
    app.call(
        "POST",
        "/v1/enroll",
        Some(json!({
            "consent_id": consent, "name": name, "role": "guard", "face_image": photo(image),
            "email": "ada@example.com", "external_id": format!("emp-{name}"), "enrolled_with_glasses": true,
            "metadata": { "desk": 12 },
        })),
    )
    .await
}

async fn match_photo(app: &TestApp, image: &str) -> Reply {
    app.call("POST", "/v1/match", Some(json!({ "image": photo(image) })))
        .await
}

/// A 640×480 PNG of smooth colour: certainly no face.
fn blank_png() -> String {
    let image = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 90])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn an_enrolled_person_matches_on_other_photos_and_nobody_else_does() {
    let app = TestApp::with_face_engine().await;
    let enrolled = enroll(&app, "Barack", OBAMA).await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let user_id = enrolled.body["user_id"].as_str().unwrap().to_owned();
    let enrollment = &enrolled.body["enrollments"][0];
    assert!(enrollment["faceId"].as_str().unwrap().starts_with("face_"));
    assert_eq!(enrollment["angle"], "front");
    assert!(enrollment["confidence"].as_f64().unwrap() > 90.0);

    for other_photo in [OBAMA_2, OBAMA_3] {
        let reply = match_photo(&app, other_photo).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["matched"], true, "{other_photo}: {}", reply.body);
        assert!(reply.body["confidence"].as_f64().unwrap() >= 90.0);
        assert_eq!(
            reply.body["user"],
            json!({ "id": user_id, "name": "Barack", "role": "guard", "metadata": { "desk": 12 } })
        );
    }
    let stranger = match_photo(&app, BIDEN).await;
    assert_eq!(
        stranger.body,
        json!({ "matched": false, "confidence": 0.0, "user": null })
    );

    let profile = app.call("GET", &format!("/v1/users/{user_id}"), None).await;
    assert_eq!(profile.body["external_id"], "emp-Barack");
    assert_eq!(
        profile.body["enrollments"][0]["enrolled_with_glasses"],
        true
    );
}

#[tokio::test]
async fn another_tenants_faces_never_match() {
    let app = TestApp::with_face_engine().await;
    assert_eq!(enroll(&app, "Barack", OBAMA).await.status, 201);
    let (_, other_key) = app.other_tenant().await;
    let reply = app
        .call_as(
            &other_key,
            "POST",
            "/v1/match",
            Some(json!({ "image": photo(OBAMA_2) })),
        )
        .await;
    assert_eq!(reply.body["matched"], false);
}

#[tokio::test]
async fn enrolling_the_same_face_twice_is_409_unless_the_tenant_allows_it() {
    let app = TestApp::with_face_engine().await;
    assert_eq!(enroll(&app, "Barack", OBAMA).await.status, 201);
    let again = enroll(&app, "Barack again", OBAMA_2).await;
    assert_error(&again, 409, "USER_ALREADY_ENROLLED");
    let users = app.call("GET", "/v1/users", None).await;
    assert_eq!(
        users.body["users"].as_array().unwrap().len(),
        1,
        "the refused enrollment stored nothing"
    );

    let settings = TenantSettings {
        prevent_duplicates: false,
        ..TenantSettings::default()
    };
    app.facegate
        .set_tenant_settings(&app.tenant, &settings)
        .await
        .unwrap();
    assert_eq!(enroll(&app, "Barack again", OBAMA_2).await.status, 201);
}

#[tokio::test]
async fn the_minimum_age_rule_refuses_young_looking_faces() {
    let app = TestApp::with_face_engine().await;
    // The estimate for this photo is about 52; with the 5-year margin a
    // minimum of 60 refuses it and a minimum of 18 lets it through.
    let strict = TenantSettings {
        minimum_age: Some(60),
        ..TenantSettings::default()
    };
    app.facegate
        .set_tenant_settings(&app.tenant, &strict)
        .await
        .unwrap();
    assert_error(
        &enroll(&app, "Barack", OBAMA).await,
        403,
        "MINORS_NOT_ALLOWED",
    );

    let adult_only = TenantSettings {
        minimum_age: Some(18),
        ..TenantSettings::default()
    };
    app.facegate
        .set_tenant_settings(&app.tenant, &adult_only)
        .await
        .unwrap();
    assert_eq!(enroll(&app, "Barack", OBAMA).await.status, 201);
}

#[tokio::test]
async fn enrolling_needs_a_valid_unused_consent() {
    let app = TestApp::with_face_engine().await;
    let body = |consent: Value| json!({ "consent_id": consent, "name": "Barack", "role": "guard", "face_image": photo(OBAMA) });
    let missing = app
        .call("POST", "/v1/enroll", Some(body(Value::Null)))
        .await;
    assert_error(&missing, 400, "CONSENT_REQUIRED");
    let unknown = app
        .call(
            "POST",
            "/v1/enroll",
            Some(body(json!("00000000-0000-0000-0000-000000000000"))),
        )
        .await;
    assert_error(&unknown, 400, "INVALID_CONSENT");

    let revoked = app.consent().await;
    app.call("DELETE", &format!("/v1/consent/{revoked}"), None)
        .await;
    assert_error(
        &app.call("POST", "/v1/enroll", Some(body(json!(revoked))))
            .await,
        400,
        "INVALID_CONSENT",
    );

    let used = app.consent().await;
    assert_eq!(
        app.call("POST", "/v1/enroll", Some(body(json!(used))))
            .await
            .status,
        201
    );
    let reused = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "consent_id": used, "name": "Joe", "role": "guard", "face_image": photo(BIDEN) })),
        )
        .await;
    assert_error(&reused, 400, "INVALID_CONSENT");
}

#[tokio::test]
async fn enroll_validates_its_fields() {
    let app = TestApp::with_face_engine().await;
    let consent = app.consent().await;
    let no_image = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "consent_id": consent, "name": "A", "role": "r" })),
        )
        .await;
    assert_error(&no_image, 400, "VALIDATION_FAILED");
    let empty_name = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "consent_id": consent, "name": " ", "role": "r", "face_image": photo(OBAMA) })),
        )
        .await;
    assert_error(&empty_name, 400, "VALIDATION_FAILED");
    assert_eq!(empty_name.body["details"][0]["path"], json!(["name"]));
    let no_role = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "consent_id": consent, "name": "A", "face_image": "x" })),
        )
        .await;
    assert_error(&no_role, 400, "VALIDATION_FAILED");
}

#[tokio::test]
async fn images_without_exactly_one_face_are_refused() {
    let app = TestApp::with_face_engine().await;
    assert_error(&enroll(&app, "Crowd", GROUP).await, 422, "MANY_FACES");
    assert_error(&match_photo(&app, GROUP).await, 422, "MANY_FACES");
    let blank = app
        .call("POST", "/v1/match", Some(json!({ "image": blank_png() })))
        .await;
    assert_error(&blank, 422, "NO_FACE_DETECTED");
    for bad in ["%%% not base64 %%%", "aGVsbG8gd29ybGQ=", ""] {
        let reply = app
            .call("POST", "/v1/match", Some(json!({ "image": bad })))
            .await;
        assert_error(&reply, 400, "INVALID_IMAGE_FORMAT");
    }
    let with_prefix = app
        .call(
            "POST",
            "/v1/match",
            Some(json!({ "image": format!("data:image/jpeg;base64,{}", photo(OBAMA)) })),
        )
        .await;
    assert_eq!(with_prefix.status, 200);
}

#[tokio::test]
async fn image_routes_take_six_megabytes_and_no_more() {
    let app = TestApp::with_face_engine().await;
    let huge = "A".repeat(7 * 1024 * 1024);
    let reply = app
        .call("POST", "/v1/match", Some(json!({ "image": huge })))
        .await;
    assert_error(&reply, 413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn suspended_users_never_match() {
    let app = TestApp::with_face_engine().await;
    let user_id = enroll(&app, "Barack", OBAMA).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = format!("/v1/users/{user_id}/status");
    app.call("PATCH", &status, Some(json!({ "status": "suspended" })))
        .await;
    assert_eq!(match_photo(&app, OBAMA_2).await.body["matched"], false);
    app.call("PATCH", &status, Some(json!({ "status": "active" })))
        .await;
    assert_eq!(match_photo(&app, OBAMA_2).await.body["matched"], true);
}

#[tokio::test]
async fn the_index_survives_a_restart_and_deletion_is_immediate_and_lasting() {
    let app = TestApp::with_face_engine().await;
    let barack = enroll(&app, "Barack", OBAMA).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let joe = enroll(&app, "Joe", BIDEN).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let restarted = app.restarted();
    assert_eq!(
        match_photo(&restarted, OBAMA_2).await.body["user"]["id"],
        barack.as_str()
    );

    assert_eq!(
        restarted
            .call("DELETE", &format!("/v1/users/{barack}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        match_photo(&restarted, OBAMA_2).await.body["matched"],
        false
    );
    assert_eq!(
        match_photo(&restarted, BIDEN).await.body["user"]["id"],
        joe.as_str()
    );

    let again = restarted.restarted();
    assert_eq!(match_photo(&again, OBAMA_2).await.body["matched"], false);
    assert_eq!(
        match_photo(&again, BIDEN).await.body["user"]["id"],
        joe.as_str()
    );
}

#[tokio::test]
async fn revoking_consent_removes_the_face_from_search() {
    let app = TestApp::with_face_engine().await;
    let consent = app.consent().await;
    let enrolled = app
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "consent_id": consent, "name": "Barack", "role": "guard", "face_image": photo(OBAMA) })),
        )
        .await;
    assert_eq!(enrolled.status, 201);
    let revoked = app
        .call("DELETE", &format!("/v1/consent/{consent}"), None)
        .await;
    assert_eq!(revoked.body["user_deleted"], true);
    assert_eq!(match_photo(&app, OBAMA_2).await.body["matched"], false);
    assert_eq!(
        match_photo(&app.restarted(), OBAMA_2).await.body["matched"],
        false
    );
}

#[tokio::test]
async fn re_enroll_replaces_faces_only_when_the_new_one_is_good() {
    let app = TestApp::with_face_engine().await;
    let enrolled = enroll(&app, "Barack", OBAMA).await;
    let user_id = enrolled.body["user_id"].as_str().unwrap().to_owned();
    let old_face = enrolled.body["enrollments"][0]["faceId"].clone();
    let path = format!("/v1/users/{user_id}/re-enroll");

    // A bad photo changes nothing.
    let failed = app
        .call("POST", &path, Some(json!({ "face_image": photo(GROUP) })))
        .await;
    assert_error(&failed, 422, "MANY_FACES");
    assert_eq!(
        match_photo(&app, OBAMA_2).await.body["user"]["id"],
        user_id.as_str()
    );
    let profile = app.call("GET", &format!("/v1/users/{user_id}"), None).await;
    assert_eq!(profile.body["enrollments"][0]["faceId"], old_face);

    // Another enrolled person's face is refused.
    enroll(&app, "Joe", BIDEN).await;
    let stolen = app
        .call("POST", &path, Some(json!({ "face_image": photo(BIDEN) })))
        .await;
    assert_error(&stolen, 409, "USER_ALREADY_ENROLLED");

    // A good photo of the same person replaces the old face.
    let replaced = app
        .call("POST", &path, Some(json!({ "face_image": photo(OBAMA_3) })))
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let new_face = &replaced.body["enrollments"][0]["faceId"];
    assert_ne!(*new_face, old_face);
    let profile = app.call("GET", &format!("/v1/users/{user_id}"), None).await;
    assert_eq!(profile.body["face_count"], 1);
    assert_eq!(profile.body["enrollments"][0]["faceId"], *new_face);
    assert_eq!(
        match_photo(&app, OBAMA_2).await.body["user"]["id"],
        user_id.as_str()
    );
    assert_eq!(
        match_photo(&app.restarted(), OBAMA_2).await.body["user"]["id"],
        user_id.as_str()
    );

    let unknown = app
        .call(
            "POST",
            "/v1/users/user_nobody/re-enroll",
            Some(json!({ "face_image": photo(OBAMA) })),
        )
        .await;
    assert_error(&unknown, 404, "USER_NOT_FOUND");
}

#[tokio::test]
async fn detect_attributes_describes_every_face() {
    let app = TestApp::with_face_engine().await;
    let reply = app
        .call(
            "POST",
            "/v1/detect-attributes",
            Some(json!({ "image": photo(GROUP) })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let faces = reply.body["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 3);
    let face = &faces[0];
    assert!(face["bounding_box"]["width"].as_f64().unwrap() > 80.0);
    assert!(face["confidence"].as_f64().unwrap() > 90.0);
    let attributes = &face["attributes"];
    assert_eq!(attributes["landmarks"].as_array().unwrap().len(), 68);
    for key in ["yaw", "pitch", "roll"] {
        assert!(attributes["pose"][key].is_number(), "{key}");
    }
    assert!(attributes["eyes_open"]["left"].is_boolean());
    // In this photo one woman looks down with her eyes almost shut; the others look at the camera.
    let open: Vec<bool> = faces
        .iter()
        .map(|f| f["attributes"]["eyes_open"]["right"].as_bool().unwrap())
        .collect();
    assert_eq!(open, vec![false, true, true]);
    assert!(attributes["sharpness"].as_f64().unwrap() > 0.0);
    assert!(attributes["brightness"].as_f64().unwrap() > 0.0);
    assert!(
        attributes["age_range"]["low"].as_f64().unwrap()
            < attributes["age_range"]["high"].as_f64().unwrap()
    );
    assert!(["male", "female"].contains(&attributes["gender"]["value"].as_str().unwrap()));
    assert!((0.0..=100.0).contains(&attributes["anti_spoof_score"].as_f64().unwrap()));

    let blank = app
        .call(
            "POST",
            "/v1/detect-attributes",
            Some(json!({ "image": blank_png() })),
        )
        .await;
    assert_error(&blank, 400, "NO_FACE_DETECTED");
    assert_eq!(blank.body["error"], "No face detected in image");
}

#[tokio::test]
async fn face_routes_without_an_engine_say_so() {
    let app = TestApp::new().await;
    let reply = app
        .call("POST", "/v1/match", Some(json!({ "image": photo(OBAMA) })))
        .await;
    assert_error(&reply, 503, "FACE_ENGINE_UNAVAILABLE");
}
