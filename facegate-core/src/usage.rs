//! Usage, analytics and plans: what a tenant's requests are counted as, the
//! plans a host sells its tenants, and the monthly active users (MAU) a
//! plan's limit is about.
//!
//! Counting happens as requests are served: each counted request adds to a
//! daily rollup (one row per tenant, day, metric and dimension, see
//! [`crate::store::UsageStore`]), so reading 90 days of analytics reads a
//! few thousand rows, whatever the size of the audit trail.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a rollup row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageMetric {
    /// Login attempts (`POST /v1/verify` and handoffs' logins); the
    /// dimension is empty.
    Verify,
    /// Failed logins, by error code.
    VerifyError,
    /// Logins by device class (`desktop`, `mobile`, `tablet`, `other`).
    DeviceType,
    /// Logins by browser family (`Chrome`, `Safari`, … `other`).
    Browser,
    Enroll,
    Match,
    /// Session refreshes.
    Refresh,
    /// Client signals by type (`attempt`, `retry`, `other`).
    Signal,
}

impl UsageMetric {
    pub const ALL: [UsageMetric; 8] = [
        Self::Verify,
        Self::VerifyError,
        Self::DeviceType,
        Self::Browser,
        Self::Enroll,
        Self::Match,
        Self::Refresh,
        Self::Signal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::VerifyError => "verify_error",
            Self::DeviceType => "device_type",
            Self::Browser => "browser",
            Self::Enroll => "enroll",
            Self::Match => "match",
            Self::Refresh => "refresh",
            Self::Signal => "signal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What one request adds to a rollup row.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageTally {
    pub metric: UsageMetric,
    /// Bounded by construction: an error code, a device class, a browser
    /// family from the parser's list, a known signal type.
    pub dimension: String,
    /// How many (1, or a batch's signals of one type).
    pub count: u32,
    /// Whether they succeeded (all of them).
    pub success: bool,
    pub latency_ms: u32,
    /// The match confidence of a successful login.
    pub confidence: Option<f32>,
}

/// A rollup row: a day's totals for one metric and dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub day: NaiveDate,
    pub metric: UsageMetric,
    pub dimension: String,
    pub count: u64,
    pub successes: u64,
    pub latency_ms_sum: u64,
    /// Sum of the confidences of the successes that had one.
    pub confidence_sum: f64,
}

/// What counting a user active this month came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Already counted this month.
    Counted,
    /// Counted now: one more MAU.
    New,
    /// Not counted: the plan's hard limit is reached.
    LimitReached,
}

/// A calendar month, `YYYY-MM` (UTC), as usage is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(at: DateTime<Utc>) -> Self {
        Self {
            year: at.year(),
            month: at.month(),
        }
    }

    /// `YYYY-MM`, within years 2000–9999.
    pub fn parse(s: &str) -> Option<Self> {
        let (year, month) = s.split_once('-')?;
        let digits =
            |part: &str, len| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        ((2000..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("a day before")
    }

    /// When the month ends (its limits reset), UTC.
    pub fn end(self) -> DateTime<Utc> {
        self.next()
            .first_day()
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// What a plan may include beyond the API itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanFeature {
    /// `GET /v1/analytics/*` (403 `FEATURE_NOT_IN_PLAN` without it).
    Analytics,
}

impl PlanFeature {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analytics => "analytics",
        }
    }
}

/// A plan the host sells its tenants. Prices are in the host's currency,
/// whole or fractional units (`99.0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The id tenants are assigned (`pro`).
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub price_monthly: f64,
    /// Monthly active users included; `None`: unlimited.
    #[serde(default)]
    pub mau_limit: Option<u64>,
    /// Refuse new users past the limit (429 `USAGE_LIMIT_REACHED`) instead
    /// of billing them as overage.
    #[serde(default)]
    pub hard_limit: bool,
    /// Price of each MAU past the limit.
    #[serde(default)]
    pub overage_per_mau: f64,
    #[serde(default)]
    pub features: BTreeSet<PlanFeature>,
}

impl Plan {
    pub fn new(name: &str, display_name: &str) -> Self {
        Self {
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            price_monthly: 0.0,
            mau_limit: None,
            hard_limit: false,
            overage_per_mau: 0.0,
            features: BTreeSet::new(),
        }
    }

    /// The plan of every tenant when the host sells none: no limit, every
    /// feature.
    pub fn unmetered() -> Self {
        Self::new("self_hosted", "Self-hosted").feature(PlanFeature::Analytics)
    }

    pub fn price_monthly(mut self, price: f64) -> Self {
        self.price_monthly = price;
        self
    }

    /// Included MAU; past them each one costs `overage_per_mau`.
    pub fn mau_limit(mut self, limit: u64, overage_per_mau: f64) -> Self {
        self.mau_limit = Some(limit);
        self.overage_per_mau = overage_per_mau;
        self
    }

