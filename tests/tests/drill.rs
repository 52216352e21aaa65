//! The kill -9 drill through the real binary: 32 clients on the full pipeline, the node killed
//! with SIGKILL at ten random moments and restarted on the same folder and address. Nothing
//! acknowledged may be lost, no status index used twice, every credential must verify, and
//! every client whose request was cut off must obtain its credential by retrying.

use std::time::Duration;

use anyhow::Result;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ten_times_under_load_nothing_is_lost_and_no_one_is_stranded() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = e2e::drill::DrillConfig {
        clients: 32,
        kills: 10,
        min_gap: Duration::from_millis(300),
        max_gap: Duration::from_millis(1500),
        people: 20_000,
        extra: vec![],
    };
    let r = e2e::drill::drill(dir.path(), &cfg).await?;
    eprintln!(
        "kills {} issued {} retried {} stranded {} lost {} duplicate indices {} unverified {}",
        r.kills,
        r.issued,
        r.retried,
        r.stranded.len(),
        r.lost.len(),
        r.duplicate_indices.len(),
        r.unverified.len()
    );
    assert_eq!(r.kills, 10);
    assert!(r.issued >= 100, "only {} issuances", r.issued);
    assert!(r.retried > 0, "no request was cut off: the kills did not land under load");
    assert!(r.stranded.is_empty(), "stranded: {:?}", r.stranded);
    assert!(r.lost.is_empty(), "lost: {:?}", r.lost);
    assert!(r.duplicate_indices.is_empty(), "indices used twice: {:?}", r.duplicate_indices);
    assert!(r.unverified.is_empty(), "not verifying: {:?}", r.unverified);
    Ok(())
}
