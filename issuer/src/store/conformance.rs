//! The storage conformance suite: what every engine must do, checked through the [`Store`]
//! trait alone. Each engine's test calls [`run`] with a function that makes a fresh, empty
//! store; a failure names the check.
//!
//! The checks are about the invariants the service relies on: versions refuse lost updates;
//! uniqueness (open application per person, e-ID number, status index) holds under concurrency;
//! codes and access tokens are single-live and die with a renewed offer; an access token issues
//! at most one credential; a refused change writes nothing, not even its audit entry; audit
//! sequence numbers follow commit order; wrong transaction codes are counted atomically with the
//! code and kill it at the limit; nonces are single-use, expire and stay in their session;
//! registry changes are applied once each, in feed order, with their statuses, renewal and
//! record, and settled by compare-and-set; credentials are found by their card's blind index; a
//! key's first publication is recorded with the trust list and never moves; a credential of a
//! revoked key is re-offered at most once, with its offer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::*;

/// Makes a fresh, empty store.
pub type Factory<'a> = &'a (dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Sync);

/// Runs every check, each on a fresh store.
pub async fn run(fresh: Factory<'_>) {
    macro_rules! check {
        ($($name:ident),* $(,)?) => {$(
            eprintln!("conformance: {}", stringify!($name));
            $name(fresh().await).await;
        )*};
    }
    check!(
        tokens_and_the_last_admin,
        bootstrap_happens_once,
        applications_are_versioned_and_refusals_write_nothing,
        one_open_application_per_person,
        concurrent_changes_to_one_application_one_wins,
        e_id_numbers_are_unique,
        renewing_an_offer_kills_the_old_code_and_tokens,
        a_code_has_one_live_access_token,
        an_access_token_issues_once_and_status_indices_are_unique,
        concurrent_issuance_never_reuses_a_status_index,
        status_changes_are_compare_and_set,
        audit_follows_commit_order_and_pages,
        settings_round_trip,
        status_lists_open_once_and_count,
        keys_revoked_through_the_store_stay_revoked,
        trust_lists_only_move_forward,
        idempotency_records_go_with_their_change,
        transaction_codes_are_counted_atomically,
        a_right_transaction_code_redeems_like_a_code,
        nonces_are_single_use_expire_and_stay_in_their_session,
        batches_keep_every_holder_key,
        audit_entries_form_a_hash_chain_in_commit_order,
        backups_are_written_whole_and_never_over_a_file,
        an_issuance_uses_up_its_nonces_or_nothing,
        registry_changes_apply_once_in_feed_order,
        registry_changes_move_statuses_and_refusals_write_nothing,
        registry_renewals_are_filed_with_their_change,
        registry_records_by_card_and_pending,
        credentials_are_found_by_card,
        first_publication_is_recorded_with_the_trust_list_and_never_moves,
        credentials_page_by_the_key_that_signed_them,
        a_credential_is_reoffered_once_with_its_offer,
    );
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry::new(1, "tester", action, "subject", None)
}

fn meta(point: &str, state: enrollment::workflow::Status) -> AppMeta {
    let d = verifier::Date::from_unix_vn(1_795_744_800);
    AppMeta { reception_point: point.into(), state, submitted_on: d, due_on: d, offer: None, credential: None }
}

fn digest(n: u8) -> Digest {
    Digest([n; 32])
}

async fn audit_len(s: &Arc<dyn Store>) -> usize {
    s.audit_page(None, 100_000).await.unwrap().len()
}

async fn new_app(s: &Arc<dyn Store>, identity: Vec<Digest>) -> ApplicationId {
    let id = ApplicationId::generate();
    let new = NewApplication {
        id: id.clone(),
        meta: meta("hn-ba-dinh-police", enrollment::workflow::Status::Submitted),
        sealed: vec![1, 2, 3],
        identity,
    };
    s.insert_application(new, audit("application.submitted")).await.unwrap();
    id
}

fn change(row: &AppRow, state: enrollment::workflow::Status) -> AppChange {
    let mut meta = row.meta.clone();
    meta.state = state;
    AppChange { id: row.id.clone(), expected_version: row.version, meta, sealed: vec![row.version as u8 + 1] }
}

async fn approved_app(s: &Arc<dyn Store>, eid: u8, code: u8) -> ApplicationId {
    use enrollment::workflow::Status::*;
    let id = new_app(s, vec![]).await;
    let row = s.application(&id).await.unwrap().unwrap();
    let mut c = change(&row, Approved);
    c.meta.offer = Some(OfferMeta { generation: 1, code: digest(code), expires_at: 10 });
    let code_row = CodeRow {
        application: id.clone(),
        generation: 1,
        expires_at: 10,
        access: None,
        tx_code: Some(digest(code ^ 0xff)),
        wrong_tx_codes: 0,
    };
    s.approve(c, digest(eid), digest(code), code_row, audit("approve")).await.unwrap();
    id
}

fn access_row(app: &ApplicationId, generation: u32) -> AccessRow {
    AccessRow { application: app.clone(), generation, nonce: "n".into(), expires_at: 10, credential: None }
}

fn credential(app: &ApplicationId, idx: u64) -> CredentialRow {
    CredentialRow {
        id: CredentialId::generate(),
        application: app.clone(),
        kid: "k".into(),
        holder: "h".into(),
        issued_at: 1,
        expires_at: 2,
        status_list: 1,
        status_idx: idx,
        holders: vec!["h".into(), "h2".into()],
        card: None,
    }
}

async fn redeem(s: &Arc<dyn Store>, code: u8, access: u8) -> Result<()> {
    let seen = s.code(&digest(code)).await.unwrap().unwrap();
    let row = access_row(&seen.application, seen.generation);
    s.redeem_code(digest(code), seen, digest(access), row, audit("redeem")).await
}

async fn issue(s: &Arc<dyn Store>, app: &ApplicationId, access: u8, idx: u64) -> Result<CredentialId> {
    issue_on(s, app, access, idx, None).await
}

async fn issue_on(
    s: &Arc<dyn Store>,
    app: &ApplicationId,
    access: u8,
    idx: u64,
    card: Option<Digest>,
) -> Result<CredentialId> {
    match s.open_status_list(1, 1 << 20, audit("status_list.opened")).await {
        Ok(()) | Err(StoreError::Conflict(Conflict::StatusListExists)) => {}
        Err(e) => return Err(e),
    }
    let row = s.application(app).await.unwrap().unwrap();
    let mut c = change(&row, enrollment::workflow::Status::Issued);
    let cred = CredentialRow { card, ..credential(app, idx) };
    c.meta.credential = Some(cred.id.clone());
    let id = cred.id.clone();
    s.issue_credential(
        Issuance { access: digest(access), app: c, credential: cred, nonces: vec![], now: 0 },
        audit("issue"),
    )
    .await?;
    Ok(id)
}

fn token(role: Role) -> TokenRow {
    TokenRow { id: TokenId::generate(), role, name: "t".into(), reception_point: None, created_at: 1, revoked: false }
}

