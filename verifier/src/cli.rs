//! The `verifier` command-line tool: the I/O edge around the pure library.
//!
//! Everything the library refuses to do lives here: reading files and stdin, decoding a QR image,
//! fetching the trust list and status lists over HTTP(S), reading the system clock and writing
//! the bundle. The library decides; this module only gathers its inputs and prints its verdict.
//!
//! Exit codes, the contract scripts rely on:
//! - `0`: valid, warnings included (`verify`), synced (`sync`), decoded (`inspect`);
//! - `1`: the presented proof is invalid, malformed content included (`verify`, `inspect`);
//! - `3`: cannot decide (`verify`): the bundle is too old, or lacks the status list, to judge
//!   this proof. Nothing was said against the holder; sync and verify again;
//! - `2`: the command could not do its job: usage error, unreadable file or image, unusable
//!   bundle, failed or refused sync. Nothing was judged, so nothing may be read as "invalid".
//!
//! `verify --json` prints exactly one JSON object on stdout in every case, errors included.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use verifier::build::bundle::MAX_LEN as MAX_BUNDLE;
use verifier::build::qr as wire;
use verifier::{inspect_qr, Bundle, Claim, Error as TrustError, KeyId, KeyState, Outcome, PersonClaims, Policy};
use verifier::{PublicKey, Purpose, QrCheck, Reason, Rejection, TrustList, TrustStore, Undecided, UnverifiedQr};
use verifier::{VerifiedQr, Warning};

/// Where the issuer publishes its signed trust list, relative to its base URL.
const TRUST_LIST_PATH: &str = "/.well-known/vneid-trust-list";
/// Network timeout per request (connect, and the whole exchange).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest QR text file read: ten times what a QR code can hold. Text beyond it is malformed
/// content (exit 1) like any other oversized proof, found without reading all of it.
const MAX_TEXT_FILE: usize = 10 * wire::MAX_TEXT;
/// Largest PNG file read, and the decoded image's bounds: a phone photo of 16 megapixels
/// (4096x4096, or 5460x3070) at most.
const MAX_PNG_FILE: usize = 32 << 20;
const MAX_PNG_SIDE: u32 = 8192;
const MAX_PNG_PIXELS: u64 = 16 << 20;
const MAX_PNG_ALLOC: u64 = 160 << 20;
/// QR codes are looked for in a copy of the picture at most this many pixels on a side first:
/// a version 20 code a quarter as wide as a 4000-pixel photo keeps 3 pixels per module.
const DETECT_SIDE: u32 = 1280;
/// Everything `verify` does with a picture, decoding included, ends this soon after the
/// command starts, so that it answers within a second on any input.
const IMAGE_TIME: Duration = Duration::from_millis(700);
/// A root key file holds one 43-character key; anything much larger is not one.
const MAX_KEY_FILE: usize = 4096;
/// The library's bound on a verifier challenge (`QrCheck::challenge`).
const MAX_CHALLENGE: usize = wire::MAX_CHALLENGE;

/// Offline verifier of level-2 e-ID QR proofs.
///
/// `sync` fetches the issuer's trust material while online; `verify` then needs no network.
#[derive(Debug, Parser)]
#[command(name = "verifier", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch and check the issuer's trust list and status lists, and write the offline bundle.
    Sync(SyncArgs),
    /// Verify a QR proof offline against a bundle. Exit 0 valid (warnings included), 1 invalid,
    /// 3 cannot decide (sync and verify again), 2 error.
    Verify(VerifyArgs),
    /// Show a QR proof's structure WITHOUT verifying anything (for support staff).
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// The issuer's base URL (http or https), or any mirror of it: the trust list is read from
    /// {URL}/.well-known/vneid-trust-list and each status list from the same URL with the path
    /// the trust list gives it. What was fetched is checked against the root key and the URIs
    /// the trust list names, so a mirror (or any node of the issuer) cannot change it.
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// The issuer's root public key, 43 base64url characters, or @FILE to read it from a file.
    /// (Base64url may start with `-`, so the value is never taken for an option.)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    root_key: String,
    /// The bundle file to write (replaced atomically).
    #[arg(long, value_name = "BUNDLE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Source {
    /// A PNG image holding the QR code.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// A file holding the QR text ("VN1:…"), or - for stdin.
    #[arg(long, value_name = "FILE|-")]
    text: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The bundle written by `verifier sync`.
    #[arg(long, value_name = "BUNDLE")]
    bundle: PathBuf,
    #[command(flatten)]
    source: Source,
    /// The kind of verifier: landlord, bank or residence-office. Only credentials issued for
    /// this purpose are accepted, and the kind sets how old a status list may be (landlord 7
    /// days, with a status_stale warning after 1 day; bank and residence-office 24 hours).
    /// Without it any purpose is accepted, with the strictest freshness (24 hours).
    #[arg(long, value_name = "P")]
    purpose: Option<Purpose>,
    /// Oldest status list to decide with, e.g. 7d, 24h, 90m or seconds; overrides the kind's
    /// default. An older list gives "cannot decide" (exit 3), except that revoked stays revoked.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    max_status_age: Option<u64>,
    /// Verify as of this time (RFC 3339) instead of the system clock.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    at: Option<u64>,
    /// The challenge shown to the wallet, in hex (at most 64 bytes).
    #[arg(long, value_name = "HEX", value_parser = parse_challenge)]
    challenge: Option<Challenge>,
    /// Print exactly one JSON object on stdout instead of text, errors included.
    #[arg(long)]
    json: bool,
    /// Also require the bundle to be pinned to this root key (base64url, or @FILE): refuses a
    /// bundle file replaced whole with another root and trust list.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    root_key: Option<String>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    #[command(flatten)]
    source: Source,
}

