//! The configuration of `issuer serve`: one TOML file (`--config FILE`), then environment
//! variables, then command-line flags, each overriding the one before; anything unset keeps its
//! default. Every setting, its default and what it does is in docs/operations.md (a test checks
//! that each key of [`KEYS`] is documented there, and that [`KEYS`] names every field).
//!
//! An environment variable overrides one key: `VNEID_` and the key's path in capitals, sections
//! joined with `__` (`VNEID_HTTP__MAX_CONNECTIONS=2000`, `VNEID_RATE_LIMITS__ENABLED=false`,
//! `VNEID_PUBLIC_URL=https://…`). Its value is read as a TOML value (a number, `true`, a quoted
//! string, an array) and, when it is not one, as a string. Only the keys of [`KEYS`] are read,
//! so other `VNEID_…` variables (the tests') are left alone. `VNEID_DATABASE_URL` is accepted
//! for `database` too (it predates the file).
//!
//! Unknown keys in the file are refused (a misspelt setting would otherwise be silently at its
//! default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

/// Every key of the file, as dotted paths.
pub const KEYS: &[&str] = &[
    "data",
    "listen",
    "public_url",
    "registry",
    "holidays",
    "node",
    "keys",
    "database",
    "outbox",
    "log_format",
    "status_lists.capacity",
    "status_lists.max_entries",
    "status_lists.publish_interval_ms",
    "offers.tx_code_length",
    "store.max_writes_in_flight",
    "store.write_wait_ms",
    "store.min_free_bytes",
    "http.max_connections",
    "http.header_read_timeout_ms",
    "http.request_timeout_ms",
    "http.idle_timeout_ms",
    "http.shutdown_grace_ms",
    "http.client_ip_header",
    "rate_limits.enabled",
    "rate_limits.token",
    "rate_limits.nonce",
    "rate_limits.credential",
    "rate_limits.staff",
    "rate_limits.max_auth_failures",
    "rate_limits.auth_failure_window_s",
    "metrics.listen",
    "health.write_timeout_ms",
    "health.max_trust_list_age_s",
    "health.max_status_list_age_s",
    "audit.checkpoint_interval_s",
    "audit.failure_report_interval_s",
    "registry_changes",
    "registry_sync_interval_s",
    "custody.production",
    "custody.root_key",
    "custody.passphrase_file",
    "custody.hsm_module",
    "custody.hsm_token",
    "custody.hsm_pin_file",
    "custody.rotation_warning_days",
    "custody.verifier_sync_interval_s",
    "custody.reoffer_rate",
];

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people (the default).
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct File {
    pub data: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub registry: Option<PathBuf>,
    pub holidays: Option<PathBuf>,
    pub node: Option<String>,
    pub keys: Option<PathBuf>,
    pub database: Option<String>,
    pub outbox: Option<PathBuf>,
    pub log_format: LogFormat,
    pub status_lists: StatusLists,
    pub offers: Offers,
    pub store: StoreSettings,
    pub http: HttpLimits,
    pub rate_limits: RateLimits,
    pub metrics: MetricsSettings,
    pub health: Health,
    pub audit: AuditSettings,
    /// The registry's change log (JSON Lines; docs/registry.md).
    pub registry_changes: Option<PathBuf>,
    /// Seconds between runs of the registry change job (0: only when an admin asks).
    pub registry_sync_interval_s: u64,
    pub custody: CustodySettings,
}

/// Where the keys are and how they open (docs/key-ceremony.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustodySettings {
    /// No root private key on the node; the keystore opens with a passphrase.
    pub production: bool,
    /// The root public key verifiers pin (base64url, or `@FILE`); required in production.
    pub root_key: Option<String>,
    /// The keystore passphrase's file (else `--passphrase-fd`, `VNEID_KEYS_PASSPHRASE`, a prompt).
    pub passphrase_file: Option<PathBuf>,
    /// A PKCS#11 module holding the signing keys, and its token's label.
    pub hsm_module: Option<PathBuf>,
    pub hsm_token: Option<String>,
    /// The token's user PIN file (else `--hsm-pin-fd`, `VNEID_HSM_PIN`, a prompt).
    pub hsm_pin_file: Option<PathBuf>,
    pub rotation_warning_days: u64,
    pub verifier_sync_interval_s: u64,
    pub reoffer_rate: u32,
}

