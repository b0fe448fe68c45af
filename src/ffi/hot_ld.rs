//! Which linkers get `src/ffi/hot.ld`: read by `build.rs` (`#[path]`), and by the tests that
//! hold its decisions. Not a module of the library.
//!
//! GNU ld (bfd) and LLD (rustc's default linker on x86_64 Linux since Rust 1.90) read the
//! script's `INSERT AFTER .text`; gold and mold reject the script, which failed the whole
//! build. So the script goes only to a linker known to read it: a `-fuse-ld=` or `--ld-path=`
//! naming any other one (gold, mold, wild, ...) in the flags cargo gives rustc, a `linker`
//! named like them, or `mold -run` (its `MOLD_PATH`) leave it out. The layout only saves a new
//! process a few page faults of code: without it, libmba.so works the same.
//! `MBA_CODE_LAYOUT=0` leaves it out, `MBA_CODE_LAYOUT=1` passes it whatever the linker.

/// Whether to pass `hot.ld`. `rustflags`: `CARGO_ENCODED_RUSTFLAGS` (flags separated by
/// `\x1f`); `var`: the build script's environment.
pub fn wanted(rustflags: &str, var: &dyn Fn(&str) -> Option<String>) -> bool {
    match var("MBA_CODE_LAYOUT").as_deref() {
        Some("0") => return false,
        Some("1") => return true,
        _ => {}
    }
    if var("MOLD_PATH").is_some() {
        return false; // `mold -run cargo build`: every linker it runs is mold
    }
    let flags: Vec<&str> = rustflags.split('\x1f').filter(|f| !f.is_empty()).collect();
    // `-C linker=X` / `-Clinker=X`, and cargo's `target.<triple>.linker` (RUSTC_LINKER).
    let mut linkers: Vec<String> = var("RUSTC_LINKER").into_iter().collect();
    for (i, f) in flags.iter().enumerate() {
        let joined =
            if *f == "-C" { flags.get(i + 1).map(|n| format!("-C{n}")) } else { Some(f.to_string()) };
        if let Some(l) = joined.as_deref().and_then(|j| j.strip_prefix("-Clinker=")) {
            linkers.push(l.to_string());
        }
    }
    if linkers.iter().any(|l| {
        let name = l.rsplit('/').next().unwrap_or(l);
        name.contains("mold") || name.contains("gold")
    }) {
        return false;
    }
    // The linker the C compiler driver runs: every -fuse-ld= / --ld-path= in the flags.
    for f in &flags {
        for key in ["-fuse-ld=", "--ld-path="] {
            let mut rest = *f;
            while let Some(at) = rest.find(key) {
                rest = &rest[at + key.len()..];
                let value = rest.split(|c: char| c.is_whitespace() || c == ',').next().unwrap_or("");
                let name = value.rsplit('/').next().unwrap_or(value);
                if !matches!(name, "bfd" | "lld" | "ld" | "ld.bfd" | "ld.lld" | "rust-lld") {
                    return false;
                }
            }
        }
    }
    true
}
