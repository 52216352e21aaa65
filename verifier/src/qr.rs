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
use crate::error::{Outcome, Reason, Refusal, Rejection, Undecided, UndecidedReason, Warning};
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
/// Longest verifier challenge, in bytes.
pub const MAX_CHALLENGE: usize = 64;

/// One personal claim, with its CBOR key and JSON name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Claim {
    /// Full name as written (Vietnamese diacritics, Hangul, Hanzi kept).
    Name,
    /// ICAO 9303 Latin transliteration of the name.
    NameLatin,
    /// Date of birth.
    BirthDate,
    /// Sex as on the travel document.
    Sex,
    /// ISO 3166-1 alpha-3.
    Nationality,
    /// Passport (travel document) number.
    PassportNumber,
    /// Residence card (TRC/PRC) number.
    CardNumber,
    /// Temporary or permanent residence card.
    CardKind,
    /// Expiry date of the residence card.
    CardExpiry,
    /// Address in Vietnam.
    Address,
    /// The personal identification number of the e-ID account.
    EidNumber,
    /// Whether the holder is 18 or older on the day of issue.
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

    /// The CBOR map key in the QR credential.
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

    /// The claim with CBOR key `k`.
    pub fn from_key(k: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == k)
    }

    /// The claim with JSON name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
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

    /// Longest text the parser accepts for this claim, in UTF-8 bytes.
    fn max_len(self) -> usize {
        match self {
            Claim::Address => 300,
            Claim::Nationality => 3,
            _ => 120,
        }
    }
}

impl Serialize for Claim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Claim::from_name(&name).ok_or_else(|| serde::de::Error::custom("unknown claim name"))
    }
}

/// The CBOR key of the list of shortened claims, after the personal claims.
pub(crate) const SHORTENED_KEY: i64 = 22;

/// Text claims that a purpose's credential carries at most so many UTF-8 bytes of, so that
/// every applicant enrollment accepts (names of 150 characters, addresses of 300) fits the
/// purpose's QR version: landlord 13, bank 15, residence office 20, at error correction M.
/// Worked out in docs/formats.md §2.10.
pub(crate) fn text_limit(purpose: Purpose, claim: Claim) -> Option<usize> {
    match (purpose, claim) {
        (Purpose::Landlord, Claim::NameLatin) => Some(60),
        (Purpose::Bank, Claim::NameLatin) => Some(80),
        (Purpose::ResidenceOffice, Claim::NameLatin) => Some(60),
        (Purpose::ResidenceOffice, Claim::Name) => Some(90),
        (Purpose::ResidenceOffice, Claim::Address) => Some(160),
        _ => None,
    }
}

/// Whether `c` is a combining mark that must stay with the letter before it.
fn is_combining(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36f}' | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}')
}

/// Cuts `s` to at most `max` UTF-8 bytes: at the last character boundary that is not followed by
/// a combining mark, then without trailing spaces and commas. Should that leave nothing (a
/// letter carrying more marks than fit, or nothing but separators), at the last character
/// boundary instead, so a shortened claim is never empty.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    // The cut is before the first character dropped.
    let last_boundary = |keep_marks: bool| {
        s.char_indices()
            .take_while(|(i, _)| *i <= max)
            .filter(|(_, c)| !(keep_marks && is_combining(*c)))
            .last()
            .map_or(0, |(i, _)| i)
    };
    let clean = s[..last_boundary(true)].trim_end_matches([' ', ',']);
    if clean.is_empty() {
        &s[..last_boundary(false)]
    } else {
        clean
    }
}

/// Shortens a Latin name (ICAO 9303 form: upper-case letters and single spaces) to at most
/// `max` bytes, in the manner of ICAO Doc 9303's truncation of names in the machine-readable
/// zone: characters go from the end, and every name component keeps at least its initial.
/// Components after the first are reduced to their initial, the last one first, until the
/// name fits; a name still too long (many components, or a very long first one) is then cut at
/// `max` by [`cut`].
fn shorten_latin(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let mut parts: Vec<&str> = name.split(' ').filter(|p| !p.is_empty()).collect();
    let joined_len = |parts: &[&str]| parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1);
    for i in (1..parts.len()).rev() {
        if joined_len(&parts) <= max {
            break;
        }
        let initial = parts[i].chars().next().map_or(0, char::len_utf8);
        parts[i] = &parts[i][..initial];
    }
    let joined = parts.join(" ");
    cut(if joined.is_empty() { name } else { &joined }, max).to_owned()
}

