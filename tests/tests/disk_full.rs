//! A full disk under the real binary, on a small tmpfs the test mounts (root only: the test
//! fails, naming why, when it cannot mount one): once the data volume is full, writes answer
//! `507 insufficient_storage` (JSON) and `/readyz` fails; once space is freed, the same process
//! takes writes again — no restart — and every application acknowledged before, during and
//! after is there. The free-space floor is off here (`store.min_free_bytes = 0`), so the
//! database itself meets the full disk and must reopen (the floor is checked by the store's own
//! tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use e2e::Issuer;
use serde_json::{json, Value};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Self> {
        std::fs::create_dir_all(at)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .output()?;
        if !out.status.success() {
            bail!(
                "this test mounts a small tmpfs and needs root (mount -t tmpfs): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Self(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn letters(n: usize) -> String {
    n.to_string().chars().map(|d| char::from(b'A' + d.to_digit(10).unwrap() as u8)).collect()
}

fn form(i: usize) -> Value {
    json!({
        "full_name": format!("Lê Thị {}", letters(i)),
        "full_name_latin": format!("LE THI {}", letters(i)),
        "sex": "F",
        "date_of_birth": "1992-07-08",
        "nationality": "DEU",
        "passport_number": format!("D{i:08}"),
        "residence_card": {"number": format!("TRC9{i:07}"), "kind": "temporary", "issued_on": "2025-01-01", "expires_on": "2029-01-01"},
        "address": format!("{} Hàng Bài, Hoàn Kiếm, Hà Nội, {}", i, "x".repeat(200)),
        "phone": "0912000333",
        "email": format!("le.{i}@example.de"),
        "reception_point": "hn-ba-dinh-police"
    })
}

/// Fills the volume of `dir` with a file until the disk refuses more.
fn fill(path: &Path) -> Result<u64> {
    let mut f = std::fs::File::create(path)?;
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => return Err(e.into()),
        }
    }
    // The last partial blocks too.
    let mut small = [0xa5u8; 512];
    while let Ok(k) = f.write(&small[..]) {
        if k == 0 {
            break;
        }
        n += k as u64;
        small[0] ^= 1;
    }
    let _ = f.sync_all();
    Ok(n)
}

#[test]
fn a_full_disk_answers_507_and_the_node_recovers_without_a_restart_losing_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mnt = Tmpfs::mount(&dir.path().join("volume"), "48m")?;
    let data = mnt.0.join("data");
    let issuer = Issuer::start_env(&data, &[], &[("VNEID_STORE__MIN_FREE_BYTES", "0")], None)?;
    let http = issuer.http();
    let officer = e2e::officer_token(&http, issuer.admin_token.as_deref().unwrap())?;
    let mut acked: Vec<String> = Vec::new();
    let mut i = 0;
    let mut submit = |i: &mut usize| -> Result<(u16, Value)> {
        *i += 1;
        let r = http.post("/v1/applications", Some(&officer), &form(*i))?;
        if r.0 == 201 {
            acked.push(r.1["id"].as_str().unwrap().to_owned());
        }
        Ok(r)
    };
    for _ in 0..20 {
        assert_eq!(submit(&mut i)?.0, 201);
    }
    let filler = mnt.0.join("filler");
    fill(&filler)?;
    // Writes go on while the database has room inside its file, then meet the full disk.
    let mut refused = None;
    for _ in 0..20_000 {
        let (st, v) = submit(&mut i)?;
        match st {
            201 => continue,
            507 => {
                refused = Some(v);
                break;
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    let refused = refused.expect("the disk never filled");
    assert_eq!(refused["error"], "insufficient_storage", "{refused}");
    assert!(!refused["message"].as_str().unwrap().is_empty());
    // While it is full: a write the database finds room for is taken (and durable, like any
    // other); one it does not is refused with 507 (or 503 for the moment the database reopens);
    // /readyz says the node is not ready.
    let mut refusals = 1;
    for _ in 0..30 {
        let (st, v) = submit(&mut i)?;
        match st {
            201 => {}
            507 | 503 => {
                refusals += 1;
                assert!(["insufficient_storage", "busy"].contains(&v["error"].as_str().unwrap()), "{v}");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert!(refusals >= 10, "only {refusals} refusals on a full disk");
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 503, "{v}");
    assert!(v.to_string().contains("disk full"), "{v}");
    // Space returns: the same process takes writes again.
    std::fs::remove_file(&filler)?;
    let t0 = Instant::now();
    loop {
        let (st, v) = submit(&mut i)?;
        if st == 201 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "still refused after space came back: {st} {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..20 {
        assert_eq!(submit(&mut i)?.0, 201);
    }
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 200, "{v}");
    // Nothing acknowledged is missing, and each one reads whole.
    let (st, list) = http.get("/v1/applications?reception_point=hn-ba-dinh-police", Some(&officer))?;
    assert_eq!(st, 200);
    let listed: std::collections::HashSet<String> =
        list["applications"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged applications lost", missing.len());
    for id in acked.iter().rev().take(30) {
        let (st, v) = http.get(&format!("/v1/applications/{id}"), Some(&officer))?;
        assert_eq!(st, 200, "{v}");
    }
    let m = ureq::get(issuer.metrics_url.as_deref().unwrap()).call()?.into_string()?;
    assert!(m.contains("route=\"/v1/applications\",status=\"507\""), "{m}");
    // And it all survives a restart.
    let (status, _) = issuer.terminate(Duration::from_secs(20))?;
    assert!(status.success());
    let issuer = Issuer::start_env(&data, &[], &[("VNEID_STORE__MIN_FREE_BYTES", "0")], None)?;
    let (_, list) = issuer.http().get("/v1/applications?reception_point=hn-ba-dinh-police", Some(&officer))?;
    assert!(list["applications"].as_array().unwrap().len() >= acked.len());
    drop(issuer);
    Ok(())
}
