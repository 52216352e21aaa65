//! Console errors as pages. Like the JSON API (`http::error`), the status comes from the one
//! mapping of service outcomes to HTTP ([`ApiError`]); the page itself is written by the console
//! middleware, which knows the request's language.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::error::ApiError;
use crate::service::ServiceError;

/// Why a console request did not get its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in (or the session is over), on a GET: to the sign-in page.
    SignIn,
    /// Not signed in, on a POST: 401.
    SignedOut,
    /// Signed in with the wrong role for this page.
    Forbidden,
    /// The form's CSRF token is missing or wrong, or the browser says the request is cross-site.
    Csrf,
    /// The form could not be read.
    BadForm,
    NotFound,
    /// A use case refused or failed.
    Service(ServiceError),
    Internal(String),
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        ConsoleError::Service(e)
    }
}

/// What the middleware renders: a status and the codes whose messages explain it.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    /// The page's heading (a `console-*` id).
    pub title: &'static str,
    /// Stable codes (reasons, API codes), each shown with its message.
    pub codes: Vec<&'static str>,
}

impl ConsoleError {
    /// The status and message codes of an error (the sign-in redirect has none).
    pub fn page(self) -> ErrorPage {
        let page = |status, title, code| ErrorPage { status, title, codes: vec![code] };
        match self {
            ConsoleError::SignIn | ConsoleError::SignedOut => {
                page(StatusCode::UNAUTHORIZED, "console-error-signed-out", "unauthorized")
            }
            ConsoleError::Forbidden => page(StatusCode::FORBIDDEN, "console-error-forbidden", "forbidden"),
            ConsoleError::Csrf => page(StatusCode::FORBIDDEN, "console-error-csrf", "forbidden"),
            ConsoleError::BadForm => page(StatusCode::BAD_REQUEST, "console-error-bad-form", "invalid_request"),
            ConsoleError::NotFound => page(StatusCode::NOT_FOUND, "console-error-not-found", "not_found"),
            ConsoleError::Internal(detail) => {
                tracing::error!(%detail, "console request failed");
                page(StatusCode::INTERNAL_SERVER_ERROR, "console-error-internal", "internal_error")
            }
            ConsoleError::Service(e) => {
                let api = ApiError::from(e);
                if let Some(detail) = &api.internal {
                    tracing::error!(code = api.reason.code, %detail, "console request failed");
                }
                let title = match api.status {
                    StatusCode::FORBIDDEN => "console-error-forbidden",
                    StatusCode::NOT_FOUND => "console-error-not-found",
                    StatusCode::UNAUTHORIZED => "console-error-signed-out",
                    s if s.is_server_error() => "console-error-internal",
                    _ => "console-error-refused",
                };
                let mut codes = vec![api.reason.code];
                codes.extend(api.reasons.iter().map(|r| r.code));
                ErrorPage { status: api.status, title, codes }
            }
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::SignIn = self {
            return Redirect::to("/console/sign-in").into_response();
        }
        let page = self.page();
        let mut resp = page.status.into_response();
        resp.extensions_mut().insert(page);
        resp
    }
}
