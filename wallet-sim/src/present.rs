//! Holder-bound QR presentations.
//!
//! The device key signs [`verifier::build::qr::holder_signing_input`]: the credential bytes exactly as
//! the issuer signed them, the purpose, the time `t`, the window `d` and the verifier's
//! challenge (empty when the verifier showed none). A verifier accepts it only within `d`
//! seconds of `t` (capped by its own policy), so a screenshot stops working within a minute.

use verifier::build::qr;
use verifier::{inspect_qr, Purpose};

use crate::render::Qr;
use crate::store::CredentialSet;
use crate::{DeviceKey, Error, Result, Wallet};

/// Longest verifier challenge the QR format accepts, in bytes (the verifier refuses longer).
pub const MAX_CHALLENGE: usize = 64;

/// A verifier challenge: 0 to 64 bytes, given on the command line as hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge(Vec<u8>);

impl Challenge {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::str::FromStr for Challenge {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        parse_challenge(s)
    }
}

/// Parses a challenge from hex (either case; empty for none).
pub fn parse_challenge(hex: &str) -> Result<Challenge> {
    let bad = |detail: &str| Error::InvalidArgument { what: "challenge", detail: detail.into() };
    if hex.len() > 2 * MAX_CHALLENGE {
        return Err(bad("longer than 64 bytes"));
    }
    if !hex.len().is_multiple_of(2) {
        return Err(bad("odd number of hex digits"));
    }
    let digit = |c: u8| char::from(c).to_digit(16).ok_or_else(|| bad("not hexadecimal"));
    let bytes = hex
        .as_bytes()
        .chunks_exact(2)
        .map(|p| Ok((digit(p[0])? << 4 | digit(p[1])?) as u8))
        .collect::<Result<Vec<u8>>>()?;
    Ok(Challenge(bytes))
}

/// Parses an RFC 3339 time to UNIX seconds (not before 1970).
pub fn parse_time(s: &str) -> Result<u64> {
    let bad = |detail: String| Error::InvalidArgument { what: "time (RFC 3339, e.g. 2026-11-29T10:00:00Z)", detail };
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| bad(e.to_string()))?;
    u64::try_from(t.unix_timestamp()).map_err(|_| bad("before 1970".into()))
}

/// UNIX seconds as RFC 3339 (UTC), for display.
pub fn format_time(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("@{t}"))
}

/// What to present.
#[derive(Debug, Clone)]
pub struct PresentOptions {
    pub purpose: Purpose,
    /// The presentation time `t`, UNIX seconds.
    pub at: u64,
    /// The window `d`, seconds (at least 1).
    pub window: u64,
    pub challenge: Challenge,
}

/// A presentation ready to show.
#[derive(Debug)]
pub struct Presented {
    pub purpose: Purpose,
    /// The QR text, `VN1:` and base45.
    pub text: String,
    /// Size of the CBOR presentation in bytes.
    pub cbor_len: usize,
    pub qr: Qr,
}

impl Presented {
    /// The line the binary prints to stderr, e.g. `purpose=landlord version=12 ec=M bytes=246 chars=373`.
    pub fn summary(&self) -> String {
        format!(
            "purpose={} version={} ec=M bytes={} chars={}",
            self.purpose,
            self.qr.version(),
            self.cbor_len,
            self.text.chars().count()
        )
    }
}

impl Wallet {
    /// Loads the device key and the credential for `opts.purpose` and presents it.
    pub fn present(&self, opts: &PresentOptions) -> Result<Presented> {
        let device = self.device_key()?;
        let set = self.credentials()?.ok_or(Error::NoCredential(opts.purpose))?;
        present(&set, &device, opts)
    }
}

