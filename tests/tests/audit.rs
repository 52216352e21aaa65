//! The audit log you can prove, through the real binary: after a journey with signed
//! checkpoints along the way, `issuer audit verify` finds the chain intact; then, on copies of
//! the data folder edited the way an intruder with the disk would (the redb file opened
//! directly), it names the first entry changed, removed or reordered, the entries cut off the
//! end, and — when the intruder rewrote every link after an edit — the checkpoint whose signed
//! hash no longer matches. The admin API reports the same on a running node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use e2e::Issuer;
use issuer::store::{audit_chain, AuditEntry, AuditLink};
use redb::{ReadableTable, TableDefinition};
use serde_json::Value;

const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn copy(from: &Path, to: &Path) -> Result<PathBuf> {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    assert!(st.success());
    Ok(to.to_path_buf())
}

/// Opens a copy's database and hands `f` its audit table.
fn tamper(
    data: &Path,
    f: impl FnOnce(&mut redb::Table<'_, u64, &[u8]>, &mut redb::Table<'_, &str, &[u8]>),
) -> Result<()> {
    let db = redb::Database::open(data.join("db/issuer.redb"))?;
    let txn = db.begin_write()?;
    {
        let mut audit = txn.open_table(AUDIT)?;
        let mut meta = txn.open_table(META)?;
        f(&mut audit, &mut meta);
    }
    txn.commit()?;
    Ok(())
}

fn entry(t: &redb::Table<'_, u64, &[u8]>, seq: u64) -> AuditEntry {
    serde_json::from_slice(t.get(seq).unwrap().unwrap().value()).unwrap()
}

/// `issuer audit verify`: exit code and report.
fn verify(data: &Path) -> Result<(i32, Value)> {
    let out = e2e::run("issuer", &["audit", "verify", "--data", data.to_str().unwrap(), "--json"])?;
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        anyhow::anyhow!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })?;
    Ok((out.status.code().unwrap_or(-1), report))
}

#[test]
fn an_edited_removed_or_reordered_audit_entry_is_reported_by_audit_verify() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // Checkpoints every second, so there are several along the chain.
    let env = [("VNEID_AUDIT__CHECKPOINT_INTERVAL_S", "1")];
    let issuer = Issuer::start_env(&data, &[], &env, None)?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    std::thread::sleep(Duration::from_millis(1300));
    e2e::enroll(&http, &officer, &e2e::kim_tk01())?;
    std::thread::sleep(Duration::from_millis(1300));
    for name in ["o2", "o3", "o4", "o5"] {
        let body = serde_json::json!({"role": "officer", "name": name, "reception_point": "hn-ba-dinh-police"});
        assert_eq!(http.post("/v1/admin/tokens", Some(&admin), &body)?.0, 201);
    }
    let (st, online) = http.get("/v1/admin/audit/verify", Some(&admin))?;
    assert_eq!(st, 200, "{online}");
    assert_eq!(online["ok"], true, "{online}");
    assert!(online["checkpoints"].as_u64().unwrap() >= 2, "{online}");
    let (status, _) = issuer.terminate(Duration::from_secs(20))?;
    assert!(status.success());

    let (code, report) = verify(&data)?;
    assert_eq!(code, 0, "{report}");
    assert_eq!((report["ok"].as_bool(), report["signatures_checked"].as_bool()), (Some(true), Some(true)), "{report}");
    let n = report["entries"].as_u64().unwrap();
    assert!(n >= 15, "{report}");

    // Changed: one field of entry 5.
    let c = copy(&data, &dir.path().join("changed"))?;
    tamper(&c, |t, _| {
        let mut v: Value = serde_json::from_slice(t.get(5).unwrap().unwrap().value()).unwrap();
        v["actor"] = Value::String("someone-else".into());
        t.insert(5, serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
    })?;
    let (code, r) = verify(&c)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["first_problem"], serde_json::json!({"in": "chain", "problem": {"kind": "changed", "seq": 5}}), "{r}");

    // Removed: entry 6 gone.
    let c = copy(&data, &dir.path().join("removed"))?;
    tamper(&c, |t, _| {
        t.remove(6).unwrap();
    })?;
    let (code, r) = verify(&c)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["first_problem"]["problem"], serde_json::json!({"kind": "removed", "seq": 7, "at_end": false}), "{r}");

    // Reordered: entries 7 and 8 swapped.
    let c = copy(&data, &dir.path().join("reordered"))?;
    tamper(&c, |t, _| {
        let (a, b) = (t.get(7).unwrap().unwrap().value().to_vec(), t.get(8).unwrap().unwrap().value().to_vec());
        t.insert(7, b.as_slice()).unwrap();
        t.insert(8, a.as_slice()).unwrap();
    })?;
    let (code, r) = verify(&c)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        r["first_problem"]["problem"],
        serde_json::json!({"kind": "reordered", "seq": 7, "written_as": 8}),
        "{r}"
    );

    // Cut short: the last two entries gone, the head still naming the last.
    let c = copy(&data, &dir.path().join("truncated"))?;
    tamper(&c, |t, _| {
        t.remove(n).unwrap();
        t.remove(n - 1).unwrap();
    })?;
    let (code, r) = verify(&c)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        r["first_problem"]["problem"],
        serde_json::json!({"kind": "removed", "seq": n - 1, "at_end": true}),
        "{r}"
    );

    // Rewritten: entry 5 changed and every link after it recomputed, head included. The chain
    // holds together; the checkpoints signed after entry 5 do not.
    let c = copy(&data, &dir.path().join("rewritten"))?;
    tamper(&c, |t, meta| {
        let mut prev = entry(t, 4).link.unwrap().hash;
        let mut last: Option<AuditLink> = None;
        for seq in 5..=n {
            let mut e = entry(t, seq);
            if seq == 5 {
                e.actor = "someone-else".into();
            }
            let link = audit_chain::link(seq, prev, &mut e);
            t.insert(seq, serde_json::to_vec(&e).unwrap().as_slice()).unwrap();
            prev = link.hash;
            last = Some(link);
        }
        meta.insert("audit_head", serde_json::to_vec(&last.unwrap()).unwrap().as_slice()).unwrap();
    })?;
    let (code, r) = verify(&c)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["first_problem"]["in"], "checkpoint", "{r}");
    assert_eq!(r["first_problem"]["why"], "the chain's hash differs from the signed one", "{r}");

    // The admin API says the same on a node running on an edited copy.
    let c = copy(&data, &dir.path().join("changed-online"))?;
    tamper(&c, |t, _| {
        let mut v: Value = serde_json::from_slice(t.get(9).unwrap().unwrap().value()).unwrap();
        v["subject"] = Value::String("another-application".into());
        t.insert(9, serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
    })?;
    let issuer = Issuer::start(&c, &[])?;
    let (st, r) = issuer.http().get("/v1/admin/audit/verify", Some(&admin))?;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["first_problem"]["problem"], serde_json::json!({"kind": "changed", "seq": 9}), "{r}");
    Ok(())
}
