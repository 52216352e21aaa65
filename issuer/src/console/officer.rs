//! The officer's screens: the queue, a new TK01, an application (biometrics, national-data
//! check, approval or rejection), the credential offer as a QR code, and the applicant's
//! printable hand-out.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use enrollment::workflow::Status;

use super::error::ConsoleError;
use super::i18n::{Tr, LANG_NAMES};
use super::session::{CsrfCheck, Officer, Posted, Signed};
use super::views::{
    page, qr_svg, AppPage, BioItem, Can, CheckView, Field, Group, HandoutPage, NewAppPage, OfferPage, QueueItem,
    QueuePage,
};
use super::{ConsoleId, Ctx, Done};
use crate::http::AppState;
use crate::i18n::Lang;
use crate::ids::ApplicationId;
use crate::service::enroll::{ApplicationView, Lookup, Offer};
use crate::service::{Reason, ServiceError};

/// The audit actions the queue counts for the day.
pub const TODAY_ACTIONS: [&str; 6] = [
    "application.submitted",
    "application.biometrics_captured",
    "application.data_checked",
    "application.approved",
    "application.rejected",
    "credential.issued",
];

/// Due within this many days (and not overdue): marked "due soon".
const SOON_DAYS: i64 = 2;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/queue", get(queue))
        .route("/console/lookup", post(lookup))
        .route("/console/applications/new", get(new_application))
        .route("/console/applications", post(submit))
        .route("/console/applications/{id}", get(application))
        .route(
            "/console/applications/{id}/biometrics",
            post(biometrics).layer(axum::extract::DefaultBodyLimit::max(crate::http::applications::MAX_UPLOAD)),
        )
        .route("/console/applications/{id}/check", post(check))
        .route("/console/applications/{id}/approve", post(approve))
        .route("/console/applications/{id}/offer", post(reoffer))
        .route("/console/applications/{id}/reject", post(reject))
        .route("/console/applications/{id}/handout", get(handout))
}

// ---------------------------------------------------------------------------------------------
// The queue

async fn queue(
    State(s): State<AppState>,
    Officer(me): Officer,
    Query(q): Query<Done>,
) -> Result<Response, ConsoleError> {
    let ctx = me.ctx.clone().done(q.done.as_deref());
    Ok(page(StatusCode::OK, &queue_page(&s, &me, ctx, None).await?))
}

async fn queue_page(
    s: &AppState,
    me: &Signed,
    ctx: Ctx,
    lookup_error: Option<String>,
) -> Result<QueuePage, ConsoleError> {
    let tr = ctx.tr;
    let q = s.service.console_queue(&me.who).await?;
    let today = verifier::Date::from_unix_vn(s.service.now());
    let (mut overdue, mut due_soon) = (0, 0);
    let rows = q
        .open
        .iter()
        .map(|r| {
            let left = r.meta.due_on.days() - today.days();
            let (mark, mark_label) = if left < 0 {
                overdue += 1;
                ("overdue", tr.t("console-mark-overdue"))
            } else if left <= SOON_DAYS {
                due_soon += 1;
                ("soon", tr.t("console-mark-due-soon"))
            } else {
                ("", String::new())
            };
            QueueItem {
                id: r.id.to_string(),
                name: r.name_latin.clone(),
                state: tr.status(r.meta.state),
                submitted: tr.date(r.meta.submitted_on),
                due: tr.date(r.meta.due_on),
                mark,
                mark_label,
            }
        })
        .collect();
    let states =
        Status::ALL.iter().map(|st| (tr.status(*st), q.per_state.get(st.code()).copied().unwrap_or(0))).collect();
    let day = TODAY_ACTIONS
        .iter()
        .map(|a| {
            (tr.t(&format!("console-today-{}", a.replace(['.', '_'], "-"))), q.today.get(*a).copied().unwrap_or(0))
        })
        .collect();
    Ok(QueuePage {
        point: me.who.reception_point.clone().unwrap_or_default(),
        today: tr.date(today),
        rows,
        states,
        day,
        day_partial: q.today_partial.then(|| tr.t("console-today-partial")),
        overdue,
        due_soon,
        not_listed: (q.not_listed > 0).then(|| tr.t("console-queue-not-listed")),
        lookup_error,
        ctx,
    })
}

