#!/bin/sh
# The lab's short case in `make check` (tests/lab/README.md): two network
# namespaces joined by tools/rudp-netem at 20 ms RTT and 1% loss each way;
# a 2 s rudp-perf transfer over RUDP and one over kernel TCP must both move
# data and measure an RTT of about 20 ms; the namespaces must be gone
# afterwards, and also after SIGTERM in the foreground mode.  Only the
# addresses inside those namespaces are used.
#
# Needs root, /dev/net/tun, iproute2 and network namespaces: otherwise it
# exits 77 (automake's "skipped") saying why.  Every step is bounded by
# `timeout`; the whole test takes ~8 s.
set -u
netem=${RUDP_NETEM_BIN:-../tools/rudp-netem}
perf=${PERF:-../tools/rudp-perf}

# Inner mode: run by rudp-netem as its CMD, with RUDP_NS_A, RUDP_NS_B and
# RUDP_ADDR_B set.  $2: output directory.
if [ "${1:-}" = --inner ]; then
  out=$2
  for t in rudp tcp; do
    opt=
    [ $t = tcp ] && opt=--tcp
    timeout 20 ip netns exec "$RUDP_NS_B" "$perf" -s -1 -p 5300 $opt \
      >"$out/$t.server" 2>&1 &
    spid=$!
    sleep 0.5
    timeout 20 ip netns exec "$RUDP_NS_A" "$perf" -c "$RUDP_ADDR_B" \
      -p 5300 -t 2 -i 0 -J $opt >"$out/$t.json" 2>"$out/$t.err"
    echo $? >"$out/$t.rc"
    wait $spid
  done
  exit 0
fi

skip() {
  echo "SKIP: lab smoke test: $1"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN devices)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun (TUN driver missing)"
command -v ip >/dev/null 2>&1 || skip "no ip command (install iproute2)"
command -v python3 >/dev/null 2>&1 || skip "no python3 (parses -J output)"
probe=rudplab-$$-probe
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces"
ip netns delete "$probe"

ns_a=rudplab-$$-a
ns_b=rudplab-$$-b
tmp=$(mktemp -d)
npid=
cleanup() {
  [ -n "$npid" ] && kill "$npid" 2>/dev/null
  "$netem" --cleanup --ns-a "$ns_a" --ns-b "$ns_b" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
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
ns_left() {
  ip netns list | grep -c "^rudplab-$$-[ab]\\b"
}

# 1. 20 ms RTT (10 ms each way), 1% loss each way: RUDP and kernel TCP.
timeout 40 "$netem" --ns-a "$ns_a" --ns-b "$ns_b" \
  --both loss=1%,delay=10ms -- sh "$0" --inner "$tmp" 2>"$tmp/netem.err"
rc=$?
if [ $rc -ne 0 ]; then
  bad "rudp-netem exit $rc: $(tail -3 "$tmp/netem.err")"
fi
for t in rudp tcp; do
  if [ "$(cat "$tmp/$t.rc" 2>/dev/null)" != 0 ]; then
    bad "$t: client failed: $(cat "$tmp/$t.err" "$tmp/$t.server" 2>/dev/null |
      tail -2)"
    continue
  fi
  # Bytes arrived, and the RTT floor is the emulated 20 ms (plus at most
  # 10 ms of scheduling, queueing and delayed ACKs): the microseconds of
  # rudp-perf's end.rtt.min.
  if msg=$(python3 - "$tmp/$t.json" 2>&1 <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["end"]
r = e["sum_received"]
assert r["bytes"] > 0 and r["bits_per_second"] > 0, r
assert 19500 <= e["rtt"]["min"] <= 30000, "rtt min %d us" % e["rtt"]["min"]
print("%.1f Mbit/s, rtt min %.1f ms, %d retransmits" % (
    r["bits_per_second"] / 1e6, e["rtt"]["min"] / 1e3,
    e["sum_sent"]["retransmits"]))
PY
  ); then
    ok "$t over the lab (20 ms, 1% loss): $msg"
  else
    bad "$t: $(echo "$msg" | tail -1)"
  fi
done
# Both directions lost about 1% (the emulator's own counters).
if grep -q "a2b: .* lost [1-9]" "$tmp/netem.err" &&
  grep -q "b2a: .* lost [1-9]" "$tmp/netem.err"; then
  ok "the emulator dropped packets both ways"
else
  bad "no loss counted: $(cat "$tmp/netem.err")"
fi
if [ "$(ns_left)" = 0 ]; then
  ok "namespaces removed after the command"
else
  bad "namespaces left: $(ip netns list | grep "rudplab-$$-")"
fi

# 2. Foreground mode: 'ready', then SIGTERM removes the namespaces.
timeout 20 "$netem" -q --ns-a "$ns_a" --ns-b "$ns_b" >"$tmp/fg.out" \
  2>"$tmp/fg.err" &
npid=$!
i=0
while [ $i -lt 50 ] && ! grep -q "^rudp-netem: ready" "$tmp/fg.out"; do
  sleep 0.1
  i=$((i + 1))
done
if grep -q "^RUDP_NS_A=$ns_a\$" "$tmp/fg.out" && [ "$(ns_left)" = 2 ]; then
  ok "foreground mode: ready, namespaces named"
else
  bad "foreground mode: $(cat "$tmp/fg.out" "$tmp/fg.err")"
fi
kill -TERM $npid
wait $npid
rc=$?
npid=
if [ $rc -eq 0 ] && [ "$(ns_left)" = 0 ]; then
  ok "SIGTERM: exit 0, namespaces removed"
else
  bad "SIGTERM: exit $rc, $(ns_left) namespaces left"
fi

# 3. Usage errors exit 2 and create nothing.
"$netem" --a2b loss=2x >/dev/null 2>"$tmp/usage.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "^rudp-netem: --a2b: bad unit" "$tmp/usage.err"; then
  ok "bad SPEC: exit 2"
else
  bad "bad SPEC: exit $rc: $(cat "$tmp/usage.err")"
fi

echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
