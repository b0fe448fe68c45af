//! `make install` into a temporary prefix, then two out-of-tree consumers built against the
//! installed files: a C program through pkg-config (shared) and a CMake project through
//! find_package(mba) (static, and shared). Also: version macros agree with Cargo.toml.
//! And a build linked by mold, which reads no linker script (build.rs then leaves out src/ffi/hot.ld).
//! Needs make, pkg-config, readelf, cmake and mold (a missing one fails the test, naming its package).

mod common;
use common::cprog::lib_dir;
use common::TempDir;
use std::path::Path;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

/// Runs `cmd` as a user of the installed library would: without cargo's LD_LIBRARY_PATH,
/// which points into this build.
fn run(cmd: &mut Command) -> String {
    let o = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed?)"));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{cmd:?} failed: {}\n{out}{}", o.status, String::from_utf8_lossy(&o.stderr));
    out
}

fn install(prefix: &Path) {
    let root = env!("CARGO_MANIFEST_DIR");
    // `make install` installs what the build made, and never builds.
    run(Command::new("make")
        .current_dir(root)
        .args(["-s", "install"])
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("LIBSRC={}", lib_dir().display())));
}

#[test]
fn installed_library_serves_pkg_config_and_cmake_consumers() {
    for (tool, package) in
        [("make", "make"), ("pkg-config", "pkg-config"), ("readelf", "binutils"), ("cmake", "cmake")]
    {
        common::require_tool(tool, package);
    }
    let d = TempDir::new("install");
    let prefix = d.0.join("prefix");
    install(&prefix);
    let lib = prefix.join("lib");
    for f in ["libmba.so", &format!("libmba.so.{MAJOR}"), &format!("libmba.so.{VERSION}"), "libmba.a"] {
        assert!(lib.join(f).exists(), "{f} not installed");
    }
    assert!(prefix.join("include/mba.h").exists() && prefix.join("include/mba.hpp").exists());
    let dynamic = run(Command::new("readelf").arg("-d").arg(lib.join(format!("libmba.so.{VERSION}"))));
    assert!(dynamic.contains(&format!("Library soname: [libmba.so.{MAJOR}]")), "{dynamic}");

    // C, through pkg-config, linked shared.
    let pc = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--cflags", "--libs", "mba"]));
    let version = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--modversion", "mba"]));
    assert_eq!(version.trim(), VERSION);
    let app = d.0.join("c-app");
    let mut cc = common::cprog::compiler(false);
    cc.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/c-pkgconfig/main.c"))
        .args(pc.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&app);
    run(&mut cc);
    let ldd = run(Command::new("ldd").arg(&app));
    assert!(ldd.contains(&format!("libmba.so.{MAJOR} => {}", lib.display())), "{ldd}");
    let name = common::Name::new("pkgconfig");
    let out = run(Command::new(&app).arg(name.uri()));
    assert_eq!(out, format!("pkg-config consumer: len=11 last=5 version={VERSION}\n"));

    // C, through pkg-config --static, linked fully static (libgcc_s has no archive: the
    // .pc must not ask for it).
    let pc_static = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--static", "--cflags", "--libs", "mba"]));
    assert!(!pc_static.contains("-lgcc_s"), "{pc_static}");
    let app_static = d.0.join("c-app-static");
    let mut cc = common::cprog::compiler(false);
    cc.arg("-static")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/c-pkgconfig/main.c"))
        .args(pc_static.split_whitespace())
        .arg("-o")
        .arg(&app_static);
    run(&mut cc);
    let name = common::Name::new("pkgconfig-static");
    let out = run(Command::new(&app_static).arg(name.uri()));
    assert_eq!(out, format!("pkg-config consumer: len=11 last=5 version={VERSION}\n"));

    // C++, through CMake's find_package, static and shared.
    for (target, static_link) in [("mba::mba_static", true), ("mba::mba", false)] {
        let build = d.0.join(format!("cmake-{static_link}"));
        run(Command::new("cmake")
            .arg("-S")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/cmake"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg(format!("-DMBA_TARGET={target}")));
        run(Command::new("cmake").arg("--build").arg(&build));
        let exe = build.join("consumer");
        let ldd = run(Command::new("ldd").arg(&exe));
        assert_eq!(!ldd.contains("libmba.so"), static_link, "{target}: {ldd}");
        assert_eq!(
            run(&mut Command::new(&exe)),
            format!("cmake consumer: len=1000 sum=249750.0 version={VERSION}\n")
        );
    }
}

#[test]
fn make_install_never_builds_and_says_when_nothing_was_built() {
    common::require_tool("make", "make");
    let d = TempDir::new("install-unbuilt");
    let o = Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-s", "install"])
        .arg(format!("PREFIX={}", d.0.join("prefix").display()))
        .arg(format!("LIBSRC={}", d.0.join("empty").display()))
        .arg("CARGO=false") // were it to run cargo, it would fail differently
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "installed from an empty build directory");
    assert!(err.contains("libmba.so is not built; run `make` first"), "{err}");
    assert!(!d.0.join("prefix").exists(), "installed something");
}

