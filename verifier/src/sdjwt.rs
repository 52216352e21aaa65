//! SD-JWT VC (draft-ietf-oauth-sd-jwt-vc over RFC 9901 SD-JWT): the credential the wallet keeps,
//! for online presentations and for anyone who wants the standard format. EdDSA only, `cnf.jwk`
//! holds the holder's device key, `status.status_list` points into a Token Status List, and
//! every personal claim is its own disclosure, so the holder can reveal them one by one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Outcome, Reason, Refusal, Rejection, Undecided, UndecidedReason, Warning};
use crate::jws::{self, Jws};
use crate::trustlist::{Policy, TrustStore};
use crate::types::{KeyId, PublicKey};

/// The JOSE `typ` of an SD-JWT VC.
pub const TYP: &str = "dc+sd-jwt";
/// The `vct` of the level-2 foreign-resident credential.
pub const VCT: &str = "urn:vn:mps:vneid:level2:foreign-resident";
/// Largest SD-JWT accepted.
pub const MAX_LEN: usize = 64 * 1024;
const MAX_DISCLOSURES: usize = 64;
const RESERVED: [&str; 10] = ["iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg", "..."];

fn digest(disclosure: &str) -> String {
    B64.encode(Sha256::digest(disclosure.as_bytes()))
}

/// Assembles an SD-JWT VC; the issuer signs [`Self::signing_input`] with its handle.
#[derive(Debug, Clone)]
pub struct SdJwtBuilder {
    kid: KeyId,
    payload: Map<String, Value>,
    digests: Vec<String>,
    disclosures: Vec<String>,
}

impl SdJwtBuilder {
    /// The registered claims: issuer key id, `iss`, `iat`, `exp`, `vct` and the holder's key in
    /// `cnf.jwk`.
    pub fn new(kid: &KeyId, issuer: &str, iat: u64, exp: u64, holder: &PublicKey) -> Self {
        let mut payload = Map::new();
        payload.insert("iss".into(), json!(issuer));
        payload.insert("iat".into(), json!(iat));
        payload.insert("exp".into(), json!(exp));
        payload.insert("vct".into(), json!(VCT));
        payload.insert("cnf".into(), json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": holder.to_string()}}));
        Self { kid: kid.clone(), payload, digests: Vec::new(), disclosures: Vec::new() }
    }

    /// The status reference: status list URI and index.
    pub fn status(mut self, uri: &str, idx: u64) -> Self {
        self.payload.insert("status".into(), json!({"status_list": {"idx": idx, "uri": uri}}));
        self
    }

    /// A claim in clear (not selectively disclosable).
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.payload.insert(name.into(), value);
        self
    }

    /// A selectively disclosable claim; `salt` must be fresh random bytes (128 bits).
    pub fn disclosable(mut self, salt: &[u8; 16], name: &str, value: Value) -> Self {
        let d = B64.encode(jws::canonical_json(&json!([B64.encode(salt), name, value])));
        self.digests.push(digest(&d));
        self.disclosures.push(d);
        self
    }

    /// The JWS signing input. Digests are sorted so their order reveals nothing.
    pub fn signing_input(&self) -> String {
        let mut payload = self.payload.clone();
        let mut digests = self.digests.clone();
        digests.sort();
        payload.insert("_sd".into(), json!(digests));
        payload.insert("_sd_alg".into(), json!("sha-256"));
        let header = json!({"alg": "EdDSA", "typ": TYP, "kid": self.kid.to_string()});
        jws::signing_input(&header, &jws::canonical_json(&Value::Object(payload)))
    }

    /// `<issuer-signed JWT>~<disclosure>~…~`, every disclosure included.
    pub fn finish(self, signing_input: &str, signature: &[u8; 64]) -> String {
        let mut s = jws::assemble(signing_input, signature);
        s.push('~');
        for d in &self.disclosures {
            s.push_str(d);
            s.push('~');
        }
        s
    }
}

/// A verified SD-JWT VC: the clear claims plus the disclosed ones.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedSdJwt {
    /// The issuer key that signed it.
    pub kid: KeyId,
    /// The `iss` claim.
    pub issuer: String,
    /// The `vct` claim.
    pub vct: String,
    /// When it was issued (UNIX seconds).
    pub issued_at: u64,
    /// When it expires (UNIX seconds).
    pub expires_at: u64,
    /// The holder's device key (`cnf.jwk`).
    pub holder: PublicKey,
    /// The status reference: status list URI and index.
    pub status: Option<(String, u64)>,
    /// Age in seconds of the status list that was checked, if one was.
    pub status_list_age: Option<u64>,
    /// Claims other than the registered ones, disclosed ones included.
    pub claims: Map<String, Value>,
    /// Whether a key-binding JWT was present and verified.
    pub key_bound: bool,
    /// What the verifier should know although the credential is valid.
    pub warnings: Vec<Warning>,
}

