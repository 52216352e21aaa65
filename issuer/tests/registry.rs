//! Registry changes after issuance, in process with a clock the test moves: a revoked card
//! revokes, an expiry waits for the end of the card's last day in Vietnam, a replacement suspends
//! and opens a renewal that officers approve and the wallet redeems (then the old credential is
//! revoked), a reinstatement lifts only what the registry suspended; the holder is told in their
//! language, officers see it on their point's report, every change is audited with its registry
//! event, and the job's progress is on the admin API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use common::{kim, registry, Api, FRIDAY_9AM};
use enrollment::i18n::{Lang, Localizer};
use enrollment::registry_changes::{notice, ChangeReason};
use serde_json::{json, Value};
use time::macros::date;

struct Reg {
    api: Api,
    log: PathBuf,
}

impl Reg {
    async fn new() -> Self {
        let log = tempfile::tempdir().unwrap().keep().join("changes.jsonl");
        let path = log.clone();
        let api = Api::configured(registry(), move |c| c.registry_changes = Some(path)).await;
        Reg { api, log }
    }

    fn append(&self, line: Value) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        writeln!(f, "{line}").unwrap();
    }

    async fn sync(&self) -> issuer::service::registry_sync::SyncRun {
        let run = self.api.service.sync_registry("test").await.expect("no other run");
        assert_eq!(run.error, None, "{run:?}");
        run
    }

    /// Submits, captures, checks, approves and redeems; returns (application, credential).
    async fn enroll(&self, form: Value) -> (String, String) {
        let id = self.api.submit_with_biometrics(form).await;
        let (st, v) = self.officer(Method::POST, &format!("/v1/applications/{id}/national-check")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (st, offer) = self.officer(Method::POST, &format!("/v1/applications/{id}/approve")).await;
        assert_eq!(st, StatusCode::OK, "{offer}");
        self.api.redeem(offer["offer_uri"].as_str().unwrap(), offer["tx_code"].as_str().unwrap()).await;
        let cred = self.view(&id).await["credential_id"].as_str().unwrap().to_owned();
        (id, cred)
    }

    async fn officer(&self, method: Method, path: &str) -> (StatusCode, Value) {
        self.api.call(method, path, Some(&self.api.officer), None, json!({})).await
    }

    async fn view(&self, id: &str) -> Value {
        let (st, v) = self.officer(Method::GET, &format!("/v1/applications/{id}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v
    }

    async fn status(&self, credential: &str) -> &'static str {
        let store = self.api.service.store();
        let row = store.credential(&credential.parse().unwrap()).await.unwrap().unwrap();
        match store.status(row.status_list, row.status_idx).await.unwrap().unwrap() {
            0 => "valid",
            1 => "revoked",
            2 => "suspended",
            _ => "?",
        }
    }

    fn outbox(&self, kind: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.api.dir.path().join("outbox.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["kind"] == kind).collect()
    }

    async fn audit(&self) -> Vec<Value> {
        let (st, v) =
            self.api.call(Method::GET, "/v1/admin/audit?limit=1000", Some(&self.api.admin), None, Value::Null).await;
        assert_eq!(st, StatusCode::OK);
        v["entries"].as_array().unwrap().iter().map(|e| e["entry"].clone()).collect()
    }
}

fn change(seq: u64, card: &str, event: &str, reason: &str) -> Value {
    json!({"seq": seq, "card": card, "event": event, "at": "2026-11-27T08:30:00+07:00", "reason": reason})
}

fn wang() -> Value {
    json!({
        "full_name": "王芳", "full_name_latin": "WANG FANG", "sex": "F", "date_of_birth": "1985-11-03",
        "nationality": "CHN", "passport_number": "EA1234567",
        "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
        "address": "Tòa nhà Keangnam, Phạm Hùng, Nam Từ Liêm, Hà Nội", "phone": "+84 987 654 321",
        "email": "wang.fang@example.cn", "reception_point": "hn-ba-dinh-police"
    })
}

fn thomas() -> Value {
    json!({
        "full_name": "Thomas Müller", "sex": "M", "date_of_birth": "1983-09-25", "nationality": "DEU",
        "passport_number": "C01X00T47",
        "residence_card": {"number": "TRC0045678", "kind": "temporary", "issued_on": "2025-08-16", "expires_on": "2027-08-15"},
        "address": "5 Tràng Tiền, Hoàn Kiếm, Hà Nội", "phone": "0903111222",
        "email": "thomas.mueller@example.de", "reception_point": "hn-ba-dinh-police"
    })
}

#[tokio::test]
async fn a_revoked_card_revokes_the_credential_and_the_holder_is_told_in_korean() {
    let r = Reg::new().await;
    let (app, cred) = r.enroll(kim()).await;
    let (_, other) = r.enroll(thomas()).await;
    r.append(change(1, "TRC0012345", "revoked", "deportation"));
    r.append(change(4, "TRC9999999", "revoked", "deportation"));
    let run = r.sync().await;
    assert_eq!((run.applied, run.position, run.from_position), (2, 4, 0));
    assert_eq!(r.status(&cred).await, "revoked");
    assert_eq!(r.status(&other).await, "valid", "another card's credential is untouched");

    // Told, in Korean (nationality KOR), with what happened, what it means and what to do.
    let notices = r.outbox("registry_change");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    let want = notice(&Localizer::new().unwrap(), Lang::Ko, ChangeReason::CardRevoked, date!(2026 - 11 - 27), None);
    assert_eq!((n["lang"].as_str(), n["reason"].as_str()), (Some("ko"), Some("card_revoked")));
    assert_eq!((n["subject"].as_str(), n["text"].as_str()), (Some(want.subject.as_str()), Some(want.text.as_str())));
    assert_eq!((n["application"].as_str(), n["registry_seq"].as_u64()), (Some(app.as_str()), Some(1)));
    assert_eq!(n["sms"], "+84912345678");

    // Audited with the registry event that caused it; every feed entry once.
    let audit = r.audit().await;
    let status: Vec<&Value> =
        audit.iter().filter(|e| e["action"] == "credential.status" && e["subject"] == cred.as_str()).collect();
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0]["detail"],
        "revoked reason=card_revoked registry_seq=1 registry_event=revoked registry_reason=deportation"
    );
    assert_eq!(status[0]["actor"], "registry");
    let changes: Vec<&str> =
        audit.iter().filter(|e| e["action"] == "registry.change").map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(changes, vec!["1", "4"]);
    assert!(audit.iter().any(|e| e["action"] == "registry.notice_sent" && e["subject"] == app.as_str()));
    assert!(!serde_json::to_string(&audit).unwrap().contains("TRC0012345"), "no card number in the audit log");

    // Run again: nothing more happens.
    let run = r.sync().await;
    assert_eq!((run.applied, run.position), (0, 4));
    assert_eq!(r.outbox("registry_change").len(), 1);
    assert_eq!(r.audit().await.iter().filter(|e| e["action"] == "registry.change").count(), 2);

    // The officer's report names the change, for their point.
    let (st, v) = r.officer(Method::GET, "/v1/reports/registry-changes").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only the change that touched this point: {v}");
    assert_eq!(changes[0]["seq"], 1);
    assert_eq!(changes[0]["reason"], "card_revoked");
    assert_eq!(changes[0]["registry_reason"], "deportation");
    assert_eq!(changes[0]["credentials"][0]["to"], "revoked");
    assert_eq!(changes[0]["notice"]["state"], "sent");
    // The admin sees every change, touched or not.
    let (_, v) = r.api.call(Method::GET, "/v1/reports/registry-changes", Some(&r.api.admin), None, Value::Null).await;
    assert_eq!(v["changes"].as_array().unwrap().len(), 2, "{v}");
    // An officer of another point sees none of it.
    let (st, v) = r.officer(Method::GET, "/v1/reports/registry-changes?reception_point=hcm-kcn-tan-thuan").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn an_expiry_takes_effect_when_the_last_day_ends_in_vietnam() {
    let r = Reg::new().await;
    let (_, cred) = r.enroll(wang()).await;
    // Announced in the morning of its last day (2026-11-27, a Friday).
    let mut line = change(1, "TRC0023456", "expired", "expiry");
    line["last_valid_day"] = json!("2026-11-27");
    r.append(line);
    r.sync().await;
    assert_eq!(r.status(&cred).await, "valid", "still valid through its last day");
    assert!(r.outbox("registry_change").is_empty());
    // 23:59:59 in Hanoi: still valid.
    r.api.clock.set(FRIDAY_9AM + 15 * 3600 - 1);
    r.sync().await;
    assert_eq!(r.status(&cred).await, "valid");
    // Midnight: revoked, and the holder told (Chinese: nationality CHN), with the last valid day.
    r.api.clock.set(FRIDAY_9AM + 15 * 3600);
    let run = r.sync().await;
    assert_eq!((run.applied, run.settled), (0, 2), "the revocation, then the notice");
    assert_eq!(r.status(&cred).await, "revoked");
    let n = &r.outbox("registry_change")[0];
    let want = notice(&Localizer::new().unwrap(), Lang::ZhCn, ChangeReason::CardExpired, date!(2026 - 11 - 27), None);
    assert_eq!((n["lang"].as_str(), n["text"].as_str()), (Some("zh-CN"), Some(want.text.as_str())));
    let detail: Vec<String> = r
        .audit()
        .await
        .iter()
        .filter(|e| e["action"] == "credential.status")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        detail,
        vec!["revoked reason=card_expired registry_seq=1 registry_event=expired registry_reason=expiry deferred"]
    );
}

