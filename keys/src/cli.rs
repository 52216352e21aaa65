//! The `keys` command-line tool for issuer admins: the I/O edge around the library.
//!
//! It runs on the offline machine that holds the root keystore (`root`, `trust-list sign`), on
//! any machine to check a signed list (`trust-list verify`), and on an issuer node to make its
//! signing key in the HSM (`hsm`). Reading files, the terminal, the environment and the clock
//! happens here; the rules live in the library.
//!
//! Secrets (the keystore passphrase, the HSM PIN) are never arguments: they come from
//! `--passphrase-file`/`--pin-file`, `--passphrase-fd`/`--pin-fd`, the environment variable
//! `VNEID_KEYS_PASSPHRASE`/`VNEID_HSM_PIN`, or a prompt on the terminal, in that order.
//!
//! Exit codes: `0` done; `1` the trust list was refused (it breaks a rule, does not verify, or
//! signing was not confirmed); `2` the command could not do its job (usage, files, a wrong
//! passphrase).

use std::fs;
use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use keys::{KdfParams, KeyError, Keystore, SecretSource, Signer as _, Unlock};
use time::OffsetDateTime;
use verifier::{KeyState, PublicKey, TrustList};

/// Largest trust list file read (signed or not): the verifier's own bound on a list is smaller.
const MAX_LIST_FILE: u64 = 4 << 20;
/// A root key file holds one 43-character key.
const MAX_KEY_FILE: u64 = 4096;
/// The shortest root keystore passphrase accepted.
const MIN_ROOT_PASSPHRASE: usize = 12;

/// Key custody for the e-ID issuer: the offline root key, trust-list signing, HSM signing keys.
#[derive(Debug, Parser)]
#[command(name = "keys", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The root key, in an encrypted keystore on an offline machine.
    #[command(subcommand)]
    Root(RootCommand),
    /// Sign a prepared trust list with the root key, or check a signed one.
    #[command(subcommand, name = "trust-list")]
    TrustList(TrustListCommand),
    /// Issuer signing keys in a PKCS#11 token (HSM).
    #[cfg(feature = "pkcs11")]
    #[command(subcommand)]
    Hsm(HsmCommand),
}

#[derive(Debug, Subcommand)]
enum RootCommand {
    /// Create a keystore with a new root key, and print the root public key verifiers pin.
    Init(RootInitArgs),
    /// Print the root public key (base64url) of a keystore.
    Public(KeystoreArgs),
    /// Change the keystore passphrase (the keys stay as they are; only the master key is
    /// rewrapped). The current passphrase comes as for every command, the new one from
    /// --new-passphrase-file or the terminal.
    Passphrase(PassphraseChangeArgs),
}

#[derive(Debug, Args)]
struct PassphraseChangeArgs {
    #[command(flatten)]
    keystore: KeystoreArgs,
    /// Read the new passphrase from FILE instead of asking twice on the terminal.
    #[arg(long, value_name = "FILE")]
    new_passphrase_file: Option<PathBuf>,
    /// Argon2id memory in MiB for the new passphrase.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    kdf_memory_mib: u32,
    /// Argon2id passes for the new passphrase.
    #[arg(long, value_name = "N", default_value_t = 3)]
    kdf_passes: u32,
}

#[derive(Debug, Subcommand)]
enum TrustListCommand {
    /// Check a prepared (unsigned) trust list, show it, and sign it with the root key.
    Sign(SignArgs),
    /// Check a signed trust list against a root public key and show it. Exit 1 if it does not
    /// verify.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct PassphraseArgs {
    /// Read the keystore passphrase from FILE (one trailing newline is dropped). Otherwise from
    /// an open descriptor (--passphrase-fd), the environment variable VNEID_KEYS_PASSPHRASE, or
    /// a prompt on the terminal.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_fd")]
    passphrase_file: Option<PathBuf>,
    /// Read the keystore passphrase from the open file descriptor N (e.g. `3` with `3<FILE`).
    #[arg(long, value_name = "N")]
    passphrase_fd: Option<u32>,
}

impl PassphraseArgs {
    fn source(&self) -> SecretSource {
        SecretSource::choose(self.passphrase_file.clone(), self.passphrase_fd, keys::PASSPHRASE_ENV)
    }
}

