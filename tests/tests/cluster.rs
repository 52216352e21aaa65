//! Several issuer nodes on one PostgreSQL (started by the test), and status lists that roll
//! over. The crash drill of three nodes is in `drill.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use anyhow::{anyhow, Result};
use e2e::load::{self, Client, Person};
use serde_json::{json, Value};

/// A bundle as `verifier sync` writes it, opened against the pinned root.
fn synced(bundle: &Path, root: &str) -> Result<verifier::TrustStore> {
    let b = verifier::Bundle::from_json(&std::fs::read(bundle)?).map_err(|e| anyhow!("bundle: {e}"))?;
    b.open_pinned(&root.parse().map_err(|_| anyhow!("root"))?).map_err(|e| anyhow!("bundle: {e}"))
}

fn sync(from: &str, root: &str, out: &Path) -> Result<()> {
    e2e::run_ok("verifier", &["sync", "--issuer", from, "--root-key", root, "--out", &out.to_string_lossy()])?;
    Ok(())
}

/// Syncs a bundle from `node` until `verdict` on its trust store says done (lists are signed
/// off the hot path, a publisher tick after a change); fails after 20 tries 250 ms apart,
/// with what the last try saw.
async fn sync_until(
    node: &str,
    root: &str,
    bundle: &Path,
    mut verdict: impl FnMut(&verifier::TrustStore) -> (bool, String),
) -> Result<()> {
    for _ in 0..20 {
        sync(node, root, bundle)?;
        let (done, seen) = verdict(&synced(bundle, root)?);
        if done {
            return Ok(());
        }
        eprintln!("{}: not yet: {seen}", bundle.display());
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (_, seen) = verdict(&synced(bundle, root)?);
    Err(anyhow!("from {node} after 20 syncs: {seen}"))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The kid and the status (list, index) of an SD-JWT VC, read without verifying.
fn kid_of(sd_jwt: &str) -> String {
    use base64::Engine as _;
    let header = sd_jwt.split('.').next().unwrap();
    let h: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_database_and_either_ones_bundle_verifies_both() -> Result<()> {
    let cluster = e2e::pg::Cluster::start()?;
    let db = cluster.database("two_nodes").await?;
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.jsonl");
    load::write_registry(&registry, 100)?;
    let keys = dir.path().join("deployment-keys").to_string_lossy().into_owned();
    let a = e2e::Issuer::start_with(
        &dir.path().join("a"),
        &registry,
        "127.0.0.1:0",
        &["--database", &db, "--node", "node-a", "--keys", &keys],
    )?;
    // Both nodes answer for one issuer (behind one public address in production).
    let b = e2e::Issuer::start_with(
        &dir.path().join("b"),
        &registry,
        "127.0.0.1:0",
        &["--database", &db, "--node", "node-b", "--keys", &keys, "--public-url", &a.url],
    )?;
    assert_eq!(a.root_key, b.root_key, "one deployment, one root");
    assert!(b.admin_token.is_none(), "the second node finds the first admin in the database");
    let (ca, cb) = (Client::new(&a.url), Client::node_of(&format!("http://{}", b.addr()), &b.url));
    let admin = a.admin_token.clone().unwrap();
    // One officer token, usable on either node.
    let officer = load::officer(&ca, &admin).await?;
    let mut issued = Vec::new();
    for (n, c) in [(0, &ca), (1, &cb)] {
        let v = load::pipeline(c, &officer, Person(n)).await?;
        issued.push(e2e::find_sd_jwt(&v).ok_or_else(|| anyhow!("no SD-JWT"))?);
    }
    assert_ne!(kid_of(&issued[0]), kid_of(&issued[1]), "each node signs with its own key");
    // Either node lists both nodes' keys; a bundle synced from either verifies both credentials.
    // Lists are published off the hot path (each node's publisher looks at the store at least
    // once a second): a verifier that syncs a moment later has both keys.
    let (va, vb) = (dir.path().join("a.bundle"), dir.path().join("b.bundle"));
    for (node, bundle) in [(a.url.clone(), &va), (format!("http://{}", b.addr()), &vb)] {
        sync_until(&node, &a.root_key, bundle, |store| {
            let outs: Vec<_> =
                issued.iter().map(|sd| store.verify_sd_jwt(sd, now(), &verifier::Policy::default(), None)).collect();
            let kids: Vec<String> = issued.iter().map(|s| kid_of(s)).collect();
            (outs.iter().all(|o| o.code() == "valid"), format!("{outs:?} ({kids:?})"))
        })
        .await?;
    }
    let (st, keys) = {
        let a = ca.get("/v1/admin/keys", Some(&admin)).await.unwrap();
        (a.status, a.json())
    };
    assert_eq!(st, 200);
    let nodes: Vec<&str> = keys["keys"].as_array().unwrap().iter().filter_map(|k| k["node"].as_str()).collect();
    assert!(nodes.contains(&"node-a") && nodes.contains(&"node-b"), "{keys}");

    // A status change through node b reaches node a's published list within seconds, and the
    // same idempotency key on the other node gets the first answer, not a second change.
    let view =
        cb.get(&format!("/v1/applications/{}", id_of(&cb, &officer, Person(0)).await?), Some(&officer)).await.unwrap();
    let cred = view.json()["credential_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/credentials/{cred}/status");
    let body = bytes::Bytes::from(json!({"status": "suspended"}).to_string());
    let first =
        cb.call_keyed("POST", &path, Some(&admin), Some("application/json"), body.clone(), Some("k-1")).await.unwrap();
    let again = ca.call_keyed("POST", &path, Some(&admin), Some("application/json"), body, Some("k-1")).await.unwrap();
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.json()["id"], again.json()["id"]);
    let audit = ca.get("/v1/admin/audit?limit=1000", Some(&admin)).await.unwrap().json();
    let changes =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["entry"]["action"] == "credential.status").count();
    assert_eq!(changes, 1, "the retry on the other node changed nothing");
    let other = bytes::Bytes::from(json!({"status": "revoked"}).to_string());
    let reused =
        ca.call_keyed("POST", &path, Some(&admin), Some("application/json"), other, Some("k-1")).await.unwrap();
    assert_eq!((reused.status, reused.error_code().as_str()), (422, "idempotency_key_reused"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        sync(&a.url, &a.root_key, &va)?;
        let code =
            synced(&va, &a.root_key)?.verify_sd_jwt(&issued[0], now(), &verifier::Policy::default(), None).code();
        if code == "invalid" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node a still publishes the credential as {code}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn id_of(c: &Client, officer: &str, p: Person) -> Result<String> {
    let body = json!({"nationality": p.form()["nationality"], "passport_number": p.passport()});
    let a = c.post_json("/v1/applications/lookup", Some(officer), &body).await.map_err(|e| anyhow!("{e}"))?;
    a.json()["id"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("lookup: {}", a.status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_roll_over_and_revocations_in_each_reach_a_synced_verifier() -> Result<()> {
    roll_over(&[]).await
}

/// The same on PostgreSQL: the lists open and fill through the shared database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_roll_over_on_postgres_too() -> Result<()> {
    let cluster = e2e::pg::Cluster::start()?;
    let db = cluster.database("rollover").await?;
    roll_over(&["--database", &db, "--node", "node-a"]).await
}

/// Issues 8 credentials with 3 per status list, revokes one in the first list and one in the
/// second, and checks a synced verifier sees exactly those two revoked.
async fn roll_over(extra: &[&str]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.jsonl");
    load::write_registry(&registry, 100)?;
    let mut args = vec!["--status-list-capacity", "131072", "--status-list-max-entries", "3"];
    args.extend_from_slice(extra);
    let node = e2e::Issuer::start_with(&dir.path().join("data"), &registry, "127.0.0.1:0", &args)?;
    let c = Client::new(&node.url);
    let admin = node.admin_token.clone().unwrap();
    let officer = load::officer(&c, &admin).await?;
    let mut creds = Vec::new();
    for n in 0..8 {
        let v = load::pipeline(&c, &officer, Person(n)).await?;
        let sd = e2e::find_sd_jwt(&v).ok_or_else(|| anyhow!("no SD-JWT"))?;
        let id = id_of(&c, &officer, Person(n)).await?;
        let cred = c.get(&format!("/v1/applications/{id}"), Some(&officer)).await.unwrap().json()["credential_id"]
            .as_str()
            .unwrap()
            .to_owned();
        creds.push((cred, sd));
    }
    let bundle = dir.path().join("b.bundle");
    sync(&node.url, &node.root_key, &bundle)?;
    let store = synced(&bundle, &node.root_key)?;
    let lists = store.trust_list().status_lists.clone();
    assert!(lists.len() >= 3, "8 credentials at 3 per list: {} lists", lists.len());
    // Which list each credential is in.
    let mut by_list: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, (_, sd)) in creds.iter().enumerate() {
        let ok = store.verify_sd_jwt(sd, now(), &verifier::Policy::default(), None).valid().unwrap();
        by_list.entry(ok.status.unwrap().0).or_default().push(i);
    }
    assert!(by_list.len() >= 3);
    // Revoke one credential in the first list and one in the second.
    let mut lists_in_order: Vec<_> = by_list.values().collect();
    lists_in_order.sort();
    let revoked = [lists_in_order[0][0], lists_in_order[1][0]];
    for &i in &revoked {
        let a = c
            .post_json(
                &format!("/v1/admin/credentials/{}/status", creds[i].0),
                Some(&admin),
                &json!({"status": "revoked"}),
            )
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    }
    // The changed lists are signed off the hot path (at most a publisher tick later).
    let want: Vec<&str> = (0..creds.len()).map(|i| if revoked.contains(&i) { "revoked" } else { "valid" }).collect();
    sync_until(&node.url, &node.root_key, &bundle, |store| {
        let codes: Vec<String> = creds
            .iter()
            .map(|(_, sd)| match store.verify_sd_jwt(sd, now(), &verifier::Policy::default(), None) {
                verifier::Outcome::Invalid(r) => r.reason.code().to_owned(),
                other => other.code().to_owned(),
            })
            .collect();
        (codes == want, format!("{codes:?}, want {want:?}"))
    })
    .await?;
    Ok(())
}
