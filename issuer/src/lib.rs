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

pub mod clock;
pub mod console;
pub mod custody;
pub mod http;
pub mod i18n;
pub mod ids;
pub mod seal;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use zeroize::Zeroizing;

pub use http::app;

use crate::clock::Clock;
use crate::custody::Custody;
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
    pub node: Option<String>,
    /// Status and trust list tokens are signed again on change at most this often.
    pub publish_interval: Duration,
    /// Writes in flight before new ones wait, and how long they wait before a 503.
    pub max_writes_in_flight: usize,
    pub write_wait: Duration,
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
            publish_interval: Duration::from_secs(1),
            max_writes_in_flight: 1024,
            write_wait: Duration::from_secs(2),
        }
    }
}

/// Opens (or on first start, creates) everything under `config.data` and starts the service.
/// Returns the first admin token when this start created it.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<(Arc<Service>, Option<Zeroizing<String>>)> {
    std::fs::create_dir_all(&config.data).with_context(|| format!("creating {}", config.data.display()))?;
    let now = clock.now();
    let (keystore, _created) = keys::dev_init(&config.data.join("keys"), now).context("opening the keystore")?;
    let (data_key, index_key) =
        (keystore.derive_secret("issuer/records/v1")?, keystore.derive_secret("issuer/blind-index/v1")?);
    let sealer = Sealer::new(&data_key, index_key);
    let gate = WriteGate::new(config.max_writes_in_flight, config.write_wait);
    let store: Arc<dyn Store> = Arc::new(store::embedded::Embedded::open(&config.data.join("db"), gate)?);
    let url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
    let custody = Arc::new(Custody::new(keystore, config.node.clone())?);
    let registry: Arc<dyn enrollment::registry::NationalRegistry> = match &config.registry {
        Some(p) => Arc::new(
            enrollment::registry::FileRegistry::load(p).with_context(|| format!("loading registry {}", p.display()))?,
        ),
        None => Arc::new(enrollment::registry::FileRegistry::from_jsonl("")?),
    };
    let holidays = match &config.holidays {
        Some(p) => enrollment::deadline::HolidayCalendar::load(p)
            .with_context(|| format!("loading holidays {}", p.display()))?,
        None => enrollment::deadline::HolidayCalendar::vietnam_2026_2027()?,
    };
    let mut settings = Settings::new(&url);
    settings.publish_interval = config.publish_interval;
    let service = Service::start(Parts { store, custody, sealer, clock, registry, holidays, settings })
        .await
        .map_err(|e| anyhow::anyhow!("starting the service: {e}"))?;
    let admin = service.bootstrap_admin().await.map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
    Ok((service, admin))
}

/// Runs the service until Ctrl-C or SIGTERM.
pub async fn serve(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // With `--listen 127.0.0.1:0` the real port is known only now.
    config.listen = addr;
    let (service, admin) = open(&config, clock).await?;
    println!("root key (pin it in verifiers): {}", service.root_public());
    if let Some(token) = admin {
        // Printed once, to stdout only; the database keeps its hash.
        println!("FIRST ADMIN TOKEN (shown once, store it now): {}", token.as_str());
    }
    println!("store: {}", service.store().engine());
    println!("issuer listening on http://{addr} as {}", service.issuer_url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::spawn(service.clone().run_publisher());
    axum::serve(listener, app(service)).with_graceful_shutdown(shutdown()).await?;
    Ok(())
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
}

/// The root public key (base64url) of the keystore under `data`, creating development keys on
/// first use.
pub fn root_key(data: &std::path::Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(data)?;
    let now = clock::SystemClock.now();
    let (ks, _) = keys::dev_init(&data.join("keys"), now)?;
    Ok(keys::Signer::public_key(&ks.root()?).to_string())
}
