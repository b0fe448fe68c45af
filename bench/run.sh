#!/usr/bin/env bash
# The benchmark: builds everything in release mode, runs mba's own C-ABI benchmark and the
# comparison against the tools users would pick instead (plain POSIX calls, std::vector,
# Boost.Interprocess, array.array, mmap_backed_array, SharedArray, numpy.memmap,
# multiprocessing.shared_memory, Go), and writes docs/BENCHMARKS.md and docs/benchmarks.png.
# Installs what it needs: Debian's libboost-dev and golang-go (as root), and a venv in
# bench/out/venv with numpy, matplotlib, SharedArray and mmap_backed_array.
# Usage: bench/run.sh [N] [RUNS]   (defaults MBA_BENCH_N or 10000000, and MBA_BENCH_RUNS or 5;
# MBA_BENCH_OUT, MBA_BENCH_PNG redirect the outputs)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-${MBA_BENCH_N:-10000000}}"
runs="${2:-${MBA_BENCH_RUNS:-5}}"
out="${MBA_BENCH_OUT:-docs/BENCHMARKS.md}"
png="${MBA_BENCH_PNG:-docs/benchmarks.png}"

missing=()
[ -f /usr/include/boost/interprocess/managed_shared_memory.hpp ] || missing+=(libboost-dev)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
venv=bench/out/venv
mkdir -p bench/out
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-compile numpy matplotlib SharedArray mmap_backed_array setuptools smmap

make -s   # target/release/libmba.so, its SONAME link libmba.so.0, and pkgconfig/mba.pc
(cd bindings/python && "../../$venv/bin/python" setup.py -q build_ext --inplace)   # mba/_speedups beside the sources
lib=(-Ltarget/release -lmba -Wl,-rpath,"$PWD/target/release")
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/bench.c -o bench/out/bench "${lib[@]}"
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/window.c -o bench/out/window_bench "${lib[@]}"
g++ -O2 -std=c++17 -Wall -Wextra -Werror -Iinclude bench/compare/native.cpp -o bench/out/native "${lib[@]}" -lrt -lpthread
(cd bench/compare/go && PKG_CONFIG_PATH="$PWD/../../../target/release/pkgconfig" go build -o ../../out/mbabench .)

echo "== mba through its C ABI"
bench/out/bench "$n" "$runs" | tee bench/out/cabi.md
echo "== native comparison"
bench/out/native "$n" "$runs" | tee bench/out/results.jsonl
echo "== Python comparison"
MBA_LIBRARY="$PWD/target/release/libmba.so" "$venv/bin/python" bench/compare/python_peers.py "$n" "$runs" | tee -a bench/out/results.jsonl
echo "== Go"
bench/out/mbabench "$n" "$runs" | tee -a bench/out/results.jsonl
# The windowed reader: a file four times the memory budget (64 MiB, or 16 MiB for short runs),
# 200,000 random reads from C and 20,000 from Python (a tenth of that for runs under a million).
wbudget=$(( n >= 10000000 ? 64 : 16 ))
wreads=$(( n >= 1000000 ? 200000 : 20000 ))
echo "== windowed reader, C (budget $wbudget MiB)"
bench/out/window_bench bench/out "$wbudget" "$runs" "$wreads" | tee -a bench/out/results.jsonl
echo "== windowed reader, Python: mba.smmap and smmap"
MBA_LIBRARY="$PWD/target/release/libmba.so" "$venv/bin/python" bench/compare/window_peers.py bench/out "$wbudget" "$runs" \
  "$((wreads / 10))" | tee -a bench/out/results.jsonl

peers=$("$venv/bin/python" -c "import numpy, SharedArray, matplotlib; from importlib.metadata import version as v; print(f'numpy {numpy.__version__}, SharedArray {v(\"SharedArray\")}, mmap_backed_array {v(\"mmap_backed_array\")}, smmap {v(\"smmap\")}, matplotlib {matplotlib.__version__}')")
boost=$(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp)
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`bench/run.sh\` on $(date -u +%Y-%m-%d); do not edit by hand. The whole run takes a few minutes."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)."
  echo "Versions: mba $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2), $(rustc --version), $(cc --version | head -1), Boost $boost, $(go version | cut -d' ' -f3), Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'), $peers."
  echo "Library: target/release/libmba.so (thin LTO). $n elements (u32) unless said; median of $runs runs after a warm-up."
} > bench/out/header.md
"$venv/bin/python" bench/compare/report.py bench/out/results.jsonl bench/out/cabi.md "$out" "$png" bench/out/header.md
if [ -f docs/BENCHMARKS.notes.md ]; then { echo; cat docs/BENCHMARKS.notes.md; } >> "$out"; fi
sed -i "s|(benchmarks.png)|($(basename "$png"))|" "$out"
echo "wrote $out and $png"
