use serde_json::json;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn list_shows_the_tenants_users_with_face_counts() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 2).await;
    let bob = app.seed_user(&app.tenant, "Bob", 0).await;
    let (other, _) = app.other_tenant().await;
    app.seed_user(&other, "Eve", 1).await;

    let reply = app.call("GET", "/v1/users", None).await;
    assert_eq!(reply.status, 200);
    let users = reply.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "only this tenant's users: {users:?}");
    assert_eq!(users[0]["id"], ada.id.as_str());
    assert_eq!(users[0]["name"], "Ada");
    assert_eq!(users[0]["role"], "guard");
    assert_eq!(users[0]["email"], "ada@example.com");
    assert_eq!(users[0]["status"], "active");
    assert_eq!(users[0]["face_count"], 2);
    assert!(users[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(users[1]["id"], bob.id.as_str());
    assert_eq!(users[1]["face_count"], 0);
    assert!(reply.body["next_cursor"].is_null());
}

#[tokio::test]
async fn list_pages_with_a_cursor() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        ids.push(app.seed_user(&app.tenant, name, 1).await.id);
    }
    let first = app.call("GET", "/v1/users?limit=2", None).await;
    let names: Vec<_> = first.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("A"), json!("B")]);
    assert_eq!(first.body["next_cursor"], ids[1].as_str());

    let second = app
        .call("GET", &format!("/v1/users?limit=2&cursor={}", ids[1]), None)
        .await;
    let users = second.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["name"], "C");
    assert!(second.body["next_cursor"].is_null());

    for bad in ["limit=0", "limit=1001", "limit=many"] {
        let reply = app.call("GET", &format!("/v1/users?{bad}"), None).await;
        assert_error(&reply, 400, "VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn get_shows_profile_and_enrollments() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 2).await;
    let reply = app
        .call("GET", &format!("/v1/users/{}", ada.id), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["id"], ada.id.as_str());
    assert_eq!(reply.body["phone"], "+15550100");
    assert_eq!(reply.body["metadata"], json!({ "team": "blue" }));
    assert_eq!(reply.body["face_count"], 2);
    let enrollments = reply.body["enrollments"].as_array().unwrap();
    assert_eq!(enrollments.len(), 2);
    assert!(
        enrollments[0]["faceId"]
            .as_str()
            .unwrap()
            .starts_with("face_")
    );
    assert_eq!(enrollments[0]["angle"], "front");
    assert!(enrollments[0]["confidence"].as_f64().unwrap() > 99.0);
    assert!(
        enrollments[0].get("template").is_none(),
        "templates never leave the server"
    );
}

#[tokio::test]
async fn another_tenants_user_is_invisible() {
    let app = TestApp::new().await;
    let (other, other_key) = app.other_tenant().await;
    let eve = app.seed_user(&other, "Eve", 1).await;
    let path = format!("/v1/users/{}", eve.id);
    assert_error(&app.call("GET", &path, None).await, 404, "USER_NOT_FOUND");
    assert_error(
        &app.call("DELETE", &path, None).await,
        404,
        "USER_NOT_FOUND",
    );
    assert_error(
        &app.call(
            "PATCH",
            &format!("{path}/status"),
            Some(json!({ "status": "suspended" })),
        )
        .await,
        404,
        "USER_NOT_FOUND",
    );
    // Untouched for its own tenant.
    let own = app.call_as(&other_key, "GET", &path, None).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["status"], "active");
    assert_eq!(own.body["face_count"], 1);
}

#[tokio::test]
async fn delete_removes_the_user_and_all_face_data() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 2).await;
    let keep = app.seed_user(&app.tenant, "Bob", 1).await;
    let path = format!("/v1/users/{}", ada.id);

    let reply = app
        .call("DELETE", &format!("{path}?reason=tenant_request"), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user_id"], json!(ada.id));
    assert_eq!(reply.body["reason"], "tenant_request");
    assert_eq!(
        reply.body["deleted"],
        json!({ "faces": 2, "liveness_images": 0, "sessions": 0, "refresh_tokens": 0, "provider_faces": 0 })
    );
    let receipt_id = reply.body["receipt_id"].as_str().unwrap();
    assert!(receipt_id.starts_with("del_"), "{}", reply.body);
    assert_eq!(
        reply.body["receipt"].as_str().unwrap().split('.').count(),
        3
    );
    let checked = app
        .call("GET", &format!("/v1/deletions/{receipt_id}"), None)
        .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert_eq!(checked.body["verified"], true, "{}", checked.body);
    assert_eq!(checked.body["receipt"], reply.body["receipt"]);

    assert_error(&app.call("GET", &path, None).await, 404, "USER_NOT_FOUND");
    assert_error(
        &app.call("DELETE", &path, None).await,
        404,
        "USER_NOT_FOUND",
    );
    let faces = app
        .facegate
        .store()
        .faces_of_tenant(&app.tenant)
        .await
        .unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0].user_id, keep.id);
}

#[tokio::test]
async fn delete_reason_defaults_to_user_request_and_is_validated() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 1).await;
    let path = format!("/v1/users/{}", ada.id);
    assert_error(
        &app.call("DELETE", &format!("{path}?reason=because"), None)
            .await,
        400,
        "VALIDATION_FAILED",
    );
    assert_eq!(
        app.call("GET", &path, None).await.status,
        200,
        "a rejected delete deletes nothing"
    );
    let reply = app.call("DELETE", &path, None).await;
    assert_eq!(reply.body["reason"], "user_request");
}

#[tokio::test]
async fn status_can_be_set_to_each_value() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 1).await;
    let path = format!("/v1/users/{}/status", ada.id);
    for status in ["suspended", "locked", "active"] {
        let reply = app
            .call("PATCH", &path, Some(json!({ "status": status })))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], status);
        assert_eq!(reply.body["id"], ada.id.as_str());
        let fetched = app
            .call("GET", &format!("/v1/users/{}", ada.id), None)
            .await;
        assert_eq!(fetched.body["status"], status);
    }
}

#[tokio::test]
async fn invalid_status_is_a_validation_error() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 1).await;
    let path = format!("/v1/users/{}/status", ada.id);
    let reply = app
        .call("PATCH", &path, Some(json!({ "status": "banished" })))
        .await;
    assert_error(&reply, 400, "VALIDATION_FAILED");
    assert_eq!(reply.body["details"][0]["path"], json!(["status"]));
    let missing = app.call("PATCH", &path, Some(json!({}))).await;
    assert_error(&missing, 400, "VALIDATION_FAILED");
    let unknown = app
        .call(
            "PATCH",
            "/v1/users/user_nobody/status",
            Some(json!({ "status": "active" })),
        )
        .await;
    assert_error(&unknown, 404, "USER_NOT_FOUND");
}