/// Finds a person's application by passport or residence card (POST: the numbers stay out of
/// URLs and logs).
async fn lookup(State(s): State<AppState>, Officer(me): Officer, form: Posted) -> Result<Response, ConsoleError> {
    let by = match form.opt("card_number") {
        Some(number) => Lookup::Card { number: number.to_owned() },
        None => Lookup::Passport {
            nationality: form.get("nationality").trim().to_owned(),
            number: form.get("passport_number").trim().to_owned(),
        },
    };
    match s.service.lookup(&me.who, &by).await {
        Ok(v) => Ok(Redirect::to(&format!("/console/applications/{}", v.id)).into_response()),
        Err(e @ (ServiceError::NotFound | ServiceError::Refused { .. })) => {
            let tr = me.ctx.tr;
            let msg = match e {
                ServiceError::Refused { reasons, .. } => {
                    reasons.iter().map(|r| tr.reason(r.code)).collect::<Vec<_>>().join(" ")
                }
                _ => tr.t("console-lookup-none"),
            };
            let mut ctx = me.ctx.clone();
            ctx.back = "/console/queue".into();
            Ok(page(StatusCode::NOT_FOUND, &queue_page(&s, &me, ctx, Some(msg)).await?))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A new TK01

/// One TK01 input: its name in the form (and, dotted, in the JSON), kind, group, and whether it
/// is required. Labels are `console-field-<name>`, hints `console-hint-<name>`.
#[derive(Debug, Clone, Copy)]
pub struct Tk01Field {
    pub name: &'static str,
    pub kind: &'static str,
    pub group: usize,
    pub required: bool,
    pub hint: bool,
    pub autocomplete: &'static str,
}

const fn f(name: &'static str, kind: &'static str, group: usize, required: bool, hint: bool) -> Tk01Field {
    Tk01Field { name, kind, group, required, hint, autocomplete: "off" }
}

/// The form's inputs, in order. Groups: the applicant, documents, contact, guardian.
pub const TK01_FIELDS: [Tk01Field; 15] = [
    f("full_name", "text", 0, true, true),
    f("full_name_latin", "text", 0, false, true),
    f("sex", "select", 0, true, false),
    f("date_of_birth", "date", 0, true, false),
    f("nationality", "text", 0, true, true),
    f("passport_number", "text", 1, true, false),
    f("residence_card.number", "text", 1, true, false),
    f("residence_card.kind", "select", 1, true, false),
    f("residence_card.issued_on", "date", 1, true, false),
    f("residence_card.expires_on", "date", 1, true, false),
    f("address", "textarea", 2, true, true),
    f("phone", "tel", 2, true, true),
    f("email", "email", 2, true, false),
    f("guardian.full_name", "text", 3, false, false),
    f("guardian.id_number", "text", 3, false, false),
];

/// The guardian's relationship is a select added after the two guardian inputs.
pub const RELATIONSHIP: Tk01Field = f("guardian.relationship", "select", 3, false, false);

const GROUPS: [(&str, Option<&str>); 4] = [
    ("console-group-applicant", None),
    ("console-group-documents", None),
    ("console-group-contact", None),
    ("console-group-guardian", Some("console-hint-group-guardian")),
];

fn field_id(name: &str) -> String {
    format!("f-{}", name.replace(['.', '_'], "-"))
}

fn options(tr: Tr, name: &str, value: &str) -> Vec<(String, String, bool)> {
    let choices: &[(&str, &str)] = match name {
        "sex" => &[("", "console-choose"), ("M", "console-sex-m"), ("F", "console-sex-f"), ("X", "console-sex-x")],
        "residence_card.kind" => {
            &[("", "console-choose"), ("temporary", "console-card-temporary"), ("permanent", "console-card-permanent")]
        }
        "guardian.relationship" => &[
            ("", "console-choose"),
            ("parent", "console-relationship-parent"),
            ("legal_guardian", "console-relationship-legal-guardian"),
        ],
        _ => &[],
    };
    choices.iter().map(|(v, id)| ((*v).to_owned(), tr.t(id), *v == value)).collect()
}

/// The form's groups with values and per-field errors.
fn tk01_groups(tr: Tr, values: &BTreeMap<String, String>, errors: &BTreeMap<String, Vec<String>>) -> Vec<Group> {
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|(legend, hint)| Group { legend: tr.t(legend), hint: hint.map(|h| tr.t(h)), fields: Vec::new() })
        .collect();
    for spec in TK01_FIELDS.iter().chain(std::iter::once(&RELATIONSHIP)) {
        let key = spec.name.replace(['.', '_'], "-");
        let value = values.get(spec.name).cloned().unwrap_or_default();
        let field = Field {
            name: spec.name,
            id: field_id(spec.name),
            label: tr.t(&format!("console-field-{key}")),
            hint: spec.hint.then(|| tr.t(&format!("console-hint-{key}"))),
            options: options(tr, spec.name, &value),
            value,
            error: errors.get(spec.name).map(|e| e.join(" ")),
            kind: spec.kind,
            required: spec.required,
            autocomplete: spec.autocomplete,
        };
        if let Some(g) = groups.get_mut(spec.group) {
            g.fields.push(field);
        }
    }
    groups
}

async fn new_application(Officer(me): Officer) -> Response {
    let tr = me.ctx.tr;
    let page_ = NewAppPage {
        point: me.who.reception_point.clone().unwrap_or_default(),
        groups: tk01_groups(tr, &BTreeMap::new(), &BTreeMap::new()),
        summary: Vec::new(),
        ctx: me.ctx,
    };
    page(StatusCode::OK, &page_)
}

/// The TK01 JSON the service parses, from the form. The reception point is the officer's own,
/// never the form's.
fn tk01_json(form: &Posted, point: &str) -> Value {
    let s = |n: &str| Value::String(form.get(n).to_owned());
    let mut v = json!({
        "full_name": s("full_name"),
        "full_name_latin": s("full_name_latin"),
        "sex": s("sex"),
        "date_of_birth": s("date_of_birth"),
        "nationality": s("nationality"),
        "passport_number": s("passport_number"),
        "residence_card": {
            "number": s("residence_card.number"),
            "kind": s("residence_card.kind"),
            "issued_on": s("residence_card.issued_on"),
            "expires_on": s("residence_card.expires_on"),
        },
        "address": s("address"),
        "phone": s("phone"),
        "email": s("email"),
        "reception_point": point,
    });
    let guardian = ["guardian.full_name", "guardian.id_number", "guardian.relationship"];
    if guardian.iter().any(|g| form.opt(g).is_some()) {
        let mut m = Map::new();
        for g in guardian {
            m.insert(g.trim_start_matches("guardian.").to_owned(), s(g));
        }
        v["guardian"] = Value::Object(m);
    }
    v
}

/// The field a reason without one belongs to, where there is an obvious one.
fn field_of(r: &Reason) -> Option<String> {
    if let Some((_, f)) = r.args.iter().find(|(k, _)| *k == "field") {
        return Some(f.clone());
    }
    let f = match r.code {
        "applicant_under_6" => "date_of_birth",
        "guardian_required" => "guardian.full_name",
        "residence_card_expired" => "residence_card.expires_on",
        "residence_card_not_yet_valid" => "residence_card.issued_on",
        _ => return None,
    };
    Some(f.to_owned())
}

/// Files the form; its problems come back at their fields, in the officer's language.
async fn submit(State(s): State<AppState>, Officer(me): Officer, form: Posted) -> Result<Response, ConsoleError> {
    let point = me.who.reception_point.clone().unwrap_or_default();
    let body = tk01_json(&form, &point).to_string();
    let reasons = match s.service.submit(&me.who, body.as_bytes(), None).await {
        Ok(v) => return Ok(Redirect::to(&format!("/console/applications/{}?done=submitted", v.id)).into_response()),
        Err(ServiceError::Refused { code, reasons }) => {
            if reasons.is_empty() {
                vec![Reason::new(code)]
            } else {
                reasons
            }
        }
        Err(ServiceError::Conflict(r)) => vec![r],
        Err(e) => return Err(e.into()),
    };
    let tr = me.ctx.tr;
    let known: Vec<&str> = TK01_FIELDS.iter().map(|f| f.name).chain([RELATIONSHIP.name]).collect();
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut summary = Vec::new();
    for r in &reasons {
        let msg = tr.reason(r.code);
        match field_of(r).filter(|f| known.contains(&f.as_str())) {
            Some(f) => {
                summary.push((format!("#{}", field_id(&f)), msg.clone()));
                errors.entry(f).or_default().push(msg);
            }
            None => summary.push((String::new(), msg)),
        }
    }
    let values: BTreeMap<String, String> = known.iter().map(|n| ((*n).to_owned(), form.get(n).to_owned())).collect();
    let mut ctx = me.ctx;
    ctx.back = "/console/applications/new".into();
    let view = NewAppPage { point, groups: tk01_groups(tr, &values, &errors), summary, ctx };
    Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &view))
}

