//! Cross-origin access for browser apps on other origins (the SDK calls the
//! API with `Authorization` and `x-device-*` headers, so browsers ask first).
//! Off unless the host lists origins: the same rules on every adapter.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

/// Which browser origins may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`); `*` allows any.
    pub allowed_origins: Vec<String>,
}

const ALLOWED_METHODS: &str = "GET, POST, PATCH, DELETE";
const ALLOWED_HEADERS: &str =
    "authorization, content-type, x-api-key, x-device-id, x-device-fingerprint, x-handoff-secret";
/// Browsers cache a preflight for this long (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

impl CorsConfig {
    /// The request's origin, if it is one this config allows.
    fn allowed<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed == text)
            .then_some(origin)
    }

    /// Whether the request's origin is one this config allows.
    pub(super) fn allows(&self, headers: &HeaderMap) -> bool {
        self.allowed(headers).is_some()
    }

    /// A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
    /// here: 204 with the grant for an allowed origin, a bare 204 otherwise
    /// (the browser then refuses the real request).
    pub(super) fn preflight(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Option<Response<Bytes>> {
        if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Some(origin) = self.allowed(headers) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            out.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            out.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
        }
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("origin"));
        Some(response)
    }

    /// Lets an allowed origin read the answer (errors included, so the SDK
    /// sees the JSON error rather than an opaque network failure).
    pub(super) fn decorate(&self, request: &HeaderMap, response: &mut Response<Bytes>) {
        if let Some(origin) = self.allowed(request) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after"),
            );
            out.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}
