//! Console sessions, CSRF tokens and the console's cookies.
//!
//! **Stateless, HMAC-signed sessions.** Signing in trades a staff bearer token for a cookie
//! that holds, signed with HMAC-SHA-256 under the console key ([`Service::console_key`]): the
//! SHA-256 of the token (never the token), a random session id, the time it was made, the time
//! it was last used and the token's session generation. Every request checks the signature,
//! both ages (30 minutes idle, 10 hours in all) against the injected clock, and then looks the
//! token up again: a revoked token ends its sessions at once, and signing out bumps the token's
//! generation (one setting in the store), which ends every session made before. Stateless,
//! because any node that shares the data keys then serves any session with no session table to
//! share, write or clean; signing out and revocation still end sessions everywhere.
//!
//! **CSRF.** Every form carries `_csrf`: an HMAC of the session id (signed in), or of a random
//! pre-session cookie (the sign-in and language forms before sign-in). A POST whose token does
//! not match is refused before its handler runs. Cookies are also `SameSite=Strict`, and a
//! request a browser marks `Sec-Fetch-Site: cross-site` is refused whatever it carries.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use super::error::ConsoleError;
use super::i18n::Tr;
use super::{Ctx, UserBox};
use crate::http::AppState;
use crate::i18n::Lang;
use crate::service::{Principal, Service};
use crate::store::{Digest, Role};

/// The session cookie.
pub const SESSION_COOKIE: &str = "vneid_console";
/// The pre-session cookie (CSRF for forms shown before sign-in).
pub const PRE_COOKIE: &str = "vneid_console_pre";
/// The language the user chose.
pub const LANG_COOKIE: &str = "vneid_console_lang";

/// A session ends after this long without a request.
pub const IDLE: u64 = 30 * 60;
/// …and this long after sign-in, whatever happens.
pub const ABSOLUTE: u64 = 10 * 3600;
/// A used session's cookie is written again (with the new "last used") at most this often.
const REFRESH_AFTER: u64 = 60;

const VERSION: u8 = 1;
const PAYLOAD: usize = 1 + 4 + 8 + 8 + 16 + 32;

/// A session as its cookie says, signature checked, ages not yet.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub generation: u32,
    pub issued_at: u64,
    pub seen_at: u64,
    pub sid: [u8; 16],
    pub token: Digest,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("issued_at", &self.issued_at).field("seen_at", &self.seen_at).finish()
    }
}

fn mac(key: &[u8; 32], label: &[u8], data: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail on 32 bytes.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(label);
    m.update(&[0]);
    m.update(data);
    m
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    // Invariant: HMAC-SHA-256 accepts keys of any length.
    panic!("HMAC rejected a 32-byte key")
}

/// Compares two byte strings in time that depends on their lengths only.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// A new session for a token (its digest) at `now`.
    pub fn new(token: Digest, generation: u32, now: u64) -> Self {
        let mut sid = [0u8; 16];
        OsRng.fill_bytes(&mut sid);
        Self { generation, issued_at: now, seen_at: now, sid, token }
    }

    fn payload(&self) -> [u8; PAYLOAD] {
        let mut p = [0u8; PAYLOAD];
        p[0] = VERSION;
        p[1..5].copy_from_slice(&self.generation.to_be_bytes());
        p[5..13].copy_from_slice(&self.issued_at.to_be_bytes());
        p[13..21].copy_from_slice(&self.seen_at.to_be_bytes());
        p[21..37].copy_from_slice(&self.sid);
        p[37..69].copy_from_slice(&self.token.0);
        p
    }

    /// The cookie value: `payload.mac`, both base64url.
    pub fn encode(&self, key: &[u8; 32]) -> String {
        let p = self.payload();
        let tag = mac(key, b"session", &p).finalize().into_bytes();
        format!("{}.{}", B64.encode(p), B64.encode(tag))
    }

    /// The session a cookie value holds, if its signature is ours.
    pub fn decode(value: &str, key: &[u8; 32]) -> Option<Self> {
        let (p, t) = value.split_once('.')?;
        if p.len() > 200 || t.len() > 100 {
            return None;
        }
        let (p, t) = (B64.decode(p).ok()?, B64.decode(t).ok()?);
        mac(key, b"session", &p).verify_slice(&t).ok()?;
        if p.len() != PAYLOAD || p[0] != VERSION {
            return None;
        }
        let u64_at = |i: usize| p.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        Some(Self {
            generation: u32::from_be_bytes(p.get(1..5)?.try_into().ok()?),
            issued_at: u64_at(5)?,
            seen_at: u64_at(13)?,
            sid: p.get(21..37)?.try_into().ok()?,
            token: Digest(p.get(37..69)?.try_into().ok()?),
        })
    }

    /// Whether the session is still young enough at `now` (idle and absolute limits; a session
    /// from the future, beyond a minute of clock skew between nodes, is refused too).
    pub fn fresh(&self, now: u64) -> bool {
        self.issued_at <= now.saturating_add(60)
            && self.seen_at <= now.saturating_add(60)
            && now.saturating_sub(self.seen_at) <= IDLE
            && now.saturating_sub(self.issued_at) <= ABSOLUTE
    }

    /// The CSRF token of this session.
    pub fn csrf(&self, key: &[u8; 32]) -> String {
        B64.encode(mac(key, b"csrf", &self.sid).finalize().into_bytes())
    }
}

