//! Mount FaceGate in an actix-web application.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use facegate_actix::{FaceGate, FaceGateAuth, FaceGateUser};
//!
//! async fn profile(user: FaceGateUser) -> String {
//!     format!("hello {} ({})", user.name, user.role)
//! }
//!
//! # async fn demo(facegate: FaceGate) -> std::io::Result<()> {
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/", web::get().to(|| async { "my service" }))
//!         // Your own routes, behind FaceGate tokens…
//!         .service(
//!             web::resource("/api/profile")
//!                 .wrap(FaceGateAuth::new(facegate.clone())) // .cookie("fg_token"), .require_role("admin")
//!                 .route(web::get().to(profile)),
//!         )
//!         // …and the FaceGate API under /v1, plus /.well-known/jwks.json.
//!         .configure(facegate_actix::configure(facegate.clone()))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```
//!
//! The adapter only translates: every path under `/v1` goes to
//! [`FaceGate::handle`], which owns routing, auth, limits and errors, so the
//! API behaves the same on every framework. Request bodies are streamed to
//! the core unread (actix's `PayloadConfig` does not apply), so the core's
//! own limits decide: 64 KB on JSON routes, 6 MB on image routes, `413` JSON
//! past them. The API may also be mounted in a scope
//! (`web::scope("/auth").configure(…)`): like axum's `nest`, the core then
//! sees the path without the scope's prefix.
#![forbid(unsafe_code)]

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body::Frame;
use http_body_util::StreamBody;

pub use facegate_core::FaceGate;
use facegate_core::guard::FaceGateAuthLayer;
pub use facegate_core::guard::{GuardConfig, GuardRejection};
use facegate_core::handoff::{HANDOFF_AUTH_TIMEOUT, HandoffSocket, SocketClose};
use facegate_core::ids::TenantId;
pub use facegate_core::token::Claims;

/// The resources FaceGate serves, as `facegate_axum::router` does.
const ROUTES: [&str; 5] = [
    "/v1",
    "/v1/{tail:.*}",
    "/demo",
    "/demo/{tail:.*}",
    "/.well-known/jwks.json",
];

/// `GET /metrics` in Prometheus' text format (see
/// [`facegate_core::metrics`]), for a separate server the scraper reaches
/// and the public does not; 404 unless `FaceGateBuilder::metrics` is set.
pub fn configure_metrics(
    facegate: FaceGate,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + Sync + 'static {
    move |config: &mut web::ServiceConfig| {
        let facegate = facegate.clone();
        config.service(web::resource("/metrics").route(web::get().to(move || {
            let facegate = facegate.clone();
            async move {
                match facegate.metrics_text().await {
                    Some(text) => HttpResponse::Ok()
                        .content_type(facegate_core::metrics::CONTENT_TYPE)
                        .body(text),
                    None => HttpResponse::NotFound().finish(),
                }
            }
        })));
    }
}

/// The FaceGate REST API (under `/v1`, plus `/.well-known/jwks.json` and
/// `/demo`, any
/// method) for [`App::configure`](actix_web::App::configure) or
/// [`Scope::configure`](actix_web::Scope::configure).
///
/// The returned closure is `Clone + Send`, so it can be built once outside
/// `HttpServer::new` and cloned into every worker's `App`.
pub fn configure(
    facegate: FaceGate,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + Sync + 'static {
    move |config: &mut web::ServiceConfig| {
        // Before `/v1/{tail:.*}`: actix tries resources in order.
        let socket_gate = facegate.clone();
        config.service(web::resource(HANDOFF_SOCKET).to(
            move |request: HttpRequest, payload: web::Payload| {
                handoff_socket(socket_gate.clone(), request, payload)
            },
        ));
        for path in ROUTES {
            let facegate = facegate.clone();
            config.service(web::resource(path).to(
                move |request: HttpRequest, payload: web::Payload| {
                    serve(facegate.clone(), request, payload)
                },
            ));
        }
    }
}

/// `ws_url`: the desktop's socket of a cross-device handoff.
const HANDOFF_SOCKET: &str = "/v1/handoff/{token}/ws";

/// The core checks the upgrade (handoff, `Origin`) and the secret in the
/// first message, and feeds the status changes; this only carries them.
async fn handoff_socket(
    facegate: FaceGate,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let token = request.match_info().get("token").unwrap_or_default();
    let headers = to_core_headers(request.headers());
    let socket = match facegate.handoff_socket(token, &headers).await {
        Ok(socket) => socket,
        Err(refused) => return to_actix_response(refused),
    };
    let (response, session, stream) = match actix_ws::handle(&request, payload) {
        Ok(upgraded) => upgraded,
        Err(err) => return err.error_response(),
    };
    // The desktop sends one short message (its secret).
    let stream = stream.max_frame_size(1024);
    actix_web::rt::spawn(carry_handoff(socket, session, stream));
    response
}

