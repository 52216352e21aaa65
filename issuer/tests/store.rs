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
    let mut reopened = None;
    for _ in 0..50 {
        match Embedded::open(dir.path(), WriteGate::default()) {
            Ok(s) => {
                reopened = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let s = reopened.expect("reopen");
    assert_eq!(s.audit_page(None, 1000).await.unwrap().len(), 200);
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
