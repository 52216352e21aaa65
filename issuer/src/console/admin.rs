//! The admin's screens: staff tokens and roles; signing keys with their periods, days left and
//! the rotation steps; credential status with a reason; the audit log with filters.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::error::ConsoleError;
use super::i18n::Tr;
use super::session::{Admin, Posted, Signed};
use super::views::{
    page, AuditItem, AuditPage, CreatedToken, CredView, CredentialPage, Field, KeyItem, KeysPage, TokenItem, TokensPage,
};
use super::{ConsoleId, Ctx, Done};
use crate::http::AppState;
use crate::ids::{CredentialId, TokenId};
use crate::service::admin::{CredentialStatus, NewToken};
use crate::service::console_support::{AuditFilter, StatusReason};
use crate::service::ServiceError;
use crate::store::Role;

const DAY: u64 = 86_400;
/// The active key's signing period ending within this many days is a warning.
const WARN_DAYS: u64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/admin", get(admin_home))
        .route("/console/admin/tokens", get(tokens).post(create_token))
        .route("/console/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/console/admin/keys", get(keys))
        .route("/console/admin/keys/prepare", post(prepare_key))
        .route("/console/admin/keys/rotate", post(rotate_key))
        .route("/console/admin/keys/{kid}/activate", post(activate_key))
        .route("/console/admin/keys/{kid}/revoke", post(revoke_key))
        .route("/console/admin/credentials", get(credential))
        .route("/console/admin/credentials/{id}/status", post(set_status))
        .route("/console/admin/audit", get(audit))
}

async fn admin_home(_admin: Admin) -> Redirect {
    Redirect::to("/console/admin/tokens")
}

/// A refused change as a page shows it: the status, the messages, and (field, message) pairs.
struct Refusal(StatusCode, Vec<String>, Vec<(String, String)>);

