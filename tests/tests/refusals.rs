//! Every route of the real binary, with every class of bad input, answers the API's JSON error
//! with a stable code, never plain text or an empty body: a wrong method (405, with `Allow`), a
//! path whose parameter does not decode and a path that does not exist (404), a query that does
//! not parse or names an unknown parameter (400 `invalid_query`), a body larger than the route
//! takes (413), a body of the wrong content type (415, or the OAuth `invalid_request` /
//! `invalid_credential_request` on the wallet endpoints), and a broken multipart upload (400
//! `invalid_multipart` on the upload; 415 elsewhere). The routes are read from the router
//! sources, so a new route is walked without editing this test; and each code must be listed in
//! the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use anyhow::Result;
use e2e::raw;
use serde_json::Value;

/// Every `.route(path, methods)` in the router sources, as (path, methods text).
fn routes() -> Vec<(String, String)> {
    let src = [
        include_str!("../../issuer/src/http/applications.rs"),
        include_str!("../../issuer/src/http/admin.rs"),
        include_str!("../../issuer/src/http/oid4vci.rs"),
        include_str!("../../issuer/src/http/public.rs"),
        include_str!("../../issuer/src/http/ops.rs"),
        include_str!("../../issuer/src/http/custody.rs"),
        include_str!("../../issuer/src/http/registry.rs"),
    ]
    .concat();
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let Some(rest) = chunk.strip_prefix('"') else { continue };
        let path = rest.split('"').next().unwrap().to_owned();
        let methods = rest.split(")\n").next().unwrap_or("").to_owned();
        out.push((path, methods));
    }
    out
}

/// Routes that read a query string (and refuse unknown parameters).
const WITH_QUERY: &[&str] = &[
    "/v1/applications",
    "/v1/applications/{id}",
    "/v1/reports/deadlines",
    "/v1/reports/daily-counts",
    "/v1/admin/audit",
    "/v1/admin/keys/{kid}/credentials",
    "/v1/reports/registry-changes",
];

struct Walk<'a> {
    addr: &'a str,
    admin: &'a str,
    officer: &'a str,
    /// (route, class, status, code) of every refusal seen.
    seen: Vec<(String, &'static str, u16, String)>,
}

impl Walk<'_> {
    fn token_for(&self, route: &str) -> Option<&str> {
        if route.starts_with("/v1/admin") {
            Some(self.admin)
        } else if route.starts_with("/v1/applications") || route.starts_with("/v1/reports") {
            Some(self.officer)
        } else {
            None
        }
    }

    /// Sends one request and checks it is refused with `status` and one of `codes`, as JSON.
    #[allow(clippy::too_many_arguments)]
    fn expect(
        &mut self,
        route: &str,
        class: &'static str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        status: u16,
        codes: &[&str],
    ) -> Result<raw::Response> {
        let auth = self.token_for(route).map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &auth {
            all.push(("Authorization", a));
        }
        all.push(("Accept-Language", "en"));
        let resp = raw::exchange(self.addr, &raw::request(method, path, &all, body), Duration::from_secs(10))?;
        let what = format!("{class}: {method} {path} (route {route})");
        assert_eq!(resp.status, status, "{what}: {} {}", resp.status, String::from_utf8_lossy(&resp.body));
        let ct = resp.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "{what}: content type {ct:?}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let v = resp.json();
        let code = v["error"].as_str().unwrap_or_else(|| panic!("{what}: no error code in {v}")).to_owned();
        assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{what}: {code} is not a stable code");
        assert!(codes.contains(&code.as_str()), "{what}: {code}, expected one of {codes:?}: {v}");
        let text = v["message"].as_str().or_else(|| v["error_description"].as_str()).unwrap_or_default();
        assert!(!text.is_empty() && !text.starts_with("api-"), "{what}: no message: {v}");
        self.seen.push((route.to_owned(), class, status, code));
        Ok(resp)
    }
}

