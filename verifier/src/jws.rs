//! Compact JWS (RFC 7515) with EdDSA (RFC 8037) only: the envelope of the SD-JWT VC, the trust
//! list, the status list tokens and the wallet's proof of possession.
//!
//! Building is split in two so that private keys never come here: [`signing_input`] gives the
//! bytes to sign, the caller's signing handle signs them, and [`assemble`] appends the signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::crypto::Ed25519Key;

/// Largest compact JWS we parse; a trust list with hundreds of keys stays far below it.
pub const MAX_LEN: usize = 1 << 20;

/// JSON with object members in sorted order at every depth, whatever serde_json's
/// `preserve_order` feature says (another crate in a build may turn it on), so what we sign does
/// not depend on how the binary was built.
pub fn canonical_json(v: &Value) -> Vec<u8> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sorted(v)).unwrap_or_default()
}

/// `BASE64URL(header) || '.' || BASE64URL(payload)`, the JWS signing input. The header is
/// serialized with [`canonical_json`].
pub fn signing_input(header: &Value, payload: &[u8]) -> String {
    let h = canonical_json(header);
    let mut s = B64.encode(h);
    s.push('.');
    B64.encode_string(payload, &mut s);
    s
}

/// Appends the signature to a signing input, giving the compact serialization.
pub fn assemble(signing_input: &str, signature: &[u8; 64]) -> String {
    let mut s = String::with_capacity(signing_input.len() + 87);
    s.push_str(signing_input);
    s.push('.');
    B64.encode_string(signature, &mut s);
    s
}

/// A compact JWS split and decoded, its signature not yet checked.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    /// The protected header, a JSON object with `alg` `EdDSA`.
    pub header: Map<String, Value>,
    /// The payload bytes, base64url-decoded.
    pub payload: Vec<u8>,
    /// `header_b64.payload_b64` exactly as received: what the signature covers.
    pub signing_input: &'a str,
    /// The 64-byte Ed25519 signature (not checked by [`Jws::parse`]).
    pub signature: [u8; 64],
}

impl<'a> Jws<'a> {
    /// Splits and decodes; requires `alg` to be `EdDSA` and refuses `crit`, since we implement
    /// no extension.
    pub fn parse(compact: &'a str) -> Result<Self, &'static str> {
        if compact.len() > MAX_LEN {
            return Err("JWS too long");
        }
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("JWS must have three parts");
        };
        let header = B64.decode(h).map_err(|_| "JWS header is not base64url")?;
        let header: Map<String, Value> =
            serde_json::from_slice(&header).map_err(|_| "JWS header is not a JSON object")?;
        if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
            return Err("JWS alg must be EdDSA");
        }
        if header.contains_key("crit") {
            return Err("JWS crit header is not supported");
        }
        let payload = B64.decode(p).map_err(|_| "JWS payload is not base64url")?;
        let sig = B64.decode(s).map_err(|_| "JWS signature is not base64url")?;
        let signature = <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| "JWS signature must be 64 bytes")?;
        let signing_input = &compact[..h.len() + 1 + p.len()];
        Ok(Self { header, payload, signing_input, signature })
    }

    /// A string member of the header.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// Whether the signature verifies under `key`, strictly.
    pub fn verify(&self, key: &Ed25519Key) -> bool {
        key.verify(self.signing_input.as_bytes(), &self.signature)
    }
}
