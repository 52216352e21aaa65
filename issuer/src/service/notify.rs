//! The second channel for transaction codes. An offer's QR code can be seen over a shoulder or
//! photographed; the transaction code (`tx_code`) that redeeming it needs travels another way:
//! the officer hands it over (the approval response carries it) and a [`Notifier`] sends it to
//! the applicant's phone and e-mail, in their language.
//!
//! The seam is one trait, like the national registry's: production plugs in an SMS/e-mail
//! gateway; this crate ships [`Outbox`], a stand-in that appends one JSON line per notice to a
//! file (`issuer serve --outbox FILE`, by default beside the data folder:
//! `DATA-outbox.jsonl`, see [`crate::default_outbox`]) for a gateway or a test to pick up. The
//! outbox holds what a gateway must send: the code in clear, the phone number and the e-mail
//! address. It is the gateway's queue, not the issuer's storage: it is kept out of the data
//! folder (which holds no personal data or secret in clear), written with mode 0600, and is no
//! log: the issuer's logs and audit entries carry only the application id and the channels.
//!
//! A notice is sent after the offer is durable, never inside the store transaction (the code
//! is never stored in clear). If sending fails, the offer stands, the officer still has the
//! code, and the failure is audited (`offer.tx_code_not_sent`); a renewed offer sends a new code.
//!
//! The same seam carries the **registry notices** ([`RegistryNotice`], see
//! `service::registry_sync`): a holder whose credential changed because the registry changed
//! their card is told what happened, what it means and what to do, in their language; a renewal
//! offer's link goes by e-mail. They are sent after the change is durable and marked sent after;
//! a crash in between sends one again, with the same `id`, so a gateway can drop the repeat.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::i18n::Lang;
use crate::ids::ApplicationId;

/// A transaction code: digits, zeroized on drop, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TxCode(Zeroizing<String>);

impl TxCode {
    /// A uniformly random numeric code of `length` digits (rejection sampling, no modulo bias).
    pub fn generate(length: u32) -> Self {
        use rand_core::{OsRng, RngCore};
        let mut s = Zeroizing::new(String::with_capacity(length as usize));
        while s.len() < length as usize {
            let mut b = [0u8; 1];
            OsRng.fill_bytes(&mut b);
            // 250 = 25 × 10: bytes above it would favour the low digits.
            if b[0] < 250 {
                s.push(char::from(b'0' + b[0] % 10));
            }
        }
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Serialized only into sealed records (an idempotent approval's answer).
impl Serialize for TxCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TxCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(<String as serde::Deserialize>::deserialize(d)?);
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom("a transaction code is digits"));
        }
        Ok(Self(s))
    }
}

impl fmt::Debug for TxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TxCode(<redacted>)")
    }
}

/// A transaction code to pass to an applicant.
#[derive(Debug, Clone)]
pub struct TxCodeNotice {
    pub application: ApplicationId,
    /// The offer's generation: a renewed offer sends a new code with a higher generation.
    pub generation: u32,
    /// The applicant's language (see `service::delivery::applicant_lang`).
    pub lang: Lang,
    /// E.164, as enrollment normalized it.
    pub phone: String,
    pub email: String,
    pub tx_code: TxCode,
    /// The message, in `lang`, with the code in it.
    pub subject: String,
    pub text: String,
    /// When the offer stops working (UNIX seconds).
    pub expires_at: u64,
}

/// A notice about a registry change, for a holder.
#[derive(Debug, Clone)]
pub struct RegistryNotice {
    /// `registry_change` (the holder's credential changed) or `renewal_offer` (the link to
    /// receive a renewal).
    pub kind: &'static str,
    /// Stable for the notice: sent twice (after a crash), it has the same id.
    pub id: String,
    pub application: ApplicationId,
    /// The registry change behind it.
    pub registry_seq: u64,
    /// The change's reason code (`card_revoked`, …), for `registry_change` notices.
    pub reason: Option<&'static str>,
    pub lang: Lang,
    /// E.164; `None` for e-mail only (a renewal offer's link: its code goes by SMS).
    pub phone: Option<String>,
    pub email: String,
    pub subject: String,
    pub text: String,
    /// The renewal offer (`openid-credential-offer://…`), for `renewal_offer` notices.
    pub link: Option<String>,
}

