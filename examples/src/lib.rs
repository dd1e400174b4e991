//! Shared set-up for the example hosts: configuration from the environment,
//! the store, and the consent text they register.

use std::path::Path;
use std::process::Command;

use facegate_core::domain::{LivenessMode, PinMode};
use facegate_core::{DemoConfig, FaceGate, StaticConsentRegistry};
use facegate_face_local::{EngineConfig, LocalFaceEngine, ModelError};
use facegate_store_seaorm::SeaOrmStore;

/// The consent text the examples publish as version `v1`. A real host shows
/// its own, reviewed by its lawyers.
pub const CONSENT_V1: &str = "I agree that this service stores a mathematical template of my face \
and uses it to sign me in. I can withdraw this consent at any time, which deletes my face data.";

/// Settings read from the environment, with the defaults the README promises.
pub struct Settings {
    /// `FACEGATE_ADDR`, default `127.0.0.1:8080`.
    pub addr: String,
    /// `FACEGATE_DATABASE_URL`, default `sqlite://./facegate.db`.
    pub database_url: String,
    /// `FACEGATE_BOOTSTRAP_API_KEY`: a `fg_test_…` key to create on start if absent.
    pub bootstrap_api_key: Option<String>,
    /// `FACEGATE_FACE_ENGINE`: `local` (default), `rekognition` (built
    /// with `--features rekognition`; the usual AWS environment) or `none`.
    pub face_engine: String,
    /// `FACEGATE_REKOGNITION_COLLECTION_PREFIX`: collections are named
    /// `{prefix}{tenant id}`; default `facegate-`.
    pub rekognition_collection_prefix: Option<String>,
    /// `FACEGATE_LIVENESS_ROLE_ARN`: the role whose STS credentials,
    /// narrowed to `rekognition:StartFaceLivenessSession`, the browser
    /// gets with each liveness session; unset, it gets none.
    pub liveness_role_arn: Option<String>,
    /// `FACEGATE_SIGNING_KEY_FILE`: an Ed25519 PKCS#8 PEM to sign tokens
    /// with; unset, a key is generated once and kept in the database.
    pub signing_key_file: Option<String>,
    /// `FACEGATE_MASTER_KEY`: 32 bytes (64 hex characters or base64) that
    /// seal the signing keys, webhook secrets and face templates FaceGate
    /// stores; unset, they are stored as they are (and the log says so).
    pub master_key: Option<String>,
    /// `FACEGATE_PREVIOUS_MASTER_KEYS`: comma-separated keys the master key
    /// replaced: what they sealed still opens, and maintenance seals the
    /// face templates again under the current key.
    pub previous_master_keys: Vec<String>,
    /// `FACEGATE_CORS_ORIGINS`: comma-separated browser origins allowed to
    /// call the API from other sites (`*` for any); none by default. They
    /// may also embed the demo page in an iframe.
    pub cors_origins: Vec<String>,
    /// `FACEGATE_DEMO`: `on` (default) serves the try-it page at `/demo`;
    /// `off` turns it and its keyless routes off.
    pub demo: bool,
    /// `FACEGATE_DEMO_LIVENESS`: `active` (default: head turns and blinks)
    /// or `passive` (hold still; what a fake camera playing a photo can do).
    pub demo_liveness: String,
    /// `FACEGATE_DEMO_PIN`: the demo tenant's PIN rule, `off`,
    /// `when_ambiguous` (default) or `always`.
    pub demo_pin: String,
    /// `FACEGATE_WEBHOOKS_ALLOW_PRIVATE`: `on` lets webhook endpoints be
    /// `http` and on this machine or its network, to try webhooks locally
    /// (docs/events.md). Never where tenants are not your own.
    pub webhooks_allow_private: bool,
    /// `FACEGATE_PLANS`: the plans sold to tenants, as a JSON array of
    /// `{ name, display_name, price_monthly, mau_limit, hard_limit,
    /// overage_per_mau, features: ["analytics"] }` (the default plan
    /// first); unset, every tenant is on one unmetered plan
    /// (docs/usage-and-billing.md).
    pub plans: Option<String>,
    /// `FACEGATE_STRIPE_SECRET_KEY` and `FACEGATE_STRIPE_WEBHOOK_SECRET`:
    /// with both, tenants pay for plans through Stripe
    /// (docs/usage-and-billing.md); without, billing routes answer 503.
    pub stripe: Option<StripeSettings>,
    /// `FACEGATE_METRICS_ADDR`: a second listener (`127.0.0.1:9464`) serving
    /// `GET /metrics` for Prometheus; unset, no metrics are kept.
    pub metrics_addr: Option<String>,
    /// `FACEGATE_METRICS_PER_TENANT`: `on` labels logins with the tenant.
    pub metrics_per_tenant: bool,
    /// `FACEGATE_SUPABASE_JWT_SECRET`: the Supabase project's JWT secret (at
    /// least 32 characters); with it, `POST /v1/session { "provider":
    /// "supabase" }` answers with a Supabase session too
    /// (docs/session-providers.md), **for every tenant of this server**: one
    /// app's server. A server of several apps gives each tenant its own
    /// project with `session_provider_for`. `FACEGATE_SUPABASE_URL`
    /// (`https://<project-ref>.supabase.co`) sets the tokens' issuer.
    pub supabase: Option<(String, Option<String>)>,
}

