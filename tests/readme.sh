#!/usr/bin/env bash
# README.md as a new user meets it: clones this repository (its committed HEAD) into a temporary
# directory and runs, in order, in one shell, exactly as written:
#   - every ```sh block of the README, line by line;
#   - every code block announced by a `<!-- file: PATH -->` line: it is written to PATH first,
#     and must equal the committed PATH (the README's snippets are the programs in examples/).
# All of it twice, so that every command and snippet must work again after itself: snippets
# remove what they create. A ```sh block announced by `<!-- once: REASON -->` runs in the first
# round only (the benchmark: it only rewrites its own outputs, and is a third of this test's CPU
# time). Blocks announced by `<!-- not run: REASON -->` are listed, not run, and so are plain
# ``` blocks (output, messages); any other block fails this test, so nothing is left out by
# accident.
#
# Isolation: the commands run in a private mount namespace where /usr/local and /etc are
# overlays over the real ones, so `sudo make install` and its ldconfig change nothing outside.
# Where there is no sudo (CI runs as root), a `sudo` that just runs its command is put on PATH.
# Variables that would point the commands at another build are removed from the environment.
# The benchmark runs at MBA_BENCH_N=100000 elements, MBA_BENCH_RUNS=1, its outputs in the
# scratch directory (bench/run.sh reads these variables).
# Needs root (for the mount namespace), git, python3, unshare.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "readme.sh: needs root (a private mount namespace with overlays)" >&2; exit 1; }
# The shm names the README's snippets use: they must be free, and a run stopped half-way
# (killed between a snippet's create and its delete) must not leave them to the next one.
names=(sensor test)
for n in "${names[@]}"; do
  [ ! -e "/dev/shm/$n" ] || { echo "readme.sh: /dev/shm/$n exists, and the README's snippets create it: rm /dev/shm/$n" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mba-readme.XXXXXX)
trap 'rm -rf "$work"; for n in "${names[@]}"; do rm -f "/dev/shm/$n"; done' EXIT
trap 'exit 143' TERM INT
git clone -q "$repo" "$work/mba"

# The README as one script, plus the list of what it runs.
python3 - "$work/mba/README.md" "$work/script.sh" "$work/files" <<'EOF'
import re, shlex, sys
readme, script_path, files_path = sys.argv[1:]
lines = open(readme).read().split("\n")
script, files, marker, i = [], [], None, 0
while i < len(lines):
    line = lines[i]
    m = re.match(r"\s*<!-- (file|not run|once): (.+?) -->\s*$", line)
    if m:
        marker = m.groups()
    fence = re.match(r"```(\w*)\s*$", line)
    if not fence:
        if line.strip() and not m:
            marker = None  # a marker announces the block right after it
        i += 1
        continue
    lang, body, i = fence.group(1), [], i + 1
    while not lines[i].startswith("```"):
        body.append(lines[i])
        i += 1
    i += 1
    where = f"README.md line {i - len(body) - 1}"
    if marker and marker[0] == "not run":
        print(f"  not run ({where}, {lang}): {marker[1]}")
    elif marker and marker[0] == "file":
        path = marker[1]
        files.append(path)
        print(f"  file    {path} ({lang}, {len(body)} lines)")
        script.append(f"printf '[%ss] %s\\n' $((SECONDS - start)) {shlex.quote('$ cat > ' + path)}")
        script.append(f"cat > {path} <<'MBA_README_EOF'\n" + "\n".join(body) + "\nMBA_README_EOF")
    elif marker and lang != "sh":  # (only "once" is left)
        sys.exit(f"readme.sh: {where}: <!-- once: REASON --> announces ```sh blocks only, not ```{lang}")
    elif lang == "sh":
        once = marker is not None  # a "once" marker: the other two are handled above
        logical = []  # lines continued with a backslash are one command
        for raw in body:
            if logical and logical[-1].endswith("\\"):
                logical[-1] += "\n" + raw
            else:
                logical.append(raw)
        for cmd in logical:
            if cmd.strip() and not cmd.lstrip().startswith("#"):
                print(f"  run     {cmd}" + (f"   (round 1 only: {marker[1]})" if once else ""))
                shown = shlex.quote('$ ' + cmd)
                if once:
                    script.append(f"if [ \"$MBA_README_ROUND\" = 1 ]; then")
                script.append(f"printf '[%ss] %s\\n' $((SECONDS - start)) {shown}")
                script.append(cmd)
                if once:
                    script.append(f"else printf '[%ss] %s (round 1 only)\\n' $((SECONDS - start)) {shown}; fi")
    elif lang in ("", "text"):
        print(f"  text    ({where}: output or a message, not code)")
    else:
        sys.exit(f"readme.sh: {where}: a ```{lang} block with neither <!-- file: PATH --> nor <!-- not run: REASON -->")
    marker = None
open(script_path, "w").write("set -euo pipefail\nstart=$SECONDS\n" + "\n".join(script) + "\n")
open(files_path, "w").write("\n".join(files) + "\n")
EOF

mkdir -p "$work/bin"
if ! command -v sudo >/dev/null 2>&1; then
  printf '#!/bin/sh\nexec "$@"\n' >"$work/bin/sudo"
  chmod +x "$work/bin/sudo"
fi
shm_before=$(ls /dev/shm | sort)

for round in 1 2; do
  printf '\n== readme.sh: round %s, in %s\n' "$round" "$work/mba"
  # shellcheck disable=SC2016
  unshare -m --propagation private env -u MBA_LIBRARY -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH -u PYTHONPATH \
    -u CGO_CFLAGS -u CGO_LDFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR -u RUSTFLAGS \
    PATH="$work/bin:$PATH" MBA_README_ROUND="$round" MBA_BENCH_N=100000 MBA_BENCH_RUNS=1 \
    MBA_BENCH_OUT="$work/BENCHMARKS.md" MBA_BENCH_PNG="$work/benchmarks.png" \
    bash -c '
      set -euo pipefail
      work=$1
      for d in /usr/local /etc; do
        mkdir -p "$work/overlay$d/upper" "$work/overlay$d/work"
        mount -t overlay overlay -o "lowerdir=$d,upperdir=$work/overlay$d/upper,workdir=$work/overlay$d/work" "$d"
      done
      cd "$work/mba"
      bash "$work/script.sh"
    ' readme "$work"
  # The snippets the README shows are the committed examples.
  # shellcheck disable=SC2046
  (cd "$work/mba" && git ls-files --error-unmatch $(cat "$work/files") >/dev/null &&
    git diff --exit-code --stat -- $(cat "$work/files")) ||
    { echo "readme.sh: README.md's snippets differ from the committed files they name (above)" >&2; exit 1; }
  # Nothing left behind under the names the README uses (other names may be other programs').
  leaked=$(comm -13 <(echo "$shm_before") <(ls /dev/shm | sort) | grep -E "^($(IFS='|'; echo "${names[*]}")|mba-demo-)" || true)
  [ -z "$leaked" ] || { echo "readme.sh: round $round left in /dev/shm: $leaked" >&2; exit 1; }
done
echo "readme.sh: every README command and snippet ran twice (blocks marked once: in round 1)"
