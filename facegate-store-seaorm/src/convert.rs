//! Rows ⇄ domain records. A row that does not convert (an unknown status
//! string, a hash of the wrong length) is reported as a backend error rather
//! than guessed at.

use facegate_core::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, KeyEnvironment, KeyScope,
    LivenessChallenge, LivenessCompletion, LivenessMode, LivenessOutcome, LivenessSession,
    RefreshTokenRecord, Session, SigningKeyRecord, Tenant, TenantSettings, TenantStatus, User,
    UserStatus,
};
use facegate_core::ids::{
    ApiKeyId, ConsentId, FaceId, LivenessSessionId, SessionId, TenantId, UserId,
};
use facegate_core::store::StoreError;

use crate::entity::{
    api_key, audit_event, consent, face_enrollment, liveness_session, refresh_token, session,
    signing_key, tenant, user,
};

fn corrupt(table: &str, id: &str, what: &str) -> StoreError {
    StoreError::Backend(format!("{table} row {id} has an invalid {what}"))
}

pub(crate) fn tenant_status_str(status: TenantStatus) -> &'static str {
    match status {
        TenantStatus::Active => "active",
        TenantStatus::Suspended => "suspended",
    }
}

pub(crate) fn tenant_settings_json(settings: &TenantSettings) -> String {
    serde_json::to_string(settings).expect("settings serialise to JSON")
}

pub(crate) fn tenant_row(tenant: &Tenant) -> tenant::Model {
    tenant::Model {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        status: tenant_status_str(tenant.status).to_owned(),
        settings: tenant_settings_json(&tenant.settings),
        created_at: tenant.created_at,
    }
}

pub(crate) fn tenant(row: tenant::Model) -> Result<Tenant, StoreError> {
    let status = match row.status.as_str() {
        "active" => TenantStatus::Active,
        "suspended" => TenantStatus::Suspended,
        _ => return Err(corrupt("tenants", &row.id, "status")),
    };
    let settings = serde_json::from_str(&row.settings)
        .map_err(|_| corrupt("tenants", &row.id, "settings document"))?;
    Ok(Tenant {
        id: TenantId::from_string(row.id),
        name: row.name,
        status,
        settings,
        created_at: row.created_at,
    })
}

pub(crate) fn api_key_row(key: &ApiKeyRecord) -> api_key::Model {
    api_key::Model {
        id: key.id.to_string(),
        tenant_id: key.tenant_id.to_string(),
        environment: match key.environment {
            KeyEnvironment::Live => "live",
            KeyEnvironment::Test => "test",
        }
        .to_owned(),
        scope: key.scope.as_str().to_owned(),
        origins: serde_json::to_string(&key.origins).expect("origin rules serialise to JSON"),
        prefix: key.prefix.clone(),
        hash: key.hash.to_vec(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    }
}

pub(crate) fn api_key(row: api_key::Model) -> Result<ApiKeyRecord, StoreError> {
    let environment = match row.environment.as_str() {
        "live" => KeyEnvironment::Live,
        "test" => KeyEnvironment::Test,
        _ => return Err(corrupt("api_keys", &row.id, "environment")),
    };
    let hash = <[u8; 32]>::try_from(row.hash.as_slice())
        .map_err(|_| corrupt("api_keys", &row.id, "hash"))?;
    let scope = match row.scope.as_str() {
        "server" => KeyScope::Server,
        "client" => KeyScope::Client,
        _ => return Err(corrupt("api_keys", &row.id, "scope")),
    };
    let origins =
        serde_json::from_str(&row.origins).map_err(|_| corrupt("api_keys", &row.id, "origins"))?;
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        environment,
        scope,
        origins,
        prefix: row.prefix,
        hash,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    })
}

pub(crate) fn user_row(user: &User) -> user::Model {
    user::Model {
        id: user.id.to_string(),
        tenant_id: user.tenant_id.to_string(),
        name: user.name.clone(),
        role: user.role.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        external_id: user.external_id.clone(),
        metadata: user.metadata.clone(),
        payload: user.payload.clone(),
        pin_hash: user.pin_hash.clone(),
        pin_wrong: 0,
        pin_window_started_at: None,
        status: user.status.as_str().to_owned(),
        created_at: user.created_at,
        last_seen_at: None,
    }
}

