//! Domain newtypes shared by every format.

use core::fmt;
use core::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A short key identifier: 1 to 8 opaque bytes, written as unpadded base64url in JSON.
///
/// Key custody assigns them (see the `keys` crate); the verifier only looks them up in the
/// trust list, which must not list one twice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(Vec<u8>);

impl KeyId {
    /// Longest key id, in bytes.
    pub const MAX_LEN: usize = 8;

    /// The opaque bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&[u8]> for KeyId {
    type Error = &'static str;
    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        if b.is_empty() || b.len() > Self::MAX_LEN {
            return Err("key id must be 1 to 8 bytes");
        }
        Ok(Self(b.to_vec()))
    }
}

impl FromStr for KeyId {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 12 {
            return Err("key id too long");
        }
        let b = B64.decode(s).map_err(|_| "key id is not base64url")?;
        Self::try_from(b.as_slice())
    }
}

impl TryFrom<String> for KeyId {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.to_string()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// An Ed25519 public key (32 bytes), base64url in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// From its 32 bytes (whether they are a valid point is checked where the key is used).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    /// Its 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<&[u8]> for PublicKey {
    type Error = &'static str;
    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(b).map(Self).map_err(|_| "public key must be 32 bytes")
    }
}

impl FromStr for PublicKey {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 43 {
            return Err("public key must be 43 base64url characters");
        }
        let b = B64.decode(s).map_err(|_| "public key is not base64url")?;
        Self::try_from(b.as_slice())
    }
}

impl TryFrom<String> for PublicKey {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        k.to_string()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// What a verifier uses the credential for. The issuer signs one minimal QR credential per
/// purpose, holding only the claims that purpose needs ([`Purpose::claims`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Renting a home: who the tenant is and that they reside legally.
    Landlord,
    /// Opening an account: identity and document numbers for customer due diligence.
    Bank,
    /// Declaring residence: the full registration record.
    ResidenceOffice,
}

impl Purpose {
    /// Every purpose, in code order.
    pub const ALL: [Purpose; 3] = [Purpose::Landlord, Purpose::Bank, Purpose::ResidenceOffice];

    /// Wire code in the QR credential.
    pub fn code(self) -> u64 {
        match self {
            Purpose::Landlord => 1,
            Purpose::Bank => 2,
            Purpose::ResidenceOffice => 3,
        }
    }

    /// The purpose with wire code `c`.
    pub fn from_code(c: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == c)
    }

    /// The name in JSON and on the command line: `landlord`, `bank` or `residence-office`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Landlord => "landlord",
            Purpose::Bank => "bank",
            Purpose::ResidenceOffice => "residence-office",
        }
    }

    /// The claims a credential for this purpose carries, and the only ones.
    pub fn claims(self) -> &'static [crate::qr::Claim] {
        use crate::qr::Claim::*;
        match self {
            Purpose::Landlord => &[NameLatin, Nationality, CardKind, CardExpiry, AgeOver18],
            Purpose::Bank => &[NameLatin, BirthDate, Nationality, PassportNumber, CardNumber, CardExpiry, EidNumber],
            Purpose::ResidenceOffice => &[
                Name,
                NameLatin,
                BirthDate,
                Sex,
                Nationality,
                PassportNumber,
                CardNumber,
                CardKind,
                CardExpiry,
                Address,
                EidNumber,
            ],
        }
    }
}

impl FromStr for Purpose {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or("purpose must be landlord, bank or residence-office")
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); used for dates in claims.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm; exact for the whole i64 day range we accept.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A calendar date as days since 1970-01-01; ISO 8601 `YYYY-MM-DD` in JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

impl Date {
    /// Dates before 1800-01-01 or after 2200-01-01 are refused as implausible for an identity
    /// document.
    pub fn from_days(days: i64) -> Option<Self> {
        (-62_091..=84_006).contains(&days).then_some(Self(days))
    }
    /// A calendar date, if it exists and is plausible.
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Option<Self> {
        if !(1..=12).contains(&m) || d == 0 || d > 31 {
            return None;
        }
        let days = days_from_civil(y, m, d);
        (civil_from_days(days) == (y, m, d)).then_some(())?;
        Self::from_days(days)
    }
    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i64 {
        self.0
    }
    /// Year, month (1–12), day (1–31).
    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.0)
    }
    /// The date on which a UNIX time falls, in Vietnam's time zone (UTC+7, no DST).
    pub fn from_unix_vn(t: u64) -> Self {
        Self((t.saturating_add(7 * 3600) / 86_400) as i64)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl FromStr for Date {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err("date must be YYYY-MM-DD");
        }
        let num = |r: core::ops::Range<usize>| -> Result<u32, &'static str> {
            s.get(r)
                .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or("date must be YYYY-MM-DD")
        };
        Self::from_ymd(i64::from(num(0..4)?), num(5..7)?, num(8..10)?).ok_or("no such date")
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_roundtrip() {
        for (s, days) in [("1970-01-01", 0), ("2000-02-29", 11_016), ("2026-11-29", 20_786)] {
            let d: Date = s.parse().unwrap();
            assert_eq!(d.days(), days);
            assert_eq!(d.to_string(), s);
        }
        for bad in ["2026-02-29", "2026-13-01", "26-01-01", "2026-1-01", "+026-01-01"] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_are_bounded() {
        assert!(KeyId::try_from(&[][..]).is_err());
        assert!(KeyId::try_from(&[0u8; 9][..]).is_err());
        let k = KeyId::try_from(&[1u8, 2, 3, 4][..]).unwrap();
        assert_eq!(k.to_string().parse::<KeyId>().unwrap(), k);
    }
}
