//! Applicant-facing messages in Vietnamese (the default), English, simplified Chinese and Korean.
//!
//! Messages live in Project Fluent files, `locales/<lang>/messages.ftl`, compiled in with `include_str!`
//! so translators edit plain text and the binary needs no files at run time. Ids are:
//!
//! * `reason-<code>` for every [`Reason`] (`_` written as `-`), see [`Reason::message_id`];
//! * `status-<code>` for every workflow [`Status`];
//! * the guidance messages in [`GUIDANCE_IDS`] (`guide-biometrics-appointment` takes `$date` and
//!   `$point`, `deadline-notice` takes `$days` and `$date`; see [`format_date`]);
//! * the holder's notices after a registry change, `registry-*` (see
//!   [`crate::registry_changes::message_ids`]).
//!
//! Tests fail when a language lacks an id another has, when a reason or status has no message, or when a
//! message does not format cleanly. Bundles are the concurrent (`Send + Sync`) kind so one [`Localizer`]
//! can sit in the issuer's shared state; Unicode isolation marks are off because the messages go into
//! JSON bodies and SMS, where the invisible FSI/PDI characters only cause trouble.

use std::fmt;
use std::str::FromStr;

use fluent_bundle::concurrent::FluentBundle;
pub use fluent_bundle::FluentArgs;
use fluent_bundle::FluentResource;
use time::Date;
use unic_langid::LanguageIdentifier;

use crate::workflow::Status;
use crate::{Error, Reason};

/// The guidance messages every language provides.
pub const GUIDANCE_IDS: &[&str] =
    &["guide-how-to-apply", "guide-documents", "guide-biometrics-appointment", "guide-wallet", "deadline-notice"];

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum Lang {
    /// Vietnamese, the default and the fallback.
    #[default]
    #[serde(rename = "vi")]
    Vi,
    /// English.
    #[serde(rename = "en")]
    En,
    /// Chinese, simplified script.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// Korean.
    #[serde(rename = "ko")]
    Ko,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 4] = [Lang::Vi, Lang::En, Lang::ZhCn, Lang::Ko];

    /// The BCP 47 tag (also the `locales/` folder name).
    pub const fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
            Lang::Ko => "ko",
        }
    }

    const fn index(self) -> usize {
        match self {
            Lang::Vi => 0,
            Lang::En => 1,
            Lang::ZhCn => 2,
            Lang::Ko => 3,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Vi => include_str!("../locales/vi/messages.ftl"),
            Lang::En => include_str!("../locales/en/messages.ftl"),
            Lang::ZhCn => include_str!("../locales/zh-CN/messages.ftl"),
            Lang::Ko => include_str!("../locales/ko/messages.ftl"),
        }
    }

    /// The supported language a language range names, by its primary subtag: `vi`, `en`, `ko`, and any
    /// `zh` (`zh`, `zh-CN`, `zh-Hans`, and also `zh-TW`/`zh-Hant`, since simplified Chinese serves a
    /// traditional-script reader better than a fallback to Vietnamese would).
    fn from_range(range: &str) -> Option<Lang> {
        let primary = range.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            "zh" => Some(Lang::ZhCn),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// Picks the language from an HTTP `Accept-Language` header: the supported language with the highest
    /// q-value (the earlier entry on a tie); entries with `q=0` or a malformed q-value are ignored;
    /// Vietnamese when nothing matches or there is no header.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::Vi;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or_default().trim();
            let mut q = Some(1.0_f32);
            for param in parts {
                if let Some(v) = param.trim().strip_prefix("q=") {
                    q = v.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q));
                }
            }
            let (Some(q), Some(lang)) = (q, Lang::from_range(range)) else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Vi, |(_, lang)| lang)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl FromStr for Lang {
    type Err = Reason;
    /// Parses a single language tag (as stored with a user's preference); unknown → `field_unknown`.
    fn from_str(s: &str) -> Result<Self, Reason> {
        Lang::from_range(s.trim()).ok_or(Reason::FieldUnknown)
    }
}

/// Formats a date the way each language writes it: `12/04/2026`, `12 April 2026`, `2026年4月12日`,
/// `2026년 4월 12일`.
pub fn format_date(lang: Lang, date: Date) -> String {
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    match lang {
        Lang::Vi => format!("{d:02}/{m:02}/{y}"),
        Lang::En => format!("{d} {} {y}", date.month()),
        Lang::ZhCn => format!("{y}年{m}月{d}日"),
        Lang::Ko => format!("{y}년 {m}월 {d}일"),
    }
}

/// Formats messages in the four languages. Build it once and share it (`Send + Sync`).
pub struct Localizer {
    bundles: Vec<FluentBundle<FluentResource>>,
}

