//! numpy's `.npy` header, versions 1.0, 2.0 and 3.0: enough to write what `mba export` makes
//! and to read what `numpy.save` writes. The data that follows the header is raw C-order bytes.
//!
//! Self-contained for now; the library's own `.npy` support (src/npy.rs on another branch) is
//! meant to replace it.

use std::io::{Read, Write};

pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
}

/// Writes the header for a C-order array of `descr` and `shape`, padded so the data starts at a
/// multiple of 64 bytes. Version 1.0 unless the header needs more than 65535 bytes (then 2.0).
/// Returns the bytes written.
pub fn write_header(w: &mut impl Write, descr: &str, shape: &[u64]) -> std::io::Result<usize> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let (major, len_bytes) = if dict.len() + 1 + 10 <= 65535 { (1u8, 2) } else { (2u8, 4) };
    let pre = MAGIC.len() + 2 + len_bytes;
    let total = (pre + dict.len() + 1).div_ceil(64) * 64;
    let hlen = total - pre;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[major, 0]);
    if len_bytes == 2 {
        h.extend_from_slice(&(hlen as u16).to_le_bytes());
    } else {
        h.extend_from_slice(&(hlen as u32).to_le_bytes());
    }
    h.extend_from_slice(dict.as_bytes());
    h.resize(total - 1, b' ');
    h.push(b'\n');
    w.write_all(&h)?;
    Ok(total)
}

/// Reads and parses a header; the reader is left at the first data byte. Returns the header
/// and its length in bytes (the data offset).
pub fn read_header(r: &mut impl Read) -> Result<(Header, usize), String> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(|e| format!("not a .npy file ({e})"))?;
    if &pre[..6] != MAGIC {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (major, minor) = (pre[6], pre[7]);
    let len = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(|e| format!("truncated .npy header ({e})"))?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|e| format!("truncated .npy header ({e})"))?;
            u32::from_le_bytes(b) as usize
        }
        _ => return Err(format!(".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)")),
    };
    if len > 1 << 24 {
        return Err(format!(".npy header of {len} bytes is implausibly long"));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).map_err(|e| format!("truncated .npy header ({e})"))?;
    let text = if major == 3 {
        String::from_utf8(text).map_err(|_| ".npy header is not UTF-8".to_string())?
    } else {
        // Versions 1 and 2 are latin-1; anything outside ASCII cannot be a header we read.
        String::from_utf8(text).map_err(|_| ".npy header is not ASCII".to_string())?
    };
    let header = parse_dict(&text)?;
    Ok((header, 8 + if major == 1 { 2 } else { 4 } + len))
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
    Other,
}

