#!/bin/sh
# Test of tests/lab/plot-matrix (the lab matrix's SVG) on
# tests/lab/fixture-matrix.json, a run-matrix JSON of 2 (RTT, loss) cells x
# 3 rates x 5 transports with one failed row, one missing row and one
# transport skipped everywhere (tcp-bbr).  No root, no network: the SVG
# must parse as XML, hold one panel per rate, one bar per result whose top
# sits on the log scale of its gridlines, an 'x' for each hole (not a
# zero bar), the legend and the run's metadata; stdin works alike; bad
# input exits 2 with one line; run-matrix's --plot is checked before it
# needs root.  Every command is bounded by `timeout`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
plot=$here/plot-matrix
fixture=$here/fixture-matrix.json
pass=0
failed=0

command -v python3 >/dev/null || {
  echo "plot-test: skipped: no python3"
  exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

ok() {
  pass=$((pass + 1))
  echo "ok: $1"
}
bad() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
}
# one_line FILE: the file is exactly one line that starts with PROG.
one_line() {
  [ "$(wc -l <"$1")" -eq 1 ] && grep -q "^$2: " "$1"
}
# check PYTHON-SCRIPT ARGS...: runs a checker that prints "ok: ..." and
# "FAIL: ..." lines; counts them.
check() {
  timeout 20 python3 - "$@" >"$tmp/check.out" 2>&1 <"$tmp/check.py"
  rc=$?
  while IFS= read -r line; do
    case $line in
    "ok: "*) ok "${line#ok: }" ;;
    "FAIL: "*) bad "${line#FAIL: }" ;;
    *) echo "$line" >&2 ;;
    esac
  done <"$tmp/check.out"
  [ $rc = 0 ] || bad "checker exited $rc"
}

# ---------------------------------------------------------------- the plot
if timeout 20 python3 "$plot" -o "$tmp/m.svg" "$fixture" 2>"$tmp/err" &&
  [ ! -s "$tmp/err" ]; then
  ok "fixture: exit 0, nothing on stderr"
else
  bad "fixture: $(cat "$tmp/err")"
fi

cat >"$tmp/check.py" <<'PY'
import json, math, sys
import xml.etree.ElementTree as ET
svg_file, fixture = sys.argv[1:3]
NS = "{http://www.w3.org/2000/svg}"
def ok(c, what):
    print(("ok: " if c else "FAIL: ") + what)
try:
    root = ET.parse(svg_file).getroot()
except ET.ParseError as e:
    ok(False, "SVG parses as XML: %s" % e)
    sys.exit(0)
ok(True, "SVG parses as XML")
doc = json.load(open(fixture))
rows = doc["rows"]
ok(root.tag == NS + "svg" and root.get("width") == "1000" and
   root.get("viewBox", "").startswith("0 0 1000 ") and
   root.get("font-family") == "sans-serif",
   "svg root: width 1000, viewBox, sans-serif")
ok(not any(e.tag in (NS + "script", NS + "image", NS + "use") or
           any(k.endswith("href") for k in e.attrib) for e in root.iter()),
   "self-contained: no script, image or link")

panels = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
ok([p.get("data-rate") for p in panels] == ["1gbit", "100mbit", "unlimited"],
   "one panel per rate, in run order: %s" %
   [p.get("data-rate") for p in panels])
texts = " | ".join("".join(t.itertext()) for t in root.iter(NS + "text"))
for want in ("Rate 1 Gbit/s", "Rate 100 Mbit/s", "No rate limit"):
    ok(want in texts, "panel title '%s'" % want)

def key(rate, rtt, loss, t):
    return (rate, float(rtt), float(loss), t)
want_bars = {key(r["rate"], r["rtt_ms"], r["loss_pct"], r["transport"]):
             r["goodput_mbps"] for r in rows if r["goodput_mbps"] is not None}
bars = [e for e in root.iter(NS + "rect") if e.get("class") == "bar"]
got = {}
for b in bars:
    got[key(b.get("data-rate"), b.get("data-rtt"), b.get("data-loss"),
            b.get("data-transport"))] = float(b.get("data-mbps"))
ok(len(bars) == 22 and len(want_bars) == 22,
   "22 bars, one per result (%d drawn)" % len(bars))
ok(set(got) == set(want_bars), "the bars are the (rate, cell, transport) "
   "with a result")
ok(all(abs(got[k] - want_bars[k]) < 1e-9 for k in got if k in want_bars),
   "each bar carries its row's goodput")

holes = [g for g in root.iter(NS + "g") if g.get("class") == "nodata"]
hk = sorted((g.get("data-rate"), g.get("data-rtt"), g.get("data-transport"),
             g.get("data-kind")) for g in holes)
ok(hk == [("100mbit", "20", "tcp-cubic", "no row"),
          ("unlimited", "20", "rudp-cubic-tls", "failed")],
   "an 'x' for the missing row and the failed one: %s" % hk)
ok(all(g.find(NS + "path") is not None and
       g.find(NS + "path").get("class") == "cross" for g in holes),
   "each hole is drawn as a cross")