/// Stripe, from the environment.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub webhook_secret: String,
    /// `FACEGATE_STRIPE_PRICES`: `plan=price_id` pairs, comma-separated.
    pub prices: String,
    /// `FACEGATE_BILLING_RETURN_URL`: where Stripe sends the tenant back
    /// to (`…?checkout=done` after paying).
    pub return_url: String,
    /// `FACEGATE_STRIPE_API_BASE`: another Stripe API (a local peer).
    pub api_base: Option<String>,
}

impl Settings {
    /// The database URL with any password masked, for logs.
    pub fn database_for_logs(&self) -> String {
        let url = &self.database_url;
        let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
            return url.clone();
        };
        match (url[scheme_end..].find('@'), url[scheme_end..].find(':')) {
            (Some(at), Some(colon)) if colon < at => format!(
                "{}:***{}",
                &url[..scheme_end + colon],
                &url[scheme_end + at..]
            ),
            _ => url.clone(),
        }
    }

    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            addr: var("FACEGATE_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url: var("FACEGATE_DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./facegate.db".into()),
            bootstrap_api_key: var("FACEGATE_BOOTSTRAP_API_KEY"),
            face_engine: var("FACEGATE_FACE_ENGINE").unwrap_or_else(|| "local".into()),
            rekognition_collection_prefix: var("FACEGATE_REKOGNITION_COLLECTION_PREFIX"),
            liveness_role_arn: var("FACEGATE_LIVENESS_ROLE_ARN"),
            signing_key_file: var("FACEGATE_SIGNING_KEY_FILE"),
            master_key: var("FACEGATE_MASTER_KEY"),
            previous_master_keys: var("FACEGATE_PREVIOUS_MASTER_KEYS")
                .map(|v| {
                    v.split(',')
                        .map(|k| k.trim().to_owned())
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            cors_origins: var("FACEGATE_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            demo: var("FACEGATE_DEMO").is_none_or(|v| v != "off"),
            demo_liveness: var("FACEGATE_DEMO_LIVENESS").unwrap_or_else(|| "active".into()),
            demo_pin: var("FACEGATE_DEMO_PIN").unwrap_or_else(|| "when_ambiguous".into()),
            webhooks_allow_private: var("FACEGATE_WEBHOOKS_ALLOW_PRIVATE")
                .is_some_and(|v| matches!(v.as_str(), "on" | "1" | "true")),
            plans: var("FACEGATE_PLANS"),
            stripe: match (
                var("FACEGATE_STRIPE_SECRET_KEY"),
                var("FACEGATE_STRIPE_WEBHOOK_SECRET"),
            ) {
                (Some(secret_key), Some(webhook_secret)) => Some(StripeSettings {
                    secret_key,
                    webhook_secret,
                    prices: var("FACEGATE_STRIPE_PRICES").unwrap_or_default(),
                    return_url: var("FACEGATE_BILLING_RETURN_URL")
                        .unwrap_or_else(|| "http://127.0.0.1:8080/demo".into()),
                    api_base: var("FACEGATE_STRIPE_API_BASE"),
                }),
                _ => None,
            },
            metrics_addr: var("FACEGATE_METRICS_ADDR"),
            metrics_per_tenant: var("FACEGATE_METRICS_PER_TENANT")
                .is_some_and(|v| matches!(v.as_str(), "on" | "1" | "true")),
            supabase: var("FACEGATE_SUPABASE_JWT_SECRET")
                .map(|secret| (secret, var("FACEGATE_SUPABASE_URL"))),
        }
    }
}

/// Connects the store (migrating it) and builds the FaceGate service with
/// the face engine the settings name.
pub async fn build_facegate(settings: &Settings) -> Result<FaceGate, Box<dyn std::error::Error>> {
    let store = SeaOrmStore::connect(&settings.database_url)
        .await
        .map_err(|err| format!("cannot open {}: {err}", settings.database_for_logs()))?;
    let mut builder = FaceGate::builder(store)
        .consent_registry(StaticConsentRegistry::new().with_version("v1", CONSENT_V1))
        .cors(facegate_core::CorsConfig {
            allowed_origins: settings.cors_origins.clone(),
        });
    if let Some(path) = &settings.signing_key_file {
        let pem = std::fs::read_to_string(path).map_err(|err| format!("{path}: {err}"))?;
        let key = facegate_core::token::signing_key_from_pem(&pem, facegate_core::clock::now())
            .map_err(|err| format!("{path}: {err}"))?;
        builder = builder.signing_keys(key, Vec::new());
    }
    if let Some(key) = &settings.master_key {
        let mut key = facegate_core::sealed::MasterKey::parse(key)
            .map_err(|err| format!("FACEGATE_MASTER_KEY: {err}"))?;
        for previous in &settings.previous_master_keys {
            let previous = facegate_core::sealed::MasterKey::parse(previous)
                .map_err(|err| format!("FACEGATE_PREVIOUS_MASTER_KEYS: {err}"))?;
            key = key.with_previous(previous);
        }
        builder = builder.master_key(key);
    } else if !settings.previous_master_keys.is_empty() {
        return Err("FACEGATE_PREVIOUS_MASTER_KEYS needs FACEGATE_MASTER_KEY".into());
    }
    if let Some(plans) = &settings.plans {
        let plans: Vec<facegate_core::usage::Plan> =
            serde_json::from_str(plans).map_err(|err| format!("FACEGATE_PLANS: {err}"))?;
        let plans = facegate_core::usage::Plans::new(plans)
            .map_err(|err| format!("FACEGATE_PLANS: {err}"))?;
        builder = builder.plans(plans);
    }
    if settings.metrics_addr.is_some() {
        builder = builder.metrics(facegate_core::metrics::MetricsConfig {
            per_tenant: settings.metrics_per_tenant,
        });
    }
    if let Some((secret, url)) = &settings.supabase {
        // HS256 with a short secret is guessed offline from any token a user holds.
        if secret.len() < 32 {
            return Err(
                "FACEGATE_SUPABASE_JWT_SECRET: at least 32 characters (Supabase's are)".into(),
            );
        }
        let mut supabase = facegate_session_providers::SupabaseSessions::new(secret);
        if let Some(url) = url {
            supabase = supabase.issuer(format!("{}/auth/v1", url.trim_end_matches('/')));
        }
        builder = builder.session_provider(supabase);
    }
    if let Some(stripe) = &settings.stripe {
        builder = builder.billing(stripe_billing(stripe)?);
    }
    if settings.demo {
        builder = builder.demo(demo_config(settings)?);
    }
    if settings.webhooks_allow_private {
        tracing::warn!(
            "webhook endpoints may be private addresses (FACEGATE_WEBHOOKS_ALLOW_PRIVATE)"
        );
        builder = builder.webhooks(
            facegate_core::webhook::WebhookConfig::default().danger_allow_private_targets(),
        );
    }
    Ok(match settings.face_engine.as_str() {
        "local" => builder.face_provider(load_local_engine()?).build(),
        #[cfg(feature = "rekognition")]
        "rekognition" => builder
            .face_provider(rekognition_engine(settings).await)
            .build(),
        #[cfg(not(feature = "rekognition"))]
        "rekognition" => {
            return Err(
                "FACEGATE_FACE_ENGINE=rekognition: build with --features rekognition".into(),
            );
        }
        "none" => builder.build(),
        other => {
            return Err(format!(
                "FACEGATE_FACE_ENGINE={other}: expected local, rekognition or none"
            )
            .into());
        }
    })
}

/// AWS Rekognition from the usual AWS environment (`AWS_REGION`, the
/// credentials chain, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_REKOGNITION`
/// / `AWS_ENDPOINT_URL_STS` for local peers).
#[cfg(feature = "rekognition")]
async fn rekognition_engine(settings: &Settings) -> facegate_face_rekognition::RekognitionEngine {
    use facegate_face_rekognition::{LivenessConfig, RekognitionConfig, https_client};
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    let mut config = RekognitionConfig::default();
    if let Some(prefix) = &settings.rekognition_collection_prefix {
        config.collection_prefix = prefix.clone();
    }
    if let Some(role) = &settings.liveness_role_arn {
        config.liveness.browser_credentials = Some(LivenessConfig::assume_role(&sdk, role).await);
    }
    tracing::info!(region = ?sdk.region(), browser_credentials = settings.liveness_role_arn.is_some(), "face engine: AWS Rekognition");
    facegate_face_rekognition::RekognitionEngine::new(&sdk, config)
}

/// Stripe as the billing provider, from its settings.
fn stripe_billing(
    stripe: &StripeSettings,
) -> Result<facegate_billing_stripe::StripeBilling, Box<dyn std::error::Error>> {
    let back = &stripe.return_url;
    let separator = if back.contains('?') { '&' } else { '?' };
    let mut config =
        facegate_billing_stripe::StripeConfig::new(&stripe.secret_key, &stripe.webhook_secret)
            .return_urls(&format!("{back}{separator}checkout=done"), back);
    for pair in stripe.prices.split(',').filter(|p| !p.trim().is_empty()) {
        let (plan, price) = pair
            .split_once('=')
            .ok_or_else(|| format!("FACEGATE_STRIPE_PRICES: {pair:?} is not plan=price_id"))?;
        config = config.price(plan.trim(), price.trim());
    }
    if let Some(base) = &stripe.api_base {
        config = config.api_base(base);
    }
    tracing::info!("billing: Stripe");
    Ok(facegate_billing_stripe::StripeBilling::new(config)
        .map_err(|err| format!("Stripe settings: {err}"))?)
}

/// The demo tenant: default face rules with the liveness and PIN modes asked for.
fn demo_config(settings: &Settings) -> Result<DemoConfig, Box<dyn std::error::Error>> {
    let mut demo = DemoConfig {
        embed_origins: settings
            .cors_origins
            .iter()
            .filter(|origin| *origin != "*")
            .cloned()
            .collect(),
        ..DemoConfig::default()
    };
    demo.settings.liveness.mode = match settings.demo_liveness.as_str() {
        "active" => LivenessMode::Active,
        "passive" => LivenessMode::Passive,
        other => {
            return Err(
                format!("FACEGATE_DEMO_LIVENESS={other}: expected active or passive").into(),
            );
        }
    };
    demo.settings.pin.mode = match settings.demo_pin.as_str() {
        "off" => PinMode::Off,
        "when_ambiguous" => PinMode::WhenAmbiguous,
        "always" => PinMode::Always,
        other => {
            return Err(format!(
                "FACEGATE_DEMO_PIN={other}: expected off, when_ambiguous or always"
            )
            .into());
        }
    };
    Ok(demo)
}

/// What the example apps run on start: [`build_facegate`], then the
/// bootstrap API key, if one is set.
pub async fn start_facegate(settings: &Settings) -> Result<FaceGate, Box<dyn std::error::Error>> {
    let facegate = build_facegate(settings).await?;
    // The signing keys now, so a wrong master key (or none) shows at start.
    facegate
        .key_ring()
        .await
        .map_err(|err| format!("token signing keys: {err:?}"))?;
    if let Some(key) = &settings.bootstrap_api_key {
        let tenant = facegate.ensure_api_key(key, "dev").await?;
        tracing::info!(%tenant, "bootstrap API key is ready");
    }
    Ok(facegate)
}

/// The local engine; on first start, fetches its models with the project's
/// own script (showing its progress) and tries again.
fn load_local_engine() -> Result<LocalFaceEngine, Box<dyn std::error::Error>> {
    match LocalFaceEngine::load(EngineConfig::default()) {
        Err(ModelError::Missing { path }) => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fetch-models");
            tracing::info!(%path, "face models not found; fetching them with {}", script.display());
            let status = Command::new("bash").arg(&script).status()?;
            if !status.success() {
                return Err(format!("{} failed ({status})", script.display()).into());
            }
            Ok(LocalFaceEngine::load(EngineConfig::default())?)
        }
        other => Ok(other?),
    }
}

pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use super::Settings;

    fn settings(url: &str) -> Settings {
        Settings {
            addr: String::new(),
            database_url: url.into(),
            bootstrap_api_key: None,
            face_engine: "none".into(),
            rekognition_collection_prefix: None,
            liveness_role_arn: None,
            signing_key_file: None,
            master_key: None,
            previous_master_keys: Vec::new(),
            cors_origins: Vec::new(),
            demo: false,
            demo_liveness: "active".into(),
            demo_pin: "when_ambiguous".into(),
            webhooks_allow_private: false,
            plans: None,
            stripe: None,
            metrics_addr: None,
            metrics_per_tenant: false,
            supabase: None,
        }
    }

    /// An HS256 secret shorter than 32 bytes is guessed offline from any
    /// Supabase token a user holds: the server does not start with one.
    #[tokio::test]
    async fn a_short_supabase_secret_is_refused() {
        let mut short = settings("sqlite::memory:");
        short.supabase = Some(("only-31-characters-long-secret!".into(), None));
        let error = super::build_facegate(&short).await.err().expect("refused");
        assert!(
            error.to_string().contains("FACEGATE_SUPABASE_JWT_SECRET"),
            "{error}"
        );
        let mut long = settings("sqlite::memory:");
        long.supabase = Some(("x".repeat(32), Some("https://ref.supabase.co/".into())));
        assert!(super::build_facegate(&long).await.is_ok());
    }

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            settings("postgres://app:s3cret@db:5432/facegate").database_for_logs(),
            "postgres://app:***@db:5432/facegate"
        );
        assert_eq!(
            settings("sqlite://./facegate.db").database_for_logs(),
            "sqlite://./facegate.db"
        );
        assert_eq!(
            settings("postgres://db:5432/facegate").database_for_logs(),
            "postgres://db:5432/facegate"
        );
    }
}
