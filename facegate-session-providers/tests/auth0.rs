//! Auth0 Custom Token Exchange against a real local HTTP peer that acts as
//! an Auth0 tenant's `/oauth/token`: it authenticates the client, checks the
//! grant, verifies the subject token with a key only it and the test hold,
//! and signs the access token it returns.
#![cfg(feature = "auth0")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use facegate_session_providers::{
    Auth0Sessions, SessionProvider, SessionProviderError, VerifiedIdentity,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

const CLIENT_ID: &str = "k3VZq0mEXAMPLEclientid";
const CLIENT_SECRET: &str = "s3cr3t-client-secret-that-must-never-leak";
/// What FaceGate signs verification tokens with, as far as this test goes;
/// the peer's exchange Action verifies with it.
const FACEGATE_SECRET: &str = "facegate-verification-signing-key";
/// What the "tenant" signs its access and ID tokens with.
const TENANT_SECRET: &str = "tenant-signing-key-known-to-the-test";
const AUDIENCE: &str = "https://api.example.com";
const SUBJECT_TOKEN_TYPE: &str = "urn:facegate:verification-token";

/// One request the peer received.
#[derive(Debug, Clone)]
struct Seen {
    content_type: String,
    params: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct Tenant {
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(TENANT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// `POST /oauth/token` as Auth0 answers a custom token exchange.
async fn token_endpoint(State(tenant): State<Tenant>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let params: HashMap<String, String> = if content_type.starts_with("application/json") {
        match serde_json::from_slice(&body) {
            Ok(params) => params,
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "bad JSON"),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        match serde_urlencoded::from_bytes(&body) {
            Ok(params) => params,
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "bad form"),
        }
    } else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unsupported content type",
        );
    };
    tenant.seen.lock().unwrap().push(Seen {
        content_type,
        params: params.clone(),
    });
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");

    if param("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type not allowed for the client.",
        );
    }
    if param("client_id") != CLIENT_ID || param("client_secret") != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    if param("subject_token_type") != SUBJECT_TOKEN_TYPE {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No Custom Token Exchange profile matches the subject_token_type",
        );
    }

    // The exchange Action: verify the subject token, then pick the user.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["facegate"]);
    validation.set_issuer(&["https://facegate.test"]);
    let subject = match jsonwebtoken::decode::<Value>(
        param("subject_token"),
        &DecodingKey::from_secret(FACEGATE_SECRET.as_bytes()),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The subject token is not valid",
            );
        }
    };
    let sub = subject["sub"].as_str().unwrap_or_default().to_owned();
    let scope = param("scope").to_owned();
    let now = common::now_secs();

    let access_token = sign(&json!({
        "iss": "https://tenant.example/",
        "sub": sub,
        "aud": param("audience"),
        "azp": CLIENT_ID,
        "scope": scope,
        "iat": now,
        "exp": now + 86_400,
    }));
    let id_token = sign(&json!({
        "iss": "https://tenant.example/",
        "sub": sub,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 36_000,
    }));
    let mut answer = json!({
        "access_token": access_token,
        "id_token": id_token,
        "scope": scope,
        "expires_in": 86_400,
        "token_type": "Bearer",
    });
    if scope.split(' ').any(|scope| scope == "offline_access") {
        answer["refresh_token"] = json!(format!("v1.refresh.{sub}"));
    }
    axum::Json(answer).into_response()
}

/// Serves `router` on a fresh loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}")
}

async fn start_tenant() -> (String, Tenant) {
    let tenant = Tenant::default();
    let router = Router::new()
        .route("/oauth/token", post(token_endpoint))
        .with_state(tenant.clone());
    (serve(router).await, tenant)
}

/// An identity whose verification token the tenant can verify.
fn identity() -> VerifiedIdentity {
    let mut identity = common::identity();
    let now = common::now_secs();
    identity.verification_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({
            "iss": "https://facegate.test",
            "aud": "facegate",
            "sub": identity.user_id.as_str(),
            "sid": identity.session_id.as_str(),
            "iat": now,
            "exp": now + 300,
        }),
        &EncodingKey::from_secret(FACEGATE_SECRET.as_bytes()),
    )
    .unwrap();
    identity
}

