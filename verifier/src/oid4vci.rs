//! The OpenID4VCI 1.0 delivery messages the issuer and the wallet exchange: the credential
//! offer (pre-authorized code flow, with a transaction code) and the wallet's proof of possession
//! of its device key (the `jwt` proof type, OpenID4VCI 1.0 appendix F.1). Only what both sides
//! must agree on byte for byte lives here; HTTP and the nonce's bookkeeping are theirs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::crypto::Ed25519Key;
use crate::error::{Reason, Rejection};
use crate::jws::{self, Jws};
use crate::types::PublicKey;

/// The start of a credential offer URI, up to the percent-encoded JSON.
pub const OFFER_SCHEME: &str = "openid-credential-offer://?credential_offer=";
/// The pre-authorized code grant type.
pub const PRE_AUTH_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The JOSE `typ` of the wallet's proof of possession.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// The credential configuration the issuer offers: the SD-JWT VC plus the per-purpose QR
/// credentials, all bound to the same device key.
pub const CONFIGURATION_ID: &str = "vneid_level2_foreign_resident";
const MAX_OFFER: usize = 4096;
/// Longest `tx_code.description` OpenID4VCI 1.0 allows (section 4.1.1).
pub const MAX_TX_CODE_DESCRIPTION: usize = 300;

/// What an offer says about the transaction code the wallet must ask its user for (OpenID4VCI
/// 1.0 section 4.1.1, `tx_code` in the pre-authorized code grant). The code itself reaches the
/// holder by another channel (SMS, e-mail, the officer), never in the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxCodeSpec {
    /// `numeric` (digits only) or `text`; absent means `numeric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<String>,
    /// How many characters the code has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// A hint for the user on where to find the code (at most 300 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl TxCodeSpec {
    /// A numeric code of `length` digits, with a hint cut to 300 characters.
    pub fn numeric(length: u32, description: &str) -> Self {
        let description: String = description.chars().take(MAX_TX_CODE_DESCRIPTION).collect();
        Self {
            input_mode: Some("numeric".into()),
            length: Some(length),
            description: (!description.is_empty()).then_some(description),
        }
    }
}

/// A credential offer (OpenID4VCI section 4.1.1) with a pre-authorized code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialOffer {
    /// The issuer's base URL.
    pub credential_issuer: String,
    /// What is offered: [`CONFIGURATION_ID`].
    pub credential_configuration_ids: Vec<String>,
    /// The grants, by grant type.
    pub grants: Map<String, Value>,
}

impl CredentialOffer {
    /// An offer of [`CONFIGURATION_ID`] with a pre-authorized code.
    pub fn pre_authorized(issuer: &str, code: &str) -> Self {
        let mut grants = Map::new();
        grants.insert(PRE_AUTH_GRANT.into(), json!({"pre-authorized_code": code}));
        Self { credential_issuer: issuer.into(), credential_configuration_ids: vec![CONFIGURATION_ID.into()], grants }
    }

    /// An offer of [`CONFIGURATION_ID`] with a pre-authorized code whose redemption needs a
    /// transaction code as `tx` describes.
    pub fn pre_authorized_with_tx_code(issuer: &str, code: &str, tx: &TxCodeSpec) -> Self {
        let mut offer = Self::pre_authorized(issuer, code);
        let tx = serde_json::to_value(tx).unwrap_or_else(|_| json!({}));
        if let Some(grant) = offer.grants.get_mut(PRE_AUTH_GRANT).and_then(Value::as_object_mut) {
            grant.insert("tx_code".into(), tx);
        }
        offer
    }

    /// The pre-authorized code, if the offer has one.
    pub fn pre_authorized_code(&self) -> Option<&str> {
        self.grants.get(PRE_AUTH_GRANT)?.get("pre-authorized_code")?.as_str()
    }