/// Signs and encodes a presentation of `set`'s credential for `opts.purpose`.
pub fn present(set: &CredentialSet, device: &DeviceKey, opts: &PresentOptions) -> Result<Presented> {
    let purpose = opts.purpose;
    if opts.window == 0 {
        return Err(Error::InvalidArgument { what: "window", detail: "must be at least 1 second".into() });
    }
    let stored = set.qr(purpose).ok_or(Error::NoCredential(purpose))?;
    if opts.at > stored.expires_at() {
        return Err(Error::Expired { purpose, expires_at: stored.expires_at(), at: opts.at });
    }
    let cred = stored.credential();
    // The store was checked when written; this guards against a key or store swapped since.
    let (_, decoded) = stored.decode().map_err(|r| Error::Rejected(format!("stored {purpose} credential: {r}")))?;
    if decoded.holder != device.public() {
        return Err(Error::Rejected(format!("the stored {purpose} credential is bound to another device key")));
    }
    let msg = qr::holder_signing_input(cred, purpose, opts.at, opts.window, opts.challenge.as_bytes());
    let sig = device.sign(&msg);
    let text = qr::encode_presentation(cred, opts.at, opts.window, &sig);
    // Read back what a verifier will read, so a bad QR is caught here and not at the landlord's.
    let back = inspect_qr(&text).map_err(|r| Error::Qr(r.to_string()))?;
    if back.credential.purpose != purpose || back.presented_at != opts.at || back.window != opts.window {
        return Err(Error::Qr("presentation does not read back as written".into()));
    }
    let qr = Qr::encode(&text)?;
    Ok(Presented { purpose, cbor_len: back.presentation_len, text, qr })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use verifier::build::crypto::Ed25519Key;
    use verifier::build::trustlist::{KeyState, TrustList, TrustedKey};
    use verifier::{Outcome, Policy, QrCheck, Reason, TrustStore};

    use super::*;
    use crate::issuance::tests::{issuer_key, kid, sample_set, NOW, YEAR};

    fn opts(purpose: Purpose, at: u64, challenge: &str) -> PresentOptions {
        PresentOptions { purpose, at, window: qr::DEFAULT_WINDOW, challenge: parse_challenge(challenge).unwrap() }
    }

    fn trust() -> TrustStore {
        TrustStore::new(TrustList {
            v: 1,
            issuer: "http://issuer.test".into(),
            seq: 1,
            issued_at: NOW - 100,
            next_update: NOW + 86_400,
            keys: vec![TrustedKey {
                kid: kid(),
                x: verifier::PublicKey::from_bytes(issuer_key().verifying_key().to_bytes()),
                state: KeyState::Active,
                sign_from: NOW - 1000,
                sign_until: NOW + YEAR,
                valid_until: NOW + 2 * YEAR,
                node: None,
            }],
            status_lists: vec![],
        })
        .unwrap()
    }

    fn check(now: u64, challenge: &[u8]) -> QrCheck<'_> {
        QrCheck {
            purpose: Some(Purpose::Landlord),
            now,
            challenge,
            policy: Policy { require_status: false, ..Policy::default() },
        }
    }

    #[test]
    fn the_holder_signature_verifies_and_the_verifier_accepts() {
        let device = DeviceKey::from_seed(&[3; 32]);
        let set = sample_set(&device);
        let p = present(&set, &device, &opts(Purpose::Landlord, NOW, "c0ffee")).unwrap();
        assert!(p.text.starts_with("VN1:"));

        // The holder signature, checked by hand with the verifier's Ed25519.
        let back = inspect_qr(&p.text).unwrap();
        assert_eq!(back.presentation_len, p.cbor_len);
        let cred = set.qr(Purpose::Landlord).unwrap().credential();
        assert_eq!(back.credential_len, cred.len());
        assert_eq!((back.presented_at, back.window), (NOW, qr::DEFAULT_WINDOW));
        let sig = back.holder_signature;
        let vk = Ed25519Key::from_public(&device.public()).unwrap();
        let msg = qr::holder_signing_input(cred, Purpose::Landlord, NOW, qr::DEFAULT_WINDOW, &[0xc0, 0xff, 0xee]);
        assert!(vk.verify(&msg, &sig));
        assert!(!vk.verify(&qr::holder_signing_input(cred, Purpose::Landlord, NOW, qr::DEFAULT_WINDOW, &[]), &sig));

        // And the whole proof, as a landlord's phone checks it.
        let t = trust();
        let v = t.verify_qr(&p.text, &check(NOW + 5, &[0xc0, 0xff, 0xee])).valid().unwrap();
        assert_eq!(v.claims.name_latin.as_deref(), Some("KIM MIN JUN"));
        assert_eq!(v.presented_at, NOW);
        let reason = |o: Outcome<_>| o.invalid().map(|r| r.reason);
        assert_eq!(reason(t.verify_qr(&p.text, &check(NOW + 5, b""))), Some(Reason::BadHolderSignature));
        assert_eq!(
            reason(t.verify_qr(&p.text, &check(NOW + 300, &[0xc0, 0xff, 0xee]))),
            Some(Reason::PresentationExpired)
        );
        assert!(p.summary().starts_with("purpose=landlord version="), "{}", p.summary());
    }

    #[test]
    fn no_credential_expired_credential_wrong_device() {
        let device = DeviceKey::from_seed(&[3; 32]);
        let set = sample_set(&device);
        let exp = set.qr(Purpose::Bank).unwrap().expires_at();
        assert!(present(&set, &device, &opts(Purpose::Bank, exp, "")).is_ok());
        assert!(matches!(present(&set, &device, &opts(Purpose::Bank, exp + 1, "")), Err(Error::Expired { .. })));
        let other = DeviceKey::from_seed(&[4; 32]);
        assert!(matches!(present(&set, &other, &opts(Purpose::Bank, NOW, "")), Err(Error::Rejected(_))));
        let mut o = opts(Purpose::Bank, NOW, "");
        o.window = 0;
        assert!(matches!(present(&set, &device, &o), Err(Error::InvalidArgument { .. })));

        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        w.init().unwrap();
        assert!(matches!(w.present(&opts(Purpose::Landlord, NOW, "")), Err(Error::NoCredential(Purpose::Landlord))));
    }

    #[test]
    fn challenge_and_time_parsing() {
        assert_eq!(parse_challenge("").unwrap().as_bytes(), b"");
        assert_eq!(parse_challenge("00Ff7a").unwrap().as_bytes(), [0, 0xff, 0x7a]);
        assert!(parse_challenge(&"ab".repeat(64)).is_ok());
        for bad in ["abc", "zz", "0x12", &"ab".repeat(65), "é1"] {
            let e = parse_challenge(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument { what: "challenge", .. }) && e.is_usage(), "{bad}");
        }
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), 60);
        assert_eq!(parse_time("2026-11-29T17:00:00+07:00").unwrap(), 1_795_946_400);
        for bad in ["2026-11-29", "yesterday", "1969-12-31T23:59:59Z", "2026-11-29T10:00:00"] {
            assert!(matches!(parse_time(bad), Err(Error::InvalidArgument { .. })), "{bad}");
        }
        assert_eq!(format_time(1_795_946_400), "2026-11-29T10:00:00Z");
    }
}
