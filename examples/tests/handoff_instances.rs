//! A handoff watched on one instance while the phone's requests land on
//! another, both on one PostgreSQL (docs/handoff.md): the desktop's feed
//! hears each change through the database's notifications, well before its
//! 5-second re-read. Runs when `FACEGATE_TEST_DATABASE_URL` names a
//! PostgreSQL server (CI sets it); SQLite is one process.

use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_core::FaceGate;
use facegate_core::domain::KeyEnvironment;
use facegate_store_seaorm::SeaOrmStore;
use serde_json::{Value, json};

async fn call(gate: &FaceGate, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = gate
        .handle(
            request
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_one_instance_hears_a_phone_on_another() {
    let Some(url) = facegate_store_seaorm::testing::postgres_for_instances().await else {
        return;
    };
    let a = FaceGate::builder(SeaOrmStore::connect(&url).await.unwrap()).build();
    let b = FaceGate::builder(SeaOrmStore::connect(&url).await.unwrap()).build();
    let tenant = a.create_tenant("handoff").await.unwrap();
    let key = a
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned();
    let bearer = format!("Bearer {key}");
    let (status, started) = call(&a, "POST", "/v1/handoff", &[("authorization", &bearer)]).await;
    assert_eq!(status, 201, "{started}");
    let token = started["handoff_token"].as_str().unwrap();

    // The desktop's socket is on B.
    let socket = b
        .handoff_socket(token, &http::HeaderMap::new())
        .await
        .unwrap_or_else(|refused| panic!("{:?}", refused.body()));
    let hello = json!({ "desktop_secret": started["desktop_secret"] }).to_string();
    let mut feed = socket.authenticate(&hello).unwrap();
    let first: Value = serde_json::from_str(&feed.next().await.unwrap()).unwrap();
    assert_eq!(first["status"], "pending");
    // B's listener starts on its own task.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The phone's requests go to A.
    let phone = [("x-device-id", "phone-1")];
    for (step, expected) in [("scan", "scanned"), ("decline", "declined")] {
        let sent = Instant::now();
        let (status, body) = call(&a, "POST", &format!("/v1/handoff/{token}/{step}"), &phone).await;
        assert_eq!(status, 200, "{body}");
        let message = tokio::time::timeout(Duration::from_secs(3), feed.next())
            .await
            .unwrap_or_else(|_| {
                panic!("{step} on A not heard on B within 3 s (the re-read is 5 s)")
            })
            .unwrap();
        let message: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(message["status"], expected);
        println!(
            "{step} on A → {expected} on B's socket: {:?}",
            sent.elapsed()
        );
    }
    // Declined is final: the feed ends (the adapter closes the socket).
    assert_eq!(feed.next().await, None);
}
