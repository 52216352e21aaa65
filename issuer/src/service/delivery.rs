//! Delivery to the wallet (OpenID4VCI pre-authorized code flow): the code from the officer's
//! offer is traded for a short-lived access token and a nonce; the wallet proves possession of
//! its device key over the nonce and receives the batch.
//!
//! **Exactly once, and never stranded.** A wallet whose response was lost (the connection
//! dropped, the node crashed after committing) retries:
//! - a retried token request with the same code, before the credential is issued, gets a new
//!   access token, and the previous one dies (one code, at most one live access token);
//! - a retried credential request with the same access token and device key gets the credential
//!   already issued back, signed again for the same holder key, status index, claims and dates,
//!   instead of a second credential or a 401. A different device key is refused.
//!
//! A renewed offer kills the old code and every access token obtained with it (they carry the
//! offer's generation, which must match the application's).

use zeroize::Zeroizing;

use enrollment::workflow::{Action, Status};

use super::issue::{self, Batch};
use super::{hash_secret, new_secret, rules, Result, Service, ServiceError, WalletError};
use crate::ids::CredentialId;
use crate::store::{AccessRow, AuditEntry, Conflict, CredentialRow, Issuance, StoreError};

/// What the token endpoint returns.
#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: Zeroizing<String>,
    pub nonce: String,
    pub expires_in: u64,
}

impl Service {
    /// Trades a pre-authorized code for an access token.
    pub async fn redeem_code(&self, grant_type: &str, code: Option<&str>) -> Result<TokenGrant> {
        if grant_type != verifier::build::oid4vci::PRE_AUTH_GRANT {
            return Err(ServiceError::Wallet(WalletError::UnsupportedGrantType));
        }
        let code = code.filter(|c| !c.is_empty() && c.len() <= 128).ok_or(WalletError::InvalidRequest)?;
        let now = self.now();
        let code_hash = hash_secret(code);
        let row = self.store.code(&code_hash).await?.ok_or(WalletError::InvalidGrant)?;
        if row.expires_at < now {
            return Err(WalletError::InvalidGrant.into());
        }
        let app = self.store.application(&row.application).await?.ok_or(WalletError::InvalidGrant)?;
        let current = app.meta.offer.as_ref().map(|o| o.generation);
        if app.meta.state != Status::Approved || current != Some(row.generation) {
            return Err(WalletError::InvalidGrant.into());
        }
        let access_token = new_secret("at_");
        let nonce = new_secret("n_");
        let access = AccessRow {
            application: row.application.clone(),
            generation: row.generation,
            nonce: nonce.to_string(),
            expires_at: now + self.settings.access_ttl,
            credential: None,
        };
        let audit = AuditEntry::new(now, "wallet", "offer.redeemed", row.application.as_str(), None);
        let subject = row.application.clone();
        self.store.redeem_code(code_hash, row, hash_secret(&access_token), access, audit).await.map_err(|e| {
            tracing::debug!(application = %subject, error = %e, "code redemption refused");
            match e {
                StoreError::Conflict(_) => ServiceError::Wallet(WalletError::InvalidGrant),
                e => e.into(),
            }
        })?;
        Ok(TokenGrant { access_token, nonce: nonce.to_string(), expires_in: self.settings.access_ttl })
    }

