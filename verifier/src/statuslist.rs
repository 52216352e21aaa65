//! IETF Token Status List (draft-ietf-oauth-status-list): a compressed bit array, `bits` bits per
//! credential (we use 2: 0 valid, 1 revoked, 2 suspended; any other value is read as revoked),
//! carried in a JWT signed by an issuer key from the trust list. Verifiers sync it with the trust
//! list and look statuses up offline; how old a list they still decide with is their
//! [`crate::Policy`], measured from the token's `iat`.

use std::io::Read as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::Error;
use crate::jws::{self, Jws};
use crate::trustlist::{KeyState, TrustStore};
use crate::types::KeyId;

/// The JWS `typ` of a status list token.
pub const TYP: &str = "statuslist+jwt";
/// Largest decompressed list accepted (32 million credentials at 2 bits).
pub const MAX_BYTES: usize = 8 << 20;
/// Largest total of decompressed status lists one [`crate::TrustStore`] (one bundle) holds:
/// eight maximal lists. Bounds a bundle's memory whatever its lists claim.
pub const MAX_TOTAL_BYTES: usize = 64 << 20;

/// Status value: valid.
pub const VALID: u8 = 0;
/// Status value: revoked (the draft's "INVALID"); final.
pub const INVALID: u8 = 1;
/// Status value: suspended; may go back to valid.
pub const SUSPENDED: u8 = 2;

/// A decoded status list: the bit array alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

/// A status list token that passed [`StatusList::verify_token`]: the list and its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedToken {
    pub(crate) list: StatusList,
    /// When the issuer stated these statuses (the token's `iat`).
    pub(crate) issued_at: u64,
    /// Not used after this (the token's `exp`).
    pub(crate) expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct ListClaim {
    bits: u8,
    lst: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<u64>,
    status_list: ListClaim,
}

impl StatusList {
    /// An all-valid list for `len` credentials.
    pub fn new(bits: u8, len: usize) -> Option<Self> {
        if !matches!(bits, 1 | 2 | 4 | 8) {
            return None;
        }
        let bytes = len.checked_mul(usize::from(bits))?.div_ceil(8);
        (bytes <= MAX_BYTES).then(|| Self { bits, bytes: vec![0; bytes] })
    }

