//! Cross-device handoff: a desktop without a camera shows a QR code, a
//! phone scans it, passes the liveness check, and the desktop is signed in.
//!
//! - `POST /v1/handoff` (the desktop, with an API key) → the spec's
//!   `{ handoff_token, verify_url, expires_at, ws_url }`, plus a
//!   `desktop_secret` (shown once), a `match_code` and the QR code as SVG.
//! - The phone holds the token only. Its routes (keyless, the token is the
//!   credential): the page at `verify_url`, `…/scan` (who asked, shown
//!   before the camera starts), `…/liveness` and `…/liveness/:id/frames`,
//!   `…/consent` (enroll mode), `…/complete` and `…/decline`.
//! - The desktop follows with `GET …/status` (API key and
//!   `x-handoff-secret`) or the socket at `ws_url` (the secret in its first
//!   message). The session is minted when the desktop collects it, once:
//!   tokens are never stored and never reach the phone.
//!
//! Why each piece is there (the QR relay attack) is in docs/handoff.md.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::liveness::Device;
use super::verify::VerifyRequest;
use super::{AuditDraft, ClientAddr, FaceGate, wire};
use crate::clock;
use crate::domain::{
    Handoff, HandoffDesktop, HandoffMode, HandoffOutcome, HandoffStatus, KeyScope, Tenant,
    TenantStatus, User,
};
use crate::error::{ApiError, FieldIssue};
use crate::ids::{ConsentId, HandoffId, LivenessSessionId, StepUpId, UserId};
use crate::providers::risk::network_of;

const PHONE_PAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/handoff/phone.html"
));

/// Tokens read `fgh_` + 43 characters (256 random bits), secrets `fgd_` + 43.
const TOKEN_PREFIX: &str = "fgh_";
const SECRET_PREFIX: &str = "fgd_";
/// The desktop secret travels in this header to the status route.
pub const SECRET_HEADER: &str = "x-handoff-secret";
/// Six characters without look-alikes (no 0/O, 1/I/L).
const MATCH_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const MATCH_CODE_LEN: usize = 6;
/// The largest enroll profile a desktop may leave for the phone, serialised.
const MAX_PROFILE_BYTES: usize = 32 * 1024;

