#!/bin/sh
# Integration test of tools/rudp-perf on 127.0.0.1: RUDP tests (-t, -R,
# -P 4, -n 10M, -l, -b) and over kernel TCP, each with -J parsed by python3
# (bytes received > 0 at a positive rate and equal to the bytes sent);
# --compare (JSON with both transports, and the text table); --datagram
# (no loss on loopback, about 5% with --netem loss=5%, the iperf3 -u
# lines); --messages in each mode and over TCP (latency percentiles
# ordered, every message delivered on reliable channels, losses on an
# unreliable one with --netem loss=5%); --plot (a valid SVG with three
# charts); usage errors (exit 2,
# one line); and that -h and the man page list the same options.  Every
# run is bounded by `timeout`.
set -u
perf=${PERF:-../tools/rudp-perf}
man=$(dirname "$0")/../../docs/man/rudp-perf.1
tmp=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
pass=0
failed=0
blk=0

ok() {
  pass=$((pass + 1))
  echo "ok: $1"
}
bad() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
}

# A free port from the kernel: bind to 0 and read it back (UDP and TCP: a
# RUDP server listens on both).
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

# check EXACT_BYTES JSONFILE [BLKSIZE]: sum_received.bits_per_second > 0,
# bytes received == bytes sent (and == EXACT_BYTES unless it is 0).
check() {
  python3 - "$1" "$2" "${3:-0}" <<'PY'
import json, sys
exact = int(sys.argv[1])
blk = int(sys.argv[3])
d = json.load(open(sys.argv[2]))
e = d["end"]
s, r = e["sum_sent"], e["sum_received"]
for k in ("bytes", "seconds", "bits_per_second", "retransmits", "packets"):
    assert k in s, k
for k in ("min", "mean", "max"):
    assert k in e["rtt"], k
assert e["rtt"]["min"] <= e["rtt"]["mean"] <= e["rtt"]["max"], e["rtt"]
assert "max" in e["cwnd"] and "mean" in e["cwnd"]
assert e["cpu_utilization_percent"]["host_total"] >= 0
assert r["bits_per_second"] > 0, r
assert r["bytes"] == s["bytes"], (r["bytes"], s["bytes"])
assert exact == 0 or r["bytes"] == exact, (r["bytes"], exact)
assert blk == 0 or d["start"]["test_start"]["blksize"] == blk
PY
}

# serve SERVER_OPTS: a one-off server in the background.
serve() {
  timeout 30 "$perf" -s -1 -p "$port" $1 >"$tmp/server" 2>&1 &
  spid=$!
  sleep 0.3
}

# client NAME CLIENT_OPTS...: runs the client into $tmp/out and waits for
# the server; returns 0 if both exited 0 (else reports a failure).
client() {
  name=$1
  shift
  timeout 30 "$perf" -c 127.0.0.1 -p "$port" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  wait $spid
  src=$?
  spid=
  if [ $rc -ne 0 ]; then
    bad "$name: client exit $rc: $(cat "$tmp/err")"
    return 1
  elif [ $src -ne 0 ]; then
    bad "$name: server exit $src: $(cat "$tmp/server")"
    return 1
  fi
  return 0
}

# run NAME EXACT_BYTES SERVER_OPTS CLIENT_OPTS...: a -J test, checked.
run() {
  name=$1
  exact=$2
  serve "$3"
  shift 3
  client "$name" -J "$@" || return
  if ! check "$exact" "$tmp/out" "$blk" 2>"$tmp/py"; then
    bad "$name: $(tail -1 "$tmp/py")"
  else
    ok "$name"
  fi
}

# py NAME SCRIPT ARGS...: the python3 check SCRIPT on ARGS; ok or failure.
py() {
  name=$1
  script=$2
  shift 2
  if python3 -c "$script" "$@" 2>"$tmp/py"; then
    ok "$name"
  else
    bad "$name: $(tail -1 "$tmp/py")"
  fi
}

