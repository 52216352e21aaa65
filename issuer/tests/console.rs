//! The console as a browser sees it, in process (`app().oneshot`, a manual clock): sessions and
//! their cookies, CSRF, the Content-Security-Policy, authorization across reception points, deny
//! by default over every console route, expiry, field-level errors in the user's language, and
//! no personal data in any URL. The browser journeys are in `tests/tests/console_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{fingerprint, kim, portrait, Api};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

/// A response as the tests look at it.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The first form's CSRF token on the page.
    fn csrf(&self) -> String {
        let i = self.body.find(r#"name="_csrf" value=""#).expect("no CSRF field") + r#"name="_csrf" value=""#.len();
        self.body[i..].split('"').next().unwrap().to_owned()
    }
}

/// A browser: a cookie jar over the in-process app.
struct Browser<'a> {
    api: &'a Api,
    jar: BTreeMap<String, String>,
    lang: &'static str,
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl<'a> Browser<'a> {
    fn new(api: &'a Api) -> Self {
        Self { api, jar: BTreeMap::new(), lang: "en" }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let req = req.header(header::COOKIE, self.cookie_header()).header(header::ACCEPT_LANGUAGE, self.lang);
        let resp = self.api.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        Page { status, headers, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::builder().method(Method::GET).uri(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body =
            fields.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(req, Body::from(body)).await
    }

    async fn multipart(&mut self, path: &str, files: &[(&str, Vec<u8>)], fields: &[(&str, &str)]) -> Page {
        let boundary = "console-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, bytes) in files {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
        self.send(req, Body::from(body)).await
    }

    /// Signs in with a staff token; returns the landing page's path.
    async fn sign_in(&mut self, token: &str) -> String {
        let form = self.get("/console/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let done = self.post("/console/sign-in", &[("_csrf", &csrf), ("token", token)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        done.location().to_owned()
    }

    /// A page's CSRF token (signed in).
    async fn csrf(&mut self, path: &str) -> String {
        self.get(path).await.csrf()
    }
}

/// The TK01 fields of the demo applicant, as the form posts them.
fn kim_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("full_name", "김민준"),
        ("full_name_latin", "KIM MIN JUN"),
        ("sex", "M"),
        ("date_of_birth", "1990-04-12"),
        ("nationality", "KOR"),
        ("passport_number", "M12345678"),
        ("residence_card.number", "TRC0012345"),
        ("residence_card.kind", "temporary"),
        ("residence_card.issued_on", "2025-07-01"),
        ("residence_card.expires_on", "2028-06-30"),
        ("address", "Số 12 Phố Liễu Giai, Ba Đình, Hà Nội"),
        ("phone", "0912345678"),
        ("email", "minjun.kim@example.com"),
    ]
}

/// Files the demo applicant through the console; returns the application id.
async fn submit_kim(b: &mut Browser<'_>) -> String {
    let csrf = b.csrf("/console/applications/new").await;
    let mut fields = kim_form();
    fields.push(("_csrf", &csrf));
    let p = b.post("/console/applications", &fields).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let id = p.location().trim_start_matches("/console/applications/").split('?').next().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{}", p.location());
    id
}

/// A new officer token at a reception point: (token id, token).
async fn officer_token(api: &Api, point: &str) -> (String, String) {
    let (st, v) = api
        .call(
            Method::POST,
            "/v1/admin/tokens",
            Some(&api.admin),
            None,
            json!({"role": "officer", "name": "officer-2", "reception_point": point}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned())
}

/// Every console route, from the router sources (not a hand-kept list), as (path, methods).
fn routes() -> Vec<(String, String)> {
    let src = [
        include_str!("../src/console/mod.rs"),
        include_str!("../src/console/auth.rs"),
        include_str!("../src/console/officer.rs"),
        include_str!("../src/console/admin.rs"),
    ]
    .concat();
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        let Some(rest) = chunk.trim_start().strip_prefix('"') else { continue };
        let path = rest.split('"').next().unwrap().to_owned();
        let methods = rest.split(")\n").next().unwrap_or("").to_owned();
        out.push((path, methods));
    }
    out
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "0000000000000000000000000000000a").replace("{kid}", "AAAAAA").replace("{*rest}", "x")
}

