#!/usr/bin/env bash
# Every test of mba: `scripts/test.sh`, or some parts of it: `scripts/test.sh python go`.
#
#   rust    cargo test -p mba -p mba-cli: the Rust unit and integration tests, the C and C++
#           harness under ASan, UBSan and Valgrind, the multi-process stress, crash and
#           hostile-peer tests, the install test (make install, pkg-config and CMake consumers),
#           and the mba command's tests (with target/venv's python and numpy)
#   python  the Python binding: mba/_speedups built, its pytest suite in target/venv (numpy,
#           pytest, smmap, and SharedArray for the parity suites), again without the C module,
#           and CPython's own test_array against mba.array on Python 3.11 and 3.13 (pyenv's,
#           installed if missing) with the floors of bindings/python/tests/cpython_floor.json
#   go      gofmt, go vet and go test of the Go binding, against this build's library
#   fuzz    both fuzz targets, built with plain cargo (libFuzzer and ASan), MBA_FUZZ_SECONDS each (20)
#   readme  tests/readme.sh: a fresh clone runs every command and snippet of README.md, twice (the
#           benchmark once)
#
# Timing (2 cores): many tests wait on other processes, so the parts run side by side as jobs,
# each with a log of its own, printed in a fixed order when all have ended; a failure in any
# fails the run. The README test (in its own clone) and the virtualenvs (network-bound) start at
# once; when target/debug/libmba.so is built, the Python suites of 3.11 and 3.13, Go, the Rust
# tests (built, then their binaries a few at a time) and fuzzing. Tests use unique names, so they
# may run together. Each job's log ends with the CPU time it used.
#
# Needs root (one test mounts a tmpfs in a private mount namespace, another drops to `nobody`),
# a Rust toolchain, and gcc, g++, make, cmake, pkg-config, valgrind, mold, binutils, git, go and
# python3 with venv. As root it installs the missing ones with apt-get; otherwise it names them
# and the command that gets them. A missing tool is a failure, never a skipped test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
# Seconds since the start of the whole run (jobs are processes of their own).
: "${MBA_TEST_T0:=$(date +%s)}"
export MBA_TEST_T0
step() { printf '\n== [%3d s] test.sh: %s\n' $(($(date +%s) - MBA_TEST_T0)) "$*"; }

# Python $1 (3.11, 3.13): pyenv's interpreter, installed if missing; never skipped.
python_of() {
  local v=$1 root py=
  if command -v pyenv >/dev/null 2>&1 || [ -x "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv" ]; then
    export PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}" PATH="${PYENV_ROOT:-$HOME/.pyenv}/bin:$PATH"
    root=$(pyenv root)
    py=$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1)
    if [ -z "$py" ]; then
      pyenv install -s "$v" >&2
      py=$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1)
    fi
  fi
  [ -n "$py" ] || py=$(command -v "python$v" || true)
  [ -n "$py" ] || { echo "test.sh: Python $v not found, and pyenv cannot install it (https://github.com/pyenv/pyenv)" >&2; return 1; }
  echo "$py"
}

# The tests' virtualenvs (nothing is installed into the system's Python): `pyvenv DIR VERSION
# [PACKAGE...]` makes DIR with Python VERSION as python_of finds it (pyenv's, with its own test
# package, for CPython's test_array) and installs numpy, pytest, setuptools, smmap, the
# PACKAGEs, then SharedArray (for the parity suite), a C extension built against that numpy.
#   target/venv     Python 3.11, and wheel (the wheel test): the mba command's tests, the
#                   binding's suite and CPython's test_array on 3.11
#   target/py3.13   the binding's suite and CPython's test_array on 3.13
pyvenv() {
  local dir=$1 v=$2
  shift 2
  step "$dir: Python $v with numpy, pytest, setuptools, smmap, SharedArray${*:+, $*}"
  [ -x "$dir/bin/python" ] || "$(python_of "$v")" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-compile numpy pytest setuptools smmap "$@"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-compile --no-build-isolation SharedArray
}

