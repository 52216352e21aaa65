//! The QR proof: the offline path from a holder's phone to a landlord's, bank's or residence
//! office's verifier. Byte layout and rationale: `docs/formats.md`.
//!
//! ```text
//! QR text      = "VN1:" base45(presentation)
//! presentation = [ credential: COSE_Sign1 (tag 18), t: uint, d: uint, holder_sig: bstr .size 64 ]
//! credential payload = CWT claims { 4: exp, 6: iat, 8: cnf, -65537: { 0: purpose, 1: [list, idx],
//!                                   2: level, 10..21: the purpose's claims } }
//! holder_sig   = Ed25519(device key, ["VN1-holder", bstr credential, purpose, t, d, bstr challenge])
//! ```
//!
//! The issuer signs one credential per purpose with only that purpose's claims; the holder's
//! device signs the credential with the current time `t` and a window `d` (seconds), so a
//! screenshot stops being accepted once the window has passed.

use serde::{Deserialize, Serialize};

use crate::base45;
use crate::cbor::{Kind, Reader, Writer};
use crate::cose::{Sign1, UnsignedSign1};
use crate::crypto::Ed25519Key;
use crate::error::{Reason, Rejection};
use crate::trustlist::{Policy, TrustStore};
use crate::types::{Date, KeyId, PublicKey, Purpose};

/// The context prefix: format family and version. Upper case so QR alphanumeric mode holds it.
pub const PREFIX: &str = "VN1:";
/// Longest QR text accepted: QR version 40 holds 4296 alphanumeric characters.
pub const MAX_TEXT: usize = 4296;
/// The private CWT claim that holds our identity claims (RFC 8392 private-use range).
pub const CLAIMS_KEY: i64 = -65537;
/// Default holder window: what a wallet signs when the verifier asks for nothing else.
pub const DEFAULT_WINDOW: u64 = 60;
const HOLDER_CONTEXT: &str = "VN1-holder";
pub const MAX_CHALLENGE: usize = 64;

/// One personal claim, with its CBOR key and JSON name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Claim {
    /// Full name as written (Vietnamese diacritics, Hangul, Hanzi kept).
    Name,
    /// ICAO 9303 Latin transliteration of the name.
    NameLatin,
    BirthDate,
    Sex,
    /// ISO 3166-1 alpha-3.
    Nationality,
    PassportNumber,
    /// Residence card (TRC/PRC) number.
    CardNumber,
    CardKind,
    CardExpiry,
    /// Address in Vietnam.
    Address,
    /// The personal identification number of the e-ID account.
    EidNumber,
    AgeOver18,
}

impl Claim {
    /// In CBOR key order, which is also the order claims are written in (RFC 8949 deterministic
    /// encoding: map keys sorted).
    pub const ALL: [Claim; 12] = [
        Claim::NameLatin,
        Claim::Name,
        Claim::BirthDate,
        Claim::Sex,
        Claim::Nationality,
        Claim::PassportNumber,
        Claim::CardNumber,
        Claim::CardKind,
        Claim::CardExpiry,
        Claim::Address,
        Claim::EidNumber,
        Claim::AgeOver18,
    ];

    pub fn key(self) -> i64 {
        match self {
            Claim::NameLatin => 10,
            Claim::Name => 11,
            Claim::BirthDate => 12,
            Claim::Sex => 13,
            Claim::Nationality => 14,
            Claim::PassportNumber => 15,
            Claim::CardNumber => 16,
            Claim::CardKind => 17,
            Claim::CardExpiry => 18,
            Claim::Address => 19,
            Claim::EidNumber => 20,
            Claim::AgeOver18 => 21,
        }
    }

    pub fn from_key(k: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == k)
    }

    /// The claim name in JSON (CLI output, SD-JWT disclosures).
    pub fn name(self) -> &'static str {
        match self {
            Claim::Name => "name",
            Claim::NameLatin => "name_latin",
            Claim::BirthDate => "birth_date",
            Claim::Sex => "sex",
            Claim::Nationality => "nationality",
            Claim::PassportNumber => "passport_number",
            Claim::CardNumber => "residence_card_number",
            Claim::CardKind => "residence_card_kind",
            Claim::CardExpiry => "residence_card_expiry",
            Claim::Address => "address",
            Claim::EidNumber => "eid_number",
            Claim::AgeOver18 => "age_over_18",
        }
    }

    fn max_len(self) -> usize {
        match self {
            Claim::Address => 300,
            Claim::Nationality => 3,
            _ => 120,
        }
    }
}