/// The phone-side routes, under `/v1/handoff/:token/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PhoneStep {
    Page,
    Scan,
    StartLiveness,
    LivenessFrames(LivenessSessionId),
    Consent,
    Complete,
    Decline,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    #[serde(default)]
    mode: HandoffMode,
    /// Enroll mode: who to enroll (the fields of `POST /v1/enroll` other
    /// than the face, the consent and the PIN, which the phone gives).
    enroll: Option<Map<String, Value>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreateResponse {
    handoff_token: String,
    verify_url: String,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    expires_at: DateTime<Utc>,
    ws_url: String,
    desktop_secret: String,
    match_code: String,
    mode: HandoffMode,
    qr_svg: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StatusResponse {
    status: HandoffStatus,
    mode: HandoffMode,
    user_id: Option<UserId>,
    session_data: Option<Value>,
    match_code: String,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    expires_at: DateTime<Utc>,
}

/// What the phone shows before its camera starts.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ScanResponse {
    mode: HandoffMode,
    match_code: String,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    requested_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    expires_at: DateTime<Utc>,
    desktop: DesktopView,
    /// Enroll mode: the consent the phone's user is asked for.
    consent: Option<ConsentView>,
    /// Enroll mode: the name the desktop enrolls.
    enroll_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DesktopView {
    browser: Option<String>,
    os: Option<String>,
    origin: Option<String>,
    /// Whether the desktop is on the phone's network (`null`: unknown).
    same_network: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ConsentView {
    consent_version: String,
    consent_text: String,
    consent_text_hash: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct CompleteRequest {
    liveness_session_id: LivenessSessionId,
    pin: Option<String>,
    step_up_for: Option<StepUpId>,
    /// Enroll mode: the consent recorded through `…/consent`.
    consent_id: Option<ConsentId>,
}

/// The phone's answer: done, and nothing the desktop gets.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PhoneDone {
    status: HandoffStatus,
    matched: bool,
}

/// The handoff's host configuration.
#[derive(Debug, Clone, Default)]
pub struct HandoffConfig {
    /// The public base URL of the API (`https://auth.example.com`), for
    /// `verify_url` and `ws_url`. Without it they are built from the
    /// request's `Host` and `X-Forwarded-Proto`, which a proxy may rewrite:
    /// set it in production.
    pub public_url: Option<String>,
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn match_code() -> String {
    let mut rng = rand::rng();
    (0..MATCH_CODE_LEN)
        .map(|_| MATCH_CODE_ALPHABET[rng.random_range(0..MATCH_CODE_ALPHABET.len())] as char)
        .collect()
}

/// The QR code of `url`, as an SVG document.
fn qr_svg(url: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|err| ApiError::Internal(format!("QR code: {err}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// Browser and OS names from a user agent, by `woothee`'s rules.
fn browser_and_os(user_agent: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return (None, None);
    };
    let known =
        |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned());
    (known(parsed.name), known(parsed.os))
}

fn header_str(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl FaceGate {
    /// `POST /v1/handoff`, from the desktop (a client or server key).
    pub(super) async fn create_handoff(
        &self,
        tenant: &Tenant,
        scope: KeyScope,
        parts: &Parts,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: CreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
            CreateRequest {
                mode: HandoffMode::Verify,
                enroll: None,
            }
        } else {
            wire::parse_json(body)?
        };
        let enroll_profile = match (request.mode, request.enroll) {
            (HandoffMode::Verify, None) => None,
            (HandoffMode::Verify, Some(_)) => {
                return Err(ApiError::Validation(vec![FieldIssue::new(
                    "enroll",
                    "only with mode \"enroll\"",
                )]));
            }
            (HandoffMode::Enroll, profile) => Some(enroll_profile(scope, profile)?),
        };
        let headers = &parts.headers;
        let device = Device::from_headers(headers, &tenant.id)?;
        let token = random_secret(TOKEN_PREFIX);
        let secret = random_secret(SECRET_PREFIX);
        let now = clock::now();
        let handoff = Handoff {
            id: HandoffId::generate(),
            tenant_id: tenant.id.clone(),
            token_hash: hash(&token),
            secret_hash: hash(&secret),
            mode: request.mode,
            status: HandoffStatus::Pending,
            match_code: match_code(),
            desktop: HandoffDesktop {
                device_id: device.id,
                device_fingerprint: device.fingerprint,
                user_agent: header_str(headers, header::USER_AGENT)
                    .map(|ua| ua.chars().take(512).collect()),
                network: parts
                    .extensions
                    .get::<ClientAddr>()
                    .map(|c| network_of(c.0)),
                origin: header_str(headers, header::ORIGIN).and_then(super::origin::normalise),
            },
            enroll_profile,
            phone_device_id: None,
            attempts: 0,
            claimed_until: None,
            outcome: None,
            created_at: now,
            expires_at: now + chrono::Duration::seconds(Handoff::LIFETIME_SECS),
            completed_at: None,
            collected_at: None,
        };
        let base = self.public_base(headers);
        let verify_url = format!("{base}/v1/handoff/{token}/verify");
        let ws_base = base
            .strip_prefix("https://")
            .map(|rest| format!("wss://{rest}"))
            .or_else(|| {
                base.strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
            })
            .unwrap_or_else(|| base.clone());
        let qr_svg = qr_svg(&verify_url)?;
        self.inner.store.insert_handoff(&handoff).await?;
        tracing::info!(tenant = %tenant.id, handoff = %handoff.id, mode = handoff.mode.as_str(), "handoff started");
        let mut response = wire::json_response(
            StatusCode::CREATED,
            &CreateResponse {
                ws_url: format!("{ws_base}/v1/handoff/{token}/ws"),
                handoff_token: token,
                verify_url,
                expires_at: handoff.expires_at,
                desktop_secret: secret,
                match_code: handoff.match_code,
                mode: handoff.mode,
                qr_svg,
            },
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The API's public base URL: configured, else from the request.
    fn public_base(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.inner.handoff.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = header_str(headers, header::HOST)
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("localhost");
        // https unless told otherwise, or on this machine (development):
        // the token must not cross a network in the clear.
        let loopback = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|name| host == *name || host.starts_with(&format!("{name}:")));
        let scheme = match header_str(headers, "x-forwarded-proto") {
            Some("http") => "http",
            Some(_) => "https",
            None if loopback => "http",
            None => "https",
        };
        format!("{scheme}://{host}")
    }

    /// `GET /v1/handoff/:token/status`, from the desktop: its API key's
    /// tenant, and the secret only it was given.
    pub(super) async fn handoff_status(
        &self,
        tenant: &Tenant,
        token: &str,
        headers: &HeaderMap,
    ) -> Result<Response<Bytes>, ApiError> {
        let handoff = self.desktop_handoff(tenant, token).await?;
        let secret = header_str(headers, SECRET_HEADER).unwrap_or("");
        check_secret(&handoff, secret)?;
        let status = self.desktop_view(tenant, &handoff).await?;
        let mut response = wire::json_response(StatusCode::OK, &status);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The tenant's handoff of this token; 404 for another tenant's, 410
    /// once expired (unless it completed in time).
    async fn desktop_handoff(&self, tenant: &Tenant, token: &str) -> Result<Handoff, ApiError> {
        let handoff = self
            .inner
            .store
            .handoff_by_token(&hash(token))
            .await?
            .filter(|h| h.tenant_id == tenant.id)
            .ok_or(ApiError::HandoffNotFound)?;
        if handoff.status_at(clock::now()) == HandoffStatus::Expired {
            return Err(ApiError::HandoffExpired);
        }
        Ok(handoff)
    }

    /// The status as the desktop sees it. The first look at a completed
    /// login opens the desktop's session and carries its tokens; later
    /// looks say it was collected.
    async fn desktop_view(
        &self,
        tenant: &Tenant,
        handoff: &Handoff,
    ) -> Result<StatusResponse, ApiError> {
        let now = clock::now();
        let status = handoff.status_at(now);
        let mut session_data = None;
        let mut user_id = None;
        if let (HandoffStatus::Completed, Some(outcome)) = (status, &handoff.outcome) {
            user_id = outcome.user_id.clone();
            let mut answer = outcome.answer.clone();
            if handoff.mode == HandoffMode::Verify
                && let Some(user_id) = &outcome.user_id
            {
                self.collect_session(tenant, handoff, user_id, outcome, &mut answer)
                    .await?;
            }
            session_data = Some(answer);
        }
        Ok(StatusResponse {
            status,
            mode: handoff.mode,
            user_id,
            session_data,
            match_code: handoff.match_code.clone(),
            expires_at: handoff.expires_at,
        })
    }

    /// Opens the desktop's session, once, into `answer`; marks `answer`
    /// `collected` when an earlier look took it.
    async fn collect_session(
        &self,
        tenant: &Tenant,
        handoff: &Handoff,
        user_id: &UserId,
        outcome: &HandoffOutcome,
        answer: &mut Value,
    ) -> Result<(), ApiError> {
        if handoff.collected_at.is_some() {
            answer["collected"] = Value::Bool(true);
            return Ok(());
        }
        // Suspended or deleted between the phone's check and now: no session.
        let user = self
            .inner
            .store
            .user(&tenant.id, user_id)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if user.status != crate::domain::UserStatus::Active {
            return Err(ApiError::UserSuspended);
        }
        let desktop = &handoff.desktop;
        let opened = self
            .open_session(
                &user,
                &desktop.device_id,
                desktop.device_fingerprint.as_deref(),
                outcome.confidence,
                outcome.risk_score,
            )
            .await?;
        // Marked collected once the session exists (a failure above leaves
        // it to collect again); of two racing looks, the loser's session
        // is revoked at once and it is told the other took it.
        let now = clock::now();
        if !self
            .inner
            .store
            .collect_handoff(&tenant.id, &handoff.id, now)
            .await?
        {
            let reason = "handoff_already_collected";
            let events = super::sessions::session_revoked(
                &tenant.id,
                &opened.session.id,
                &user.id,
                reason,
                now,
            );
            self.inner
                .store
                .revoke_session(&tenant.id, &opened.session.id, now, &events)
                .await?;
            answer["collected"] = Value::Bool(true);
            return Ok(());
        }
        tracing::info!(tenant = %tenant.id, user = %user.id, session = %opened.session.id, handoff = %handoff.id, "handoff session collected");
        answer["verification_token"] = Value::String(opened.verification_token);
        answer["refresh_token"] = Value::String(opened.refresh_token);
        answer["session_id"] = Value::String(opened.session.id.to_string());
        answer["device_id"] = Value::String(desktop.device_id.clone());
        answer["collected"] = Value::Bool(false);
        Ok(())
    }

    /// Records a login a phone passed for the handoff's desktop (called
    /// where `/v1/verify` would open the session).
    pub(super) async fn complete_handoff_login(
        &self,
        handoff: &Handoff,
        user: &User,
        confidence: f32,
        risk_score: f32,
        answer: super::verify::VerifyResponse,
    ) -> Result<Response<Bytes>, ApiError> {
        let mut answer =
            serde_json::to_value(answer).map_err(|e| ApiError::Internal(e.to_string()))?;
        // The desktop's session gets the desktop's device, not the phone's.
        answer["device_id"] = Value::String(handoff.desktop.device_id.clone());
        let outcome = HandoffOutcome {
            user_id: Some(user.id.clone()),
            confidence,
            risk_score,
            answer,
        };
        self.finish_handoff(handoff, &outcome).await?;
        tracing::info!(tenant = %handoff.tenant_id, user = %user.id, handoff = %handoff.id, "handoff completed");
        Ok(wire::json_response(
            StatusCode::OK,
            &PhoneDone {
                status: HandoffStatus::Completed,
                matched: true,
            },
        ))
    }

    /// Pending or scanned → completed, once, in time.
    async fn finish_handoff(
        &self,
        handoff: &Handoff,
        outcome: &HandoffOutcome,
    ) -> Result<(), ApiError> {
        let now = clock::now();
        if self
            .inner
            .store
            .complete_handoff(&handoff.tenant_id, &handoff.id, outcome, now)
            .await?
        {
            return Ok(());
        }
        // Lost to a concurrent completion, a decline or the clock.
        let current = self
            .inner
            .store
            .handoff(&handoff.tenant_id, &handoff.id)
            .await?
            .ok_or(ApiError::HandoffNotFound)?;
        Err(closed_error(&current, now).unwrap_or(ApiError::HandoffCompleted))
    }

    /// A phone route: the handoff of the token in its path, on an active
    /// tenant, still open.
    pub(super) async fn phone<B>(
        &self,
        token: &str,
        step: PhoneStep,
        parts: &Parts,
        body: B,
        audit: &mut AuditDraft,
    ) -> Result<Response<Bytes>, ApiError>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // The page is the same for every token: nothing to look up, and
        // nothing learnt about a token by fetching it.
        if step == PhoneStep::Page {
            return Ok(phone_page());
        }
        let (handoff, tenant) = self.handoff_of_token(token).await?;
        audit.tenant = Some(tenant.clone());
        let now = clock::now();
        if let Some(closed) = closed_error(&handoff, now) {
            return Err(closed);
        }
        let limit = if matches!(step, PhoneStep::LivenessFrames(_)) {
            self.inner.limits.image_routes
        } else {
            self.inner.limits.other_routes
        };
        let body = wire::read_body(&parts.headers, body, limit).await?;
        let device = Device::from_headers(&parts.headers, &tenant.id)?;
        if step == PhoneStep::Scan {
            return self.scan_handoff(&tenant, &handoff, &device, parts).await;
        }
        // Every later step comes from the phone that scanned.
        if handoff.phone_device_id.as_deref() != Some(device.id.as_str()) {
            return Err(if handoff.phone_device_id.is_none() {
                ApiError::HandoffNotFound
            } else {
                ApiError::HandoffInUse
            });
        }
        match step {
            PhoneStep::Page | PhoneStep::Scan => Err(ApiError::RouteNotFound),
            PhoneStep::StartLiveness => {
                if !self
                    .inner
                    .store
                    .count_handoff_attempt(&tenant.id, &handoff.id, Handoff::MAX_ATTEMPTS, now)
                    .await?
                {
                    return Err(ApiError::HandoffAttemptsExhausted);
                }
                let started = self.start_liveness(&tenant, &parts.headers, &body).await?;
                let session_id = serde_json::from_slice::<Value>(started.body())
                    .ok()
                    .and_then(|v| {
                        v.get("session_id")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        ApiError::Internal("liveness start without a session id".into())
                    })?;
                self.inner
                    .store
                    .add_handoff_ceremony(&handoff, &session_id)
                    .await?;
                Ok(started)
            }
            PhoneStep::LivenessFrames(id) => {
                self.own_ceremony(&handoff, id.as_str()).await?;
                self.submit_liveness_frames(&tenant, &id, parts, &body)
                    .await
            }
            PhoneStep::Consent => {
                if handoff.mode != HandoffMode::Enroll {
                    return Err(ApiError::RouteNotFound);
                }
                self.record_consent(&tenant, KeyScope::Client, &body).await
            }
            PhoneStep::Complete => {
                audit.usage = Some(match handoff.mode {
                    HandoffMode::Verify => crate::usage::UsageMetric::Verify,
                    HandoffMode::Enroll => crate::usage::UsageMetric::Enroll,
                });
                self.complete_on_phone(&tenant, &handoff, &device, parts, &body)
                    .await
            }
            PhoneStep::Decline => {
                if !self
                    .inner
                    .store
                    .decline_handoff(&tenant.id, &handoff.id, now)
                    .await?
                {
                    return Err(ApiError::HandoffCompleted);
                }
                tracing::info!(tenant = %tenant.id, handoff = %handoff.id, "handoff declined on the phone");
                Ok(wire::json_response(
                    StatusCode::OK,
                    &PhoneDone {
                        status: HandoffStatus::Declined,
                        matched: false,
                    },
                ))
            }
        }
    }

    /// The first phone to open the handoff takes it; it is shown who asked.
    async fn scan_handoff(
        &self,
        tenant: &Tenant,
        handoff: &Handoff,
        device: &Device,
        parts: &Parts,
    ) -> Result<Response<Bytes>, ApiError> {
        if !device.identified {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "x-device-id",
                "the phone must identify its device (x-device-id or x-device-fingerprint)",
            )]));
        }
        if !self
            .inner
            .store
            .scan_handoff(&tenant.id, &handoff.id, &device.id, clock::now())
            .await?
        {
            let current = self.inner.store.handoff(&tenant.id, &handoff.id).await?;
            return Err(current
                .and_then(|h| closed_error(&h, clock::now()))
                .unwrap_or(ApiError::HandoffInUse));
        }
        let (browser, os) = browser_and_os(handoff.desktop.user_agent.as_deref());
        let phone_network = parts
            .extensions
            .get::<ClientAddr>()
            .map(|c| network_of(c.0));
        let same_network = match (&handoff.desktop.network, &phone_network) {
            (Some(desktop), Some(phone)) => Some(desktop == phone),
            _ => None,
        };
        let consent = (handoff.mode == HandoffMode::Enroll)
            .then(|| self.inner.consent.versions().pop())
            .flatten()
            .map(|v| ConsentView {
                consent_version: v.consent_version,
                consent_text: v.text,
                consent_text_hash: v.consent_text_hash,
            });
        let enroll_name = handoff
            .enroll_profile
            .as_ref()
            .and_then(|p| p.pointer("/profile/name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        tracing::info!(tenant = %tenant.id, handoff = %handoff.id, "handoff opened on a phone");
        let mut response = wire::json_response(
            StatusCode::OK,
            &ScanResponse {
                mode: handoff.mode,
                match_code: handoff.match_code.clone(),
                requested_at: handoff.created_at,
                expires_at: handoff.expires_at,
                desktop: DesktopView {
                    browser,
                    os,
                    origin: handoff.desktop.origin.clone(),
                    same_network,
                },
                consent,
                enroll_name,
            },
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The handoff a token (held without an API key) names, and its tenant,
    /// which must be active.
    async fn handoff_of_token(&self, token: &str) -> Result<(Handoff, Tenant), ApiError> {
        let handoff = self
            .inner
            .store
            .handoff_by_token(&hash(token))
            .await?
            .ok_or(ApiError::HandoffNotFound)?;
        let tenant = self
            .inner
            .store
            .tenant(&handoff.tenant_id)
            .await?
            .ok_or(ApiError::HandoffNotFound)?;
        if tenant.status != TenantStatus::Active {
            return Err(ApiError::TenantSuspended);
        }
        Ok((handoff, tenant))
    }

    /// 404 unless this handoff started the ceremony (a liveness session
    /// or a step-up): nothing made elsewhere, with a client key or for
    /// another handoff, completes it.
    async fn own_ceremony(&self, handoff: &Handoff, ceremony: &str) -> Result<(), ApiError> {
        if self
            .inner
            .store
            .handoff_has_ceremony(&handoff.tenant_id, &handoff.id, ceremony)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::LivenessSessionNotFound)
        }
    }

    /// `…/complete`: verify (or enroll) exactly as the `/v1` routes do,
    /// with the phone's live session; the result is the desktop's.
    async fn complete_on_phone(
        &self,
        tenant: &Tenant,
        handoff: &Handoff,
        device: &Device,
        parts: &Parts,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: CompleteRequest = wire::parse_json(body)?;
        self.own_ceremony(handoff, request.liveness_session_id.as_str())
            .await?;
        if let Some(step_up) = &request.step_up_for {
            self.own_ceremony(handoff, step_up.as_str())
                .await
                .map_err(|_| ApiError::StepUpNotFound)?;
        }
        // One completion at a time: of racing phones (or one phone's
        // parallel requests) one runs, so a handoff enrolls or signs in one
        // person. Released when it did not complete (a PIN asked, no match).
        let now = clock::now();
        if !self
            .inner
            .store
            .claim_handoff(
                &tenant.id,
                &handoff.id,
                &device.id,
                now + chrono::Duration::seconds(Handoff::CLAIM_SECS),
                now,
            )
            .await?
        {
            let current = self.inner.store.handoff(&tenant.id, &handoff.id).await?;
            return Err(current
                .and_then(|h| closed_error(&h, clock::now()))
                .unwrap_or(ApiError::HandoffInUse));
        }
        let answer = self.complete_claimed(tenant, handoff, parts, request).await;
        let completed = answer
            .as_ref()
            .is_ok_and(|r| r.status() == StatusCode::OK && is_completion(r.body()));
        if !completed {
            self.inner
                .store
                .release_handoff(&tenant.id, &handoff.id)
                .await?;
        }
        answer
    }

    /// `complete` under the handoff's claim.
    async fn complete_claimed(
        &self,
        tenant: &Tenant,
        handoff: &Handoff,
        parts: &Parts,
        request: CompleteRequest,
    ) -> Result<Response<Bytes>, ApiError> {
        match handoff.mode {
            HandoffMode::Verify => {
                if request.consent_id.is_some() {
                    return Err(ApiError::Validation(vec![FieldIssue::new(
                        "consent_id",
                        "only in enroll mode",
                    )]));
                }
                let verify = VerifyRequest {
                    liveness_session_id: request.liveness_session_id,
                    pin: request.pin,
                    step_up_for: request.step_up_for,
                    session_id: None,
                    refresh_token: None,
                };
                self.verify_for_handoff(tenant, parts, &verify, handoff)
                    .await
            }
            HandoffMode::Enroll => {
                let profile = handoff.enroll_profile.clone().unwrap_or(Value::Null);
                let scope = match profile.get("scope").and_then(Value::as_str) {
                    Some("server") => KeyScope::Server,
                    _ => KeyScope::Client,
                };
                let mut enroll = profile
                    .get("profile")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                enroll.insert(
                    "liveness_session_id".into(),
                    Value::String(request.liveness_session_id.to_string()),
                );
                if let Some(consent) = request.consent_id {
                    enroll.insert("consent_id".into(), Value::String(consent.to_string()));
                }
                if let Some(pin) = request.pin {
                    enroll.insert("pin".into(), Value::String(pin));
                }
                let enroll_body =
                    serde_json::to_vec(&enroll).map_err(|e| ApiError::Internal(e.to_string()))?;
                let enrolled = self.enroll(tenant, scope, parts, &enroll_body).await?;
                // The claim held: this enrollment is the handoff's only one.
                let answer: Value = serde_json::from_slice(enrolled.body())
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let outcome = HandoffOutcome {
                    user_id: answer
                        .get("user_id")
                        .and_then(Value::as_str)
                        .map(UserId::from_string),
                    confidence: 0.0,
                    risk_score: 0.0,
                    answer,
                };
                self.finish_handoff(handoff, &outcome).await?;
                tracing::info!(tenant = %tenant.id, handoff = %handoff.id, "handoff enrollment completed");
                Ok(wire::json_response(
                    StatusCode::OK,
                    &PhoneDone {
                        status: HandoffStatus::Completed,
                        matched: true,
                    },
                ))
            }
        }
    }
}

/// Enroll mode's profile, kept for the phone: what a key of this scope may
/// enroll, within a size bound. The face, consent and PIN come from the phone.
fn enroll_profile(scope: KeyScope, profile: Option<Map<String, Value>>) -> Result<Value, ApiError> {
    let profile = profile.ok_or_else(|| {
        ApiError::Validation(vec![FieldIssue::new(
            "enroll",
            "enroll mode needs the profile to enroll (at least `name`)",
        )])
    })?;
    const ALLOWED: [&str; 8] = [
        "name",
        "role",
        "external_id",
        "email",
        "phone",
        "metadata",
        "payload",
        "enrolled_with_glasses",
    ];
    if let Some(field) = profile.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(ApiError::Validation(vec![FieldIssue::new(
            &format!("enroll.{field}"),
            "not a field a handoff can enroll with (the phone gives the face, consent and PIN)",
        )]));
    }
    match profile.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => {}
        _ => {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "enroll.name",
                "required, a non-empty string",
            )]));
        }
    }
    // A client key sets nothing a host may trust, as on `POST /v1/enroll`
    // (the role, if sent, is checked against the tenant's there).
    if scope == KeyScope::Client
        && ["external_id", "email", "phone", "metadata"]
            .iter()
            .any(|field| profile.contains_key(*field))
    {
        return Err(ApiError::InsufficientScope {
            required: KeyScope::Server.as_str(),
        });
    }
    // A server key names the role (a client key's users get the tenant's
    // client role), as `POST /v1/enroll` wants: refused now, not on the phone.
    if scope == KeyScope::Server && !profile.get("role").is_some_and(Value::is_string) {
        return Err(ApiError::Validation(vec![FieldIssue::new(
            "enroll.role",
            "required with a server key",
        )]));
    }
    let profile = serde_json::json!({ "scope": scope.as_str(), "profile": profile });
    if serde_json::to_vec(&profile).map_or(usize::MAX, |b| b.len()) > MAX_PROFILE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_PROFILE_BYTES,
        });
    }
    Ok(profile)
}

