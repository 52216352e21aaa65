//! The commands an operator runs beside the service: `issuer admin recover`, `issuer audit
//! verify`, `issuer backup` and `issuer restore`. Each opens the store itself: on the embedded
//! engine only one process may, so these run with the service stopped (the store says so when it
//! is not); on PostgreSQL they work beside running nodes. An online backup of a running embedded
//! node goes through its admin API (`issuer backup --url`).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::clock::Clock as _;
use crate::ids::TokenId;
use crate::service::backup::{Header, Sources, MAGIC};
use crate::store::{AuditEntry, Role, Store, TokenRow, WriteGate};

/// Where a store is: the data folder, or a PostgreSQL database, and the deployment keystore.
#[derive(Debug, Clone)]
pub struct Location {
    pub data: PathBuf,
    pub database: Option<String>,
    pub keys: Option<PathBuf>,
}

impl Location {
    pub fn keys_dir(&self) -> PathBuf {
        self.keys.clone().unwrap_or_else(|| self.data.join("keys"))
    }
}

/// Opens the store of `loc` (the embedded one only if no issuer has it open).
pub async fn open_store(loc: &Location) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &loc.database {
        None => {
            let db = loc.data.join("db");
            if !db.join("issuer.redb").exists() {
                bail!("no issuer database in {}", loc.data.display());
            }
            let e = crate::store::embedded::Embedded::open(&db, WriteGate::default()).map_err(|e| match e {
                crate::store::embedded::OpenError::InUse(_) => anyhow::anyhow!(
                    "the issuer is running on {} (its store is open): stop it first, this command runs offline",
                    loc.data.display()
                ),
                e => anyhow::anyhow!(e),
            })?;
            Arc::new(e)
        }
        Some(url) => Arc::new(crate::store::postgres::Postgres::connect(url, WriteGate::default()).await?),
    })
}

/// Mints a new admin token (the way back when no admin token works any more), audited as
/// `token.recovered` by `offline-recovery`. Returns the token, to print once.
pub async fn recover_admin(loc: &Location, name: &str) -> anyhow::Result<Zeroizing<String>> {
    if name.trim().is_empty() || name.chars().count() > 100 || enrollment::text::has_format_characters(name) {
        bail!("--name must be 1 to 100 characters of plain text");
    }
    let store = open_store(loc).await?;
    let now = crate::clock::SystemClock.now();
    let token = crate::service::new_secret("vnid_adm_");
    let row = TokenRow {
        id: TokenId::generate(),
        role: Role::Admin,
        name: name.to_owned(),
        reception_point: None,
        created_at: now,
        revoked: false,
    };
    let host = std::env::var("HOSTNAME").ok().filter(|h| h.len() <= 64).unwrap_or_else(|| "-".into());
    let audit = AuditEntry::new(
        now,
        "offline-recovery",
        "token.recovered",
        row.id.as_str(),
        Some(format!("role=admin name_len={} host={host}", name.chars().count())),
    );
    store.create_token(crate::service::hash_secret(&token), row, audit).await.context("storing the new admin token")?;
    store.ping().await?;
    Ok(token)
}

/// The keystore of `dir`, opened with its development key file, if both are there.
fn open_keystore(dir: &Path) -> Option<keys::Keystore> {
    let kek = dir.join("kek");
    if !dir.join("keystore.json").exists() || !kek.exists() {
        return None;
    }
    keys::Keystore::open(dir, &keys::Unlock::KeyFile(kek)).ok()
}

/// Verifies the audit log of `loc`'s store. Checkpoint signatures are checked with the keys of
/// the trust list in the store (verified under `root_key`, else the keystore's root) and the
/// keystores' own keys; with neither, only the chain and the hashes checkpoints cover.
pub async fn audit_verify(loc: &Location, root_key: Option<&str>) -> anyhow::Result<crate::service::audit::Report> {
    let store = open_store(loc).await?;
    let mut own = Vec::new();
    let mut root: Option<verifier::PublicKey> = match root_key {
        Some(k) => Some(k.parse().map_err(|e| anyhow::anyhow!("--root-key: {e}"))?),
        None => None,
    };
    let mut dirs = vec![loc.keys_dir()];
    dirs.push(loc.data.join("node-keys"));
    for dir in dirs {
        if let Some(ks) = open_keystore(&dir) {
            own.extend(ks.trusted_keys());
            if root.is_none() {
                root = ks.root().ok().map(|r| keys::Signer::public_key(&r));
            }
        }
    }
    let have_keys = root.is_some() || !own.is_empty();
    let keys = crate::service::audit::verification_keys(store.as_ref(), root.as_ref(), own).await?;
    let report = crate::service::audit::verify(store.as_ref(), have_keys.then_some(keys.as_slice())).await?;
    Ok(report)
}

