//! `loadgen`: the issuer's load generator and crash drill (see BENCHMARKS.md).
//!
//! - `loadgen bench`: starts a release issuer on a fresh data folder and measures, in one run,
//!   the bare crypto rate, the engine's bare fsync-commit rate, the credential endpoint alone
//!   (then again with 4 status-list pollers in every other half-second slice, to measure what
//!   they cost) and the full pipeline, with latency percentiles,
//!   issuer CPU per issuance and bytes on disk per issuance.
//! - `loadgen drill`: the kill -9 drill.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Parser, Subcommand};
use e2e::load::{self, Client, Counter, Device, Latencies, RunReport};
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator and crash drill for the issuer")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Measure throughput, latency, CPU and disk per issuance.
    Bench {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds of the full-pipeline run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Credentials prepared for each credential-endpoint run.
        #[arg(long, default_value_t = 30_000)]
        prepared: usize,
        /// Where to keep the data folders (default: a temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Write the figures as JSON here too.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Each status-list poller's pause after each poll, in milliseconds (0: polls flat out).
        #[arg(long, default_value_t = 0)]
        poll_pause_ms: u64,
    },
    /// One embedded node, one PostgreSQL node and three PostgreSQL nodes (on a PostgreSQL this
    /// command starts), with PostgreSQL's bare commit rate, in one run.
    ClusterBench {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds of each full-pipeline run.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Credentials prepared for each credential-endpoint run.
        #[arg(long, default_value_t = 10_000)]
        prepared: usize,
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Poll one issuer's status list from `pollers` clients for `seconds`, and report the
    /// polls per second and the issuer's CPU per poll (`--pid`: the issuer's process).
    Poll {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 4)]
        pollers: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Kill the node with SIGKILL at random moments under load and check nothing is lost.
    Drill {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        kills: usize,
        #[arg(long, default_value_t = 500)]
        min_gap_ms: u64,
        #[arg(long, default_value_t = 2500)]
        max_gap_ms: u64,
        /// Persons in the synthetic registry (more than the drill will enroll).
        #[arg(long, default_value_t = 100_000)]
        people: u64,
        /// Run several nodes on this PostgreSQL database (with idempotency keys).
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 3)]
        nodes: usize,
    },
}

