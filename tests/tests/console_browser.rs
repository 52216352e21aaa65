//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver,
//! `fantoccini`), against the real `issuer` binary.
//!
//! * An officer signs in (keyboard only), enters a TK01 with one error, corrects it at the field,
//!   uploads the portrait and fingerprints, runs the national-data check and approves; the offer
//!   QR code, cut from a screenshot of the page and decoded by an independent decoder (zxing-cpp,
//!   `tests/interop/decode_qr.py`), is redeemed by `wallet-sim receive`. Once in Vietnamese (the
//!   browser asks for it), once in Korean (chosen with the language switch).
//! * An admin creates a token, prepares, activates and rotates keys, suspends a credential with a
//!   reason (a verifier then refuses the holder's QR), and finds it in the audit log.
//! * Every screen passes axe-core with no serious or critical violation, and is saved as a
//!   screenshot (under `target/*/console-screenshots/`, or for `docs/console.md` with
//!   `VNEID_SCREENSHOTS=docs/console`).
//!
//! Needs: Debian `chromium` and `chromium-driver` (or `CHROMIUM` / `CHROMEDRIVER` naming the
//! binaries), axe-core in `tests/browser/node_modules` (`npm ci --prefix tests/browser`), and the
//! Python of the interop checks (`tests/requirements.txt`, `VNEID_PYTHON`). A missing piece fails
//! the test with the command that installs it; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use enrollment::i18n::{Lang, Localizer};
use enrollment::workflow::Status;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The browser

/// A binary on the `PATH`, or the one an environment variable names.
fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).map(PathBuf::from).filter(|p| p.exists()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).flat_map(|d| names.iter().map(move |n| d.join(n))).find(|p| p.is_file())
}

/// Headless Chromium behind its own chromedriver, in a fresh profile; both end with the test.
struct Chrome {
    driver: Child,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// `accept_language`: what the browser asks for (the console's language before any choice).
    async fn start(accept_language: &str) -> Result<Self> {
        let chromium =
            find_binary("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]).ok_or_else(|| {
                anyhow!("Chromium is missing: apt-get install -y chromium chromium-driver (or set CHROMIUM)")
            })?;
        let chromedriver = find_binary("CHROMEDRIVER", &["chromedriver"]).ok_or_else(|| {
            anyhow!("chromedriver is missing: apt-get install -y chromium-driver (or set CHROMEDRIVER)")
        })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = Command::new(&chromedriver);
        cmd.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // Its own process group, so that the browser it starts ends with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().with_context(|| format!("starting {}", chromedriver.display()))?;
        let profile = tempfile::tempdir()?;
        let mut me = Self { driver, client: None, _profile: profile };
        let url = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while ureq::get(&format!("{url}/status")).call().is_err() {
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("chromedriver did not answer on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--hide-scrollbars".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", me._profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": args,
                "prefs": {"intl.accept_languages": accept_language},
            }
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .context("opening a Chromium session")?;
        me.client = Some(client);
        Ok(me)
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    async fn close(mut self) -> Result<()> {
        if let Some(c) = self.client.take() {
            c.close().await?;
        }
        Ok(())
    }

    async fn goto(&self, url: &str) -> Result<()> {
        self.c().goto(url).await?;
        Ok(())
    }

    async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        match self.c().find(Locator::Css(css)).await {
            Ok(e) => Ok(e),
            Err(e) => Err(anyhow!("no {css} on {}: {e}", self.url().await)),
        }
    }

    /// Waits for an element of the next page.
    async fn wait(&self, css: &str) -> Result<fantoccini::elements::Element> {
        match self.c().wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await {
            Ok(e) => Ok(e),
            Err(e) => Err(anyhow!("{css} did not appear on {}: {e}", self.url().await)),
        }
    }

    async fn url(&self) -> String {
        self.c().current_url().await.map(|u| u.to_string()).unwrap_or_default()
    }