async fn tokens_and_the_last_admin(s: Arc<dyn Store>) {
    let a = token(Role::Admin);
    s.create_token(digest(1), a.clone(), audit("t")).await.unwrap();
    let o = token(Role::Officer);
    s.create_token(digest(2), o.clone(), audit("t")).await.unwrap();
    assert_eq!(s.token(&digest(1)).await.unwrap(), Some(a.clone()));
    assert_eq!(s.tokens().await.unwrap().len(), 2);
    // The only admin cannot be revoked; an officer can.
    let before = audit_len(&s).await;
    assert!(matches!(s.revoke_token(&a.id, audit("r")).await, Err(StoreError::Conflict(Conflict::LastAdmin))));
    assert_eq!(audit_len(&s).await, before, "a refused change writes no audit entry");
    assert!(s.revoke_token(&o.id, audit("r")).await.unwrap().revoked);
    assert!(matches!(s.revoke_token(&TokenId::generate(), audit("r")).await, Err(StoreError::NotFound)));
    let b = token(Role::Admin);
    s.create_token(digest(3), b.clone(), audit("t")).await.unwrap();
    assert!(s.revoke_token(&a.id, audit("r")).await.unwrap().revoked);
    assert!(s.token(&digest(1)).await.unwrap().unwrap().revoked);
}

async fn bootstrap_happens_once(s: Arc<dyn Store>) {
    assert!(s.bootstrap_admin(digest(1), token(Role::Admin), audit("b")).await.unwrap());
    assert!(!s.bootstrap_admin(digest(2), token(Role::Admin), audit("b")).await.unwrap());
    assert!(s.token(&digest(2)).await.unwrap().is_none());
}

async fn applications_are_versioned_and_refusals_write_nothing(s: Arc<dyn Store>) {
    use enrollment::workflow::Status::*;
    let id = new_app(&s, vec![digest(9)]).await;
    let row = s.application(&id).await.unwrap().unwrap();
    assert_eq!((row.version, row.sealed.as_slice()), (1, &[1u8, 2, 3][..]));
    let v2 = s.update_application(change(&row, BiometricsCaptured), audit("u")).await.unwrap();
    assert_eq!(v2, 2);
    // A change computed from version 1 is refused, and writes nothing.
    let before = audit_len(&s).await;
    let stale = change(&row, DataChecked);
    assert!(matches!(
        s.update_application(stale, audit("u")).await,
        Err(StoreError::Conflict(Conflict::ApplicationChanged))
    ));
    assert_eq!(audit_len(&s).await, before);
    let now = s.application(&id).await.unwrap().unwrap();
    assert_eq!((now.version, now.meta.state), (2, BiometricsCaptured));
    // Biometrics are replaced by a new capture, with the record.
    let v3 = s.capture_biometrics(change(&now, BiometricsCaptured), vec![7; 10], audit("b")).await.unwrap();
    assert_eq!(v3, 3);
    let now = s.application(&id).await.unwrap().unwrap();
    s.capture_biometrics(change(&now, BiometricsCaptured), vec![8; 5], audit("b")).await.unwrap();
    assert_eq!(s.biometrics(&id).await.unwrap(), Some(vec![8; 5]));
    let metas = s.application_metas(Some("hn-ba-dinh-police")).await.unwrap();
    assert_eq!(metas.len(), 1);
    assert!(s.application_metas(Some("elsewhere")).await.unwrap().is_empty());
    assert_eq!(s.application_by_identity(&digest(9)).await.unwrap().map(|(i, _)| i), Some(id));
    assert!(matches!(
        s.update_application(
            AppChange {
                id: ApplicationId::generate(),
                expected_version: 1,
                meta: meta("x", Submitted),
                sealed: vec![]
            },
            audit("u")
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

async fn one_open_application_per_person(s: Arc<dyn Store>) {
    use enrollment::workflow::Status::*;
    let first = new_app(&s, vec![digest(1), digest(2)]).await;
    // Same card (second key), another passport: refused while the first is open.
    let dup = NewApplication {
        id: ApplicationId::generate(),
        meta: meta("p", Submitted),
        sealed: vec![],
        identity: vec![digest(3), digest(2)],
    };
    assert!(matches!(
        s.insert_application(dup.clone(), audit("s")).await,
        Err(StoreError::Conflict(Conflict::ApplicationExists))
    ));
    assert!(s.application(&dup.id).await.unwrap().is_none(), "a refused submission leaves nothing");
    let row = s.application(&first).await.unwrap().unwrap();
    s.update_application(change(&row, Rejected), audit("reject")).await.unwrap();
    s.insert_application(dup, audit("s")).await.unwrap();
    // Racing submissions for one person: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let new = NewApplication {
                id: ApplicationId::generate(),
                meta: meta("p", Submitted),
                sealed: vec![],
                identity: vec![digest(77)],
            };
            s.insert_application(new, audit("s")).await.is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

async fn concurrent_changes_to_one_application_one_wins(s: Arc<dyn Store>) {
    let id = new_app(&s, vec![]).await;
    let row = s.application(&id).await.unwrap().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, row) = (s.clone(), row.clone());
        tasks.push(tokio::spawn(async move {
            s.update_application(change(&row, enrollment::workflow::Status::BiometricsCaptured), audit("u"))
                .await
                .is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(s.application(&id).await.unwrap().unwrap().version, 2);
}

async fn e_id_numbers_are_unique(s: Arc<dyn Store>) {
    use enrollment::workflow::Status::*;
    approved_app(&s, 5, 50).await;
    let other = new_app(&s, vec![]).await;
    let row = s.application(&other).await.unwrap().unwrap();
    let code = CodeRow {
        application: other.clone(),
        generation: 1,
        expires_at: 10,
        access: None,
        tx_code: None,
        wrong_tx_codes: 0,
    };
    let r = s.approve(change(&row, Approved), digest(5), digest(51), code, audit("a")).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::EidTaken))));
    assert!(s.code(&digest(51)).await.unwrap().is_none(), "the refused approval wrote no code");
    assert_eq!(s.application(&other).await.unwrap().unwrap().version, 1);
}

async fn renewing_an_offer_kills_the_old_code_and_tokens(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    let row = s.application(&app).await.unwrap().unwrap();
    let mut c = change(&row, enrollment::workflow::Status::Approved);
    c.meta.offer = Some(OfferMeta { generation: 2, code: digest(11), expires_at: 10 });
    let code = CodeRow {
        application: app.clone(),
        generation: 2,
        expires_at: 10,
        access: None,
        tx_code: None,
        wrong_tx_codes: 0,
    };
    s.renew_offer(c, digest(11), code, audit("renew")).await.unwrap();
    assert!(s.code(&digest(10)).await.unwrap().is_none(), "the old code is gone");
    // The access token from the old code cannot issue.
    assert!(matches!(issue(&s, &app, 100, 1).await, Err(StoreError::Conflict(Conflict::InvalidToken))));
    assert_eq!(s.status(1, 1).await.unwrap(), None);
    // The new code works.
    redeem(&s, 11, 101).await.unwrap();
    issue(&s, &app, 101, 1).await.unwrap();
}

async fn a_code_has_one_live_access_token(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    // A retried token request (lost response): a new token, the previous one removed.
    redeem(&s, 10, 101).await.unwrap();
    assert!(s.access(&digest(100)).await.unwrap().is_none());
    assert_eq!(s.access(&digest(101)).await.unwrap().unwrap().application, app);
    // A redemption computed from a stale view of the code is refused.
    let mut seen = s.code(&digest(10)).await.unwrap().unwrap();
    seen.access = None;
    let r = s.redeem_code(digest(10), seen, digest(102), access_row(&app, 1), audit("redeem")).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidGrant))));
    assert!(s.access(&digest(102)).await.unwrap().is_none());
}