run "rudp 1 s" 0 "" -t 1
run "rudp -R" 0 "" -t 1 -R
run "rudp -P 4" 0 "" -t 1 -P 4
run "rudp -n 10M" 10485760 "" -n 10M
run "rudp -n 10M -R -P 3" 10485760 "" -n 10M -R -P 3
run "tcp 1 s" 0 "--tcp" -t 1 --tcp
run "tcp -R -P 2" 0 "--tcp" -t 1 -R -P 2 --tcp
blk=1000
run "rudp -l 1000 -n 3M" 3145728 "" -n 3M -l 1000
blk=100
run "tcp -l 100 -n 1M -R" 1048576 "--tcp" -n 1M -l 100 -R --tcp
blk=1048576
run "rudp -l 1M -n 5M" 5242880 "" -n 5M -l 1M
blk=0
# A plain server serves TCP clients too.
run "tcp against a RUDP server" 0 "" -t 1 --tcp

# -b paces each stream: 2 x 8 Mbit/s.
serve ""
if client "rudp -b 8M -P 2" -J -t 1 -b 8M -P 2; then
  py "rudp -b 8M -P 2" '
import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]
assert 12e6 < r < 20e6, r' "$tmp/out"
fi

# --compare: one RUDP and one TCP run against one -1 server (which must
# wait for both), JSON with both results.
serve ""
if client "--compare -J" -J -n 4M --compare; then
  py "--compare -J" '
import json, sys
d = json.load(open(sys.argv[1]))
for t, proto in (("rudp", "RUDP"), ("tcp", "TCP")):
    assert d[t]["start"]["test_start"]["protocol"] == proto, t
    e = d[t]["end"]
    assert e["sum_received"]["bytes"] == 4194304, (t, e["sum_received"])
    assert e["sum_sent"]["bytes"] == 4194304, (t, e["sum_sent"])
    assert e["sum_received"]["bits_per_second"] > 0, t
assert d["compare"]["receiver_bitrate_ratio"] > 0, d["compare"]' "$tmp/out"
fi

# --compare as text, with --plot: both reports, the table, the ratio line,
# and an SVG with a RUDP and a TCP line in each of its three charts.
serve ""
if client "--compare --plot" -t 1 -i 0.5 --compare --plot "$tmp/cmp.svg"; then
  if grep -q '^Connecting to host 127.0.0.1, port [0-9]* (RUDP)$' "$tmp/out" &&
    grep -q '^Connecting to host 127.0.0.1, port [0-9]* (TCP)$' "$tmp/out" &&
    grep -q '^Comparison  *RUDP  *TCP$' "$tmp/out" &&
    grep -q '^Bitrate (receiver)  *[0-9.]* [KMG]*bits/sec  *[0-9.]* [KMG]*bits/sec$' \
      "$tmp/out" &&
    grep -q '^Retransmits  *[0-9]*  *[0-9]*$' "$tmp/out" &&
    grep -q '^Ratio RUDP/TCP: receiver bitrate [0-9.]*, sender bitrate [0-9.]*$' \
      "$tmp/out"; then
    ok "--compare text"
  else
    bad "--compare text: $(cat "$tmp/out")"
  fi
  py "--compare --plot" '
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
charts = root.findall("s:g[@class=\"chart\"]", ns)
assert [c.get("id") for c in charts] == ["throughput", "cwnd", "rtt"], charts
for c in charts:
    lines = c.findall("s:polyline", ns)
    assert [l.get("data-name") for l in lines] == ["RUDP", "TCP"], c.get("id")
    for l in lines:
        n = len(l.get("points").split())
        assert n >= 6, (c.get("id"), l.get("data-name"), n)
' "$tmp/cmp.svg"
fi

# --plot with -R: the server sends, and sends its samples back.
serve ""
if client "--plot -R" -t 1 -R --plot "$tmp/r.svg"; then
  py "--plot -R" '
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
text = ET.tostring(root, encoding="unicode")
assert "<script" not in text and "href" not in text, "not self-contained"
assert root.find("s:title", ns) is not None
charts = root.findall("s:g[@class=\"chart\"]", ns)
assert len(charts) == 3, len(charts)
for c in charts:
    assert len(c.findall("s:text[@class=\"tick\"]", ns)) >= 4, c.get("id")
    assert c.find("s:g[@class=\"legend\"]", ns) is not None, c.get("id")
    (l,) = c.findall("s:polyline", ns)
    pts = [tuple(map(float, p.split(","))) for p in l.get("points").split()]
    assert len(pts) >= 6, (c.get("id"), len(pts))
    xs = [p[0] for p in pts]
    assert xs == sorted(xs), c.get("id")