impl fmt::Debug for Localizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Localizer").field("languages", &Lang::ALL.map(Lang::tag)).finish()
    }
}

impl Localizer {
    /// Loads the shipped messages. Fails only if a shipped `.ftl` file is malformed, which the tests
    /// rule out.
    pub fn new() -> Result<Self, Error> {
        let mut bundles = Vec::with_capacity(Lang::ALL.len());
        for lang in Lang::ALL {
            let locale_err = |message: String| Error::Locale { lang: lang.tag(), message };
            let resource = FluentResource::try_new(lang.source().to_owned())
                .map_err(|(_, errs)| locale_err(format!("{errs:?}")))?;
            let langid: LanguageIdentifier = lang.tag().parse().map_err(|e| locale_err(format!("{e:?}")))?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            bundle.set_use_isolating(false);
            bundle.add_resource(resource).map_err(|errs| locale_err(format!("{errs:?}")))?;
            bundles.push(bundle);
        }
        Ok(Localizer { bundles })
    }

    fn bundle(&self, lang: Lang) -> Option<&FluentBundle<FluentResource>> {
        self.bundles.get(lang.index())
    }

    /// Formats message `id` in `lang`; falls back to Vietnamese, then to the id itself.
    pub fn message(&self, lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        self.try_message(lang, id, args)
            .or_else(|| self.try_message(Lang::Vi, id, args))
            .unwrap_or_else(|| id.to_owned())
    }

    /// The message for a reason.
    pub fn reason(&self, lang: Lang, reason: Reason) -> String {
        self.message(lang, &reason.message_id(), None)
    }

    /// The name of a workflow status.
    pub fn status(&self, lang: Lang, status: Status) -> String {
        self.message(lang, &status.message_id(), None)
    }

    /// True when `lang` itself (without fallback) has message `id`.
    pub fn has_message(&self, lang: Lang, id: &str) -> bool {
        self.bundle(lang).is_some_and(|b| b.has_message(id))
    }

    fn try_message(&self, lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
        self.try_message_with_errors(lang, id, args).map(|(s, _)| s)
    }