async fn an_access_token_issues_once_and_status_indices_are_unique(s: Arc<dyn Store>) {
    let a = approved_app(&s, 1, 10).await;
    let b = approved_app(&s, 2, 20).await;
    redeem(&s, 10, 100).await.unwrap();
    redeem(&s, 20, 200).await.unwrap();
    let cred = issue(&s, &a, 100, 42).await.unwrap();
    assert_eq!(s.access(&digest(100)).await.unwrap().unwrap().credential, Some(cred.clone()));
    assert!(s.code(&digest(10)).await.unwrap().is_none(), "the code is consumed by issuance");
    assert_eq!(s.credential(&cred).await.unwrap().unwrap().status_idx, 42);
    assert_eq!(s.status(1, 42).await.unwrap(), Some(0));
    assert_eq!(s.status_allocated(1).await.unwrap(), 1);
    // The same token again: the credential already issued is named.
    match s.application(&a).await.unwrap() {
        Some(row) => {
            let mut c = change(&row, enrollment::workflow::Status::Issued);
            c.meta.credential = None;
            let r = s
                .issue_credential(
                    Issuance { access: digest(100), app: c, credential: credential(&a, 43), nonces: vec![], now: 0 },
                    audit("i"),
                )
                .await;
            assert!(matches!(r, Err(StoreError::Conflict(Conflict::AlreadyIssued(ref id))) if *id == cred));
        }
        None => panic!("application vanished"),
    }
    // Another credential cannot take index 42.
    assert!(matches!(issue(&s, &b, 200, 42).await, Err(StoreError::Conflict(Conflict::StatusIndexTaken))));
    issue(&s, &b, 200, 43).await.unwrap();
    // An unknown token issues nothing.
    assert!(matches!(issue(&s, &b, 201, 44).await, Err(StoreError::Conflict(Conflict::InvalidToken))));
    assert_eq!(s.status_allocated(1).await.unwrap(), 2);
}

