//! Fixed-window request limits counted in the store: every instance behind
//! a load balancer counts into the same row, so a limit holds for the whole
//! deployment, not once per instance.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};

use crate::error::ApiError;
use crate::store::Store;

pub(super) struct FixedWindow {
    pub(super) limit: u32,
    pub(super) window: Duration,
}

impl FixedWindow {
    /// Counts one request in `bucket`; 429 with the seconds until the
    /// window ends once `limit` were counted in it.
    pub(super) async fn check(
        &self,
        store: &dyn Store,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        let start = now.duration_trunc(window).unwrap_or(now);
        if store.count_request(bucket, start).await? <= self.limit {
            return Ok(());
        }
        let left = (start + window - now).num_seconds();
        Err(ApiError::RateLimited {
            retry_after_secs: u64::try_from(left).unwrap_or(0).max(1),
        })
    }
}
