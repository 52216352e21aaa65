//! The trust list: which issuer keys exist, when each may sign, how long what it signed stays
//! valid, its rotation state, and where the status lists live. Signed by the issuer's root key
//! (kept offline) as a compact JWS, so any mirror can serve it and a verifier pins only the root
//! public key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::Ed25519Key;
use crate::error::{Error, Reason, Rejection};
use crate::jws::{self, Jws};
use crate::statuslist::StatusList;
use crate::types::{KeyId, PublicKey};

/// The JWS `typ` of a trust list.
pub const TYP: &str = "vneid-trust-list+jwt";
/// Bounds that keep a hostile trust list from costing more than a glance.
pub const MAX_KEYS: usize = 1024;
pub const MAX_STATUS_LISTS: usize = 4096;
const MAX_URI: usize = 512;

/// Rotation state of an issuer signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published ahead of use, so verifiers have it before the first credential it signs.
    Next,
    /// Signing now.
    Active,
    /// No longer signs; what it signed stays valid until `valid_until`.
    Retired,
    /// Compromised or withdrawn: nothing it signed is accepted any more.
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }
}

/// One issuer signing key as listed. Times are UNIX seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub kid: KeyId,
    /// The Ed25519 public key.
    pub x: PublicKey,
    pub state: KeyState,
    /// First moment at which a credential's issue time may fall for this key.
    pub sign_from: u64,
    /// Last moment at which a credential's issue time may fall for this key.
    pub sign_until: u64,
    /// What this key signed is not accepted after this moment.
    pub valid_until: u64,
    /// The issuer node holding the key, when several nodes run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Where a status list lives; credentials refer to it by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusListRef {
    pub id: u32,
    pub uri: String,
}

/// The trust list document (the JWS payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustList {
    /// Format version, 1.
    pub v: u32,
    /// The issuer identifier (its base URL), as in the SD-JWT VC `iss`.
    pub issuer: String,
    /// Increases with every publication; a verifier never goes back to a lower one.
    pub seq: u64,
    pub issued_at: u64,
    /// When the next trust list will be published at the latest; verifiers sync before.
    pub next_update: u64,
    pub keys: Vec<TrustedKey>,
    #[serde(default)]
    pub status_lists: Vec<StatusListRef>,
}

impl TrustList {
    /// Checks the rules a signed list must also keep: bounded sizes, unique key ids and status
    /// list ids, sane periods.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = Error::TrustListMalformed;
        if self.v != 1 {
            return Err(bad("unsupported version"));
        }
        if self.keys.len() > MAX_KEYS || self.status_lists.len() > MAX_STATUS_LISTS {
            return Err(bad("too many entries"));
        }
        if self.issuer.is_empty() || self.issuer.len() > MAX_URI {
            return Err(bad("issuer must be 1 to 512 bytes"));
        }
        let mut kids = std::collections::BTreeSet::new();
        for k in &self.keys {
            if !kids.insert(&k.kid) {
                return Err(bad("duplicate key id"));
            }
            if k.sign_from > k.sign_until || k.sign_until > k.valid_until {
                return Err(bad("key periods out of order"));
            }
            if Ed25519Key::from_public(&k.x).is_none() {
                return Err(bad("key is not a valid Ed25519 public key"));
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut uris = std::collections::BTreeSet::new();
        for s in &self.status_lists {
            if !ids.insert(s.id) {
                return Err(bad("duplicate status list id"));
            }
            if !uris.insert(s.uri.as_str()) {
                return Err(bad("duplicate status list uri"));
            }
            if s.uri.is_empty() || s.uri.len() > MAX_URI {
                return Err(bad("status list uri must be 1 to 512 bytes"));
            }
        }
        Ok(())
    }

    /// The JWS signing input for this list under the root key `root_kid`.
    pub fn signing_input(&self, root_kid: &KeyId) -> String {
        let header = json!({"alg": "EdDSA", "typ": TYP, "kid": root_kid.to_string()});
        jws::signing_input(&header, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// Verifies a signed trust list under the pinned root key and returns it.
    pub fn verify(compact: &str, root: &PublicKey) -> Result<TrustList, Error> {
        let jws = Jws::parse(compact).map_err(Error::TrustListMalformed)?;
        if jws.header_str("typ") != Some(TYP) {
            return Err(Error::TrustListMalformed("wrong typ"));
        }
        let key =
            Ed25519Key::from_public(root).ok_or(Error::TrustListMalformed("root key is not a valid Ed25519 key"))?;
        if !jws.verify(&key) {
            return Err(Error::TrustListSignature);
        }
        let list: TrustList = serde_json::from_slice(&jws.payload)
            .map_err(|_| Error::TrustListMalformed("payload does not match the schema"))?;
        list.validate()?;
        Ok(list)
    }

    pub fn key(&self, kid: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| &k.kid == kid)
    }
}

/// How strict a verifier is about time. Defaults suit a landlord's phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest holder-signed window accepted, whatever the wallet asked for (seconds).
    pub max_window: u64,
    /// Allowed difference between the wallet's and the verifier's clocks (seconds).
    pub clock_skew: u64,
    /// How long after the trust list's `next_update` it is still used (seconds).
    pub trust_list_grace: u64,
    /// Whether a credential whose status cannot be checked is rejected (`status_unknown`).
    pub require_status: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self { max_window: 120, clock_skew: 30, trust_list_grace: 30 * 86_400, require_status: true }
    }
}