async fn concurrent_issuance_never_reuses_a_status_index(s: Arc<dyn Store>) {
    let mut apps = Vec::new();
    for i in 0..24u8 {
        let app = approved_app(&s, i, 100 + i).await;
        redeem(&s, 100 + i, 200 - i).await.unwrap();
        apps.push((app, 200 - i));
    }
    let mut tasks = Vec::new();
    for (i, (app, access)) in apps.into_iter().enumerate() {
        let s = s.clone();
        // Every other pair contends for the same index.
        let idx = (i / 2) as u64;
        tasks.push(tokio::spawn(async move { issue(&s, &app, access, idx).await.is_ok() }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 12);
    assert_eq!(s.status_allocated(1).await.unwrap(), 12);
}

async fn status_changes_are_compare_and_set(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    let cred = issue(&s, &app, 100, 7).await.unwrap();
    let v0 = s.status_version().await.unwrap();
    s.set_status(&cred, 0, 2, audit("suspend")).await.unwrap();
    assert_eq!(s.status(1, 7).await.unwrap(), Some(2));
    assert_eq!(s.status_marks(1).await.unwrap(), vec![(7, 2)]);
    assert_ne!(s.status_version().await.unwrap(), v0);
    let before = audit_len(&s).await;
    assert!(matches!(
        s.set_status(&cred, 0, 1, audit("revoke")).await,
        Err(StoreError::Conflict(Conflict::StatusChanged))
    ));
    assert_eq!(audit_len(&s).await, before);
    s.set_status(&cred, 2, 0, audit("reinstate")).await.unwrap();
    assert!(s.status_marks(1).await.unwrap().is_empty());
    assert!(matches!(s.set_status(&CredentialId::generate(), 0, 1, audit("x")).await, Err(StoreError::NotFound)));
    // Racing changes from the same status: one wins.
    let mut tasks = Vec::new();
    for n in 0..8u8 {
        let (s, cred) = (s.clone(), cred.clone());
        tasks.push(tokio::spawn(async move { s.set_status(&cred, 0, 1 + n % 2, audit("x")).await.is_ok() }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

async fn audit_follows_commit_order_and_pages(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.append_audit(audit(&format!("a{i}"))).await.unwrap() }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 50, "every entry has its own sequence number");
    let all = s.audit_page(None, 1000).await.unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let page = s.audit_page(Some(all[9].0), 5).await.unwrap();
    assert_eq!(
        page.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        all[10..15].iter().map(|(k, _)| *k).collect::<Vec<_>>()
    );
}

async fn settings_round_trip(s: Arc<dyn Store>) {
    assert_eq!(s.setting("x").await.unwrap(), None);
    s.put_setting("x", vec![1, 2], None).await.unwrap();
    s.put_setting("x", vec![3], Some(audit("setting"))).await.unwrap();
    assert_eq!(s.setting("x").await.unwrap(), Some(vec![3]));
    s.ping().await.unwrap();
}

async fn status_lists_open_once_and_count(s: Arc<dyn Store>) {
    assert!(s.status_lists().await.unwrap().is_empty());
    let v0 = s.keys_version().await.unwrap();
    s.open_status_list(1, 131_072, audit("open")).await.unwrap();
    assert!(matches!(
        s.open_status_list(1, 131_072, audit("open")).await,
        Err(StoreError::Conflict(Conflict::StatusListExists))
    ));
    assert_ne!(s.keys_version().await.unwrap(), v0, "a new list changes what the trust list names");
    s.open_status_list(2, 262_144, audit("open")).await.unwrap();
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    issue(&s, &app, 100, 5).await.unwrap();
    let lists = s.status_lists().await.unwrap();
    assert_eq!(
        lists,
        vec![
            StatusListRow { id: 1, capacity: 131_072, allocated: 1 },
            StatusListRow { id: 2, capacity: 262_144, allocated: 0 }
        ]
    );
    assert_eq!(s.status_allocated(1).await.unwrap(), 1);
}

fn key(kid_byte: u8, state: verifier::KeyState) -> verifier::TrustedKey {
    let public = verifier::PublicKey::from_bytes([kid_byte; 32]);
    verifier::TrustedKey {
        kid: keys::key_id_for(&public),
        x: public,
        state,
        sign_from: 1,
        sign_until: 1_000_000,
        valid_until: 2_000_000,
        node: None,
    }
}

async fn keys_revoked_through_the_store_stay_revoked(s: Arc<dyn Store>) {
    use verifier::KeyState::*;
    let v0 = s.keys_version().await.unwrap();
    s.publish_keys("node-a", vec![key(1, Active)]).await.unwrap();
    s.publish_keys("node-b", vec![key(2, Active)]).await.unwrap();
    let v1 = s.keys_version().await.unwrap();
    assert_ne!(v0, v1);
    // Publishing the same again changes nothing.
    s.publish_keys("node-a", vec![key(1, Active)]).await.unwrap();
    assert_eq!(s.keys_version().await.unwrap(), v1);
    assert_eq!(s.keys().await.unwrap().len(), 2);
    let kid = key(2, Active).kid.to_string();
    s.revoke_key(&kid, 500, audit("key.revoked")).await.unwrap();
    // Node b, not yet aware, publishes its key as active again: it stays revoked.
    s.publish_keys("node-b", vec![key(2, Active)]).await.unwrap();
    let b = s.keys().await.unwrap().into_iter().find(|(_, k)| k.kid.to_string() == kid).unwrap();
    assert_eq!((b.0.as_str(), b.1.state, b.1.sign_until), ("node-b", Revoked, 500));
    assert!(matches!(s.revoke_key("AAAAAA", 1, audit("x")).await, Err(StoreError::NotFound)));
}

async fn trust_lists_only_move_forward(s: Arc<dyn Store>) {
    assert!(s.trust_list().await.unwrap().is_none());
    assert!(s.publish_trust_list(PublishedTrustList { seq: 10, jws: "a".into() }).await.unwrap());
    assert!(!s.publish_trust_list(PublishedTrustList { seq: 9, jws: "b".into() }).await.unwrap());
    assert!(!s.publish_trust_list(PublishedTrustList { seq: 10, jws: "c".into() }).await.unwrap());
    assert!(s.publish_trust_list(PublishedTrustList { seq: 11, jws: "d".into() }).await.unwrap());
    assert_eq!(s.trust_list().await.unwrap(), Some(PublishedTrustList { seq: 11, jws: "d".into() }));
}

async fn idempotency_records_go_with_their_change(s: Arc<dyn Store>) {
    let record = |n: u8| IdempotencyRecord {
        scope: "officer-1".into(),
        key: digest(n),
        fingerprint: digest(200),
        outcome: vec![n; 4],
        created_at: 1,
    };
    let mut a = audit("with key");
    a.idempotency = Some(record(1));
    s.append_audit(a.clone()).await.unwrap();
    assert_eq!(s.idempotency("officer-1", &digest(1)).await.unwrap(), Some(record(1)));
    assert!(s.idempotency("officer-2", &digest(1)).await.unwrap().is_none(), "keys are per caller");
    // The same key again: refused, and nothing of the change is written.
    let before = audit_len(&s).await;
    assert!(matches!(s.append_audit(a).await, Err(StoreError::Conflict(Conflict::IdempotencyKeyUsed))));
    assert_eq!(audit_len(&s).await, before);
    // A change refused for its own reason leaves no record of its key.
    let id = new_app(&s, vec![]).await;
    let row = s.application(&id).await.unwrap().unwrap();
    let mut stale = change(&row, enrollment::workflow::Status::BiometricsCaptured);
    stale.expected_version = 7;
    let mut a = audit("u");
    a.idempotency = Some(record(2));
    assert!(matches!(s.update_application(stale, a).await, Err(StoreError::Conflict(Conflict::ApplicationChanged))));
    assert!(s.idempotency("officer-1", &digest(2)).await.unwrap().is_none());
    // Racing requests with one key: one change.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let mut a = audit("race");
        a.idempotency = Some(record(3));
        tasks.push(tokio::spawn(async move { s.append_audit(a).await.is_ok() }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

fn tx_redemption(s_seen: CodeRow, code: u8, tx: u8, access: u8) -> TxRedemption {
    let access_row = access_row(&s_seen.application, s_seen.generation);
    TxRedemption {
        code_hash: digest(code),
        seen: s_seen,
        tx_code: digest(tx),
        max_wrong: 5,
        access_hash: digest(access),
        access: access_row,
    }
}

fn tx_audit() -> TxAudit {
    TxAudit { redeemed: audit("redeemed"), wrong: audit("tx_code.wrong"), locked: audit("offer.locked") }
}

async fn audit_actions(s: &Arc<dyn Store>, action: &str) -> usize {
    s.audit_page(None, 100_000).await.unwrap().iter().filter(|(_, e)| e.action == action).count()
}

async fn transaction_codes_are_counted_atomically(s: Arc<dyn Store>) {
    // approved_app stores the transaction code digest(code ^ 0xff).
    approved_app(&s, 1, 10).await;
    let right = 10 ^ 0xff;
    let seen = s.code(&digest(10)).await.unwrap().unwrap();
    assert_eq!(seen.tx_code, Some(digest(right)));
    let r = s.redeem_code_with_tx_code(tx_redemption(seen.clone(), 10, 1, 100), tx_audit()).await.unwrap();
    assert_eq!(r, TxOutcome::Wrong { wrong: 1, locked: false });
    assert!(s.access(&digest(100)).await.unwrap().is_none(), "a wrong code stores no access token");
    assert_eq!(s.code(&digest(10)).await.unwrap().unwrap().wrong_tx_codes, 1, "counted durably with the code");
    // Sixteen wrong guesses at once, from the same stale view: exactly four more are counted,
    // the fourth of them locks the code, the rest find it dead.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let (s, seen) = (s.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            s.redeem_code_with_tx_code(tx_redemption(seen, 10, 2 + i, 120 + i), tx_audit()).await
        }));
    }
    let (mut wrong, mut locked, mut dead) = (Vec::new(), 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(TxOutcome::Wrong { wrong: n, locked: l }) => {
                wrong.push(n);
                locked += usize::from(l);
            }
            Err(StoreError::Conflict(Conflict::InvalidGrant)) => dead += 1,
            other => panic!("{other:?}"),
        }
    }
    wrong.sort_unstable();
    assert_eq!(wrong, vec![2, 3, 4, 5]);
    assert_eq!((locked, dead), (1, 12));
    assert_eq!(audit_actions(&s, "tx_code.wrong").await, 5);
    assert_eq!(audit_actions(&s, "offer.locked").await, 1);
    // Dead: even the right code is refused, and the refusal writes nothing.
    let before = audit_len(&s).await;
    let r = s.redeem_code_with_tx_code(tx_redemption(seen, 10, right, 101), tx_audit()).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidGrant))), "{r:?}");
    assert!(s.access(&digest(101)).await.unwrap().is_none());
    assert_eq!(audit_len(&s).await, before);
    assert_eq!(s.code(&digest(10)).await.unwrap().unwrap().wrong_tx_codes, 5);
}

