//! Admin use cases: staff tokens, key rotation and revocation, credential status, the audit log.
//! Admins cannot decide applications; officers cannot reach any of this.

use zeroize::Zeroizing;

use serde::{Deserialize, Serialize};

use super::enroll::used;
use super::idempotency::IdempotencyKey;
use super::{hash_secret, new_secret, require, Principal, Result, Service, ServiceError};
use crate::ids::{CredentialId, TokenId};
use crate::store::{AuditEntry, Conflict, Role, StoreError, TokenRow};

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub role: Role,
    pub name: String,
    pub reception_point: Option<String>,
}

/// A credential status an admin may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatus {
    Valid,
    Suspended,
    /// Final: a revoked credential never becomes valid again.
    Revoked,
}

impl CredentialStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "valid" => Some(Self::Valid),
            "suspended" => Some(Self::Suspended),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }

    /// The Token Status List value.
    pub fn value(self) -> u8 {
        match self {
            Self::Valid => verifier::build::statuslist::VALID,
            Self::Suspended => verifier::build::statuslist::SUSPENDED,
            Self::Revoked => verifier::build::statuslist::INVALID,
        }
    }
}

/// What a status change reports back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusChange {
    pub id: CredentialId,
    pub status: CredentialStatus,
    /// When verifiers that sync will see it (the next signing of the status list).
    pub published_by: u64,
}

impl Service {
    /// Creates the first admin token if none was ever created; returns it so `serve` can print
    /// it once.
    pub async fn bootstrap_admin(&self) -> Result<Option<Zeroizing<String>>> {
        let now = self.now();
        let token = new_secret("vnid_adm_");
        let row = TokenRow {
            id: TokenId::generate(),
            role: Role::Admin,
            name: "bootstrap-admin".into(),
            reception_point: None,
            created_at: now,
            revoked: false,
        };
        let audit = AuditEntry::new(now, "system", "token.created", row.id.as_str(), Some("role=admin".into()));
        let created = self.store.bootstrap_admin(hash_secret(&token), row, audit).await?;
        Ok(created.then_some(token))
    }

    pub async fn create_token(
        &self,
        who: &Principal,
        req: NewToken,
        key: Option<&IdempotencyKey>,
    ) -> Result<(TokenRow, Zeroizing<String>)> {
        require(who, Role::Admin)?;
        let role = if req.role == Role::Admin { "admin" } else { "officer" };
        let idem = self.idem(
            who,
            key,
            "create-token",
            &[role.as_bytes(), req.name.as_bytes(), req.reception_point.as_deref().unwrap_or("").as_bytes()],
        );
        if let Some((row, token)) = self.replayed::<(TokenRow, String)>(idem.as_ref()).await? {
            return Ok((row, Zeroizing::new(token)));
        }
        if req.name.trim().is_empty() || req.name.chars().count() > 100 {
            return Err(ServiceError::field("field_invalid", "name"));
        }
        match (req.role, req.reception_point.as_deref()) {
            (Role::Officer, None) => return Err(ServiceError::field("field_missing", "reception_point")),
            (_, Some(p)) if p.parse::<enrollment::tk01::ReceptionPointId>().is_err() => {
                return Err(ServiceError::field("reception_point_invalid", "reception_point"))
            }
            _ => {}
        }
        let now = self.now();
        let prefix = match req.role {
            Role::Admin => "vnid_adm_",
            Role::Officer => "vnid_off_",
        };
        let token = new_secret(prefix);
        let row = TokenRow {
            id: TokenId::generate(),
            role: req.role,
            name: req.name,
            reception_point: req.reception_point,
            created_at: now,
            revoked: false,
        };
        let detail = Some(format!("role={}", if row.role == Role::Admin { "admin" } else { "officer" }));
        let mut audit = AuditEntry::new(now, who.id.as_str(), "token.created", row.id.as_str(), detail);
        // The record holds the new token (sealed), so a retry can hand it out again.
        self.record(idem.as_ref(), &(row.clone(), token.as_str()), &mut audit);
        match self.store.create_token(hash_secret(&token), row.clone(), audit).await {
            Err(e) if used(&e) => {
                let (row, token) = self.raced::<(TokenRow, String)>(idem.as_ref()).await?;
                return Ok((row, Zeroizing::new(token)));
            }
            r => r?,
        }
        Ok((row, token))
    }