' "$tmp/r.svg"
fi

# --datagram on loopback: (almost) nothing lost, iperf3 -u JSON.
serve ""
if client "--datagram -b 20M" -J -t 1 --datagram -b 20M; then
  py "--datagram -b 20M" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["start"]["test_start"]["blksize"] == 1400
s = d["end"]["sum"]
for k in ("jitter_ms", "lost_packets", "packets", "lost_percent", "bytes",
          "bits_per_second", "seconds", "out_of_order"):
    assert k in s, k
assert 1600 <= s["packets"] <= 1900, s
assert s["lost_percent"] < 1, s
assert s["bytes"] == s["packets"] * 1400, s
assert 0 <= s["jitter_ms"] < 50, s
g = d["end"]["datagrams"]
assert g["written"] == s["packets"] and g["received"] > 0, g
assert s["lost_packets"] == g["written"] - g["received"], (s, g)' "$tmp/out"
fi

# --datagram with 5% loss on the sender's datagrams: the receiver counts
# about 5% (a modest rate so that congestion control does not add drops of
# its own on a slow, sanitized build).
serve ""
if client "--datagram --netem loss=5%" -J -t 1 --datagram -b 5M \
  --netem loss=5%; then
  py "--datagram --netem loss=5%" '
import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
assert 1 <= s["lost_percent"] <= 15, s
assert s["lost_packets"] > 0, s' "$tmp/out"
fi

# --datagram -R as text: the client receives and prints iperf3 -u lines.
serve ""
if client "--datagram -R text" -t 1 -R --datagram -b 2M -l 500; then
  if grep -q '^\[ ID\] Interval  *Transfer  *Bitrate  *Jitter  *Lost/Total Datagrams$' \
    "$tmp/out" &&
    grep -q '^\[  5\]   0\.00-.* sec .*bits/sec  *[0-9.]* ms  *[0-9]*/[0-9]* ([0-9.e+-]*%)$' \
      "$tmp/out" &&
    grep -q ' ms  *[0-9]*/[0-9]* ([0-9.e+-]*%)  receiver$' "$tmp/out" &&
    grep -q '^\[  5\] sender: [0-9]* datagrams written, [0-9]* sent, ' \
      "$tmp/out"; then
    ok "--datagram -R text"
  else
    bad "--datagram -R text: $(cat "$tmp/out")"
  fi
fi

# The text output has iperf3's interval header.
serve ""
if client "text report" -t 1; then
  if grep -q '^\[ ID\] Interval  *Transfer  *Bitrate  *Retr  Cwnd$' \
    "$tmp/out" && grep -q '^\[  5\]   0\.00-' "$tmp/out" &&
    grep -q 'sender$' "$tmp/out" && grep -q 'receiver$' "$tmp/out"; then
    ok "text report"
  else
    bad "text report: $(cat "$tmp/out")"
  fi
fi

# --messages: 1000 messages/s of 200 bytes for 2 s in each mode and over
# TCP; -J parsed: end.messages and end.latency_us present, delivered ==
# sent in the reliable modes (and TCP), p50 <= p99 <= p999 <= max.
# msgcheck JSONFILE RELIABLE [LOSSY]: LOSSY 1 wants delivered < sent.
msgcheck() {
  python3 - "$@" <<'PY'
import json, sys
rel = sys.argv[2] == "1"
lossy = len(sys.argv) > 3 and sys.argv[3] == "1"
e = json.load(open(sys.argv[1]))["end"]
m, l = e["messages"], e["latency_us"]
assert 1900 <= m["sent"] <= 2100, m
assert m["dropped"] == m["sent"] - m["delivered"], m
if rel:
    assert m["delivered"] == m["sent"], m
    assert m["dropped"] == 0, m
if lossy:
    assert 0 < m["delivered"] < m["sent"], m
assert 0 < l["p50"] <= l["p99"] <= l["p999"] <= l["max"], l
assert l["max"] < 5e6, l
PY
}
for mode in ordered unordered unreliable sequenced tcp; do
  case $mode in
  tcp) sopt="--tcp" copt="--tcp" rel=1 ;;
  ordered | unordered) sopt="--low-latency" copt="--mode $mode" rel=1 ;;
  *) sopt="--low-latency" copt="--mode $mode" rel=0 ;;
  esac
  serve "$sopt"
  if client "messages $mode" -J --messages 1000 -l 200 -t 2 $copt &&
    msgcheck "$tmp/out" $rel 2>"$tmp/py"; then
    ok "messages $mode: $(python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))["end"]
