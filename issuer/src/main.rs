//! `issuer`: parses arguments and runs the service or an operator's command; all the work is in
//! the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use issuer::config::LogFormat;

/// mimalloc instead of glibc malloc: the service allocates per request (JSON, HTTP, pages),
/// and glibc's allocator took 11% of its CPU per issuance (BENCHMARKS.md §1).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run the HTTP service (embedded store; development keys are created on first start).
    ///
    /// Settings come from the configuration file (--config), then VNEID_* environment
    /// variables, then these flags; docs/operations.md lists every setting and its default.
    Serve(Serve),
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
    /// Staff tokens, offline.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Write a consistent backup of the store and the keystores (without the key-encryption key).
    Backup {
        /// A running node's URL: the backup is taken online through its admin API (the admin
        /// token from VNEID_ADMIN_TOKEN or --token-file).
        #[arg(long, conflicts_with_all = ["data", "database"])]
        url: Option<String>,
        /// A file holding the admin token (for --url).
        #[arg(long, value_name = "FILE", requires = "url")]
        token_file: Option<PathBuf>,
        #[command(flatten)]
        at: StoreArgs,
        /// The backup file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Rebuild a node from a backup, into a new data folder (or a new PostgreSQL database),
    /// then verify its audit chain.
    Restore {
        /// The backup file.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[command(flatten)]
        at: StoreArgs,
        /// The development key-encryption key (`kek`) of the node backed up, copied into the
        /// keystore (it is never in a backup).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// Data folder (database, keystore).
    #[arg(long, default_value = "./issuer-data")]
    data: PathBuf,
    /// A PostgreSQL database instead of the embedded store (also VNEID_DATABASE_URL).
    #[arg(long, env = "VNEID_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// The deployment keystore (default DATA/keys).
    #[arg(long)]
    keys: Option<PathBuf>,
}

impl StoreArgs {
    fn location(self) -> issuer::offline::Location {
        issuer::offline::Location { data: self.data, database: self.database, keys: self.keys }
    }
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Mint a new admin token with the service stopped (when no admin token works any more);
    /// the token is printed once and the recovery is audited.
    Recover {
        #[command(flatten)]
        at: StoreArgs,
        /// A label for the token (not personal data of applicants).
        #[arg(long, default_value = "recovered-admin")]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the audit chain and check its signed checkpoints; exit 0 when intact, 1 when an
    /// entry was changed, removed or moved (the first one is named), 2 on error.
    Verify {
        #[command(flatten)]
        at: StoreArgs,
        /// The root public key (base64url) the stored trust list must verify under (default:
        /// the keystore's).
        #[arg(long)]
        root_key: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct Serve {
    /// A TOML configuration file (docs/operations.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder: database, keystore [default: ./issuer-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// [default: 127.0.0.1:8080]
    #[arg(long)]
    listen: Option<SocketAddr>,
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
    /// Milliseconds between signings of a changed status list (0: sign at every change)
    /// [default: 1000].
    #[arg(long)]
    publish_interval_ms: Option<u64>,
    /// Writes in flight before new ones wait (and, after --write-wait-ms, get 503) [default: 1024].
    #[arg(long)]
    max_writes_in_flight: Option<usize>,
    /// [default: 2000]
    #[arg(long)]
    write_wait_ms: Option<u64>,
    /// Share a PostgreSQL database with other nodes (postgres://user:password@host:port/db)
    /// instead of the embedded store. Also from the environment: VNEID_DATABASE_URL.
    #[arg(long)]
    database: Option<String>,
    /// This node's name when several nodes share a database: each signs with its own key.
    #[arg(long)]
    node: Option<String>,
    /// The deployment keystore (root and data keys), shared by every node (default DATA/keys).
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Entries per status list (at least 131072) [default: 1048576].
    #[arg(long)]
    status_list_capacity: Option<u64>,
    /// Open the next status list once the newest holds this many credentials
    /// (default: half its capacity).
    #[arg(long)]
    status_list_max_entries: Option<u64>,
    /// File where transaction codes are appended (JSON Lines) for the SMS/e-mail gateway
    /// (default: beside the data folder, DATA-outbox.jsonl).
    #[arg(long, value_name = "FILE")]
    outbox: Option<PathBuf>,
    /// Digits of an offer's transaction code (4 to 12) [default: 6].
    #[arg(long)]
    tx_code_length: Option<u32>,
    /// Where /metrics is served (an address, or `off`) [default: 127.0.0.1:9464].
    #[arg(long, value_name = "ADDR|off")]
    metrics_listen: Option<String>,
    /// Log format on stderr [default: human].
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// The national registry's change log (JSON Lines, appended to; docs/registry.md): cards
    /// revoked, expired, replaced or reinstated after issuance.
    #[arg(long, value_name = "FILE")]
    registry_changes: Option<PathBuf>,
    /// Seconds between runs of the registry change job (0: only when an admin asks,
    /// POST /v1/admin/registry/sync) [default: 300].
    #[arg(long)]
    registry_sync_interval_secs: Option<u64>,
    /// Production mode: no root private key on this node; it prepares each trust list and an
    /// admin signs it offline (`keys trust-list sign`). The keystore opens with a passphrase
    /// from --passphrase-file, --passphrase-fd, VNEID_KEYS_PASSPHRASE or a prompt (never an
    /// argument). Without it: development mode.
    #[arg(long)]
    production: bool,
    /// The root public key verifiers pin (base64url, or @FILE as `keys root public` wrote
    /// it): uploaded trust lists must verify under it. Production mode.
    #[arg(long, value_name = "KEY")]
    root_key: Option<String>,
    /// Read the keystore passphrase from this file (production mode).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Read the keystore passphrase from this inherited file descriptor (production mode).
    #[arg(long, value_name = "N")]
    passphrase_fd: Option<u32>,
    /// Sign with keys on a PKCS#11 token: the module (SoftHSM2:
    /// /usr/lib/softhsm/libsofthsm2.so). New signing keys are generated on the token.
    #[arg(long, value_name = "PATH")]
    hsm_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL")]
    hsm_token: Option<String>,
    /// Read the token's user PIN from this file (else --hsm-pin-fd, VNEID_HSM_PIN, a prompt).
    #[arg(long, value_name = "FILE")]
    hsm_pin_file: Option<PathBuf>,
    /// Read the token's user PIN from this inherited file descriptor.
    #[arg(long, value_name = "N")]
    hsm_pin_fd: Option<u32>,
    /// Warn (log, audit, admin API) this many days before the active key stops signing
    /// [default: 30].
    #[arg(long)]
    rotation_warning_days: Option<u64>,
    /// How long verifiers may go between syncs, in seconds: a next key is activated only after
    /// it has been in a published trust list this long (unless forced as an emergency)
    /// [default: 604800].
    #[arg(long)]
    verifier_sync_interval_secs: Option<u64>,
    /// Most re-offers per second a re-issuance sends through the notifier [default: 20].
    #[arg(long)]
    reoffer_rate: Option<u32>,
}

impl Serve {
    /// The file, then the environment, then these flags.
    fn config(self) -> anyhow::Result<(issuer::Config, i64)> {
        let mut f = issuer::config::load(self.config.as_deref(), &issuer::config::process_env)?;
        macro_rules! set {
            ($($flag:ident => $($field:ident).+),* $(,)?) => {$(
                if let Some(v) = self.$flag { f.$($field).+ = v; }
            )*};
        }
        set!(
            data => data,
            listen => listen,
            publish_interval_ms => status_lists.publish_interval_ms,
            max_writes_in_flight => store.max_writes_in_flight,
            write_wait_ms => store.write_wait_ms,
            status_list_capacity => status_lists.capacity,
            tx_code_length => offers.tx_code_length,
            metrics_listen => metrics.listen,
            log_format => log_format,
            registry_sync_interval_secs => registry_sync_interval_s,
            rotation_warning_days => custody.rotation_warning_days,
            verifier_sync_interval_secs => custody.verifier_sync_interval_s,
            reoffer_rate => custody.reoffer_rate,
        );
        if self.production {
            f.custody.production = true;
        }
        macro_rules! set_opt {
            ($($flag:ident => $($field:ident).+),* $(,)?) => {$(
                if self.$flag.is_some() { f.$($field).+ = self.$flag; }
            )*};
        }
        set_opt!(
            public_url => public_url,
            registry => registry,
            holidays => holidays,
            database => database,
            node => node,
            keys => keys,
            status_list_max_entries => status_lists.max_entries,
            outbox => outbox,
            registry_changes => registry_changes,
            root_key => custody.root_key,
            passphrase_file => custody.passphrase_file,
            hsm_module => custody.hsm_module,
            hsm_token => custody.hsm_token,
            hsm_pin_file => custody.hsm_pin_file,
        );
        let fds = issuer::config::SecretFds { passphrase: self.passphrase_fd, hsm_pin: self.hsm_pin_fd };
        Ok((f.into_config_with(fds)?, self.clock_offset))
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Human => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs a command; `Ok(false)` is a command that worked and answered "no" (an audit problem).
fn run(cmd: Cmd) -> anyhow::Result<bool> {
    match cmd {
        Cmd::Serve(s) => {
            let (config, offset) = s.config()?;
            init_logs(config.log_format);
            let clock = Arc::new(issuer::clock::OffsetClock(offset));
            runtime()?.block_on(issuer::serve(config, clock))?;
            Ok(true)
        }
        Cmd::Reissue { issuer: base, kid, token_file } => {
            init_logs(LogFormat::Human);
            let source = keys::SecretSource::choose(token_file, None, issuer::admin_cli::ADMIN_TOKEN_ENV);
            let token = source.read("admin token")?;
            match issuer::admin_cli::reissue(&base, &kid, &token, std::time::Duration::from_millis(500))? {
                issuer::admin_cli::Ended::Finished => Ok(true),
                issuer::admin_cli::Ended::Interrupted => {
                    eprintln!("issuer: the re-issuance stopped before the end (notices not sent?): run it again");
                    Ok(false)
                }
            }
        }
        Cmd::RootKey { data } => {
            init_logs(LogFormat::Human);
            println!("{}", issuer::root_key(&data)?);
            Ok(true)
        }
        Cmd::Admin { cmd: AdminCmd::Recover { at, name } } => {
            init_logs(LogFormat::Human);
            let token = runtime()?.block_on(issuer::offline::recover_admin(&at.location(), &name))?;
            println!("NEW ADMIN TOKEN (shown once, store it now): {}", token.as_str());
            println!("the recovery is in the audit log (token.recovered)");
            Ok(true)
        }
        Cmd::Audit { cmd: AuditCmd::Verify { at, root_key, json } } => {
            init_logs(LogFormat::Human);
            let report = runtime()?.block_on(issuer::offline::audit_verify(&at.location(), root_key.as_deref()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            Ok(report.ok)
        }
        Cmd::Backup { url, token_file, at, out } => {
            init_logs(LogFormat::Human);
            match url {
                Some(url) => {
                    let token = match token_file {
                        Some(f) => std::fs::read_to_string(&f)?.trim().to_owned(),
                        None => std::env::var("VNEID_ADMIN_TOKEN").map_err(|_| {
                            anyhow::anyhow!("give the admin token in VNEID_ADMIN_TOKEN or --token-file")
                        })?,
                    };
                    let n = issuer::offline::backup_remote(&url, &token, &out)?;
                    println!("backup written: {} ({n} bytes)", out.display());
                }
                None => {
                    let h = runtime()?.block_on(issuer::offline::backup_local(&at.location(), &out))?;
                    println!("backup written: {} ({} sections)", out.display(), h.sections.len());
                }
            }
            println!("the key-encryption key is not in it: keep it apart, a restore needs it");
            Ok(true)
        }
        Cmd::Restore { input, at, key_file } => {
            init_logs(LogFormat::Human);
            let r = runtime()?.block_on(issuer::offline::restore(&input, &at.location(), key_file.as_deref()))?;
            println!("restored the backup of {} ({} store)", r.header.created_at, r.header.engine);
            print_report(&r.audit);
            Ok(r.audit.ok)
        }
    }
}

fn print_report(r: &issuer::service::audit::Report) {
    println!(
        "audit: {} entries ({} before the chain), {} checkpoints{}",
        r.entries,
        r.before_chain,
        r.checkpoints,
        if r.signatures_checked { "" } else { " (signatures not checked: no keys)" }
    );
    match &r.first_problem {
        None => println!("audit chain intact{}", r.head.map(|h| format!(" up to entry {}", h.seq)).unwrap_or_default()),
        Some(p) => println!("AUDIT CHAIN BROKEN: {}", serde_json::to_string(p).unwrap_or_default()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("issuer: {e:#}");
            ExitCode::from(2)
        }
    }
}