    /// Revokes a staff token. The last active admin token cannot be revoked.
    pub async fn revoke_token(&self, who: &Principal, id: &TokenId, key: Option<&IdempotencyKey>) -> Result<TokenRow> {
        require(who, Role::Admin)?;
        let idem = self.idem(who, key, "revoke-token", &[id.as_str().as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        // The outcome is known before the change: the token, revoked.
        let mut audit = AuditEntry::new(self.now(), who.id.as_str(), "token.revoked", id.as_str(), None);
        if idem.is_some() {
            let mut row = self.store.tokens().await?.into_iter().find(|t| t.id == *id).ok_or(ServiceError::NotFound)?;
            row.revoked = true;
            self.record(idem.as_ref(), &row, &mut audit);
        }
        match self.store.revoke_token(id, audit).await {
            Err(e) if used(&e) => self.raced(idem.as_ref()).await,
            r => Ok(r?),
        }
    }

    /// Every node's signing keys, with the node that holds each.
    pub async fn keys(&self, who: &Principal) -> Result<Vec<(String, verifier::TrustedKey)>> {
        require(who, Role::Admin)?;
        Ok(self.store.keys().await?)
    }

    /// A key id from a request that some node published, else not found.
    async fn listed_kid(&self, raw: &str) -> Result<verifier::KeyId> {
        let kid: verifier::KeyId = raw.parse().map_err(|_| ServiceError::NotFound)?;
        if self.custody.holds(&kid) || self.store.keys().await?.iter().any(|(_, k)| k.kid == kid) {
            Ok(kid)
        } else {
            Err(ServiceError::NotFound)
        }
    }

    async fn key_event(
        &self,
        who: &Principal,
        action: &str,
        kid: &verifier::KeyId,
        extra: &str,
        idem: Option<&super::idempotency::Idem>,
    ) -> Result<()> {
        let detail = Some(format!("node={} {extra}", self.custody.node()).trim_end().to_owned());
        let mut audit = AuditEntry::new(self.now(), who.id.as_str(), action, &kid.to_string(), detail);
        self.record(idem, &kid.to_string(), &mut audit);
        self.store.append_audit(audit).await?;
        self.publish(true).await
    }

    /// A key change asked before with this key: the key id it answered with.
    async fn replayed_kid(&self, idem: Option<&super::idempotency::Idem>) -> Result<Option<verifier::KeyId>> {
        match self.replayed::<String>(idem).await? {
            Some(kid) => Ok(Some(kid.parse().map_err(|_| ServiceError::internal("recorded key id"))?)),
            None => Ok(None),
        }
    }

    /// Step 1 of a planned rotation: a `next` key, published in the trust list but not signing.
    /// Generated here (on the node's token when it has one), or, with `hsm_label`, a key an
    /// admin generated on the token with `keys hsm generate`.
    pub async fn prepare_key(
        &self,
        who: &Principal,
        hsm_label: Option<&str>,
        key: Option<&IdempotencyKey>,
    ) -> Result<verifier::KeyId> {
        require(who, Role::Admin)?;
        let idem = self.idem(who, key, "prepare-key", &[hsm_label.unwrap_or("").as_bytes()]);
        if let Some(kid) = self.replayed_kid(idem.as_ref()).await? {
            return Ok(kid);
        }
        let (kid, extra) = match hsm_label {
            None => (self.custody.prepare(self.now())?, format!("backend={}", self.custody.backend())),
            Some(label) => {
                let kid = self.custody.register_hsm(label, self.now()).map_err(refused)?;
                (kid, format!("backend=hsm registered label={label}"))
            }
        };
        self.key_event(who, "key.prepared", &kid, &extra, idem.as_ref()).await?;
        Ok(kid)
    }

    /// Step 2, once verifiers have synced: the `next` key signs; the previous one retires.
    /// Refused (`key_not_synced`) until the key has been in a published trust list for the
    /// verifier sync interval, unless `force`d: an emergency, audited as such
    /// (`key.activated_emergency`).
    pub async fn activate_key(
        &self,
        who: &Principal,
        kid: &str,
        force: bool,
        key: Option<&IdempotencyKey>,
    ) -> Result<verifier::KeyId> {
        require(who, Role::Admin)?;
        let forced: &[u8] = if force { b"force" } else { b"" };
        let idem = self.idem(who, key, "activate-key", &[kid.as_bytes(), forced]);
        if let Some(kid) = self.replayed_kid(idem.as_ref()).await? {
            return Ok(kid);
        }
        let kid = self.listed_kid(kid).await?;
        if !self.custody.holds(&kid) {
            // Only the node that holds a key can make it sign.
            return Err(ServiceError::Conflict(
                super::Reason::new("key_transition_refused")
                    .arg("detail", "the key belongs to another node: activate it there"),
            ));
        }
        let check = self.check_activation(&kid, force).await?;
        self.custody.activate(&kid, self.now()).map_err(refused)?;
        let published = check.first_published.map_or_else(|| "never".to_owned(), |t| t.to_string());
        let (action, extra) = match check.activation {
            ::keys::Activation::Planned => ("key.activated", format!("planned first_published={published}")),
            _ => (
                "key.activated_emergency",
                format!(
                    "EMERGENCY: forced before verifiers could sync it (first_published={published}, sync_interval={})",
                    self.settings.rotation.sync_interval
                ),
            ),
        };
        self.key_event(who, action, &kid, &extra, idem.as_ref()).await?;
        Ok(kid)
    }

    /// Immediate rotation (for emergencies): verifiers that have not synced since will not know
    /// the new key until they do.
    pub async fn rotate_key(&self, who: &Principal, key: Option<&IdempotencyKey>) -> Result<verifier::KeyId> {
        require(who, Role::Admin)?;
        let idem = self.idem(who, key, "rotate-key", &[]);
        if let Some(kid) = self.replayed_kid(idem.as_ref()).await? {
            return Ok(kid);
        }
        let kid = self.custody.rotate(self.now())?;
        let extra = format!(
            "EMERGENCY: generated ({}) and activated at once, before verifiers could sync it",
            self.custody.backend()
        );
        self.key_event(who, "key.rotated", &kid, &extra, idem.as_ref()).await?;
        Ok(kid)
    }

    /// Revokes a key. This node's own keys are revoked in its keystore (not the one it signs
    /// with: rotate first); another node's key is revoked in the store, and that node stops
    /// signing with it at once.
    pub async fn revoke_key(
        &self,
        who: &Principal,
        kid: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<verifier::KeyId> {
        require(who, Role::Admin)?;
        let idem = self.idem(who, key, "revoke-key", &[kid.as_bytes()]);
        if let Some(kid) = self.replayed_kid(idem.as_ref()).await? {
            return Ok(kid);
        }
        let kid = self.listed_kid(kid).await?;
        let now = self.now();
        if self.custody.holds(&kid) {
            let signed = self.count_signed(&kid.to_string()).await?;
            self.custody.revoke(&kid, now).map_err(refused)?;
            self.key_event(who, "key.revoked", &kid, &format!("credentials_signed={signed}"), idem.as_ref()).await?;
        } else {
            let signed = self.count_signed(&kid.to_string()).await?;
            let detail = Some(format!("node=other credentials_signed={signed}"));
            let mut audit = AuditEntry::new(now, who.id.as_str(), "key.revoked", &kid.to_string(), detail);
            self.record(idem.as_ref(), &kid.to_string(), &mut audit);
            match self.store.revoke_key(&kid.to_string(), now, audit).await {
                Err(e) if used(&e) => return Ok(self.replayed_kid(idem.as_ref()).await?.unwrap_or(kid)),
                r => r?,
            }
            self.publish(true).await?;
        }
        Ok(kid)
    }

    /// Sets a credential's status: `valid`, `suspended`, or `revoked` (final).
    pub async fn set_status(
        &self,
        who: &Principal,
        id: &CredentialId,
        to: CredentialStatus,
        key: Option<&IdempotencyKey>,
    ) -> Result<StatusChange> {
        require(who, Role::Admin)?;
        let idem = self.idem(who, key, "set-status", &[id.as_str().as_bytes(), to.as_str().as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let cred = self.store.credential(id).await?.ok_or(ServiceError::NotFound)?;
        for _attempt in 0..4 {
            let current = self.store.status(cred.status_list, cred.status_idx).await?.ok_or(ServiceError::NotFound)?;
            if current == verifier::build::statuslist::INVALID && to != CredentialStatus::Revoked {
                return Err(ServiceError::conflict("credential_revoked"));
            }
            let mut audit = AuditEntry::new(
                self.now(),
                who.id.as_str(),
                "credential.status",
                id.as_str(),
                Some(to.as_str().to_owned()),
            );
            // The answer is known before the change; when verifiers see it is at worst one
            // publish interval away.
            let interval = self.settings.publish_interval;
            let estimate = StatusChange {
                id: id.clone(),
                status: to,
                published_by: self.now() + interval.as_secs() + u64::from(interval.subsec_nanos() > 0),
            };
            self.record(idem.as_ref(), &estimate, &mut audit);
            match self.store.set_status(id, current, to.value(), audit).await {
                Err(StoreError::Conflict(Conflict::StatusChanged)) => continue,
                Err(e) if used(&e) => return self.raced(idem.as_ref()).await,
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    let published_by = self.status_changed().await?;
                    return Ok(StatusChange { id: id.clone(), status: to, published_by });
                }
            }
        }
        Err(ServiceError::conflict("status_changed"))
    }

    pub async fn audit_page(
        &self,
        who: &Principal,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>> {
        require(who, Role::Admin)?;
        Ok(self.store.audit_page(after, limit.clamp(1, 1000)).await?)
    }
}

fn refused(e: crate::custody::CustodyError) -> ServiceError {
    ServiceError::Conflict(super::Reason::new("key_transition_refused").arg("detail", e.to_string()))
}