async fn a_right_transaction_code_redeems_like_a_code(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    let right = 10 ^ 0xff;
    let seen = s.code(&digest(10)).await.unwrap().unwrap();
    // One wrong code first: it does not stop the right one, and is not forgotten.
    s.redeem_code_with_tx_code(tx_redemption(seen.clone(), 10, 3, 99), tx_audit()).await.unwrap();
    let r = s.redeem_code_with_tx_code(tx_redemption(seen.clone(), 10, right, 100), tx_audit()).await.unwrap();
    assert_eq!(r, TxOutcome::Redeemed);
    assert_eq!(s.access(&digest(100)).await.unwrap().unwrap().application, app);
    let row = s.code(&digest(10)).await.unwrap().unwrap();
    assert_eq!((row.access, row.wrong_tx_codes), (Some(digest(100)), 1));
    // A retried token request (lost response), from the view read before: a new token, the
    // previous one removed.
    let r = s.redeem_code_with_tx_code(tx_redemption(seen.clone(), 10, right, 101), tx_audit()).await.unwrap();
    assert_eq!(r, TxOutcome::Redeemed);
    assert!(s.access(&digest(100)).await.unwrap().is_none());
    assert!(s.access(&digest(101)).await.unwrap().is_some());
    assert_eq!(audit_actions(&s, "redeemed").await, 2);
    // A view of another generation (renewed offer) or of an unknown code is refused, writing nothing.
    let before = audit_len(&s).await;
    let mut stale = seen.clone();
    stale.generation = 2;
    let r = s.redeem_code_with_tx_code(tx_redemption(stale, 10, right, 102), tx_audit()).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidGrant))));
    let r = s.redeem_code_with_tx_code(tx_redemption(seen, 11, right, 103), tx_audit()).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidGrant))));
    assert!(s.access(&digest(102)).await.unwrap().is_none());
    assert_eq!(audit_len(&s).await, before);
    // The access token issues as before.
    issue(&s, &app, 101, 5).await.unwrap();
}