/// Shortens one text claim for `purpose` by the rule of [`text_limit`]: `None` when it fits.
fn shorten(purpose: Purpose, claim: Claim, text: &str) -> Option<String> {
    let max = text_limit(purpose, claim)?;
    if text.len() <= max {
        return None;
    }
    Some(match claim {
        Claim::NameLatin => shorten_latin(text, max),
        _ => cut(text, max).to_owned(),
    })
}

/// Sex as on the travel document (ICAO 9303: M, F, or X unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    /// Male.
    M,
    /// Female.
    F,
    /// Unspecified.
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

/// The personal claims a credential may carry; each purpose fills only its own
/// ([`PersonClaims::restrict_to`]). In JSON, the claims' names ([`Claim::name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonClaims {
    /// Full name as written (diacritics, Hangul, Hanzi kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ICAO 9303 Latin transliteration of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_latin: Option<String>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    /// Sex as on the travel document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Nationality, ISO 3166-1 alpha-3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Passport number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_number: Option<String>,
    /// Residence card (TRC/PRC) number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_number: Option<String>,
    /// Temporary or permanent residence card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_kind: Option<CardKind>,
    /// Expiry date of the residence card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_expiry: Option<Date>,
    /// Address in Vietnam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Personal identification number of the e-ID account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eid_number: Option<String>,
    /// Whether the holder is 18 or older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_over_18: Option<bool>,
    /// The text claims that were shortened to fit the QR code ([`PersonClaims::restrict_to`]),
    /// in [`Claim::ALL`] order: a verifier compares a shortened name with the start of the name
    /// on the passport, not the whole. Empty in the SD-JWT VC, which carries everything in full.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shortened: Vec<Claim>,
}

impl PersonClaims {
    /// Which claims are present.
    pub fn present(&self) -> Vec<Claim> {
        Claim::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }

    /// Whether claim `c` is present.
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

    /// What `purpose`'s QR credential carries: only the claims the purpose needs, and its text
    /// claims no longer than the purpose allows, so that the QR code of every applicant fits
    /// the purpose's QR version (landlord 13, bank 15, residence office 20, at error correction
    /// M). The rule (docs/formats.md §2.10):
    ///
    /// | purpose | claim | at most (UTF-8 bytes) |
    /// |---|---|---|
    /// | landlord | `name_latin` | 60 |
    /// | bank | `name_latin` | 80 |
    /// | residence office | `name_latin`, `name`, `address` | 60, 90, 160 |
    ///
    /// A longer Latin name loses characters from its end as ICAO Doc 9303 truncates names in
    /// the machine-readable zone: the components after the first become initials, the last
    /// one first, until the name fits; then, if it must, the name is cut. A longer `name` or
    /// `address` is cut at a character boundary (never between a letter and its combining
    /// marks), without trailing spaces and commas. Each claim shortened is listed in
    /// [`PersonClaims::shortened`].
    pub fn restrict_to(&self, purpose: Purpose) -> PersonClaims {
        let keep = |c: Claim| purpose.claims().contains(&c);
        let mut out = PersonClaims {
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
            shortened: Vec::new(),
        };
        for c in Claim::ALL {
            let Some(slot) = out.text_slot(c) else { continue };
            let Some(text) = slot.as_deref() else { continue };
            if let Some(short) = shorten(purpose, c, text) {
                *slot = Some(short);
                out.shortened.push(c);
            } else if self.shortened.contains(&c) {
                // Shortened before, and kept as it was.
                out.shortened.push(c);
            }
        }
        out
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
        if !self.shortened.is_empty() {
            w.int(SHORTENED_KEY).array(self.shortened.len());
            for c in &self.shortened {
                w.int(c.key());
            }
        }
    }

