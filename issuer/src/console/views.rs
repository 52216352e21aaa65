//! The pages: one askama template (under `issuer/templates/console/`) per screen, each a
//! struct of already-localized strings, and the page chrome ([`Ctx`]) they share. Templates
//! escape everything they print; the only markup inserted as is, the offer's QR code, is an SVG
//! the `qrcode` crate drew from the offer URI.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::i18n::{Tr, LANG_NAMES};
use crate::store::Role;

/// Who is signed in, for the page header.
#[derive(Debug, Clone)]
pub struct UserBox {
    pub name: String,
    pub role: Role,
    pub point: Option<String>,
}

/// One link of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// What every page has: language, CSRF token for its forms, the signed-in user, the path the
/// language switch returns to, and a one-line confirmation of the last action.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub tr: Tr,
    pub csrf: String,
    pub user: Option<UserBox>,
    pub back: String,
    pub flash: Option<String>,
}

/// The confirmations a redirect may ask for (`?done=…`): codes only, never data.
const DONE: &[&str] = &[
    "submitted",
    "biometrics",
    "checked",
    "rejected",
    "signed_out",
    "token_revoked",
    "key_prepared",
    "key_activated",
    "key_rotated",
    "key_revoked",
    "status_changed",
];

impl Ctx {
    pub fn new(tr: Tr, csrf: String, user: Option<UserBox>, back: String) -> Self {
        Self { tr, csrf, user, back, flash: None }
    }

    /// Shows the confirmation for a `done` code, if it is one of ours.
    pub fn done(mut self, code: Option<&str>) -> Self {
        if let Some(c) = code.and_then(|c| DONE.iter().find(|d| **d == c)) {
            self.flash = Some(self.tr.t(&format!("console-done-{}", c.replace('_', "-"))));
        }
        self
    }

    pub fn t(&self, id: &str) -> String {
        self.tr.t(id)
    }

    pub fn role_label(&self) -> String {
        match self.user.as_ref().map(|u| u.role) {
            Some(Role::Admin) => self.t("console-role-admin"),
            Some(Role::Officer) => self.t("console-role-officer"),
            None => String::new(),
        }
    }

    pub fn nav(&self) -> Vec<NavItem> {
        let items: &[(&'static str, &str)] = match self.user.as_ref().map(|u| u.role) {
            Some(Role::Officer) => {
                &[("/console/queue", "console-nav-queue"), ("/console/applications/new", "console-nav-new")]
            }
            Some(Role::Admin) => &[
                ("/console/admin/tokens", "console-nav-tokens"),
                ("/console/admin/keys", "console-nav-keys"),
                ("/console/admin/credentials", "console-nav-credentials"),
                ("/console/admin/audit", "console-nav-audit"),
            ],
            None => &[],
        };
        let path = self.back.split('?').next().unwrap_or_default();
        items.iter().map(|(href, id)| NavItem { href, label: self.t(id), current: path == *href }).collect()
    }

    /// (tag, name in its own language, selected) for the language switch.
    pub fn langs(&self) -> Vec<(&'static str, &'static str, bool)> {
        LANG_NAMES.iter().map(|(l, name)| (l.tag(), *name, *l == self.tr.lang())).collect()
    }
}

/// A page as a response: HTML, or a logged 500 when a template fails.
pub fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Every message id the console builds at run time (the i18n test checks them too).
pub fn dynamic_ids() -> Vec<String> {
    let mut ids: Vec<String> = DONE.iter().map(|c| format!("console-done-{}", c.replace('_', "-"))).collect();
    for s in ["next", "active", "retired", "revoked"] {
        ids.push(format!("console-key-state-{s}"));
    }
    for s in ["valid", "suspended", "revoked"] {
        ids.push(format!("console-credential-status-{s}"));
    }
    for r in crate::service::console_support::StatusReason::ALL {
        ids.push(format!("console-status-reason-{}", r.code().replace('_', "-")));
    }
    for a in super::officer::TODAY_ACTIONS {
        ids.push(format!("console-today-{}", a.replace(['.', '_'], "-")));
    }
    for f in 1..=10 {
        ids.push(format!("console-finger-{f}"));
    }
    for q in ["good", "fair", "poor"] {
        ids.push(format!("console-quality-{q}"));
    }
    for f in super::officer::TK01_FIELDS.iter().chain([&super::officer::RELATIONSHIP]) {
        let key = f.name.replace(['.', '_'], "-");
        ids.push(format!("console-field-{key}"));
        if f.hint {
            ids.push(format!("console-hint-{key}"));
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Debug, Template)]
#[template(path = "console/sign_in.html")]
pub struct SignInPage {
    pub ctx: Ctx,
    pub error: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "console/error.html")]
pub struct ErrorView {
    pub ctx: Ctx,
    pub title: String,
    pub messages: Vec<String>,
    pub signed_in: bool,
}

/// One application in the queue.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub id: String,
    pub name: String,
    pub state: String,
    pub submitted: String,
    pub due: String,
    /// `overdue`, `soon` or empty.
    pub mark: &'static str,
    pub mark_label: String,
}