#[derive(Debug, Clone)]
struct Challenge(Vec<u8>);

/// What a command concluded; errors (exit 2) travel as `Err`, or as `Failed` once reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0.
    Ok,
    /// Exit 1: the proof is invalid or malformed.
    Invalid,
    /// Exit 3: the bundle cannot decide on this proof.
    CannotDecide,
    /// Exit 2: the command failed, and has already said so (on stdout as JSON, and on stderr).
    Failed,
}

impl Verdict {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Invalid => 1,
            Verdict::Failed => 2,
            Verdict::CannotDecide => 3,
        }
    }
}

/// Runs one parsed command. Output goes to stdout; an `Err` is for the caller to print to
/// stderr and turn into exit code 2.
pub fn run(cli: Cli) -> Result<Verdict> {
    match cli.command {
        Command::Sync(a) => sync(&a).map(|()| Verdict::Ok),
        Command::Verify(a) => verify(&a),
        Command::Inspect(a) => inspect(&a),
    }
}

/// A command line clap refused (or `--help`/`--version`). For `verify --json` the refusal is
/// also one JSON object on stdout, as promised. Returns the exit code.
pub fn usage_error(e: &clap::Error, args: &[OsString]) -> u8 {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let wants_json = args.iter().any(|a| a == "--json") && args.iter().any(|a| a == "verify");
    if e.use_stderr() && wants_json {
        let first = e.to_string().lines().next().unwrap_or("usage error").trim_start_matches("error: ").to_owned();
        let report = JsonVerdict::failure("usage", &first, Some("see `verifier verify --help`"));
        let _ = print_json(&report);
    }
    let _ = e.print();
    code
}

// ---------------------------------------------------------------------------------------------
// verify

/// A `verify` that could not judge the proof: a stable code for `--json`, and the error.
struct Failure {
    code: &'static str,
    advice: Option<&'static str>,
    error: anyhow::Error,
}

