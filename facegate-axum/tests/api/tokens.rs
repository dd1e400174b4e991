//! The signing keys behind FaceGate tokens, as other services see them.

use facegate_core::token::Claims;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::support::{TestApp, json_body, request};

async fn jwks(app: &TestApp) -> JwkSet {
    let reply = app
        .send(
            request("GET", "/.well-known/jwks.json")
                .body(json_body(None))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_value(reply.body).unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

#[tokio::test]
async fn jwks_is_public_stable_and_survives_a_restart() {
    let app = TestApp::new().await;
    let first = jwks(&app).await;
    assert_eq!(first.keys.len(), 1);
    assert_eq!(kids(&jwks(&app).await), kids(&first), "generated once");
    assert_eq!(
        kids(&jwks(&app.restarted()).await),
        kids(&first),
        "kept by the store"
    );
}

#[tokio::test]
async fn other_services_verify_tokens_with_the_published_keys() {
    let app = TestApp::new().await;
    let ring = app.facegate.key_ring().await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: ring.config().issuer.clone(),
        aud: ring.config().audience.clone(),
        sub: "user_1".into(),
        tid: app.tenant.to_string(),
        sid: "sess_1".into(),
        role: "guard".into(),
        name: "Ada".into(),
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: "1".into(),
        confidence: 99.0,
        dfp: None,
    };
    let token = ring.sign(&claims).unwrap();

    let set = jwks(&app).await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let jwk = set.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[&claims.aud]);
    let decoded =
        jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap();
    assert_eq!(decoded.claims, claims);
}

#[tokio::test]
async fn rotation_adds_a_key_and_keeps_the_old_one_verifying() {
    let app = TestApp::new().await;
    let before = kids(&jwks(&app).await);
    let new_kid = app.facegate.rotate_signing_key().await.unwrap();
    let after = kids(&jwks(&app).await);
    assert_eq!(after.len(), 2);
    assert!(after.contains(&before[0]) && after.contains(&new_kid));
    assert_eq!(kids(&jwks(&app.restarted()).await).len(), 2);
}
