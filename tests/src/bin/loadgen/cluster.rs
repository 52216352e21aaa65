//! `loadgen cluster-bench`: one embedded node, one PostgreSQL node and three PostgreSQL nodes
//! under the same load, with PostgreSQL's bare commit rate, in one run on one machine. CPU is
//! reported per process group (issuer nodes, PostgreSQL, the load generator itself) from
//! `/proc`, so each figure says which resource limited it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use e2e::load::{self, Client, Counter, Device, RunReport};
use serde_json::{json, Value};

/// Every busy jiffy of the machine so far (user, nice, system, irq, softirq, steal), as time.
fn machine_busy() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat.lines().next().ok_or_else(|| anyhow!("empty /proc/stat"))?;
    let f: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let busy = f.first().unwrap_or(&0)
        + f.get(1).unwrap_or(&0)
        + f.get(2).unwrap_or(&0)
        + f.get(5).unwrap_or(&0)
        + f.get(6).unwrap_or(&0)
        + f.get(7).unwrap_or(&0);
    Ok(Duration::from_millis(busy * 10))
}

/// Nodes answering for one issuer.
struct Fleet {
    nodes: Vec<e2e::Issuer>,
    clients: Vec<Client>,
    officer: String,
    dirs: Vec<PathBuf>,
    /// The PostgreSQL database the nodes share, if any.
    database: Option<String>,
}

impl Fleet {
    fn cpu(&self) -> Result<Duration> {
        let mut t = Duration::ZERO;
        for n in &self.nodes {
            t += load::cpu_time(n.pid())?;
        }
        Ok(t)
    }