fn upstream_message(result: Result<impl std::fmt::Debug, SessionProviderError>) -> String {
    match result {
        Err(SessionProviderError::Upstream(message)) => {
            assert!(!message.contains(CLIENT_SECRET), "{message}");
            message
        }
        other => panic!("expected an Upstream error, got {other:?}"),
    }
}

#[tokio::test]
async fn exchange_returns_the_tenants_tokens() {
    let (base_url, tenant) = start_tenant().await;
    let provider = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET).audience(AUDIENCE);
    assert_eq!(provider.name(), "auth0");
    let identity = identity();

    let session = provider.create_session(&identity).await.unwrap();

    // The access token is the tenant's, for this user and API.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    let access = jsonwebtoken::decode::<Value>(
        &session.token,
        &DecodingKey::from_secret(TENANT_SECRET.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(access["sub"], identity.user_id.as_str());
    assert_eq!(access["scope"], "openid profile email offline_access");
    assert_eq!(session.expires_in, 86_400);
    assert_eq!(
        session.refresh_token,
        format!("v1.refresh.{}", identity.user_id)
    );

    // provider_session is the tenant's whole answer.
    let upstream = session.provider_session.unwrap();
    assert_eq!(upstream["access_token"], json!(session.token));
    assert_eq!(upstream["token_type"], "Bearer");
    assert_eq!(upstream["refresh_token"], json!(session.refresh_token));
    let id_token = upstream["id_token"].as_str().unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[CLIENT_ID]);
    let id = jsonwebtoken::decode::<Value>(
        id_token,
        &DecodingKey::from_secret(TENANT_SECRET.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(id["sub"], identity.user_id.as_str());

    // What went over the wire: a form-encoded RFC 8693 request.
    let seen = tenant.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    let params = &seen[0].params;
    assert_eq!(
        params["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(params["subject_token_type"], SUBJECT_TOKEN_TYPE);
    assert_eq!(params["subject_token"], identity.verification_token);
    assert_eq!(params["audience"], AUDIENCE);
    assert_eq!(params["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn scope_audience_and_subject_token_type_are_configurable() {
    let (base_url, tenant) = start_tenant().await;
    let identity = identity();

    // Without offline_access the tenant issues no refresh token.
    let session = Auth0Sessions::new(format!("{base_url}/"), CLIENT_ID, CLIENT_SECRET)
        .scope("openid")
        .create_session(&identity)
        .await
        .unwrap();
    assert_eq!(session.refresh_token, "");
    {
        let seen = tenant.seen.lock().unwrap();
        assert_eq!(seen[0].params["scope"], "openid");
        assert!(!seen[0].params.contains_key("audience"));
    }

    // A subject token type the tenant has no profile for is refused.
    let refused = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET)
        .subject_token_type("urn:example:other-token")
        .create_session(&identity)
        .await;
    let message = upstream_message(refused);
    assert!(message.contains("400"), "{message}");
    assert!(message.contains("invalid_request"), "{message}");
    assert_eq!(
        tenant.seen.lock().unwrap()[1].params["subject_token_type"],
        "urn:example:other-token"
    );
}

#[tokio::test]
async fn wrong_client_secret_is_upstream_with_auth0s_description() {
    let (base_url, _tenant) = start_tenant().await;
    let result = Auth0Sessions::new(&base_url, CLIENT_ID, "wrong-secret")
        .create_session(&identity())
        .await;
    let message = upstream_message(result);
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("access_denied"), "{message}");
    assert!(message.contains("Unauthorized"), "{message}");
    assert!(!message.contains("wrong-secret"), "{message}");
}

#[tokio::test]
async fn a_subject_token_the_tenant_cannot_verify_is_refused() {
    let (base_url, _tenant) = start_tenant().await;
    let mut identity = identity();
    identity.verification_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "iss": "https://facegate.test", "aud": "facegate", "sub": "user_x", "exp": common::now_secs() + 300 }),
        &EncodingKey::from_secret(b"some other key"),
    )
    .unwrap();
    let result = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET)
        .create_session(&identity)
        .await;
    let message = upstream_message(result);
    assert!(
        message.contains("The subject token is not valid"),
        "{message}"
    );
}

