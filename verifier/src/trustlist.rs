//! The trust list: which issuer keys exist, when each may sign, how long what it signed stays
//! valid, its rotation state, and where the status lists live. Signed by the issuer's root key
//! (kept offline) as a compact JWS, so any mirror can serve it and a verifier pins only the root
//! public key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::Ed25519Key;
use crate::error::{Error, Reason, Refusal, Rejection, Undecided, UndecidedReason, Warning};
use crate::jws::{self, Jws};
use crate::statuslist::{self, StatusList, VerifiedToken};
use crate::types::{KeyId, PublicKey, Purpose};

/// The JWS `typ` of a trust list.
pub const TYP: &str = "vneid-trust-list+jwt";
/// Most keys a trust list may list: a bound that keeps a hostile list from costing more than a
/// glance.
pub const MAX_KEYS: usize = 1024;
/// Most status lists a trust list may list.
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
    /// The JSON name: `next`, `active`, `retired` or `revoked`.
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
    /// The short key id credentials name it by; unique in the list.
    pub kid: KeyId,
    /// The Ed25519 public key.
    pub x: PublicKey,
    /// Its rotation state.
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
    /// The id credentials use; unique in the list.
    pub id: u32,
    /// Where `verifier sync` fetches the token; also its `sub`.
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
    /// When it was published.
    pub issued_at: u64,
    /// When the next trust list will be published at the latest; verifiers sync before.
    pub next_update: u64,
    /// The issuer's signing keys, at most [`MAX_KEYS`].
    pub keys: Vec<TrustedKey>,
    /// Where the status lists live, at most [`MAX_STATUS_LISTS`].
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

    /// The key listed as `kid`.
    pub fn key(&self, kid: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| &k.kid == kid)
    }
}

/// One day in seconds.
pub const DAY: u64 = 86_400;

/// How strict a verifier is about time and about the age of its own trust material.
///
/// Start from [`Policy::for_verifier`]: each kind of verifier has its defaults. A landlord who
/// syncs weekly decides with status lists up to 7 days old (with a [`Warning::StatusStale`] after
/// the first day); a bank or a residence office, which sync often and stake more on the answer,
/// at most 24 hours old. Past that the answer is [`crate::Outcome::CannotDecide`], never
/// "invalid": the holder is not at fault when the verifier's bundle is old.
///
/// [`Warning::StatusStale`]: crate::Warning::StatusStale
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest holder-signed window accepted, whatever the wallet asked for (seconds).
    pub max_window: u64,
    /// Allowed difference between the wallet's and the verifier's clocks (seconds).
    pub clock_skew: u64,
    /// How long after the trust list's `next_update` it is still used (seconds).
    pub trust_list_grace: u64,
    /// Whether a credential whose status cannot be checked is undecided (`status_unknown`)
    /// rather than accepted.
    pub require_status: bool,
    /// Oldest status list decided with, as `now - iat` of its token (seconds). Older: cannot
    /// decide (`status_stale`), unless the list says revoked, which is final.
    pub max_status_age: u64,
    /// Status lists older than this, but within `max_status_age`, give a `status_stale` warning
    /// on a valid proof (seconds).
    pub status_warn_age: u64,
}

impl Policy {
    /// The defaults for a kind of verifier, named by the purpose it verifies for: a landlord
    /// accepts status lists up to 7 days old (warning after 1 day); a bank and a residence
    /// office up to 24 hours. Everything else is the same for all: a 120 s holder window at
    /// most, 30 s of clock skew, 30 days of grace after the trust list's `next_update`, and a
    /// status check required.
    pub const fn for_verifier(verifier: Purpose) -> Self {
        let max_status_age = match verifier {
            Purpose::Landlord => 7 * DAY,
            Purpose::Bank | Purpose::ResidenceOffice => DAY,
        };
        Self {
            max_window: 120,
            clock_skew: 30,
            trust_list_grace: 30 * DAY,
            require_status: true,
            max_status_age,
            status_warn_age: DAY,
        }
    }

