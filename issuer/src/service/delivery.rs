//! Delivery to the wallet (OpenID4VCI 1.0, pre-authorized code flow): the code from the
//! officer's offer and its transaction code are traded for a short-lived access token; the
//! wallet takes a nonce from the Nonce Endpoint, proves possession of one or more device keys
//! over it (`proofs`), and receives the batch: one SD-JWT VC per key and the per-purpose QR
//! credentials, bound to the first key.
//!
//! **Transaction code.** Every offer needs a numeric `tx_code` that reaches the applicant by a
//! second channel (the officer, and the [`Notifier`](super::notify::Notifier)). Only a keyed
//! hash of it is stored, with the code row (HMAC under the blind-index key over the
//! pre-authorized code and the transaction code, so the database alone does not let anyone try
//! the 10^6 codes offline). Wrong codes are counted by the store atomically with the code row:
//! at `max_wrong_tx_codes` (5) the offer is dead (`invalid_grant`) until the officer renews it.
//! A request without a code is `invalid_request` and is not counted.
//!
//! **Nonces.** A nonce from the Nonce Endpoint is single-use and expires (`nonce_ttl`); it is
//! stored durably (hashed), so a restart or another node does not revive a used one. A wallet
//! that asks for a nonce with its access token gets one bound to that session; an anonymous
//! nonce is bound by its first use. Every credential request, a retry included, uses up its
//! nonces; a used, unknown, expired or foreign nonce is `invalid_nonce` (the wallet asks for
//! another).
//!
//! **Exactly once, and never stranded.** A wallet whose response was lost (the connection
//! dropped, the node crashed after committing) retries:
//! - a retried token request with the same code and transaction code, before the credential is
//!   issued, gets a new access token, and the previous one dies (one code, at most one live
//!   access token);
//! - a retried credential request with the same access token and the same device keys (as a
//!   set; with a fresh nonce) gets the batch already issued back, signed again for the same
//!   holder keys, status index, claims and dates, instead of a second batch or a 401. Other
//!   keys, or a subset, are refused.
//!
//! A renewed offer kills the old code and every access token obtained with it (they carry the
//! offer's generation, which must match the application's).

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use enrollment::workflow::{Action, Status};
use verifier::build::oid4vci::{self, TxCodeSpec};

use super::enroll::{ApplicationView, Offer};
use super::issue::{self, Batch};
use super::notify::TxCodeNotice;
use super::rules::{self, Form};
use super::{hash_secret, new_secret, Result, Service, ServiceError, WalletError};
use crate::i18n::Lang;
use crate::ids::CredentialId;
use crate::store::{
    AccessRow, AuditEntry, Conflict, CredentialRow, Digest, Issuance, NonceRow, StoreError, TxAudit, TxOutcome,
    TxRedemption,
};

/// Longest pre-authorized code, transaction code, nonce or bearer token read.
const MAX_SECRET: usize = 128;

/// What the token endpoint returns.
#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: Zeroizing<String>,
    pub expires_in: u64,
}

/// What the Nonce Endpoint returns.
#[derive(Debug)]
pub struct Nonce {
    pub value: String,
    pub expires_in: u64,
}

/// The language the applicant's transaction code message and offer hint are written in. TK01
/// records no language, so it follows the nationality: Korean for KOR and PRK, Chinese for CHN,
/// TWN, HKG, MAC and SGP, English for everyone else (the officer hands the code over in person
/// too).
pub fn applicant_lang(form: &Form) -> Lang {
    match form.nationality().code() {
        "KOR" | "PRK" => Lang::Ko,
        "CHN" | "TWN" | "HKG" | "MAC" | "SGP" => Lang::ZhCn,
        _ => Lang::En,
    }
}

impl Service {
    /// The keyed hash stored for an offer's transaction code.
    pub fn tx_code_hash(&self, code: &str, tx_code: &str) -> Digest {
        let mut input = Zeroizing::new(String::with_capacity(code.len() + 1 + tx_code.len()));
        input.push_str(code);
        input.push('\0');
        input.push_str(tx_code);
        Digest(self.sealer.blind_index("oid4vci/tx_code", &input))
    }

    /// What an offer says about its transaction code, with a hint in the applicant's language.
    pub fn tx_code_spec(&self, form: &Form) -> TxCodeSpec {
        let lang = applicant_lang(form);
        TxCodeSpec::numeric(
            self.settings.tx_code_length,
            &crate::i18n::offer_tx_code_hint(lang, self.settings.tx_code_length),
        )
    }

