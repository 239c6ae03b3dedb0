#!/usr/bin/env bash
# Builds the Debian package from this build tree (cpack) and checks what it holds without
# installing it: control fields, the files a user relies on, the conffile, maintainer
# scripts that parse, every ELF file built for the package's architecture, the man pages
# (compressed -9n, no groff warning, every flag and config key documented), and the
# packaged binaries run from an unpacked copy: the unit's ExecStart exists, the conffile
# validates, the default model classifies the sample. OpenCV appears among the
# dependencies only in a build with it.
# A cross build's package (its architecture is in CPackConfig.cmake, e.g. arm64) runs
# under EMULATOR (the toolchain's CMAKE_CROSSCOMPILING_EMULATOR, e.g. qemu-aarch64 -cpu
# max) with the target's libraries; without the emulator or those libraries the test
# skips, saying which.
#   deb_package.sh BUILD_DIR SOURCE_DIR opencv|no-opencv [EMULATOR [ARGS...]]
set -euo pipefail
build=$1 src=$2 opencv=$3
shift 3
emulator=("$@")
for tool in cpack dpkg-deb dpkg-shlibdeps readelf; do
  command -v "$tool" >/dev/null || {
    echo "SKIPPED: $tool not installed (scripts/deps installs it)"; exit 77; }
done
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if [ "$prefix" != /usr ]; then
  echo "SKIPPED: build configured with prefix $prefix; the package needs" \
       "-DCMAKE_INSTALL_PREFIX=/usr (scripts/test and scripts/package set it)"
  exit 77