/// Whether a `complete` answer is the phone's "done" (not a step-up, a
/// PIN prompt or a face nobody enrolled).
fn is_completion(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v.get("status").and_then(Value::as_str) == Some("completed"))
}

/// Why a phone may no longer act on a handoff, if it may not.
fn closed_error(handoff: &Handoff, now: DateTime<Utc>) -> Option<ApiError> {
    match handoff.status_at(now) {
        HandoffStatus::Pending | HandoffStatus::Scanned => None,
        HandoffStatus::Completed => Some(ApiError::HandoffCompleted),
        HandoffStatus::Declined => Some(ApiError::HandoffDeclined),
        HandoffStatus::Expired => Some(ApiError::HandoffExpired),
    }
}

/// 401 unless `presented` is the handoff's desktop secret (compared as
/// hashes, in constant time).
fn check_secret(handoff: &Handoff, presented: &str) -> Result<(), ApiError> {
    let presented = hash(presented.trim());
    if presented
        .as_bytes()
        .ct_eq(handoff.secret_hash.as_bytes())
        .into()
    {
        Ok(())
    } else {
        Err(ApiError::InvalidHandoffSecret)
    }
}

/// The phone page: mobile-first, the widget's liveness flow, its own CSP.
/// Never cached; no referrer carries the token in its path anywhere.
fn phone_page() -> Response<Bytes> {
    let mut response = wire::html_page(PHONE_PAGE, "no-store");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; frame-ancestors 'none'",
        ),
    );
    response
}

