//! COSE_Sign1 (RFC 9052) with EdDSA (alg -8), the envelope of the QR credential.
//!
//! The protected header holds exactly `{1: -8, 4: kid}`, so the key id is covered by the
//! signature; the unprotected header is empty; external AAD is empty. The item is tagged 18.

use crate::cbor::{Reader, Writer};
use crate::crypto::Ed25519Key;
use crate::error::Rejection;
use crate::types::KeyId;

const TAG_SIGN1: u64 = 18;
const ALG_EDDSA: i64 = -8;
const HDR_ALG: i64 = 1;
const HDR_KID: i64 = 4;

fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(4).text("Signature1").bytes(protected).bytes(&[]).bytes(payload);
    w.into_bytes()
}

/// A COSE_Sign1 waiting for its signature: hand [`Self::to_be_signed`] to a signing handle,
/// then [`Self::finish`] with the signature.
#[derive(Debug, Clone)]
pub struct UnsignedSign1 {
    protected: Vec<u8>,
    payload: Vec<u8>,
}

impl UnsignedSign1 {
    /// A COSE_Sign1 of `payload` to be signed by the issuer key `kid` (EdDSA).
    pub fn new(kid: &KeyId, payload: Vec<u8>) -> Self {
        let mut w = Writer::new();
        w.map(2).int(HDR_ALG).int(ALG_EDDSA).int(HDR_KID).bytes(kid.as_bytes());
        Self { protected: w.into_bytes(), payload }
    }

    /// The `Sig_structure` bytes to sign.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// The tagged COSE_Sign1 bytes.
    pub fn finish(self, signature: &[u8; 64]) -> Vec<u8> {
        let mut w = Writer::new();
        w.tag(TAG_SIGN1).array(4).bytes(&self.protected).map(0).bytes(&self.payload).bytes(signature);
        w.into_bytes()
    }
}

/// A parsed COSE_Sign1, borrowing from the input; its signature not yet checked.
#[derive(Debug, Clone)]
pub struct Sign1<'a> {
    pub kid: KeyId,
    pub payload: &'a [u8],
    protected: &'a [u8],
    signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    /// Reads one tagged COSE_Sign1 item from `r`.
    pub fn read(r: &mut Reader<'a>) -> Result<Self, Rejection> {
        if r.tag()? != TAG_SIGN1 {
            return Err(Rejection::malformed("not a COSE_Sign1 tag"));
        }
        if r.array()? != 4 {
            return Err(Rejection::malformed("COSE_Sign1 must have 4 elements"));
        }
        let protected = r.bytes()?;
        if r.map()? != 0 {
            return Err(Rejection::malformed("unprotected header must be empty"));
        }
        let payload = r.bytes()?;
        let signature = r.bytes()?;
        if signature.len() != 64 {
            return Err(Rejection::malformed("signature must be 64 bytes"));
        }

        let mut h = Reader::new(protected);
        let (mut alg, mut kid) = (None, None);
        for _ in 0..h.map()? {
            match h.int()? {
                HDR_ALG if alg.is_none() => alg = Some(h.int()?),
                HDR_KID if kid.is_none() => kid = Some(h.bytes()?),
                _ => return Err(Rejection::malformed("unexpected or repeated protected header")),
            }
        }
        h.finish()?;
        if alg != Some(ALG_EDDSA) {
            return Err(Rejection::malformed("alg must be EdDSA"));
        }
        let kid = KeyId::try_from(kid.ok_or(Rejection::malformed("no kid"))?).map_err(Rejection::malformed)?;
        Ok(Self { kid, payload, protected, signature })
    }

    pub fn verify(&self, key: &Ed25519Key) -> bool {
        key.verify(&sig_structure(self.protected, self.payload), self.signature)
    }
}
