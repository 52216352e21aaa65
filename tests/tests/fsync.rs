//! "Acknowledged means durable", checked from outside the process: the issuer runs under
//! `strace`, a client takes 100 applicants one after the other through the whole pipeline (six
//! changes each), and the trace must show, before every successful response, an
//! `fdatasync`/`fsync` that completed after the previous response was written, that is, after
//! this request arrived. `sync_file_range` (a page-cache flush, not durability) must not be what
//! the store relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use anyhow::{bail, Context as _, Result};
use e2e::load::{self, Client, Person};

#[derive(Debug)]
enum Event {
    Sync { done: f64 },
    Response { at: f64 },
}

/// Parses `strace -f -ttt -T` output into completed syncs and successful HTTP responses.
fn events(trace: &str) -> (Vec<Event>, usize) {
    let mut out = Vec::new();
    let mut pending: HashMap<(String, String), f64> = HashMap::new();
    let mut sync_file_range = 0;
    for line in trace.lines() {
        // "PID  SECONDS.MICROS syscall(...) = R <DURATION>" (the PID column is padded).
        let Some((pid, rest)) = line.trim_start().split_once(char::is_whitespace) else { continue };
        let Some((ts, rest)) = rest.trim_start().split_once(' ') else { continue };
        let Ok(ts) = ts.parse::<f64>() else { continue };
        let duration = |l: &str| -> f64 {
            l.rsplit_once('<').and_then(|(_, d)| d.trim_end_matches('>').parse().ok()).unwrap_or(0.0)
        };
        if rest.starts_with("sync_file_range") {
            sync_file_range += 1;
        }
        for call in ["fdatasync", "fsync"] {
            if rest.starts_with(&format!("{call}(")) {
                if rest.contains("<unfinished ...>") {
                    pending.insert((pid.to_owned(), call.to_owned()), ts);
                } else if rest.contains(" = 0 ") {
                    out.push(Event::Sync { done: ts + duration(rest) });
                }
            } else if rest.starts_with(&format!("<... {call} resumed>")) && rest.contains(" = 0 ") {
                if let Some(start) = pending.remove(&(pid.to_owned(), call.to_owned())) {
                    out.push(Event::Sync { done: start + duration(rest) });
                }
            }
        }
        let write = ["write(", "writev(", "sendto(", "sendmsg("].iter().any(|w| rest.starts_with(w));
        if write && (rest.contains("\"HTTP/1.1 200") || rest.contains("\"HTTP/1.1 201")) {
            out.push(Event::Response { at: ts });
        }
    }
    (out, sync_file_range)
}

fn trace_file_has_pid_prefix(trace: &str) -> bool {
    trace.lines().next().is_some_and(|l| l.split_whitespace().next().is_some_and(|p| p.parse::<u32>().is_ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_change_is_preceded_by_an_fdatasync() -> Result<()> {
    if std::process::Command::new("strace").arg("-V").output().is_err() {
        bail!("strace is not installed: scripts/ensure-deps installs it (apt-get install strace)");
    }
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.jsonl");
    load::write_registry(&registry, 200)?;
    let trace = dir.path().join("trace");
    let trace_arg = trace.to_string_lossy().into_owned();
    let wrapper = [
        "strace",
        "-f",
        "-qq",
        "-ttt",
        "-T",
        "-s",
        "16",
        "-e",
        "trace=fdatasync,fsync,sync_file_range,write,writev,sendto,sendmsg",
        "-o",
        trace_arg.as_str(),
    ];
    let node = e2e::Issuer::start_wrapped(&wrapper, &dir.path().join("data"), &registry, "127.0.0.1:0", &[])?;
    let c = Client::new(&node.url);
    let officer = load::officer(&c, node.admin_token.as_deref().unwrap()).await?;
    for n in 0..100 {
        load::pipeline(&c, &officer, Person(n)).await?;
    }
    node.kill();
    let text = std::fs::read_to_string(&trace).context("reading the trace")?;
    assert!(trace_file_has_pid_prefix(&text), "unexpected trace format: {}", &text[..text.len().min(300)]);
    let (events, sync_file_range) = events(&text);
    let responses: Vec<f64> =
        events.iter().filter_map(|e| if let Event::Response { at } = e { Some(*at) } else { None }).collect();
    let syncs: Vec<f64> =
        events.iter().filter_map(|e| if let Event::Sync { done } = e { Some(*done) } else { None }).collect();
    // 1 officer token + 100 × (submit, biometrics, check, approve, token, credential).
    assert!(responses.len() >= 601, "only {} successful responses traced", responses.len());
    let mut unprotected = 0;
    let mut previous = 0.0;
    for &at in &responses {
        if !syncs.iter().any(|&d| d > previous && d <= at) {
            unprotected += 1;
        }
        previous = at;
    }
    eprintln!(
        "{} acknowledged changes, {} completed fdatasync/fsync, {} sync_file_range, {} acknowledged without a sync before them",
        responses.len(),
        syncs.len(),
        sync_file_range,
        unprotected
    );
    assert_eq!(unprotected, 0);
    assert_eq!(sync_file_range, 0, "the store flushes with sync_file_range, which is not durable");
    Ok(())
}