/// Parses the Python dict literal of a header:
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_dict(s: &str) -> Result<Header, String> {
    let mut p = Parser { b: s.as_bytes(), i: 0 };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        let v = p.value()?;
        match (key.as_str(), v) {
            ("descr", Value::Str(d)) => descr = Some(d),
            ("descr", _) => return Err("structured or object dtypes are not supported".into()),
            ("fortran_order", Value::Bool(f)) => fortran = Some(f),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            (k @ ("fortran_order" | "shape"), v) => {
                return Err(format!("bad .npy header value for {k}: {v:?}"))
            }
            _ => {}
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    match (descr, fortran, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header { descr, fortran_order, shape }),
        _ => Err(".npy header lacks descr, fortran_order or shape".into()),
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("malformed .npy header: expected '{}' at byte {}", c as char, self.i))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let q = *self.b.get(self.i).ok_or("malformed .npy header: unexpected end")?;
        if q != b'\'' && q != b'"' {
            return Err(format!("malformed .npy header: expected a string at byte {}", self.i));
        }
        let start = self.i + 1;
        let end = self.b[start..].iter().position(|&c| c == q).ok_or("malformed .npy header: open string")?;
        self.i = start + end + 1;
        Ok(String::from_utf8_lossy(&self.b[start..start + end]).into_owned())
    }
    fn word(&mut self) -> &str {
        let start = self.i;
        while self.i < self.b.len() && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_') {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i]).unwrap_or("")
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.b.get(self.i) {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut t = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b')') {
                        return Ok(Value::Tuple(t));
                    }
                    let w = self.word().trim_end_matches('L').to_owned();
                    let n = w.parse::<u64>().map_err(|_| format!("bad .npy shape extent {w:?}"))?;
                    t.push(n);
                    self.ws();
                    if !self.eat(b',') {
                        self.ws();
                        self.expect(b')')?;
                        return Ok(Value::Tuple(t));
                    }
                }
            }
            Some(b'[') => {
                // A structured dtype's field list: skip to the matching bracket.
                let mut depth = 0;
                while let Some(&c) = self.b.get(self.i) {
                    self.i += 1;
                    match c {
                        b'[' => depth += 1,
                        b']' if depth == 1 => return Ok(Value::Other),
                        b']' => depth -= 1,
                        _ => {}
                    }
                }
                Err("malformed .npy header: open list".into())
            }
            _ => match self.word() {
                "True" => Ok(Value::Bool(true)),
                "False" => Ok(Value::Bool(false)),
                "" => Err(format!("malformed .npy header at byte {}", self.i)),
                _ => Ok(Value::Other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(descr: &str, shape: &[u64]) {
        let mut v = Vec::new();
        let n = write_header(&mut v, descr, shape).unwrap();
        assert_eq!(n % 64, 0);
        assert_eq!(v.len(), n);
        assert_eq!(v[n - 1], b'\n');
        let (h, off) = read_header(&mut &v[..]).unwrap();
        assert_eq!(off, n);
        assert_eq!(h, Header { descr: descr.into(), fortran_order: false, shape: shape.to_vec() });
    }

    #[test]
    fn headers_round_trip() {
        round_trip("<f8", &[3]);
        round_trip("|u1", &[0]);
        round_trip("<c16", &[2, 3, 4]);
        round_trip("<i4", &[]);
    }

    #[test]
    fn reads_what_numpy_writes_in_every_version() {
        // numpy.save of np.arange(6, dtype='<i2').reshape(2, 3), header as numpy 1.x/2.x writes it.
        let dict = b"{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }";
        for (major, lenb) in [(1u8, 2usize), (2, 4), (3, 4)] {
            let mut v = MAGIC.to_vec();
            v.extend_from_slice(&[major, 0]);
            let hl = 118 - lenb; // any padding works for a reader
            if lenb == 2 {
                v.extend_from_slice(&(hl as u16).to_le_bytes());
            } else {
                v.extend_from_slice(&(hl as u32).to_le_bytes());
            }
            let mut h = dict.to_vec();
            h.resize(hl - 1, b' ');
            h.push(b'\n');
            v.extend_from_slice(&h);
            let (got, off) = read_header(&mut &v[..]).unwrap();
            assert_eq!(off, 8 + lenb + hl);
            assert_eq!(got.shape, [2, 3]);
            assert_eq!(got.descr, "<i2");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let bad = |s: &str| parse_dict(s).unwrap_err();
        assert!(
            bad("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }").contains("structured")
        );
        assert!(bad("{'descr': '<i4', 'shape': (1,), }").contains("lacks"));
        assert!(bad("{'descr': '<i4', 'fortran_order': False, 'shape': (-1,), }").contains("extent"));
        assert!(read_header(&mut &b"PK\x03\x04...."[..]).unwrap_err().contains("not a .npy"));
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[9, 0, 0, 0]);
        assert!(read_header(&mut &v[..]).unwrap_err().contains("version 9.0"));
        let h = parse_dict("{\"descr\":\"<f4\",\"fortran_order\":True,\"shape\":(4L,)}").unwrap();
        assert_eq!((h.fortran_order, h.shape), (true, vec![4]));
    }
}
