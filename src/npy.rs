//! The `.npy` header: a parser for the files numpy writes and a writer of headers with spare
//! room, so that the shape of a file that grows can be rewritten in place.
//!
//! A `.npy` file is the magic `\x93NUMPY`, a major and minor version byte, the header length
//! (2 bytes little-endian in version 1.0, 4 bytes in 2.0 and 3.0), then the header: a Python
//! dict literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded
//! with spaces and ended by `\n`, so that the data starts at a multiple of 64 (16 in files of
//! old numpy versions). Version 3.0 differs from 2.0 only in that the header is UTF-8.
//!
//! Only what mba can map is accepted: the fourteen mba dtypes (`|b1`, `i1`..`u8`, `f2`, `f4`,
//! `f8`, `c8`, `c16`) in either byte order, C order (or Fortran order when it does not matter:
//! fewer than two dimensions), and at most `MAX_DIMS` (8) dimensions. Object, structured, string,
//! datetime and other dtypes, and Fortran order, are refused with a message naming which.
//! The parser takes untrusted bytes: every length is checked, nesting is bounded, and no input
//! makes it panic or allocate more than the header's own size.

use crate::dtype::Dtype;
use crate::error::{bail, Result};

/// The magic bytes at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The largest header this parser reads (numpy itself refuses headers over 10,000 bytes by default).
pub(crate) const MAX_HEADER: usize = 1 << 20;
/// The most dimensions an mba array (and so a mapped `.npy` file) may have.
pub(crate) const MAX_DIMS: usize = 8;
/// How many bytes of a file [`header_len`] needs to see.
///
/// cbindgen:ignore
pub const PREFIX_LEN: usize = 12;

/// numpy's kind character of each mba dtype (`i`, `u`, `f`, `b`, `c`).
fn kind(d: Dtype) -> u8 {
    match d {
        Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => b'i',
        Dtype::U8 | Dtype::U16 | Dtype::U32 | Dtype::U64 => b'u',
        Dtype::F16 | Dtype::F32 | Dtype::F64 => b'f',
        Dtype::Bool => b'b',
        Dtype::C64 | Dtype::C128 => b'c',
    }
}

/// The item size of mba dtype `code` (1 to 14), or `None` for a code mba never assigned.
pub fn dtype_itemsize(code: u32) -> Option<usize> {
    Dtype::from_code(code).map(Dtype::itemsize)
}

/// The name of mba dtype `code` (`"u32"`, `"c64"`), or `None`.
pub fn dtype_name(code: u32) -> Option<&'static str> {
    Dtype::from_code(code).map(Dtype::name)
}

/// The unit in which a value of dtype `code` is byte-swapped: the item size, except for the
/// complex types, whose real and imaginary parts swap separately. `None` for unknown codes.
pub fn swap_unit(code: u32) -> Option<usize> {
    Dtype::from_code(code).map(|d| if kind(d) == b'c' { d.itemsize() / 2 } else { d.itemsize() })
}

/// The numpy type string of mba dtype `code` in the given byte order (`"<u4"`, `"|b1"`).
pub fn descr_of(code: u32, big_endian: bool) -> Option<String> {
    let d = Dtype::from_code(code)?;
    let order = if d.itemsize() == 1 {
        '|'
    } else if big_endian {
        '>'
    } else {
        '<'
    };
    Some(format!("{order}{}{}", kind(d) as char, d.itemsize()))
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version, `(1, 0)`, `(2, 0)` or `(3, 0)`.
    pub version: (u8, u8),
    /// The mba dtype code of the elements.
    pub dtype: u32,
    /// Bytes per element.
    pub itemsize: usize,
    /// Whether the data is big-endian (always false for one-byte types).
    pub big_endian: bool,
    /// The `fortran_order` flag (accepted only when it does not change the layout).
    pub fortran_order: bool,
    /// The shape, outermost axis first; empty for a 0-dimensional array (one element).
    pub shape: Vec<u64>,
    /// Where the data starts: the whole header's length, magic included.
    pub data_offset: u64,
}

