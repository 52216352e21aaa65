//! The kill -9 drill through the real binary: 32 clients on the full pipeline, the node killed
//! with SIGKILL at ten random moments and restarted on the same folder and address. Nothing
//! acknowledged may be lost, no status index used twice, every credential must verify, and
//! every client whose request was cut off must obtain its credential by retrying.

use anyhow::Result;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ten_times_under_load_nothing_is_lost_and_no_one_is_stranded() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = e2e::drill::DrillConfig::single(32, 10, 20_000);
    let r = e2e::drill::drill(dir.path(), &cfg).await?;
    eprintln!("{}", r.summary());
    assert_eq!(r.kills, 10);
    assert!(r.issued >= 100, "only {} issuances", r.issued);
    assert!(r.retried > 0, "no request was cut off: the kills did not land under load");
    assert!(r.stranded.is_empty(), "stranded: {:?}", r.stranded);
    assert!(r.lost.is_empty(), "lost: {:?}", r.lost);
    assert!(r.duplicate_indices.is_empty(), "indices used twice: {:?}", r.duplicate_indices);
    assert!(r.duplicate_credentials.is_empty(), "applications with two credentials: {:?}", r.duplicate_credentials);
    assert!(r.stored_credentials >= r.issued, "{} acknowledged, {} stored", r.issued, r.stored_credentials);
    assert!(r.unverified.is_empty(), "not verifying: {:?}", r.unverified);
    Ok(())
}

/// The cluster drill: three nodes on one PostgreSQL, 32 clients spread over them sending officer
/// steps with idempotency keys and retrying on the next node; a node killed with SIGKILL three
/// times at random and restarted. No duplicate credential (every key's credentials listed from
/// the store), none lost, no client stranded, no status index used twice; then statuses changed
/// through different nodes must show in every node's published status lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgres_lose_nothing_when_one_is_killed() -> Result<()> {
    let cluster = e2e::pg::Cluster::start()?;
    let db = cluster.database("drill").await?;
    let dir = tempfile::tempdir()?;
    let mut cfg = e2e::drill::DrillConfig::single(32, 3, 20_000);
    cfg.nodes = 3;
    cfg.database = Some(db);
    cfg.idempotency = true;
    cfg.min_gap = std::time::Duration::from_millis(1500);
    cfg.max_gap = std::time::Duration::from_millis(3000);
    let r = e2e::drill::drill(dir.path(), &cfg).await?;
    eprintln!("{}", r.summary());
    assert_eq!(r.kills, 3);
    assert!(r.issued >= 50, "only {} issuances", r.issued);
    assert!(r.retried > 0, "no request was cut off: the kills did not land under load");
    assert!(r.stranded.is_empty(), "stranded: {:?}", r.stranded);
    assert!(r.lost.is_empty(), "lost: {:?}", r.lost);
    assert!(r.duplicate_indices.is_empty(), "indices used twice: {:?}", r.duplicate_indices);
    assert!(r.duplicate_credentials.is_empty(), "applications with two credentials: {:?}", r.duplicate_credentials);
    assert!(r.stored_credentials >= r.issued, "{} acknowledged, {} stored", r.issued, r.stored_credentials);
    assert!(r.unverified.is_empty(), "not verifying: {:?}", r.unverified);
    assert!(r.disagreeing_nodes.is_empty(), "nodes publishing other statuses: {:?}", r.disagreeing_nodes);
    Ok(())
}