    /// Hands an offer's transaction code to the notifier, and audits whether it went. Never
    /// fails the approval: the officer has the code either way.
    pub(crate) async fn send_tx_code(&self, view: &ApplicationView, offer: &Offer) {
        let form = &view.record.form;
        let lang = applicant_lang(form);
        let notice = TxCodeNotice {
            application: view.id.clone(),
            generation: offer.generation,
            lang,
            phone: form.phone().as_str().to_owned(),
            email: form.email().as_str().to_owned(),
            tx_code: offer.tx_code.clone(),
            subject: crate::i18n::message_id(lang, "api-notify-tx-code-subject"),
            text: crate::i18n::tx_code_notice(lang, offer.tx_code.as_str(), offer.expires_at),
            expires_at: offer.expires_at,
        };
        let via = self.notifier.name();
        let (action, detail) = match self.notifier.send_tx_code(&notice).await {
            Ok(()) => (
                "offer.tx_code_sent",
                format!("generation={} via={via} channels=sms,email lang={}", offer.generation, lang.tag()),
            ),
            Err(e) => {
                tracing::error!(application = %view.id, error = %e, "transaction code not sent");
                ("offer.tx_code_not_sent", format!("generation={} via={via}", offer.generation))
            }
        };
        let entry = AuditEntry::new(self.now(), "system", action, view.id.as_str(), Some(detail));
        if let Err(e) = self.store.append_audit(entry).await {
            tracing::error!(application = %view.id, error = %e, "could not audit the transaction code notice");
        }
    }