async fn nonces_are_single_use_expire_and_stay_in_their_session(s: Arc<dyn Store>) {
    let free = |expires_at| NonceRow { expires_at, access: None };
    s.create_nonce(digest(1), free(100), 50).await.unwrap();
    s.consume_nonces(vec![digest(1)], digest(200), 60).await.unwrap();
    // Used: never again, whoever asks.
    for access in [200, 201] {
        let r = s.consume_nonces(vec![digest(1)], digest(access), 61).await;
        assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidNonce))), "{r:?}");
    }
    // Unknown, and expired (usable up to and including expires_at).
    assert!(matches!(
        s.consume_nonces(vec![digest(9)], digest(200), 60).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
    s.create_nonce(digest(2), free(100), 50).await.unwrap();
    assert!(matches!(
        s.consume_nonces(vec![digest(2)], digest(200), 101).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
    s.create_nonce(digest(3), free(100), 50).await.unwrap();
    s.consume_nonces(vec![digest(3)], digest(200), 100).await.unwrap();
    // Bound to a session: another access token cannot use it, and does not use it up.
    s.create_nonce(digest(4), NonceRow { expires_at: 100, access: Some(digest(200)) }, 50).await.unwrap();
    assert!(matches!(
        s.consume_nonces(vec![digest(4)], digest(201), 60).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
    s.consume_nonces(vec![digest(4)], digest(200), 60).await.unwrap();
    // One bad nonce in a request uses none of them.
    s.create_nonce(digest(5), free(100), 50).await.unwrap();
    assert!(matches!(
        s.consume_nonces(vec![digest(5), digest(1)], digest(200), 60).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
    s.consume_nonces(vec![digest(5)], digest(200), 60).await.unwrap();
    // Racing uses of one nonce: exactly one wins.
    s.create_nonce(digest(6), free(100), 50).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.consume_nonces(vec![digest(6)], digest(210 + i), 60).await.is_ok() }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    // Expired nonces are purged as new ones come (many at once is fine), and the live stay.
    for i in 0..40u8 {
        s.create_nonce(digest(100 + i), free(10 + u64::from(i)), 0).await.unwrap();
    }
    s.create_nonce(digest(7), free(1000), 500).await.unwrap();
    for i in 0..4u8 {
        s.create_nonce(digest(150 + i), free(1000), 500).await.unwrap();
    }
    s.consume_nonces(vec![digest(7), digest(150)], digest(200), 600).await.unwrap();
    assert!(matches!(
        s.consume_nonces(vec![digest(139)], digest(200), 40).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
}

async fn batches_keep_every_holder_key(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    let id = issue(&s, &app, 100, 3).await.unwrap();
    let row = s.credential(&id).await.unwrap().unwrap();
    assert_eq!(row.holders, vec!["h".to_owned(), "h2".to_owned()]);
}

/// Every entry appended (alone, or with a change) is linked to the one before, in commit
/// order, even when appends race; a refused change leaves the chain as it was; the head is the
/// newest link; an edited entry no longer verifies.
async fn audit_entries_form_a_hash_chain_in_commit_order(s: Arc<dyn Store>) {
    assert_eq!(s.audit_head().await.unwrap(), None, "an empty log has no head");
    let a = token(Role::Admin);
    s.create_token(digest(1), a.clone(), audit("token.created")).await.unwrap();
    // A refused change: no entry, no link.
    assert!(s.revoke_token(&a.id, audit("token.revoked")).await.is_err());
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.append_audit(audit(&format!("race{i}"))).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    approved_app(&s, 9, 9).await;
    let all = s.audit_page(None, 10_000).await.unwrap();
    let head = s.audit_head().await.unwrap().expect("a head");
    assert_eq!(Some(head), all.last().and_then(|(_, e)| e.link), "the head is the newest entry's link");
    let mut w = audit_chain::Walker::default();
    for (seq, e) in &all {
        let link = e.link.expect("every entry is linked");
        assert_eq!(link.seq, *seq);
        w.push(*seq, e);
    }
    w.finish(Some(&head));
    assert_eq!(w.problem, None, "the chain verifies");
    assert_eq!(w.legacy, 0);
    // What a reader sees is what was hashed: change a field and the entry no longer verifies.
    let (seq, mut edited) = all[3].clone();
    edited.subject = "someone-else".into();
    let mut w = audit_chain::Walker::default();
    for (k, e) in &all[..3] {
        w.push(*k, e);
    }
    w.push(seq, &edited);
    assert_eq!(w.problem, Some(audit_chain::Problem::Changed { seq }));
}

/// A backup is a new file, private, holding the store; it never overwrites a file.
async fn backups_are_written_whole_and_never_over_a_file(s: Arc<dyn Store>) {
    new_app(&s, vec![digest(3)]).await;
    let out =
        std::env::temp_dir().join(format!("vneid-conformance-{}-{}.bak", std::process::id(), TokenId::generate()));
    let n = s.backup(&out).await.unwrap();
    let meta = std::fs::metadata(&out).unwrap();
    assert!(n > 0 && meta.len() == n, "{n} bytes reported, {} on disk", meta.len());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(s.backup(&out).await.is_err(), "a backup must not overwrite a file");
    std::fs::remove_file(&out).unwrap();
    // The store goes on.
    new_app(&s, vec![digest(4)]).await;
}

async fn an_issuance_uses_up_its_nonces_or_nothing(s: Arc<dyn Store>) {
    let app = approved_app(&s, 1, 10).await;
    redeem(&s, 10, 100).await.unwrap();
    match s.open_status_list(1, 1 << 20, audit("open")).await {
        Ok(()) | Err(StoreError::Conflict(Conflict::StatusListExists)) => {}
        Err(e) => panic!("{e}"),
    }
    s.create_nonce(digest(50), NonceRow { expires_at: 100, access: None }, 0).await.unwrap();
    let attempt = |nonces: Vec<Digest>, idx: u64| {
        let s = s.clone();
        let app = app.clone();
        async move {
            let row = s.application(&app).await.unwrap().unwrap();
            let mut c = change(&row, enrollment::workflow::Status::Issued);
            let cred = credential(&app, idx);
            c.meta.credential = Some(cred.id.clone());
            s.issue_credential(Issuance { access: digest(100), app: c, credential: cred, nonces, now: 50 }, audit("i"))
                .await
        }
    };
    // An unknown nonce beside a good one: refused, and the good one is still there.
    let r = attempt(vec![digest(50), digest(51)], 7).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::InvalidNonce))), "{r:?}");
    assert_eq!(s.status(1, 7).await.unwrap(), None, "nothing of the refused issuance was written");
    attempt(vec![digest(50)], 7).await.unwrap();
    // The nonce is gone with it.
    assert!(matches!(
        s.consume_nonces(vec![digest(50)], digest(100), 50).await,
        Err(StoreError::Conflict(Conflict::InvalidNonce))
    ));
}

// ----- registry changes -----

fn registry_record(seq: u64, card: u8, pending_due: Option<u64>) -> RegistryChangeRecord {
    use enrollment::registry_changes::{CardEvent, ChangeReason};
    RegistryChangeRecord {
        seq,
        version: 1,
        card: digest(card),
        event: CardEvent::Revoked,
        registry_reason: "deportation".into(),
        reason: ChangeReason::CardRevoked,
        registry_at: 1,
        applied_at: 2,
        effective_at: 2,
        credentials: Vec::new(),
        renewal: None,
        renewal_blocked_by: None,
        notice: RegistryNoticeState::None,
        pending_due,
    }
}

fn registry_apply(after: u64, record: RegistryChangeRecord) -> RegistryApply {
    let audit = vec![audit("registry.change")];
    RegistryApply { after, record, moves: Vec::new(), renewal: None, audit }
}

async fn issued_credential(s: &Arc<dyn Store>, n: u8, card: Option<Digest>) -> CredentialId {
    let app = approved_app(s, n, 100 + n).await;
    redeem(s, 100 + n, 150 + n).await.unwrap();
    issue_on(s, &app, 150 + n, u64::from(n), card).await.unwrap()
}

async fn registry_changes_apply_once_in_feed_order(s: Arc<dyn Store>) {
    assert_eq!(s.registry_position().await.unwrap(), 0);
    s.apply_registry_change(registry_apply(0, registry_record(5, 1, None))).await.unwrap();
    assert_eq!(s.registry_position().await.unwrap(), 5);
    assert_eq!(s.registry_change(5).await.unwrap(), Some(registry_record(5, 1, None)));
    // The same change again, a change at or before the position, or one computed at a stale
    // position: refused, and nothing written.
    let before = audit_len(&s).await;
    for (after, seq) in [(0, 5), (5, 5), (5, 3), (4, 6), (0, 6)] {
        let r = s.apply_registry_change(registry_apply(after, registry_record(seq, 2, None))).await;
        assert!(matches!(r, Err(StoreError::Conflict(Conflict::RegistryPositionMoved))), "{after} {seq}: {r:?}");
    }
    assert_eq!(audit_len(&s).await, before);
    assert_eq!(s.registry_position().await.unwrap(), 5);
    assert!(s.registry_change(6).await.unwrap().is_none());
    assert_eq!(s.registry_change(5).await.unwrap().unwrap().card, digest(1));
    // Racing runs applying the next change: exactly one does.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.apply_registry_change(registry_apply(5, registry_record(9, 3, None))).await.is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(s.registry_position().await.unwrap(), 9);
    assert_eq!(audit_actions(&s, "registry.change").await, 2, "one audit entry per change applied");
    let all: Vec<u64> = s.registry_changes(0, 10).await.unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(all, vec![5, 9]);
}

async fn registry_changes_move_statuses_and_refusals_write_nothing(s: Arc<dyn Store>) {
    let cred = issued_credential(&s, 1, None).await;
    let v0 = s.status_version().await.unwrap();
    let before = audit_len(&s).await;
    let with_move = |expected, new, credential: &CredentialId| {
        let mut a = registry_apply(0, registry_record(1, 1, None));
        a.moves = vec![StatusMove { credential: credential.clone(), expected, new }];
        a.audit.push(audit("credential.status"));
        a
    };
    // A status that moved since, or a credential that does not exist: nothing is written.
    let r = s.apply_registry_change(with_move(2, 1, &cred)).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::StatusChanged))), "{r:?}");
    let r = s.apply_registry_change(with_move(0, 1, &CredentialId::generate())).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(audit_len(&s).await, before);
    assert_eq!(s.registry_position().await.unwrap(), 0);
    assert!(s.registry_change(1).await.unwrap().is_none());
    assert_eq!((s.status(1, 1).await.unwrap(), s.status_version().await.unwrap()), (Some(0), v0));
    // Applied: the status, its mark, the status version, the audit entries in order.
    s.apply_registry_change(with_move(0, 2, &cred)).await.unwrap();
    assert_eq!(s.status(1, 1).await.unwrap(), Some(2));
    assert_eq!(s.status_marks(1).await.unwrap(), vec![(1, 2)]);
    assert_ne!(s.status_version().await.unwrap(), v0);
    let tail: Vec<String> =
        s.audit_page(None, 1000).await.unwrap().into_iter().rev().take(2).map(|(_, e)| e.action).collect();
    assert_eq!(tail, vec!["credential.status".to_owned(), "registry.change".to_owned()]);
    // Settling: by compare-and-set on the record's version and the statuses.
    let mut next = registry_record(1, 1, None);
    next.version = 2;
    let settle = |record: RegistryChangeRecord, expected, new| RegistrySettle {
        record,
        moves: vec![StatusMove { credential: cred.clone(), expected, new }],
        audit: vec![audit("credential.status")],
    };
    let before = audit_len(&s).await;
    let mut stale = next.clone();
    stale.version = 3;
    let r = s.settle_registry_change(settle(stale, 2, 1)).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::RegistryRecordChanged))), "{r:?}");
    let r = s.settle_registry_change(settle(next.clone(), 0, 1)).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::StatusChanged))), "{r:?}");
    let mut unknown = next.clone();
    unknown.seq = 77;
    assert!(matches!(s.settle_registry_change(settle(unknown, 2, 1)).await, Err(StoreError::NotFound)));
    assert_eq!(audit_len(&s).await, before);
    assert_eq!(s.registry_change(1).await.unwrap().unwrap().version, 1);
    s.settle_registry_change(settle(next.clone(), 2, 1)).await.unwrap();
    assert_eq!(s.status(1, 1).await.unwrap(), Some(1));
    assert_eq!(s.registry_change(1).await.unwrap(), Some(next.clone()));
    assert_eq!(audit_len(&s).await, before + 1);
    // Two settlements from the same version: one wins.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (s, mut r) = (s.clone(), next.clone());
        r.version = 3;
        tasks.push(tokio::spawn(async move {
            s.settle_registry_change(RegistrySettle { record: r, moves: Vec::new(), audit: Vec::new() }).await.is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

async fn registry_renewals_are_filed_with_their_change(s: Arc<dyn Store>) {
    use enrollment::workflow::Status::*;
    // An open application under one of the renewal's identity keys: refused, nothing written.
    let open = new_app(&s, vec![digest(40)]).await;
    let renewal = |identity: Vec<Digest>| NewApplication {
        id: ApplicationId::generate(),
        meta: meta("hn-ba-dinh-police", DataChecked),
        sealed: vec![9, 9],
        identity,
    };
    let mut a = registry_apply(0, registry_record(1, 1, Some(2)));
    let blocked = renewal(vec![digest(41), digest(40)]);
    a.renewal = Some(blocked.clone());
    let before = audit_len(&s).await;
    let r = s.apply_registry_change(a).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::ApplicationExists))), "{r:?}");
    assert_eq!(audit_len(&s).await, before);
    assert!(s.application(&blocked.id).await.unwrap().is_none());
    assert_eq!(s.application_by_identity(&digest(40)).await.unwrap().unwrap().0, open);
    assert!(s.application_by_identity(&digest(41)).await.unwrap().is_none());
    assert_eq!(s.registry_position().await.unwrap(), 0);
    // Once that application is closed, the renewal is filed with its change.
    let row = s.application(&open).await.unwrap().unwrap();
    s.update_application(change(&row, Rejected), audit("reject")).await.unwrap();
    let mut a = registry_apply(0, registry_record(1, 1, Some(2)));
    let filed = renewal(vec![digest(41), digest(40)]);
    a.renewal = Some(filed.clone());
    s.apply_registry_change(a).await.unwrap();
    let row = s.application(&filed.id).await.unwrap().unwrap();
    assert_eq!((row.version, row.meta.state, row.sealed), (1, DataChecked, vec![9, 9]));
    for key in [digest(40), digest(41)] {
        assert_eq!(s.application_by_identity(&key).await.unwrap().unwrap().0, filed.id);
    }
}

