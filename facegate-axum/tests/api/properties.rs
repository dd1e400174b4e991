//! Every route of the core's table, with JSON bodies nobody here wrote
//! (proptest): whatever arrives, with a server key or a browser's client
//! key, the answer is never a 500, an error is always the JSON envelope, and
//! the server keeps answering. The table is `facegate_core::ROUTE_TABLE`, so
//! a new route is fuzzed the moment it exists.
//!
//! 64 bodies per route and key by default (seconds); more with
//! `FACEGATE_PROPTEST_CASES`.

use axum::body::Body;
use facegate_core::ROUTE_TABLE;
use facegate_core::domain::KeyEnvironment;
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use tower::ServiceExt;

use crate::support::{TestApp, request};

/// Field names the API reads, so generated bodies reach past "unknown field".
const FIELDS: &[&str] = &[
    "image",
    "images",
    "liveness_session_id",
    "session_id",
    "user_id",
    "consent_id",
    "consent_version",
    "consent_text_hash",
    "name",
    "role",
    "pin",
    "payload",
    "frames",
    "nonce",
    "timestamp_ms",
    "verification_token",
    "refresh_token",
    "provider",
    "mode",
    "metadata",
    "email",
    "phone",
    "external_id",
    "status",
    "url",
    "events",
    "description",
    "records",
    "signals",
    "type",
    "data",
    "device_fingerprint",
    "enroll",
    "step_up_for",
    "threshold",
    "enabled",
    "plan",
    "confidence",
    "timestamp",
    "reason",
    "limit",
    "actions",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        // Shapes the API parses further: base64, data URLs, ids, dates.
        "[A-Za-z0-9+/=]{0,120}".prop_map(Value::String),
        "data:image/(png|jpeg);base64,[A-Za-z0-9+/]{0,80}".prop_map(Value::String),
        "(user|liv|sess|con|wh|dlv|ten)_[0-9a-f]{0,32}".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z)?"
            .prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 8, |inner| {
        let key = prop_oneof![4 => proptest::sample::select(FIELDS).prop_map(str::to_owned), 1 => ".{0,12}"];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body as the wire has it: mostly JSON, sometimes not.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => json().prop_map(|value| serde_json::to_vec(&value).unwrap()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
    ]
}

fn path_of(template: &str, id: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            ":type" => "risk",
            s if s.starts_with(':') => id,
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn cases() -> u32 {
    std::env::var("FACEGATE_PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

#[test]
fn every_route_answers_any_body_without_a_500() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::new());
    let client_key = runtime.block_on(async {
        let minted = app
            .facegate
            .mint_client_key(&app.tenant, KeyEnvironment::Test, Default::default())
            .await
            .unwrap();
        minted.key.expose_secret().to_owned()
    });
    let keys = [app.key.clone(), client_key];
    let ids = proptest::sample::select(vec![
        "x1",
        "user_00000000000000000000000000000000",
        "%20",
        "..",
        "a%2Fb",
    ]);

    // What the answers were, printed at the end (`--nocapture`): the walk
    // should reach past 400s into the handlers.
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    for (method, template) in ROUTE_TABLE {
        // The handoff's socket is upgraded by the adapter before the core sees it.
        if template.ends_with("/ws") {
            continue;
        }
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (body(), ids.clone(), 0..keys.len());
        let outcome = runner.run(&strategy, |(body, id, key)| {
            let path = path_of(template, id);
            let request = request(method, &path)
                .header("authorization", format!("Bearer {}", keys[key]))
                .header("content-type", "application/json")
                .body(Body::from(body.clone()))
                .unwrap();
            let (status, bytes) = runtime.block_on(async {
                let response = app.app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                (
                    status,
                    response.into_body().collect().await.unwrap().to_bytes(),
                )
            });
            *statuses.lock().unwrap().entry(status.as_u16()).or_default() += 1;
            let shown = String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>();
            prop_assert!(
                status.as_u16() != 500,
                "{method} {path} answered 500 to {shown}: {}",
                String::from_utf8_lossy(&bytes)
            );
            if status.is_client_error() || status.is_server_error() {
                let envelope: Value = serde_json::from_slice(&bytes).map_err(|_| {
                    TestCaseError::fail(format!("{method} {path}: {status} without JSON"))
                })?;
                prop_assert!(
                    envelope["code"].is_string() && envelope["error"].is_string(),
                    "{method} {path}: {status} {envelope}"
                );
            }
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("{method} {template}: {failure}");
        }
    }
    eprintln!("answers by status: {:?}", statuses.lock().unwrap());
    // Still serving after all of it.
    let health = runtime.block_on(app.call("GET", "/v1/health", None));
    assert!(health.status.is_success() || health.status == http::StatusCode::SERVICE_UNAVAILABLE);
}
