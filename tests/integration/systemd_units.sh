#!/usr/bin/env bash
# systemd-analyze verify on emotiond.service (ExecStart pointed at the built binary),
# emotiond.socket and, given them, emotiond-mqtt.service and emotiond-web.service: any
# complaint, even a warning such as an unknown key, fails. A unit with a misspelt key must
# fail the same check, so the check itself is known to bite. Only the bridge's and the
# dashboard's units may have network.
#   systemd_units.sh EMOTIOND UNIT_SOURCE_DIR [EMOTIOND_MQTT|-] [EMOTIOND_WEB]
set -euo pipefail
daemon=$1 units=$2 bridge=${3:-} web=${4:-}
[ "$bridge" != - ] || bridge=
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
grep -qx 'PrivateNetwork=yes' "$tmp/emotiond.service" || {
  echo "FAIL: emotiond.service lost PrivateNetwork=yes"; exit 1; }
if [ -n "$bridge" ]; then
  sed -e "s|@BINDIR@/emotiond-mqtt|$bridge|" -e "s|@DOCDIR@|/usr/share/doc/emotiond|" \
      "$units/emotiond-mqtt.service.in" > "$tmp/emotiond-mqtt.service"
  check ./emotiond-mqtt.service ./emotiond.service ./emotiond.socket
  unit=$tmp/emotiond-mqtt.service
  for want in Type=notify After=emotiond.service Wants=emotiond.service \
              'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' NoNewPrivileges=yes \
              ProtectSystem=strict RestartPreventExitStatus=78; do
    grep -q "^${want%%=*}=.*${want#*=}" "$unit" || { echo "FAIL: emotiond-mqtt.service lacks $want"; exit 1; }
  done
  grep -q '^PrivateNetwork=yes' "$unit" && { echo "FAIL: the bridge needs the network"; exit 1; }
  echo "verify: emotiond-mqtt.service clean (notify, after emotiond, hardened, network)"
fi
if [ -n "$web" ]; then
  sed -e "s|@BINDIR@/emotiond-web|$web|" -e "s|@DOCDIR@|/usr/share/doc/emotiond|" \
      "$units/emotiond-web.service.in" > "$tmp/emotiond-web.service"
  check ./emotiond-web.service ./emotiond.service ./emotiond.socket
  unit=$tmp/emotiond-web.service
  for want in Type=notify After=emotiond.service Wants=emotiond.service \
              'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' NoNewPrivileges=yes \
              ProtectSystem=strict RestartPreventExitStatus=78 User=emotiond-web \
              SupplementaryGroups=emotiond MemoryMax= WatchdogSec=; do
    grep -q "^${want%%=*}=.*${want#*=}" "$unit" || { echo "FAIL: emotiond-web.service lacks $want"; exit 1; }
  done
  grep -qx 'CapabilityBoundingSet=' "$unit" || { echo "FAIL: emotiond-web.service keeps capabilities"; exit 1; }
  grep -q '^PrivateNetwork=yes' "$unit" && { echo "FAIL: the dashboard needs the network"; exit 1; }
  grep -q '^WantedBy=' "$unit" || { echo "FAIL: emotiond-web.service cannot be enabled"; exit 1; }
  grep -qx 'u emotiond-web - "emotiond web dashboard" - -' "$units/emotiond.sysusers" &&
    grep -qx 'm emotiond-web emotiond' "$units/emotiond.sysusers" ||
    { echo "FAIL: emotiond.sysusers lacks the emotiond-web user in group emotiond"; exit 1; }
  echo "verify: emotiond-web.service clean (notify, after emotiond, its own user, hardened, network)"
fi
sed 's/^WatchdogSec=/WatchdogSc=/' "$tmp/emotiond.service" > "$tmp/broken.service"
if check ./broken.service >/dev/null; then
  echo "FAIL: a misspelt key passed the check"; exit 1
fi
echo "verify: a misspelt key is caught"