    /// Issues the batch to the holder of an access token who proves possession of its device
    /// key (`proof_jwt`), or returns the batch already issued with this token.
    pub async fn issue_credential(&self, bearer: &str, configuration: Option<&str>, proof_jwt: &str) -> Result<Batch> {
        if bearer.is_empty() || bearer.len() > 128 {
            return Err(WalletError::InvalidToken.into());
        }
        if configuration.is_some_and(|c| c != verifier::build::oid4vci::CONFIGURATION_ID) {
            return Err(WalletError::UnsupportedCredentialType.into());
        }
        let now = self.now();
        let access_hash = hash_secret(bearer);
        let access = self.store.access(&access_hash).await?.ok_or(WalletError::InvalidToken)?;
        if access.expires_at < now {
            return Err(WalletError::InvalidToken.into());
        }
        let holder = verifier::build::oid4vci::verify_proof(
            proof_jwt,
            self.issuer_url(),
            &access.nonce,
            now,
            self.settings.access_ttl,
        )
        .map_err(|e| WalletError::InvalidProof(e.reason.code()))?;
        if let Some(issued) = &access.credential {
            return self.redeliver(issued, &holder).await;
        }
        for _attempt in 0..8 {
            let mut view = self.load(&access.application).await?;
            if view.meta.offer.as_ref().map(|o| o.generation) != Some(access.generation) {
                return Err(WalletError::InvalidToken.into());
            }
            if view.meta.state != Status::Approved {
                return Err(WalletError::InvalidGrant.into());
            }
            let today = verifier::Date::from_unix_vn(now);
            // The card may have expired since approval (the offer lives for days).
            rules::eligibility(&view.record.form, today, false)
                .map_err(|r| ServiceError::refused("not_eligible", r))?;
            let claims = rules::person_claims(&view.record.form, view.record.eid_number.as_deref(), today);
            let signer = self.signer_for(now)?;
            let list = self.status_list_for_issuance().await?;
            let idx = random_index(list.capacity);
            let uri = self.status_uri(list.id);
            let batch = issue::issue(signer.as_ref(), self.issuer_url(), &claims, &holder, (&uri, list.id, idx), now)
                .map_err(ServiceError::internal)?;
            let cred = CredentialRow {
                id: CredentialId::generate(),
                application: view.id.clone(),
                kid: signer.kid().to_string(),
                holder: holder.to_string(),
                issued_at: now,
                expires_at: batch.expires_at,
                status_list: list.id,
                status_idx: idx,
            };
            self.apply(&mut view, Action::Issue, "wallet", now)?;
            view.meta.credential = Some(cred.id.clone());
            let audit = AuditEntry::new(
                now,
                "wallet",
                "credential.issued",
                cred.id.as_str(),
                Some(format!("application={} kid={}", view.id, cred.kid)),
            );
            let issuance = Issuance { access: access_hash, app: self.change_of(&view), credential: cred };
            match self.store.issue_credential(issuance, audit).await {
                Ok(()) => return Ok(batch),
                // Another index, or a concurrent change re-read: try again.
                Err(StoreError::Conflict(Conflict::StatusIndexTaken | Conflict::ApplicationChanged)) => continue,
                // A concurrent request with the same token won: same credential back.
                Err(StoreError::Conflict(Conflict::AlreadyIssued(id))) => return self.redeliver(&id, &holder).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::internal("no free status index after 8 draws"))
    }

    /// The batch issued earlier with the same access token, signed again for the same holder key,
    /// status index, claims and dates.
    async fn redeliver(&self, id: &CredentialId, holder: &verifier::PublicKey) -> Result<Batch> {
        let cred =
            self.store.credential(id).await?.ok_or_else(|| ServiceError::internal("issued credential missing"))?;
        if cred.holder != holder.to_string() {
            return Err(WalletError::InvalidProof("credential_issued_to_another_key").into());
        }
        let view = self.load(&cred.application).await?;
        let day = verifier::Date::from_unix_vn(cred.issued_at);
        let claims = rules::person_claims(&view.record.form, view.record.eid_number.as_deref(), day);
        let signer = self.signer_for(self.now())?;
        let uri = self.status_uri(cred.status_list);
        let batch = issue::issue(
            signer.as_ref(),
            self.issuer_url(),
            &claims,
            holder,
            (&uri, cred.status_list, cred.status_idx),
            cred.issued_at,
        )
        .map_err(ServiceError::internal)?;
        tracing::info!(credential = %cred.id, "credential delivered again for a retried request");
        Ok(batch)
    }

    /// The node's signing handle, refused once its signing period is over or when its key was
    /// revoked through the store (by any node): an admin must rotate this node's key first.
    fn signer_for(&self, now: u64) -> Result<std::sync::Arc<dyn keys::Signer>> {
        let signer = self.custody.signer_for(now)?;
        if self.revoked_in_store(&signer.kid().to_string()) {
            return Err(ServiceError::internal(
                "this node's signing key was revoked: rotate it (POST /v1/admin/keys/rotate)",
            ));
        }
        Ok(signer)
    }

    /// The status list new credentials go to: the newest, until it holds its configured share of
    /// entries; then the next one is opened (by whichever node gets there first) and named in
    /// the next trust list. Indices stay random within each list.
    async fn status_list_for_issuance(&self) -> Result<crate::store::StatusListRow> {
        // Read from the store each time: the count moves with every node's issuance.
        let lists = self.store.status_lists().await?;
        let last = *lists.last().ok_or_else(|| ServiceError::internal("no status list"))?;
        if last.allocated < self.settings.status_list_max_entries.min(last.capacity) {
            if self.status_list_token(last.id).is_none() {
                // Another node opened it: publish it here too before naming it in a credential.
                self.publish(false).await?;
            }
            return Ok(last);
        }
        let next = last.id + 1;
        let audit = AuditEntry::new(
            self.now(),
            "system",
            "status_list.opened",
            &next.to_string(),
            Some(format!("after list {} holds {}", last.id, last.allocated)),
        );
        match self.store.open_status_list(next, self.settings.status_capacity, audit).await {
            Ok(()) | Err(StoreError::Conflict(Conflict::StatusListExists)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(list = next, "status list opened");
        // Sign the new list and a trust list that names it before anything refers to it.
        self.publish(true).await?;
        let fresh = self.store.status_lists().await?;
        fresh.last().copied().ok_or_else(|| ServiceError::internal("no status list"))
    }

    /// The URL a status list is published at.
    pub fn status_uri(&self, list: u32) -> String {
        format!("{}/status-lists/{list}", self.issuer_url())
    }
}

fn random_index(capacity: u64) -> u64 {
    use rand_core::{OsRng, RngCore};
    OsRng.next_u64() % capacity.max(1)
}

impl From<WalletError> for ServiceError {
    fn from(e: WalletError) -> Self {
        ServiceError::Wallet(e)
    }
}
