//! Output helpers: JSON strings, times, sizes, tables, and a progress bar for stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// `s` as a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A name (URI or path) for text output, unambiguous and harmless on a terminal: printable
/// characters as they are; a backslash, control characters (a newline, an escape sequence's ESC,
/// C1 controls) and bytes that are not UTF-8 as `\\`, `\n`, `\t` or `\xNN` (`\u{NNNN}` for a
/// C1 control). Anyone may name a file in /dev/shm; such a name must not break a line per array,
/// nor drive the terminal of whoever lists it.
pub fn name_text(s: &std::ffi::OsStr) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut o = String::new();
    for chunk in s.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(o, "\\x{:02x}", c as u32);
                }
                c if c.is_control() => {
                    let _ = write!(o, "\\u{{{:04x}}}", c as u32);
                }
                c => o.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(o, "\\x{b:02x}");
        }
    }
    o
}

/// A time in nanoseconds since the epoch as local time, ISO 8601 with the UTC offset:
/// `2026-11-01T12:34:56+01:00`. `sep` is put between date and time (`T` or a space).
pub fn local_time(ns: u64, sep: char, offset: bool) -> String {
    let secs = (ns / 1_000_000_000) as libc::time_t;
    // SAFETY: tm is written by localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return ns.to_string();
    }
    let mut s = format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    );
    if offset {
        let off = tm.tm_gmtoff;
        let sign = if off < 0 { '-' } else { '+' };
        s.push_str(&format!("{sign}{:02}:{:02}", off.abs() / 3600, off.abs() % 3600 / 60));
    }
    s
}

/// `1536` -> `1.5K`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

/// `[3, 4]` -> `(3, 4)`, `[5]` -> `(5,)`, as numpy prints shapes.
pub fn shape_text(shape: &[u64]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// Prints rows as columns padded to their widest cell; the last column is not padded.
pub fn table(out: &mut impl Write, rows: &[Vec<String>], right: &[bool]) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            let last = i + 1 == r.len();
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A progress bar on stderr for copies of at least `MIN_BYTES`, drawn only when stderr is a terminal.
pub struct Progress {
    what: String,
    total: u64,
    done: u64,
    shown: bool,
    last: Instant,
    start: Instant,
}

impl Progress {
    pub const MIN_BYTES: u64 = 32 << 20;

    pub fn new(what: &str, total: u64) -> Progress {
        let shown = total >= Self::MIN_BYTES && std::io::stderr().is_terminal();
        let now = Instant::now();
        Progress {
            what: what.to_owned(),
            total,
            done: 0,
            shown,
            last: now - Duration::from_secs(1),
            start: now,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.shown && self.last.elapsed() >= Duration::from_millis(100) {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&self) {
        const W: u64 = 30;
        let frac = if self.total == 0 { 1.0 } else { self.done as f64 / self.total as f64 };
        let fill = ((frac * W as f64) as u64).min(W) as usize;
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{} [{}{}] {:3.0}% {}/{} {}/s",
            self.what,
            "#".repeat(fill),
            " ".repeat(W as usize - fill),
            frac * 100.0,
            human_bytes(self.done),
            human_bytes(self.total),
            human_bytes((self.done as f64 / secs) as u64)
        );
    }

    pub fn finish(&mut self) {
        if self.shown {
            self.draw();
            let _ = writeln!(std::io::stderr());
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        use std::os::unix::ffi::OsStrExt;
        let name = |b: &[u8]| name_text(std::ffi::OsStr::from_bytes(b));
        assert_eq!(name(b"shm://plain-\xc3\xa9"), "shm://plain-\u{e9}");
        assert_eq!(name(b"a\nb\x1b[2J\\\xff\x7f\t"), "a\\nb\\x1b[2J\\\\\\xff\\x7f\\t");
        assert_eq!(name("c1\u{9b}".as_bytes()), "c1\\u{009b}");
        assert_eq!(human_bytes(1000), "1000");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(64 << 20), "64M");
        assert_eq!(shape_text(&[5]), "(5,)");
        assert_eq!(shape_text(&[2, 3]), "(2, 3)");
        let mut v = Vec::new();
        table(
            &mut v,
            &[vec!["A".into(), "BB".into(), "C".into()], vec!["aaa".into(), "b".into(), "c".into()]],
            &[false, true, false],
        )
        .unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), "A    BB  C\naaa   b  c\n");
    }
}
