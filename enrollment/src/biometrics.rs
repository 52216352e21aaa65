//! Portrait and fingerprint uploads from the capture station.
//!
//! What is checked here is what can be checked without decoding: the format by its magic bytes, the
//! size, the finger position and the station's quality score. Each accepted capture carries its
//! SHA-256 digest, which the issuer stores in the audit log instead of the bytes. Encrypting the bytes at
//! rest is the issuer's job; this crate never writes them anywhere, and `Debug` prints only the format,
//! length, digest and score.
//!
//! | upload | formats | size |
//! |---|---|---|
//! | portrait | JPEG (`FF D8 FF`), PNG (`89 50 4E 47 0D 0A 1A 0A`) | 2 KiB ..= 5 MiB |
//! | fingerprint | PNG, JPEG, WSQ (`FF A0 FF A8`), ISO/IEC 19794-4 record (`FIR\0`) | 1 KiB ..= 2 MiB |

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Reason};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Portrait size bounds, inclusive.
pub const PORTRAIT_SIZE: std::ops::RangeInclusive<usize> = 2 * KIB..=5 * MIB;
/// Fingerprint size bounds, inclusive.
pub const FINGERPRINT_SIZE: std::ops::RangeInclusive<usize> = KIB..=2 * MIB;

/// The format of an upload, recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BiometricFormat {
    /// JPEG / JFIF.
    Jpeg,
    /// PNG.
    Png,
    /// FBI Wavelet Scalar Quantization fingerprint image.
    Wsq,
    /// ISO/IEC 19794-4 finger image record.
    IsoFir,
}

impl BiometricFormat {
    /// Recognises the format from the magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(BiometricFormat::Jpeg)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(BiometricFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xA0, 0xFF, 0xA8]) {
            Some(BiometricFormat::Wsq)
        } else if bytes.starts_with(b"FIR\0") {
            Some(BiometricFormat::IsoFir)
        } else {
            None
        }
    }
}

/// A SHA-256 digest; displays as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }
    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{self}")
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The capture station's quality score, 0–100 (higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Quality(u8);

impl Quality {
    /// The score.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Quality {
    type Error = Reason;
    fn try_from(v: i64) -> Result<Self, Reason> {
        u8::try_from(v).ok().filter(|v| *v <= 100).map(Quality).ok_or(Reason::BiometricQualityInvalid)
    }
}

/// A finger, numbered as in ISO/IEC 19794-4 (1 right thumb … 5 right little, 6 left thumb … 10 left
/// little). Code 0 ("unknown") and the multi-finger codes are refused: each finger must be identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FingerPosition(u8);

impl FingerPosition {
    /// The ISO code, 1–10.
    pub fn code(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for FingerPosition {
    type Error = Reason;
    fn try_from(v: i64) -> Result<Self, Reason> {
        u8::try_from(v)
            .ok()
            .filter(|v| (1..=10).contains(v))
            .map(FingerPosition)
            .ok_or(Reason::FingerprintPositionInvalid)
    }
}

fn check_bytes(
    bytes: &[u8],
    allowed: &[BiometricFormat],
    size: &std::ops::RangeInclusive<usize>,
) -> Result<BiometricFormat, Reason> {
    let format = BiometricFormat::sniff(bytes).filter(|f| allowed.contains(f)).ok_or(Reason::BiometricTypeInvalid)?;
    if bytes.len() < *size.start() {
        Err(Reason::BiometricTooSmall)
    } else if bytes.len() > *size.end() {
        Err(Reason::BiometricTooLarge)
    } else {
        Ok(format)
    }
}

/// An accepted portrait.
#[derive(Clone, PartialEq, Eq)]
pub struct Portrait {
    bytes: Vec<u8>,
    format: BiometricFormat,
    digest: Sha256Digest,
    quality: Quality,
}

impl Portrait {
    /// Checks a portrait upload. Errors name the field `portrait`.
    pub fn new(bytes: Vec<u8>, quality: i64) -> Result<Self, Error> {
        let field = |r| Error::invalid("portrait", r);
        let quality = Quality::try_from(quality).map_err(field)?;
        let format =
            check_bytes(&bytes, &[BiometricFormat::Jpeg, BiometricFormat::Png], &PORTRAIT_SIZE).map_err(field)?;
        Ok(Portrait { digest: Sha256Digest::of(&bytes), bytes, format, quality })
    }
    /// The image bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// JPEG or PNG.
    pub fn format(&self) -> BiometricFormat {
        self.format
    }
    /// SHA-256 of the bytes.
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }
    /// Quality score.
    pub fn quality(&self) -> Quality {
        self.quality
    }
}

impl fmt::Debug for Portrait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Portrait")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("digest", &self.digest)
            .field("quality", &self.quality.0)
            .finish()
    }
}

