//! What the wallet reads of its SD-JWT VC, without a trust list: the holder binding, the
//! registered claims and the disclosed claims. The issuer's signature is not checked here (the
//! wallet does not know the issuer's keys); [`verifier::TrustStore::verify_sd_jwt`] does that
//! at the verifier. This is glue over [`verifier::build::jws`] and [`verifier::build::sdjwt`], not a format.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};
use verifier::build::sdjwt::{self, MAX_LEN, TYP};
use verifier::PublicKey;

/// Registered claims that are not personal claims.
const REGISTERED: [&str; 9] = ["iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg"];
const MAX_DISCLOSURES: usize = 64;

/// The parts of an SD-JWT VC the wallet shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SdJwtView {
    pub issuer: Option<String>,
    pub vct: Option<String>,
    pub issued_at: Option<u64>,
    pub expires_at: Option<u64>,
    pub holder: PublicKey,
    /// Clear and disclosed personal claims.
    pub claims: Map<String, Value>,
}

/// Parses an SD-JWT VC as issued (`<jwt>~<disclosure>~…~`, no key-binding JWT): `typ`,
/// an Ed25519 `cnf.jwk`, and every disclosure referenced by a digest in `_sd`, none twice.
pub fn parse(sd_jwt: &str) -> Result<SdJwtView, &'static str> {
    if sd_jwt.len() > MAX_LEN {
        return Err("SD-JWT too long");
    }
    if !sd_jwt.ends_with('~') {
        return Err("SD-JWT must end with '~' (no key-binding JWT as issued)");
    }
    let (jwt, disclosures, _) = sdjwt::split(sd_jwt);
    if disclosures.len() > MAX_DISCLOSURES {
        return Err("too many disclosures");
    }
    let jws = verifier::build::jws::Jws::parse(jwt)?;
    if jws.header_str("typ") != Some(TYP) {
        return Err("typ must be dc+sd-jwt");
    }
    let payload: Map<String, Value> =
        serde_json::from_slice(&jws.payload).map_err(|_| "payload is not a JSON object")?;
    let jwk = payload.get("cnf").and_then(|c| c.get("jwk")).ok_or("no cnf.jwk")?;
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err("cnf.jwk must be an Ed25519 key");
    }
    let holder: PublicKey = jwk.get("x").and_then(Value::as_str).ok_or("cnf.jwk has no x")?.parse()?;
    if payload.get("_sd_alg").and_then(Value::as_str) != Some("sha-256") {
        return Err("_sd_alg must be sha-256");
    }
    let digests: Vec<&str> = match payload.get("_sd") {
        Some(Value::Array(a)) => {
            a.iter().map(|v| v.as_str().ok_or("_sd entries must be strings")).collect::<Result<_, _>>()?
        }
        None => Vec::new(),
        Some(_) => return Err("_sd must be an array"),
    };
    let mut claims: Map<String, Value> = payload
        .iter()
        .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for d in disclosures {
        // The disclosure digest is the same base64url SHA-256 as `sd_hash`.
        let h = sdjwt::sd_hash(d);
        if !digests.contains(&h.as_str()) {
            return Err("disclosure not referenced by the credential");
        }
        if !seen.insert(h) {
            return Err("disclosure given twice");
        }
        let raw = B64.decode(d).map_err(|_| "disclosure is not base64url")?;
        let arr: Vec<Value> = serde_json::from_slice(&raw).map_err(|_| "disclosure is not a JSON array")?;
        let Ok([_, Value::String(name), value]) = <[Value; 3]>::try_from(arr) else {
            return Err("disclosure must be [salt, name, value]");
        };
        if REGISTERED.contains(&name.as_str()) || claims.contains_key(&name) {
            return Err("disclosure overrides a claim");
        }
        claims.insert(name, value);
    }
    Ok(SdJwtView {
        issuer: payload.get("iss").and_then(Value::as_str).map(str::to_owned),
        vct: payload.get("vct").and_then(Value::as_str).map(str::to_owned),
        issued_at: payload.get("iat").and_then(Value::as_u64),
        expires_at: payload.get("exp").and_then(Value::as_u64),
        holder,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuance::tests::{issuer_key, sample_sd_jwt};
    use crate::DeviceKey;

    #[test]
    fn reads_holder_and_claims_and_refuses_stray_disclosures() {
        let device = DeviceKey::from_seed(&[5; 32]);
        let s = sample_sd_jwt(&issuer_key(), &device.public());
        let v = parse(&s).unwrap();
        assert_eq!(v.holder, device.public());
        assert_eq!(v.claims["name_latin"], "KIM MIN JUN");
        assert_eq!(v.claims["passport_number"], "M12345678");
        assert_eq!(v.vct.as_deref(), Some(verifier::build::sdjwt::VCT));

        let stray = B64.encode(r#"["c2FsdA","address","somewhere"]"#);
        assert_eq!(parse(&format!("{s}{stray}~")), Err("disclosure not referenced by the credential"));
        let (_, ds, _) = sdjwt::split(&s);
        assert_eq!(parse(&format!("{s}{}~", ds[0])), Err("disclosure given twice"));
        assert!(parse("abc~").is_err());
        assert!(parse(s.trim_end_matches('~')).is_err());
    }
}
