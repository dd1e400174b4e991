//! The signing key ring: the host's configured keys, or else the store's
//! (a key is generated and stored if there is none), re-read every
//! [`KeyRing::RELOAD_INTERVAL`] and on a token whose `kid` it does not know,
//! so a rotation on one instance reaches all; published at
//! `GET /.well-known/jwks.json`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{Session, SigningKeyRecord, User};
use crate::error::ApiError;
use crate::sealed;
use crate::store::StoreError;
use crate::token::{Claims, KeyRing, TokenError, generate_signing_key};

/// At most one re-read per this long for tokens of unknown `kid`s, so
/// made-up ones cannot turn each request into a database read; the same
/// pause follows a re-read that failed.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(1);
/// How long a ring may serve while the keys cannot be re-read. After that,
/// no ring: a key retired meanwhile (its replacement unreadable, say under
/// another master key) must not keep signing and verifying.
const MAX_STALE_RING: Duration = Duration::from_secs(5 * 60);

impl FaceGate {
    /// The current key ring.
    pub async fn key_ring(&self) -> Result<Arc<KeyRing>, ApiError> {
        if let Some(ring) = self.inner.keys.read().await.as_ref()
            && (self.inner.configured_keys.is_some() || ring.age() < KeyRing::RELOAD_INTERVAL)
        {
            return Ok(ring.clone());
        }
        self.reload_key_ring(KeyRing::RELOAD_INTERVAL).await
    }

    /// Checks a token's signature and claims. The outer error is a ring
    /// that could not be loaded; the inner one the token's fault. A `kid`
    /// the ring does not know re-reads the keys first (throttled): another
    /// instance may have rotated.
    pub(crate) async fn verify_token(
        &self,
        token: &str,
    ) -> Result<Result<Claims, TokenError>, ApiError> {
        match self.key_ring().await?.verify(token) {
            Err(TokenError::UnknownKid(_)) if self.inner.configured_keys.is_none() => Ok(self
                .reload_key_ring(UNKNOWN_KID_RELOAD)
                .await?
                .verify(token)),
            verified => Ok(verified),
        }
    }