/// A verified trust list with its keys decoded, and the status lists synced with it: everything
/// a verifier needs offline. Build it once, verify many proofs with it.
#[derive(Debug, Clone)]
pub struct TrustStore {
    list: TrustList,
    keys: Vec<(KeyId, Ed25519Key, usize)>,
    status: BTreeMap<u32, StatusList>,
}

impl TrustStore {
    pub fn new(list: TrustList) -> Result<Self, Error> {
        list.validate()?;
        let keys = list
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Ed25519Key::from_public(&k.x)
                    .map(|vk| (k.kid.clone(), vk, i))
                    .ok_or(Error::TrustListMalformed("key is not a valid Ed25519 public key"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { list, keys, status: BTreeMap::new() })
    }

    /// Verifies a signed trust list under the root key and builds the store.
    pub fn from_signed(compact: &str, root: &PublicKey) -> Result<Self, Error> {
        Self::new(TrustList::verify(compact, root)?)
    }

    pub fn trust_list(&self) -> &TrustList {
        &self.list
    }

    /// Adds a status list token after checking it against this trust list (see
    /// [`StatusList::verify_token`]).
    pub fn add_status_list(&mut self, id: u32, token: &str) -> Result<(), Error> {
        let uri = self
            .list
            .status_lists
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.uri.clone())
            .ok_or(Error::StatusListInvalid("status list id not in the trust list"))?;
        let sl = StatusList::verify_token(token, &uri, self)?;
        self.status.insert(id, sl);
        Ok(())
    }

    pub fn status_list(&self, id: u32) -> Option<&StatusList> {
        self.status.get(&id)
    }

    /// The decoded key for `kid`, if listed and not revoked (for status list tokens, which are
    /// checked at sync time).
    pub(crate) fn listed_key(&self, kid: &KeyId) -> Option<(&Ed25519Key, &TrustedKey)> {
        let (_, vk, i) = self.keys.iter().find(|(k, _, _)| k == kid)?;
        let tk = self.list.keys.get(*i)?;
        Some((vk, tk))
    }

    /// The key that may have signed a credential issued at `iat`, checked against its state and
    /// periods at `now`, and the trust list's own freshness.
    pub fn issuer_key(&self, kid: &KeyId, iat: u64, now: u64, policy: &Policy) -> Result<&Ed25519Key, Rejection> {
        let reject = |r, d| Rejection::new(r, d).with_kid(kid);
        if now > self.list.next_update.saturating_add(policy.trust_list_grace) {
            return Err(reject(Reason::TrustListStale, "trust list is past its next update and grace period"));
        }
        let (vk, tk) =
            self.listed_key(kid).ok_or_else(|| reject(Reason::UnknownKey, "key id not in the trust list"))?;
        match tk.state {
            KeyState::Revoked => return Err(reject(Reason::KeyRevoked, "issuer key is revoked")),
            KeyState::Next | KeyState::Active | KeyState::Retired => {}
        }
        if iat < tk.sign_from || iat > tk.sign_until {
            return Err(reject(Reason::KeyNotValid, "issue time outside the key's signing period"));
        }
        if now > tk.valid_until {
            return Err(reject(Reason::KeyNotValid, "past the key's validity period"));
        }
        Ok(vk)
    }

    /// The status list URI for an id, as listed.
    pub fn status_uri(&self, id: u32) -> Option<&str> {
        self.list.status_lists.iter().find(|s| s.id == id).map(|s| s.uri.as_str())
    }

    /// The status list id listed for a URI.
    pub fn status_id(&self, uri: &str) -> Option<u32> {
        self.list.status_lists.iter().find(|s| s.uri == uri).map(|s| s.id)
    }

    /// Looks up a credential's status: `Ok(())` when valid.
    pub fn check_status(&self, list: u32, idx: u64, now: u64, policy: &Policy) -> Result<(), Rejection> {
        match self.status.get(&list) {
            Some(sl) if !sl.is_stale(now) => match sl.get(idx) {
                Some(0) => Ok(()),
                Some(1) => Err(Rejection::new(Reason::Revoked, "status list says revoked")),
                Some(2) => Err(Rejection::new(Reason::Suspended, "status list says suspended")),
                Some(_) => Err(Rejection::new(Reason::Revoked, "status list gives an unknown status")),
                None => Err(Rejection::malformed("status index beyond the status list")),
            },
            _ if policy.require_status => {
                Err(Rejection::new(Reason::StatusUnknown, "no fresh status list for this credential"))
            }
            _ => Ok(()),
        }
    }
}