/// Sex as on the travel document (ICAO 9303: M, F, or X unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    M,
    F,
    X,
}

impl Sex {
    /// ISO/IEC 5218 codes on the wire.
    fn code(self) -> u64 {
        match self {
            Sex::M => 1,
            Sex::F => 2,
            Sex::X => 9,
        }
    }
    fn from_code(c: u64) -> Option<Self> {
        match c {
            1 => Some(Sex::M),
            2 => Some(Sex::F),
            9 => Some(Sex::X),
            _ => None,
        }
    }
}

/// Residence card kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardKind {
    /// Temporary residence card (TRC, thẻ tạm trú).
    Temporary,
    /// Permanent residence card (PRC, thẻ thường trú).
    Permanent,
}

impl CardKind {
    fn code(self) -> u64 {
        match self {
            CardKind::Temporary => 1,
            CardKind::Permanent => 2,
        }
    }
    fn from_code(c: u64) -> Option<Self> {
        match c {
            1 => Some(CardKind::Temporary),
            2 => Some(CardKind::Permanent),
            _ => None,
        }
    }
}

/// The personal claims a credential may carry; each purpose fills only its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_latin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_kind: Option<CardKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_expiry: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eid_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_over_18: Option<bool>,
}

impl PersonClaims {
    /// Which claims are present.
    pub fn present(&self) -> Vec<Claim> {
        Claim::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }

    pub fn has(&self, c: Claim) -> bool {
        match c {
            Claim::Name => self.name.is_some(),
            Claim::NameLatin => self.name_latin.is_some(),
            Claim::BirthDate => self.birth_date.is_some(),
            Claim::Sex => self.sex.is_some(),
            Claim::Nationality => self.nationality.is_some(),
            Claim::PassportNumber => self.passport_number.is_some(),
            Claim::CardNumber => self.residence_card_number.is_some(),
            Claim::CardKind => self.residence_card_kind.is_some(),
            Claim::CardExpiry => self.residence_card_expiry.is_some(),
            Claim::Address => self.address.is_some(),
            Claim::EidNumber => self.eid_number.is_some(),
            Claim::AgeOver18 => self.age_over_18.is_some(),
        }
    }

    /// A copy holding only the claims `purpose` needs.
    pub fn restrict_to(&self, purpose: Purpose) -> PersonClaims {
        let keep = |c: Claim| purpose.claims().contains(&c);
        PersonClaims {
            name: self.name.clone().filter(|_| keep(Claim::Name)),
            name_latin: self.name_latin.clone().filter(|_| keep(Claim::NameLatin)),
            birth_date: self.birth_date.filter(|_| keep(Claim::BirthDate)),
            sex: self.sex.filter(|_| keep(Claim::Sex)),
            nationality: self.nationality.clone().filter(|_| keep(Claim::Nationality)),
            passport_number: self.passport_number.clone().filter(|_| keep(Claim::PassportNumber)),
            residence_card_number: self.residence_card_number.clone().filter(|_| keep(Claim::CardNumber)),
            residence_card_kind: self.residence_card_kind.filter(|_| keep(Claim::CardKind)),
            residence_card_expiry: self.residence_card_expiry.filter(|_| keep(Claim::CardExpiry)),
            address: self.address.clone().filter(|_| keep(Claim::Address)),
            eid_number: self.eid_number.clone().filter(|_| keep(Claim::EidNumber)),
            age_over_18: self.age_over_18.filter(|_| keep(Claim::AgeOver18)),
        }
    }

    fn text(&self, c: Claim) -> Option<&str> {
        match c {
            Claim::Name => self.name.as_deref(),
            Claim::NameLatin => self.name_latin.as_deref(),
            Claim::Nationality => self.nationality.as_deref(),
            Claim::PassportNumber => self.passport_number.as_deref(),
            Claim::CardNumber => self.residence_card_number.as_deref(),
            Claim::Address => self.address.as_deref(),
            Claim::EidNumber => self.eid_number.as_deref(),
            _ => None,
        }
    }

    fn text_slot(&mut self, c: Claim) -> Option<&mut Option<String>> {
        match c {
            Claim::Name => Some(&mut self.name),
            Claim::NameLatin => Some(&mut self.name_latin),
            Claim::Nationality => Some(&mut self.nationality),
            Claim::PassportNumber => Some(&mut self.passport_number),
            Claim::CardNumber => Some(&mut self.residence_card_number),
            Claim::Address => Some(&mut self.address),
            Claim::EidNumber => Some(&mut self.eid_number),
            _ => None,
        }
    }