#[tokio::test]
async fn a_server_error_without_json_is_upstream() {
    let base_url = serve(Router::new().route(
        "/oauth/token",
        post(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<html><body>Internal Server Error</body></html>",
            )
        }),
    ))
    .await;
    let result = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET)
        .create_session(&identity())
        .await;
    let message = upstream_message(result);
    assert!(message.contains("500"), "{message}");
    assert!(!message.contains("<html>"), "{message}");
}

#[tokio::test]
async fn a_success_that_is_not_a_token_response_is_upstream() {
    let base_url = serve(
        Router::new()
            .route("/oauth/token", post(|| async { "this is not JSON" }))
            .route(
                "/missing/oauth/token",
                post(|| async { axum::Json(json!({ "token_type": "Bearer", "expires_in": 60 })) }),
            )
            .route(
                "/mistyped/oauth/token",
                post(|| async {
                    axum::Json(json!({ "access_token": "tok", "expires_in": "soon" }))
                }),
            ),
    )
    .await;

    let not_json = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET)
        .create_session(&identity())
        .await;
    assert!(upstream_message(not_json).contains("not JSON"));

    let missing = Auth0Sessions::new(format!("{base_url}/missing"), CLIENT_ID, CLIENT_SECRET)
        .create_session(&identity())
        .await;
    assert!(upstream_message(missing).contains("access_token"));

    let mistyped = Auth0Sessions::new(format!("{base_url}/mistyped"), CLIENT_ID, CLIENT_SECRET)
        .create_session(&identity())
        .await;
    assert!(upstream_message(mistyped).contains("expires_in"));
}

#[tokio::test]
async fn a_tenant_that_never_answers_times_out() {
    let base_url = serve(Router::new().route(
        "/oauth/token",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }),
    ))
    .await;
    let started = Instant::now();
    let result = Auth0Sessions::new(&base_url, CLIENT_ID, CLIENT_SECRET)
        .timeout(Duration::from_millis(300))
        .create_session(&identity())
        .await;
    let elapsed = started.elapsed();
    let message = upstream_message(result);
    assert!(message.contains("timed out"), "{message}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn nothing_listening_is_upstream() {
    // Take a free port, then free it again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let result = Auth0Sessions::new(format!("http://{address}"), CLIENT_ID, CLIENT_SECRET)
        .timeout(Duration::from_secs(2))
        .create_session(&identity())
        .await;
    let message = upstream_message(result);
    assert!(message.contains("could not connect"), "{message}");
}

#[test]
fn domain_or_base_url() {
    let bare = Auth0Sessions::new("tenant.eu.auth0.com", CLIENT_ID, CLIENT_SECRET);
    assert_eq!(bare.token_url(), "https://tenant.eu.auth0.com/oauth/token");
    let full = Auth0Sessions::new("https://login.example.com/", CLIENT_ID, CLIENT_SECRET);
    assert_eq!(full.token_url(), "https://login.example.com/oauth/token");
    let local = Auth0Sessions::new("http://127.0.0.1:8080", CLIENT_ID, CLIENT_SECRET);
    assert_eq!(local.token_url(), "http://127.0.0.1:8080/oauth/token");
    assert!(!format!("{bare:?}").contains(CLIENT_SECRET));
}

#[tokio::test]
async fn missing_settings_are_config_errors() {
    let identity = identity();
    for provider in [
        Auth0Sessions::new("", CLIENT_ID, CLIENT_SECRET),
        Auth0Sessions::new("tenant.eu.auth0.com", "", CLIENT_SECRET),
        Auth0Sessions::new("tenant.eu.auth0.com", CLIENT_ID, ""),
    ] {
        let result = provider.create_session(&identity).await;
        assert!(
            matches!(result, Err(SessionProviderError::Config(_))),
            "{result:?}"
        );
    }
}