fi
native=$(dpkg --print-architecture)
arch=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=${arch:-$native}
if [ "$arch" != "$native" ]; then
  [ ${#emulator[@]} -gt 0 ] || {
    echo "SKIPPED: the package is for $arch, and no emulator was given to run it (the" \
         "toolchain file sets CMAKE_CROSSCOMPILING_EMULATOR)"; exit 77; }
  command -v "${emulator[0]}" >/dev/null || {
    echo "SKIPPED: ${emulator[0]} not installed (Debian's qemu-user; scripts/deps installs it)"
    exit 77; }
fi
case $arch in
  amd64) machine="Advanced Micro Devices X86-64" ;;
  arm64) machine=AArch64 ;;
  *) echo "FAIL: no ELF machine known for Debian architecture $arch"; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A cross build's binaries run under its emulator, with the target's libraries (in
# /lib/TRIPLET and /usr/lib/TRIPLET, or under the emulator's -L prefix): checked on the
# built binaries before anything is packaged (dpkg-shlibdeps needs those libraries too).
run=()
if [ "$arch" != "$native" ]; then
  run=("${emulator[@]}")
  sysroot=
  for ((i = 0; i + 1 < ${#emulator[@]}; i++)); do
    [ "${emulator[i]}" = -L ] && sysroot=${emulator[i + 1]}
  done
  triplet=$(dpkg-architecture -a "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
  missing=()
  for bin in "$build/daemon/emotiond" "$build/clients/ctl/emotionctl"; do
    [ -f "$bin" ] || fail "$bin is not built"
    interp=$(readelf -l "$bin" | sed -n 's/.*interpreter: \(.*\)]$/\1/p')
    { [ -n "$sysroot" ] && [ -e "$sysroot$interp" ]; } || [ -e "$interp" ] ||
      missing+=("$interp")
    for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
      found=
      for dir in ${sysroot:+"$sysroot/lib" "$sysroot/usr/lib"} "/lib/$triplet" "/usr/lib/$triplet"; do
        [ -e "$dir/$lib" ] && found=1 && break
      done
      [ -n "$found" ] || missing+=("$lib")
    done
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "SKIPPED: the $arch libraries are not installed ($(printf '%s\n' "${missing[@]}" |
      sort -u | paste -sd ' ')); scripts/package --arch $arch installs them"
    exit 77
  fi
  echo "the $arch binaries run under: ${emulator[*]}"
fi

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || {
  cat "$tmp/cpack.log"; fail "cpack"; }
debs=("$tmp"/out/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb in ${debs[*]}"
deb=${debs[0]}
field() { dpkg-deb -f "$deb" "$1"; }
version=$(field Version)
[ "$(field Package)" = emotiond ] || fail "Package: $(field Package)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture), not $arch"
[ "$(basename "$deb")" = "emotiond_${version}_$arch.deb" ] || fail "file name $(basename "$deb")"
field Maintainer | grep -q '@localhost' && fail "Maintainer on localhost: $(field Maintainer)"
for dep in adduser libc6 libturbojpeg0 libjansson4 libmosquitto1 libmicrohttpd12; do
  field Depends | grep -q "$dep" || fail "Depends lacks $dep: $(field Depends)"
done
if [ "$opencv" = opencv ]; then
  field Depends | grep -q libopencv-core || fail "Depends lacks libopencv-core: $(field Depends)"
  # the cascade backend's Haar file, read at run time
  dpkg-deb -f "$deb" Depends Recommends Suggests | grep -q opencv-data ||
    fail "opencv-data in none of Depends, Recommends, Suggests"
elif field Depends | grep -q opencv; then
  fail "built without OpenCV, but Depends names it: $(field Depends)"
fi
echo "package: $(basename "$deb"), Depends: $(field Depends)"
# Debian's own checks: no error allowed (warnings and notes are printed)
if command -v lintian >/dev/null; then
  lint=$(lintian "$deb" 2>&1) || fail "lintian: $lint"
  echo "lintian: ${lint:-clean}"
else
  echo "SKIPPED: lintian check (lintian not installed; scripts/deps installs it)"
fi

dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/files"
doc=./usr/share/doc/emotiond
for f in ./usr/sbin/emotiond ./usr/bin/emotionctl ./usr/bin/emotiond-mqtt ./usr/bin/emotiond-web \
         ./etc/emotiond/emotiond.conf ./lib/systemd/system/emotiond-mqtt.service \
         ./lib/systemd/system/emotiond-web.service \
         ./lib/systemd/system/emotiond.service ./lib/systemd/system/emotiond.socket \
         ./usr/lib/sysusers.d/emotiond.conf ./usr/lib/tmpfiles.d/emotiond.conf \
         $doc/protocol.md $doc/mqtt.md $doc/web.md $doc/emotiond.conf.example $doc/copyright \
         $doc/changelog.gz ./usr/share/man/man8/emotiond.8.gz ./usr/share/man/man1/emotionctl.1.gz \
         ./usr/share/man/man5/emotiond.conf.5.gz ./usr/share/man/man1/emotiond-mqtt.1.gz \
         ./usr/share/man/man1/emotiond-web.1.gz; do
  grep -qx "$f" "$tmp/files" || fail "package lacks $f"
done
# the dashboard's page, every file of it (emotiond-web serves exactly these)
for f in "$src"/clients/web/page/*; do
  grep -qx "./usr/share/emotiond/web/$(basename "$f")" "$tmp/files" ||
    fail "package lacks the page's $(basename "$f")"
done
for m in "$src"/models/*.enn; do
  grep -qx "./usr/share/emotiond/models/$(basename "$m")" "$tmp/files" ||
    fail "package lacks model $(basename "$m")"
done

dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/emotiond/emotiond.conf ] || fail "conffiles"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "$s missing or not executable"
  sh -n "$tmp/control/$s" || fail "$s does not parse"
done

root=$tmp/root
dpkg-deb -x "$deb" "$root"

# Every ELF file is built for the package's architecture.
elves=0
while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  got=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
  [ "$got" = "$machine" ] || fail "${f#"$root"} is built for '$got', not $machine ($arch)"
  elves=$((elves + 1))
done < <(find "$root" -type f -print0)
[ $elves -ge 2 ] || fail "only $elves ELF files in the package"
echo "ELF files: $elves, all $machine"

# The Debian changelog and the man pages: gzip -9 (XFL 2) without name or time stamp.
gz_9n() {   # gzip header: flags (byte 3) 0, mtime (4-7) 0, XFL (8) 2
  [ "$(od -An -tu1 -j3 -N6 "$1" | tr -s ' ')" = " 0 0 0 0 0 2" ] ||
    fail "${1#"$root"} is not compressed with gzip -9n"
}
gz_9n "$root/usr/share/doc/emotiond/changelog.gz"
zcat "$root/usr/share/doc/emotiond/changelog.gz" >"$tmp/changelog"
[[ $(head -1 "$tmp/changelog") == "emotiond ($version) "* ]] ||
  fail "the changelog's latest entry is not $version"
for page in man8/emotiond.8 man1/emotionctl.1 man5/emotiond.conf.5 man1/emotiond-mqtt.1 \
            man1/emotiond-web.1; do
  gz=$root/usr/share/man/$page.gz
  gz_9n "$gz"
  zcat "$gz" >"$tmp/$(basename "$page")"
  grep -q "^\.TH [^ ]* [0-9] [^ ]* \"emotiond $version\"" "$tmp/$(basename "$page")" ||
    fail "$page: its .TH line does not say emotiond $version"
  if command -v groff >/dev/null; then
    warnings=$(groff -man -ww -z "$tmp/$(basename "$page")" 2>&1)
    [ -z "$warnings" ] || fail "$page: groff -man -ww: $warnings"
  else
    echo "note: groff not installed, $page not checked for roff warnings"
  fi
done

exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/emotiond.service")
[ "$exec_start" = /usr/sbin/emotiond ] || fail "unit's ExecStart is $exec_start"
[ -x "$root$exec_start" ] || fail "ExecStart $exec_start is not in the package"
# the bridge: its unit runs the packaged binary, disabled by default (no [Install] link
# made by the package), and it validates the packaged conffile
bridge_exec=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/emotiond-mqtt.service")
[ "$bridge_exec" = /usr/bin/emotiond-mqtt ] || fail "emotiond-mqtt.service's ExecStart is $bridge_exec"
grep -Eq '(deb-systemd-helper (enable|unmask)|systemctl (enable|start)).*emotiond-mqtt' \
  "$tmp/control/postinst" && fail "postinst enables or starts emotiond-mqtt.service"
"${run[@]}" "$root/usr/bin/emotiond-mqtt" --check-config -c "$root/etc/emotiond/emotiond.conf" \
  >/dev/null || fail "emotiond-mqtt --check-config rejects the packaged conffile"
"${run[@]}" "$root/usr/bin/emotiond-mqtt" --version | grep -q "^emotiond-mqtt $version " ||
  fail "emotiond-mqtt --version does not say $version"
"${run[@]}" "$root/usr/sbin/emotiond" --version | grep -qx "emotiond $version" ||
  fail "emotiond --version does not say $version"
# the dashboard: the same for its unit, and it validates the packaged conffile with the
# packaged page (the conffile's web_root is /usr/share/emotiond/web: here under $root)
web_exec=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/emotiond-web.service")
[ "$web_exec" = /usr/bin/emotiond-web ] || fail "emotiond-web.service's ExecStart is $web_exec"
grep -Eq '(deb-systemd-helper (enable|unmask)|systemctl (enable|start)).*emotiond-web' \
  "$tmp/control/postinst" && fail "postinst enables or starts emotiond-web.service"
"${run[@]}" "$root/usr/bin/emotiond-web" --check-config -c "$root/etc/emotiond/emotiond.conf" \
  --web-root "$root/usr/share/emotiond/web" >/dev/null ||
  fail "emotiond-web --check-config rejects the packaged conffile or page"
"${run[@]}" "$root/usr/bin/emotiond-web" --version | grep -q "^emotiond-web $version " ||
  fail "emotiond-web --version does not say $version"
# the default model path, as the conffile documents it (test_config holds the file to
# the daemon's own defaults); the conffile validates with that model from the package
model=$(sed -n '/^\[daemon\]/,/^\[/s/^# model = //p' "$root/etc/emotiond/emotiond.conf")
[ -n "$model" ] && [ -f "$root$model" ] || fail "default model '$model' is not in the package"
# the default detector's model (YUNET_DEFAULT_MODEL), used from the package too
yunet=/usr/share/emotiond/models/face_detection_yunet_2023mar.enn
[ -f "$root$yunet" ] || fail "the face detector's model $yunet is not in the package"
cp "$root/etc/emotiond/emotiond.conf" "$tmp/packaged.conf"
printf '[detect]\nmodel = %s\n' "$root$yunet" >> "$tmp/packaged.conf"
"${run[@]}" "$root/usr/sbin/emotiond" --check-config -c "$tmp/packaged.conf" \
  --model "$root$model" >/dev/null || fail "the packaged conffile does not validate"
out=$("${run[@]}" "$root/usr/bin/emotionctl" -c "$tmp/packaged.conf" classify \
      --model "$root$model" "$src/samples/astronaut.pgm")
echo "$out" | grep -q ' happiness ' || fail "packaged emotionctl on the sample: '$out'"
echo "packaged binaries run: $out"

# The man pages document what the packaged programs accept: every long option of their
# usage, and every key --check-config prints (a profile section included), in its section.
for page in emotiond.8 emotionctl.1 emotiond.conf.5 emotiond-mqtt.1 emotiond-web.1; do   # roff's \- as plain -
  sed 's/\\-/-/g' "$tmp/$page" >"$tmp/$page.txt"
done
for prog in usr/sbin/emotiond:emotiond.8 usr/bin/emotionctl:emotionctl.1 \
            usr/bin/emotiond-mqtt:emotiond-mqtt.1 usr/bin/emotiond-web:emotiond-web.1; do
  "${run[@]}" "$root/${prog%%:*}" --help >"$tmp/help"
  for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/help" | sort -u); do
    grep -q -- "$opt" "$tmp/${prog#*:}.txt" || fail "${prog#*:} does not document $opt"
  done
done
printf '[profile.TEST]\nfps_cap = 1\n' >> "$tmp/packaged.conf"
"${run[@]}" "$root/usr/sbin/emotiond" --check-config -c "$tmp/packaged.conf" \
  --model "$root$model" >"$tmp/effective" || fail "--check-config with a profile"
section= keys=0
while IFS= read -r line; do
  case $line in
    '['*']') section=${line#[}; section=${section%]}
             case $section in profile.*) heading='SECTIONS [profile.MODE]' ;;
                              *) heading="SECTION [$section]" ;; esac ;;
    *' = '*) key=${line%% = *}
             awk -v h=".SH \"$heading\"" '$0 == h {on = 1; next} /^\.SH/ {on = 0} on' \
               "$tmp/emotiond.conf.5.txt" >"$tmp/section"
             grep -q "^\.BI \"$key = \"" "$tmp/section" ||
               fail "emotiond.conf.5 does not document $key under $heading"
             keys=$((keys + 1)) ;;
  esac
done < <(grep -v '^#' "$tmp/effective")
[ $keys -ge 30 ] || fail "only $keys keys in --check-config's output"
echo "man pages: every flag and all $keys config keys documented, no groff warning"
echo "ok: package checked"