async fn carry_handoff(
    socket: HandoffSocket,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    let first = tokio::time::timeout(HANDOFF_AUTH_TIMEOUT, first_text(&mut stream)).await;
    let feed = match first {
        Ok(Some(text)) => socket.authenticate(&text),
        Ok(None) => return,
        Err(_) => Err(SocketClose::NO_SECRET),
    };
    let mut messages = match feed {
        Ok(feed) => feed.spawn(),
        Err(close) => return close_with(session, close).await,
    };
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(text) => {
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                None => return close_with(session, SocketClose::DONE).await,
            },
            incoming = stream.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(actix_ws::Message::Close(_))) => return,
                Some(Ok(actix_ws::Message::Ping(bytes))) => {
                    let _ = session.pong(&bytes).await;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The client's first text message; `None` if it went away first.
async fn first_text(stream: &mut actix_ws::MessageStream) -> Option<String> {
    while let Some(Ok(message)) = stream.recv().await {
        match message {
            actix_ws::Message::Text(text) => return Some(text.to_string()),
            actix_ws::Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

async fn close_with(session: actix_ws::Session, close: SocketClose) {
    let reason = actix_ws::CloseReason {
        code: actix_ws::CloseCode::Other(close.code),
        description: Some(close.reason.into()),
    };
    let _ = session.close(Some(reason)).await;
}

async fn serve(facegate: FaceGate, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    // The payload goes to the core as a stream: its limits apply, not actix's.
    let body = StreamBody::new(payload.map(|chunk| chunk.map(Frame::data)));
    let Some(request) = to_core_request(&request, body) else {
        // Unreachable in practice: actix parsed the same method and URI.
        return HttpResponse::BadRequest().finish();
    };
    to_actix_response(facegate.handle(request).await)
}

/// The request as the core sees it: same method, headers and query, and the
/// path relative to the scope FaceGate is mounted in.
fn to_core_request<B>(request: &HttpRequest, body: B) -> Option<http::Request<B>> {
    let path = api_path(request);
    let uri = match request.query_string() {
        "" => path.to_owned(),
        query => format!("{path}?{query}"),
    };
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(request.method().as_str().as_bytes()).ok()?)
        .uri(http::Uri::try_from(uri).ok()?)
        .version(http_version(request.version()));
    *builder.headers_mut()? = to_core_headers(request.headers());
    if let Some(addr) = request
        .extensions()
        .get::<facegate_core::ClientAddr>()
        .copied()
    {
        // Set by the host's middleware (behind a trusted proxy): kept.
        builder = builder.extension(addr);
    } else if let Some(peer) = request.peer_addr() {
        // Keys the demo's rate limit and feeds the risk engine.
        builder = builder.extension(facegate_core::ClientAddr(peer.ip()));
    }
    builder.body(body).ok()
}

/// The request path without the prefix of the scope the API is mounted in.
fn api_path(request: &HttpRequest) -> &str {
    let path = request.path();
    let Some(pattern) = request.match_pattern() else {
        return path;
    };
    let mount = ROUTES
        .iter()
        .rev() // the longest first: "/v1/{tail:.*}" before "/v1"
        .find_map(|own| pattern.strip_suffix(own))
        .unwrap_or("");
    // Scope segments match one path segment each (`/t/{tenant}`…), so skip
    // as many segments of the raw path.
    let depth = mount.split('/').filter(|s| !s.is_empty()).count();
    if depth == 0 {
        return path;
    }
    match path.match_indices('/').nth(depth) {
        Some((at, _)) => &path[at..],
        None => path,
    }
}

fn http_version(version: actix_web::http::Version) -> http::Version {
    use actix_web::http::Version as V;
    match version {
        V::HTTP_09 => http::Version::HTTP_09,
        V::HTTP_10 => http::Version::HTTP_10,
        V::HTTP_2 => http::Version::HTTP_2,
        V::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    }
}

/// actix-web's headers (`http` 0.2) as the core's (`http` 1), every value kept.
fn to_core_headers(headers: &HeaderMap) -> http::HeaderMap {
    let mut converted = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            converted.append(name, value);
        }
    }
    converted
}

/// The core's response as actix's: same status, headers and body bytes.
fn to_actix_response(response: http::Response<Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut converted = HttpResponse::with_body(status, body);
    let headers = converted.headers_mut();
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    converted.map_into_boxed_body()
}

/// The guard's JSON refusal (with its `WWW-Authenticate` challenge) as an
/// actix response.
fn rejection_response(rejection: &GuardRejection) -> HttpResponse {
    to_actix_response(rejection.response::<Bytes>())
}

/// Guards the routes it wraps with FaceGate tokens, like the tower
/// `FaceGateAuthLayer`: the token comes from `Authorization: Bearer …` (or
/// the configured cookie), and the verified claims reach the handler as
/// [`FaceGateUser`] (an `Arc<Claims>` request extension). Failures answer
/// `401` JSON with `WWW-Authenticate: Bearer error="invalid_token"` (or
/// `MISSING_TOKEN`), a missing role `403`, without calling the route.
///
/// ```no_run
/// # fn demo(facegate: facegate_actix::FaceGate) {
/// use actix_web::{App, web};
/// use facegate_actix::{FaceGateAuth, FaceGateUser};
///
/// let app = App::new().service(
///     web::scope("/admin")
///         .wrap(FaceGateAuth::new(facegate).cookie("fg_token").require_role("admin"))
///         .route("", web::get().to(|user: FaceGateUser| async move { user.name.clone() })),
/// );
/// # }
/// ```
#[derive(Clone)]
pub struct FaceGateAuth {
    // The tower layer carries the rules (cookie, role, optional); this only
    // translates actix requests and responses, so the two cannot drift.
    rules: FaceGateAuthLayer,
}

impl FaceGateAuth {
    pub fn new(facegate: FaceGate) -> Self {
        Self {
            rules: FaceGateAuthLayer::new(facegate),
        }
    }

    /// Let requests without a token through, anonymous (`Option<FaceGateUser>`
    /// is `None`); a token that is presented must still be valid.
    pub fn optional(self) -> Self {
        Self {
            rules: self.rules.optional(),
        }
    }

    /// Also accept the token from this cookie (after the `Authorization` header).
    pub fn cookie(self, name: impl Into<String>) -> Self {
        Self {
            rules: self.rules.cookie(name),
        }
    }

    /// Only tokens with this role pass; others get 403.
    pub fn require_role(self, role: impl Into<String>) -> Self {
        Self {
            rules: self.rules.require_role(role),
        }
    }

    /// Only tokens of this tenant pass; others get 401 `INVALID_TOKEN`.
    pub fn tenant(self, tenant: TenantId) -> Self {
        Self {
            rules: self.rules.tenant(tenant),
        }
    }

    /// Only tokens of these tenants pass. Without a pin, every tenant but
    /// the demo's does.
    pub fn tenants(self, tenants: impl IntoIterator<Item = TenantId>) -> Self {
        Self {
            rules: self.rules.tenants(tenants),
        }
    }

    /// Also accept tokens of the built-in demo tenant (for demo apps only).
    pub fn allow_demo(self) -> Self {
        Self {
            rules: self.rules.allow_demo(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for FaceGateAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = FaceGateAuthMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(FaceGateAuthMiddleware {
            service: Rc::new(service),
            auth: self.clone(),
        }))
    }
}

/// The service [`FaceGateAuth`] wraps around the host's routes.
pub struct FaceGateAuthMiddleware<S> {
    service: Rc<S>,
    auth: FaceGateAuth,
}

impl<S, B> Service<ServiceRequest> for FaceGateAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let auth = self.auth.clone();
        Box::pin(async move {
            let headers = to_core_headers(request.headers());
            match auth.rules.check(&headers).await {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    service
                        .call(request)
                        .await
                        .map(ServiceResponse::map_into_left_body)
                }
                Err(rejection) if auth.rules.lets_anonymous_through(&rejection) => service
                    .call(request)
                    .await
                    .map(ServiceResponse::map_into_left_body),
                Err(rejection) => {
                    tracing::debug!(%rejection, "guard refused a request");
                    Ok(request
                        .into_response(rejection_response(&rejection))
                        .map_into_right_body())
                }
            }
        })
    }
}

