//! The verifier's offline bundle: the pinned root key, the signed trust list and the signed
//! status lists, as one JSON file that `verifier sync` writes and `verifier verify` reads.
//! Everything in it is re-verified when it is opened, so a bundle file that was corrupted or
//! edited is refused; against a file rewritten whole (another root and trust list), apps keep the
//! root key pinned outside the bundle and open it with [`Bundle::open_pinned`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::trustlist::TrustStore;
use crate::types::PublicKey;

/// The `format` member of a bundle file.
pub const FORMAT: &str = "vneid-verifier-bundle/1";
/// Largest bundle file accepted.
pub const MAX_LEN: usize = 64 << 20;

/// A verifier's offline trust material as synced: read it with [`Bundle::from_json`], check it
/// with [`Bundle::open_pinned`] (or [`Bundle::open`]) to get the [`TrustStore`] that verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The root public key the trust list must verify under: pinned by the verifier's operator.
    pub root_key: PublicKey,
    /// The trust list as a compact JWS.
    pub trust_list: String,
    /// Status list tokens by status list id.
    #[serde(default)]
    pub status_lists: BTreeMap<u32, String>,
    /// When the bundle was synced (UNIX seconds). Shown to the verifier's operator; the verdicts
    /// use the times inside the signed trust list and status lists instead, which a copied or
    /// edited bundle cannot move.
    pub synced_at: u64,
}

impl Bundle {
    /// A bundle with a trust list and no status list yet (`verifier sync` adds them).
    pub fn new(root_key: PublicKey, trust_list: String, synced_at: u64) -> Self {
        Self { format: FORMAT.into(), root_key, trust_list, status_lists: BTreeMap::new(), synced_at }
    }

    /// Reads a bundle file (at most [`MAX_LEN`] bytes). Nothing is verified yet: see
    /// [`Self::open_pinned`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_LEN {
            return Err(Error::BundleMalformed("bundle too large"));
        }
        let b: Bundle =
            serde_json::from_slice(bytes).map_err(|_| Error::BundleMalformed("not a bundle JSON document"))?;
        if b.format != FORMAT {
            return Err(Error::BundleMalformed("unknown bundle format"));
        }
        Ok(b)
    }

    /// The bundle file's bytes (pretty-printed JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Like [`Self::open`], but first requires the bundle's root key to be the one the app pinned
    /// (compiled in, or kept in protected storage): a bundle file rewritten whole with another
    /// root and trust list is refused.
    pub fn open_pinned(&self, pinned_root: &PublicKey) -> Result<TrustStore, Error> {
        if &self.root_key != pinned_root {
            return Err(Error::RootKeyMismatch);
        }
        self.open()
    }

    /// Verifies the trust list under the bundle's root key and every status list under the trust
    /// list (together at most 64 MiB decompressed). The root key is the one pinned when the
    /// bundle was synced; apps that keep their own pin use [`Self::open_pinned`].
    pub fn open(&self) -> Result<TrustStore, Error> {
        let mut store = TrustStore::from_signed(&self.trust_list, &self.root_key)?;
        for (id, token) in &self.status_lists {
            store.add_status_list(*id, token)?;
        }
        Ok(store)
    }
}