// ---------------------------------------------------------------------------------------------
// An application

async fn application(
    State(s): State<AppState>,
    me: Signed,
    ConsoleId(id): ConsoleId<ApplicationId>,
    Query(q): Query<Done>,
) -> Result<Response, ConsoleError> {
    let v = s.service.application(&me.who, &id).await?;
    let ctx = me.ctx.clone().done(q.done.as_deref());
    Ok(page(StatusCode::OK, &app_page(&s, &me, ctx, &v, None)))
}

/// The rating shown beside a capture station's quality score (0–100, NFIQ 2 style).
fn rating(q: u8) -> &'static str {
    match q {
        60..=u8::MAX => "good",
        35..=59 => "fair",
        _ => "poor",
    }
}

fn slot_label(tr: Tr, slot: &str) -> String {
    match slot.strip_prefix("fingerprint_") {
        Some(n) => tr.t(&format!("console-finger-{n}")),
        None => tr.t("console-field-portrait"),
    }
}

fn details(tr: Tr, v: &ApplicationView) -> Vec<(String, String)> {
    let form = serde_json::to_value(&v.record.form).unwrap_or(Value::Null);
    let text = |path: &str| -> String {
        let mut cur = &form;
        for part in path.split('.') {
            cur = &cur[part];
        }
        match cur {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    for spec in TK01_FIELDS.iter().chain(std::iter::once(&RELATIONSHIP)) {
        let value = text(spec.name);
        if value.is_empty() && !spec.required {
            continue;
        }
        let shown = match spec.kind {
            "date" => value.parse::<verifier::Date>().map_or(value.clone(), |d| tr.date(d)),
            "select" => options(tr, spec.name, &value)
                .into_iter()
                .find(|(v, _, _)| *v == value)
                .map_or(value.clone(), |(_, label, _)| label),
            _ => value,
        };
        rows.push((tr.t(&format!("console-field-{}", spec.name.replace(['.', '_'], "-"))), shown));
    }
    rows.push((tr.t("console-field-reception-point"), v.meta.reception_point.clone()));
    rows
}

fn check_view(tr: Tr, check: &Value) -> CheckView {
    let flag = |k: &str| check[k].as_bool().unwrap_or(false);
    let rows = [
        ("person_found", "console-check-person-found"),
        ("card_found", "console-check-card-found"),
        ("card_matches", "console-check-card-matches"),
        ("card_valid", "console-check-card-valid"),
        ("biometrics_on_file", "console-check-biometrics-on-file"),
    ]
    .iter()
    .map(|(k, id)| (tr.t(id), flag(k)))
    .collect();
    let mismatches: Vec<String> = check["mismatches"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(|c| tr.reason(c)).collect())
        .unwrap_or_default();
    let clear = mismatches.is_empty() && flag("card_matches") && flag("card_valid");
    CheckView { rows, mismatches, clear }
}

/// The application page, with the problems of an action that was refused.
fn app_page(
    s: &AppState,
    me: &Signed,
    ctx: Ctx,
    v: &ApplicationView,
    refused: Option<(String, Vec<String>)>,
) -> AppPage {
    let tr = ctx.tr;
    let rec = &v.record;
    let today = verifier::Date::from_unix_vn(s.service.now());
    let state = v.meta.state;
    let officer = me.who.role == crate::store::Role::Officer;
    let can = Can {
        capture: officer && matches!(state, Status::Submitted | Status::BiometricsCaptured),
        check: officer && state == Status::BiometricsCaptured,
        approve: officer && state == Status::DataChecked,
        reject: officer && !state.is_closed(),
        reoffer: officer && state == Status::Approved,
    };
    let biometrics = rec
        .biometrics
        .iter()
        .map(|b| {
            let class = rating(b.quality);
            BioItem {
                slot: slot_label(tr, &b.slot),
                format: b.format.to_uppercase(),
                size: format!("{} KiB", (b.size as u64).div_ceil(1024)),
                quality: b.quality,
                rating: tr.t(&format!("console-quality-{class}")),
                class,
            }
        })
        .collect();
    let history = rec
        .workflow
        .history()
        .iter()
        .map(|h| (tr.time(h.at.unix_timestamp().max(0) as u64), tr.status(h.to), h.actor.as_str().to_owned()))
        .collect();
    let (error_title, errors) = match refused {
        Some((t, e)) => (Some(t), e),
        None => (None, Vec::new()),
    };
    AppPage {
        id: v.id.to_string(),
        state: tr.status(state),
        due: tr.date(rec.due_on),
        notice: tr.deadline_notice(if rec.biometrics_on_file { 3 } else { 7 }, rec.due_on),
        overdue: rec.due_on < today && !state.is_closed(),
        details: details(tr, v),
        biometrics,
        check: rec.national_check.as_ref().map(|c| check_view(tr, c)),
        error_title,
        errors,
        history,
        credential: v.meta.credential.as_ref().map(ToString::to_string),
        eid: rec.eid_number.clone(),
        rejection_note: rec.rejection_note.clone(),
        can,
        fingers: (1..=10u8).map(|n| (n, tr.t(&format!("console-finger-{n}")))).collect(),
        ctx,
    }
}

/// A refused action shown on the application page, with the status the API would answer.
async fn refused_page(
    s: &AppState,
    me: &Signed,
    id: &ApplicationId,
    e: ServiceError,
) -> Result<Response, ConsoleError> {
    let (status, codes) = match &e {
        ServiceError::Refused { code, reasons } => {
            let mut c: Vec<&str> = reasons.iter().map(|r| r.code).collect();
            if c.is_empty() {
                c.push(code);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, c)
        }
        ServiceError::Conflict(r) => (StatusCode::CONFLICT, vec![r.code]),
        _ => return Err(e.into()),
    };
    let tr = me.ctx.tr;
    let title = match &e {
        ServiceError::Refused { code, .. } => tr.reason(code),
        _ => tr.t("console-error-refused"),
    };
    let msgs = codes.iter().map(|c| tr.reason(c)).collect();
    let v = s.service.application(&me.who, id).await?;
    let mut ctx = me.ctx.clone();
    ctx.back = format!("/console/applications/{id}");
    Ok(page(status, &app_page(s, me, ctx, &v, Some((title, msgs)))))
}

/// Portrait and fingerprints from the capture station (or the browser's camera), with the
/// station's quality scores.
async fn biometrics(
    State(s): State<AppState>,
    Officer(me): Officer,
    ConsoleId(id): ConsoleId<ApplicationId>,
    csrf: CsrfCheck,
    mut multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    // The form's first field is its token (the page puts it first): nothing else is read, let
    // alone buffered, before it has been checked.
    let first = multipart.next_field().await.map_err(|_| ConsoleError::BadForm)?;
    match first {
        Some(f) if f.name() == Some("_csrf") => csrf.verify(&f.text().await.map_err(|_| ConsoleError::BadForm)?)?,
        _ => return Err(ConsoleError::Csrf),
    }
    while let Some(field) = multipart.next_field().await.map_err(|_| ConsoleError::BadForm)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        if is_file {
            let bytes = field.bytes().await.map_err(|_| ConsoleError::BadForm)?;
            // An input left empty still sends a part with no file name and no bytes.
            if bytes.is_empty() {
                continue;
            }
            if files.len() >= 11 {
                return Err(ConsoleError::BadForm);
            }
            files.push((name, bytes.to_vec()));
        } else {
            let text = field.text().await.map_err(|_| ConsoleError::BadForm)?;
            if !text.trim().is_empty() && fields.len() < 32 {
                fields.push((name, text));
            }
        }
    }
    match s.service.capture_biometrics(&me.who, &id, &files, &fields, None).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/applications/{id}?done=biometrics")).into_response()),
        Err(e) => refused_page(&s, &me, &id, e).await,
    }
}

