//! The Supabase token verifies with the project's JWT secret the way
//! Supabase's services check it, and carries GoTrue's claims.

mod common;

use std::time::Duration;

use facegate_core::ids::UserId;
use facegate_session_providers::{SessionProvider, SessionProviderError, SupabaseSessions};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
const ISSUER: &str = "https://abcdefghijklmnop.supabase.co/auth/v1";

fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
    validation
}

fn decode(token: &str, secret: &str) -> jsonwebtoken::errors::Result<Value> {
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation(),
    )
    .map(|data| data.claims)
}

fn uuid_of(user_id: &UserId) -> String {
    let simple = user_id.as_str().strip_prefix("user_").unwrap();
    assert_eq!(simple.len(), 32);
    format!(
        "{}-{}-{}-{}-{}",
        &simple[0..8],
        &simple[8..12],
        &simple[12..16],
        &simple[16..20],
        &simple[20..32]
    )
}

#[tokio::test]
async fn token_carries_supabase_claims_and_verifies_with_the_secret() {
    let provider = SupabaseSessions::new(SECRET).issuer(ISSUER);
    assert_eq!(provider.name(), "supabase");
    let identity = common::identity();
    let before = common::now_secs();
    let session = provider.create_session(&identity).await.unwrap();
    let after = common::now_secs();

    assert_eq!(session.refresh_token, "");
    assert_eq!(session.expires_in, 3600);

    let claims = decode(&session.token, SECRET).unwrap();
    let sub = uuid_of(&identity.user_id);
    let iat = claims["iat"].as_u64().unwrap();
    assert!((before..=after).contains(&iat));
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
    assert_eq!(claims["sub"], json!(sub));
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["phone"], "");
    assert_eq!(claims["session_id"], identity.session_id.as_str());
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(
        claims["amr"],
        json!([{ "method": "facegate", "timestamp": iat }])
    );
    assert_eq!(claims["app_metadata"]["provider"], "facegate");
    assert_eq!(claims["app_metadata"]["providers"], json!(["facegate"]));
    assert_eq!(claims["app_metadata"]["facegate_role"], "admin");
    assert_eq!(
        claims["user_metadata"],
        json!({
            "name": "Ada Lovelace",
            "facegate_user_id": identity.user_id.as_str(),
            "facegate_role": "admin",
        })
    );

    // The header is plain HS256, as Supabase's legacy JWT secret signs.
    let header = jsonwebtoken::decode_header(&session.token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);

    // provider_session is shaped like supabase-js's Session.
    let provider_session = session.provider_session.unwrap();
    assert_eq!(provider_session["access_token"], json!(session.token));
    assert_eq!(provider_session["token_type"], "bearer");
    assert_eq!(provider_session["expires_in"], 3600);
    assert_eq!(provider_session["expires_at"], json!(iat + 3600));
    assert_eq!(provider_session["refresh_token"], "");
    assert_eq!(provider_session["user"]["id"], json!(sub));
    assert_eq!(provider_session["user"]["aud"], "authenticated");
    assert_eq!(provider_session["user"]["role"], "authenticated");
    assert_eq!(provider_session["user"]["email"], "ada@example.com");
    assert_eq!(
        provider_session["user"]["app_metadata"],
        claims["app_metadata"]
    );
    assert_eq!(
        provider_session["user"]["user_metadata"],
        claims["user_metadata"]
    );
}

#[tokio::test]
async fn sub_is_the_external_id_when_the_host_gave_one() {
    let provider = SupabaseSessions::new(SECRET).issuer(ISSUER);
    let mut identity = common::identity();
    identity.external_id = Some("7d0a4c2e-5b1f-4e8a-9c3d-2f6b8e1a0c4d".to_owned());
    let session = provider.create_session(&identity).await.unwrap();
    let claims = decode(&session.token, SECRET).unwrap();
    assert_eq!(claims["sub"], "7d0a4c2e-5b1f-4e8a-9c3d-2f6b8e1a0c4d");
    assert_eq!(
        session.provider_session.unwrap()["user"]["id"],
        "7d0a4c2e-5b1f-4e8a-9c3d-2f6b8e1a0c4d"
    );
    // The FaceGate id is still there for the host to match on.
    assert_eq!(
        claims["user_metadata"]["facegate_user_id"],
        identity.user_id.as_str()
    );

    // An empty external_id counts as none.
    identity.external_id = Some(String::new());
    let session = provider.create_session(&identity).await.unwrap();
    let claims = decode(&session.token, SECRET).unwrap();
    assert_eq!(claims["sub"], json!(uuid_of(&identity.user_id)));
}

#[tokio::test]
async fn a_different_secret_does_not_verify() {
    let session = SupabaseSessions::new(SECRET)
        .issuer(ISSUER)
        .create_session(&common::identity())
        .await
        .unwrap();
    let error = decode(
        &session.token,
        "another-projects-secret-of-at-least-32-chars",
    )
    .unwrap_err();
    assert_eq!(
        error.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );
}

#[tokio::test]
async fn lifetime_and_missing_email_are_honoured() {
    let provider = SupabaseSessions::new(SECRET)
        .issuer(ISSUER)
        .lifetime(Duration::from_secs(15 * 60));
    let mut identity = common::identity();
    identity.email = None;
    let session = provider.create_session(&identity).await.unwrap();
    assert_eq!(session.expires_in, 900);
    let claims = decode(&session.token, SECRET).unwrap();
    assert_eq!(
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap() + 900
    );
    assert_eq!(claims["email"], "");
}

#[tokio::test]
async fn misconfiguration_is_a_config_error() {
    let identity = common::identity();

    let empty_secret = SupabaseSessions::new("").create_session(&identity).await;
    assert!(matches!(empty_secret, Err(SessionProviderError::Config(_))));

    let zero_lifetime = SupabaseSessions::new(SECRET)
        .lifetime(Duration::from_millis(500))
        .create_session(&identity)
        .await;
    assert!(matches!(
        zero_lifetime,
        Err(SessionProviderError::Config(_))
    ));

    // No external_id and a user id with no UUID in it: no usable `sub`.
    let mut odd = identity.clone();
    odd.user_id = UserId::from_string("user_not-a-uuid");
    let no_uuid = SupabaseSessions::new(SECRET).create_session(&odd).await;
    match no_uuid {
        Err(SessionProviderError::Config(message)) => assert!(message.contains("external_id")),
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[test]
fn debug_output_hides_the_secret() {
    let provider = SupabaseSessions::new(SECRET);
    assert!(!format!("{provider:?}").contains(SECRET));
}
