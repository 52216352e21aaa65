//! Sign-in, sign-out and the language switch.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::error::ConsoleError;
use super::session::{self, Anyone, Posted, Session, Signed};
use super::views::{page, SignInPage};
use super::{landing, Done};
use crate::http::AppState;
use crate::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/language", post(language))
}

async fn sign_in_page(any: Anyone, Query(q): Query<Done>) -> Response {
    let ctx = any.ctx.done(q.done.as_deref());
    page(StatusCode::OK, &SignInPage { ctx, error: None })
}

/// Trades a staff token for a session cookie. The token travels once, in this POST's body.
async fn sign_in(State(s): State<AppState>, any: Anyone, form: Posted) -> Result<Response, ConsoleError> {
    let token = form.get("token").trim();
    let who = match s.service.authenticate(token).await {
        Ok(who) => who,
        Err(_) => {
            let error = Some(any.ctx.t("console-sign-in-failed"));
            return Ok(page(StatusCode::UNAUTHORIZED, &SignInPage { ctx: any.ctx, error }));
        }
    };
    let generation = s.service.console_generation(&who.id).await?;
    let key = s.service.console_key();
    let secure = session::secure(&s.service);
    let cookie = Session::new(crate::service::hash_secret(token), generation, s.service.now()).encode(&key);
    let mut resp = Redirect::to(landing(who.role)).into_response();
    let h = resp.headers_mut();
    h.append(SET_COOKIE, session::set_cookie(session::SESSION_COOKIE, &cookie, None, secure));
    // The language this staff member chose last, on whichever browser: it follows the person.
    if let Some(lang) = s.service.console_language(&who.id).await? {
        h.append(SET_COOKIE, session::set_cookie(session::LANG_COOKIE, lang.tag(), Some(LANG_COOKIE_AGE), secure));
    }
    // The pre-session cookie served the sign-in form only.
    h.append(SET_COOKIE, session::set_cookie(session::PRE_COOKIE, "", Some(Duration::ZERO), secure));
    Ok(resp)
}

/// Ends every console session of the staff member's token, here and in other browsers.
async fn sign_out(State(s): State<AppState>, signed: Signed, _form: Posted) -> Result<Response, ConsoleError> {
    s.service.console_sign_out(&signed.who).await?;
    let mut resp = Redirect::to("/console/sign-in?done=signed_out").into_response();
    let secure = session::secure(&s.service);
    resp.headers_mut()
        .append(SET_COOKIE, session::set_cookie(session::SESSION_COOKIE, "", Some(Duration::ZERO), secure));
    Ok(resp)
}

/// How long the browser keeps the language cookie.
const LANG_COOKIE_AGE: Duration = Duration::from_secs(365 * 86_400);

/// Keeps the chosen language in a cookie (a year) and, for a signed-in staff member, with their
/// token (so it follows them to another browser, set again at sign-in), then goes back to the
/// page it was chosen on.
async fn language(State(s): State<AppState>, any: Anyone, form: Posted) -> Result<Response, ConsoleError> {
    let lang: Lang = form.get("lang").parse().map_err(|_| ConsoleError::BadForm)?;
    if let Some(who) = session::staff_of(&any.seen, &s.service).await? {
        s.service.console_set_language(&who, lang).await?;
    }
    let back = safe_back(form.get("back"));
    let mut resp = Redirect::to(&back).into_response();
    let cookie =
        session::set_cookie(session::LANG_COOKIE, lang.tag(), Some(LANG_COOKIE_AGE), session::secure(&s.service));
    resp.headers_mut().append(SET_COOKIE, cookie);
    Ok(resp)
}

/// A way back inside the console only (no open redirect): a `/console` path with a plain query.
pub fn safe_back(back: &str) -> String {
    let ok = (back == "/console" || back.starts_with("/console/") || back.starts_with("/console?"))
        && back.len() <= 512
        && back.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !back.contains("//");
    if ok {
        back.to_owned()
    } else {
        "/console".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_stays_in_the_console() {
        assert_eq!(safe_back("/console/queue"), "/console/queue");
        assert_eq!(safe_back("/console/admin/audit?action=key."), "/console/admin/audit?action=key.");
        for bad in
            ["https://evil.example/", "//evil.example", "/console//evil", "/consolex", "/console/a\\b", "/v1/admin", ""]
        {
            assert_eq!(safe_back(bad), "/console", "{bad}");
        }
        assert_eq!(safe_back("/console/\u{7f}"), "/console");
    }
}
