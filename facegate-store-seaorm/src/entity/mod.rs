//! SeaORM entities, one module per table. Rows carry ids as text (`user_…`),
//! timestamps as `timestamptz`, JSON as `jsonb` on PostgreSQL.

pub mod active_user;
pub mod api_key;
pub mod audit_event;
pub mod billing_event;
pub mod consent;
pub mod engine_face_deletion;
pub mod event;
pub mod face_change;
pub mod face_enrollment;
pub mod face_log_head;
pub mod frame_sighting;
pub mod handoff;
pub mod handoff_ceremony;
pub mod liveness_session;
pub mod policy_change;
pub mod rate_window;
pub mod reference_frame;
pub mod refresh_token;
pub mod session;
pub mod sign_in;
pub mod signal;
pub mod signing_key;
pub mod step_up;
pub mod sync_record;
pub mod tenant;
pub mod tenant_billing;
pub mod tenant_policy;
pub mod threat_observation;
pub mod threat_pattern;
pub mod token_exchange;
pub mod usage_day;
pub mod usage_month;
pub mod user;
pub mod webhook_delivery;
pub mod webhook_endpoint;
