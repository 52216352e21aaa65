//! Boilerplate for string newtypes: parsed once through `FromStr`, read through `as_str`.

/// Declares the trait impls of a `struct $name(String)` whose only constructor is
/// `fn parse(&str) -> Result<String, Reason>` (the normalized text).
///
/// `redacted` types hold personal data: their `Debug` prints only the length.
macro_rules! string_newtype {
    ($name:ident, $parse:path, redacted) => {
        string_newtype!(@common $name, $parse);
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted, {} chars>)"), self.0.chars().count())
            }
        }
    };
    ($name:ident, $parse:path, public) => {
        string_newtype!(@common $name, $parse);
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }
    };
    (@common $name:ident, $parse:path) => {
        impl $name {
            /// The normalized text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::Reason;
            fn from_str(s: &str) -> Result<Self, $crate::Reason> {
                $parse(s).map($name)
            }
        }
        impl TryFrom<&str> for $name {
            type Error = $crate::Reason;
            fn try_from(s: &str) -> Result<Self, $crate::Reason> {
                s.parse()
            }
        }
        impl TryFrom<String> for $name {
            type Error = $crate::Reason;
            fn try_from(s: String) -> Result<Self, $crate::Reason> {
                s.parse()
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|r: $crate::Reason| serde::de::Error::custom(r.code()))
            }
        }
    };
}

pub(crate) use string_newtype;