    /// Included MAU, and not one more: new users past them get 429.
    pub fn hard_mau_limit(mut self, limit: u64) -> Self {
        self.mau_limit = Some(limit);
        self.hard_limit = true;
        self
    }

    pub fn feature(mut self, feature: PlanFeature) -> Self {
        self.features.insert(feature);
        self
    }

    pub fn has(&self, feature: PlanFeature) -> bool {
        self.features.contains(&feature)
    }

    /// The limit enforced at login and enrollment, if any.
    pub fn enforced_limit(&self) -> Option<u64> {
        self.mau_limit.filter(|_| self.hard_limit)
    }

    /// MAU past the limit, and what they cost (rounded to cents, in
    /// integers: the price is taken to a millionth).
    pub fn overage(&self, mau: u64) -> (u64, f64) {
        let over = self.mau_limit.map_or(0, |limit| mau.saturating_sub(limit));
        let micros = (self.overage_per_mau * 1e6).round() as u128;
        let cents = (u128::from(over) * micros + 5_000) / 10_000;
        (over, cents as f64 / 100.0)
    }
}

/// The host's plans. A tenant with no plan assigned is on the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Plans {
    plans: Vec<Plan>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlansError {
    #[error("at least one plan is needed")]
    Empty,
    #[error("plan name {0:?} is used twice")]
    Duplicate(String),
    #[error("plan name {0:?} must be 1 to 32 of a-z, 0-9, _ and -")]
    BadName(String),
    #[error("plan {0:?} has a negative or non-finite price")]
    BadPrice(String),
    #[error("plan {0:?} has a hard limit but no mau_limit")]
    HardLimitWithoutLimit(String),
}

impl Plans {
    /// The host's plans, the default first.
    pub fn new(plans: impl IntoIterator<Item = Plan>) -> Result<Self, PlansError> {
        let plans: Vec<Plan> = plans.into_iter().collect();
        if plans.is_empty() {
            return Err(PlansError::Empty);
        }
        let mut names = BTreeSet::new();
        for plan in &plans {
            let valid = (1..=32).contains(&plan.name.len())
                && plan.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !valid {
                return Err(PlansError::BadName(plan.name.clone()));
            }
            if !names.insert(plan.name.as_str()) {
                return Err(PlansError::Duplicate(plan.name.clone()));
            }
            let price_ok = |p: f64| p.is_finite() && p >= 0.0;
            if !price_ok(plan.price_monthly) || !price_ok(plan.overage_per_mau) {
                return Err(PlansError::BadPrice(plan.name.clone()));
            }
            if plan.hard_limit && plan.mau_limit.is_none() {
                return Err(PlansError::HardLimitWithoutLimit(plan.name.clone()));
            }
        }
        Ok(Self { plans })
    }

    pub fn default_plan(&self) -> &Plan {
        &self.plans[0]
    }

    pub fn get(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    /// The plan a tenant is on: its assigned one, or the default when it has
    /// none or one the host no longer sells.
    pub fn of(&self, assigned: Option<&str>) -> &Plan {
        assigned
            .and_then(|name| self.get(name))
            .unwrap_or_else(|| self.default_plan())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Plan> {
        self.plans.iter()
    }

    /// Whether any plan refuses users past a limit (else no login needs
    /// to look its tenant's plan up).
    pub fn enforce_limits(&self) -> bool {
        self.plans.iter().any(|p| p.enforced_limit().is_some())
    }
}

impl Default for Plans {
    fn default() -> Self {
        Self {
            plans: vec![Plan::unmetered()],
        }
    }
}

/// A tenant's billing record: its plan and, with a billing provider, the
/// provider's customer and subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantBilling {
    pub plan: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
}

/// A billing provider's change to a tenant's plan, as the store applies it:
/// only if the tenant's stored customer is `customer_id`, it has no
/// subscription or this one, and no newer change was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingUpdate {
    pub tenant: crate::ids::TenantId,
    pub customer_id: String,
    pub subscription_id: String,
    /// `None`: the subscription ended (the tenant keeps no subscription).
    pub plan: Option<String>,
    /// When the provider made the change. Within one second, an ending
    /// wins over a change that keeps the subscription.
    pub event_at: DateTime<Utc>,
}

/// What recording a billing provider's event came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingEventOutcome {
    /// Seen before (a redelivery): nothing done.
    Duplicate,
    /// Recorded; it changed nothing FaceGate follows.
    Recorded,
    /// Recorded, and the tenant's plan set from it.
    Applied,
    /// Recorded, not applied: another customer or subscription than the
    /// tenant's, or older than its last applied change.
    Ignored,
}

