//! Several instances of the example host on one PostgreSQL, driven over
//! HTTP as a load balancer would drive them (docs/scaling.md). Runs when
//! `FACEGATE_TEST_DATABASE_URL` names a PostgreSQL server (CI sets it), and
//! is skipped otherwise: SQLite is one process.
//!
//! Windows are not proven by sleeping: where a change may take time to
//! reach another instance the test polls with a deadline and prints the
//! delay it saw.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use facegate_conformance::cases::{BIDEN, FINGERPRINT, OBAMA, OBAMA_2, OBAMA_3};
use facegate_conformance::{camera_frame, photo};
use facegate_core::store::prelude::*;
use serde_json::{Value, json};

const KEY: &str = "fg_test_multiinstance000000000";

/// One example host process.
struct Instance {
    host: Host,
    database_url: String,
    log: PathBuf,
    child: Child,
}

/// What a client sees of an instance: its address.
#[derive(Clone)]
struct Host {
    name: &'static str,
    base: String,
}

impl std::ops::Deref for Instance {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

impl Instance {
    fn start(name: &'static str, database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let log = std::env::temp_dir().join(format!("facegate-multi-{name}-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_axum-app"))
            .env("FACEGATE_ADDR", format!("127.0.0.1:{port}"))
            .env("FACEGATE_DATABASE_URL", database_url)
            .env("FACEGATE_BOOTSTRAP_API_KEY", KEY)
            .env("FACEGATE_FACE_ENGINE", "local")
            .env("FACEGATE_DEMO", "off")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the example app");
        Self {
            host: Host {
                name,
                base: format!("http://127.0.0.1:{port}"),
            },
            database_url: database_url.to_owned(),
            log,
            child,
        }
    }

    /// Waits for `GET /v1/health` to answer 200 (models load on start).
    async fn ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(response) = http.get(format!("{}/v1/health", self.base)).send().await
                && response.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "instance {} exited ({status}); log: {}",
                    self.name,
                    self.log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "instance {} not ready; log: {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no shutdown, no flush, a transaction cut off mid-way.
    fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }

    fn restart(&mut self) {
        self.kill();
        *self = Self::start(self.name, &self.database_url.clone());
    }
}

