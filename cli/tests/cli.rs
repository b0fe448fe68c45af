//! The `mba` command, run as a user runs it, against arrays made by C programs and by Python
//! (numpy): its output parsed back, its files read by numpy, its exit codes.
//!
//! Python: `$MBA_PYTHON` or `python3`, with numpy installed.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

const MBA: &str = env!("CARGO_BIN_EXE_mba");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where cargo put libmba.so for this build (beside the test executable).
fn lib_dir() -> PathBuf {
    let dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    assert!(dir.join("libmba.so").exists(), "no libmba.so in {}", dir.display());
    let soname = dir.join("libmba.so.0");
    if std::fs::symlink_metadata(&soname).is_err() {
        let _ = std::os::unix::fs::symlink("libmba.so", &soname);
    }
    dir
}

/// A unique shm array name, removed when dropped.
struct Name(String);
impl Name {
    fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!("mba-cli-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }
    fn uri(&self) -> String {
        format!("shm://{}", self.0)
    }
}
impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "mba-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mba(args: &[&str]) -> Output {
    Command::new(MBA).args(args).output().unwrap()
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `mba args`, asserts exit 0, returns stdout.
fn ok(args: &[&str]) -> String {
    let o = mba(args);
    assert_eq!(o.status.code(), Some(0), "mba {args:?}: {}{}", stdout_of(&o), stderr_of(&o));
    stdout_of(&o)
}

/// Runs `mba args`, asserts exit `code` with one line on stderr, returns that line.
fn fails(code: i32, args: &[&str]) -> String {
    let o = mba(args);
    assert_eq!(o.status.code(), Some(code), "mba {args:?}: {}{}", stdout_of(&o), stderr_of(&o));
    let e = stderr_of(&o);
    assert!(!e.contains("panicked"), "{e}");
    e
}

/// The C program that makes arrays (cli/tests/c/mkarray.c), built once against this build's library.
fn mkarray() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lib = lib_dir();
        let out = lib.join(format!("mba-cli-mkarray-{}", std::process::id()));
        let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(root().join("include"))
            .arg(root().join("cli/tests/c/mkarray.c"))
            .arg("-o")
            .arg(&out)
            .arg(format!("-L{}", lib.display()))
            .arg("-lmba")
            .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()))
            .status()
            .unwrap();
        assert!(st.success(), "compiling mkarray.c failed");
        out
    })
}

fn c_array(uri: &str, dtype: u32, n: u64) {
    let o = Command::new(mkarray()).args([uri, &dtype.to_string(), &n.to_string()]).output().unwrap();
    assert!(o.status.success(), "mkarray: {}", stderr_of(&o));
}

fn python() -> Command {
    let mut c = Command::new(std::env::var("MBA_PYTHON").unwrap_or_else(|_| "python3".into()));
    c.env("MBA_LIBRARY", lib_dir().join("libmba.so")).env("PYTHONPATH", root().join("bindings/python"));
    c
}

/// Runs a Python script (numpy and mba imported as np and mba), asserts success, returns stdout.
fn py(script: &str) -> String {
    let o = python()
        .arg("-c")
        .arg(format!("import numpy as np, mba, sys, json\n{script}"))
        .output()
        .expect("python3 with numpy is needed for the CLI tests (set MBA_PYTHON)");
    assert!(o.status.success(), "python failed:\n{script}\n{}", stderr_of(&o));
    stdout_of(&o)
}

/// Equal JSON, numbers compared as float32 when `single`.
fn same_values(a: &Value, b: &Value, single: bool) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_values(p, q, single))
        }
        (Value::Number(x), Value::Number(y)) if single => {
            x.as_f64().map(|v| v as f32) == y.as_f64().map(|v| v as f32)
        }
        _ => a == b,
    }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

