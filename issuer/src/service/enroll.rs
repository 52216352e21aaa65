//! Enrollment use cases: an officer submits a TK01 form, captures biometrics, runs the
//! national-data check, approves (which opens a credential offer) or rejects; and the reports.
//!
//! Every step is an officer's of the application's reception point, applied through the one
//! workflow in `enrollment::workflow`, recorded in the sealed record's history and in the audit
//! log, and written with the version it was computed from, so two officers (or a double click)
//! cannot both move an application: the second gets `application_changed`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use enrollment::workflow::{Action, Application, OfficerId, Status};

use super::idempotency::IdempotencyKey;
use super::rules::{self, BiometricSummary, Form};
use super::{hash_secret, new_secret, require, Principal, Result, Service, ServiceError};
use crate::ids::ApplicationId;
use crate::store::{AppChange, AppMeta, AuditEntry, CodeRow, Conflict, NewApplication, OfferMeta, Role, StoreError};

/// The sealed application record: everything personal about an application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub form: Form,
    /// State and history, as the enrollment workflow keeps them.
    pub workflow: Application,
    pub due_on: verifier::Date,
    pub biometrics_on_file: bool,
    #[serde(default)]
    pub biometrics: Vec<BiometricSummary>,
    #[serde(default)]
    pub national_check: Option<Value>,
    #[serde(default)]
    pub eid_number: Option<String>,
    /// The officer's words when rejecting (shown to staff only).
    #[serde(default)]
    pub rejection_note: Option<String>,
    /// A renewal the registry opened after replacing the card of this earlier application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_of: Option<super::registry_sync::RenewalOf>,
}

/// An application as read: its id, version, clear summary and opened record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: ApplicationId,
    pub version: u64,
    pub meta: AppMeta,
    pub record: ApplicationRecord,
}

/// How an officer finds a person's application.
#[derive(Debug, Clone)]
pub enum Lookup {
    Passport { nationality: String, number: String },
    Card { number: String },
}

/// A credential offer for the applicant's wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    pub id: ApplicationId,
    pub state: Status,
    pub offer_uri: String,
    pub expires_at: u64,
    /// The transaction code redeeming the offer needs: for the officer to hand over; the
    /// notifier sends it too. Only its keyed hash is stored.
    pub tx_code: super::notify::TxCode,
    /// The offer's generation (1 at approval, +1 per renewal).
    pub generation: u32,
}

pub(crate) fn at(now: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(now).unwrap_or(i64::MAX)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn actor(who: &str) -> Result<OfficerId> {
    who.parse().map_err(|_| ServiceError::internal("actor id is not a valid officer id"))
}

fn aad(id: &ApplicationId) -> Vec<u8> {
    format!("application:{id}").into_bytes()
}

fn biometrics_aad(id: &ApplicationId) -> Vec<u8> {
    format!("biometrics:{id}").into_bytes()
}

/// The captured files in one blob (sealed once): per file, the slot name's length (1 byte), the
/// name, the file's length (4 bytes, big-endian) and the file.
fn pack_files(files: &[rules::Captured]) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.iter().map(|c| 5 + c.slot.len() + c.bytes.len()).sum());
    for c in files {
        out.push(c.slot.len() as u8);
        out.extend_from_slice(c.slot.as_bytes());
        out.extend_from_slice(&(c.bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&c.bytes);
    }
    out
}

/// The reverse of [`pack_files`].
pub fn unpack_files(mut b: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = b.split_first() {
        let (name, rest) = rest.split_at_checked(usize::from(n))?;
        let (len, rest) = rest.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let (file, rest) = rest.split_at_checked(len)?;
        out.push((String::from_utf8(name.to_vec()).ok()?, file.to_vec()));
        b = rest;
    }
    Some(out)
}

impl Service {
    pub(super) fn seal_record(&self, id: &ApplicationId, rec: &ApplicationRecord) -> Vec<u8> {
        self.sealer.seal(&aad(id), &crate::store::to_json(rec))
    }

    /// Reads and opens an application.
    pub(crate) async fn load(&self, id: &ApplicationId) -> Result<ApplicationView> {
        let row = self.store.application(id).await?.ok_or(ServiceError::NotFound)?;
        let plain = self.sealer.open(&aad(id), &row.sealed).map_err(ServiceError::internal)?;
        let record =
            serde_json::from_slice(&plain).map_err(|_| ServiceError::internal("application record does not decode"))?;
        Ok(ApplicationView { id: row.id, version: row.version, meta: row.meta, record })
    }

