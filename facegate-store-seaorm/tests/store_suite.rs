//! The store contract, run on SQLite by default and on PostgreSQL when
//! `FACEGATE_TEST_DATABASE_URL` is set (CI runs both).

use chrono::Utc;
use facegate_core::clock;
use facegate_core::deletion::{DeletionReason, DeletionReceipt, Erased};
use facegate_core::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, KeyEnvironment, KeyScope,
    LivenessAction, LivenessChallenge, LivenessCompletion, LivenessMode, LivenessOutcome,
    LivenessSession, LivenessSettings, OriginRules, PinMode, PinSettings, RefreshTokenRecord,
    Session, Signal, SyncRecord, Tenant, TenantSettings, TenantStatus, User, UserStatus,
};
use facegate_core::events::{
    AttemptOutcome, DeliveryStatus, DueDelivery, Event, EventKind, WebhookEndpoint,
};
use facegate_core::ids::{
    ApiKeyId, ConsentId, FaceId, LivenessSessionId, ReceiptId, SessionId, TenantId, UserId,
    WebhookId,
};
use facegate_core::store::prelude::*;
use facegate_core::store::{
    EngineFaceDeletion, FaceChange, FaceChangeKind, FailureSubject, PinLimits, PinTry,
    RefreshRotation, StoreError, UserPage,
};
use facegate_store_seaorm::testing::test_store;
use serde_json::json;

/// Receipts as the core seals them for `tenant`, with a stand-in signature
/// (the store keeps what it is given; signing is the core's, tested there).
fn sealer(
    tenant: &TenantId,
) -> impl Fn(&UserId, Erased) -> Result<DeletionReceipt, StoreError> + Send + Sync + use<> {
    let tenant = tenant.clone();
    move |user, deleted| {
        Ok(DeletionReceipt {
            id: ReceiptId::generate(),
            tenant_id: tenant.clone(),
            user_id: user.clone(),
            reason: DeletionReason::UserRequest,
            deleted_at: clock::now(),
            deleted,
            receipt: "header.claims.signature".into(),
        })
    }
}

async fn tenant(store: &impl Store) -> TenantId {
    let tenant = Tenant {
        id: TenantId::generate(),
        name: "acme".into(),
        status: TenantStatus::Active,
        settings: TenantSettings::default(),
        created_at: clock::now(),
    };
    store.insert_tenant(&tenant).await.unwrap();
    tenant.id
}

fn user(tenant: &TenantId, name: &str) -> User {
    User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        name: name.into(),
        role: "guard".into(),
        email: Some(format!("{name}@example.com")),
        phone: None,
        external_id: Some(format!("ext-{name}")),
        metadata: json!({ "badge": 7, "tags": ["night"] }),
        payload: Some(json!({ "plan": "gold", "seats": [1, 2] })),
        pin_hash: None,
        status: UserStatus::Active,
        created_at: clock::now(),
    }
}

fn face(user: &User) -> FaceEnrollment {
    let id = FaceId::generate();
    FaceEnrollment {
        provider_face_id: id.to_string(),
        id,
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        provider: "local".into(),
        angle: "front".into(),
        confidence: 99.5,
        enrolled_with_glasses: true,
        template: Some(vec![1, 2, 3, 255]),
        created_at: clock::now(),
    }
}

fn consent(tenant: &TenantId, user: Option<&User>) -> ConsentRecord {
    ConsentRecord {
        id: ConsentId::generate(),
        tenant_id: tenant.clone(),
        user_id: user.map(|u| u.id.clone()),
        consent_version: "v1".into(),
        consent_text_hash: "ab".repeat(32),
        consented_at: clock::now(),
        revoked_at: None,
    }
}

