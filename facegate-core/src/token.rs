//! FaceGate's JWTs: EdDSA (Ed25519) with a `kid`, signed by the newest key of
//! a key ring the store keeps, verified with the algorithm pinned.
//!
//! Other services verify them with the public keys at
//! `GET /.well-known/jwks.json`. After a rotation the retired key keeps
//! verifying for one token lifetime (plus [`KeyRing::RELOAD_INTERVAL`]), so
//! tokens it signed stay valid until they expire.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::domain::SigningKeyRecord;

/// Issuer, audience and lifetime of the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// `iss`, default `facegate`.
    pub issuer: String,
    /// `aud`, default `facegate`; set it to your service's name.
    pub audience: String,
    /// `aud` of the demo tenant's tokens, default `facegate-demo`: a verifier
    /// that checks `aud` cannot take a demo login for a real one.
    pub demo_audience: String,
    /// From `iat` to `exp`, default 15 minutes.
    pub lifetime: Duration,
    /// Clock skew tolerated on `exp` and `nbf`, default 30 seconds.
    pub leeway: Duration,
    /// How long a verified session lasts, default 12 hours: refresh tokens
    /// renew the short-lived token within it, never beyond.
    pub session_lifetime: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "facegate".into(),
            audience: "facegate".into(),
            demo_audience: "facegate-demo".into(),
            lifetime: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(30),
            session_lifetime: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// The claims of a FaceGate verification token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tid: String,
    /// The session id.
    pub sid: String,
    pub role: String,
    pub name: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// Match confidence, 0–100.
    pub confidence: f32,
    /// The `x-device-fingerprint` the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfp: Option<String>,
    /// Minted by `POST /v1/session` (the `jwt` provider) rather than by
    /// verify or refresh: such a token is not exchanged again, so one
    /// verification cannot be chained into endless sessions.
    #[serde(default, rename = "xch", skip_serializing_if = "std::ops::Not::not")]
    pub exchanged: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Signed by a key this ring does not hold: perhaps one another
    /// instance just rotated in (reload the ring and try once more).
    #[error("invalid token: unknown kid {0}")]
    UnknownKid(String),
    #[error("token expired")]
    Expired,
    #[error("no signing key is available")]
    NoSigningKey,
    #[error("stored signing key {0} is unusable")]
    BadKey(String),
    #[error("not an Ed25519 private key in PKCS#8 PEM: {0}")]
    BadPem(String),
}

/// The keys in use: one to sign with, every key still trusted to verify.
pub struct KeyRing {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, VerifyingKey>,
    config: TokenConfig,
    loaded_at: std::time::Instant,
}

struct VerifyingKey {
    key: DecodingKey,
    public: [u8; 32],
    /// When a retired key stops verifying; `None` while it signs.
    until: Option<DateTime<Utc>>,
}

impl KeyRing {
    /// How often an instance re-reads the stored keys, so a rotation made
    /// on another instance is signed with everywhere within this long. It
    /// is also how much longer than a token lifetime a retired key
    /// verifies: an instance that had not re-read yet signed with it.
    pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

    /// Builds the ring from stored keys: the newest unretired key signs;
    /// retired keys verify until one token lifetime (and
    /// [`Self::RELOAD_INTERVAL`]) after their retirement, checked at each
    /// verification, so every instance drops a key at the same time.
    pub fn new(
        records: &[SigningKeyRecord],
        config: TokenConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let grace =
            chrono::Duration::from_std(config.lifetime.saturating_add(Self::RELOAD_INTERVAL))
                .unwrap_or(chrono::Duration::MAX);
        let mut signing = None;
        let mut verifying = HashMap::new();
        for record in records {
            let public = <[u8; 32]>::try_from(record.public_key.as_slice())
                .map_err(|_| TokenError::BadKey(record.kid.clone()))?;
            let until = match record.retired_at {
                None => {
                    signing = Some((
                        record.kid.clone(),
                        EncodingKey::from_ed_der(&record.private_key),
                    ));
                    None
                }
                Some(retired) => match retired.checked_add_signed(grace) {
                    Some(until) if until < now => continue,
                    until => until,
                },
            };
            let key = DecodingKey::from_ed_der(&public);
            verifying.insert(record.kid.clone(), VerifyingKey { key, public, until });
        }
        Ok(Self {
            signing,
            verifying,
            config,
            loaded_at: std::time::Instant::now(),
        })
    }

