//! A short load run through the real binary (the long one is `loadgen bench`, BENCHMARKS.md):
//! 32 concurrent clients run the whole pipeline while a probe sends fresh requests; nothing may
//! time out or fail, and every fresh request must be answered within a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::load::{self, Client, Counter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_clients_on_the_full_pipeline_never_time_out_and_fresh_requests_stay_fast() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.jsonl");
    load::write_registry(&registry, 20_000)?;
    let data = dir.path().join("data");
    let node = e2e::Issuer::start_with(&data, &registry, "127.0.0.1:0", &[])?;
    let c = Client::new(&node.url);
    let officer = load::officer(&c, node.admin_token.as_deref().unwrap()).await?;
    let counter = Arc::new(Counter::starting_at(0));
    let secs = Duration::from_secs(8);
    let until = Instant::now() + secs;
    let probe = tokio::spawn({
        let (c, officer, ctr) = (c.clone(), officer.clone(), counter.clone());
        async move { load::probe(c, officer, Duration::from_millis(250), until, move || ctr.next()).await }
    });
    let (c2, o2, ctr) = (c.clone(), officer.clone(), counter.clone());
    let run = load::run_for(32, secs, move |_| {
        let (c, officer, p) = (c2.clone(), o2.clone(), ctr.next());
        async move { load::pipeline(&c, &officer, p).await.map(|_| ()) }
    })
    .await;
    let (probe_lat, probe_failed) = probe.await?;
    let disk = load::disk_usage(&data);
    eprintln!(
        "issued {} failed {} timeouts {} rate {:.0}/s; probe {} answered, {} failed, max {:.0} ms; disk {} KiB ({:.0} B/issuance)",
        run.done, run.failed, run.timeouts, run.rate(), probe_lat.len(), probe_failed, probe_lat.max_ms(),
        disk / 1024, disk as f64 / run.done.max(1) as f64
    );
    assert_eq!((run.failed, run.timeouts), (0, 0), "first error: {:?}", run.first_error);
    assert!(run.done >= 32, "only {} issuances", run.done);
    assert_eq!(probe_failed, 0);
    assert!(probe_lat.max_ms() < 1000.0, "a fresh request took {:.0} ms", probe_lat.max_ms());
    Ok(())
}
