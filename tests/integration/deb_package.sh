#!/usr/bin/env bash
# Builds the Debian package from this build tree (cpack) and checks what it holds without
# installing it: control fields, the files a user relies on, the conffile, maintainer
# scripts that parse, and the packaged binaries run from an unpacked copy: the unit's
# ExecStart exists, the conffile validates, the default model classifies the sample.
# OpenCV appears among the dependencies only in a build with it.
#   deb_package.sh BUILD_DIR SOURCE_DIR opencv|no-opencv
set -euo pipefail
build=$1 src=$2 opencv=$3
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || {
    echo "SKIPPED: $tool not installed (scripts/deps installs it)"; exit 77; }
done
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if [ "$prefix" != /usr ]; then
  echo "SKIPPED: build configured with prefix $prefix; the package needs" \
       "-DCMAKE_INSTALL_PREFIX=/usr (scripts/test and scripts/package set it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || {
  cat "$tmp/cpack.log"; fail "cpack"; }
debs=("$tmp"/out/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb in ${debs[*]}"
deb=${debs[0]}
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = emotiond ] || fail "Package: $(field Package)"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture"
for dep in libc6 libturbojpeg0 libjansson4; do
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

dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/files"
for f in ./usr/sbin/emotiond ./usr/bin/emotionctl ./etc/emotiond/emotiond.conf \
         ./lib/systemd/system/emotiond.service ./lib/systemd/system/emotiond.socket \
         ./usr/lib/sysusers.d/emotiond.conf ./usr/lib/tmpfiles.d/emotiond.conf \
         ./usr/share/doc/emotiond/protocol.md ./usr/share/doc/emotiond/emotiond.conf.example; do
  grep -qx "$f" "$tmp/files" || fail "package lacks $f"
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
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/emotiond.service")
[ "$exec_start" = /usr/sbin/emotiond ] || fail "unit's ExecStart is $exec_start"
[ -x "$root$exec_start" ] || fail "ExecStart $exec_start is not in the package"
"$root/usr/sbin/emotiond" --version | grep -qx "emotiond $(field Version)" ||
  fail "emotiond --version does not say $(field Version)"
# the default model path, as the conffile documents it (test_config holds the file to
# the daemon's own defaults); the conffile validates with that model from the package
model=$(sed -n '/^\[daemon\]/,/^\[/s/^# model = //p' "$root/etc/emotiond/emotiond.conf")
[ -n "$model" ] && [ -f "$root$model" ] || fail "default model '$model' is not in the package"
# the default detector's model (YUNET_DEFAULT_MODEL), used from the package too
yunet=/usr/share/emotiond/models/face_detection_yunet_2023mar.enn
[ -f "$root$yunet" ] || fail "the face detector's model $yunet is not in the package"
cp "$root/etc/emotiond/emotiond.conf" "$tmp/packaged.conf"
printf '[detect]\nmodel = %s\n' "$root$yunet" >> "$tmp/packaged.conf"
"$root/usr/sbin/emotiond" --check-config -c "$tmp/packaged.conf" \
  --model "$root$model" >/dev/null || fail "the packaged conffile does not validate"
out=$("$root/usr/bin/emotionctl" -c "$tmp/packaged.conf" classify --model "$root$model" \
      "$src/samples/astronaut.pgm")
echo "$out" | grep -q ' happiness ' || fail "packaged emotionctl on the sample: '$out'"
echo "packaged binaries run: $out"
echo "ok: package checked"