#[derive(Debug, Template)]
#[template(path = "console/queue.html")]
pub struct QueuePage {
    pub ctx: Ctx,
    pub point: String,
    pub today: String,
    pub rows: Vec<QueueItem>,
    pub states: Vec<(String, usize)>,
    pub day: Vec<(String, usize)>,
    /// Said when today's counts could not be read back to midnight.
    pub day_partial: Option<String>,
    pub overdue: usize,
    pub due_soon: usize,
    /// "Only the first 500 are listed", when the list is cut.
    pub not_listed: Option<String>,
    pub lookup_error: Option<String>,
}

/// One input of a form, with its label, hint and error.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    /// The element id (`f-` and the name with `.` as `-`).
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub value: String,
    pub error: Option<String>,
    /// `text`, `date`, `tel`, `email`, `select` or `textarea`.
    pub kind: &'static str,
    pub required: bool,
    pub autocomplete: &'static str,
    /// For selects: (value, label, selected).
    pub options: Vec<(String, String, bool)>,
}

impl Field {
    /// The `aria-describedby` ids: hint and error, when present.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// A fieldset.
#[derive(Debug, Clone)]
pub struct Group {
    pub legend: String,
    pub hint: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Template)]
#[template(path = "console/new_application.html")]
pub struct NewAppPage {
    pub ctx: Ctx,
    pub point: String,
    pub groups: Vec<Group>,
    /// (anchor id, message): the error summary, each linking to its field.
    pub summary: Vec<(String, String)>,
}

/// A captured biometric file, as the page shows it.
#[derive(Debug, Clone)]
pub struct BioItem {
    pub slot: String,
    pub format: String,
    pub size: String,
    pub quality: u8,
    pub rating: String,
    /// `good`, `fair` or `poor` (a CSS class).
    pub class: &'static str,
}

/// The national-data check as recorded.
#[derive(Debug, Clone)]
pub struct CheckView {
    /// (label, passed)
    pub rows: Vec<(String, bool)>,
    pub mismatches: Vec<String>,
    pub clear: bool,
}

/// Which actions the page offers.
#[derive(Debug, Clone, Default)]
pub struct Can {
    pub capture: bool,
    pub check: bool,
    pub approve: bool,
    pub reject: bool,
    pub reoffer: bool,
}

#[derive(Debug, Template)]
#[template(path = "console/application.html")]
pub struct AppPage {
    pub ctx: Ctx,
    pub id: String,
    pub state: String,
    pub due: String,
    pub notice: String,
    pub overdue: bool,
    pub details: Vec<(String, String)>,
    pub biometrics: Vec<BioItem>,
    pub check: Option<CheckView>,
    pub error_title: Option<String>,
    pub errors: Vec<String>,
    pub history: Vec<(String, String, String)>,
    pub credential: Option<String>,
    pub eid: Option<String>,
    pub rejection_note: Option<String>,
    pub can: Can,
    pub fingers: Vec<(u8, String)>,
}

#[derive(Template)]
#[template(path = "console/offer.html")]
#[allow(missing_debug_implementations)] // holds the offer code: not for logs
pub struct OfferPage {
    pub ctx: Ctx,
    pub id: String,
    /// The QR code as an SVG element (drawn here, not from input).
    pub qr: String,
    pub expires: String,
    /// The OpenID4VCI transaction code to tell the applicant apart from the QR, once offers
    /// carry one.
    pub tx_code: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "console/handout.html")]
