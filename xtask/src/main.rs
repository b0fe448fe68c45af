//! Maintainer tasks of mba, run from anywhere in the repository:
//!
//! ```text
//! cargo run -p xtask -- header   # regenerate include/mba.h from src/ffi/ and src/layout.rs (cbindgen)
//! cargo run -p xtask -- api      # regenerate docs/API.md from include/mba.h's comments
//! cargo run -p xtask -- check    # fail if either file differs from what would be generated
//! ```
//!
//! The generated files are committed, so that neither users of the library nor users of the
//! crate need cbindgen; CI runs `check`, so neither can drift from the code.

mod api;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repository root").to_path_buf()
}

/// The `version` of the `[package]` table of the root Cargo.toml.
fn crate_version(root: &Path) -> Result<String, String> {
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut in_package = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if let (true, Some(v)) = (in_package, line.strip_prefix("version")) {
            if let Some(v) = v.trim_start().strip_prefix('=') {
                return Ok(v.trim().trim_matches('"').to_owned());
            }
        }
    }
    Err("no version in the [package] table of Cargo.toml".into())
}

/// The text of include/mba.h as cbindgen makes it from the crate's source.
pub fn generate_header(root: &Path) -> Result<String, String> {
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    let version = crate_version(root)?;
    let parts: Vec<u32> = version
        .split('.')
        .map(|p| p.parse::<u32>().map_err(|e| format!("version {version}: {e}")))
        .collect::<Result<_, _>>()?;
    let [major, minor, patch] = parts[..] else {
        return Err(format!("version {version} is not MAJOR.MINOR.PATCH"));
    };
    config.after_includes = Some(format!(
        "\n/* The version of mba this header belongs to; mba_version() gives the library's. */\n\
         #define MBA_VERSION \"{version}\"\n#define MBA_VERSION_MAJOR {major}\n#define MBA_VERSION_MINOR {minor}\n\
         #define MBA_VERSION_PATCH {patch}\n/* MAJOR * 10000 + MINOR * 100 + PATCH */\n#define MBA_VERSION_NUMBER {}\n",
        major * 10000 + minor * 100 + patch
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen could not generate include/mba.h: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| format!("cbindgen wrote non-UTF-8: {e}"))
}

/// Writes `text` to `path` if it differs; says what it did.
fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        println!("xtask: {} is up to date", path.display());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    println!("xtask: wrote {}", path.display());
    Ok(())
}

/// Compares `path` with `want`; on a difference, names the first differing line.
fn check_file(path: &Path, want: &str, fix: &str) -> Result<(), String> {
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have == want {
        println!("xtask: {} is current", path.display());
        return Ok(());
    }
    let line = have
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
    Err(format!(
        "{} is stale (first difference at line {}): run `{fix}` and commit the result",
        path.display(),
        line + 1
    ))
}

fn run(task: &str) -> Result<(), String> {
    let root = root();
    let header_path = root.join("include/mba.h");
    let api_path = root.join("docs/API.md");
    match task {
        "header" => {
            let header = generate_header(&root)?;
            write_if_changed(&header_path, &header)
        }
        "api" => {
            let header = std::fs::read_to_string(&header_path).map_err(|e| format!("include/mba.h: {e}"))?;
            write_if_changed(&api_path, &api::render(&header)?)
        }
        "check" => {
            let header = generate_header(&root)?;
            let stale_header = check_file(&header_path, &header, "cargo run -p xtask -- header");
            // The reference is checked against the freshly generated header, so that one run
            // of `header` and then `api` fixes both.
            let stale_api = check_file(&api_path, &api::render(&header)?, "cargo run -p xtask -- api");
            match (stale_header, stale_api) {
                (Ok(()), Ok(())) => Ok(()),
                (a, b) => Err([a.err(), b.err()].into_iter().flatten().collect::<Vec<_>>().join("\n")),
            }
        }
        other => Err(format!("unknown task {other:?}; tasks: header, api, check")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task] = &args[..] else {
        eprintln!("usage: cargo run -p xtask -- header|api|check");
        return ExitCode::from(2);
    };
    match run(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}