async fn check(
    State(s): State<AppState>,
    Officer(me): Officer,
    ConsoleId(id): ConsoleId<ApplicationId>,
    _form: Posted,
) -> Result<Response, ConsoleError> {
    match s.service.national_check(&me.who, &id, None).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/applications/{id}?done=checked")).into_response()),
        Err(e) => refused_page(&s, &me, &id, e).await,
    }
}

/// Approves and shows the offer: the pre-authorized code exists only in this response (the
/// issuer keeps its hash), so the page is answered directly, never stored; a lost page is a
/// renewed offer away.
async fn approve(
    State(s): State<AppState>,
    Officer(me): Officer,
    ConsoleId(id): ConsoleId<ApplicationId>,
    _form: Posted,
) -> Result<Response, ConsoleError> {
    match s.service.approve(&me.who, &id, None).await {
        Ok(offer) => offer_page(&me, &offer, Some(offer.tx_code.as_str().to_owned())),
        Err(e) => refused_page(&s, &me, &id, e).await,
    }
}

async fn reoffer(
    State(s): State<AppState>,
    Officer(me): Officer,
    ConsoleId(id): ConsoleId<ApplicationId>,
    _form: Posted,
) -> Result<Response, ConsoleError> {
    match s.service.renew_offer(&me.who, &id, None).await {
        Ok(offer) => offer_page(&me, &offer, Some(offer.tx_code.as_str().to_owned())),
        Err(e) => refused_page(&s, &me, &id, e).await,
    }
}

