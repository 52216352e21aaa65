//! Operating the real binary on PostgreSQL (a cluster the test starts): `/readyz` fails while
//! the database is stalled (its processes stopped) and recovers when it resumes, while `/livez`
//! keeps answering; a backup taken beside the running node restores into a new database with
//! its audit chain intact; an audit entry edited in the database is named by
//! `issuer audit verify --database`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::pg::Cluster;
use e2e::Issuer;

/// Resumes the server whatever happens to the test.
struct Resume<'a>(&'a Cluster);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        let _ = self.0.signal("CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_the_database_is_stalled_and_audit_verify_finds_an_edit() -> Result<()> {
    let cluster = Cluster::start()?;
    let url = cluster.database("ops").await?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let issuer = Issuer::start(&data, &["--database", &url])?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 200, "{v}");

    // The database stops answering: the node is not ready, within the bound, and says why.
    cluster.signal("STOP")?;
    let resume = Resume(&cluster);
    let t = Instant::now();
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 503, "{v}");
    assert!(t.elapsed() < Duration::from_secs(5), "/readyz took {:?}", t.elapsed());
    let store = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "store").unwrap();
    assert_eq!(store["ok"], false, "{v}");
    assert!(store["detail"].as_str().unwrap().contains("no durable write within"), "{v}");
    let (st, _) = http.get("/livez", None)?;
    assert_eq!(st, 200, "the process still answers");
    drop(resume);
    // It resumes: ready again.
    let t0 = Instant::now();
    loop {
        let (st, v) = http.get("/readyz", None)?;
        if st == 200 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "not ready after the database resumed: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    e2e::enroll(&http, &officer, &e2e::kim_tk01())?;

    // An entry edited in the database.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let verify = |data: &std::path::Path| -> Result<(i32, serde_json::Value)> {
        let out =
            e2e::run("issuer", &["audit", "verify", "--database", &url, "--data", data.to_str().unwrap(), "--json"])?;
        Ok((out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout)?))
    };
    let (code, r) = verify(&data)?;
    assert_eq!(code, 0, "{r}");

    // A backup taken beside the running node, restored into a new database and data folder.
    let file = dir.path().join("pg.vnbak");
    e2e::run_ok(
        "issuer",
        &["backup", "--database", &url, "--data", data.to_str().unwrap(), "--out", file.to_str().unwrap()],
    )?;
    let target = cluster.database("ops_restored").await?;
    let fresh = dir.path().join("restored");
    let kek = data.join("keys/kek");
    let out = e2e::run_ok(
        "issuer",
        &[
            "restore",
            "--in",
            file.to_str().unwrap(),
            "--database",
            &target,
            "--data",
            fresh.to_str().unwrap(),
            "--key-file",
            kek.to_str().unwrap(),
        ],
    )?;
    assert!(out.contains("audit chain intact"), "{out}");
    let restored =
        e2e::run("issuer", &["audit", "verify", "--database", &target, "--data", fresh.to_str().unwrap(), "--json"])?;
    let r: serde_json::Value = serde_json::from_slice(&restored.stdout)?;
    assert_eq!((restored.status.code(), r["signatures_checked"].as_bool()), (Some(0), Some(true)), "{r}");

    let seq: i64 =
        client.query_one("SELECT seq FROM audit WHERE entry->>'action' = 'application.submitted'", &[]).await?.get(0);
    client
        .execute("UPDATE audit SET entry = jsonb_set(entry, '{actor}', '\"someone-else\"') WHERE seq = $1", &[&seq])
        .await?;
    let (code, r) = verify(&data)?;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["first_problem"]["problem"], serde_json::json!({"kind": "changed", "seq": seq}), "{r}");
    drop(issuer);
    Ok(())
}