    async fn text(&self, css: &str) -> Result<String> {
        Ok(self.find(css).await?.text().await?)
    }

    async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let e = self.find(css).await?;
        e.clear().await?;
        e.send_keys(value).await?;
        Ok(())
    }

    async fn select(&self, css: &str, value: &str) -> Result<()> {
        self.find(css).await?.select_by_value(value).await?;
        Ok(())
    }

    async fn click(&self, css: &str) -> Result<()> {
        self.find(css).await?.click().await?;
        Ok(())
    }

    /// Clicks a submit button and waits for the page it leads to (the old one goes stale).
    async fn submit(&self, css: &str, then: &str) -> Result<()> {
        let old = self.find("html").await?;
        self.click(css).await?;
        let t0 = Instant::now();
        while old.tag_name().await.is_ok() {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("clicking {css} did not load a page");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.wait(then).await?;
        Ok(())
    }

    async fn js(&self, script: &str) -> Result<Value> {
        Ok(self.c().execute(script, vec![]).await?)
    }

    /// axe-core on the current page: no serious or critical violation (WCAG 2.1 A and AA rules,
    /// colour contrast included).
    async fn axe(&self, screen: &str) -> Result<()> {
        let path = e2e::workspace().join("tests/browser/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path)
            .map_err(|e| anyhow!("axe-core is missing ({}: {e}): npm ci --prefix tests/browser", path.display()))?;
        self.c().execute(&source, vec![]).await.context("injecting axe-core")?;
        let run = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
                               resultTypes: ['violations']})
               .then(r => done(JSON.stringify({passes: r.passes.length,
                      violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                         nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))})))
               .catch(e => done('axe failed: ' + e));
        "#;
        let out = self.c().execute_async(run, vec![]).await.context("running axe-core")?;
        let text = out.as_str().unwrap_or_default();
        let report: Value =
            serde_json::from_str(text).map_err(|_| anyhow!("{screen}: axe-core did not run: {text}"))?;
        let violations = report["violations"].as_array().cloned().unwrap_or_default();
        let passes = report["passes"].as_u64().unwrap_or(0);
        eprintln!("axe {screen}: {passes} rules passed, {} violated", violations.len());
        if passes < 10 {
            bail!("{screen}: axe-core checked almost nothing ({passes} rules passed)");
        }
        let serious: Vec<&Value> =
            violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
        for v in &violations {
            eprintln!("axe {screen}: {} ({}) {}", v["id"], v["impact"], v["nodes"]);
        }
        if !serious.is_empty() {
            bail!("{screen}: serious accessibility violations: {serious:#?}");
        }
        Ok(())
    }

    /// A screenshot of the whole page, saved as `<dir>/<name>.png`: under the folder named by
    /// `VNEID_SCREENSHOTS` (`VNEID_SCREENSHOTS=docs/console` refreshes the docs' pictures), else
    /// under the target folder, so a test run leaves the checkout unchanged.
    async fn shot(&self, name: &str) -> Result<()> {
        let size =
            self.js("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]").await?;
        let height = size[0].as_u64().unwrap_or(1000) + size[1].as_u64().unwrap_or(0);
        self.c().set_window_size(1280, (height as u32).clamp(600, 4000)).await?;
        let png = self.c().screenshot().await?;
        self.c().set_window_size(1280, 1000).await?;
        let dir = match std::env::var_os("VNEID_SCREENSHOTS") {
            Some(d) => e2e::workspace().join(d),
            None => e2e::bin_dir()?.join("console-screenshots"),
        };
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// The screen's checks: axe-core, then its screenshot for the docs.
    async fn screen(&self, name: &str) -> Result<()> {
        self.axe(name).await?;
        self.shot(name).await
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // chromedriver leads its own process group, the browser in it: end them all.
        let pgid = self.driver.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.driver.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The journeys

fn loc() -> Localizer {
    Localizer::new().expect("messages load")
}

struct Node {
    issuer: e2e::Issuer,
    admin: String,
    dir: tempfile::TempDir,
}

fn node() -> Result<Node> {
    let dir = tempfile::tempdir()?;
    // Verifiers "sync" every second here, so a prepared key may be activated a second later.
    let issuer = e2e::Issuer::start(&dir.path().join("data"), &["--verifier-sync-interval-secs", "1"])?;
    let admin = issuer.admin_token.clone().ok_or_else(|| anyhow!("no admin token"))?;
    Ok(Node { issuer, admin, dir })
}

/// Presses keys on the keyboard: they go wherever the focus is, as a person's would.
async fn keys(b: &Chrome, text: &str) -> Result<()> {
    use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
    let mut seq = KeyActions::new("keyboard".into());
    for c in text.chars() {
        seq = seq.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
    }
    b.c().perform_actions(seq).await?;
    Ok(())
}

/// Signs in with the keyboard only: Tab to the token field (the focus must be visible at every
/// stop on the way), type, Enter.
async fn sign_in_by_keyboard(b: &Chrome, base: &str, token: &str, then: &str) -> Result<()> {
    b.goto(&format!("{base}/console/sign-in")).await?;
    b.wait("#token").await?;
    let tab: char = fantoccini::key::Key::Tab.into();
    let enter: char = fantoccini::key::Key::Enter.into();
    for _ in 0..12 {
        keys(b, &tab.to_string()).await?;
        let focus = b
            .js("const e = document.activeElement; const s = getComputedStyle(e);
                 return {id: e.id, tag: e.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow};")
            .await?;
        let visible = (focus["outline"] != "none" && focus["width"] != "0px") || focus["shadow"] != "none";
        assert!(visible, "focus is not visible on {focus}");
        if focus["id"] == "token" {
            let old = b.find("html").await?;
            keys(b, &format!("{token}{enter}")).await?;
            let t0 = Instant::now();
            while old.tag_name().await.is_ok() {
                if t0.elapsed() > Duration::from_secs(20) {
                    bail!("Enter in the token field did not sign in");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            b.wait(then).await?;
            return Ok(());
        }
    }
    bail!("the token field cannot be reached with Tab")
}

/// Other applicants of the sample registry, for a queue with more than one row.
fn others() -> Vec<Value> {
    vec![
        json!({"full_name": "王芳", "full_name_latin": "WANG FANG", "sex": "F", "date_of_birth": "1985-11-03",
               "nationality": "CHN", "passport_number": "EA1234567",
               "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
               "address": "Số 5 Phố Đội Cấn, Ba Đình, Hà Nội", "phone": "0987654321", "email": "wang.fang@example.com",
               "reception_point": "hn-ba-dinh-police"}),
        json!({"full_name": "Emily Johnson", "sex": "F", "date_of_birth": "1992-01-15",
               "nationality": "USA", "passport_number": "567890123",
               "residence_card": {"number": "TRC0034567", "kind": "temporary", "issued_on": "2025-01-02", "expires_on": "2027-12-31"},
               "address": "Số 9 Phố Kim Mã, Ba Đình, Hà Nội", "phone": "0901234567", "email": "emily.johnson@example.com",
               "reception_point": "hn-ba-dinh-police"}),
    ]
}

/// Fake captures as files the browser uploads.
fn capture_files(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let (p, f2, f7) = (dir.join("portrait.png"), dir.join("finger-2.wsq"), dir.join("finger-7.wsq"));
    std::fs::write(&p, e2e::fake_portrait(1))?;
    std::fs::write(&f2, e2e::fake_fingerprint(2))?;
    std::fs::write(&f7, e2e::fake_fingerprint(3))?;
    Ok((p, f2, f7))
}

/// The officer's whole journey in one language; returns the application id. `shots`: save the
/// screens under this prefix.
async fn officer_journey(lang: Lang, shots: &str) -> Result<()> {
    let loc = loc();
    let n = node()?;
    let base = n.issuer.url.clone();
    let http = n.issuer.http();
    let officer = e2e::officer_token(&http, &n.admin)?;
    // Two applicants already in the queue (one of them without biometrics on file: 7 days).
    for form in others() {
        let (st, v) = http.post("/v1/applications", Some(&officer), &form)?;
        assert_eq!(st, 201, "{v}");
    }

    // Vietnamese: the browser asks for it. Korean: the browser asks for English, the officer
    // switches on the sign-in page, and the choice is kept.
    let b = Chrome::start(if lang == Lang::Vi { "vi-VN,vi" } else { "en-US,en" }).await?;
    b.goto(&format!("{base}/console/sign-in")).await?;
    b.wait("#token").await?;
    if lang != Lang::Vi {
        b.select("#lang-select", lang.tag()).await?;
        b.submit(".lang button", "#token").await?;
    }
    assert_eq!(b.find("html").await?.attr("lang").await?.as_deref(), Some(lang.tag()));
    assert_eq!(b.text("h1").await?, loc.message(lang, "console-sign-in", None));
    b.screen(&format!("{shots}-sign-in")).await?;
    sign_in_by_keyboard(&b, &base, &officer, ".queue, #open-h").await?;
    assert!(b.url().await.ends_with("/console/queue"), "{}", b.url().await);

    // A new TK01 with one error: a phone number that is not Vietnamese.
    b.click("a[href='/console/applications/new']").await?;
    b.wait("#f-full-name").await?;
    // The empty form is checked as it first appears (no picture: the one with an error is).
    b.axe(&format!("{shots}-tk01-empty")).await?;
    let form = e2e::kim_tk01();
    let text = |p: &str| form.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
    for (id, pointer) in [
        ("#f-full-name", "/full_name"),
        ("#f-full-name-latin", "/full_name_latin"),
        ("#f-nationality", "/nationality"),
        ("#f-passport-number", "/passport_number"),
        ("#f-residence-card-number", "/residence_card/number"),
        ("#f-address", "/address"),
        ("#f-email", "/email"),
    ] {
        b.fill(id, &text(pointer)).await?;
    }
    b.select("#f-sex", "M").await?;
    b.select("#f-residence-card-kind", "temporary").await?;
    // Date inputs take what the keyboard types in the browser's locale; set the value instead.
    for (id, pointer) in [
        ("f-date-of-birth", "/date_of_birth"),
        ("f-residence-card-issued-on", "/residence_card/issued_on"),
        ("f-residence-card-expires-on", "/residence_card/expires_on"),
    ] {
        b.c()
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(id), json!(text(pointer))],
            )
            .await?;
    }
    b.fill("#f-phone", "12345").await?;
    b.submit("form[action='/console/applications'] button[type=submit]", "#f-phone-error").await?;
    let phone_msg = loc.reason(lang, enrollment::Reason::PhoneInvalid);
    let at_field = b.text("#f-phone-error").await?;
    assert!(at_field.ends_with(&phone_msg), "{at_field:?} is not {phone_msg:?}");
    assert_eq!(b.find("#f-phone").await?.attr("aria-invalid").await?.as_deref(), Some("true"));
    assert_eq!(b.find("#f-phone").await?.prop("value").await?.as_deref(), Some("12345"), "what was typed stays");
    assert_eq!(b.find("#f-full-name").await?.prop("value").await?.as_deref(), Some(text("/full_name").as_str()));
    // The script put the focus on the summary, which links to the field.
    assert_eq!(b.js("return document.activeElement.id").await?, "error-summary");
    assert_eq!(b.find("#error-summary a").await?.attr("href").await?.as_deref(), Some("#f-phone"));
    b.screen(&format!("{shots}-tk01-error")).await?;

    b.fill("#f-phone", &text("/phone")).await?;
    b.submit("form[action='/console/applications'] button[type=submit]", "#state").await?;
    let url = b.url().await;
    let id = url.split("/console/applications/").nth(1).and_then(|r| r.split('?').next()).unwrap_or("").to_owned();
    assert_eq!(id.len(), 32, "{url}");
    assert_eq!(b.text("#state").await?, loc.status(lang, Status::Submitted));
    assert_eq!(b.text(".flash").await?, loc.message(lang, "console-done-submitted", None));
    // The capture form (file inputs, quality scores, the camera's controls) is a screen too.
    b.screen(&format!("{shots}-capture")).await?;

    // Portrait and fingerprints, with the station's quality scores.
    let (p, f2, f7) = capture_files(n.dir.path())?;
    b.find("#portrait").await?.send_keys(&p.to_string_lossy()).await?;
    b.fill("#portrait_quality", "87").await?;
    b.find("#fingerprint_2").await?.send_keys(&f2.to_string_lossy()).await?;
    b.fill("#fingerprint_2_quality", "71").await?;
    b.find("#fingerprint_7").await?.send_keys(&f7.to_string_lossy()).await?;
    b.fill("#fingerprint_7_quality", "30").await?;
    b.submit("#upload-biometrics", "#run-check").await?;
    assert_eq!(b.text("#state").await?, loc.status(lang, Status::BiometricsCaptured));
    let table = b.text("section[aria-labelledby='bio-h'] table").await?;
    for shown in [
        "87".to_owned(),
        loc.message(lang, "console-quality-good", None),
        loc.message(lang, "console-quality-poor", None),
        loc.message(lang, "console-finger-7", None),
    ] {
        assert!(table.contains(&shown), "{shown} not in {table}");
    }

    // The national-data check.
    b.submit("#run-check", "#approve").await?;
    assert_eq!(b.text("#state").await?, loc.status(lang, Status::DataChecked));
    assert_eq!(b.text("#check-outcome").await?, loc.message(lang, "console-check-clear", None));
    b.screen(&format!("{shots}-application")).await?;

    // Approval shows the offer: its QR, cut from a screenshot and read by zxing-cpp, is what the
    // wallet redeems.
    b.submit("#approve", "#offer-qr svg").await?;
    b.screen(&format!("{shots}-offer")).await?;
    let png = b.find("#offer-qr").await?.screenshot().await?;
    let shot = n.dir.path().join("offer-qr.png");
    std::fs::write(&shot, &png)?;
    let decoded: Value = serde_json::from_str(&e2e::interop("decode_qr.py", &[&shot])?)?;
    let uri = decoded["text"].as_str().unwrap_or_default().to_owned();
    assert!(uri.starts_with("openid-credential-offer://"), "{decoded}");
    assert!(!b.find("body").await?.text().await?.contains("pre-authorized_code"), "the code is in the QR only");
    let wallet = n.dir.path().join("wallet");
    let w = wallet.to_string_lossy().into_owned();
    // The transaction code is shown apart from the QR, for the officer to hand over.
    let tx_code = b.find("#tx-code").await?.text().await?.trim().to_owned();
    assert!(tx_code.len() >= 4 && tx_code.bytes().all(|c| c.is_ascii_digit()), "{tx_code}");
    assert!(!uri.contains(&tx_code), "the transaction code is not in the QR");
    e2e::run_ok("wallet-sim", &["--home", &w, "init"])?;
    e2e::run_ok("wallet-sim", &["--home", &w, "receive", &uri, "--tx-code", &tx_code])?;

    // The application is now issued; the hand-out speaks the applicant's language (Korean for a
    // Korean national), whatever the console's.
    b.goto(&format!("{base}/console/applications/{id}")).await?;
    b.wait("#credential-id").await?;
    assert_eq!(b.text("#state").await?, loc.status(lang, Status::Issued));
    b.click(&format!("a[href='/console/applications/{id}/handout']")).await?;
    b.wait("article.handout").await?;
    assert_eq!(b.find("article.handout").await?.attr("lang").await?.as_deref(), Some("ko"));
    assert_eq!(b.text("#handout-h").await?, loc.message(Lang::Ko, "console-handout-title", None));
    let notice = b.text("article.handout .notice").await?;
    assert!(notice.contains("3일"), "{notice}");
    b.screen(&format!("{shots}-handout")).await?;

    // Pages an officer may not see say so, in the officer's language, and pass the same checks.
    b.goto(&format!("{base}/console/admin/keys")).await?;
    b.wait("h1").await?;
    assert_eq!(b.text("h1").await?, loc.message(lang, "console-error-forbidden", None));
    b.screen(&format!("{shots}-forbidden")).await?;

    // The queue counts today's work.
    b.click("a[href='/console']").await?;
    b.wait("#open-h").await?;
    let rows = b.text("table.queue tbody").await?;
    assert!(rows.contains("WANG FANG") && rows.contains("EMILY JOHNSON"), "{rows}");
    assert!(rows.find("WANG FANG") < rows.find("EMILY JOHNSON"), "3 working days before 7: {rows}");
    let today = b.text(".card:nth-of-type(3)").await?;
    assert!(today.contains(&loc.message(lang, "console-today-credential-issued", None)), "{today}");
    b.screen(&format!("{shots}-queue")).await?;
    b.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_enrolls_in_vietnamese_and_the_wallet_redeems_the_offer_qr() -> Result<()> {
    officer_journey(Lang::Vi, "vi").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_enrolls_in_korean_and_the_wallet_redeems_the_offer_qr() -> Result<()> {
    officer_journey(Lang::Ko, "ko").await
}

/// An issued credential (through the JSON API): (wallet folder, credential id).
fn issued(n: &Node) -> Result<(PathBuf, String)> {
    let http = n.issuer.http();
    let officer = e2e::officer_token(&http, &n.admin)?;
    let offer = e2e::enroll(&http, &officer, &e2e::kim_tk01())?;
    let wallet = n.dir.path().join("wallet");
    let w = wallet.to_string_lossy().into_owned();
    e2e::run_ok("wallet-sim", &["--home", &w, "init"])?;
    e2e::run_ok("wallet-sim", &["--home", &w, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    let (_, list) = http.get("/v1/applications", Some(&officer))?;
    let id = list["applications"][0]["id"].as_str().ok_or_else(|| anyhow!("no application: {list}"))?;
    let (_, app) = http.get(&format!("/v1/applications/{id}"), Some(&officer))?;
    let cred = app["credential_id"].as_str().ok_or_else(|| anyhow!("not issued: {app}"))?.to_owned();
    Ok((wallet, cred))
}

/// The landlord's verdict on the holder's QR, after a fresh sync: exit code of `verifier verify`.
fn landlord_verdict(n: &Node, wallet: &Path) -> Result<i32> {
    let bundle = n.dir.path().join("bundle");
    let png = n.dir.path().join("landlord.png");
    e2e::run_ok(
        "verifier",
        &["sync", "--issuer", &n.issuer.url, "--root-key", &n.issuer.root_key, "--out", &bundle.to_string_lossy()],
    )?;
    let w = wallet.to_string_lossy().into_owned();
    e2e::run_ok("wallet-sim", &["--home", &w, "present", "--purpose", "landlord", "--png", &png.to_string_lossy()])?;
    let out = e2e::run(
        "verifier",
        &["verify", "--bundle", &bundle.to_string_lossy(), "--png", &png.to_string_lossy(), "--purpose", "landlord"],
    )?;
    Ok(out.status.code().unwrap_or(-1))
}

/// The active key's id on the keys page.
async fn active_kid(b: &Chrome) -> Result<String> {
    let th = b.find("tr.key-active th").await?.text().await?;
    Ok(th.split_whitespace().next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_rotates_a_key_and_suspends_a_credential() -> Result<()> {
    let loc = loc();
    let lang = Lang::En;
    let n = node()?;
    let base = n.issuer.url.clone();
    let (wallet, cred) = issued(&n)?;
    assert_eq!(landlord_verdict(&n, &wallet)?, 0, "valid before");

    let b = Chrome::start("en-US,en").await?;
    sign_in_by_keyboard(&b, &base, &n.admin, "#new-token-h").await?;
    assert!(b.url().await.ends_with("/console/admin/tokens"));

    // A token for an officer, shown once.
    b.select("#t-role", "officer").await?;
    b.fill("#t-name", "officer-0077").await?;
    b.fill("#t-reception-point", "hn-ba-dinh-police").await?;
    b.submit("form[action='/console/admin/tokens'] button[type=submit]", "#new-token").await?;
    let token = b.text("#new-token").await?;
    assert!(token.starts_with("vnid_off_"), "{token}");
    let (st, _) = n.issuer.http().get("/v1/applications", Some(&token))?;
    assert_eq!(st, 200, "the new token works");
    b.screen("admin-tokens").await?;

    // Keys: prepare a next key, activate it, then an emergency rotation.
    b.click("a[href='/console/admin/keys']").await?;
    b.wait("#prepare-key").await?;
    let first = active_kid(&b).await?;
    b.submit("#prepare-key", "tr.key-next").await?;
    assert_eq!(b.text(".flash").await?, loc.message(lang, "console-done-key-prepared", None));
    let next = b.find("tr.key-next th").await?.text().await?;
    // A next key signs only once it has been in a published trust list for the sync interval.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    b.submit("tr.key-next form[action$='/activate'] button", ".flash").await?;
    assert_eq!(active_kid(&b).await?, next);
    assert_ne!(next, first);
    // The emergency rotation asks for a ticked confirmation first.
    b.submit("#rotate-key", "#error-summary").await?;
    assert_eq!(active_kid(&b).await?, next, "nothing rotated without the confirmation");
    b.click("#confirm-rotate").await?;
    b.submit("#rotate-key", ".flash").await?;
    assert_eq!(b.text(".flash").await?, loc.message(lang, "console-done-key-rotated", None));
    let rotated = active_kid(&b).await?;
    assert!(rotated != next && rotated != first, "{first} {next} {rotated}");
    let states = b.text("table.keys").await?;
    assert!(states.contains(&loc.message(lang, "console-key-state-retired", None)), "{states}");
    b.screen("admin-keys").await?;

    // Suspend the credential, with a reason.
    b.click("a[href='/console/admin/credentials']").await?;
    b.wait("#cred-id").await?;
    b.axe("admin-credential-lookup").await?;
    b.fill("#cred-id", &cred).await?;
    b.submit("form[action='/console/admin/credentials'] button", "#credential-status").await?;
    assert_eq!(b.text("#credential-status").await?, loc.message(lang, "console-credential-status-valid", None));
    b.select("#new-status", "suspended").await?;
    b.select("#status-reason", "device_lost").await?;
    b.submit("#change-status", ".flash").await?;
    assert_eq!(b.text("#credential-status").await?, loc.message(lang, "console-credential-status-suspended", None));
    b.screen("admin-credential").await?;
    assert_eq!(landlord_verdict(&n, &wallet)?, 1, "a verifier refuses the suspended credential");

    // The audit log has both, filtered.
    b.goto(&format!("{base}/console/admin/audit?action=credential.status")).await?;
    b.wait("table.audit").await?;
    let rows = b.text("table.audit tbody").await?;
    assert!(rows.contains(&cred) && rows.contains("suspended reason=device_lost"), "{rows}");
    assert!(!rows.contains("key."), "{rows}");
    b.select("#a-action", "key.").await?;
    b.submit(".filters button", "table.audit").await?;
    let rows = b.text("table.audit tbody").await?;
    for action in ["key.prepared", "key.activated", "key.rotated"] {
        assert!(rows.contains(action), "{action} not in {rows}");
    }
    b.screen("admin-audit").await?;
    b.close().await
}