/// The offer page. `tx_code`: the OpenID4VCI transaction code, shown apart from the QR (to be
/// told to the applicant, not photographed with it), once offers carry one.
pub fn offer_page(me: &Signed, offer: &Offer, tx_code: Option<String>) -> Result<Response, ConsoleError> {
    let tr = me.ctx.tr;
    let qr = qr_svg(&offer.offer_uri, &tr.t("console-offer-qr-label"))
        .ok_or_else(|| ConsoleError::Internal("the offer does not fit a QR code".into()))?;
    let mut ctx = me.ctx.clone();
    ctx.back = format!("/console/applications/{}", offer.id);
    let view = OfferPage { id: offer.id.to_string(), qr, expires: tr.time(offer.expires_at), tx_code, ctx };
    Ok(page(StatusCode::OK, &view))
}

async fn reject(
    State(s): State<AppState>,
    Officer(me): Officer,
    ConsoleId(id): ConsoleId<ApplicationId>,
    form: Posted,
) -> Result<Response, ConsoleError> {
    match s.service.reject(&me.who, &id, form.get("reason"), None).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/applications/{id}?done=rejected")).into_response()),
        Err(e) => refused_page(&s, &me, &id, e).await,
    }
}

// ---------------------------------------------------------------------------------------------
// The applicant's hand-out

