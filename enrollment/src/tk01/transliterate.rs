//! ICAO Doc 9303 part 3 (section 6) transliteration of Latin-script names into the MRZ alphabet.

/// Transliterates a name written in Latin script into ICAO 9303 form: uppercase `A`–`Z` separated by
/// single spaces.
///
/// * Vietnamese letters lose their tone and vowel marks (`Nguyễn Thị` → `NGUYEN THI`), `Đ`/`đ` → `D`.
/// * Latin-1 and Latin Extended-A letters follow the ICAO table: `Ä`→`AE`, `Å`→`AA`, `Æ`→`AE`,
///   `Ö`→`OE`, `Ø`→`OE`, `Ü`→`UE`, `ß`→`SS`, `Þ`→`TH`, `Œ`→`OE`, `Ĳ`→`IJ`, `Ñ`→`N`, other accented
///   letters → their base letter.
/// * Combining marks (names typed in decomposed form) are dropped; hyphens and commas become spaces
///   (`Min-jun` → `MIN JUN`, as the MRZ filler does); apostrophes and periods are dropped
///   (`O'Brien` → `OBRIEN`).
/// * Anything else — Hangul, Han characters, kana, Cyrillic, digits — yields `None`: the applicant must
///   give the Latin name as printed in the passport, because those scripts need a national
///   romanization table, not a character map.
///
/// Returns `None` as well when nothing is left (an empty or punctuation-only input).
pub fn icao_transliterate(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match map_char(c)? {
            Mapped::Letters(s) => out.push_str(s),
            Mapped::Letter(l) => out.push(l),
            Mapped::Separator => out.push(' '),
            Mapped::Drop => {}
        }
    }
    let joined = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

