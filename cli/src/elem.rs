//! Element types as the command shows them: numpy names, `.npy` type strings, and values as text.

use mba::Dtype;

/// How the bytes of one scalar are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int { signed: bool },
    Float,
    Bool,
    Half,
    Complex,
}

/// Every dtype, for messages and tests.
pub fn all() -> Vec<Dtype> {
    Dtype::ALL.to_vec()
}

pub fn kind(d: Dtype) -> Kind {
    match d {
        Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => Kind::Int { signed: true },
        Dtype::U8 | Dtype::U16 | Dtype::U32 | Dtype::U64 => Kind::Int { signed: false },
        Dtype::F32 | Dtype::F64 => Kind::Float,
        Dtype::Bool => Kind::Bool,
        Dtype::F16 => Kind::Half,
        Dtype::C64 | Dtype::C128 => Kind::Complex,
    }
}

/// numpy's name: `int8` .. `float64`, `bool`, `float16`, `complex64`, `complex128`.
pub fn numpy_name(d: Dtype) -> &'static str {
    d.numpy_name()
}

/// The type letter of numpy's type strings (`i`, `u`, `f`, `b`, `c`).
fn letter(d: Dtype) -> char {
    match kind(d) {
        Kind::Int { signed: true } => 'i',
        Kind::Int { signed: false } => 'u',
        Kind::Float | Kind::Half => 'f',
        Kind::Bool => 'b',
        Kind::Complex => 'c',
    }
}

/// The dtype of a `.npy` type string, and whether its bytes must be swapped to this machine's order.
pub fn from_npy_descr(s: &str) -> Option<(Dtype, bool)> {
    let (order, rest) = match s.chars().next()? {
        c @ ('<' | '>' | '|' | '=') => (c, &s[1..]),
        _ => ('=', s),
    };
    let native = if cfg!(target_endian = "little") { '<' } else { '>' };
    let d = all().into_iter().find(|d| format!("{}{}", letter(*d), d.itemsize()) == rest)?;
    let swap = d.itemsize() > 1 && (order == '<' || order == '>') && order != native;
    Some((d, swap))
}

/// Parses a dtype name: numpy's (`float32`, `int8`, `bool`, `complex64` ...), mba's short names
/// (`f32`, `u8`, `c64` ...), numpy type strings (`<f4`, `i8` in numpy's sense of 8 bytes is
/// ambiguous and refused: use `int64`), and Python's `float` (float64) and `int` (int64).
pub fn parse_dtype(s: &str) -> Option<Dtype> {
    let t = s.trim().to_ascii_lowercase();
    let alias = match t.as_str() {
        "float" | "double" => "float64",
        "int" | "long" => "int64",
        "half" => "float16",
        "complex" => "complex128",
        other => other,
    };
    all().into_iter().find(|d| numpy_name(*d) == alias || d.name() == alias).or_else(|| {
        if t.starts_with(['<', '>', '|', '=']) {
            from_npy_descr(&t).map(|(d, _)| d)
        } else {
            None
        }
    })
}

/// All accepted names, for help and messages.
pub fn names() -> String {
    all().iter().map(|d| numpy_name(*d)).collect::<Vec<_>>().join(", ")
}

/// How values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Plain text (`nan`, `inf`, `1+2j`).
    Text,
    /// JSON as Python's json module reads it (`NaN`, `Infinity`; a complex value as `[re, im]`).
    Json,
}

fn float(out: &mut String, v: f64, style: Style, single: bool) {
    use std::fmt::Write;
    if v.is_nan() {
        out.push_str(if style == Style::Json { "NaN" } else { "nan" });
    } else if v.is_infinite() {
        let s = match (style, v > 0.0) {
            (Style::Json, true) => "Infinity",
            (Style::Json, false) => "-Infinity",
            (Style::Text, true) => "inf",
            (Style::Text, false) => "-inf",
        };
        out.push_str(s);
    } else if single {
        // Debug: the shortest text that reads back as the same f32, with an exponent when long.
        let _ = write!(out, "{:?}", v as f32);
    } else {
        let _ = write!(out, "{v:?}");
    }
}