trait FailWith<T> {
    fn fail_with(self, code: &'static str) -> std::result::Result<T, Failure>;
}

impl<T> FailWith<T> for Result<T> {
    fn fail_with(self, code: &'static str) -> std::result::Result<T, Failure> {
        let advice = match code {
            "usage" => Some("see `verifier verify --help`"),
            "bundle_unreadable" => Some("check the --bundle path, or create the bundle with `verifier sync`"),
            "bundle_unusable" => Some("run `verifier sync` again"),
            "image_unreadable" => Some("give a PNG image of the QR code, or scan it again"),
            "image_too_large" | "image_too_complex" => Some("crop the picture to the QR code, or scan it again"),
            "input_unreadable" => Some("check the --text path"),
            "clock" => Some("set the system clock, or give --at"),
            _ => None,
        };
        self.map_err(|error| Failure { code, advice, error })
    }
}

/// What `verify` found, ready to print.
struct Judged {
    outcome: Outcome<VerifiedQr>,
    policy: Policy,
    synced_at: u64,
}

fn verify(a: &VerifyArgs) -> Result<Verdict> {
    let deadline = Instant::now() + IMAGE_TIME;
    match judge(a, deadline) {
        Ok(j) => {
            if let Outcome::CannotDecide(u) = &j.outcome {
                eprintln!("verifier: hint: {}", u.advice());
            }
            if a.json {
                print_json(&JsonVerdict::new(&j))?;
            } else {
                let mut out = io::stdout().lock();
                write_human(&mut out, &j)?;
                out.flush()?;
            }
            Ok(match j.outcome {
                Outcome::Valid(_) => Verdict::Ok,
                Outcome::Invalid(_) => Verdict::Invalid,
                Outcome::CannotDecide(_) => Verdict::CannotDecide,
            })
        }
        Err(f) if a.json => {
            eprintln!("verifier: error: {:#}", f.error);
            print_json(&JsonVerdict::failure(f.code, &format!("{:#}", f.error), f.advice))?;
            Ok(Verdict::Failed)
        }
        Err(f) => Err(f.error),
    }
}

fn judge(a: &VerifyArgs, deadline: Instant) -> std::result::Result<Judged, Failure> {
    let pinned = a.root_key.as_deref().map(root_key).transpose().fail_with("usage")?;
    let bundle = load_bundle(&a.bundle)?;
    let store = open_bundle(&bundle, &a.bundle, pinned.as_ref())?;
    let now = match a.at {
        Some(t) => t,
        None => system_now().fail_with("clock")?,
    };
    let mut policy = a.purpose.map_or_else(Policy::default, Policy::for_verifier);
    if let Some(age) = a.max_status_age {
        policy = policy.with_max_status_age(age);
    }
    let challenge = a.challenge.as_ref().map_or(&[][..], |c| c.0.as_slice());
    let outcome = match read_qr(&a.source, deadline)? {
        Ok(text) => store.verify_qr(&text, &QrCheck { purpose: a.purpose, now, challenge, policy }),
        Err(r) => Outcome::Invalid(r),
    };
    Ok(Judged { outcome, policy, synced_at: bundle.synced_at })
}

fn print_json(v: &JsonVerdict<'_>) -> Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// The `--json` output: one object, the same keys whatever the outcome.
#[derive(Serialize)]
struct JsonVerdict<'a> {
    /// `valid`, `invalid`, `cannot_decide` or `error`.
    outcome: &'static str,
    valid: bool,
    reason: Option<&'static str>,
    detail: Option<String>,
    /// What to do, for `cannot_decide` and `error`.
    advice: Option<&'static str>,
    warnings: Vec<&'static str>,
    purpose: Option<Purpose>,
    kid: Option<&'a KeyId>,
    claims: Option<&'a PersonClaims>,
    issued_at: Option<u64>,
    expires_at: Option<u64>,
    presented_at: Option<u64>,
    /// Seconds since the issuer signed the status list that decided, when one did.
    status_list_age: Option<u64>,
    /// The status list age this verifier accepts, seconds.
    max_status_age: Option<u64>,
    bundle_synced_at: Option<u64>,
}

impl<'a> JsonVerdict<'a> {
    fn new(j: &'a Judged) -> Self {
        let base = Self {
            outcome: j.outcome.code(),
            max_status_age: Some(j.policy.max_status_age),
            bundle_synced_at: Some(j.synced_at),
            ..Self::blank()
        };
        match &j.outcome {
            Outcome::Valid(v) => Self {
                valid: true,
                warnings: v.warnings.iter().map(|w| w.code()).collect(),
                purpose: Some(v.purpose),
                kid: Some(&v.kid),
                claims: Some(&v.claims),
                issued_at: Some(v.issued_at),
                expires_at: Some(v.expires_at),
                presented_at: Some(v.presented_at),
                status_list_age: v.status_list_age,
                ..base
            },
            Outcome::Invalid(r) => Self {
                reason: Some(r.reason.code()),
                detail: Some(r.detail.to_owned()),
                purpose: r.purpose,
                kid: r.kid.as_ref(),
                status_list_age: r.status_list_age,
                ..base
            },
            Outcome::CannotDecide(u) => Self {
                reason: Some(u.reason.code()),
                detail: Some(u.detail.to_owned()),
                advice: Some(u.advice()),
                purpose: u.purpose,
                kid: u.kid.as_ref(),
                status_list_age: u.status_list_age,
                ..base
            },
        }
    }

    fn failure(code: &'static str, detail: &str, advice: Option<&'static str>) -> Self {
        Self { outcome: "error", reason: Some(code), detail: Some(detail.to_owned()), advice, ..Self::blank() }
    }