enum Mapped {
    Letter(char),
    Letters(&'static str),
    Separator,
    Drop,
}

fn map_char(c: char) -> Option<Mapped> {
    use Mapped::{Drop, Letter, Letters, Separator};
    let m = match c {
        'A'..='Z' => Letter(c),
        'a'..='z' => Letter(c.to_ascii_uppercase()),
        ' ' | '\u{a0}' | '-' | '\u{2010}' | '\u{2011}' | ',' => Separator,
        '\'' | '\u{2019}' | '\u{2018}' | '`' | '.' => Drop,
        // Combining diacritical marks: a decomposed "é" is "e" + U+0301.
        '\u{300}'..='\u{36f}' => Drop,
        // Latin-1 Supplement.
        'À'..='Ã' | 'à'..='ã' => Letter('A'),
        'Ä' | 'ä' | 'Æ' | 'æ' => Letters("AE"),
        'Å' | 'å' => Letters("AA"),
        'Ç' | 'ç' => Letter('C'),
        'È'..='Ë' | 'è'..='ë' => Letter('E'),
        'Ì'..='Ï' | 'ì'..='ï' => Letter('I'),
        'Ð' | 'ð' => Letter('D'),
        'Ñ' | 'ñ' => Letter('N'),
        'Ò'..='Õ' | 'ò'..='õ' => Letter('O'),
        'Ö' | 'ö' | 'Ø' | 'ø' => Letters("OE"),
        'Ù'..='Û' | 'ù'..='û' => Letter('U'),
        'Ü' | 'ü' => Letters("UE"),
        'Ý' | 'ý' | 'ÿ' => Letter('Y'),
        'Þ' | 'þ' => Letters("TH"),
        'ß' => Letters("SS"),
        // Latin Extended-A (U+0100–U+017F), by base letter.
        '\u{100}'..='\u{105}' => Letter('A'),
        '\u{106}'..='\u{10d}' => Letter('C'),
        '\u{10e}'..='\u{111}' => Letter('D'), // includes Đ đ
        '\u{112}'..='\u{11b}' => Letter('E'),
        '\u{11c}'..='\u{123}' => Letter('G'),
        '\u{124}'..='\u{127}' => Letter('H'),
        '\u{128}'..='\u{131}' => Letter('I'),
        '\u{132}'..='\u{133}' => Letters("IJ"),
        '\u{134}'..='\u{135}' => Letter('J'),
        '\u{136}'..='\u{138}' => Letter('K'),
        '\u{139}'..='\u{142}' => Letter('L'),
        '\u{143}'..='\u{14b}' => Letter('N'),
        '\u{14c}'..='\u{151}' => Letter('O'),
        '\u{152}'..='\u{153}' => Letters("OE"),
        '\u{154}'..='\u{159}' => Letter('R'),
        '\u{15a}'..='\u{161}' => Letter('S'),
        '\u{162}'..='\u{167}' => Letter('T'),
        '\u{168}'..='\u{173}' => Letter('U'),
        '\u{174}'..='\u{175}' => Letter('W'),
        '\u{176}'..='\u{178}' => Letter('Y'),
        '\u{179}'..='\u{17e}' => Letter('Z'),
        '\u{17f}' => Letter('S'),
        // Latin Extended-B: Vietnamese horned vowels, Romanian comma-below letters.
        'Ơ' | 'ơ' => Letter('O'),
        'Ư' | 'ư' => Letter('U'),
        'Ș' | 'ș' => Letter('S'),
        'Ț' | 'ț' => Letter('T'),
        // Latin Extended Additional: the precomposed Vietnamese letters with tone marks.
        '\u{1ea0}'..='\u{1eb7}' => Letter('A'),
        '\u{1eb8}'..='\u{1ec7}' => Letter('E'),
        '\u{1ec8}'..='\u{1ecb}' => Letter('I'),
        '\u{1ecc}'..='\u{1ee3}' => Letter('O'),
        '\u{1ee4}'..='\u{1ef1}' => Letter('U'),
        '\u{1ef2}'..='\u{1ef9}' => Letter('Y'),
        _ => return None,
    };
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::icao_transliterate;

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Kim Min-jun", Some("KIM MIN JUN")),
            ("Nguyễn Thị Mai Anh", Some("NGUYEN THI MAI ANH")),
            ("Đặng Đức Đạt", Some("DANG DUC DAT")),
            ("Trương Ngọc Ánh", Some("TRUONG NGOC ANH")),
            ("Phạm Thuỳ Dương", Some("PHAM THUY DUONG")),
            ("Lê Hữu Ước", Some("LE HUU UOC")),
            ("Hồ Sỹ Kỷ", Some("HO SY KY")),
            ("Thomas Müller", Some("THOMAS MUELLER")),
            ("Jürgen Großmann", Some("JUERGEN GROSSMANN")),
            ("Åsa Ødegård", Some("AASA OEDEGAARD")),
            ("Ægir Björk", Some("AEGIR BJOERK")),
            ("José Muñoz", Some("JOSE MUNOZ")),
            ("François Lefèvre-Dubois", Some("FRANCOIS LEFEVRE DUBOIS")),
            ("Seán O'Brien", Some("SEAN OBRIEN")),
            ("Łukasz Żółć", Some("LUKASZ ZOLC")),
            ("Þórður Ðiðriksson", Some("THORDUR DIDRIKSSON")),
            ("Čapek Dvořák", Some("CAPEK DVORAK")),
            ("Ștefan Țepeș", Some("STEFAN TEPES")),
            ("Œdipe Ĳsbrand", Some("OEDIPE IJSBRAND")),
            // Decomposed input: "Nguye" + circumflex + tilde + "n".
            ("Nguye\u{302}\u{303}n", Some("NGUYEN")),
            ("  mary   ann  smith ", Some("MARY ANN SMITH")),
            ("김민준", None),
            ("王小明", None),
            ("山田 太郎", None),
            ("Иван Петров", None),
            ("John Smith 3rd", None),
            ("", None),
            (" - ' ", None),
        ];
        for (input, want) in cases {
            assert_eq!(icao_transliterate(input).as_deref(), *want, "input {input:?}");
        }
    }

    #[test]
    fn every_vietnamese_letter_maps_to_a_base_letter() {
        let vowels = "aăâeêioôơuưy";
        let tones = ["", "\u{300}", "\u{301}", "\u{303}", "\u{309}", "\u{323}"];
        // Precomposed Vietnamese letters, upper and lower case, as they appear in real text.
        let precomposed = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ\
                           àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ";
        for c in precomposed.chars() {
            let t = icao_transliterate(&c.to_string());
            assert!(
                matches!(t.as_deref(), Some(s) if s.len() == 1 && s.bytes().all(|b| b.is_ascii_uppercase())),
                "{c} -> {t:?}"
            );
        }
        for v in vowels.chars() {
            for t in tones {
                let s = format!("{v}{t}");
                assert!(icao_transliterate(&s).is_some(), "{s}");
            }
        }
    }
}