/// A new offer for a credential whose signing key was revoked (re-issuance after a compromise):
/// unlike an approval, no officer is there, so the notice carries the offer itself (its link, for
/// the wallet) besides the transaction code.
#[derive(Debug, Clone)]
pub struct ReofferNotice {
    pub application: ApplicationId,
    /// The credential being replaced.
    pub credential: crate::ids::CredentialId,
    /// The new offer's generation.
    pub generation: u32,
    pub lang: Lang,
    pub phone: String,
    pub email: String,
    /// The credential offer URI (`openid-credential-offer://…`): holds the pre-authorized code.
    pub offer_uri: String,
    pub tx_code: TxCode,
    pub subject: String,
    /// The message, in `lang`, with the code in it.
    pub text: String,
    pub expires_at: u64,
}

/// Why a notice did not go out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("cannot write the outbox {path}: {source}")]
    Outbox { path: PathBuf, source: std::io::Error },
    #[error("the gateway refused the notice: {0}")]
    Gateway(String),
}

/// Sends transaction codes to applicants by SMS and e-mail.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and audit details (`outbox`, `sms-gateway`, …).
    fn name(&self) -> &'static str;
    /// Hands the notice over for delivery; answers once the gateway (or the outbox file) has it
    /// durably.
    async fn send_tx_code(&self, notice: &TxCodeNotice) -> Result<(), NotifyError>;

    /// Hands a registry notice over, as [`Notifier::send_tx_code`]. A gateway that has not opted
    /// in refuses it (the issuer audits that the holder was not told).
    async fn send_registry_notice(&self, notice: &RegistryNotice) -> Result<(), NotifyError> {
        let _ = notice;
        Err(NotifyError::Gateway("this notifier does not send registry notices".into()))
    }

    /// Hands a re-offer over for delivery (offer link by e-mail, transaction code by SMS, as the
    /// gateway does it); answers once it has it durably. A gateway that cannot carry offers
    /// refuses, and the re-issuance keeps the notice to send again.
    async fn send_reoffer(&self, notice: &ReofferNotice) -> Result<(), NotifyError> {
        let _ = notice;
        Err(NotifyError::Gateway(format!("the {} notifier does not send re-offers", self.name())))
    }
}

/// The stand-in gateway: JSON Lines appended to a file, each written and `fdatasync`ed before
/// the call answers. Lines that arrive while one append is syncing are written together by the
/// next, with one `fdatasync` (group commit, as the store does). One line:
///
/// ```json
/// {"kind":"tx_code","application":"…","generation":1,"lang":"ko","sms":"+84912345678",
///  "email":"…","subject":"…","text":"… 123456 …","tx_code":"123456","expires_at":1796349600}
/// ```
#[derive(Debug, Clone)]
pub struct Outbox {
    path: PathBuf,
    shared: Arc<Appends>,
}

/// Lines waiting to be appended, and the lock the one appending holds.
#[derive(Debug, Default)]
struct Appends {
    waiting: Mutex<Vec<Waiting>>,
    writing: Mutex<()>,
}

type Waiting = (Zeroizing<Vec<u8>>, tokio::sync::oneshot::Sender<std::io::Result<()>>);

#[derive(Serialize)]
struct Line<'a> {
    kind: &'static str,
    application: &'a str,
    generation: u32,
    lang: &'static str,
    sms: &'a str,
    email: &'a str,
    subject: &'a str,
    text: &'a str,
    tx_code: &'a str,
    expires_at: u64,
}

/// One registry notice in the outbox:
///
/// ```json
/// {"kind":"registry_change","notice":"registry-17-…","application":"…","registry_seq":17,
///  "reason":"card_revoked","lang":"ko","sms":"+84912345678","email":"…","subject":"…","text":"…"}
/// ```
///
/// A `renewal_offer` has no `reason`, `"sms":null` (e-mail only) and the offer in `link`.
#[derive(Serialize)]
struct RegistryLine<'a> {
    kind: &'static str,
    notice: &'a str,
    application: &'a str,
    registry_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    lang: &'static str,
    sms: Option<&'a str>,
    email: &'a str,
    subject: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a str>,
}

impl Outbox {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), shared: Arc::default() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends every waiting line (in one write and one `fdatasync`) and answers each; nothing
    /// to do if an earlier call took them all already.
    fn append_waiting(&self) {
        // One writer at a time, so lines never interleave. A poisoned lock only means another
        // append panicked; the file is still append-only.
        let _guard = self.shared.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let batch = std::mem::take(&mut *self.shared.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if batch.is_empty() {
            return;
        }
        let mut all = Zeroizing::new(Vec::with_capacity(batch.iter().map(|(l, _)| l.len()).sum()));
        for (line, _) in &batch {
            all.extend_from_slice(line);
        }
        let r = self.append(&all);
        for (_, reply) in batch {
            let _ = reply.send(r.as_ref().map(|_| ()).map_err(|e| std::io::Error::new(e.kind(), e.to_string())));
        }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.path)?;
        f.write_all(line)?;
        f.sync_data()
    }
}