#[test]
fn every_route_refuses_every_bad_input_class_with_a_json_error_and_a_stable_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = e2e::Issuer::start(&dir.path().join("data"), &[])?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let addr = issuer.addr().to_owned();
    let mut w = Walk { addr: &addr, admin: &admin, officer: &officer, seen: Vec::new() };
    let all = routes();
    assert!(all.len() >= 30, "found only {} routes", all.len());
    let id = "00000000000000000000000000000000";
    for (route, methods) in &all {
        let is_post = methods.contains("post(");
        let is_get = methods.contains("get(");
        let real = route.replace("{id}", id).replace("{kid}", "AAAAAA");

        // A method the route does not take.
        let r = w.expect(route, "wrong method", "DELETE", &real, &[], b"", 405, &["method_not_allowed"])?;
        assert!(r.header("allow").is_some(), "{route}: a 405 says what is allowed");

        // A path parameter that does not decode (not UTF-8), or a segment too many.
        if route.contains('{') {
            let bad = route.replace("{id}", "%FF%FE").replace("{kid}", "%FF%FE");
            let method = if is_get { "GET" } else { "POST" };
            w.expect(route, "bad path", method, &bad, &[], b"", 404, &["not_found"])?;
        } else {
            let method = if is_get { "GET" } else { "POST" };
            w.expect(route, "bad path", method, &format!("{real}/%FF"), &[], b"", 404, &["not_found"])?;
        }

        // A query that does not parse, or names a parameter the route does not have.
        if WITH_QUERY.contains(&route.as_str()) {
            w.expect(
                route,
                "bad query",
                "GET",
                &format!("{real}?limit=many&after=-1&soon_days=x"),
                &[],
                b"",
                400,
                &["invalid_query"],
            )?;
            w.expect(
                route,
                "bad query",
                "GET",
                &format!("{real}?no_such_parameter=1"),
                &[],
                b"",
                400,
                &["invalid_query"],
            )?;
        }

        if !is_post {
            continue;
        }
        // A body larger than the route takes (announced: refused before it is read).
        w.expect(
            route,
            "oversized body",
            "POST",
            &real,
            &[("Content-Type", "application/json"), ("Content-Length", "50000000")],
            b"",
            413,
            &["payload_too_large"],
        )?;

        // A body of another content type.
        let (status, codes): (u16, &[&str]) = match route.as_str() {
            "/token" | "/nonce" => (400, &["invalid_request"]),
            "/credential" => (400, &["invalid_credential_request"]),
            _ => (415, &["unsupported_media_type"]),
        };
        let bearer =
            if route == "/credential" || route == "/nonce" { Some("Bearer not-a-real-access-token") } else { None };
        // The trust list upload takes the JWS as text (`keys trust-list sign` writes it so).
        let other = if route == "/v1/admin/trust-list" { "image/png" } else { "text/plain" };
        let mut h = vec![("Content-Type", other)];
        if let Some(b) = bearer {
            // The wallet endpoints' own token (the body is looked at before it, on /credential).
            h.push(("Authorization", b));
        }
        w.expect(route, "wrong content type", "POST", &real, &h, b"hello", status, codes)?;

        // A broken multipart upload.
        let boundary = "multipart/form-data; boundary=XyZ";
        let broken =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"portrait\"\r\n\r\n\x89PNG trailing, never closed";
        let (status, codes): (u16, &[&str]) = match route.as_str() {
            "/v1/applications/{id}/biometrics" => (400, &["invalid_multipart"]),
            "/token" | "/nonce" => (400, &["invalid_request"]),
            "/credential" => (400, &["invalid_credential_request"]),
            _ => (415, &["unsupported_media_type"]),
        };
        let mut h = vec![("Content-Type", boundary)];
        if let Some(b) = bearer {
            h.push(("Authorization", b));
        }
        w.expect(route, "broken multipart", "POST", &real, &h, broken, status, codes)?;
    }
    // A path that does not exist at all.
    w.expect("-", "unknown path", "GET", "/no/such/thing", &[], b"", 404, &["not_found"])?;

    // Every code met is in the OpenAPI document's list of error codes.
    let doc: Value = serde_json::from_str(&http.get_text("/openapi.json")?)?;
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (route, class, status, code) in &w.seen {
        assert!(listed.contains(&code.as_str()), "{route} {class} ({status} {code}): {code} is not in openapi.json");
    }
    let classes: std::collections::BTreeSet<&str> = w.seen.iter().map(|(_, c, _, _)| *c).collect();
    assert_eq!(classes.len(), 7, "{classes:?}");
    eprintln!("{} refusals checked over {} routes", w.seen.len(), all.len());
    Ok(())
}