    /// The same policy accepting status lists up to `secs` old.
    pub const fn with_max_status_age(mut self, secs: u64) -> Self {
        self.max_status_age = secs;
        self
    }
}

impl Default for Policy {
    /// The strictest defaults: those of a bank ([`Policy::for_verifier`]).
    fn default() -> Self {
        Self::for_verifier(Purpose::Bank)
    }
}

/// What a bundle says about one of its status lists (for display: the verdicts already use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusListInfo {
    /// When the issuer stated these statuses (the token's `iat`, UNIX seconds).
    pub issued_at: u64,
    /// After this the list is not used at all (the token's `exp`, UNIX seconds).
    pub expires_at: u64,
    /// How many statuses it holds.
    pub len: usize,
}

impl StatusListInfo {
    /// Age at `now`, in seconds (0 when `now` is before `issued_at`).
    pub fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.issued_at)
    }
}

/// A status that passed: how old the list was, and whether to warn about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusChecked {
    pub(crate) age: Option<u64>,
    pub(crate) warn: bool,
}

/// A verified trust list with its keys decoded, and the status lists synced with it: everything
/// a verifier needs offline. Build it once, verify many proofs with it.
#[derive(Debug, Clone)]
pub struct TrustStore {
    list: TrustList,
    keys: Vec<(KeyId, Ed25519Key, usize)>,
    status: BTreeMap<u32, VerifiedToken>,
    /// Decompressed bytes of every status list held, bounded by
    /// [`statuslist::MAX_TOTAL_BYTES`].
    status_bytes: usize,
}