    fn write(&self, w: &mut Writer) {
        for c in self.present() {
            w.int(c.key());
            if let Some(s) = self.text(c) {
                w.text(s);
                continue;
            }
            match c {
                Claim::BirthDate => w.int(self.birth_date.map_or(0, Date::days)),
                Claim::CardExpiry => w.int(self.residence_card_expiry.map_or(0, Date::days)),
                Claim::Sex => w.uint(self.sex.map_or(0, Sex::code)),
                Claim::CardKind => w.uint(self.residence_card_kind.map_or(0, CardKind::code)),
                _ => w.bool(self.age_over_18.unwrap_or(false)),
            };
        }
    }

    fn read_claim(&mut self, c: Claim, r: &mut Reader<'_>) -> Result<(), Rejection> {
        if self.has(c) {
            return Err(Rejection::malformed("repeated claim"));
        }
        let bad = |d| Rejection::malformed(d);
        let max = c.max_len();
        if let Some(slot) = self.text_slot(c) {
            let s = r.text()?;
            if s.is_empty() || s.len() > max {
                return Err(bad("claim text empty or too long"));
            }
            *slot = Some(s.to_owned());
            return Ok(());
        }
        match c {
            Claim::BirthDate => self.birth_date = Some(Date::from_days(r.int()?).ok_or(bad("implausible date"))?),
            Claim::CardExpiry => {
                self.residence_card_expiry = Some(Date::from_days(r.int()?).ok_or(bad("implausible date"))?)
            }
            Claim::Sex => self.sex = Some(Sex::from_code(r.uint()?).ok_or(bad("unknown sex code"))?),
            Claim::CardKind => {
                self.residence_card_kind = Some(CardKind::from_code(r.uint()?).ok_or(bad("unknown card kind"))?)
            }
            _ => self.age_over_18 = Some(r.bool()?),
        }
        Ok(())
    }
}

/// A credential's reference into a status list: the list's id in the trust list, and the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRef {
    pub list: u32,
    pub idx: u64,
}

/// The content of one per-purpose QR credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCredential {
    pub purpose: Purpose,
    /// Assurance level of the e-ID account (2 for this product).
    pub level: u8,
    pub issued_at: u64,
    pub expires_at: u64,
    /// The holder's device key; the holder signature must verify under it.
    pub holder: PublicKey,
    pub status: Option<StatusRef>,
    pub claims: PersonClaims,
}

impl QrCredential {
    /// The CWT claims set, CBOR-encoded.
    pub fn encode_payload(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.map(4);
        w.int(4).uint(self.expires_at);
        w.int(6).uint(self.issued_at);
        // cnf (RFC 8747) with a COSE_Key: kty OKP (1), crv Ed25519 (6), x.
        w.int(8).map(1).int(1).map(3).int(1).int(1).int(-1).int(6).int(-2).bytes(self.holder.as_bytes());
        w.int(CLAIMS_KEY);
        let present = self.claims.present();
        w.map(2 + usize::from(self.status.is_some()) + present.len());
        w.int(0).uint(self.purpose.code());
        if let Some(s) = self.status {
            w.int(1).array(2).uint(u64::from(s.list)).uint(s.idx);
        }
        w.int(2).uint(u64::from(self.level));
        self.claims.write(&mut w);
        w.into_bytes()
    }

    /// Parses a CWT claims set; strict: no unknown or repeated keys, and no claim the purpose
    /// does not carry.
    pub fn decode_payload(bytes: &[u8]) -> Result<Self, Rejection> {
        let bad = |d| Rejection::malformed(d);
        let mut r = Reader::new(bytes);
        let (mut exp, mut iat, mut holder, mut inner) = (None, None, None, None);
        for _ in 0..r.map()? {
            match r.int()? {
                4 if exp.is_none() => exp = Some(r.uint()?),
                6 if iat.is_none() => iat = Some(r.uint()?),
                8 if holder.is_none() => holder = Some(read_cnf(&mut r)?),
                CLAIMS_KEY if inner.is_none() => inner = Some(read_inner(&mut r)?),
                _ => return Err(bad("unexpected or repeated CWT claim")),
            }
        }
        r.finish()?;
        let (purpose, status, level, claims) = inner.ok_or(bad("no identity claims"))?;
        let cred = QrCredential {
            purpose,
            level,
            issued_at: iat.ok_or(bad("no iat"))?,
            expires_at: exp.ok_or(bad("no exp"))?,
            holder: holder.ok_or(bad("no cnf"))?,
            status,
            claims,
        };
        if cred.claims.present().iter().any(|c| !purpose.claims().contains(c)) {
            return Err(bad("claim not allowed for this purpose").with_purpose(purpose));
        }
        Ok(cred)
    }