/// The CSRF token of a pre-session cookie value.
pub fn pre_csrf(pre: &str, key: &[u8; 32]) -> String {
    B64.encode(mac(key, b"csrf-pre", pre.as_bytes()).finalize().into_bytes())
}

/// A fresh pre-session value.
pub fn new_pre() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for a console cookie: path `/console`, `HttpOnly`, `SameSite=Strict`,
/// `Secure` when the issuer is reached over TLS; `max_age` `None` for a browser-session cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    // Names and values are ours: base64url, language tags, digits.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("vneid_console_invalid=; Path=/console"))
}

/// Whether cookies must be `Secure`: the issuer's public URL is `https`.
pub fn secure(service: &Service) -> bool {
    service.issuer_url().starts_with("https://")
}

/// What the console middleware learned from the request's cookies, for the extractors.
#[derive(Debug, Clone)]
pub struct Seen {
    pub lang: Lang,
    /// A session whose signature and ages are good (the token is checked by the extractors).
    pub session: Option<Session>,
    /// The pre-session cookie, when there is one.
    pub pre: Option<String>,
    /// The request's path (and query), for the language form's way back.
    pub path: String,
}

impl Seen {
    /// Reads the cookies of a request at `now`.
    pub fn read(headers: &HeaderMap, path: String, key: &[u8; 32], now: u64) -> Self {
        let lang = cookie(headers, LANG_COOKIE)
            .and_then(|l| l.parse::<Lang>().ok())
            .unwrap_or_else(|| crate::i18n::negotiate(crate::http::lang_of(headers)));
        let session = cookie(headers, SESSION_COOKIE).and_then(|v| Session::decode(v, key)).filter(|s| s.fresh(now));
        let pre = cookie(headers, PRE_COOKIE).filter(|v| v.len() <= 64).map(str::to_owned);
        Self { lang, session, pre, path }
    }

    /// The CSRF token forms on this request's page must carry.
    pub fn csrf(&self, key: &[u8; 32]) -> String {
        match (&self.session, &self.pre) {
            (Some(s), _) => s.csrf(key),
            (None, Some(p)) => pre_csrf(p, key),
            (None, None) => String::new(),
        }
    }

    /// Whether a form's `_csrf` is the one expected.
    pub fn csrf_ok(&self, key: &[u8; 32], given: &str) -> bool {
        let want = self.csrf(key);
        !want.is_empty() && same(want.as_bytes(), given.as_bytes())
    }
}

/// The signed-in staff member of a console request, with the page chrome. Signed-out requests
/// get the sign-in page (a redirect for GET, 401 otherwise).
#[derive(Debug, Clone)]
pub struct Signed {
    pub who: Principal,
    pub ctx: Ctx,
}

/// A signed-in officer.
#[derive(Debug, Clone)]
pub struct Officer(pub Signed);

/// A signed-in admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Signed);

fn seen(parts: &Parts) -> Result<&Seen, ConsoleError> {
    // The console middleware inserts it for every console route.
    parts.extensions.get::<Seen>().ok_or_else(|| ConsoleError::Internal("console middleware missing".into()))
}

/// The staff member of a request's session: `None` without a session, for a token that is
/// unknown or revoked, or for a session of an older generation (signed out since).
pub async fn staff_of(seen: &Seen, service: &crate::service::Service) -> Result<Option<Principal>, ConsoleError> {
    let Some(session) = &seen.session else { return Ok(None) };
    let Ok(who) = service.principal_by_digest(&session.token).await else { return Ok(None) };
    if service.console_generation(&who.id).await.map_err(ConsoleError::from)? != session.generation {
        return Ok(None);
    }
    Ok(Some(who))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let sign_in = || if parts.method == Method::GET { ConsoleError::SignIn } else { ConsoleError::SignedOut };
        let seen = seen(parts)?;
        let who = staff_of(seen, &state.service).await?.ok_or_else(sign_in)?;
        let session = seen.session.clone().ok_or_else(sign_in)?;
        let key = state.service.console_key();
        let user = UserBox { name: who.name.clone(), role: who.role, point: who.reception_point.clone() };
        let ctx = Ctx::new(Tr::new(seen.lang), session.csrf(&key), Some(user), seen.path.clone());
        Ok(Signed { who, ctx })
    }
}

impl FromRequestParts<AppState> for Officer {
    type Rejection = ConsoleError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let s = Signed::from_request_parts(parts, state).await?;
        if s.who.role != Role::Officer {
            return Err(ConsoleError::Forbidden);
        }
        Ok(Officer(s))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ConsoleError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let s = Signed::from_request_parts(parts, state).await?;
        if s.who.role != Role::Admin {
            return Err(ConsoleError::Forbidden);
        }
        Ok(Admin(s))
    }
}

