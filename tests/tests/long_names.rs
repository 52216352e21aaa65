//! Every applicant enrollment accepts fits the QR budget: a 150-character name and a 300-character
//! address (the longest TK01 takes) go through the real issuer and wallet, and an independent
//! decoder (zxing-cpp, as in phone scanners) reads each purpose's QR at its version: landlord
//! ≤ 13, bank ≤ 15, residence office ≤ 20, all at error correction M. The landlord's verifies.

use anyhow::Result;
use serde_json::{json, Value};

fn long_name() -> String {
    // Words as a long Latin name really looks: given names, family names, particles.
    let words = ["MARIA", "GUADALUPE", "DE", "LOS", "ANGELES", "FERNANDEZ", "ALEJANDRA", "VILLANUEVA"];
    let mut s = String::new();
    let mut i = 0;
    while s.chars().count() < 150 {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(words[i % words.len()]);
        i += 1;
    }
    s.chars().take(150).collect::<String>().trim_end().to_owned()
}

fn long_address() -> String {
    let base = "Căn hộ 2807, Tầng 28, Tòa nhà Landmark 81, Số 720A Đường Điện Biên Phủ, Phường 22, Quận Bình Thạnh, \
                Thành phố Hồ Chí Minh, Việt Nam; ";
    base.repeat(3).chars().take(300).collect()
}

#[test]
fn the_longest_names_and_addresses_fit_every_purposes_qr() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let name = long_name();
    assert!(name.chars().count() >= 145);
    let registry = dir.path().join("registry.jsonl");
    let mut reg = std::fs::read_to_string(e2e::workspace().join("enrollment/data/registry-sample.jsonl"))?;
    reg.push_str(
        &json!({"full_name": name, "full_name_latin": name, "date_of_birth": "1988-02-29", "sex": "F",
                "nationality": "MEX", "passport_number": "G12345678901",
                "residence_card": {"number": "TRC0999001", "kind": "temporary", "issued_on": "2025-03-01",
                                   "expires_on": "2028-02-29", "status": "valid"},
                "biometrics_on_file": false})
        .to_string(),
    );
    reg.push('\n');
    std::fs::write(&registry, reg)?;
    let form = json!({
        "full_name": name, "full_name_latin": name, "sex": "F", "date_of_birth": "1988-02-29",
        "nationality": "MEX", "passport_number": "G12345678901",
        "residence_card": {"number": "TRC0999001", "kind": "temporary", "issued_on": "2025-03-01", "expires_on": "2028-02-29"},
        "address": long_address(), "phone": "0987654321", "email": "maria.villanueva@example.com",
        "reception_point": "hn-ba-dinh-police"
    });
    let node = e2e::Issuer::start_with(&dir.path().join("data"), &registry, "127.0.0.1:0", &[])?;
    let http = node.http();
    let officer = e2e::officer_token(&http, node.admin_token.as_deref().unwrap_or_default())?;
    let offer = e2e::enroll(&http, &officer, &form)?;
    let wallet = dir.path().join("wallet");
    let w = wallet.to_string_lossy().into_owned();
    e2e::run_ok("wallet-sim", &["--home", &w, "init"])?;
    e2e::run_ok("wallet-sim", &["--home", &w, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    for (purpose, max) in [("landlord", 13), ("bank", 15), ("residence-office", 20)] {
        let png = dir.path().join(format!("{purpose}.png"));
        e2e::run_ok("wallet-sim", &["--home", &w, "present", "--purpose", purpose, "--png", &png.to_string_lossy()])?;
        let d: Value = serde_json::from_str(&e2e::interop("decode_qr.py", &[&png])?)?;
        let version: u32 = d["version"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .or(d["version"].as_u64().map(|v| v as u32))
            .unwrap_or(99);
        eprintln!("{purpose}: QR version {version} ({} characters)", d["text"].as_str().map_or(0, str::len));
        assert!(version <= max, "{purpose} QR is version {version}, over {max}");
        assert_eq!(d["ec_level"].as_str(), Some("M"), "{d}");
        assert!(d["text"].as_str().is_some_and(|t| t.starts_with("VN1:")));
    }
    // The shortened landlord credential still verifies, and says the name was shortened.
    let bundle = dir.path().join("landlord.bundle");
    e2e::run_ok(
        "verifier",
        &["sync", "--issuer", &node.url, "--root-key", &node.root_key, "--out", &bundle.to_string_lossy()],
    )?;
    let png = dir.path().join("landlord.png");
    e2e::run_ok("wallet-sim", &["--home", &w, "present", "--purpose", "landlord", "--png", &png.to_string_lossy()])?;
    let out = e2e::run_ok(
        "verifier",
        &[
            "verify",
            "--bundle",
            &bundle.to_string_lossy(),
            "--png",
            &png.to_string_lossy(),
            "--purpose",
            "landlord",
            "--json",
        ],
    )?;
    let v: Value = serde_json::from_str(&out)?;
    assert_eq!(v["outcome"], "valid", "{v}");
    assert!(v.to_string().contains("shortened"), "the verifier is not told the name was shortened: {v}");
    Ok(())
}