#[derive(Debug, Args)]
struct KeystoreArgs {
    /// The keystore folder.
    #[arg(long, value_name = "DIR")]
    keystore: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
struct RootInitArgs {
    #[command(flatten)]
    keystore: KeystoreArgs,
    /// Argon2id memory in MiB. The root keystore is opened rarely, on a dedicated machine, so
    /// the default is well above the OWASP minimum.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    kdf_memory_mib: u32,
    /// Argon2id passes.
    #[arg(long, value_name = "N", default_value_t = 3)]
    kdf_passes: u32,
}

#[derive(Debug, Args)]
struct SignArgs {
    #[command(flatten)]
    keystore: KeystoreArgs,
    /// The unsigned trust list (JSON) the issuer prepared.
    #[arg(long = "in", value_name = "UNSIGNED.json")]
    input: PathBuf,
    /// Where to write the signed trust list (compact JWS).
    #[arg(long, value_name = "SIGNED.jwt")]
    out: PathBuf,
    /// The trust list signed last time: the new one must follow it (higher seq, no key going
    /// back in state, no revoked key dropped), and the changes are shown.
    #[arg(long, value_name = "SIGNED.jwt")]
    previous: Option<PathBuf>,
    /// Sign without asking for confirmation after the summary.
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The root public key, 43 base64url characters, or @FILE to read it from a file. (Base64url
    /// may start with `-`, so the value is never taken for an option.)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    root_key: String,
    /// The signed trust list.
    #[arg(long = "in", value_name = "SIGNED.jwt")]
    input: PathBuf,
}

#[cfg(feature = "pkcs11")]
#[derive(Debug, Subcommand)]
enum HsmCommand {
    /// Generate an Ed25519 signing key on the token (non-extractable) and print its key id and
    /// public key.
    Generate(HsmGenerateArgs),
    /// List the Ed25519 keys on the token.
    List(HsmArgs),
}

#[cfg(feature = "pkcs11")]
#[derive(Debug, Args)]
struct HsmArgs {
    /// The PKCS#11 module (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so).
    #[arg(long, value_name = "PATH")]
    module: PathBuf,
    /// The token's label.
    #[arg(long, value_name = "LABEL")]
    token: String,
    /// Read the user PIN from FILE. Otherwise from --pin-fd, the environment variable
    /// VNEID_HSM_PIN, or a prompt on the terminal.
    #[arg(long, value_name = "FILE", conflicts_with = "pin_fd")]
    pin_file: Option<PathBuf>,
    /// Read the user PIN from the open file descriptor N.
    #[arg(long, value_name = "N")]
    pin_fd: Option<u32>,
}

#[cfg(feature = "pkcs11")]
#[derive(Debug, Args)]
struct HsmGenerateArgs {
    #[command(flatten)]
    hsm: HsmArgs,
    /// The new key's label on the token, naming node and period (e.g. vneid-hn-2026).
    #[arg(long, value_name = "KEY_LABEL")]
    label: String,
}

/// What a command came to, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (signed, verified, created, printed).
    Done,
    /// The trust list was refused: it breaks a rule, does not verify, or was not confirmed.
    Refused,
}

impl Outcome {
    /// 0 done, 1 refused.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Refused => 1,
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Root(RootCommand::Init(a)) => root_init(&a),
        Command::Root(RootCommand::Public(a)) => root_public(&a),
        Command::Root(RootCommand::Passphrase(a)) => root_passphrase(&a),
        Command::TrustList(TrustListCommand::Sign(a)) => sign(&a),
        Command::TrustList(TrustListCommand::Verify(a)) => verify(&a),
        #[cfg(feature = "pkcs11")]
        Command::Hsm(c) => hsm(c),
    }
}

fn now() -> Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?.as_secs())
}

fn open_keystore(a: &KeystoreArgs) -> Result<Keystore> {
    let passphrase = a.passphrase.source().read("keystore passphrase")?;
    Keystore::open(&a.keystore, &Unlock::Passphrase(passphrase)).map_err(|e| match e {
        KeyError::WrongSecret => anyhow!("wrong passphrase for the keystore in {}", a.keystore.display()),
        e => anyhow!(e).context(format!("opening the keystore in {}", a.keystore.display())),
    })
}

fn root_init(a: &RootInitArgs) -> Result<Outcome> {
    let dir = &a.keystore.keystore;
    if dir.join("keystore.json").exists() {
        bail!("{} already holds a keystore; a second root key is a deliberate revoke-then-generate", dir.display());
    }
    let kdf = KdfParams { m_kib: a.kdf_memory_mib.saturating_mul(1024), t: a.kdf_passes, p: 1 };
    let passphrase = a.keystore.passphrase.source().read_new("root keystore passphrase")?;
    if passphrase.chars().count() < MIN_ROOT_PASSPHRASE {
        bail!("the root keystore passphrase must be at least {MIN_ROOT_PASSPHRASE} characters (six diceware words are better)");
    }
    let mut ks = Keystore::create(dir, &Unlock::Passphrase(passphrase), kdf)
        .with_context(|| format!("creating the keystore in {}", dir.display()))?;
    let kid = ks.generate_root(now()?)?;
    let pk = ks.root()?.public_key();
    eprintln!(
        "keys: created the root keystore in {} (Argon2id, {} MiB, {} passes)",
        dir.display(),
        a.kdf_memory_mib,
        a.kdf_passes
    );
    eprintln!("keys: root key id {kid}; the public key below is what verifiers pin.");
    eprintln!("keys: back the folder up now (docs/key-ceremony.md): without it and the passphrase, no trust list can be signed.");
    println!("{pk}");
    Ok(Outcome::Done)
}

