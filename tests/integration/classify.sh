#!/usr/bin/env bash
# emotionctl classify, the real binary: the bundled astronaut portrait gives one face
# overlapping (176, 66, 95, 95) with a label; --json is valid JSON with the protocol's
# face fields; bad input gets a clear error and exit 1; the OpenCV detectors work in a
# build with OpenCV and are refused clearly in one without.
#   classify.sh EMOTIONCTL SOURCE_DIR opencv|no-opencv
set -euo pipefail
ctl=$1 src=$2 opencv=$3
model=$src/tests/fixtures/nano-b-quick.enn
img=$src/samples/astronaut.pgm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
printf '' > "$tmp/empty.conf"     # keeps /etc/emotiond/emotiond.conf out
ctl() { "$ctl" -c "$tmp/empty.conf" "$@"; }

# one face near the truth (IoU > 0.6): "file x y w h label confidence"
one_face() {
  local out=$1 file x y w h label conf
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one face, got: $out"
  read -r file x y w h label conf <<<"$out"
  [ "$file" = "$img" ] || fail "file column"
  /usr/bin/python3 -c '
import sys
x, y, w, h = map(float, sys.argv[1:5])
ix = max(0, min(x + w, 271) - max(x, 176)); iy = max(0, min(y + h, 161) - max(y, 66))
sys.exit(0 if ix * iy / (w * h + 95 * 95 - ix * iy) > 0.6 else 1)' "$x" "$y" "$w" "$h" ||
    fail "box $x $y $w $h"
  case "$label" in anger|contempt|disgust|fear|happiness|neutral|sadness|surprise) ;;
    *) fail "label $label";; esac
}

out=$(ctl classify --model "$model" "$img")     # the default detector: yunet, our engine
echo "$out"
one_face "$out"

ctl classify --json --model "$model" "$img" > "$tmp/out.json"
/usr/bin/python3 - "$tmp/out.json" <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1]).read())
assert doc["width"] == 512 and doc["height"] == 512, doc
face, = doc["faces"]
assert set(face) == {"id", "box", "label", "confidence", "scores"}, face
assert abs(sum(face["scores"].values()) - 1) < 0.01, face["scores"]
assert face["label"] == max(face["scores"], key=face["scores"].get)
print("json ok")
PY

printf 'not an image' > "$tmp/bad.jpg"
if ctl classify --model "$model" "$tmp/bad.jpg" 2>"$tmp/err"; then fail "garbage accepted"; fi
grep -q "not a JPEG, PNG" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
head -c 4096 /dev/urandom > "$tmp/bad.enn"
if ctl classify --model "$tmp/bad.enn" "$img" 2>"$tmp/err"; then fail "bad model accepted"; fi
grep -q "bad.enn: bad magic" "$tmp/err" || fail "unclear model error: $(cat "$tmp/err")"
if ctl classify --detector hog --model "$model" "$img" 2>"$tmp/err"; then
  fail "bad detector accepted"
fi
grep -q "'hog' is not one of yunet|yunet-opencv|cascade" "$tmp/err" ||
  fail "unclear detector error: $(cat "$tmp/err")"
if ctl classify --detector-model "$tmp/missing.enn" --model "$model" "$img" 2>"$tmp/err"; then
  fail "missing detector model accepted"
fi
grep -q "missing.enn" "$tmp/err" || fail "unclear detector model error: $(cat "$tmp/err")"

# the config file chooses the detector; a broken config names its line
printf '[detect]\nbackend = yunet-opencv\n' > "$tmp/yunet-opencv.conf"
if "$ctl" -c "$tmp/yunet-opencv.conf" classify --model "$model" "$img" 2>"$tmp/err"; then
  fail "yunet-opencv without a model accepted"
fi
if [ "$opencv" = opencv ]; then
  grep -q "needs a model file" "$tmp/err" || fail "config's detector not used: $(cat "$tmp/err")"
  out=$(ctl classify --detector cascade --model "$model" "$img")
  echo "$out"
  one_face "$out"
else
  grep -q "built without OpenCV: detector backend 'yunet-opencv' is not available; use 'yunet'" \
    "$tmp/err" || fail "config's detector not used, or unclear: $(cat "$tmp/err")"
  if ctl classify --detector cascade --model "$model" "$img" 2>"$tmp/err"; then
    fail "cascade accepted without OpenCV"
  fi
  grep -q "built without OpenCV: detector backend 'cascade' is not available; use 'yunet'" \
    "$tmp/err" || fail "unclear error for cascade: $(cat "$tmp/err")"
fi
printf '[detect]\nbackend = yunet\nwidth = 5\n' > "$tmp/bad.conf"
if "$ctl" -c "$tmp/bad.conf" classify --model "$model" "$img" 2>"$tmp/err"; then fail "bad config accepted"; fi
grep -q "bad.conf:3: \[detect\] width" "$tmp/err" || fail "unclear config error: $(cat "$tmp/err")"
echo "PASS"
