//! The signing key ring: loaded from the store on first use (a key is
//! generated and stored if there is none), replaced on rotation, and
//! published at `GET /.well-known/jwks.json`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{FaceGate, wire};
use crate::clock;
use crate::error::ApiError;
use crate::token::{KeyRing, generate_signing_key};

impl FaceGate {
    /// The current key ring.
    pub async fn key_ring(&self) -> Result<Arc<KeyRing>, ApiError> {
        if let Some(ring) = self.inner.keys.read().await.as_ref() {
            return Ok(ring.clone());
        }
        let mut slot = self.inner.keys.write().await;
        if let Some(ring) = slot.as_ref() {
            return Ok(ring.clone());
        }
        let mut records = self.inner.store.signing_keys().await?;
        if records.iter().all(|key| key.retired_at.is_some()) {
            let key = generate_signing_key(clock::now());
            self.inner.store.rotate_signing_key(&key).await?;
            tracing::info!(kid = %key.kid, "generated the first token signing key");
            records = self.inner.store.signing_keys().await?;
        }
        let ring = Arc::new(self.build_ring(&records)?);
        *slot = Some(ring.clone());
        Ok(ring)
    }

    /// Starts signing with a new key; the old one keeps verifying the tokens
    /// it signed until they expire. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self) -> Result<String, ApiError> {
        let mut slot = self.inner.keys.write().await;
        let key = generate_signing_key(clock::now());
        self.inner.store.rotate_signing_key(&key).await?;
        let records = self.inner.store.signing_keys().await?;
        *slot = Some(Arc::new(self.build_ring(&records)?));
        tracing::info!(kid = %key.kid, "token signing key rotated");
        Ok(key.kid)
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
