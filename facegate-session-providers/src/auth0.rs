//! Auth0: the verification token is exchanged for Auth0 tokens with Auth0's
//! Custom Token Exchange (RFC 8693) at `POST /oauth/token`.
//!
//! Why over HTTP: Auth0 signs its tokens with keys only Auth0 holds, so the
//! session has to come from the tenant. On the Auth0 side, a Custom Token
//! Exchange profile with `subject_token_type` `urn:facegate:verification-token`
//! (the default here) runs an Action that verifies the FaceGate token
//! against FaceGate's JWKS and picks the Auth0 user; the exchange answers
//! with an access token, an ID token and, when `offline_access` is in the
//! scope, a refresh token.
//!
//! Failures of the tenant (an error answer, a time-out, no connection, a
//! body that is not the token response) are [`SessionProviderError::Upstream`];
//! the client secret and the tokens are never logged nor put in an error.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use facegate_core::providers::session::{
    ProviderSession, SessionProvider, SessionProviderError, VerifiedIdentity,
};
use serde::Deserialize;
use serde_json::Value;

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type the Auth0 exchange profile must be set up with,
/// unless [`Auth0Sessions::subject_token_type`] names another.
pub const DEFAULT_SUBJECT_TOKEN_TYPE: &str = "urn:facegate:verification-token";
/// `offline_access` makes Auth0 issue a refresh token.
pub const DEFAULT_SCOPE: &str = "openid profile email offline_access";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of Auth0's `error_description` an error message carries.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// The `auth0` session provider.
///
/// ```
/// use std::time::Duration;
/// use facegate_session_providers::Auth0Sessions;
///
/// let provider = Auth0Sessions::new("tenant.eu.auth0.com", "client id", "client secret")
///     .audience("https://api.example.com")
///     .timeout(Duration::from_secs(5));
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct Auth0Sessions {
    token_url: String,
    client_id: String,
    client_secret: String,
    audience: Option<String>,
    scope: Option<String>,
    subject_token_type: String,
    timeout: Duration,
    client: Result<reqwest::Client, String>,
}

impl Auth0Sessions {
    /// `domain_or_base_url` is the tenant's domain (`tenant.eu.auth0.com`,
    /// or a custom domain), reached over HTTPS, or a full `https://…` (or
    /// `http://…`) base URL used as it is. `client_id` and `client_secret`
    /// are those of the Auth0 application the exchange profile belongs to.
    pub fn new(
        domain_or_base_url: impl AsRef<str>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let base = domain_or_base_url.as_ref().trim().trim_end_matches('/');
        let base = if base.is_empty() {
            String::new()
        } else if base.starts_with("https://") || base.starts_with("http://") {
            base.to_owned()
        } else {
            format!("https://{base}")
        };
        let client = reqwest::Client::builder()
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"));
        Self {
            token_url: if base.is_empty() {
                String::new()
            } else {
                format!("{base}/oauth/token")
            },
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            audience: None,
            scope: Some(DEFAULT_SCOPE.to_owned()),
            subject_token_type: DEFAULT_SUBJECT_TOKEN_TYPE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            client,
        }
    }

    /// The API the access token is for (an Auth0 API identifier). Without
    /// one, Auth0 uses the tenant's default audience, if any.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into()).filter(|audience| !audience.is_empty());
        self
    }

    /// The scopes asked for; [`DEFAULT_SCOPE`] until told otherwise, and an
    /// empty string sends none.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into()).filter(|scope| !scope.is_empty());
        self
    }

    /// The `subject_token_type` of the Auth0 exchange profile.
    pub fn subject_token_type(mut self, subject_token_type: impl Into<String>) -> Self {
        self.subject_token_type = subject_token_type.into();
        self
    }

    /// How long the whole exchange may take, connecting included (10 s
    /// until told otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where the exchange is posted.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }
}

impl fmt::Debug for Auth0Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Sessions")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("subject_token_type", &self.subject_token_type)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The fields of Auth0's token response FaceGate reads; the whole JSON goes
/// back to the client as `provider_session`.
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
}