/// A page anyone may see (sign-in): the chrome with the pre-session CSRF token.
#[derive(Debug, Clone)]
pub struct Anyone {
    pub ctx: Ctx,
    pub seen: Seen,
}

impl FromRequestParts<AppState> for Anyone {
    type Rejection = ConsoleError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let seen = seen(parts)?.clone();
        let ctx = Ctx::new(Tr::new(seen.lang), seen.csrf(&state.service.console_key()), None, seen.path.clone());
        Ok(Anyone { ctx, seen })
    }
}

/// A URL-encoded form whose `_csrf` field matched; the fields in order.
#[derive(Debug, Clone)]
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    /// The first value of a field ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when blank.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let seen = seen(&parts)?.clone();
        cross_site_check(&parts.headers)?;
        let req = axum::extract::Request::from_parts(parts, body);
        let axum::Form(fields) =
            axum::Form::<Vec<(String, String)>>::from_request(req, state).await.map_err(|_| ConsoleError::BadForm)?;
        let form = Posted(fields);
        if !seen.csrf_ok(&state.service.console_key(), form.get("_csrf")) {
            return Err(ConsoleError::Csrf);
        }
        Ok(form)
    }
}

/// Refuses a request the browser says comes from another site.
pub fn cross_site_check(headers: &HeaderMap) -> Result<(), ConsoleError> {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("cross-site") => Err(ConsoleError::Csrf),
        _ => Ok(()),
    }
}

/// The CSRF check for a multipart form (the biometric upload), whose fields the handler reads.
#[derive(Debug, Clone)]
pub struct CsrfCheck(Seen, [u8; 32]);

impl CsrfCheck {
    pub fn verify(&self, given: &str) -> Result<(), ConsoleError> {
        if self.0.csrf_ok(&self.1, given) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

impl FromRequestParts<AppState> for CsrfCheck {
    type Rejection = ConsoleError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        cross_site_check(&parts.headers)?;
        Ok(CsrfCheck(seen(parts)?.clone(), *state.service.console_key()))
    }
}

/// The `Set-Cookie` that keeps a used session alive, when it is due.
pub fn refreshed(s: &Session, key: &[u8; 32], now: u64, secure: bool) -> Option<HeaderValue> {
    if now.saturating_sub(s.seen_at) < REFRESH_AFTER {
        return None;
    }
    let next = Session { seen_at: now, ..s.clone() };
    Some(set_cookie(SESSION_COOKIE, &next.encode(key), None, secure))
}

/// Whether a response already sets the session cookie (sign-in, sign-out).
pub fn sets_session(headers: &HeaderMap) -> bool {
    headers.get_all(SET_COOKIE).iter().any(|v| v.to_str().is_ok_and(|v| v.starts_with(&format!("{SESSION_COOKIE}="))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn sessions_round_trip_and_refuse_tampering() {
        let s = Session::new(Digest([3; 32]), 2, 1_000_000);
        let v = s.encode(&KEY);
        assert_eq!(Session::decode(&v, &KEY), Some(s.clone()));
        assert_eq!(Session::decode(&v, &[8; 32]), None);
        let (p, t) = v.split_once('.').unwrap();
        let mut raw = B64.decode(p).unwrap();
        raw[6] ^= 1;
        assert_eq!(Session::decode(&format!("{}.{t}", B64.encode(&raw)), &KEY), None);
        for bad in ["", ".", "abc", "a.b", &format!("{p}."), &format!(".{t}")] {
            assert_eq!(Session::decode(bad, &KEY), None, "{bad}");
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_in_all() {
        let s = Session::new(Digest([3; 32]), 0, 1_000_000);
        assert!(s.fresh(1_000_000 + IDLE));
        assert!(!s.fresh(1_000_000 + IDLE + 1));
        let used = Session { seen_at: 1_000_000 + ABSOLUTE - 10, ..s.clone() };
        assert!(used.fresh(1_000_000 + ABSOLUTE));
        assert!(!used.fresh(1_000_000 + ABSOLUTE + 1));
        assert!(!s.fresh(1_000_000 - 61), "a session from the future");
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_key() {
        let a = Session::new(Digest([3; 32]), 0, 1);
        let b = Session::new(Digest([3; 32]), 0, 1);
        assert_ne!(a.csrf(&KEY), b.csrf(&KEY));
        assert_ne!(a.csrf(&KEY), a.csrf(&[9; 32]));
        assert_ne!(pre_csrf("x", &KEY), pre_csrf("y", &KEY));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }

    #[test]
    fn cookies_parse_and_are_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; vneid_console_lang=ko ; vneid_console=x.y"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("ko"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("x.y"));
        assert_eq!(cookie(&h, "b"), None);
        let c = set_cookie(SESSION_COOKIE, "v", None, false);
        assert_eq!(c, "vneid_console=v; Path=/console; HttpOnly; SameSite=Strict");
        let c = set_cookie(LANG_COOKIE, "vi", Some(Duration::from_secs(5)), true);
        assert_eq!(c, "vneid_console_lang=vi; Path=/console; HttpOnly; SameSite=Strict; Max-Age=5; Secure");
    }
}