#[tokio::test]
async fn tenants_round_trip_and_change_status() {
    let store = test_store().await;
    store.ping().await.unwrap();
    let id = tenant(&store).await;
    let stored = store.tenant(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, TenantStatus::Active);
    assert!(
        store
            .set_tenant_status(&id, TenantStatus::Suspended, Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(
        store.tenant(&id).await.unwrap().unwrap().status,
        TenantStatus::Suspended
    );
    assert!(
        !store
            .set_tenant_status(&TenantId::generate(), TenantStatus::Active, Utc::now())
            .await
            .unwrap()
    );
    assert!(store.tenant(&TenantId::generate()).await.unwrap().is_none());
}

#[tokio::test]
async fn api_keys_are_found_by_hash_and_keep_scope_and_origins() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        tenant_id: tenant.clone(),
        environment: KeyEnvironment::Test,
        scope: KeyScope::Client,
        origins: OriginRules {
            allowed: vec!["https://app.example".into()],
            reject_empty: true,
        },
        prefix: "fg_test_pub_".into(),
        hash: [7; 32],
        created_at: clock::now(),
        revoked_at: None,
    };
    store.insert_api_key(&record).await.unwrap();
    assert_eq!(
        store.api_key_by_hash(&[7; 32]).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.api_key_by_hash(&[8; 32]).await.unwrap(), None);
    // The hash is unique: a second row with it is a conflict.
    let twin = ApiKeyRecord {
        id: ApiKeyId::generate(),
        ..record.clone()
    };
    assert!(matches!(
        store.insert_api_key(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    // Revoking is tenant-scoped.
    assert!(
        !store
            .revoke_api_key(&TenantId::generate(), &record.id, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_api_key(&tenant, &record.id, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_key(&tenant, &record.id, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .api_key_by_hash(&[7; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "a revoked key is still found, and says so"
    );
    assert!(
        store.api_keys(&tenant).await.unwrap()[0]
            .revoked_at
            .is_some()
    );
}

fn uuid_hex() -> String {
    UserId::generate().as_str()[5..].to_owned()
}

#[tokio::test]
async fn users_and_faces_round_trip_within_their_tenant_only() {
    let store = test_store().await;
    let tenant_a = tenant(&store).await;
    let tenant_b = tenant(&store).await;
    let ada = user(&tenant_a, "ada");
    let ada_face = face(&ada);
    store
        .insert_user(&ada, std::slice::from_ref(&ada_face), None, &[])
        .await
        .unwrap();

    assert_eq!(
        store.user(&tenant_a, &ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(store.user(&tenant_b, &ada.id).await.unwrap(), None);
    assert_eq!(
        store.faces_of_user(&tenant_a, &ada.id).await.unwrap(),
        vec![ada_face.clone()]
    );
    assert!(
        store
            .faces_of_user(&tenant_b, &ada.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.faces_of_tenant(&tenant_a).await.unwrap().len(), 1);
    assert!(store.faces_of_tenant(&tenant_b).await.unwrap().is_empty());

    let locked = store
        .set_user_status(&tenant_a, &ada.id, UserStatus::Locked, clock::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(locked.status, UserStatus::Locked);
    assert!(
        store
            .set_user_status(&tenant_b, &ada.id, UserStatus::Active, clock::now())
            .await
            .unwrap()
            .is_none()
    );
}

/// The re-seal pass writes a template only over the value it read, and
/// only in its own tenant.
#[tokio::test]
async fn resealing_a_template_needs_the_value_it_replaces() {
    use facegate_core::store::ResealedTemplate;
    let store = test_store().await;
    let (tenant, other) = (tenant(&store).await, tenant(&store).await);
    let ada = user(&tenant, "ada");
    let ada_face = face(&ada);
    store
        .insert_user(&ada, std::slice::from_ref(&ada_face), None, &[])
        .await
        .unwrap();
    let resealed = |stored: Vec<u8>, sealed: Vec<u8>| ResealedTemplate {
        face: ada_face.id.clone(),
        stored,
        sealed,
    };
    let template = || async {
        store.faces_of_tenant(&tenant).await.unwrap()[0]
            .template
            .clone()
    };
    // Read before a change: not written.
    let stale = resealed(vec![9], vec![7, 7]);
    assert_eq!(
        store
            .reseal_face_templates(&tenant, &[stale])
            .await
            .unwrap(),
        0
    );
    // Another tenant's pass: not written.
    let current = resealed(vec![1, 2, 3, 255], vec![7, 7]);
    assert_eq!(
        store
            .reseal_face_templates(&other, std::slice::from_ref(&current))
            .await
            .unwrap(),
        0
    );
    assert_eq!(template().await, Some(vec![1, 2, 3, 255]));
    assert_eq!(
        store
            .reseal_face_templates(&tenant, &[current])
            .await
            .unwrap(),
        1
    );
    assert_eq!(template().await, Some(vec![7, 7]));
}

#[tokio::test]
async fn inserting_a_user_is_all_or_nothing() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let first = user(&tenant, "first");
    let taken = face(&first);
    store
        .insert_user(&first, std::slice::from_ref(&taken), None, &[])
        .await
        .unwrap();

    // The second user's face reuses an existing face id: the whole insert fails.
    let second = user(&tenant, "second");
    let mut clash = face(&second);
    clash.id = taken.id.clone();
    let err = store
        .insert_user(&second, &[face(&second), clash], None, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.user(&tenant, &second.id).await.unwrap(), None);
    assert!(
        store
            .faces_of_user(&tenant, &second.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn users_page_in_creation_order_with_face_counts() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = tenant_with_one_user(&store).await;
    let mut ids = Vec::new();
    for (i, faces) in [2usize, 0, 1].into_iter().enumerate() {
        let u = user(&tenant, &format!("u{i}"));
        let faces: Vec<_> = (0..faces).map(|_| face(&u)).collect();
        store.insert_user(&u, &faces, None, &[]).await.unwrap();
        ids.push(u.id);
    }
    let first = store
        .list_users(
            &tenant,
            &UserPage {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|s| (&s.user.id, s.face_count))
            .collect::<Vec<_>>(),
        vec![(&ids[0], 2), (&ids[1], 0)]
    );
    let rest = store
        .list_users(
            &tenant,
            &UserPage {
                after: Some(ids[1].clone()),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .map(|s| (&s.user.id, s.face_count))
            .collect::<Vec<_>>(),
        vec![(&ids[2], 1)]
    );
    assert_eq!(
        store
            .list_users(
                &other,
                &UserPage {
                    after: None,
                    limit: 10
                }
            )
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn tenant_with_one_user(store: &impl Store) -> TenantId {
    let t = tenant(store).await;
    let u = user(&t, "other");
    store.insert_user(&u, &[face(&u)], None, &[]).await.unwrap();
    t
}

#[tokio::test]
async fn deleting_a_user_removes_every_face_and_unlinks_consent() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    store
        .insert_user(&ada, &[face(&ada), face(&ada)], None, &[])
        .await
        .unwrap();
    let record = consent(&tenant, Some(&ada));
    store.insert_consent(&record).await.unwrap();

    assert!(
        store
            .delete_user(
                &TenantId::generate(),
                &ada.id,
                &[],
                &sealer(&TenantId::generate())
            )
            .await
            .unwrap()
            .is_none()
    );
    let receipt = store
        .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
        .await
        .unwrap()
        .expect("deleted, with a receipt");
    // What was removed, counted in the transaction, and the receipt kept.
    assert_eq!(receipt.deleted.faces, 2);
    assert_eq!(receipt.deleted.sessions, 0);
    assert_eq!(
        store.deletion_receipt(&tenant, &receipt.id).await.unwrap(),
        Some(receipt.clone())
    );
    assert_eq!(
        store
            .deletion_receipt(&TenantId::generate(), &receipt.id)
            .await
            .unwrap(),
        None,
        "another tenant's receipt"
    );
    assert!(
        store
            .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.user(&tenant, &ada.id).await.unwrap(), None);
    assert!(store.faces_of_tenant(&tenant).await.unwrap().is_empty());
    let kept = store.consent(&tenant, &record.id).await.unwrap().unwrap();
    assert_eq!(kept.user_id, None);
}

#[tokio::test]
async fn a_receipt_that_cannot_be_sealed_rolls_the_deletion_back() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    store
        .insert_user(&ada, &[face(&ada)], None, &[])
        .await
        .unwrap();
    let refuse = |_: &UserId, _: Erased| -> Result<DeletionReceipt, StoreError> {
        Err(StoreError::Backend("no signing key".into()))
    };
    assert!(
        store
            .delete_user(&tenant, &ada.id, &[], &refuse)
            .await
            .is_err()
    );
    assert!(store.user(&tenant, &ada.id).await.unwrap().is_some());
    // Nor is a receipt sealed for another tenant recorded for this one.
    let elsewhere = sealer(&TenantId::generate());
    let refused = store.delete_user(&tenant, &ada.id, &[], &elsewhere).await;
    assert!(refused.is_err());
    assert!(store.user(&tenant, &ada.id).await.unwrap().is_some());
    assert_eq!(store.faces_of_tenant(&tenant).await.unwrap().len(), 1);
}

#[tokio::test]
async fn revoking_consent_deletes_the_linked_user_once() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    store
        .insert_user(&ada, &[face(&ada)], None, &[])
        .await
        .unwrap();
    let record = consent(&tenant, Some(&ada));
    store.insert_consent(&record).await.unwrap();
    assert_eq!(
        store.consent(&tenant, &record.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store
            .consent(&TenantId::generate(), &record.id)
            .await
            .unwrap(),
        None
    );

    let at = clock::now();
    let first = store
        .revoke_consent(&tenant, &record.id, at, &|_| Vec::new(), &sealer(&tenant))
        .await
        .unwrap()
        .unwrap();
    assert!(first.deletion.is_some());
    assert_eq!(first.record.revoked_at, Some(at));
    assert_eq!(store.user(&tenant, &ada.id).await.unwrap(), None);
    assert!(store.faces_of_tenant(&tenant).await.unwrap().is_empty());

    let again = store
        .revoke_consent(
            &tenant,
            &record.id,
            clock::now(),
            &|_| Vec::new(),
            &sealer(&tenant),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(again.deletion.is_none());
    assert_eq!(again.record.revoked_at, Some(at));
    assert!(
        store
            .revoke_consent(
                &TenantId::generate(),
                &record.id,
                at,
                &|_| Vec::new(),
                &sealer(&tenant)
            )
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn audit_events_come_back_newest_first_per_tenant() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    for (i, status) in [200u16, 404].into_iter().enumerate() {
        store
            .record_audit(&AuditEvent {
                id: uuid_hex(),
                tenant_id: Some(tenant.clone()),
                method: "GET".into(),
                route: "/v1/users/:id".into(),
                resource_id: Some(format!("user_{i}")),
                status,
                error_code: (status == 404).then(|| "USER_NOT_FOUND".into()),
                note: None,
                latency_ms: 3,
                user_agent: Some("curl/8".into()),
                device_id: None,
                created_at: clock::now(),
            })
            .await
            .unwrap();
    }
    let events = store.audit_events(&tenant, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.status).collect::<Vec<_>>(),
        vec![404, 200]
    );
    assert_eq!(events[0].error_code.as_deref(), Some("USER_NOT_FOUND"));
    assert!(
        store
            .audit_events(&TenantId::generate(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn tenant_settings_round_trip() {
    let store = test_store().await;
    let id = tenant(&store).await;
    assert_eq!(
        store.tenant(&id).await.unwrap().unwrap().settings,
        TenantSettings::default()
    );
    let strict = TenantSettings {
        match_threshold: 95.0,
        prevent_duplicates: false,
        minimum_age: Some(18),
        liveness: LivenessSettings {
            mode: LivenessMode::Passive,
            actions: vec![LivenessAction::Blink],
            min_confidence: 95.0,
            lockout_minutes: 5,
        },
        pin: PinSettings {
            mode: PinMode::Always,
            unique: true,
            max_wrong_per_user: 9,
        },
        client_match: true,
        client_role: "visitor".into(),
        biometric_retention_days: 30,
    };
    assert!(store.set_tenant_settings(&id, &strict).await.unwrap());
    assert_eq!(store.tenant(&id).await.unwrap().unwrap().settings, strict);
    assert!(
        !store
            .set_tenant_settings(&TenantId::generate(), &strict)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn enrolling_links_the_consent_or_writes_nothing() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let record = consent(&tenant, None);
    store.insert_consent(&record).await.unwrap();

    let ada = user(&tenant, "ada");
    store
        .insert_user(&ada, &[face(&ada)], Some(&record.id), &[])
        .await
        .unwrap();
    let linked = store.consent(&tenant, &record.id).await.unwrap().unwrap();
    assert_eq!(linked.user_id, Some(ada.id.clone()));

    // The same consent cannot enroll a second person: nothing of them is written.
    let bob = user(&tenant, "bob");
    let err = store
        .insert_user(&bob, &[face(&bob)], Some(&record.id), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.user(&tenant, &bob.id).await.unwrap(), None);
    assert!(
        store
            .faces_of_user(&tenant, &bob.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn replacing_faces_swaps_them_in_one_step() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    let old = [face(&ada), face(&ada)];
    store.insert_user(&ada, &old, None, &[]).await.unwrap();
    let new = face(&ada);
    let removed = store
        .replace_faces(&tenant, &ada.id, std::slice::from_ref(&new), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.len(), 2);
    assert_eq!(
        store.faces_of_user(&tenant, &ada.id).await.unwrap(),
        vec![new]
    );
    assert!(
        store
            .replace_faces(&TenantId::generate(), &ada.id, &[], &[])
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn rotating_signing_keys_retires_the_previous_one() {
    let store = test_store().await;
    assert!(store.signing_keys().await.unwrap().is_empty());
    let first = facegate_core::token::generate_signing_key(clock::now());
    store.rotate_signing_key(&first).await.unwrap();
    let second = facegate_core::token::generate_signing_key(clock::now());
    store.rotate_signing_key(&second).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let stored_first = keys.iter().find(|k| k.kid == first.kid).unwrap();
    assert_eq!(stored_first.retired_at, Some(second.created_at));
    assert_eq!(stored_first.private_key, first.private_key);
    let stored_second = keys.iter().find(|k| k.kid == second.kid).unwrap();
    assert_eq!(stored_second.retired_at, None);
}

#[tokio::test]
async fn sessions_are_tenant_scoped_and_revoked_once() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    store.insert_user(&ada, &[], None, &[]).await.unwrap();
    let (session, refresh) = session_of(&ada);
    store.insert_session(&session, &refresh, &[]).await.unwrap();
    assert_eq!(
        store.session(&tenant, &session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store
            .session(&TenantId::generate(), &session.id)
            .await
            .unwrap(),
        None
    );

    let at = clock::now();
    let revoked = store
        .revoke_session(&tenant, &session.id, at, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let again = store
        .revoke_session(
            &tenant,
            &session.id,
            clock::now() + chrono::Duration::seconds(5),
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at),
        "the first revocation time stays"
    );

    // Locking the user revokes their open sessions with it.
    let (open, refresh) = session_of(&ada);
    store.insert_session(&open, &refresh, &[]).await.unwrap();
    let locked_at = clock::now();
    store
        .set_user_status(&tenant, &ada.id, UserStatus::Locked, locked_at)
        .await
        .unwrap()
        .unwrap();
    let ended = store.session(&tenant, &open.id).await.unwrap().unwrap();
    assert_eq!(ended.revoked_at, Some(locked_at));

    // Deleting the user ends their sessions.
    assert!(
        store
            .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.session(&tenant, &session.id).await.unwrap(), None);
}

fn session_of(user: &User) -> (Session, RefreshTokenRecord) {
    let now = clock::now();
    let session = Session {
        id: SessionId::generate(),
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        device_id: "dev_1".into(),
        device_fingerprint: Some("ab".repeat(32)),
        confidence: 97.0,
        risk_score: 0.1,
        created_at: now,
        last_verified_at: now,
        expires_at: now + chrono::Duration::hours(1),
        revoked_at: None,
    };
    let refresh = RefreshTokenRecord {
        hash: format!("hash-{}", session.id),
        tenant_id: user.tenant_id.clone(),
        session_id: session.id.clone(),
        created_at: now,
        spent_at: None,
    };
    (session, refresh)
}

#[tokio::test]
async fn refresh_tokens_rotate_once_and_reuse_revokes_the_session() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = user(&tenant, "ada");
    store.insert_user(&ada, &[], None, &[]).await.unwrap();
    let (session, first) = session_of(&ada);
    store.insert_session(&session, &first, &[]).await.unwrap();

    let at = clock::now();
    let rotated = store
        .rotate_refresh_token(&tenant, &first.hash, "second", at)
        .await
        .unwrap();
    assert_eq!(rotated, RefreshRotation::Rotated(session.clone()));
    assert_eq!(
        store
            .rotate_refresh_token(&TenantId::generate(), "second", "third", at)
            .await
            .unwrap(),
        RefreshRotation::Unknown,
        "another tenant's key cannot spend it"
    );
    let rotated_again = store
        .rotate_refresh_token(&tenant, "second", "third", at)
        .await
        .unwrap();
    assert!(matches!(rotated_again, RefreshRotation::Rotated(_)));

    // The first token again: a copy is in someone else's hands.
    let reused = store
        .rotate_refresh_token(&tenant, &first.hash, "fourth", at)
        .await
        .unwrap();
    assert_eq!(reused, RefreshRotation::Reused(session.id.clone()));
    let revoked = store.session(&tenant, &session.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(
        store
            .rotate_refresh_token(&tenant, "fourth", "fifth", at)
            .await
            .unwrap(),
        RefreshRotation::Unknown,
        "the reuse stored no successor"
    );

    // Deleting the user takes the tokens with the session.
    assert!(
        store
            .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .rotate_refresh_token(&tenant, "third", "sixth", at)
            .await
            .unwrap(),
        RefreshRotation::Unknown
    );
}

fn liveness_session(tenant: &TenantId, device: &str) -> LivenessSession {
    let now = clock::now();
    LivenessSession {
        id: LivenessSessionId::generate(),
        tenant_id: tenant.clone(),
        device_id: device.into(),
        mode: LivenessMode::Active,
        challenge: LivenessChallenge {
            actions: vec![LivenessAction::TurnLeft, LivenessAction::Blink],
            nonce: "00ff".into(),
        },
        created_at: now,
        expires_at: now + chrono::Duration::minutes(3),
        completion: None,
        consumed_at: None,
        pin_failures: 0,
    }
}

#[tokio::test]
async fn liveness_sessions_complete_once_and_are_consumed_once() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let session = liveness_session(&tenant, "dev_a");
    store.insert_liveness_session(&session).await.unwrap();
    assert_eq!(
        store.liveness_session(&tenant, &session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store
            .liveness_session(&TenantId::generate(), &session.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .consume_liveness_session(&tenant, &session.id, clock::now())
            .await
            .unwrap(),
        "not completed yet"
    );

    let completion = LivenessCompletion {
        outcome: LivenessOutcome {
            is_live: true,
            confidence: 97.5,
        },
        reference_image: Some("aGVsbG8=".into()),
        reference_probe: Some(b"fgp1 probe".to_vec()),
        user_id: None,
        completed_at: clock::now(),
    };
    assert!(
        store
            .complete_liveness_session(&tenant, &session.id, &completion)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_liveness_session(&tenant, &session.id, &completion)
            .await
            .unwrap(),
        "a second upload loses"
    );
    let completed = store
        .liveness_session(&tenant, &session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(completed.completion, Some(completion));

    let at = clock::now();
    assert!(
        store
            .consume_liveness_session(&tenant, &session.id, at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_liveness_session(&tenant, &session.id, at)
            .await
            .unwrap()
    );
    let consumed = store
        .liveness_session(&tenant, &session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consumed.consumed_at, Some(at));
    let consumed = consumed.completion.unwrap();
    assert_eq!(
        (consumed.reference_image, consumed.reference_probe),
        (None, None),
        "the face image and probe are dropped once used"
    );
}

#[tokio::test]
async fn failures_are_counted_by_device_and_by_user_and_old_sessions_pruned() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let ada = UserId::generate();
    let now = clock::now();
    let failed = |user: Option<UserId>| LivenessCompletion {
        outcome: LivenessOutcome {
            is_live: false,
            confidence: 0.0,
        },
        reference_image: None,
        reference_probe: None,
        user_id: user,
        completed_at: now,
    };
    for (device, completion) in [
        ("dev_a", failed(None)),
        ("dev_a", failed(Some(ada.clone()))),
        ("dev_b", failed(Some(ada.clone()))),
        (
            "dev_a",
            LivenessCompletion {
                outcome: LivenessOutcome {
                    is_live: true,
                    confidence: 99.0,
                },
                reference_image: Some("aW1n".into()),
                reference_probe: Some(b"fgp1".to_vec()),
                user_id: None,
                completed_at: now,
            },
        ),
    ] {
        let session = liveness_session(&tenant, device);
        store.insert_liveness_session(&session).await.unwrap();
        store
            .complete_liveness_session(&tenant, &session.id, &completion)
            .await
            .unwrap();
    }
    let since = now - chrono::Duration::minutes(1);
    let count = |subject| {
        let store = &store;
        let tenant = &tenant;
        async move {
            store
                .liveness_failures(tenant, subject, since)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(count(FailureSubject::Device("dev_a")).await, 2);
    assert_eq!(count(FailureSubject::Device("dev_b")).await, 1);
    assert_eq!(count(FailureSubject::User(&ada)).await, 2);
    assert_eq!(
        store
            .liveness_failures(
                &tenant,
                FailureSubject::Device("dev_a"),
                now + chrono::Duration::seconds(1)
            )
            .await
            .unwrap()
            .len(),
        0
    );

    // Expired: images dropped at once, rows kept for lockouts until forgotten.
    let later = now + chrono::Duration::minutes(10);
    assert_eq!(store.prune_liveness_sessions(later, now).await.unwrap(), 0);
    assert_eq!(count(FailureSubject::Device("dev_a")).await, 2);
    assert_eq!(
        store.prune_liveness_sessions(later, later).await.unwrap(),
        4
    );
    assert_eq!(count(FailureSubject::Device("dev_a")).await, 0);
}

#[tokio::test]
async fn pins_are_looked_up_per_tenant_and_wrong_ones_counted_per_session() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = self::tenant(&store).await;
    let mut holder = user(&tenant, "holder");
    holder.pin_hash = Some("$argon2id$hash-a".into());
    store.insert_user(&holder, &[], None, &[]).await.unwrap();
    assert_eq!(
        store
            .user(&tenant, &holder.id)
            .await
            .unwrap()
            .unwrap()
            .pin_hash,
        holder.pin_hash
    );
    assert!(store.pin_taken(&tenant, "$argon2id$hash-a").await.unwrap());
    assert!(!store.pin_taken(&tenant, "$argon2id$hash-b").await.unwrap());
    assert!(!store.pin_taken(&other, "$argon2id$hash-a").await.unwrap());

    // Wrong PINs count up on an unspent, completed session; three of them
    // make it a failed check of the device and of the user.
    let session = liveness_session(&tenant, "dev_pin");
    store.insert_liveness_session(&session).await.unwrap();
    let completion = LivenessCompletion {
        outcome: LivenessOutcome {
            is_live: true,
            confidence: 99.0,
        },
        reference_image: Some("aGk=".into()),
        reference_probe: None,
        // Completion names whoever the frames showed.
        user_id: Some(holder.id.clone()),
        completed_at: clock::now(),
    };
    assert!(
        store
            .complete_liveness_session(&tenant, &session.id, &completion)
            .await
            .unwrap()
    );
    let since = clock::now() - chrono::Duration::minutes(5);
    let limits = PinLimits {
        session_max: 3,
        user_max: 4,
        user_window: chrono::Duration::minutes(30),
    };
    let now = clock::now();
    let reserve = |tenant: TenantId, session: LivenessSessionId| {
        let store = &store;
        let holder = holder.id.clone();
        async move {
            store
                .reserve_pin_try(
                    &tenant,
                    &session,
                    std::slice::from_ref(&holder),
                    limits,
                    now,
                )
                .await
                .unwrap()
        }
    };
    // A right PIN gives its try back.
    assert_eq!(
        reserve(tenant.clone(), session.id.clone()).await,
        PinTry::Reserved { session_tries: 1 }
    );
    store
        .refund_pin_try(&tenant, &session.id, std::slice::from_ref(&holder.id), now)
        .await
        .unwrap();
    for expected in 1..=3 {
        assert_eq!(
            reserve(tenant.clone(), session.id.clone()).await,
            PinTry::Reserved {
                session_tries: expected
            }
        );
        let by_user = store
            .liveness_failures(&tenant, FailureSubject::User(&holder.id), since)
            .await
            .unwrap();
        assert_eq!(
            by_user.len(),
            usize::from(expected == 3),
            "after {expected}"
        );
    }
    assert_eq!(
        reserve(tenant.clone(), session.id.clone()).await,
        PinTry::SessionSpent,
        "the session is out of tries"
    );
    let by_device = store
        .liveness_failures(&tenant, FailureSubject::Device("dev_pin"), since)
        .await
        .unwrap();
    assert_eq!(by_device.len(), 1);
    assert_eq!(
        reserve(other.clone(), session.id.clone()).await,
        PinTry::SessionSpent,
        "another tenant's session"
    );
    // The user's fourth wrong PIN, on a fresh session, is their last in this window.
    let second = liveness_session(&tenant, "dev_pin_2");
    store.insert_liveness_session(&second).await.unwrap();
    store
        .complete_liveness_session(&tenant, &second.id, &completion)
        .await
        .unwrap();
    assert_eq!(
        reserve(tenant.clone(), second.id.clone()).await,
        PinTry::Reserved { session_tries: 1 }
    );
    assert!(matches!(
        reserve(tenant.clone(), second.id.clone()).await,
        PinTry::UserLocked { .. }
    ));
    // A new window starts once the last is over.
    let later = now + chrono::Duration::minutes(31);
    assert_eq!(
        store
            .reserve_pin_try(
                &tenant,
                &second.id,
                std::slice::from_ref(&holder.id),
                limits,
                later
            )
            .await
            .unwrap(),
        PinTry::Reserved { session_tries: 2 }
    );
    assert!(
        store
            .consume_liveness_session(&tenant, &second.id, clock::now())
            .await
            .unwrap()
    );
    assert_eq!(
        reserve(tenant.clone(), second.id.clone()).await,
        PinTry::SessionSpent,
        "a spent session takes no more tries"
    );
}

#[tokio::test]
async fn external_ids_are_unique_per_tenant_and_refused_atomically() {
    let store = test_store().await;
    let tenant_a = tenant(&store).await;
    let tenant_b = tenant(&store).await;
    let first = user(&tenant_a, "first");
    store
        .insert_user(&first, &[face(&first)], None, &[])
        .await
        .unwrap();
    let mut twin = user(&tenant_a, "twin");
    twin.external_id = first.external_id.clone();
    assert!(matches!(
        store.insert_user(&twin, &[face(&twin)], None, &[]).await,
        Err(StoreError::Duplicate("external_id"))
    ));
    assert!(store.user(&tenant_a, &twin.id).await.unwrap().is_none());
    assert!(
        store
            .faces_of_user(&tenant_a, &twin.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Another tenant may use the same id; users without one never clash.
    let mut elsewhere = user(&tenant_b, "elsewhere");
    elsewhere.external_id = first.external_id.clone();
    store.insert_user(&elsewhere, &[], None, &[]).await.unwrap();
    for name in ["none-1", "none-2"] {
        let mut u = user(&tenant_a, name);
        u.external_id = None;
        store.insert_user(&u, &[], None, &[]).await.unwrap();
    }
}

#[tokio::test]
async fn verification_tokens_are_exchanged_once() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let session = facegate_core::ids::SessionId::generate();
    let now = clock::now();
    let later = now + chrono::Duration::minutes(15);
    assert!(
        store
            .record_token_exchange(&tenant, "jti-1", &session, later, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_token_exchange(&tenant, "jti-1", &session, later, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_token_exchange(&tenant, "jti-2", &session, later, now)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn users_created_before_a_time_come_oldest_first() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let now = clock::now();
    let mut ids = Vec::new();
    for hours in [30, 26, 1] {
        let mut u = user(&tenant, &format!("aging-{hours}"));
        u.created_at = now - chrono::Duration::hours(hours);
        store.insert_user(&u, &[], None, &[]).await.unwrap();
        ids.push(u.id);
    }
    let cutoff = now - chrono::Duration::hours(24);
    assert_eq!(
        store
            .users_created_before(&tenant, cutoff, 10)
            .await
            .unwrap(),
        ids[..2].to_vec()
    );
    assert_eq!(
        store
            .users_created_before(&tenant, cutoff, 1)
            .await
            .unwrap(),
        ids[..1].to_vec()
    );
    assert!(
        store
            .users_created_before(&TenantId::generate(), cutoff, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The retention sweep reads who is idle, then deletes each: one who
/// signed in or added a face in between is kept, judged in the deleting
/// transaction.
#[tokio::test]
async fn an_idle_user_is_deleted_only_while_still_idle() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let now = clock::now();
    let long_ago = now - chrono::Duration::days(40);
    let idle_since = now - chrono::Duration::days(30);
    let aged = |name: &str| {
        let mut u = user(&tenant, name);
        u.created_at = long_ago;
        u
    };
    let (idle, signed_in, new_face) = (aged("idle"), aged("signed-in"), aged("new-face"));
    let mut old_face = face(&new_face);
    old_face.created_at = long_ago;
    for (u, faces) in [
        (&idle, vec![]),
        (&signed_in, vec![]),
        (&new_face, vec![old_face]),
    ] {
        store.insert_user(u, &faces, None, &[]).await.unwrap();
    }
    assert_eq!(
        store
            .users_idle_since(&tenant, idle_since, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // Between the read and the deletes: a login, and a face added.
    store
        .mark_active(&tenant, &signed_in.id, now, None)
        .await
        .unwrap();
    store
        .replace_faces(&tenant, &new_face.id, &[face(&new_face)], &[])
        .await
        .unwrap();
    for kept in [&signed_in, &new_face] {
        let deleted = store
            .delete_idle_user(&tenant, &kept.id, idle_since, &[], &sealer(&tenant))
            .await
            .unwrap();
        assert!(deleted.is_none(), "{} is active again", kept.name);
        assert!(store.user(&tenant, &kept.id).await.unwrap().is_some());
    }
    let deleted = store
        .delete_idle_user(&tenant, &idle.id, idle_since, &[], &sealer(&tenant))
        .await
        .unwrap();
    assert!(deleted.is_some());
    assert!(store.user(&tenant, &idle.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_refund_after_the_window_restarted_leaves_the_new_window_alone() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let mut holder = user(&tenant, "holder");
    holder.pin_hash = Some("$argon2id$hash-a".into());
    store.insert_user(&holder, &[], None, &[]).await.unwrap();
    let session = liveness_session(&tenant, "dev_window");
    store.insert_liveness_session(&session).await.unwrap();
    let window = chrono::Duration::minutes(30);
    let limits = PinLimits {
        session_max: 10,
        user_max: 2,
        user_window: window,
    };
    let users = std::slice::from_ref(&holder.id);
    let reserve = |at| store.reserve_pin_try(&tenant, &session.id, users, limits, at);
    let first = clock::now() - window - chrono::Duration::seconds(1);
    assert!(matches!(
        reserve(first).await.unwrap(),
        PinTry::Reserved { .. }
    ));
    // The window is over: the next try starts a new one, at 1 ...
    let now = clock::now();
    assert!(matches!(
        reserve(now).await.unwrap(),
        PinTry::Reserved { .. }
    ));
    // ... and the first try's refund (its PIN proved right) is not taken
    // from it.
    store
        .refund_pin_try(&tenant, &session.id, users, first)
        .await
        .unwrap();
    assert!(matches!(
        reserve(now).await.unwrap(),
        PinTry::Reserved { .. }
    ));
    assert!(matches!(
        reserve(now).await.unwrap(),
        PinTry::UserLocked { .. }
    ));
}

#[tokio::test]
async fn probes_of_a_session_are_counted_up_to_the_limit() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = self::tenant(&store).await;
    let session = liveness_session(&tenant, "dev_probe");
    store.insert_liveness_session(&session).await.unwrap();
    assert!(!store.count_probe(&other, &session.id, 2).await.unwrap());
    assert!(store.count_probe(&tenant, &session.id, 2).await.unwrap());
    assert!(store.count_probe(&tenant, &session.id, 2).await.unwrap());
    assert!(!store.count_probe(&tenant, &session.id, 2).await.unwrap());
}

#[tokio::test]
async fn a_reference_frame_is_recorded_once_per_tenant() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = self::tenant(&store).await;
    let first = liveness_session(&tenant, "dev_a");
    let second = liveness_session(&tenant, "dev_b");
    let now = clock::now();
    let digest = [7u8; 32];
    assert!(
        store
            .record_reference_frame(&tenant, &first.id, &digest, now)
            .await
            .unwrap()
    );
    // The same session again (its upload sent twice) is no replay.
    assert!(
        store
            .record_reference_frame(&tenant, &first.id, &digest, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_reference_frame(&tenant, &second.id, &digest, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_reference_frame(&other, &second.id, &digest, now)
            .await
            .unwrap()
    );
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(store.prune_reference_frames(later).await.unwrap(), 2);
    assert!(
        store
            .record_reference_frame(&tenant, &second.id, &digest, later)
            .await
            .unwrap()
    );
}

fn added(change: &FaceChange) -> Option<&str> {
    match &change.kind {
        FaceChangeKind::Added(face) => Some(&face.provider_face_id),
        FaceChangeKind::Removed { .. } => None,
    }
}

fn removed(change: &FaceChange) -> Option<&str> {
    match &change.kind {
        FaceChangeKind::Removed { provider_face_id } => Some(provider_face_id),
        FaceChangeKind::Added(_) => None,
    }
}

#[tokio::test]
async fn every_face_write_is_numbered_in_the_tenant_face_log() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = tenant_with_one_user(&store).await;
    assert_eq!(store.face_log_head(&tenant).await.unwrap(), 0);

    let ada = user(&tenant, "ada");
    let first = face(&ada);
    store
        .insert_user(&ada, std::slice::from_ref(&first), None, &[])
        .await
        .unwrap();
    let second = face(&ada);
    store
        .replace_faces(&tenant, &ada.id, std::slice::from_ref(&second), &[])
        .await
        .unwrap()
        .unwrap();
    let bob = user(&tenant, "bob");
    let bobs = face(&bob);
    let record = consent(&tenant, None);
    store.insert_consent(&record).await.unwrap();
    store
        .insert_user(&bob, std::slice::from_ref(&bobs), Some(&record.id), &[])
        .await
        .unwrap();
    assert_eq!(store.face_log_head(&tenant).await.unwrap(), 4);

    let log = store.face_changes(&tenant, 0, 100).await.unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // The first face was replaced: its addition reads as a removal now.
    assert_eq!(removed(&log[0]), Some(first.provider_face_id.as_str()));
    assert_eq!(removed(&log[1]), Some(first.provider_face_id.as_str()));
    assert_eq!(added(&log[2]), Some(second.provider_face_id.as_str()));
    assert_eq!(added(&log[3]), Some(bobs.provider_face_id.as_str()));
    match &log[2].kind {
        FaceChangeKind::Added(face) => {
            assert_eq!(face, &second, "the stored row, template and all")
        }
        other => panic!("{other:?}"),
    }

    // Deleting a user and revoking a consent log their faces' removal.
    assert!(
        store
            .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
            .await
            .unwrap()
            .is_some()
    );
    store
        .revoke_consent(
            &tenant,
            &record.id,
            clock::now(),
            &|_| Vec::new(),
            &sealer(&tenant),
        )
        .await
        .unwrap()
        .unwrap();
    let tail = store.face_changes(&tenant, 4, 100).await.unwrap();
    assert_eq!(tail.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 6]);
    assert_eq!(removed(&tail[0]), Some(second.provider_face_id.as_str()));
    assert_eq!(removed(&tail[1]), Some(bobs.provider_face_id.as_str()));
    assert_eq!(
        store.face_changes(&tenant, 2, 2).await.unwrap().len(),
        2,
        "limit"
    );

    // Another tenant's log is its own.
    assert_eq!(store.face_log_head(&other).await.unwrap(), 1);
    assert_eq!(store.face_changes(&other, 0, 100).await.unwrap().len(), 1);

    // A write that fails logs nothing.
    let eve = user(&tenant, "eve");
    let revoked = consent(&tenant, None);
    store.insert_consent(&revoked).await.unwrap();
    store
        .revoke_consent(
            &tenant,
            &revoked.id,
            clock::now(),
            &|_| Vec::new(),
            &sealer(&tenant),
        )
        .await
        .unwrap();
    assert!(
        store
            .insert_user(&eve, &[face(&eve)], Some(&revoked.id), &[])
            .await
            .is_err()
    );
    assert_eq!(store.face_log_head(&tenant).await.unwrap(), 6);

    assert_eq!(
        store
            .prune_face_changes(clock::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        7
    );
    assert!(
        store
            .face_changes(&tenant, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.face_log_head(&tenant).await.unwrap(),
        6,
        "the head stays"
    );
}

#[tokio::test]
async fn concurrent_face_writes_get_consecutive_numbers() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let writes = (0..16).map(|i| {
        let store = store.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move {
            let u = user(&tenant, &format!("u{i}"));
            store
                .insert_user(&u, &[face(&u), face(&u)], None, &[])
                .await
        })
    });
    for write in futures_util::future::join_all(writes).await {
        write.unwrap().unwrap();
    }
    assert_eq!(store.face_log_head(&tenant).await.unwrap(), 32);
    let log = store.face_changes(&tenant, 0, 100).await.unwrap();
    assert_eq!(
        log.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=32).collect::<Vec<_>>()
    );
    assert!(log.iter().all(|c| added(c).is_some()));
}

#[tokio::test]
async fn racing_first_keys_leave_one_signing_key() {
    let store = test_store().await;
    let rotations = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = facegate_core::token::generate_signing_key(clock::now());
            store.rotate_signing_key(&key).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(rotations)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(results.iter().any(Result::is_ok));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))),
        "{results:?}"
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 1);
}

#[tokio::test]
async fn racing_first_keys_store_one_key_and_retire_none() {
    let store = test_store().await;
    let firsts = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = facegate_core::token::generate_signing_key(clock::now());
            store.insert_first_signing_key(&key).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(firsts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_))))
    );
    // One key, unretired: every instance signs with it.
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].retired_at, None);
    // After one exists, a late first key is refused, and retires nothing.
    let late = facegate_core::token::generate_signing_key(clock::now());
    assert!(matches!(
        store.insert_first_signing_key(&late).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.signing_keys().await.unwrap(), keys);
}

#[tokio::test]
async fn request_windows_count_per_bucket_and_window() {
    let store = test_store().await;
    let start = clock::now();
    let next = start + chrono::Duration::minutes(1);
    let counts = (0..5).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.count_request("demo:10.0.0.1", start).await })
    });
    let mut counts: Vec<u32> = futures_util::future::join_all(counts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4, 5], "each request counted once");
    assert_eq!(
        store.count_request("demo:10.0.0.2", start).await.unwrap(),
        1
    );
    assert_eq!(store.count_request("demo:10.0.0.1", next).await.unwrap(), 1);
    assert_eq!(store.prune_request_windows(next).await.unwrap(), 2);
    assert_eq!(store.count_request("demo:10.0.0.1", next).await.unwrap(), 2);
}

/// A consent revoked while an enrollment links it: either the enrollment
/// fails, or the revocation deletes the user it linked. Never a user left
/// enrolled on a revoked consent.
#[tokio::test]
async fn revoking_a_consent_while_it_is_linked_leaves_no_user_behind() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    for i in 0..40 {
        let record = consent(&tenant, None);
        store.insert_consent(&record).await.unwrap();
        let u = user(&tenant, &format!("racer{i}"));
        let enroll = {
            let (store, u, id) = (store.clone(), u.clone(), record.id.clone());
            tokio::spawn(async move { store.insert_user(&u, &[face(&u)], Some(&id), &[]).await })
        };
        let revoke = {
            let (store, tenant, id) = (store.clone(), tenant.clone(), record.id.clone());
            tokio::spawn(async move {
                store
                    .revoke_consent(
                        &tenant,
                        &id,
                        clock::now(),
                        &|_| Vec::new(),
                        &sealer(&tenant),
                    )
                    .await
            })
        };
        let _ = enroll.await.unwrap();
        revoke.await.unwrap().unwrap().unwrap();
        let revoked = store.consent(&tenant, &record.id).await.unwrap().unwrap();
        assert!(revoked.revoked_at.is_some());
        assert_eq!(
            store.user(&tenant, &u.id).await.unwrap(),
            None,
            "round {i}: a user enrolled on a revoked consent"
        );
        assert!(
            store
                .faces_of_user(&tenant, &u.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// A database from before the one-unretired-key rule, where two instances
/// both stored a first key: the newest keeps signing, the other retires at
/// the upgrade (not at some old time, so its tokens keep verifying).
#[tokio::test]
async fn the_upgrade_retires_all_but_the_newest_unretired_key() {
    use facegate_store_seaorm::entity::signing_key;
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    use sea_orm_migration::MigratorTrait;

    let store = test_store().await;
    let db = store.connection();
    // Back to before the rule, however many migrations came after it.
    let migrations = facegate_store_seaorm::migration::Migrator::migrations();
    let since_rule = migrations
        .iter()
        .rev()
        .position(|m| m.name() == "m20261203_000010_scale_out")
        .unwrap();
    facegate_store_seaorm::migration::Migrator::down(db, Some(since_rule as u32 + 1))
        .await
        .unwrap();
    let older =
        facegate_core::token::generate_signing_key(clock::now() - chrono::Duration::hours(2));
    let newer =
        facegate_core::token::generate_signing_key(clock::now() - chrono::Duration::hours(1));
    for key in [&older, &newer] {
        signing_key::Model {
            kid: key.kid.clone(),
            private_key: key.private_key.clone(),
            public_key: key.public_key.clone(),
            created_at: key.created_at,
            retired_at: None,
        }
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    }
    let upgraded_at = clock::now();
    facegate_store_seaorm::migration::Migrator::up(db, None)
        .await
        .unwrap();
    let keys = store.signing_keys().await.unwrap();
    let unretired: Vec<_> = keys.iter().filter(|k| k.retired_at.is_none()).collect();
    assert_eq!(unretired.len(), 1);
    assert_eq!(unretired[0].kid, newer.kid);
    let retired = keys.iter().find(|k| k.kid == older.kid).unwrap();
    assert!(retired.retired_at.unwrap() >= upgraded_at - chrono::Duration::seconds(1));
    // And from now on the database itself admits one.
    let extra = signing_key::Model {
        kid: "key-extra".into(),
        private_key: older.private_key.clone(),
        public_key: older.public_key.clone(),
        created_at: clock::now(),
        retired_at: None,
    };
    assert!(extra.into_active_model().insert(db).await.is_err());
}

/// A face the engine keeps itself (Rekognition's: no template).
fn engine_held_face(user: &User, provider_face_id: &str) -> FaceEnrollment {
    FaceEnrollment {
        provider: "rekognition".into(),
        provider_face_id: provider_face_id.into(),
        template: None,
        ..face(user)
    }
}

fn queued_ids(queued: &[EngineFaceDeletion]) -> Vec<&str> {
    let mut ids: Vec<&str> = queued.iter().map(|d| d.provider_face_id.as_str()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn removed_engine_faces_are_queued_until_the_engine_deleted_them() {
    let store = test_store().await;
    let (t1, t2) = (tenant(&store).await, tenant(&store).await);
    let ada = user(&t1, "ada");
    store
        .insert_user(
            &ada,
            &[engine_held_face(&ada, "aws-1"), face(&ada)],
            None,
            &[],
        )
        .await
        .unwrap();
    let bob = user(&t2, "bob");
    let record = consent(&t2, Some(&bob));
    store
        .insert_user(&bob, &[engine_held_face(&bob, "aws-2")], None, &[])
        .await
        .unwrap();
    store.insert_consent(&record).await.unwrap();
    let queued = |tenant: Option<TenantId>| {
        let store = &store;
        async move {
            store
                .engine_face_deletions(tenant.as_ref(), "rekognition", 100)
                .await
                .unwrap()
        }
    };
    assert!(queued(None).await.is_empty(), "nothing removed yet");

    // Re-enrolling swaps the face: the old one is queued, in the same
    // transaction; a face with a template (the local engine's) is not.
    store
        .replace_faces(&t1, &ada.id, &[engine_held_face(&ada, "aws-3")], &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued_ids(&queued(Some(t1.clone())).await), ["aws-1"]);
    // Deleting the user, and revoking a consent, queue theirs.
    assert!(
        store
            .delete_user(&t1, &ada.id, &[], &sealer(&t1))
            .await
            .unwrap()
            .is_some()
    );
    store
        .revoke_consent(&t2, &record.id, clock::now(), &|_| Vec::new(), &sealer(&t2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        queued_ids(&queued(Some(t1.clone())).await),
        ["aws-1", "aws-3"]
    );
    assert_eq!(queued_ids(&queued(None).await), ["aws-1", "aws-2", "aws-3"]);
    assert!(
        store
            .engine_face_deletions(None, "local", 100)
            .await
            .unwrap()
            .is_empty(),
        "per provider"
    );
    let first = store
        .engine_face_deletions(None, "rekognition", 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "the limit holds");

    // Done: forgotten, and only those.
    let t1_queue = queued(Some(t1.clone())).await;
    store.finish_engine_face_deletions(&t1_queue).await.unwrap();
    assert_eq!(queued_ids(&queued(None).await), ["aws-2"]);
    assert_eq!(queued(None).await[0].tenant_id, t2);
    store.finish_engine_face_deletions(&t1_queue).await.unwrap();
}

mod policies_and_risk {
    use super::*;
    use facegate_core::domain::{SignIn, StepUp};
    use facegate_core::ids::StepUpId;
    use facegate_core::policy::{
        ContinuousPolicy, Policy, PolicyType, RiskMode, RiskRules, RotationPolicy,
    };

    fn risk(block: f64) -> Policy {
        Policy::Risk(RiskRules {
            block_threshold: block,
            step_up_threshold: 0.5,
            max_failed_attempts: 5,
            lockout_duration_minutes: 30,
            mode: RiskMode::Shadow,
        })
    }

    #[tokio::test]
    async fn policies_are_upserted_per_type_and_every_change_logged() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let other = super::tenant(&store).await;
        let key = ApiKeyId::generate();
        let now = clock::now();
        assert_eq!(
            store
                .put_policy(&tenant, &risk(0.9), &key, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .put_policy(&tenant, &risk(0.8), &key, now)
                .await
                .unwrap(),
            Some(risk(0.9))
        );
        let rotation = Policy::Rotation(RotationPolicy {
            rotation_days: 90,
            grace_period_days: 7,
            notify_before_days: 14,
        });
        store
            .put_policy(&tenant, &rotation, &key, now)
            .await
            .unwrap();
        let mut stored: Vec<_> = store
            .policies(&tenant)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.policy)
            .collect();
        stored.sort_by_key(|p| p.policy_type().as_str());
        assert_eq!(stored, vec![risk(0.8), rotation]);
        assert!(store.policies(&other).await.unwrap().is_empty());

        assert_eq!(
            store
                .delete_policy(&tenant, PolicyType::Risk, &key, now)
                .await
                .unwrap(),
            Some(risk(0.8))
        );
        assert_eq!(
            store
                .delete_policy(&tenant, PolicyType::Continuous, &key, now)
                .await
                .unwrap(),
            None
        );
        let changes = store.policy_changes(&tenant, 10).await.unwrap();
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.policy_type, c.before, c.after))
            .collect();
        assert_eq!(
            summary,
            vec![
                (PolicyType::Risk, Some(risk(0.8)), None),
                (PolicyType::Rotation, None, Some(rotation)),
                (PolicyType::Risk, Some(risk(0.9)), Some(risk(0.8))),
                (PolicyType::Risk, None, Some(risk(0.9))),
            ]
        );
        assert!(changes.iter().all(|c| c.changed_by == key));
        assert!(store.policy_changes(&other, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn racing_first_writes_of_a_policy_create_it_once() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let writes = (0..8).map(|i| {
            let store = store.clone();
            let tenant = tenant.clone();
            tokio::spawn(async move {
                let policy = Policy::Continuous(ContinuousPolicy {
                    re_verify_interval_minutes: 10 + i,
                    confidence_decay_rate: 0.1,
                    min_confidence: 80.0,
                });
                store
                    .put_policy(&tenant, &policy, &ApiKeyId::generate(), clock::now())
                    .await
            })
        });
        let results: Vec<_> = futures_util::future::join_all(writes)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        assert_eq!(results.iter().filter(|before| before.is_none()).count(), 1);
        let changes = store.policy_changes(&tenant, 20).await.unwrap();
        assert_eq!(changes.len(), 8);
        // Each write logged the policy it really replaced: a chain.
        let created = changes.iter().filter(|c| c.before.is_none()).count();
        assert_eq!(created, 1);
    }

    #[tokio::test]
    async fn sign_ins_come_newest_first_and_go_with_their_user() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let ada = user(&tenant, "ada");
        store.insert_user(&ada, &[], None, &[]).await.unwrap();
        let now = clock::now();
        for (i, device) in ["dev-a", "dev-b", "dev-c"].into_iter().enumerate() {
            store
                .record_sign_in(&SignIn {
                    tenant_id: tenant.clone(),
                    user_id: ada.id.clone(),
                    device_id: device.into(),
                    network: Some("10.0.0.0/24".into()),
                    user_agent: Some("Firefox".into()),
                    at: now - chrono::Duration::days(2 - i as i64),
                })
                .await
                .unwrap();
        }
        let recent = store
            .sign_ins(&tenant, &ada.id, now - chrono::Duration::hours(36), 10)
            .await
            .unwrap();
        let devices: Vec<_> = recent.iter().map(|s| s.device_id.as_str()).collect();
        assert_eq!(devices, ["dev-c", "dev-b"]);
        assert_eq!(
            store
                .prune_sign_ins(now - chrono::Duration::hours(36))
                .await
                .unwrap(),
            1
        );
        store
            .delete_user(&tenant, &ada.id, &[], &sealer(&tenant))
            .await
            .unwrap();
        assert!(
            store
                .sign_ins(&tenant, &ada.id, now - chrono::Duration::days(9), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_step_up_completes_once_and_only_in_time() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let now = clock::now();
        let step_up = |expires_in: i64| StepUp {
            id: StepUpId::generate(),
            tenant_id: tenant.clone(),
            user_id: UserId::generate(),
            device_id: "dev-1".into(),
            device_fingerprint: Some("ab".repeat(32)),
            confidence: 97.5,
            risk_score: 0.65,
            created_at: now,
            expires_at: now + chrono::Duration::seconds(expires_in),
            completed_at: None,
        };
        let live = step_up(300);
        let stale = step_up(-1);
        store.insert_step_up(&live).await.unwrap();
        store.insert_step_up(&stale).await.unwrap();
        assert_eq!(
            store.step_up(&tenant, &live.id).await.unwrap(),
            Some(live.clone())
        );
        let other = super::tenant(&store).await;
        assert_eq!(store.step_up(&other, &live.id).await.unwrap(), None);
        assert!(!store.complete_step_up(&other, &live.id, now).await.unwrap());
        let racers = (0..4).map(|_| {
            let store = store.clone();
            let tenant = tenant.clone();
            let id = live.id.clone();
            tokio::spawn(async move { store.complete_step_up(&tenant, &id, now).await })
        });
        let won = futures_util::future::join_all(racers)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap().as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
        assert!(
            !store
                .complete_step_up(&tenant, &stale.id, now)
                .await
                .unwrap()
        );
        assert_eq!(store.prune_step_ups(now).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn re_verifying_a_session_spends_its_refresh_tokens() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let ada = user(&tenant, "ada");
        store.insert_user(&ada, &[], None, &[]).await.unwrap();
        let now = clock::now();
        let session = Session {
            id: SessionId::generate(),
            tenant_id: tenant.clone(),
            user_id: ada.id.clone(),
            device_id: "dev-1".into(),
            device_fingerprint: None,
            confidence: 95.0,
            risk_score: 0.1,
            created_at: now,
            last_verified_at: now,
            expires_at: now + chrono::Duration::hours(1),
            revoked_at: None,
        };
        let token = |hash: &str| RefreshTokenRecord {
            hash: hash.into(),
            tenant_id: tenant.clone(),
            session_id: session.id.clone(),
            created_at: now,
            spent_at: None,
        };
        store
            .insert_session(&session, &token("old"), &[])
            .await
            .unwrap();
        let later = now + chrono::Duration::minutes(20);
        // A token of another session proves nothing.
        let other = SessionId::generate();
        assert_eq!(
            store
                .reverify_session(&tenant, &other, "old", 99.0, later, &token("x"))
                .await
                .unwrap(),
            RefreshRotation::Unknown
        );
        let RefreshRotation::Rotated(renewed) = store
            .reverify_session(&tenant, &session.id, "old", 99.0, later, &token("new"))
            .await
            .unwrap()
        else {
            panic!("expected a renewal");
        };
        assert_eq!(
            (renewed.confidence, renewed.last_verified_at),
            (99.0, later)
        );
        // The spent token again: a reuse, and the session ends.
        assert_eq!(
            store
                .reverify_session(&tenant, &session.id, "old", 99.0, later, &token("newer"))
                .await
                .unwrap(),
            RefreshRotation::Reused(session.id.clone())
        );
        assert!(matches!(
            store
                .rotate_refresh_token(&tenant, "new", "next", later)
                .await
                .unwrap(),
            RefreshRotation::Rotated(ref s) if s.revoked_at.is_some()
        ));
        assert_eq!(
            store
                .reverify_session(&tenant, &session.id, "next", 99.0, later, &token("last"))
                .await
                .unwrap(),
            RefreshRotation::Unknown
        );
    }
}

/// Issue 15: handoffs change status once, and every instance hears of it.
mod handoffs {
    use super::*;
    use facegate_core::domain::{
        Handoff, HandoffDesktop, HandoffMode, HandoffOutcome, HandoffStatus,
    };
    use facegate_core::ids::HandoffId;
    use facegate_store_seaorm::SeaOrmStore;
    use std::time::Duration;

    fn handoff(tenant: &TenantId) -> Handoff {
        let now = clock::now();
        Handoff {
            id: HandoffId::generate(),
            tenant_id: tenant.clone(),
            token_hash: uuid::Uuid::new_v4().simple().to_string(),
            secret_hash: "s".into(),
            mode: HandoffMode::Verify,
            status: HandoffStatus::Pending,
            match_code: "ABC234".into(),
            desktop: HandoffDesktop {
                device_id: "desk".into(),
                device_fingerprint: None,
                user_agent: Some("Firefox".into()),
                network: Some("10.0.0.0/24".into()),
                origin: None,
            },
            enroll_profile: None,
            phone_device_id: None,
            attempts: 0,
            claimed_until: None,
            outcome: None,
            created_at: now,
            expires_at: now + chrono::Duration::minutes(10),
            completed_at: None,
            collected_at: None,
        }
    }

    fn outcome(user: &str) -> HandoffOutcome {
        HandoffOutcome {
            user_id: Some(UserId::from_string(user)),
            confidence: 99.0,
            risk_score: 0.1,
            answer: json!({ "matched": true }),
        }
    }

    /// Two stores on one database (two instances), or one SQLite store.
    async fn two_instances() -> (SeaOrmStore, SeaOrmStore) {
        match std::env::var(facegate_store_seaorm::testing::DATABASE_URL_VAR) {
            Ok(server) if !server.is_empty() => {
                let url = facegate_store_seaorm::testing::fresh_postgres_url(&server).await;
                (
                    SeaOrmStore::connect(&url).await.unwrap(),
                    SeaOrmStore::connect(&url).await.unwrap(),
                )
            }
            _ => {
                let store = test_store().await;
                (store.clone(), store)
            }
        }
    }

    #[tokio::test]
    async fn a_handoff_is_taken_completed_and_collected_once() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let h = handoff(&tenant);
        store.insert_handoff(&h).await.unwrap();
        let found = store
            .handoff_by_token(&h.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, h);
        let now = clock::now();
        let other = TenantId::generate();
        assert!(store.handoff(&other, &h.id).await.unwrap().is_none());
        assert!(
            !store
                .scan_handoff(&other, &h.id, "phone", now)
                .await
                .unwrap()
        );
        assert!(
            store
                .scan_handoff(&tenant, &h.id, "phone", now)
                .await
                .unwrap()
        );
        assert!(
            store
                .scan_handoff(&tenant, &h.id, "phone", now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .scan_handoff(&tenant, &h.id, "other-phone", now)
                .await
                .unwrap()
        );
        for _ in 0..3 {
            assert!(
                store
                    .count_handoff_attempt(&tenant, &h.id, 3, now)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !store
                .count_handoff_attempt(&tenant, &h.id, 3, now)
                .await
                .unwrap()
        );
        // One completion runs at a time (a lease); the scanning phone only.
        let until = now + chrono::Duration::seconds(60);
        assert!(
            !store
                .claim_handoff(&tenant, &h.id, "other-phone", until, now)
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_handoff(&tenant, &h.id, "phone", until, now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .claim_handoff(&tenant, &h.id, "phone", until, now)
                .await
                .unwrap()
        );
        // A claim past its lease (a crashed instance) is free again.
        assert!(
            store
                .claim_handoff(&tenant, &h.id, "phone", until, until)
                .await
                .unwrap()
        );
        store.release_handoff(&tenant, &h.id).await.unwrap();
        assert!(
            store
                .claim_handoff(&tenant, &h.id, "phone", until, now)
                .await
                .unwrap()
        );
        store.release_handoff(&tenant, &h.id).await.unwrap();
        // Its ceremonies, and no other handoff's.
        store.add_handoff_ceremony(&h, "live-1").await.unwrap();
        assert!(
            store
                .handoff_has_ceremony(&tenant, &h.id, "live-1")
                .await
                .unwrap()
        );
        assert!(
            !store
                .handoff_has_ceremony(&tenant, &h.id, "live-2")
                .await
                .unwrap()
        );
        assert!(
            !store
                .handoff_has_ceremony(&other, &h.id, "live-1")
                .await
                .unwrap()
        );
        // Eight racing phones: one completes.
        let mut racers = Vec::new();
        for i in 0..8 {
            let (store, tenant, id) = (store.clone(), tenant.clone(), h.id.clone());
            racers.push(tokio::spawn(async move {
                store
                    .complete_handoff(&tenant, &id, &outcome(&format!("user_{i}")), clock::now())
                    .await
                    .unwrap()
            }));
        }
        let mut won = 0;
        for racer in racers {
            won += usize::from(racer.await.unwrap());
        }
        assert_eq!(won, 1);
        assert!(!store.decline_handoff(&tenant, &h.id, now).await.unwrap());
        let done = store.handoff(&tenant, &h.id).await.unwrap().unwrap();
        assert_eq!(done.status, HandoffStatus::Completed);
        assert!(done.outcome.is_some());
        assert!(store.collect_handoff(&tenant, &h.id, now).await.unwrap());
        assert!(!store.collect_handoff(&tenant, &h.id, now).await.unwrap());

        // Too late: nothing moves; pruned an hour on.
        let mut late = handoff(&tenant);
        late.expires_at = now - chrono::Duration::seconds(1);
        store.insert_handoff(&late).await.unwrap();
        assert!(
            !store
                .scan_handoff(&tenant, &late.id, "phone", now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .complete_handoff(&tenant, &late.id, &outcome("u"), now)
                .await
                .unwrap()
        );
        assert_eq!(store.prune_handoffs(now).await.unwrap(), 1);
        assert!(store.handoff(&tenant, &late.id).await.unwrap().is_none());
        assert!(store.handoff(&tenant, &h.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_change_on_one_instance_reaches_the_others_watchers() {
        let (a, b) = two_instances().await;
        let tenant = tenant(&a).await;
        let h = handoff(&tenant);
        a.insert_handoff(&h).await.unwrap();
        let mut heard = b.handoff_changes();
        // The listener's LISTEN runs on its own task: let it start.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            a.scan_handoff(&tenant, &h.id, "phone", clock::now())
                .await
                .unwrap()
        );
        let id = tokio::time::timeout(Duration::from_secs(5), heard.recv())
            .await
            .expect("the change is heard within 5 s")
            .unwrap();
        assert_eq!(id, h.id);
        assert!(
            a.decline_handoff(&tenant, &h.id, clock::now())
                .await
                .unwrap()
        );
        let id = tokio::time::timeout(Duration::from_secs(5), heard.recv())
            .await
            .expect("the change is heard within 5 s")
            .unwrap();
        assert_eq!(id, h.id);
        let seen = b.handoff(&tenant, &h.id).await.unwrap().unwrap();
        assert_eq!(seen.status, HandoffStatus::Declined);
    }
}

fn endpoint(tenant: &TenantId, events: Vec<EventKind>) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::generate(),
        tenant_id: tenant.clone(),
        url: "https://hooks.example.com/facegate".into(),
        events,
        secret: b"whsec_test".to_vec(),
        description: None,
        created_at: clock::now(),
    }
}

#[tokio::test]
async fn events_fan_out_to_the_endpoints_that_want_them_once() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = self::tenant(&store).await;
    let all = endpoint(&tenant, Vec::new());
    let deletions = endpoint(&tenant, vec![EventKind::UserDeleted]);
    let elsewhere = endpoint(&other, Vec::new());
    for e in [&all, &deletions, &elsewhere] {
        assert!(store.insert_webhook(e, 2).await.unwrap());
    }
    // The tenant's third is over the limit of two, counted by the store.
    assert!(
        !store
            .insert_webhook(&endpoint(&tenant, Vec::new()), 2)
            .await
            .unwrap()
    );

    let now = clock::now();
    let enrolled = Event::new(&tenant, EventKind::UserEnrolled, json!({ "n": 1 }), now);
    let deleted = Event::new(&tenant, EventKind::UserDeleted, json!({ "n": 2 }), now);
    let due = Event::new(&tenant, EventKind::UserRotationDue, json!({}), now).dedupe("r:1");
    let again = Event::new(&tenant, EventKind::UserRotationDue, json!({}), now).dedupe("r:1");
    store
        .record_events(&[enrolled.clone(), deleted.clone(), due.clone()])
        .await
        .unwrap();
    store.record_events(&[again]).await.unwrap();
    let events = store.events(&tenant, 10).await.unwrap();
    assert_eq!(events.len(), 3, "the repeated dedupe key is written once");
    assert!(events.contains(&enrolled));

    let log = |id| {
        let store = &store;
        let tenant = &tenant;
        async move {
            store
                .webhook_deliveries(tenant, id, None, 10)
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(log(&all.id).await.len(), 3);
    let only = log(&deletions.id).await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].event_kind, EventKind::UserDeleted);
    let elsewhere_log = store
        .webhook_deliveries(&other, &elsewhere.id, None, 10)
        .await
        .unwrap();
    assert_eq!(
        elsewhere_log,
        Some(Vec::new()),
        "another tenant's events stay theirs"
    );
    assert!(
        store
            .webhook_deliveries(&other, &all.id, None, 10)
            .await
            .unwrap()
            .is_none(),
        "another tenant's endpoint is not found"
    );

    // Two workers claiming at once never claim one delivery twice, and
    // each endpoint has one delivery in flight: its oldest.
    let lease = now + chrono::Duration::seconds(60);
    let (a, b) = tokio::join!(
        store.claim_deliveries(now, lease, 3),
        store.claim_deliveries(now, lease, 3)
    );
    let claimed: Vec<DueDelivery> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    let mut endpoints: Vec<_> = claimed
        .iter()
        .map(|d| d.delivery.endpoint_id.clone())
        .collect();
    endpoints.sort();
    let mut expected = vec![all.id.clone(), deletions.id.clone()];
    expected.sort();
    assert_eq!(endpoints, expected);
    assert!(
        store
            .claim_deliveries(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let first = claimed
        .iter()
        .find(|d| d.delivery.endpoint_id == all.id)
        .unwrap();
    assert_eq!(first.url, "https://hooks.example.com/facegate");
    assert_eq!(first.event.id, first.delivery.event_id);
    assert_eq!(first.event.id, enrolled.id, "the endpoint's oldest first");

    // A failed attempt waits for its time, and lets the endpoint's next
    // delivery go; a late worker (another lease) records nothing.
    let retry_at = now + chrono::Duration::seconds(30);
    let failed = AttemptOutcome {
        at: now,
        status_code: Some(500),
        error: Some("answered 500".into()),
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(retry_at),
    };
    let mut stale = first.clone();
    stale.lease_until = now;
    store.finish_delivery(&stale, &failed).await.unwrap();
    assert!(
        store
            .claim_deliveries(now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.finish_delivery(first, &failed).await.unwrap();
    let next = store.claim_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.id, deleted.id);
    let later = retry_at + chrono::Duration::seconds(120);
    let done = AttemptOutcome {
        at: now,
        status_code: Some(204),
        error: None,
        status: DeliveryStatus::Succeeded,
        next_attempt_at: None,
    };
    store.finish_delivery(&next[0], &done).await.unwrap();
    let retried = store
        .claim_deliveries(later, later + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    let retried: Vec<_> = retried
        .iter()
        .filter(|d| d.delivery.endpoint_id == all.id)
        .collect();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].event.id, enrolled.id);
    assert_eq!(retried[0].delivery.attempts, 1);
    assert_eq!(retried[0].delivery.last_status_code, Some(500));

    // Deleting an endpoint takes its deliveries; pruning takes old events.
    assert!(store.delete_webhook(&tenant, &deletions.id).await.unwrap());
    assert!(!store.delete_webhook(&other, &all.id).await.unwrap());
    let pruned = store
        .prune_events(now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    assert!(log(&all.id).await.is_empty());
    assert!(store.events(&tenant, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn changes_write_their_events_only_when_they_happen() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let u = user(&tenant, "ada");
    let report = |kind| Event::new(&tenant, kind, json!({}), clock::now());
    store
        .insert_user(&u, &[face(&u)], None, &[report(EventKind::UserEnrolled)])
        .await
        .unwrap();
    let deleted = [report(EventKind::UserDeleted)];
    assert!(
        store
            .delete_user(&tenant, &u.id, &deleted, &sealer(&tenant))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .delete_user(&tenant, &u.id, &deleted, &sealer(&tenant))
            .await
            .unwrap()
            .is_none()
    );
    // A failed insert (a taken external id) writes nothing either.
    let first = user(&tenant, "bob");
    store.insert_user(&first, &[], None, &[]).await.unwrap();
    let mut twin = user(&tenant, "bob");
    twin.id = UserId::generate();
    assert!(
        store
            .insert_user(&twin, &[], None, &[report(EventKind::UserEnrolled)])
            .await
            .is_err()
    );
    let kinds: Vec<EventKind> = store
        .events(&tenant, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&EventKind::UserEnrolled));
    assert!(kinds.contains(&EventKind::UserDeleted));
}

#[tokio::test]
async fn signals_are_stored_once_counted_per_device_and_pruned() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let other = self::tenant(&store).await;
    let now = clock::now();
    let signal = |tenant: &TenantId, id: &str, kind: &str, minutes_ago: i64| Signal {
        tenant_id: tenant.clone(),
        signal_id: id.into(),
        device_fingerprint: "ab".repeat(32),
        source: "sdk-js".into(),
        kind: kind.into(),
        occurred_at: now - chrono::Duration::minutes(minutes_ago),
        data: json!({}),
        received_at: now,
    };
    let batch = [
        signal(&tenant, "s-1", "retry", 1),
        signal(&tenant, "s-2", "retry", 90),
        signal(&tenant, "s-3", "attempt", 1),
        signal(&tenant, "s-1", "retry", 1),
    ];
    assert_eq!(store.insert_signals(&batch).await.unwrap(), 3);
    assert_eq!(store.insert_signals(&batch[..2]).await.unwrap(), 0);
    // The same id in another tenant is another signal.
    assert_eq!(
        store
            .insert_signals(&[signal(&other, "s-1", "retry", 1)])
            .await
            .unwrap(),
        1
    );
    let hour_ago = now - chrono::Duration::hours(1);
    let fingerprint = "ab".repeat(32);
    assert_eq!(
        store
            .count_signals(&tenant, &fingerprint, "retry", hour_ago)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_signals(&tenant, &"cd".repeat(32), "retry", hour_ago)
            .await
            .unwrap(),
        0
    );
    let pruned = store
        .prune_signals(now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 4);
    assert_eq!(
        store
            .count_signals(&tenant, &fingerprint, "attempt", hour_ago)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_synced_record_is_stored_once_with_its_events() {
    let store = test_store().await;
    let tenant = tenant(&store).await;
    let now = clock::now();
    let record = SyncRecord {
        tenant_id: tenant.clone(),
        user_id: "user_1".into(),
        verified_at: now - chrono::Duration::minutes(5),
        frame_hash: "ab".repeat(32),
        client_confidence: 97.5,
        server_matched: false,
        server_confidence: 12.0,
        flagged: true,
        reason: None,
        synced_at: now,
    };
    let flagged = [Event::new(&tenant, EventKind::SyncFlagged, json!({}), now)];
    assert!(store.insert_sync_record(&record, &flagged).await.unwrap());
    assert!(!store.insert_sync_record(&record, &flagged).await.unwrap());
    let stored = store
        .sync_record(&tenant, "user_1", record.verified_at, &record.frame_hash)
        .await
        .unwrap();
    assert_eq!(stored, Some(record.clone()));
    assert_eq!(
        store.events(&tenant, 10).await.unwrap().len(),
        1,
        "one event, with the first"
    );
    let other = self::tenant(&store).await;
    assert!(
        store
            .sync_record(&other, "user_1", record.verified_at, &record.frame_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .prune_sync_records(now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}

mod threats {
    use super::*;
    use facegate_core::ids::ThreatPatternId;
    use facegate_core::threat::{
        FrameSighting, ThreatAction, ThreatKind, ThreatObservation, ThreatPattern,
    };

    fn fresh(tenant: &TenantId, indicator: &str, action: ThreatAction) -> ThreatPattern {
        let now = clock::now();
        ThreatPattern {
            id: ThreatPatternId::generate(),
            tenant_id: tenant.clone(),
            kind: ThreatKind::Enumeration,
            indicator: indicator.into(),
            first_seen: now,
            last_seen: now,
            occurrences: 0,
            action,
        }
    }

    const DAY: chrono::Duration = chrono::Duration::hours(24);

    #[tokio::test]
    async fn sightings_count_once_per_subject_within_a_window() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let now = clock::now();
        let seen = |subject: &str, minutes_ago: i64| ThreatObservation {
            tenant_id: tenant.clone(),
            kind: ThreatKind::Enumeration,
            indicator: "dev:1".into(),
            subject: subject.into(),
            seen_at: now - chrono::Duration::minutes(minutes_ago),
        };
        assert!(store.record_threat(&seen("a", 90)).await.unwrap());
        assert!(store.record_threat(&seen("b", 5)).await.unwrap());
        assert!(
            !store.record_threat(&seen("b", 1)).await.unwrap(),
            "once per subject"
        );
        assert!(store.record_threat(&seen("c", 1)).await.unwrap());
        let hour_ago = now - chrono::Duration::hours(1);
        let count = |kind, indicator: &'static str, tenant: TenantId| {
            let store = store.clone();
            async move {
                store
                    .count_threats(&tenant, kind, indicator, hour_ago)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            count(ThreatKind::Enumeration, "dev:1", tenant.clone()).await,
            2
        );
        assert_eq!(
            count(ThreatKind::PadBurst, "dev:1", tenant.clone()).await,
            0
        );
        assert_eq!(
            count(ThreatKind::Enumeration, "dev:2", tenant.clone()).await,
            0
        );
        let other = self::tenant(&store).await;
        assert_eq!(count(ThreatKind::Enumeration, "dev:1", other).await, 0);
    }

    #[tokio::test]
    async fn patterns_are_learned_raised_and_found_by_indicator() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        use ThreatAction::*;
        // Below the rule, nothing: no row either.
        let nothing = store
            .learn_threat(fresh(&tenant, "dev:1", Monitor), 1, None, DAY)
            .await
            .unwrap();
        assert_eq!(nothing, None);
        assert!(store.threat_patterns(&tenant, 10).await.unwrap().is_empty());
        let (first, before) = store
            .learn_threat(fresh(&tenant, "dev:1", Monitor), 5, Some(Monitor), DAY)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (before, first.action, first.occurrences),
            (None, Monitor, 5)
        );
        let (raised, before) = store
            .learn_threat(fresh(&tenant, "dev:1", StepUp), 10, Some(StepUp), DAY)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(before, Some(Monitor));
        assert_eq!(
            (raised.id.clone(), raised.action, raised.occurrences),
            (first.id.clone(), StepUp, 6)
        );
        // A sighting below the rule keeps what is in force.
        let (kept, _) = store
            .learn_threat(fresh(&tenant, "dev:1", Monitor), 1, None, DAY)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((kept.action, kept.occurrences), (StepUp, 7));
        assert_eq!(
            store.threat_patterns(&tenant, 10).await.unwrap(),
            vec![kept.clone()]
        );

        let other = self::tenant(&store).await;
        store
            .learn_threat(fresh(&other, "net:9", Block), 3, Some(Block), DAY)
            .await
            .unwrap();
        let indicators = ["dev:1".to_owned(), "net:9".to_owned(), "frm:0".to_owned()];
        let day_ago = clock::now() - DAY;
        let own = store
            .threat_patterns_on(Some(&tenant), &indicators, day_ago)
            .await
            .unwrap();
        assert_eq!(own, vec![kept]);
        let shared = store
            .threat_patterns_on(None, &indicators, day_ago)
            .await
            .unwrap();
        assert_eq!(shared.len(), 2);
        let later = clock::now() + chrono::Duration::seconds(1);
        assert!(
            store
                .threat_patterns_on(None, &indicators, later)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .threat_patterns_on(None, &[], day_ago)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn racing_instances_learn_one_pattern() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let learners = (0..8).map(|_| {
            let store = store.clone();
            let fresh = fresh(&tenant, "dev:race", ThreatAction::Monitor);
            tokio::spawn(async move {
                store
                    .learn_threat(fresh, 3, Some(ThreatAction::Monitor), DAY)
                    .await
            })
        });
        let learned: Vec<_> = futures_util::future::join_all(learners)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap().unwrap())
            .collect();
        // Exactly one learned it new; the others counted one more each.
        assert_eq!(
            learned
                .iter()
                .filter(|(_, before)| before.is_none())
                .count(),
            1
        );
        let patterns = store.threat_patterns(&tenant, 10).await.unwrap();
        assert_eq!(patterns.len(), 1);
        assert_eq!(patterns[0].occurrences, 3 + 7);
    }

    #[tokio::test]
    async fn frames_are_kept_per_face_and_go_with_their_user() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let ada = super::user(&tenant, "ada");
        store
            .insert_user(&ada, &[face(&ada)], None, &[])
            .await
            .unwrap();
        let user = ada.id.clone();
        let now = clock::now();
        let sighting = |session: &str, user: Option<&UserId>, hash: u64| FrameSighting {
            tenant_id: tenant.clone(),
            liveness_session_id: LivenessSessionId::from_string(session),
            device_id: format!("device-of-{session}"),
            user_id: user.cloned(),
            perceptual: hash,
            cluster: hash,
            seen_at: now,
        };
        store
            .record_frame_sighting(&sighting("s-1", Some(&user), u64::MAX))
            .await
            .unwrap();
        store
            .record_frame_sighting(&sighting("s-2", None, 7))
            .await
            .unwrap();
        let hour_ago = now - chrono::Duration::hours(1);
        let theirs = store
            .frame_sightings(&tenant, Some(&user), hour_ago, 10)
            .await
            .unwrap();
        assert_eq!(
            theirs,
            vec![sighting("s-1", Some(&user), u64::MAX)],
            "all 64 bits kept"
        );
        let nobody = store
            .frame_sightings(&tenant, None, hour_ago, 10)
            .await
            .unwrap();
        assert_eq!(nobody.len(), 1);
        assert_eq!(
            store
                .frame_sighting(&tenant, &LivenessSessionId::from_string("s-2"))
                .await
                .unwrap()
                .map(|s| s.perceptual),
            Some(7)
        );
        // Deleting the user deletes their frames.
        store
            .delete_user(&tenant, &user, &[], &sealer(&tenant))
            .await
            .unwrap();
        assert!(
            store
                .frame_sightings(&tenant, Some(&user), hour_ago, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .frame_sightings(&tenant, None, hour_ago, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn old_sightings_and_expired_patterns_are_pruned() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let now = clock::now();
        store
            .record_threat(&ThreatObservation {
                tenant_id: tenant.clone(),
                kind: ThreatKind::PinGuessing,
                indicator: "dev:1".into(),
                subject: "s".into(),
                seen_at: now - chrono::Duration::hours(2),
            })
            .await
            .unwrap();
        store
            .learn_threat(
                fresh(&tenant, "dev:1", ThreatAction::Monitor),
                3,
                Some(ThreatAction::Monitor),
                DAY,
            )
            .await
            .unwrap();
        let hour_ago = now - chrono::Duration::hours(1);
        let other_kind = [(ThreatKind::Enumeration, hour_ago)];
        assert_eq!(
            store
                .prune_threats(&other_kind, hour_ago, hour_ago)
                .await
                .unwrap(),
            0,
            "by kind"
        );
        let its_kind = [(ThreatKind::PinGuessing, hour_ago)];
        assert_eq!(
            store
                .prune_threats(&its_kind, hour_ago, hour_ago)
                .await
                .unwrap(),
            1,
            "the sighting"
        );
        let later = now + chrono::Duration::seconds(1);
        assert_eq!(
            store.prune_threats(&[], hour_ago, later).await.unwrap(),
            1,
            "the pattern"
        );
        assert!(store.threat_patterns(&tenant, 10).await.unwrap().is_empty());
    }
}

mod usage {
    use super::*;
    use facegate_core::usage::{Activity, Month, TenantBilling, UsageMetric, UsageTally};

    fn tally(metric: UsageMetric, dimension: &str, success: bool) -> UsageTally {
        UsageTally {
            metric,
            dimension: dimension.into(),
            count: 1,
            success,
            latency_ms: 100,
            confidence: success.then_some(95.0),
        }
    }

    #[tokio::test]
    async fn tallies_add_up_per_day_metric_and_dimension() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let other = super::tenant(&store).await;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let next = day.succ_opt().unwrap();
        // Concurrent writers of the same rows: increments, none lost.
        let writers = (0..8).map(|i| {
            let store = store.clone();
            let tenant = tenant.clone();
            tokio::spawn(async move {
                store
                    .add_usage(
                        &tenant,
                        day,
                        &[
                            tally(UsageMetric::Verify, "", i % 2 == 0),
                            tally(UsageMetric::DeviceType, "mobile", i % 2 == 0),
                        ],
                    )
                    .await
            })
        });
        for result in futures_util::future::join_all(writers).await {
            result.unwrap().unwrap();
        }
        store
            .add_usage(&tenant, next, &[tally(UsageMetric::Enroll, "", true)])
            .await
            .unwrap();
        store
            .add_usage(&other, day, &[tally(UsageMetric::Verify, "", true)])
            .await
            .unwrap();
        let mut rows = store.usage_rows(&tenant, day, day).await.unwrap();
        rows.sort_by_key(|r| r.metric);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let verify = &rows[0];
        assert_eq!(verify.metric, UsageMetric::Verify);
        assert_eq!((verify.count, verify.successes), (8, 4));
        assert_eq!(verify.latency_ms_sum, 800);
        assert!((verify.confidence_sum - 380.0).abs() < 1e-6);
        assert_eq!(rows[1].dimension, "mobile");
        assert_eq!(store.usage_rows(&tenant, day, next).await.unwrap().len(), 3);
        assert_eq!(store.usage_rows(&other, day, next).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn racing_logins_never_pass_a_hard_limit() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let now = clock::now();
        let logins = (0..8).map(|i| {
            let store = store.clone();
            let tenant = tenant.clone();
            tokio::spawn(async move {
                let user = UserId::from_string(format!("user_{i}"));
                store.mark_active(&tenant, &user, now, Some(3)).await
            })
        });
        let outcomes: Vec<Activity> = futures_util::future::join_all(logins)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        let new = outcomes.iter().filter(|a| **a == Activity::New).count();
        assert_eq!(new, 3, "{outcomes:?}");
        assert_eq!(
            outcomes
                .iter()
                .filter(|a| **a == Activity::LimitReached)
                .count(),
            5
        );
        let month = Month::of(now);
        assert_eq!(store.monthly_active_users(&tenant, month).await.unwrap(), 3);
        // Counted users keep signing in; without a limit, anyone counts.
        let mut again = Vec::new();
        for i in 0..8 {
            let user = UserId::from_string(format!("user_{i}"));
            again.push(
                store
                    .mark_active(&tenant, &user, now, Some(3))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(again.iter().filter(|a| **a == Activity::Counted).count(), 3);
        let late = UserId::from_string("user_late");
        assert_eq!(
            store.mark_active(&tenant, &late, now, None).await.unwrap(),
            Activity::New
        );
        assert_eq!(store.monthly_active_users(&tenant, month).await.unwrap(), 4);
        assert_eq!(
            store
                .monthly_active_users(&tenant, month.next())
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn active_users_are_distinct_by_their_latest_activity() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        let now = chrono::DateTime::parse_from_rfc3339("2026-05-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let days = chrono::Duration::days;
        let (ann, bob, cy) = (
            UserId::from_string("ann"),
            UserId::from_string("bob"),
            UserId::from_string("cy"),
        );
        // Ann in April and May, Bob in April only, Cy 40 days ago.
        store
            .mark_active(&tenant, &ann, now - days(30), None)
            .await
            .unwrap();
        store
            .mark_active(&tenant, &ann, now - days(2), None)
            .await
            .unwrap();
        store
            .mark_active(&tenant, &bob, now - days(25), None)
            .await
            .unwrap();
        store
            .mark_active(&tenant, &cy, now - days(40), None)
            .await
            .unwrap();
        let since = |d| store.active_users_since(&tenant, now - days(d));
        assert_eq!(since(7).await.unwrap(), 1);
        assert_eq!(since(30).await.unwrap(), 2);
        assert_eq!(since(90).await.unwrap(), 3);
        assert_eq!(
            store
                .monthly_active_users(&tenant, Month::parse("2026-04").unwrap())
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .prune_activity(Month::parse("2026-05").unwrap())
                .await
                .unwrap(),
            3
        );
        assert_eq!(since(90).await.unwrap(), 1);
        assert_eq!(
            store
                .monthly_active_users(&tenant, Month::parse("2026-04").unwrap())
                .await
                .unwrap(),
            3,
            "the month's count outlives its rows"
        );
    }

    #[tokio::test]
    async fn tenant_billing_round_trips() {
        let store = test_store().await;
        let tenant = tenant(&store).await;
        assert_eq!(
            store.tenant_billing(&tenant).await.unwrap(),
            TenantBilling::default()
        );
        store.set_tenant_plan(&tenant, Some("pro")).await.unwrap();
        // The first customer stays: a racing checkout gets it back.
        assert_eq!(
            store.set_billing_customer(&tenant, "cus_1").await.unwrap(),
            "cus_1"
        );
        assert_eq!(
            store.set_billing_customer(&tenant, "cus_2").await.unwrap(),
            "cus_1"
        );
        store.set_tenant_plan(&tenant, None).await.unwrap();
        assert_eq!(
            store.tenant_billing(&tenant).await.unwrap(),
            TenantBilling {
                plan: None,
                customer_id: Some("cus_1".into()),
                subscription_id: None
            }
        );
        let other = super::tenant(&store).await;
        assert_eq!(
            store.set_billing_customer(&other, "cus_9").await.unwrap(),
            "cus_9"
        );
    }

    #[tokio::test]
    async fn billing_events_apply_to_the_tenants_customer_once_and_in_order() {
        use facegate_core::usage::{BillingEventOutcome, BillingUpdate};
        let store = test_store().await;
        let tenant = tenant(&store).await;
        store.set_billing_customer(&tenant, "cus_1").await.unwrap();
        let now = clock::now();
        let update = |customer: &str, subscription: &str, plan: Option<&str>, seconds_ago: i64| {
            BillingUpdate {
                tenant: tenant.clone(),
                customer_id: customer.into(),
                subscription_id: subscription.into(),
                plan: plan.map(str::to_owned),
                event_at: now - chrono::Duration::seconds(seconds_ago),
            }
        };
        let record = |id: &'static str, update: Option<BillingUpdate>| {
            let store = store.clone();
            async move {
                store
                    .record_billing_event("stripe", id, now, update.as_ref())
                    .await
                    .unwrap()
            }
        };
        use BillingEventOutcome::*;
        // Another customer (a checkout FaceGate did not start): ignored.
        assert_eq!(
            record("evt_0", Some(update("cus_x", "sub_x", Some("pro"), 60))).await,
            Ignored
        );
        assert_eq!(
            record("evt_1", Some(update("cus_1", "sub_1", Some("pro"), 60))).await,
            Applied
        );
        assert_eq!(
            record("evt_1", Some(update("cus_1", "sub_1", None, 1))).await,
            Duplicate
        );
        assert_eq!(record("evt_2", None).await, Recorded);
        // A second subscription of the same customer: ignored.
        assert_eq!(
            record("evt_3", Some(update("cus_1", "sub_2", None, 30))).await,
            Ignored
        );
        // Older than the change applied: ignored.
        assert_eq!(
            record("evt_4", Some(update("cus_1", "sub_1", None, 120))).await,
            Ignored
        );
        let billing = store.tenant_billing(&tenant).await.unwrap();
        assert_eq!(
            (billing.plan.as_deref(), billing.subscription_id.as_deref()),
            (Some("pro"), Some("sub_1"))
        );
        // Within one second, an ending wins; a renewal does not undo it.
        assert_eq!(
            record("evt_5", Some(update("cus_1", "sub_1", Some("pro"), 10))).await,
            Applied
        );
        assert_eq!(
            record("evt_6", Some(update("cus_1", "sub_1", None, 10))).await,
            Applied
        );
        assert_eq!(
            record("evt_7", Some(update("cus_1", "sub_1", Some("pro"), 10))).await,
            Ignored
        );
        let billing = store.tenant_billing(&tenant).await.unwrap();
        assert_eq!((billing.plan, billing.subscription_id), (None, None));
        // The next subscription, after the last ended.
        assert_eq!(
            record("evt_8", Some(update("cus_1", "sub_2", Some("pro"), 0))).await,
            Applied
        );
        // The operator's plan keeps the provider's order and subscription.
        store.set_tenant_plan(&tenant, Some("free")).await.unwrap();
        assert_eq!(
            record("evt_9", Some(update("cus_1", "sub_2", None, 5))).await,
            Ignored
        );
        let billing = store.tenant_billing(&tenant).await.unwrap();
        assert_eq!(
            (billing.plan.as_deref(), billing.subscription_id.as_deref()),
            (Some("free"), Some("sub_2"))
        );
        // Another provider's event of the same id is another event.
        assert_eq!(
            store
                .record_billing_event("other", "evt_1", now, None)
                .await
                .unwrap(),
            Recorded
        );
        assert_eq!(
            store
                .prune_billing_events(now + chrono::Duration::seconds(1))
                .await
                .unwrap(),
            11
        );
        assert_eq!(record("evt_1", None).await, Recorded);
    }
}
