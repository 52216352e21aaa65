//! A throwaway SoftHSM2 token for an end-to-end test, made by `scripts/softhsm-token` (which
//! installs SoftHSM2 when it is missing). There is no skipping: without SoftHSM2 this fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

/// A token in its own folder: the issuer reaches it through `SOFTHSM2_CONF`.
#[derive(Debug)]
pub struct Token {
    /// `SOFTHSM2_CONF` for the processes that use the token.
    pub conf: String,
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token's label.
    pub label: String,
    /// The user PIN (throwaway; printed by the script).
    pub pin: String,
    /// A 0600 file holding the PIN, for `--hsm-pin-file`.
    pub pin_file: PathBuf,
}

impl Token {
    /// Makes a token in `dir` (created).
    pub fn create(dir: &Path, label: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let out = Command::new("bash")
            .arg(crate::workspace().join("scripts/softhsm-token"))
            .arg(dir)
            .env("VNEID_HSM_TOKEN", label)
            .env_remove("VNEID_HSM_PIN")
            .env_remove("VNEID_HSM_SO_PIN")
            .output()
            .context("running scripts/softhsm-token")?;
        if !out.status.success() {
            bail!("SoftHSM2 is required and scripts/softhsm-token failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let stdout = String::from_utf8(out.stdout)?;
        let var = |name: &str| -> Result<String> {
            let v = stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .with_context(|| format!("{name} missing from the script's output"))?;
            Ok(v.trim_matches('\'').to_owned())
        };
        let pin = var("VNEID_HSM_PIN")?;
        let pin_file = dir.join("user-pin");
        std::fs::write(&pin_file, &pin)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self {
            conf: var("SOFTHSM2_CONF")?,
            module: PathBuf::from(var("VNEID_HSM_MODULE")?),
            label: var("VNEID_HSM_TOKEN")?,
            pin,
            pin_file,
        })
    }

    /// The `issuer serve` arguments that put its signing keys on this token.
    pub fn issuer_args(&self) -> Vec<String> {
        vec![
            "--hsm-module".into(),
            self.module.to_string_lossy().into_owned(),
            "--hsm-token".into(),
            self.label.clone(),
            "--hsm-pin-file".into(),
            self.pin_file.to_string_lossy().into_owned(),
        ]
    }
}
