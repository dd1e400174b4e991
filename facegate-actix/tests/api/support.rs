//! A tenant with a key, a host app around the adapter, and a tiny client.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::{App, test, web};
use facegate_actix::{FaceGate, FaceGateAuth, FaceGateUser};
use facegate_core::StaticConsentRegistry;
use facegate_core::domain::KeyEnvironment;
use facegate_core::ids::TenantId;
use facegate_store_seaorm::testing::test_store;
use serde_json::Value;

pub const CONSENT_TEXT: &str = "I agree that my face is used to sign me in.";

pub struct TestApp {
    pub facegate: FaceGate,
    pub tenant: TenantId,
    pub key: String,
}

impl TestApp {
    pub async fn new() -> Self {
        let facegate = FaceGate::builder(test_store().await)
            .consent_registry(StaticConsentRegistry::new().with_version("v1", CONSENT_TEXT))
            .build();
        let tenant = facegate.create_tenant("acme").await.unwrap();
        let minted = facegate
            .mint_api_key(&tenant.id, KeyEnvironment::Test)
            .await
            .unwrap();
        Self {
            facegate,
            tenant: tenant.id,
            key: minted.key.expose_secret().to_owned(),
        }
    }

    /// The hash a client sends for the registered `v1` text.
    pub fn consent_hash(&self) -> String {
        facegate_core::ConsentVersion::new("v1", CONSENT_TEXT).consent_text_hash
    }
}

/// A host app: `/api/profile` behind the guard (also by cookie),
/// `/api/admin` needing the `admin` role, `/hello` behind the optional
/// guard greeting signed-in users by name, `/open` and `/unguarded` asking
/// for a user without the guard; the FaceGate API at the root and under
/// `/auth`.
pub fn host(
    facegate: FaceGate,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .service(
            web::resource("/api/profile")
                .wrap(FaceGateAuth::new(facegate.clone()).cookie("fg_token"))
                .route(web::get().to(|user: FaceGateUser| async move { user.name.clone() })),
        )
        .service(
            web::scope("/api/admin")
                .wrap(FaceGateAuth::new(facegate.clone()).require_role("admin"))
                .route(
                    "",
                    web::get().to(|user: FaceGateUser| async move {
                        format!("admin area, {}", user.name)
                    }),
                ),
        )
        .service(
            web::scope("/hello")
                .wrap(FaceGateAuth::new(facegate.clone()).optional())
                .route(
                    "",
                    web::get().to(|user: Option<FaceGateUser>| async move {
                        user.map_or("hello stranger".to_owned(), |u| format!("hello {}", u.name))
                    }),
                ),
        )
        .route(
            "/open",
            web::get().to(|user: Option<FaceGateUser>| async move {
                user.map_or("hello stranger".to_owned(), |u| format!("hello {}", u.name))
            }),
        )
        .route(
            "/unguarded",
            web::get().to(|user: FaceGateUser| async move { user.name.clone() }),
        )
        .service(web::scope("/auth").configure(facegate_actix::configure(facegate.clone())))
        .configure(facegate_actix::configure(facegate))
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|_| panic!("{}: body is not JSON: {:?}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub async fn send<S, R, B>(service: &S, request: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(service, request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = test::read_body(response).await;
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Asserts the error envelope: status, `code`, a non-empty `error` message,
/// and the JSON content type.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text);
    let body = reply.json();
    assert_eq!(body["code"], code, "body: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error message missing: {body}"
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
}
