# Building a Debian root with mmdebstrap, shared by scripts/systest (the guest's root) and
# scripts/test-oldstable (the bullseye chroot). Sourced, not run.
#
# mmdebstrap --mode=root bind-mounts /dev, /proc and /sys into the root while it installs.
# A build killed half way (a session's end, ^C) used to leave those mounts behind, and the
# next `rm -rf` of the root would then have recursed into the host's /dev. So mmdebstrap
# runs in its own mount namespace (its mounts die with it), and a root is removed only
# once nothing is mounted under it.

# The host's Debian mirror, else deb.debian.org; MIRROR set by the caller wins.
debian_mirror() {
  local found
  if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
  found=$(grep -hoE '^(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
            /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
          | awk '{print $2}' | head -1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

# Unmounts what an earlier run left mounted under ROOT (deepest first), then removes ROOT.
# Refuses (returns 1) while anything stays mounted there.
debian_root_remove() {
  local root=$1 target
  root=$(realpath -m "$root")
  while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done < <(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
  if awk -v r="$root/" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    echo "debian-root: still mounted under $root, not removing it:" >&2
    awk -v r="$root/" 'index($2, r) == 1 { print "  " $2 }' /proc/self/mounts >&2
    return 1
  fi
  rm -rf "$root"
}

# debian_root_build SUITE ROOT LOG PACKAGE...: a fresh ROOT of SUITE (variant apt) with
# PACKAGES, from the mirror; documentation, manuals and translations left out. mmdebstrap's
# output goes to LOG; on failure its tail is printed and the call returns 1.
debian_root_build() {
  local suite=$1 root=$2 log=$3 mirror
  local -a include=()
  shift 3
  [ $# -eq 0 ] || include=(--include="$(IFS=,; echo "$*")")
  debian_root_remove "$root" || return 1
  mkdir -p "$(dirname "$root")"
  mirror=$(debian_mirror)
  echo "=== building the $suite root in $root (from $mirror)"
  unshare --mount --propagation private \
    nice mmdebstrap --mode=root --variant=apt "${include[@]}" \
      --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      "$suite" "$root" "deb $mirror $suite main" >"$log" 2>&1 \
    || { tail -40 "$log"; return 1; }
}
