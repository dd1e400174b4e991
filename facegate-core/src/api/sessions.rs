//! Sessions after verify: `POST /v1/session` (exchange a verification token
//! for a provider session), `POST /v1/session/refresh` (our addition: spend a
//! refresh token for a new token pair), `POST /v1/session/:id/revoke`,
//! `GET /v1/sessions/:id/risk-score`.

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Response, StatusCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::faces::MatchedUser;
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{RefreshTokenRecord, Session, Tenant, User, UserStatus};
use crate::error::ApiError;
use crate::events::{Event, EventKind};
use crate::ids::{SessionId, TenantId, UserId};
use crate::providers::session::{SessionProviderError, VerifiedIdentity};
use crate::store::RefreshRotation;
use crate::token::Claims;

/// Refresh tokens read `fgr_` + 43 characters (256 random bits).
const REFRESH_PREFIX: &str = "fgr_";

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct CreateSessionRequest {
    verification_token: String,
    #[serde(default)]
    provider: Provider,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Provider {
    #[default]
    Jwt,
    Supabase,
    Auth0,
    Firebase,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Jwt => "jwt",
            Provider::Supabase => "supabase",
            Provider::Auth0 => "auth0",
            Provider::Firebase => "firebase",
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreateSessionResponse {
    token: String,
    refresh_token: String,
    expires_in: u64,
    user: MatchedUser,
    provider_session: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RefreshResponse {
    verification_token: String,
    refresh_token: String,
    expires_in: u64,
    session_id: SessionId,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RevokeResponse {
    revoked: bool,
    session_id: SessionId,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RiskScoreResponse {
    session_id: SessionId,
    risk_score: f32,
    /// Decayed since `last_verified_at` by the continuous policy, if any.
    confidence: f32,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    last_verified_at: DateTime<Utc>,
    /// Our additions: when the session must re-verify (`null` without a
    /// continuous policy), and whether that time has come.
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    reverify_by: Option<DateTime<Utc>>,
    reverify_required: bool,
}

/// A fresh refresh token; the store only ever sees its hash.
/// `session.revoked`, for a revocation of `session` (of `user`) for
/// `reason`; once per session, whichever way it ended first.
pub(super) fn session_revoked(
    tenant: &TenantId,
    session: &SessionId,
    user: &UserId,
    reason: &str,
    at: DateTime<Utc>,
) -> [Event; 1] {
    [Event::new(
        tenant,
        EventKind::SessionRevoked,
        serde_json::json!({ "session_id": session, "user_id": user, "reason": reason }),
        at,
    )
    .dedupe(format!("session.revoked:{session}"))]
}

fn new_refresh_token() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "{REFRESH_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    )
}

/// What the store keeps of a session's first refresh token.
fn refresh_record(token: &str, session: &Session, now: DateTime<Utc>) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: hash_refresh_token(token),
        tenant_id: session.tenant_id.clone(),
        session_id: session.id.clone(),
        created_at: now,
        spent_at: None,
    }
}

fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session just opened: the record, its first verification token and its
/// refresh token (the only copy; the store keeps its hash).
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub session: Session,
    pub verification_token: String,
    pub refresh_token: String,
}

impl FaceGate {
    /// `session.revoked` for a session its refresh token's reuse ended (the
    /// store revoked it; a stolen token's tell). Written on its own.
    async fn refresh_reused(&self, tenant: &TenantId, id: &SessionId) {
        let user = match self.inner.store.session(tenant, id).await {
            Ok(Some(session)) => session.user_id,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%err, "could not read a reused session");
                return;
            }
        };
        let now = clock::now();
        let events = session_revoked(tenant, id, &user, "refresh_token_reused", now);
        self.record_events(&events).await;
    }

    /// Opens a session for a verified user on a device, as verify does
    /// after a live match: stores it with its first refresh token and signs
    /// its first token (bound to `device_fingerprint` when given). For hosts
    /// that establish identity another way (a handoff, an admin console),
    /// and for tests.
    pub async fn open_session(
        &self,
        user: &User,
        device_id: &str,
        device_fingerprint: Option<&str>,
        confidence: f32,
        risk_score: f32,
    ) -> Result<OpenedSession, ApiError> {
        let now = clock::now();
        let lifetime = chrono::Duration::from_std(self.inner.tokens.session_lifetime)
            .unwrap_or(chrono::Duration::hours(12));
        let session = Session {
            id: SessionId::generate(),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            device_id: device_id.to_owned(),
            // Compared in lower case by the guard, refresh and exchange.
            device_fingerprint: device_fingerprint.map(str::to_ascii_lowercase),
            confidence,
            risk_score,
            created_at: now,
            last_verified_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        let refresh_token = new_refresh_token();
        let succeeded = Event::new(
            &user.tenant_id,
            EventKind::AuthSucceeded,
            serde_json::json!({
                "user_id": user.id,
                "session_id": session.id,
                "device_id": session.device_id,
                "confidence": confidence,
                "risk_score": risk_score,
            }),
            now,
        );
        self.inner
            .store
            .insert_session(
                &session,
                &refresh_record(&refresh_token, &session, now),
                std::slice::from_ref(&succeeded),
            )
            .await?;
        self.events_written();
        let verification_token = self
            .issue_token(user, &session, session.device_fingerprint.as_deref())
            .await?;
        Ok(OpenedSession {
            session,
            verification_token,
            refresh_token,
        })
    }

    /// Renews a session its user has just re-verified, spending the
    /// refresh token that proved the caller holds it: new confidence and
    /// `last_verified_at`, a new refresh token and verification token. A
    /// spent refresh token ends the session (someone else holds a copy).
    pub(super) async fn renew_session(
        &self,
        session: &Session,
        presented_refresh: &str,
        user: &User,
        confidence: f32,
        now: DateTime<Utc>,
    ) -> Result<OpenedSession, ApiError> {
        let refresh_token = new_refresh_token();
        let renewed = match self
            .inner
            .store
            .reverify_session(
                &session.tenant_id,
                &session.id,
                &hash_refresh_token(presented_refresh),
                confidence,
                now,
                &refresh_record(&refresh_token, session, now),
            )
            .await?
        {
            RefreshRotation::Rotated(renewed) => renewed,
            RefreshRotation::Unknown => return Err(ApiError::InvalidRefreshToken),
            RefreshRotation::Reused(id) => {
                self.forget_session(&id);
                tracing::warn!(session = %id, "refresh token reused at re-verification; session revoked");
                self.refresh_reused(&session.tenant_id, &id).await;
                return Err(ApiError::RefreshTokenReused);
            }
        };
        // Cached verdicts carry the old deadline.
        self.forget_session(&renewed.id);
        let verification_token = self
            .issue_token(user, &renewed, renewed.device_fingerprint.as_deref())
            .await?;
        Ok(OpenedSession {
            session: renewed,
            verification_token,
            refresh_token,
        })
    }

    /// The session a refresh token belongs to (spent or not): whoever
    /// presents one holds the session as far as ending it goes (a spent one
    /// presented at refresh ends it too).
    pub(super) async fn session_of_refresh_token(
        &self,
        tenant: &Tenant,
        presented: &str,
    ) -> Result<Option<Session>, ApiError> {
        if !presented.starts_with(REFRESH_PREFIX) {
            return Ok(None);
        }
        Ok(self
            .inner
            .store
            .refresh_token_session(&tenant.id, &hash_refresh_token(presented))
            .await?)
    }

    /// Exchanges a verification token for a provider session: once per
    /// token (by `jti`, recorded before the provider is asked, so a failed
    /// upstream call also spends it), from the device the token is bound to.
    pub(super) async fn create_session(
        &self,
        tenant: &Tenant,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: CreateSessionRequest = wire::parse_json(body)?;
        // An unregistered provider answers 501 without spending the token.
        let provider = match request.provider {
            Provider::Jwt => None,
            other => Some(
                self.inner
                    .session_providers
                    .get(&tenant.id, other.name())
                    .ok_or_else(|| ApiError::ProviderNotImplemented(other.name().to_owned()))?,
            ),
        };
        let (claims, session, user) = self
            .verified_token(tenant, &request.verification_token)
            .await?;
        if claims.exchanged {
            return Err(ApiError::VerificationTokenUsed);
        }
        if !crate::device::matches_binding(claims.dfp.as_deref(), headers) {
            return Err(ApiError::InvalidVerificationToken);
        }
        // No provider session for a session past its re-verification, and
        // none that outlives it.
        let reverify_by = self
            .policies(tenant)
            .await?
            .continuous
            .map(|policy| policy.deadline(session.last_verified_at, session.confidence));
        if reverify_by.is_some_and(|by| by <= clock::now()) {
            return Err(ApiError::ReverifyRequired);
        }
        let provider_session_ends =
            reverify_by.map_or(session.expires_at, |by| by.min(session.expires_at));
        // Kept while the token can still verify: until `exp` plus the leeway.
        let leeway = chrono::Duration::from_std(self.inner.tokens.leeway).unwrap_or_default();
        let token_expires =
            DateTime::from_timestamp(claims.exp, 0).unwrap_or(session.expires_at) + leeway;
        if !self
            .inner
            .store
            .record_token_exchange(
                &tenant.id,
                &claims.jti,
                &session.id,
                token_expires,
                clock::now(),
            )
            .await?
        {
            return Err(ApiError::VerificationTokenUsed);
        }
        let created = match provider {
            None => {
                let token = self
                    .sign_token(&user, &session, claims.dfp.as_deref(), true)
                    .await?;
                CreateSessionResponse {
                    token,
                    // The refresh token came with verify.
                    refresh_token: String::new(),
                    expires_in: self.seconds_until_token_expiry(&session),
                    user: MatchedUser::from(user),
                    provider_session: None,
                }
            }
            Some(provider) => {
                let name = request.provider.name();
                let identity = VerifiedIdentity {
                    tenant_id: tenant.id.clone(),
                    user_id: user.id.clone(),
                    session_id: session.id.clone(),
                    name: user.name.clone(),
                    role: user.role.clone(),
                    email: user.email.clone(),
                    external_id: user.external_id.clone(),
                    verification_token: request.verification_token.clone(),
                    session_expires_at: u64::try_from(provider_session_ends.timestamp())
                        .unwrap_or(0),
                };
                let created =
                    provider
                        .create_session(&identity)
                        .await
                        .map_err(|err| match err {
                            SessionProviderError::Config(detail) => {
                                ApiError::Internal(format!("{name} provider: {detail}"))
                            }
                            SessionProviderError::Upstream(detail) => {
                                ApiError::ProviderFailed(detail)
                            }
                        })?;
                CreateSessionResponse {
                    token: created.token,
                    refresh_token: created.refresh_token,
                    expires_in: created.expires_in,
                    user: MatchedUser::from(user),
                    provider_session: created.provider_session,
                }
            }
        };
        tracing::info!(tenant = %tenant.id, session = %session.id, provider = request.provider.name(), "session created");
        Ok(wire::json_response(StatusCode::OK, &created))
    }

    /// The claims, session and user behind a verification token that is
    /// valid, of this tenant, of a live session and an active user.
    pub(super) async fn verified_token(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<(Claims, Session, User), ApiError> {
        let claims = self
            .verify_token(token)
            .await?
            .map_err(|_| ApiError::InvalidVerificationToken)?;
        if claims.tid != tenant.id.as_str() {
            return Err(ApiError::InvalidVerificationToken);
        }
        let session = self
            .inner
            .store
            .session(&tenant.id, &SessionId::from_string(&claims.sid))
            .await?
            .filter(|s| s.revoked_at.is_none() && s.expires_at > clock::now())
            .ok_or(ApiError::InvalidVerificationToken)?;
        let user = self.active_user(tenant, &session).await?;
        Ok((claims, session, user))
    }

    async fn active_user(&self, tenant: &Tenant, session: &Session) -> Result<User, ApiError> {
        let user = self
            .inner
            .store
            .user(&tenant.id, &session.user_id)
            .await?
            .ok_or(ApiError::InvalidVerificationToken)?;
        match user.status {
            UserStatus::Active => Ok(user),
            UserStatus::Suspended => Err(ApiError::UserSuspended),
            UserStatus::Locked => Err(ApiError::UserLocked),
        }
    }

    fn seconds_until_token_expiry(&self, session: &Session) -> u64 {
        let until_session_end = (session.expires_at - clock::now()).num_seconds().max(0);
        self.inner
            .tokens
            .lifetime
            .as_secs()
            .min(u64::try_from(until_session_end).unwrap_or(0))
    }

    /// Spends a refresh token: a new verification token and refresh token
    /// for the same session. A token spent before ends the session (someone
    /// else holds a copy).
    pub(super) async fn refresh_session(
        &self,
        tenant: &Tenant,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: RefreshRequest = wire::parse_json(body)?;
        if !request.refresh_token.starts_with(REFRESH_PREFIX) {
            return Err(ApiError::InvalidRefreshToken);
        }
        let now = clock::now();
        let presented = hash_refresh_token(&request.refresh_token);
        // A session bound to a device refreshes only from that device, and
        // that is checked before the token is spent: a thief's copy sent
        // from elsewhere leaves the owner's token as it was.
        let bound = self
            .inner
            .store
            .refresh_token_session(&tenant.id, &presented)
            .await?
            .ok_or(ApiError::InvalidRefreshToken)?;
        if !crate::device::matches_binding(bound.device_fingerprint.as_deref(), headers) {
            return Err(ApiError::InvalidRefreshToken);
        }
        // Refreshing never carries a session past its re-verification.
        if let Some(continuous) = self.policies(tenant).await?.continuous
            && continuous.deadline(bound.last_verified_at, bound.confidence) <= now
        {
            return Err(ApiError::ReverifyRequired);
        }
        let next_token = new_refresh_token();
        let rotation = self
            .inner
            .store
            .rotate_refresh_token(
                &tenant.id,
                &presented,
                &hash_refresh_token(&next_token),
                now,
            )
            .await?;
        let session = match rotation {
            RefreshRotation::Rotated(session) => session,
            RefreshRotation::Unknown => return Err(ApiError::InvalidRefreshToken),
            RefreshRotation::Reused(session) => {
                self.forget_session(&session);
                tracing::warn!(tenant = %tenant.id, %session, "refresh token reused; session revoked");
                self.refresh_reused(&tenant.id, &session).await;
                return Err(ApiError::RefreshTokenReused);
            }
        };
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(ApiError::InvalidRefreshToken);
        }
        let user = self.active_user(tenant, &session).await?;
        let token = self
            .issue_token(&user, &session, session.device_fingerprint.as_deref())
            .await?;
        // A refresh is activity (MAU) but never refused by the plan's limit:
        // the user was counted when the session began.
        self.count_active(&tenant.id, &user.id, false).await?;
        Ok(wire::json_response(
            StatusCode::OK,
            &RefreshResponse {
                verification_token: token,
                refresh_token: next_token,
                expires_in: self.seconds_until_token_expiry(&session),
                session_id: session.id,
            },
        ))
    }

    pub(super) async fn revoke_session(
        &self,
        tenant: &Tenant,
        id: &SessionId,
    ) -> Result<Response<Bytes>, ApiError> {
        let now = clock::now();
        let session = self
            .inner
            .store
            .session(&tenant.id, id)
            .await?
            .ok_or(ApiError::SessionNotFound)?;
        let events = session_revoked(&tenant.id, id, &session.user_id, "api", now);
        let session = self
            .inner
            .store
            .revoke_session(&tenant.id, id, now, &events)
            .await?
            .ok_or(ApiError::SessionNotFound)?;
        self.events_written();
        self.forget_session(&session.id);
        tracing::info!(tenant = %tenant.id, session = %session.id, "session revoked");
        Ok(wire::json_response(
            StatusCode::OK,
            &RevokeResponse {
                revoked: true,
                session_id: session.id,
            },
        ))
    }

    pub(super) async fn session_risk_score(
        &self,
        tenant: &Tenant,
        id: &SessionId,
    ) -> Result<Response<Bytes>, ApiError> {
        let session = self
            .inner
            .store
            .session(&tenant.id, id)
            .await?
            .ok_or(ApiError::SessionNotFound)?;
        let now = clock::now();
        let continuous = self.policies(tenant).await?.continuous;
        let confidence = continuous.map_or(session.confidence, |policy| {
            policy.decayed(session.confidence, now - session.last_verified_at)
        });
        let reverify_by =
            continuous.map(|policy| policy.deadline(session.last_verified_at, session.confidence));
        Ok(wire::json_response(
            StatusCode::OK,
            &RiskScoreResponse {
                session_id: session.id,
                risk_score: session.risk_score,
                confidence: (confidence * 10.0).round() / 10.0,
                last_verified_at: session.last_verified_at,
                reverify_by,
                reverify_required: reverify_by.is_some_and(|by| by <= now),
            },
        ))
    }
}
