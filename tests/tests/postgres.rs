//! The storage conformance suite against the PostgreSQL engine, on a cluster the test starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use issuer::store::postgres::Postgres;
use issuer::store::{Store, WriteGate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_engine_passes_the_conformance_suite() {
    let cluster = Arc::new(e2e::pg::Cluster::start().unwrap());
    let n = Arc::new(AtomicUsize::new(0));
    let fresh = {
        let cluster = cluster.clone();
        move || {
            let (cluster, n) = (cluster.clone(), n.clone());
            Box::pin(async move {
                let name = format!("conformance_{}", n.fetch_add(1, Ordering::SeqCst));
                let url = cluster.database(&name).await.unwrap();
                Arc::new(Postgres::connect(&url, WriteGate::default()).await.unwrap()) as Arc<dyn Store>
            }) as _
        }
    };
    issuer::store::conformance::run(&fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_restores_into_a_new_database_with_its_audit_chain() {
    use issuer::store::AuditEntry;
    let cluster = e2e::pg::Cluster::start().unwrap();
    let url = cluster.database("backup_source").await.unwrap();
    let store = Postgres::connect(&url, WriteGate::default()).await.unwrap();
    for i in 0..40 {
        store.append_audit(AuditEntry::new(i, "t", "a", "s", None)).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("pg.bak");
    store.backup(&backup).await.unwrap();
    let target = cluster.database("backup_target").await.unwrap();
    let rows = issuer::store::postgres::restore(&target, &backup).await.unwrap();
    assert!(rows >= 40, "{rows} rows restored");
    let restored = Postgres::connect(&target, WriteGate::default()).await.unwrap();
    let entries = restored.audit_page(None, 1000).await.unwrap();
    assert_eq!(entries, store.audit_page(None, 1000).await.unwrap());
    assert_eq!(restored.audit_head().await.unwrap(), store.audit_head().await.unwrap());
    // The chain goes on from the restored head.
    restored.append_audit(AuditEntry::new(99, "t", "after", "s", None)).await.unwrap();
    let all = restored.audit_page(None, 1000).await.unwrap();
    let mut w = issuer::store::audit_chain::Walker::default();
    for (seq, e) in &all {
        w.push(*seq, e);
    }
    w.finish(restored.audit_head().await.unwrap().as_ref());
    assert_eq!(w.problem, None);
    // Never into a database that holds data.
    assert!(issuer::store::postgres::restore(&target, &backup).await.is_err());
}

/// Changes do not queue on the audit chain's head row: with the row locked by another session
/// (as a chainer holds it), changes of two nodes still commit at once; their entries are staged,
/// and each node's chainer links them into one chain soon after, without anything reading the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_commit_while_the_chain_head_is_locked_and_their_entries_are_linked_soon_after() {
    use issuer::store::AuditEntry;
    use std::time::{Duration, Instant};
    let cluster = e2e::pg::Cluster::start().unwrap();
    let url = cluster.database("staging").await.unwrap();
    let nodes = [
        Arc::new(Postgres::connect(&url, WriteGate::default()).await.unwrap()),
        Arc::new(Postgres::connect(&url, WriteGate::default()).await.unwrap()),
    ];
    let (mut sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);

    // A change that took the head row would wait for it, and fail after the connection's
    // 5 s lock timeout: every change must succeed while the row stays locked.
    let holder = sql.transaction().await.unwrap();
    holder.execute("SELECT 1 FROM audit_head FOR UPDATE", &[]).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let node = nodes[i as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let audit = AuditEntry::new(i, "t", "setting.changed", &format!("k{i}"), None);
            node.put_setting(&format!("k{i}"), vec![1], Some(audit)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    holder.rollback().await.unwrap();

    // Linked by the nodes' chainers, with no read of the log to prompt them.
    let t0 = Instant::now();
    while count(&sql, "audit_pending").await > 0 {
        assert!(t0.elapsed() < Duration::from_secs(5), "staged entries still unlinked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&sql, "audit").await, 40);
    let all = nodes[1].audit_page(None, 1000).await.unwrap();
    assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=40).collect::<Vec<u64>>());
    let mut w = issuer::store::audit_chain::Walker::default();
    for (seq, e) in &all {
        w.push(*seq, e);
    }
    w.finish(nodes[0].audit_head().await.unwrap().as_ref());
    assert_eq!(w.problem, None, "the chain verifies");
}

async fn count(sql: &tokio_postgres::Client, table: &str) -> i64 {
    sql.query_one(format!("SELECT count(*) FROM {table}").as_str(), &[]).await.unwrap().get(0)
}

/// A backup taken while audit entries are still staged restores them, and the restored
/// database stages new ones after them (its sequences go on past the restored rows) and links
/// them all into one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_with_staged_audit_entries_restores_and_the_chain_goes_on() {
    use issuer::store::AuditEntry;
    let cluster = e2e::pg::Cluster::start().unwrap();
    let url = cluster.database("staged_source").await.unwrap();
    let store = Postgres::connect(&url, WriteGate::default()).await.unwrap();
    let (mut sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    // No chainer links anything while the head is locked here.
    let holder = sql.transaction().await.unwrap();
    holder.execute("SELECT 1 FROM audit_head FOR UPDATE", &[]).await.unwrap();
    for i in 0..5u64 {
        let audit = AuditEntry::new(i, "t", "setting.changed", &format!("k{i}"), None);
        store.put_setting(&format!("k{i}"), vec![1], Some(audit)).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("pg.bak");
    store.backup(&backup).await.unwrap();
    holder.rollback().await.unwrap();

    let target = cluster.database("staged_target").await.unwrap();
    issuer::store::postgres::restore(&target, &backup).await.unwrap();
    let (check, conn) = tokio_postgres::connect(&target, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    assert_eq!(count(&check, "audit_pending").await, 5, "the backup holds the staged entries");
    let restored = Postgres::connect(&target, WriteGate::default()).await.unwrap();
    let audit = AuditEntry::new(9, "t", "setting.changed", "after", None);
    restored.put_setting("after", vec![2], Some(audit)).await.unwrap();
    let all = restored.audit_page(None, 100).await.unwrap();
    let subjects: Vec<&str> = all.iter().map(|(_, e)| e.subject.as_str()).collect();
    assert_eq!(subjects, ["k0", "k1", "k2", "k3", "k4", "after"]);
    let mut w = issuer::store::audit_chain::Walker::default();
    for (seq, e) in &all {
        w.push(*seq, e);
    }
    w.finish(restored.audit_head().await.unwrap().as_ref());
    assert_eq!(w.problem, None, "the chain verifies");
}

/// A staged entry is linked as it was staged, every field kept: an entry staged by a node of a
/// newer version, with a field this version does not know, keeps that field, and its link's
/// hash covers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_entry_is_linked_with_every_field_it_holds() {
    use issuer::store::audit_chain;
    let cluster = e2e::pg::Cluster::start().unwrap();
    let url = cluster.database("fields").await.unwrap();
    let store = Postgres::connect(&url, WriteGate::default()).await.unwrap();
    let (sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let staged =
        serde_json::json!({"at": 7, "actor": "system", "action": "later.event", "subject": "x", "since_v9": [1, 2]});
    sql.execute("INSERT INTO audit_pending (entry) VALUES ($1)", &[&staged]).await.unwrap();
    let head = store.audit_head().await.unwrap().expect("linked");
    let row = sql.query_one("SELECT seq, entry FROM audit", &[]).await.unwrap();
    let (seq, mut stored): (i64, serde_json::Value) = (row.get(0), row.get(1));
    assert_eq!((seq, head.seq), (1, 1));
    assert_eq!(stored["since_v9"], serde_json::json!([1, 2]), "{stored}");
    let link = stored.as_object_mut().unwrap().remove("link").unwrap();
    assert_eq!(stored, staged);
    let hash = audit_chain::hash_canonical(1, &audit_chain::GENESIS, &audit_chain::canonical_value(staged));
    assert_eq!(link["hash"], serde_json::to_value(hash).unwrap());
    assert_eq!(head.hash, hash);
}

/// An auditor with a read-only role reads the log while entries are staged: linking them is
/// refused to that role, and the reader gets what is linked already instead of an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_role_reads_the_linked_log_while_entries_are_staged() {
    use issuer::store::AuditEntry;
    let cluster = e2e::pg::Cluster::start().unwrap();
    let url = cluster.database("readonly").await.unwrap();
    let store = Postgres::connect(&url, WriteGate::default()).await.unwrap();
    store.append_audit(AuditEntry::new(1, "t", "a", "linked", None)).await.unwrap();
    let (sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let staged = serde_json::json!({"at": 2, "actor": "t", "action": "a", "subject": "staged"});
    sql.batch_execute(
        "CREATE ROLE auditor LOGIN PASSWORD 'auditor-pw'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor;",
    )
    .await
    .unwrap();
    // Staged after the store's last look, and its own chainer stopped with it.
    drop(store);
    sql.execute("INSERT INTO audit_pending (entry) VALUES ($1)", &[&staged]).await.unwrap();
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.user("auditor").password("auditor-pw");
    let (host, port) = match (config.get_hosts().first(), config.get_ports().first()) {
        (Some(tokio_postgres::config::Host::Tcp(h)), Some(p)) => (h.clone(), *p),
        other => panic!("unexpected URL {other:?}"),
    };
    let auditor_url = format!("postgres://auditor:auditor-pw@{host}:{port}/readonly");
    let reader = Postgres::connect(&auditor_url, WriteGate::default()).await.unwrap();
    let page = reader.audit_page(None, 10).await.unwrap();
    assert_eq!(page.iter().map(|(_, e)| e.subject.as_str()).collect::<Vec<_>>(), ["linked"]);
    assert_eq!(reader.audit_head().await.unwrap().map(|h| h.seq), Some(1));
    assert_eq!(count(&sql, "audit_pending").await, 1, "nothing linked by the read-only role");
}
