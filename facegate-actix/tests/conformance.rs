//! The shared conformance suite (`facegate-conformance`) against the actix
//! adapter: the API as `configure` mounts it, and the guard as middleware.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use bytes::Bytes;
use facegate_actix::{FaceGate, FaceGateAuth, FaceGateUser};
use facegate_conformance::PINNED_TENANT;
use facegate_core::ids::TenantId;
use serde_json::json;

struct ActixApp<S>(S);

#[async_trait::async_trait(?Send)]
impl<S, B> facegate_conformance::Adapter for ActixApp<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn send(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let (parts, body) = request.into_parts();
        let mut test_request = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap())
            .uri(&parts.uri.to_string());
        for (name, value) in &parts.headers {
            test_request = test_request.insert_header((name.as_str(), value.as_bytes()));
        }
        let response =
            test::call_service(&self.0, test_request.set_payload(body).to_request()).await;
        let mut converted = http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            converted = converted.header(name.as_str(), value.as_bytes());
        }
        converted.body(test::read_body(response).await).unwrap()
    }
}

/// The host app the suite expects (see `facegate_conformance::Adapter`).
async fn app(
    facegate: FaceGate,
) -> ActixApp<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let service = test::init_service(
        App::new()
            .configure(facegate_actix::configure(facegate.clone()))
            .service(
                web::resource("/api/profile")
                    .wrap(FaceGateAuth::new(facegate.clone()).cookie("fg_token"))
                    .route(web::get().to(|user: FaceGateUser| async move {
                        HttpResponse::Ok().json(json!({ "sub": user.sub, "name": user.name }))
                    })),
            )
            .service(
                web::resource("/api/admin")
                    .wrap(FaceGateAuth::new(facegate.clone()).require_role("admin"))
                    .route(
                        web::get()
                            .to(|| async { HttpResponse::Ok().json(json!({ "area": "admin" })) }),
                    ),
            )
            .service(
                web::resource("/api/pinned")
                    .wrap(
                        FaceGateAuth::new(facegate.clone())
                            .tenant(TenantId::from_string(PINNED_TENANT)),
                    )
                    .route(web::get().to(|user: FaceGateUser| async move {
                        HttpResponse::Ok().json(json!({ "sub": user.sub }))
                    })),
            )
            .service(
                web::resource("/api/demo")
                    .wrap(FaceGateAuth::new(facegate.clone()).allow_demo())
                    .route(web::get().to(|user: FaceGateUser| async move {
                        HttpResponse::Ok().json(json!({ "sub": user.sub, "role": user.role }))
                    })),
            )
            .service(
                web::resource("/hello")
                    .wrap(FaceGateAuth::new(facegate).optional())
                    .route(web::get().to(|user: Option<FaceGateUser>| async move {
                        HttpResponse::Ok().json(json!({ "user": user.map(|u| u.sub.clone()) }))
                    })),
            ),
    )
    .await;
    ActixApp(service)
}

facegate_conformance::suite!(actix_web::test, app);

/// The handoff's socket, through a real actix-web server.
#[actix_web::test]
async fn handoff_socket() {
    facegate_conformance::socket::handoff_socket(|facegate| async move {
        let server = actix_web::HttpServer::new(move || {
            App::new().configure(facegate_actix::configure(facegate.clone()))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        addr
    })
    .await;
}