    /// Formats and returns the Fluent errors too (missing variables and the like).
    fn try_message_with_errors(
        &self,
        lang: Lang,
        id: &str,
        args: Option<&FluentArgs<'_>>,
    ) -> Option<(String, Vec<fluent_bundle::FluentError>)> {
        let bundle = self.bundle(lang)?;
        let pattern = bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors).into_owned();
        Some((text, errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use time::macros::date;

    /// Message ids defined in a Fluent source: lines `id = …` at the start of a line.
    fn ids(source: &str) -> BTreeSet<String> {
        source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    fn all_args(lang: Lang) -> FluentArgs<'static> {
        let mut args = FluentArgs::new();
        args.set("date", format_date(lang, date!(2026 - 03 - 05)));
        args.set("point", "Công an phường Ba Đình");
        args.set("days", 3);
        // The issuer's wallet-facing messages (`api-*`): a transaction code, its length, the
        // wrong codes still allowed.
        args.set("code", "123456");
        args.set("length", 6);
        args.set("left", 2);
        // Registry change notices: the renewal's decision day and the renewal offer's link.
        args.set("due", format_date(lang, date!(2026 - 03 - 10)));
        args.set("link", "openid-credential-offer://?credential_offer=x");
        args
    }

    #[test]
    fn every_language_has_every_id() {
        let union: BTreeSet<String> = Lang::ALL.iter().flat_map(|l| ids(l.source())).collect();
        assert!(union.len() >= Reason::ALL.len() + Status::ALL.len() + GUIDANCE_IDS.len());
        let loc = Localizer::new().unwrap();
        for lang in Lang::ALL {
            let mine = ids(lang.source());
            let missing: Vec<_> = union.difference(&mine).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            for r in Reason::ALL {
                assert!(loc.has_message(lang, &r.message_id()), "{lang} lacks reason {r}");
            }
            for s in Status::ALL {
                assert!(loc.has_message(lang, &s.message_id()), "{lang} lacks status {s}");
            }
            for id in GUIDANCE_IDS {
                assert!(loc.has_message(lang, id), "{lang} lacks {id}");
            }
        }
        // And nothing is defined that no code uses. The `api-*` messages belong to the issuer's
        // HTTP API and the `console-*` ones to its console, whose own tests check each one they use.
        let union: BTreeSet<String> =
            union.into_iter().filter(|id| !id.starts_with("api-") && !id.starts_with("console-")).collect();
        let expected: BTreeSet<String> = Reason::ALL
            .iter()
            .map(|r| r.message_id())
            .chain(Status::ALL.iter().map(|s| s.message_id()))
            .chain(GUIDANCE_IDS.iter().map(|s| s.to_string()))
            .chain(crate::registry_changes::message_ids())
            .collect();
        assert_eq!(union, expected);
    }

    #[test]
    fn every_message_formats_without_errors_and_is_translated() {
        let loc = Localizer::new().unwrap();
        for lang in Lang::ALL {
            let args = all_args(lang);
            for id in ids(lang.source()) {
                let (text, errors) = loc.try_message_with_errors(lang, &id, Some(&args)).unwrap();
                assert!(errors.is_empty(), "{lang} {id}: {errors:?}");
                assert!(!text.trim().is_empty() && !text.contains('{'), "{lang} {id}: {text}");
                assert!(!text.contains('\u{2068}'), "isolation marks in {lang} {id}");
                if lang != Lang::Vi {
                    assert_ne!(text, loc.message(Lang::Vi, &id, Some(&args)), "{lang} {id} untranslated");
                }
            }
        }
    }

    #[test]
    fn messages_read_naturally() {
        let loc = Localizer::new().unwrap();
        assert_eq!(
            loc.reason(Lang::Vi, Reason::ApplicantUnder6),
            "Người đề nghị chưa đủ 6 tuổi nên chưa thuộc diện được cấp định danh điện tử mức độ 2."
        );
        assert_eq!(loc.status(Lang::En, Status::DataChecked), "Details checked");
        assert_eq!(loc.status(Lang::ZhCn, Status::Issued), "电子身份已签发");
        assert_eq!(loc.status(Lang::Ko, Status::Submitted), "접수 완료");
        let mut args = FluentArgs::new();
        args.set("days", 7);
        args.set("date", format_date(Lang::En, date!(2026 - 03 - 17)));
        assert_eq!(
            loc.message(Lang::En, "deadline-notice", Some(&args)),
            "We will decide on your application within 7 working days, by 17 March 2026 at the latest."
        );
        args.set("days", 1);
        assert!(loc.message(Lang::En, "deadline-notice", Some(&args)).contains("1 working day,"));
        args.set("date", format_date(Lang::Ko, date!(2026 - 03 - 17)));
        args.set("days", 3);
        assert_eq!(
            loc.message(Lang::Ko, "deadline-notice", Some(&args)),
            "신청은 근무일 기준 3일 이내, 늦어도 2026년 3월 17일까지 처리됩니다."
        );
    }

    #[test]
    fn falls_back_to_vietnamese_then_to_the_id() {
        let loc = Localizer::new().unwrap();
        assert_eq!(loc.message(Lang::Ko, "no-such-message", None), "no-such-message");
        assert_eq!(loc.message(Lang::En, "status-approved", None), "Approved");
    }

    #[test]
    fn negotiation_table() {
        let cases: &[(Option<&str>, Lang)] = &[
            (None, Lang::Vi),
            (Some(""), Lang::Vi),
            (Some("*"), Lang::Vi),
            (Some("fr-FR, de;q=0.9"), Lang::Vi),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Ko),
            (Some("zh-CN,zh;q=0.9"), Lang::ZhCn),
            (Some("zh-Hans-CN"), Lang::ZhCn),
            (Some("zh"), Lang::ZhCn),
            (Some("zh-TW"), Lang::ZhCn),
            (Some("fr;q=1, en;q=0.5, ko;q=0.8"), Lang::Ko),
            (Some("en;q=0, vi;q=0.1"), Lang::Vi),
            (Some("en;q=0"), Lang::Vi),
            (Some("en;q=0.5, ko;q=0.5"), Lang::En),
            (Some("en;q=abc, ko;q=0.2"), Lang::Ko),
            (Some("en;q=1.5, ko;q=0.2"), Lang::Ko),
            (Some("  EN-gb ;  q=0.8 , vi ; q=0.7"), Lang::En),
            (Some("vi-VN,vi;q=0.9,en;q=0.8"), Lang::Vi),
            (Some(",,;;q=,"), Lang::Vi),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::negotiate(*header), *want, "{header:?}");
        }
        assert_eq!("zh-CN".parse::<Lang>(), Ok(Lang::ZhCn));
        assert_eq!(serde_json::to_value(Lang::ZhCn).unwrap(), "zh-CN");
    }

    #[test]
    fn dates_per_language() {
        let d = date!(2026 - 04 - 05);
        assert_eq!(format_date(Lang::Vi, d), "05/04/2026");
        assert_eq!(format_date(Lang::En, d), "5 April 2026");
        assert_eq!(format_date(Lang::ZhCn, d), "2026年4月5日");
        assert_eq!(format_date(Lang::Ko, d), "2026년 4월 5일");
    }

    #[test]
    fn localizer_is_send_and_sync() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Localizer>();
    }
}
