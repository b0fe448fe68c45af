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
#   readme  tests/readme.sh: a fresh clone runs every command and snippet of README.md, twice
#           (in the background, beside the other parts, which leave much of the 2 cores idle;
#           its log is printed after theirs)
#
# Needs root (one test mounts a tmpfs in a private mount namespace, another drops to `nobody`),
# a Rust toolchain, and gcc, g++, make, cmake, pkg-config, valgrind, binutils, git, go and
# python3 with venv. As root it installs the missing ones with apt-get; otherwise it names them
# and the command that gets them. A missing tool is a failure, never a skipped test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(rust python go fuzz readme)
step() { printf '\n== [%3d s] test.sh: %s\n' "$SECONDS" "$*"; }

[ "$(id -u)" = 0 ] || {
  echo "test.sh: the full suite needs root (it mounts a tmpfs in a private mount namespace and runs a" >&2
  echo "  program as nobody); run: sudo env \"PATH=\$PATH\" scripts/test.sh" >&2
  exit 1
}
mba_need cargo:- cc:gcc c++:g++ make:make pkg-config:pkg-config git:git readelf:binutils ldd:libc-bin \
  unshare:util-linux mount:mount cmake:cmake valgrind:valgrind go:golang-go python3:python3 venv:python3-venv

readme_pid=
if [[ " ${parts[*]} " == *" readme "* ]]; then
  mba_need boost:libboost-dev   # for the README's benchmark command
  readme_log=$(mktemp)
  step "README.md, every command and snippet, twice, in a fresh clone (tests/readme.sh): started in the background"
  setsid tests/readme.sh >"$readme_log" 2>&1 &
  readme_pid=$!
  # Stop it (its whole process group) if this script ends first, on a failure.
  trap '[ -z "$readme_pid" ] || kill -- -"$readme_pid" 2>/dev/null || true' EXIT
fi

# target/venv: the Python of the tests (the mba command's and the binding's). Nothing is
# installed into the system's Python. SharedArray (for the parity suite) is a C extension that
# imports numpy when it builds: it is built against the numpy installed first.
venv() {
  [ -x target/venv/bin/python ] || python3 -m venv target/venv
  target/venv/bin/pip install --quiet --disable-pip-version-check numpy pytest wheel setuptools smmap
  target/venv/bin/pip install --quiet --disable-pip-version-check --no-build-isolation SharedArray
}

# The interpreter of Python $1 (3.11, 3.13): pyenv's, installed if missing; never skipped.
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

# The library of this build, for the bindings: target/debug/libmba.so, its SONAME link and
# target/debug/pkgconfig/mba.pc, as `make` leaves them for a release build.
dev_lib() { make -s PROFILE=dev CARGO='cargo -q' >/dev/null; }

for part in "${parts[@]}"; do
  case "$part" in
    rust)
      step "cargo test -p mba -p mba-cli --no-fail-fast"
      venv
      MBA_PYTHON="$PWD/target/venv/bin/python" cargo test -p mba -p mba-cli --no-fail-fast
      ;;
    python)
      step "Python binding: mba/_speedups, then pytest in target/venv"
      dev_lib
      venv
      lib="$PWD/target/debug/libmba.so"
      # Built by the venv's Python (3.11 or newer: the 3.11 stable ABI, with mba.array's C buffer
      # protocol); the same module serves the 3.13 run below.
      (cd bindings/python && ../../target/venv/bin/python setup.py -q build_ext --inplace)
      MBA_LIBRARY="$lib" target/venv/bin/python -m pytest -q bindings/python/tests \
        --deselect bindings/python/tests/test_cpython_suite.py
      step "Python binding without mba/_speedups (ctypes only)"
      MBA_NO_SPEEDUPS=1 MBA_LIBRARY="$lib" target/venv/bin/python -m pytest -q \
        bindings/python/tests/test_array.py bindings/python/tests/test_concurrency.py bindings/python/tests/test_views.py
      for v in 3.11 3.13; do
        step "Python $v: CPython's test_array against mba.array (floors: bindings/python/tests/cpython_floor.json)"
        py=$(python_of "$v")
        pv="target/py$v"
        [ -x "$pv/bin/python" ] || "$py" -m venv "$pv"
        "$pv/bin/pip" install --quiet --disable-pip-version-check numpy pytest smmap
        if [ "$v" != 3.11 ]; then   # 3.11 is the venv's Python, tested above
          MBA_LIBRARY="$lib" "$pv/bin/python" -m pytest -q bindings/python/tests \
            --deselect bindings/python/tests/test_cpython_suite.py --deselect bindings/python/tests/test_wheel.py \
            --deselect bindings/python/tests/test_sharedarray.py
        fi
        MBA_LIBRARY="$lib" "$pv/bin/python" bindings/python/tests/cpython_suite.py --check-floor
        MBA_NO_SPEEDUPS=1 MBA_LIBRARY="$lib" "$pv/bin/python" bindings/python/tests/cpython_suite.py --check-floor
      done
      ;;
    go)
      step "Go binding: gofmt, go vet, go test"
      dev_lib
      (
        cd bindings/go
        export PKG_CONFIG_PATH="$PWD/../../target/debug/pkgconfig"
        unformatted=$(gofmt -l . ../../examples/go)
        [ -z "$unformatted" ] || { echo "test.sh: gofmt wants changes in: $unformatted" >&2; exit 1; }
        go vet ./...
        go test -count=1 -v ./...
      )
      ;;
    fuzz)
      seconds="${MBA_FUZZ_SECONDS:-20}"
      step "fuzzing: each target for $seconds s, built with plain cargo (no cargo-fuzz)"
      host=$(rustc -vV | sed -n 's/^host: //p')
      # What cargo-fuzz passes: coverage instrumentation for libFuzzer, AddressSanitizer, and
      # the `fuzzing` cfg. --target keeps the flags off build scripts and proc-macros.
      flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
      flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
      flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address"
      flags+=" -Cdebug-assertions -Coverflow-checks"
      (cd fuzz && RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" cargo build -q --release --target "$host" --bins)
      pids=()
      for target in attach api_sequence; do
        scratch=$(mktemp -d)   # new inputs go here; the committed seeds in fuzz/corpus stay as they are
        mkdir -p "fuzz/artifacts/$target"
        "fuzz/target/$host/release/$target" -max_total_time="$seconds" -print_final_stats=1 \
          -artifact_prefix="fuzz/artifacts/$target/" "$scratch" "fuzz/corpus/$target" >"$scratch.log" 2>&1 &
        pids+=("$!:$target:$scratch")
      done
      for p in "${pids[@]}"; do   # the targets run at once, one core each
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
      ;;
    readme) ;;   # started above, waited for below
    *)
      echo "test.sh: unknown part '$part' (parts: rust python go fuzz readme)" >&2
      exit 2
      ;;
  esac
done
if [ -n "$readme_pid" ]; then
  step "README.md, every command and snippet, twice, in a fresh clone (tests/readme.sh): its log"
  status=0
  wait "$readme_pid" || status=$?
  readme_pid=
  cat "$readme_log"
  rm -f "$readme_log"
  [ "$status" = 0 ] || { echo "test.sh: tests/readme.sh failed (exit $status)" >&2; exit 1; }
fi
step "all requested parts passed: ${parts[*]}"
