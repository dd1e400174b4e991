//! The example host with `FACEGATE_FACE_ENGINE=rekognition`, as a host
//! would run it: the usual AWS environment pointing Rekognition at the
//! local Rekognition peer (in this process) and STS at moto's server,
//! `FACEGATE_LIVENESS_ROLE_ARN` for the browser's credentials. Proves that
//! a liveness session hands out working STS credentials and that a login
//! runs through Rekognition end to end.
//!
//! Built with `--features rekognition` (CI does). Uses moto at
//! `FACEGATE_TEST_STS_URL`, else starts it with `scripts/aws-test-peers
//! start-sts` (a Python venv made once).
#![cfg(feature = "rekognition")]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use facegate_conformance::cases::{OBAMA, OBAMA_2, OBAMA_3};
use facegate_conformance::{camera_frame, photo};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_rekognition_peer::{Peer, PeerCredentials};
use serde_json::{Value, json};

const KEY: &str = "fg_test_rekognitionapp0000000";
const PEER_KEY_ID: &str = "AKIDFACEGATEEXAMPLE";
const PEER_SECRET: &str = "facegate-example-secret";
/// moto makes any role assumable; the account is the ARN's.
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/facegate-liveness-browser";

/// moto's STS: the URL CI gave, or one the project's script starts.
fn sts_url() -> String {
    if let Ok(url) = std::env::var("FACEGATE_TEST_STS_URL") {
        return url;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/aws-test-peers");
    let out = Command::new("bash")
        .args([script, "start-sts"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/aws-test-peers");
    assert!(
        out.status.success(),
        "scripts/aws-test-peers start-sts failed"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("FACEGATE_TEST_STS_URL="))
        .expect("the script prints FACEGATE_TEST_STS_URL=")
        .to_owned()
}

struct App {
    base: String,
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl App {
    fn start(peer: &str, sts: &str, db: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let log = std::env::temp_dir().join(format!("facegate-rekognition-app-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_axum-app"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("FACEGATE_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "FACEGATE_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", db.display()),
            )
            .env("FACEGATE_BOOTSTRAP_API_KEY", KEY)
            .env("FACEGATE_FACE_ENGINE", "rekognition")
            .env("FACEGATE_LIVENESS_ROLE_ARN", ROLE_ARN)
            .env("FACEGATE_DEMO", "off")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", PEER_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", PEER_SECRET)
            .env("AWS_ENDPOINT_URL_REKOGNITION", peer)
            .env("AWS_ENDPOINT_URL_STS", sts)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start the example app");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
        }
    }

    async fn ready(&mut self, http: &reqwest::Client) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = http.get(format!("{}/v1/health", self.base)).send().await {
                return response.json().await.expect("health is JSON");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the app exited ({status}): {}", self.log_text());
            }
            assert!(Instant::now() < deadline, "not ready: {}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn call(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The calls the peer counted since `before`, by operation.
fn calls_since(peer: &Peer, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    peer.calls()
        .into_iter()
        .map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn counts(calls: &[(&str, u64)]) -> BTreeMap<String, u64> {
    calls.iter().map(|(op, n)| ((*op).to_owned(), *n)).collect()
}

/// Who the credentials are, by STS `GetCallerIdentity` at moto.
async fn caller_arn(sts: &str, credentials: &Value) -> String {
    let credentials = Credentials::new(
        credentials["accessKeyId"].as_str().unwrap(),
        credentials["secretAccessKey"].as_str().unwrap(),
        credentials["sessionToken"].as_str().map(str::to_owned),
        None,
        "liveness-session",
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(credentials)
        .endpoint_url(sts)
        .http_client(facegate_face_rekognition::https_client())
        .load()
        .await;
    let identity = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("moto's STS takes the browser's credentials");
    identity.arn().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_on_rekognition_and_hands_out_sts_credentials() {
    let sts = sts_url();
    let engine =
        LocalFaceEngine::load(EngineConfig::default()).expect("models (scripts/fetch-models)");
    let (peer, endpoint) = Peer::start_local(
        &engine,
        PeerCredentials {
            access_key_id: PEER_KEY_ID.into(),
            secret_access_key: PEER_SECRET.into(),
            account_id: "111122223333".into(),
        },
    )
    .await
    .expect("the peer binds a local port");
    let dir = std::env::temp_dir().join(format!("facegate-rekognition-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = App::start(&endpoint, &sts, &dir.join("facegate.db"));
    let http = reqwest::Client::new();

    let health = app.ready(&http).await;
    assert_eq!(health["provider"], "rekognition", "{health}");
    assert_eq!(health["checks"]["rekognition"]["status"], "ok", "{health}");

    // The session answer: AWS's session id, the region, STS credentials
    // that work (moto names the assumed role), reused while fresh.
    let before = peer.calls();
    let (status, started) = app.call(&http, "POST", "/v1/liveness/session", None).await;
    assert_eq!(status, 200, "{started}");
    let session_calls = calls_since(&peer, &before);
    assert_eq!(session_calls, counts(&[("CreateFaceLivenessSession", 1)]));
    assert_eq!(started["region"], "eu-west-1");
    let credentials = &started["credentials"];
    assert!(
        credentials["accessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA"),
        "{started}"
    );
    assert_eq!(
        caller_arn(&sts, credentials).await,
        "arn:aws:sts::123456789012:assumed-role/facegate-liveness-browser/facegate-liveness"
    );
    let (_, again) = app.call(&http, "POST", "/v1/liveness/session", None).await;
    assert_eq!(
        again["credentials"], *credentials,
        "one STS call for a burst of sessions"
    );
    assert_ne!(again["session_id"], started["session_id"]);

    // Enroll, then log in through AWS's ceremony (streamed by the peer's
    // stand-in for the browser), all on Rekognition; the calls each made
    // are the figures in docs/rekognition.md.
    let hash =
        facegate_core::ConsentVersion::new("v1", facegate_examples::CONSENT_V1).consent_text_hash;
    let (_, consent) = app
        .call(
            &http,
            "POST",
            "/v1/consent",
            Some(json!({ "consent_version": "v1", "consent_text_hash": hash })),
        )
        .await;
    let before = peer.calls();
    let (status, enrolled) = app
        .call(
            &http,
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "Obama", "role": "member", "consent_id": consent["consent_id"], "face_image": photo(OBAMA) })),
        )
        .await;
    assert_eq!(status, 201, "{enrolled}");
    let enroll_calls = calls_since(&peer, &before);
    let id = started["session_id"].as_str().unwrap();
    let frames = [OBAMA, OBAMA_2, OBAMA_3].map(camera_frame).to_vec();
    peer.complete_liveness(id, frames)
        .await
        .expect("the peer takes the frames");
    let before = peer.calls();
    let (status, verified) = app
        .call(
            &http,
            "POST",
            "/v1/verify",
            Some(json!({ "liveness_session_id": id })),
        )
        .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["matched"], true);
    assert_eq!(verified["user"]["id"], enrolled["user_id"]);
    let verify_calls = calls_since(&peer, &before);
    let before = peer.calls();
    let user = enrolled["user_id"].as_str().unwrap();
    let (status, _) = app
        .call(&http, "DELETE", &format!("/v1/users/{user}"), None)
        .await;
    assert_eq!(status, 200);
    let delete_calls = calls_since(&peer, &before);
    println!(
        "calls: liveness session {session_calls:?}; enroll (first of the tenant) {enroll_calls:?}; verify {verify_calls:?}; delete user {delete_calls:?}"
    );
    assert_eq!(delete_calls, counts(&[("DeleteFaces", 1)]));
    assert_eq!(
        peer.stored_faces(),
        0,
        "the user's face left the collection"
    );
    drop(app);
    std::fs::remove_dir_all(&dir).ok();
}
