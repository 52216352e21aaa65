//! The level-2 e-ID issuer: officers enroll foreign residents (TK01, biometrics, national-data
//! check, approval), wallets collect their credentials (OpenID4VCI, pre-authorized code, proof
//! of possession of the device key), and anyone can fetch the signed trust list and status lists
//! that verifiers sync for offline checks.
//!
//! # Layers
//!
//! ```text
//! http/     axum routers; parse -> one service call -> respond; errors mapped in one place
//! service/  the use cases; rules from `enrollment`, sealing, audit entries, typed errors
//! store/    trait Store (one method per atomic change) + engines + a conformance suite
//! custody, seal, clock, i18n, ids: as their names say
//! ```
//!
//! Dependencies run one way: `http → service → {store, custody, enrollment}`. The HTTP layer
//! knows no storage engine; the service knows no axum and no engine.

pub mod admin_cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod custody;
pub mod http;
pub mod i18n;
pub mod ids;
pub mod metrics;
pub mod offline;
pub mod seal;
pub mod server;
pub mod service;
pub mod store;
pub mod unlock;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use zeroize::Zeroizing;

pub use http::{app, app_with};

use crate::clock::Clock;
use crate::seal::Sealer;
use crate::service::{Parts, Service, Settings};
use crate::store::{Store, WriteGate};

/// Settings of `issuer serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// The base URL wallets and verifiers use; defaults to `http://{listen}`.
    pub public_url: Option<String>,
    pub registry: Option<PathBuf>,
    pub holidays: Option<PathBuf>,
    /// This node's name, when several nodes share one database: its signing keys are its own
    /// (`DATA/node-keys`), the root and the data keys come from the deployment keystore.
    pub node: Option<String>,
    /// The deployment keystore (root, data-sealing keys); default `DATA/keys`. Every node of a
    /// deployment must use the same one.
    pub keys: Option<PathBuf>,
    /// `postgres://…`: share this database with other nodes instead of the embedded store.
    pub database: Option<String>,
    /// Entries per status list, and when the next list is opened.
    pub status_capacity: u64,
    pub status_list_max_entries: u64,
    /// Status and trust list tokens are signed again on change at most this often.
    pub publish_interval: Duration,
    /// Writes in flight before new ones wait, and how long they wait before a 503.
    pub max_writes_in_flight: usize,
    pub write_wait: Duration,
    /// Where transaction codes are written for the SMS/e-mail gateway (JSON Lines); default
    /// [`default_outbox`].
    pub outbox: Option<PathBuf>,
    /// Digits of an offer's transaction code.
    pub tx_code_length: u32,
    /// The embedded engine refuses writes below this much free space (507).
    pub min_free_bytes: u64,
    /// Where `/metrics` is served (`None`: not at all).
    pub metrics_listen: Option<SocketAddr>,
    /// Timeouts and the connection cap.
    pub http: config::HttpLimits,
    pub rate_limits: config::RateLimits,
    pub health: config::Health,
    pub audit: config::AuditSettings,
    pub log_format: config::LogFormat,
    /// The registry's change log (JSON Lines, appended to; docs/registry.md): the change feed.
    pub registry_changes: Option<PathBuf>,
    /// How often the registry change job runs (`Duration::ZERO`: only when an admin asks).
    pub registry_sync_interval: Duration,
    /// Development keys beside the data (default), or production: no root private key on the
    /// node, a keystore opened with a passphrase ([`unlock`]).
    pub key_mode: unlock::KeyMode,
    /// Signing keys on a PKCS#11 token instead of in the keystore.
    pub hsm: Option<unlock::Hsm>,
    /// When the admin is warned before the active key stops signing, and how long a `next` key
    /// waits in a published trust list before it may sign (the verifiers' sync interval).
    pub rotation: keys::RotationPolicy,
    /// Most re-offers a re-issuance sends per second (the SMS/e-mail gateway's pace).
    pub reoffer_rate: u32,
}

impl Config {
    /// The defaults, for a data folder and a listen address.
    pub fn new(data: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data,
            listen,
            public_url: None,
            registry: None,
            holidays: None,
            node: None,
            keys: None,
            database: None,
            status_capacity: 1 << 20,
            status_list_max_entries: 1 << 19,
            publish_interval: Duration::from_secs(1),
            max_writes_in_flight: 1024,
            write_wait: Duration::from_secs(2),
            outbox: None,
            tx_code_length: 6,
            min_free_bytes: store::embedded::MIN_FREE_BYTES,
            metrics_listen: None,
            http: config::HttpLimits::default(),
            rate_limits: config::RateLimits::default(),
            health: config::Health::default(),
            audit: config::AuditSettings::default(),
            log_format: config::LogFormat::Human,
            registry_changes: None,
            registry_sync_interval: Duration::from_secs(300),
            key_mode: unlock::KeyMode::Development,
            hsm: None,
            rotation: keys::RotationPolicy::default(),
            reoffer_rate: 20,
        }
    }

    /// The deployment keystore's folder.
    pub fn keys_dir(&self) -> PathBuf {
        self.keys.clone().unwrap_or_else(|| self.data.join("keys"))
    }
}

