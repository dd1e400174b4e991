//! The one source of "now". Timestamps are cut to whole milliseconds, the
//! precision of the wire format, so what is stored reads back equal.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}
