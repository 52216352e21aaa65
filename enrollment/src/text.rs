//! Free text people type: what it may not hold.
//!
//! Unicode *format* characters (general category Cf: bidirectional controls such as the
//! right-to-left override U+202E and the isolates U+2066–U+2069, zero-width spaces and joiners,
//! the word joiner, the byte-order mark, tag characters…) and the line and paragraph separators
//! (Zl, Zp) do not show, but they change how the text around them is displayed: a name with a
//! right-to-left override reads backwards in a verifier's app, and a zero-width space makes two
//! different strings look the same. Such text would end up signed in credentials and shown by
//! every verifier, so it is refused where it enters, with [`crate::Reason::FormatCharacters`],
//! rather than escaped by each verifier app afterwards (each would have to get it right, and a
//! signed credential cannot be corrected). No name, address or e-mail address needs them: the
//! scripts applicants write (Latin with Vietnamese diacritics, Han, Hangul, Cyrillic, Thai…) are
//! written without format characters.

/// Whether `c` is a Unicode format character (category Cf, Unicode 15.1) or a line or
/// paragraph separator (Zl, Zp).
pub fn is_format_character(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Whether `s` holds any character [`is_format_character`] refuses.
pub fn has_format_characters(s: &str) -> bool {
    s.chars().any(is_format_character)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_zero_width_characters_are_format_characters() {
        for c in [
            '\u{202E}',
            '\u{202A}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{E0041}',
            '\u{AD}',
            '\u{61C}',
        ] {
            assert!(is_format_character(c), "{:04X}", c as u32);
        }
        for s in ["KIM MIN JUN", "김민준", "王芳", "Nguyễn Thị Ánh", "Số 12 Phố Liễu Giai", "Đặng O'Brien-Smith", "ไทย"]
        {
            assert!(!has_format_characters(s), "{s}");
        }
    }
}