/// Key-binding expectations for an SD-JWT presented with a KB-JWT.
#[derive(Debug, Clone, Copy)]
pub struct KeyBinding<'a> {
    /// The `aud` the KB-JWT must carry: the verifier's identifier.
    pub audience: &'a str,
    /// The `nonce` the KB-JWT must carry: the one the verifier handed out.
    pub nonce: &'a str,
}

/// The disclosures of an SD-JWT (`~`-separated parts after the JWT, before any KB-JWT).
pub fn split(sd_jwt: &str) -> (&str, Vec<&str>, Option<&str>) {
    let mut parts: Vec<&str> = sd_jwt.split('~').collect();
    let jwt = parts.remove(0);
    let kb = parts.pop().filter(|s| !s.is_empty());
    (jwt, parts, kb)
}

fn num(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

impl TrustStore {
    /// Verifies an SD-JWT VC issued under this trust list: signature, times, disclosures (each
    /// must match a digest, none twice), status, and a key-binding JWT when `kb` asks for one
    /// (docs/formats.md §3.5).
    pub fn verify_sd_jwt(
        &self,
        sd_jwt: &str,
        now: u64,
        policy: &Policy,
        kb: Option<KeyBinding<'_>>,
    ) -> Outcome<VerifiedSdJwt> {
        match self.check_sd_jwt(sd_jwt, now, policy, kb) {
            Ok(v) => Outcome::Valid(v),
            Err(r) => r.into_outcome(),
        }
    }

    fn check_sd_jwt(
        &self,
        sd_jwt: &str,
        now: u64,
        policy: &Policy,
        kb: Option<KeyBinding<'_>>,
    ) -> Result<VerifiedSdJwt, Refusal> {
        let bad = |d| Refusal::Invalid(Rejection::malformed(d));
        if sd_jwt.len() > MAX_LEN {
            return Err(bad("SD-JWT too long"));
        }
        let (jwt, disclosures, kb_jwt) = split(sd_jwt);
        if disclosures.len() > MAX_DISCLOSURES {
            return Err(bad("too many disclosures"));
        }
        let jws = Jws::parse(jwt).map_err(bad)?;
        if !matches!(jws.header_str("typ"), Some(TYP) | Some("vc+sd-jwt")) {
            return Err(bad("typ must be dc+sd-jwt"));
        }
        let kid: KeyId = jws.header_str("kid").ok_or(bad("no kid"))?.parse().map_err(bad)?;
        let mut payload: Map<String, Value> =
            serde_json::from_slice(&jws.payload).map_err(|_| bad("payload is not a JSON object"))?;
        let iat = num(payload.get("iat")).ok_or(bad("no iat"))?;
        let exp = num(payload.get("exp")).ok_or(bad("no exp"))?;
        let key = self.issuer_key(&kid, iat, now, policy)?;
        let at = |r, d| Refusal::Invalid(Rejection::new(r, d).with_kid(&kid));
        if !jws.verify(key) {
            return Err(at(Reason::BadSignature, "issuer signature does not verify"));
        }
        if now > exp {
            return Err(at(Reason::Expired, "credential expired"));
        }
        if iat > now.saturating_add(policy.clock_skew) {
            return Err(at(Reason::NotYetValid, "credential issued in the future"));
        }
        if payload.get("vct").and_then(Value::as_str) != Some(VCT) {
            return Err(bad("vct is not the level-2 foreign-resident credential type"));
        }
        if payload.get("_sd_alg").and_then(Value::as_str) != Some("sha-256") {
            return Err(bad("_sd_alg must be sha-256"));
        }
        let holder: PublicKey = payload
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .filter(|j| j.get("kty") == Some(&json!("OKP")) && j.get("crv") == Some(&json!("Ed25519")))
            .and_then(|j| j.get("x"))
            .and_then(Value::as_str)
            .ok_or(bad("cnf.jwk must be an Ed25519 key"))?
            .parse()
            .map_err(bad)?;
        let status = match payload.get("status").and_then(|s| s.get("status_list")) {
            Some(sl) => Some((
                sl.get("uri").and_then(Value::as_str).ok_or(bad("status uri"))?.to_owned(),
                num(sl.get("idx")).ok_or(bad("status idx"))?,
            )),
            None => None,
        };
        let undecided = |d| Refusal::from(Undecided::new(UndecidedReason::StatusUnknown, d)).with_kid(&kid);
        let mut warnings: Vec<Warning> = self.trust_list_warning(now).into_iter().collect();
        let mut status_list_age = None;
        match &status {
            Some((uri, idx)) => {
                let list = self.status_id(uri).ok_or_else(|| undecided("status list not in the trust list"))?;
                let checked = self.check_status(list, *idx, now, policy).map_err(|e| e.with_kid(&kid))?;
                status_list_age = checked.age;
                if checked.warn {
                    warnings.push(Warning::StatusStale);
                }
            }
            None if policy.require_status => return Err(undecided("credential carries no status reference")),
            None => {}
        }
        warnings.sort();

        let sd: Vec<String> = match payload.remove("_sd") {
            Some(Value::Array(a)) => a
                .into_iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or(bad("_sd entries must be strings")))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
            Some(_) => return Err(bad("_sd must be an array")),
        };
        let mut claims = Map::new();
        for (k, v) in payload.iter() {
            if !RESERVED.contains(&k.as_str()) {
                claims.insert(k.clone(), v.clone());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &disclosures {
            let h = digest(d);
            if !sd.contains(&h) {
                return Err(bad("disclosure not referenced by the credential"));
            }
            if !seen.insert(h) {
                return Err(bad("disclosure given twice"));
            }
            let raw = B64.decode(d).map_err(|_| bad("disclosure is not base64url"))?;
            let arr: Vec<Value> = serde_json::from_slice(&raw).map_err(|_| bad("disclosure is not a JSON array"))?;
            let [_, Value::String(name), value] =
                <[Value; 3]>::try_from(arr).map_err(|_| bad("disclosure must be [salt, name, value]"))?
            else {
                return Err(bad("disclosure name must be a string"));
            };
            if RESERVED.contains(&name.as_str()) || claims.contains_key(&name) {
                return Err(bad("disclosure overrides a claim"));
            }
            claims.insert(name, value);
        }

        let key_bound = match (kb, kb_jwt) {
            (Some(want), Some(kb_jwt)) => {
                let presented = &sd_jwt[..sd_jwt.len() - kb_jwt.len()];
                verify_kb(kb_jwt, presented, &holder, now, policy, want)
                    .map_err(|e| Refusal::Invalid(e.with_kid(&kid)))?;
                true
            }
            (Some(_), None) => return Err(at(Reason::BadHolderSignature, "key binding required but absent")),
            (None, _) => false,
        };
        Ok(VerifiedSdJwt {
            kid: kid.clone(),
            issuer: payload.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned(),
            vct: payload.get("vct").and_then(Value::as_str).unwrap_or_default().to_owned(),
            issued_at: iat,
            expires_at: exp,
            holder,
            status,
            status_list_age,
            claims,
            key_bound,
            warnings,
        })
    }
}

/// The `sd_hash` of a presented SD-JWT (everything up to and including the last `~`).
pub fn sd_hash(presented: &str) -> String {
    digest(presented)
}

fn verify_kb(
    kb_jwt: &str,
    presented: &str,
    holder: &PublicKey,
    now: u64,
    policy: &Policy,
    want: KeyBinding<'_>,
) -> Result<(), Rejection> {
    let bad = Rejection::malformed;
    let jws = Jws::parse(kb_jwt).map_err(bad)?;
    if jws.header_str("typ") != Some("kb+jwt") {
        return Err(bad("key binding typ must be kb+jwt"));
    }
    let key = crate::crypto::Ed25519Key::from_public(holder).ok_or(bad("holder key is not a valid Ed25519 key"))?;
    if !jws.verify(&key) {
        return Err(Rejection::new(Reason::BadHolderSignature, "key binding signature does not verify"));
    }
    let c: Map<String, Value> = serde_json::from_slice(&jws.payload).map_err(|_| bad("key binding payload"))?;
    let iat = num(c.get("iat")).ok_or(bad("key binding iat"))?;
    if c.get("aud").and_then(Value::as_str) != Some(want.audience)
        || c.get("nonce").and_then(Value::as_str) != Some(want.nonce)
    {
        return Err(Rejection::new(Reason::BadHolderSignature, "key binding for another audience or nonce"));
    }
    if c.get("sd_hash").and_then(Value::as_str) != Some(sd_hash(presented).as_str()) {
        return Err(Rejection::new(Reason::BadHolderSignature, "key binding sd_hash does not match"));
    }
    if now > iat.saturating_add(policy.max_window) {
        return Err(Rejection::new(Reason::PresentationExpired, "key binding too old"));
    }
    if iat > now.saturating_add(policy.clock_skew) {
        return Err(Rejection::new(Reason::PresentationNotYetValid, "key binding from the future"));
    }
    Ok(())
}
