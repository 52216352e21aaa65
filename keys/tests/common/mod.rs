//! A throwaway SoftHSM2 token for the tests of one process, made by `scripts/softhsm-token`
//! (which installs SoftHSM2 when it is missing). No skipping: without SoftHSM2 this panics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The token: module path, label, user PIN, and the SoftHSM2 configuration in a temporary folder.
pub struct Hsm {
    _dir: tempfile::TempDir,
    pub module: PathBuf,
    pub token: String,
    pub pin: String,
    pub conf: String,
}

pub fn hsm() -> &'static Hsm {
    static HSM: OnceLock<Hsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/softhsm-token");
        let out = Command::new("bash")
            .arg(script)
            .arg(dir.path())
            // Each process its own label, so that a leaked SOFTHSM2_CONF cannot mix tokens up.
            .env("VNEID_HSM_TOKEN", format!("vneid-test-{}", std::process::id()))
            .env_remove("VNEID_HSM_PIN")
            .env_remove("VNEID_HSM_SO_PIN")
            .output()
            .expect("running scripts/softhsm-token");
        assert!(
            out.status.success(),
            "SoftHSM2 is required for these tests and scripts/softhsm-token failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} missing from the script's output:\n{stdout}"))
                .to_owned()
        };
        let conf = var("SOFTHSM2_CONF");
        // SoftHSM2 reads its configuration at C_Initialize, which has not happened yet in this
        // process: every test goes through this function first.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        Hsm {
            module: PathBuf::from(var("VNEID_HSM_MODULE")),
            token: var("VNEID_HSM_TOKEN"),
            pin: var("VNEID_HSM_PIN"),
            conf,
            _dir: dir,
        }
    })
}
