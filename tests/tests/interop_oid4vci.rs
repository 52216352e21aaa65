//! OpenID4VCI 1.0 and SD-JWT VC against independent implementations, with the real issuer:
//! a wallet built on `@openid4vc/openid4vci` discovers both metadata documents with its own
//! parsers (and classifies them as 1.0), is refused with the standard error for a wrong
//! transaction code, redeems the offer with the right one, takes a nonce from the Nonce
//! Endpoint and receives a batch of two SD-JWT VCs with `proofs`; `@sd-jwt/sd-jwt-vc` then
//! verifies each knowing only its `iss` (keys from `/.well-known/jwt-vc-issuer`), with a
//! key-binding presentation and the Token Status List, and sees a suspension and a revocation.
//!
//! Needs Node.js 20+ and the packages of `tests/interop/node` (`npm ci` there; the test runs it
//! if the test command has not).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use anyhow::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use e2e::{node_interop, Issuer};
use serde_json::{json, Value};

fn payload(sd_jwt: &str) -> Value {
    let jwt = sd_jwt.split('~').next().unwrap();
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// Presents `credential` with `holder`'s key, disclosing two claims, to the independent verifier.
fn verify(dir: &std::path::Path, name: &str, credential: &str, holder: &Value) -> Result<Value> {
    let input = dir.join(format!("{name}.json"));
    let body = json!({"credential": credential, "holder": holder, "disclose": ["name_latin", "nationality"],
                      "audience": "https://bank.example.vn", "nonce": format!("nonce-{name}")});
    std::fs::write(&input, body.to_string())?;
    let (code, v) = node_interop("verify.mjs", &[&input.to_string_lossy()])?;
    assert_eq!(code, 0, "{v}");
    Ok(v)
}

#[test]
fn an_independent_1_0_wallet_receives_and_an_independent_sd_jwt_vc_library_verifies() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = Issuer::start(&dir.path().join("data"), &[])?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let offer = e2e::enroll(&http, &officer, &e2e::kim_tk01())?;

    // A wrong transaction code: the library reports our standard OAuth error.
    let wrong = if offer.tx_code == "000000" { "111111" } else { "000000" };
    let (code, v) = node_interop("wallet.mjs", &[&offer.uri, wrong, "1"])?;
    assert_eq!(code, 1, "{v}");
    assert_eq!((v["status"].as_u64(), v["errorResponse"]["error"].as_str()), (Some(400), Some("invalid_grant")), "{v}");
    assert!(v["errorResponse"]["error_description"].as_str().unwrap().contains("4 more"), "{v}");

    // The right one: discovery, token, nonce, a batch of two with `proofs`.
    let (code, w) = node_interop("wallet.mjs", &[&offer.uri, &offer.tx_code, "2"])?;
    assert_eq!(code, 0, "{w}");
    assert_eq!(w["originalDraftVersion"], "V1", "the library classifies the metadata as OpenID4VCI 1.0");
    assert_eq!(
        w["fetched"],
        json!([
            "GET /.well-known/openid-credential-issuer",
            "GET /.well-known/oauth-authorization-server",
            "POST /token",
            "POST /nonce",
            "POST /credential"
        ]),
        "both metadata documents discovered, then token, Nonce Endpoint, credential"
    );
    let asm = &w["authorizationServerMetadata"];
    assert_eq!(asm["token_endpoint"], format!("{}/token", issuer.url));
    assert_eq!(asm["pre-authorized_grant_anonymous_access_supported"], true);
    assert_eq!(w["txCodeAsked"]["length"], 6);
    assert_eq!(w["credentialIssuerMetadata"]["nonce_endpoint"], format!("{}/nonce", issuer.url));
    assert!(w["extraMembers"].as_array().unwrap().contains(&json!("qr_credentials")));
    let creds: Vec<String> =
        w["credentials"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    let holders = w["holders"].as_array().unwrap().clone();
    assert_eq!((creds.len(), holders.len()), (2, 2));
    for (c, h) in creds.iter().zip(&holders) {
        assert_eq!(payload(c)["cnf"]["jwk"]["x"], h["x"], "each instance bound to its own key");
    }
    assert_eq!(payload(&creds[0])["status"], payload(&creds[1])["status"], "one status index for the person");

    // The independent SD-JWT VC verifier, from `iss` alone, with key binding and status.
    for (i, (c, h)) in creds.iter().zip(&holders).enumerate() {
        let v = verify(dir.path(), &format!("valid-{i}"), c, h)?;
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!((v["status"].as_u64(), v["keyBound"].as_bool()), (Some(0), Some(true)), "{v}");
        assert_eq!(v["claims"]["name_latin"], "KIM MIN JUN");
        assert!(v["claims"].get("passport_number").is_none(), "only what was disclosed");
        assert_eq!(v["resolved"][0], format!("{}/.well-known/jwt-vc-issuer", issuer.url));
    }
    // Presented with the other instance's key: the key binding fails.
    let v = verify(dir.path(), "other-key", &creds[1], &holders[0])?;
    assert_eq!(v["verified"], false, "{v}");

    // Suspended, then revoked: the Token Status List says so to the independent verifier.
    let audit = http.get("/v1/admin/audit?limit=1000", Some(&admin))?.1;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["entry"]["action"].as_str().unwrap()).collect();
    for a in ["offer.tx_code_sent", "offer.tx_code_wrong", "offer.redeemed", "credential.issued"] {
        assert_eq!(actions.iter().filter(|x| **x == a).count(), 1, "{a} in {actions:?}");
    }
    let cred_id =
        audit["entries"].as_array().unwrap().iter().find(|e| e["entry"]["action"] == "credential.issued").unwrap()
            ["entry"]["subject"]
            .as_str()
            .unwrap()
            .to_owned();
    for (status, value) in [("suspended", 2), ("revoked", 1)] {
        let (st, r) =
            http.post(&format!("/v1/admin/credentials/{cred_id}/status"), Some(&admin), &json!({"status": status}))?;
        assert_eq!(st, 200, "{r}");
        for (i, (c, h)) in creds.iter().zip(&holders).enumerate() {
            let v = verify(dir.path(), &format!("{status}-{i}"), c, h)?;
            assert_eq!((v["verified"].as_bool(), v["status"].as_u64()), (Some(false), Some(value)), "{status}: {v}");
        }
    }
    Ok(())
}
