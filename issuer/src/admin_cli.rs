//! `issuer reissue`: the admin's command for re-issuance after a compromise. It starts (or
//! resumes) the re-issuance of a revoked key's credentials on a running issuer
//! (`POST /v1/admin/keys/{kid}/reissue`) and follows its progress resource with a progress bar on
//! the terminal until it finishes. Interrupting the command (or the node) loses nothing: run it
//! again and it resumes, re-offering nobody twice.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use serde_json::Value;
use zeroize::Zeroizing;

/// The environment variable the admin token is read from when no file is named.
pub const ADMIN_TOKEN_ENV: &str = "VNEID_ADMIN_TOKEN";
const BAR: usize = 30;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every credential is dealt with and every notice sent.
    Finished,
    /// The issuer stopped it before the end (notices it could not send): run again.
    Interrupted,
}

fn bar(p: &Value) -> String {
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    let (total, done) = (n("total"), n("done"));
    let filled = if total == 0 { BAR } else { (done.min(total) as usize * BAR) / total as usize };
    format!(
        "[{}{}] {done}/{total} (re-offered {}, skipped {}, notices pending {}) {}",
        "#".repeat(filled),
        "-".repeat(BAR - filled),
        n("offered"),
        n("skipped"),
        n("notices_pending"),
        p["state"].as_str().unwrap_or("?")
    )
}

fn answer(r: Result<ureq::Response, ureq::Error>, what: &str) -> anyhow::Result<Value> {
    match r {
        Ok(resp) => Ok(resp.into_json()?),
        Err(ureq::Error::Status(code, resp)) => {
            let body: Value = resp.into_json().unwrap_or(Value::Null);
            bail!("{what}: HTTP {code} {}", body["error"].as_str().unwrap_or(""))
        }
        Err(e) => Err(anyhow!("{what}: {e} (the node may be down: run the command again once it is up)")),
    }
}

/// Starts or resumes the re-issuance of `kid` on the issuer at `base` and follows it, drawing a
/// progress bar on stderr (a line per change when stderr is not a terminal).
pub fn reissue(base: &str, kid: &str, token: &Zeroizing<String>, poll: Duration) -> anyhow::Result<Ended> {
    let base = base.trim_end_matches('/');
    let url = format!("{base}/v1/admin/keys/{kid}/reissue");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let auth = format!("Bearer {}", token.as_str());
    let mut p = answer(agent.post(&url).set("Authorization", &auth).send_string(""), "starting the re-issuance")
        .context("POST /v1/admin/keys/{kid}/reissue")?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last = String::new();
    let mut err = std::io::stderr();
    loop {
        let line = bar(&p);
        if line != last {
            if tty {
                let _ = write!(err, "\r{line}\x1b[K");
            } else {
                let _ = writeln!(err, "{line}");
            }
            let _ = err.flush();
            last = line;
        }
        match p["state"].as_str() {
            Some("finished") => {
                if tty {
                    let _ = writeln!(err);
                }
                return Ok(Ended::Finished);
            }
            Some("interrupted") => {
                if tty {
                    let _ = writeln!(err);
                }
                return Ok(Ended::Interrupted);
            }
            _ => {}
        }
        std::thread::sleep(poll);
        p = answer(agent.get(&url).set("Authorization", &auth).call(), "reading the progress")?;
    }
}
