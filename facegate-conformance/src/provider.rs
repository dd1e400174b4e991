//! Cases of an engine that runs the liveness check itself and keeps the
//! faces (Rekognition, through the local peer): the ceremony's answer, its
//! expiry and failures, and deletions that outlive an engine outage.

use facegate_rekognition_peer::AwsError;
use serde_json::json;

use crate::cases::{BIDEN, OBAMA, OBAMA_2, checked_session, enroll_obama, live_session};
use crate::fixture::camera_frame;

case!(
    /// The spec's session answer (`credentials`, `region`, no challenge),
    /// no frames upload, and the provider's outcome as verify reads it:
    /// pending, expired at the provider, failed.
    provider_liveness(fx) {
        let peer = fx.peer.as_ref().expect("a provider-run engine");
        enroll_obama(&fx).await;
        let started = fx.call("POST", "/v1/liveness/session", None).await;
        let started = started.assert_ok(200).clone();
        let id = started["session_id"].as_str().unwrap().to_owned();
        assert_eq!(started["credentials"]["accessKeyId"], crate::fixture::BROWSER_KEY_ID);
        assert_eq!(started["credentials"]["sessionToken"], "browser-session-token");
        assert!(started["credentials"]["secretAccessKey"].is_string());
        assert_eq!(started["region"], "eu-west-1");
        assert!(started.get("challenge").is_none(), "{started}");
        let frames = json!({ "nonce": "x", "frames": [{ "image": camera_frame(OBAMA), "timestamp_ms": 0 }] });
        fx.call("POST", &format!("/v1/liveness/session/{id}/frames"), Some(frames)).await
            .assert_error(400, "VALIDATION_FAILED");
        let verify = |id: &str| json!({ "liveness_session_id": id });
        fx.call("POST", "/v1/verify", Some(verify(&id))).await
            .assert_error(400, "LIVENESS_NOT_COMPLETED");
        fx.call("GET", &format!("/v1/liveness/result/{id}"), None).await
            .assert_error(400, "LIVENESS_NOT_COMPLETED");

        // AWS's three minutes pass before the browser streams.
        peer.advance_clock(chrono::Duration::minutes(4));
        fx.call("POST", "/v1/verify", Some(verify(&id))).await
            .assert_error(400, "LIVENESS_SESSION_EXPIRED");

        // Two people in one check: FAILED at the provider, a failed check here.
        let failed = checked_session(&fx, &[], &[OBAMA, BIDEN, OBAMA_2]).await;
        let result = fx.call("GET", &format!("/v1/liveness/result/{failed}"), None).await;
        assert_eq!(result.assert_ok(200), &json!({ "is_live": false, "confidence": 0.0 }));
        fx.call("POST", "/v1/verify", Some(verify(&failed))).await
            .assert_error(403, "LIVENESS_FAILED");

        // A good check logs in once; its outcome is read from AWS once.
        let before = peer.calls().get("GetFaceLivenessSessionResults").copied().unwrap_or(0);
        let good = live_session(&fx, &[]).await;
        let login = fx.call("POST", "/v1/verify", Some(verify(&good))).await;
        assert_eq!(login.assert_ok(200)["matched"], true);
        fx.call("POST", "/v1/verify", Some(verify(&good))).await
            .assert_error(400, "LIVENESS_SESSION_CONSUMED");
        assert_eq!(peer.calls()["GetFaceLivenessSessionResults"], before + 1);
    }
);