pub(crate) fn user(row: user::Model) -> Result<User, StoreError> {
    let status = match row.status.as_str() {
        "active" => UserStatus::Active,
        "suspended" => UserStatus::Suspended,
        "locked" => UserStatus::Locked,
        _ => return Err(corrupt("users", &row.id, "status")),
    };
    Ok(User {
        id: UserId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        name: row.name,
        role: row.role,
        email: row.email,
        phone: row.phone,
        external_id: row.external_id,
        metadata: row.metadata,
        payload: row.payload,
        pin_hash: row.pin_hash,
        status,
        created_at: row.created_at,
    })
}

pub(crate) fn face_row(face: &FaceEnrollment) -> face_enrollment::Model {
    face_enrollment::Model {
        id: face.id.to_string(),
        tenant_id: face.tenant_id.to_string(),
        user_id: face.user_id.to_string(),
        provider: face.provider.clone(),
        provider_face_id: face.provider_face_id.clone(),
        angle: face.angle.clone(),
        confidence: face.confidence,
        enrolled_with_glasses: face.enrolled_with_glasses,
        template: face.template.clone(),
        created_at: face.created_at,
    }
}

pub(crate) fn face(row: face_enrollment::Model) -> Result<FaceEnrollment, StoreError> {
    Ok(FaceEnrollment {
        id: FaceId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        user_id: UserId::from_string(row.user_id),
        provider: row.provider,
        provider_face_id: row.provider_face_id,
        angle: row.angle,
        confidence: row.confidence,
        enrolled_with_glasses: row.enrolled_with_glasses,
        template: row.template,
        created_at: row.created_at,
    })
}

pub(crate) fn consent_row(record: &ConsentRecord) -> consent::Model {
    consent::Model {
        id: record.id.to_string(),
        tenant_id: record.tenant_id.to_string(),
        user_id: record.user_id.as_ref().map(ToString::to_string),
        consent_version: record.consent_version.clone(),
        consent_text_hash: record.consent_text_hash.clone(),
        consented_at: record.consented_at,
        revoked_at: record.revoked_at,
    }
}

pub(crate) fn consent(row: consent::Model) -> ConsentRecord {
    ConsentRecord {
        id: ConsentId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        user_id: row.user_id.map(UserId::from_string),
        consent_version: row.consent_version,
        consent_text_hash: row.consent_text_hash,
        consented_at: row.consented_at,
        revoked_at: row.revoked_at,
    }
}

pub(crate) fn audit_row(event: &AuditEvent) -> audit_event::Model {
    audit_event::Model {
        id: event.id.clone(),
        tenant_id: event.tenant_id.as_ref().map(ToString::to_string),
        method: event.method.clone(),
        route: event.route.clone(),
        resource_id: event.resource_id.clone(),
        status: i32::from(event.status),
        error_code: event.error_code.clone(),
        note: event.note.clone(),
        latency_ms: i64::from(event.latency_ms),
        user_agent: event.user_agent.clone(),
        device_id: event.device_id.clone(),
        created_at: event.created_at,
    }
}

pub(crate) fn audit(row: audit_event::Model) -> AuditEvent {
    AuditEvent {
        id: row.id,
        tenant_id: row.tenant_id.map(TenantId::from_string),
        method: row.method,
        route: row.route,
        resource_id: row.resource_id,
        status: u16::try_from(row.status).unwrap_or(0),
        error_code: row.error_code,
        note: row.note,
        latency_ms: u32::try_from(row.latency_ms).unwrap_or(u32::MAX),
        user_agent: row.user_agent,
        device_id: row.device_id,
        created_at: row.created_at,
    }
}

pub(crate) fn signing_key_row(key: &SigningKeyRecord) -> signing_key::Model {
    signing_key::Model {
        kid: key.kid.clone(),
        private_key: key.private_key.clone(),
        public_key: key.public_key.clone(),
        created_at: key.created_at,
        retired_at: key.retired_at,
    }
}