    /// Bits per status: 1, 2, 4 or 8.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// How many statuses the list holds.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8 / usize::from(self.bits)
    }

    /// Whether the list holds no status.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Size of the decompressed bit array in bytes.
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The status at `idx`, or `None` past the end.
    pub fn get(&self, idx: u64) -> Option<u8> {
        let bits = u64::from(self.bits);
        let bit = idx.checked_mul(bits)?;
        let byte = *self.bytes.get(usize::try_from(bit / 8).ok()?)?;
        let mask = ((1u16 << bits) - 1) as u8;
        Some((byte >> (bit % 8)) & mask)
    }

    /// Sets the status at `idx`; false when out of range or the value does not fit.
    pub fn set(&mut self, idx: u64, value: u8) -> bool {
        let bits = u64::from(self.bits);
        if u16::from(value) >= 1u16 << bits {
            return false;
        }
        let Some(bit) = idx.checked_mul(bits) else { return false };
        let Some(byte) = usize::try_from(bit / 8).ok().and_then(|i| self.bytes.get_mut(i)) else {
            return false;
        };
        let shift = bit % 8;
        let mask = (((1u16 << bits) - 1) as u8) << shift;
        *byte = (*byte & !mask) | (value << shift);
        true
    }

    /// ZLIB-compressed and base64url-encoded, as the `lst` member.
    pub fn encode_lst(&self) -> String {
        use flate2::write::ZlibEncoder;
        use std::io::Write as _;
        let mut enc = ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&self.bytes);
        B64.encode(enc.finish().unwrap_or_default())
    }

    /// Decodes an `lst` member (base64url of ZLIB data), at most [`MAX_BYTES`] decompressed.
    pub fn decode_lst(bits: u8, lst: &str) -> Result<Self, Error> {
        Self::decode_lst_within(bits, lst, MAX_BYTES)
    }

    /// Like [`Self::decode_lst`], refusing more than `max` decompressed bytes (checked while
    /// inflating, so a ZLIB bomb costs at most `max + 1` bytes).
    pub(crate) fn decode_lst_within(bits: u8, lst: &str, max: usize) -> Result<Self, Error> {
        let bad = Error::StatusListInvalid;
        if !matches!(bits, 1 | 2 | 4 | 8) {
            return Err(bad("bits must be 1, 2, 4 or 8"));
        }
        if lst.len() > MAX_BYTES {
            return Err(bad("lst too long"));
        }
        let max = max.min(MAX_BYTES);
        let z = B64.decode(lst).map_err(|_| bad("lst is not base64url"))?;
        let mut bytes = Vec::new();
        flate2::read::ZlibDecoder::new(z.as_slice())
            .take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| bad("lst is not ZLIB data"))?;
        if bytes.len() > max {
            return Err(bad(if max < MAX_BYTES {
                "status lists larger than 64 MiB in total, decompressed"
            } else {
                "decompressed list too large"
            }));
        }
        Ok(Self { bits, bytes })
    }

    /// The JWT signing input for this list published at `uri`.
    pub fn token_signing_input(&self, kid: &KeyId, uri: &str, iat: u64, exp: u64, ttl: u64) -> String {
        let header = json!({"alg": "EdDSA", "typ": TYP, "kid": kid.to_string()});
        let claims = Claims {
            sub: uri.to_owned(),
            iat,
            exp: Some(exp),
            ttl: Some(ttl),
            status_list: ListClaim { bits: self.bits, lst: self.encode_lst() },
        };
        jws::signing_input(&header, &serde_json::to_vec(&claims).unwrap_or_default())
    }

    /// Checks a status list token: `typ`, `sub` equal to the listed URI, signed by a trust-listed
    /// key that is not revoked, within that key's periods; then decodes the list, at most
    /// `max_bytes` decompressed.
    pub(crate) fn verify_token(
        token: &str,
        uri: &str,
        store: &TrustStore,
        max_bytes: usize,
    ) -> Result<VerifiedToken, Error> {
        let bad = Error::StatusListInvalid;
        let jws = Jws::parse(token).map_err(bad)?;
        if jws.header_str("typ") != Some(TYP) {
            return Err(bad("wrong typ"));
        }
        let kid: KeyId = jws.header_str("kid").ok_or(bad("no kid"))?.parse().map_err(bad)?;
        let (key, listed) = store.listed_key(&kid).ok_or(bad("signed by a key not in the trust list"))?;
        if listed.state == KeyState::Revoked {
            return Err(bad("signed by a revoked key"));
        }
        if !jws.verify(key) {
            return Err(bad("signature does not verify"));
        }
        let claims: Claims = serde_json::from_slice(&jws.payload).map_err(|_| bad("claims do not match the schema"))?;
        if claims.sub != uri {
            return Err(bad("sub is not the listed uri"));
        }
        // The same rules as for a credential: the key may sign at the token's issue time, and
        // a token must say when it stops being used, within the key's validity.
        if claims.iat < listed.sign_from || claims.iat > listed.sign_until {
            return Err(bad("signed outside the key's signing period"));
        }
        let expires_at = match claims.exp {
            Some(exp) if exp > claims.iat && exp <= listed.valid_until => exp,
            _ => return Err(bad("exp missing, before iat, or past the key's validity")),
        };
        let list = Self::decode_lst_within(claims.status_list.bits, &claims.status_list.lst, max_bytes)?;
        Ok(VerifiedToken { list, issued_at: claims.iat, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The draft's examples (section "Status List"): one bit and two bits per status.
    #[test]
    fn draft_vectors() {
        let one = StatusList::decode_lst(1, "eNrbuRgAAhcBXQ").unwrap();
        let want1 = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        for (i, w) in want1.iter().enumerate() {
            assert_eq!(one.get(i as u64), Some(*w), "bit {i}");
        }
        let two = StatusList::decode_lst(2, "eNo76fITAAPfAgc").unwrap();
        let want2 = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        for (i, w) in want2.iter().enumerate() {
            assert_eq!(two.get(i as u64), Some(*w), "index {i}");
        }
    }

    #[test]
    fn set_get_roundtrip() {
        let mut l = StatusList::new(2, 1000).unwrap();
        assert!(l.set(7, SUSPENDED));
        assert!(l.set(998, INVALID));
        assert!(!l.set(1000, INVALID));
        assert!(!l.set(3, 4));
        let back = StatusList::decode_lst(2, &l.encode_lst()).unwrap();
        assert_eq!(back.get(7), Some(SUSPENDED));
        assert_eq!(back.get(998), Some(INVALID));
        assert_eq!(back.get(6), Some(VALID));
        assert_eq!(back.get(1000), None);
        assert_eq!(back.get(u64::MAX), None);
    }

    #[test]
    fn zip_bomb_is_bounded() {
        let l = StatusList::new(8, MAX_BYTES).unwrap();
        let lst = l.encode_lst();
        assert!(StatusList::decode_lst(8, &lst).is_ok());
        let mut big = l.bytes.clone();
        big.push(0);
        let l2 = StatusList { bits: 8, bytes: big };
        assert!(StatusList::decode_lst(8, &l2.encode_lst()).is_err());
        assert!(StatusList::decode_lst_within(8, &lst, MAX_BYTES - 1).is_err());
    }
}