/// How long a socket waits for the desktop's first message (its secret).
pub const HANDOFF_AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a watcher re-reads the handoff without being told of a change
/// (a lost notification costs at most this).
const WATCH_POLL: Duration = Duration::from_secs(5);

/// A WebSocket upgrade to `ws_url`, checked but not yet authenticated;
/// see [`FaceGate::handoff_socket`].
pub struct HandoffSocket {
    gate: FaceGate,
    tenant: Tenant,
    handoff: Handoff,
}

/// Why a socket is closed: a WebSocket close code (4xxx: ours) and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketClose {
    pub code: u16,
    pub reason: &'static str,
}

impl SocketClose {
    pub const DONE: SocketClose = SocketClose {
        code: 1000,
        reason: "handoff finished",
    };
    pub const BAD_SECRET: SocketClose = SocketClose {
        code: 4401,
        reason: "invalid desktop secret",
    };
    pub const NO_SECRET: SocketClose = SocketClose {
        code: 4408,
        reason: "no desktop secret in time",
    };
}

#[derive(Deserialize)]
struct SocketHello {
    desktop_secret: String,
}

impl FaceGate {
    /// Checks a WebSocket upgrade to `/v1/handoff/:token/ws` before the
    /// adapter accepts it: the handoff exists and is not expired, and the
    /// page's `Origin` (browsers always send one) is the desktop's own or
    /// one of the tenant's client-key origins. `Err` is the HTTP answer to
    /// give instead of upgrading.
    pub async fn handoff_socket(
        &self,
        token: &str,
        headers: &HeaderMap,
    ) -> Result<HandoffSocket, Response<Bytes>> {
        self.check_handoff_socket(token, headers)
            .await
            .map_err(|err| wire::error_response(&err))
    }