#[test]
fn cat_json_of_c_arrays_parses_back_for_every_dtype() {
    // dtype code, and the value of element i as mkarray.c writes it (n = 10, s = i - 5).
    type Want = fn(i64) -> Value;
    let cases: [(u32, Want); 10] = [
        (1, |s| s.into()),
        (2, |s| (s + 5).into()),
        (3, |s| s.into()),
        (4, |s| (s + 5).into()),
        (5, |s| s.into()),
        (6, |s| (s + 5).into()),
        (7, |s| s.into()),
        (8, |s| (s + 5).into()),
        (9, |s| (s as f64 / 4.0).into()),
        (10, |s| (s as f64 / 3.0).into()),
    ];
    for (code, want) in cases {
        let n = Name::new("cat");
        c_array(&n.uri(), code, 10);
        let got = json(&ok(&["cat", &n.uri(), "--format", "json"]));
        let want: Vec<Value> = (-5..5).map(want).collect();
        assert_eq!(got, Value::Array(want.clone()), "dtype {code}");
        // Text and CSV: one value per line; the same numbers.
        let text = ok(&["cat", &n.0, "--format", "csv"]);
        let parsed: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(parsed, want.iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>(), "dtype {code}");
    }
}

#[test]
fn cat_selects_rows_and_writes_raw_bytes() {
    let n = Name::new("cat-sel");
    c_array(&n.uri(), 6, 100); // u32 0..99
    let nums = |s: String| s.lines().map(|l| l.parse::<u64>().unwrap()).collect::<Vec<_>>();
    assert_eq!(nums(ok(&["cat", &n.0, "--head", "3"])), [0, 1, 2]);
    assert_eq!(nums(ok(&["cat", &n.0, "--tail", "2"])), [98, 99]);
    assert_eq!(nums(ok(&["cat", &n.0, "--range", "10:13"])), [10, 11, 12]);
    assert_eq!(nums(ok(&["cat", &n.0, "--range", "98:"])), [98, 99]);
    assert_eq!(nums(ok(&["cat", &n.0, "--range", ":2"])), [0, 1]);
    assert_eq!(ok(&["cat", &n.0, "--range", "200:300"]), "");
    assert_eq!(json(&ok(&["cat", &n.0, "--head", "0", "--format", "json"])), json("[]"));
    let raw = mba(&["cat", &n.uri(), "--format", "raw"]).stdout;
    let want: Vec<u8> = (0..100u32).flat_map(u32::to_ne_bytes).collect();
    assert_eq!(raw, want);
}

#[test]
fn cat_of_a_python_array_with_nan_and_infinities() {
    let n = Name::new("cat-py");
    py(&format!(
        "a = mba.array('d', [1.5, float('nan'), float('inf'), -float('inf'), 1e300, -0.0], uri='{}')",
        n.uri()
    ));
    let text = ok(&["cat", &n.0]);
    assert_eq!(text, "1.5\nnan\ninf\n-inf\n1e300\n-0.0\n");
    // Python's json reads NaN and Infinity back.
    let back = py(&format!(
        "import subprocess\nv = json.loads(subprocess.run(['{MBA}', 'cat', '{}', '--format', 'json'], \
         capture_output=True, check=True).stdout)\nprint(repr(v))",
        n.uri()
    ));
    assert_eq!(back.trim(), "[1.5, nan, inf, -inf, 1e+300, -0.0]");
}

