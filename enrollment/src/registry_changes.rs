//! After enrollment: what the national registry says happened to a residence card, and what that
//! means for the credentials resting on it.
//!
//! A level-2 credential of a foreign resident stands for a lawful residence, and the residence card
//! is what the national check vouched for. Cards are revoked (deportation, a change of status),
//! expire, are replaced (renewal, a new employer, a temporary card becoming permanent) and are
//! sometimes reinstated (a decision annulled). The registry publishes these as a **change feed**:
//! numbered [`RegistryChange`]s, each naming the card, the event, when the registry recorded it and
//! its own reason code. [`plan`] turns one change and the credentials found on the card into what
//! must happen to them:
//!
//! | event | credentials | takes effect | renewal |
//! |---|---|---|---|
//! | revoked | valid or suspended → revoked | now | no |
//! | expired (last valid day D) | valid or suspended → revoked | end of D, Vietnam time (UTC+7) | no |
//! | replaced by a card valid today | valid → suspended | now | yes, for the new card |
//! | replaced by a card not valid today | valid or suspended → revoked | now | no |
//! | reinstated | suspended *by the registry* → valid | now | no |
//!
//! A revoked credential stays revoked whatever comes later (revocation is final for verifiers).
//! Only suspensions the registry caused are lifted by a reinstatement: a credential an admin
//! suspended for another reason stays suspended. After a replacement, the holder is offered a
//! renewal for the new card without a new enrollment (the biometrics are on file, so the 3-day
//! deadline applies); once the renewal's credential is issued, [`after_renewal`] revokes the old
//! ones.
//!
//! Every plan carries a [`ChangeReason`] (a stable code, like [`crate::Reason`]) and the holder is
//! told in their language with [`notice`]: what happened, what it means, and what to do.
//!
//! The feed's stand-in is a JSON Lines file (`docs/registry.md`): [`parse_change_log`] reads one,
//! and [`ChangeLogFile`] tails one that the registry keeps appending to. Like the rest of this
//! crate, the rules take `now` as a parameter and read no clock.

use std::fmt;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::i18n::{format_date, FluentArgs, Lang, Localizer};
use crate::newtype::string_newtype;
use crate::tk01::{CardNumber, ResidenceCard, ResidenceKind};
use crate::{dates, Error, Reason};

/// Vietnam's offset from UTC (no daylight saving time).
pub const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The day `at` falls on in Vietnam.
pub fn vietnam_day(at: OffsetDateTime) -> Date {
    at.to_offset(VIETNAM).date()
}

/// The first instant after `day` ends in Vietnam (midnight at the start of the next day, UTC+7).
pub fn end_of_day_vn(day: Date) -> OffsetDateTime {
    let next = day.next_day().unwrap_or(day);
    next.midnight().assume_offset(VIETNAM)
}

/// What happened to a card, as the registry's feed names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardEvent {
    /// Withdrawn by the authority.
    Revoked,
    /// Past its last valid day.
    Expired,
    /// Replaced by a new card of the same person.
    Replaced,
    /// Back in force after a revocation or replacement was annulled.
    Reinstated,
}

impl CardEvent {
    /// Every event.
    pub const ALL: [CardEvent; 4] =
        [CardEvent::Revoked, CardEvent::Expired, CardEvent::Replaced, CardEvent::Reinstated];

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            CardEvent::Revoked => "revoked",
            CardEvent::Expired => "expired",
            CardEvent::Replaced => "replaced",
            CardEvent::Reinstated => "reinstated",
        }
    }
}

impl fmt::Display for CardEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

fn parse_registry_reason(s: &str) -> Result<String, Reason> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Reason::FieldTypeInvalid)
    }
}

/// The registry's own reason for a change (`deportation`, `change_of_status`, `renewal`,
/// `new_employer`, `permanent_residence`, `expiry`, `decision_annulled`, …): snake_case, 1–64
/// characters, starting with a letter. The registry owns the list; the issuer records and reports
/// the code and never interprets it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RegistryReason(String);
string_newtype!(RegistryReason, parse_registry_reason, public);

/// What the change does to the card, with what each kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Withdrawn.
    Revoked,
    /// Expired; the card was valid through `last_valid_day`.
    Expired {
        /// The last day the card was valid.
        last_valid_day: Date,
    },
    /// Replaced by `new_card`, a card of the same person (another number).
    Replaced {
        /// The new card, as the registry recorded it.
        new_card: ResidenceCard,
    },
    /// Back in force.
    Reinstated,
}

/// One entry of the registry's change feed.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryChange {
    seq: u64,
    card: CardNumber,
    at: OffsetDateTime,
    reason: RegistryReason,
    change: Change,
}