impl Default for CustodySettings {
    fn default() -> Self {
        Self {
            production: false,
            root_key: None,
            passphrase_file: None,
            hsm_module: None,
            hsm_token: None,
            hsm_pin_file: None,
            rotation_warning_days: 30,
            verifier_sync_interval_s: 7 * 86_400,
            reoffer_rate: 20,
        }
    }
}

impl Default for File {
    fn default() -> Self {
        Self {
            data: PathBuf::from("./issuer-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            registry: None,
            holidays: None,
            node: None,
            keys: None,
            database: None,
            outbox: None,
            log_format: LogFormat::Human,
            status_lists: StatusLists::default(),
            offers: Offers::default(),
            store: StoreSettings::default(),
            http: HttpLimits::default(),
            rate_limits: RateLimits::default(),
            metrics: MetricsSettings::default(),
            health: Health::default(),
            audit: AuditSettings::default(),
            registry_changes: None,
            registry_sync_interval_s: 300,
            custody: CustodySettings::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusLists {
    pub capacity: u64,
    /// Default: half the capacity.
    pub max_entries: Option<u64>,
    pub publish_interval_ms: u64,
}

impl Default for StatusLists {
    fn default() -> Self {
        Self { capacity: 1 << 20, max_entries: None, publish_interval_ms: 1000 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Offers {
    pub tx_code_length: u32,
}

impl Default for Offers {
    fn default() -> Self {
        Self { tx_code_length: 6 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    pub max_writes_in_flight: usize,
    pub write_wait_ms: u64,
    pub min_free_bytes: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self { max_writes_in_flight: 1024, write_wait_ms: 2000, min_free_bytes: crate::store::embedded::MIN_FREE_BYTES }
    }
}

/// Bounds of the HTTP server ([`crate::server`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// Connections open at once; past it a new connection gets 503 `too_many_connections`.
    pub max_connections: usize,
    /// From a request's first byte to the end of its header.
    pub header_read_timeout_ms: u64,
    /// From the end of the header to the response (reading the body included).
    pub request_timeout_ms: u64,
    /// A kept-alive connection with no request is closed after this long.
    pub idle_timeout_ms: u64,
    /// On SIGTERM, how long requests in flight may take to finish.
    pub shutdown_grace_ms: u64,
    /// A header naming the client's address, set by a reverse proxy in front of the issuer
    /// (`x-forwarded-for`: its last address is used; `x-real-ip`). Unset: the peer's address.
    pub client_ip_header: Option<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            shutdown_grace_ms: 20_000,
            client_ip_header: None,
        }
    }
}

/// A token bucket: `per_second` requests on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// Per-client rate limits ([`crate::http::limits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub enabled: bool,
    /// `POST /token`.
    pub token: Rate,
    /// `POST /nonce`.
    pub nonce: Rate,
    /// `POST /credential`.
    pub credential: Rate,
    /// Every `/v1/applications…`, `/v1/reports…` and `/v1/admin…` request.
    pub staff: Rate,
    /// Failed authentications (unknown or revoked tokens, wrong codes) a client may make in
    /// `auth_failure_window_s` before it gets 429 `too_many_attempts` until the window ends.
    pub max_auth_failures: u32,
    pub auth_failure_window_s: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            token: Rate { per_second: 2.0, burst: 20 },
            nonce: Rate { per_second: 10.0, burst: 50 },
            credential: Rate { per_second: 5.0, burst: 30 },
            staff: Rate { per_second: 50.0, burst: 200 },
            max_auth_failures: 20,
            auth_failure_window_s: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where `/metrics` is served: an address of its own (default), or `off`.
    pub listen: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9464".into() }
    }
}

impl MetricsSettings {
    /// The address, or `None` when metrics are off.
    pub fn address(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.listen.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        Ok(Some(self.listen.parse().with_context(|| format!("metrics.listen: {:?} is not an address", self.listen))?))
    }
}

/// What `/readyz` checks against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Health {
    /// The store must make a write durable within this long.
    pub write_timeout_ms: u64,
    /// The trust list served must be younger (it is signed again every 3.5 days).
    pub max_trust_list_age_s: u64,
    /// Every status list token served must be younger (signed again every 30 minutes).
    pub max_status_list_age_s: u64,
}

impl Default for Health {
    fn default() -> Self {
        Self { write_timeout_ms: 1000, max_trust_list_age_s: 4 * 86_400, max_status_list_age_s: 2700 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// How often the audit chain's head is signed (when it moved); 0: never.
    pub checkpoint_interval_s: u64,
    /// How often failed authentications are written to the audit log, in aggregate.
    pub failure_report_interval_s: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { checkpoint_interval_s: 3600, failure_report_interval_s: 60 }
    }
}

/// Reads the file (when given) and applies the environment (`env`: the process's, or a test's).
pub fn load(path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<File> {
    let mut table = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading the configuration {}", p.display()))?;
            text.parse::<toml::Table>().with_context(|| format!("{} is not TOML", p.display()))?
        }
        None => toml::Table::new(),
    };
    if let Some(url) = env("VNEID_DATABASE_URL") {
        table.insert("database".into(), toml::Value::String(url));
    }
    for key in KEYS {
        let var = format!("VNEID_{}", key.replace('.', "__").to_ascii_uppercase());
        let Some(raw) = env(&var) else { continue };
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        let mut at = &mut table;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                at.insert(part.into(), value.clone());
                break;
            }
            let next = at.entry(part).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(t) = next.as_table_mut() else { bail!("{var}: {part} is not a section in the file") };
            at = t;
        }
    }
    let file: File = table.try_into().context("the configuration")?;
    Ok(file)
}