    /// The COSE_Sign1 to be signed by the issuer key `kid`.
    pub fn to_sign1(&self, kid: &KeyId) -> UnsignedSign1 {
        UnsignedSign1::new(kid, self.encode_payload())
    }
}

fn read_cnf(r: &mut Reader<'_>) -> Result<PublicKey, Rejection> {
    let bad = |d| Rejection::malformed(d);
    if r.map()? != 1 || r.int()? != 1 {
        return Err(bad("cnf must hold one COSE_Key"));
    }
    let (mut kty, mut crv, mut x) = (None, None, None);
    for _ in 0..r.map()? {
        match r.int()? {
            1 if kty.is_none() => kty = Some(r.int()?),
            -1 if crv.is_none() => crv = Some(r.int()?),
            -2 if x.is_none() => x = Some(r.bytes()?),
            _ => return Err(bad("unexpected COSE_Key parameter")),
        }
    }
    if kty != Some(1) || crv != Some(6) {
        return Err(bad("holder key must be an Ed25519 OKP key"));
    }
    PublicKey::try_from(x.ok_or(bad("holder key has no x"))?).map_err(bad)
}

type Inner = (Purpose, Option<StatusRef>, u8, PersonClaims);

fn read_inner(r: &mut Reader<'_>) -> Result<Inner, Rejection> {
    let bad = |d| Rejection::malformed(d);
    let (mut purpose, mut status, mut level) = (None, None, None);
    let mut claims = PersonClaims::default();
    for _ in 0..r.map()? {
        match r.int()? {
            0 if purpose.is_none() => purpose = Some(Purpose::from_code(r.uint()?).ok_or(bad("unknown purpose"))?),
            1 if status.is_none() => {
                if r.array()? != 2 {
                    return Err(bad("status reference must be [list, idx]"));
                }
                let list = u32::try_from(r.uint()?).map_err(|_| bad("status list id too large"))?;
                status = Some(StatusRef { list, idx: r.uint()? });
            }
            2 if level.is_none() => level = Some(u8::try_from(r.uint()?).map_err(|_| bad("bad level"))?),
            k => claims.read_claim(Claim::from_key(k).ok_or(bad("unknown claim"))?, r)?,
        }
    }
    Ok((purpose.ok_or(bad("no purpose"))?, status, level.ok_or(bad("no level"))?, claims))
}

/// The bytes the holder's device key signs.
pub fn holder_signing_input(credential: &[u8], purpose: Purpose, t: u64, d: u64, challenge: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(6).text(HOLDER_CONTEXT).bytes(credential).uint(purpose.code()).uint(t).uint(d).bytes(challenge);
    w.into_bytes()
}

/// Builds the QR text from a signed credential (tagged COSE_Sign1 bytes), the presentation time
/// and window, and the holder's signature over [`holder_signing_input`].
pub fn encode_presentation(credential: &[u8], t: u64, d: u64, holder_sig: &[u8; 64]) -> String {
    let mut w = Writer::new();
    w.array(4).raw(credential).uint(t).uint(d).bytes(holder_sig);
    let mut s = String::from(PREFIX);
    s.push_str(&base45::encode(&w.into_bytes()));
    s
}

/// A presentation taken apart, nothing checked yet but its shape.
#[derive(Debug, Clone)]
pub struct Presentation<'a> {
    pub credential_bytes: &'a [u8],
    pub sign1: Sign1<'a>,
    pub credential: QrCredential,
    pub t: u64,
    pub d: u64,
    holder_sig: &'a [u8],
}

/// Strips the prefix and base45: the CBOR presentation bytes.
pub fn decode_text(text: &str) -> Result<Vec<u8>, Rejection> {
    let text = text.trim_end_matches(['\n', '\r']);
    if text.len() > MAX_TEXT {
        return Err(Rejection::malformed("QR text too long"));
    }
    let body = text.strip_prefix(PREFIX).ok_or(Rejection::malformed("not a VN1: QR proof"))?;
    base45::decode(body.as_bytes()).ok_or(Rejection::malformed("not base45"))
}

