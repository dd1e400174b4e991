//! What every provider test starts from: an identity the core verified.
#![allow(dead_code)]

use facegate_core::ids::{SessionId, TenantId, UserId};
use facegate_session_providers::VerifiedIdentity;

pub fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        tenant_id: TenantId::generate(),
        user_id: UserId::generate(),
        session_id: SessionId::generate(),
        name: "Ada Lovelace".to_owned(),
        role: "admin".to_owned(),
        email: Some("ada@example.com".to_owned()),
        external_id: None,
        verification_token: "not-a-token".to_owned(),
        session_expires_at: now_secs() + 12 * 3600,
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
