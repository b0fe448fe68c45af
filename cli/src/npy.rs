//! numpy's `.npy` header for `mba export` and `mba import`, through the library's own codec
//! (`mba::npy`), so that the command, the library's `npy://` arrays and `mba_npy_*` read and
//! write the same files the same way.

use mba::Dtype;
use std::io::{Read, Write};

/// What a header says, in the command's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The element type.
    pub dtype: Dtype,
    /// Whether the data's bytes are in the other byte order than this machine's.
    pub swap: bool,
    /// The shape, outermost axis first; empty for a 0-dimensional array (one element).
    pub shape: Vec<u64>,
}

/// Writes the header for a C-order array of `d` and `shape` in this machine's byte order,
/// padded so the data starts at a multiple of 64 bytes. Returns the bytes written.
pub fn write_header(w: &mut impl Write, d: Dtype, shape: &[u64]) -> std::io::Result<usize> {
    let h = mba::npy::write_header(d.code(), shape, false).map_err(std::io::Error::other)?;
    w.write_all(&h)?;
    Ok(h.len())
}

/// Reads and parses a header; the reader is left at the first data byte. Returns the header
/// and its length in bytes (the data offset).
pub fn read_header(r: &mut impl Read) -> Result<(Header, usize), String> {
    let mut bytes = vec![0u8; mba::npy::PREFIX_LEN];
    let mut got = 0;
    while got < bytes.len() {
        match r.read(&mut bytes[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    bytes.truncate(got);
    let (_, total) = mba::npy::header_len(&bytes).map_err(|e| e.to_string())?;
    if total > bytes.len() {
        let have = bytes.len();
        bytes.resize(total, 0);
        r.read_exact(&mut bytes[have..]).map_err(|e| format!("truncated .npy header ({e})"))?;
    }
    let h = mba::npy::parse(&bytes).map_err(|e| e.to_string())?;
    let dtype = Dtype::from_code(h.dtype).ok_or_else(|| format!("npy dtype code {} is unknown", h.dtype))?;
    let swap = h.needs_swap();
    Ok((Header { dtype, swap, shape: h.shape }, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_header_reads_back() {
        for (d, shape) in [(Dtype::F64, vec![3u64, 4]), (Dtype::U8, vec![5]), (Dtype::I32, vec![])] {
            let mut v = Vec::new();
            let n = write_header(&mut v, d, &shape).unwrap();
            assert_eq!((n, n % 64), (v.len(), 0));
            v.extend_from_slice(b"data");
            let mut r = &v[..];
            let (h, off) = read_header(&mut r).unwrap();
            assert_eq!((h.dtype, h.swap, h.shape, off), (d, false, shape, n));
            assert_eq!(r, b"data");
        }
    }

    #[test]
    fn what_is_not_a_header_is_refused() {
        for bad in [&b"hello"[..], b"\x93NUMPY\x09\x00", b""] {
            assert!(read_header(&mut &bad[..]).is_err(), "{bad:?}");
        }
    }
}
