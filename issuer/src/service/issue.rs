//! Issuance: from an approved application's person data and the holder's device keys to the
//! batch the wallet receives: one SD-JWT VC per holder key (OpenID4VCI batch issuance, so online
//! relying parties cannot link presentations by a shared signature or key), each with every
//! claim selectively disclosable and its own salts, and one minimal QR credential per purpose,
//! bound to the first key (the wallet's device key). All share one random status index, so
//! revoking the person's credential revokes every form of it.

use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use verifier::build::qr::{PersonClaims, QrCredential, StatusRef};
use verifier::build::sdjwt::SdJwtBuilder;
use verifier::{PublicKey, Purpose};

use keys::Signer;

/// Assurance level of the account these credentials stand for.
pub const LEVEL: u8 = 2;
/// Longest a credential lives, whatever the residence card says (re-issued after).
pub const MAX_LIFETIME: u64 = 2 * 365 * 86_400;

/// What the wallet receives.
#[derive(Debug, Clone)]
pub struct Batch {
    /// One SD-JWT VC per holder key, in the order of the keys.
    pub sd_jwts: Vec<String>,
    /// Per purpose, the tagged COSE_Sign1 bytes.
    pub qr: Vec<(Purpose, Vec<u8>)>,
    pub issued_at: u64,
    pub expires_at: u64,
    /// A batch issued before, signed again for a retried request.
    pub redelivered: bool,
}

/// Expiry: the end of the residence card's last day in Vietnam (UTC+7), capped by the lifetime.
pub fn expiry(claims: &PersonClaims, now: u64) -> u64 {
    let cap = now + MAX_LIFETIME;
    match claims.residence_card_expiry {
        Some(d) => {
            let end = (d.days() + 1) * 86_400 - 7 * 3600 - 1;
            u64::try_from(end).unwrap_or(0).min(cap)
        }
        None => cap,
    }
}

fn json_claim(claims: &PersonClaims) -> Vec<(&'static str, Value)> {
    // PersonClaims serializes exactly the claims present, under their JSON names.
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => {
            verifier::Claim::ALL.iter().filter_map(|c| m.get(c.name()).map(|v| (c.name(), v.clone()))).collect()
        }
        _ => Vec::new(),
    }
}

/// Signs the batch for `holders` (at least one; the QR credentials are bound to the first).
/// `status` is the (list uri, list id, index) allocated for it.
pub fn issue(
    signer: &dyn Signer,
    issuer_url: &str,
    claims: &PersonClaims,
    holders: &[PublicKey],
    status: (&str, u32, u64),
    now: u64,
) -> Result<Batch, keys::KeyError> {
    let exp = expiry(claims, now);
    let kid = signer.kid();
    let mut sd_jwts = Vec::with_capacity(holders.len());
    for holder in holders {
        let mut b = SdJwtBuilder::new(kid, issuer_url, now, exp, holder)
            .status(status.0, status.2)
            .claim("assurance_level", json!(LEVEL));
        let claims = json_claim(claims);
        // Every salt from one read of the system's generator (one syscall, not one per claim).
        let mut salts = vec![[0u8; 16]; claims.len()];
        OsRng.fill_bytes(salts.as_flattened_mut());
        for ((name, value), salt) in claims.into_iter().zip(&salts) {
            b = b.disclosable(salt, name, value);
        }
        let input = b.signing_input();
        let sig = signer.sign(input.as_bytes())?;
        sd_jwts.push(b.finish(&input, &sig));
    }
    let Some(holder) = holders.first() else {
        return Ok(Batch { sd_jwts, qr: Vec::new(), issued_at: now, expires_at: exp, redelivered: false });
    };

    let mut qr = Vec::with_capacity(3);
    for purpose in Purpose::ALL {
        let cred = QrCredential {
            purpose,
            level: LEVEL,
            issued_at: now,
            expires_at: exp,
            holder: *holder,
            status: Some(StatusRef { list: status.1, idx: status.2 }),
            claims: claims.restrict_to(purpose),
        };
        let unsigned = cred.to_sign1(kid);
        let sig = signer.sign(&unsigned.to_be_signed())?;
        qr.push((purpose, unsigned.finish(&sig)));
    }
    Ok(Batch { sd_jwts, qr, issued_at: now, expires_at: exp, redelivered: false })
}