impl Host {
    async fn call(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with(http, method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        // Status 0: no answer (the instance is down).
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return (0, Value::String(err.to_string())),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn enroll(&self, http: &reqwest::Client, name: &str, image: &str) -> (u16, Value) {
        let hash = facegate_core::ConsentVersion::new("v1", facegate_examples::CONSENT_V1)
            .consent_text_hash;
        let (status, consent) = self
            .call(
                http,
                "POST",
                "/v1/consent",
                Some(json!({ "consent_version": "v1", "consent_text_hash": hash })),
            )
            .await;
        if status != 201 {
            return (status, consent);
        }
        self.call(
            http,
            "POST",
            "/v1/enroll",
            Some(json!({
                "name": name,
                "role": "member",
                "consent_id": consent["consent_id"],
                "face_image": photo(image),
            })),
        )
        .await
    }

    /// The matched user's id, if any.
    async fn matched(&self, http: &reqwest::Client, image: &str) -> Option<String> {
        let (status, body) = self
            .call(
                http,
                "POST",
                "/v1/match",
                Some(json!({ "image": photo(image) })),
            )
            .await;
        assert_eq!(status, 200, "{}: {body}", self.name);
        body["user"]["id"].as_str().map(str::to_owned)
    }

    /// A passive-liveness login with three camera frames of Obama: what
    /// verify answered (token, session, refresh token).
    async fn login(&self, http: &reqwest::Client) -> Value {
        let (status, verified) = self.try_login(http).await;
        assert_eq!(
            (status, &verified["matched"]),
            (200, &json!(true)),
            "{verified}"
        );
        verified
    }

    /// The same login, whatever verify answers: its status and body.
    async fn try_login(&self, http: &reqwest::Client) -> (u16, Value) {
        let device = [("x-device-fingerprint", FINGERPRINT)];
        let (status, started) = self
            .call_with(http, "POST", "/v1/liveness/session", None, &device)
            .await;
        assert_eq!(status, 200, "{started}");
        let id = started["session_id"].as_str().unwrap();
        let frames: Vec<Value> = [OBAMA, OBAMA_2, OBAMA_3]
            .iter()
            .enumerate()
            .map(
                |(i, path)| json!({ "image": camera_frame(path), "timestamp_ms": 1_000 + 400 * i }),
            )
            .collect();
        let (status, judged) = self
            .call(
                http,
                "POST",
                &format!("/v1/liveness/session/{id}/frames"),
                Some(json!({ "nonce": started["challenge"]["nonce"], "frames": frames })),
            )
            .await;
        assert_eq!(
            (status, &judged["is_live"]),
            (200, &json!(true)),
            "{judged}"
        );
        self.call_with(
            http,
            "POST",
            "/v1/verify",
            Some(json!({ "liveness_session_id": id })),
            &device,
        )
        .await
    }

    /// The host's own guarded route, with a FaceGate token.
    async fn profile(&self, http: &reqwest::Client, token: &str) -> u16 {
        http.get(format!("{}/api/profile", self.base))
            .bearer_auth(token)
            .header("x-device-fingerprint", FINGERPRINT)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    async fn face_index(&self, http: &reqwest::Client) -> Value {
        let (status, body) = self.call(http, "GET", "/v1/face-index", None).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the admin CLI on the shared database.
fn admin(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_facegate-admin"))
        .args(args)
        .env("FACEGATE_DATABASE_URL", database_url)
        .env("FACEGATE_FACE_ENGINE", "none")
        .env("FACEGATE_DEMO", "off")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run facegate-admin");
    assert!(
        output.status.success(),
        "facegate-admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Polls `check` until it holds, for at most `deadline`; the delay seen.
async fn within<F, Fut>(deadline: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        if check().await {
            let seen = start.elapsed();
            println!("{what}: {seen:?} ({tries} tries)");
            return seen;
        }
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_database_agree() {
    let Some(database_url) = facegate_store_seaorm::testing::postgres_for_instances().await else {
        return;
    };
    let http = reqwest::Client::new();

    // Started together on an empty database: one migration, one first
    // signing key, one bootstrap key.
    let mut a = Instance::start("a", &database_url);
    let mut b = Instance::start("b", &database_url);
    a.ready(&http).await;
    b.ready(&http).await;
    let (_, jwks_a) = a.call(&http, "GET", "/.well-known/jwks.json", None).await;
    let (_, jwks_b) = b.call(&http, "GET", "/.well-known/jwks.json", None).await;
    assert_eq!(jwks_a["keys"].as_array().unwrap().len(), 1, "{jwks_a}");
    assert_eq!(jwks_a, jwks_b);
    // The test's own view of the database, to compare the instances with.
    let store = facegate_store_seaorm::SeaOrmStore::connect(&database_url)
        .await
        .unwrap();

    // Enrolled on A, matched on B.
    let (status, enrolled) = a.enroll(&http, "Barack", OBAMA).await;
    assert_eq!(status, 201, "{enrolled}");
    let obama = enrolled["user_id"].as_str().unwrap().to_owned();
    let b_ref = &b;
    within(
        Duration::from_secs(1),
        "enroll on A → match on B",
        || async { b_ref.matched(&http, OBAMA_2).await.as_deref() == Some(obama.as_str()) },
    )
    .await;
    // …and B's duplicate check sees it.
    let (status, duplicate) = b.enroll(&http, "Barack again", OBAMA_3).await;
    assert_eq!(
        (status, &duplicate["code"]),
        (409, &json!("USER_ALREADY_ENROLLED")),
        "{duplicate}"
    );

    // Deleted on B: no match on A, from its next search on.
    let (status, _) = b
        .call(&http, "DELETE", &format!("/v1/users/{obama}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        a.matched(&http, OBAMA_2).await,
        None,
        "deleted on B, matched on A"
    );

    // Re-enrolled on A with another person's face: the old face no longer
    // logs in on B, the new one does.
    let (status, enrolled) = a.enroll(&http, "Barack", OBAMA).await;
    assert_eq!(status, 201, "{enrolled}");
    let user = enrolled["user_id"].as_str().unwrap().to_owned();
    assert_eq!(
        b.matched(&http, OBAMA_2).await.as_deref(),
        Some(user.as_str())
    );
    let (status, body) = a
        .call(
            &http,
            "POST",
            &format!("/v1/users/{user}/re-enroll"),
            Some(json!({ "face_image": photo(BIDEN) })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(b.matched(&http, OBAMA_2).await, None, "the old face, on B");
    assert_eq!(
        b.matched(&http, BIDEN).await.as_deref(),
        Some(user.as_str())
    );

    // Settings changed elsewhere (the CLI) hold on both at once.
    let key = facegate_core::api_key::ApiKey::parse(KEY).unwrap();
    let tenant = store
        .api_key_by_hash(&key.hash())
        .await
        .unwrap()
        .expect("the bootstrap key is stored")
        .tenant_id;
    let tenant = tenant.to_string();
    admin(
        &database_url,
        &["tenant", "settings", &tenant, "--liveness", "passive"],
    );

    // A login on A, its token honoured by B's guard; revoked on A, refused
    // by B within the guard's session recheck.
    let (status, _) = a
        .call(
            &http,
            "POST",
            &format!("/v1/users/{user}/re-enroll"),
            Some(json!({ "face_image": photo(OBAMA) })),
        )
        .await;
    assert_eq!(status, 200);
    // A refresh token spent on A and replayed on B: reuse, the session
    // revoked for both.
    let login = a.login(&http).await;
    let token = login["verification_token"].as_str().unwrap().to_owned();
    let device = [("x-device-fingerprint", FINGERPRINT)];
    let refresh = json!({ "refresh_token": login["refresh_token"] });
    let (status, body) = a
        .call_with(
            &http,
            "POST",
            "/v1/session/refresh",
            Some(refresh.clone()),
            &device,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = b
        .call_with(&http, "POST", "/v1/session/refresh", Some(refresh), &device)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("REFRESH_TOKEN_REUSED")),
        "{body}"
    );
    let a_ref = &a;
    within(
        Duration::from_secs(3),
        "refresh reuse on B → refused by A's guard",
        || async { a_ref.profile(&http, &token).await == 401 },
    )
    .await;

    let login = a.login(&http).await;
    let token = login["verification_token"].as_str().unwrap().to_owned();
    let session = login["session_id"].as_str().unwrap().to_owned();
    assert_eq!(b.profile(&http, &token).await, 200);
    let (status, body) = a
        .call(
            &http,
            "POST",
            &format!("/v1/session/{session}/revoke"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    within(
        Duration::from_secs(3),
        "revoke on A → refused by B's guard",
        || async { b_ref.profile(&http, &token).await == 401 },
    )
    .await;

    // Policies set on one instance hold on the other: a continuous policy
    // set on A (confidence decaying at once below 100: every session must
    // re-verify) reaches B's guard
    // within its recheck; a risk policy set on B blocks A's next login.
    let login = a.login(&http).await;
    let token = login["verification_token"].as_str().unwrap().to_owned();
    assert_eq!(b.profile(&http, &token).await, 200);
    let strict = json!({ "re_verify_interval_minutes": 10080, "confidence_decay_rate": 10, "min_confidence": 100 });
    let (status, body) = a
        .call(&http, "POST", "/v1/policy/continuous", Some(strict))
        .await;
    assert_eq!(status, 200, "{body}");
    within(
        Duration::from_secs(3),
        "continuous policy on A → B's guard asks for re-verification",
        || async { b_ref.profile(&http, &token).await == 401 },
    )
    .await;
    let (status, body) = b.call(&http, "DELETE", "/v1/policy/continuous", None).await;
    assert_eq!((status, &body["deleted"]), (200, &json!(true)), "{body}");
    let block_all = json!({ "block_threshold": 0, "step_up_threshold": 0, "max_failed_attempts": 5, "lockout_duration_minutes": 30 });
    let (status, body) = b
        .call(&http, "POST", "/v1/policy/risk", Some(block_all))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = a.try_login(&http).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("RISK_BLOCKED")),
        "{body}"
    );
    let (status, body) = a.call(&http, "DELETE", "/v1/policy/risk", None).await;
    assert_eq!(status, 200, "{body}");

    // A signing key rotated (by the CLI): A, restarted, signs with it; B,
    // which still holds the old ring, verifies the unknown kid by
    // re-reading the keys.
    let rotated = admin(&database_url, &["signing-key", "rotate"]);
    let new_kid = rotated.trim().trim_start_matches("signing key ").to_owned();
    a.restart();
    a.ready(&http).await;
    let login = a.login(&http).await;
    let token = login["verification_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&token), new_kid);
    assert_eq!(
        b.profile(&http, &token).await,
        200,
        "a token of the new key, on B"
    );
    let (_, jwks_b) = b.call(&http, "GET", "/.well-known/jwks.json", None).await;
    assert_eq!(
        jwks_b["keys"].as_array().unwrap().len(),
        2,
        "old and new: {jwks_b}"
    );

    // Failed checks from one device on A lock it out on B.
    let device = [("x-device-id", "attacker")];
    for _ in 0..5 {
        let (status, started) = a
            .call_with(&http, "POST", "/v1/liveness/session", None, &device)
            .await;
        assert_eq!(status, 200, "{started}");
        let frames: Vec<Value> = [OBAMA, BIDEN, OBAMA_2]
            .iter()
            .enumerate()
            .map(|(i, path)| json!({ "image": camera_frame(path), "timestamp_ms": 400 * i }))
            .collect();
        let id = started["session_id"].as_str().unwrap();
        let (_, judged) = a
            .call(
                &http,
                "POST",
                &format!("/v1/liveness/session/{id}/frames"),
                Some(json!({ "nonce": started["challenge"]["nonce"], "frames": frames })),
            )
            .await;
        assert_eq!(judged["is_live"], false, "{judged}");
    }
    let (status, locked) = b
        .call_with(&http, "POST", "/v1/liveness/session", None, &device)
        .await;
    assert_eq!(
        (status, &locked["code"]),
        (429, &json!("TOO_MANY_ATTEMPTS")),
        "{locked}"
    );

    // An enrollment burst on both, B killed with -9 half-way and started
    // again: both indexes hold exactly the store's faces.
    admin(
        &database_url,
        &["tenant", "settings", &tenant, "--allow-duplicates"],
    );
    let burst = |host: Host, count: usize| {
        let http = http.clone();
        tokio::spawn(async move {
            let mut enrolled = 0;
            for i in 0..count {
                let image = [OBAMA, OBAMA_2, OBAMA_3, BIDEN][i % 4];
                // On B, the requests in flight when it dies fail.
                if host.enroll(&http, &format!("burst {i}"), image).await.0 == 201 {
                    enrolled += 1;
                }
            }
            enrolled
        })
    };
    let on_a = burst(a.host.clone(), 20);
    let on_b = burst(b.host.clone(), 20);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.kill();
    let enrolled_on_b = on_b.await.unwrap_or(0);
    b.restart();
    b.ready(&http).await;
    let enrolled_on_a = on_a.await.unwrap();
    println!("burst: {enrolled_on_a} enrolled on A, {enrolled_on_b} on B before it was killed");
    assert_eq!(enrolled_on_a, 20);

    let stored = store
        .faces_of_tenant(&facegate_core::ids::TenantId::from_string(&tenant))
        .await
        .unwrap()
        .len();
    let index_a = a.face_index(&http).await;
    let index_b = b.face_index(&http).await;
    println!("store {stored} faces; A {index_a}; B {index_b}");
    assert_eq!(index_a["indexed_faces"], json!(stored));
    assert_eq!(index_b["indexed_faces"], json!(stored));
    assert_eq!(index_a["log_seq"], index_b["log_seq"]);
    assert!(stored >= 21 + enrolled_on_b);
}
