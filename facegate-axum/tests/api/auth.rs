use facegate_core::domain::{KeyEnvironment, TenantStatus};

use crate::support::{TestApp, assert_error, json_body, request};

async fn get_users_with(app: &TestApp, header: Option<(&str, String)>) -> crate::support::Reply {
    let mut builder = request("GET", "/v1/users");
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    app.send(builder.body(json_body(None)).unwrap()).await
}

#[tokio::test]
async fn bearer_and_x_api_key_both_authenticate() {
    let app = TestApp::new().await;
    let bearer = get_users_with(&app, Some(("authorization", format!("Bearer {}", app.key)))).await;
    assert_eq!(bearer.status, 200);
    let header = get_users_with(&app, Some(("x-api-key", app.key.clone()))).await;
    assert_eq!(header.status, 200);
}

#[tokio::test]
async fn missing_key_is_401() {
    let app = TestApp::new().await;
    assert_error(&get_users_with(&app, None).await, 401, "MISSING_API_KEY");
    // Another scheme is no key at all.
    let basic = get_users_with(&app, Some(("authorization", "Basic YWRhOmd1YXJk".into()))).await;
    assert_error(&basic, 401, "MISSING_API_KEY");
}

#[tokio::test]
async fn malformed_key_is_401() {
    let app = TestApp::new().await;
    for bad in [
        "fg_live_",
        "sk_live_0123456789abcdef",
        "fg_test_not-base62-at-all!",
        "Bearer",
    ] {
        let reply = get_users_with(&app, Some(("authorization", format!("Bearer {bad}")))).await;
        assert_error(&reply, 401, "INVALID_API_KEY");
    }
}

#[tokio::test]
async fn unknown_key_is_401() {
    let app = TestApp::new().await;
    // Same lookup prefix as the real key, different secret.
    let mut forged = app.key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    let reply = get_users_with(&app, Some(("authorization", format!("Bearer {forged}")))).await;
    assert_error(&reply, 401, "INVALID_API_KEY");
    let fresh = facegate_core::api_key::ApiKey::generate(
        KeyEnvironment::Live,
        facegate_core::domain::KeyScope::Server,
    );
    let reply = get_users_with(&app, Some(("x-api-key", fresh.expose_secret().into()))).await;
    assert_error(&reply, 401, "INVALID_API_KEY");
}

#[tokio::test]
async fn revoked_key_is_401() {
    let app = TestApp::new().await;
    let keys = app.facegate.store().api_keys(&app.tenant).await.unwrap();
    app.facegate
        .revoke_api_key(&app.tenant, &keys[0].id)
        .await
        .unwrap();
    assert_error(
        &app.call("GET", "/v1/users", None).await,
        401,
        "INVALID_API_KEY",
    );
}

#[tokio::test]
async fn suspended_tenant_is_403_and_reactivation_restores_access() {
    let app = TestApp::new().await;
    app.facegate
        .set_tenant_status(&app.tenant, TenantStatus::Suspended)
        .await
        .unwrap();
    assert_error(
        &app.call("GET", "/v1/users", None).await,
        403,
        "TENANT_SUSPENDED",
    );
    app.facegate
        .set_tenant_status(&app.tenant, TenantStatus::Active)
        .await
        .unwrap();
    assert_eq!(app.call("GET", "/v1/users", None).await.status, 200);
}

#[tokio::test]
async fn bootstrap_key_creates_its_tenant_once() {
    let app = TestApp::new().await;
    let key = "fg_test_bootstrapDemoKey0001";
    let first = app.facegate.ensure_api_key(key, "dev").await.unwrap();
    let again = app.facegate.ensure_api_key(key, "dev").await.unwrap();
    assert_eq!(first, again);
    let reply = get_users_with(&app, Some(("x-api-key", key.into()))).await;
    assert_eq!(reply.status, 200);
    assert!(
        app.facegate
            .ensure_api_key("fg_test_short", "dev")
            .await
            .is_err()
    );
}

/// A revoked bootstrap key stays revoked: restarting with the same
/// `FACEGATE_BOOTSTRAP_API_KEY` must not bring it (or a tenant for it) back.
#[tokio::test]
async fn a_revoked_bootstrap_key_is_not_recreated() {
    let app = TestApp::new().await;
    let key = "fg_test_bootstrapDemoKey0002";
    let tenant = app.facegate.ensure_api_key(key, "dev").await.unwrap();
    let record = app.facegate.store().api_keys(&tenant).await.unwrap()[0].clone();
    app.facegate
        .revoke_api_key(&tenant, &record.id)
        .await
        .unwrap();
    assert!(matches!(
        app.facegate.ensure_api_key(key, "dev").await,
        Err(facegate_core::AdminError::KeyRevoked(id)) if id == record.id
    ));
    let reply = get_users_with(&app, Some(("x-api-key", key.into()))).await;
    assert_error(&reply, 401, "INVALID_API_KEY");
}

/// The stored prefix shows no secret characters of a short key, and a few
/// of a minted one; keys are found by hash, never by that prefix.
#[tokio::test]
async fn stored_prefixes_hide_short_secrets() {
    let app = TestApp::new().await;
    let tenant = app
        .facegate
        .ensure_api_key("fg_test_bootstrapDemoKey0003", "dev")
        .await
        .unwrap();
    let keys = app.facegate.store().api_keys(&tenant).await.unwrap();
    assert_eq!(keys[0].prefix, "fg_test_");
    let minted = app.facegate.store().api_keys(&app.tenant).await.unwrap();
    assert_eq!(minted[0].prefix.len(), "fg_test_".len() + 4);
    assert!(app.key.starts_with(&minted[0].prefix));
}
