//! Drawing the QR code: PNG, SVG, and Unicode half blocks for a terminal.
//!
//! The text is `VN1:` plus base45, all within the QR alphanumeric set, so it is encoded as one
//! alphanumeric segment (5.5 bits a character; byte mode would cost 8) at error correction M,
//! in the smallest version that holds it. We build the bit stream ourselves
//! ([`qrcode::bits::Bits::push_alphanumeric_data`]) instead of letting `qrcode` optimize
//! segments, so the mode is known rather than hoped for: version 13 at M holds 483 such
//! characters, which is the budget `DESIGN.md` plans the landlord credential against.

use std::io::Cursor;

use qrcode::bits::Bits;
use qrcode::render::{svg, unicode};
use qrcode::types::QrError;
use qrcode::{EcLevel, QrCode, Version};

use crate::{Error, Result};

/// PNG pixels per module: large enough for a phone camera at arm's length.
pub const PNG_MODULE_PX: u32 = 8;
/// SVG units per module.
const SVG_MODULE: u32 = 8;
const MAX_VERSION: i16 = 40;

/// The QR alphanumeric set (ISO/IEC 18004 table 5), which contains the base45 alphabet.
fn is_alphanumeric(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'A'..=b'Z' | b' ' | b'$' | b'%' | b'*' | b'+' | b'-' | b'.' | b'/' | b':')
}

/// A QR code at error correction M in alphanumeric mode.
pub struct Qr {
    code: QrCode,
    version: i16,
}

impl core::fmt::Debug for Qr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Qr").field("version", &self.version).field("width", &self.code.width()).finish()
    }
}

impl Qr {
    /// The smallest QR code (version 1 to 40, level M) holding `text` as one alphanumeric
    /// segment.
    pub fn encode(text: &str) -> Result<Self> {
        if !text.bytes().all(is_alphanumeric) {
            return Err(Error::Qr("text has characters outside the QR alphanumeric set".into()));
        }
        for version in 1..=MAX_VERSION {
            let mut bits = Bits::new(Version::Normal(version));
            match bits.push_alphanumeric_data(text.as_bytes()).and_then(|()| bits.push_terminator(EcLevel::M)) {
                Ok(()) => {}
                Err(QrError::DataTooLong) => continue,
                Err(e) => return Err(Error::Qr(e.to_string())),
            }
            let code = QrCode::with_bits(bits, EcLevel::M).map_err(|e| Error::Qr(e.to_string()))?;
            return Ok(Self { code, version });
        }
        Err(Error::Qr(format!("{} characters do not fit in a version 40 QR code at level M", text.len())))
    }

