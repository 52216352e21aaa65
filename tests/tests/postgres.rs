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