pub(crate) fn signing_key(row: signing_key::Model) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: row.kid,
        private_key: row.private_key,
        public_key: row.public_key,
        created_at: row.created_at,
        retired_at: row.retired_at,
    }
}

pub(crate) fn session_row(session: &Session) -> session::Model {
    session::Model {
        id: session.id.to_string(),
        tenant_id: session.tenant_id.to_string(),
        user_id: session.user_id.to_string(),
        device_id: session.device_id.clone(),
        device_fingerprint: session.device_fingerprint.clone(),
        confidence: session.confidence,
        risk_score: session.risk_score,
        created_at: session.created_at,
        last_verified_at: session.last_verified_at,
        expires_at: session.expires_at,
        revoked_at: session.revoked_at,
    }
}

pub(crate) fn session(row: session::Model) -> Session {
    Session {
        id: SessionId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        user_id: UserId::from_string(row.user_id),
        device_id: row.device_id,
        device_fingerprint: row.device_fingerprint,
        confidence: row.confidence,
        risk_score: row.risk_score,
        created_at: row.created_at,
        last_verified_at: row.last_verified_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

pub(crate) fn liveness_mode_str(mode: LivenessMode) -> &'static str {
    match mode {
        LivenessMode::Active => "active",
        LivenessMode::Passive => "passive",
    }
}

pub(crate) fn liveness_session_row(session: &LivenessSession) -> liveness_session::Model {
    let completion = session.completion.as_ref();
    liveness_session::Model {
        id: session.id.to_string(),
        tenant_id: session.tenant_id.to_string(),
        device_id: session.device_id.clone(),
        mode: liveness_mode_str(session.mode).to_owned(),
        actions: serde_json::to_string(&session.challenge.actions)
            .expect("actions serialise to JSON"),
        nonce: session.challenge.nonce.clone(),
        created_at: session.created_at,
        expires_at: session.expires_at,
        completed_at: completion.map(|c| c.completed_at),
        is_live: completion.map(|c| c.outcome.is_live),
        confidence: completion.map(|c| c.outcome.confidence),
        reference_image: completion.and_then(|c| c.reference_image.clone()),
        reference_probe: completion.and_then(|c| c.reference_probe.clone()),
        user_id: completion.and_then(|c| c.user_id.as_ref().map(ToString::to_string)),
        consumed_at: session.consumed_at,
        pin_failures: i32::try_from(session.pin_failures).unwrap_or(i32::MAX),
        probes: 0,
    }
}

pub(crate) fn liveness_session(
    row: liveness_session::Model,
) -> Result<LivenessSession, StoreError> {
    let mode = match row.mode.as_str() {
        "active" => LivenessMode::Active,
        "passive" => LivenessMode::Passive,
        _ => return Err(corrupt("liveness_sessions", &row.id, "mode")),
    };
    let actions = serde_json::from_str(&row.actions)
        .map_err(|_| corrupt("liveness_sessions", &row.id, "challenge"))?;
    let completion = match (row.completed_at, row.is_live, row.confidence) {
        (Some(completed_at), Some(is_live), Some(confidence)) => Some(LivenessCompletion {
            outcome: LivenessOutcome {
                is_live,
                confidence,
            },
            reference_image: row.reference_image,
            reference_probe: row.reference_probe,
            user_id: row.user_id.map(UserId::from_string),
            completed_at,
        }),
        (None, None, None) => None,
        _ => return Err(corrupt("liveness_sessions", &row.id, "completion")),
    };
    Ok(LivenessSession {
        id: LivenessSessionId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        device_id: row.device_id,
        mode,
        challenge: LivenessChallenge {
            actions,
            nonce: row.nonce,
        },
        created_at: row.created_at,
        expires_at: row.expires_at,
        completion,
        consumed_at: row.consumed_at,
        pin_failures: u32::try_from(row.pin_failures).unwrap_or(0),
    })
}

pub(crate) fn refresh_token_row(token: &RefreshTokenRecord) -> refresh_token::Model {
    refresh_token::Model {
        hash: token.hash.clone(),
        tenant_id: token.tenant_id.to_string(),
        session_id: token.session_id.to_string(),
        created_at: token.created_at,
        spent_at: token.spent_at,
    }
}
