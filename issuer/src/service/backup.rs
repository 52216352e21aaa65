//! Backups: one file holding a consistent copy of the store ([`Store::backup`]) and the
//! keystore files, restored by `issuer restore` ([`crate::offline::restore`]).
//!
//! The file: the line `VNEID-BACKUP-1`, a line of JSON (when, which engine, the audit chain's
//! head, and each section's name, length and SHA-256), then the sections' bytes in that order.
//! Sections: `store` (the engine's own copy) and `keys/<file>`, `node-keys/<file>` (the
//! keystores: public records and wrapped, sealed seeds).
//!
//! What stays sealed stays sealed: personal data is in the store sealed under a key derived
//! from the keystore's master key, and the master key is wrapped by the key-encryption key
//! (`kek` file in development, a passphrase or an HSM in production), which is **not** in the
//! backup. A backup file alone opens nothing; restoring it needs the key-encryption key, kept
//! apart (docs/operations.md).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{require, Principal, Result, Service, ServiceError};
use crate::store::{AuditEntry, AuditLink, Role, Store, StoreError};

pub const MAGIC: &[u8] = b"VNEID-BACKUP-1\n";

/// Files never put in a backup: the key-encryption key, and temporary files.
const LEFT_OUT: &[&str] = &["kek"];

/// Where the files of a backup come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Keystore folders, each with the name its section carries (`keys`, `node-keys`).
    pub keystores: Vec<(String, PathBuf)>,
    /// A folder for the backup's temporary files (on the data volume).
    pub work: PathBuf,
}

impl Sources {
    pub fn of(config: &crate::Config) -> Self {
        let mut keystores = vec![("keys".to_owned(), config.keys_dir())];
        if config.node.is_some() {
            keystores.push(("node-keys".to_owned(), config.data.join("node-keys")));
        }
        Self { keystores, work: config.data.join("backups") }
    }
}

/// One section of the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Section {
    pub name: String,
    pub len: u64,
    pub sha256: String,
}

/// The header line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub created_at: u64,
    pub engine: String,
    pub audit_head: Option<AuditLink>,
    pub sections: Vec<Section>,
}

fn io(e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        StoreError::DiskFull
    } else {
        StoreError::Engine(format!("backup: {e}"))
    }
}

fn sha256_file(p: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Every file under `dir` (`/`-separated path relative to it, full path), sorted; none when
/// `dir` does not exist.
fn files_under(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let Some(name) = e.file_name().to_str().map(str::to_owned) else { continue };
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let ty = e.file_type()?;
            if ty.is_dir() {
                todo.push((rel, e.path()));
            } else if ty.is_file() {
                out.push((rel, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a backup of `store` and the keystores of `sources` to `out` (a new file, 0600,
/// durable when this returns). The store's copy is consistent (see [`Store::backup`]); the
/// keystore files are each written atomically by `keys`, and change only when keys do.
pub async fn write(
    store: &dyn Store,
    sources: &Sources,
    out: &Path,
    now: u64,
) -> std::result::Result<Header, StoreError> {
    crate::private_folder(&sources.work).map_err(|e| StoreError::Engine(format!("{e:#}")))?;
    let part = sources.work.join(format!("store-{}-{}.part", now, std::process::id()));
    let _ = std::fs::remove_file(&part);
    let audit_head = store.audit_head().await?;
    let result = async {
        store.backup(&part).await?;
        let (len, sha) = sha256_file(&part).map_err(io)?;
        let mut sections = vec![Section { name: "store".into(), len, sha256: sha }];
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for (label, dir) in &sources.keystores {
            for (name, p) in files_under(dir).map_err(io)? {
                let base = name.rsplit('/').next().unwrap_or_default();
                if LEFT_OUT.contains(&name.as_str()) || base.ends_with(".tmp") || base.starts_with('.') {
                    continue;
                }
                let bytes = std::fs::read(&p).map_err(io)?;
                sections.push(Section {
                    name: format!("{label}/{name}"),
                    len: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                });
                files.push((name, bytes));
            }
        }
        let header = Header { created_at: now, engine: store.engine().to_owned(), audit_head, sections };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(out).map_err(io)?;
        f.write_all(MAGIC).map_err(io)?;
        f.write_all(&serde_json::to_vec(&header).map_err(|e| StoreError::Engine(e.to_string()))?).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        std::io::copy(&mut std::fs::File::open(&part).map_err(io)?, &mut f).map_err(io)?;
        for (_, bytes) in &files {
            f.write_all(bytes).map_err(io)?;
        }
        f.sync_all().map_err(io)?;
        if let Some(dir) = out.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(header)
    }
    .await;
    let _ = std::fs::remove_file(&part);
    result
}

impl Service {
    /// Writes a backup to `out` (admins only; audited as `store.backup` before the copy, so
    /// the backup holds its own audit entry).
    pub async fn backup(&self, who: &Principal, sources: &Sources, out: &Path) -> Result<Header> {
        require(who, Role::Admin)?;
        let now = self.now();
        let audit = AuditEntry::new(now, who.id.as_str(), "store.backup", "store", None);
        self.store.append_audit(audit).await?;
        write(self.store.as_ref(), sources, out, now).await.map_err(|e| match e {
            StoreError::DiskFull => ServiceError::DiskFull,
            e => ServiceError::internal(e),
        })
    }
}