    /// An application an officer is about to work on: it must be of their reception point.
    async fn load_for(&self, who: &Principal, id: &ApplicationId) -> Result<ApplicationView> {
        require(who, Role::Officer)?;
        let view = self.load(id).await?;
        if who.reception_point.as_deref() != Some(view.meta.reception_point.as_str()) {
            return Err(ServiceError::Forbidden);
        }
        Ok(view)
    }

    /// The change that writes `view` (its record and summary) over the version it was read at.
    pub(super) fn change_of(&self, view: &ApplicationView) -> AppChange {
        AppChange {
            id: view.id.clone(),
            expected_version: view.version,
            meta: view.meta.clone(),
            sealed: self.seal_record(&view.id, &view.record),
        }
    }

    pub(super) fn apply(&self, view: &mut ApplicationView, action: Action, who: &str, now: u64) -> Result<()> {
        view.record
            .workflow
            .apply(action, actor(who)?, at(now))
            .map_err(|e| ServiceError::conflict(e.reasons().first().map_or("application_not_ready", |r| r.code())))?;
        view.meta.state = view.record.workflow.status();
        Ok(())
    }

    /// Writes an application change (with its idempotency record) and returns the new view.
    async fn commit_change(
        &self,
        mut view: ApplicationView,
        idem: Option<&super::idempotency::Idem>,
        mut audit: AuditEntry,
    ) -> Result<ApplicationView> {
        let change = self.change_of(&view);
        view.version += 1;
        self.record(idem, &view, &mut audit);
        match self.store.update_application(change, audit).await {
            Err(e) if used(&e) => self.raced(idem).await,
            Err(e) => Err(e.into()),
            Ok(_) => Ok(view),
        }
    }

    fn audit(&self, now: u64, who: &Principal, action: &str, id: &ApplicationId, detail: Option<String>) -> AuditEntry {
        AuditEntry::new(now, who.id.as_str(), action, id.as_str(), detail)
    }

    /// Whether an issued application's credential still counts: not expired, not revoked (a
    /// suspended credential still counts: the person holds it).
    async fn credential_active(&self, meta: &AppMeta, now: u64) -> Result<bool> {
        let Some(cred_id) = &meta.credential else { return Ok(false) };
        let Some(cred) = self.store.credential(cred_id).await? else { return Ok(false) };
        let status = self.store.status(cred.status_list, cred.status_idx).await?;
        Ok(status != Some(verifier::build::statuslist::INVALID) && cred.expires_at >= now)
    }

