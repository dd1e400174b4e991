//! The handoff's WebSocket (`ws_url`) through a real server of each
//! adapter: sockets cannot go through the in-process `Adapter`, so the
//! adapter's test starts its framework's server and hands the address in.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use facegate_core::FaceGate;
use facegate_core::domain::{KeyEnvironment, OriginRules};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::cases::{enroll_obama, passive};
use crate::handoff::{PHONE, phone, phone_session, start_handoff};
use crate::{Adapter, Engine, Fixture};

/// The core as is: the phone's requests in these cases need no host routes.
struct Direct(FaceGate);

#[async_trait::async_trait(?Send)]
impl Adapter for Direct {
    async fn send(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        self.0.handle(request.map(http_body_util::Full::new)).await
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    addr: SocketAddr,
    started: &Value,
    origin: Option<&str>,
) -> Result<Socket, WsError> {
    let token = started["handoff_token"].as_str().unwrap();
    let mut request = format!("ws://{addr}/v1/handoff/{token}/ws")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The next message: text as JSON, or the close frame's code.
async fn next(socket: &mut Socket) -> Result<Value, Option<CloseCode>> {
    let wait = std::time::Duration::from_secs(20);
    loop {
        let message = tokio::time::timeout(wait, socket.next())
            .await
            .expect("the socket answers within 20 s");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| f.code)),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return Err(None),
        }
    }
}

/// Status pushed as it changes, up to completion with the session; a bad
/// secret closes the socket; a foreign page's origin is refused.
pub async fn handoff_socket<S, Fut>(serve: S)
where
    S: FnOnce(FaceGate) -> Fut,
    Fut: Future<Output = SocketAddr>,
{
    let fx = Fixture::new(|facegate| async move { Direct(facegate) }, Engine::Local).await;
    let addr = serve(fx.facegate.clone()).await;
    passive(&fx).await;
    let user = enroll_obama(&fx).await;
    let rules = json!({
        "block_threshold": 0.95, "step_up_threshold": 0.9,
        "max_failed_attempts": 5, "lockout_duration_minutes": 30, "mode": "enforce",
    });
    fx.call("POST", "/v1/policy/risk", Some(rules))
        .await
        .assert_ok(200);
    fx.facegate
        .mint_client_key(
            &fx.tenant,
            KeyEnvironment::Test,
            OriginRules {
                allowed: vec!["https://app.example.test".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let started = start_handoff(&fx, json!({ "mode": "verify" })).await;
    let secret = started["desktop_secret"].as_str().unwrap().to_owned();

    // A page elsewhere cannot even open the socket.
    match connect(addr, &started, Some("https://evil.example.test")).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin was let in: {:?}", other.map(|_| ())),
    }
    // A wrong secret closes it.
    let mut wrong = connect(addr, &started, Some("https://app.example.test"))
        .await
        .expect("a tenant's origin may connect");
    wrong
        .send(Message::text(
            json!({ "desktop_secret": "fgd_wrong" }).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next(&mut wrong).await, Err(Some(CloseCode::from(4401))));

    // The desktop (no browser: no origin) follows it to the end.
    let mut desktop = connect(addr, &started, None).await.unwrap();
    desktop
        .send(Message::text(
            json!({ "desktop_secret": secret }).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next(&mut desktop).await.unwrap()["status"], "pending");
    phone(&fx, &started, "scan", None, &PHONE)
        .await
        .assert_ok(200);
    assert_eq!(next(&mut desktop).await.unwrap()["status"], "scanned");
    let live = phone_session(&fx, &started).await;
    phone(
        &fx,
        &started,
        "complete",
        Some(json!({ "liveness_session_id": live })),
        &PHONE,
    )
    .await
    .assert_ok(200);
    let completed = next(&mut desktop).await.unwrap();
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["user_id"], user.as_str());
    assert!(
        completed["session_data"]["verification_token"].is_string(),
        "{completed}"
    );
    assert_eq!(next(&mut desktop).await, Err(Some(CloseCode::Normal)));
    // Collected once: a poll after the socket sees no tokens.
    let polled = crate::handoff::status(&fx, &started, &secret).await;
    assert_eq!(polled.assert_ok(200)["session_data"]["collected"], true);
}