    async fn check_handoff_socket(
        &self,
        token: &str,
        headers: &HeaderMap,
    ) -> Result<HandoffSocket, ApiError> {
        let (handoff, tenant) = self.handoff_of_token(token).await?;
        if handoff.status_at(clock::now()) == HandoffStatus::Expired {
            return Err(ApiError::HandoffExpired);
        }
        if let Some(origin) = header_str(headers, header::ORIGIN) {
            let origin = super::origin::normalise(origin).ok_or(ApiError::ForbiddenOrigin)?;
            let own = handoff.desktop.origin.as_deref() == Some(origin.as_str());
            let tenant_origin = || async {
                self.inner.store.api_keys(&tenant.id).await.map(|keys| {
                    keys.iter().any(|key| {
                        key.scope == KeyScope::Client
                            && key.revoked_at.is_none()
                            && key.origins.allowed.contains(&origin)
                    })
                })
            };
            if !own && !tenant_origin().await? {
                return Err(ApiError::ForbiddenOrigin);
            }
        }
        Ok(HandoffSocket {
            gate: self.clone(),
            tenant,
            handoff,
        })
    }
}

impl HandoffSocket {
    /// The desktop's first message, `{"desktop_secret":"fgd_…"}`: the feed
    /// of status messages if it holds the secret, else why to close.
    pub fn authenticate(self, first_message: &str) -> Result<HandoffFeed, SocketClose> {
        let hello: SocketHello =
            serde_json::from_str(first_message).map_err(|_| SocketClose::BAD_SECRET)?;
        check_secret(&self.handoff, &hello.desktop_secret).map_err(|_| SocketClose::BAD_SECRET)?;
        let changes = self.gate.inner.store.handoff_changes();
        Ok(HandoffFeed {
            gate: self.gate,
            tenant: self.tenant,
            id: self.handoff.id,
            expires_at: self.handoff.expires_at,
            changes,
            last: None,
            finished: false,
        })
    }
}

