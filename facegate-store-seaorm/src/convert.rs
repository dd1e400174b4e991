//! Rows ⇄ domain records. A row that does not convert (an unknown status
//! string, a hash of the wrong length) is reported as a backend error rather
//! than guessed at.

use facegate_core::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, KeyEnvironment, Session,
    SigningKeyRecord, Tenant, TenantSettings, TenantStatus, User, UserStatus,
};
use facegate_core::ids::{ApiKeyId, ConsentId, FaceId, SessionId, TenantId, UserId};
use facegate_core::store::StoreError;

use crate::entity::{
    api_key, audit_event, consent, face_enrollment, session, signing_key, tenant, user,
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
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        environment,
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
        status: user.status.as_str().to_owned(),
        created_at: user.created_at,
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
        confidence: row.confidence,
        risk_score: row.risk_score,
        created_at: row.created_at,
        last_verified_at: row.last_verified_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}