impl fmt::Debug for RegistryChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The card number is personal data: left out.
        f.debug_struct("RegistryChange")
            .field("seq", &self.seq)
            .field("event", &self.event())
            .field("at", &self.at)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl RegistryChange {
    /// A change, checked: `seq` is from 1 to 2^63−1; a replacement names another card number.
    pub fn new(
        seq: u64,
        card: CardNumber,
        at: OffsetDateTime,
        reason: RegistryReason,
        change: Change,
    ) -> Result<Self, String> {
        if seq == 0 || seq > i64::MAX as u64 {
            // Positions are stored as signed 64-bit integers by the issuer's databases.
            return Err("seq must be from 1 to 2^63-1".into());
        }
        if let Change::Replaced { new_card } = &change {
            if new_card.number() == &card {
                return Err("a replacement card must have another number".into());
            }
        }
        Ok(RegistryChange { seq, card, at, reason, change })
    }

    /// The feed position: strictly increasing along the feed (gaps allowed).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The card the change is about.
    pub fn card(&self) -> &CardNumber {
        &self.card
    }

    /// When the registry recorded the change.
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// The registry's reason code.
    pub fn reason(&self) -> &RegistryReason {
        &self.reason
    }

    /// What the change does.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// The kind of event.
    pub fn event(&self) -> CardEvent {
        match self.change {
            Change::Revoked => CardEvent::Revoked,
            Change::Expired { .. } => CardEvent::Expired,
            Change::Replaced { .. } => CardEvent::Replaced,
            Change::Reinstated => CardEvent::Reinstated,
        }
    }

    /// Parses one JSON line of the change log (`docs/registry.md`). The error says what is
    /// wrong and where, never with a value from the line (it may be a card number, and it goes
    /// to logs and the admin's progress report).
    pub fn from_json_line(line: &str) -> Result<Self, String> {
        let raw: Line = serde_json::from_str(line).map_err(|e| redact_quoted(&e.to_string()))?;
        raw.try_into()
    }
}

/// `text` with every double-quoted part replaced by `"…"` (serde quotes the values it saw).
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for ch in text.chars() {
        if ch == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(ch);
        }
    }
    out
}

/// One line of the change log, as written; checked into a [`RegistryChange`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    card: CardNumber,
    event: CardEvent,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    reason: String,
    #[serde(default, with = "dates::iso_opt")]
    last_valid_day: Option<Date>,
    #[serde(default)]
    new_card: Option<NewCardLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCardLine {
    number: CardNumber,
    kind: ResidenceKind,
    #[serde(with = "dates::iso")]
    issued_on: Date,
    #[serde(with = "dates::iso")]
    expires_on: Date,
}

impl TryFrom<Line> for RegistryChange {
    type Error = String;

    fn try_from(l: Line) -> Result<Self, String> {
        let change = match (l.event, l.last_valid_day, l.new_card) {
            (CardEvent::Revoked, None, None) => Change::Revoked,
            (CardEvent::Reinstated, None, None) => Change::Reinstated,
            (CardEvent::Expired, Some(last_valid_day), None) => Change::Expired { last_valid_day },
            (CardEvent::Replaced, None, Some(c)) => Change::Replaced {
                new_card: ResidenceCard::new(c.number, c.kind, c.issued_on, c.expires_on)
                    .map_err(|_| "new_card expires before it is issued".to_owned())?,
            },
            (CardEvent::Expired, None, _) => return Err("an expired event needs last_valid_day".into()),
            (CardEvent::Replaced, _, None) => return Err("a replaced event needs new_card".into()),
            (e, _, _) => return Err(format!("a {e} event takes no last_valid_day or new_card")),
        };
        let reason =
            l.reason.parse().map_err(|_| "reason must be a snake_case code of 1 to 64 characters".to_owned())?;
        RegistryChange::new(l.seq, l.card, l.at, reason, change)
    }
}

/// Parses a whole change log: JSON Lines, blank lines skipped, `seq` strictly increasing. Any bad
/// line is an [`Error::ChangeLine`] with its 1-based number.
pub fn parse_change_log(text: &str) -> Result<Vec<RegistryChange>, Error> {
    let mut out: Vec<RegistryChange> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let change =
            RegistryChange::from_json_line(line).map_err(|message| Error::ChangeLine { line: i + 1, message })?;
        if let Some(last) = out.last() {
            if change.seq() <= last.seq() {
                return Err(Error::ChangeLine {
                    line: i + 1,
                    message: format!("seq {} after {}", change.seq(), last.seq()),
                });
            }
        }
        out.push(change);
    }
    Ok(out)
}

/// A change log file the registry appends to, read incrementally: each [`ChangeLogFile::refresh`]
/// reads the complete lines written since the last one (a line still being written, without its
/// newline, waits for the next call). A bad line stops the reading there, with its line number,
/// until the file is corrected; nothing after it is returned, so no change is ever skipped. A file
/// that does not exist yet is an empty feed; one that shrank is read again from the start.
#[derive(Debug)]
pub struct ChangeLogFile {
    path: PathBuf,
    state: Mutex<Tail>,
}

#[derive(Debug, Default)]
struct Tail {
    /// Bytes consumed (complete, good lines).
    offset: u64,
    /// Lines consumed.
    lines: usize,
    changes: Vec<RegistryChange>,
}

impl ChangeLogFile {
    /// A change log at `path` (it need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ChangeLogFile { path: path.into(), state: Mutex::new(Tail::default()) }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last call and runs `f` over every good change read so
    /// far (up to the first bad line, if any); the error, if reading stopped at one.
    pub fn with_changes<T>(&self, f: impl FnOnce(&[RegistryChange]) -> T) -> (T, Option<Error>) {
        // A poisoned lock only means another reader panicked; the tail is consistent between lines.
        let mut tail = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let error = self.refresh(&mut tail).err();
        (f(&tail.changes), error)
    }

