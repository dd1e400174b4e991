//! `POST /v1/sync`: verifications a client made offline, re-checked by the
//! server against the user's enrolled face. Each record's primary frame is
//! compared; the record is flagged when the server does not match the user,
//! or matches far less surely than the client claimed. Server keys only: a
//! record asks "is this face that user?", which a page must not be able to
//! ask about anyone it likes.
//!
//! Idempotent: a record is named by its user, time and the SHA-256 of its
//! primary frame; a resend gets the first answer without a second
//! comparison. Frames are not kept, only that hash.

use bytes::Bytes;
use chrono::{DateTime, DurationRound, Utc};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::threat_intel::Sighting;
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{SyncRecord, Tenant, UserStatus};
use crate::error::{ApiError, FieldIssue};
use crate::events::{Event, EventKind};
use crate::ids::UserId;
use crate::providers::face::{FaceError, ImageInput};
use crate::threat::ThreatKind;

/// Records one request may carry, and frames per record (the spec's).
pub const MAX_RECORDS: usize = 50;
pub const MAX_FRAMES: usize = 5;
/// How far behind the client's offline verifications may be synced.
const MAX_AGE: chrono::Duration = chrono::Duration::days(30);
/// How long a record can be sent again: what its retention must cover.
pub(super) const RESEND_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(31 * 24 * 3600);
const MAX_AHEAD: chrono::Duration = chrono::Duration::seconds(60);
/// A record is flagged when the server's confidence is more than this many
/// points below the client's claim (or the server does not match at all).
pub const FLAG_MARGIN: f32 = 10.0;
/// Sync requests a tenant may make a minute, counted in the database: each
/// is up to 50 engine probes, on an engine every tenant's logins share.
pub const REQUESTS_PER_MINUTE: u32 = 30;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncRequest {
    /// Each checked on its own, so every bad one is named by its index.
    #[schema(value_type = Vec<RecordIn>)]
    records: Vec<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecordIn {
    #[serde(rename = "type")]
    kind: String,
    user_id: String,
    confidence: f32,
    timestamp: DateTime<Utc>,
    frames: Vec<String>,
}

/// A record that passed validation, with its primary frame's hash.
struct Checked {
    user_id: String,
    client_confidence: f32,
    verified_at: DateTime<Utc>,
    primary: ImageInput,
    frame_hash: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReVerified {
    user_id: String,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    timestamp: DateTime<Utc>,
    server_matched: bool,
    server_confidence: f32,
    flagged: bool,
    /// Why the server could not compare (our addition), when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SyncResponse {
    processed: usize,
    re_verified: Vec<ReVerified>,
}

impl From<SyncRecord> for ReVerified {
    fn from(record: SyncRecord) -> Self {
        Self {
            user_id: record.user_id,
            timestamp: record.verified_at,
            server_matched: record.server_matched,
            server_confidence: record.server_confidence,
            flagged: record.flagged,
            reason: record.reason,
        }
    }
}

impl FaceGate {
    pub(super) async fn sync_offline(
        &self,
        tenant: &Tenant,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: SyncRequest = wire::parse_json(body)?;
        let now = clock::now();
        let records = validate(&request, now)?;
        super::rate_limit::FixedWindow {
            limit: REQUESTS_PER_MINUTE,
            window: std::time::Duration::from_secs(60),
        }
        .check(
            self.inner.store.as_ref(),
            &format!("sync:{}", tenant.id),
            now,
        )
        .await?;
        let face = self.warm_face_engine(&tenant.id).await?;
        let mut re_verified = Vec::with_capacity(records.len());
        for record in records {
            let store = &self.inner.store;
            if let Some(known) = self.synced(tenant, &record).await? {
                re_verified.push(ReVerified::from(known));
                continue;
            }
            let (server_matched, server_confidence, reason) =
                self.re_check(tenant, face, &record).await?;
            let flagged =
                !server_matched || server_confidence < record.client_confidence - FLAG_MARGIN;
            let synced = SyncRecord {
                tenant_id: tenant.id.clone(),
                user_id: record.user_id.clone(),
                verified_at: record.verified_at,
                frame_hash: record.frame_hash.clone(),
                client_confidence: record.client_confidence,
                server_matched,
                server_confidence,
                flagged,
                reason,
                synced_at: now,
            };
            let events: Vec<Event> = flagged
                .then(|| {
                    Event::new(
                        &tenant.id,
                        EventKind::SyncFlagged,
                        json!({
                            "user_id": synced.user_id,
                            "timestamp": wire::timestamp(&synced.verified_at),
                            "client_confidence": synced.client_confidence,
                            "server_matched": server_matched,
                            "server_confidence": server_confidence,
                            "reason": synced.reason,
                        }),
                        now,
                    )
                })
                .into_iter()
                .collect();
            if store.insert_sync_record(&synced, &events).await? {
                // A login the server saw only now, its face confirmed: the
                // user's latest interaction (retention) and active that
                // month. Counted, never refused: it already happened.
                if server_matched {
                    let user = UserId::from_string(synced.user_id.clone());
                    self.count_active(&tenant.id, &user, false).await?;
                }
                if flagged {
                    self.events_written();
                    tracing::warn!(tenant = %tenant.id, user = %synced.user_id, "offline verification flagged");
                }
                // Compared, and the server disowned it (not merely a frame
                // it could not read, or a user it does not have).
                if flagged && synced.reason.is_none() {
                    let subject = format!(
                        "{}:{}",
                        synced.verified_at.timestamp_millis(),
                        synced.frame_hash
                    );
                    let disowned = Sighting {
                        kind: ThreatKind::OfflineMismatch,
                        indicator: self.indicators().user(&tenant.id, &synced.user_id),
                        subject: &subject,
                    };
                    self.sight(&tenant.id, vec![disowned]).await;
                }
                re_verified.push(ReVerified::from(synced));
            } else {
                // A resend racing this one stored first: its answer stands.
                let first = self
                    .synced(tenant, &record)
                    .await?
                    .ok_or_else(|| ApiError::Internal("a synced record vanished".into()))?;
                re_verified.push(ReVerified::from(first));
            }
        }
        Ok(wire::json_response(
            StatusCode::OK,
            &SyncResponse {
                processed: re_verified.len(),
                re_verified,
            },
        ))
    }

    /// The stored answer to this record, if it was synced before.
    async fn synced(
        &self,
        tenant: &Tenant,
        record: &Checked,
    ) -> Result<Option<SyncRecord>, ApiError> {
        Ok(self
            .inner
            .store
            .sync_record(
                &tenant.id,
                &record.user_id,
                record.verified_at,
                &record.frame_hash,
            )
            .await?)
    }

    /// Whether the primary frame shows the record's user, as verify would
    /// decide it (the best stored match at the tenant's threshold), and the
    /// confidence of that match: 0 without one, as `/v1/match` answers, so
    /// the route cannot be used to watch a score climb below the threshold.
    /// A frame the engine cannot use, or a user the tenant does not have
    /// (or has suspended), is a mismatch with its reason.
    async fn re_check(
        &self,
        tenant: &Tenant,
        face: &std::sync::Arc<dyn crate::providers::face::FaceProvider>,
        record: &Checked,
    ) -> Result<(bool, f32, Option<String>), ApiError> {
        let user = UserId::from_string(record.user_id.clone());
        match self.inner.store.user(&tenant.id, &user).await? {
            None => return Ok((false, 0.0, Some("USER_NOT_FOUND".into()))),
            Some(user) if user.status != UserStatus::Active => {
                return Ok((false, 0.0, Some("USER_NOT_ACTIVE".into())));
            }
            Some(_) => {}
        }
        let probe = match face.probe(&record.primary).await {
            Ok(probe) => probe,
            // The record's own fault: flagged with it, the batch goes on
            // (and a resend of the batch does not stop at it again).
            Err(
                err @ (FaceError::NoFace
                | FaceError::ManyFaces
                | FaceError::InvalidImage(_)
                | FaceError::TooLarge(_)),
            ) => {
                let code = ApiError::from(err).code();
                return Ok((false, 0.0, Some(code.to_owned())));
            }
            Err(err) => return Err(err.into()),
        };
        let threshold = tenant.settings.match_threshold;
        let best = self
            .stored_match(face, &tenant.id, &probe, threshold)
            .await?;
        Ok(match best {
            Some(hit) if hit.user_id == user => (true, hit.confidence, None),
            _ => (false, 0.0, None),
        })
    }
}

/// The records, or every problem in them (named by index).
fn validate(request: &SyncRequest, now: DateTime<Utc>) -> Result<Vec<Checked>, ApiError> {
    let mut issues = Vec::new();
    if request.records.is_empty() || request.records.len() > MAX_RECORDS {
        issues.push(FieldIssue::new(
            "records",
            format!("between 1 and {MAX_RECORDS} records"),
        ));
        return Err(ApiError::Validation(issues));
    }
    let mut records = Vec::with_capacity(request.records.len());
    for (i, raw) in request.records.iter().enumerate() {
        let at = |field: &str| format!("records.{i}.{field}");
        let record: RecordIn = match serde_json::from_value(raw.clone()) {
            Ok(record) => record,
            Err(err) => {
                issues.push(FieldIssue::new(&format!("records.{i}"), err.to_string()));
                continue;
            }
        };
        let before = issues.len();
        if record.kind != "offline_verify" {
            issues.push(FieldIssue::new(&at("type"), "must be offline_verify"));
        }
        if record.user_id.is_empty() || record.user_id.len() > 128 {
            issues.push(FieldIssue::new(&at("user_id"), "a user id"));
        }
        if !(0.0..=100.0).contains(&record.confidence) {
            issues.push(FieldIssue::new(&at("confidence"), "between 0 and 100"));
        }
        if record.timestamp < now - MAX_AGE || record.timestamp > now + MAX_AHEAD {
            issues.push(FieldIssue::new(
                &at("timestamp"),
                "within the last 30 days, and at most 60 s ahead",
            ));
        }
        if record.frames.is_empty() || record.frames.len() > MAX_FRAMES {
            issues.push(FieldIssue::new(
                &at("frames"),
                format!("between 1 and {MAX_FRAMES} frames"),
            ));
        }
        // The primary frame is the one compared: its bytes, checked now
        // (size, base64) so a bad one costs no engine time.
        let primary = record.frames.first().map(|f| ImageInput(f.clone()));
        let bytes = match primary.as_ref().map(ImageInput::bytes) {
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(err)) => {
                issues.push(FieldIssue::new(&at("frames.0"), err.to_string()));
                None
            }
            None => None,
        };
        if issues.len() > before {
            continue;
        }
        let (Some(primary), Some(bytes)) = (primary, bytes) else {
            continue;
        };
        records.push(Checked {
            user_id: record.user_id,
            client_confidence: record.confidence,
            // To the millisecond, as the wire and every stored time are.
            verified_at: record
                .timestamp
                .duration_trunc(chrono::TimeDelta::milliseconds(1))
                .unwrap_or(record.timestamp),
            frame_hash: hex::encode(Sha256::digest(&bytes)),
            primary,
        });
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    Ok(records)
}