impl TrustStore {
    /// A store from a trust list already verified (see [`Self::from_signed`]), with no status
    /// list yet.
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
        Ok(Self { list, keys, status: BTreeMap::new(), status_bytes: 0 })
    }

    /// Verifies a signed trust list under the root key and builds the store.
    pub fn from_signed(compact: &str, root: &PublicKey) -> Result<Self, Error> {
        Self::new(TrustList::verify(compact, root)?)
    }

    /// The trust list it holds.
    pub fn trust_list(&self) -> &TrustList {
        &self.list
    }

    /// Adds a status list token after checking it against this trust list: `typ`, `sub` equal
    /// to the URI listed for `id`, signed by a listed key that is not revoked, `iat` within that
    /// key's signing period, `exp` after `iat` and within the key's validity. All the lists of
    /// one store together hold at most [`statuslist::MAX_TOTAL_BYTES`] decompressed.
    pub fn add_status_list(&mut self, id: u32, token: &str) -> Result<(), Error> {
        let uri = self
            .list
            .status_lists
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.uri.clone())
            .ok_or(Error::StatusListInvalid("status list id not in the trust list"))?;
        let replaced = self.status.get(&id).map_or(0, |t| t.list.byte_len());
        let budget = statuslist::MAX_TOTAL_BYTES.saturating_sub(self.status_bytes - replaced);
        let token = StatusList::verify_token(token, &uri, self, budget)?;
        self.status_bytes = self.status_bytes - replaced + token.list.byte_len();
        self.status.insert(id, token);
        Ok(())
    }

    /// The times and size of status list `id`, if the store holds it.
    pub fn status_list_info(&self, id: u32) -> Option<StatusListInfo> {
        self.status.get(&id).map(|t| StatusListInfo {
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            len: t.list.len(),
        })
    }

    /// The decoded key for `kid`, if listed and not revoked (for status list tokens, which are
    /// checked at sync time).
    pub(crate) fn listed_key(&self, kid: &KeyId) -> Option<(&Ed25519Key, &TrustedKey)> {
        let (_, vk, i) = self.keys.iter().find(|(k, _, _)| k == kid)?;
        let tk = self.list.keys.get(*i)?;
        Some((vk, tk))
    }

    /// The key that may have signed a credential issued at `iat`, checked against its state and
    /// periods at `now`, and the trust list's own freshness. A key the trust list revokes is
    /// refused even when the list is stale (revocation is final); a key it does not know is
    /// `unknown_key` only while the list is fresh (a newer list may know it).
    pub(crate) fn issuer_key(&self, kid: &KeyId, iat: u64, now: u64, policy: &Policy) -> Result<&Ed25519Key, Refusal> {
        let reject = |r, d| Refusal::Invalid(Rejection::new(r, d).with_kid(kid));
        let stale = now > self.list.next_update.saturating_add(policy.trust_list_grace);
        let undecided = || {
            Refusal::from(Undecided::new(
                UndecidedReason::TrustListStale,
                "trust list is past its next update and grace period",
            ))
            .with_kid(kid)
        };
        let Some((vk, tk)) = self.listed_key(kid) else {
            return Err(if stale { undecided() } else { reject(Reason::UnknownKey, "key id not in the trust list") });
        };
        match tk.state {
            KeyState::Revoked => return Err(reject(Reason::KeyRevoked, "issuer key is revoked")),
            KeyState::Next | KeyState::Active | KeyState::Retired => {}
        }
        if stale {
            return Err(undecided());
        }
        if iat < tk.sign_from || iat > tk.sign_until {
            return Err(reject(Reason::KeyNotValid, "issue time outside the key's signing period"));
        }
        if now > tk.valid_until {
            return Err(reject(Reason::KeyNotValid, "past the key's validity period"));
        }
        Ok(vk)
    }

    /// Warnings about the trust list itself at `now` (it is used, but due for an update).
    pub(crate) fn trust_list_warning(&self, now: u64) -> Option<Warning> {
        (now > self.list.next_update).then_some(Warning::TrustListDue)
    }

    /// The status list URI for an id, as listed.
    pub fn status_uri(&self, id: u32) -> Option<&str> {
        self.list.status_lists.iter().find(|s| s.id == id).map(|s| s.uri.as_str())
    }

    /// The status list id listed for a URI.
    pub fn status_id(&self, uri: &str) -> Option<u32> {
        self.list.status_lists.iter().find(|s| s.uri == uri).map(|s| s.id)
    }

    /// Looks up a credential's status in list `list` at index `idx`.
    ///
    /// In order: no such list in the store → cannot decide (`status_unknown`) when the policy
    /// requires a status; index past the end → `malformed`; revoked (or an undefined value) →
    /// `revoked`, however old the list (revocation is final); list past its `exp` or older than
    /// `max_status_age` → cannot decide (`status_stale`) when the policy requires a status;
    /// suspended → `suspended`; valid → ok, with a warning when older than `status_warn_age`.
    pub(crate) fn check_status(
        &self,
        list: u32,
        idx: u64,
        now: u64,
        policy: &Policy,
    ) -> Result<StatusChecked, Refusal> {
        let unchecked = StatusChecked { age: None, warn: false };
        let Some(token) = self.status.get(&list) else {
            if policy.require_status {
                return Err(Undecided::new(UndecidedReason::StatusUnknown, "no status list for this credential").into());
            }
            return Ok(unchecked);
        };
        let age = now.saturating_sub(token.issued_at);
        let value = token.list.get(idx).ok_or_else(|| Rejection::malformed("status index beyond the status list"))?;
        let rejected = |reason, detail| {
            let mut r = Rejection::new(reason, detail);
            r.status_list_age = Some(age);
            Err(Refusal::Invalid(r))
        };
        match value {
            statuslist::VALID | statuslist::SUSPENDED => {}
            statuslist::INVALID => return rejected(Reason::Revoked, "status list says revoked"),
            _ => return rejected(Reason::Revoked, "status list gives an undefined status, read as revoked"),
        }
        let too_old = if now > token.expires_at {
            Some("status list is past its exp")
        } else if age > policy.max_status_age {
            Some("status list is older than this verifier's policy accepts")
        } else {
            None
        };
        if let Some(detail) = too_old {
            if !policy.require_status {
                return Ok(unchecked);
            }
            let mut u = Undecided::new(UndecidedReason::StatusStale, detail);
            u.status_list_age = Some(age);
            return Err(u.into());
        }
        if value == statuslist::SUSPENDED {
            return rejected(Reason::Suspended, "status list says suspended");
        }
        Ok(StatusChecked { age: Some(age), warn: age > policy.status_warn_age })
    }
}