fn root_public(a: &KeystoreArgs) -> Result<Outcome> {
    let ks = open_keystore(a)?;
    let root = ks.root()?;
    eprintln!("keys: root key id {}", root.kid());
    println!("{}", root.public_key());
    Ok(Outcome::Done)
}

fn root_passphrase(a: &PassphraseChangeArgs) -> Result<Outcome> {
    let mut ks = open_keystore(&a.keystore)?;
    let source = match &a.new_passphrase_file {
        Some(f) => SecretSource::File(f.clone()),
        None => SecretSource::Prompt,
    };
    let new = source.read_new("root keystore passphrase")?;
    if new.chars().count() < MIN_ROOT_PASSPHRASE {
        bail!("the root keystore passphrase must be at least {MIN_ROOT_PASSPHRASE} characters (six diceware words are better)");
    }
    let kdf = KdfParams { m_kib: a.kdf_memory_mib.saturating_mul(1024), t: a.kdf_passes, p: 1 };
    ks.rekey(&Unlock::Passphrase(new), kdf)?;
    eprintln!(
        "keys: the keystore in {} now opens with the new passphrase only; back it up again (the old backups still open with the old one)",
        a.keystore.keystore.display()
    );
    Ok(Outcome::Done)
}

fn read_bounded(path: &Path, max: u64, what: &str) -> Result<String> {
    let f = fs::File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut s = String::new();
    f.take(max + 1).read_to_string(&mut s).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if s.len() as u64 > max {
        bail!("{what} {} is larger than {max} bytes", path.display());
    }
    Ok(s)
}

fn sign(a: &SignArgs) -> Result<Outcome> {
    let raw = read_bounded(&a.input, MAX_LIST_FILE, "trust list")?;
    let list: TrustList = match serde_json::from_str(&raw) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("keys: refused: {} is not a trust list: {e}", a.input.display());
            return Ok(Outcome::Refused);
        }
    };
    let ks = open_keystore(&a.keystore)?;
    let root = ks.root()?;
    let previous = match &a.previous {
        Some(p) => {
            let signed = read_bounded(p, MAX_LIST_FILE, "previous trust list")?;
            let prev = TrustList::verify(signed.trim(), &root.public_key())
                .map_err(|e| anyhow!("previous trust list {}: {e}", p.display()))?;
            Some(prev)
        }
        None => None,
    };
    let now = now()?;
    let warnings = match keys::review_trust_list(&list, &root.public_key(), previous.as_ref(), now) {
        Ok(w) => w,
        Err(e) => {
            print!("{}", summary(&list, previous.as_ref(), now));
            eprintln!("keys: refused, nothing signed: {e}");
            return Ok(Outcome::Refused);
        }
    };
    print!("{}", summary(&list, previous.as_ref(), now));
    for w in &warnings {
        println!("warning: {w}");
    }
    std::io::stdout().flush()?;
    if !a.yes && !confirm(&format!("Sign trust list seq {} with root key {}? Type yes: ", list.seq, root.kid()))? {
        eprintln!("keys: not confirmed, nothing signed");
        return Ok(Outcome::Refused);
    }
    let signed = keys::sign_trust_list(&root, &list)?;
    // Check what goes out the way a verifier will.
    let back = TrustList::verify(&signed, &root.public_key()).context("the signed list does not verify")?;
    if back != list {
        bail!("the signed list does not read back as the list reviewed");
    }
    write_out(&a.out, format!("{signed}\n").as_bytes())?;
    eprintln!("keys: signed trust list seq {} with root key {}, written to {}", list.seq, root.kid(), a.out.display());
    Ok(Outcome::Done)
}

/// Asks on the terminal; without one, refuses rather than sign unseen.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not signed: no terminal to confirm on; read the summary and run again with --yes");
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename: a crash leaves the old
/// file or the new one.
fn write_out(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        anyhow!(e).context(format!("writing {}", path.display()))
    })
}