/// The verified FaceGate user of a request behind [`FaceGateAuth`].
///
/// ```no_run
/// async fn profile(user: facegate_actix::FaceGateUser) -> String {
///     format!("hello {}", user.name)
/// }
/// ```
/// Use `Option<FaceGateUser>` on routes that also serve anonymous visitors
/// (behind [`FaceGateAuth::optional`], or without the middleware); a plain
/// `FaceGateUser` on a route without the middleware answers the guard's
/// `401` `MISSING_TOKEN`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceGateUser(pub Arc<Claims>);

impl std::ops::Deref for FaceGateUser {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl FromRequest for FaceGateUser {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Arc<Claims>>()
                .cloned()
                .map(FaceGateUser)
                .ok_or_else(|| {
                    let rejection = GuardRejection::MissingToken;
                    let response = rejection_response(&rejection);
                    InternalError::from_response(rejection, response).into()
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn headers_keep_every_value() {
        let request = TestRequest::get()
            .insert_header(("x-api-key", "fg_test_abc"))
            .append_header(("cookie", "a=1"))
            .append_header(("cookie", "b=2"))
            .to_http_request();
        let headers = to_core_headers(request.headers());
        assert_eq!(headers["x-api-key"], "fg_test_abc");
        let cookies: Vec<_> = headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn responses_keep_status_headers_and_body() {
        let core = http::Response::builder()
            .status(429)
            .header("content-type", "application/json")
            .header("retry-after", "30")
            .header("vary", "a")
            .header("vary", "b")
            .body(Bytes::from_static(b"{\"code\":\"TOO_MANY_ATTEMPTS\"}"))
            .unwrap();
        let response = to_actix_response(core);
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers().get("retry-after").unwrap(), "30");
        assert_eq!(response.headers().get_all("vary").count(), 2);
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        assert_eq!(&body[..], b"{\"code\":\"TOO_MANY_ATTEMPTS\"}");
    }
}
