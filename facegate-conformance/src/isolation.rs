//! Issue 19: tenant isolation, generated from the core's route table.
//!
//! Tenant A owns one of everything a path can name (consent, user, liveness
//! sessions, a login session, a handoff, a webhook and its delivery).
//! Tenant B then calls every route of [`ROUTE_TABLE`] whose path names
//! something, with A's ids, under B's server key and B's client key, and
//! each answer is held to the answer for an id that never existed: the same
//! status and code (404, or the 403 a client key gets on a server-only route
//! before anything is looked up), in about the same time. Afterwards no row
//! of A's has changed. A route whose path parameters the matrix has not
//! been taught fails the case, so a new route is covered the day it is
//! added to the table.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use facegate_core::ROUTE_TABLE;
use facegate_core::domain::{KeyEnvironment, OriginRules};
use facegate_core::ids::{
    ConsentId, DeliveryId, LivenessSessionId, ReceiptId, SessionId, UserId, WebhookId,
};
use serde_json::{Value, json};

use crate::cases::{BIDEN, OBAMA, OBAMA_2, enroll_obama, live_session, passive};
use crate::fixture::{Reply, photo};
use crate::handoff::{
    DESKTOP_AGENT, DESKTOP_FINGERPRINT, PHONE, phone, phone_session, start_handoff,
};
use crate::{Adapter, Engine, Fixture};

/// Routes whose path token is the credential: no API key is asked for, so
/// there is no other tenant's key to refuse. Whoever holds a handoff's token
/// is its phone; the desktop's socket also needs the desktop's secret; the
/// phone's page is the same HTML for any token.
const CAPABILITY_ROUTES: &[&str] = &[
    "/v1/handoff/:token/ws",
    "/v1/handoff/:token/verify",
    "/v1/handoff/:token/scan",
    "/v1/handoff/:token/liveness",
    "/v1/handoff/:token/consent",
    "/v1/handoff/:token/complete",
    "/v1/handoff/:token/decline",
];

/// Routes whose parameter names the caller's own configuration, which no
/// other tenant can own: B's call reaches B's only (checked: B's answer is
/// about B, and A's rows do not change).
const OWN_CONFIG_ROUTES: &[&str] = &["/v1/policy/:type"];

/// Requests per id and key; more when the first measure looks uneven.
const ROUNDS: usize = 9;
const ROUNDS_AGAIN: usize = 41;

/// What tenant A owns, by the names the route table gives its parameters.
struct Owned {
    consent: String,
    user: String,
    /// Started, not yet checked.
    pending_liveness: String,
    /// Checked live, never verified with.
    live_liveness: String,
    /// Run on A's handoff phone.
    phone_liveness: String,
    session: String,
    refresh_token: String,
    handoff_token: String,
    handoff_secret: String,
    webhook: String,
    delivery: String,
    /// The receipt of a user A deleted.
    receipt: String,
}

