//! Issue 16, held to both adapters: `POST /v1/sync`. Offline verifications
//! re-checked against the enrolled face, flagged when the server does not
//! agree (each flag a `sync.flagged` event), idempotent per user, time and
//! frame, refused whole when malformed, and closed to browsers.

use serde_json::{Value, json};

use crate::cases::{BIDEN, OBAMA_2, enroll_obama};
use crate::events::{assert_signed, register};
use crate::fixture::photo;
use crate::receiver::Receiver;

fn record(user: &str, confidence: f32, minutes_ago: i64, frames: Vec<String>) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({
        "type": "offline_verify",
        "user_id": user,
        "confidence": confidence,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "frames": frames,
    })
}

case!(
    /// The server's answer to each record, the flags reported once, the
    /// same answer to a resend, and every malformed record named.
    sync_re_checks_offline_verifications(fx) {
        let flags = Receiver::start(&[]).await;
        let secret = register(&fx, &flags.url, &["sync.flagged"]).await["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = enroll_obama(&fx).await;
        // Enrolled 40 days ago under a 30-day retention: only the offline
        // login below keeps him (see the end).
        fx.settings(|s| s.biometric_retention_days = 30).await;
        let now = chrono::Utc::now();
        crate::privacy::enrolled_at(&fx, &user, now - chrono::Duration::days(40)).await;
        let records = vec![
            record(&user, 80.0, 30, vec![photo(OBAMA_2)]),
            record(&user, 99.0, 20, vec![photo(BIDEN), photo(OBAMA_2)]),
            record("user_nope", 95.0, 10, vec![photo(OBAMA_2)]),
            record(&user, 90.0, 5, vec![photo("face-api/sample1.jpg")]),
            record(&user, 90.0, 4, vec!["bm90IGFuIGltYWdl".into()]),
        ];
        let reply = fx.call("POST", "/v1/sync", Some(json!({ "records": records }))).await;
        let answer = reply.assert_ok(200).clone();
        assert_eq!(answer["processed"], 5);
        let checked = answer["re_verified"].as_array().unwrap();
        assert_eq!(checked[0]["user_id"], user.as_str());
        assert_eq!(checked[0]["server_matched"], true, "{answer}");
        assert!(checked[0]["server_confidence"].as_f64().unwrap() >= 80.0, "{answer}");
        assert_eq!(checked[0]["flagged"], false);
        assert_eq!(checked[0]["timestamp"], records[0]["timestamp"]);
        assert_eq!(checked[1]["server_matched"], false);
        assert_eq!(checked[1]["flagged"], true);
        // No score below the threshold: nothing to climb.
        assert_eq!(checked[1]["server_confidence"], 0.0);
        assert_eq!(checked[2]["flagged"], true);
        assert_eq!(checked[2]["reason"], "USER_NOT_FOUND");
        assert_eq!(checked[3]["flagged"], true);
        assert_eq!(checked[3]["reason"], "MANY_FACES");
        // Not an image: that record is flagged, the batch goes on.
        assert_eq!(checked[4]["reason"], "INVALID_IMAGE_FORMAT");

        // Each flag reported once, signed; a resend changes nothing.
        let reported = flags.wait_for(4).await;
        let again = fx.call("POST", "/v1/sync", Some(json!({ "records": records }))).await;
        assert_eq!(again.assert_ok(200), &answer);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(flags.received().len(), 4);
        let mut users: Vec<String> = reported
            .iter()
            .map(|r| assert_signed(r, &secret)["data"]["user_id"].as_str().unwrap().to_owned())
            .collect();
        users.sort();
        assert_eq!(users, [user.clone(), user.clone(), user.clone(), "user_nope".to_owned()]);

        // Malformed records refuse the batch, each problem named.
        let old = record(&user, 90.0, 60 * 24 * 40, vec![photo(OBAMA_2)]);
        let ahead = record(&user, 90.0, -5, vec![photo(OBAMA_2)]);
        let mut typed = record(&user, 90.0, 1, vec![photo(OBAMA_2)]);
        typed["type"] = json!("online_verify");
        let bad = vec![
            record(&user, 90.0, 1, vec![photo(OBAMA_2)]),
            record(&user, 90.0, 1, vec![]),
            record(&user, 90.0, 1, vec![photo(OBAMA_2); 6]),
            old,
            ahead,
            record(&user, 120.0, 1, vec![photo(OBAMA_2)]),
            record(&user, 90.0, 1, vec!["not base64!".into()]),
            typed,
            json!({ "type": "offline_verify" }),
        ];
        let refused = fx.call("POST", "/v1/sync", Some(json!({ "records": bad }))).await;
        refused.assert_error(400, "VALIDATION_FAILED");
        let paths: Vec<Value> = refused.body["details"].as_array().unwrap().iter().map(|d| d["path"].clone()).collect();
        assert_eq!(
            paths,
            [
                json!(["records", "1", "frames"]),
                json!(["records", "2", "frames"]),
                json!(["records", "3", "timestamp"]),
                json!(["records", "4", "timestamp"]),
                json!(["records", "5", "confidence"]),
                json!(["records", "6", "frames", "0"]),
                json!(["records", "7", "type"]),
                json!(["records", "8"]),
            ]
        );
        // Counted before anything is decoded (tiny frames: the count is the point).
        let many: Vec<Value> = (0..51).map(|i| record(&user, 90.0, i, vec!["aGk=".into()])).collect();
        fx.call("POST", "/v1/sync", Some(json!({ "records": many })))
            .await
            .assert_error(400, "VALIDATION_FAILED");
        fx.call("POST", "/v1/sync", Some(json!({ "records": [] })))
            .await
            .assert_error(400, "VALIDATION_FAILED");

        // At most 30 batches a minute per tenant: refused within two
        // windows' worth, whatever minute this runs in.
        let mut refused = None;
        for i in 0..61 {
            let cheap = vec![record("user_nope", 90.0, i, vec![photo(OBAMA_2)])];
            let reply = fx.call("POST", "/v1/sync", Some(json!({ "records": cheap }))).await;
            if reply.status != 200 {
                refused = Some(reply);
                break;
            }
        }
        let limited = refused.expect("a 429 within 61 batches");
        limited.assert_error(429, "RATE_LIMITED");
        assert!(limited.header("retry-after").is_some());

        // Not a page's question.
        let client = fx
            .facegate
            .mint_client_key(&fx.tenant, facegate_core::domain::KeyEnvironment::Test, Default::default())
            .await
            .unwrap();
        let bearer = format!("Bearer {}", client.key.expose_secret());
        fx.raw(
            "POST",
            "/v1/sync",
            &[("authorization", &bearer), ("content-type", "application/json")],
            json!({ "records": records }).to_string(),
        )
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");

        // The offline login his face confirmed was his latest interaction:
        // the retention sweep keeps him (it would delete him without it).
        assert_eq!(fx.facegate.sweep_retention(now).await, 0);
        fx.call("GET", &format!("/v1/users/{user}"), None).await.assert_ok(200);
    }
);
