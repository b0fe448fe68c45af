//! Generates `include/mba.h` from `src/ffi` and `src/layout.rs` with cbindgen.
//!
//! The header is committed; CI builds and fails if the build changed it. It is only
//! rewritten when its content changes, so builds do not loop or touch its mtime needlessly.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    for p in ["src", "cbindgen.toml", "build.rs", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={p}");
    }
    // The C test harness needs the target triple to drive the `cc` crate outside a build script.
    println!("cargo:rustc-env=MBA_TARGET={}", std::env::var("TARGET").unwrap());
    println!("cargo:include={}", dir.join("include").display());
    // A versioned SONAME, so installed programs bind to ABI major version, not to a file name.
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libmba.so.{}",
        std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap()
    );

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let v = |k: &str| std::env::var(k).unwrap();
    let (major, minor, patch) =
        (v("CARGO_PKG_VERSION_MAJOR"), v("CARGO_PKG_VERSION_MINOR"), v("CARGO_PKG_VERSION_PATCH"));
    let version_num = major.parse::<u32>().unwrap() * 10000
        + minor.parse::<u32>().unwrap() * 100
        + patch.parse::<u32>().unwrap();
    config.after_includes = Some(format!(
        "\n/* The version of mba this header belongs to; mba_version() gives the library's. */\n\
         #define MBA_VERSION \"{}\"\n#define MBA_VERSION_MAJOR {major}\n#define MBA_VERSION_MINOR {minor}\n\
         #define MBA_VERSION_PATCH {patch}\n/* MAJOR * 10000 + MINOR * 100 + PATCH */\n#define MBA_VERSION_NUMBER {version_num}\n",
        v("CARGO_PKG_VERSION")
    ));
    let header = match cbindgen::Builder::new().with_crate(&dir).with_config(config).generate() {
        Ok(b) => {
            let mut out = Vec::new();
            b.write(&mut out);
            out
        }
        Err(e) => panic!("cbindgen could not generate include/mba.h: {e}"),
    };
    let path = dir.join("include/mba.h");
    if std::fs::read(&path).ok().as_deref() != Some(&header[..]) {
        std::fs::create_dir_all(dir.join("include")).unwrap();
        std::fs::write(&path, &header).expect("write include/mba.h");
    }
}