/// The device class of a user agent, by `woothee`'s categories (a
/// maintained dataset, not our own patterns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceClass {
    Desktop,
    Mobile,
    Tablet,
    Other,
}

impl DeviceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Other => "other",
        }
    }
}

/// Browser families kept as such; any other is `other`, so a client cannot
/// grow the rollup with made-up names.
const BROWSERS: [&str; 10] = [
    "Chrome",
    "Safari",
    "Firefox",
    "Edge",
    "Opera",
    "Internet Explorer",
    "Samsung Internet",
    "UCBrowser",
    "Vivaldi",
    "Yandex Browser",
];

/// Device class and browser family of a user agent.
pub fn classify_user_agent(user_agent: Option<&str>) -> (DeviceClass, &'static str) {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return (DeviceClass::Other, "other");
    };
    // woothee files tablets with phones; its OS names tell iPads apart, and
    // Android tablets are the Android agents without "Mobile" (Google's
    // documented convention for telling them apart).
    let class = match parsed.category {
        "pc" => DeviceClass::Desktop,
        "smartphone" | "mobilephone" if parsed.os == "iPad" => DeviceClass::Tablet,
        "smartphone" if parsed.os == "Android" && !user_agent.unwrap_or("").contains("Mobile") => {
            DeviceClass::Tablet
        }
        "smartphone" | "mobilephone" => DeviceClass::Mobile,
        _ => DeviceClass::Other,
    };
    let browser = BROWSERS
        .iter()
        .find(|b| **b == parsed.name)
        .copied()
        .unwrap_or("other");
    (class, browser)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_bound() {
        let may = Month::parse("2026-05").unwrap();
        assert_eq!(may.to_string(), "2026-05");
        assert_eq!(
            may.last_day(),
            NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        for bad in [
            "2026-13",
            "2026-00",
            "26-05",
            "2026-5",
            "1999-01",
            "x",
            "2026-05-01",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn plans_validate_and_default_to_the_first() {
        let plans = Plans::new([
            Plan::new("free", "Free").hard_mau_limit(100),
            Plan::new("pro", "Pro")
                .price_monthly(99.0)
                .mau_limit(1000, 0.05)
                .feature(PlanFeature::Analytics),
        ])
        .unwrap();
        assert_eq!(plans.of(None).name, "free");
        assert_eq!(plans.of(Some("gone")).name, "free");
        assert_eq!(plans.of(Some("pro")).name, "pro");
        assert_eq!(plans.get("pro").unwrap().overage(1234), (234, 11.7));
        assert_eq!(plans.get("pro").unwrap().enforced_limit(), None);
        assert_eq!(plans.get("free").unwrap().enforced_limit(), Some(100));
        assert_eq!(plans.get("free").unwrap().overage(50), (0, 0.0));
        assert!(matches!(
            Plans::new([Plan::new("a", "A"), Plan::new("a", "B")]),
            Err(PlansError::Duplicate(_))
        ));
        assert!(matches!(
            Plans::new([Plan::new("Pro Plan", "A")]),
            Err(PlansError::BadName(_))
        ));
        assert!(matches!(
            Plans::new([Plan::new("a", "A").price_monthly(f64::NAN)]),
            Err(PlansError::BadPrice(_))
        ));
        assert_eq!(Plans::new([]), Err(PlansError::Empty));
        let mut unlimited_hard = Plan::new("a", "A");
        unlimited_hard.hard_limit = true;
        assert!(matches!(
            Plans::new([unlimited_hard]),
            Err(PlansError::HardLimitWithoutLimit(_))
        ));
        // Cents in integers: 3 × 0.005 is 0.015, rounded half up.
        assert_eq!(
            Plan::new("a", "A").mau_limit(0, 0.005).overage(3),
            (3, 0.02)
        );
        assert!(
            serde_json::from_str::<Plan>(r#"{"name":"a","display_name":"A","hard_limt":true}"#)
                .is_err()
        );
        assert!(Plans::default().default_plan().has(PlanFeature::Analytics));
    }

    #[test]
    fn user_agents_are_classified_by_the_parser() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                DeviceClass::Desktop,
                "Chrome",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                DeviceClass::Mobile,
                "Safari",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                DeviceClass::Tablet,
                "Safari",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
                DeviceClass::Mobile,
                "Chrome",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                DeviceClass::Tablet,
                "Chrome",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                DeviceClass::Desktop,
                "Firefox",
            ),
            ("curl/8.5.0", DeviceClass::Other, "other"),
            (
                "MadeUpBrowser/1.0 (totally new)",
                DeviceClass::Other,
                "other",
            ),
        ];
        for (ua, class, browser) in cases {
            assert_eq!(classify_user_agent(Some(ua)), (class, browser), "{ua}");
        }
        assert_eq!(classify_user_agent(None), (DeviceClass::Other, "other"));
    }
}
