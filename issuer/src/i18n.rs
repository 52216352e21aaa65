//! Localization glue. The messages live in the `enrollment` crate's Fluent files: applicant
//! reasons as `reason-<code>`, workflow states as `status-<code>`, and the HTTP API's own codes
//! as `api-<code>`. Vietnamese is the default and the fallback.

use std::sync::OnceLock;

pub use enrollment::i18n::Lang;
use enrollment::i18n::Localizer;

fn localizer() -> Option<&'static Localizer> {
    static L: OnceLock<Option<Localizer>> = OnceLock::new();
    L.get_or_init(|| Localizer::new().ok()).as_ref()
}

pub fn negotiate(header: Option<&str>) -> Lang {
    Lang::negotiate(header)
}

pub fn tag(lang: Lang) -> &'static str {
    lang.tag()
}

/// The Fluent id of an error code: an enrollment reason, or one of the API's own codes.
pub fn id_of(code: &str) -> String {
    if code.parse::<enrollment::Reason>().is_ok() {
        format!("reason-{}", code.replace('_', "-"))
    } else {
        format!("api-{}", code.replace('_', "-"))
    }
}

/// The message for an error code. Arguments are not interpolated into messages (they may hold
/// input); callers return them beside the message.
pub fn message(lang: Lang, code: &str, _args: &[(&'static str, String)]) -> String {
    message_id(lang, &id_of(code))
}

pub fn message_id(lang: Lang, id: &str) -> String {
    localizer().map_or_else(|| id.to_owned(), |l| l.message(lang, id, None))
}

/// The applicant's deadline notice: "we will decide within N working days, by DATE".
pub fn deadline_notice(lang: Lang, days: u32, due: verifier::Date) -> String {
    let mut args = enrollment::i18n::FluentArgs::new();
    args.set("days", days);
    args.set("date", enrollment::i18n::format_date(lang, crate::service::rules::to_time(due)));
    localizer().map_or_else(|| "deadline-notice".to_owned(), |l| l.message(lang, "deadline-notice", Some(&args)))
}

/// Guidance for applicants that takes no arguments: how to apply, what to bring, the wallet.
pub const GUIDANCE: [&str; 3] = ["guide-how-to-apply", "guide-documents", "guide-wallet"];

/// Every code the HTTP API returns besides the enrollment reasons. A test checks each has a
/// message in every language.
pub const API_CODES: &[&str] = &[
    "unauthorized",
    "forbidden",
    "not_found",
    "internal_error",
    "invalid_request",
    "invalid_application",
    "not_eligible",
    "application_exists",
    "invalid_biometrics",
    "national_check_failed",
    "field_invalid",
    "invalid_grant",
    "invalid_token",
    "invalid_proof",
    "unsupported_grant_type",
    "unsupported_credential_type",
    "key_transition_refused",
    "credential_revoked",
    "application_changed",
    "busy",
    "insufficient_storage",
    "status_changed",
    "last_admin",
    "method_not_allowed",
    "unsupported_media_type",
    "payload_too_large",
    "idempotency_key_reused",
    "idempotency_key_invalid",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_code_has_a_message_in_every_language() {
        for code in API_CODES {
            let id = id_of(code);
            let mut seen = std::collections::BTreeSet::new();
            for lang in Lang::ALL {
                let m = message(lang, code, &[]);
                assert_ne!(m, id, "{code} has no message in {}", lang.tag());
                seen.insert(m);
            }
            assert_eq!(seen.len(), Lang::ALL.len(), "{code}: some languages share a message (untranslated?)");
        }
    }
}
