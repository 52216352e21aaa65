//! Messages that tell a newcomer what happened and what to do, through the real binaries.
use anyhow::Result;

/// A second `issuer serve` on a data folder another issuer holds says so, once, and exits
/// non-zero (it used to print the storage engine's raw debug error twice).
#[test]
fn a_second_issuer_on_the_same_data_folder_is_told_who_holds_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let _first = e2e::Issuer::start(&data, &[])?;
    let registry = e2e::workspace().join("enrollment/data/registry-sample.jsonl");
    let out = std::process::Command::new(e2e::bin("issuer")?)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--registry")
        .arg(&registry)
        .stdin(std::process::Stdio::null())
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let needle = "another issuer is already using the data folder";
    assert_eq!(stderr.matches(needle).count(), 1, "{stderr}");
    assert!(stderr.contains("--data"), "it says what to do: {stderr}");
    assert!(!stderr.contains("DatabaseAlreadyOpen"), "no raw engine error: {stderr}");
    Ok(())
}