fn verify(a: &VerifyArgs) -> Result<Outcome> {
    let root = root_key(&a.root_key)?;
    let signed = read_bounded(&a.input, MAX_LIST_FILE, "signed trust list")?;
    let list = match TrustList::verify(signed.trim(), &root) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("keys: INVALID: {}: {e}", a.input.display());
            return Ok(Outcome::Refused);
        }
    };
    let now = now()?;
    println!("valid: signed by root key {}", keys::key_id_for(&root));
    print!("{}", summary(&list, None, now));
    if now > list.next_update {
        println!(
            "note: past its next_update ({}); verifiers call it stale after their grace period",
            date(list.next_update)
        );
    }
    Ok(Outcome::Done)
}

fn root_key(arg: &str) -> Result<PublicKey> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(file) => (read_bounded(Path::new(file), MAX_KEY_FILE, "root key file")?, format!(" in {file}")),
        None => (arg.to_owned(), String::new()),
    };
    text.trim().parse().map_err(|e| anyhow!("bad root key{from}: {e}"))
}

fn date(t: u64) -> String {
    if t == u64::MAX {
        return "never".to_owned();
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]Z");
    i64::try_from(t)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| t.to_string())
}

fn days(from: u64, to: u64) -> String {
    if to >= from {
        format!("{} d left", (to - from) / 86_400)
    } else {
        "over".to_owned()
    }
}

/// What an admin reads before signing: the list's header, every key with its state and periods,
/// the status lists, and what changed since the previous list.
fn summary(list: &TrustList, previous: Option<&TrustList>, now: u64) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "trust list for {}", list.issuer);
    let _ = writeln!(
        s,
        "  seq {}{}, issued {}, next update {} ({})",
        list.seq,
        previous.map(|p| format!(" (previous {})", p.seq)).unwrap_or_default(),
        date(list.issued_at),
        date(list.next_update),
        days(now, list.next_update)
    );
    let _ = writeln!(s, "  keys ({}):", list.keys.len());
    let row = |s: &mut String, cols: [&str; 6]| {
        let line =
            format!("    {:<8} {:<8} {:<12} {:<50} {:<31} {}", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]);
        let _ = writeln!(s, "{}", line.trim_end());
    };
    row(&mut s, ["kid", "state", "node", "signs from - until", "what it signed is valid until", "change"]);
    for k in &list.keys {
        let change = match previous.map(|p| p.key(&k.kid)) {
            None => String::new(),
            Some(None) => "new".to_owned(),
            Some(Some(old)) if old.state != k.state => format!("was {}", old.state.as_str()),
            Some(Some(_)) => String::new(),
        };
        let signing_left = match k.state {
            KeyState::Next | KeyState::Active => format!(" ({})", days(now, k.sign_until)),
            KeyState::Retired | KeyState::Revoked => String::new(),
        };
        let valid = match k.state {
            KeyState::Revoked => "- (revoked: nothing accepted)".to_owned(),
            _ => format!("{} ({})", date(k.valid_until), days(now, k.valid_until)),
        };
        row(
            &mut s,
            [
                &k.kid.to_string(),
                k.state.as_str(),
                k.node.as_deref().unwrap_or("-"),
                &format!("{} - {}{signing_left}", date(k.sign_from), date(k.sign_until)),
                &valid,
                &change,
            ],
        );
    }
    if let Some(p) = previous {
        for old in p.keys.iter().filter(|o| list.key(&o.kid).is_none()) {
            let _ = writeln!(s, "    {:<8} dropped (was {})", old.kid.to_string(), old.state.as_str());
        }
    }
    let _ = writeln!(s, "  status lists ({}):", list.status_lists.len());
    for sl in &list.status_lists {
        let _ = writeln!(s, "    {} {}", sl.id, sl.uri);
    }
    s
}

#[cfg(feature = "pkcs11")]
fn hsm(c: HsmCommand) -> Result<Outcome> {
    let open = |a: &HsmArgs| -> Result<keys::Pkcs11Token> {
        let pin = SecretSource::choose(a.pin_file.clone(), a.pin_fd, keys::PIN_ENV).read("token user PIN")?;
        keys::Pkcs11Token::open(&a.module, &a.token, pin)
            .with_context(|| format!("opening token {:?} in {}", a.token, a.module.display()))
    };
    match c {
        HsmCommand::Generate(a) => {
            let token = open(&a.hsm)?;
            let signer = token.generate(&a.label, 1)?;
            let p = signer.protection()?;
            eprintln!(
                "keys: generated key {:?} on token {:?}: key id {}, sensitive {}, extractable {}",
                a.label,
                a.hsm.token,
                signer.kid(),
                p.sensitive,
                p.extractable
            );
            println!("{} {}", signer.kid(), signer.public_key());
        }
        HsmCommand::List(a) => {
            let token = open(&a)?;
            for k in token.keys()? {
                println!("{} {} {}", k.kid, k.public_key, k.label);
            }
        }
    }
    Ok(Outcome::Done)
}