case!(
    /// Deleting a user commits in the store first; the engine's copy of
    /// the face goes after, and when the engine is down, by the next
    /// maintenance pass: never an orphaned face, never a half-deleted user.
    engine_deletions_are_retried(fx) {
        let peer = fx.peer.as_ref().expect("an engine that keeps the faces");
        let user = enroll_obama(&fx).await;
        assert_eq!(peer.stored_faces(), 1);
        let outage = (0..3).map(|_| AwsError::new(500, "InternalServerError", "down for a test"));
        peer.fail_next(outage);
        let deleted = fx.call("DELETE", &format!("/v1/users/{user}"), None).await;
        // The face at the provider is queued for deletion there, and counted.
        assert_eq!(deleted.assert_ok(200)["deleted"]["provider_faces"], 1);
        fx.call("GET", &format!("/v1/users/{user}"), None).await.assert_error(404, "USER_NOT_FOUND");
        assert_eq!(peer.stored_faces(), 1, "the engine was down: its copy waits");

        // The waiting copy never stands in for anyone, nor hides anyone:
        // another photo of him enrolls (the copy is no duplicate), and then
        // the very photo of the deleted user, which the copy matches best,
        // is a duplicate of the new user behind it.
        let again = enroll_photo(&fx, OBAMA_2).await;
        let again = again.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
        enroll_photo(&fx, OBAMA).await.assert_error(409, "USER_ALREADY_ENROLLED");
        let matched = fx.call("POST", "/v1/match", Some(json!({ "image": crate::photo(OBAMA) }))).await;
        assert_eq!(matched.assert_ok(200)["user"]["id"], again.as_str());
        assert_eq!(peer.stored_faces(), 2);

        // Maintenance retries the deletion; the next one goes at once.
        let report = fx.facegate.run_maintenance().await;
        assert_eq!(report.engine_faces_deleted, 1);
        assert_eq!(peer.stored_faces(), 1);
        assert_eq!(fx.facegate.run_maintenance().await.engine_faces_deleted, 0);
        fx.call("DELETE", &format!("/v1/users/{again}"), None).await.assert_ok(200);
        assert_eq!(peer.stored_faces(), 0);

        // A face indexed for an enrollment the store then refuses (a taken
        // external id) is taken back; with DeleteFaces failing too, it is
        // queued, never left behind.
        let first = enroll_external(&fx, OBAMA, "ext-1").await;
        first.assert_ok(201);
        let outage = (0..3).map(|_| AwsError::new(500, "InternalServerError", "down for a test"));
        peer.fail_next_of("DeleteFaces", outage);
        enroll_external(&fx, BIDEN, "ext-1").await.assert_error(409, "EXTERNAL_ID_TAKEN");
        assert_eq!(peer.stored_faces(), 2, "Biden's face waits for its deletion");
        assert_eq!(fx.facegate.run_maintenance().await.engine_faces_deleted, 1);
        assert_eq!(peer.stored_faces(), 1);
        let first = first.body["user_id"].as_str().unwrap().to_owned();
        fx.call("DELETE", &format!("/v1/users/{first}"), None).await.assert_ok(200);
        assert_eq!(peer.stored_faces(), 0);

        // With the engine up, revoking consent takes the face at once, and
        // re-enrolling swaps it.
        let consent = fx.consent().await;
        let enrolled = fx
            .call("POST", "/v1/enroll", Some(json!({ "name": "B", "role": "user", "consent_id": consent, "face_image": crate::photo(OBAMA) })))
            .await;
        let user = enrolled.assert_ok(201)["user_id"].as_str().unwrap().to_owned();
        fx.call("POST", &format!("/v1/users/{user}/re-enroll"), Some(json!({ "face_image": crate::photo(OBAMA_2) })))
            .await
            .assert_ok(200);
        assert_eq!(peer.stored_faces(), 1);
        fx.call("DELETE", &format!("/v1/consent/{consent}"), None).await.assert_ok(200);
        assert_eq!(peer.stored_faces(), 0);
    }
);

async fn enroll_photo<A: crate::Adapter>(fx: &crate::Fixture<A>, photo: &str) -> crate::Reply {
    let consent = fx.consent().await;
    let body = json!({ "name": "B", "role": "user", "consent_id": consent, "face_image": crate::photo(photo) });
    fx.call("POST", "/v1/enroll", Some(body)).await
}

async fn enroll_external<A: crate::Adapter>(
    fx: &crate::Fixture<A>,
    photo: &str,
    external_id: &str,
) -> crate::Reply {
    let consent = fx.consent().await;
    let body = json!({ "name": "E", "role": "user", "consent_id": consent, "external_id": external_id, "face_image": crate::photo(photo) });
    fx.call("POST", "/v1/enroll", Some(body)).await
}
