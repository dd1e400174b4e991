//! Issue 19, held to both adapters: deletion receipts, and a deleted user
//! leaves no biometric data anywhere in the database.

use facegate_core::domain::{KeyEnvironment, OriginRules};
use facegate_store_seaorm::entity::{deletion_receipt, liveness_session};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::cases::{FINGERPRINT, OBAMA_2, enroll_obama, live_session, passive, profile};
use crate::fixture::photo;

/// Tables that may still name a deleted user or their faces, and why none
/// of them holds biometric data. Any other table naming them fails the scan.
const KEPT_AFTER_DELETION: &[(&str, &str)] = &[
    ("deletion_receipts", "the receipt: ids and counts"),
    (
        "events",
        "the user.deleted event names the user (and its receipt)",
    ),
    ("webhook_deliveries", "deliveries of those events"),
    (
        "audit_events",
        "the audit trail: which key called which route",
    ),
    (
        "active_users",
        "the month's active users, counted for usage and billing",
    ),
    (
        "face_changes",
        "the face index's log: face ids, for other instances to drop them",
    ),
    (
        "liveness_sessions",
        "their ceremonies' bookkeeping; reference images and probes cleared (checked)",
    ),
];

case!(
    /// Deleting a user answers with a signed receipt of what went; the
    /// receipt checks out later (and not once its row is changed), is
    /// never a login token, and is the tenant's server's business only.
    /// Then every table is scanned for the user's id and face ids.
    deletion_receipts_and_no_biometric_leftovers(fx) {
        passive(&fx).await;
        let user = enroll_obama(&fx).await;
        let faces: Vec<String> = fx
            .call("GET", &format!("/v1/users/{user}"), None)
            .await
            .assert_ok(200)["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|face| face["faceId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(faces.len(), 1);
        // Signed in (a session and its refresh token), a live ceremony left
        // unused (their face waits in it), an offline verification synced.
        let device = [("x-device-fingerprint", FINGERPRINT)];
        let ceremony = live_session(&fx, &device).await;
        fx.call_with("POST", "/v1/verify", Some(json!({ "liveness_session_id": ceremony })), &device)
            .await
            .assert_ok(200);
        live_session(&fx, &[]).await;
        let synced = json!({ "records": [{
            "type": "offline_verify", "user_id": user, "confidence": 90.0,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "frames": [photo(OBAMA_2)],
        }] });
        fx.call("POST", "/v1/sync", Some(synced)).await.assert_ok(200);

        let deleted = fx.call("DELETE", &format!("/v1/users/{user}"), None).await;
        let deleted = deleted.assert_ok(200).clone();
        assert_eq!(deleted["user_id"], user.as_str());
        assert_eq!(deleted["reason"], "user_request");
        let counts = &deleted["deleted"];
        assert_eq!((counts["faces"].as_u64(), counts["sessions"].as_u64()), (Some(1), Some(1)), "{deleted}");
        assert_eq!(counts["refresh_tokens"], 1, "{deleted}");
        assert_eq!(counts["provider_faces"], 0, "{deleted}");
        assert!(counts["liveness_images"].as_u64().unwrap() >= 1, "{deleted}");
        let receipt_id = deleted["receipt_id"].as_str().unwrap().to_owned();
        let receipt = deleted["receipt"].as_str().unwrap().to_owned();

        // Checked later: the stored receipt verifies and says the same.
        let path = format!("/v1/deletions/{receipt_id}");
        let checked = fx.call("GET", &path, None).await;
        let checked = checked.assert_ok(200);
        assert_eq!(checked["verified"], true, "{checked}");
        assert_eq!(checked["receipt"], receipt.as_str());
        assert_eq!(checked["deleted"], deleted["deleted"]);
        assert!(checked["kid"].is_string());
        fx.call("GET", "/v1/deletions/del_nope", None)
            .await
            .assert_error(404, "RECEIPT_NOT_FOUND");
        let page = fx
            .facegate
            .mint_client_key(&fx.tenant, KeyEnvironment::Test, OriginRules::default())
            .await
            .unwrap();
        let page = format!("Bearer {}", page.key.expose_secret());
        fx.raw("GET", &path, &[("authorization", &page)], "")
            .await
            .assert_error(403, "INSUFFICIENT_SCOPE");

        // Signed by the ring that signs logins, yet never a login token.
        let refused = profile(&fx, &receipt, None).await;
        refused.assert_error(401, "INVALID_TOKEN");
        fx.call("POST", "/v1/session", Some(json!({ "verification_token": receipt })))
            .await
            .assert_error(401, "INVALID_VERIFICATION_TOKEN");

        // A row changed after the fact no longer matches its signature.
        deletion_receipt::Entity::update_many()
            .col_expr(deletion_receipt::Column::Faces, Expr::value(0))
            .filter(deletion_receipt::Column::Id.eq(receipt_id.as_str()))
            .exec(fx.db.connection())
            .await
            .unwrap();
        let changed = fx.call("GET", &path, None).await;
        assert_eq!(changed.assert_ok(200)["verified"], false, "{}", changed.body);

        // The scan: every row of every table that names them.
        let snapshot = facegate_store_seaorm::testing::snapshot(&fx.db).await;
        let mut naming: Vec<&str> = snapshot
            .iter()
            .filter(|(_, rows)| {
                rows.iter().any(|row| row.contains(user.as_str()) || faces.iter().any(|face| row.contains(face.as_str())))
            })
            .map(|(table, _)| table.as_str())
            .collect();
        naming.sort_unstable();
        let unexpected: Vec<&&str> = naming
            .iter()
            .filter(|table| !KEPT_AFTER_DELETION.iter().any(|(kept, _)| kept == *table))
            .collect();
        assert!(unexpected.is_empty(), "tables still naming the deleted user: {unexpected:?}");
        assert!(naming.contains(&"deletion_receipts"), "{naming:?}");
        let images_left = liveness_session::Entity::find()
            .filter(liveness_session::Column::UserId.eq(user.as_str()))
            .filter(
                Condition::any()
                    .add(liveness_session::Column::ReferenceImage.is_not_null())
                    .add(liveness_session::Column::ReferenceProbe.is_not_null()),
            )
            .count(fx.db.connection())
            .await
            .unwrap();
        assert_eq!(images_left, 0);
    }
);

case!(
    /// The retention sweep deletes users whose last interaction is older
    /// than their tenant's `biometric_retention_days`, each with a receipt
    /// and a `user.deleted` event; a login keeps a user. The sweep takes
    /// its clock as a parameter: run a month ahead, it finds the user who
    /// signed in today idle too.
    retention_deletes_idle_users_with_receipts(fx) {
        passive(&fx).await;
        fx.settings(|s| s.biometric_retention_days = 30).await;
        let deletions = crate::receiver::Receiver::start(&[]).await;
        let secret = crate::events::register(&fx, &deletions.url, &["user.deleted"]).await["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let idle = fx
            .call("POST", "/v1/enroll", Some(json!({ "name": "Joe", "role": "user", "consent_id": fx.consent().await, "face_image": photo(crate::cases::BIDEN) })))
            .await;
        let idle = idle.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
        let active = enroll_obama(&fx).await;
        let now = chrono::Utc::now();
        assert_eq!(fx.facegate.sweep_retention(now).await, 0, "nobody is idle yet");

        // Joe enrolled 40 days ago and never came back; Barack signs in.
        let long_ago = now - chrono::Duration::days(40);
        enrolled_at(&fx, &idle, long_ago).await;
        enrolled_at(&fx, &active, long_ago).await;
        let ceremony = live_session(&fx, &[]).await;
        fx.call("POST", "/v1/verify", Some(json!({ "liveness_session_id": ceremony })))
            .await
            .assert_ok(200);

        assert_eq!(fx.facegate.sweep_retention(now).await, 1);
        fx.call("GET", &format!("/v1/users/{idle}"), None).await.assert_error(404, "USER_NOT_FOUND");
        fx.call("GET", &format!("/v1/users/{active}"), None).await.assert_ok(200);
        let event = crate::events::assert_signed(&deletions.wait_for(1).await[0], &secret);
        assert_eq!(event["data"]["user_id"], idle.as_str());
        assert_eq!(event["data"]["reason"], "retention");
        let receipt = fx
            .call("GET", &format!("/v1/deletions/{}", event["data"]["receipt_id"].as_str().unwrap()), None)
            .await;
        let receipt = receipt.assert_ok(200);
        assert_eq!((receipt["verified"].as_bool(), receipt["reason"].as_str()), (Some(true), Some("retention")));
        assert_eq!(receipt["deleted"]["faces"], 1);

        // The clock moved on: 29 days after the login he is kept, 31 days
        // after it he is idle too.
        assert_eq!(fx.facegate.sweep_retention(now + chrono::Duration::days(29)).await, 0);
        assert_eq!(fx.facegate.sweep_retention(now + chrono::Duration::days(31)).await, 1);
        fx.call("GET", &format!("/v1/users/{active}"), None).await.assert_error(404, "USER_NOT_FOUND");
    }
);

/// Moves `user`'s enrollment (their row and their faces) back to `when`,
/// for the retention sweep's clock.
pub(crate) async fn enrolled_at<A: crate::Adapter>(
    fx: &crate::Fixture<A>,
    user: &str,
    when: chrono::DateTime<chrono::Utc>,
) {
    use facegate_store_seaorm::entity::{face_enrollment, user};
    user::Entity::update_many()
        .col_expr(user::Column::CreatedAt, Expr::value(when))
        .filter(user::Column::Id.eq(user))
        .exec(fx.db.connection())
        .await
        .unwrap();
    face_enrollment::Entity::update_many()
        .col_expr(face_enrollment::Column::CreatedAt, Expr::value(when))
        .filter(face_enrollment::Column::UserId.eq(user))
        .exec(fx.db.connection())
        .await
        .unwrap();
}