    /// Trades a pre-authorized code and its transaction code for an access token.
    pub async fn redeem_code(&self, grant_type: &str, code: Option<&str>, tx_code: Option<&str>) -> Result<TokenGrant> {
        if grant_type != oid4vci::PRE_AUTH_GRANT {
            return Err(ServiceError::Wallet(WalletError::UnsupportedGrantType));
        }
        let code = code.filter(|c| !c.is_empty() && c.len() <= MAX_SECRET).ok_or(WalletError::InvalidRequest)?;
        let now = self.now();
        let code_hash = hash_secret(code);
        let row = self.store.code(&code_hash).await?.ok_or(WalletError::InvalidGrant)?;
        if row.expires_at < now {
            return Err(WalletError::InvalidGrant.into());
        }
        let app = self.store.application(&row.application).await?.ok_or(WalletError::InvalidGrant)?;
        let current = app.meta.offer.as_ref().map(|o| o.generation);
        // An issued application has a live code only when its credential is re-offered (its
        // signing key was revoked: `service::reissue`); issuance removes the code otherwise.
        if !matches!(app.meta.state, Status::Approved | Status::Issued) || current != Some(row.generation) {
            return Err(WalletError::InvalidGrant.into());
        }
        if row.tx_code.is_none() {
            return Err(WalletError::OfferNeedsRenewal.into());
        }
        let max_wrong = self.settings.max_wrong_tx_codes;
        if row.wrong_tx_codes >= max_wrong {
            return Err(WalletError::OfferLocked.into());
        }
        let tx_code = tx_code.filter(|t| !t.is_empty()).ok_or(WalletError::TxCodeRequired)?;
        if tx_code.len() > MAX_SECRET {
            return Err(WalletError::InvalidRequest.into());
        }
        let access_token = new_secret("at_");
        let access = AccessRow {
            application: row.application.clone(),
            generation: row.generation,
            nonce: String::new(),
            expires_at: now + self.settings.access_ttl,
            credential: None,
        };
        let subject = row.application.clone();
        let entry =
            |action: &str, detail: String| AuditEntry::new(now, "wallet", action, subject.as_str(), Some(detail));
        let generation = row.generation;
        let audit = TxAudit {
            redeemed: entry("offer.redeemed", format!("generation={generation}")),
            wrong: entry("offer.tx_code_wrong", format!("generation={generation}")),
            locked: entry("offer.locked", format!("generation={generation} wrong_tx_codes={max_wrong}")),
        };
        let redemption = TxRedemption {
            code_hash,
            tx_code: self.tx_code_hash(code, tx_code),
            seen: row,
            max_wrong,
            access_hash: hash_secret(&access_token),
            access,
        };
        match self.store.redeem_code_with_tx_code(redemption, audit).await {
            Ok(TxOutcome::Redeemed) => Ok(TokenGrant { access_token, expires_in: self.settings.access_ttl }),
            Ok(TxOutcome::Wrong { locked: true, .. }) => {
                tracing::info!(application = %subject, "offer locked after too many wrong transaction codes");
                Err(WalletError::OfferLocked.into())
            }
            Ok(TxOutcome::Wrong { wrong, .. }) => {
                Err(WalletError::TxCodeWrong { left: max_wrong.saturating_sub(wrong) }.into())
            }
            Err(StoreError::Conflict(_)) => {
                tracing::debug!(application = %subject, "code redemption refused");
                Err(WalletError::InvalidGrant.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A fresh single-use nonce (the Nonce Endpoint). With the wallet's access token it is bound
    /// to that session; without, to the first credential request that uses it.
    pub async fn new_nonce(&self, bearer: Option<&str>) -> Result<Nonce> {
        let now = self.now();
        let access = match bearer {
            None => None,
            Some(b) => {
                let row = self.live_access(b, now).await?;
                Some(row.0)
            }
        };
        let value = new_secret("cn_");
        let row = NonceRow { expires_at: now + self.settings.nonce_ttl, access };
        self.store.create_nonce(hash_secret(&value), row, now).await?;
        Ok(Nonce { value: value.to_string(), expires_in: self.settings.nonce_ttl })
    }

    /// The access token behind a bearer, if it is live. A token that has issued its credential
    /// stays usable for fetching that credential again (and nonces to do it) for as long as an
    /// offer lives: a wallet whose answer was lost, and which comes back after the token's few
    /// minutes, is not stranded (its code is spent, and the application is closed).
    async fn live_access(&self, bearer: &str, now: u64) -> Result<(Digest, AccessRow)> {
        if bearer.is_empty() || bearer.len() > MAX_SECRET {
            return Err(WalletError::InvalidToken.into());
        }
        let hash = hash_secret(bearer);
        let access = self.store.access(&hash).await?.ok_or(WalletError::InvalidToken)?;
        let until = match access.credential {
            Some(_) => access.expires_at.saturating_add(self.settings.offer_ttl),
            None => access.expires_at,
        };
        if until < now {
            return Err(WalletError::InvalidToken.into());
        }
        Ok((hash, access))
    }

    /// Issues the batch to the holder of an access token who proves possession of its device
    /// keys (`proofs`: one `jwt` proof per key, each over a nonce from the Nonce Endpoint), or
    /// returns the batch already issued with this token.
    pub async fn issue_credential(&self, bearer: &str, configuration: &str, proofs: &[String]) -> Result<Batch> {
        let now = self.now();
        let (access_hash, access) = self.live_access(bearer, now).await?;
        if configuration != oid4vci::CONFIGURATION_ID {
            return Err(WalletError::UnknownCredentialConfiguration.into());
        }
        if proofs.is_empty() {
            return Err(WalletError::InvalidProof("no_proof").into());
        }
        if proofs.len() > self.settings.batch_size {
            return Err(WalletError::InvalidCredentialRequest("more proofs than batch_size").into());
        }
        // Every proof is checked before any nonce is used.
        let mut holders: Vec<verifier::PublicKey> = Vec::with_capacity(proofs.len());
        let mut nonces = BTreeSet::new();
        for jwt in proofs {
            let p = oid4vci::check_proof(jwt, self.issuer_url(), now, self.settings.nonce_ttl)
                .map_err(|e| WalletError::InvalidProof(e.reason.code()))?;
            let nonce = p.nonce.ok_or(WalletError::InvalidProof("no_nonce"))?;
            if nonce.is_empty() || nonce.len() > MAX_SECRET {
                return Err(WalletError::InvalidNonce.into());
            }
            if holders.contains(&p.holder) {
                return Err(WalletError::InvalidProof("duplicate_key").into());
            }
            holders.push(p.holder);
            nonces.insert(hash_secret(&nonce));
        }
        let nonces: Vec<Digest> = nonces.into_iter().collect();
        if let Some(issued) = &access.credential {
            self.use_nonces(&nonces, access_hash, now).await?;
            return self.redeliver(issued, &holders).await;
        }
        for attempt in 0..8 {
            if attempt > 0 {
                // A concurrent request with the same token may have issued meanwhile (the
                // application changed under this one): then it is the same credential.
                if let Some(issued) = self.store.access(&access_hash).await?.and_then(|a| a.credential) {
                    self.use_nonces(&nonces, access_hash, now).await?;
                    return self.redeliver(&issued, &holders).await;
                }
            }
            let mut view = self.load(&access.application).await?;
            if view.meta.offer.as_ref().map(|o| o.generation) != Some(access.generation) {
                return Err(WalletError::InvalidToken.into());
            }
            // Issued: a re-offer after the key that signed its credential was revoked.
            let replaces = match view.meta.state {
                Status::Approved => None,
                Status::Issued => view.meta.credential.clone(),
                _ => return Err(WalletError::InvalidToken.into()),
            };
            let today = verifier::Date::from_unix_vn(now);
            // The card may have expired since approval (the offer lives for days).
            rules::eligibility(&view.record.form, today, false).map_err(|_| WalletError::CredentialRequestDenied)?;
            let claims = rules::person_claims(&view.record.form, view.record.eid_number.as_deref(), today);
            let signer = self.signer_for(now)?;
            let list = self.status_list_for_issuance().await?;
            let idx = random_index(list.capacity);
            let uri = self.status_uri(list.id);
            let batch = issue::issue(signer.as_ref(), self.issuer_url(), &claims, &holders, (&uri, list.id, idx), now)
                .map_err(ServiceError::internal)?;
            let cred = CredentialRow {
                id: CredentialId::generate(),
                application: view.id.clone(),
                kid: signer.kid().to_string(),
                holder: holders[0].to_string(),
                issued_at: now,
                expires_at: batch.expires_at,
                status_list: list.id,
                status_idx: idx,
                holders: holders.iter().map(ToString::to_string).collect(),
                card: Some(self.card_index_of(&view.record.form)),
            };
            let mut detail = format!("application={} kid={} instances={}", view.id, cred.kid, holders.len());
            match &replaces {
                None => self.apply(&mut view, Action::Issue, "wallet", now)?,
                Some(old) => detail.push_str(&format!(" replaces={old}")),
            }
            view.meta.credential = Some(cred.id.clone());
            let action = if replaces.is_some() { "credential.reissued" } else { "credential.issued" };
            let audit = AuditEntry::new(now, "wallet", action, cred.id.as_str(), Some(detail));
            // The nonces are used up by the issuance itself: one durable change, not two.
            let issuance = Issuance {
                access: access_hash,
                app: self.change_of(&view),
                credential: cred,
                nonces: nonces.clone(),
                now,
            };
            match self.store.issue_credential(issuance, audit).await {
                Ok(()) => {
                    self.renewal_issued(&view).await;
                    return Ok(batch);
                }
                // Another index, or a concurrent change re-read: try again.
                Err(StoreError::Conflict(Conflict::StatusIndexTaken | Conflict::ApplicationChanged)) => continue,
                // A concurrent request with the same token won: same credential back.
                Err(StoreError::Conflict(Conflict::AlreadyIssued(id))) => {
                    self.use_nonces(&nonces, access_hash, now).await?;
                    return self.redeliver(&id, &holders).await;
                }
                Err(StoreError::Conflict(Conflict::InvalidNonce)) => return Err(WalletError::InvalidNonce.into()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::internal("no free status index after 8 draws"))
    }

    /// Uses up the proofs' nonces on their own (a request that issues nothing new).
    async fn use_nonces(&self, nonces: &[Digest], access: Digest, now: u64) -> Result<()> {
        self.store.consume_nonces(nonces.to_vec(), access, now).await.map_err(|e| match e {
            StoreError::Conflict(Conflict::InvalidNonce) => ServiceError::Wallet(WalletError::InvalidNonce),
            e => e.into(),
        })
    }

    /// The batch issued earlier with the same access token, signed again for the same holder
    /// keys (the request must present exactly those, in any order), status index, claims and
    /// dates. The credentials come in the order of the first request; the QR credentials are
    /// bound to its first key, as then.
    async fn redeliver(&self, id: &CredentialId, holders: &[verifier::PublicKey]) -> Result<Batch> {
        let cred =
            self.store.credential(id).await?.ok_or_else(|| ServiceError::internal("issued credential missing"))?;
        let issued: Vec<String> =
            if cred.holders.is_empty() { vec![cred.holder.clone()] } else { cred.holders.clone() };
        let asked: BTreeSet<String> = holders.iter().map(ToString::to_string).collect();
        if asked != issued.iter().cloned().collect::<BTreeSet<_>>() {
            return Err(WalletError::InvalidProof("credential_issued_to_other_keys").into());
        }
        let keys = issued
            .iter()
            .map(|k| k.parse::<verifier::PublicKey>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| ServiceError::internal("stored holder key does not parse"))?;
        let view = self.load(&cred.application).await?;
        let now = self.now();
        let signer = self.signer_for(now)?;
        // Signed again with the first issuance's dates, unless this node's key began signing
        // after them (a rotation since, or another node answering): verifiers refuse a credential
        // dated before its key's signing period, so it gets today's date instead.
        let sign_from = self.custody.record(signer.kid()).map_or(0, |r| r.sign_from);
        let iat = if sign_from > cred.issued_at { now } else { cred.issued_at };
        let day = verifier::Date::from_unix_vn(iat);
        let claims = rules::person_claims(&view.record.form, view.record.eid_number.as_deref(), day);
        let uri = self.status_uri(cred.status_list);
        let batch = issue::issue(
            signer.as_ref(),
            self.issuer_url(),
            &claims,
            &keys,
            (&uri, cred.status_list, cred.status_idx),
            iat,
        )
        .map_err(ServiceError::internal)?;
        tracing::info!(credential = %cred.id, "credential delivered again for a retried request");
        Ok(issue::Batch { redelivered: true, ..batch })
    }

    /// The node's signing handle, refused once its signing period is over or when its key was
    /// revoked through the store (by any node): an admin must rotate this node's key first.
    pub(super) fn signer_for(&self, now: u64) -> Result<std::sync::Arc<dyn keys::Signer>> {
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
