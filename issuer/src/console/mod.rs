//! The officer and admin console: server-rendered HTML at `/console`, in Vietnamese, English,
//! Chinese and Korean, over the same service use cases as the JSON API.
//!
//! # Shape
//!
//! Like the JSON API, a handler parses the form, makes one service call and answers: a page
//! (askama templates under `issuer/templates/console/`, checked at compile time) or a `303` to the
//! page that shows the result. Pages work without JavaScript; `static/console.js` only adds the
//! camera capture, the print button and moves focus to an error summary. Errors become pages in
//! one place ([`error`]), with the status the JSON API would give.
//!
//! # Security as a browser needs it
//!
//! * **Sessions** ([`session`]): signing in trades a staff bearer token for an HMAC-signed,
//!   stateless session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when the public URL is
//!   `https`), which holds the token's digest, not the token, and expires after 30 idle minutes
//!   or 10 hours. Every request looks the token up again; signing out ends every session of the
//!   token. The JSON API keeps its bearer tokens and never accepts the cookie.
//! * **CSRF**: every form carries a token bound to the session; a POST without it is refused.
//! * **Content-Security-Policy** on every response: scripts and styles from this origin only,
//!   none inline; no frames; forms post to this origin only. Pages are `no-store`.
//! * **No personal data in URLs**: personal data only ever travels in POST bodies; URLs carry
//!   record ids, a language and audit filters made of ids, actions and dates.
//! * **Authorization** is the service's, as for the JSON API: an officer's session cannot open
//!   another reception point's application.
//!
//! # Accessible
//!
//! Every field has a `<label>`, hints and errors are tied to it with `aria-describedby`, an
//! error summary links to each field, focus is always visible, colour is never the only sign
//! (overdue applications say so in words), and the palette passes WCAG AA contrast. The browser
//! tests run axe-core on every screen.

pub mod admin;
pub mod auth;
pub mod error;
pub mod i18n;
pub mod officer;
pub mod session;
pub mod views;

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::http::AppState;
use crate::service::Service;
use crate::store::Role;
use error::{ConsoleError, ErrorPage};
use i18n::Tr;
use session::{Seen, Signed};
pub use views::{Ctx, UserBox};

/// The policy every console response carries: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
                       connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, behind the middleware that reads its cookies, writes its security
/// headers and renders its error pages.
pub fn router(service: &Arc<Service>) -> Router<AppState> {
    let state = AppState { service: service.clone() };
    Router::new()
        .merge(auth::router())
        .merge(officer::router())
        .merge(admin::router())
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .route("/console/{*rest}", get(unknown).post(unknown))
        .layer(axum::middleware::from_fn_with_state(state, console_layer))
}

/// Where a staff member starts.
fn landing(role: Role) -> &'static str {
    match role {
        Role::Officer => "/console/queue",
        Role::Admin => "/console/admin/tokens",
    }
}

async fn home(signed: Signed) -> Redirect {
    Redirect::to(landing(signed.who.role))
}

/// Unknown console paths: signed-out users go to sign in first (nothing is told about what
/// exists), signed-in users get a 404 page.
async fn unknown(_signed: Signed) -> ConsoleError {
    ConsoleError::NotFound
}

async fn css() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../../static/console.css"))
}

async fn js() -> Response {
    static_file("text/javascript; charset=utf-8", include_str!("../../static/console.js"))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The console's middleware: reads the cookies (language, session, pre-session) for the
/// extractors, renders error pages in the request's language, refreshes a used session's
/// cookie, and writes the security headers.
async fn console_layer(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let now = s.service.now();
    let key = s.service.console_key();
    let secure = session::secure(&s.service);
    let path = req.uri().path_and_query().map_or_else(|| "/console".to_owned(), |p| p.as_str().to_owned());
    let mut seen = Seen::read(req.headers(), path, &key, now);
    // Forms shown before sign-in need a CSRF token too: it is bound to this cookie.
    let new_pre = (seen.session.is_none() && seen.pre.is_none()).then(session::new_pre);
    if new_pre.is_some() {
        seen.pre.clone_from(&new_pre);
    }
    req.extensions_mut().insert(seen.clone());
    let mut resp = next.run(req).await;

    if let Some(page) = resp.extensions_mut().remove::<ErrorPage>() {
        resp = error_page(page, &seen, &key);
    }
    let h = resp.headers_mut();
    if let Some(pre) = new_pre {
        h.append(axum::http::header::SET_COOKIE, session::set_cookie(session::PRE_COOKIE, &pre, None, secure));
    }
    let signed_out = resp.status() == StatusCode::UNAUTHORIZED
        || resp.headers().get(axum::http::header::LOCATION).is_some_and(|l| l == "/console/sign-in");
    if let (Some(sess), false) = (&seen.session, signed_out) {
        if !session::sets_session(resp.headers()) {
            if let Some(c) = session::refreshed(sess, &key, now, secure) {
                resp.headers_mut().append(axum::http::header::SET_COOKIE, c);
            }
        }
    }
    security_headers(resp.headers_mut(), secure);
    resp
}

fn error_page(page: ErrorPage, seen: &Seen, key: &[u8; 32]) -> Response {
    let tr = Tr::new(seen.lang);
    let back = if seen.path.starts_with("/console/sign-in") { "/console".into() } else { seen.path.clone() };
    let view = views::ErrorView {
        ctx: Ctx::new(tr, seen.csrf(key), None, back),
        title: tr.t(page.title),
        messages: page.codes.iter().map(|c| tr.reason(c)).collect(),
        signed_in: seen.session.is_some(),
    };
    views::page(page.status, &view)
}

/// The headers every console response carries.
pub fn security_headers(h: &mut HeaderMap, secure: bool) {
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "permissions-policy", "camera=(self), microphone=(), geolocation=(), payment=()");
    if !h.contains_key(CACHE_CONTROL) {
        // Pages carry personal data: no copies in caches or the back-forward cache.
        set(h, "cache-control", "no-store");
    }
    if secure {
        set(h, "strict-transport-security", "max-age=31536000");
    }
}

/// A record id from the path: anything that does not parse is the console's 404 page.
#[derive(Debug, Clone)]
pub struct ConsoleId<T>(pub T);

impl<S: Send + Sync, T: FromStr + Send> FromRequestParts<S> for ConsoleId<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ConsoleError::NotFound)?;
        raw.parse().map(ConsoleId).map_err(|_| ConsoleError::NotFound)
    }
}

/// A `?done=` code of a redirect.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Done {
    pub done: Option<String>,
}