async fn registry_records_by_card_and_pending(s: Arc<dyn Store>) {
    for (after, seq, card, due) in [(0, 1, 1, Some(100)), (1, 2, 2, None), (2, 3, 1, Some(50)), (3, 4, 3, Some(10))] {
        s.apply_registry_change(registry_apply(after, registry_record(seq, card, due))).await.unwrap();
    }
    let seqs = |v: Vec<RegistryChangeRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(s.registry_changes_for_card(&digest(1)).await.unwrap()), vec![1, 3]);
    assert_eq!(seqs(s.registry_changes_for_card(&digest(2)).await.unwrap()), vec![2]);
    assert!(s.registry_changes_for_card(&digest(9)).await.unwrap().is_empty());
    assert_eq!(seqs(s.pending_registry_changes(60, 0, 10).await.unwrap()), vec![3, 4]);
    assert_eq!(seqs(s.pending_registry_changes(100, 0, 10).await.unwrap()), vec![1, 3, 4]);
    assert_eq!(seqs(s.pending_registry_changes(100, 1, 10).await.unwrap()), vec![3, 4]);
    assert_eq!(seqs(s.pending_registry_changes(100, 0, 2).await.unwrap()), vec![1, 3]);
    assert!(s.pending_registry_changes(9, 0, 10).await.unwrap().is_empty());
    // Settled: no longer pending; still found by card and in the feed order.
    let mut settled = registry_record(3, 1, None);
    settled.version = 2;
    s.settle_registry_change(RegistrySettle { record: settled, moves: Vec::new(), audit: Vec::new() }).await.unwrap();
    assert_eq!(seqs(s.pending_registry_changes(100, 0, 10).await.unwrap()), vec![1, 4]);
    assert_eq!(seqs(s.registry_changes_for_card(&digest(1)).await.unwrap()), vec![1, 3]);
    assert_eq!(seqs(s.registry_changes(1, 10).await.unwrap()), vec![2, 3, 4]);
    assert_eq!(seqs(s.registry_changes(0, 2).await.unwrap()), vec![1, 2]);
    assert!(s.registry_change(5).await.unwrap().is_none());
}

async fn credentials_are_found_by_card(s: Arc<dyn Store>) {
    let a = issued_credential(&s, 1, Some(digest(60))).await;
    let b = issued_credential(&s, 2, Some(digest(60))).await;
    let c = issued_credential(&s, 3, Some(digest(61))).await;
    issued_credential(&s, 4, None).await;
    let ids = |v: Vec<CredentialRow>| {
        let mut ids: Vec<CredentialId> = v.into_iter().map(|r| r.id).collect();
        ids.sort();
        ids
    };
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(ids(s.credentials_by_card(&digest(60)).await.unwrap()), want);
    assert_eq!(ids(s.credentials_by_card(&digest(61)).await.unwrap()), vec![c.clone()]);
    assert!(s.credentials_by_card(&digest(62)).await.unwrap().is_empty());
    assert_eq!(s.credential(&c).await.unwrap().unwrap().card, Some(digest(61)));
}

async fn first_publication_is_recorded_with_the_trust_list_and_never_moves(s: Arc<dyn Store>) {
    let list = |seq: u64| PublishedTrustList { seq, jws: format!("jws-{seq}") };
    let kids = |k: &[&str]| k.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
    assert!(s.keys_first_published().await.unwrap().is_empty());
    let before = audit_len(&s).await;
    assert!(s
        .publish_trust_list_naming(list(10), kids(&["a", "b"]), 100, audit("trust_list.published"))
        .await
        .unwrap());
    assert_eq!(s.trust_list().await.unwrap(), Some(list(10)));
    assert_eq!(s.keys_first_published().await.unwrap(), vec![("a".into(), 100), ("b".into(), 100)]);
    assert_eq!(audit_len(&s).await, before + 1);
    // A later list: a and b keep their first time, c gets this one.
    assert!(s.publish_trust_list_naming(list(11), kids(&["a", "b", "c"]), 200, audit("t")).await.unwrap());
    assert_eq!(s.keys_first_published().await.unwrap(), vec![("a".into(), 100), ("b".into(), 100), ("c".into(), 200)]);
    // An older or equal list: refused, and nothing of it recorded, audit included.
    let before = audit_len(&s).await;
    assert!(!s.publish_trust_list_naming(list(11), kids(&["d"]), 300, audit("t")).await.unwrap());
    assert!(!s.publish_trust_list_naming(list(5), kids(&["d"]), 300, audit("t")).await.unwrap());
    assert_eq!(s.keys_first_published().await.unwrap().len(), 3);
    assert_eq!(s.trust_list().await.unwrap(), Some(list(11)));
    assert_eq!(audit_len(&s).await, before);
    // The plain publication still moves the list forward (and records no key).
    assert!(s.publish_trust_list(list(12)).await.unwrap());
    assert!(!s.publish_trust_list_naming(list(12), kids(&["e"]), 400, audit("t")).await.unwrap());
    assert_eq!(s.keys_first_published().await.unwrap().len(), 3);
}