    /// How long ago the keys were read.
    pub fn age(&self) -> Duration {
        self.loaded_at.elapsed()
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        self.sign_jws("JWT", claims)
    }

    /// Signs any claims as a compact JWS of this `typ` with the current key
    /// (deletion receipts; see [`crate::deletion`]).
    pub fn sign_jws<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, TokenError> {
        let (kid, key) = self.signing.as_ref().ok_or(TokenError::NoSigningKey)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, key)
            .map_err(|err| TokenError::Invalid(err.to_string()))
    }

    /// The `aud` of tokens of `tenant`: the demo tenant's have their own.
    pub fn audience_for(&self, tenant: &str) -> &str {
        if tenant == crate::ids::TenantId::DEMO {
            &self.config.demo_audience
        } else {
            &self.config.audience
        }
    }

    /// Checks signature (EdDSA only, by `kid`), `exp`/`nbf` with leeway,
    /// `iss`, and `aud`: the demo audience for the demo tenant's tokens, the
    /// configured one for every other tenant's.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| TokenError::Invalid(err.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no kid".into()))?;
        let VerifyingKey { key, until, .. } = self
            .verifying
            .get(&kid)
            .ok_or(TokenError::UnknownKid(kid))?;
        if until.is_some_and(|until| until < crate::clock::now()) {
            return Err(TokenError::Invalid("the signing key is retired".into()));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience, &self.config.demo_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(err.to_string()),
            })?;
        if claims.aud != self.audience_for(&claims.tid) {
            return Err(TokenError::Invalid(
                "the audience does not fit the token's tenant".into(),
            ));
        }
        Ok(claims)
    }

    /// The public keys as a JWK set.
    pub fn jwks(&self) -> Jwks {
        let mut keys: Vec<(&String, &[u8; 32])> = self
            .verifying
            .iter()
            .map(|(kid, key)| (kid, &key.public))
            .collect();
        keys.sort();
        Jwks {
            keys: keys
                .into_iter()
                .map(|(kid, public)| Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    r#use: "sig",
                    kid: kid.clone(),
                    x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public),
                })
                .collect(),
        }
    }
}

/// The public keys tokens are verified with (RFC 7517), at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: &'static str,
    /// `Ed25519`.
    pub crv: &'static str,
    /// `EdDSA`.
    pub alg: &'static str,
    /// `sig`.
    pub r#use: &'static str,
    pub kid: String,
    /// The public key, base64url without padding.
    pub x: String,
}

/// A host-supplied Ed25519 key (PKCS#8 PEM, as `openssl genpkey -algorithm
/// ed25519` writes it). Its `kid` derives from the public key, so it is the
/// same on every instance and across restarts.
pub fn signing_key_from_pem(pem: &str, now: DateTime<Utc>) -> Result<SigningKeyRecord, TokenError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
        .map_err(|err| TokenError::BadPem(err.to_string()))?;
    let public = key.verifying_key().to_bytes();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(public);
    Ok(SigningKeyRecord {
        kid: format!("pem-{}", hex::encode(&digest[..8])),
        private_key: key
            .to_pkcs8_der()
            .map_err(|err| TokenError::BadPem(err.to_string()))?
            .as_bytes()
            .to_vec(),
        public_key: public.to_vec(),
        created_at: now,
        retired_at: None,
    })
}

