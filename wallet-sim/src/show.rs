//! What `wallet-sim show` prints: a summary with claim names only (a shoulder-surfer learns
//! nothing personal), or everything as JSON with `--json`.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::present::format_time;
use crate::store::CredentialSet;
use crate::{Error, Result, Wallet};

/// The wallet's content, decoded once for display.
#[derive(Debug)]
pub struct Shown {
    json: Value,
    text: String,
}

impl Shown {
    /// Everything, values included.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Issuer, time received, and per credential its expiry and claim names.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Wallet {
    /// Decodes the stored credential set; `None` when nothing was received yet.
    pub fn show(&self) -> Result<Option<Shown>> {
        let device = self.device_key()?.public();
        let Some(set) = self.credentials()? else {
            return Ok(None);
        };
        describe(&set, &device.to_string()).map(Some)
    }
}

fn names(claims: &Map<String, Value>) -> String {
    // Claim names come from the issuer: no control characters reach the terminal.
    claims.keys().map(|k| crate::issuance::printable(k)).collect::<Vec<_>>().join(", ")
}

fn describe(set: &CredentialSet, device: &str) -> Result<Shown> {
    let corrupt = |detail: String| Error::Rejected(format!("stored credential: {detail}"));
    let mut text = String::new();
    let _ = writeln!(text, "issuer:    {}", set.issuer());
    let _ = writeln!(text, "received:  {}", format_time(set.received_at()));
    let _ = writeln!(text, "device:    {device}");

    let sd = crate::sdjwt::parse(set.sd_jwt()).map_err(|e| corrupt(e.into()))?;
    let _ = writeln!(
        text,
        "sd-jwt-vc: expires {}; claims: {}",
        sd.expires_at.map_or_else(|| "never".into(), format_time),
        names(&sd.claims)
    );

    let mut qr = Map::new();
    for (purpose, stored) in set.qr_all() {
        let (kid, cred) = stored.decode().map_err(|r| corrupt(r.to_string()))?;
        let claims = match serde_json::to_value(&cred.claims) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let claim_names: Vec<&str> = cred.claims.present().into_iter().map(|c| c.name()).collect();
        let _ = writeln!(
            text,
            "{:<10} expires {}; claims: {}",
            format!("{purpose}:"),
            format_time(stored.expires_at()),
            claim_names.join(", ")
        );
        qr.insert(
            purpose.to_string(),
            json!({
                "expires_at": stored.expires_at(),
                "expires": format_time(stored.expires_at()),
                "issued_at": cred.issued_at,
                "kid": kid.to_string(),
                "level": cred.level,
                "status": cred.status,
                "claims": claims,
                "credential": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, stored.credential()),
                "bytes": stored.credential().len(),
            }),
        );
    }
    let json = json!({
        "issuer": set.issuer(),
        "received_at": set.received_at(),
        "received": format_time(set.received_at()),
        "device_key": device,
        "sd_jwt_vc": {
            "credential": set.sd_jwt(),
            "iss": sd.issuer,
            "vct": sd.vct,
            "issued_at": sd.issued_at,
            "expires_at": sd.expires_at,
            "claims": sd.claims,
        },
        "qr_credentials": qr,
    });
    Ok(Shown { json, text })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::issuance::tests::sample_set;
    use crate::DeviceKey;

    #[test]
    fn text_has_names_not_values_and_json_has_everything() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        let (device, _) = w.init().unwrap();
        assert!(w.show().unwrap().is_none());
        let set = sample_set(&DeviceKey::from_seed(&[3; 32]));
        w.save_credentials(&set).unwrap();
        let s = w.show().unwrap().unwrap();
        let text = s.text();
        assert!(text.contains("landlord:  expires"), "{text}");
        assert!(
            text.contains("name_latin, nationality, residence_card_kind, residence_card_expiry, age_over_18"),
            "{text}"
        );
        assert!(!text.contains("KIM") && !text.contains("M12345678"), "{text}");
        let j = s.json();
        assert_eq!(j["device_key"], device.public().to_string());
        assert_eq!(j["qr_credentials"]["bank"]["claims"]["passport_number"], "M12345678");
        assert_eq!(j["sd_jwt_vc"]["claims"]["name"], "김민준");
        assert!(j["sd_jwt_vc"]["credential"].as_str().unwrap().ends_with('~'));
    }
}