/// Issues a credential for a fresh approved application, signed by `kid`.
async fn issue_signed_by(s: &Arc<dyn Store>, n: u8, kid: &str) -> CredentialRow {
    match s.open_status_list(1, 1 << 20, audit("status_list.opened")).await {
        Ok(()) | Err(StoreError::Conflict(Conflict::StatusListExists)) => {}
        Err(e) => panic!("{e}"),
    }
    let app = approved_app(s, n, n).await;
    redeem(s, n, n.wrapping_add(100)).await.unwrap();
    let row = s.application(&app).await.unwrap().unwrap();
    let mut c = change(&row, enrollment::workflow::Status::Issued);
    let mut cred = credential(&app, u64::from(n));
    cred.kid = kid.to_owned();
    c.meta.credential = Some(cred.id.clone());
    s.issue_credential(
        Issuance { access: digest(n.wrapping_add(100)), app: c, credential: cred.clone(), nonces: vec![], now: 0 },
        audit("i"),
    )
    .await
    .unwrap();
    cred
}

async fn credentials_page_by_the_key_that_signed_them(s: Arc<dyn Store>) {
    let mut by_a = Vec::new();
    for n in 1..=7u8 {
        // A kid that contains the other as a prefix must not match it.
        let kid = if n % 2 == 1 { "kidA" } else { "kidAB" };
        let cred = issue_signed_by(&s, n, kid).await;
        if kid == "kidA" {
            by_a.push(cred);
        }
    }
    by_a.sort_by(|x, y| x.id.as_str().cmp(y.id.as_str()));
    let mut seen = Vec::new();
    let mut after: Option<CredentialId> = None;
    loop {
        let page = s.credentials_by_kid("kidA", after.as_ref(), 3).await.unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|c| c.id.clone());
        seen.extend(page);
    }
    assert_eq!(seen, by_a, "every credential of the key, once, in id order");
    assert_eq!(s.credentials_by_kid("kidAB", None, 100).await.unwrap().len(), 3);
    assert!(s.credentials_by_kid("nobody", None, 100).await.unwrap().is_empty());
    assert!(s.credentials_by_kid("kidA", None, 0).await.unwrap().is_empty());
}

async fn a_credential_is_reoffered_once_with_its_offer(s: Arc<dyn Store>) {
    let cred = issue_signed_by(&s, 1, "bad").await;
    let other = issue_signed_by(&s, 2, "bad").await;
    let row = s.application(&cred.application).await.unwrap().unwrap();
    let entry = |c: &CredentialRow, outcome: ReofferOutcome, notice: Option<Vec<u8>>| ReofferEntry {
        kid: "bad".into(),
        credential: c.id.clone(),
        application: c.application.clone(),
        at: 50,
        outcome,
        notice,
    };
    let offer = |row: &AppRow, code: u8| {
        let mut c = change(row, enrollment::workflow::Status::Issued);
        c.meta.offer = Some(OfferMeta { generation: 2, code: digest(code), expires_at: 90 });
        let code_row = CodeRow {
            application: row.id.clone(),
            generation: 2,
            expires_at: 90,
            access: None,
            tx_code: Some(digest(code ^ 0xff)),
            wrong_tx_codes: 0,
        };
        Reoffer { app: c, code_hash: digest(code), code: code_row }
    };
    let offered = entry(&cred, ReofferOutcome::Offered { generation: 2 }, Some(vec![9, 8, 7]));
    s.record_reoffer(offered.clone(), Some(offer(&row, 60)), audit("credential.reoffered")).await.unwrap();
    let after = s.application(&cred.application).await.unwrap().unwrap();
    assert_eq!(after.version, row.version + 1);
    assert_eq!(after.meta.offer.as_ref().map(|o| o.generation), Some(2));
    assert_eq!(s.code(&digest(60)).await.unwrap().map(|c| c.generation), Some(2));
    assert_eq!(s.reoffers("bad").await.unwrap(), vec![offered.clone()]);

    // Again, for the same credential (a resumed run, or another node): refused, nothing written.
    let before = audit_len(&s).await;
    let again = s.record_reoffer(offered.clone(), Some(offer(&after, 61)), audit("credential.reoffered")).await;
    assert!(matches!(again, Err(StoreError::Conflict(Conflict::AlreadyReoffered))), "{again:?}");
    let skip = entry(&cred, ReofferOutcome::Skipped { reason: "revoked".into() }, None);
    let again = s.record_reoffer(skip, None, audit("x")).await;
    assert!(matches!(again, Err(StoreError::Conflict(Conflict::AlreadyReoffered))), "{again:?}");
    assert_eq!(audit_len(&s).await, before);
    assert!(s.code(&digest(61)).await.unwrap().is_none());
    assert_eq!(s.application(&cred.application).await.unwrap().unwrap().version, after.version);

    // A change computed from an old version is refused and writes no entry.
    let other_row = s.application(&other.application).await.unwrap().unwrap();
    let mut stale = offer(&other_row, 62);
    stale.app.expected_version -= 1;
    let e = entry(&other, ReofferOutcome::Offered { generation: 2 }, None);
    let r = s.record_reoffer(e, Some(stale), audit("x")).await;
    assert!(matches!(r, Err(StoreError::Conflict(Conflict::ApplicationChanged))), "{r:?}");
    assert_eq!(s.reoffers("bad").await.unwrap().len(), 1);
    // A skip needs no offer.
    let skip = entry(&other, ReofferOutcome::Skipped { reason: "expired".into() }, None);
    s.record_reoffer(skip.clone(), None, audit("credential.reoffer_skipped")).await.unwrap();
    let all = s.reoffers("bad").await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&skip) && all.contains(&offered));
    assert!(s.reoffers("good").await.unwrap().is_empty());

    // The notice, once handed over, is dropped from the entry.
    s.reoffer_sent("bad", &cred.id, audit("offer.reoffer_sent")).await.unwrap();
    let sent = s.reoffers("bad").await.unwrap().into_iter().find(|e| e.credential == cred.id).unwrap();
    assert_eq!(sent.notice, None);
    assert_eq!(sent.outcome, ReofferOutcome::Offered { generation: 2 });
    let missing = s.reoffer_sent("bad", &CredentialId::generate(), audit("x")).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}