/// An accepted fingerprint capture.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    position: FingerPosition,
    bytes: Vec<u8>,
    format: BiometricFormat,
    digest: Sha256Digest,
    quality: Quality,
}

impl Fingerprint {
    /// Checks one fingerprint upload. Errors name the field `fingerprints.<position>`.
    pub fn new(position: i64, bytes: Vec<u8>, quality: i64) -> Result<Self, Error> {
        let field = |r| Error::invalid(format!("fingerprints.{position}"), r);
        let position = FingerPosition::try_from(position).map_err(field)?;
        let quality = Quality::try_from(quality).map_err(field)?;
        let format = check_bytes(
            &bytes,
            &[BiometricFormat::Png, BiometricFormat::Jpeg, BiometricFormat::Wsq, BiometricFormat::IsoFir],
            &FINGERPRINT_SIZE,
        )
        .map_err(field)?;
        Ok(Fingerprint { position, digest: Sha256Digest::of(&bytes), bytes, format, quality })
    }
    /// Which finger.
    pub fn position(&self) -> FingerPosition {
        self.position
    }
    /// The capture bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Format.
    pub fn format(&self) -> BiometricFormat {
        self.format
    }
    /// SHA-256 of the bytes.
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }
    /// Quality score.
    pub fn quality(&self) -> Quality {
        self.quality
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprint")
            .field("position", &self.position.0)
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("digest", &self.digest)
            .field("quality", &self.quality.0)
            .finish()
    }
}

/// One to ten fingerprints, at most one per finger, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintSet(Vec<Fingerprint>);

impl FingerprintSet {
    /// The fingerprints, by position.
    pub fn as_slice(&self) -> &[Fingerprint] {
        &self.0
    }
}

impl TryFrom<Vec<Fingerprint>> for FingerprintSet {
    type Error = Error;
    fn try_from(mut prints: Vec<Fingerprint>) -> Result<Self, Error> {
        if prints.is_empty() {
            return Err(Error::invalid("fingerprints", Reason::FingerprintsMissing));
        }
        prints.sort_by_key(|p| p.position);
        if let Some(w) = prints.windows(2).find(|w| matches!(w, [a, b] if a.position == b.position)) {
            let pos = w.first().map_or(0, |p| p.position.0);
            return Err(Error::invalid(format!("fingerprints.{pos}"), Reason::FingerprintPositionDuplicate));
        }
        Ok(FingerprintSet(prints))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0];
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    const WSQ: &[u8] = &[0xFF, 0xA0, 0xFF, 0xA8];
    const FIR: &[u8] = b"FIR\x00020\x00";

    fn blob(magic: &[u8], len: usize) -> Vec<u8> {
        let mut v = magic.to_vec();
        v.resize(len, 0x5A);
        v
    }

