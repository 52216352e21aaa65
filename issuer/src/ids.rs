//! Record ids: 128 bits as 32 lowercase hex characters. Parsed once at the edge (a path segment
//! that is not an id is a 404 before any storage is touched), then carried as types so an
//! application id cannot be passed where a credential id is expected.
//!
//! New ids are **time-ordered**: 48 bits of milliseconds, then 80 random bits (as UUIDv7). Ids
//! made close in time sort next to each other, so the B-tree pages a group commit touches are a
//! few recent ones instead of one random page per record (see BENCHMARKS.md). The time is the
//! machine's, used for ordering only; no rule reads it back. 80 random bits keep ids unguessable,
//! and every record is authorized on access anyway.

use std::fmt;
use std::str::FromStr;

use rand_core::{OsRng, RngCore};

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh id: time-ordered, 80 random bits.
            pub fn generate() -> Self {
                let mut b = [0u8; 16];
                OsRng.fill_bytes(&mut b[6..]);
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
                Self(hex::encode(b))
            }
            /// The 32 hex characters.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidId)
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|_| serde::de::Error::custom(concat!("not a ", stringify!($name))))
            }
        }
    };
}

/// Not 32 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a record id")]
pub struct InvalidId;

hex_id!(
    /// A TK01 application.
    ApplicationId
);
hex_id!(
    /// An issued credential batch (the SD-JWT VC and its QR forms share it).
    CredentialId
);
hex_id!(
    /// A staff token (not the secret: the id names it in lists and the audit log).
    TokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_sort_by_time_and_differ() {
        let a = ApplicationId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ApplicationId::generate();
        assert!(a < b, "{a} then {b}");
        assert_ne!(ApplicationId::generate(), ApplicationId::generate());
    }

    #[test]
    fn ids_parse_only_lowercase_hex_of_32() {
        let id = ApplicationId::generate();
        assert_eq!(id.as_str().parse::<ApplicationId>().unwrap(), id);
        for bad in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"a".repeat(33)] {
            assert!(bad.parse::<ApplicationId>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ApplicationId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CredentialId>("\"x\"").is_err());
    }
}