#[tokio::test]
async fn signing_in_gives_a_strict_session_cookie_that_the_json_api_ignores() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    let form = b.get("/console/sign-in").await;
    let pre = form.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(pre.starts_with("vneid_console_pre="), "{pre}");

    // A wrong token: the form again, 401, no session.
    let p = b.post("/console/sign-in", &[("_csrf", &form.csrf()), ("token", "vnid_off_nope")]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("not valid"), "{}", p.body);
    assert!(!b.jar.contains_key("vneid_console"));

    let form = b.get("/console/sign-in").await;
    let p = b.post("/console/sign-in", &[("_csrf", &form.csrf()), ("token", &api.officer.clone())]).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/console/queue"));
    let cookie = p
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("vneid_console="))
        .unwrap();
    for attr in ["; Path=/console", "; HttpOnly", "; SameSite=Strict", "; Secure"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    // The cookie holds a digest of the token, not the token.
    let value = cookie.split(';').next().unwrap().trim_start_matches("vneid_console=");
    assert!(!value.contains(&api.officer) && !api.officer.contains(value));

    assert_eq!(b.get("/console/queue").await.status, StatusCode::OK);
    // The JSON API keeps its bearer tokens: the console cookie is nothing to it.
    let p = b.get("/v1/applications").await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_page_carries_the_csp_and_no_inline_script_or_style() {
    let api = Api::new().await;
    let mut officer = Browser::new(&api);
    officer.sign_in(&api.officer.clone()).await;
    let id = submit_kim(&mut officer).await;
    let mut admin = Browser::new(&api);
    admin.sign_in(&api.admin.clone()).await;
    let mut anyone = Browser::new(&api);

    let mut seen = 0;
    for (who, path) in [
        (0, "/console/sign-in".to_owned()),
        (0, "/console/nowhere".to_owned()),
        (1, "/console/queue".to_owned()),
        (1, "/console/applications/new".to_owned()),
        (1, format!("/console/applications/{id}")),
        (1, format!("/console/applications/{id}/handout")),
        (1, "/console/admin/keys".to_owned()),
        (2, "/console/admin/tokens".to_owned()),
        (2, "/console/admin/keys".to_owned()),
        (2, "/console/admin/credentials".to_owned()),
        (2, "/console/admin/audit".to_owned()),
        (2, "/console/static/console.css".to_owned()),
        (2, "/console/static/console.js".to_owned()),
    ] {
        let b = match who {
            0 => &mut anyone,
            1 => &mut officer,
            _ => &mut admin,
        };
        let p = b.get(&path).await;
        let csp =
            p.headers.get("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP")).to_str().unwrap();
        assert_eq!(csp, issuer::console::CSP, "{path}");
        for part in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(p.headers.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(p.headers.get("x-content-type-options").unwrap(), "nosniff");
        if p.headers.get(header::CONTENT_TYPE).is_some_and(|c| c.to_str().unwrap().starts_with("text/html")) {
            assert_eq!(p.headers.get(header::CACHE_CONTROL).unwrap(), "no-store", "{path}");
            assert!(
                !p.body.contains("<script>") && !p.body.contains("<style") && !p.body.contains(" style="),
                "{path}"
            );
            for inline in ["onclick=", "onload=", "onsubmit=", "onchange=", "javascript:"] {
                assert!(!p.body.contains(inline), "{path}: {inline}");
            }
            assert!(p.body.contains(r#"<script src="/console/static/console.js" defer></script>"#), "{path}");
            seen += 1;
        }
    }
    assert!(seen >= 10);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    // Before sign-in too: the sign-in form needs its token.
    b.get("/console/sign-in").await;
    let p = b.post("/console/sign-in", &[("token", &api.officer.clone())]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(!b.jar.contains_key("vneid_console"));

    b.sign_in(&api.officer.clone()).await;
    let mut fields = kim_form();
    let p = b.post("/console/applications", &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("expired"), "{}", p.body);
    fields.push(("_csrf", "not-the-token"));
    assert_eq!(b.post("/console/applications", &fields).await.status, StatusCode::FORBIDDEN);
    let (_, v) = api.call(Method::GET, "/v1/applications", Some(&api.officer), None, serde_json::Value::Null).await;
    assert_eq!(v["applications"].as_array().unwrap().len(), 0, "a refused form created {v}");

    // A token from another session does not do either.
    let mut other = Browser::new(&api);
    other.sign_in(&api.officer.clone()).await;
    let foreign = other.csrf("/console/queue").await;
    let mut fields = kim_form();
    fields.push(("_csrf", &foreign));
    assert_eq!(b.post("/console/applications", &fields).await.status, StatusCode::FORBIDDEN);

    // The right token works, and a browser's "cross-site" mark is refused whatever it carries.
    let id = submit_kim(&mut b).await;
    let csrf = b.csrf(&format!("/console/applications/{id}")).await;
    let p = b.multipart(&format!("/console/applications/{id}/biometrics"), &[("portrait", portrait())], &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "multipart without a token");
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/console/applications/{id}/reject"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site");
    let p = b.send(req, Body::from(format!("_csrf={csrf}&reason=test"))).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    for (path, fields) in [
        (format!("/console/applications/{id}/reject"), vec![("reason", "x")]),
        (format!("/console/applications/{id}/check"), vec![]),
        ("/console/sign-out".to_owned(), vec![]),
        ("/console/language".to_owned(), vec![("lang", "ko"), ("back", "/console/queue")]),
    ] {
        assert_eq!(b.post(&path, &fields).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let page = b.get(&format!("/console/applications/{id}")).await;
    assert!(page.body.contains("Application received"), "still submitted: {}", page.body);
}

#[tokio::test]
async fn an_officers_session_cannot_open_another_reception_points_application() {
    let api = Api::new().await;
    let mut ba_dinh = Browser::new(&api);
    ba_dinh.sign_in(&api.officer.clone()).await;
    let id = submit_kim(&mut ba_dinh).await;

    let (_, elsewhere) = officer_token(&api, "hcm-district-1-police").await;
    let mut other = Browser::new(&api);
    other.sign_in(&elsewhere).await;
    for path in [format!("/console/applications/{id}"), format!("/console/applications/{id}/handout")] {
        let p = other.get(&path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!p.body.contains("KIM MIN JUN") && !p.body.contains("M12345678"), "{path} leaks the applicant");
    }
    let csrf = other.csrf("/console/queue").await;
    for action in ["check", "approve", "offer"] {
        let p = other.post(&format!("/console/applications/{id}/{action}"), &[("_csrf", &csrf)]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{action}");
    }
    let p = other.post(&format!("/console/applications/{id}/reject"), &[("_csrf", &csrf), ("reason", "no")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Nor find it by passport: not found, as the JSON API answers.
    let p = other
        .post("/console/lookup", &[("_csrf", &csrf), ("nationality", "KOR"), ("passport_number", "M12345678")])
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Its queue does not list it; the owner's does.
    assert!(!other.get("/console/queue").await.body.contains(&id));
    assert!(ba_dinh.get("/console/queue").await.body.contains(&id));
    // Officers have no admin pages, admins no officer actions.
    assert_eq!(ba_dinh.get("/console/admin/keys").await.status, StatusCode::FORBIDDEN);
    let mut admin = Browser::new(&api);
    admin.sign_in(&api.admin.clone()).await;
    assert_eq!(admin.get("/console/queue").await.status, StatusCode::FORBIDDEN);
}

/// Deny by default over every console route the router has: without a session a GET goes to the
/// sign-in page and a POST is refused; the same after signing out (with the old cookie), after
/// 30 idle minutes, after 10 hours however busy, and once the token is revoked.
#[tokio::test]
async fn a_signed_out_session_reaches_no_page() {
    let api = Api::new().await;
    let all = routes();
    assert!(all.len() >= 20, "found only {} console routes", all.len());
    let public = ["/console/sign-in", "/console/static/console.css", "/console/static/console.js"];

    async fn denied(b: &mut Browser<'_>, all: &[(String, String)], public: &[&str], why: &str) {
        let csrf = b.get("/console/sign-in").await.csrf();
        for (path, methods) in all {
            let path = concrete(path);
            if methods.contains("get(") && !public.contains(&path.as_str()) {
                let p = b.get(&path).await;
                assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/console/sign-in"), "{why}: GET {path}");
            }
            if methods.contains("post(") && path != "/console/sign-in" && path != "/console/language" {
                let p = b.post(&path, &[("_csrf", &csrf)]).await;
                assert!(
                    matches!(p.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                    "{why}: POST {path}: {}",
                    p.status
                );
                assert!(!p.body.contains("vnid_"), "{why}: POST {path}");
            }
        }
    }

    let mut b = Browser::new(&api);
    denied(&mut b, &all, &public, "never signed in").await;

    // Signed out: the old cookie, kept by a thief or a back button, opens nothing.
    b.sign_in(&api.officer.clone()).await;
    assert_eq!(b.get("/console/queue").await.status, StatusCode::OK);
    let old = b.jar.clone();
    let csrf = b.csrf("/console/queue").await;
    let p = b.post("/console/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(p.location(), "/console/sign-in?done=signed_out");
    assert!(!b.jar.contains_key("vneid_console"), "the cookie is cleared");
    b.jar = old;
    denied(&mut b, &all, &public, "signed out").await;
    // Signing in again works (a new generation).
    let mut b = Browser::new(&api);
    b.sign_in(&api.officer.clone()).await;
    assert_eq!(b.get("/console/queue").await.status, StatusCode::OK);

    // Idle for more than 30 minutes.
    api.clock.advance(31 * 60);
    denied(&mut b, &all, &public, "idle").await;

    // Busy all day: every 20 minutes a page, yet over after 10 hours.
    let mut b = Browser::new(&api);
    b.sign_in(&api.officer.clone()).await;
    for _ in 0..29 {
        api.clock.advance(20 * 60);
        assert_eq!(b.get("/console/queue").await.status, StatusCode::OK, "refreshed while in use");
    }
    api.clock.advance(25 * 60);
    denied(&mut b, &all, &public, "10 hours").await;

    // A revoked token ends its sessions at once.
    let mut b = Browser::new(&api);
    let (id, token) = officer_token(&api, "hn-ba-dinh-police").await;
    b.sign_in(&token).await;
    assert_eq!(b.get("/console/queue").await.status, StatusCode::OK);
    let (st, _) =
        api.call(Method::POST, &format!("/v1/admin/tokens/{id}/revoke"), Some(&api.admin), None, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    denied(&mut b, &all, &public, "revoked").await;
}

#[tokio::test]
async fn the_tk01_form_shows_each_problem_at_its_field_in_the_users_language() {
    let api = Api::new().await;
    let loc = enrollment::i18n::Localizer::new().unwrap();
    for (tag, lang) in [("ko", enrollment::i18n::Lang::Ko), ("vi", enrollment::i18n::Lang::Vi)] {
        let mut b = Browser::new(&api);
        b.lang = "en";
        b.sign_in(&api.officer.clone()).await;
        // The language switch keeps the choice in a cookie, over the browser's Accept-Language.
        let csrf = b.csrf("/console/applications/new").await;
        let p = b
            .post("/console/language", &[("_csrf", &csrf), ("lang", tag), ("back", "/console/applications/new")])
            .await;
        assert_eq!(p.location(), "/console/applications/new");
        assert_eq!(b.jar.get("vneid_console_lang").map(String::as_str), Some(tag));
        let page = b.get("/console/applications/new").await;
        assert!(page.body.starts_with(&format!("<!doctype html>\n<html lang=\"{tag}\">")));

        let csrf = page.csrf();
        let mut fields: Vec<(&str, &str)> =
            kim_form().into_iter().map(|(k, v)| if k == "phone" { (k, "12345") } else { (k, v) }).collect();
        fields.retain(|(k, _)| *k != "email");
        fields.push(("_csrf", &csrf));
        let p = b.post("/console/applications", &fields).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        let phone = loc.reason(lang, enrollment::Reason::PhoneInvalid);
        let missing = loc.reason(lang, enrollment::Reason::FieldMissing);
        // At the field: the message in an element the input names in aria-describedby.
        let at = p.body.find(r#"<p class="error" id="f-phone-error">"#).expect("no error at the phone field");
        assert!(p.body[at..].split("</p>").next().unwrap().contains(&phone), "{}", &p.body[at..at + 300]);
        assert!(p.body.contains(r#"aria-describedby="f-phone-hint f-phone-error" aria-invalid="true""#));
        assert!(p.body.contains(r#"<p class="error" id="f-email-error">"#) && p.body.contains(&missing));
        // In the summary, linked to the field; and what was typed is kept.
        assert!(p.body.contains(&format!(r##"<a href="#f-phone">{phone}</a>"##)));
        assert!(p.body.contains(r#"value="KIM MIN JUN""#) && p.body.contains(r#"value="12345""#));

        // Corrected at the field: filed.
        let csrf = p.csrf();
        let mut fields = kim_form();
        fields.push(("_csrf", &csrf));
        let p = b.post("/console/applications", &fields).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        let page = b.get(p.location()).await;
        let received = loc.status(lang, enrollment::workflow::Status::Submitted);
        assert!(page.body.contains(&received), "{tag}");
        // One application per person: the second language's try is refused, in that language.
        if tag == "ko" {
            let id = p.location().trim_start_matches("/console/applications/").split('?').next().unwrap().to_owned();
            let csrf = page.csrf();
            let p =
                b.post(&format!("/console/applications/{id}/reject"), &[("_csrf", &csrf), ("reason", "test")]).await;
            assert_eq!(p.status, StatusCode::SEE_OTHER);
        }
    }
}

/// The whole officer flow in the console, then every URL it produced (redirects, links, form
/// actions) is checked for the applicant's personal data: there is none.
#[tokio::test]
async fn no_personal_data_in_any_url() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    b.sign_in(&api.officer.clone()).await;
    let id = submit_kim(&mut b).await;
    let app = format!("/console/applications/{id}");
    let csrf = b.csrf(&app).await;
    let p = b
        .multipart(
            &format!("{app}/biometrics"),
            &[("portrait", portrait()), ("fingerprint_2", fingerprint())],
            &[("_csrf", &csrf), ("portrait_quality", "87"), ("fingerprint_2_quality", "71")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(p.location()).await;
    assert!(page.body.contains("87") && page.body.contains("good"), "quality shown");
    let p = b.post(&format!("{app}/check"), &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let offer = b.post(&format!("{app}/approve"), &[("_csrf", &csrf)]).await;
    assert_eq!(offer.status, StatusCode::OK);
    assert!(offer.body.contains(r#"<svg role="img""#), "the QR code");
    assert_eq!(offer.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let lookup =
        b.post("/console/lookup", &[("_csrf", &csrf), ("nationality", "KOR"), ("passport_number", "M12345678")]).await;
    assert_eq!(lookup.location(), app);

    let mut urls: Vec<String> = vec![lookup.location().to_owned()];
    for path in ["/console/queue".to_owned(), app.clone(), format!("{app}/handout"), "/console/applications/new".into()]
    {
        let page = b.get(&path).await;
        for attr in ["href=\"", "action=\"", "src=\""] {
            urls.extend(page.body.split(attr).skip(1).map(|s| s.split('"').next().unwrap().to_owned()));
        }
    }
    urls.extend(offer.body.split("href=\"").skip(1).map(|s| s.split('"').next().unwrap().to_owned()));
    assert!(urls.len() > 20);
    let personal = kim();
    let secrets = [
        personal["passport_number"].as_str().unwrap(),
        personal["residence_card"]["number"].as_str().unwrap(),
        personal["phone"].as_str().unwrap(),
        personal["email"].as_str().unwrap(),
        "KIM",
        "%EA%B9%80",
        "1990-04-12",
    ];
    for url in &urls {
        for s in secrets {
            assert!(!url.to_uppercase().contains(&s.to_uppercase()), "{url} carries {s}");
        }
    }
    // Every form that carries personal data posts it.
    let new = b.get("/console/applications/new").await;
    assert!(new.body.contains(r#"<form method="post" action="/console/applications" novalidate>"#));
}

/// The queue sorts by due date and says which applications are due soon or overdue, in words (not
/// colour alone), with the counts.
#[tokio::test]
async fn the_queue_marks_due_soon_and_overdue_applications() {
    let api = Api::new().await;
    let mut b = Browser::new(&api);
    b.sign_in(&api.officer.clone()).await;
    let id = submit_kim(&mut b).await;
    // Friday 27 November: 3 working days, due Wednesday 2 December.
    let q = b.get("/console/queue").await;
    assert!(q.body.contains(&id) && q.body.contains("2 December 2026"), "{}", q.body);
    assert!(!q.body.contains(r#"<span class="badge soon">"#));
    api.clock.advance(4 * 86_400); // Tuesday 1 December (a new day, a new session)
    b.sign_in(&api.officer.clone()).await;
    let q = b.get("/console/queue").await;
    assert!(q.body.contains(r#"<tr class="soon">"#) && q.body.contains(r#"<span class="badge soon">Due soon</span>"#));
    api.clock.advance(2 * 86_400); // Thursday 3 December
    b.sign_in(&api.officer.clone()).await;
    let q = b.get("/console/queue").await;
    assert!(q.body.contains(r#"<span class="badge overdue">Overdue</span>"#), "{}", q.body);
    assert!(q.body.contains(r#"<dd class="n overdue">1</dd>"#), "the count");
    let app = b.get(&format!("/console/applications/{id}")).await;
    assert!(app.body.contains(r#"<span class="badge overdue">Overdue</span>"#));
}

/// The audit screen reads the log newest first, across the store's forward-only pages, with
/// filters and an "older" link that continues where the page stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_reads_newest_first_with_filters_and_older_pages() {
    let api = Api::new().await;
    let store = api.service.store().clone();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2500u64 {
        let store = store.clone();
        tasks.spawn(async move {
            let e = issuer::store::AuditEntry::new(1_000_000 + i, "system", "test.event", &format!("s{i}"), None);
            store.append_audit(e).await.unwrap()
        });
    }
    let mut newest = 0;
    while let Some(seq) = tasks.join_next().await {
        newest = newest.max(seq.unwrap());
    }
    let mut b = Browser::new(&api);
    b.sign_in(&api.admin.clone()).await;
    let seqs = |p: &Page| -> Vec<u64> {
        p.body
            .split("<tr>\n      <td>")
            .skip(1)
            .map(|r| r.split("</td>").next().unwrap().trim().parse().unwrap())
            .collect()
    };
    let first = b.get("/console/admin/audit").await;
    assert_eq!(first.status, StatusCode::OK);
    let rows = seqs(&first);
    assert_eq!(rows.len(), 200);
    assert_eq!(rows[0], newest, "newest first");
    assert!(rows.windows(2).all(|w| w[0] > w[1]));
    let href = first.body.split(r#"<p><a href=""#).nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert!(href.starts_with("/console/admin/audit?before="), "{href}");
    let older = seqs(&b.get(&href).await);
    assert_eq!(older[0], rows[199] - 1, "the older page goes on where the first stopped");

    // A subject deep in the log, and a family of actions.
    let one = b.get("/console/admin/audit?subject=s7").await;
    assert_eq!(seqs(&one).len(), 1, "{}", one.body);
    assert!(one.body.contains(">s7</td>"));
    let tokens = b.get("/console/admin/audit?action=token.").await;
    assert!(!seqs(&tokens).is_empty() && !tokens.body.contains("test.event"));
    // Dates bound the search (Vietnam days); a filter that is not an id is refused, not run.
    let none = b.get("/console/admin/audit?from=2030-01-01").await;
    assert!(seqs(&none).is_empty() && none.body.contains("No entry matches"));
    let bad = b.get("/console/admin/audit?subject=%3Cscript%3E").await;
    assert!(bad.body.contains("An id filter may hold only") && !bad.body.contains("<script>x"));
}

/// The language switch is kept per staff member: chosen on one browser, it is the language of
/// their next sign-in on another; another staff member's sign-in on that browser is not moved.
#[tokio::test]
async fn the_chosen_language_follows_the_staff_member_to_another_browser() {
    let api = Api::new().await;
    let officer = api.officer.clone();
    let mut first = Browser::new(&api);
    first.sign_in(&officer).await;
    let csrf = first.csrf("/console/queue").await;
    let p = first.post("/console/language", &[("_csrf", &csrf), ("lang", "ko"), ("back", "/console/queue")]).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/console/queue"));
    assert_eq!(first.jar.get("vneid_console_lang").map(String::as_str), Some("ko"));

    // Another browser, English by its Accept-Language: the sign-in brings Korean back.
    let mut second = Browser::new(&api);
    assert!(second.get("/console/sign-in").await.body.contains("<html lang=\"en\">"));
    second.sign_in(&officer).await;
    assert_eq!(second.jar.get("vneid_console_lang").map(String::as_str), Some("ko"));
    assert!(second.get("/console/queue").await.body.contains("<html lang=\"ko\">"));

    // The admin never chose: signing in on a fresh browser sets no language.
    let mut third = Browser::new(&api);
    third.sign_in(&api.admin.clone()).await;
    assert!(!third.jar.contains_key("vneid_console_lang"));
}