#[derive(Debug, Deserialize)]
struct HandoutQuery {
    lang: Option<String>,
}

/// The language an applicant most likely reads, from their nationality (the officer can pick
/// another): Korean for Korea, Chinese for China, Taiwan, Hong Kong, Macao and Singapore,
/// Vietnamese for no one (applicants are foreign), English otherwise.
fn applicant_lang(nationality: &str) -> Lang {
    match nationality {
        "KOR" | "PRK" => Lang::Ko,
        "CHN" | "TWN" | "HKG" | "MAC" | "SGP" => Lang::ZhCn,
        _ => Lang::En,
    }
}

/// A printable page for the applicant, in their language: the reference, the due date and the
/// notice, and what to do next.
async fn handout(
    State(s): State<AppState>,
    me: Signed,
    ConsoleId(id): ConsoleId<ApplicationId>,
    Query(q): Query<HandoutQuery>,
) -> Result<Response, ConsoleError> {
    let v = s.service.application(&me.who, &id).await?;
    let rec = &v.record;
    let lang = q
        .lang
        .as_deref()
        .and_then(|l| l.parse::<Lang>().ok())
        .unwrap_or_else(|| applicant_lang(rec.form.nationality().code()));
    let h = Tr::new(lang);
    let view = HandoutPage {
        h,
        id: v.id.to_string(),
        name: rec.form.full_name().as_str().to_owned(),
        name_latin: rec.form.full_name_latin().as_str().to_owned(),
        point: v.meta.reception_point.clone(),
        submitted: h.date(v.meta.submitted_on),
        due: h.date(rec.due_on),
        notice: h.deadline_notice(if rec.biometrics_on_file { 3 } else { 7 }, rec.due_on),
        state: h.status(v.meta.state),
        langs: LANG_NAMES.iter().map(|(l, n)| (l.tag(), *n, *l == lang)).collect(),
        ctx: me.ctx,
    };
    Ok(page(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_and_languages() {
        assert_eq!((rating(87), rating(40), rating(10)), ("good", "fair", "poor"));
        assert_eq!(applicant_lang("KOR"), Lang::Ko);
        assert_eq!(applicant_lang("TWN"), Lang::ZhCn);
        assert_eq!(applicant_lang("USA"), Lang::En);
    }

    #[test]
    fn the_form_becomes_the_apis_json_with_the_officers_point() {
        let form = Posted(vec![
            ("full_name".into(), "Kim".into()),
            ("residence_card.number".into(), "TRC1".into()),
            ("reception_point".into(), "elsewhere".into()),
        ]);
        let v = tk01_json(&form, "hn-ba-dinh-police");
        assert_eq!(v["reception_point"], "hn-ba-dinh-police");
        assert_eq!(v["residence_card"]["number"], "TRC1");
        assert!(v.get("guardian").is_none());
        let form = Posted(vec![("guardian.relationship".into(), "parent".into())]);
        assert_eq!(tk01_json(&form, "p")["guardian"]["relationship"], "parent");
        assert_eq!(field_of(&Reason::new("applicant_under_6")).as_deref(), Some("date_of_birth"));
        assert_eq!(field_of(&Reason::new("phone_invalid").arg("field", "phone")).as_deref(), Some("phone"));
    }
}
