# Sourced by the repository's scripts: `mba_need NAME:PACKAGE ...` checks that each tool NAME is
# there. Missing ones are installed with apt-get (their Debian PACKAGE) when this runs as root on
# a Debian-like system; otherwise the script stops and says what is missing and the command that
# gets it. Nothing is ever skipped.
#
# NAME is a command, or one of: venv (python3's venv and ensurepip), boost (the Boost headers).
# PACKAGE "-" means no Debian package: the message says how to get it instead.

mba_has() {
  case "$1" in
    venv) python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
    boost) [ -f /usr/include/boost/interprocess/managed_shared_memory.hpp ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

mba_how() {
  case "$1" in
    cargo|rustc) echo "a Rust toolchain, 1.82 or newer: install it with rustup (rustup.rs)" ;;
    rustfmt) echo "rustup component add rustfmt" ;;
    cargo-clippy) echo "rustup component add clippy" ;;
    *) echo "sudo apt-get install $2" ;;
  esac
}

mba_need() {
  local t name pkg missing=() pkgs=()
  for t in "$@"; do
    name=${t%%:*} pkg=${t#*:}
    mba_has "$name" || { missing+=("$t"); [ "$pkg" = - ] || pkgs+=("$pkg"); }
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "${#pkgs[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$(basename "$0"): installing ${pkgs[*]} with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } \
      >/tmp/mba-apt-$$.log 2>&1 || { cat /tmp/mba-apt-$$.log >&2; echo "$(basename "$0"): apt-get install ${pkgs[*]} failed" >&2; exit 1; }
    rm -f /tmp/mba-apt-$$.log
  fi
  local still=()
  for t in "${missing[@]}"; do mba_has "${t%%:*}" || still+=("$t"); done
  [ "${#still[@]}" -eq 0 ] && return 0
  echo "$(basename "$0"): missing tools:" >&2
  for t in "${still[@]}"; do echo "  ${t%%:*}: $(mba_how "${t%%:*}" "${t#*:}")" >&2; done
  exit 1
}