impl<'a> Presentation<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Rejection> {
        let mut r = Reader::new(bytes);
        if r.array()? != 4 {
            return Err(Rejection::malformed("presentation must have 4 elements"));
        }
        if r.peek_kind()? != Kind::Tag {
            return Err(Rejection::malformed("presentation must start with a COSE_Sign1"));
        }
        let start = r.position();
        let sign1 = Sign1::read(&mut r)?;
        let credential_bytes = &bytes[start..r.position()];
        let credential =
            QrCredential::decode_payload(sign1.payload).map_err(|e| Rejection { kid: Some(sign1.kid.clone()), ..e })?;
        let t = r.uint()?;
        let d = r.uint()?;
        let holder_sig = r.bytes()?;
        r.finish()?;
        if holder_sig.len() != 64 {
            return Err(Rejection::malformed("holder signature must be 64 bytes"));
        }
        Ok(Self { credential_bytes, sign1, credential, t, d, holder_sig })
    }
}

/// A presentation that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQr {
    pub kid: KeyId,
    pub purpose: Purpose,
    pub level: u8,
    pub issued_at: u64,
    pub expires_at: u64,
    /// When the holder's device signed the presentation.
    pub presented_at: u64,
    pub status: Option<StatusRef>,
    pub claims: PersonClaims,
}

/// What the verifier asks for.
#[derive(Debug, Clone, Copy)]
pub struct QrCheck<'a> {
    /// Reject unless the credential was issued for this purpose.
    pub purpose: Option<Purpose>,
    /// The verifier's clock, UNIX seconds: the library never reads a clock.
    pub now: u64,
    /// A challenge the verifier showed to the wallet, if any (at most 64 bytes).
    pub challenge: &'a [u8],
    pub policy: Policy,
}

impl TrustStore {
    /// Verifies a QR proof's text offline: decoding, issuer key and signature, credential
    /// validity, purpose, holder signature and window, status.
    pub fn verify_qr(&self, text: &str, check: &QrCheck<'_>) -> Result<VerifiedQr, Rejection> {
        if check.challenge.len() > MAX_CHALLENGE {
            return Err(Rejection::malformed("challenge longer than 64 bytes"));
        }
        let bytes = decode_text(text)?;
        let p = Presentation::parse(&bytes)?;
        let kid = &p.sign1.kid;
        let cred = &p.credential;
        let at = |r: Reason, d: &'static str| Rejection::new(r, d).with_kid(kid).with_purpose(cred.purpose);
        let key =
            self.issuer_key(kid, cred.issued_at, check.now, &check.policy).map_err(|e| e.with_purpose(cred.purpose))?;
        if !p.sign1.verify(key) {
            return Err(at(Reason::BadSignature, "issuer signature does not verify"));
        }
        let skew = check.policy.clock_skew;
        if check.now > cred.expires_at {
            return Err(at(Reason::Expired, "credential expired"));
        }
        if cred.issued_at > check.now.saturating_add(skew) {
            return Err(at(Reason::NotYetValid, "credential issued in the future"));
        }
        if check.purpose.is_some_and(|want| want != cred.purpose) {
            return Err(at(Reason::WrongPurpose, "credential issued for another purpose"));
        }
        let holder = Ed25519Key::from_public(&cred.holder)
            .ok_or_else(|| at(Reason::Malformed, "holder key is not a valid Ed25519 key"))?;
        let msg = holder_signing_input(p.credential_bytes, cred.purpose, p.t, p.d, check.challenge);
        if !holder.verify(&msg, p.holder_sig) {
            return Err(at(Reason::BadHolderSignature, "holder signature does not verify"));
        }
        let window = p.d.min(check.policy.max_window);
        if p.t > check.now.saturating_add(skew) {
            return Err(at(Reason::PresentationNotYetValid, "presentation time ahead of the verifier's clock"));
        }
        if check.now > p.t.saturating_add(window) {
            return Err(at(Reason::PresentationExpired, "presentation window has passed"));
        }
        if let Some(s) = cred.status {
            self.check_status(s.list, s.idx, check.now, &check.policy)
                .map_err(|e| e.with_kid(kid).with_purpose(cred.purpose))?;
        } else if check.policy.require_status {
            return Err(at(Reason::StatusUnknown, "credential carries no status reference"));
        }
        Ok(VerifiedQr {
            kid: kid.clone(),
            purpose: cred.purpose,
            level: cred.level,
            issued_at: cred.issued_at,
            expires_at: cred.expires_at,
            presented_at: p.t,
            status: cred.status,
            claims: cred.claims.clone(),
        })
    }
}