    fn code(r: Result<impl Sized, Error>) -> Result<(), &'static str> {
        r.map(|_| ()).map_err(|e| e.reasons()[0].code())
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn portrait_table() {
        let cases: &[(&[u8], usize, i64, Result<(), &str>)] = &[
            (JPEG, 2 * KIB, 80, Ok(())),
            (PNG, 5 * MIB, 100, Ok(())),
            (JPEG, 2 * KIB - 1, 80, Err("biometric_too_small")),
            (PNG, 5 * MIB + 1, 80, Err("biometric_too_large")),
            (WSQ, 4 * KIB, 80, Err("biometric_type_invalid")),
            (FIR, 4 * KIB, 80, Err("biometric_type_invalid")),
            (b"GIF89a", 4 * KIB, 80, Err("biometric_type_invalid")),
            (&[0xFF, 0xD8], 2, 80, Err("biometric_type_invalid")),
            (JPEG, 4 * KIB, 0, Ok(())),
            (JPEG, 4 * KIB, 101, Err("biometric_quality_invalid")),
            (JPEG, 4 * KIB, -1, Err("biometric_quality_invalid")),
        ];
        for (magic, len, q, want) in cases {
            assert_eq!(code(Portrait::new(blob(magic, *len), *q)), *want, "{magic:x?} {len} {q}");
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn fingerprint_table() {
        let cases: &[(i64, &[u8], usize, Result<(), &str>)] = &[
            (1, WSQ, KIB, Ok(())),
            (10, FIR, 2 * MIB, Ok(())),
            (2, PNG, 10 * KIB, Ok(())),
            (6, JPEG, 10 * KIB, Ok(())),
            (0, WSQ, 10 * KIB, Err("fingerprint_position_invalid")),
            (11, WSQ, 10 * KIB, Err("fingerprint_position_invalid")),
            (13, WSQ, 10 * KIB, Err("fingerprint_position_invalid")),
            (-1, WSQ, 10 * KIB, Err("fingerprint_position_invalid")),
            (1, WSQ, KIB - 1, Err("biometric_too_small")),
            (1, FIR, 2 * MIB + 1, Err("biometric_too_large")),
            (1, b"%PDF-1.7", 10 * KIB, Err("biometric_type_invalid")),
        ];
        for (pos, magic, len, want) in cases {
            assert_eq!(code(Fingerprint::new(*pos, blob(magic, *len), 70)), *want, "{pos} {magic:x?} {len}");
        }
    }

    #[test]
    fn digest_is_sha256_and_debug_hides_bytes() {
        let bytes = blob(JPEG, 2 * KIB);
        let p = Portrait::new(bytes.clone(), 77).unwrap();
        assert_eq!(p.digest(), Sha256Digest::of(&bytes));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            Sha256Digest::of(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dbg = format!("{p:?}");
        assert!(dbg.contains("len: 2048") && dbg.contains(&p.digest().to_string()), "{dbg}");
        assert!(!dbg.contains("255") && !dbg.contains("90, 90"), "bytes leaked: {dbg}");
        let f = Fingerprint::new(3, blob(WSQ, KIB), 50).unwrap();
        let dbg = format!("{f:?}");
        assert!(dbg.starts_with("Fingerprint { position: 3, format: Wsq, len: 1024, digest: sha256:"));
    }

    #[test]
    fn fingerprint_sets() {
        let fp = |pos| Fingerprint::new(pos, blob(WSQ, KIB), 60).unwrap();
        let set = FingerprintSet::try_from(vec![fp(6), fp(1), fp(2)]).unwrap();
        let positions: Vec<u8> = set.as_slice().iter().map(|f| f.position().code()).collect();
        assert_eq!(positions, vec![1, 2, 6]);
        let err = FingerprintSet::try_from(vec![fp(2), fp(7), fp(2)]).unwrap_err();
        assert_eq!(err.to_string(), "input refused: fingerprints.2: fingerprint_position_duplicate");
        let err = FingerprintSet::try_from(vec![]).unwrap_err();
        assert_eq!(err.reasons(), vec![Reason::FingerprintsMissing]);
    }
}
