#!/usr/bin/env bash
# Builds libmba in release mode and bench/bench.c against it with -O2, runs the benchmark,
# and writes docs/BENCHMARKS.md (or $MBA_BENCH_OUT) with the table, the machine, the date and the versions.
# Usage: bench/run.sh [N] [RUNS]     (defaults: 10000000 elements, 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib
ln -sf libmba.so target/release/libmba.so.0   # the SONAME programs ask for
mkdir -p bench/out
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/bench.c -o bench/out/bench \
   -Ltarget/release -lmba -Wl,-rpath,"$PWD/target/release"
out="${MBA_BENCH_OUT:-docs/BENCHMARKS.md}"
table=$(bench/out/bench "${1:-10000000}" "${2:-5}")
echo "$table"
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`bench/run.sh\` on $(date -u +%Y-%m-%d); do not edit by hand."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)."
  echo "Versions: mba $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2), $(rustc --version), $(cc --version | head -1)."
  echo "Library: target/release/libmba.so (thin LTO), called through the C ABI by a C program built with -O2."
  echo
  echo "$table"
  if [ -f docs/BENCHMARKS.notes.md ]; then echo; cat docs/BENCHMARKS.notes.md; fi
} > "$out"
echo "wrote $out"
