//! `demo --out DIR`: runs the whole journey with the real binaries and leaves its artefacts in
//! DIR: landlord.png and landlord.txt (the QR and its text), bundle (what `verifier sync` wrote),
//! credential.sd-jwt (the SD-JWT VC as issued) and issuer-jwks.json (the issuer's public keys).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "demo", about = "Run the apply → approve → receive → present → verify journey")]
struct Args {
    #[arg(long, default_value = "./demo-out")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match demo(&args.out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn demo(out: &std::path::Path) -> anyhow::Result<()> {
    if out.join("issuer-data").exists() {
        anyhow::bail!("{} already holds a demo; choose an empty folder", out.display());
    }
    let j = e2e::journey(out)?;
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
    println!("artefacts in {}: landlord.png landlord.txt bundle credential.sd-jwt issuer-jwks.json", out.display());
    drop(j);
    Ok(())
}