pub struct HandoutPage {
    pub ctx: Ctx,
    /// The hand-out's own language (the applicant's), apart from the console's.
    pub h: Tr,
    pub id: String,
    pub name: String,
    pub name_latin: String,
    pub point: String,
    pub submitted: String,
    pub due: String,
    pub notice: String,
    pub state: String,
    pub langs: Vec<(&'static str, &'static str, bool)>,
}

/// A staff token in the list.
#[derive(Debug, Clone)]
pub struct TokenItem {
    pub id: String,
    pub name: String,
    pub role: String,
    pub point: String,
    pub created: String,
    pub revoked: bool,
}

/// A token just created: shown once.
#[derive(Clone)]
pub struct CreatedToken {
    pub token: String,
    pub name: String,
    pub role: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("name", &self.name).finish_non_exhaustive()
    }
}

#[derive(Debug, Template)]
#[template(path = "console/tokens.html")]
pub struct TokensPage {
    pub ctx: Ctx,
    pub rows: Vec<TokenItem>,
    pub created: Option<CreatedToken>,
    pub errors: Vec<String>,
    pub form: Vec<Field>,
}

/// A signing key in the list.
#[derive(Debug, Clone)]
pub struct KeyItem {
    pub kid: String,
    pub state: String,
    pub state_code: &'static str,
    pub node: String,
    pub sign_from: String,
    pub sign_until: String,
    pub valid_until: String,
    pub days_left: String,
    pub activate: bool,
    pub revoke: bool,
}

#[derive(Debug, Template)]
#[template(path = "console/keys.html")]
pub struct KeysPage {
    pub ctx: Ctx,
    pub rows: Vec<KeyItem>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// A credential and its status.
#[derive(Debug, Clone)]
pub struct CredView {
    pub id: String,
    pub application: String,
    pub kid: String,
    pub issued: String,
    pub expires: String,
    pub status: String,
    pub status_code: &'static str,
    pub changeable: bool,
}

#[derive(Debug, Template)]
#[template(path = "console/credential.html")]
pub struct CredentialPage {
    pub ctx: Ctx,
    pub query: String,
    pub cred: Option<CredView>,
    /// (value, label) of the status choices and of the reasons.
    pub statuses: Vec<(&'static str, String)>,
    pub reasons: Vec<(&'static str, String)>,
    pub errors: Vec<String>,
}

/// An audit entry.
#[derive(Debug, Clone)]
pub struct AuditItem {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub ctx: Ctx,
    pub actions: Vec<(String, String, bool)>,
    pub actor: String,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<AuditItem>,
    pub older: Option<String>,
    pub errors: Vec<String>,
}

/// The QR code of `text` as an inline SVG with an accessible name (error correction M, quiet
/// zone included, at least 360 px so phones and decoders read it from a screen).
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(360, 360).quiet_zone(true).build();
    let svg = svg.trim_start_matches(r#"<?xml version="1.0" standalone="yes"?>"#);
    let label = askama::filters::escape(label, askama::filters::Html).ok()?.to_string();
    Some(svg.replacen("<svg ", &format!(r#"<svg role="img" aria-label="{label}" class="qr" "#), 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn ctx() -> Ctx {
        Ctx::new(Tr::new(Lang::En), "csrf".into(), None, "/console/applications/x".into())
    }

    /// The offer page is ready for OpenID4VCI transaction codes: shown apart from the QR code (so
    /// a photo of the QR does not carry it), and absent when the offer has none.
    #[test]
    fn the_transaction_code_is_shown_apart_from_the_qr() {
        let qr = qr_svg("openid-credential-offer://?credential_offer=%7B%7D", "QR <label>").unwrap();
        assert!(qr.starts_with(r#"<svg role="img" aria-label="QR &#60;label&#62;" class="qr" "#), "{qr}");
        let page = |tx_code| OfferPage { ctx: ctx(), id: "x".into(), qr: qr.clone(), expires: "soon".into(), tx_code };
        let with = page(Some("493817".into())).render().unwrap();
        let (figure, rest) = with.split_once("</figure>").unwrap();
        assert!(figure.contains("<svg") && !figure.contains("493817"));
        assert!(rest.contains(r#"<p class="tx-code mono" id="tx-code">493817</p>"#));
        assert!(!page(None).render().unwrap().contains("tx-code"));
    }
}