mod cluster;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let r = rt.block_on(async {
        match cli.cmd {
            Cmd::Bench { clients, seconds, prepared, dir, json, poll_pause_ms } => {
                let pause = Duration::from_millis(poll_pause_ms);
                bench(clients, Duration::from_secs(seconds), prepared, dir, json, pause).await
            }
            Cmd::Poll { url, pid, pollers, seconds } => poll(&url, pid, pollers, Duration::from_secs(seconds)).await,
            Cmd::ClusterBench { clients, seconds, prepared, json } => {
                cluster::bench(clients, Duration::from_secs(seconds), prepared, json).await
            }
            Cmd::Drill { clients, kills, min_gap_ms, max_gap_ms, people, database, nodes } => {
                let dir = tempfile::tempdir()?;
                let mut cfg = e2e::drill::DrillConfig::single(clients, kills, people);
                cfg.min_gap = Duration::from_millis(min_gap_ms);
                cfg.max_gap = Duration::from_millis(max_gap_ms);
                if let Some(db) = database {
                    cfg.database = Some(db);
                    cfg.nodes = nodes;
                    cfg.idempotency = true;
                }
                let r = e2e::drill::drill(dir.path(), &cfg).await?;
                println!("{}", r.summary());
                if !r.clean() {
                    bail!("drill failed: {r:?}");
                }
                Ok(())
            }
        }
    });
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Issuances per second of the bare signatures one issuance costs (4 Ed25519 signatures: the
/// SD-JWT and three QR credentials; 1 strict verification: the wallet's proof), on `threads`
/// threads for `dur`.
fn bare_crypto(threads: usize, dur: Duration) -> f64 {
    let key = SigningKey::from_bytes(&[7; 32]);
    let sd_jwt = vec![b'a'; 1400];
    let cose = vec![b'c'; 230];
    let proof = vec![b'p'; 420];
    let sig = key.sign(&proof);
    let vk = key.verifying_key();
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (key, sd_jwt, cose, proof) = (key.clone(), sd_jwt.clone(), cose.clone(), proof.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < dur {
                    let _ = key.sign(&sd_jwt);
                    for _ in 0..3 {
                        let _ = key.sign(&cose);
                    }
                    let _ = vk.verify_strict(&proof, &sig);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    n as f64 / start.elapsed().as_secs_f64()
}

/// The embedded engine's durable commits per second: one writer waiting for each commit
/// (every commit its own fdatasync), and 32 concurrent writers (group commit).
async fn bare_commits(dir: &std::path::Path, dur: Duration) -> Result<(f64, f64, f64)> {
    use issuer::store::{embedded::Embedded, AuditEntry, Store, WriteGate};
    let store = Arc::new(Embedded::open(&dir.join("bare-commit"), WriteGate::default())?);
    let entry = || AuditEntry::new(1, "bench", "bench.commit", "0123456789abcdef0123456789abcdef", None);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        store.append_audit(entry()).await?;
        n += 1;
    }
    let sequential = n as f64 / start.elapsed().as_secs_f64();
    let groups0 = store.groups();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < dur {
                if s.append_audit(entry()).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((sequential, total as f64 / secs, (store.groups() - groups0) as f64 / secs))
}

struct Node {
    issuer: e2e::Issuer,
    client: Client,
    officer: String,
    data: PathBuf,
}

async fn start_node(dir: &std::path::Path, name: &str, registry: &std::path::Path) -> Result<Node> {
    let data = dir.join(name);
    let issuer = e2e::Issuer::start_with(&data, registry, "127.0.0.1:0", &["--publish-interval-ms", "1000"])?;
    let client = Client::new(&issuer.url);
    let admin = issuer.admin_token.clone().ok_or_else(|| anyhow!("no admin token"))?;
    let officer = load::officer(&client, &admin).await?;
    Ok(Node { issuer, client, officer, data })
}

/// Prepares `n` approved applications with redeemed tokens and proofs, ready for the
/// credential endpoint.
async fn prepare(node: &Node, counter: &Arc<Counter>, n: usize, clients: usize) -> Result<Vec<(String, String)>> {
    let out = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut tasks = Vec::new();
    for w in 0..clients {
        let (c, officer, counter, out) = (node.client.clone(), node.officer.clone(), counter.clone(), out.clone());
        let share = n / clients + usize::from(w < n % clients);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                let (_, code) = load::enroll(&c, &officer, counter.next()).await?;
                let (access, nonce) = load::redeem(&c, &code).await?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                let proof = Device::generate().proof(&c.issuer, &nonce, now);
                out.lock().map_err(|_| anyhow!("poisoned"))?.push((access, proof));
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let v = std::mem::take(&mut *out.lock().map_err(|_| anyhow!("poisoned"))?);
    Ok(v)
}

/// Polls the first status list, pausing `pause` after each poll, while `go` says `Some(true)`;
/// idles while it says `Some(false)`, stops at `None`; the successful polls.
async fn poll_status(c: Client, pause: Duration, go: impl Fn() -> Option<bool>) -> u64 {
    let mut n = 0u64;
    while let Some(polling) = go() {
        if !polling {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        if matches!(c.get("/status-lists/1", None).await, Ok(a) if a.status == 200) {
            n += 1;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    n
}

/// Status-list polls alone: the issuer's CPU per poll.
async fn poll(url: &str, pid: u32, pollers: usize, dur: Duration) -> Result<()> {
    let c = Client::new(url);
    let cpu0 = load::cpu_time(pid)?;
    let until = Instant::now() + dur;
    let tasks: Vec<_> = (0..pollers)
        .map(|_| tokio::spawn(poll_status(c.clone(), Duration::ZERO, move || (Instant::now() < until).then_some(true))))
        .collect();
    let mut polls = 0;
    for t in tasks {
        polls += t.await?;
    }
    let cpu = load::cpu_time(pid)? - cpu0;
    println!(
        "{} polls/s, issuer CPU {:.1} µs per poll",
        polls as f64 / dur.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / polls.max(1) as f64
    );
    Ok(())
}

/// Runs the credential endpoint over prepared requests.
async fn credential_run(node: &Node, prepared: Vec<(String, String)>, clients: usize) -> Result<Value> {
    let queue = Arc::new(Mutex::new(prepared));
    let cpu0 = load::cpu_time(node.issuer.pid())?;
    let disk0 = load::disk_usage(&node.data);
    let report = drain(&node.client, queue, clients).await;
    let cpu = load::cpu_time(node.issuer.pid())? - cpu0;
    let disk = load::disk_usage(&node.data).saturating_sub(disk0);
    Ok(summary(report, cpu, disk))
}

/// What status-list pollers cost the credential endpoint, measured in one run so that the
/// machine's drift and the store's growth fall on both sides alike: the run is cut into
/// `slice`-long slices, taken in pairs, and the pollers poll without pause in one slice of each
/// pair, chosen at random. The cost is one minus the polled slices' mean rate over the other
/// slices' (rates from requests taken off the queue per slice); each pair's own cost is
/// reported too (median, least, most: a checkpoint stalls one slice of a pair at random, so
/// single pairs scatter widely). The last, partial pair is left out.
async fn interleaved_run(
    node: &Node,
    prepared: Vec<(String, String)>,
    clients: usize,
    pollers: usize,
    slice: Duration,
    pause: Duration,
) -> Result<Value> {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let queue = Arc::new(Mutex::new(prepared));
    let (on, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let mut poll_tasks = Vec::new();
    for _ in 0..pollers {
        let (on, stop) = (on.clone(), stop.clone());
        poll_tasks.push(tokio::spawn(poll_status(node.client.clone(), pause, move || {
            (!stop.load(Relaxed)).then(|| on.load(Relaxed))
        })));
    }
    let left = |q: &Mutex<Vec<(String, String)>>| q.lock().map(|v| v.len()).unwrap_or(0);
    let control = tokio::spawn({
        let (queue, on) = (queue.clone(), on.clone());
        async move {
            // (pollers on, requests taken) per whole slice; how long the pollers polled.
            let mut slices: Vec<(bool, usize)> = Vec::new();
            let mut polling = Duration::ZERO;
            let mut rng = rand_core::OsRng;
            loop {
                let first_on = rand_core::RngCore::next_u32(&mut rng) & 1 == 1;
                for polled in [first_on, !first_on] {
                    on.store(polled, Relaxed);
                    let (before, t0) = (left(&queue), Instant::now());
                    tokio::time::sleep(slice).await;
                    let after = left(&queue);
                    if polled {
                        polling += t0.elapsed();
                    }
                    if after == 0 {
                        on.store(false, Relaxed);
                        return (slices, polling);
                    }
                    slices.push((polled, before - after));
                }
            }
        }
    });
    let report = drain(&node.client, queue, clients).await;
    let (slices, polling) = control.await?;
    stop.store(true, Relaxed);
    let mut polls = 0;
    for t in poll_tasks {
        polls += t.await?;
    }
    let rate = |taken: usize| taken as f64 / slice.as_secs_f64();
    // Each pair's cost: its two slices are next to each other in time.
    let mut costs: Vec<f64> = slices
        .chunks_exact(2)
        .map(|p| {
            let (with, without) = if p[0].0 { (p[0].1, p[1].1) } else { (p[1].1, p[0].1) };
            100.0 * (1.0 - rate(with) / rate(without).max(1e-9))
        })
        .collect();
    costs.sort_by(f64::total_cmp);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let taken = |polled: bool| slices.iter().filter(|s| s.0 == polled).map(|s| rate(s.1)).collect::<Vec<_>>();
    Ok(json!({
        "issuances": report.done, "failed": report.failed, "timeouts": report.timeouts,
        "slice_seconds": slice.as_secs_f64(), "pairs": costs.len(),
        "cost_percent": 100.0 * (1.0 - mean(&taken(true)) / mean(&taken(false)).max(1e-9)),
        "cost_percent_median_pair": costs.get(costs.len() / 2).copied().unwrap_or(0.0),
        "cost_percent_min": costs.first().copied().unwrap_or(0.0),
        "cost_percent_max": costs.last().copied().unwrap_or(0.0),
        "per_second_with_pollers_mean": mean(&taken(true)), "per_second_without_mean": mean(&taken(false)),
        "status_polls_per_second": polls as f64 / polling.as_secs_f64().max(1e-9),
        "poll_pause_ms": pause.as_secs_f64() * 1000.0,
    }))
}

/// `clients` workers take prepared credential requests from the queue until it is empty.
async fn drain(c: &Client, queue: Arc<Mutex<Vec<(String, String)>>>, clients: usize) -> RunReport {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, q) = (c.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = RunReport::default();
            loop {
                let next = q.lock().ok().and_then(|mut v| v.pop());
                let Some((access, proof)) = next else { break };
                let t0 = Instant::now();
                match load::collect(&c, &access, &proof).await {
                    Ok(_) => {
                        r.done += 1;
                        r.latencies.push(t0.elapsed());
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        r.timeouts += u64::from(msg.contains("timed out"));
                        r.failed += 1;
                        r.first_error.get_or_insert(msg);
                    }
                }
            }
            r
        }));
    }
    let mut total = RunReport::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.done += r.done;
            total.failed += r.failed;
            total.timeouts += r.timeouts;
            total.latencies.extend(r.latencies);
            total.first_error = total.first_error.or(r.first_error);
        }
    }
    total.elapsed = start.elapsed();
    total
}

fn summary(mut r: RunReport, cpu: Duration, disk: u64) -> Value {
    let n = r.done.max(1) as f64;
    json!({
        "issuances": r.done, "failed": r.failed, "timeouts": r.timeouts,
        "seconds": r.elapsed.as_secs_f64(), "per_second": r.rate(),
        "p50_ms": r.latencies.percentile_ms(50.0), "p99_ms": r.latencies.percentile_ms(99.0),
        "max_ms": r.latencies.max_ms(),
        "cpu_ms_per_issuance": cpu.as_secs_f64() * 1000.0 / n,
        "disk_bytes_per_issuance": disk as f64 / n,
        "first_error": r.first_error,
    })
}

async fn bench(
    clients: usize,
    seconds: Duration,
    prepared: usize,
    dir: Option<PathBuf>,
    json_out: Option<PathBuf>,
    poll_pause: Duration,
) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    eprintln!("bare crypto …");
    let crypto1 = bare_crypto(1, Duration::from_secs(2));
    let crypto2 = bare_crypto(2, Duration::from_secs(2));
    eprintln!("bare commits …");
    let (commit_seq, commit_group, groups) = bare_commits(&dir, Duration::from_secs(2)).await?;
    let registry = dir.join("registry.jsonl");
    let people = (prepared as u64) * 3 + 4000 * seconds.as_secs() + 10_000;
    load::write_registry(&registry, people)?;
    let counter = Arc::new(Counter::starting_at(0));

    eprintln!("credential endpoint: preparing {prepared} …");
    let node = start_node(&dir, "cred", &registry).await?;
    let batch = prepare(&node, &counter, prepared, clients).await?;
    eprintln!("credential endpoint: running …");
    let cred = credential_run(&node, batch, clients).await?;
    // Twice as many: more pairs of slices.
    eprintln!("credential endpoint with 4 pollers in every other slice: preparing {} …", 2 * prepared);
    let batch = prepare(&node, &counter, 2 * prepared, clients).await?;
    eprintln!("credential endpoint with 4 pollers in every other slice: running …");
    let cred_polled = interleaved_run(&node, batch, clients, 4, Duration::from_millis(500), poll_pause).await?;
    node.issuer.kill();

    eprintln!("full pipeline …");
    let node = start_node(&dir, "pipeline", &registry).await?;
    let cpu0 = load::cpu_time(node.issuer.pid())?;
    let disk0 = load::disk_usage(&node.data);
    let (c, officer, ctr) = (node.client.clone(), node.officer.clone(), counter.clone());
    let until = Instant::now() + seconds;
    let probe = tokio::spawn({
        let (c, officer, ctr) = (node.client.clone(), node.officer.clone(), counter.clone());
        async move { load::probe(c, officer, Duration::from_millis(200), until, move || ctr.next()).await }
    });
    let run = load::run_for(clients, seconds, move |_| {
        let (c, officer, p) = (c.clone(), officer.clone(), ctr.next());
        async move { load::pipeline(&c, &officer, p).await.map(|_| ()) }
    })
    .await;
    let (mut probe_lat, probe_failed): (Latencies, u64) = probe.await?;
    let cpu = load::cpu_time(node.issuer.pid())? - cpu0;
    let disk = load::disk_usage(&node.data).saturating_sub(disk0);
    let pipeline = summary(run, cpu, disk);
    let data = node.data.clone();
    node.issuer.kill();
    let sizes = record_sizes(&data).await?;

    let out = json!({
        "clients": clients,
        "bare_crypto_per_second": {"one_thread": crypto1, "two_threads": crypto2},
        "bare_commits_per_second": {"sequential": commit_seq, "concurrent_32": commit_group, "group_commits": groups},
        "credential_endpoint": cred,
        "credential_endpoint_4_pollers_in_alternate_slices": cred_polled,
        "full_pipeline": pipeline,
        "fresh_request_probe": {"count": probe_lat.len(), "failed": probe_failed, "max_ms": probe_lat.max_ms(),
                                 "p99_ms": probe_lat.percentile_ms(99.0)},
        "stored_sizes": sizes,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    if let Some(p) = json_out {
        std::fs::write(p, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

/// The size of one sealed application record and one sealed biometric set, read back from the
/// pipeline run's store.
async fn record_sizes(data: &std::path::Path) -> Result<Value> {
    use issuer::store::{embedded::Embedded, Store, WriteGate};
    let mut store = None;
    for _ in 0..100 {
        if let Ok(s) = Embedded::open(&data.join("db"), WriteGate::default()) {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = store.ok_or_else(|| anyhow!("could not reopen the store"))?;
    let metas = store.application_metas(None).await?;
    let (id, _) = metas
        .iter()
        .find(|(_, m)| serde_json::to_value(m.state).ok() == Some(json!("issued")))
        .ok_or_else(|| anyhow!("no issued application"))?;
    let row = store.application(id).await?.ok_or_else(|| anyhow!("vanished"))?;
    let bio = store.biometrics(id).await?.map_or(0, |b| b.len());
    Ok(json!({"sealed_record_bytes": row.sealed.len(), "sealed_biometrics_bytes": bio,
              "applications": metas.len()}))
}