impl NpyHeader {
    /// Number of elements: the product of the shape (1 for a 0-dimensional array).
    pub fn count(&self) -> Result<u64> {
        let mut n: u64 = 1;
        for &d in &self.shape {
            match n.checked_mul(d) {
                Some(v) => n = v,
                None => bail!(Corrupt, "npy shape {:?} overflows 64 bits", self.shape),
            }
        }
        Ok(n)
    }

    /// Bytes of data the header describes: `count() * itemsize`.
    pub fn data_len(&self) -> Result<u64> {
        match self.count()?.checked_mul(self.itemsize as u64) {
            Some(v) => Ok(v),
            None => bail!(Corrupt, "npy shape {:?} describes more than 2^64 bytes", self.shape),
        }
    }

    /// Whether the data bytes are in the other byte order than this machine's.
    pub fn needs_swap(&self) -> bool {
        self.itemsize > 1 && self.big_endian != cfg!(target_endian = "big")
    }
}

/// From the first `PREFIX_LEN` bytes of a file (fewer if the file is shorter): the format
/// version and the total header length, magic included, which is where the data starts.
pub fn header_len(prefix: &[u8]) -> Result<((u8, u8), usize)> {
    if prefix.len() < 10 || &prefix[..6] != MAGIC {
        bail!(Corrupt, "not an npy file (no \\x93NUMPY magic)");
    }
    let version = (prefix[6], prefix[7]);
    let (len, fixed) = match version {
        (1, 0) => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
        (2, 0) | (3, 0) => {
            if prefix.len() < 12 {
                bail!(Corrupt, "npy file ends inside its header length");
            }
            (u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize, 12)
        }
        (a, b) => bail!(Corrupt, "unsupported npy format version {a}.{b} (mba reads 1.0, 2.0 and 3.0)"),
    };
    if len > MAX_HEADER {
        bail!(Corrupt, "npy header of {len} bytes is over the limit of {MAX_HEADER}");
    }
    Ok((version, fixed + len))
}