/// Secrets read from inherited file descriptors (flags only: a descriptor is the process's).
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretFds {
    pub passphrase: Option<u32>,
    pub hsm_pin: Option<u32>,
}

/// The process's environment, for [`load`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl File {
    /// The service's settings.
    pub fn into_config(self) -> anyhow::Result<crate::Config> {
        self.into_config_with(SecretFds::default())
    }

    /// [`File::into_config`], with secrets that may also come from inherited file descriptors.
    pub fn into_config_with(self, fds: SecretFds) -> anyhow::Result<crate::Config> {
        let mut c = crate::Config::new(self.data, self.listen);
        c.public_url = self.public_url;
        c.registry = self.registry;
        c.holidays = self.holidays;
        c.node = self.node;
        c.keys = self.keys;
        c.database = self.database;
        c.outbox = self.outbox;
        c.status_capacity = self.status_lists.capacity;
        c.status_list_max_entries = self.status_lists.max_entries.unwrap_or(self.status_lists.capacity / 2);
        c.publish_interval = std::time::Duration::from_millis(self.status_lists.publish_interval_ms);
        c.tx_code_length = self.offers.tx_code_length;
        c.max_writes_in_flight = self.store.max_writes_in_flight;
        c.write_wait = std::time::Duration::from_millis(self.store.write_wait_ms);
        c.min_free_bytes = self.store.min_free_bytes;
        c.metrics_listen = self.metrics.address()?;
        c.http = self.http;
        c.rate_limits = self.rate_limits;
        c.health = self.health;
        c.audit = self.audit;
        c.log_format = self.log_format;
        c.registry_changes = self.registry_changes;
        c.registry_sync_interval = std::time::Duration::from_secs(self.registry_sync_interval_s);
        let k = self.custody;
        c.rotation = keys::RotationPolicy {
            warn_before: k.rotation_warning_days.saturating_mul(86_400),
            sync_interval: k.verifier_sync_interval_s,
        };
        c.reoffer_rate = k.reoffer_rate;
        c.hsm = match (k.hsm_module, k.hsm_token) {
            (Some(module), Some(token)) => Some(crate::unlock::Hsm {
                module,
                token,
                pin: keys::SecretSource::choose(k.hsm_pin_file, fds.hsm_pin, keys::PIN_ENV),
            }),
            (None, None) => None,
            _ => bail!("custody.hsm_module and custody.hsm_token go together"),
        };
        c.key_mode = match (k.production, k.root_key) {
            (true, Some(root)) => crate::unlock::KeyMode::Production {
                root: crate::unlock::parse_root_key(&root)?,
                passphrase: keys::SecretSource::choose(k.passphrase_file, fds.passphrase, keys::PASSPHRASE_ENV),
            },
            (true, None) => bail!("production mode needs the root public key (custody.root_key, --root-key)"),
            (false, Some(_)) => bail!("custody.root_key (--root-key) is for production mode (--production)"),
            (false, None) => crate::unlock::KeyMode::Development,
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A file that sets every key (so its keys are the struct's fields).
    fn every_key() -> File {
        let mut f = File {
            public_url: Some("https://issuer.example.vn".into()),
            registry: Some("r.jsonl".into()),
            holidays: Some("h.json".into()),
            node: Some("n1".into()),
            keys: Some("keys".into()),
            database: Some("postgres://x".into()),
            outbox: Some("o.jsonl".into()),
            ..File::default()
        };
        f.status_lists.max_entries = Some(10);
        f.registry_changes = Some("changes.jsonl".into());
        f.custody.root_key = Some("@root.pub".into());
        f.custody.passphrase_file = Some("pass".into());
        f.custody.hsm_module = Some("/usr/lib/softhsm/libsofthsm2.so".into());
        f.custody.hsm_token = Some("vneid".into());
        f.custody.hsm_pin_file = Some("pin".into());
        f.http.client_ip_header = Some("x-forwarded-for".into());
        f
    }

    fn dotted(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = format!("{prefix}{k}");
            match v {
                toml::Value::Table(inner) if !["token", "nonce", "credential", "staff"].contains(&k.as_str()) => {
                    dotted(inner, &format!("{key}."), out)
                }
                _ => out.push(key),
            }
        }
    }

    #[test]
    fn keys_name_every_setting_and_docs_describe_each() {
        let table = toml::Table::try_from(every_key()).unwrap();
        let mut found = Vec::new();
        dotted(&table, "", &mut found);
        found.sort();
        let mut listed: Vec<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed, "KEYS and the File struct differ");
        let docs = include_str!("../../docs/operations.md");
        for key in KEYS {
            assert!(docs.contains(&format!("`{key}`")), "docs/operations.md does not describe `{key}`");
        }
    }

    #[test]
    fn the_file_then_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("issuer.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9000\"\n[http]\nmax_connections = 10\n[rate_limits]\nstaff = { per_second = 1.5, burst = 3 }\n",
        )
        .unwrap();
        let f = load(Some(&p), &no_env).unwrap();
        assert_eq!(f.listen.port(), 9000);
        assert_eq!(f.http.max_connections, 10);
        assert_eq!(f.rate_limits.staff, Rate { per_second: 1.5, burst: 3 });
        assert_eq!(f.http.request_timeout_ms, HttpLimits::default().request_timeout_ms);
        let env = |k: &str| match k {
            "VNEID_HTTP__MAX_CONNECTIONS" => Some("20".to_owned()),
            "VNEID_PUBLIC_URL" => Some("https://issuer.example.vn".to_owned()),
            "VNEID_RATE_LIMITS__ENABLED" => Some("false".to_owned()),
            "VNEID_RATE_LIMITS__TOKEN" => Some("{ per_second = 1, burst = 2 }".to_owned()),
            "VNEID_DATABASE_URL" => Some("postgres://u@h/db".to_owned()),
            "VNEID_BIN_DIR" => Some("ignored".to_owned()),
            _ => None,
        };
        let f = load(Some(&p), &env).unwrap();
        assert_eq!(f.http.max_connections, 20);
        assert_eq!(f.public_url.as_deref(), Some("https://issuer.example.vn"));
        assert!(!f.rate_limits.enabled);
        assert_eq!(f.rate_limits.token, Rate { per_second: 1.0, burst: 2 });
        assert_eq!(f.database.as_deref(), Some("postgres://u@h/db"));
        // A misspelt key is refused, not ignored.
        std::fs::write(&p, "[http]\nmax_conections = 10\n").unwrap();
        assert!(load(Some(&p), &no_env).is_err());
        assert_eq!(load(None, &no_env).unwrap(), File::default());
    }
}