# The library of this build, for the bindings: target/debug/libmba.so, its SONAME link and
# target/debug/pkgconfig/mba.pc, as `make` leaves them for a release build.
lib="$PWD/target/debug/libmba.so"
dev_lib() { make -s PROFILE=dev CARGO='cargo -q' >/dev/null; }

# The Rust tests, as `cargo test -p mba -p mba-cli` runs them, but several test binaries at once
# (cargo runs one after another, and most of them wait on child processes). cargo test builds
# them and runs each through scripts/test-runner.sh, which records the command, its directory and
# the environment cargo gives it; rust_run then runs the recorded commands, RUST_JOBS at a time.
# The doc tests are rustdoc's: run as usual, by rust_build.
rust_build() {
  rm -rf target/rust-tests
  mkdir -p target/rust-tests
  local host
  host=$(rustc -vV | sed -n 's/^host: //p' | tr a-z- A-Z_)
  env "CARGO_TARGET_${host}_RUNNER=$PWD/scripts/test-runner.sh" MBA_TEST_RECORD="$PWD/target/rust-tests" \
    MBA_PYTHON="$PWD/target/venv/bin/python" cargo test -p mba -p mba-cli --lib --bins --tests --no-fail-fast
  cargo test -p mba --doc
}
rust_tests() {
  step "cargo test -p mba -p mba-cli: building the tests"
  rust_build
  rust_run
}
rust_run() {
  local dir=$PWD/target/rust-tests t failed=()
  step "cargo test -p mba -p mba-cli: the test binaries, ${RUST_JOBS:-2} at a time"
  for t in "$dir"/*.args; do
    t=${t%.args}
    while [ "$(jobs -rp | wc -l)" -ge "${RUST_JOBS:-2}" ]; do wait -n || true; done
    (
      mapfile -d '' envs <"$t.env"
      mapfile -d '' cmd <"$t.args"
      cd "$(cat "$t.cwd")"
      echo "     Running ${cmd[0]}"
      rc=0
      env -i "${envs[@]}" "${cmd[@]}" || rc=$?
      echo "$rc" >"$t.rc"
      times >"$t.cpu"   # this shell's, then its children's: user and system CPU time
      echo "(CPU time of the binary and its children, user and system: $(tail -n1 "$t.cpu"))"
    ) >"$t.log" 2>&1 &
  done
  wait
  for t in "$dir"/*.args; do
    t=${t%.args}
    cat "$t.log"
    [ "$(cat "$t.rc" 2>/dev/null)" = 0 ] || failed+=("$(head -zn1 "$t.args" | tr -d '\0')")
  done
  [ "${#failed[@]}" = 0 ] || { echo "test.sh: Rust test binaries failed: ${failed[*]}" >&2; return 1; }
}

# test_cpython_suite.py is what cpython_suite below runs (with mba/_speedups); it is left out of
# the pytest runs, not run twice. (--ignore takes a path; --deselect takes node ids, which are
# relative to pytest's rootdir, bindings/python.)
python_311() {
  step "Python binding: pytest in target/venv (Python 3.11)"
  # The wheel test's `pip wheel` builds libmba with cargo: the dev build that is already there
  # (MBA_CARGO_PROFILE, read by setup.py), not a release build of its own.
  # In a target directory of its own: `cargo build --lib` of mba alone resolves other features
  # than the tests' build, and would rebuild target/debug's libmba.so while tests use it. Given
  # as CARGO_BUILD_TARGET_DIR, as a cargo configuration's build.target-dir would be: setup.py
  # takes the library from where cargo says it built it.
  CARGO_BUILD_TARGET_DIR="$PWD/target/wheel" MBA_CARGO_PROFILE=dev MBA_LIBRARY="$lib" \
    target/venv/bin/python -m pytest -q bindings/python/tests --ignore bindings/python/tests/test_cpython_suite.py
}
python_ctypes() {
  step "Python binding without mba/_speedups (ctypes only)"
  MBA_NO_SPEEDUPS=1 MBA_LIBRARY="$lib" target/venv/bin/python -m pytest -q \
    bindings/python/tests/test_array.py bindings/python/tests/test_concurrency.py bindings/python/tests/test_views.py
  cpython_suite 3.11
}
python_313() {
  step "Python binding: pytest in target/py3.13"
  # The wheel test runs on 3.11 only: two `pip wheel` at once would share bindings/python/build.
  MBA_LIBRARY="$lib" target/py3.13/bin/python -m pytest -q bindings/python/tests \
    --ignore bindings/python/tests/test_cpython_suite.py --ignore bindings/python/tests/test_wheel.py
  cpython_suite 3.13
}
cpython_suite() {
  local v=$1 py="target/py$1/bin/python"
  [ "$v" != 3.11 ] || py=target/venv/bin/python
  step "Python $v: CPython's test_array against mba.array (floors: bindings/python/tests/cpython_floor.json)"
  MBA_LIBRARY="$lib" "$py" bindings/python/tests/cpython_suite.py --check-floor
  MBA_NO_SPEEDUPS=1 MBA_LIBRARY="$lib" "$py" bindings/python/tests/cpython_suite.py --check-floor
}

go_test() {
  step "Go binding: gofmt, go vet, go test"
  cd bindings/go
  export PKG_CONFIG_PATH="$PWD/../../target/debug/pkgconfig"
  unformatted=$(gofmt -l . ../../examples/go)
  [ -z "$unformatted" ] || { echo "test.sh: gofmt wants changes in: $unformatted" >&2; exit 1; }
  go vet ./...
  go test -count=1 -v ./...
}

fuzz() {
  local seconds="${MBA_FUZZ_SECONDS:-20}" host flags target scratch p pid pids=()
  step "fuzzing: each target for $seconds s, built with plain cargo (no cargo-fuzz)"
  host=$(rustc -vV | sed -n 's/^host: //p')
  # What cargo-fuzz passes: coverage instrumentation for libFuzzer, AddressSanitizer, and
  # the `fuzzing` cfg. --target keeps the flags off build scripts and proc-macros.
  flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
  flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
  flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address"
  flags+=" -Cdebug-assertions -Coverflow-checks"
  (cd fuzz && RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" cargo build -q --release --target "$host" --bins)
  for target in attach api_sequence; do
    scratch=$(mktemp -d)   # new inputs go here; the committed seeds in fuzz/corpus stay as they are
    mkdir -p "fuzz/artifacts/$target"
    "fuzz/target/$host/release/$target" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$target/" "$scratch" "fuzz/corpus/$target" >"$scratch.log" 2>&1 &
    pids+=("$!:$target:$scratch")
  done
  for p in "${pids[@]}"; do   # the targets run at once
    IFS=: read -r pid target scratch <<<"$p"
    if ! wait "$pid"; then
      tail -n 60 "$scratch.log"
      echo "test.sh: fuzz target $target failed or found a crash (see fuzz/artifacts/$target)" >&2
      exit 1
    fi
    done_line=$(grep -E "^Done [0-9]+ runs" "$scratch.log") ||
      { tail -n 20 "$scratch.log"; echo "test.sh: fuzz target $target did not run" >&2; exit 1; }
    echo "fuzz $target: $done_line"
    rm -rf "$scratch" "$scratch.log"
  done
}

readme() {
  step "README.md, every command and snippet, twice, in a fresh clone (tests/readme.sh)"
  tests/readme.sh
}

# `test.sh --job FUNCTION ARGS...`: one of the functions above, run as a job (see start below).
if [ "${1:-}" = --job ]; then
  shift
  "$@"
  cpu=$(mktemp)
  times >"$cpu"   # this shell's CPU time, then its (waited-for) children's
  echo "(job $1: CPU time of its processes, user and system: $(tail -n1 "$cpu"))"
  rm -f "$cpu"
  exit 0
fi

parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(rust python go fuzz readme)
has() { [[ " ${parts[*]} " == *" $1 "* ]]; }
for part in "${parts[@]}"; do
  case "$part" in
    rust|python|go|fuzz|readme) ;;
    *) echo "test.sh: unknown part '$part' (parts: rust python go fuzz readme)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || {
  echo "test.sh: the full suite needs root (it mounts a tmpfs in a private mount namespace and runs a" >&2
  echo "  program as nobody); run: sudo env \"PATH=\$PATH\" scripts/test.sh" >&2
  exit 1
}
mba_need cargo:- cc:gcc c++:g++ make:make pkg-config:pkg-config git:git readelf:binutils ldd:libc-bin \
  unshare:util-linux mount:mount cmake:cmake valgrind:valgrind mold:mold go:golang-go python3:python3 venv:python3-venv
! has readme || mba_need boost:libboost-dev   # for the README's benchmark command

# Jobs: `start NAME FUNCTION ARGS...` runs `test.sh --job FUNCTION ARGS...` in the background, in
# a process group of its own, its output in $logs/NAME; `finish NAME...` waits for them, prints
# their logs in that order, and fails if any failed. When this script ends early (a failure),
# every job still running is stopped, its whole process group. The jobs stay in this session
# (set -m, not setsid): Linux shares the CPU fairly between sessions (autogroups), and the README
# test, the longest chain of work, has one of its own.
logs=$(mktemp -d)
declare -A pid_of=()
trap 'for p in "${pid_of[@]}"; do kill -- -"$p" 2>/dev/null || true; done; rm -rf "$logs"' EXIT
trap 'exit 143' TERM INT
start() {
  local name=$1
  shift
  set -m
  "$0" --job "$@" >"$logs/$name" 2>&1 &
  pid_of[$name]=$!
  set +m
}
finish() {
  local name failed=()
  for name in "$@"; do
    wait "${pid_of[$name]}" || failed+=("$name")
    unset "pid_of[$name]"
  done
  for name in "$@"; do cat "$logs/$name"; done
  [ "${#failed[@]}" = 0 ] || { echo "test.sh: failed: ${failed[*]} (their logs above)" >&2; exit 1; }
}

# 1. Started at once: the README test (its own clone and builds) and the virtualenvs.
ran=()
if has readme; then
  setsid "$0" --job readme >"$logs/readme" 2>&1 &
  pid_of[readme]=$!
  ran+=(readme)
fi
if has rust || has python; then start venv pyvenv target/venv 3.11 wheel; fi
if has python; then start py3.13 pyvenv target/py3.13 3.13; fi

# 2. The library of the bindings first: the Python suites, the longest part, start as soon as it
#    and the virtualenvs are there; the Rust tests are built and run beside them (the test build
#    leaves target/debug/libmba.so as it is), fuzzing too (in fuzz/target).
if has python || has go; then
  step "target/debug/libmba.so for the bindings (make PROFILE=dev)"
  dev_lib
fi
if has go; then start go go_test; ran+=(go); fi
if has rust || has python; then finish venv; fi
if has python; then
  finish py3.13
  step "Python binding: mba/_speedups, built in place by target/venv's Python"
  # Built by the venv's Python (3.11 or newer: the 3.11 stable ABI, with mba.array's C buffer
  # protocol); the same module serves the 3.13 run.
  (cd bindings/python && ../../target/venv/bin/python setup.py -q build_ext --inplace)
  start python_311 python_311
  start python_ctypes python_ctypes
  start python_313 python_313
  ran+=(python_311 python_ctypes python_313)
fi
if has rust; then start rust rust_tests; ran+=(rust); fi
if has fuzz; then start fuzz fuzz; ran+=(fuzz); fi
[ "${#ran[@]}" = 0 ] || finish "${ran[@]}"
step "all requested parts passed: ${parts[*]}"