    /// The number of CBOR map entries [`Self::write`] writes.
    fn entries(&self) -> usize {
        self.present().len() + usize::from(!self.shortened.is_empty())
    }

    /// Reads the list of shortened claims: 1 to 3 text claims the rule may shorten, strictly in
    /// key order; that they are present is checked once the whole map is read.
    fn read_shortened(&mut self, r: &mut Reader<'_>) -> Result<(), Rejection> {
        let bad = |d| Rejection::malformed(d);
        if !self.shortened.is_empty() {
            return Err(bad("repeated claim"));
        }
        let n = r.array()?;
        if !(1..=3).contains(&n) {
            return Err(bad("shortened must list 1 to 3 claims"));
        }
        for _ in 0..n {
            let c = Claim::from_key(r.int()?).ok_or(bad("unknown claim in shortened"))?;
            if !matches!(c, Claim::NameLatin | Claim::Name | Claim::Address) {
                return Err(bad("only names and addresses are ever shortened"));
            }
            if self.shortened.last().is_some_and(|last| last.key() >= c.key()) {
                return Err(bad("shortened claims must be in ascending key order"));
            }
            self.shortened.push(c);
        }
        Ok(())
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
    /// The status list's id, as the trust list lists it.
    pub list: u32,
    /// The credential's index in that list.
    pub idx: u64,
}

/// The content of one per-purpose QR credential: what the issuer signs
/// ([`QrCredential::to_sign1`]) and what the wallet presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCredential {
    /// The purpose it is issued for.
    pub purpose: Purpose,
    /// Assurance level of the e-ID account (2 for this product).
    pub level: u8,
    /// Issue time (UNIX seconds).
    pub issued_at: u64,
    /// Expiry (UNIX seconds).
    pub expires_at: u64,
    /// The holder's device key; the holder signature must verify under it.
    pub holder: PublicKey,
    /// Where its status is published.
    pub status: Option<StatusRef>,
    /// The purpose's claims: build them with [`PersonClaims::restrict_to`], which also keeps the
    /// QR code within its version.
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
        w.map(2 + usize::from(self.status.is_some()) + self.claims.entries());
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
            SHORTENED_KEY => claims.read_shortened(r)?,
            k => claims.read_claim(Claim::from_key(k).ok_or(bad("unknown claim"))?, r)?,
        }
    }
    if claims.shortened.iter().any(|c| !claims.has(*c)) {
        return Err(bad("shortened lists a claim the credential does not carry"));
    }
    Ok((purpose.ok_or(bad("no purpose"))?, status, level.ok_or(bad("no level"))?, claims))
}

/// The bytes the holder's device key signs: the credential bytes exactly as the issuer signed
/// them, the purpose, the presentation time `t`, the window `d` (seconds) and the verifier's
/// challenge (empty when it showed none).
pub fn holder_signing_input(credential: &[u8], purpose: Purpose, t: u64, d: u64, challenge: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(6).text(HOLDER_CONTEXT).bytes(credential).uint(purpose.code()).uint(t).uint(d).bytes(challenge);
    w.into_bytes()
}

/// Builds the QR text (`VN1:` and base45) from a signed credential (tagged COSE_Sign1 bytes),
/// the presentation time `t` and window `d`, and the holder's signature over
/// [`holder_signing_input`].
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
    /// The tagged COSE_Sign1 bytes, as embedded.
    pub credential_bytes: &'a [u8],
    /// The COSE_Sign1, parsed.
    pub sign1: Sign1<'a>,
    /// Its payload, parsed.
    pub credential: QrCredential,
    /// Presentation time.
    pub t: u64,
    /// Window, seconds.
    pub d: u64,
    holder_sig: &'a [u8],
}