/// `issuer backup --data DIR` (or `--database URL`): a backup made by this process.
pub async fn backup_local(loc: &Location, out: &Path) -> anyhow::Result<Header> {
    if out.exists() {
        bail!("{} exists already", out.display());
    }
    let store = open_store(loc).await?;
    let mut keystores = vec![("keys".to_owned(), loc.keys_dir())];
    let node = loc.data.join("node-keys");
    if node.is_dir() {
        keystores.push(("node-keys".to_owned(), node));
    }
    let work = out.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf).join(".issuer-backup-work");
    let sources = Sources { keystores, work: work.clone() };
    let header = crate::service::backup::write(store.as_ref(), &sources, out, crate::clock::SystemClock.now()).await?;
    let _ = std::fs::remove_dir(&work);
    Ok(header)
}

/// `issuer backup --url URL`: downloads a backup from a running node's admin API to `out`
/// (written to a temporary file, synced, then renamed). Returns its length.
pub fn backup_remote(url: &str, token: &str, out: &Path) -> anyhow::Result<u64> {
    if out.exists() {
        bail!("{} exists already", out.display());
    }
    let resp = match ureq::get(&format!("{}/v1/admin/backup", url.trim_end_matches('/')))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept-Language", "en")
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            bail!("the issuer refused the backup ({code}): {}", r.into_string().unwrap_or_default())
        }
        Err(e) => bail!("reaching the issuer: {e}"),
    };
    let part = out.with_extension("part");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&part).with_context(|| format!("creating {}", part.display()))?;
    let n = std::io::copy(&mut resp.into_reader(), &mut f)?;
    f.sync_all()?;
    drop(f);
    check_file(&part).with_context(|| "the download is not a whole backup".to_string())?;
    std::fs::rename(&part, out)?;
    Ok(n)
}

fn read_header(r: &mut impl std::io::BufRead) -> anyhow::Result<Header> {
    let mut magic = vec![0u8; MAGIC.len()];
    r.read_exact(&mut magic)?;
    if magic != MAGIC {
        bail!("not an issuer backup");
    }
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    serde_json::from_slice(&line).context("the backup's header")
}

/// Checks every section's length and SHA-256.
pub fn check_file(path: &Path) -> anyhow::Result<Header> {
    let mut r = std::io::BufReader::new(std::fs::File::open(path)?);
    let header = read_header(&mut r)?;
    for s in &header.sections {
        let mut h = Sha256::new();
        let n = std::io::copy(&mut (&mut r).take(s.len), &mut HashWriter(&mut h))?;
        if n != s.len || hex::encode(h.finalize()) != s.sha256 {
            bail!("section {} is damaged or cut short", s.name);
        }
    }
    if r.read(&mut [0u8; 1])? != 0 {
        bail!("bytes after the last section");
    }
    Ok(header)
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub header: Header,
    pub audit: crate::service::audit::Report,
}

/// `issuer restore`: rebuilds a node from a backup file into `loc` (an empty data folder, or a
/// new database): the keystore files into the keystore folder(s), the store through its
/// engine's restore; then verifies the audit chain. The key-encryption key is not in a backup:
/// `key_file` copies the development one into place (production: the passphrase or HSM).
pub async fn restore(input: &Path, loc: &Location, key_file: Option<&Path>) -> anyhow::Result<Restored> {
    let header = check_file(input)?;
    let embedded = loc.database.is_none();
    if embedded && header.engine != "embedded" {
        bail!("this backup is of a {} store: restore it with --database", header.engine);
    }
    if !embedded && header.engine != "postgres" {
        bail!("this backup is of an embedded store: restore it without --database");
    }
    if loc.data.join("db").exists() {
        bail!("{} holds a database already: restore into a new data folder", loc.data.display());
    }
    crate::private_folder(&loc.data)?;
    let mut r = std::io::BufReader::new(std::fs::File::open(input)?);
    read_header(&mut r)?;
    let part = loc.data.join("restore-store.part");
    for s in &header.sections {
        let mut section = (&mut r).take(s.len);
        if s.name == "store" {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts.open(&part)?;
            std::io::copy(&mut section, &mut f)?;
            f.sync_all()?;
            continue;
        }
        let (label, name) = s.name.split_once('/').context("a section name without a folder")?;
        if name.is_empty() || name.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
            bail!("section {} names a file outside its folder", s.name);
        }
        let dir = match label {
            "keys" => loc.keys_dir(),
            "node-keys" => loc.data.join("node-keys"),
            other => bail!("unknown section folder {other}"),
        };
        let target = dir.join(name);
        if let Some(parent) = target.parent() {
            crate::private_folder(parent)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&target).with_context(|| format!("{} exists already", target.display()))?;
        std::io::copy(&mut section, &mut f)?;
        f.sync_all()?;
    }
    if let Some(kek) = key_file {
        let target = loc.keys_dir().join("kek");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&target).with_context(|| format!("{} exists already", target.display()))?;
        f.write_all(&std::fs::read(kek).with_context(|| format!("reading {}", kek.display()))?)?;
        f.sync_all()?;
    }
    match &loc.database {
        None => crate::store::embedded::Embedded::restore(&part, &loc.data.join("db"))?,
        Some(url) => {
            crate::store::postgres::restore(url, &part).await?;
        }
    }
    let _ = std::fs::remove_file(&part);
    let audit = audit_verify(loc, None).await?;
    Ok(Restored { header, audit })
}