/// Parses a whole header: `bytes` must hold at least the length [`header_len`] returned
/// (more is ignored).
pub fn parse(bytes: &[u8]) -> Result<NpyHeader> {
    let (version, total) = header_len(bytes)?;
    if bytes.len() < total {
        bail!(Corrupt, "npy file ends inside its header ({} of {total} bytes)", bytes.len());
    }
    let fixed = if version.0 == 1 { 10 } else { 12 };
    let text = &bytes[fixed..total];
    if version.0 == 3 && std::str::from_utf8(text).is_err() {
        bail!(Corrupt, "npy 3.0 header is not UTF-8");
    }
    let mut p = Parser { s: text, i: 0 };
    let dict = p.value(0)?;
    p.skip_ws();
    if p.i != text.len() {
        bail!(Corrupt, "npy header has bytes after its dict at {}", p.i);
    }
    let Value::Dict(entries) = dict else {
        bail!(Corrupt, "npy header is not a dict");
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in entries {
        match k.as_str() {
            "descr" => descr = Some(v),
            "fortran_order" => fortran = Some(v),
            "shape" => shape = Some(v),
            other => bail!(Corrupt, "npy header has an unknown key {other:?}"),
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        bail!(Corrupt, "npy header lacks one of 'descr', 'fortran_order', 'shape'");
    };
    let (dtype, itemsize, big_endian) = parse_descr(&descr)?;
    let Value::Bool(fortran_order) = fortran else {
        bail!(Corrupt, "npy 'fortran_order' is not True or False");
    };
    let Value::Tuple(dims) = shape else {
        bail!(Corrupt, "npy 'shape' is not a tuple");
    };
    if dims.len() > MAX_DIMS {
        bail!(InvalidArgument, "npy array has {} dimensions; mba maps at most {MAX_DIMS}", dims.len());
    }
    let mut shape = Vec::with_capacity(dims.len());
    for d in dims {
        match d {
            Value::Int(n) if n >= 0 && n <= u64::MAX as i128 => shape.push(n as u64),
            _ => bail!(Corrupt, "npy shape holds something other than a non-negative integer"),
        }
    }
    if fortran_order && shape.iter().filter(|&&d| d != 1).count() > 1 {
        bail!(
            InvalidArgument,
            "npy array is in Fortran order (column-major) with shape {shape:?}; mba maps only C order"
        );
    }
    let h =
        NpyHeader { version, dtype, itemsize, big_endian, fortran_order, shape, data_offset: total as u64 };
    h.data_len()?;
    Ok(h)
}

fn parse_descr(v: &Value) -> Result<(u32, usize, bool)> {
    let s = match v {
        Value::Str(s) => s,
        Value::List => bail!(
            InvalidArgument,
            "npy dtype is structured (a list of fields); mba maps only plain numeric dtypes"
        ),
        _ => bail!(Corrupt, "npy 'descr' is neither a string nor a list"),
    };
    let b = s.as_bytes();
    let (order, rest) = match b.first() {
        Some(c @ (b'<' | b'>' | b'|' | b'=')) => (*c, &b[1..]),
        _ => (b'=', b),
    };
    let Some((&kind_char, digits)) = rest.split_first() else {
        bail!(Corrupt, "npy dtype {s:?} is empty");
    };
    match kind_char {
        b'O' => bail!(InvalidArgument, "npy dtype {s:?} is the object dtype (Python object pointers); mba maps only plain numeric dtypes"),
        b'V' => bail!(InvalidArgument, "npy dtype {s:?} is a structured (void) dtype; mba maps only plain numeric dtypes"),
        b'U' | b'S' | b'a' => bail!(InvalidArgument, "npy dtype {s:?} is a string dtype; mba maps only plain numeric dtypes"),
        b'M' | b'm' => bail!(InvalidArgument, "npy dtype {s:?} is a datetime dtype; mba maps only plain numeric dtypes"),
        _ => {}
    }
    let size: usize = match std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()) {
        Some(n) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => n,
        _ => bail!(Corrupt, "npy dtype {s:?} is not a type string like '<f8'"),
    };
    let Some(d) = Dtype::ALL.iter().copied().find(|&d| kind(d) == kind_char && d.itemsize() == size) else {
        bail!(
            InvalidArgument,
            "npy dtype {s:?} has no mba equivalent (mba has bool, i1..u8, f2, f4, f8, c8, c16)"
        );
    };
    let big = match order {
        b'>' => true,
        b'<' => false,
        _ => cfg!(target_endian = "big"),
    };
    Ok((d.code(), d.itemsize(), big && d.itemsize() > 1))
}

/// A Python literal, as far as npy headers use them.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    None,
    Int(i128),
    Tuple(Vec<Value>),
    /// A list (structured descr); its items are parsed and dropped.
    List,
    Dict(Vec<(String, Value)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Deepest nesting of tuples, lists and dicts accepted (npy headers use two levels).
const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() != Some(c) {
            bail!(Corrupt, "npy header: expected {:?} at byte {}", c as char, self.i);
        }
        self.i += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            bail!(Corrupt, "npy header nests deeper than {MAX_DEPTH}");
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Value::Dict(entries));
                    }
                    let Value::Str(k) = self.value(depth + 1)? else {
                        bail!(Corrupt, "npy header: a dict key is not a string");
                    };
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => bail!(Corrupt, "npy header: expected ',' or '}}' at byte {}", self.i),
                    }
                }
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Ok(if open == b'(' { Value::Tuple(items) } else { Value::List });
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(c) if c == close => {}
                        _ => bail!(
                            Corrupt,
                            "npy header: expected ',' or {:?} at byte {}",
                            close as char,
                            self.i
                        ),
                    }
                }
            }
            Some(q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                let mut out = Vec::new();
                while self.i < self.s.len() && self.s[self.i] != q {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    if let Some(&c) = self.s.get(self.i) {
                        out.push(c);
                    }
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    bail!(Corrupt, "npy header: string starting at byte {start} is not closed");
                }
                self.i += 1;
                Ok(Value::Str(String::from_utf8_lossy(&out).into_owned()))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                // Python 2 wrote long integers with an L suffix: (3L, 4L).
                if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
                    self.i += 1;
                }
                match text.parse::<i128>() {
                    Ok(n) if text.len() <= 30 => Ok(Value::Int(n)),
                    _ => bail!(Corrupt, "npy header: bad integer {text:?}"),
                }
            }
            Some(_) => {
                let rest = &self.s[self.i..];
                for (word, v) in [(&b"True"[..], 1u8), (b"False", 0), (b"None", 2)] {
                    if rest.starts_with(word) {
                        self.i += word.len();
                        return Ok(match v {
                            1 => Value::Bool(true),
                            0 => Value::Bool(false),
                            _ => Value::None,
                        });
                    }
                }
                bail!(Corrupt, "npy header: unexpected {:?} at byte {}", rest[0] as char, self.i)
            }
            None => bail!(Corrupt, "npy header ends early"),
        }
    }
}

