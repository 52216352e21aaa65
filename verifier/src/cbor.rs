//! The small subset of CBOR (RFC 8949) the QR proof needs: unsigned and negative integers, byte
//! and text strings, arrays, maps, tags, booleans and null, all with definite lengths.
//!
//! The reader is written for hostile input: every length is checked against the bytes that are
//! left before anything is allocated, nesting is bounded, indefinite lengths and floats are
//! refused, and no method can panic. The writer always produces the shortest (preferred)
//! encoding, so what the issuer signs is deterministic.

/// Deepest nesting the reader accepts; the formats here nest at most four levels.
pub const MAX_DEPTH: u8 = 8;

/// Why a CBOR item could not be read. Callers turn this into `Reason::Malformed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CborError(pub &'static str);

pub type Result<T> = core::result::Result<T, CborError>;

/// Appends CBOR items to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, n: u64) -> &mut Self {
        let m = major << 5;
        if n < 24 {
            self.buf.push(m | n as u8);
        } else if n <= 0xff {
            self.buf.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
        self
    }

    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.head(0, n)
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        if n >= 0 {
            self.head(0, n as u64)
        } else {
            // -1 - n never overflows for negative n.
            self.head(1, (-1 - n) as u64)
        }
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    pub fn array(&mut self, len: usize) -> &mut Self {
        self.head(4, len as u64)
    }

    pub fn map(&mut self, len: usize) -> &mut Self {
        self.head(5, len as u64)
    }

    pub fn tag(&mut self, tag: u64) -> &mut Self {
        self.head(6, tag)
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
        self
    }

    /// Appends bytes that already are one encoded CBOR item.
    pub fn raw(&mut self, item: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(item);
        self
    }
}

/// The kind of the next item, as far as the formats here care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uint,
    Nint,
    Bytes,
    Text,
    Array,
    Map,
    Tag,
    Simple,
}

/// Reads CBOR items from a borrowed buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails unless every byte has been read: trailing bytes would be unsigned data.
    pub fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CborError("trailing bytes"))
        }
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(CborError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let left = self.buf.len() - self.pos;
        let n = usize::try_from(n).map_err(|_| CborError("length too large"))?;
        if n > left {
            return Err(CborError("length exceeds input"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn peek_kind(&self) -> Result<Kind> {
        let b = *self.buf.get(self.pos).ok_or(CborError("truncated"))?;
        Ok(match b >> 5 {
            0 => Kind::Uint,
            1 => Kind::Nint,
            2 => Kind::Bytes,
            3 => Kind::Text,
            4 => Kind::Array,
            5 => Kind::Map,
            6 => Kind::Tag,
            _ => Kind::Simple,
        })
    }

    fn head(&mut self) -> Result<(u8, u64)> {
        let b = self.byte()?;
        let major = b >> 5;
        let info = b & 0x1f;
        let n = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => {
                let s = self.take(2)?;
                u64::from(u16::from_be_bytes([s[0], s[1]]))
            }
            26 => {
                let s = self.take(4)?;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            27 => {
                let s = self.take(8)?;
                u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            _ => return Err(CborError("indefinite length or reserved value")),
        };
        Ok((major, n))
    }

    fn expect(&mut self, major: u8, what: &'static str) -> Result<u64> {
        let (m, n) = self.head()?;
        if m == major {
            Ok(n)
        } else {
            Err(CborError(what))
        }
    }

    pub fn uint(&mut self) -> Result<u64> {
        self.expect(0, "expected unsigned integer")
    }

    pub fn int(&mut self) -> Result<i64> {
        let (m, n) = self.head()?;
        let n = i64::try_from(n).map_err(|_| CborError("integer out of range"))?;
        match m {
            0 => Ok(n),
            1 => Ok(-1 - n),
            _ => Err(CborError("expected integer")),
        }
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.expect(2, "expected byte string")?;
        self.take(n)
    }

    pub fn text(&mut self) -> Result<&'a str> {
        let n = self.expect(3, "expected text string")?;
        core::str::from_utf8(self.take(n)?).map_err(|_| CborError("text is not UTF-8"))
    }

    /// Array length; bounded by the bytes left, since every element takes at least one.
    pub fn array(&mut self) -> Result<usize> {
        let n = self.expect(4, "expected array")?;
        self.count(n)
    }

    /// Map length in pairs; bounded by the bytes left.
    pub fn map(&mut self) -> Result<usize> {
        let n = self.expect(5, "expected map")?;
        self.count(n)
    }

    fn count(&self, n: u64) -> Result<usize> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(CborError("count exceeds input"));
        }
        Ok(n as usize)
    }

    pub fn tag(&mut self) -> Result<u64> {
        self.expect(6, "expected tag")
    }

    pub fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            0xf4 => Ok(false),
            0xf5 => Ok(true),
            _ => Err(CborError("expected boolean")),
        }
    }

    /// Skips one item of any supported kind, and returns its encoded bytes.
    pub fn item(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        self.skip(0)?;
        Ok(&self.buf[start..self.pos])
    }

    fn skip(&mut self, depth: u8) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(CborError("nested too deeply"));
        }
        let b = *self.buf.get(self.pos).ok_or(CborError("truncated"))?;
        if b >> 5 == 7 {
            return match b {
                0xf4..=0xf6 => {
                    self.pos += 1;
                    Ok(())
                }
                _ => Err(CborError("unsupported simple value or float")),
            };
        }
        let (major, n) = self.head()?;
        match major {
            0 | 1 => Ok(()),
            2 | 3 => self.take(n).map(|_| ()),
            4 => {
                for _ in 0..self.count(n)? {
                    self.skip(depth + 1)?;
                }
                Ok(())
            }
            5 => {
                for _ in 0..self.count(n)? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
                Ok(())
            }
            _ => self.skip(depth + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_encoding() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (23, &[0x17]),
            (24, &[0x18, 0x18]),
            (1000, &[0x19, 0x03, 0xe8]),
            (1_000_000, &[0x1a, 0x00, 0x0f, 0x42, 0x40]),
            (-1, &[0x20]),
            (-8, &[0x27]),
            (-65537, &[0x3a, 0x00, 0x01, 0x00, 0x00]),
        ];
        for (n, bytes) in cases {
            let mut w = Writer::new();
            w.int(*n);
            assert_eq!(w.into_bytes(), *bytes, "{n}");
            assert_eq!(Reader::new(bytes).int(), Ok(*n));
        }
    }

    #[test]
    fn hostile_lengths_do_not_allocate_or_panic() {
        // A byte string claiming 2^64-1 bytes, an array claiming 2^32 items, deep nesting.
        assert!(Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).bytes().is_err());
        assert!(Reader::new(&[0x9a, 0xff, 0xff, 0xff, 0xff]).array().is_err());
        let deep = [0x81u8; 64];
        assert!(Reader::new(&deep).item().is_err());
        assert!(Reader::new(&[0x5f]).item().is_err(), "indefinite length");
        assert!(Reader::new(&[0xf9, 0, 0]).item().is_err(), "float");
        for len in 0..16 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = Reader::new(&bytes).item();
        }
    }
}
