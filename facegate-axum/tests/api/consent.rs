use serde_json::json;

use crate::support::{CONSENT_TEXT, TestApp, assert_error};

#[tokio::test]
async fn versions_list_the_registered_text_and_hash() {
    let app = TestApp::new().await;
    let reply = app.call("GET", "/v1/consent/versions", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["versions"],
        json!([{ "consent_version": "v1", "text": CONSENT_TEXT, "consent_text_hash": app.consent_hash() }])
    );
}

#[tokio::test]
async fn recording_consent_returns_its_id_and_time() {
    let app = TestApp::new().await;
    let reply = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v1", "consent_text_hash": app.consent_hash() })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["consent_id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a hyphenated UUID: {id}");
    let at = reply.body["consented_at"].as_str().unwrap();
    assert!(
        at.ends_with('Z') && at.len() == "2026-05-01T12:00:00.000Z".len(),
        "{at}"
    );
}

#[tokio::test]
async fn consent_can_link_an_existing_user_of_the_tenant_only() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 1).await;
    let body = |user: &str| json!({ "consent_version": "v1", "consent_text_hash": app.consent_hash(), "user_id": user });
    let linked = app
        .call("POST", "/v1/consent", Some(body(ada.id.as_str())))
        .await;
    assert_eq!(linked.status, 201);

    let (other, _) = app.other_tenant().await;
    let stranger = app.seed_user(&other, "Eve", 1).await;
    let reply = app
        .call("POST", "/v1/consent", Some(body(stranger.id.as_str())))
        .await;
    assert_error(&reply, 404, "USER_NOT_FOUND");
}

#[tokio::test]
async fn wrong_hash_or_unknown_version_is_400() {
    let app = TestApp::new().await;
    let reply = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v1", "consent_text_hash": "0".repeat(64) })),
        )
        .await;
    assert_error(&reply, 400, "CONSENT_HASH_MISMATCH");
    let reply = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v9", "consent_text_hash": app.consent_hash() })),
        )
        .await;
    assert_error(&reply, 400, "INVALID_CONSENT_VERSION");
}

#[tokio::test]
async fn missing_fields_are_validation_errors_with_details() {
    let app = TestApp::new().await;
    let reply = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v1" })),
        )
        .await;
    assert_error(&reply, 400, "VALIDATION_FAILED");
    let details = reply.body["details"].as_array().unwrap();
    assert!(
        details[0]["message"]
            .as_str()
            .unwrap()
            .contains("consent_text_hash")
    );

    let reply = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": 1, "consent_text_hash": "x" })),
        )
        .await;
    assert_error(&reply, 400, "VALIDATION_FAILED");
    assert_eq!(reply.body["details"][0]["path"], json!(["consent_version"]));
}

#[tokio::test]
async fn revoking_linked_consent_deletes_the_user_and_faces() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 2).await;
    let recorded = app
        .call(
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v1", "consent_text_hash": app.consent_hash(), "user_id": ada.id })),
        )
        .await;
    let id = recorded.body["consent_id"].as_str().unwrap().to_owned();

    let revoked = app.call("DELETE", &format!("/v1/consent/{id}"), None).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["revoked"], true);
    assert_eq!(revoked.body["user_deleted"], true);
    assert!(revoked.body["revoked_at"].as_str().unwrap().ends_with('Z'));

    assert_error(
        &app.call("GET", &format!("/v1/users/{}", ada.id), None)
            .await,
        404,
        "USER_NOT_FOUND",
    );
    let faces = app
        .facegate
        .store()
        .faces_of_tenant(&app.tenant)
        .await
        .unwrap();
    assert!(faces.is_empty(), "no face data survives: {faces:?}");

    // Revoking again reports the first revocation and deletes nothing more.
    let again = app.call("DELETE", &format!("/v1/consent/{id}"), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
    assert_eq!(again.body["user_deleted"], false);
}

#[tokio::test]
async fn revoking_unlinked_consent_deletes_nobody() {
    let app = TestApp::new().await;
    let bystander = app.seed_user(&app.tenant, "Bob", 1).await;
    let consent = app.consent().await;
    let id = consent.as_str();
    let revoked = app.call("DELETE", &format!("/v1/consent/{id}"), None).await;
    assert_eq!(revoked.body["user_deleted"], false);
    assert_eq!(
        app.call("GET", &format!("/v1/users/{}", bystander.id), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unknown_or_foreign_consent_is_404() {
    let app = TestApp::new().await;
    assert_error(
        &app.call(
            "DELETE",
            "/v1/consent/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await,
        404,
        "CONSENT_NOT_FOUND",
    );
    let consent = app.consent().await;
    let id = consent.as_str();
    let (_, other_key) = app.other_tenant().await;
    let reply = app
        .call_as(&other_key, "DELETE", &format!("/v1/consent/{id}"), None)
        .await;
    assert_error(&reply, 404, "CONSENT_NOT_FOUND");
    // Still there for its owner.
    let own = app.call("DELETE", &format!("/v1/consent/{id}"), None).await;
    assert_eq!(own.status, 200);
}