/// What [`open_with`] started: the service, the first admin token when this start created it,
/// and the write gate (for the writes-in-flight metric).
#[derive(Debug)]
pub struct Opened {
    pub service: Arc<Service>,
    pub admin: Option<Zeroizing<String>>,
    pub gate: WriteGate,
}

/// Makes the data folder (0700: it holds the database and, by default, the keystore).
pub fn private_folder(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// Opens (or on first start, creates) everything under `config.data` and starts the service.
/// Returns the first admin token when this start created it.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<(Arc<Service>, Option<Zeroizing<String>>)> {
    let o = open_with(config, clock, None).await?;
    Ok((o.service, o.admin))
}

/// [`open`], reporting store commits to `metrics` when given.
pub async fn open_with(
    config: &Config,
    clock: Arc<dyn Clock>,
    metrics: Option<&metrics::Metrics>,
) -> anyhow::Result<Opened> {
    private_folder(&config.data)?;
    let now = clock.now();
    let keys_dir = config.keys_dir();
    let opened = unlock::open_keys(
        &config.key_mode,
        config.hsm.as_ref(),
        &keys_dir,
        &config.data.join("node-keys"),
        config.node.as_deref(),
        now,
    )?;
    let sealer = Sealer::new(&opened.data_key, opened.index_key.clone());
    let mut gate = WriteGate::new(config.max_writes_in_flight, config.write_wait);
    if let Some(m) = metrics {
        gate = gate.with_commit_timer(m.commit_seconds.clone());
    }
    let store: Arc<dyn Store> = match &config.database {
        None => {
            let options = store::embedded::Options { min_free_bytes: config.min_free_bytes };
            Arc::new(store::embedded::Embedded::open_with(&config.data.join("db"), gate.clone(), options)?)
        }
        Some(url) => Arc::new(store::postgres::Postgres::connect(url, gate.clone()).await?),
    };
    let url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
    let custody = Arc::new(opened.custody);
    let mut registry = match &config.registry {
        Some(p) => {
            enrollment::registry::FileRegistry::load(p).with_context(|| format!("loading registry {}", p.display()))?
        }
        None => enrollment::registry::FileRegistry::from_jsonl("")?,
    };
    if let Some(changes) = &config.registry_changes {
        registry = registry.with_change_log(changes);
    }
    let registry: Arc<dyn enrollment::registry::NationalRegistry> = Arc::new(registry);
    let holidays = match &config.holidays {
        Some(p) => enrollment::deadline::HolidayCalendar::load(p)
            .with_context(|| format!("loading holidays {}", p.display()))?,
        None => enrollment::deadline::HolidayCalendar::vietnam_2026_2027()?,
    };
    let mut settings = Settings::new(&url);
    settings.publish_interval = config.publish_interval;
    anyhow::ensure!(
        config.status_capacity >= 131_072 && config.status_capacity <= 1 << 26,
        "the status list capacity must be between 131072 and 67108864 entries"
    );
    settings.status_capacity = config.status_capacity;
    settings.status_list_max_entries = config.status_list_max_entries.clamp(1, config.status_capacity);
    anyhow::ensure!((4..=12).contains(&config.tx_code_length), "the transaction code length must be 4 to 12 digits");
    settings.tx_code_length = config.tx_code_length;
    settings.health = config.health.clone();
    settings.disk_floor = config.min_free_bytes.max(1 << 20);
    settings.rotation = config.rotation;
    settings.reoffer_rate = config.reoffer_rate.max(1);
    let outbox = config.outbox.clone().unwrap_or_else(|| default_outbox(&config.data));
    let notifier: Arc<dyn service::notify::Notifier> = Arc::new(service::notify::Outbox::new(outbox));
    let service = Service::start(Parts { store, custody, sealer, clock, registry, holidays, settings, notifier })
        .await
        .map_err(|e| anyhow::anyhow!("starting the service: {e}"))?;
    let admin = service.bootstrap_admin().await.map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
    service.audit_start(&opened.events).await.map_err(|e| anyhow::anyhow!("auditing the key events: {e}"))?;
    Ok(Opened { service, admin, gate })
}