    fn refresh(&self, tail: &mut Tail) -> Result<(), Error> {
        let io = |source| Error::Io { path: self.path.clone(), source };
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let len = file.metadata().map_err(io)?.len();
        if len < tail.offset {
            *tail = Tail::default();
        }
        if len == tail.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(tail.offset)).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(len - tail.offset).read_to_end(&mut bytes).map_err(io)?;
        for raw in bytes.split_inclusive(|&b| b == b'\n') {
            if raw.last() != Some(&b'\n') {
                break; // still being written
            }
            let line_no = tail.lines + 1;
            let bad = |message: String| Error::ChangeLine { line: line_no, message };
            let text = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8".into()))?;
            if !text.trim().is_empty() {
                let change = RegistryChange::from_json_line(text.trim_end()).map_err(bad)?;
                if let Some(last) = tail.changes.last() {
                    if change.seq() <= last.seq() {
                        return Err(bad(format!("seq {} after {}", change.seq(), last.seq())));
                    }
                }
                tail.changes.push(change);
            }
            tail.lines += 1;
            tail.offset += raw.len() as u64;
        }
        Ok(())
    }

    /// The changes with `seq > after`, oldest first, at most `limit`. The good changes before a
    /// bad line come first; the bad line's error once none of them is left.
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<RegistryChange>, Error> {
        let (out, error): (Vec<RegistryChange>, _) = self.with_changes(|all| {
            let from = all.partition_point(|c| c.seq() <= after);
            all[from..].iter().take(limit).cloned().collect()
        });
        match error {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// How many good changes have `seq > after`.
    pub fn backlog(&self, after: u64) -> u64 {
        self.with_changes(|all| (all.len() - all.partition_point(|c| c.seq() <= after)) as u64).0
    }
}

// ---------------------------------------------------------------------------------------------------------
// The rules

/// Why a credential's status changed because of the registry: a stable snake_case code, recorded
/// in the audit log and the officers' reports, and the key of the holder's notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// The card was revoked: the credentials are revoked.
    CardRevoked,
    /// The card expired: the credentials are revoked at the end of its last valid day.
    CardExpired,
    /// The card was replaced: the credentials are suspended until the renewal is issued, then
    /// revoked (or revoked at once when the new card is not valid).
    CardReplaced,
    /// The card was reinstated: credentials the registry had suspended are valid again.
    CardReinstated,
}

impl ChangeReason {
    /// Every reason.
    pub const ALL: [ChangeReason; 4] = [
        ChangeReason::CardRevoked,
        ChangeReason::CardExpired,
        ChangeReason::CardReplaced,
        ChangeReason::CardReinstated,
    ];

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            ChangeReason::CardRevoked => "card_revoked",
            ChangeReason::CardExpired => "card_expired",
            ChangeReason::CardReplaced => "card_replaced",
            ChangeReason::CardReinstated => "card_reinstated",
        }
    }

    /// The Fluent id of the holder's notice: `registry-notice-` and the code with `-` for `_`.
    pub fn notice_id(self) -> String {
        format!("registry-notice-{}", self.code().replace('_', "-"))
    }

    /// The Fluent id of the notice's subject line.
    pub fn subject_id(self) -> String {
        format!("registry-subject-{}", self.code().replace('_', "-"))
    }
}

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for ChangeReason {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        ChangeReason::ALL.into_iter().find(|r| r.code() == s).ok_or(Reason::FieldUnknown)
    }
}

/// A credential's status, as the status list holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// Accepted by verifiers.
    Valid,
    /// Refused for now; may become valid again.
    Suspended,
    /// Refused for good.
    Revoked,
}

/// A credential found on the changed card, as the rules need to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Its status now.
    pub state: CredentialState,
    /// It is suspended because of an earlier registry change to this card (and not, or not only,
    /// by an admin).
    pub suspended_by_registry: bool,
}

impl Held {
    /// A credential in `state` that the registry did not suspend.
    pub const fn new(state: CredentialState) -> Self {
        Held { state, suspended_by_registry: false }
    }
}

/// What a change means for the credentials on its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Why, for the audit log, the reports and the notice.
    pub reason: ChangeReason,
    /// When the moves take effect: now, or (for an expiry) the end of the card's last valid day.
    pub effective_at: OffsetDateTime,
    /// Per credential, in the order given: the state it moves to, or `None` where it stays.
    pub moves: Vec<Option<CredentialState>>,
    /// The card to offer a renewal for (a replacement by a valid card, with a credential to renew).
    pub renewal: Option<ResidenceCard>,
}

impl Plan {
    /// Whether the moves take effect at `now` (or did already).
    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        self.effective_at <= now
    }

    /// Whether any credential changes.
    pub fn moves_any(&self) -> bool {
        self.moves.iter().any(Option::is_some)
    }
}

fn live(h: &Held) -> bool {
    h.state != CredentialState::Revoked
}

fn moves(held: &[Held], f: impl Fn(&Held) -> Option<CredentialState>) -> Vec<Option<CredentialState>> {
    held.iter().map(|h| f(h).filter(|to| *to != h.state)).collect()
}

