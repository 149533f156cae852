#!/bin/sh
# Integration test of tools/rudp-perf on 127.0.0.1: RUDP tests (2 s, -R,
# -P 4, -n 10M) and one over kernel TCP, each with -J parsed by python3
# (bytes received > 0 at a positive rate and equal to the bytes sent), and
# usage errors (exit 2).  Every run is bounded by `timeout`.
set -u
perf=${PERF:-../tools/rudp-perf}
tmp=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
pass=0
failed=0

ok() {
  pass=$((pass + 1))
  echo "ok: $1"
}
bad() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
}

# A free port from the kernel: bind to 0 and read it back.
port=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    t.bind(("127.0.0.1", s.getsockname()[1]))
    print(s.getsockname()[1])
except OSError:
    print(0)')
[ "$port" != 0 ] || port=$((20000 + $$ % 20000))

# check NAME EXACT_BYTES JSONFILE: sum_received.bits_per_second > 0,
# bytes received == bytes sent (and == EXACT_BYTES unless it is 0).
check() {
  python3 - "$2" "$3" <<'PY'
import json, sys
exact = int(sys.argv[1])
d = json.load(open(sys.argv[2]))
e = d["end"]
s, r = e["sum_sent"], e["sum_received"]
for k in ("bytes", "seconds", "bits_per_second", "retransmits", "packets"):
    assert k in s, k
for k in ("min", "mean", "max"):
    assert k in e["rtt"], k
assert e["rtt"]["min"] <= e["rtt"]["mean"] <= e["rtt"]["max"], e["rtt"]
assert "max" in e["cwnd"] and "mean" in e["cwnd"]
assert r["bits_per_second"] > 0, r
assert r["bytes"] == s["bytes"], (r["bytes"], s["bytes"])
assert exact == 0 or r["bytes"] == exact, (r["bytes"], exact)
PY
}

# run NAME EXACT_BYTES SERVER_OPTS -- CLIENT_OPTS...
run() {
  name=$1
  exact=$2
  sopt=$3
  shift 3
  timeout 30 "$perf" -s -1 -p "$port" $sopt >"$tmp/server" 2>&1 &
  spid=$!
  sleep 0.3
  timeout 30 "$perf" -c 127.0.0.1 -p "$port" -J "$@" >"$tmp/out" \
    2>"$tmp/err"
  rc=$?
  wait $spid
  src=$?
  spid=
  if [ $rc -ne 0 ]; then
    bad "$name: client exit $rc: $(cat "$tmp/err")"
  elif [ $src -ne 0 ]; then
    bad "$name: server exit $src: $(cat "$tmp/server")"
  elif ! check "$name" "$exact" "$tmp/out" 2>"$tmp/py"; then
    bad "$name: $(tail -1 "$tmp/py")"
  else
    ok "$name"
  fi
}

run "rudp 2 s" 0 "" -t 2
run "rudp -R" 0 "" -t 2 -R
run "rudp -P 4" 0 "" -t 2 -P 4
run "rudp -n 10M" 10485760 "" -n 10M
run "rudp -n 10M -R -P 3" 10485760 "" -n 10M -R -P 3
run "tcp 2 s" 0 "--tcp" -t 2 --tcp
run "tcp -R -P 2" 0 "--tcp" -t 2 -R -P 2 --tcp

# The text output has iperf3's interval header.
timeout 30 "$perf" -s -1 -p "$port" >/dev/null 2>&1 &
spid=$!
sleep 0.3
timeout 30 "$perf" -c 127.0.0.1 -p "$port" -t 1 >"$tmp/out" 2>&1
rc=$?
wait $spid
spid=
if [ $rc -eq 0 ] && grep -q '^\[ ID\] Interval  *Transfer  *Bitrate  *Retr  Cwnd$' \
  "$tmp/out" && grep -q '^\[  5\]   0\.00-' "$tmp/out" &&
  grep -q 'receiver$' "$tmp/out"; then
  ok "text report"
else
  bad "text report: exit $rc: $(cat "$tmp/out")"
fi

# Usage errors: exit 2 with a one-line message.
usage() {
  timeout 5 "$perf" "$@" >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc -eq 2 ] && [ -s "$tmp/err" ]; then
    ok "usage: $*"
  else
    bad "usage: $*: exit $rc, expected 2"
  fi
}
usage
usage -s -c 127.0.0.1
usage -c 127.0.0.1 -t 1 -n 1M
usage -c 127.0.0.1 -n 12X
usage -c 127.0.0.1 -P 0
usage -c 127.0.0.1 -p 70000
usage -c 127.0.0.1 --cc vegas
usage -c 127.0.0.1 --bogus
usage -c 127.0.0.1 --netem loss=200%
timeout 5 "$perf" -c 127.0.0.1 --tls >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--tls: not built yet' "$tmp/err"; then
  ok "usage: --tls"
else
  bad "usage: --tls: exit $rc: $(cat "$tmp/err")"
fi
timeout 5 "$perf" -h >"$tmp/out" 2>&1 && grep -q '^Usage: rudp-perf' "$tmp/out" &&
  ok "-h" || bad "-h"
timeout 5 "$perf" --version | grep -q '^rudp-perf ' && ok "--version" ||
  bad "--version"

# A client with no server fails with exit 1 and a one-line error.
timeout 30 "$perf" -c 127.0.0.1 -p "$port" -t 1 --tcp >/dev/null \
  2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^rudp-perf: connect: ' "$tmp/err"; then
  ok "no server (tcp)"
else
  bad "no server (tcp): exit $rc: $(cat "$tmp/err")"
fi

echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