    fn blank() -> Self {
        Self {
            outcome: "error",
            valid: false,
            reason: None,
            detail: None,
            advice: None,
            warnings: Vec::new(),
            purpose: None,
            kid: None,
            claims: None,
            issued_at: None,
            expires_at: None,
            presented_at: None,
            status_list_age: None,
            max_status_age: None,
            bundle_synced_at: None,
        }
    }
}

fn write_human(out: &mut impl Write, j: &Judged) -> Result<()> {
    match &j.outcome {
        Outcome::Valid(v) => {
            writeln!(
                out,
                "VALID purpose={} kid={} issued={} expires={}",
                v.purpose,
                v.kid,
                rfc3339(v.issued_at),
                rfc3339(v.expires_at)
            )?;
            for w in &v.warnings {
                let why = match w {
                    Warning::StatusStale => format!(
                        "the status list is {} old: a revocation since then would not show; sync soon",
                        v.status_list_age.map_or_else(|| "too".to_owned(), human_age)
                    ),
                    Warning::TrustListDue => "the trust list is due for an update; sync soon".to_owned(),
                    _ => "sync soon".to_owned(),
                };
                writeln!(out, "warning: {w}: {why}")?;
            }
            let claims = serde_json::to_value(&v.claims)?;
            for c in Claim::ALL {
                let value = match claims.get(c.name()) {
                    Some(serde_json::Value::String(s)) => printable(s),
                    Some(other) => other.to_string(),
                    None => continue,
                };
                writeln!(out, "{}: {value}", c.name())?;
            }
        }
        Outcome::Invalid(r) => writeln!(out, "INVALID reason={} ({})", r.reason.code(), r.detail)?,
        Outcome::CannotDecide(u) => write_undecided(out, u, &j.policy)?,
    }
    Ok(())
}

fn write_undecided(out: &mut impl Write, u: &Undecided, policy: &Policy) -> Result<()> {
    let age = match u.status_list_age {
        Some(age) => {
            format!("; status list {} old, this verifier accepts {}", human_age(age), human_age(policy.max_status_age))
        }
        None => String::new(),
    };
    writeln!(out, "CANNOT DECIDE reason={} ({}{age})", u.reason.code(), u.detail)?;
    writeln!(out, "what to do: {}", u.advice())?;
    Ok(())
}

/// `259200` → `3 days`; the largest whole unit.
fn human_age(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3600 => (s / 3600, "hours"),
        s if s >= 120 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{n} {unit}")
}

fn load_bundle(path: &Path) -> std::result::Result<Bundle, Failure> {
    let bytes = read_bounded(path, MAX_BUNDLE)
        .with_context(|| format!("cannot read bundle {}", path.display()))
        .fail_with("bundle_unreadable")?;
    Bundle::from_json(&bytes)
        .with_context(|| format!("unusable bundle {} (run `verifier sync` again)", path.display()))
        .fail_with("bundle_unusable")
}

fn open_bundle(bundle: &Bundle, path: &Path, pinned: Option<&PublicKey>) -> std::result::Result<TrustStore, Failure> {
    let opened = match pinned {
        Some(root) => bundle.open_pinned(root),
        None => bundle.open(),
    };
    match opened {
        Ok(store) => Ok(store),
        Err(TrustError::RootKeyMismatch) => Err(Failure {
            code: "root_key_mismatch",
            advice: Some("sync a bundle from your own issuer with `verifier sync --root-key KEY`, then verify again"),
            error: anyhow!(
                "bundle {} is pinned to root key {}, not to the root key given with --root-key ({}): it was \
                 synced from another issuer, or replaced; sync a bundle from your issuer with \
                 `verifier sync --issuer URL --root-key {} --out {}`",
                path.display(),
                bundle.root_key,
                pinned.map(ToString::to_string).unwrap_or_default(),
                pinned.map(ToString::to_string).unwrap_or_default(),
                path.display()
            ),
        }),
        Err(e) => Err(Failure {
            code: "bundle_unusable",
            advice: Some("run `verifier sync` again"),
            error: anyhow!(e).context(format!("unusable bundle {} (run `verifier sync` again)", path.display())),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// inspect

fn inspect(a: &InspectArgs) -> Result<Verdict> {
    let text = read_qr(&a.source, Instant::now() + IMAGE_TIME).map_err(|f| f.error)?;
    let mut out = io::stdout().lock();
    let parsed = text.and_then(|text| inspect_qr(&text).map(|q| describe(&q)));
    match parsed {
        Ok(lines) => {
            for l in lines {
                writeln!(out, "{l}")?;
            }
            out.flush()?;
            Ok(Verdict::Ok)
        }
        Err(r) => {
            writeln!(out, "UNVERIFIED MALFORMED reason={} ({})", r.reason.code(), r.detail)?;
            out.flush()?;
            Ok(Verdict::Invalid)
        }
    }
}

/// The structure of a presentation, claim names but never their values: nothing here is
/// verified, and support staff need the shape, not the person.
fn describe(q: &UnverifiedQr) -> Vec<String> {
    let c = &q.credential;
    let claims: Vec<&str> = c.claims.present().into_iter().map(Claim::name).collect();
    let shortened: Vec<&str> = c.claims.shortened.iter().map(|c| c.name()).collect();
    vec![
        "UNVERIFIED: structure only; no signature, key, time or status has been checked".into(),
        format!("text: {} characters, {} bytes after base45", q.text_len, q.presentation_len),
        format!("credential: COSE_Sign1 {} bytes, payload {} bytes", q.credential_len, q.payload_len),
        format!("kid: {}", q.kid),
        format!("purpose: {}", c.purpose),
        format!("level: {}", c.level),
        format!("issued: {} ({})", rfc3339(c.issued_at), c.issued_at),
        format!("expires: {} ({})", rfc3339(c.expires_at), c.expires_at),
        format!("presented: {} (t={}) window d={}s", rfc3339(q.presented_at), q.presented_at, q.window),
        format!("holder_key: {}", c.holder),
        match c.status {
            Some(s) => format!("status: list={} idx={}", s.list, s.idx),
            None => "status: none".into(),
        },
        format!("claims ({}): {}", claims.len(), claims.join(", ")),
        format!("shortened to fit the QR: {}", if shortened.is_empty() { "none".into() } else { shortened.join(", ") }),
    ]
}

// ---------------------------------------------------------------------------------------------
// reading the QR

/// The QR text from a file, stdin or an image. `Err` when the input cannot be read at all
/// (exit 2); `Ok(Err)` when it was read but holds no QR proof text (malformed, exit 1).
fn read_qr(src: &Source, deadline: Instant) -> std::result::Result<std::result::Result<String, Rejection>, Failure> {
    match (&src.png, &src.text) {
        (Some(png), _) => read_png(png, deadline),
        (None, Some(text)) => read_text(text).fail_with("input_unreadable"),
        // clap's group makes exactly one of them required.
        (None, None) => Err(anyhow!("give --png FILE or --text FILE|-")).fail_with("usage"),
    }
}

fn read_text(path: &Path) -> Result<Result<String, Rejection>> {
    let bytes = if path.as_os_str() == "-" {
        let mut b = Vec::new();
        io::stdin().lock().take(MAX_TEXT_FILE as u64 + 1).read_to_end(&mut b).context("cannot read stdin")?;
        b
    } else {
        read_bounded_lenient(path, MAX_TEXT_FILE).with_context(|| format!("cannot read {}", path.display()))?
    };
    if bytes.len() > MAX_TEXT_FILE {
        return Ok(Err(Rejection::new(Reason::Malformed, "QR text too long")));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Err(Rejection::new(Reason::Malformed, "QR text is not UTF-8")));
    };
    // Only line ends: a space is a base45 digit.
    Ok(Ok(text.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Reads the QR code in a PNG image, within bounds whatever the picture: at most
/// [`MAX_PNG_PIXELS`] decoded, found in a copy downscaled to [`DETECT_SIDE`] first, and all of
/// it (PNG decoding included) within [`IMAGE_TIME`], after which the picture is reported as too
/// busy to read (exit 2: the proof was not judged). A hostile picture (thousands of finder
/// patterns, a decompression bomb) costs the verifier under a second, not minutes.
fn read_png(path: &Path, deadline: Instant) -> std::result::Result<std::result::Result<String, Rejection>, Failure> {
    let bytes: std::sync::Arc<[u8]> = read_bounded(path, MAX_PNG_FILE)
        .with_context(|| format!("cannot read {}", path.display()))
        .fail_with("image_unreadable")?
        .into();
    let reader = || {
        let mut r = image::ImageReader::with_format(io::Cursor::new(bytes.clone()), image::ImageFormat::Png);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_PNG_SIDE);
        limits.max_image_height = Some(MAX_PNG_SIDE);
        limits.max_alloc = Some(MAX_PNG_ALLOC);
        r.limits(limits);
        r
    };
    let not_png = |e: image::ImageError| anyhow!(e).context(format!("cannot read {} as a PNG image", path.display()));
    let (w, h) = reader().into_dimensions().map_err(not_png).fail_with("image_unreadable")?;
    if u64::from(w) * u64::from(h) > MAX_PNG_PIXELS {
        return Err(anyhow!(
            "{} is {w}x{h} pixels, more than the {} megapixels read: crop it to the QR code, or scan again",
            path.display(),
            MAX_PNG_PIXELS >> 20
        ))
        .fail_with("image_too_large");
    }
    // The picture is decoded and searched on another thread, so that the answer comes on time
    // whatever it costs; the thread dies with the process. rqrr is a third-party decoder fed an
    // untrusted picture: should it panic, that is a picture we cannot read, not a crash.
    let (tx, rx) = std::sync::mpsc::channel();
    let work = reader();
    std::thread::spawn(move || {
        let result = work.decode().map(|img| find_qr_texts(img.into_luma8(), deadline));
        let _ = tx.send(result);
    });
    let texts = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(texts)) => texts,
        Ok(Err(e)) => return Err(not_png(e)).fail_with("image_unreadable"),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            return Err(anyhow!(
                "no QR code found in {} ({w}x{h} pixels) within {} ms: the picture is too large or too busy; \
                 crop it to the QR code, or scan again",
                path.display(),
                IMAGE_TIME.as_millis()
            ))
            .fail_with("image_too_complex")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            return Ok(Err(Rejection::new(Reason::Malformed, "the QR decoder failed on this image")))
        }
    };
    // Several codes in one picture: prefer the one that looks like our proof.
    let best = texts.iter().position(|t| t.starts_with(wire::PREFIX)).unwrap_or(0);
    Ok(texts.into_iter().nth(best).ok_or(Rejection::new(Reason::Malformed, "no readable QR code in the image")))
}

/// The texts of the QR codes found, trying the cheapest views first: the picture downscaled to
/// [`DETECT_SIDE`], then inverted (a dark-mode screenshot), then, time permitting, full size.
fn find_qr_texts(luma: image::GrayImage, deadline: Instant) -> Vec<String> {
    let (w, h) = luma.dimensions();
    let small = (w.max(h) > DETECT_SIDE).then(|| {
        let scale = f64::from(DETECT_SIDE) / f64::from(w.max(h));
        // Rounded down, at least 1: both fit in u32 since scale < 1.
        let side = |n: u32| ((f64::from(n) * scale) as u32).max(1);
        // DynamicImage's own method: compiled (and optimized) in the image crate.
        image::DynamicImage::ImageLuma8(luma.clone()).thumbnail(side(w), side(h)).into_luma8()
    });
    let mut views: Vec<(image::GrayImage, bool)> = Vec::new();
    if let Some(small) = small {
        views.push((small.clone(), false));
        views.push((small, true));
    }
    views.push((luma.clone(), false));
    views.push((luma, true));
    for (mut view, invert) in views {
        if Instant::now() >= deadline {
            break;
        }
        if invert {
            let mut d = image::DynamicImage::ImageLuma8(view);
            d.invert();
            view = d.into_luma8();
        }
        let texts = decode_grids(view);
        if !texts.is_empty() {
            return texts;
        }
    }
    Vec::new()
}

fn decode_grids(luma: image::GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(luma);
    prepared.detect_grids().into_iter().filter_map(|g| g.decode().ok()).map(|(_, text)| text).collect()
}

// ---------------------------------------------------------------------------------------------
// sync

fn sync(a: &SyncArgs) -> Result<()> {
    let root = root_key(&a.root_key)?;
    let base = a.issuer.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!("--issuer must be an http:// or https:// URL");
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(HTTP_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
        .user_agent(concat!("vneid-verifier/", env!("CARGO_PKG_VERSION")))
        .build();

    let url = format!("{base}{TRUST_LIST_PATH}");
    let jws = fetch(&agent, &url)?;
    let list = TrustList::verify(&jws, &root).with_context(|| format!("refusing the trust list from {url}"))?;
    refuse_rollback(&a.out, &root, &list)?;

    let now = system_now()?;
    if now > list.next_update {
        eprintln!("verifier: warning: the served trust list is past its next_update ({})", rfc3339(list.next_update));
    }
    let mut store = TrustStore::new(list.clone())?;
    let mut bundle = Bundle::new(root, jws, now);
    // All or nothing: a bundle missing a status list would turn its credentials into
    // `status_unknown`, so a failure keeps the previous bundle whole instead.
    for s in &list.status_lists {
        let token = fetch(&agent, &mirrored(base, &s.uri))?;
        store.add_status_list(s.id, &token).with_context(|| format!("refusing status list {} from {}", s.id, s.uri))?;
        if store.status_list_info(s.id).is_some_and(|l| now > l.expires_at) {
            eprintln!("verifier: warning: status list {} from {} has already expired", s.id, s.uri);
        }
        bundle.status_lists.insert(s.id, token);
    }

    // Write only what `verify` will accept.
    let json = bundle.to_json();
    Bundle::from_json(&json).and_then(|b| b.open()).context("the new bundle does not open")?;
    write_atomic(&a.out, &json)?;

    let count = |st: KeyState| list.keys.iter().filter(|k| k.state == st).count();
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "synced issuer={} seq={} keys=active:{},next:{},retired:{},revoked:{} status_lists={} next_update={} bundle={}",
        printable(&list.issuer),
        list.seq,
        count(KeyState::Active),
        count(KeyState::Next),
        count(KeyState::Retired),
        count(KeyState::Revoked),
        bundle.status_lists.len(),
        rfc3339(list.next_update),
        a.out.display()
    )?;
    out.flush()?;
    Ok(())
}

fn root_key(arg: &str) -> Result<PublicKey> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(file) => {
            let b = read_bounded(Path::new(file), MAX_KEY_FILE)
                .with_context(|| format!("cannot read root key file {file}"))?;
            (String::from_utf8(b).map_err(|_| anyhow!("root key file {file} is not text"))?, format!(" in {file}"))
        }
        None => (arg.to_owned(), String::new()),
    };
    text.trim().parse().map_err(|e| anyhow!("bad root key{from}: {e}"))
}

/// Where to fetch `uri` from a mirror at `base`: the same path and query under `base`. (The token
/// fetched still has to name `uri` itself, which the trust list pins.)
fn mirrored(base: &str, uri: &str) -> String {
    let path = uri.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
    format!("{base}{path}")
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("GET {url}: only http:// and https:// URLs are fetched");
    }
    let resp =
        agent.get(url).set("Accept", "application/jwt, application/statuslist+jwt").call().map_err(|e| match e {
            ureq::Error::Status(code, _) => anyhow!("GET {url}: HTTP status {code}"),
            // ureq's message starts with the URL when it knows it.
            ureq::Error::Transport(t) if t.url().is_some() => anyhow!("GET {t}"),
            ureq::Error::Transport(t) => anyhow!("GET {url}: {t}"),
        })?;
    let mut body = Vec::new();
    resp.into_reader().take(MAX_BUNDLE as u64 + 1).read_to_end(&mut body).with_context(|| format!("GET {url}"))?;
    if body.len() > MAX_BUNDLE {
        bail!("GET {url}: body larger than {MAX_BUNDLE} bytes");
    }
    let body = String::from_utf8(body).map_err(|_| anyhow!("GET {url}: body is not UTF-8"))?;
    Ok(body.trim().to_owned())
}