/// The messages of a refused change, or the error for anything else.
fn refusal(tr: Tr, e: ServiceError) -> Result<Refusal, ConsoleError> {
    match e {
        ServiceError::Refused { code, reasons } => {
            let fields = reasons
                .iter()
                .filter_map(|r| r.args.iter().find(|(k, _)| *k == "field").map(|(_, f)| (f.clone(), tr.reason(r.code))))
                .collect();
            let mut msgs: Vec<String> = reasons.iter().map(|r| tr.reason(r.code)).collect();
            if msgs.is_empty() {
                msgs.push(tr.reason(code));
            }
            Ok(Refusal(StatusCode::UNPROCESSABLE_ENTITY, msgs, fields))
        }
        ServiceError::Conflict(r) => Ok(Refusal(StatusCode::CONFLICT, vec![tr.reason(r.code)], Vec::new())),
        e => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

fn token_form(tr: Tr, values: &BTreeMap<&str, String>, errors: &[(String, String)]) -> Vec<Field> {
    let err = |name: &str| errors.iter().find(|(f, _)| f == name).map(|(_, m)| m.clone());
    let value = |name: &str| values.get(name).cloned().unwrap_or_default();
    let role = value("role");
    vec![
        Field {
            name: "role",
            id: "t-role".into(),
            label: tr.t("console-token-role"),
            hint: None,
            error: err("role"),
            kind: "select",
            required: true,
            autocomplete: "off",
            options: vec![
                ("officer".into(), tr.t("console-role-officer"), role != "admin"),
                ("admin".into(), tr.t("console-role-admin"), role == "admin"),
            ],
            value: role,
        },
        Field {
            name: "name",
            id: "t-name".into(),
            label: tr.t("console-token-name"),
            hint: Some(tr.t("console-hint-token-name")),
            value: value("name"),
            error: err("name"),
            kind: "text",
            required: true,
            autocomplete: "off",
            options: Vec::new(),
        },
        Field {
            name: "reception_point",
            id: "t-reception-point".into(),
            label: tr.t("console-field-reception-point"),
            hint: Some(tr.t("console-hint-token-point")),
            value: value("reception_point"),
            error: err("reception_point"),
            kind: "text",
            required: false,
            autocomplete: "off",
            options: Vec::new(),
        },
    ]
}

async fn tokens_page(
    s: &AppState,
    me: &Signed,
    ctx: Ctx,
    created: Option<CreatedToken>,
    errors: Vec<String>,
    form: Vec<Field>,
) -> Result<TokensPage, ConsoleError> {
    let tr = ctx.tr;
    let rows = s
        .service
        .staff_tokens(&me.who)
        .await?
        .into_iter()
        .map(|t| TokenItem {
            id: t.id.to_string(),
            name: t.name,
            role: tr.t(if t.role == Role::Admin { "console-role-admin" } else { "console-role-officer" }),
            point: t.reception_point.unwrap_or_default(),
            created: tr.time(t.created_at),
            revoked: t.revoked,
        })
        .collect();
    Ok(TokensPage { rows, created, errors, form, ctx })
}

async fn tokens(State(s): State<AppState>, Admin(me): Admin, Query(q): Query<Done>) -> Result<Response, ConsoleError> {
    let ctx = me.ctx.clone().done(q.done.as_deref());
    let form = token_form(ctx.tr, &BTreeMap::new(), &[]);
    Ok(page(StatusCode::OK, &tokens_page(&s, &me, ctx, None, Vec::new(), form).await?))
}

/// Creates a token and shows it once, on this response only.
async fn create_token(State(s): State<AppState>, Admin(me): Admin, form: Posted) -> Result<Response, ConsoleError> {
    let tr = me.ctx.tr;
    let mut ctx = me.ctx.clone();
    ctx.back = "/console/admin/tokens".into();
    let role = if form.get("role") == "admin" { Role::Admin } else { Role::Officer };
    let req = NewToken {
        role,
        name: form.get("name").trim().to_owned(),
        reception_point: form.opt("reception_point").map(str::to_owned).filter(|_| role == Role::Officer),
    };
    match s.service.create_token(&me.who, req, None).await {
        Ok((row, token)) => {
            let created = CreatedToken {
                token: token.as_str().to_owned(),
                name: row.name.clone(),
                role: tr.t(if row.role == Role::Admin { "console-role-admin" } else { "console-role-officer" }),
            };
            let form = token_form(tr, &BTreeMap::new(), &[]);
            Ok(page(StatusCode::CREATED, &tokens_page(&s, &me, ctx, Some(created), Vec::new(), form).await?))
        }
        Err(e) => {
            let Refusal(status, msgs, fields) = refusal(tr, e)?;
            let values: BTreeMap<&str, String> =
                ["role", "name", "reception_point"].into_iter().map(|k| (k, form.get(k).to_owned())).collect();
            let form = token_form(tr, &values, &fields);
            Ok(page(status, &tokens_page(&s, &me, ctx, None, msgs, form).await?))
        }
    }
}

async fn revoke_token(
    State(s): State<AppState>,
    Admin(me): Admin,
    ConsoleId(id): ConsoleId<TokenId>,
    _form: Posted,
) -> Result<Response, ConsoleError> {
    match s.service.revoke_token(&me.who, &id, None).await {
        Ok(_) => Ok(Redirect::to("/console/admin/tokens?done=token_revoked").into_response()),
        Err(e) => {
            let tr = me.ctx.tr;
            let Refusal(status, msgs, _) = refusal(tr, e)?;
            let mut ctx = me.ctx.clone();
            ctx.back = "/console/admin/tokens".into();
            let form = token_form(tr, &BTreeMap::new(), &[]);
            Ok(page(status, &tokens_page(&s, &me, ctx, None, msgs, form).await?))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

async fn keys_page(s: &AppState, me: &Signed, ctx: Ctx, errors: Vec<String>) -> Result<KeysPage, ConsoleError> {
    let tr = ctx.tr;
    let now = s.service.now();
    // Every node's keys, each marked with the node that holds it.
    let keys: Vec<verifier::TrustedKey> = s
        .service
        .keys(&me.who)
        .await?
        .into_iter()
        .map(|(node, mut k)| {
            // A single node is `default`: nothing worth showing.
            if node != "default" {
                k.node.get_or_insert(node);
            }
            k
        })
        .collect();
    let signing_kid = s.service.custody().signer().kid().to_string();
    let days = |end: u64| tr.n("console-days", "days", end.saturating_sub(now) / DAY);
    let has_next = keys.iter().any(|k| k.state == verifier::KeyState::Next);
    let mut warnings = Vec::new();
    let rows = keys
        .iter()
        .map(|k| {
            use verifier::KeyState::*;
            let state_code = k.state.as_str();
            let days_left = match k.state {
                Next | Active => days(k.sign_until),
                Retired => days(k.valid_until),
                Revoked => "—".to_owned(),
            };
            if k.state == Active && k.sign_until.saturating_sub(now) < WARN_DAYS * DAY {
                warnings.push(tr.n("console-key-warn-ends-soon", "days", k.sign_until.saturating_sub(now) / DAY));
                if !has_next {
                    warnings.push(tr.t("console-key-warn-no-next"));
                }
            }
            let kid = k.kid.to_string();
            KeyItem {
                state: tr.t(&format!("console-key-state-{state_code}")),
                state_code,
                node: k.node.clone().unwrap_or_default(),
                sign_from: tr.time(k.sign_from),
                sign_until: tr.time(k.sign_until),
                valid_until: tr.time(k.valid_until),
                days_left,
                activate: k.state == Next,
                revoke: k.state != Revoked && kid != signing_kid,
                kid,
            }
        })
        .collect();
    Ok(KeysPage { rows, warnings, errors, ctx })
}

async fn keys(State(s): State<AppState>, Admin(me): Admin, Query(q): Query<Done>) -> Result<Response, ConsoleError> {
    let ctx = me.ctx.clone().done(q.done.as_deref());
    Ok(page(StatusCode::OK, &keys_page(&s, &me, ctx, Vec::new()).await?))
}

/// A key change's outcome: back to the keys with a confirmation, or the keys with the refusal.
async fn key_outcome(
    s: &AppState,
    me: &Signed,
    r: Result<verifier::KeyId, ServiceError>,
    done: &str,
) -> Result<Response, ConsoleError> {
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/console/admin/keys?done={done}")).into_response()),
        Err(ServiceError::NotFound) => Err(ConsoleError::NotFound),
        Err(e) => {
            let Refusal(status, msgs, _) = refusal(me.ctx.tr, e)?;
            let mut ctx = me.ctx.clone();
            ctx.back = "/console/admin/keys".into();
            Ok(page(status, &keys_page(s, me, ctx, msgs).await?))
        }
    }
}

/// The dangerous steps ask for a ticked confirmation (no script needed to ask twice).
fn confirmed(form: &Posted) -> Result<(), ServiceError> {
    if form.get("confirm") == "yes" {
        Ok(())
    } else {
        Err(unconfirmed())
    }
}

fn unconfirmed() -> ServiceError {
    ServiceError::refused("field_missing", vec![crate::service::Reason::new("field_missing").arg("field", "confirm")])
}

async fn prepare_key(State(s): State<AppState>, Admin(me): Admin, _form: Posted) -> Result<Response, ConsoleError> {
    let r = s.service.prepare_key(&me.who, None, None).await;
    key_outcome(&s, &me, r, "key_prepared").await
}

async fn rotate_key(State(s): State<AppState>, Admin(me): Admin, form: Posted) -> Result<Response, ConsoleError> {
    let r = match confirmed(&form) {
        Ok(()) => s.service.rotate_key(&me.who, None).await,
        Err(e) => Err(e),
    };
    key_outcome(&s, &me, r, "key_rotated").await
}

async fn activate_key(
    State(s): State<AppState>,
    Admin(me): Admin,
    Path(kid): Path<String>,
    _form: Posted,
) -> Result<Response, ConsoleError> {
    let r = s.service.activate_key(&me.who, &kid, false, None).await;
    key_outcome(&s, &me, r, "key_activated").await
}

async fn revoke_key(
    State(s): State<AppState>,
    Admin(me): Admin,
    Path(kid): Path<String>,
    form: Posted,
) -> Result<Response, ConsoleError> {
    let r = match confirmed(&form) {
        Ok(()) => s.service.revoke_key(&me.who, &kid, None).await,
        Err(e) => Err(e),
    };
    key_outcome(&s, &me, r, "key_revoked").await
}

// ---------------------------------------------------------------------------------------------
// Credential status

#[derive(Debug, Deserialize)]
struct CredQuery {
    id: Option<String>,
    done: Option<String>,
}

fn status_code(v: Option<u8>) -> &'static str {
    use verifier::build::statuslist::{INVALID, SUSPENDED, VALID};
    match v {
        Some(VALID) => "valid",
        Some(SUSPENDED) => "suspended",
        Some(INVALID) => "revoked",
        _ => "revoked",
    }
}

async fn credential_page(
    s: &AppState,
    me: &Signed,
    ctx: Ctx,
    query: &str,
    mut errors: Vec<String>,
) -> Result<CredentialPage, ConsoleError> {
    let tr = ctx.tr;
    let mut cred = None;
    if !query.is_empty() {
        match query.parse::<CredentialId>() {
            Err(_) => errors.push(tr.t("console-credential-not-found")),
            Ok(id) => match s.service.credential_state(&me.who, &id).await {
                Ok((row, status)) => {
                    let code = status_code(status);
                    cred = Some(CredView {
                        id: row.id.to_string(),
                        application: row.application.to_string(),
                        kid: row.kid,
                        issued: tr.time(row.issued_at),
                        expires: tr.time(row.expires_at),
                        status: tr.t(&format!("console-credential-status-{code}")),
                        status_code: code,
                        changeable: code != "revoked",
                    });
                }
                Err(ServiceError::NotFound) => errors.push(tr.t("console-credential-not-found")),
                Err(e) => return Err(e.into()),
            },
        }
    }
    let statuses = ["suspended", "valid", "revoked"]
        .into_iter()
        .map(|c| (c, tr.t(&format!("console-credential-status-{c}"))))
        .collect();
    let reasons = StatusReason::ALL
        .iter()
        .map(|r| (r.code(), tr.t(&format!("console-status-reason-{}", r.code().replace('_', "-")))))
        .collect();
    Ok(CredentialPage { query: query.to_owned(), cred, statuses, reasons, errors, ctx })
}

/// Finds a credential by id (an id is no personal data, so the search is a GET).
async fn credential(
    State(s): State<AppState>,
    Admin(me): Admin,
    Query(q): Query<CredQuery>,
) -> Result<Response, ConsoleError> {
    let ctx = me.ctx.clone().done(q.done.as_deref());
    let query = q.id.as_deref().unwrap_or_default().trim().to_owned();
    Ok(page(StatusCode::OK, &credential_page(&s, &me, ctx, &query, Vec::new()).await?))
}

async fn set_status(
    State(s): State<AppState>,
    Admin(me): Admin,
    ConsoleId(id): ConsoleId<CredentialId>,
    form: Posted,
) -> Result<Response, ConsoleError> {
    let tr = me.ctx.tr;
    let to = CredentialStatus::parse(form.get("status"));
    let reason = StatusReason::parse(form.get("reason"));
    let r = match (to, reason) {
        (Some(CredentialStatus::Revoked), Some(_)) if form.get("confirm") != "yes" => Err(unconfirmed()),
        (Some(to), Some(reason)) => s.service.set_status_because(&me.who, &id, to, reason).await.map(|_| ()),
        _ => Err(ServiceError::refused("field_invalid", vec![crate::service::Reason::new("field_invalid")])),
    };
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/console/admin/credentials?id={id}&done=status_changed")).into_response()),
        Err(ServiceError::NotFound) => Err(ConsoleError::NotFound),
        Err(e) => {
            let Refusal(status, msgs, _) = refusal(tr, e)?;
            let mut ctx = me.ctx.clone();
            ctx.back = format!("/console/admin/credentials?id={id}");
            Ok(page(status, &credential_page(&s, &me, ctx, id.as_str(), msgs).await?))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Audit

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<u64>,
}

/// The actions the filter offers: each family (`key.`) and each action.
const ACTIONS: [&str; 20] = [
    "application.",
    "application.submitted",
    "application.biometrics_captured",
    "application.data_checked",
    "application.data_check_failed",
    "application.approved",
    "application.offer_renewed",
    "application.rejected",
    "offer.redeemed",
    "credential.",
    "credential.issued",
    "credential.status",
    "key.",
    "key.prepared",
    "key.activated",
    "key.rotated",
    "key.revoked",
    "token.",
    "token.created",
    "token.revoked",
];

/// An id-like filter value: letters, digits, `-` and `_`, at most 64.
fn id_like(s: &str) -> bool {
    s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Midnight in Vietnam at the start of a `YYYY-MM-DD` day, as UNIX seconds.
fn vn_midnight(d: verifier::Date) -> u64 {
    u64::try_from(d.days()).unwrap_or(0).saturating_mul(DAY).saturating_sub(7 * 3600)
}

async fn audit(
    State(s): State<AppState>,
    Admin(me): Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let tr = me.ctx.tr;
    let mut errors = Vec::new();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (action, actor, subject) = (text(&q.action), text(&q.actor), text(&q.subject));
    let (from_s, to_s) = (text(&q.from), text(&q.to));
    let action = action.filter(|a| ACTIONS.contains(&a.as_str()));
    for v in [&actor, &subject].into_iter().flatten() {
        if !id_like(v) {
            errors.push(tr.t("console-audit-bad-filter"));
        }
    }
    let day = |v: &Option<String>| -> Option<verifier::Date> {
        let d = v.as_deref()?.parse::<verifier::Date>().ok();
        d
    };
    let (from, to) = (day(&from_s), day(&to_s));
    if (from_s.is_some() && from.is_none()) || (to_s.is_some() && to.is_none()) {
        errors.push(tr.t("console-audit-bad-date"));
    }
    let filter = AuditFilter {
        action: action.clone(),
        actor: actor.clone().filter(|a| id_like(a)),
        subject: subject.clone().filter(|a| id_like(a)),
        from: from.map(vn_midnight),
        to: to.and_then(|d| verifier::Date::from_days(d.days() + 1)).map(vn_midnight),
        before: q.before,
    };
    let found = s.service.audit_search(&me.who, &filter, 200).await?;
    let names: BTreeMap<String, String> =
        s.service.staff_tokens(&me.who).await?.into_iter().map(|t| (t.id.to_string(), t.name)).collect();
    let rows = found
        .entries
        .into_iter()
        .map(|(seq, e)| AuditItem {
            seq,
            at: tr.time(e.at),
            actor: match names.get(&e.actor) {
                Some(n) => format!("{n} ({})", e.actor),
                None => e.actor,
            },
            action: e.action,
            subject: e.subject,
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    let older = found.older.map(|b| {
        let mut qs = vec![format!("before={b}")];
        for (k, v) in [("action", &action), ("actor", &actor), ("subject", &subject), ("from", &from_s), ("to", &to_s)]
        {
            if let Some(v) = v {
                qs.push(format!("{k}={}", v.replace(|c: char| !c.is_ascii_alphanumeric() && !"-_.".contains(c), "")));
            }
        }
        format!("/console/admin/audit?{}", qs.join("&"))
    });
    let mut actions = vec![(String::new(), tr.t("console-audit-any-action"), action.is_none())];
    actions.extend(ACTIONS.iter().map(|a| {
        let label = if a.ends_with('.') { format!("{a}*") } else { (*a).to_owned() };
        ((*a).to_owned(), label, action.as_deref() == Some(*a))
    }));
    let view = AuditPage {
        actions,
        actor: actor.unwrap_or_default(),
        subject: subject.unwrap_or_default(),
        from: from_s.unwrap_or_default(),
        to: to_s.unwrap_or_default(),
        rows,
        older,
        errors,
        ctx: me.ctx,
    };
    Ok(page(StatusCode::OK, &view))
}