/// Parses one signed QR credential (tagged COSE_Sign1 bytes, nothing after it) and its CWT
/// payload, strictly, **without checking the issuer's signature**: for the wallet, which holds
/// no trust list, to check what it received before storing it.
pub fn decode_credential(bytes: &[u8]) -> Result<(KeyId, QrCredential), Rejection> {
    let mut r = Reader::new(bytes);
    let sign1 = Sign1::read(&mut r)?;
    r.finish()?;
    let cred = QrCredential::decode_payload(sign1.payload).map_err(|e| e.with_kid(&sign1.kid))?;
    Ok((sign1.kid, cred))
}

/// A QR proof taken apart **without verifying anything**: no signature, key, time or status has
/// been checked. For support staff (`verifier inspect`) and for a wallet reading back what it
/// is about to show; never for deciding anything.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnverifiedQr {
    /// The issuer key id the credential names.
    pub kid: KeyId,
    /// The credential, parsed.
    pub credential: QrCredential,
    /// When the holder says it presented (`t`, UNIX seconds).
    pub presented_at: u64,
    /// The holder's window (`d`, seconds).
    pub window: u64,
    /// The holder's signature over [`holder_signing_input`].
    pub holder_signature: [u8; 64],
    /// Characters of QR text, line ends excluded.
    pub text_len: usize,
    /// Bytes of the CBOR presentation (after base45).
    pub presentation_len: usize,
    /// Bytes of the tagged COSE_Sign1 credential.
    pub credential_len: usize,
    /// Bytes of its CWT payload.
    pub payload_len: usize,
}

/// Takes a QR proof's text apart **without verifying anything** (see [`UnverifiedQr`]);
/// `malformed` when it is not even shaped like one.
pub fn inspect_qr(text: &str) -> Result<UnverifiedQr, Rejection> {
    let bytes = decode_text(text)?;
    let p = Presentation::parse(&bytes)?;
    Ok(UnverifiedQr {
        kid: p.sign1.kid.clone(),
        presented_at: p.t,
        window: p.d,
        text_len: text.trim_end_matches(['\n', '\r']).len(),
        presentation_len: bytes.len(),
        credential_len: p.credential_bytes.len(),
        payload_len: p.sign1.payload.len(),
        holder_signature: <[u8; 64]>::try_from(p.holder_sig).map_err(|_| Rejection::malformed("holder signature"))?,
        credential: p.credential,
    })
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
    /// Parses the CBOR presentation: shape only, nothing verified.
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
#[non_exhaustive]
pub struct VerifiedQr {
    /// The issuer key that signed the credential.
    pub kid: KeyId,
    /// The purpose the credential was issued for.
    pub purpose: Purpose,
    /// Assurance level of the e-ID account (2 for this product; not checked by the library).
    pub level: u8,
    /// When the credential was issued (UNIX seconds).
    pub issued_at: u64,
    /// When the credential expires (UNIX seconds).
    pub expires_at: u64,
    /// When the holder's device signed the presentation (UNIX seconds).
    pub presented_at: u64,
    /// The credential's reference into a status list.
    pub status: Option<StatusRef>,
    /// Age in seconds of the status list that was checked, if one was.
    pub status_list_age: Option<u64>,
    /// The claims, exactly those of the purpose.
    pub claims: PersonClaims,
    /// What the verifier should know although the proof is valid.
    pub warnings: Vec<Warning>,
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
    /// Time and freshness rules.
    pub policy: Policy,
}

impl QrCheck<'static> {
    /// The check a verifier of one kind makes: only credentials for `verifier`'s purpose, with
    /// that kind's default [`Policy`], no challenge.
    pub fn for_verifier(verifier: Purpose, now: u64) -> Self {
        QrCheck { purpose: Some(verifier), now, challenge: &[], policy: Policy::for_verifier(verifier) }
    }
}

impl TrustStore {
    /// Verifies a QR proof's text offline: decoding, issuer key and signature, credential
    /// validity, purpose, holder signature and window, status (docs/formats.md §2.8).
    pub fn verify_qr(&self, text: &str, check: &QrCheck<'_>) -> Outcome<VerifiedQr> {
        match self.check_qr(text, check) {
            Ok(v) => Outcome::Valid(v),
            Err(r) => r.into_outcome(),
        }
    }