/// A fresh Ed25519 key, ready to store.
pub fn generate_signing_key(now: DateTime<Utc>) -> SigningKeyRecord {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let private_key = key
        .to_pkcs8_der()
        .expect("an Ed25519 key always encodes as PKCS#8")
        .as_bytes()
        .to_vec();
    SigningKeyRecord {
        kid: format!("key-{}", uuid::Uuid::now_v7().simple()),
        private_key,
        public_key: key.verifying_key().to_bytes().to_vec(),
        created_at: now,
        retired_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    fn claims(config: &TokenConfig, now: i64) -> Claims {
        Claims {
            iss: config.issuer.clone(),
            aud: config.audience.clone(),
            sub: "user_1".into(),
            tid: "ten_1".into(),
            sid: "sess_1".into(),
            role: "guard".into(),
            name: "Ada".into(),
            iat: now,
            nbf: now,
            exp: now + 900,
            jti: "jti-1".into(),
            confidence: 97.5,
            dfp: None,
            exchanged: false,
        }
    }

    fn ring(records: &[SigningKeyRecord]) -> KeyRing {
        KeyRing::new(records, TokenConfig::default(), clock::now()).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn signed_tokens_verify_and_carry_their_claims() {
        let ring = ring(&[generate_signing_key(clock::now())]);
        let claims = claims(ring.config(), Utc::now().timestamp());
        let token = ring.sign(&claims).unwrap();
        assert_eq!(ring.verify(&token).unwrap(), claims);
    }

    #[test]
    fn tampered_expired_and_misaddressed_tokens_are_refused() {
        let ring = ring(&[generate_signing_key(clock::now())]);
        let now = Utc::now().timestamp();
        let token = ring.sign(&claims(ring.config(), now)).unwrap();

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(ring.config(), now);
        forged.role = "admin".into();
        parts[1] = b64(&serde_json::to_vec(&forged).unwrap());
        assert!(matches!(
            ring.verify(&parts.join(".")),
            Err(TokenError::Invalid(_))
        ));

        let mut expired = claims(ring.config(), now - 3600);
        expired.exp = now - 60;
        assert_eq!(
            ring.verify(&ring.sign(&expired).unwrap()),
            Err(TokenError::Expired)
        );

        let mut elsewhere = claims(ring.config(), now);
        elsewhere.aud = "another-service".into();
        assert!(ring.verify(&ring.sign(&elsewhere).unwrap()).is_err());
        let mut foreign = claims(ring.config(), now);
        foreign.iss = "someone-else".into();
        assert!(ring.verify(&ring.sign(&foreign).unwrap()).is_err());

        let stranger = self::ring(&[generate_signing_key(clock::now())]);
        let theirs = stranger.sign(&claims(stranger.config(), now)).unwrap();
        assert!(ring.verify(&theirs).is_err(), "a key outside the ring");
    }

    #[test]
    fn demo_tokens_carry_their_own_audience() {
        let ring = ring(&[generate_signing_key(clock::now())]);
        let now = Utc::now().timestamp();
        let mut demo = claims(ring.config(), now);
        demo.tid = crate::ids::TenantId::DEMO.into();
        demo.aud = "facegate-demo".into();
        assert_eq!(ring.verify(&ring.sign(&demo).unwrap()).unwrap(), demo);
        // A demo token dressed as a real one, and the other way round.
        demo.aud = "facegate".into();
        assert!(ring.verify(&ring.sign(&demo).unwrap()).is_err());
        let mut real = claims(ring.config(), now);
        real.aud = "facegate-demo".into();
        assert!(ring.verify(&ring.sign(&real).unwrap()).is_err());
    }

    #[test]
    fn algorithm_confusion_is_refused() {
        let key = generate_signing_key(clock::now());
        let ring = ring(std::slice::from_ref(&key));
        let claims = claims(ring.config(), Utc::now().timestamp());
        let payload = b64(&serde_json::to_vec(&claims).unwrap());

        let none = format!(
            "{}.{payload}.",
            b64(format!(r#"{{"alg":"none","kid":"{}"}}"#, key.kid).as_bytes())
        );
        assert!(matches!(ring.verify(&none), Err(TokenError::Invalid(_))));

        // HS256 "signed" with the public key, the classic confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let hs = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.public_key))
            .unwrap();
        assert!(matches!(ring.verify(&hs), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn a_retired_key_verifies_for_one_token_lifetime() {
        let now = clock::now();
        let mut old = generate_signing_key(now - chrono::Duration::hours(1));
        let new = generate_signing_key(now);
        let before = ring(std::slice::from_ref(&old));
        let token = before
            .sign(&claims(before.config(), Utc::now().timestamp()))
            .unwrap();

        old.retired_at = Some(now - chrono::Duration::minutes(5));
        let after = ring(&[old.clone(), new.clone()]);
        assert!(after.verify(&token).is_ok(), "still inside its lifetime");
        assert_eq!(after.jwks().keys.len(), 2);
        let fresh = after
            .sign(&claims(after.config(), Utc::now().timestamp()))
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid,
            Some(new.kid.clone())
        );

        old.retired_at = Some(now - chrono::Duration::minutes(17));
        let later = ring(&[old, new]);
        assert!(later.verify(&token).is_err(), "gone after a token lifetime");
        assert_eq!(later.jwks().keys.len(), 1);
    }

    #[test]
    fn a_ring_kept_past_a_keys_window_stops_verifying_with_it() {
        let now = clock::now();
        let mut old = generate_signing_key(now - chrono::Duration::hours(1));
        let token = ring(std::slice::from_ref(&old))
            .sign(&claims(&TokenConfig::default(), Utc::now().timestamp()))
            .unwrap();
        old.retired_at = Some(now - chrono::Duration::minutes(17));
        let new = generate_signing_key(now);
        // Built (say, on another instance) while the key was still trusted.
        let kept = KeyRing::new(
            &[old, new],
            TokenConfig::default(),
            now - chrono::Duration::minutes(10),
        )
        .unwrap();
        assert_eq!(kept.jwks().keys.len(), 2);
        assert_eq!(
            kept.verify(&token),
            Err(TokenError::Invalid("the signing key is retired".into()))
        );
    }

    #[test]
    fn an_unknown_kid_is_told_apart() {
        let token = ring(&[generate_signing_key(clock::now())])
            .sign(&claims(&TokenConfig::default(), Utc::now().timestamp()))
            .unwrap();
        let other = ring(&[generate_signing_key(clock::now())]);
        assert!(matches!(
            other.verify(&token),
            Err(TokenError::UnknownKid(_))
        ));
    }

    #[test]
    fn jwks_publishes_okp_keys() {
        let key = generate_signing_key(clock::now());
        let jwks = serde_json::to_value(ring(std::slice::from_ref(&key)).jwks()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["kid"], key.kid);
        assert_eq!(jwk["x"], b64(&key.public_key));
    }

    /// Whatever string arrives as a bearer token, the ring answers without
    /// panicking, and accepts nothing it did not sign: not random text, not
    /// three random segments, not a signed token with any one character
    /// changed.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        proptest! {
            #![proptest_config(crate::test_support::proptest_config())]

            #[test]
            fn arbitrary_text_is_refused(token in ".{0,300}") {
                let ring = ring(&[generate_signing_key(clock::now())]);
                prop_assert!(ring.verify(&token).is_err());
            }

            #[test]
            fn random_segments_are_refused(
                header in proptest::collection::vec(any::<u8>(), 0..120),
                payload in proptest::collection::vec(any::<u8>(), 0..400),
                signature in proptest::collection::vec(any::<u8>(), 0..80),
            ) {
                let ring = ring(&[generate_signing_key(clock::now())]);
                let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
                prop_assert!(ring.verify(&token).is_err());
            }

            #[test]
            fn any_changed_character_is_refused(at in any::<prop::sample::Index>(), with in 0..URL_SAFE.len()) {
                let ring = ring(&[generate_signing_key(clock::now())]);
                let token = ring.sign(&claims(ring.config(), Utc::now().timestamp())).unwrap();
                let mut bytes = token.clone().into_bytes();
                let at = at.index(bytes.len());
                prop_assume!(bytes[at] != b'.' && bytes[at] != URL_SAFE[with]);
                bytes[at] = URL_SAFE[with];
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert!(ring.verify(&changed).is_err(), "accepted {changed} (from {token})");
            }
        }
    }
}