impl TokenResponse {
    /// Says which field is wrong, never what it holds.
    fn read(json: &Value) -> Result<Self, &'static str> {
        let access_token = match json.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => token.clone(),
            Some(Value::String(_)) => return Err("`access_token` is empty"),
            Some(_) => return Err("`access_token` is not a string"),
            None => return Err("no `access_token`"),
        };
        let expires_in = match json.get("expires_in") {
            Some(value) => value
                .as_u64()
                .ok_or("`expires_in` is not a whole number of seconds")?,
            None => return Err("no `expires_in`"),
        };
        let refresh_token = match json.get("refresh_token") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) => Some(token.clone()),
            Some(_) => return Err("`refresh_token` is not a string"),
        };
        Ok(Self {
            access_token,
            refresh_token,
            expires_in,
        })
    }
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

fn upstream(message: impl Into<String>) -> SessionProviderError {
    SessionProviderError::Upstream(message.into())
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl Auth0Sessions {
    fn check_config(&self) -> Result<&reqwest::Client, SessionProviderError> {
        let problem = if self.token_url.is_empty() {
            Some("the Auth0 domain is empty")
        } else if self.client_id.is_empty() {
            Some("the Auth0 client id is empty")
        } else if self.client_secret.is_empty() {
            Some("the Auth0 client secret is empty")
        } else if self.subject_token_type.is_empty() {
            Some("the Auth0 subject token type is empty")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(SessionProviderError::Config(problem.to_owned()));
        }
        self.client
            .as_ref()
            .map_err(|error| SessionProviderError::Config(error.clone()))
    }

    /// Turns a failed send or body read into an error that names the kind
    /// of failure and the URL (which holds no secret), nothing more.
    fn transport_error(&self, error: &reqwest::Error) -> SessionProviderError {
        let what = if error.is_timeout() {
            format!("timed out after {} ms", self.timeout.as_millis())
        } else if error.is_connect() {
            "could not connect".to_owned()
        } else {
            "the request failed".to_owned()
        };
        upstream(format!(
            "Auth0 token exchange at {}: {what}",
            self.token_url
        ))
    }
}

#[async_trait]
impl SessionProvider for Auth0Sessions {
    fn name(&self) -> &'static str {
        "auth0"
    }

    async fn create_session(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<ProviderSession, SessionProviderError> {
        let client = self.check_config()?;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token_type", &self.subject_token_type),
            ("subject_token", &identity.verification_token),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ];
        if let Some(audience) = &self.audience {
            form.push(("audience", audience));
        }
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }

        tracing::debug!(
            tenant = %identity.tenant_id,
            user = %identity.user_id,
            session = %identity.session_id,
            url = %self.token_url,
            "exchanging the verification token with Auth0"
        );
        let response = client
            .post(&self.token_url)
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| {
                let error = self.transport_error(&error);
                tracing::warn!(%error, "Auth0 token exchange failed");
                error
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| {
            let error = self.transport_error(&error);
            tracing::warn!(%error, "Auth0 token exchange failed");
            error
        })?;

        if !status.is_success() {
            let error = match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(ErrorResponse {
                    error: code,
                    error_description: description,
                }) if code.is_some() || description.is_some() => {
                    let code = code.as_deref().unwrap_or("unknown_error");
                    let description = description
                        .as_deref()
                        .map(|text| truncate(text, MAX_DESCRIPTION_CHARS))
                        .unwrap_or_default();
                    upstream(format!(
                        "Auth0 refused the token exchange ({}): {code}: {description}",
                        status.as_u16()
                    ))
                }
                _ => upstream(format!(
                    "Auth0 token exchange failed with status {} and no OAuth error body",
                    status.as_u16()
                )),
            };
            tracing::warn!(status = status.as_u16(), %error, "Auth0 token exchange refused");
            return Err(error);
        }

        let upstream_json: Value = serde_json::from_slice(&body).map_err(|_| {
            upstream(format!(
                "Auth0 token exchange answered {} with a body that is not JSON",
                status.as_u16()
            ))
        })?;
        let tokens = TokenResponse::read(&upstream_json).map_err(|problem| {
            upstream(format!(
                "Auth0 token exchange answered with no usable token response: {problem}"
            ))
        })?;
        tracing::debug!(
            user = %identity.user_id,
            expires_in = tokens.expires_in,
            refresh_token = tokens.refresh_token.is_some(),
            "Auth0 token exchange succeeded"
        );

        Ok(ProviderSession {
            token: tokens.access_token,
            refresh_token: tokens.refresh_token.unwrap_or_default(),
            expires_in: tokens.expires_in,
            provider_session: Some(upstream_json),
        })
    }
}
