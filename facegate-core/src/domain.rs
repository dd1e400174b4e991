//! Domain types: what FaceGate stores and reasons about, independent of any
//! framework or database. Wire shapes (JSON bodies) live in `api`; these are
//! the records behind them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{
    ApiKeyId, ConsentId, FaceId, HandoffId, LivenessSessionId, SessionId, StepUpId, TenantId,
    UserId,
};

/// A customer of the FaceGate deployment. Every other record belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatus,
    pub settings: TenantSettings,
    pub created_at: DateTime<Utc>,
}

/// Per-tenant face rules, set by the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Match confidence (0–100) a face needs to count as an enrolled person.
    pub match_threshold: f32,
    /// Refuse to enroll a face that already matches an enrolled user (409
    /// `USER_ALREADY_ENROLLED`, FACEIO's `FACE_DUPLICATION`).
    pub prevent_duplicates: bool,
    /// Refuse to enroll anyone estimated younger than this plus
    /// [`TenantSettings::MINOR_AGE_MARGIN`] (403 `MINORS_NOT_ALLOWED`).
    pub minimum_age: Option<u8>,
    pub liveness: LivenessSettings,
    pub pin: PinSettings,
    /// Let client (browser) keys call `POST /v1/match`; its answer then names
    /// the user by id only. Off by default: a browser that can match faces
    /// can learn who is enrolled.
    pub client_match: bool,
    /// The role of users a client (browser) key enrolls: a browser cannot
    /// choose its own (`admin`, say). Default `user`.
    pub client_role: String,
    /// Days after a user's last interaction (enrollment, a new face, a
    /// login or a refresh) when the retention sweep deletes them, with a
    /// receipt. Default and ceiling 1095 (BIPA: at most three years);
    /// values outside 1–1095 are held to those bounds.
    pub biometric_retention_days: u32,
}

impl TenantSettings {
    /// The default match threshold: the engines calibrate confidence so that
    /// 90 sits at their measured decision point.
    pub const DEFAULT_MATCH_THRESHOLD: f32 = 90.0;

    /// BIPA's ceiling on keeping biometric data: three years after the last
    /// interaction.
    pub const MAX_RETENTION_DAYS: u32 = 1095;

    /// [`TenantSettings::biometric_retention_days`] within its bounds.
    pub fn retention_days(&self) -> u32 {
        self.biometric_retention_days
            .clamp(1, Self::MAX_RETENTION_DAYS)
    }
    /// Age estimates err by several years; an adult who looks young may be
    /// refused, a minor should not pass.
    pub const MINOR_AGE_MARGIN: f32 = 5.0;
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            match_threshold: Self::DEFAULT_MATCH_THRESHOLD,
            prevent_duplicates: true,
            minimum_age: None,
            liveness: LivenessSettings::default(),
            pin: PinSettings::default(),
            client_match: false,
            client_role: "user".into(),
            biometric_retention_days: Self::MAX_RETENTION_DAYS,
        }
    }
}

/// FACEIO's PIN: a second factor of 4–16 digits chosen at enrollment and
/// asked at verify when the face alone is not enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PinSettings {
    pub mode: PinMode,
    /// No two users of the tenant may share a PIN (409 `UNIQUE_PIN_REQUIRED`).
    pub unique: bool,
    /// Wrong PINs a user may enter, across sessions and devices, within the
    /// tenant's lockout time (`liveness.lockout_minutes`, from the first);
    /// then 429 `TOO_MANY_ATTEMPTS` until that time is over.
    pub max_wrong_per_user: u32,
}

