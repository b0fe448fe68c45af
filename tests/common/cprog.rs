//! Builds the C programs of `examples/c/` and `tests/c/` with the `cc` crate, against
//! `include/mba.h` and the `libmba.so` that cargo built for this test run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding this test executable, where cargo also put `libmba.so` and `libmba.a`.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("libmba.so").exists(),
        "libmba.so not found beside the test executable in {}",
        dir.display()
    );
    // Programs record the SONAME (libmba.so.MAJOR), which cargo does not create: link it.
    let soname = dir.join(concat!("libmba.so.", env!("CARGO_PKG_VERSION_MAJOR")));
    if std::fs::symlink_metadata(&soname).is_err() {
        let _ = std::os::unix::fs::symlink("libmba.so", &soname);
    }
    dir
}

/// A `cc` command for the platform's C compiler, as the `cc` crate finds it.
pub fn compiler(cplusplus: bool) -> Command {
    let target = env!("MBA_TARGET");
    let mut b = cc::Build::new();
    b.target(target)
        .host(target)
        .opt_level(1)
        .debug(true)
        .cargo_metadata(false)
        .warnings(true)
        .cpp(cplusplus);
    let mut cmd = b.get_compiler().to_command();
    cmd.arg(format!("-I{}", root().join("include").display()));
    cmd
}

/// Compiles `src` (relative to the crate root) into an executable linked with libmba.so
/// (or libmba.a with `static_lib`), with `extra` compiler arguments. Returns its path.
pub fn build_with(src: &str, out_name: &str, extra: &[&str], static_lib: bool) -> PathBuf {
    // Once per test process: test threads share the result (and wait for each other here).
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(out_name) {
        return p.clone();
    }
    let out = compile(src, out_name, extra, static_lib);
    built.insert(out_name.to_owned(), out.clone());
    out
}

fn compile(src: &str, out_name: &str, extra: &[&str], static_lib: bool) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let lib = lib_dir();
    let out_dir = lib.join("mba-c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(out_name);
    // Built under a private name and renamed into place: concurrent test processes may race.
    let tmp =
        out_dir.join(format!(".{out_name}.{}.{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let cplusplus = extra.contains(&"-xc++");
    let mut cmd = compiler(cplusplus);
    // `-x none` ends any `-x c++` so the libraries that follow are taken as libraries.
    cmd.args(["-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .arg(root().join(src))
        .args(["-x", "none", "-o"])
        .arg(&tmp);
    if static_lib {
        cmd.arg(lib.join("libmba.a")).args(["-lpthread", "-ldl", "-lm"]);
    } else {
        // DT_RPATH (not RUNPATH): searched before LD_LIBRARY_PATH, which cargo points at
        // target/debug/, where an older uplifted libmba.so may lie.
        cmd.arg(format!("-L{}", lib.display()))
            .arg("-lmba")
            .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()));
    }
    let o = cmd.output().unwrap_or_else(|e| panic!("cannot run the C compiler: {e}"));
    assert!(
        o.status.success(),
        "compiling {src} failed:\n{:?}\n{}{}",
        cmd,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(8000)])
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Compiles `src` as C11 against libmba.so.
pub fn build(src: &str) -> PathBuf {
    let name = Path::new(src).file_stem().unwrap().to_str().unwrap();
    build_with(src, name, &["-std=c11", "-D_DEFAULT_SOURCE"], false)
}

/// Runs `prog` with `args`, asserts it exits 0, and returns its standard output.
pub fn run_ok(prog: &Path, args: &[&str]) -> String {
    let o = Command::new(prog).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{} {:?} failed ({}):\n{out}{}",
        prog.display(),
        args,
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Starts `prog` with `args` and waits for its first line, which must be `ready`; its stdout
/// stays piped, and what follows `ready` is the caller's to read.
pub fn start_until_ready(prog: &Path, args: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(prog).args(args).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    // Byte by byte, so that nothing after the first line is taken from the pipe.
    let out = child.stdout.as_mut().unwrap();
    std::io::BufReader::with_capacity(1, out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "{args:?}: {line}");
    child
}

/// Kills `child` with SIGKILL and checks that this, not something earlier, ended it.
pub fn kill9(child: &mut std::process::Child) {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL), "the child had died before the kill");
}

/// Runs `prog args` as root in a private mount namespace where a 256 KiB tmpfs is mounted on
/// `mount_point`; asserts it exits 0 and returns its stdout.
pub fn run_on_small_tmpfs(mount_point: &Path, prog: &Path, args: &[&str]) -> String {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test mounts a tmpfs in a private mount namespace: run as root"
    );
    let script =
        format!("mount -t tmpfs -o size=256k mba-test {} && exec \"$0\" \"$@\"", mount_point.display());
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .arg(prog)
        .args(args)
        .output()
        .expect("unshare (util-linux) is needed");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "died or failed ({}): {out}{}", o.status, String::from_utf8_lossy(&o.stderr));
    out
}