    /// The QR version, 1 to 40.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// A grayscale PNG: black modules on white, 8 px a module, 4-module quiet zone.
    pub fn png(&self) -> Result<Vec<u8>> {
        let img = self
            .code
            .render::<image::Luma<u8>>()
            .module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX)
            .quiet_zone(true)
            .build();
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| Error::Qr(e.to_string()))?;
        Ok(out.into_inner())
    }

    /// An SVG document: black on white, 4-module quiet zone.
    pub fn svg(&self) -> String {
        self.code
            .render::<svg::Color<'_>>()
            .module_dimensions(SVG_MODULE, SVG_MODULE)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build()
    }

    /// Unicode half blocks, two modules per character cell, with the quiet zone. Drawn for the
    /// usual light-on-dark terminal: a light module is a lit block, a dark one is a blank cell.
    pub fn terminal(&self) -> String {
        self.code
            .render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::issuance::tests::{sample_set, NOW};
    use crate::present::{parse_challenge, present, PresentOptions};
    use crate::DeviceKey;
    use verifier::Purpose;

    /// Alphanumeric capacity at level M, versions 1 to 20 (ISO/IEC 18004 table 7).
    const ALNUM_M: [usize; 20] =
        [20, 38, 61, 90, 122, 154, 178, 221, 262, 311, 366, 419, 483, 528, 600, 656, 734, 816, 909, 970];

    fn decode_png(png: &[u8]) -> (rqrr::MetaData, String) {
        let img = image::load_from_memory(png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap()
    }

    fn presented(purpose: Purpose) -> crate::Presented {
        let device = DeviceKey::from_seed(&[3; 32]);
        let opts = PresentOptions { purpose, at: NOW, window: 60, challenge: parse_challenge("").unwrap() };
        present(&sample_set(&device), &device, &opts).unwrap()
    }

    #[test]
    fn every_purpose_decodes_back_from_the_png_in_the_smallest_alphanumeric_version() {
        for purpose in Purpose::ALL {
            let p = presented(purpose);
            let v = p.qr.version();
            let chars = p.text.len();
            eprintln!(
                "{}  ({} modules, PNG {} px)",
                p.summary(),
                p.qr.width(),
                (p.qr.width() as u32 + 8) * PNG_MODULE_PX
            );
            // Smallest version at M whose alphanumeric capacity holds the text.
            let i = usize::try_from(v - 1).unwrap();
            assert!(chars <= ALNUM_M[i], "{chars} chars in version {v}");
            assert!(i == 0 || chars > ALNUM_M[i - 1], "{chars} chars would fit version {}", v - 1);

            let png = p.qr.png().unwrap();
            let (meta, text) = decode_png(&png);
            assert_eq!(text, p.text);
            assert_eq!(meta.version.0, usize::try_from(v).unwrap());
            assert_eq!(meta.ecc_level, 0, "format bits 00 are level M");
            let img = image::load_from_memory(&png).unwrap().to_luma8();
            assert_eq!(img.width(), (p.qr.width() as u32 + 8) * PNG_MODULE_PX, "8 px modules, 4-module quiet zone");
            assert_eq!(img.get_pixel(0, 0).0, [255], "white quiet zone");
            if purpose == Purpose::Landlord {
                assert!((300..=483).contains(&chars), "landlord text is {chars} chars");
                assert!(v <= 13, "landlord QR is version {v}");
            }
        }
    }

    #[test]
    fn an_applicant_at_enrollments_limits_fits_every_purpose() {
        let device = DeviceKey::from_seed(&[3; 32]);
        let set = crate::issuance::tests::sample_set_of(&device, &crate::issuance::tests::longest());
        for (purpose, limit) in [(Purpose::Landlord, 13), (Purpose::Bank, 15), (Purpose::ResidenceOffice, 20)] {
            let opts = PresentOptions { purpose, at: NOW, window: 60, challenge: parse_challenge("").unwrap() };
            let p = present(&set, &device, &opts).unwrap();
            eprintln!("{}", p.summary());
            assert!(p.qr.version() <= limit, "{}", p.summary());
            assert!(p.summary().contains(&format!("version={} ec=M", p.qr.version())), "{}", p.summary());
            let (meta, text) = decode_png(&p.qr.png().unwrap());
            assert_eq!((meta.version.0, text.as_str()), (usize::try_from(p.qr.version()).unwrap(), p.text.as_str()));
            let claims = verifier::inspect_qr(&text).unwrap().credential.claims;
            assert!(claims.shortened.contains(&verifier::Claim::NameLatin), "{purpose}: {:?}", claims.shortened);
        }
    }

    #[test]
    fn svg_and_terminal_have_the_right_size() {
        let p = presented(Purpose::Landlord);
        let side = p.qr.width() + 8;
        let svg = p.qr.svg();
        assert!(svg.starts_with("<?xml") && svg.contains(&format!("width=\"{}\"", side * 8)), "{}", &svg[..200]);
        let term = p.qr.terminal();
        assert_eq!(term.lines().count(), side.div_ceil(2));
        assert!(term.lines().all(|l| l.chars().count() == side));
    }

    #[test]
    fn only_alphanumeric_text_and_bounded_size() {
        assert!(matches!(Qr::encode("VN1:abc"), Err(Error::Qr(_))));
        assert_eq!(Qr::encode("VN1:").unwrap().version(), 1);
        assert_eq!(Qr::encode(&"A".repeat(483)).unwrap().version(), 13);
        assert_eq!(Qr::encode(&"A".repeat(484)).unwrap().version(), 14);
        assert!(matches!(Qr::encode(&"A".repeat(4000)), Err(Error::Qr(_))));
    }
}