impl Default for PinSettings {
    fn default() -> Self {
        Self {
            mode: PinMode::WhenAmbiguous,
            unique: false,
            max_wrong_per_user: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PinMode {
    /// PINs are neither taken nor asked.
    Off,
    /// Optional at enrollment; asked at verify of a user who has one when
    /// the match is ambiguous (within [`PinSettings::AMBIGUOUS_MARGIN`] of
    /// the threshold, where a look-alike could be the one matched).
    WhenAmbiguous,
    /// Required at enrollment and asked at every verify.
    Always,
}

impl PinSettings {
    /// Confidence points above the match threshold that still count as ambiguous.
    pub const AMBIGUOUS_MARGIN: f32 = 5.0;
    /// Wrong PINs one liveness session allows; the last one spends it.
    pub const MAX_TRIES: u32 = 3;
}

/// How a tenant proves a live person is in front of the camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LivenessSettings {
    pub mode: LivenessMode,
    /// The actions an active challenge is drawn from (all by default; a
    /// tenant whose users cannot blink on cue, say, leaves `blink` out).
    pub actions: Vec<LivenessAction>,
    /// Liveness confidence (0–100) verify and enroll require.
    pub min_confidence: f32,
    /// How long a device or user is locked out after
    /// [`LivenessSettings::MAX_FAILURES`] failed checks within
    /// [`LivenessSettings::FAILURE_WINDOW_SECS`].
    pub lockout_minutes: u32,
}

impl LivenessSettings {
    pub const MAX_FAILURES: usize = 5;
    pub const FAILURE_WINDOW_SECS: i64 = 3 * 60;
}

impl Default for LivenessSettings {
    fn default() -> Self {
        Self {
            mode: LivenessMode::Active,
            actions: LivenessAction::ALL.to_vec(),
            min_confidence: 90.0,
            lockout_minutes: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LivenessMode {
    /// A random challenge of head turns and blinks, plus the passive model.
    Active,
    /// The passive anti-spoof model on a short burst of frames (kiosks, tests).
    Passive,
}

/// One step of an active challenge. Directions are the user's own: on a
/// camera frame that is not mirrored, `turn_left` moves the nose towards the
/// right edge of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LivenessAction {
    TurnLeft,
    TurnRight,
    LookUp,
    LookDown,
    Blink,
}

impl LivenessAction {
    pub const ALL: [LivenessAction; 5] = [
        LivenessAction::TurnLeft,
        LivenessAction::TurnRight,
        LivenessAction::LookUp,
        LivenessAction::LookDown,
        LivenessAction::Blink,
    ];
}

/// What the client must perform in an active liveness session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LivenessChallenge {
    /// In this order; empty in passive mode.
    pub actions: Vec<LivenessAction>,
    /// Echoed with the frames, so an upload answers this challenge and no other.
    pub nonce: String,
}

/// The outcome of a liveness check; sub-scores never leave the server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LivenessOutcome {
    pub is_live: bool,
    /// 0–100.
    pub confidence: f32,
}

/// A liveness ceremony: started, completed once (frames judged), consumed
/// once (by verify or enroll).
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessSession {
    pub id: LivenessSessionId,
    pub tenant_id: TenantId,
    /// The device that started it, for lockouts.
    pub device_id: String,
    pub mode: LivenessMode,
    pub challenge: LivenessChallenge,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set once the frames are judged.
    pub completion: Option<LivenessCompletion>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// Wrong PINs entered at verify of this session.
    pub pin_failures: u32,
}

impl LivenessSession {
    /// Sessions live as long as Rekognition's do.
    pub const LIFETIME_SECS: i64 = 3 * 60;
}

#[derive(Debug, Clone, PartialEq)]
pub struct LivenessCompletion {
    pub outcome: LivenessOutcome,
    /// The best frame (base64), kept for verify or enroll of a live session
    /// and dropped when it is consumed or expires.
    pub reference_image: Option<String>,
    /// The reference face as the engine analysed it during the check
    /// ([`FaceProvider::encode_probe`]), so verify need not analyse the
    /// image again; kept and dropped with `reference_image`.
    ///
    /// [`FaceProvider::encode_probe`]: crate::providers::face::FaceProvider::encode_probe
    pub reference_probe: Option<Vec<u8>>,
    /// The enrolled user the frames showed, if any: failures count against
    /// them as well as the device.
    pub user_id: Option<UserId>,
    pub completed_at: DateTime<Utc>,
}

/// A refresh token as stored: only its SHA-256. Each is spent once; a spent
/// token presented again is a reuse, and ends its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    pub created_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    /// Every API call with the tenant's keys is refused with 403.
    Suspended,
}

/// Whether a key is for production (`fg_live_…`) or development (`fg_test_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEnvironment {
    Live,
    Test,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// The host's backend: every route.
    Server,
    /// Browser code (`fg_test_pub_…`): the login and enrollment ceremony
    /// only, from the key's allowed origins (see `docs/security.md`).
    Client,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Server => "server",
            KeyScope::Client => "client",
        }
    }
}

/// Where a client key may be used from (FACEIO's "authorized domains").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OriginRules {
    /// `https://app.example` origins; empty allows any.
    pub allowed: Vec<String>,
    /// Refuse requests with neither `Origin` nor `Referer` (403 `EMPTY_ORIGIN`).
    pub reject_empty: bool,
}