/// A re-offer line of the outbox.
#[derive(Serialize)]
struct ReofferLine<'a> {
    kind: &'static str,
    application: &'a str,
    credential: &'a str,
    generation: u32,
    lang: &'static str,
    sms: &'a str,
    email: &'a str,
    subject: &'a str,
    text: &'a str,
    offer_uri: &'a str,
    tx_code: &'a str,
    expires_at: u64,
}

impl Outbox {
    async fn append_line(&self, line: impl Serialize) -> Result<(), NotifyError> {
        let mut bytes = Zeroizing::new(serde_json::to_vec(&line).unwrap_or_default());
        bytes.push(b'\n');
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.shared.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((bytes, reply));
        let this = self.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || this.append_waiting())
            .await
            .map_err(|e| NotifyError::Outbox { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
        answer
            .await
            .map_err(|_| NotifyError::Outbox {
                path: path.clone(),
                source: std::io::Error::other("the append was dropped"),
            })?
            .map_err(|source| NotifyError::Outbox { path, source })
    }
}

#[async_trait]
impl Notifier for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn send_tx_code(&self, n: &TxCodeNotice) -> Result<(), NotifyError> {
        let line = Line {
            kind: "tx_code",
            application: n.application.as_str(),
            generation: n.generation,
            lang: n.lang.tag(),
            sms: &n.phone,
            email: &n.email,
            subject: &n.subject,
            text: &n.text,
            tx_code: n.tx_code.as_str(),
            expires_at: n.expires_at,
        };
        self.append_line(line).await
    }

    /// One line of kind `reoffer`: the offer URI and the transaction code, with the channels.
    async fn send_reoffer(&self, n: &ReofferNotice) -> Result<(), NotifyError> {
        let line = ReofferLine {
            kind: "reoffer",
            application: n.application.as_str(),
            credential: n.credential.as_str(),
            generation: n.generation,
            lang: n.lang.tag(),
            sms: &n.phone,
            email: &n.email,
            subject: &n.subject,
            text: &n.text,
            offer_uri: &n.offer_uri,
            tx_code: n.tx_code.as_str(),
            expires_at: n.expires_at,
        };
        self.append_line(line).await
    }

    async fn send_registry_notice(&self, n: &RegistryNotice) -> Result<(), NotifyError> {
        let line = RegistryLine {
            kind: n.kind,
            notice: &n.id,
            application: n.application.as_str(),
            registry_seq: n.registry_seq,
            reason: n.reason,
            lang: n.lang.tag(),
            sms: n.phone.as_deref(),
            email: &n.email,
            subject: &n.subject,
            text: &n.text,
            link: n.link.as_deref(),
        };
        let mut bytes = Zeroizing::new(serde_json::to_vec(&line).unwrap_or_default());
        bytes.push(b'\n');
        let this = self.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || this.append(&bytes))
            .await
            .map_err(|e| NotifyError::Outbox { path: path.clone(), source: std::io::Error::other(e.to_string()) })?
            .map_err(|source| NotifyError::Outbox { path, source })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_of_the_length_asked_and_never_printed() {
        for len in [4, 6, 8] {
            let c = TxCode::generate(len);
            assert_eq!(c.as_str().len(), len as usize);
            assert!(c.as_str().bytes().all(|b| b.is_ascii_digit()));
            assert!(!format!("{c:?}").contains(c.as_str()));
        }
        // Every digit turns up (a biased or constant generator would not).
        let all: String = (0..200).map(|_| TxCode::generate(6).as_str().to_owned()).collect();
        assert!((b'0'..=b'9').all(|d| all.as_bytes().contains(&d)));
    }

    #[tokio::test]
    async fn the_outbox_appends_one_private_line_per_notice() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("sub/outbox.jsonl"));
        let notice = TxCodeNotice {
            application: ApplicationId::generate(),
            generation: 1,
            lang: Lang::Ko,
            phone: "+84912345678".into(),
            email: "a@example.com".into(),
            tx_code: TxCode::generate(6),
            subject: "s".into(),
            text: "t".into(),
            expires_at: 5,
        };
        outbox.send_tx_code(&notice).await.unwrap();
        outbox.send_tx_code(&notice).await.unwrap();
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["tx_code"], notice.tx_code.as_str());
        assert_eq!(lines[0]["lang"], "ko");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(outbox.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the outbox is private");
        }
    }
}