ok(any("test: timed out" in (g.findtext(NS + "title") or "") for g in holes),
   "the failed cell's note is in its title")
ok(not any(k[3] == "tcp-bbr" for k in got) and
   not any(g.get("data-transport") == "tcp-bbr" for g in holes),
   "tcp-bbr (skipped everywhere) has no bar slots")
un = [e for e in root.iter(NS + "text") if e.get("class") == "unmeasured"]
ok(len(un) == 1 and un[0].get("data-transport") == "tcp-bbr" and
   "this kernel has no bbr" in un[0].text, "tcp-bbr listed as not measured")

sw = {e.get("data-transport"): e.get("fill") for e in root.iter(NS + "rect")
      if e.get("class") == "swatch"}
ok(list(sw) == ["rudp-reno", "rudp-cubic", "rudp-cubic-tls", "tcp-cubic"],
   "legend: the measured transports in run order: %s" % list(sw))
ok(len(set(sw.values())) == 4, "legend: four different colours")
ok(all(b.get("fill") == sw.get(b.get("data-transport")) for b in bars),
   "every bar has its transport's legend colour")
for label in ("RUDP Reno", "RUDP CUBIC", "RUDP CUBIC+TLS", "TCP CUBIC",
              "no result"):
    ok(label in texts, "legend label '%s'" % label)

# The log scale: each panel's decade gridlines 1, 10, 100, 1000 are evenly
# spaced, and each bar's top is where log10(goodput) falls between them
# and its foot on the lowest one.
worst = 0.0
for p in panels:
    grid = {float(l.get("data-value")): float(l.get("y1"))
            for l in p.iter(NS + "line") if l.get("class") == "grid major"}
    ok(sorted(grid) == [1, 10, 100, 1000],
       "%s: gridlines at 1, 10, 100, 1000" % p.get("data-rate"))
    if sorted(grid) != [1, 10, 100, 1000]:
        continue
    labels = [t.text for t in p.iter(NS + "text") if t.get("class") == "tick"]
    ok(labels == ["1", "10", "100", "1000"],
       "%s: gridlines labelled %s" % (p.get("data-rate"), labels))
    dec = grid[1] - grid[10]
    ok(dec > 40 and abs((grid[10] - grid[100]) - dec) < 0.02 and
       abs((grid[100] - grid[1000]) - dec) < 0.02,
       "%s: decades evenly spaced (%.1f px)" % (p.get("data-rate"), dec))
    for b in p.iter(NS + "rect"):
        if b.get("class") != "bar":
            continue
        v = float(b.get("data-mbps"))
        y, h = float(b.get("y")), float(b.get("height"))
        worst = max(worst, abs(y - (grid[1] - math.log10(v) * dec)),
                    abs(y + h - grid[1]))
ok(worst < 0.02, "bar tops on the log scale, feet on its floor "
   "(worst %.3f px)" % worst)

ok(doc["date"] in texts and doc["machine"] in texts and
   doc["kernel"] in texts, "subtitle: date, machine, kernel")
cmd = " ".join("".join(t.itertext()) for t in root.iter(NS + "text")
               if t.get("class") == "command")
ok(cmd.replace("$ ", "", 1).split() == doc["command"].split(),
   "subtitle: the command line")
ok("5 s per transfer" in texts, "subtitle: seconds per transfer")
PY
check "$tmp/m.svg" "$fixture"

# The same from stdin to stdout.
timeout 20 python3 "$plot" <"$fixture" >"$tmp/stdin.svg" 2>"$tmp/err"
rc=$?
if [ $rc = 0 ] && cmp -s "$tmp/m.svg" "$tmp/stdin.svg"; then
  ok "stdin to stdout: the same SVG"
else
  bad "stdin to stdout: exit $rc, $(cat "$tmp/err")"
fi
if timeout 20 python3 "$plot" - --title 'A <b> & "c"' <"$fixture" \
  >"$tmp/title.svg" 2>"$tmp/err" &&
  python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
sys.exit(r.findtext("{http://www.w3.org/2000/svg}title") != sys.argv[2])' \
  "$tmp/title.svg" 'A <b> & "c"'; then
  ok "--title, escaped"
else
  bad "--title: $(cat "$tmp/err")"
fi

# ------------------------------------------------- variants of the input
# An older run-matrix JSON (no metadata), a zero goodput (a result: a
# hairline bar, not an 'x'), and a matrix with no result at all.
python3 - "$fixture" "$tmp" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
old = {"seconds_per_transfer": doc["seconds_per_transfer"],
       "elapsed_s": doc["elapsed_s"], "rows": doc["rows"]}
old["rows"][0]["goodput_mbps"] = 0.0
json.dump(old, open(sys.argv[2] + "/old.json", "w"))
none = dict(old, rows=[dict(r, goodput_mbps=None, note="exit 1: x")
                       for r in doc["rows"]])
json.dump(none, open(sys.argv[2] + "/none.json", "w"))
PY
cat >"$tmp/check.py" <<'PY'
import sys
import xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
def ok(c, what):
    print(("ok: " if c else "FAIL: ") + what)
