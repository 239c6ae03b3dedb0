#!/usr/bin/env bash
# systemd-analyze verify on emotiond.service (ExecStart pointed at the built binary) and
# emotiond.socket: any complaint, even a warning such as an unknown key, fails. A unit
# with a misspelt key must fail the same check, so the check itself is known to bite.
#   systemd_units.sh EMOTIOND UNIT_SOURCE_DIR
set -euo pipefail
daemon=$1 units=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze not installed (scripts/deps installs systemd)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@SBINDIR@/emotiond|$daemon|" -e "s|@DOCDIR@|/usr/share/doc/emotiond|" \
    "$units/emotiond.service.in" > "$tmp/emotiond.service"
cp "$units/emotiond.socket" "$tmp/"
check() {   # silent and successful, or not
  local out
  out=$(cd "$tmp" && systemd-analyze verify --man=no "$@" 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}
check ./emotiond.service ./emotiond.socket
echo "verify: emotiond.service and emotiond.socket clean"
sed 's/^WatchdogSec=/WatchdogSc=/' "$tmp/emotiond.service" > "$tmp/broken.service"
if check ./broken.service >/dev/null; then
  echo "FAIL: a misspelt key passed the check"; exit 1
fi
echo "verify: a misspelt key is caught"
