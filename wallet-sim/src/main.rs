//! `wallet-sim`: the holder's wallet on the command line. Parses arguments, reads the clock,
//! calls the library, prints, and turns errors into exit codes: 0 ok, 1 operation failed,
//! 2 usage or unreadable file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use verifier::Purpose;
use wallet_sim::store::{write_atomic, Replace};
use wallet_sim::{issuance, Challenge, PresentOptions, Wallet};

#[derive(Debug, Parser)]
#[command(
    name = "wallet-sim",
    version,
    about = "Simulated holder wallet: device key, credentials, holder-bound QR presentations"
)]
struct Cli {
    /// The wallet folder (device key and credentials).
    #[arg(long, env = "WALLET_HOME", global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create the device key if there is none; print its public key (base64url).
    Init,
    /// Receive credentials from an OpenID4VCI 1.0 credential offer (pre-authorized code flow).
    Receive {
        /// openid-credential-offer://?credential_offer=…
        offer_uri: String,
        /// The transaction code sent to you by SMS or e-mail (or given by the officer), when the
        /// offer asks for one.
        #[arg(long, env = "WALLET_TX_CODE", value_name = "CODE")]
        tx_code: Option<String>,
    },
    /// List the stored credentials: issuer, time received, per purpose expiry and claim names.
    Show {
        /// Print everything, claim values included, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a presentation for a purpose and draw it as a QR code.
    Present {
        /// landlord, bank or residence-office.
        #[arg(long)]
        purpose: Purpose,
        /// Write a PNG (8 px modules, 4-module quiet zone).
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Write an SVG.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Write the QR text with a newline; `-` for standard output.
        #[arg(long, value_name = "FILE")]
        text: Option<PathBuf>,
        /// Seconds the presentation stays valid.
        #[arg(long, value_name = "SECS", default_value_t = verifier::build::qr::DEFAULT_WINDOW, value_parser = clap::value_parser!(u64).range(1..))]
        window: u64,
        /// The verifier's challenge, hex (at most 64 bytes).
        #[arg(long, value_name = "HEX", value_parser = wallet_sim::parse_challenge)]
        challenge: Option<Challenge>,
        /// Presentation time, RFC 3339 (default: now).
        #[arg(long, value_name = "RFC3339", value_parser = wallet_sim::parse_time)]
        at: Option<u64>,
    },
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Output files (not the store): replaced atomically so a scanner never reads half a PNG.
fn write_output(path: &Path, data: &[u8]) -> Result<(), wallet_sim::Error> {
    write_atomic(path, data, 0o644, Replace::Always)
        .map_err(|source| wallet_sim::Error::Write { path: path.into(), source })
}

fn run(cli: Cli) -> Result<(), wallet_sim::Error> {
    let home = cli.home.ok_or_else(|| wallet_sim::Error::InvalidArgument {
        what: "wallet folder",
        detail: "give --home DIR or set WALLET_HOME".into(),
    })?;
    let wallet = Wallet::new(home);
    let stdout = &mut std::io::stdout().lock();
    match cli.cmd {
        Cmd::Init => {
            let (key, created) = wallet.init()?;
            let what = if created { "created a device key" } else { "device key already exists" };
            eprintln!("{what} in {}", wallet.key_path().display());
            let _ = writeln!(stdout, "{}", key.public());
        }
        Cmd::Receive { offer_uri, tx_code } => {
            let set = issuance::receive(&wallet, &offer_uri, tx_code.as_deref(), now())?;
            let _ = writeln!(stdout, "received credentials from {}", set.issuer());
            for (purpose, q) in set.qr_all() {
                let _ = writeln!(stdout, "  {purpose}: expires {}", wallet_sim::present::format_time(q.expires_at()));
            }
            eprintln!("replaced the credential set in {}", wallet.credentials_path().display());
        }
        Cmd::Show { json } => match wallet.show()? {
            None if json => {
                let _ = writeln!(stdout, "null");
            }
            None => {
                let _ = writeln!(stdout, "no credentials: run `wallet-sim receive OFFER_URI`");
            }
            Some(s) if json => {
                let _ = writeln!(stdout, "{:#}", s.json());
            }
            Some(s) => {
                let _ = write!(stdout, "{}", s.text());
            }
        },
        Cmd::Present { purpose, png, svg, text, window, challenge, at } => {
            let opts = PresentOptions {
                purpose,
                at: at.unwrap_or_else(now),
                window,
                challenge: challenge.unwrap_or_default(),
            };
            let p = wallet.present(&opts)?;
            if let Some(f) = &png {
                write_output(f, &p.qr.png()?)?;
            }
            if let Some(f) = &svg {
                write_output(f, p.qr.svg().as_bytes())?;
            }
            match &text {
                Some(f) if f.as_os_str() == "-" => {
                    let _ = writeln!(stdout, "{}", p.text);
                }
                Some(f) => write_output(f, format!("{}\n", p.text).as_bytes())?,
                None => {}
            }
            if png.is_none() && svg.is_none() && text.is_none() {
                let _ = writeln!(stdout, "{}", p.qr.terminal());
            }
            eprintln!("{}", p.summary());
        }
    }
    stdout.flush().map_err(|source| wallet_sim::Error::Write { path: "<stdout>".into(), source })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wallet-sim: error: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}
