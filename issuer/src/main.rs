//! `issuer`: parses arguments and runs the service; all the work is in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "issuer", version, about = "Level-2 e-ID issuer for foreign residents of Vietnam")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
// Parsed once at start: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Cmd {
    /// Run the HTTP service (embedded store; development keys are created on first start, or
    /// --production with an offline root).
    Serve {
        /// Data folder: database, keystore.
        #[arg(long, default_value = "./issuer-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Base URL wallets and verifiers reach this issuer at (default http://LISTEN).
        #[arg(long)]
        public_url: Option<String>,
        /// National registry stand-in, JSON Lines (docs/registry.md).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Holiday calendar replacing the built-in Vietnamese 2026-2027 one.
        #[arg(long)]
        holidays: Option<PathBuf>,
        /// Seconds added to the system clock (tests run the binary "in the future").
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        clock_offset: i64,
        /// Milliseconds between signings of a changed status list (0: sign at every change).
        #[arg(long, default_value_t = 1000)]
        publish_interval_ms: u64,
        /// Writes in flight before new ones wait (and, after --write-wait-ms, get 503).
        #[arg(long, default_value_t = 1024)]
        max_writes_in_flight: usize,
        #[arg(long, default_value_t = 2000)]
        write_wait_ms: u64,
        /// Share a PostgreSQL database with other nodes (postgres://user:password@host:port/db)
        /// instead of the embedded store. Also from the environment: VNEID_DATABASE_URL.
        #[arg(long, env = "VNEID_DATABASE_URL", hide_env_values = true)]
        database: Option<String>,
        /// This node's name when several nodes share a database: each signs with its own key.
        #[arg(long)]
        node: Option<String>,
        /// The deployment keystore (root and data keys), shared by every node (default DATA/keys).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Entries per status list (at least 131072).
        #[arg(long, default_value_t = 1 << 20)]
        status_list_capacity: u64,
        /// Open the next status list once the newest holds this many credentials
        /// (default: half its capacity).
        #[arg(long)]
        status_list_max_entries: Option<u64>,
        /// File where transaction codes are appended (JSON Lines) for the SMS/e-mail gateway
        /// (default: beside the data folder, DATA-outbox.jsonl).
        #[arg(long, value_name = "FILE")]
        outbox: Option<PathBuf>,
        /// Digits of an offer's transaction code (4 to 12).
        #[arg(long, default_value_t = 6)]
        tx_code_length: u32,
        /// The national registry's change log (JSON Lines, appended to; docs/registry.md): cards
        /// revoked, expired, replaced or reinstated after issuance.
        #[arg(long, value_name = "FILE")]
        registry_changes: Option<PathBuf>,
        /// Seconds between runs of the registry change job (0: only when an admin asks,
        /// POST /v1/admin/registry/sync).
        #[arg(long, default_value_t = 300)]
        registry_sync_interval_secs: u64,
        /// Production mode: no root private key on this node; it prepares each trust list and an
        /// admin signs it offline (`keys trust-list sign`). The keystore opens with a passphrase
        /// from --passphrase-file, --passphrase-fd, VNEID_KEYS_PASSPHRASE or a prompt (never an
        /// argument). Without it: development mode.
        #[arg(long, requires = "root_key")]
        production: bool,
        /// The root public key verifiers pin (base64url, or @FILE as `keys root public` wrote
        /// it): uploaded trust lists must verify under it. Production mode.
        #[arg(long, value_name = "KEY", requires = "production")]
        root_key: Option<String>,
        /// Read the keystore passphrase from this file (production mode).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// Read the keystore passphrase from this inherited file descriptor (production mode).
        #[arg(long, value_name = "N")]
        passphrase_fd: Option<u32>,
        /// Sign with keys on a PKCS#11 token: the module (SoftHSM2:
        /// /usr/lib/softhsm/libsofthsm2.so). New signing keys are generated on the token.
        #[arg(long, value_name = "PATH", requires = "hsm_token")]
        hsm_module: Option<PathBuf>,
        /// The token's label.
        #[arg(long, value_name = "LABEL", requires = "hsm_module")]
        hsm_token: Option<String>,
        /// Read the token's user PIN from this file (else --hsm-pin-fd, VNEID_HSM_PIN, a prompt).
        #[arg(long, value_name = "FILE")]
        hsm_pin_file: Option<PathBuf>,
        /// Read the token's user PIN from this inherited file descriptor.
        #[arg(long, value_name = "N")]
        hsm_pin_fd: Option<u32>,
        /// Warn (log, audit, admin API) this many days before the active key stops signing.
        #[arg(long, default_value_t = 30)]
        rotation_warning_days: u64,
        /// How long verifiers may go between syncs, in seconds: a next key is activated only after
        /// it has been in a published trust list this long (unless forced as an emergency).
        #[arg(long, default_value_t = 7 * 86_400)]
        verifier_sync_interval_secs: u64,
        /// Most re-offers per second a re-issuance sends through the notifier.
        #[arg(long, default_value_t = 20)]
        reoffer_rate: u32,
    },
    /// Re-offer every credential a revoked key signed, with the active key, on a running issuer,
    /// and follow it with a progress bar; run it again after an interruption to resume (nobody
    /// is re-offered twice). Exits 0 once it has finished; otherwise non-zero (run it again).
    Reissue {
        /// The issuer's base URL (any node).
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The revoked key whose credentials are re-offered.
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        kid: String,
        /// Read the admin token from this file (else VNEID_ADMIN_TOKEN, else a prompt).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Print the root public key verifiers pin (base64url), creating development keys if needed.
    RootKey {
        #[arg(long, default_value = "./issuer-data")]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.cmd {
        Cmd::Serve {
            data,
            listen,
            public_url,
            registry,
            holidays,
            clock_offset,
            publish_interval_ms,
            max_writes_in_flight,
            write_wait_ms,
            database,
            node,
            keys,
            status_list_capacity,
            status_list_max_entries,
            outbox,
            tx_code_length,
            registry_changes,
            registry_sync_interval_secs,
            production,
            root_key,
            passphrase_file,
            passphrase_fd,
            hsm_module,
            hsm_token,
            hsm_pin_file,
            hsm_pin_fd,
            rotation_warning_days,
            verifier_sync_interval_secs,
            reoffer_rate,
        } => {
            let mut config = issuer::Config::new(data, listen);
            config.public_url = public_url;
            config.registry = registry;
            config.holidays = holidays;
            config.publish_interval = std::time::Duration::from_millis(publish_interval_ms);
            config.max_writes_in_flight = max_writes_in_flight;
            config.write_wait = std::time::Duration::from_millis(write_wait_ms);
            config.database = database;
            config.node = node;
            config.keys = keys;
            config.status_capacity = status_list_capacity;
            config.status_list_max_entries = status_list_max_entries.unwrap_or(status_list_capacity / 2);
            config.outbox = outbox;
            config.tx_code_length = tx_code_length;
            config.registry_changes = registry_changes;
            config.registry_sync_interval = std::time::Duration::from_secs(registry_sync_interval_secs);
            config.rotation = keys::RotationPolicy {
                warn_before: rotation_warning_days.saturating_mul(86_400),
                sync_interval: verifier_sync_interval_secs,
            };
            config.reoffer_rate = reoffer_rate;
            config.hsm = match (hsm_module, hsm_token) {
                (Some(module), Some(token)) => Some(issuer::unlock::Hsm {
                    module,
                    token,
                    pin: keys::SecretSource::choose(hsm_pin_file, hsm_pin_fd, keys::PIN_ENV),
                }),
                _ => None,
            };
            let key_mode = match (production, root_key) {
                (true, Some(root)) => {
                    issuer::unlock::parse_root_key(&root).map(|root| issuer::unlock::KeyMode::Production {
                        root,
                        passphrase: keys::SecretSource::choose(passphrase_file, passphrase_fd, keys::PASSPHRASE_ENV),
                    })
                }
                _ => Ok(issuer::unlock::KeyMode::Development),
            };
            let clock = Arc::new(issuer::clock::OffsetClock(clock_offset));
            key_mode.and_then(|mode| {
                config.key_mode = mode;
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| rt.block_on(issuer::serve(config, clock)))
            })
        }
        Cmd::RootKey { data } => issuer::root_key(&data).map(|k| println!("{k}")),
        Cmd::Reissue { issuer: base, kid, token_file } => {
            let source = keys::SecretSource::choose(token_file, None, issuer::admin_cli::ADMIN_TOKEN_ENV);
            let ended = source.read("admin token").map_err(anyhow::Error::from).and_then(|token| {
                issuer::admin_cli::reissue(&base, &kid, &token, std::time::Duration::from_millis(500))
            });
            match ended {
                Ok(issuer::admin_cli::Ended::Finished) => Ok(()),
                Ok(issuer::admin_cli::Ended::Interrupted) => {
                    eprintln!("issuer: the re-issuance stopped before the end (notices not sent?): run it again");
                    return ExitCode::from(1);
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("issuer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