    /// The transaction code the offer asks for, if it asks for one (an unreadable `tx_code`
    /// object counts as asking, with nothing known about it).
    pub fn tx_code(&self) -> Option<TxCodeSpec> {
        let tx = self.grants.get(PRE_AUTH_GRANT)?.get("tx_code")?;
        Some(serde_json::from_value(tx.clone()).unwrap_or(TxCodeSpec {
            input_mode: None,
            length: None,
            description: None,
        }))
    }

    /// `openid-credential-offer://?credential_offer=<percent-encoded JSON>`
    pub fn to_uri(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut s = String::from(OFFER_SCHEME);
        for b in json.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }

    /// Parses an offer URI (bounded); it must carry a pre-authorized code.
    pub fn from_uri(uri: &str) -> Result<Self, &'static str> {
        if uri.len() > MAX_OFFER * 3 {
            return Err("offer too long");
        }
        let enc = uri.strip_prefix(OFFER_SCHEME).ok_or("not an openid-credential-offer URI with credential_offer")?;
        let mut bytes = Vec::with_capacity(enc.len());
        let mut it = enc.bytes();
        while let Some(b) = it.next() {
            match b {
                b'%' => {
                    let hex = [it.next().ok_or("bad percent-encoding")?, it.next().ok_or("bad percent-encoding")?];
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err("bad percent-encoding");
                    }
                    let hex = core::str::from_utf8(&hex).map_err(|_| "bad percent-encoding")?;
                    bytes.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding")?);
                }
                b'+' => bytes.push(b' '),
                b => bytes.push(b),
            }
        }
        let offer: Self = serde_json::from_slice(&bytes).map_err(|_| "credential_offer is not a valid offer")?;
        offer.pre_authorized_code().ok_or("offer has no pre-authorized code")?;
        Ok(offer)
    }
}

/// The JWS signing input of a proof of possession (OpenID4VCI appendix F.1) for `holder`.
pub fn proof_signing_input(holder: &PublicKey, audience: &str, iat: u64, nonce: &str) -> String {
    let header =
        json!({"alg": "EdDSA", "typ": PROOF_TYP, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": holder.to_string()}});
    let payload = json!({"aud": audience, "iat": iat, "nonce": nonce});
    jws::signing_input(&header, &jws::canonical_json(&payload))
}

/// A proof of possession whose signature, audience and age were checked, and whose nonce the
/// issuer still has to check against the nonces it handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The device key the proof was signed with (its `jwk` header).
    pub holder: PublicKey,
    /// The `nonce` claim, if any.
    pub nonce: Option<String>,
    /// The `iat` claim.
    pub iat: u64,
}

/// Checks a proof of possession without knowing which nonce to expect (OpenID4VCI 1.0: nonces
/// come from the Nonce Endpoint, so the issuer looks the proof's nonce up afterwards): `typ`,
/// an Ed25519 `jwk` in the header, the signature by that key, `aud` = `audience`, and
/// `now - max_age <= iat <= now + 60`.
pub fn check_proof(jwt: &str, audience: &str, now: u64, max_age: u64) -> Result<CheckedProof, Rejection> {
    let bad = Rejection::malformed;
    let jws = Jws::parse(jwt).map_err(bad)?;
    if jws.header_str("typ") != Some(PROOF_TYP) {
        return Err(bad("proof typ must be openid4vci-proof+jwt"));
    }
    let jwk = jws.header.get("jwk").ok_or(bad("proof has no jwk"))?;
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err(bad("proof key must be Ed25519"));
    }
    let holder: PublicKey =
        jwk.get("x").and_then(Value::as_str).ok_or(bad("proof jwk has no x"))?.parse().map_err(bad)?;
    let key = Ed25519Key::from_public(&holder).ok_or(bad("proof key is not a valid Ed25519 key"))?;
    if !jws.verify(&key) {
        return Err(Rejection::new(Reason::BadHolderSignature, "proof signature does not verify"));
    }
    let c: Map<String, Value> =
        serde_json::from_slice(&jws.payload).map_err(|_| bad("proof payload is not a JSON object"))?;
    if c.get("aud").and_then(Value::as_str) != Some(audience) {
        return Err(Rejection::new(Reason::BadHolderSignature, "proof for another audience"));
    }
    let nonce = match c.get("nonce") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(bad("proof nonce is not a string")),
    };
    let iat = c.get("iat").and_then(Value::as_u64).ok_or(bad("proof has no iat"))?;
    if iat.saturating_add(max_age) < now || iat > now.saturating_add(60) {
        return Err(Rejection::new(Reason::PresentationExpired, "proof too old or from the future"));
    }
    Ok(CheckedProof { holder, nonce, iat })
}

