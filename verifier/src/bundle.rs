//! The verifier's offline bundle: the pinned root key, the signed trust list and the signed
//! status lists, as one JSON file that `verifier sync` writes and `verifier verify` reads.
//! Everything in it is re-verified when it is opened, so a bundle file that was tampered with on
//! the phone's storage is refused rather than trusted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::trustlist::TrustStore;
use crate::types::PublicKey;

pub const FORMAT: &str = "vneid-verifier-bundle/1";
/// Largest bundle file accepted.
pub const MAX_LEN: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    /// The root public key the trust list must verify under: pinned by the verifier's operator.
    pub root_key: PublicKey,
    /// The trust list as a compact JWS.
    pub trust_list: String,
    /// Status list tokens by status list id.
    #[serde(default)]
    pub status_lists: BTreeMap<u32, String>,
    /// When the bundle was synced (UNIX seconds), for display.
    pub synced_at: u64,
}

impl Bundle {
    pub fn new(root_key: PublicKey, trust_list: String, synced_at: u64) -> Self {
        Self { format: FORMAT.into(), root_key, trust_list, status_lists: BTreeMap::new(), synced_at }
    }

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

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Verifies the trust list under the root key and every status list under the trust list.
    pub fn open(&self) -> Result<TrustStore, Error> {
        let mut store = TrustStore::from_signed(&self.trust_list, &self.root_key)?;
        for (id, token) in &self.status_lists {
            store.add_status_list(*id, token)?;
        }
        Ok(store)
    }
}