print(e["messages"], e["latency_us"])' "$tmp/out")"
  else
    bad "messages $mode: $(tail -1 "$tmp/py" 2>/dev/null)"
  fi
done
# With 5% loss an unreliable channel loses messages.  The server is killed
# after the run: its last packets may be lost, and it would wait for them.
timeout 30 "$perf" -s -p "$port" --low-latency --netem loss=5% \
  >"$tmp/server" 2>&1 &
spid=$!
sleep 0.3
timeout 30 "$perf" -c 127.0.0.1 -p "$port" -J --messages 1000 -t 2 \
  --mode unreliable --netem loss=5% >"$tmp/out" 2>"$tmp/err"
rc=$?
kill $spid 2>/dev/null
wait $spid 2>/dev/null
spid=
if [ $rc -eq 0 ] && msgcheck "$tmp/out" 0 1 2>"$tmp/py"; then
  ok "messages unreliable with --netem loss=5%"
else
  bad "messages unreliable loss=5%: exit $rc: $(cat "$tmp/err")" \
    "$(tail -1 "$tmp/py" 2>/dev/null)"
fi
# The text summary says what latency is.
serve "--low-latency"
if client "messages text" --messages 500 -t 1 &&
  grep -q '^\[msg\] ordered 500 msg/s 200 B: delivered [0-9]*/[0-9]* .* p99.9 ' \
    "$tmp/out" && grep -q 'CLOCK_MONOTONIC' "$tmp/out"; then
  ok "messages text summary"
else
  bad "messages text summary: $(cat "$tmp/out")"
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
# The new options' errors are one line each.
usage1() {
  timeout 5 "$perf" "$@" >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q '^rudp-perf: ' "$tmp/err"; then
    ok "usage: $*"
  else
    bad "usage: $*: exit $rc, expected 2 and one line: $(cat "$tmp/err")"
  fi
}
usage1 -c 127.0.0.1 -l 0
usage1 -c 127.0.0.1 -l 1025K
usage1 -c 127.0.0.1 -l 1x
usage1 -c 127.0.0.1 --datagram -l 15
usage1 -c 127.0.0.1 --datagram -l 1401
usage1 -c 127.0.0.1 -b 0
usage1 -c 127.0.0.1 -b 101G
usage1 -c 127.0.0.1 -b 5Q
usage1 -c 127.0.0.1 --datagram --tcp
usage1 -c 127.0.0.1 --datagram --compare
usage1 -c 127.0.0.1 --datagram -P 2
usage1 -c 127.0.0.1 --compare --tcp
usage1 -c 127.0.0.1 --plot=
usage1 -s -l 1K
usage1 -s -b 1M
usage1 -s --datagram
usage1 -s --compare
usage1 -s --plot x.svg
usage1 -c 127.0.0.1 --messages 1000 --mode fifo
usage1 -c 127.0.0.1 --messages 0
usage1 -c 127.0.0.1 --messages 1000001
usage1 -c 127.0.0.1 --messages 1000 --datagram
usage1 -c 127.0.0.1 --messages 1000 -R
usage1 -c 127.0.0.1 --messages 1000 -n 1M
usage1 -c 127.0.0.1 --messages 1000 -l 15
usage1 -c 127.0.0.1 --messages 1000 --mode unreliable -l 65537
usage1 -c 127.0.0.1 --messages 1000 --mode ordered -l 1025K
usage1 -c 127.0.0.1 --mode ordered
usage1 -c 127.0.0.1 --messages 1000 --tcp --low-latency
usage1 -s --messages 1000
# The largest and smallest lengths are accepted (exit 1: no server).
for l in "-l 1" "-l 1M" "--datagram -l 16" "--datagram -l 1400" \
  "--messages 1 -l 16" "--messages 1 --mode sequenced -l 64K"; do
  timeout 20 "$perf" -c 127.0.0.1 -p "$port" -t 1 $l >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc -eq 1 ]; then
    ok "bounds: $l"
  else
    bad "bounds: $l: exit $rc: $(cat "$tmp/err")"
  fi