    /// Bytes on disk: the nodes' folders, and the shared database's size.
    async fn disk(&self) -> u64 {
        let mut total: u64 = self.dirs.iter().map(|d| load::disk_usage(d)).sum();
        if let Some(url) = &self.database {
            if let Ok((c, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                if let Ok(row) = c.query_one("SELECT pg_database_size(current_database())", &[]).await {
                    total += row.get::<_, i64>(0) as u64;
                }
            }
        }
        total
    }
}

async fn fleet(dir: &Path, name: &str, registry: &Path, database: Option<&str>, nodes: usize) -> Result<Fleet> {
    let keys = dir.join(format!("{name}-keys")).to_string_lossy().into_owned();
    let mut started: Vec<e2e::Issuer> = Vec::new();
    for i in 0..nodes {
        let mut args: Vec<String> = vec!["--publish-interval-ms".into(), "1000".into()];
        if let Some(db) = database {
            args.extend([
                "--database".into(),
                db.into(),
                "--node".into(),
                format!("{name}-{i}"),
                "--keys".into(),
                keys.clone(),
            ]);
            if let Some(first) = started.first() {
                args.extend(["--public-url".into(), first.url.clone()]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        started.push(e2e::Issuer::start_with(&dir.join(format!("{name}-{i}")), registry, "127.0.0.1:0", &args)?);
    }
    let issuer = started[0].url.clone();
    let clients: Vec<Client> =
        started.iter().map(|n| Client::node_of(&format!("http://{}", n.addr()), &issuer)).collect();
    let admin = started[0].admin_token.clone().ok_or_else(|| anyhow!("no admin token"))?;
    let officer = load::officer(&clients[0], &admin).await?;
    let dirs = (0..nodes).map(|i| dir.join(format!("{name}-{i}"))).collect();
    Ok(Fleet { nodes: started, clients, officer, dirs, database: database.map(str::to_owned) })
}

/// Approved applications with redeemed tokens and proofs, spread over the nodes.
async fn prepare(f: &Fleet, counter: &Arc<Counter>, n: usize, workers: usize) -> Result<Vec<(usize, String, String)>> {
    let out = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let node = w % f.clients.len();
        let (c, officer, counter, out) = (f.clients[node].clone(), f.officer.clone(), counter.clone(), out.clone());
        let share = n / workers + usize::from(w < n % workers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                let (_, code) = load::enroll(&c, &officer, counter.next()).await?;
                let (access, nonce) = load::redeem(&c, &code).await?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                let proof = Device::generate().proof(&c.issuer, &nonce, now);
                out.lock().map_err(|_| anyhow!("poisoned"))?.push((node, access, proof));
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

/// Figures of one run: rate, latency, CPU by process group, disk.
fn figures(mut r: RunReport, issuer_cpu: Duration, machine_cpu: Duration, own_cpu: Duration, disk: u64) -> Value {
    let n = r.done.max(1) as f64;
    let secs = r.elapsed.as_secs_f64();
    let other = machine_cpu.saturating_sub(issuer_cpu).saturating_sub(own_cpu);
    json!({
        "issuances": r.done, "failed": r.failed, "timeouts": r.timeouts, "seconds": secs,
        "per_second": r.rate(),
        "p50_ms": r.latencies.percentile_ms(50.0), "p99_ms": r.latencies.percentile_ms(99.0),
        "cpu_ms_per_issuance": {
            "issuer_nodes": issuer_cpu.as_secs_f64() * 1000.0 / n,
            "database_and_rest": other.as_secs_f64() * 1000.0 / n,
            "load_generator": own_cpu.as_secs_f64() * 1000.0 / n,
        },
        "machine_busy_cores": machine_cpu.as_secs_f64() / secs.max(1e-9),
        "disk_bytes_per_issuance": disk as f64 / n,
        "first_error": r.first_error,
    })
}

/// Prepared credential requests (access token, proof) for one node.
type Queue = Arc<Mutex<Vec<(String, String)>>>;

async fn credentials(f: &Fleet, prepared: Vec<(usize, String, String)>, workers: usize) -> Result<Value> {
    let queues: Vec<Queue> = (0..f.clients.len()).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    for (node, a, p) in prepared {
        queues[node].lock().map_err(|_| anyhow!("poisoned"))?.push((a, p));
    }
    let (cpu0, m0, o0, d0) = (f.cpu()?, machine_busy()?, load::cpu_time(std::process::id())?, f.disk().await);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let node = w % f.clients.len();
        let (c, q) = (f.clients[node].clone(), queues[node].clone());
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
                        r.failed += 1;
                        r.first_error.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            r
        }));
    }
    let mut total = RunReport::default();
    for t in tasks {
        let r = t.await?;
        total.done += r.done;
        total.failed += r.failed;
        total.latencies.extend(r.latencies);
        total.first_error = total.first_error.or(r.first_error);
    }
    total.elapsed = start.elapsed();
    let (cpu, m, o, d) =
        (f.cpu()? - cpu0, machine_busy()? - m0, load::cpu_time(std::process::id())? - o0, f.disk().await);
    Ok(figures(total, cpu, m, o, d.saturating_sub(d0)))
}

async fn pipeline(f: &Fleet, counter: &Arc<Counter>, workers: usize, secs: Duration) -> Result<Value> {
    let (cpu0, m0, o0, d0) = (f.cpu()?, machine_busy()?, load::cpu_time(std::process::id())?, f.disk().await);
    let clients = f.clients.clone();
    let (officer, counter) = (f.officer.clone(), counter.clone());
    let r = load::run_for(workers, secs, move |unit| {
        let c = clients[(unit / 1_000_000) % clients.len()].clone();
        let (officer, p) = (officer.clone(), counter.next());
        async move { load::pipeline(&c, &officer, p).await.map(|_| ()) }
    })
    .await;
    let (cpu, m, o, d) =
        (f.cpu()? - cpu0, machine_busy()? - m0, load::cpu_time(std::process::id())? - o0, f.disk().await);
    Ok(figures(r, cpu, m, o, d.saturating_sub(d0)))
}

/// PostgreSQL's own durable commit rate: one small insert per transaction, from one connection
/// and from 32.
async fn bare_commits(url: &str, dur: Duration) -> Result<Value> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    c.batch_execute("CREATE TABLE bench (id bigserial PRIMARY KEY, v bytea NOT NULL)").await?;
    let st = c.prepare("INSERT INTO bench (v) VALUES ($1)").await?;
    let v = vec![7u8; 200];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        c.execute(&st, &[&v]).await?;
        n += 1;
    }
    let sequential = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            let st = c.prepare("INSERT INTO bench (v) VALUES ($1)").await?;
            let v = vec![7u8; 200];
            let mut n = 0u64;
            while start.elapsed() < dur {
                c.execute(&st, &[&v]).await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(json!({"sequential": sequential, "concurrent_32": total as f64 / start.elapsed().as_secs_f64()}))
}

pub async fn bench(workers: usize, secs: Duration, prepared: usize, json_out: Option<PathBuf>) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let cluster = e2e::pg::Cluster::start()?;
    eprintln!("PostgreSQL bare commits …");
    let bare = bare_commits(&cluster.database("bare").await?, Duration::from_secs(3)).await?;
    let registry = dir.join("registry.jsonl");
    load::write_registry(&registry, (prepared as u64 + 3000 * secs.as_secs()) * 3 + 10_000)?;
    let counter = Arc::new(Counter::starting_at(0));
    let mut out = json!({"clients": workers, "postgres_bare_commits_per_second": bare});
    for (name, database, nodes) in
        [("embedded", None, 1usize), ("postgres-1", Some("one"), 1), ("postgres-3", Some("three"), 3)]
    {
        eprintln!("{name}: starting …");
        let url = match database {
            Some(db) => Some(cluster.database(db).await?),
            None => None,
        };
        let f = fleet(dir, name, &registry, url.as_deref(), nodes).await?;
        eprintln!("{name}: credential endpoint, preparing {prepared} …");
        let batch = prepare(&f, &counter, prepared, workers).await?;
        let cred = credentials(&f, batch, workers).await?;
        eprintln!("{name}: full pipeline …");
        let pipe = pipeline(&f, &counter, workers, secs).await?;
        out[name] = json!({"nodes": nodes, "credential_endpoint": cred, "full_pipeline": pipe});
        drop(f);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    if let Some(p) = json_out {
        std::fs::write(p, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}
