#!/usr/bin/env bash
# Two processes share one growing named array live: a C producer appends, a Python
# (ctypes) watcher reads through a pointer taken before the array grew.
# Needs cargo, cc, make and python3 (it says what is missing, and installs it as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
mba_need cargo:- cc:gcc make:make python3:python3
make -s CARGO='cargo -q' >/dev/null   # target/release/libmba.so and its SONAME link libmba.so.0
mkdir -p target/demo
cc -O2 -std=c11 -Wall -Wextra -Iinclude examples/c/producer.c -o target/demo/producer \
   -Ltarget/release -lmba -Wl,-rpath,"$PWD/target/release"
uri="shm://mba-demo-$$"
count=3000
target/demo/producer "$uri" "$count" &
producer=$!
python3 examples/python/watch.py "$uri" "$count"
wait "$producer"