/// The digits the first axis may grow to in a header written with room to grow: any `u64`.
pub(crate) const GROWTH_DIGITS: usize = 20;

fn dict_text(descr: &str, shape: &[u64]) -> String {
    let dims = match shape {
        [] => "()".to_string(),
        [one] => format!("({one},)"),
        many => format!("({})", many.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}")
}

/// A complete header (magic to the final `\n`) for a C-order array of mba dtype `code` and
/// `shape`, in this machine's byte order, padded so the data starts at a multiple of 64.
/// With `room_to_grow`, the padding leaves space for the first axis to reach any `u64`, so
/// [`rewrite_shape`] can later record growth in place. Version 1.0 unless the header needs
/// more than 65,535 bytes (then 2.0).
pub fn write_header(code: u32, shape: &[u64], room_to_grow: bool) -> Result<Vec<u8>> {
    let Some(descr) = descr_of(code, cfg!(target_endian = "big")) else {
        bail!(InvalidArgument, "unknown dtype code {code}");
    };
    if shape.len() > MAX_DIMS {
        bail!(InvalidArgument, "{} dimensions; at most {MAX_DIMS}", shape.len());
    }
    let dict = dict_text(&descr, shape);
    let spare = match shape.first() {
        Some(first) if room_to_grow => GROWTH_DIGITS.saturating_sub(first.to_string().len()),
        _ => 0,
    };
    let need = dict.len() + spare + 1; // + '\n'
    let v1_total = (10 + need).div_ceil(64) * 64;
    let (major, fixed, total) = if v1_total - 10 <= u16::MAX as usize {
        (1u8, 10, v1_total)
    } else {
        (2u8, 12, (12 + need).div_ceil(64) * 64)
    };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    if fixed == 10 {
        out.extend_from_slice(&((total - fixed) as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&((total - fixed) as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    Ok(out)
}

/// The header `old` (as read from a file) with its shape replaced by `shape`, of exactly the
/// same length, so it can be written over the old one in place. Fails with
/// `InvalidArgument` if the new shape does not fit in the old header's padding.
pub fn rewrite_shape(old: &[u8], shape: &[u64]) -> Result<Vec<u8>> {
    let h = parse(old)?;
    if h.fortran_order && shape.len() > 1 {
        bail!(InvalidArgument, "npy header is in Fortran order; mba writes only C order");
    }
    let Some(descr) = descr_of(h.dtype, h.big_endian) else {
        bail!(Corrupt, "npy header has an unknown dtype");
    };
    let dict = dict_text(&descr, shape);
    let total = h.data_offset as usize;
    let fixed = if h.version.0 == 1 { 10 } else { 12 };
    if fixed + dict.len() + 1 > total {
        bail!(
            InvalidArgument,
            "the new shape {shape:?} does not fit in the {total}-byte npy header (write it with room to grow)"
        );
    }
    let mut out = old[..fixed].to_vec();
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn header(version: (u8, u8), dict: &str) -> Vec<u8> {
        let fixed = if version.0 == 1 { 10 } else { 12 };
        let total = (fixed + dict.len() + 1).div_ceil(64) * 64;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version.0, version.1]);
        if fixed == 10 {
            out.extend_from_slice(&((total - fixed) as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&((total - fixed) as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        out
    }

    #[test]
    fn parses_what_numpy_writes_in_every_version() {
        for v in [(1, 0), (2, 0), (3, 0)] {
            let h = parse(&header(v, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }")).unwrap();
            assert_eq!(h.version, v);
            assert_eq!((h.dtype, h.itemsize, h.big_endian, h.shape.clone()), (10, 8, false, vec![3, 4]));
            assert_eq!(h.data_offset % 64, 0);
            assert_eq!(h.count().unwrap(), 12);
        }
    }

    #[test]
    fn every_mba_dtype_in_both_byte_orders() {
        for d in Dtype::ALL {
            let (code, size) = (d.code(), d.itemsize());
            for big in [false, true] {
                let descr = descr_of(code, big).unwrap();
                let h = parse(&header((1, 0), &dict_text(&descr, &[5]))).unwrap();
                assert_eq!((h.dtype, h.itemsize), (code, size), "{descr}");
                assert_eq!(h.big_endian, big && size > 1, "{descr}");
                assert_eq!(descr.as_bytes()[1], kind(d));
            }
        }
        // '=' and no order character mean this machine's order; Python 2 long integers.
        let h = parse(&header((1, 0), "{'descr': 'u2', 'fortran_order': False, 'shape': (2L,), }")).unwrap();
        assert_eq!((h.dtype, h.shape.as_slice()), (4, &[2u64][..]));
    }

    #[test]
    fn refusals_name_what_is_refused() {
        let cases = [
            ("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", "object"),
            (
                "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (3,), }",
                "structured",
            ),
            ("{'descr': '|V8', 'fortran_order': False, 'shape': (3,), }", "structured"),
            ("{'descr': '<U3', 'fortran_order': False, 'shape': (3,), }", "string"),
            ("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,), }", "datetime"),
            ("{'descr': '<f16', 'fortran_order': False, 'shape': (3,), }", "no mba equivalent"),
            ("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }", "Fortran order"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                "dimensions",
            ),
        ];
        for (dict, what) in cases {
            let e = parse(&header((1, 0), dict)).unwrap_err();
            assert!(e.message().contains(what), "{dict}: {e}");
        }
        // Fortran order of a vector is the same bytes as C order.
        parse(&header((1, 0), "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }")).unwrap();
        parse(&header((1, 0), "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 1), }")).unwrap();
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        let good = header((1, 0), "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }");
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let bad = [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
            "{'descr': '<f8', 'fortran_order': 1, 'shape': (3,), }",
            "{'descr': '<f8', 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } trailing",
            "{'descr': '<f8 , 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<fx', 'fortran_order': False, 'shape': (3,), }",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999999999999999,), }",
        ];
        for dict in bad {
            assert!(parse(&header((1, 0), dict)).is_err(), "{dict}");
        }
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(parse(&v9).unwrap_err().message().contains("version 9.0"));
        let mut huge = header((2, 0), "{}");
        huge[8..12].copy_from_slice(&(MAX_HEADER as u32 + 1).to_le_bytes());
        assert_eq!(parse(&huge).unwrap_err().kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn written_headers_parse_and_their_shape_can_grow_in_place() {
        for shape in [vec![], vec![0], vec![7], vec![2, 3], vec![1, 2, 3, 4, 5, 6, 7, 8]] {
            for code in 1..=14 {
                let h = write_header(code, &shape, true).unwrap();
                assert_eq!(h.len() % 64, 0);
                let p = parse(&h).unwrap();
                assert_eq!((p.dtype, &p.shape, p.data_offset), (code, &shape, h.len() as u64));
                if !shape.is_empty() {
                    // The largest first axis whose bytes still fit 64 bits.
                    let mut grown = shape.clone();
                    let row: u64 = shape[1..].iter().product::<u64>() * dtype_itemsize(code).unwrap() as u64;
                    grown[0] = u64::MAX / row;
                    let r = rewrite_shape(&h, &grown).unwrap();
                    assert_eq!(r.len(), h.len());
                    assert_eq!(parse(&r).unwrap().shape, grown);
                }
            }
        }
        let tight = write_header(6, &[1], false).unwrap();
        let wide: Vec<u64> = vec![u64::MAX];
        // A header without room may still fit a few more digits in its padding; a full u64
        // may not.
        if let Err(e) = rewrite_shape(&tight, &wide) {
            assert!(e.message().contains("does not fit"), "{e}");
        }
    }
}

/// A `.npy` file that grows by whole rows: created (or reopened) with room in its header for
/// the first axis to reach any `u64`, appended to, and synced: [`NpyWriter::sync`] makes the
/// rows durable and only then rewrites the header's shape, so a reader that loads the file
/// (`numpy.load`, with or without `mmap_mode`) after a sync sees every row appended before it.
///
/// Limits: one writer at a time (nothing locks the file); a reader that reads the header while
/// a sync rewrites it may, rarely, see a garbled shape, which numpy then refuses (the shape's
/// digits change in place); rows appended but not synced when the writer dies are not
/// described by the header, and [`NpyWriter::open`] cuts them off.
#[derive(Debug)]
pub struct NpyWriter {
    file: std::fs::File,
    header: Vec<u8>,
    shape: Vec<u64>,
    row_bytes: u64,
    rows: u64,
}

fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> crate::Error {
    crate::Error::os(format_args!("{what} {}", path.display()), e)
}

/// The bytes of one row of `trailing`-shaped elements of `itemsize` bytes; None on overflow.
fn row_bytes(itemsize: usize, trailing: &[u64]) -> Option<u64> {
    trailing.iter().try_fold(itemsize as u64, |row, &d| row.checked_mul(d))
}

impl NpyWriter {
    /// Creates `path` holding zero rows of `trailing`-shaped elements of mba dtype `code`
    /// (an empty `trailing` makes a vector). Refuses an existing file unless `overwrite`.
    pub fn create(path: &std::path::Path, code: u32, trailing: &[u64], overwrite: bool) -> Result<NpyWriter> {
        let Some(itemsize) = dtype_itemsize(code) else {
            bail!(InvalidArgument, "unknown dtype code {code}");
        };
        if trailing.len() + 1 > MAX_DIMS || trailing.contains(&0) {
            bail!(InvalidArgument, "trailing shape {trailing:?}: at most {} extents, none 0", MAX_DIMS - 1);
        }
        let Some(row) = row_bytes(itemsize, trailing) else {
            bail!(InvalidArgument, "trailing shape {trailing:?} overflows");
        };
        let mut shape = vec![0];
        shape.extend_from_slice(trailing);
        let header = write_header(code, &shape, true)?;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).read(true);
        if overwrite {
            o.create(true).truncate(true);
        } else {
            o.create_new(true);
        }
        let file = o.open(path).map_err(|e| io_err("create", path, e))?;
        std::os::unix::fs::FileExt::write_all_at(&file, &header, 0).map_err(|e| io_err("write", path, e))?;
        Ok(NpyWriter { file, header, shape, row_bytes: row, rows: 0 })
    }

    /// Reopens a `.npy` file to append to it: C order, this machine's byte order, at least one
    /// dimension. Bytes past the rows its header describes (appended but never synced) are cut
    /// off. Whether the header has room for more rows shows at the next sync.
    pub fn open(path: &std::path::Path) -> Result<NpyWriter> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io_err("open", path, e))?;
        let mut prefix = [0u8; PREFIX_LEN];
        let n = file.read_at(&mut prefix, 0).map_err(|e| io_err("read", path, e))?;
        let (_, total) = header_len(&prefix[..n])?;
        let mut header = vec![0u8; total];
        file.read_exact_at(&mut header, 0).map_err(|e| io_err("read", path, e))?;
        let h = parse(&header)?;
        if h.shape.is_empty() {
            bail!(InvalidArgument, "{}: a 0-dimensional npy array has no rows to append to", path.display());
        }
        if h.needs_swap() {
            bail!(
                InvalidArgument,
                "{}: the npy data is in the other byte order; append only to native-order files",
                path.display()
            );
        }
        if h.fortran_order && h.shape.len() > 1 {
            bail!(InvalidArgument, "{}: npy array in Fortran order", path.display());
        }
        // An empty file (shape[0] == 0) passes parse's size check whatever its trailing shape:
        // the row's bytes are checked here.
        let Some(row_bytes) = row_bytes(h.itemsize, &h.shape[1..]) else {
            bail!(Corrupt, "{}: npy shape {:?} overflows 64 bits", path.display(), h.shape);
        };
        if row_bytes == 0 {
            bail!(InvalidArgument, "{}: rows of the npy array are empty", path.display());
        }
        let rows = h.shape[0];
        let end = h.data_offset + h.data_len()?;
        let size = file.metadata().map_err(|e| io_err("stat", path, e))?.len();
        if size < end {
            bail!(
                Corrupt,
                "{}: the npy header describes {end} bytes but the file holds {size}",
                path.display()
            );
        }
        file.set_len(end).map_err(|e| io_err("truncate", path, e))?;
        Ok(NpyWriter { file, header, shape: h.shape, row_bytes, rows })
    }

    /// Appends whole rows (`data.len()` a multiple of the row's bytes), in this machine's byte
    /// order. They are described by the header after the next [`sync`](Self::sync).
    pub fn append(&mut self, data: &[u8]) -> Result<()> {
        if data.len() as u64 % self.row_bytes != 0 {
            bail!(InvalidArgument, "{} bytes are not whole rows of {} bytes", data.len(), self.row_bytes);
        }
        let at = self.header.len() as u64 + self.rows * self.row_bytes;
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, at)
            .map_err(|e| crate::Error::os("append to npy file", e))?;
        self.rows += data.len() as u64 / self.row_bytes;
        Ok(())
    }

    /// Makes every appended row durable, then records them in the header's shape (and makes
    /// that durable too).
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| crate::Error::os("sync npy data", e))?;
        if self.shape[0] != self.rows {
            let mut shape = self.shape.clone();
            shape[0] = self.rows;
            let header = rewrite_shape(&self.header, &shape)?;
            std::os::unix::fs::FileExt::write_all_at(&self.file, &header, 0)
                .map_err(|e| crate::Error::os("rewrite npy header", e))?;
            self.file.sync_data().map_err(|e| crate::Error::os("sync npy header", e))?;
            self.header = header;
            self.shape = shape;
        }
        Ok(())
    }

    /// Rows appended so far, and rows the header describes (as of the last sync).
    pub fn rows(&self) -> (u64, u64) {
        (self.rows, self.shape[0])
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> u64 {
        self.row_bytes
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[test]
    fn rows_appended_are_described_after_a_sync_and_unsynced_ones_cut_on_reopen() {
        let dir = std::env::temp_dir().join(format!("mba-npy-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let mut w = NpyWriter::create(&p, 6, &[3], false).unwrap();
        assert_eq!(NpyWriter::create(&p, 6, &[3], false).unwrap_err().kind(), crate::ErrorKind::Exists);
        let row: Vec<u8> = [1u32, 2, 3].iter().flat_map(|v| v.to_ne_bytes()).collect();
        w.append(&row).unwrap();
        assert_eq!(w.append(&row[..4]).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(w.rows(), (1, 0));
        w.sync().unwrap();
        w.append(&row).unwrap();
        drop(w);
        let bytes = std::fs::read(&p).unwrap();
        let h = parse(&bytes).unwrap();
        assert_eq!(h.shape, vec![1, 3], "the unsynced row is not described");
        let w = NpyWriter::open(&p).unwrap();
        assert_eq!(w.rows(), (1, 1));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), h.data_offset + 12, "the unsynced row was cut off");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
