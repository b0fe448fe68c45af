#!/usr/bin/env bash
# cargo test's runner for scripts/test.sh (it sets CARGO_TARGET_<host>_RUNNER to this script):
# rather than run test executable $1 with its arguments, records it in $MBA_TEST_RECORD as
# NNN.cwd (the directory cargo runs it in), NNN.env (the environment cargo gives it) and
# NNN.args (the command), NUL-separated, in cargo's order; test.sh then runs several at once.
# Without MBA_TEST_RECORD it just runs the command.
set -euo pipefail
[ -n "${MBA_TEST_RECORD:-}" ] || exec "$@"
dir=$MBA_TEST_RECORD
n=$(printf '%03d' "$(find "$dir" -name '*.args' | wc -l)")
pwd >"$dir/$n.cwd"
env -0 | grep -zv -e '^MBA_TEST_RECORD=' -e '^CARGO_TARGET_[A-Z0-9_]*_RUNNER=' >"$dir/$n.env"
printf '%s\0' "$@" >"$dir/$n.args"