/// Tenant B: its keys, and a handoff of its own (a phone route's token).
struct Stranger {
    tenant: String,
    keys: [(&'static str, String); 2],
    handoff_token: String,
    webhook: String,
}

/// One request B makes: with A's ids, and with ids that never existed.
struct Probe {
    method: &'static str,
    template: &'static str,
    owned_path: String,
    unknown_path: String,
    owned_body: Option<Value>,
    unknown_body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// A path id must answer 404; an id in a body, what an unknown one does.
    in_body: bool,
}

/// What a taught route's parameter is filled with: A's value and an unknown one.
fn parameter(template: &str, name: &str, a: &Owned, b: &Stranger) -> Option<(String, String)> {
    let pair = |owned: &str, unknown: String| Some((owned.to_owned(), unknown));
    match (template, name) {
        ("/v1/consent/:id", "id") => pair(&a.consent, ConsentId::generate().to_string()),
        (t, "id") if t.starts_with("/v1/users/:id") => {
            pair(&a.user, UserId::generate().to_string())
        }
        ("/v1/deletions/:receipt_id", "receipt_id") => {
            pair(&a.receipt, ReceiptId::generate().to_string())
        }
        ("/v1/liveness/session/:id/frames", "id")
        | ("/v1/liveness/result/:sessionId", "sessionId") => pair(
            &a.pending_liveness,
            LivenessSessionId::generate().to_string(),
        ),
        ("/v1/session/:id/revoke" | "/v1/sessions/:id/risk-score", "id") => {
            pair(&a.session, SessionId::generate().to_string())
        }
        // The desktop's side of A's handoff, which needs a key: B's is refused.
        ("/v1/handoff/:token/status", "token") => pair(
            &a.handoff_token,
            format!("fgh_{}", uuid::Uuid::new_v4().simple()),
        ),
        // B's own phone, naming a liveness session of A's handoff.
        ("/v1/handoff/:token/liveness/:id/frames", "token") => {
            pair(&b.handoff_token, b.handoff_token.clone())
        }
        ("/v1/handoff/:token/liveness/:id/frames", "id") => {
            pair(&a.phone_liveness, LivenessSessionId::generate().to_string())
        }
        (t, "id") if t.starts_with("/v1/webhooks/:id") => {
            pair(&a.webhook, WebhookId::generate().to_string())
        }
        (t, "delivery_id") if t.starts_with("/v1/webhooks/:id") => {
            pair(&a.delivery, DeliveryId::generate().to_string())
        }
        // The demo tenant's frames route, naming a real tenant's session.
        ("/demo/liveness-session/:id/frames", "id") => pair(
            &a.pending_liveness,
            LivenessSessionId::generate().to_string(),
        ),
        _ => None,
    }
}

/// A body that gets the route as far as its lookup: valid in shape, so an
/// answer can only differ by what the ids name.
fn body_for(template: &str) -> Option<Value> {
    let frames =
        || json!({ "nonce": "n", "frames": [{ "image": photo(OBAMA), "timestamp_ms": 1000 }] });
    match template {
        "/v1/users/:id/status" => Some(json!({ "status": "locked" })),
        "/v1/users/:id/re-enroll" => Some(json!({ "face_image": photo(OBAMA_2) })),
        t if t.ends_with("/frames") => Some(frames()),
        _ => None,
    }
}

fn fill(template: &str, a: &Owned, b: &Stranger) -> (String, String) {
    let (mut owned, mut unknown) = (String::new(), String::new());
    for segment in template.split('/').skip(1) {
        let (o, u) = match segment.strip_prefix(':') {
            Some(name) => parameter(template, name, a, b).unwrap_or_else(|| {
                panic!(
                    "{template}: the isolation matrix cannot build a `{name}` of another tenant; \
                     teach `parameter` in facegate-conformance/src/isolation.rs"
                )
            }),
            None => (segment.to_owned(), segment.to_owned()),
        };
        owned = format!("{owned}/{o}");
        unknown = format!("{unknown}/{u}");
    }
    (owned, unknown)
}

/// Every route of the table that names something in its path, plus the ids
/// some routes take in their bodies.
fn probes(a: &Owned, b: &Stranger) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (method, template) in ROUTE_TABLE {
        if !template.contains(':')
            || CAPABILITY_ROUTES.contains(template)
            || OWN_CONFIG_ROUTES.contains(template)
        {
            continue;
        }
        let (owned_path, unknown_path) = fill(template, a, b);
        let mut headers = Vec::new();
        if *template == "/v1/handoff/:token/status" {
            // Even holding A's desktop secret, B's key reaches nothing.
            headers.push(("x-handoff-secret", a.handoff_secret.clone()));
        }
        if *template == "/v1/handoff/:token/liveness/:id/frames" {
            headers.extend(
                PHONE
                    .iter()
                    .map(|(name, value)| (*name, (*value).to_owned())),
            );
        }
        probes.push(Probe {
            method,
            template,
            owned_path,
            unknown_path,
            owned_body: body_for(template),
            unknown_body: body_for(template),
            headers,
            in_body: false,
        });
    }
    // The webhook's delivery under B's own webhook.
    probes.push(Probe {
        method: "POST",
        template: "/v1/webhooks/:id/deliveries/:delivery_id/redeliver (B's webhook)",
        owned_path: format!(
            "/v1/webhooks/{}/deliveries/{}/redeliver",
            b.webhook, a.delivery
        ),
        unknown_path: format!(
            "/v1/webhooks/{}/deliveries/{}/redeliver",
            b.webhook,
            DeliveryId::generate()
        ),
        owned_body: None,
        unknown_body: None,
        headers: Vec::new(),
        in_body: false,
    });
    let in_body = |method, template, field: &str, owned: &str, unknown: String, extra: Value| {
        let with = |id: &str| {
            let mut body = extra.clone();
            body[field] = json!(id);
            Some(body)
        };
        Probe {
            method,
            template,
            owned_path: template.to_owned(),
            unknown_path: template.to_owned(),
            owned_body: with(owned),
            unknown_body: with(&unknown),
            headers: Vec::new(),
            in_body: true,
        }
    };
    probes.push(in_body(
        "POST",
        "/v1/verify",
        "liveness_session_id",
        &a.live_liveness,
        LivenessSessionId::generate().to_string(),
        json!({}),
    ));
    probes.push(in_body(
        "POST",
        "/v1/session/refresh",
        "refresh_token",
        &a.refresh_token,
        format!("fgr_{}", uuid::Uuid::new_v4().simple()),
        json!({}),
    ));
    probes.push(in_body(
        "POST",
        "/v1/enroll",
        "consent_id",
        &a.consent,
        ConsentId::generate().to_string(),
        json!({ "name": "Mallory", "role": "user", "face_image": photo(OBAMA) }),
    ));
    probes
}

/// A's resources, made through the API with A's server key.
async fn own_everything<A: Adapter>(fx: &Fixture<A>) -> Owned {
    passive(fx).await;
    let receiver = crate::receiver::Receiver::start(&[]).await;
    let webhook = crate::events::register(fx, &receiver.url, &["user.enrolled"]).await;
    let webhook = webhook["id"].as_str().unwrap().to_owned();
    let user = enroll_obama(fx).await;
    let gone = fx
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "Joe", "role": "user", "consent_id": fx.consent().await, "face_image": photo(BIDEN) })),
        )
        .await;
    let gone = gone.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
    let deleted = fx.call("DELETE", &format!("/v1/users/{gone}"), None).await;
    let receipt = deleted.assert_ok(200)["receipt_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let consent = fx.consent().await;
    let rotation = json!({ "rotation_days": 90, "grace_period_days": 7, "notify_before_days": 14 });
    fx.call("POST", "/v1/policy/rotation", Some(rotation))
        .await
        .assert_ok(200);
    let pending = fx.call("POST", "/v1/liveness/session", None).await;
    let pending_liveness = pending.assert_ok(200)["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let verified = fx
        .call(
            "POST",
            "/v1/verify",
            Some(json!({ "liveness_session_id": live_session(fx, &[]).await })),
        )
        .await;
    let verified = verified.assert_ok(200);
    let session = verified["session_id"].as_str().unwrap().to_owned();
    let refresh_token = verified["refresh_token"].as_str().unwrap().to_owned();
    let live_liveness = live_session(fx, &[]).await;
    let started = start_handoff(fx, json!({})).await;
    phone(fx, &started, "scan", None, &PHONE)
        .await
        .assert_ok(200);
    let phone_liveness = phone_session(fx, &started).await;
    let deliveries = crate::events::settled_deliveries(fx, &webhook).await;
    let delivery = deliveries[0]["id"].as_str().unwrap().to_owned();
    Owned {
        consent,
        user,
        pending_liveness,
        live_liveness,
        phone_liveness,
        session,
        refresh_token,
        handoff_token: started["handoff_token"].as_str().unwrap().to_owned(),
        handoff_secret: started["desktop_secret"].as_str().unwrap().to_owned(),
        webhook,
        delivery,
        receipt,
    }
}

async fn stranger<A: Adapter>(fx: &Fixture<A>) -> Stranger {
    let tenant = fx.facegate.create_tenant("stranger").await.unwrap();
    let gate = &fx.facegate;
    let server = gate
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap();
    let client = gate
        .mint_client_key(&tenant.id, KeyEnvironment::Test, OriginRules::default())
        .await
        .unwrap();
    let server = server.key.expose_secret().to_owned();
    let bearer = format!("Bearer {server}");
    let as_b = |path: &'static str, body: Value, extra: &'static [(&'static str, &'static str)]| {
        let bearer = bearer.clone();
        async move {
            let mut headers = vec![
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ];
            headers.extend_from_slice(extra);
            fx.raw("POST", path, &headers, body.to_string())
                .await
                .assert_ok(201)
                .clone()
        }
    };
    let handoff = as_b(
        "/v1/handoff",
        json!({}),
        &[
            ("x-device-fingerprint", DESKTOP_FINGERPRINT),
            ("user-agent", DESKTOP_AGENT),
        ],
    )
    .await;
    // B's phone holds it: its frames route gets as far as the session.
    phone(fx, &handoff, "scan", None, &PHONE)
        .await
        .assert_ok(200);
    let webhook = as_b(
        "/v1/webhooks",
        json!({ "url": "http://127.0.0.1:9/hook", "events": ["user.enrolled"] }),
        &[],
    )
    .await;
    Stranger {
        tenant: tenant.id.to_string(),
        keys: [
            ("server", server),
            ("client", client.key.expose_secret().to_owned()),
        ],
        handoff_token: handoff["handoff_token"].as_str().unwrap().to_owned(),
        webhook: webhook["id"].as_str().unwrap().to_owned(),
    }
}

/// The answer and its time.
async fn timed<A: Adapter>(
    fx: &Fixture<A>,
    probe: &Probe,
    key: &str,
    path: &str,
    body: &Option<Value>,
) -> ((u16, String), Duration) {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend(
        probe
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
    );
    let body = body.as_ref().map_or_else(String::new, Value::to_string);
    let start = Instant::now();
    let reply: Reply = fx.raw(probe.method, path, &headers, body).await;
    let took = start.elapsed();
    let code = reply.body["code"].as_str().unwrap_or_default().to_owned();
    ((reply.status.as_u16(), code), took)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A's ids and unknown ones, interleaved: every answer, and the medians.
async fn measure<A: Adapter>(
    fx: &Fixture<A>,
    probe: &Probe,
    key: &str,
    rounds: usize,
) -> (
    BTreeSet<(u16, String)>,
    BTreeSet<(u16, String)>,
    Duration,
    Duration,
) {
    let (mut owned, mut unknown) = (BTreeSet::new(), BTreeSet::new());
    let (mut owned_times, mut unknown_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternating which goes first: a warm cache favours neither.
        for first in [round % 2 == 0, round % 2 == 1] {
            if first {
                let (answer, took) =
                    timed(fx, probe, key, &probe.owned_path, &probe.owned_body).await;
                owned.insert(answer);
                owned_times.push(took);
            } else {
                let (answer, took) =
                    timed(fx, probe, key, &probe.unknown_path, &probe.unknown_body).await;
                unknown.insert(answer);
                unknown_times.push(took);
            }
        }
    }
    (owned, unknown, median(owned_times), median(unknown_times))
}

/// Whether two medians differ by more than noise: over 5 ms and over half
/// the smaller (an id's lookup is one indexed query either way; a
/// difference the size of a second query, or of image work, stands out).
fn uneven(a: Duration, b: Duration) -> bool {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    high - low > Duration::from_millis(5).max(low / 2)
}

/// The rows that are A's: they name A's tenant or one of its ids, and not
/// the callers' tenants (B's own audit lines, and the demo tenant's for
/// B's keyless calls, quote A's ids from their paths).
fn rows_of(
    snapshot: &BTreeMap<String, BTreeSet<String>>,
    markers: &[&str],
    callers: &[&str],
) -> BTreeSet<(String, String)> {
    snapshot
        .iter()
        .flat_map(|(table, rows)| rows.iter().map(move |row| (table, row)))
        .filter(|(_, row)| {
            markers.iter().any(|m| row.contains(m)) && !callers.iter().any(|c| row.contains(c))
        })
        .map(|(table, row)| (table.clone(), row.clone()))
        .collect()
}

/// The matrix (see the module's documentation), with the keyless demo on
/// (its frames route names sessions too) and its rate limit out of the way.
pub async fn tenant_isolation_from_the_route_table<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(facegate_core::FaceGate) -> Fut,
    Fut: std::future::Future<Output = A>,
{
    let fx = Fixture::configured(make, engine, |builder| {
        builder.demo(facegate_core::DemoConfig {
            requests_per_minute: 100_000,
            ..Default::default()
        })
    })
    .await;
    walk(&fx).await;
}

async fn walk<A: Adapter>(fx: &Fixture<A>) {
    for listed in CAPABILITY_ROUTES.iter().chain(OWN_CONFIG_ROUTES) {
        assert!(
            ROUTE_TABLE.iter().any(|(_, template)| template == listed),
            "{listed} is no longer in the route table"
        );
    }
    let a = own_everything(fx).await;
    let b = stranger(fx).await;
    let markers = [
        fx.tenant.as_str(),
        &a.consent,
        &a.user,
        &a.pending_liveness,
        &a.live_liveness,
        &a.phone_liveness,
        &a.session,
        &a.webhook,
        &a.delivery,
        &a.receipt,
    ];
    let before = facegate_store_seaorm::testing::snapshot(&fx.db).await;
    let probes = probes(&a, &b);
    let mut report = Vec::new();
    for probe in &probes {
        for (kind, key) in &b.keys {
            let label = format!("{} {} with B's {kind} key", probe.method, probe.template);
            let (mut owned, mut unknown, mut a_time, mut u_time) =
                measure(fx, probe, key, ROUNDS).await;
            if uneven(a_time, u_time) {
                // One slow moment is not a leak; a steady difference is.
                (owned, unknown, a_time, u_time) = measure(fx, probe, key, ROUNDS_AGAIN).await;
            }
            assert_eq!(
                owned, unknown,
                "{label}: A's ids answer unlike ids that never existed"
            );
            assert_eq!(owned.len(), 1, "{label}: answers vary: {owned:?}");
            let (status, code) = owned.first().unwrap();
            let scope_refusal = *kind == "client" && *status == 403 && code == "INSUFFICIENT_SCOPE";
            if probe.in_body {
                assert!(*status >= 400, "{label}: {status} {code}");
            } else {
                assert!(
                    *status == 404 || scope_refusal,
                    "{label}: {status} {code}, not 404"
                );
            }
            assert!(
                !uneven(a_time, u_time),
                "{label}: A's ids take {a_time:?}, unknown ids {u_time:?} (median of {ROUNDS_AGAIN})"
            );
            report.push(format!(
                "{label}: {status} {code}, {a_time:.2?} vs {u_time:.2?}"
            ));
        }
    }
    // A's rotation policy is A's: B's delete resets B's (it had none).
    for (kind, key) in &b.keys {
        let bearer = format!("Bearer {key}");
        let reset = fx
            .raw(
                "DELETE",
                "/v1/policy/rotation",
                &[("authorization", &bearer)],
                "",
            )
            .await;
        match *kind {
            "server" => assert_eq!(reset.assert_ok(200)["deleted"], false, "{}", reset.body),
            _ => reset.assert_error(403, "INSUFFICIENT_SCOPE"),
        }
    }
    println!(
        "isolation: {} probes × 2 keys\n  {}",
        probes.len(),
        report.join("\n  ")
    );
    let after = facegate_store_seaorm::testing::snapshot(&fx.db).await;
    let callers = [b.tenant.as_str(), facegate_core::ids::TenantId::DEMO];
    let (was, is) = (
        rows_of(&before, &markers, &callers),
        rows_of(&after, &markers, &callers),
    );
    assert!(!was.is_empty());
    let gone: Vec<_> = was.difference(&is).collect();
    let new: Vec<_> = is.difference(&was).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "A's rows changed:\n gone {gone:#?}\n new {new:#?}"
    );

    // The ids were A's all along: A's own key reads them.
    let user = fx.call("GET", &format!("/v1/users/{}", a.user), None).await;
    user.assert_ok(200);
    let result = fx
        .call(
            "GET",
            &format!("/v1/liveness/result/{}", a.pending_liveness),
            None,
        )
        .await;
    result.assert_error(400, "LIVENESS_NOT_COMPLETED");
    let risk = fx
        .call(
            "GET",
            &format!("/v1/sessions/{}/risk-score", a.session),
            None,
        )
        .await;
    risk.assert_ok(200);
    let deliveries = fx
        .call(
            "GET",
            &format!("/v1/webhooks/{}/deliveries", a.webhook),
            None,
        )
        .await;
    deliveries.assert_ok(200);
    let receipt = fx
        .call("GET", &format!("/v1/deletions/{}", a.receipt), None)
        .await;
    assert_eq!(receipt.assert_ok(200)["verified"], true);
}