/// A stored API key. The secret itself is never stored: only its SHA-256,
/// by which it is found, and a display prefix (see [`crate::api_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub environment: KeyEnvironment,
    pub scope: KeyScope,
    /// Checked on requests with a client key.
    pub origins: OriginRules,
    /// The start of the key (`fg_test_pub_AbCd`), safe to show in
    /// dashboards and logs.
    pub prefix: String,
    /// SHA-256 of the whole key, unique.
    pub hash: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An enrolled person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub name: String,
    pub role: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub metadata: Value,
    /// FACEIO's enrollment payload: any JSON (at most
    /// [`User::MAX_PAYLOAD_BYTES`]) attached at enrollment and handed back
    /// by each successful verify.
    pub payload: Option<Value>,
    /// The user's PIN, hashed (see `facegate_core::pin`); `None` without one.
    pub pin_hash: Option<String>,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Set by the tenant; the user is never matched nor issued a token.
    Suspended,
    /// Set by lockout rules; like suspended, but expected to be lifted.
    Locked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
            UserStatus::Locked => "locked",
        }
    }
}

/// One enrolled face of a user: the provider's handle to it and, for engines
/// that search their own index, the template (embedding) itself.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceEnrollment {
    pub id: FaceId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// Which face engine holds this face (`local`, `rekognition`).
    pub provider: String,
    /// The provider's own id (a Rekognition FaceId); equal to `id` for the local engine.
    pub provider_face_id: String,
    pub angle: String,
    /// Detection confidence at enrollment, 0–100.
    pub confidence: f32,
    pub enrolled_with_glasses: bool,
    /// Serialised embedding for engines that keep their own index; `None` for
    /// server-side collections.
    pub template: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

/// A recorded biometric consent, validated against the host's [`crate::ConsentRegistry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: ConsentId,
    pub tenant_id: TenantId,
    /// The user this consent belongs to, once linked. Revoking the consent
    /// deletes that user and all their face data.
    pub user_id: Option<UserId>,
    pub consent_version: String,
    pub consent_text_hash: String,
    pub consented_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An authenticated session created by a successful verify.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub device_id: String,
    /// The `x-device-fingerprint` the session was verified with; its tokens
    /// (refreshed ones too) are bound to it.
    pub device_fingerprint: Option<String>,
    pub confidence: f32,
    pub risk_score: f32,
    pub created_at: DateTime<Utc>,
    pub last_verified_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A sign-in (or enrollment) of a user from a device: what the risk engine
/// compares a new login with (known devices, networks, user agents, and
/// how fast the user moves between devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub device_id: String,
    /// The client address's network (`/24` of IPv4, `/48` of IPv6), when known.
    pub network: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
}

/// A client's telemetry signal (`POST /v1/signals`): an attempt, a retry, a
/// camera error, as the browser saw it. Client-asserted: it informs the
/// statistics and weighs lightly in the risk score, and proves nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub tenant_id: TenantId,
    /// The client's UUID for it: a resend is the same signal.
    pub signal_id: String,
    pub device_fingerprint: String,
    /// What sent it (`sdk-js`, `sdk-react`).
    pub source: String,
    /// What it reports (`attempt`, `retry`, `camera_error`, …).
    pub kind: String,
    /// When it happened, by the client's clock (within the accepted window).
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// An offline verification a client synced (`POST /v1/sync`) and what the
/// server made of it. The frame itself is not kept: only its SHA-256, which
/// with the user and the time names the record (a resend is the same one).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRecord {
    pub tenant_id: TenantId,
    pub user_id: String,
    /// When the client says it verified the user.
    pub verified_at: DateTime<Utc>,
    /// SHA-256 (hex) of the primary frame's bytes.
    pub frame_hash: String,
    pub client_confidence: f32,
    pub server_matched: bool,
    pub server_confidence: f32,
    pub flagged: bool,
    /// Why the server could not compare (`NO_FACE_DETECTED`, `USER_NOT_FOUND`…).
    pub reason: Option<String>,
    pub synced_at: DateTime<Utc>,
}

/// A login that scored for a step-up of active liveness: no session yet.
/// A second, active-mode liveness session of the same user on the same
/// device completes it once (`POST /v1/verify { step_up_for }`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepUp {
    pub id: StepUpId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub device_id: String,
    pub device_fingerprint: Option<String>,
    /// The first check's match confidence and risk score.
    pub confidence: f32,
    pub risk_score: f32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl StepUp {
    /// Time to pass the second check: a new liveness ceremony, no more.
    pub const LIFETIME_SECS: i64 = 5 * 60;
}

