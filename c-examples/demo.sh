#!/usr/bin/env bash
# Two processes share one growing named array live: a C producer appends, a Python
# (ctypes) watcher reads through a pointer taken before the array grew.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib --quiet
ln -sf libmba.so target/release/libmba.so.0   # the SONAME programs ask for
mkdir -p target/demo
cc -O2 -std=c11 -Wall -Wextra -Iinclude c-examples/producer.c -o target/demo/producer \
   -Ltarget/release -lmba -Wl,-rpath,"$PWD/target/release"
uri="shm://mba-demo-$$"
count=3000
target/demo/producer "$uri" "$count" &
producer=$!
python3 c-examples/watch.py "$uri" "$count"
wait "$producer"