/// The outbox file when none is given: beside the data folder (`./issuer-data` →
/// `./issuer-data-outbox.jsonl`), not in it. The outbox stands in for the SMS/e-mail gateway, a
/// system of its own, and holds what a gateway must read (phone, e-mail, the transaction code in
/// clear); the data folder holds no personal data or secret in clear (ARCHITECTURE.md).
pub fn default_outbox(data: &std::path::Path) -> PathBuf {
    match data.file_name() {
        Some(name) => data.with_file_name(format!("{}-outbox.jsonl", name.to_string_lossy())),
        None => data.join("outbox.jsonl"),
    }
}

/// Runs the service until Ctrl-C or SIGTERM, then shuts down gracefully: it stops accepting,
/// lets the requests in flight finish (at most `http.shutdown_grace_ms`), makes sure every
/// write the store took is durable, signs the audit chain's head, and returns.
pub async fn serve(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // With `--listen 127.0.0.1:0` the real port is known only now.
    config.listen = addr;
    let metrics_listener = match config.metrics_listen {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.with_context(|| format!("binding metrics on {a}"))?),
        None => None,
    };
    let metrics = Arc::new(metrics::Metrics::new());
    let opened = open_with(&config, clock, Some(&metrics)).await?;
    let service = opened.service.clone();
    custody_banner(&service);
    println!("root key (pin it in verifiers): {}", service.root_public());
    if let Some(token) = &opened.admin {
        // Printed once, to stdout only; the database keeps its hash.
        println!("FIRST ADMIN TOKEN (shown once, store it now): {}", token.as_str());
    }
    println!("store: {}", service.store().engine());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(l) = metrics_listener {
        let a = l.local_addr()?;
        println!("metrics on http://{a}/metrics");
        let scrape = metrics::Scrape { metrics: metrics.clone(), service: service.clone(), gate: opened.gate.clone() };
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let r = axum::serve(l, scrape.router()).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = r.await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    println!("issuer listening on http://{addr} as {}", service.issuer_url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::spawn(service.clone().run_publisher());
    tokio::spawn(service.clone().run_auditor(config.audit.clone()));
    if !config.registry_sync_interval.is_zero() {
        tokio::spawn(service.clone().run_registry_sync(config.registry_sync_interval));
    }
    let edge = Arc::new(http::limits::Edge::new(&config, Some(metrics.clone())));
    tokio::spawn(edge.clone().run_failure_reports(service.clone(), config.audit.failure_report_interval_s));
    let backups = service::backup::Sources::of(&config);
    let router = http::app_with(service.clone(), edge, backups);
    let limits = server::Limits::from(&config.http);
    let report = server::run(listener, router, limits, Some(metrics.clone()), shutdown()).await;
    let _ = stop_tx.send(true);
    tracing::info!(finished = report.finished, cut_off = report.cut_off, "stopped accepting; requests in flight done");
    // Every write the store accepted is durable once a no-op behind them is.
    service.store().ping().await.map_err(|e| anyhow::anyhow!("the store did not drain: {e}"))?;
    if let Err(e) = service.checkpoint_audit().await {
        tracing::warn!(error = %e, "no audit checkpoint at shutdown");
    }
    drop(opened);
    println!("issuer stopped");
    Ok(())
}

/// Says which key mode the node runs in, loudly when it is development mode (stdout and the log).
fn custody_banner(service: &Service) {
    let custody = service.custody();
    if custody.is_production() {
        println!(
            "production mode: no root private key on this node; signing keys in the {}; trust lists are signed \
             offline (GET /v1/admin/trust-list/pending, keys trust-list sign, POST /v1/admin/trust-list)",
            custody.backend()
        );
        tracing::info!(backend = custody.backend(), "production mode: the root key is offline");
        if service.trust_list_token().is_none() {
            tracing::warn!(
                "no signed trust list yet: verifiers cannot sync until an admin uploads one signed offline \
                 (docs/key-ceremony.md section 2)"
            );
        }
    } else {
        let banner = "DEVELOPMENT MODE: the root private key and a key file that unlocks every key are in the \
                      keys folder beside the data; anyone who can read it can sign credentials and trust lists. \
                      For a real deployment run `issuer serve --production --root-key KEY` (docs/key-ceremony.md).";
        // On stdout, and through the log (which may be JSON lines: no bare text on stderr).
        println!("{banner}");
        tracing::warn!("development mode: the root key is on this node");
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: no new connections; finishing the requests in flight");
}

/// The root public key (base64url) of the keystore under `data`, creating development keys on
/// first use.
pub fn root_key(data: &std::path::Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(data)?;
    let now = clock::SystemClock.now();
    let (ks, _) = keys::dev_init(&data.join("keys"), now)?;
    Ok(keys::Signer::public_key(&ks.root()?).to_string())
}