/// What `change` means, at `now`, for the credentials `held` on its card (see the module's table).
pub fn plan(change: &RegistryChange, held: &[Held], now: OffsetDateTime) -> Plan {
    let revoke_live = |h: &Held| live(h).then_some(CredentialState::Revoked);
    match &change.change {
        Change::Revoked => Plan {
            reason: ChangeReason::CardRevoked,
            effective_at: now,
            moves: moves(held, revoke_live),
            renewal: None,
        },
        Change::Expired { last_valid_day } => Plan {
            reason: ChangeReason::CardExpired,
            effective_at: end_of_day_vn(*last_valid_day),
            moves: moves(held, revoke_live),
            renewal: None,
        },
        Change::Replaced { new_card } => {
            if new_card.expires_on() >= vietnam_day(now) {
                let suspend = |h: &Held| (h.state == CredentialState::Valid).then_some(CredentialState::Suspended);
                let renew = held.iter().any(live);
                Plan {
                    reason: ChangeReason::CardReplaced,
                    effective_at: now,
                    moves: moves(held, suspend),
                    renewal: renew.then(|| new_card.clone()),
                }
            } else {
                Plan {
                    reason: ChangeReason::CardReplaced,
                    effective_at: now,
                    moves: moves(held, revoke_live),
                    renewal: None,
                }
            }
        }
        Change::Reinstated => {
            let lift = |h: &Held| {
                (h.state == CredentialState::Suspended && h.suspended_by_registry).then_some(CredentialState::Valid)
            };
            Plan { reason: ChangeReason::CardReinstated, effective_at: now, moves: moves(held, lift), renewal: None }
        }
    }
}

/// Once the renewal's credential is issued: every credential on the old card that is not revoked
/// yet is revoked (reason [`ChangeReason::CardReplaced`]).
pub fn after_renewal(held: &[Held]) -> Vec<Option<CredentialState>> {
    moves(held, |h| live(h).then_some(CredentialState::Revoked))
}

/// A move planned for later (an expiry's revocation at the end of the card's last valid day), when
/// its time comes: the planned state, unless the credential reached it already or was revoked
/// meanwhile (revocation is final).
pub fn deferred_move(planned: CredentialState, now: CredentialState) -> Option<CredentialState> {
    (now != planned && now != CredentialState::Revoked).then_some(planned)
}

// ---------------------------------------------------------------------------------------------------------
// What the holder is told

/// The Fluent ids of the renewal offer notice (subject, text; the text takes `$link` and `$date`).
pub const RENEWAL_OFFER_IDS: [&str; 2] = ["registry-renewal-offer-subject", "registry-renewal-offer"];

/// Every message id this module uses, for the locale tests.
pub fn message_ids() -> Vec<String> {
    ChangeReason::ALL
        .iter()
        .flat_map(|r| [r.subject_id(), r.notice_id()])
        .chain(RENEWAL_OFFER_IDS.iter().map(|s| (*s).to_owned()))
        .collect()
}

/// A notice to a holder: a subject line and a text saying what happened, what it means and what to
/// do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The e-mail subject.
    pub subject: String,
    /// The SMS and e-mail text.
    pub text: String,
}

/// The holder's notice for `reason` in `lang`. `date` is the day of the event (for an expiry, the
/// card's last valid day); `due` is the day a renewal will be decided by (replacements only).
pub fn notice(loc: &Localizer, lang: Lang, reason: ChangeReason, date: Date, due: Option<Date>) -> Notice {
    let mut args = FluentArgs::new();
    args.set("date", format_date(lang, date));
    args.set("due", format_date(lang, due.unwrap_or(date)));
    Notice {
        subject: loc.message(lang, &reason.subject_id(), Some(&args)),
        text: loc.message(lang, &reason.notice_id(), Some(&args)),
    }
}

