//! The level-2 e-ID issuer: officers enroll foreign residents (TK01, biometrics, national-data
//! check, approval), wallets collect their credentials (OpenID4VCI-style, pre-authorized code,
//! proof of possession of the device key), and anyone can fetch the signed trust list and status
//! lists that verifiers sync for offline checks.
//!
//! Shape: one router per feature ([`routes`]), merged once in [`app`]; state is [`AppState`], a
//! `Clone` struct of `Arc`s; authentication is an extractor ([`auth`]); errors become HTTP in one
//! place ([`error`]). Storage ([`store`]) is sled, each change one transaction plus a flush before
//! the response, so nothing is acknowledged before it is durable. Personal data is sealed at rest
//! ([`seal`]); keys stay behind the `keys` crate's handles ([`custody`]); time comes from an
//! injected [`clock::Clock`].

pub mod auth;
pub mod clock;
pub mod custody;
pub mod error;
pub mod i18n;
pub mod issue;
pub mod routes;
pub mod seal;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;

use crate::clock::Clock;
use crate::custody::Custody;
use crate::seal::Sealer;
use crate::store::Store;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub custody: Arc<Custody>,
    pub sealer: Arc<Sealer>,
    pub clock: Arc<dyn Clock>,
    pub registry: Arc<dyn enrollment::registry::NationalRegistry>,
    pub holidays: Arc<enrollment::deadline::HolidayCalendar>,
    /// Bumped on every status change, so the status list token is re-signed.
    pub status_version: Arc<AtomicU64>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("store", &self.store).field("custody", &self.custody).finish_non_exhaustive()
    }
}

/// Largest request body outside the biometric upload (which has its own limit).
pub const MAX_BODY: usize = 64 * 1024;

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::public::router())
        .merge(routes::oid4vci::router())
        .merge(routes::applications::router())
        .merge(routes::admin::router())
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn(error::localize))
        .layer(axum::middleware::from_fn(access_log))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// One log line per request: method, route template (ids and query strings left out, so no
/// personal data or secret reaches the log), status, latency.
async fn access_log(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = req.method().clone();
    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("-", |p| p.as_str()).to_owned();
    let t0 = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, route, status = resp.status().as_u16(), micros = t0.elapsed().as_micros() as u64, "request");
    resp
}

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
}

/// Opens (or on first start, creates) everything under `config.data` and builds the state.
/// Returns the first admin token when this start created it.
pub fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<(AppState, Option<String>)> {
    std::fs::create_dir_all(&config.data).with_context(|| format!("creating {}", config.data.display()))?;
    let now = clock.now();
    let (keystore, _created) = keys::dev_init(&config.data.join("keys"), now).context("opening the keystore")?;
    let (data_key, index_key) =
        (keystore.derive_secret("issuer/records/v1")?, keystore.derive_secret("issuer/blind-index/v1")?);
    let sealer = Sealer::new(&data_key, index_key);
    let store = Store::open(&config.data.join("db")).context("opening the database")?;
    let url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
    let custody =
        Custody::new(keystore, url.trim_end_matches('/').to_owned(), config.node.clone(), store.t.meta.clone(), now)?;
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
    let admin = routes::admin::bootstrap_admin(&store, now)?;
    store.t.meta.flush()?;
    let state = AppState {
        store: Arc::new(store),
        custody: Arc::new(custody),
        sealer: Arc::new(sealer),
        clock,
        registry,
        holidays: Arc::new(holidays),
        status_version: Arc::new(AtomicU64::new(0)),
    };
    Ok((state, admin))
}

/// Runs the service until Ctrl-C or SIGTERM.
pub async fn serve(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // With `--listen 127.0.0.1:0` the real port is known only now.
    config.listen = addr;
    let (state, admin) = open(&config, clock)?;
    println!("root key (pin it in verifiers): {}", state.custody.root_public());
    if let Some(token) = admin {
        // Printed once, to stdout only; the database keeps its hash.
        println!("FIRST ADMIN TOKEN (shown once, store it now): {token}");
    }
    println!("issuer listening on http://{addr} as {}", state.custody.issuer_url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown()).await?;
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
