//! `demo --out DIR`: runs the whole journey with the real binaries and leaves its artefacts in
//! DIR: landlord.png and landlord.txt (the QR and its text), bundle (what `verifier sync` wrote),
//! credential.sd-jwt (the SD-JWT VC as issued), issuer-jwks.json (the issuer's public keys) and
//! issuer.log (the issuer's request log, kept out of the demo's own output).
//!
//! Run through cargo (`cargo run --bin demo`, as the README does), it first has cargo build the
//! `issuer`, `wallet-sim` and `verifier` binaries of its own profile, with the workspace's feature
//! set (a no-op after `cargo build --bins`, or `--release --bins` for `--release`). Run directly,
//! it uses the binaries beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _};
use clap::Parser;

#[derive(Parser)]
#[command(name = "demo", about = "Run the apply → approve → receive → present → verify journey")]
struct Args {
    /// Folder for the artefacts; created if missing.
    #[arg(long, default_value = "./demo-out")]
    out: PathBuf,
    /// Remove what an earlier demo run left in OUT first (only the demo's own files).
    #[arg(long)]
    reset: bool,
}

/// Written first into OUT, so `--reset` only ever removes a folder's demo files.
const MARKER: &str = ".vneid-demo";
/// Everything a demo run writes into OUT.
const ARTEFACTS: &[&str] = &[
    "issuer-data",
    "wallet",
    "bundle",
    "landlord.png",
    "landlord.txt",
    "credential.sd-jwt",
    "issuer-jwks.json",
    "issuer.log",
    MARKER,
];
const BINARIES: [&str; 3] = ["issuer", "wallet-sim", "verifier"];

fn main() -> ExitCode {
    let args = Args::parse();
    match demo(&args.out, args.reset) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn demo(out: &Path, reset: bool) -> anyhow::Result<()> {
    prepare_out(out, reset)?;
    ensure_binaries()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join(MARKER), "written by the demo binary; `demo --reset` removes this folder's demo files\n")
        .with_context(|| format!("writing {}", out.join(MARKER).display()))?;
    let log = out.join("issuer.log");
    let j = e2e::journey_logging(out, Some(&log)).with_context(|| format!("issuer log: {}", log.display()))?;
    let verdict = e2e::run_ok(
        "verifier",
        &[
            "verify",
            "--bundle",
            &j.bundle.to_string_lossy(),
            "--png",
            &j.png.to_string_lossy(),
            "--purpose",
            "landlord",
        ],
    )?;
    println!("{verdict}");
    println!(
        "artefacts in {}: landlord.png landlord.txt bundle credential.sd-jwt issuer-jwks.json (issuer log: issuer.log)",
        out.display()
    );
    drop(j);
    Ok(())
}

/// Refuses a folder that holds another run's files, unless `--reset` and the demo wrote them.
fn prepare_out(out: &Path, reset: bool) -> anyhow::Result<()> {
    let present: Vec<&str> = ARTEFACTS.iter().copied().filter(|a| out.join(a).symlink_metadata().is_ok()).collect();
    if present.is_empty() {
        return Ok(());
    }
    if !out.join(MARKER).exists() {
        bail!(
            "{} holds files the demo did not write ({}); choose another --out or an empty folder",
            out.display(),
            present.join(", ")
        );
    }
    if !reset {
        bail!("{} already holds a demo run: add --reset to replace it, or choose another --out", out.display());
    }
    for a in present {
        let p = out.join(a);
        let removed =
            if p.symlink_metadata()?.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        removed.with_context(|| format!("removing {}", p.display()))?;
    }
    Ok(())
}

/// Under cargo, builds the binaries of this executable's profile (cargo's own check keeps it
/// quick when they are fresh); otherwise requires them beside this executable.
fn ensure_binaries() -> anyhow::Result<()> {
    let dir = e2e::bin_dir()?;
    let missing: Vec<&str> = BINARIES.iter().copied().filter(|b| !dir.join(b).exists()).collect();
    let Some(cargo) = std::env::var_os("CARGO") else {
        if missing.is_empty() {
            return Ok(());
        }
        bail!(
            "{} not found in {}: build them first (cargo build --release --bins), or run the demo with cargo run",
            missing.join(", "),
            dir.display()
        );
    };
    // Same profile as this executable, and no `-p`: the workspace's default members decide the
    // features, as for `cargo build --release --bins`, so nothing is rebuilt with other features.
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => vec![],
        Some("release") => vec!["--release".to_owned()],
        Some(other) => vec!["--profile".to_owned(), other.to_owned()],
        None => vec![],
    };
    let mut cmd = Command::new(&cargo);
    cmd.arg("build").args(&profile).current_dir(e2e::workspace());
    // `cargo run` describes the running package in the environment; build scripts that watch those
    // variables (ring's watches CARGO_MANIFEST_DIR) would otherwise rerun and rebuild half the tree.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"].iter().any(|p| k.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_RUSTC_CURRENT_DIR", "OUT_DIR"].contains(&k.as_ref())
        {
            cmd.env_remove(&key);
        }
    }
    for b in BINARIES {
        cmd.args(["--bin", b]);
    }
    eprintln!("demo: building {} ({})", BINARIES.join(", "), describe(&cmd));
    let status = cmd.status().with_context(|| format!("running {}", describe(&cmd)))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(&cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    format!("cargo {}", args.join(" "))
}