/// A cross-device handoff: a desktop asked, a phone answers with its
/// camera (see `api::handoff`). The token the phone holds and the secret
/// the desktop holds are stored as hashes only.
#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    pub id: HandoffId,
    pub tenant_id: TenantId,
    /// Hex SHA-256 of the `handoff_token` (in the QR code).
    pub token_hash: String,
    /// Hex SHA-256 of the `desktop_secret` (status and socket).
    pub secret_hash: String,
    pub mode: HandoffMode,
    pub status: HandoffStatus,
    /// Shown on both screens, so the user can tell the desktop they are at
    /// is the one that asked.
    pub match_code: String,
    pub desktop: HandoffDesktop,
    /// Enroll mode: the profile the desktop asked to enroll (name, role…).
    pub enroll_profile: Option<Value>,
    /// The phone that opened the handoff first; only it may go on.
    pub phone_device_id: Option<String>,
    /// Liveness sessions the phone has started (bounded).
    pub attempts: u32,
    /// Set while a phone's `complete` runs (a lease): one at a time.
    pub claimed_until: Option<DateTime<Utc>>,
    /// What the desktop is told once completed, tokens excepted.
    pub outcome: Option<HandoffOutcome>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the desktop collected its session (once).
    pub collected_at: Option<DateTime<Utc>>,
}

impl Handoff {
    /// The spec's ten minutes.
    pub const LIFETIME_SECS: i64 = 10 * 60;
    /// Liveness sessions one handoff may start.
    pub const MAX_ATTEMPTS: u32 = 5;
    /// How long a `complete` holds the handoff; a crashed one frees it then.
    pub const CLAIM_SECS: i64 = 60;

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// The status as clients see it: an open handoff past its time is expired.
    pub fn status_at(&self, now: DateTime<Utc>) -> HandoffStatus {
        match self.status {
            HandoffStatus::Pending | HandoffStatus::Scanned if self.is_expired(now) => {
                HandoffStatus::Expired
            }
            status => status,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffMode {
    #[default]
    Verify,
    Enroll,
}

impl HandoffMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffMode::Verify => "verify",
            HandoffMode::Enroll => "enroll",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verify" => Some(HandoffMode::Verify),
            "enroll" => Some(HandoffMode::Enroll),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    Pending,
    Scanned,
    Completed,
    Declined,
    /// Never stored: an open handoff past `expires_at`.
    Expired,
}

impl HandoffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Pending => "pending",
            HandoffStatus::Scanned => "scanned",
            HandoffStatus::Completed => "completed",
            HandoffStatus::Declined => "declined",
            HandoffStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            HandoffStatus::Pending,
            HandoffStatus::Scanned,
            HandoffStatus::Completed,
            HandoffStatus::Declined,
            HandoffStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }

    /// Nothing changes after these.
    pub fn is_final(self) -> bool {
        !matches!(self, HandoffStatus::Pending | HandoffStatus::Scanned)
    }
}

/// What the desktop that asked showed of itself, for the phone to show and
/// for the session it will get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffDesktop {
    pub device_id: String,
    pub device_fingerprint: Option<String>,
    pub user_agent: Option<String>,
    /// The client address's network, as the risk engine compares them.
    pub network: Option<String>,
    /// The page's origin, when a browser asked.
    pub origin: Option<String>,
}

/// A completed handoff's result. A login keeps what opening the desktop's
/// session needs; the tokens themselves are minted when the desktop
/// collects them, so they are never stored nor seen by the phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffOutcome {
    pub user_id: Option<UserId>,
    pub confidence: f32,
    pub risk_score: f32,
    /// The answer shown to the desktop (`session_data`), without tokens.
    pub answer: Value,
}

/// A policy write, for the audit trail: who changed which policy, from
/// what to what (`None`: the defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChange {
    pub id: String,
    pub tenant_id: TenantId,
    pub policy_type: crate::policy::PolicyType,
    pub before: Option<crate::policy::Policy>,
    pub after: Option<crate::policy::Policy>,
    /// The API key that made the change.
    pub changed_by: ApiKeyId,
    pub changed_at: DateTime<Utc>,
}

/// One line of the audit trail: every API request leaves one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    /// `None` when the request never got as far as a valid key.
    pub tenant_id: Option<TenantId>,
    pub method: String,
    /// The route template (`/v1/users/:id`), not the raw path, so ids do not
    /// leak into aggregate queries.
    pub route: String,
    /// The subject of the request (a user or consent id), when the route has one.
    pub resource_id: Option<String>,
    pub status: u16,
    /// The error code, for failed requests.
    pub error_code: Option<String>,
    /// What else the handler flagged (`forced_re_enroll`).
    pub note: Option<String>,
    pub latency_ms: u32,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A key FaceGate signs its JWTs with. Generated once and kept by the store
/// (or supplied by the host); retired keys keep verifying until the tokens
/// they signed have expired.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The JWT `kid`.
    pub kid: String,
    /// Ed25519 private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Ed25519 public key, 32 bytes.
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When a newer key took over signing.
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKeyRecord {
    // The private key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}