/// binary16 to f32, exactly.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let shift = f.leading_zeros() - 21; // bring the top set bit to bit 10
            let f = (f << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (f << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Appends the value of the scalar in `b` (native byte order) to `out`.
pub fn write_value(out: &mut String, d: Dtype, b: &[u8], style: Style) {
    use std::fmt::Write;
    let n = d.itemsize();
    match kind(d) {
        Kind::Int { signed } => {
            let mut buf = [0u8; 8];
            let v = if cfg!(target_endian = "little") {
                buf[..n].copy_from_slice(&b[..n]);
                let neg = signed && b[n - 1] & 0x80 != 0;
                if neg {
                    buf[n..].fill(0xff);
                }
                u64::from_le_bytes(buf)
            } else {
                buf[8 - n..].copy_from_slice(&b[..n]);
                let neg = signed && b[0] & 0x80 != 0;
                if neg {
                    buf[..8 - n].fill(0xff);
                }
                u64::from_be_bytes(buf)
            };
            let _ = if signed { write!(out, "{}", v as i64) } else { write!(out, "{v}") };
        }
        Kind::Float if n == 4 => {
            float(out, f32::from_ne_bytes(b[..4].try_into().unwrap()) as f64, style, true)
        }
        Kind::Float => float(out, f64::from_ne_bytes(b[..8].try_into().unwrap()), style, false),
        Kind::Half => float(out, f16_to_f32(u16::from_ne_bytes([b[0], b[1]])) as f64, style, true),
        Kind::Bool => out.push_str(if b[0] != 0 { "true" } else { "false" }),
        Kind::Complex => {
            let h = n / 2;
            let part = |x: &[u8]| {
                if h == 4 {
                    f32::from_ne_bytes(x[..4].try_into().unwrap()) as f64
                } else {
                    f64::from_ne_bytes(x[..8].try_into().unwrap())
                }
            };
            let (re, im) = (part(&b[..h]), part(&b[h..n]));
            if style == Style::Json {
                out.push('[');
                float(out, re, style, h == 4);
                out.push_str(", ");
                float(out, im, style, h == 4);
                out.push(']');
            } else {
                float(out, re, style, h == 4);
                if !(im < 0.0 || im.is_nan() && im.is_sign_negative()) {
                    out.push('+');
                }
                float(out, im, style, h == 4);
                out.push('j');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in all() {
            assert_eq!(parse_dtype(numpy_name(d)), Some(d));
            assert_eq!(parse_dtype(d.name()), Some(d));
            let native = mba::npy::descr_of(d.code(), cfg!(target_endian = "big")).unwrap();
            assert_eq!(from_npy_descr(&native), Some((d, false)), "{native}");
        }
        assert_eq!(parse_dtype("float"), Some(Dtype::F64));
        assert_eq!(parse_dtype("<f4"), Some(Dtype::F32));
        assert_eq!(parse_dtype("i8"), Some(Dtype::I8), "mba's short name wins");
        assert_eq!(parse_dtype("object"), None);
        let other = if cfg!(target_endian = "little") { ">i4" } else { "<i4" };
        assert_eq!(from_npy_descr(other), Some((Dtype::I32, true)));
        assert_eq!(from_npy_descr("|u1"), Some((Dtype::U8, false)));
        assert_eq!(from_npy_descr("<U3"), None);
        assert_eq!(from_npy_descr("|b1"), Some((Dtype::Bool, false)));
        assert_eq!(parse_dtype("complex"), Some(Dtype::C128));
        assert_eq!(parse_dtype("<c8"), Some(Dtype::C64));
        assert_eq!(parse_dtype("float16"), Some(Dtype::F16));
    }

    #[test]
    fn values_as_text_and_json() {
        let s = |d: Dtype, b: &[u8], st| {
            let mut o = String::new();
            write_value(&mut o, d, b, st);
            o
        };
        assert_eq!(s(Dtype::I16, &(-5i16).to_ne_bytes(), Style::Text), "-5");
        assert_eq!(s(Dtype::U64, &u64::MAX.to_ne_bytes(), Style::Text), "18446744073709551615");
        assert_eq!(s(Dtype::I8, &[0x80], Style::Text), "-128");
        assert_eq!(s(Dtype::F32, &0.1f32.to_ne_bytes(), Style::Text), "0.1");
        assert_eq!(s(Dtype::F64, &1e300f64.to_ne_bytes(), Style::Json), "1e300");
        assert_eq!(s(Dtype::F64, &f64::NAN.to_ne_bytes(), Style::Json), "NaN");
        assert_eq!(s(Dtype::F64, &f64::NEG_INFINITY.to_ne_bytes(), Style::Text), "-inf");
        assert_eq!(s(Dtype::Bool, &[1], Style::Json), "true");
        assert_eq!(s(Dtype::Bool, &[0], Style::Text), "false");
        assert_eq!(s(Dtype::F16, &0x3e00u16.to_ne_bytes(), Style::Text), "1.5");
        let c: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(s(Dtype::C64, &c, Style::Text), "1.5-2.0j");
        assert_eq!(s(Dtype::C64, &c, Style::Json), "[1.5, -2.0]");
        let c: Vec<u8> = [0.0f64, 3.0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(s(Dtype::C128, &c, Style::Text), "0.0+3.0j");
    }

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
    }
}
