//! Idempotent changes: a staff client that sends `Idempotency-Key` with a change gets, on a
//! retry with the same key and the same request, the first answer again (from any node),
//! instead of a second change or a conflict; the same key with another request is refused
//! (`idempotency_key_reused`).
//!
//! The answer is recorded **in the same transaction as the change** ([`AuditEntry::idempotency`]),
//! so a node that dies after committing but before answering leaves the record behind, and a
//! retry that reaches another node finds it. The outcome is sealed (it can hold personal data,
//! or an offer's code). Keys are per caller.
//!
//! Key changes (prepare, activate, rotate, revoke a key of this node) are changes of the node's
//! keystore, not of the store; their record is written with their audit entry right after, so a
//! crash between the two can make a retry do it again. Rotation's own rules keep that harmless
//! (a second `prepare` adds a second `next` key).

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{Principal, Result, Service, ServiceError};
use crate::store::{AuditEntry, Digest, IdempotencyRecord};

/// An `Idempotency-Key` header: 1–255 visible ASCII characters.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

/// Not a usable idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key is 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl FromStr for IdempotencyKey {
    type Err = InvalidIdempotencyKey;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }
}

/// A request's key, bound to its caller and to what it asks.
#[derive(Debug, Clone)]
pub(crate) struct Idem {
    scope: String,
    key: Digest,
    fingerprint: Digest,
}

fn aad(scope: &str) -> Vec<u8> {
    format!("idempotency:{scope}").into_bytes()
}

impl Service {
    /// The key of a request (if it has one) for use case `what` with `inputs` (everything that
    /// makes two requests different: ids, bodies, file digests).
    pub(crate) fn idem(
        &self,
        who: &Principal,
        key: Option<&IdempotencyKey>,
        what: &str,
        inputs: &[&[u8]],
    ) -> Option<Idem> {
        let key = key?;
        let mut h = Sha256::new();
        h.update(what.as_bytes());
        for i in inputs {
            h.update((i.len() as u64).to_be_bytes());
            h.update(i);
        }
        Some(Idem {
            scope: who.id.to_string(),
            key: Digest(Sha256::digest(key.0.as_bytes()).into()),
            fingerprint: Digest(h.finalize().into()),
        })
    }

    /// The outcome recorded for an earlier request with this key, if any; the same key with
    /// another request is refused.
    pub(crate) async fn replayed<T: DeserializeOwned>(&self, idem: Option<&Idem>) -> Result<Option<T>> {
        let Some(i) = idem else { return Ok(None) };
        let Some(rec) = self.store.idempotency(&i.scope, &i.key).await? else { return Ok(None) };
        if rec.fingerprint != i.fingerprint {
            return Err(ServiceError::refused("idempotency_key_reused", Vec::new()));
        }
        let plain = self.sealer.open(&aad(&i.scope), &rec.outcome).map_err(ServiceError::internal)?;
        let v = serde_json::from_slice(&plain)
            .map_err(|_| ServiceError::internal("idempotency outcome does not decode"))?;
        tracing::debug!("answered a retried request from its idempotency record");
        Ok(Some(v))
    }

    /// Attaches the record of `outcome` to the change's audit entry.
    pub(crate) fn record<T: Serialize>(&self, idem: Option<&Idem>, outcome: &T, audit: &mut AuditEntry) {
        if let Some(i) = idem {
            let plain = crate::store::to_json(outcome);
            audit.idempotency = Some(IdempotencyRecord {
                scope: i.scope.clone(),
                key: i.key,
                fingerprint: i.fingerprint,
                outcome: self.sealer.seal(&aad(&i.scope), &plain),
                created_at: self.now(),
            });
        }
    }

    /// The outcome of the request with the same key that committed first (the store refused
    /// this one with `IdempotencyKeyUsed`).
    pub(crate) async fn raced<T: DeserializeOwned>(&self, idem: Option<&Idem>) -> Result<T> {
        self.replayed(idem).await?.ok_or_else(|| ServiceError::internal("idempotency record vanished"))
    }
}