/// The renewal offer notice: the link the wallet opens and the day the offer stops working.
pub fn renewal_offer_notice(loc: &Localizer, lang: Lang, link: &str, until: Date) -> Notice {
    let mut args = FluentArgs::new();
    args.set("link", link.to_owned());
    args.set("date", format_date(lang, until));
    Notice {
        subject: loc.message(lang, RENEWAL_OFFER_IDS[0], Some(&args)),
        text: loc.message(lang, RENEWAL_OFFER_IDS[1], Some(&args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use time::macros::{date, datetime};

    use CredentialState::*;

    fn card(n: &str) -> CardNumber {
        n.parse().unwrap()
    }

    fn change(c: Change) -> RegistryChange {
        RegistryChange::new(
            7,
            card("TRC0012345"),
            datetime!(2026-05-04 10:15 +07:00),
            "deportation".parse().unwrap(),
            c,
        )
        .unwrap()
    }

    fn new_card(expires_on: Date) -> ResidenceCard {
        ResidenceCard::new(card("TRC0099001"), ResidenceKind::Temporary, date!(2026 - 05 - 01), expires_on).unwrap()
    }

    const NOW: OffsetDateTime = datetime!(2026-05-04 11:00 +07:00);

    fn held(state: CredentialState) -> Held {
        Held::new(state)
    }

    fn by_registry(state: CredentialState) -> Held {
        Held { state, suspended_by_registry: true }
    }

    #[test]
    fn rule_table() {
        let all = [held(Valid), held(Suspended), by_registry(Suspended), held(Revoked)];
        type Want = (ChangeReason, Option<OffsetDateTime>, [Option<CredentialState>; 4], bool);
        let cases: Vec<(&str, Change, Want)> = vec![
            (
                "revoked: every live credential revoked now",
                Change::Revoked,
                (ChangeReason::CardRevoked, None, [Some(Revoked), Some(Revoked), Some(Revoked), None], false),
            ),
            (
                "expired yesterday: revoked, effective at the end of the last valid day (already past)",
                Change::Expired { last_valid_day: date!(2026 - 05 - 03) },
                (
                    ChangeReason::CardExpired,
                    Some(datetime!(2026-05-04 00:00 +07:00)),
                    [Some(Revoked), Some(Revoked), Some(Revoked), None],
                    false,
                ),
            ),
            (
                "expires today: revoked only once today ends in Vietnam",
                Change::Expired { last_valid_day: date!(2026 - 05 - 04) },
                (
                    ChangeReason::CardExpired,
                    Some(datetime!(2026-05-04 17:00 UTC)),
                    [Some(Revoked), Some(Revoked), Some(Revoked), None],
                    false,
                ),
            ),
            (
                "replaced by a valid card: valid ones suspended, a renewal offered",
                Change::Replaced { new_card: new_card(date!(2029 - 04 - 30)) },
                (ChangeReason::CardReplaced, None, [Some(Suspended), None, None, None], true),
            ),
            (
                "replaced by a card that expired already: revoked, no renewal",
                Change::Replaced { new_card: new_card(date!(2026 - 05 - 03)) },
                (ChangeReason::CardReplaced, None, [Some(Revoked), Some(Revoked), Some(Revoked), None], false),
            ),
            (
                "reinstated: only what the registry suspended comes back",
                Change::Reinstated,
                (ChangeReason::CardReinstated, None, [None, None, Some(Valid), None], false),
            ),
        ];
        for (name, c, (reason, effective, want, renewal)) in cases {
            let p = plan(&change(c), &all, NOW);
            assert_eq!(p.reason, reason, "{name}");
            assert_eq!(p.effective_at, effective.unwrap_or(NOW), "{name}");
            assert_eq!(p.moves, want.to_vec(), "{name}");
            assert_eq!(p.renewal.is_some(), renewal, "{name}");
        }
    }

    #[test]
    fn expiry_is_due_exactly_when_the_last_day_ends_in_vietnam() {
        let p = plan(&change(Change::Expired { last_valid_day: date!(2026 - 05 - 04) }), &[held(Valid)], NOW);
        assert!(!p.is_due(datetime!(2026-05-04 23:59:59 +07:00)));
        assert!(p.is_due(datetime!(2026-05-05 00:00 +07:00)));
        assert!(p.is_due(datetime!(2026-05-04 17:00 UTC)));
        assert_eq!(end_of_day_vn(date!(2026 - 12 - 31)), datetime!(2027-01-01 00:00 +07:00));
        assert_eq!(vietnam_day(datetime!(2026-05-04 18:00 UTC)), date!(2026 - 05 - 05));
    }

    #[test]
    fn nothing_to_do_on_a_card_without_credentials_or_with_revoked_ones_only() {
        for c in [Change::Revoked, Change::Reinstated, Change::Replaced { new_card: new_card(date!(2029 - 04 - 30)) }] {
            let p = plan(&change(c.clone()), &[], NOW);
            assert!(!p.moves_any() && p.renewal.is_none(), "{c:?}");
            let p = plan(&change(c.clone()), &[held(Revoked)], NOW);
            assert!(!p.moves_any() && p.renewal.is_none(), "{c:?}");
        }
        // A replacement with a credential already suspended (say by an admin) still renews.
        let p = plan(&change(Change::Replaced { new_card: new_card(date!(2029 - 04 - 30)) }), &[held(Suspended)], NOW);
        assert!(!p.moves_any() && p.renewal.is_some());
    }

    #[test]
    fn after_the_renewal_the_old_credentials_are_revoked() {
        assert_eq!(
            after_renewal(&[held(Valid), by_registry(Suspended), held(Revoked)]),
            vec![Some(Revoked), Some(Revoked), None]
        );
    }

    #[test]
    fn a_deferred_move_never_undoes_a_revocation() {
        assert_eq!(deferred_move(Revoked, Valid), Some(Revoked));
        assert_eq!(deferred_move(Revoked, Suspended), Some(Revoked));
        assert_eq!(deferred_move(Revoked, Revoked), None);
        assert_eq!(deferred_move(Valid, Revoked), None);
    }

    #[test]
    fn change_lines_parse_or_say_why() {
        let good = [
            r#"{"seq":1,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00+07:00","reason":"deportation"}"#,
            r#"{"seq":2,"card":"TRC0012345","event":"expired","at":"2026-05-04T10:15:00Z","reason":"expiry","last_valid_day":"2026-05-31"}"#,
            r#"{"seq":5,"card":"TRC0023456","event":"replaced","at":"2026-05-04T10:15:00+07:00","reason":"renewal","new_card":{"number":"TRC0099001","kind":"permanent","issued_on":"2026-05-01","expires_on":"2036-04-30"}}"#,
            r#"{"seq":9,"card":"TRC0023456","event":"reinstated","at":"2026-05-04T10:15:00+07:00","reason":"decision_annulled"}"#,
        ];
        let all = parse_change_log(&good.join("\n\n")).unwrap();
        assert_eq!(all.iter().map(|c| c.seq()).collect::<Vec<_>>(), vec![1, 2, 5, 9]);
        assert_eq!(all.iter().map(|c| c.event()).collect::<Vec<_>>(), CardEvent::ALL.to_vec());
        assert_eq!(all[1].change(), &Change::Expired { last_valid_day: date!(2026 - 05 - 31) });
        let Change::Replaced { new_card } = all[2].change() else { panic!() };
        assert_eq!((new_card.number().as_str(), new_card.kind()), ("TRC0099001", ResidenceKind::Permanent));
        assert_eq!(all[0].reason().as_str(), "deportation");
        assert!(!format!("{:?}", all[0]).contains("TRC0012345"), "no card number in Debug");

        let bad = [
            (r#"{"seq":0,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x"}"#, "seq must"),
            (
                r#"{"seq":9223372036854775808,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x"}"#,
                "seq must",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"revoked","at":"2026-05-04","reason":"x"}"#,
                "could not be parsed",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"lost","at":"2026-05-04T10:15:00Z","reason":"x"}"#,
                "unknown variant `lost`",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"Bad Code"}"#,
                "snake_case",
            ),
            (
                r#"{"seq":1,"card":"T","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x"}"#,
                "card_number_invalid",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"expired","at":"2026-05-04T10:15:00Z","reason":"x"}"#,
                "last_valid_day",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"replaced","at":"2026-05-04T10:15:00Z","reason":"x"}"#,
                "new_card",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x","last_valid_day":"2026-05-31"}"#,
                "takes no",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"replaced","at":"2026-05-04T10:15:00Z","reason":"x","new_card":{"number":"TRC0012345","kind":"temporary","issued_on":"2026-05-01","expires_on":"2029-01-01"}}"#,
                "another number",
            ),
            (
                r#"{"seq":1,"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x","extra":1}"#,
                "unknown field",
            ),
        ];
        for (line, why) in bad {
            let e = RegistryChange::from_json_line(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
        // A value in the wrong place is not repeated in the error (it may be a card number).
        let e = RegistryChange::from_json_line(r#"{"seq":"TRC0012345","card":"TRC0012345"}"#).unwrap_err();
        assert!(!e.contains("TRC0012345") && e.contains("invalid type"), "{e}");
        match parse_change_log(&format!("{}\n{}", good[2], good[0])) {
            Err(Error::ChangeLine { line: 2, message }) => assert!(message.contains("seq 1 after 5"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_file_is_tailed_line_by_line_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.jsonl");
        let log = ChangeLogFile::new(&path);
        assert!(log.changes_after(0, 10).unwrap().is_empty(), "no file yet: an empty feed");
        let line = |seq: u64| {
            format!(r#"{{"seq":{seq},"card":"TRC0012345","event":"revoked","at":"2026-05-04T10:15:00Z","reason":"x"}}"#)
        };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        writeln!(f, "{}\n{}", line(1), line(3)).unwrap();
        write!(f, "{}", &line(4)[..20]).unwrap();
        assert_eq!(log.changes_after(0, 10).unwrap().len(), 2);
        assert_eq!(log.backlog(1), 1);
        writeln!(f, "{}", &line(4)[20..]).unwrap();
        let after_1: Vec<u64> = log.changes_after(1, 10).unwrap().iter().map(RegistryChange::seq).collect();
        assert_eq!(after_1, vec![3, 4]);
        assert_eq!(log.changes_after(0, 1).unwrap().len(), 1);
        // A bad line stops the feed there, with its number, until it is corrected: what comes
        // before it first, then the error.
        writeln!(f, "not json\n{}", line(5)).unwrap();
        assert_eq!(log.changes_after(3, 10).unwrap().len(), 1);
        match log.changes_after(4, 10) {
            Err(Error::ChangeLine { line: 4, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(log.backlog(0), 3);
        // Rewritten (shorter): read again from the start.
        std::fs::write(&path, format!("{}\n{}\n", line(1), line(5))).unwrap();
        let all: Vec<u64> = log.changes_after(0, 10).unwrap().iter().map(RegistryChange::seq).collect();
        assert_eq!(all, vec![1, 5]);
    }

    /// The holder's notice for every reason in every language: the exact texts.
    #[test]
    fn notices_in_four_languages() {
        let loc = Localizer::new().unwrap();
        let (day, due) = (date!(2026 - 05 - 04), Some(date!(2026 - 05 - 07)));
        let want: [(ChangeReason, Lang, &str, &str); 16] = [
            (
                ChangeReason::CardRevoked,
                Lang::Vi,
                "Định danh điện tử mức độ 2 của bạn đã bị thu hồi",
                "Ngày 04/05/2026, cơ quan quản lý xuất nhập cảnh đã thu hồi thẻ tạm trú/thường trú của bạn. Định danh điện tử mức độ 2 của bạn gắn với thẻ này nên cũng đã bị thu hồi: chủ nhà, ngân hàng và các cơ quan sẽ không chấp nhận nữa. Nếu bạn cho rằng có nhầm lẫn, vui lòng liên hệ cơ quan quản lý xuất nhập cảnh. Khi có lại thẻ còn hiệu lực, bạn có thể đề nghị cấp định danh điện tử mới tại điểm tiếp nhận.",
            ),
            (
                ChangeReason::CardRevoked,
                Lang::En,
                "Your level-2 e-ID has been revoked",
                "On 4 May 2026 the immigration authority revoked your residence card. Your level-2 electronic identity rested on that card, so it has been revoked too: landlords, banks and offices will no longer accept it. If you think this is a mistake, contact the immigration authority. Once you hold a valid residence card again, you can apply for a new electronic identity at a reception point.",
            ),
            (
                ChangeReason::CardRevoked,
                Lang::ZhCn,
                "您的二级电子身份已被吊销",
                "出入境管理机关已于2026年5月4日吊销您的居留卡。您的二级电子身份以该卡为依据，因此也已被吊销：房东、银行和各机关将不再接受。如您认为有误，请联系出入境管理机关。重新持有有效居留卡后，您可以到受理点申请新的电子身份。",
            ),
            (
                ChangeReason::CardRevoked,
                Lang::Ko,
                "2단계 전자신분증이 취소되었습니다",
                "출입국 관리 당국이 2026년 5월 4일에 귀하의 거주증을 취소했습니다. 귀하의 2단계 전자신분증은 이 거주증에 근거하므로 함께 취소되었으며, 집주인, 은행, 관공서는 더 이상 이를 인정하지 않습니다. 착오라고 생각되면 출입국 관리 당국에 문의해 주세요. 유효한 거주증을 다시 받으면 접수처에서 새 전자신분증을 신청할 수 있습니다.",
            ),
            (
                ChangeReason::CardExpired,
                Lang::Vi,
                "Định danh điện tử mức độ 2 của bạn đã hết hiệu lực cùng thẻ cư trú",
                "Thẻ tạm trú/thường trú của bạn có giá trị đến hết ngày 04/05/2026. Định danh điện tử mức độ 2 của bạn gắn với thẻ này nên bị thu hồi kể từ khi hết ngày đó: chủ nhà, ngân hàng và các cơ quan sẽ không chấp nhận nữa. Vui lòng làm thủ tục gia hạn hoặc cấp mới thẻ tại cơ quan quản lý xuất nhập cảnh; khi có thẻ mới, hãy đề nghị cấp định danh điện tử mới tại điểm tiếp nhận.",
            ),
            (
                ChangeReason::CardExpired,
                Lang::En,
                "Your level-2 e-ID has ended with your residence card",
                "Your residence card was valid until the end of 4 May 2026. Your level-2 electronic identity rested on that card, so it is revoked from then on: landlords, banks and offices will no longer accept it. Renew your residence card with the immigration authority; with the new card, apply for a new electronic identity at a reception point.",
            ),
            (
                ChangeReason::CardExpired,
                Lang::ZhCn,
                "您的二级电子身份已随居留卡到期而失效",
                "您的居留卡有效期至2026年5月4日当天结束。您的二级电子身份以该卡为依据，因此自该日结束时起被吊销：房东、银行和各机关将不再接受。请到出入境管理机关办理居留卡续期或换发；取得新卡后，请到受理点申请新的电子身份。",
            ),
            (
                ChangeReason::CardExpired,
                Lang::Ko,
                "거주증 만료로 2단계 전자신분증이 종료되었습니다",
                "귀하의 거주증은 2026년 5월 4일까지 유효했습니다. 귀하의 2단계 전자신분증은 이 거주증에 근거하므로 그날이 끝나는 시점부터 취소되며, 집주인, 은행, 관공서는 더 이상 이를 인정하지 않습니다. 출입국 관리 당국에서 거주증을 갱신하고, 새 거주증으로 접수처에서 새 전자신분증을 신청해 주세요.",
            ),
            (
                ChangeReason::CardReplaced,
                Lang::Vi,
                "Định danh điện tử mức độ 2 của bạn tạm dừng cho đến khi được cấp lại",
                "Ngày 04/05/2026, cơ quan quản lý xuất nhập cảnh đã cấp cho bạn thẻ tạm trú/thường trú mới thay cho thẻ cũ. Định danh điện tử mức độ 2 hiện tại ghi thẻ cũ nên tạm dừng cho đến khi bạn nhận được định danh cấp lại; bạn không cần nộp hồ sơ mới hay lấy lại vân tay. Điểm tiếp nhận sẽ giải quyết việc cấp lại chậm nhất vào ngày 07/05/2026; sau đó bạn sẽ nhận được tin nhắn kèm mã để nhận định danh vào ứng dụng ví. Định danh hiện tại sẽ hết hiệu lực hẳn khi định danh cấp lại đã có trong ví của bạn.",
            ),
            (
                ChangeReason::CardReplaced,
                Lang::En,
                "Your level-2 e-ID is suspended until it is renewed",
                "On 4 May 2026 the immigration authority issued you a new residence card, replacing the old one. Your level-2 electronic identity names the old card, so it is suspended until you receive a renewed one; you do not need to apply again or give your fingerprints again. The reception point will decide on the renewal by 7 May 2026; you will then get a text message with a code to receive it in your wallet app. Your current electronic identity stops working for good once the renewed one is in your wallet.",
            ),
            (
                ChangeReason::CardReplaced,
                Lang::ZhCn,
                "您的二级电子身份已暂停，待换发后恢复",
                "出入境管理机关已于2026年5月4日为您换发新的居留卡，取代旧卡。您的二级电子身份记载的是旧卡，因此在您领取换发的电子身份之前暂停使用；您无需重新申请，也无需再次采集指纹。受理点最迟将于2026年5月7日对换发作出决定，届时您会收到一条附有交易码的短信，用于在钱包应用中领取。换发的电子身份存入钱包后，现有电子身份即永久失效。",
            ),
            (
                ChangeReason::CardReplaced,
                Lang::Ko,
                "2단계 전자신분증이 재발급 전까지 정지되었습니다",
                "출입국 관리 당국이 2026년 5월 4일에 기존 거주증을 대체하는 새 거주증을 발급했습니다. 현재의 2단계 전자신분증에는 기존 거주증이 기재되어 있으므로 재발급된 전자신분증을 받을 때까지 정지됩니다. 다시 신청하거나 지문을 다시 등록할 필요는 없습니다. 접수처가 늦어도 2026년 5월 7일까지 재발급을 결정하며, 그러면 지갑 앱에서 받을 수 있도록 코드가 담긴 문자 메시지를 보내 드립니다. 재발급된 전자신분증이 지갑에 들어오면 현재 전자신분증은 영구히 사용할 수 없게 됩니다.",
            ),
            (
                ChangeReason::CardReinstated,
                Lang::Vi,
                "Định danh điện tử mức độ 2 của bạn đã có hiệu lực trở lại",
                "Ngày 04/05/2026, cơ quan quản lý xuất nhập cảnh đã khôi phục hiệu lực thẻ tạm trú/thường trú của bạn. Định danh điện tử mức độ 2 của bạn đã có hiệu lực trở lại; bạn không cần làm gì thêm. Chủ nhà, ngân hàng và các cơ quan sẽ thấy thay đổi này khi ứng dụng của họ cập nhật, trong vòng một ngày.",
            ),
            (
                ChangeReason::CardReinstated,
                Lang::En,
                "Your level-2 e-ID is valid again",
                "On 4 May 2026 the immigration authority reinstated your residence card. Your level-2 electronic identity is valid again; you do not need to do anything. Landlords, banks and offices see the change when their app next updates, within a day.",
            ),
            (
                ChangeReason::CardReinstated,
                Lang::ZhCn,
                "您的二级电子身份已恢复有效",
                "出入境管理机关已于2026年5月4日恢复您的居留卡效力。您的二级电子身份已恢复有效，您无需做任何事。房东、银行和各机关的应用下次更新时（一天之内）即可看到这一变化。",
            ),
            (
                ChangeReason::CardReinstated,
                Lang::Ko,
                "2단계 전자신분증이 다시 유효합니다",
                "출입국 관리 당국이 2026년 5월 4일에 귀하의 거주증 효력을 회복했습니다. 귀하의 2단계 전자신분증은 다시 유효하며, 따로 하실 일은 없습니다. 집주인, 은행, 관공서의 앱이 다음에 업데이트될 때(하루 이내) 변경 사항이 반영됩니다.",
            ),
        ];
        for (reason, lang, subject, text) in want {
            let n = notice(&loc, lang, reason, day, due);
            assert_eq!(n.subject, subject, "{reason} {lang}");
            assert_eq!(n.text, text, "{reason} {lang}");
        }
        // Every reason has its own words in every language.
        for reason in ChangeReason::ALL {
            let texts: std::collections::BTreeSet<String> =
                Lang::ALL.iter().map(|l| notice(&loc, *l, reason, day, due).text).collect();
            assert_eq!(texts.len(), 4, "{reason}");
        }
        let offer = renewal_offer_notice(&loc, Lang::En, "openid-credential-offer://?x=1", date!(2026 - 05 - 11));
        assert_eq!(offer.subject, "Your renewed level-2 e-ID is ready");
        assert_eq!(
            offer.text,
            "Your renewed electronic identity, for your new residence card, is ready. Open this link on your phone with your wallet app: openid-credential-offer://?x=1 — the wallet asks for the transaction code sent to you in a separate message. The offer works until 11 May 2026."
        );
        for lang in Lang::ALL {
            let n = renewal_offer_notice(&loc, lang, "openid-credential-offer://?x=1", date!(2026 - 05 - 11));
            assert!(n.text.contains("openid-credential-offer://?x=1") && n.text.contains("2026"), "{lang}: {}", n.text);
        }
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in ChangeReason::ALL {
            assert_eq!(r.code().parse::<ChangeReason>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
        assert_eq!(ChangeReason::CardReplaced.notice_id(), "registry-notice-card-replaced");
    }
}
