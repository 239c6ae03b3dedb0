#!/usr/bin/env bash
# emotionctl classify, the real binary: the bundled astronaut portrait gives one face at
# about (176, 66, 95, 95) with a label; --json is valid JSON with the protocol's face
# fields; bad input gets a clear error and exit 1.   classify.sh EMOTIONCTL SOURCE_DIR
set -euo pipefail
ctl=$1 src=$2
model=$src/tests/fixtures/nano-b-quick.enn
img=$src/samples/astronaut.pgm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$ctl" classify --model "$model" "$img")
echo "$out"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one face, got: $out"
read -r file x y w h label conf <<<"$out"
[ "$file" = "$img" ] || fail "file column"
for pair in "$x 176" "$y 66" "$w 95" "$h 95"; do
  set -- $pair
  [ $(( ${1%.*} - $2 )) -le 15 ] && [ $(( $2 - ${1%.*} )) -le 15 ] || fail "box $x $y $w $h"
done
case "$label" in anger|contempt|disgust|fear|happiness|neutral|sadness|surprise) ;; *) fail "label $label";; esac

"$ctl" classify --json --model "$model" "$img" > "$tmp/out.json"
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
if "$ctl" classify --model "$model" "$tmp/bad.jpg" 2>"$tmp/err"; then fail "garbage accepted"; fi
grep -q "not a JPEG, PNG" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
head -c 4096 /dev/urandom > "$tmp/bad.enn"
if "$ctl" classify --model "$tmp/bad.enn" "$img" 2>"$tmp/err"; then fail "bad model accepted"; fi
grep -q "bad.enn: bad magic" "$tmp/err" || fail "unclear model error: $(cat "$tmp/err")"
if "$ctl" classify --detector hog --model "$model" "$img" 2>/dev/null; then fail "bad detector accepted"; fi
# the config file chooses the detector; a broken config names its line
printf '[detect]\nbackend = yunet\n' > "$tmp/yunet.conf"
if "$ctl" -c "$tmp/yunet.conf" classify --model "$model" "$img" 2>"$tmp/err"; then
  fail "yunet without a model accepted"
fi
grep -q "needs a model file" "$tmp/err" || fail "config's detector not used: $(cat "$tmp/err")"
printf '[detect]\nbackend = cascade\nwidth = 5\n' > "$tmp/bad.conf"
if "$ctl" -c "$tmp/bad.conf" classify --model "$model" "$img" 2>"$tmp/err"; then fail "bad config accepted"; fi
grep -q "bad.conf:3: \[detect\] width" "$tmp/err" || fail "unclear config error: $(cat "$tmp/err")"
echo "PASS"