/// Checks a proof of possession: signed by the key in its own `jwk` header, for `audience` and
/// `nonce`, recent. Returns the holder's device key.
pub fn verify_proof(jwt: &str, audience: &str, nonce: &str, now: u64, max_age: u64) -> Result<PublicKey, Rejection> {
    let p = check_proof(jwt, audience, now, max_age)?;
    if p.nonce.as_deref() != Some(nonce) {
        return Err(Rejection::new(Reason::BadHolderSignature, "proof nonce does not match"));
    }
    Ok(p.holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_uri_roundtrip() {
        let o = CredentialOffer::pre_authorized("http://127.0.0.1:8080", "abc-DEF_123");
        let uri = o.to_uri();
        assert!(uri.starts_with(OFFER_SCHEME));
        assert!(!uri[OFFER_SCHEME.len()..].contains(['{', '"', ':', '/']));
        let back = CredentialOffer::from_uri(&uri).unwrap();
        assert_eq!(back, o);
        assert_eq!(back.pre_authorized_code(), Some("abc-DEF_123"));
        assert!(CredentialOffer::from_uri("openid-credential-offer://?credential_offer=%7").is_err());
        assert!(CredentialOffer::from_uri("https://example.com").is_err());
        assert_eq!(back.tx_code(), None);
    }

    #[test]
    fn offer_with_a_transaction_code() {
        let tx = TxCodeSpec::numeric(6, "Mã gồm 6 chữ số đã được gửi qua SMS");
        let o = CredentialOffer::pre_authorized_with_tx_code("https://issuer.example.vn", "pac_x", &tx);
        let back = CredentialOffer::from_uri(&o.to_uri()).unwrap();
        assert_eq!(back.tx_code(), Some(tx));
        assert_eq!(back.pre_authorized_code(), Some("pac_x"));
        let v = serde_json::to_value(&back).unwrap();
        assert_eq!(v["grants"][PRE_AUTH_GRANT]["tx_code"]["input_mode"], "numeric");
        assert_eq!(v["grants"][PRE_AUTH_GRANT]["tx_code"]["length"], 6);
        let long = TxCodeSpec::numeric(8, &"x".repeat(400));
        assert_eq!(long.description.map(|d| d.chars().count()), Some(MAX_TX_CODE_DESCRIPTION));
    }

    #[test]
    fn proofs_are_checked_before_their_nonce() {
        use ed25519_dalek::{Signer as _, SigningKey};
        let k = SigningKey::from_bytes(&[7; 32]);
        let holder = PublicKey::from_bytes(k.verifying_key().to_bytes());
        let input = proof_signing_input(&holder, "https://i", 1000, "n1");
        let jwt = jws::assemble(&input, &k.sign(input.as_bytes()).to_bytes());
        let p = check_proof(&jwt, "https://i", 1010, 300).unwrap();
        assert_eq!((p.holder, p.nonce.as_deref(), p.iat), (holder, Some("n1"), 1000));
        assert_eq!(verify_proof(&jwt, "https://i", "n1", 1010, 300).unwrap(), holder);
        assert_eq!(verify_proof(&jwt, "https://i", "n2", 1010, 300).unwrap_err().reason, Reason::BadHolderSignature);
        assert_eq!(check_proof(&jwt, "https://other", 1010, 300).unwrap_err().reason, Reason::BadHolderSignature);
        assert_eq!(check_proof(&jwt, "https://i", 2000, 300).unwrap_err().reason, Reason::PresentationExpired);
    }
}
