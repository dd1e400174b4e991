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
        exchanged: false,
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

/// RFC 8410's example Ed25519 key.
const HOST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";

#[tokio::test]
async fn host_supplied_pem_keys_sign_and_a_previous_key_still_verifies() {
    use facegate_core::token::{generate_signing_key, signing_key_from_pem};
    let now = facegate_core::clock::now();
    let current = signing_key_from_pem(HOST_KEY_PEM, now).unwrap();
    assert_eq!(
        current.kid,
        signing_key_from_pem(HOST_KEY_PEM, now).unwrap().kid,
        "the kid is the same on every instance"
    );
    let previous = generate_signing_key(now);
    let store = facegate_store_seaorm::testing::test_store().await;
    let facegate = facegate_axum::FaceGate::builder(store)
        .signing_keys(current.clone(), vec![previous.clone()])
        .build();
    let ring = facegate.key_ring().await.unwrap();
    let published: JwkSet =
        serde_json::from_value(serde_json::to_value(ring.jwks()).unwrap()).unwrap();
    let mut published = kids(&published);
    published.sort();
    let mut expected = vec![current.kid.clone(), previous.kid.clone()];
    expected.sort();
    assert_eq!(published, expected);

    let claims = Claims {
        iss: "facegate".into(),
        aud: "facegate".into(),
        sub: "user_1".into(),
        tid: "ten_1".into(),
        sid: "sess_1".into(),
        role: "guard".into(),
        name: "Ada".into(),
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: now.timestamp() + 600,
        jti: "j".into(),
        confidence: 99.0,
        dfp: None,
        exchanged: false,
    };
    let token = ring.sign(&claims).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(current.kid.as_str()));
    assert!(ring.verify(&token).is_ok());
    // A token the previous key signed before the change still verifies.
    let old_ring =
        facegate_core::token::KeyRing::new(&[previous], ring.config().clone(), now).unwrap();
    assert!(ring.verify(&old_ring.sign(&claims).unwrap()).is_ok());

    assert!(
        facegate.rotate_signing_key().await.is_err(),
        "rotated by configuration"
    );
    assert!(
        signing_key_from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            now
        )
        .is_err()
    );
}

/// With a master key, the signing keys FaceGate generates are stored sealed:
/// the database alone holds no usable private key; an instance with the same
/// master key signs and verifies as before, one without cannot sign at all.
#[tokio::test]
async fn signing_keys_are_sealed_under_the_master_key() {
    use facegate_core::sealed::{MasterKey, is_sealed};
    let store = facegate_store_seaorm::SeaOrmStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let master = MasterKey::from_bytes([42; 32]);
    let first = facegate_core::FaceGate::builder(store.clone())
        .master_key(master.clone())
        .build();
    let ring = first.key_ring().await.unwrap();
    let stored = first.store().signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(is_sealed(&stored[0].private_key), "sealed in the database");
    assert!(stored[0].private_key.len() > 48);

    let restarted = facegate_core::FaceGate::builder(store.clone())
        .master_key(master)
        .build();
    assert_eq!(restarted.key_ring().await.unwrap().jwks(), ring.jwks());
    let without = facegate_core::FaceGate::builder(store.clone()).build();
    assert!(
        without.key_ring().await.is_err(),
        "a sealed key needs its master key"
    );
    let wrong = facegate_core::FaceGate::builder(store)
        .master_key(MasterKey::from_bytes([7; 32]))
        .build();
    assert!(wrong.key_ring().await.is_err());
}