#[test]
fn export_never_writes_through_a_link_planted_at_its_temporary_name() {
    // The temporary's name (.FILE.mba-export.PID...) is predictable: in a directory others may
    // write, a symlink planted there made `export` truncate and overwrite the link's target,
    // then rename the link into place. The temporary is now made new (O_EXCL), never through a
    // link. `exec` keeps the shell's pid for mba, so the link carries mba's pid.
    let d = TempDir::new("export-link");
    let n = Name::new("export-link");
    c_array(&n.uri(), 2, 10);
    let victim = d.0.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = d.0.join("out.npy");
    let script = format!(
        "for n in '' .0 .1 .2; do ln -s {v} {dir}/.out.npy.mba-export.$$$n; done; exec {MBA} export {uri} {o}",
        v = victim.display(),
        dir = d.0.display(),
        uri = n.uri(),
        o = out.display()
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the link's target was overwritten");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file(), "out.npy is not a regular file: {meta:?}");
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x93NUMPY"));
}

#[test]
fn export_is_read_by_numpy_load() {
    let d = TempDir::new("export");
    for (code, np) in [(9u32, "float32"), (7, "int64"), (2, "uint8")] {
        let n = Name::new("export");
        c_array(&n.uri(), code, 1000);
        let file = d.0.join(format!("{np}.npy"));
        ok(&["export", &n.uri(), file.to_str().unwrap()]);
        let out = py(&format!(
            "x = np.load('{}')\na = mba.array.attach('{}').numpy()\nprint(x.dtype, x.shape, bool((x == a).all()))",
            file.display(),
            n.uri()
        ));
        assert_eq!(out.trim(), format!("{np} (1000,) True"));
    }
    // An empty array exports as shape (0,).
    let n = Name::new("export-empty");
    c_array(&n.uri(), 10, 0);
    let file = d.0.join("empty.npy");
    ok(&["export", &n.0, file.to_str().unwrap()]);
    assert_eq!(py(&format!("print(np.load('{}').shape)", file.display())).trim(), "(0,)");
    let leftovers: Vec<_> = std::fs::read_dir(&d.0)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn import_reads_what_numpy_save_wrote_in_every_format_version() {
    let d = TempDir::new("import");
    let file = |s: &str| d.0.join(s).to_str().unwrap().to_owned();
    py(&format!(
        "np.save('{}', np.arange(-50, 50, dtype=np.int16))\n\
         np.save('{}', np.linspace(0, 1, 7).astype('>f8'))\n\
         np.save('{}', np.array(3.25))\n\
         from numpy.lib import format as F\n\
         for v in [(1, 0), (2, 0), (3, 0)]:\n    \
             with open('{}' % v[0], 'wb') as f: F.write_array(f, np.arange(5, dtype=np.uint32), version=v)",
        file("i16.npy"),
        file("big.npy"),
        file("scalar.npy"),
        file("v%d.npy"),
    ));
    let check = |npy: &str, want: &str| {
        let n = Name::new("import");
        ok(&["import", &file(npy), &n.uri()]);
        let got = py(&format!("a = mba.array.attach('{}')\nprint(a.typecode, a.tolist())", n.uri()));
        assert_eq!(got.trim(), want, "{npy}");
    };
    check("i16.npy", &format!("h {:?}", (-50..50).collect::<Vec<i32>>()));
    check(
        "big.npy",
        "d [0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.6666666666666666, 0.8333333333333333, 1.0]",
    );
    check("scalar.npy", "d [3.25]");
    for v in 1..=3 {
        check(&format!("v{v}.npy"), "I [0, 1, 2, 3, 4]");
    }
    // What cannot be imported is a one-line error, and leaves no array behind.
    py(&format!(
        "np.save('{}', np.array(['a', 'b']))\nnp.save('{}', np.arange(4.0))\n\
         open('{}', 'wb').write(open('{}', 'rb').read()[:-8])",
        file("str.npy"),
        file("full.npy"),
        file("cut.npy"),
        file("full.npy")
    ));
    for (npy, why) in [("str.npy", "string dtype"), ("cut.npy", "truncated"), ("nope.npy", "No such file")] {
        let n = Name::new("import-bad");
        let e = fails(1, &["import", &file(npy), &n.uri()]);
        assert!(e.starts_with("mba: import ") && e.contains(why) && e.lines().count() == 1, "{npy}: {e}");
        assert!(!Path::new(&format!("/dev/shm/{}", n.0)).exists(), "{npy}: half-imported array left");
    }
    std::fs::write(file("text.npy"), "hello").unwrap();
    assert!(fails(1, &["import", &file("text.npy"), "shm://x"]).contains("not an npy file"));
}

#[test]
fn ls_json_lists_c_and_python_arrays_with_their_creators() {
    let d = TempDir::new("ls");
    let dir = d.0.to_str().unwrap();
    c_array(&format!("file://{dir}/from-c"), 5, 42);
    let mut held = python()
        .arg("-c")
        .arg(format!(
            "import mba, sys\na = mba.array('f', [1, 2, 3], uri='file://{dir}/from-py', mode=0o644)\nprint('ready', flush=True)\nsys.stdin.read()"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(held.stdout.as_mut().unwrap()), &mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    std::fs::write(d.0.join("README"), "not an array").unwrap();

    let v = json(&ok(&["ls", dir, "--json"]));
    let l = v.as_array().unwrap();
    assert_eq!(l.len(), 2, "{v}");
    let (c, p) = (&l[0], &l[1]);
    assert_eq!(c["uri"], format!("file://{dir}/from-c"));
    assert_eq!(
        (c["dtype"].as_str(), c["len"].as_u64(), c["shape"].clone()),
        (Some("int32"), Some(42), json("[42]"))
    );
    assert_eq!(c["creator_alive"], Value::Bool(false), "the C program exited");
    assert_eq!(
        (p["dtype"].as_str(), p["mode"].as_str(), p["len"].as_u64()),
        (Some("float32"), Some("0644"), Some(3))
    );
    assert_eq!(p["creator_alive"], Value::Bool(true));
    assert_eq!(p["creator_pid"].as_u64(), Some(held.id() as u64));
    for f in [
        "uri",
        "dtype",
        "shape",
        "len",
        "capacity",
        "bytes",
        "owner",
        "mode",
        "created",
        "creator_pid",
        "creator_alive",
    ] {
        assert!(c.get(f).is_some(), "field {f} missing: {c}");
    }
    assert!(c["bytes"].as_u64().unwrap() >= 4096 + 42 * 4);
    let table = ok(&["ls", dir]);
    assert!(table.starts_with("URI ") && table.contains("int32") && table.contains("(42,)"), "{table}");
    drop(held.stdin.take());
    assert!(held.wait().unwrap().success());
}

#[test]
fn info_shows_the_header_and_reports_corruption_in_one_line() {
    let n = Name::new("info");
    c_array(&n.uri(), 10, 5);
    let v = json(&ok(&["info", &n.uri(), "--json"]));
    assert_eq!(
        (v["magic"].as_str(), v["dtype"].as_str(), v["len"].as_u64()),
        (Some("MBARRAY"), Some("float64"), Some(5))
    );
    assert_eq!(
        (v["header_size"].as_u64(), v["data_offset"].as_u64(), v["status"].as_str()),
        (Some(256), Some(4096), Some("ok"))
    );
    let text = ok(&["info", &n.0]);
    assert!(
        text.lines().any(|l| l.starts_with("dtype ") && l.ends_with(" float64 (code 10, itemsize 8)")),
        "{text}"
    );
    // Corrupt the dtype: info still shows the header, and says what is wrong; cat refuses in one line.
    let path = format!("/dev/shm/{}", n.0);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &99u32.to_ne_bytes(), 20).unwrap();
    let v = json(&ok(&["info", &n.uri(), "--json"]));
    assert_eq!(v["status"], "corrupt");
    assert!(v["problem"].as_str().unwrap().contains("unknown dtype code 99"));
    let e = fails(1, &["cat", &n.uri()]);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with(&format!("mba: attach {}: unknown dtype code 99", n.uri())), "{e}");
}

#[test]
fn exit_codes_and_messages() {
    let missing = format!("shm://mba-cli-missing-{}", std::process::id());
    for args in [
        vec!["cat", missing.as_str()],
        vec!["info", missing.as_str()],
        vec!["export", missing.as_str(), "/tmp/never.npy"],
        vec!["watch", missing.as_str(), "--count", "1"],
        vec!["rm", missing.as_str()],
        vec!["ls", "/nonexistent-mba-dir"],
    ] {
        let e = fails(1, &args);
        assert!(e.starts_with("mba: ") && e.lines().count() == 1, "{args:?}: {e}");
        assert!(e.contains("No such file or directory"), "{args:?}: {e}");
    }
    // Misuse: exit 2 with clap's usage.
    for args in [
        vec!["frobnicate"],
        vec!["cat"],
        vec!["cat", "x", "--format", "yaml"],
        vec!["cat", "x", "--head", "1", "--tail", "1"],
        vec!["cat", "x", "--range", "1-2"],
        vec!["create", "x", "--dtype", "object"],
        vec!["create", "x", "--dtype", "f32", "--mode", "999"],
        vec!["gc", "--older-than", "soon"],
        vec!["gc", "--older-than", "999999999999999999999999w"],
        vec!["watch", "x", "--interval", "0"],
        vec!["watch", "x", "--interval", "1e-300"],
        vec!["create", "x", "--dtype", "f32", "--mode", "4755"],
        vec!["watch", "x", "--count", "0"],
        vec![],
    ] {
        let e = fails(2, &args);
        assert!(e.starts_with("error: ") || e.contains("Usage:"), "{args:?}: {e}");
    }
    // --help: exit 0 with examples, for every command.
    for cmd in ["ls", "info", "cat", "create", "rm", "watch", "export", "import", "gc"] {
        let h = ok(&[cmd, "--help"]);
        assert!(h.contains("Examples:\n  mba "), "{cmd}: {h}");
    }
    assert!(ok(&["--help"]).contains("Exit status"));
    assert!(ok(&["--version"]).starts_with("mba "));
}

#[test]
fn huge_shapes_and_counts_are_errors_not_panics() {
    let n = Name::new("huge");
    let two32 = (1u64 << 32).to_string();
    for (shape, dtype) in [
        (format!("0,{two32},{two32}"), "u8"), // the row's extents overflow
        (format!("0,{}", 1u64 << 61), "f64"), // the row's bytes overflow
        (format!("{},2", u64::MAX), "u8"),    // rows * row overflows
        (u64::MAX.to_string(), "u8"),
    ] {
        let e = fails(1, &["create", &n.uri(), "--dtype", dtype, "--shape", &shape]);
        assert!(
            e.starts_with(&format!("mba: create {}: ", n.uri())) && e.lines().count() == 1,
            "{shape}: {e}"
        );
        assert!(!Path::new(&format!("/dev/shm/{}", n.0)).exists(), "{shape}");
    }
    fails(1, &["create", &n.uri(), "--dtype", "u8", "--capacity", &u64::MAX.to_string()]);
    // Out of range on the command line: misuse.
    for args in [["--head", "-1"], ["--tail", "18446744073709551616"], ["--range", "-1:"]] {
        fails(2, &["cat", &n.uri(), args[0], args[1]]);
    }
}

/// Runs `mba args` with stdout (or, with `err`, stderr) on /dev/full, where every write fails.
fn mba_full(args: &[&str], err: bool) -> Output {
    let full = || Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    let mut c = Command::new(MBA);
    c.args(args);
    if err {
        c.stderr(full()).stdout(Stdio::piped());
    } else {
        c.stdout(full()).stderr(Stdio::piped());
    }
    c.output().unwrap()
}

#[test]
fn failed_writes_name_the_command_and_never_panic() {
    let n = Name::new("full");
    ok(&["create", &n.uri(), "--dtype", "u8", "--shape", "5"]);
    for args in [
        vec!["cat", n.0.as_str()],
        vec!["info", n.0.as_str(), "--json"],
        vec!["ls", "--json"],
        vec!["--help"],
        vec!["cat", "--help"],
        vec!["--version"],
    ] {
        let o = mba_full(&args, false);
        let e = stderr_of(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(
            e.contains("write to stdout: No space left on device") && e.lines().count() == 1,
            "{args:?}: {e}"
        );
        if args == ["cat", n.0.as_str()] {
            assert!(e.starts_with(&format!("mba: cat {}: ", n.uri())), "{e}");
        }
    }
    // A message that cannot be written: still exit 1 (misuse: 2), not a panic's 101.
    let missing = format!("shm://mba-cli-missing-{}", std::process::id());
    assert_eq!(mba_full(&["cat", &missing], true).status.code(), Some(1));
    assert_eq!(mba_full(&["frobnicate"], true).status.code(), Some(2));
}

#[test]
fn an_array_truncated_while_cat_reads_it_is_an_error_not_a_crash() {
    use std::io::Read;
    let n = Name::new("shrink");
    ok(&["create", &n.uri(), "--dtype", "u8", "--shape", &(4u64 << 20).to_string()]);
    let mut c = Command::new(MBA)
        .args(["cat", &n.uri(), "--format", "raw"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first bytes arrive, cat has attached and is blocked writing its first 1 MiB chunk
    // into the full pipe. Another process cuts the store to its header; cat reads on.
    let mut out = c.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    out.read_exact(&mut first).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/{}", n.0)).unwrap();
    f.set_len(4096).unwrap();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let o = c.wait_with_output().unwrap();
    let e = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{:?}: {e}", o.status);
    assert!(e.starts_with(&format!("mba: cat {}: ", n.uri())) && e.lines().count() == 1, "{e}");
    assert!(rest.len() + first.len() < 4 << 20);
}

#[test]
fn create_rm_and_watch() {
    let n = Name::new("create");
    ok(&["create", &n.uri(), "--dtype", "float32", "--shape", "4", "--mode", "0640"]);
    assert_eq!(json(&ok(&["cat", &n.0, "--format", "json"])), json("[0.0, 0.0, 0.0, 0.0]"));
    let v = json(&ok(&["info", &n.0, "--json"]));
    assert_eq!((v["mode"].as_str(), v["dtype"].as_str()), (Some("0640"), Some("float32")));
    let e = fails(1, &["create", &n.uri(), "--dtype", "u8"]);
    assert!(e.contains("File exists"), "{e}");
    ok(&["create", &n.uri(), "--dtype", "u8", "--overwrite"]);
    assert_eq!(json(&ok(&["info", &n.0, "--json"]))["dtype"], "uint8");

    let w = ok(&["watch", &n.0, "--count", "3", "--interval", "0.01"]);
    assert_eq!(w.lines().count(), 3, "{w}");
    assert!(w.lines().all(|l| l.contains("len 0") && l.contains("lease none")), "{w}");

    // rm: arrays go; other files only with --force; a failure among several is exit 1.
    let d = TempDir::new("rm");
    let txt = d.0.join("notes.txt");
    std::fs::write(&txt, "keep me").unwrap();
    let txt = txt.to_str().unwrap();
    let e = fails(1, &["rm", txt]);
    assert!(e.contains("not an mba array (use --force"), "{e}");
    assert!(Path::new(txt).exists());
    ok(&["rm", "--force", txt]);
    assert!(!Path::new(txt).exists());
    let m = Name::new("rm");
    ok(&["create", &m.0, "--dtype", "i8"]);
    let e = fails(1, &["rm", &m.0, "shm://mba-cli-not-there", &n.uri()]);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        !Path::new(&format!("/dev/shm/{}", m.0)).exists()
            && !Path::new(&format!("/dev/shm/{}", n.0)).exists()
    );
}

/// A process that holds `path` open (as its descriptor 3) from the return of `hold_open` until
/// `release`: an array in use, as gc sees it.
struct Holder(std::process::Child);

fn hold_open(path: &Path) -> Holder {
    let mut c = Command::new("sh")
        .args(["-c", "exec 3<\"$1\"; echo ready; read x", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(c.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    Holder(c)
}

impl Holder {
    fn release(mut self) {
        drop(self.0.stdin.take());
        self.0.wait().unwrap();
    }
}

#[test]
fn gc_finds_dead_creators_spares_held_arrays_and_removes_only_with_yes() {
    let d = TempDir::new("gc");
    let dir = d.0.to_str().unwrap();
    c_array(&format!("file://{dir}/orphan"), 8, 10);
    c_array(&format!("file://{dir}/held"), 8, 10);
    // A live process holds `held` open (its creator is dead, yet it is in use).
    let holder = hold_open(&d.0.join("held"));
    // Another is mapped by a live C program that also created it: alive, so never a candidate.
    let mut live = Command::new(mkarray())
        .args([&format!("file://{dir}/live"), "8", "10", "hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(live.stdout.as_mut().unwrap()), &mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    // A staging leftover of a dead process.
    let dead_pid = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    std::fs::copy(d.0.join("orphan"), d.0.join(format!(".orphan.mba-new.{dead_pid}.1.0"))).unwrap();

    let report = ok(&["gc", dir]);
    assert!(report.contains(&format!("file://{dir}/orphan")), "{report}");
    assert!(report.contains(&format!(".orphan.mba-new.{dead_pid}.1.0")), "{report}");
    assert!(!report.contains("held") && !report.contains("/live"), "{report}");
    assert!(report.contains("2 found") && report.contains("--yes"), "{report}");
    assert!(d.0.join("orphan").exists(), "nothing removed without --yes");
    assert!(ok(&["gc", dir, "--older-than", "1d"]).contains("nothing looks leaked"));

    let removed = ok(&["gc", dir, "--yes"]);
    assert_eq!(removed.lines().filter(|l| l.starts_with("removed ")).count(), 2, "{removed}");
    let left: Vec<String> = std::fs::read_dir(&d.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["held", "live"]);
    holder.release();
    drop(live.stdin.take());
    live.wait().unwrap();
    // Once nobody holds it, `held` goes too; `live`'s creator has exited now as well.
    let again = ok(&["gc", dir, "--yes"]);
    assert_eq!(again.lines().filter(|l| l.starts_with("removed ")).count(), 2, "{again}");
}

#[test]
fn gc_removes_exactly_the_file_it_inspected_even_with_a_name_that_is_not_utf8() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let d = TempDir::new("gc-bytes");
    let path = |name: &[u8]| d.0.join(OsString::from_vec(name.to_vec()));
    // A leaked array named "orphan\xff", and beside it one named as its lossy conversion shows it
    // ("orphan\u{fffd}"), leaked by its creator too but held open by a live process.
    let (leaked, twin) = (path(b"orphan\xff"), path("orphan\u{fffd}".as_bytes()));
    for p in [&leaked, &twin] {
        let mut uri = OsString::from("file://");
        uri.push(p);
        let o = Command::new(mkarray()).arg(&uri).args(["2", "3"]).output().unwrap();
        assert!(o.status.success(), "mkarray: {}", stderr_of(&o));
    }
    let holder = hold_open(&twin);
    let o = mba(&["gc", d.0.to_str().unwrap(), "--yes"]);
    holder.release();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout_of(&o), stderr_of(&o));
    assert!(twin.exists(), "the held array was removed: {}", stdout_of(&o));
    assert!(!leaked.exists(), "the leaked array is still there: {}", stdout_of(&o));
}

/// Runs `mba args` as user `nobody` (65534). The suite runs as root (scripts/test.sh says so);
/// this test is never skipped.
fn mba_as_nobody(args: &[&str]) -> Output {
    // SAFETY: geteuid cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test runs mba as nobody and must run as root");
    Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", MBA])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("setpriv: {e} (apt-get install util-linux)"))
}

#[test]
fn gc_by_a_user_never_removes_what_other_users_may_hold() {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("gc-users");
    std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = d.0.to_str().unwrap();
    // root's array, leaked by its creator, held open by a process of root that nobody cannot
    // inspect; nobody's own arrays: one only nobody may open, one everyone may read.
    c_array(&format!("file://{dir}/roots"), 2, 3);
    std::fs::set_permissions(d.0.join("roots"), std::fs::Permissions::from_mode(0o644)).unwrap();
    for (name, mode) in [("private", 0o600), ("shared", 0o644)] {
        c_array(&format!("file://{dir}/{name}"), 2, 3);
        std::os::unix::fs::chown(d.0.join(name), Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(d.0.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let holder = hold_open(&d.0.join("roots"));
    let o = mba_as_nobody(&["gc", dir, "--yes"]);
    holder.release();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout_of(&o), stderr_of(&o));
    assert!(d.0.join("roots").exists(), "another user's array in use was removed: {}", stdout_of(&o));
    assert!(d.0.join("shared").exists(), "an array others may hold was removed: {}", stdout_of(&o));
    assert!(!d.0.join("private").exists(), "{}{}", stdout_of(&o), stderr_of(&o));
    assert!(
        stderr_of(&o).contains("left alone: 1 files of other users, 1 of this user's"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn names_with_control_characters_are_escaped_in_text_output() {
    let d = TempDir::new("esc");
    let dir = d.0.to_str().unwrap();
    // Anyone may name a file in /dev/shm: this one clears the screen and breaks the line.
    let uri = format!("file://{dir}/evil\x1b[2J\nx");
    ok(&["create", &uri, "--dtype", "u8"]);
    let shown = format!("file://{dir}/evil\\x1b[2J\\nx");
    for args in [vec!["ls", dir], vec!["gc", dir], vec!["info", &uri]] {
        let out = ok(&args);
        assert!(!out.contains('\x1b') && out.contains(&shown), "{args:?}: {out:?}");
    }
    assert_eq!(ok(&["ls", dir]).lines().count(), 2, "a line per array");
    // JSON has its own escapes, and keeps the name as it is.
    assert_eq!(json(&ok(&["ls", dir, "--json"]))[0]["uri"], uri);
}

#[test]
fn shaped_arrays_and_new_dtypes_round_trip_bit_exactly_through_numpy() {
    let d = TempDir::new("shaped");
    let f = |s: &str| d.0.join(s).to_str().unwrap().to_owned();
    py(&format!(
        "rng = np.random.default_rng(7)\n\
         np.save('{}', (rng.standard_normal((4, 2, 3)) + 1j * rng.standard_normal((4, 2, 3))).astype(np.complex64))\n\
         np.save('{}', rng.standard_normal((3, 5)).astype(np.float16))\n\
         np.save('{}', rng.integers(0, 2, 7).astype(bool))\n\
         np.save('{}', np.array([[1 + 2j, -0.5 - 1e300j]], dtype='>c16'))",
        f("c64.npy"),
        f("f16.npy"),
        f("bool.npy"),
        f("c128be.npy")
    ));
    for (npy, shape, dtype) in [
        ("c64.npy", "[4,2,3]", "complex64"),
        ("f16.npy", "[3,5]", "float16"),
        ("bool.npy", "[7]", "bool"),
        ("c128be.npy", "[1,2]", "complex128"),
    ] {
        let n = Name::new("shaped");
        ok(&["import", &f(npy), &n.0]);
        let v = json(&ok(&["info", &n.0, "--json"]));
        assert_eq!((v["shape"].to_string(), v["dtype"].as_str()), (shape.to_owned(), Some(dtype)), "{npy}");
        let back = f(&format!("back-{npy}"));
        ok(&["export", &n.0, &back]);
        let same = py(&format!(
            "a, b = np.load('{}'), np.load('{}')\n\
             print(a.shape == b.shape, a.dtype.newbyteorder('=') == b.dtype, \
             a.astype(b.dtype).tobytes() == b.tobytes())",
            f(npy),
            back
        ));
        assert_eq!(same.trim(), "True True True", "{npy}");
        // JSON: nested rows; complex as [re, im]; bool as true/false.
        let got = json(&ok(&["cat", &n.0, "--format", "json"]));
        let want = json(&py(&format!(
            "a = np.load('{}')\n\
             a = np.stack([a.real, a.imag], -1) if a.dtype.kind == 'c' else a\n\
             print(json.dumps(a.astype(float).tolist() if a.dtype.kind == 'f' and a.itemsize == 2 else a.tolist()))",
            f(npy)
        )));
        // Single-precision values are printed as the shortest text of the same float32.
        let single = matches!(dtype, "float16" | "complex64");
        assert!(same_values(&got, &want, single), "{npy}:\n{got}\n{want}");
    }
    // Rows of a shaped array: --head counts rows; text prints one row per line.
    let n = Name::new("shaped-rows");
    ok(&["create", &n.0, "--dtype", "int32", "--shape", "3,2"]);
    assert_eq!(ok(&["cat", &n.0, "--head", "2"]), "0 0\n0 0\n");
    assert_eq!(
        json(&ok(&["ls", "--json"])).as_array().unwrap().iter().find(|e| e["uri"] == n.uri()).unwrap()
            ["shape"],
        json("[3, 2]")
    );
}

#[test]
fn make_install_files_installs_the_command() {
    let d = TempDir::new("install");
    let prefix = d.0.join("prefix");
    let o = Command::new("make")
        .current_dir(root())
        .args(["-s", "install-files"])
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("LIBSRC={}", lib_dir().display()))
        .arg(format!("MBA_BIN={MBA}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout_of(&o), stderr_of(&o));
    let installed = prefix.join("bin/mba");
    let v = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(stdout_of(&v).trim(), format!("mba {}", env!("CARGO_PKG_VERSION")));
    let o = Command::new("make")
        .current_dir(root())
        .args(["-s", "uninstall"])
        .arg(format!("PREFIX={}", prefix.display()))
        .output()
        .unwrap();
    assert!(o.status.success() && !installed.exists());
}