#[test]
fn make_builds_in_the_repositorys_target_whatever_cargo_target_dir_says() {
    // With CARGO_TARGET_DIR (or a cargo configuration's build.target-dir) pointing elsewhere,
    // cargo built there, and `make` then failed: "ln: failed to create symbolic link
    // 'target/release/libmba.so.0'". make now builds in target/, where the README says. A
    // stand-in for cargo records where it was told to build (a real build would take minutes);
    // a profile of the test's own keeps the tests' target/debug untouched.
    common::require_tool("make", "make");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = TempDir::new("make-target-dir");
    let profile = format!("mba-make-test-{}", std::process::id());
    let fake = d.0.join("cargo");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$CARGO_TARGET_DIR\" > {seen}\nmkdir -p \"$CARGO_TARGET_DIR/{profile}\"\n\
             echo built > \"$CARGO_TARGET_DIR/{profile}/libmba.so\"\n",
            seen = d.0.join("seen").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let build = root.join("target").join(&profile);
    let made = Command::new("make")
        .current_dir(root)
        .args(["-s", &format!("PROFILE={profile}")])
        .arg(format!("CARGO={}", fake.display()))
        .env("CARGO_TARGET_DIR", d.0.join("elsewhere"))
        .env("CARGO_BUILD_TARGET_DIR", d.0.join("elsewhere"))
        .output()
        .unwrap();
    let seen = std::fs::read_to_string(d.0.join("seen")).unwrap_or_default();
    let linked = std::fs::read_to_string(build.join(format!("libmba.so.{MAJOR}"))).unwrap_or_default();
    let pc = build.join("pkgconfig/mba.pc").exists();
    let _ = std::fs::remove_dir_all(&build);
    assert!(made.status.success(), "make failed: {}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(seen.trim(), root.join("target").to_str().unwrap(), "where cargo was told to build");
    assert_eq!(linked, "built\n", "target/{profile}/libmba.so.{MAJOR}");
    assert!(pc, "no target/{profile}/pkgconfig/mba.pc");
    assert!(!d.0.join("elsewhere").exists());
}

#[test]
fn version_macros_agree_with_cargo_toml() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/mba.h")).unwrap();
    let define = |name: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("no {name} in mba.h"))
            .trim()
            .to_owned()
    };
    assert_eq!(define("MBA_VERSION"), format!("\"{VERSION}\""));
    let parts: Vec<u32> = VERSION.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(define("MBA_VERSION_MAJOR"), parts[0].to_string());
    assert_eq!(define("MBA_VERSION_MINOR"), parts[1].to_string());
    assert_eq!(define("MBA_VERSION_PATCH"), parts[2].to_string());
    assert_eq!(define("MBA_VERSION_NUMBER"), (parts[0] * 10000 + parts[1] * 100 + parts[2]).to_string());
    let v = unsafe { std::ffi::CStr::from_ptr(mba::ffi::mba_version()) };
    assert_eq!(v.to_str().unwrap(), VERSION);
}

#[test]
fn mba_builds_and_works_when_mold_links_it() {
    // A user whose cargo configuration links with mold (`-C link-arg=-fuse-ld=mold`, common for
    // fast links) could not build mba at all: mold rejects the layout script, src/ffi/hot.ld.
    // build.rs leaves it out for mold (and gold); the library is the same but for the layout.
    common::require_tool("mold", "mold");
    common::require_tool("readelf", "binutils");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/linker-mold");
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "--lib", "-p", "mba"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", "-C link-arg=-fuse-ld=mold")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env_remove("MBA_CODE_LAYOUT"));
    let lib = target.join("debug");
    let so = lib.join("libmba.so");
    assert!(
        run(Command::new("readelf").args(["-p", ".comment"]).arg(&so)).contains("mold"),
        "not linked by mold"
    );
    assert!(!run(Command::new("readelf").arg("-SW").arg(&so)).contains(".text.mba_hot"));
    // It loads and works: the quickstart, linked against it (through its SONAME's link, which
    // `make` would make).
    let soname = lib.join(format!("libmba.so.{MAJOR}"));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libmba.so", &soname).unwrap();
    let prog = target.join("quickstart");
    run(Command::new("cc")
        .args(["-Iinclude", "examples/c/quickstart.c", "-lmba", "-o"])
        .arg(&prog)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .current_dir(root));
    let n = common::Name::new("mold");
    assert!(run(Command::new(&prog).arg(n.uri())).starts_with("len=1000000 "));
}