/// The status of one handoff as it changes: each change once, as the
/// status route's JSON, then the end when it is final.
pub struct HandoffFeed {
    gate: FaceGate,
    tenant: Tenant,
    id: HandoffId,
    expires_at: DateTime<Utc>,
    changes: tokio::sync::broadcast::Receiver<HandoffId>,
    last: Option<HandoffStatus>,
    finished: bool,
}

impl HandoffFeed {
    /// Runs the feed on its own task, its messages on a channel: a socket
    /// loop can wait on the channel and on the client at once without
    /// cancelling a status read halfway (the one that opens the session).
    /// The task ends with the feed, or at the first message after the
    /// receiver is dropped.
    pub fn spawn(mut self) -> tokio::sync::mpsc::Receiver<String> {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                // A socket gone ends the feed before it reads (or collects) again.
                let message = tokio::select! {
                    () = sender.closed() => break,
                    message = self.next() => message,
                };
                let Some(message) = message else { break };
                if sender.send(message).await.is_err() {
                    break;
                }
            }
        });
        receiver
    }

    /// The next status message; `None` once the handoff is final (the
    /// adapter then closes with [`SocketClose::DONE`]).
    pub async fn next(&mut self) -> Option<String> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            // Whatever the store says, a feed ends a little after expiry.
            if self.finished || clock::now() > self.expires_at + chrono::Duration::seconds(60) {
                return None;
            }
            match self.current().await {
                Ok(Some(message)) => return Some(message),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, handoff = %self.id, "handoff status unavailable");
                }
            }
            let until_expiry = (self.expires_at - clock::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            let wait = WATCH_POLL.min(until_expiry.max(Duration::from_secs(1)));
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(deadline, self.changes.recv()).await {
                    Ok(Ok(id)) if id != self.id => continue,
                    Ok(Err(RecvError::Closed)) => {
                        tokio::time::sleep_until(deadline).await;
                        break;
                    }
                    // Ours, missed ones (lagged), or time to look anyway.
                    Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) | Err(_) => break,
                }
            }
        }
    }

    /// The status message if it changed since the last one sent. A
    /// handoff gone (pruned) ends the feed; so does a completed login
    /// whose session cannot be opened (the error is the last message).
    async fn current(&mut self) -> Result<Option<String>, ApiError> {
        let Some(handoff) = self
            .gate
            .inner
            .store
            .handoff(&self.tenant.id, &self.id)
            .await?
        else {
            self.finished = true;
            return Ok(None);
        };
        let status = handoff.status_at(clock::now());
        if self.last == Some(status) {
            return Ok(None);
        }
        let message = match self.gate.desktop_view(&self.tenant, &handoff).await {
            Ok(view) => serde_json::to_value(&view).unwrap_or_default(),
            Err(ApiError::Unavailable) => return Err(ApiError::Unavailable),
            Err(err) => {
                self.finished = true;
                err.body()
            }
        };
        self.last = Some(status);
        self.finished |= status.is_final();
        Ok(Some(message.to_string()))
    }
}
