//! The master key's re-seal pass: what is stored plain (from before a master
//! key was configured) or under a key the master key replaced
//! ([`crate::sealed::MasterKey::with_previous`]) is sealed again under the
//! current key, so the previous key can go. Each value is written only over
//! what the pass read (a row changed meanwhile is left for the next pass).

use std::sync::atomic::Ordering;

use super::FaceGate;
use crate::error::ApiError;
use crate::ids::TenantId;
use crate::sealed::{Biometric, MasterKey, open_reporting};
use crate::store::ResealedTemplate;

/// Face templates written per transaction (and held in memory at once).
const RESEAL_BATCH: usize = 500;

/// What one pass sealed again, and what it left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub templates: u64,
    pub signing_keys: u64,
    pub webhook_secrets: u64,
    /// Values still plain or under a previous key after the pass: changed
    /// meanwhile (the next pass takes them), or opening under no configured
    /// key (logged). Drop a previous key only after a pass that left 0.
    pub left: u64,
}

impl ResealReport {
    fn resealed(&self) -> u64 {
        self.templates + self.signing_keys + self.webhook_secrets
    }
}

impl FaceGate {
    /// Seals again, under the current master key, every face template,
    /// signing key and webhook secret stored plain or under a previous key:
    /// after configuring a master key, or rotating one. Run it
    /// (`facegate-admin reseal`) until it leaves 0 before dropping a
    /// previous key. The hourly maintenance runs it too, on each instance's
    /// first pass after start and whenever an index load met such a
    /// template. Live sessions' images and probes are not sealed again:
    /// they go with their session, minutes later. Without a master key
    /// there is nothing to do.
    pub async fn reseal(&self) -> Result<ResealReport, ApiError> {
        let mut report = ResealReport::default();
        let Some(key) = &self.inner.master_key else {
            return Ok(report);
        };
        let store = &self.inner.store;
        for record in store.signing_keys().await? {
            let label = super::keys::seal_label(&record);
            match open_reporting(Some(key), &label, &record.private_key) {
                Ok(opened) if opened.stale => {
                    let sealed = key.seal(&label, &opened.value);
                    if store
                        .reseal_signing_key(&record.kid, &record.private_key, &sealed)
                        .await?
                    {
                        report.signing_keys += 1;
                    } else {
                        report.left += 1;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(kid = %record.kid, %err, "a signing key does not open");
                    report.left += 1;
                }
            }
        }
        for tenant in store.tenants().await? {
            self.reseal_templates_of(key, &tenant.id, &mut report)
                .await?;
            for endpoint in store.webhooks(&tenant.id).await? {
                let label = endpoint.id.as_str();
                match open_reporting(Some(key), label, &endpoint.secret) {
                    Ok(opened) if opened.stale => {
                        let sealed = key.seal(label, &opened.value);
                        if store
                            .reseal_webhook_secret(
                                &tenant.id,
                                &endpoint.id,
                                &endpoint.secret,
                                &sealed,
                            )
                            .await?
                        {
                            report.webhook_secrets += 1;
                        } else {
                            report.left += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(tenant = %tenant.id, webhook = %endpoint.id, %err, "a webhook secret does not open");
                        report.left += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn reseal_templates_of(
        &self,
        key: &MasterKey,
        tenant: &TenantId,
        report: &mut ResealReport,
    ) -> Result<(), ApiError> {
        let store = &self.inner.store;
        let mut batch = Vec::new();
        let faces = store.faces_of_tenant(tenant).await?;
        let last = faces.len().saturating_sub(1);
        for (at, face) in faces.into_iter().enumerate() {
            if let Some(stored) = face.template {
                let template = Biometric::Template {
                    tenant,
                    user: &face.user_id,
                    face: &face.id,
                };
                match template.open_reporting(Some(key), &stored) {
                    Ok(opened) if opened.stale => batch.push(ResealedTemplate {
                        sealed: template.seal(Some(key), opened.value),
                        face: face.id,
                        stored,
                    }),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(%tenant, face = %face.id, %err, "a face template does not open");
                        report.left += 1;
                    }
                }
            }
            if batch.len() == RESEAL_BATCH || (at == last && !batch.is_empty()) {
                let written = store.reseal_face_templates(tenant, &batch).await?;
                report.templates += written;
                report.left += batch.len() as u64 - written;
                batch.clear();
            }
        }
        Ok(())
    }

    /// [`FaceGate::reseal`] from the maintenance pass, when it may find
    /// something (see `reseal_wanted`); failures are logged, and the next
    /// pass tries again.
    pub(super) async fn reseal_if_wanted(&self) -> ResealReport {
        if self.inner.master_key.is_none()
            || !self.inner.reseal_wanted.swap(false, Ordering::AcqRel)
        {
            return ResealReport::default();
        }
        match self.reseal().await {
            Ok(report) => {
                if report.left > 0 {
                    self.inner.reseal_wanted.store(true, Ordering::Release);
                }
                if report.resealed() > 0 || report.left > 0 {
                    tracing::info!(?report, "values sealed again under the current master key");
                }
                report
            }
            Err(err) => {
                tracing::warn!(%err, "the re-seal pass failed; the next one retries");
                self.inner.reseal_wanted.store(true, Ordering::Release);
                ResealReport::default()
            }
        }
    }
}