#[tokio::test]
async fn a_replaced_card_suspends_and_renews_without_a_new_enrollment() {
    let r = Reg::new().await;
    let (old_app, old) = r.enroll(thomas()).await;
    let mut line = change(1, "TRC0045678", "replaced", "new_employer");
    line["new_card"] =
        json!({"number": "TRC0099001", "kind": "temporary", "issued_on": "2026-11-20", "expires_on": "2029-11-19"});
    r.append(line);
    r.sync().await;
    assert_eq!(r.status(&old).await, "suspended");

    // The renewal: the officer finds it by the new card, checked, on the 3-day path.
    let (st, renewal) = r
        .api
        .call(
            Method::POST,
            "/v1/applications/lookup",
            Some(&r.api.officer),
            None,
            json!({"residence_card_number": "TRC0099001"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{renewal}");
    let renewal_id = renewal["id"].as_str().unwrap().to_owned();
    assert_ne!(renewal_id, old_app);
    assert_eq!(renewal["state"], "data_checked");
    assert_eq!(renewal["biometrics_on_file"], true);
    let cal = enrollment::deadline::HolidayCalendar::vietnam_2026_2027().unwrap();
    let due = enrollment::deadline::due_date(date!(2026 - 11 - 27), true, &cal);
    assert_eq!(renewal["due_on"], due.to_string());
    assert_eq!(renewal["form"]["residence_card"]["number"], "TRC0099001");
    assert_eq!(renewal["form"]["passport_number"], "C01X00T47");
    assert_eq!(renewal["history"][0]["actor"], "registry");
    // It shows on the deadline report like any application awaiting a decision.
    let (_, v) = r.officer(Method::GET, "/v1/reports/deadlines?soon_days=7").await;
    assert!(v.to_string().contains(&renewal_id), "{v}");

    // The holder was told (English: nationality DEU), with the decision day.
    let n = &r.outbox("registry_change")[0];
    let want =
        notice(&Localizer::new().unwrap(), Lang::En, ChangeReason::CardReplaced, date!(2026 - 11 - 27), Some(due));
    assert_eq!((n["lang"].as_str(), n["text"].as_str()), (Some("en"), Some(want.text.as_str())));
    let (_, report) = r.officer(Method::GET, "/v1/reports/registry-changes").await;
    assert_eq!(report["changes"][0]["renewal"]["application"], renewal_id.as_str());
    assert_eq!(report["changes"][0]["renewal"]["state"], "data_checked");

    // Approved: the offer response carries the transaction code; the outbox too, and the link.
    let (st, offer) = r.officer(Method::POST, &format!("/v1/applications/{renewal_id}/approve")).await;
    assert_eq!(st, StatusCode::OK, "{offer}");
    let (uri, tx_code) = (offer["offer_uri"].as_str().unwrap(), offer["tx_code"].as_str().unwrap());
    let codes = r.outbox("tx_code");
    let sent = codes.iter().find(|l| l["application"] == renewal_id.as_str()).expect("tx_code notice");
    assert_eq!(sent["tx_code"], tx_code);
    let link = &r.outbox("renewal_offer")[0];
    assert_eq!((link["link"].as_str(), link["sms"].clone()), (Some(uri), Value::Null));
    assert!(link["text"].as_str().unwrap().contains(uri));
    assert_eq!(r.view(&renewal_id).await["eid_number"], r.view(&old_app).await["eid_number"], "same e-ID number");

    // Redeemed: the new credential is valid; the old one is revoked for good.
    r.api.redeem(uri, tx_code).await;
    let new = r.view(&renewal_id).await["credential_id"].as_str().unwrap().to_owned();
    assert_eq!(r.status(&new).await, "valid");
    assert_eq!(r.status(&old).await, "revoked");
    let row = r.api.service.store().credential(&new.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.card, Some(r.api.service.card_index("TRC0099001")));
    let (_, report) = r.officer(Method::GET, "/v1/reports/registry-changes").await;
    assert_eq!(report["changes"][0]["renewal"]["closed"], "issued");
    assert_eq!(report["changes"][0]["pending"], false);
    let revoked = r
        .audit()
        .await
        .into_iter()
        .find(|e| {
            e["action"] == "credential.status"
                && e["subject"] == old.as_str()
                && e["detail"].as_str().unwrap().starts_with("revoked")
        })
        .unwrap();
    assert_eq!(
        revoked["detail"].as_str().unwrap(),
        format!("revoked reason=card_replaced registry_seq=1 registry_event=replaced registry_reason=new_employer renewal={renewal_id} renewal_state=issued")
    );
    // The job finds nothing left to do.
    let run = r.sync().await;
    assert_eq!((run.applied, run.settled), (0, 0));
}

#[tokio::test]
async fn a_rejected_renewal_leaves_the_old_credential_revoked() {
    let r = Reg::new().await;
    let (_, old) = r.enroll(kim()).await;
    let mut line = change(1, "TRC0012345", "replaced", "change_of_status");
    line["new_card"] =
        json!({"number": "PRC0099003", "kind": "permanent", "issued_on": "2026-11-20", "expires_on": "2036-11-19"});
    r.append(line);
    r.sync().await;
    assert_eq!(r.status(&old).await, "suspended");
    let (_, report) = r.officer(Method::GET, "/v1/reports/registry-changes").await;
    let renewal = report["changes"][0]["renewal"]["application"].as_str().unwrap().to_owned();
    let (st, v) = r
        .api
        .call(
            Method::POST,
            &format!("/v1/applications/{renewal}/reject"),
            Some(&r.api.officer),
            None,
            json!({"reason": "the holder has left Vietnam"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(r.status(&old).await, "suspended", "until the job runs");
    let run = r.sync().await;
    assert_eq!(run.settled, 1);
    assert_eq!(r.status(&old).await, "revoked", "the card it rested on is no longer in force");
    let (_, report) = r.officer(Method::GET, "/v1/reports/registry-changes").await;
    assert_eq!(report["changes"][0]["renewal"]["closed"], "rejected");
    assert_eq!(report["next_after"], Value::Null);
}

#[tokio::test]
async fn a_reinstated_card_lifts_only_what_the_registry_suspended() {
    let r = Reg::new().await;
    let (_, cred) = r.enroll(kim()).await;
    let mut line = change(1, "TRC0012345", "replaced", "renewal");
    line["new_card"] =
        json!({"number": "TRC0099002", "kind": "temporary", "issued_on": "2026-11-20", "expires_on": "2029-11-19"});
    r.append(line);
    r.append(change(2, "TRC0012345", "reinstated", "decision_annulled"));
    r.sync().await;
    assert_eq!(r.status(&cred).await, "valid", "suspended by seq 1, reinstated by seq 2");
    let reasons: Vec<String> =
        r.outbox("registry_change").iter().map(|n| n["reason"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reasons, vec!["card_replaced", "card_reinstated"]);
    // An admin's suspension is not the registry's to lift.
    let (st, _) = r
        .api
        .call(
            Method::POST,
            &format!("/v1/admin/credentials/{cred}/status"),
            Some(&r.api.admin),
            None,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    r.append(change(3, "TRC0012345", "reinstated", "decision_annulled"));
    r.sync().await;
    assert_eq!(r.status(&cred).await, "suspended");
    assert_eq!(r.outbox("registry_change").len(), 2, "nothing changed, nobody told");
}

#[tokio::test]
async fn the_job_runs_on_request_and_reports_progress() {
    let r = Reg::new().await;
    for seq in 1..=40 {
        r.append(change(seq, &format!("TRC77{seq:05}"), "revoked", "deportation"));
    }
    let admin = Some(r.api.admin.as_str());
    let (st, v) = r.api.call(Method::GET, "/v1/admin/registry/sync", admin, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["position"].as_u64(), v["backlog"].as_u64(), v["running"].as_bool()),
        (Some(0), Some(40), Some(false))
    );
    let (st, v) = r.api.call(Method::POST, "/v1/admin/registry/sync", admin, None, Value::Null).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let mut last = Value::Null;
    for _ in 0..500 {
        let (_, v) = r.api.call(Method::GET, "/v1/admin/registry/sync", admin, None, Value::Null).await;
        if v["running"] == false && v["run"]["finished_at"].is_u64() {
            last = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last["position"], 40, "{last}");
    assert_eq!(last["backlog"], 0);
    assert_eq!((last["run"]["trigger"].as_str(), last["run"]["applied"].as_u64()), (Some("admin"), Some(40)));
    assert!(r.audit().await.iter().any(|e| e["action"] == "registry.sync_requested"));
    // Officers may not run it or read it.
    for method in [Method::GET, Method::POST] {
        let (st, _) = r.officer(method, "/v1/admin/registry/sync").await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_bad_feed_entry_stops_the_run_there_and_nothing_behind_it_is_skipped() {
    let r = Reg::new().await;
    let (_, cred) = r.enroll(kim()).await;
    r.append(change(1, "TRC7700001", "revoked", "deportation"));
    std::fs::OpenOptions::new().append(true).open(&r.log).unwrap().write_all(b"{\"seq\": 2, oops\n").unwrap();
    r.append(change(3, "TRC0012345", "revoked", "deportation"));
    let run = r.api.service.sync_registry("test").await.unwrap();
    assert!(run.error.as_deref().is_some_and(|e| e.contains("line 2")), "{run:?}");
    assert_eq!(run.position, 1);
    assert_eq!(r.status(&cred).await, "valid");
    // Corrected by the registry: the run carries on from there.
    let text = std::fs::read_to_string(&r.log)
        .unwrap()
        .replace("{\"seq\": 2, oops", &change(2, "TRC7700002", "revoked", "x").to_string());
    std::fs::write(&r.log, text).unwrap();
    let run = r.sync().await;
    assert_eq!((run.applied, run.position), (2, 3));
    assert_eq!(r.status(&cred).await, "revoked");
}