root = ET.parse(sys.argv[1]).getroot()
bars = [e for e in root.iter(NS + "rect") if e.get("class") == "bar"]
holes = [g for g in root.iter(NS + "g") if g.get("class") == "nodata"]
cmd = [t for t in root.iter(NS + "text") if t.get("class") == "command"]
if sys.argv[2] == "old":
    zero = [b for b in bars if float(b.get("data-mbps")) == 0]
    ok(len(bars) == 22 and len(holes) == 2, "old JSON: 22 bars, 2 holes")
    ok(len(zero) == 1 and 0 < float(zero[0].get("height")) <= 1,
       "a zero goodput is a hairline bar, not an 'x'")
    ok(not cmd, "old JSON: no command line")
else:
    ok(not bars and not holes and
       len([t for t in root.iter(NS + "text")
            if t.get("class") == "unmeasured"]) == 5,
       "no result at all: no bars, five transports not measured")
PY
for v in old none; do
  if timeout 20 python3 "$plot" -o "$tmp/$v.svg" "$tmp/$v.json" \
    2>"$tmp/err"; then
    check "$tmp/$v.svg" "$v"
  else
    bad "$v: exit $?: $(cat "$tmp/err")"
  fi
done

# ------------------------------------------------------------ bad input
# Each: exit 2, one line on stderr, no SVG left behind.
printf 'not json\n' >"$tmp/bad1"
printf '{"rows": []}' >"$tmp/bad2"
printf '{"seconds_per_transfer": 5}' >"$tmp/bad3"
printf '{"rows": [{"rtt_ms": 0, "loss_pct": 0, "rate": "1gbit"}]}' >"$tmp/bad4"
printf '{"rows": [{"rtt_ms": 0, "loss_pct": 0, "rate": "1gbit",
  "transport": "x", "goodput_mbps": "fast"}]}' >"$tmp/bad5"
: >"$tmp/bad6"
for c in "bad1:not JSON" "bad2:empty matrix" 'bad3:no "rows" list' \
  "bad4:no valid transport" "bad5:goodput_mbps is not a rate" \
  "bad6:not JSON" "missing:cannot read"; do
  f=${c%%:*}
  why=${c#*:}
  rm -f "$tmp/out.svg"
  timeout 20 python3 "$plot" -o "$tmp/out.svg" "$tmp/$f" 2>"$tmp/err"
  rc=$?
  if [ $rc = 2 ] && one_line "$tmp/err" plot-matrix &&
    grep -q "$why" "$tmp/err" && [ ! -e "$tmp/out.svg" ]; then
    ok "$f: exit 2, '$(cat "$tmp/err")'"
  else
    bad "$f: exit $rc (want 2, one line with '$why'): $(cat "$tmp/err")"
  fi
done
timeout 20 python3 "$plot" <"$tmp/bad2" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 2 ] && one_line "$tmp/err" plot-matrix &&
  grep -q '^plot-matrix: stdin: ' "$tmp/err"; then
  ok "empty matrix on stdin: exit 2, '$(cat "$tmp/err")'"
else
  bad "empty matrix on stdin: exit $rc: $(cat "$tmp/err")"
fi
for args in "--bogus" "-o" "$fixture $fixture"; do
  # shellcheck disable=SC2086 # the words are the arguments
  timeout 20 python3 "$plot" $args </dev/null >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc = 2 ] && one_line "$tmp/err" plot-matrix; then
    ok "'$args': exit 2, '$(cat "$tmp/err")'"
  else
    bad "'$args': exit $rc (want 2, one line): $(cat "$tmp/err")"
  fi
done
timeout 20 python3 "$plot" -o "$tmp/no/such/dir/m.svg" "$fixture" 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && one_line "$tmp/err" plot-matrix; then
  ok "unwritable output: exit 1, '$(cat "$tmp/err")'"
else
  bad "unwritable output: exit $rc (want 1, one line): $(cat "$tmp/err")"
fi
timeout 20 python3 "$plot" --help >"$tmp/help"
if grep -q -- '--output FILE' "$tmp/help"; then
  ok "--help"
else
  bad "--help does not list -o/--output"
fi

# -------------------------------------------------- run-matrix --plot
# Its arguments are checked before it asks for root.
timeout 20 "$here/run-matrix" --help >"$tmp/help"
if grep -q -- '--plot FILE.svg' "$tmp/help"; then
  ok "run-matrix --help lists --plot"
else
  bad "run-matrix --help does not list --plot"
fi
for args in "--plot" "--plot $tmp/no/such/dir/m.svg"; do
  # shellcheck disable=SC2086 # the words are the arguments
  timeout 20 "$here/run-matrix" $args >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc = 2 ] && one_line "$tmp/err" run-matrix; then
    ok "run-matrix $args: exit 2, '$(cat "$tmp/err")'"
  else
    bad "run-matrix $args: exit $rc (want 2, one line): $(cat "$tmp/err")"
  fi
done

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