/// A verifier never goes back to an older trust list: that is how a revoked key would come back.
/// An existing file that is not a bundle, or is pinned to another root, is left alone.
fn refuse_rollback(path: &Path, root: &PublicKey, new: &TrustList) -> Result<()> {
    let bytes = match read_bounded(path, MAX_BUNDLE) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read the existing bundle {}", path.display())),
    };
    let old = Bundle::from_json(&bytes)
        .with_context(|| format!("{} exists and is not a verifier bundle; refusing to overwrite it", path.display()))?;
    if old.root_key != *root {
        bail!("{} is pinned to another root key ({}); remove it first to pin a new root", path.display(), old.root_key);
    }
    match TrustList::verify(&old.trust_list, &old.root_key) {
        Ok(old_list) if old_list.seq > new.seq => bail!(
            "refusing to go back: {} holds trust list seq {} but the issuer served seq {} (rollback)",
            path.display(),
            old_list.seq,
            new.seq
        ),
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("verifier: warning: replacing {}, whose trust list does not verify ({e})", path.display());
            Ok(())
        }
    }
}

/// Temp file in the same directory, fsync, rename, fsync the directory: a reader sees the old
/// bundle or the new one, never half of one, even across a power cut.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{}.{}-{nonce}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// small helpers

/// The system clock, read here and nowhere in the library.
fn system_now() -> Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?.as_secs())
}

