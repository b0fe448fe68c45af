//! The C programs under AddressSanitizer + UndefinedBehaviorSanitizer, and under Valgrind:
//! zero reports. Both tools are required: a missing one fails the test, naming its package.

mod common;
use common::cprog::{build, build_with};
use common::Name;
use std::process::Command;

const PROGRAMS: [&str; 2] = ["tests/c/api_tour.c", "examples/c/quickstart.c"];
const WITH_CPP: [&str; 3] = ["tests/c/api_tour.c", "examples/c/quickstart.c", "tests/cpp/array_test.cpp"];

#[test]
fn c_programs_are_clean_under_asan_and_ubsan() {
    for src in WITH_CPP {
        let stem = std::path::Path::new(src).file_stem().unwrap().to_str().unwrap();
        let flags = [
            "-std=c11",
            "-D_DEFAULT_SOURCE",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ];
        let cxx = ["-xc++", "-std=c++17", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
        let prog = if src.ends_with(".cpp") {
            build_with(src, &format!("{stem}_asan"), &cxx, false)
        } else {
            build_with(src, &format!("{stem}_asan"), &flags, false)
        };
        // The sanitizer runtimes really are linked, not only asked for.
        let ldd = String::from_utf8(Command::new("ldd").arg(&prog).output().expect("ldd").stdout).unwrap();
        assert!(ldd.contains("libasan") && ldd.contains("libubsan"), "sanitizers not linked:\n{ldd}");
        let n = Name::new(&format!("asan-{stem}"));
        let o = Command::new(&prog)
            .arg(n.uri())
            .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:halt_on_error=1")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{src} under ASan/UBSan: {}\n{out}{err}", o.status);
        assert!(!err.contains("Sanitizer") && !err.contains("runtime error"), "{src}: {err}");
        match stem {
            "api_tour" => assert_eq!(out, "asan\ntour ok\n", "built with ASan and every check passed"),
            "array_test" => assert_eq!(out, "cpp ok\n"),
            _ => {}
        }
    }
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    common::require_tool("valgrind", "valgrind");
    for src in PROGRAMS {
        let prog = build(src);
        let n = Name::new("valgrind");
        let o = Command::new("valgrind")
            .args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q"])
            .arg(&prog)
            .arg(n.uri())
            .output()
            .expect("valgrind is required (apt-get install valgrind)");
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{src} under valgrind: {}\n{out}{err}", o.status);
        assert!(!err.contains("== ERROR SUMMARY") || err.contains("ERROR SUMMARY: 0 errors"), "{err}");
    }
}