    fn check_qr(&self, text: &str, check: &QrCheck<'_>) -> Result<VerifiedQr, Refusal> {
        if check.challenge.len() > MAX_CHALLENGE {
            return Err(Rejection::malformed("challenge longer than 64 bytes").into());
        }
        let bytes = decode_text(text)?;
        let p = Presentation::parse(&bytes)?;
        let kid = &p.sign1.kid;
        let cred = &p.credential;
        let at = |r: Reason, d: &'static str| {
            Refusal::Invalid(Rejection::new(r, d).with_kid(kid).with_purpose(cred.purpose))
        };
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
        let mut warnings: Vec<Warning> = self.trust_list_warning(check.now).into_iter().collect();
        let mut status_list_age = None;
        if let Some(s) = cred.status {
            let checked = self
                .check_status(s.list, s.idx, check.now, &check.policy)
                .map_err(|e| e.with_kid(kid).with_purpose(cred.purpose))?;
            status_list_age = checked.age;
            if checked.warn {
                warnings.push(Warning::StatusStale);
            }
        } else if check.policy.require_status {
            let u = Undecided::new(UndecidedReason::StatusUnknown, "credential carries no status reference");
            return Err(Refusal::from(u).with_kid(kid).with_purpose(cred.purpose));
        }
        warnings.sort();
        Ok(VerifiedQr {
            kid: kid.clone(),
            purpose: cred.purpose,
            level: cred.level,
            issued_at: cred.issued_at,
            expires_at: cred.expires_at,
            presented_at: p.t,
            status: cred.status,
            status_list_age,
            claims: cred.claims.clone(),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_names_lose_characters_from_the_end_down_to_initials() {
        let name = "BENNELONG WOOLOOMOOLOO WARRANDYTE WARNAMBOOL";
        assert_eq!(shorten_latin(name, 60), name);
        assert_eq!(shorten_latin(name, 26), "BENNELONG WOOLOOMOOLOO W W");
        assert_eq!(shorten_latin(name, 25), "BENNELONG W W W");
        assert_eq!(shorten_latin(name, 15), "BENNELONG W W W");
        assert_eq!(shorten_latin(name, 14), "BENNELONG W W");
        assert_eq!(shorten_latin(name, 5), "BENNE");
        assert_eq!(shorten_latin(&"W".repeat(150), 60), "W".repeat(60));
        assert_eq!(shorten_latin(&" ".repeat(70), 60), " ".repeat(60), "never empty");
        let initials = vec!["A"; 75].join(" ");
        assert_eq!(shorten_latin(&initials, 60), vec!["A"; 30].join(" "));
    }

    #[test]
    fn cuts_keep_letters_with_their_marks_and_are_never_empty() {
        let decomposed = "e\u{302}\u{303}"; // ễ as e + two combining marks, 5 bytes
        assert_eq!(cut(&decomposed.repeat(3), 12), decomposed.repeat(2));
        assert_eq!(cut(&decomposed.repeat(3), 9), decomposed);
        assert_eq!(cut("Phố Liễu Giai, Ba Đình", 18), "Phố Liễu Giai");
        assert_eq!(cut("Phố Liễu Giai, Ba Đình", 15), "Phố Liễu Gi");
        assert_eq!(cut(", , , , , ,", 4), ", , ");
        let zalgo = format!("e{}", "\u{301}".repeat(100));
        assert_eq!(cut(&zalgo, 60).len(), 59);
        assert!(!cut(&zalgo, 60).is_empty());
        assert_eq!(cut("김민준김민준", 8), "김민");
    }

    #[test]
    fn restrict_to_shortens_per_purpose_and_is_idempotent() {
        let long = PersonClaims {
            name: Some("가".repeat(150)),
            name_latin: Some(["NGUYEN", "THI", "PHUONG", "HOANG", "BAO", "NGOC"].repeat(5).join(" ")),
            nationality: Some("VNM".into()),
            address: Some("Số 92 Đường Nguyễn Hữu Cảnh, ".repeat(10)),
            ..PersonClaims::default()
        };
        let land = long.restrict_to(Purpose::Landlord);
        assert_eq!(land.shortened, vec![Claim::NameLatin]);
        // Thirty components: all but the first become initials, and that is still 64 bytes.
        let latin = land.name_latin.as_deref().unwrap();
        assert_eq!(latin, &format!("NGUYEN{}", " T P H B N N".repeat(5))[..60], "{latin}");
        let twelve = ["NGUYEN", "THI", "PHUONG", "HOANG", "BAO", "NGOC"].repeat(2).join(" ");
        assert_eq!(twelve.len(), 65);
        let short = PersonClaims { name_latin: Some(twelve), ..PersonClaims::default() }.restrict_to(Purpose::Landlord);
        assert_eq!(short.name_latin.as_deref(), Some("NGUYEN THI PHUONG HOANG BAO NGOC NGUYEN THI PHUONG HOANG B N"));
        assert_eq!(short.shortened, vec![Claim::NameLatin]);
        assert_eq!(land.name, None);
        let office = long.restrict_to(Purpose::ResidenceOffice);
        assert_eq!(office.shortened, vec![Claim::NameLatin, Claim::Name, Claim::Address]);
        assert_eq!(office.name.as_deref(), Some("가".repeat(30).as_str()));
        assert!(office.address.as_deref().unwrap().len() <= 160);
        assert!(long.address.as_deref().unwrap().starts_with(office.address.as_deref().unwrap()));
        for p in Purpose::ALL {
            let once = long.restrict_to(p);
            assert_eq!(once.restrict_to(p), once, "{p}");
        }
    }

    fn landlord(claims: PersonClaims) -> QrCredential {
        QrCredential {
            purpose: Purpose::Landlord,
            level: 2,
            issued_at: 1,
            expires_at: 2,
            holder: PublicKey::from_bytes([7; 32]),
            status: None,
            claims,
        }
    }

    #[test]
    fn the_shortened_list_is_parsed_strictly() {
        let named = |shortened| PersonClaims {
            name_latin: Some("KIM".into()),
            nationality: Some("KOR".into()),
            shortened,
            ..PersonClaims::default()
        };
        let ok = landlord(named(vec![Claim::NameLatin]));
        assert_eq!(QrCredential::decode_payload(&ok.encode_payload()), Ok(ok.clone()));
        for bad in [
            vec![Claim::Address],                     // not in the credential
            vec![Claim::Nationality],                 // never shortened
            vec![Claim::NameLatin, Claim::NameLatin], // repeated
        ] {
            let c = landlord(named(bad.clone()));
            let e = QrCredential::decode_payload(&c.encode_payload()).unwrap_err();
            assert_eq!(e.reason, Reason::Malformed, "{bad:?}");
        }
        // Empty, and out of order: written by hand into a credential that has both names.
        let both = QrCredential {
            purpose: Purpose::ResidenceOffice,
            claims: PersonClaims { name: Some("김".into()), ..named(vec![]) },
            ..ok
        };
        let payload = both.encode_payload();
        assert!(QrCredential::decode_payload(&payload).is_ok());
        for tail in [&[0x16, 0x80][..], &[0x16, 0x82, 0x0b, 0x0a], &[0x16, 0x81, 0x0a, 0x16, 0x81, 0x0b]] {
            let mut p = payload.clone();
            // More entries in the identity map, whose head follows the private claims key.
            let at = p.windows(5).position(|w| w == [0x3a, 0, 1, 0, 0]).unwrap() + 5;
            p[at] += if tail.len() == 6 { 2 } else { 1 };
            p.extend_from_slice(tail);
            assert!(QrCredential::decode_payload(&p).is_err(), "{tail:02x?}");
        }
        let mut p = payload.clone();
        let at = p.windows(5).position(|w| w == [0x3a, 0, 1, 0, 0]).unwrap() + 5;
        p[at] += 1;
        p.extend_from_slice(&[0x16, 0x82, 0x0a, 0x0b]);
        assert!(QrCredential::decode_payload(&p).is_ok(), "in order, both present");
    }
}
