//! The Firebase custom token verifies with the service account's public key
//! and carries the claims Firebase documents for custom tokens.

mod common;

use std::sync::OnceLock;

use facegate_session_providers::firebase::CUSTOM_TOKEN_AUDIENCE;
use facegate_session_providers::{FirebaseSessions, SessionProvider, SessionProviderError};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

const EMAIL: &str = "firebase-adminsdk-abc12@my-project.iam.gserviceaccount.com";

/// One 2048-bit key pair for the whole file: generating one takes a while.
fn key_pair() -> &'static (RsaPrivateKey, RsaPublicKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let public = RsaPublicKey::from(&private);
        (private, public)
    })
}

fn private_pem() -> String {
    key_pair()
        .0
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .to_string()
}

/// A key file as Google issues it.
fn service_account_json(private_key_id: Option<&str>) -> String {
    let mut account = json!({
        "type": "service_account",
        "project_id": "my-project",
        "private_key": private_pem(),
        "client_email": EMAIL,
        "client_id": "113456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    if let Some(id) = private_key_id {
        account["private_key_id"] = json!(id);
    }
    account.to_string()
}

fn verify(token: &str) -> jsonwebtoken::errors::Result<Value> {
    let public_der = key_pair().1.to_pkcs1_der().unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CUSTOM_TOKEN_AUDIENCE]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_rsa_der(public_der.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
}

#[tokio::test]
async fn custom_token_verifies_and_carries_firebase_claims() {
    let provider =
        FirebaseSessions::from_service_account_json(&service_account_json(None)).unwrap();
    assert_eq!(provider.name(), "firebase");
    assert_eq!(provider.client_email(), EMAIL);
    let identity = common::identity();
    let before = common::now_secs();
    let session = provider.create_session(&identity).await.unwrap();
    let after = common::now_secs();

    assert_eq!(session.expires_in, 3600);
    assert_eq!(session.refresh_token, "");

    let header = jsonwebtoken::decode_header(&session.token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid, None);

    let claims = verify(&session.token).unwrap();
    let iat = claims["iat"].as_u64().unwrap();
    assert!((before..=after).contains(&iat));
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["sub"], EMAIL);
    assert_eq!(claims["aud"], CUSTOM_TOKEN_AUDIENCE);
    assert_eq!(claims["uid"], identity.user_id.as_str());
    assert_eq!(
        claims["claims"],
        json!({
            "facegate_role": "admin",
            "facegate_tenant": identity.tenant_id.as_str(),
            "facegate_session": identity.session_id.as_str(),
        })
    );
    // Nothing beyond what Firebase documents.
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["aud", "claims", "exp", "iat", "iss", "sub", "uid"]);

    assert_eq!(
        session.provider_session.unwrap(),
        json!({ "custom_token": session.token, "uid": identity.user_id.as_str() })
    );
}

#[tokio::test]
async fn uid_is_the_external_id_when_the_host_gave_one() {
    let provider = FirebaseSessions::new(EMAIL, &private_pem()).unwrap();
    let mut identity = common::identity();
    identity.external_id = Some("hQd8sK2LmPz9XyWvT3nR4bC1aE5f".to_owned());
    let session = provider.create_session(&identity).await.unwrap();
    let claims = verify(&session.token).unwrap();
    assert_eq!(claims["uid"], "hQd8sK2LmPz9XyWvT3nR4bC1aE5f");
    assert_eq!(
        session.provider_session.unwrap()["uid"],
        "hQd8sK2LmPz9XyWvT3nR4bC1aE5f"
    );
}

#[tokio::test]
async fn private_key_id_becomes_the_kid() {
    let provider =
        FirebaseSessions::from_service_account_json(&service_account_json(Some("3f1c0e9a")))
            .unwrap();
    let session = provider.create_session(&common::identity()).await.unwrap();
    let header = jsonwebtoken::decode_header(&session.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("3f1c0e9a"));
    verify(&session.token).unwrap();
}

#[tokio::test]
async fn uid_must_be_1_to_128_characters() {
    let provider = FirebaseSessions::new(EMAIL, &private_pem()).unwrap();
    let mut identity = common::identity();

    identity.external_id = Some("u".repeat(128));
    let session = provider.create_session(&identity).await.unwrap();
    assert_eq!(verify(&session.token).unwrap()["uid"], "u".repeat(128));

    identity.external_id = Some("u".repeat(129));
    let too_long = provider.create_session(&identity).await;
    assert!(
        matches!(too_long, Err(SessionProviderError::Config(ref message)) if message.contains("128")),
        "{too_long:?}"
    );
}

#[test]
fn a_key_that_is_not_an_rsa_pem_is_a_config_error() {
    let not_pem = FirebaseSessions::new(EMAIL, "not a key");
    assert!(matches!(not_pem, Err(SessionProviderError::Config(_))));

    // A PEM whose body is not a key.
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
    let bad_body = FirebaseSessions::new(EMAIL, garbage);
    assert!(matches!(bad_body, Err(SessionProviderError::Config(_))));

    // The same through a service-account file.
    let mut account: Value = serde_json::from_str(&service_account_json(None)).unwrap();
    account["private_key"] = json!(garbage);
    let from_json = FirebaseSessions::from_service_account_json(&account.to_string());
    assert!(matches!(from_json, Err(SessionProviderError::Config(_))));
}

#[test]
fn incomplete_service_accounts_are_config_errors() {
    let config_error = |json: &str| match FirebaseSessions::from_service_account_json(json) {
        Err(SessionProviderError::Config(message)) => message,
        other => panic!("expected a Config error, got {other:?}"),
    };

    let mut account: Value = serde_json::from_str(&service_account_json(None)).unwrap();
    account.as_object_mut().unwrap().remove("client_email");
    assert!(config_error(&account.to_string()).contains("client_email"));

    let mut account: Value = serde_json::from_str(&service_account_json(None)).unwrap();
    account.as_object_mut().unwrap().remove("private_key");
    assert!(config_error(&account.to_string()).contains("private_key"));

    let mut account: Value = serde_json::from_str(&service_account_json(None)).unwrap();
    account["type"] = json!("authorized_user");
    assert!(config_error(&account.to_string()).contains("authorized_user"));

    // A file cut short: the error says where, and does not echo the key.
    let json = service_account_json(None);
    let message = config_error(&json[..json.len() / 2]);
    assert!(!message.contains("PRIVATE KEY"), "{message}");
}

#[tokio::test]
async fn pkcs1_and_escaped_newline_keys_are_accepted() {
    let identity = common::identity();

    let pkcs1 = key_pair()
        .0
        .to_pkcs1_pem(LineEnding::LF)
        .unwrap()
        .to_string();
    let session = FirebaseSessions::new(EMAIL, &pkcs1)
        .unwrap()
        .create_session(&identity)
        .await
        .unwrap();
    verify(&session.token).unwrap();

    // As pasted into an environment variable: `\n` written out.
    let escaped = private_pem().replace('\n', "\\n");
    let session = FirebaseSessions::new(EMAIL, &escaped)
        .unwrap()
        .create_session(&identity)
        .await
        .unwrap();
    verify(&session.token).unwrap();
}

#[test]
fn debug_output_hides_the_key() {
    let provider = FirebaseSessions::new(EMAIL, &private_pem()).unwrap();
    let debug = format!("{provider:?}");
    assert!(debug.contains(EMAIL));
    assert!(!debug.contains("PRIVATE KEY"));
}
