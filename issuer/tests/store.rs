//! The storage conformance suite against the embedded engine, plus what only an engine test can
//! show: changes survive closing and reopening the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use issuer::store::embedded::Embedded;
use issuer::store::{AuditEntry, Store, WriteGate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_passes_the_conformance_suite() {
    let dirs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = dirs.clone();
    let fresh = move || {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(Embedded::open(dir.path(), WriteGate::default()).unwrap());
        keep.lock().unwrap().push(dir);
        Box::pin(async move { store }) as _
    };
    issuer::store::conformance::run(&fresh).await;
}

/// Opens the store in `dir` again once the dropped one has let go of the file.
async fn reopen(dir: &std::path::Path) -> Embedded {
    for _ in 0..50 {
        match Embedded::open(dir, WriteGate::default()) {
            Ok(s) => return s,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Embedded::open(dir, WriteGate::default()).expect("reopen")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_reopening_and_group_commit_batches_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Embedded::open(dir.path(), WriteGate::default()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.append_audit(AuditEntry::new(i, "t", "a", "s", None)).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 200 concurrent changes need far fewer than 200 fsyncs.
    assert!(store.groups() < 200, "{} groups for 200 changes", store.groups());
    drop(store);
    // The writer thread lets go of the file once the store is dropped.
    let s = reopen(dir.path()).await;
    assert_eq!(s.audit_page(None, 1000).await.unwrap().len(), 200);
}

/// A crash image: the database file and its redo log as they are on disk at one instant while
/// the store runs (copied between two groups), opened elsewhere. The database file alone is at
/// its last checkpoint; the log brings back every acknowledged change after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_image_comes_back_with_every_acknowledged_change_from_the_redo_log() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let store = Arc::new(Embedded::open(&live, WriteGate::default()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..120 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.append_audit(AuditEntry::new(i, "t", "a", "s", None)).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let image = |name: &str, with_log: bool| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(live.join("issuer.redb"), to.join("issuer.redb")).unwrap();
        if with_log {
            std::fs::copy(live.join("issuer.wal"), to.join("issuer.wal")).unwrap();
        }
        to
    };
    let (whole, bare) = (image("whole", true), image("bare", false));
    drop(store);

    // Without its log the file is at the checkpoint made when the store opened: none of the
    // 120 (so the log, not redb's own commit, made them durable).
    let s = Embedded::open(&bare, WriteGate::default()).unwrap();
    assert_eq!(s.audit_page(None, 1000).await.unwrap().len(), 0);
    // With it: all 120, each once, in a chain that verifies.
    let s = Embedded::open(&whole, WriteGate::default()).unwrap();
    let page = s.audit_page(None, 1000).await.unwrap();
    assert_eq!(page.len(), 120);
    assert_eq!(page.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=120).collect::<Vec<u64>>());
    // The log was applied and checkpointed: more changes, then a clean reopen, keep all.
    s.append_audit(AuditEntry::new(121, "t", "a", "s", None)).await.unwrap();
    drop(s);
    assert_eq!(reopen(&whole).await.audit_page(None, 1000).await.unwrap().len(), 121);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_folder_is_told_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Embedded::open(dir.path(), WriteGate::default()).unwrap();
    let second = Embedded::open(dir.path(), WriteGate::default()).unwrap_err();
    let msg = second.to_string();
    assert!(msg.contains("another issuer is already using the data folder"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_the_gate_are_refused_as_busy_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Embedded::open(dir.path(), WriteGate::new(1, Duration::from_millis(1))).unwrap());
    // Hold the only place, then try another write.
    let permit = store.gate().enter().await.unwrap();
    let r = store.append_audit(AuditEntry::new(1, "t", "a", "s", None)).await;
    assert!(matches!(r, Err(issuer::store::StoreError::Busy)), "{r:?}");
    drop(permit);
    store.append_audit(AuditEntry::new(1, "t", "a", "s", None)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_restores_to_the_same_store_with_its_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Embedded::open(&dir.path().join("a"), WriteGate::default()).unwrap());
    // Writes keep coming while the backup is taken.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                store.append_audit(AuditEntry::new(i, "t", "a", "s", None)).await.unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let backup = dir.path().join("a.bak");
    store.backup(&backup).await.unwrap();
    writer.await.unwrap();
    Embedded::restore(&backup, &dir.path().join("b")).unwrap();
    let restored = Embedded::open(&dir.path().join("b"), WriteGate::default()).unwrap();
    // A prefix of the log, whole: every entry the backup holds links, up to its head.
    let entries = restored.audit_page(None, 10_000).await.unwrap();
    let head = restored.audit_head().await.unwrap();
    let mut w = issuer::store::audit_chain::Walker::default();
    for (seq, e) in &entries {
        w.push(*seq, e);
    }
    w.finish(head.as_ref());
    assert_eq!(w.problem, None);
    assert_eq!(head.map(|h| h.seq), entries.last().map(|(s, _)| *s));
    let original = store.audit_page(None, 10_000).await.unwrap();
    assert_eq!(original[..entries.len()], entries[..], "the backup is the store as of one commit");
    // It goes on from there.
    restored.append_audit(AuditEntry::new(1, "t", "after", "s", None)).await.unwrap();
    assert!(Embedded::restore(&backup, &dir.path().join("b")).is_err(), "never over a database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_as_disk_full_below_the_free_space_floor() {
    use issuer::store::embedded::Options;
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open_with(dir.path(), WriteGate::default(), Options { min_free_bytes: u64::MAX }).unwrap();
    let r = store.append_audit(AuditEntry::new(1, "t", "a", "s", None)).await;
    assert!(matches!(r, Err(issuer::store::StoreError::DiskFull)), "{r:?}");
    assert!(store.audit_page(None, 10).await.unwrap().is_empty(), "nothing was written");
}
