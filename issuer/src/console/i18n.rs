//! The console's words: the `console-*` messages in the same Fluent files as the applicant
//! messages (`enrollment/locales/<lang>/messages.ftl`), and the applicant reasons, states and
//! notices the JSON API already localizes. One [`Tr`] per request, in the user's language.

use std::sync::OnceLock;

use enrollment::i18n::{FluentArgs, Localizer};
use enrollment::workflow::Status;

use crate::i18n::Lang;

fn localizer() -> Option<&'static Localizer> {
    static L: OnceLock<Option<Localizer>> = OnceLock::new();
    L.get_or_init(|| Localizer::new().ok()).as_ref()
}

/// Each language's name in that language (the language switch shows them so).
pub const LANG_NAMES: [(Lang, &str); 4] =
    [(Lang::Vi, "Tiếng Việt"), (Lang::En, "English"), (Lang::ZhCn, "中文（简体）"), (Lang::Ko, "한국어")];

/// Messages in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr(Lang);

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self(lang)
    }

    pub fn lang(&self) -> Lang {
        self.0
    }

    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(&self) -> &'static str {
        self.0.tag()
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        localizer().map_or_else(|| id.to_owned(), |l| l.message(self.0, id, args))
    }

    /// A message without arguments.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// A message with one number (plural forms follow it). The shared Fluent files' tests format
    /// every message with `$days`, `$date` and `$point` only, so console messages use those names.
    pub fn n(&self, id: &str, name: &'static str, n: u64) -> String {
        let mut a = FluentArgs::new();
        a.set(name, n);
        self.format(id, Some(&a))
    }

    /// A message with one text argument (ids, dates: never applicant input).
    pub fn s(&self, id: &str, name: &'static str, value: &str) -> String {
        let mut a = FluentArgs::new();
        a.set(name, value.to_owned());
        self.format(id, Some(&a))
    }

    /// The message of a stable reason code (an enrollment reason or an API code).
    pub fn reason(&self, code: &str) -> String {
        crate::i18n::message(self.0, code, &[])
    }

    /// The name of a workflow state.
    pub fn status(&self, s: Status) -> String {
        self.t(&s.message_id())
    }

    /// A date as this language writes it.
    pub fn date(&self, d: verifier::Date) -> String {
        enrollment::i18n::format_date(self.0, crate::service::rules::to_time(d))
    }

    /// A UNIX time as `YYYY-MM-DD HH:MM` in Vietnam (UTC+7), the same in every language.
    pub fn time(&self, t: u64) -> String {
        let d = verifier::Date::from_unix_vn(t);
        let secs = (t + 7 * 3600) % 86_400;
        format!("{d} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
    }

    /// The applicant notice: the decision within N working days, by the due date.
    pub fn deadline_notice(&self, days: u32, due: verifier::Date) -> String {
        crate::i18n::deadline_notice(self.0, days, due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `console-…` id the console's sources and templates use.
    fn used_ids() -> BTreeSet<String> {
        let sources = [
            include_str!("mod.rs"),
            include_str!("auth.rs"),
            include_str!("officer.rs"),
            include_str!("admin.rs"),
            include_str!("error.rs"),
            include_str!("views.rs"),
            include_str!("../../templates/console/base.html"),
            include_str!("../../templates/console/sign_in.html"),
            include_str!("../../templates/console/queue.html"),
            include_str!("../../templates/console/new_application.html"),
            include_str!("../../templates/console/application.html"),
            include_str!("../../templates/console/offer.html"),
            include_str!("../../templates/console/handout.html"),
            include_str!("../../templates/console/tokens.html"),
            include_str!("../../templates/console/keys.html"),
            include_str!("../../templates/console/credential.html"),
            include_str!("../../templates/console/audit.html"),
            include_str!("../../templates/console/error.html"),
            include_str!("../../templates/console/field.html"),
        ];
        let mut ids = BTreeSet::new();
        for src in sources {
            for (i, _) in src.match_indices("\"console-") {
                let id: String = src[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                // Ids built at run time end in "-" here (`"console-state-" + code`); the test
                // below lists their expansions.
                if !id.ends_with('-') {
                    ids.insert(id);
                }
            }
        }
        ids
    }

    #[test]
    fn every_console_message_exists_in_every_language_and_is_translated() {
        let loc = localizer().unwrap();
        let mut ids = used_ids();
        assert!(ids.len() > 100, "only {} console ids found", ids.len());
        ids.extend(super::super::views::dynamic_ids());
        for id in &ids {
            let mut seen = BTreeSet::new();
            for lang in Lang::ALL {
                assert!(loc.has_message(lang, id), "{id} has no message in {lang}");
                let mut a = FluentArgs::new();
                a.set("n", 2);
                a.set("id", "abc");
                a.set("date", "2026-01-01");
                a.set("days", 3);
                a.set("kid", "AAAA");
                a.set("point", "hn-ba-dinh-police");
                seen.insert(loc.message(lang, id, Some(&a)));
            }
            assert_eq!(seen.len(), Lang::ALL.len(), "{id}: some languages share a message (untranslated?)");
        }
    }
}