    /// Re-reads the ring unless it was read less than `fresh` ago. Should
    /// the store fail, the ring in hand keeps serving for up to
    /// [`MAX_STALE_RING`] (keys past their window are refused at
    /// verification anyway), re-read at most once a second meanwhile.
    async fn reload_key_ring(&self, fresh: Duration) -> Result<Arc<KeyRing>, ApiError> {
        let mut slot = self.inner.keys.write().await;
        if let Some(ring) = slot.as_ref()
            && (self.inner.configured_keys.is_some() || ring.age() < fresh)
        {
            return Ok(ring.clone());
        }
        let failed_recently = self
            .inner
            .key_reload_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD);
        if let Some(stale) = slot.as_ref()
            && failed_recently
        {
            return stale_or_closed(stale);
        }
        let loaded = match &self.inner.configured_keys {
            Some(configured) => self.build_ring(configured),
            None => {
                if slot.is_none() && self.inner.master_key.is_none() {
                    tracing::warn!(
                        "token signing keys are stored unencrypted: configure a master key (FaceGateBuilder::master_key, FACEGATE_MASTER_KEY) to seal them"
                    );
                }
                self.load_stored_ring().await
            }
        };
        let mut failed = self
            .inner
            .key_reload_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match (loaded, slot.as_ref()) {
            (Ok(ring), _) => {
                *failed = None;
                let ring = Arc::new(ring);
                *slot = Some(ring.clone());
                Ok(ring)
            }
            (Err(err), Some(stale)) => {
                *failed = Some(std::time::Instant::now());
                tracing::warn!(%err, "could not re-read the signing keys");
                stale_or_closed(stale)
            }
            (Err(err), None) => Err(err),
        }
    }

    async fn load_stored_ring(&self) -> Result<KeyRing, ApiError> {
        let mut records = self.inner.store.signing_keys().await?;
        if records.iter().all(|key| key.retired_at.is_some()) {
            let key = generate_signing_key(clock::now());
            match self
                .inner
                .store
                .insert_first_signing_key(&self.sealed(&key))
                .await
            {
                Ok(()) => tracing::info!(kid = %key.kid, "generated the first token signing key"),
                // Another instance stored its first key first: use that one.
                Err(StoreError::Conflict(_)) => {}
                Err(err) => return Err(err.into()),
            }
            records = self.inner.store.signing_keys().await?;
        }
        self.build_ring(&self.opened(records)?)
    }

    /// Starts signing with a new key; the old one keeps verifying the tokens
    /// it signed until they expire. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self) -> Result<String, ApiError> {
        if self.inner.configured_keys.is_some() {
            return Err(ApiError::Internal(
                "signing keys come from configuration: rotate them there".into(),
            ));
        }
        let mut slot = self.inner.keys.write().await;
        let key = generate_signing_key(clock::now());
        self.inner
            .store
            .rotate_signing_key(&self.sealed(&key))
            .await?;
        let records = self.inner.store.signing_keys().await?;
        *slot = Some(Arc::new(self.build_ring(&self.opened(records)?)?));
        tracing::info!(kid = %key.kid, "token signing key rotated");
        Ok(key.kid)
    }

    /// Signs a verification token for `user` in `session`, bound to the
    /// device fingerprint when one is given. It expires after the configured
    /// lifetime, and never after the session.
    pub async fn issue_token(
        &self,
        user: &User,
        session: &Session,
        device_fingerprint: Option<&str>,
    ) -> Result<String, ApiError> {
        self.sign_token(user, session, device_fingerprint, false)
            .await
    }

    /// Signs a token; `exchanged` marks one `POST /v1/session` minted.
    pub(super) async fn sign_token(
        &self,
        user: &User,
        session: &Session,
        device_fingerprint: Option<&str>,
        exchanged: bool,
    ) -> Result<String, ApiError> {
        let ring = self.key_ring().await?;
        let config = ring.config();
        let now = clock::now().timestamp();
        let lifetime = i64::try_from(config.lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: config.issuer.clone(),
            aud: ring.audience_for(session.tenant_id.as_str()).to_owned(),
            sub: user.id.to_string(),
            tid: session.tenant_id.to_string(),
            sid: session.id.to_string(),
            // Whatever a demo user's row says (rows from before the role
            // was fixed included), a demo token carries the demo role.
            role: if session.tenant_id.is_demo() {
                super::demo::DEMO_ROLE.to_owned()
            } else {
                user.role.clone()
            },
            name: user.name.clone(),
            iat: now,
            nbf: now,
            exp: now
                .saturating_add(lifetime)
                .min(session.expires_at.timestamp()),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            confidence: session.confidence,
            dfp: device_fingerprint.map(str::to_ascii_lowercase),
            exchanged,
        };
        ring.sign(&claims)
            .map_err(|err| ApiError::Internal(err.to_string()))
    }

    /// The key as the store keeps it: sealed under the master key, if any,
    /// bound to its kid and public key.
    fn sealed(&self, key: &SigningKeyRecord) -> SigningKeyRecord {
        match &self.inner.master_key {
            Some(master) => SigningKeyRecord {
                private_key: master.seal(&seal_label(key), &key.private_key),
                ..key.clone()
            },
            None => key.clone(),
        }
    }

    /// Stored keys with their private halves opened.
    fn opened(&self, records: Vec<SigningKeyRecord>) -> Result<Vec<SigningKeyRecord>, ApiError> {
        records
            .into_iter()
            .map(|record| {
                if self.inner.master_key.is_some() && !sealed::is_sealed(&record.private_key) {
                    tracing::warn!(kid = %record.kid, "this signing key was stored before the master key was set and is not sealed: the re-seal pass seals it (FaceGate::reseal, facegate-admin reseal)");
                }
                let private_key = sealed::open(
                    self.inner.master_key.as_ref(),
                    &seal_label(&record),
                    &record.private_key,
                )
                .map_err(|err| ApiError::Internal(err.to_string()))?;
                Ok(SigningKeyRecord {
                    private_key,
                    ..record
                })
            })
            .collect()
    }

    fn build_ring(&self, records: &[crate::domain::SigningKeyRecord]) -> Result<KeyRing, ApiError> {
        KeyRing::new(records, self.inner.tokens.clone(), clock::now())
            .map_err(|err| ApiError::Internal(err.to_string()))
    }

    pub(super) async fn jwks(&self) -> Result<Response<Bytes>, ApiError> {
        Ok(wire::json_response(
            StatusCode::OK,
            &self.key_ring().await?.jwks(),
        ))
    }
}

/// The ring read last, while it is young enough to trust without a re-read.
fn stale_or_closed(stale: &Arc<KeyRing>) -> Result<Arc<KeyRing>, ApiError> {
    if stale.age() <= MAX_STALE_RING {
        Ok(stale.clone())
    } else {
        tracing::error!(
            "the signing keys could not be re-read for five minutes: refusing to sign or verify"
        );
        Err(ApiError::Unavailable)
    }
}

/// What a sealed private key is bound to: its row's kid and public key.
pub(super) fn seal_label(key: &SigningKeyRecord) -> String {
    format!("signing-key:{}:{}", key.kid, hex::encode(&key.public_key))
}