done
timeout 5 "$perf" -c 127.0.0.1 --plot /nonexistent/dir/x.svg >/dev/null \
  2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^rudp-perf: --plot: /nonexistent/dir: ' \
  "$tmp/err"; then
  ok "--plot into a missing directory"
else
  bad "--plot into a missing directory: exit $rc: $(cat "$tmp/err")"
fi
timeout 5 "$perf" -h >"$tmp/out" 2>&1 && grep -q '^Usage: rudp-perf' "$tmp/out" &&
  ok "-h" || bad "-h"
timeout 5 "$perf" --version | grep -q '^rudp-perf ' && ok "--version" ||
  bad "--version"

# -h and the man page's OPTIONS list the same short and long options.
if [ -f "$man" ]; then
  py "-h agrees with rudp-perf.1" '
import re, sys
def opts(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[A-Za-z0-9])(?![\w-])",
                          text))
helped = set()
for line in open(sys.argv[1]):
    m = re.match(r"^  (-\w), (--[\w-]+)|^      (--[\w-]+)", line)
    if m:
        helped |= {g for g in m.groups() if g}
src = open(sys.argv[2]).read().replace("\\-", "-")
sect = src.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0].split("\n")
tags = set()
for i, line in enumerate(sect):
    if line.startswith(".TP") and i + 1 < len(sect):
        tags |= opts(sect[i + 1])
assert len(helped) >= 20, sorted(helped)
assert helped - tags == set(), ("not in the man page", sorted(helped - tags))
assert tags - helped == set(), ("not in -h", sorted(tags - helped))
' "$tmp/out" "$man"
else
  bad "-h agrees with rudp-perf.1: $man not found"
fi

# TLS: an ephemeral certificate, the client pins it; -J checked as usual,
# and the connection really used TLS (a pin mismatch fails with exit 1).
timeout 30 "$perf" -s -1 -p "$port" --tls >"$tmp/server" 2>&1 &
spid=$!
fp=
for _ in $(seq 30); do
  fp=$(sed -n 's/^rudp-perf: TLS certificate SHA-256 //p' "$tmp/server")
  [ -n "$fp" ] && break
  grep -q "built without TLS" "$tmp/server" && break
  sleep 0.1
done
if grep -q "built without TLS" "$tmp/server"; then
  wait $spid
  ok "TLS skipped: $(cat "$tmp/server")"
elif [ -z "$fp" ]; then
  wait $spid
  bad "TLS server printed no fingerprint: $(cat "$tmp/server")"
else
  sleep 0.2
  if client "tls" -J -n 20M --tls --pin "$fp" &&
    check 20971520 "$tmp/out" 2>"$tmp/py"; then
    ok "tls -n 20M with --pin"
  else
    bad "tls: $(tail -1 "$tmp/py" 2>/dev/null)"
  fi
  serve "--tls"
  wrong=00$(echo "$fp" | cut -c3-)
  [ "$wrong" = "$fp" ] && wrong=11$(echo "$fp" | cut -c3-)
  timeout 30 "$perf" -c 127.0.0.1 -p "$port" -t 1 --tls --pin "$wrong" \
    >/dev/null 2>"$tmp/err"
  rc=$?
  kill $spid 2>/dev/null
  wait $spid 2>/dev/null
  spid=
  if [ $rc -eq 1 ] && grep -q "pinned SHA-256" "$tmp/err"; then
    ok "tls pin mismatch: $(cat "$tmp/err")"
  else
    bad "tls pin mismatch: exit $rc: $(cat "$tmp/err")"
  fi
fi
usage -c 127.0.0.1 --tls --tcp
usage -c 127.0.0.1 --pin 00:11
usage -c 127.0.0.1 --tls --cert x.pem
usage -s --tls --insecure

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
