//! The stable reason codes.

use std::fmt;
use std::str::FromStr;

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// Why an input, an applicant or an officer action was refused.
        ///
        /// [`Reason::code`] is a stable snake_case string: the issuer sends it in 4xx bodies and clients
        /// may match on it, so a code is never renamed, only added. Every code has a message in every
        /// language (see [`crate::i18n`]; a test enforces it).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in declaration order (the order [`crate::eligibility::check`] reports in).
            pub const ALL: &'static [Reason] = &[ $( Reason::$variant, )* ];

            /// The stable snake_case code.
            pub const fn code(self) -> &'static str {
                match self { $( Reason::$variant => $code, )* }
            }
        }
    };
}

reasons! {
    // --- the form as a whole
    /// The body is not a JSON object.
    JsonInvalid => "json_invalid",
    /// A required field is absent, `null` or blank.
    FieldMissing => "field_missing",
    /// A field the form does not have (often a misspelt name).
    FieldUnknown => "field_unknown",
    /// A field has the wrong JSON type (for example a number where text is expected).
    FieldTypeInvalid => "field_type_invalid",
    // --- single fields
    /// A name is empty, too long, holds digits or control characters, or (for the Latin name) cannot be
    /// written in ICAO 9303 Latin letters.
    NameInvalid => "name_invalid",
    /// `sex` is not `M`, `F` or `X`.
    SexInvalid => "sex_invalid",
    /// A date is not a real `YYYY-MM-DD` date, or is out of order (card expiring before it was issued).
    DateInvalid => "date_invalid",
    /// Not an ISO 3166-1 alpha-3 code, or `VNM` (this service is for foreigners).
    NationalityInvalid => "nationality_invalid",
    /// Passport number not 5–20 letters A–Z and digits.
    PassportNumberInvalid => "passport_number_invalid",
    /// Residence card number not 6–20 letters and digits.
    CardNumberInvalid => "card_number_invalid",
    /// Residence card kind is not `temporary` or `permanent`.
    ResidenceKindInvalid => "residence_kind_invalid",
    /// Address empty or longer than 300 characters.
    AddressInvalid => "address_invalid",
    /// Not a Vietnamese mobile number.
    PhoneInvalid => "phone_invalid",
    /// Not a usable email address.
    EmailInvalid => "email_invalid",
    /// Reception point id is not of the form `hn-ba-dinh-police`.
    ReceptionPointInvalid => "reception_point_invalid",
    /// Guardian's identity document number is not 5–20 letters and digits.
    GuardianIdInvalid => "guardian_id_invalid",
    /// Guardian relationship is not `parent` or `legal_guardian`.
    RelationshipInvalid => "relationship_invalid",
    /// A text field holds an invisible formatting character: a bidirectional control (such as
    /// the right-to-left override U+202E), a zero-width character, a line or paragraph
    /// separator, or another Unicode format character ([`crate::text::has_format_characters`]).
    FormatCharacters => "format_characters",
    // --- eligibility
    /// The applicant is younger than 6.
    ApplicantUnder6 => "applicant_under_6",
    /// The applicant is 6 to 13 years old and no guardian was given.
    GuardianRequired => "guardian_required",
    /// The residence card expired before today.
    ResidenceCardExpired => "residence_card_expired",
    /// The residence card's issue date is after today.
    ResidenceCardNotYetValid => "residence_card_not_yet_valid",
    /// The person already holds an active level-2 credential.
    AlreadyHoldsCredential => "already_holds_credential",
    // --- national registry check
    /// No person with this residence card or passport in the registries.
    PersonNotFound => "person_not_found",
    /// The person is known but this residence card number is not.
    CardNotFound => "card_not_found",
    /// The registry marks the residence card as revoked.
    CardRevoked => "card_revoked",
    /// The registry marks the residence card as expired, or its expiry date has passed.
    CardExpired => "card_expired",
    /// The Latin name differs from the registry's.
    NameMismatch => "name_mismatch",
    /// The date of birth differs from the registry's.
    DateOfBirthMismatch => "date_of_birth_mismatch",
    /// The nationality differs from the registry's.
    NationalityMismatch => "nationality_mismatch",
    /// The passport number differs from the registry's.
    PassportMismatch => "passport_mismatch",
    /// Temporary/permanent differs from the registry's.
    CardKindMismatch => "card_kind_mismatch",
    // --- biometrics
    /// The upload is not an accepted image or fingerprint record format.
    BiometricTypeInvalid => "biometric_type_invalid",
    /// The upload is larger than allowed.
    BiometricTooLarge => "biometric_too_large",
    /// The upload is smaller than allowed (almost certainly not a usable capture).
    BiometricTooSmall => "biometric_too_small",
    /// The capture station's quality score is not within 0–100.
    BiometricQualityInvalid => "biometric_quality_invalid",
    /// Finger position is not 1–10 (ISO/IEC 19794-4).
    FingerprintPositionInvalid => "fingerprint_position_invalid",
    /// Two fingerprints were given for the same finger.
    FingerprintPositionDuplicate => "fingerprint_position_duplicate",
    /// No fingerprint was given.
    FingerprintsMissing => "fingerprints_missing",
    // --- workflow
    /// The step needs an earlier step first (e.g. approving before the data check).
    ApplicationNotReady => "application_not_ready",
    /// The application was already rejected or issued; nothing more can happen to it.
    ApplicationClosed => "application_closed",
    /// The step was already done (or the application is past it).
    StepAlreadyDone => "step_already_done",
    /// The action's time is before the application's last recorded change.
    EventTimeInvalid => "event_time_invalid",
    /// The officer id is not 1–64 characters `A–Z a–z 0–9 . _ -`.
    ActorInvalid => "actor_invalid",
}

impl Reason {
    /// The Fluent message id for this reason: `reason-` followed by the code with `-` for `_`.
    pub fn message_id(self) -> String {
        format!("reason-{}", self.code().replace('_', "-"))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Reason {}

impl FromStr for Reason {
    type Err = Reason;

    /// Parses a code back; an unknown code yields [`Reason::FieldUnknown`] as the error.
    fn from_str(s: &str) -> Result<Self, Reason> {
        Reason::ALL.iter().copied().find(|r| r.code() == s).ok_or(Reason::FieldUnknown)
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(|_| serde::de::Error::custom("unknown reason code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for r in Reason::ALL {
            let code = r.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{code} is not snake_case"
            );
            assert_eq!(code.parse::<Reason>(), Ok(*r));
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), *r);
        }
    }

    #[test]
    fn message_ids_use_hyphens() {
        assert_eq!(Reason::ApplicantUnder6.message_id(), "reason-applicant-under-6");
    }
}