/// Reads at most `max` bytes; a larger file is an error.
fn read_bounded(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let b = read_bounded_lenient(path, max)?;
    if b.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("larger than {max} bytes")));
    }
    Ok(b)
}

/// Reads at most `max + 1` bytes, so the caller can tell "too large" apart.
fn read_bounded_lenient(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let mut b = Vec::new();
    fs::File::open(path)?.take(max as u64 + 1).read_to_end(&mut b)?;
    Ok(b)
}

fn rfc3339(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{t}"))
}

/// Signed text is still shown on a terminal: control characters are escaped, not obeyed.
fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))?;
    u64::try_from(t.unix_timestamp()).map_err(|_| "time before 1970".to_owned())
}

/// `7d`, `24h`, `90m`, `3600s` or `3600` (seconds).
fn parse_age(s: &str) -> Result<u64, String> {
    let bad = || format!("not an age: {s:?} (e.g. 7d, 24h, 90m, 3600s or 3600)");
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

fn parse_challenge(s: &str) -> Result<Challenge, String> {
    let nibble = |b: &u8| char::from(*b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = s
        .as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(hi)? << 4 | nibble(lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or("must be an even number of hex digits")?;
    if bytes.len() > MAX_CHALLENGE {
        return Err(format!("at most {MAX_CHALLENGE} bytes"));
    }
    Ok(Challenge(bytes))
}

#[cfg(test)]
mod mirror_tests {
    #[test]
    fn mirrors_keep_the_path() {
        assert_eq!(super::mirrored("http://b:2", "https://issuer.gov.vn/status-lists/3"), "http://b:2/status-lists/3");
        assert_eq!(super::mirrored("http://b:2", "http://a:1/x?y=1"), "http://b:2/x?y=1");
        assert_eq!(super::mirrored("http://b:2", "http://a:1"), "http://b:2/");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_keys_starting_with_a_hyphen_are_values() {
        // About one base64url key in 64 starts with '-'.
        let key = "-KBlyVjZNuuvBguknmcWkR7DECZflb4qtDJA8vvgSto";
        let sync = ["verifier", "sync", "--issuer", "http://127.0.0.1:1", "--root-key", key, "--out", "b"];
        assert!(<Cli as clap::Parser>::try_parse_from(sync).is_ok());
        let verify = ["verifier", "verify", "--bundle", "b", "--text", "t", "--root-key", key];
        assert!(<Cli as clap::Parser>::try_parse_from(verify).is_ok());
    }

    #[test]
    fn challenge_hex() {
        assert_eq!(parse_challenge("00ff10").map(|c| c.0), Ok(vec![0, 255, 16]));
        assert_eq!(parse_challenge("").map(|c| c.0), Ok(vec![]));
        assert!(parse_challenge("0").is_err());
        assert!(parse_challenge("zz").is_err());
        assert!(parse_challenge("é0").is_err());
        assert!(parse_challenge(&"00".repeat(65)).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("2026-05-28T20:26:40Z"), Ok(1_780_000_000));
        assert_eq!(parse_rfc3339("2026-05-29T03:26:40+07:00"), Ok(1_780_000_000));
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(rfc3339(1_780_000_000), "2026-05-28T20:26:40Z");
        assert_eq!(rfc3339(u64::MAX), format!("@{}", u64::MAX));
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400));
        assert_eq!(parse_age("24h"), Ok(86_400));
        assert_eq!(parse_age("90m"), Ok(5400));
        assert_eq!(parse_age("3600s"), Ok(3600));
        assert_eq!(parse_age("3600"), Ok(3600));
        assert_eq!(parse_age("0"), Ok(0));
        for bad in ["", "d", "7w", "-1d", "1.5d", "7 d", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
        assert_eq!(human_age(3 * 86_400 + 5), "3 days");
        assert_eq!(human_age(86_400), "24 hours");
        assert_eq!(human_age(59), "59 seconds");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("KIM\u{1b}[2J\n"), "KIM\\u{1b}[2J\\n");
        assert_eq!(printable("Nguyễn Văn"), "Nguyễn Văn");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
