//! A short load run through the real binary (the long one is `loadgen bench`, BENCHMARKS.md):
//! 32 concurrent clients run the whole pipeline while a probe sends fresh requests; nothing may
//! time out or fail, and every fresh request must be answered within a second. `/metrics`,
//! scraped during the run, shows the figures docs/operations.md tells operators to watch.
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
    // Prometheus scrapes during the run.
    let scraper = tokio::spawn({
        let url = node.metrics_url.clone().unwrap();
        async move {
            let mut last = String::new();
            while Instant::now() + Duration::from_secs(2) < until {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let url = url.clone();
                if let Ok(Some(text)) =
                    tokio::task::spawn_blocking(move || ureq::get(&url).call().ok().and_then(|r| r.into_string().ok()))
                        .await
                {
                    last = text;
                }
            }
            last
        }
    });
    let (c2, o2, ctr) = (c.clone(), officer.clone(), counter.clone());
    let run = load::run_for(32, secs, move |_| {
        let (c, officer, p) = (c2.clone(), o2.clone(), ctr.next());
        async move { load::pipeline(&c, &officer, p).await.map(|_| ()) }
    })
    .await;
    let scraped = scraper.await?;
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
    // The figures an operator watches, taken while the load ran (docs/operations.md).
    let value = |prefix: &str| -> f64 {
        scraped
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    };
    for (series, at_least) in [
        ("issuer_http_requests_total{method=\"POST\",route=\"/credential\",status=\"200\"}", 1.0),
        ("issuer_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/applications\"}", 1.0),
        ("issuer_store_commit_seconds_count", 1.0),
        ("issuer_credentials_issued_total{kind=\"new\"}", 1.0),
        ("issuer_applications_overdue{reception_point=\"hn-ba-dinh-police\"}", 0.0),
        ("issuer_signing_key_days_left", 300.0),
        ("issuer_published_list_age_seconds{list=\"trust_list\"}", 0.0),
        ("issuer_published_list_age_seconds{list=\"status_list/1\"}", 0.0),
        ("issuer_store_writes_in_flight", 0.0),
        ("issuer_auth_failures_total", 0.0),
        ("issuer_http_connections_open", 1.0),
        ("issuer_ready", 1.0),
    ] {
        assert!(scraped.contains(series), "{series} is not in the scrape:\n{scraped}");
        assert!(value(series) >= at_least, "{series} = {} < {at_least}", value(series));
    }
    Ok(())
}
