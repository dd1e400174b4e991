//! Firebase: a custom token minted locally, RS256-signed with a service
//! account's private key, exactly as the Firebase Admin SDKs'
//! `createCustomToken` builds it.
//!
//! Why locally: a custom token is just a JWT the Firebase project trusts
//! because a service account of the project signed it; no call to Google is
//! needed. The client trades it for a Firebase ID token and refresh token
//! with `signInWithCustomToken`, so FaceGate returns no refresh token itself.
//!
//! The Firebase `uid` is the host's id for the user (the identity's
//! `external_id`) when it gave one at enrollment, else the FaceGate user id.
//! Firebase accepts 1 to 128 characters.

use std::fmt;

use async_trait::async_trait;
use facegate_core::providers::session::{
    ProviderSession, SessionProvider, SessionProviderError, VerifiedIdentity,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::time::now_secs;

/// The audience Firebase requires of a custom token.
pub const CUSTOM_TOKEN_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

/// A custom token lives one hour, the longest Firebase accepts.
const LIFETIME_SECS: u64 = 3600;
const MAX_UID_CHARS: usize = 128;

/// The `firebase` session provider.
#[derive(Clone)]
pub struct FirebaseSessions {
    client_email: String,
    key: EncodingKey,
    key_id: Option<String>,
}

/// The fields of a Google service-account key file that a custom token uses.
#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
}

impl FirebaseSessions {
    /// Reads `client_email`, `private_key` and `private_key_id` from the
    /// content of the service-account key file Google issues (Project
    /// settings → Service accounts → Generate new private key).
    pub fn from_service_account_json(json: &str) -> Result<Self, SessionProviderError> {
        // The error names the position, never the content (a private key).
        let account: ServiceAccount = serde_json::from_str(json).map_err(|error| {
            SessionProviderError::Config(format!(
                "the Firebase service account is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
        if let Some(kind) = account.kind.as_deref()
            && kind != "service_account"
        {
            return Err(SessionProviderError::Config(format!(
                "the Firebase credentials are of type `{kind}`, not `service_account`"
            )));
        }
        let client_email = account
            .client_email
            .ok_or_else(|| missing("client_email"))?;
        let private_key = account.private_key.ok_or_else(|| missing("private_key"))?;
        let provider = Self::new(client_email, &private_key)?;
        Ok(match account.private_key_id.filter(|id| !id.is_empty()) {
            Some(key_id) => provider.key_id(key_id),
            None => provider,
        })
    }

    /// A service account's email and its RSA private key in PEM (PKCS#8, as
    /// Google issues it, or PKCS#1). A key pasted into an environment
    /// variable with literal `\n` escapes is accepted too.
    pub fn new(
        client_email: impl Into<String>,
        private_key_pem: &str,
    ) -> Result<Self, SessionProviderError> {
        let client_email = client_email.into();
        if client_email.trim().is_empty() {
            return Err(SessionProviderError::Config(
                "the Firebase service account email is empty".to_owned(),
            ));
        }
        let key = parse_private_key(private_key_pem)?;
        let der = key.to_pkcs1_der().map_err(|_| {
            SessionProviderError::Config(
                "cannot encode the Firebase service account key".to_owned(),
            )
        })?;
        Ok(Self {
            client_email,
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            key_id: None,
        })
    }

    /// Names the signing key in the token header (`kid`). Firebase does not
    /// need it; [`Self::from_service_account_json`] sets it from
    /// `private_key_id`.
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The service account the tokens are issued by.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }
}

impl fmt::Debug for FirebaseSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirebaseSessions")
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn missing(field: &str) -> SessionProviderError {
    SessionProviderError::Config(format!(
        "the Firebase service account JSON has no `{field}`"
    ))
}

fn parse_private_key(pem: &str) -> Result<RsaPrivateKey, SessionProviderError> {
    let unescaped;
    let pem = if !pem.contains('\n') && pem.contains("\\n") {
        unescaped = pem.replace("\\n", "\n");
        unescaped.as_str()
    } else {
        pem
    };
    let pem = pem.trim();
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| {
            SessionProviderError::Config(
                "the Firebase service account private key is not an RSA private key in PEM \
                 (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`)"
                    .to_owned(),
            )
        })
}

/// The claims of a Firebase custom token.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    uid: &'a str,
    claims: DeveloperClaims<'a>,
}

/// Copied into the Firebase ID token, where security rules read them as
/// `request.auth.token.facegate_role` and so on.
#[derive(Serialize)]
struct DeveloperClaims<'a> {
    facegate_role: &'a str,
    facegate_tenant: &'a str,
    facegate_session: &'a str,
}

#[async_trait]
impl SessionProvider for FirebaseSessions {
    fn name(&self) -> &'static str {
        "firebase"
    }

    async fn create_session(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<ProviderSession, SessionProviderError> {
        let uid = crate::external_id(identity).unwrap_or(identity.user_id.as_str());
        let uid_chars = uid.chars().count();
        if uid_chars == 0 || uid_chars > MAX_UID_CHARS {
            return Err(SessionProviderError::Config(format!(
                "a Firebase uid must be 1 to {MAX_UID_CHARS} characters; user {}'s is {uid_chars}",
                identity.user_id
            )));
        }

        let iat = now_secs();
        let claims = Claims {
            iss: &self.client_email,
            sub: &self.client_email,
            aud: CUSTOM_TOKEN_AUDIENCE,
            iat,
            exp: iat + LIFETIME_SECS,
            uid,
            claims: DeveloperClaims {
                facegate_role: &identity.role,
                facegate_tenant: identity.tenant_id.as_str(),
                facegate_session: identity.session_id.as_str(),
            },
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let token = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| {
            SessionProviderError::Config(format!("cannot sign the Firebase custom token: {error}"))
        })?;
        tracing::debug!(
            tenant = %identity.tenant_id,
            user = %identity.user_id,
            session = %identity.session_id,
            "minted a Firebase custom token"
        );

        Ok(ProviderSession {
            provider_session: Some(json!({ "custom_token": token, "uid": uid })),
            token,
            refresh_token: String::new(),
            expires_in: LIFETIME_SECS,
        })
    }
}
