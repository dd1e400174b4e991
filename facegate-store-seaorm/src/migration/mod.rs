//! Schema migrations. Each migration is a frozen snapshot: never edit one that
//! has shipped; add the next instead.

use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_tenant_settings;
mod m20261122_000003_signing_keys;
mod m20261122_000004_sessions;
mod m20261122_000005_liveness_and_refresh;
mod m20261122_000006_user_payload;
mod m20261122_000007_pins;
mod m20261202_000008_trust_model;
mod m20261202_000009_ceremony_bounds;
mod m20261203_000010_scale_out;
mod m20261203_000011_reference_probe;
mod m20261204_000012_engine_face_deletions;
mod m20261205_000013_policies_and_risk;
mod m20261206_000014_handoffs;
mod m20261206_000015_events;
mod m20261206_000016_signals;
mod m20261206_000017_sync_records;
mod m20261206_000018_threats;
mod m20261206_000019_usage;
mod m20261206_000020_billing_events;
mod m20261207_000021_deletion_receipts;
mod m20261207_000022_user_last_seen;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_tenant_settings::Migration),
            Box::new(m20261122_000003_signing_keys::Migration),
            Box::new(m20261122_000004_sessions::Migration),
            Box::new(m20261122_000005_liveness_and_refresh::Migration),
            Box::new(m20261122_000006_user_payload::Migration),
            Box::new(m20261122_000007_pins::Migration),
            Box::new(m20261202_000008_trust_model::Migration),
            Box::new(m20261202_000009_ceremony_bounds::Migration),
            Box::new(m20261203_000010_scale_out::Migration),
            Box::new(m20261203_000011_reference_probe::Migration),
            Box::new(m20261204_000012_engine_face_deletions::Migration),
            Box::new(m20261205_000013_policies_and_risk::Migration),
            Box::new(m20261206_000014_handoffs::Migration),
            Box::new(m20261206_000015_events::Migration),
            Box::new(m20261206_000016_signals::Migration),
            Box::new(m20261206_000017_sync_records::Migration),
            Box::new(m20261206_000018_threats::Migration),
            Box::new(m20261206_000019_usage::Migration),
            Box::new(m20261206_000020_billing_events::Migration),
            Box::new(m20261207_000021_deletion_receipts::Migration),
            Box::new(m20261207_000022_user_last_seen::Migration),
        ]
    }
}
