//! Issuer durability and data protection with the real binary: a kill -9 in the middle of a
//! batch of submissions loses no acknowledged application and leaves none half-written; after
//! the whole journey the data folder holds no applicant's e-ID number, name, passport or card
//! number, contact, address or biometrics in clear, its folders are 0700 and its files 0600.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::{journey, Issuer};
use serde_json::{json, Value};

/// Names allow letters only: digits written as letters A–J.
fn letters(n: usize) -> String {
    n.to_string().chars().map(|d| char::from(b'A' + d.to_digit(10).unwrap() as u8)).collect()
}

fn form(worker: usize, i: usize) -> Value {
    json!({
        "full_name": format!("Nguyễn Thị {} {}", letters(worker), letters(i)),
        "full_name_latin": format!("NGUYEN THI {} {}", letters(worker), letters(i)),
        "sex": "F",
        "date_of_birth": "1991-02-03",
        "nationality": "SGP",
        "passport_number": format!("K{worker}{i:07}"),
        "residence_card": {"number": format!("TRC{worker}{i:07}"), "kind": "temporary", "issued_on": "2025-01-01", "expires_on": "2029-01-01"},
        "address": "1 Đinh Tiên Hoàng, Hoàn Kiếm, Hà Nội",
        "phone": "0912000111",
        "email": format!("test{worker}.{i}@example.sg"),
        "reception_point": "hn-ba-dinh-police"
    })
}

#[test]
fn kill_9_mid_batch_loses_no_acknowledged_application() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let officer = e2e::officer_token(&http, issuer.admin_token.as_deref().unwrap())?;

    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (http, officer, acked, stop) = (http.clone(), officer.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let f = form(w, i);
                    match http.post("/v1/applications", Some(&officer), &f) {
                        Ok((201, v)) => acked.lock().unwrap().push((
                            v["id"].as_str().unwrap().to_owned(),
                            f["passport_number"].as_str().unwrap().to_owned(),
                        )),
                        Ok((status, v)) => panic!("unexpected answer {status}: {v}"),
                        Err(_) => break, // the server died under us
                    }
                }
            })
        })
        .collect();
    // Let the batch run, then crash the issuer while requests are in flight.
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 200 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    issuer.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200, "only {} acknowledged before the crash", acked.len());

    let issuer = Issuer::start(&data, &[])?;
    assert!(issuer.admin_token.is_none(), "a restart must not mint another admin token");
    let http = issuer.http();
    // Every acknowledged application is there, whole.
    for (id, passport) in &acked {
        let (status, v) = http.get(&format!("/v1/applications/{id}"), Some(&officer))?;
        assert_eq!(status, 200, "{id}: {v}");
        assert_eq!(v["form"]["passport_number"], passport.as_str());
        assert_eq!(v["state"], "submitted");
    }
    // None is half-written: every listed application opens, and what was in flight at the crash
    // is either wholly there or wholly absent (at most one per worker).
    let (status, list) = http.get("/v1/applications?reception_point=hn-ba-dinh-police", Some(&officer))?;
    assert_eq!(status, 200, "{list}");
    let listed = list["applications"].as_array().unwrap();
    assert!(
        listed.len() >= acked.len() && listed.len() <= acked.len() + 4,
        "{} listed, {} acknowledged",
        listed.len(),
        acked.len()
    );
    for a in listed {
        let id = a["id"].as_str().unwrap();
        let (status, v) = http.get(&format!("/v1/applications/{id}"), Some(&officer))?;
        assert_eq!(status, 200, "{id}: {v}");
    }
    let (_, counts) = http.get("/v1/reports/daily-counts", Some(&officer))?;
    let total: u64 = counts["counts"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, listed.len());
    Ok(())
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn data_folder_holds_no_personal_data_or_biometrics_in_clear() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let j = journey(dir.path())?;
    let data = dir.path().join("issuer-data");
    // The e-ID number the approval drew (an officer reads it; the read is audited).
    let http = j.issuer.http();
    let admin = j.issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let (_, list) = http.get("/v1/applications", Some(&officer))?;
    let id = list["applications"][0]["id"].as_str().unwrap().to_owned();
    let (st, view) = http.get(&format!("/v1/applications/{id}"), Some(&officer))?;
    assert_eq!(st, 200, "{view}");
    let eid = view["eid_number"].as_str().unwrap().to_owned();
    assert_eq!(eid.len(), 12, "{view}");
    drop(j); // stop the issuer so everything is flushed to its files
    let fingerprint = e2e::fake_fingerprint(2);
    let portrait = e2e::fake_portrait(1);
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("passport number", b"M12345678".to_vec()),
        ("residence card number", b"TRC0012345".to_vec()),
        ("email", b"minjun.kim@example.com".to_vec()),
        ("phone", b"912345678".to_vec()),
        ("name in Hangul", "김민준".as_bytes().to_vec()),
        ("Latin name", b"KIM MIN JUN".to_vec()),
        ("address", "Liễu Giai".as_bytes().to_vec()),
        ("fingerprint bytes", fingerprint[1000..1064].to_vec()),
        ("portrait bytes", portrait[2000..2064].to_vec()),
        ("e-ID number", eid.as_bytes().to_vec()),
    ];
    let all = files(&data);
    assert!(all.len() > 5, "the data folder looks empty: {all:?}");
    for f in &all {
        let bytes = std::fs::read(f)?;
        for (what, needle) in &needles {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_slice()), "{what} in clear in {}", f.display());
        }
    }
    // Private: every folder 0700, every file 0600 (the outbox beside the folder too).
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut dirs = vec![data.clone()];
    while let Some(d) = dirs.pop() {
        assert_eq!(mode(&d), 0o700, "{} is {:o}", d.display(), mode(&d));
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{} is {:o}", p.display(), mode(&p));
            }
        }
    }
    let outbox = dir.path().join("issuer-data-outbox.jsonl");
    assert_eq!(mode(&outbox), 0o600, "the outbox is {:o}", mode(&outbox));
    Ok(())
}
