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

/// The language of a wallet-facing (OAuth / OpenID4VCI) response: the one `Accept-Language`
/// asks for among ours, and **English** when the request names none of them (OAuth clients and
/// their developers read English; the staff API's default, Vietnamese, is for people).
pub fn negotiate_wallet(header: Option<&str>) -> Lang {
    let Some(h) = header else { return Lang::En };
    let named = |want: Lang| {
        h.split(',').any(|entry| {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let refused =
                parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().ok() == Some(0.0)));
            !refused && tag.parse::<Lang>().ok() == Some(want)
        })
    };
    match Lang::negotiate(Some(h)) {
        Lang::Vi if !named(Lang::Vi) => Lang::En,
        lang => lang,
    }
}

/// The hint in an offer's `tx_code.description`: where the code is (at most 300 characters).
pub fn offer_tx_code_hint(lang: Lang, length: u32) -> String {
    let mut args = enrollment::i18n::FluentArgs::new();
    args.set("length", length);
    localizer()
        .map_or_else(|| "api-offer-tx-code-hint".to_owned(), |l| l.message(lang, "api-offer-tx-code-hint", Some(&args)))
}

/// The SMS / e-mail text that carries a transaction code.
pub fn tx_code_notice(lang: Lang, code: &str, expires_at: u64) -> String {
    let mut args = enrollment::i18n::FluentArgs::new();
    args.set("code", code.to_owned());
    let day = verifier::Date::from_unix_vn(expires_at);
    args.set("date", enrollment::i18n::format_date(lang, crate::service::rules::to_time(day)));
    localizer().map_or_else(|| "api-notify-tx-code".to_owned(), |l| l.message(lang, "api-notify-tx-code", Some(&args)))
}

/// A holder's notice after a registry change (subject, text): `day` is the day of the change
/// (for an expiry, the card's last valid day), `due` the renewal's decision day.
pub fn registry_notice(
    lang: Lang,
    reason: enrollment::registry_changes::ChangeReason,
    day: verifier::Date,
    due: Option<verifier::Date>,
) -> (String, String) {
    let to_time = crate::service::rules::to_time;
    match localizer() {
        Some(l) => {
            let n = enrollment::registry_changes::notice(l, lang, reason, to_time(day), due.map(to_time));
            (n.subject, n.text)
        }
        None => (reason.subject_id(), reason.notice_id()),
    }
}

/// The renewal offer's notice (subject, text with the link), until the offer expires.
pub fn renewal_offer_notice(lang: Lang, link: &str, expires_at: u64) -> (String, String) {
    let until = crate::service::rules::to_time(verifier::Date::from_unix_vn(expires_at));
    match localizer() {
        Some(l) => {
            let n = enrollment::registry_changes::renewal_offer_notice(l, lang, link, until);
            (n.subject, n.text)
        }
        None => (
            enrollment::registry_changes::RENEWAL_OFFER_IDS[0].to_owned(),
            enrollment::registry_changes::RENEWAL_OFFER_IDS[1].to_owned(),
        ),
    }
}

/// The SMS / e-mail text of a re-offer: the credential must be received again (its signing key
/// was withdrawn), with the transaction code and the offer's last day.
pub fn reoffer_notice(lang: Lang, code: &str, expires_at: u64) -> String {
    let mut args = enrollment::i18n::FluentArgs::new();
    args.set("code", code.to_owned());
    let day = verifier::Date::from_unix_vn(expires_at);
    args.set("date", enrollment::i18n::format_date(lang, crate::service::rules::to_time(day)));
    localizer().map_or_else(|| "api-notify-reoffer".to_owned(), |l| l.message(lang, "api-notify-reoffer", Some(&args)))
}

/// The `error_description` of a wallet-facing refusal (with `left`, the wrong transaction codes
/// still allowed, where it applies).
pub fn wallet_message(lang: Lang, id: &str, left: Option<u32>) -> String {
    let Some(left) = left else { return message_id(lang, id) };
    let mut args = enrollment::i18n::FluentArgs::new();
    args.set("left", left);
    localizer().map_or_else(|| id.to_owned(), |l| l.message(lang, id, Some(&args)))
}

/// Messages of the wallet-facing endpoints besides the API codes: precise `error_description`s,
/// the offer's hint and the transaction code notice. A test checks each exists in every language.
pub const WALLET_MESSAGES: &[&str] = &[
    "api-tx-code-required",
    "api-tx-code-wrong",
    "api-offer-locked",
    "api-offer-needs-renewal",
    "api-offer-tx-code-hint",
    "api-notify-tx-code-subject",
    "api-notify-tx-code",
    "api-notify-reoffer-subject",
    "api-notify-reoffer",
];

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
    "invalid_nonce",
    "invalid_credential_request",
    "unknown_credential_configuration",
    "unknown_credential_identifier",
    "invalid_encryption_parameters",
    "credential_request_denied",
    "temporarily_unavailable",
    "server_error",
    "invalid_query",
    "invalid_multipart",
    "request_timeout",
    "rate_limited",
    "too_many_attempts",
    "too_many_connections",
    "key_not_synced",
    "key_not_revoked",
    "trust_list_signed_here",
    "trust_list_not_prepared",
    "trust_list_signature",
    "trust_list_mismatch",
    "trust_list_outdated",
    "trust_list_unavailable",
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

    #[test]
    fn every_wallet_message_exists_in_every_language() {
        for id in WALLET_MESSAGES {
            let mut seen = std::collections::BTreeSet::new();
            for lang in Lang::ALL {
                let m = wallet_message(lang, id, Some(3));
                assert!(!m.is_empty() && m != *id, "{id} has no message in {}", lang.tag());
                seen.insert(m);
            }
            assert_eq!(seen.len(), Lang::ALL.len(), "{id}: some languages share a message");
        }
        for lang in Lang::ALL {
            let hint = offer_tx_code_hint(lang, 6);
            assert!(hint.contains('6') && hint.chars().count() <= 300, "{hint}");
            let text = tx_code_notice(lang, "123456", 1_796_349_600);
            assert!(text.contains("123456") && text.contains("2026"), "{text}");
        }
        assert!(wallet_message(Lang::En, "api-tx-code-wrong", Some(3)).contains('3'));
    }

    #[test]
    fn wallet_responses_are_english_unless_a_language_of_ours_is_asked() {
        assert_eq!(negotiate_wallet(None), Lang::En);
        assert_eq!(negotiate_wallet(Some("fr-FR, de;q=0.5")), Lang::En);
        assert_eq!(negotiate_wallet(Some("*")), Lang::En);
        assert_eq!(negotiate_wallet(Some("vi")), Lang::Vi);
        assert_eq!(negotiate_wallet(Some("vi;q=0, ko;q=0.2")), Lang::Ko);
        assert_eq!(negotiate_wallet(Some("fr, zh-TW;q=0.8")), Lang::ZhCn);
        assert_eq!(negotiate_wallet(Some("en-GB")), Lang::En);
    }
}