    /// Files a TK01 application.
    pub async fn submit(&self, who: &Principal, body: &[u8], key: Option<&IdempotencyKey>) -> Result<ApplicationView> {
        require(who, Role::Officer)?;
        let idem = self.idem(who, key, "submit", &[body]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let form = rules::parse_form(body).map_err(|r| ServiceError::refused("invalid_application", r))?;
        if who.reception_point.as_deref() != Some(rules::reception_point(&form)) {
            return Err(ServiceError::Forbidden);
        }
        let now = self.now();
        let today = verifier::Date::from_unix_vn(now);

        // Same person: same passport and nationality, or same residence card.
        let identity: Vec<_> = rules::identity_keys(&form)
            .iter()
            .map(|(d, v)| crate::store::Digest(self.sealer.blind_index(d, v)))
            .collect();
        let mut holds_active = false;
        for key in &identity {
            if let Some((_, meta)) = self.store.application_by_identity(key).await? {
                if meta.state == Status::Issued {
                    holds_active |= self.credential_active(&meta, now).await?;
                } else if !meta.state.is_closed() {
                    return Err(ServiceError::conflict("application_exists"));
                }
            }
        }
        rules::eligibility(&form, today, holds_active).map_err(|r| ServiceError::refused("not_eligible", r))?;

        let on_file = rules::biometrics_on_file(self.registry.as_ref(), &form, today);
        let due_on = rules::due_date(today, on_file, &self.holidays);
        let id = ApplicationId::generate();
        let record = ApplicationRecord {
            workflow: Application::submitted(at(now)),
            form,
            due_on,
            biometrics_on_file: on_file,
            biometrics: Vec::new(),
            national_check: None,
            eid_number: None,
            rejection_note: None,
            renewal_of: None,
        };
        let meta = AppMeta {
            reception_point: rules::reception_point(&record.form).to_owned(),
            state: Status::Submitted,
            submitted_on: today,
            due_on,
            offer: None,
            credential: None,
        };
        let new =
            NewApplication { id: id.clone(), meta: meta.clone(), sealed: self.seal_record(&id, &record), identity };
        let view = ApplicationView { id: id.clone(), version: 1, meta, record };
        let mut audit = self.audit(now, who, "application.submitted", &id, None);
        self.record(idem.as_ref(), &view, &mut audit);
        match self.store.insert_application(new, audit).await {
            Err(e) if used(&e) => return self.raced(idem.as_ref()).await,
            r => r?,
        }
        Ok(view)
    }

    /// An application, for staff: officers see their own reception point's only.
    pub async fn application(&self, who: &Principal, id: &ApplicationId) -> Result<ApplicationView> {
        let view = self.load(id).await?;
        if who.role == Role::Officer && who.reception_point.as_deref() != Some(view.meta.reception_point.as_str()) {
            return Err(ServiceError::Forbidden);
        }
        Ok(view)
    }

    /// Records the portrait and fingerprints (`files`: form field name and bytes; `fields`:
    /// `<name>_quality` scores). A new capture before the data check replaces the earlier one.
    pub async fn capture_biometrics(
        &self,
        who: &Principal,
        id: &ApplicationId,
        files: &[(String, Vec<u8>)],
        fields: &[(String, String)],
        key: Option<&IdempotencyKey>,
    ) -> Result<ApplicationView> {
        let mut inputs: Vec<&[u8]> = vec![id.as_str().as_bytes()];
        for (name, bytes) in files {
            inputs.push(name.as_bytes());
            inputs.push(bytes);
        }
        for (name, value) in fields {
            inputs.push(name.as_bytes());
            inputs.push(value.as_bytes());
        }
        let idem = self.idem(who, key, "biometrics", &inputs);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let mut view = self.load_for(who, id).await?;
        let captured =
            rules::check_biometrics(files, fields).map_err(|r| ServiceError::refused("invalid_biometrics", r))?;
        let now = self.now();
        self.apply(&mut view, Action::CaptureBiometrics, who.id.as_str(), now)?;
        view.record.biometrics = captured.iter().map(|c| c.summary.clone()).collect();
        let sealed_files = self.sealer.seal(&biometrics_aad(id), &pack_files(&captured));
        let mut audit =
            self.audit(now, who, "application.biometrics_captured", id, Some(format!("files={}", captured.len())));
        let change = self.change_of(&view);
        view.version += 1;
        self.record(idem.as_ref(), &view, &mut audit);
        match self.store.capture_biometrics(change, sealed_files, audit).await {
            Err(e) if used(&e) => return self.raced(idem.as_ref()).await,
            r => r?,
        };
        Ok(view)
    }

    /// The sealed biometric files of an application, opened (for the national check's
    /// matching, and for audits).
    pub async fn biometric_files(&self, id: &ApplicationId) -> Result<Vec<(String, Vec<u8>)>> {
        let Some(sealed) = self.store.biometrics(id).await? else { return Ok(Vec::new()) };
        let plain = self.sealer.open(&biometrics_aad(id), &sealed).map_err(ServiceError::internal)?;
        unpack_files(&plain).ok_or_else(|| ServiceError::internal("biometric files do not decode"))
    }

    /// Runs the national-data check. A failed check is recorded (and refused with its reasons).
    pub async fn national_check(
        &self,
        who: &Principal,
        id: &ApplicationId,
        key: Option<&IdempotencyKey>,
    ) -> Result<ApplicationView> {
        let idem = self.idem(who, key, "national-check", &[id.as_str().as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let mut view = self.load_for(who, id).await?;
        if view.meta.state != Status::BiometricsCaptured {
            let code = if view.meta.state.is_closed() { "application_closed" } else { "application_not_ready" };
            return Err(ServiceError::conflict(code));
        }
        let now = self.now();
        let outcome =
            rules::national_check(self.registry.as_ref(), &view.record.form, verifier::Date::from_unix_vn(now));
        view.record.national_check = Some(outcome.summary.clone());
        if view.record.biometrics_on_file != outcome.biometrics_on_file {
            // The registry knows better than the first look at submission: 3 or 7 working days.
            view.record.biometrics_on_file = outcome.biometrics_on_file;
            view.record.due_on = rules::due_date(view.meta.submitted_on, outcome.biometrics_on_file, &self.holidays);
            view.meta.due_on = view.record.due_on;
        }
        if outcome.reasons.is_empty() {
            self.apply(&mut view, Action::CheckData, who.id.as_str(), now)?;
            self.commit_change(view, idem.as_ref(), self.audit(now, who, "application.data_checked", id, None)).await
        } else {
            let codes = outcome.reasons.iter().map(|r| r.code).collect::<Vec<_>>().join(",");
            let audit = self.audit(now, who, "application.data_check_failed", id, Some(codes));
            self.store.update_application(self.change_of(&view), audit).await?;
            Err(ServiceError::refused("national_check_failed", outcome.reasons))
        }
    }

    /// A new pre-authorized code and its offer.
    pub(super) fn new_offer(
        &self,
        view: &mut ApplicationView,
        generation: u32,
        now: u64,
    ) -> (Offer, crate::store::Digest, CodeRow) {
        let code = new_secret("pac_");
        let code_hash = hash_secret(&code);
        let tx_code = super::notify::TxCode::generate(self.settings.tx_code_length);
        let expires_at = now + self.settings.offer_ttl;
        view.meta.offer = Some(OfferMeta { generation, code: code_hash, expires_at });
        let row = CodeRow {
            application: view.id.clone(),
            generation,
            expires_at,
            access: None,
            tx_code: Some(self.tx_code_hash(&code, tx_code.as_str())),
            wrong_tx_codes: 0,
        };
        let uri = verifier::build::oid4vci::CredentialOffer::pre_authorized_with_tx_code(
            self.issuer_url(),
            &code,
            &self.tx_code_spec(&view.record.form),
        )
        .to_uri();
        let offer =
            Offer { id: view.id.clone(), state: view.meta.state, offer_uri: uri, expires_at, tx_code, generation };
        (offer, code_hash, row)
    }

    /// Approves after the data check: draws the e-ID number and opens the first offer.
    pub async fn approve(&self, who: &Principal, id: &ApplicationId, key: Option<&IdempotencyKey>) -> Result<Offer> {
        let idem = self.idem(who, key, "approve", &[id.as_str().as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let loaded = self.load_for(who, id).await?;
        let now = self.now();
        // The card may have expired since submission.
        rules::eligibility(&loaded.record.form, verifier::Date::from_unix_vn(now), false)
            .map_err(|r| ServiceError::refused("not_eligible", r))?;
        if loaded.record.renewal_of.is_some() {
            // The person's e-ID number is theirs already: only the offer is new.
            return self.approve_renewal(who, loaded, idem.as_ref(), now).await;
        }
        for _draw in 0..8 {
            let mut view = loaded.clone();
            self.apply(&mut view, Action::Approve, who.id.as_str(), now)?;
            let eid = new_eid_number();
            let eid_index = crate::store::Digest(self.sealer.blind_index("eid", &eid));
            view.record.eid_number = Some(eid);
            let (offer, code_hash, code) = self.new_offer(&mut view, 1, now);
            let mut audit = self.audit(now, who, "application.approved", id, None);
            self.record(idem.as_ref(), &offer, &mut audit);
            match self.store.approve(self.change_of(&view), eid_index, code_hash, code, audit).await {
                Err(StoreError::Conflict(Conflict::EidTaken)) => continue,
                Err(e) if used(&e) => return self.raced(idem.as_ref()).await,
                Err(e) => return Err(e.into()),
                Ok(_) => {
                    self.send_tx_code(&view, &offer).await;
                    return Ok(offer);
                }
            }
        }
        Err(ServiceError::internal("no free e-ID number after 8 draws"))
    }

    /// A new offer for an approved application whose offer expired or was lost. The earlier
    /// code, and every access token obtained with it, stop working.
    pub async fn renew_offer(
        &self,
        who: &Principal,
        id: &ApplicationId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Offer> {
        let idem = self.idem(who, key, "offer", &[id.as_str().as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let mut view = self.load_for(who, id).await?;
        if view.meta.state != Status::Approved {
            let code = if view.meta.state.is_closed() { "application_closed" } else { "application_not_ready" };
            return Err(ServiceError::conflict(code));
        }
        let now = self.now();
        let generation = view.meta.offer.as_ref().map_or(0, |o| o.generation) + 1;
        let (offer, code_hash, code) = self.new_offer(&mut view, generation, now);
        let mut audit = self.audit(now, who, "application.offer_renewed", id, Some(format!("generation={generation}")));
        self.record(idem.as_ref(), &offer, &mut audit);
        match self.store.renew_offer(self.change_of(&view), code_hash, code, audit).await {
            Err(e) if used(&e) => return self.raced(idem.as_ref()).await,
            r => r?,
        };
        self.send_tx_code(&view, &offer).await;
        self.send_renewal_offer(&view, &offer).await;
        Ok(offer)
    }

    /// Rejects, with the officer's reason (1–500 characters).
    pub async fn reject(
        &self,
        who: &Principal,
        id: &ApplicationId,
        note: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<ApplicationView> {
        let idem = self.idem(who, key, "reject", &[id.as_str().as_bytes(), note.as_bytes()]);
        if let Some(v) = self.replayed(idem.as_ref()).await? {
            return Ok(v);
        }
        let mut view = self.load_for(who, id).await?;
        if note.trim().is_empty() || note.chars().count() > 500 {
            return Err(ServiceError::field("field_invalid", "reason"));
        }
        let now = self.now();
        self.apply(&mut view, Action::Reject { reason: enrollment::Reason::ApplicationClosed }, who.id.as_str(), now)?;
        view.record.rejection_note = Some(note.to_owned());
        self.commit_change(view, idem.as_ref(), self.audit(now, who, "application.rejected", id, None)).await
    }

    /// Finds the application last filed for a person, by passport (with nationality) or by
    /// residence card: an applicant who comes back, or a submission whose answer was lost.
    /// Officers find only their own reception point's applications.
    pub async fn lookup(&self, who: &Principal, by: &Lookup) -> Result<ApplicationView> {
        require(who, Role::Officer)?;
        let (domain, value) = match by {
            Lookup::Passport { nationality, number } => {
                let nat: enrollment::tk01::Nationality =
                    nationality.parse().map_err(|_| ServiceError::field("nationality_invalid", "nationality"))?;
                let num: enrollment::tk01::PassportNumber =
                    number.parse().map_err(|_| ServiceError::field("passport_number_invalid", "passport_number"))?;
                ("passport", format!("{}:{}", nat.code(), num.as_ref()))
            }
            Lookup::Card { number } => {
                let num: enrollment::tk01::CardNumber =
                    number.parse().map_err(|_| ServiceError::field("card_number_invalid", "residence_card_number"))?;
                ("card", num.as_ref().to_owned())
            }
        };
        let key = crate::store::Digest(self.sealer.blind_index(domain, &value));
        let (id, _) = self.store.application_by_identity(&key).await?.ok_or(ServiceError::NotFound)?;
        // Not found rather than forbidden: whether a person applied elsewhere is not this
        // officer's to learn.
        self.load_for(who, &id).await.map_err(|e| match e {
            ServiceError::Forbidden => ServiceError::NotFound,
            e => e,
        })
    }

    /// The reception point a staff query may cover: an officer only their own; an admin any.
    pub(super) fn own_point(who: &Principal, asked: Option<String>) -> Result<Option<String>> {
        match (&who.reception_point, asked) {
            (Some(own), Some(asked)) if *own != asked => Err(ServiceError::Forbidden),
            (Some(own), _) => Ok(Some(own.clone())),
            (None, asked) => Ok(asked),
        }
    }

    /// The applications' clear summaries of a reception point.
    pub async fn applications(&self, who: &Principal, point: Option<String>) -> Result<Vec<(ApplicationId, AppMeta)>> {
        let point = Self::own_point(who, point)?;
        Ok(self.store.application_metas(point.as_deref()).await?)
    }

    /// Overdue and due-soon applications per reception point.
    pub async fn deadlines(&self, who: &Principal, point: Option<String>, soon_days: u32) -> Result<Value> {
        let rows = self.applications(who, point).await?;
        Ok(rules::deadline_report(&rows, verifier::Date::from_unix_vn(self.now()), soon_days.min(30)))
    }

    /// Submissions per reception point per day.
    pub async fn daily_counts(
        &self,
        who: &Principal,
        point: Option<String>,
        from: Option<verifier::Date>,
        to: Option<verifier::Date>,
    ) -> Result<Value> {
        let rows: Vec<_> = self
            .applications(who, point)
            .await?
            .into_iter()
            .filter(|(_, m)| from.is_none_or(|f| m.submitted_on >= f) && to.is_none_or(|t| m.submitted_on <= t))
            .collect();
        Ok(rules::daily_counts(&rows))
    }
}

/// Whether a store refusal means "a request with the same idempotency key committed first".
pub(crate) fn used(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(Conflict::IdempotencyKeyUsed))
}

/// A 12-digit personal identification number for the e-ID account, random (not derived from
/// personal data).
fn new_eid_number() -> String {
    use rand_core::{OsRng, RngCore};
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    format!("{:012}", u64::from_be_bytes(b) % 1_000_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_files_round_trip_and_truncation_is_refused() {
        let files = vec![
            rules::Captured::for_test("portrait", vec![1, 2, 3]),
            rules::Captured::for_test("fingerprint_2", vec![9; 300]),
        ];
        let packed = pack_files(&files);
        let back = unpack_files(&packed).unwrap();
        assert_eq!(back, vec![("portrait".to_owned(), vec![1, 2, 3]), ("fingerprint_2".to_owned(), vec![9; 300])]);
        assert!(unpack_files(&packed[..packed.len() - 1]).is_none());
    }
}
