#!/bin/sh
# Integration test of the message-layer demos (examples/game_state.c and
# examples/live_stream.c, docs/MESSAGES.md) on 127.0.0.1: each server on a
# free port with a lossy --netem on what it sends, each client for 2 s,
# then the client's summary line is checked: game_state received most
# snapshots, saw some dropped, got its reliable events complete and in
# order, and the server got the client's inputs in order; live_stream
# played most frames, none corrupt.  Then the late/dropped reporting:
# game_state under jitter with a small --late counts late snapshots, and
# live_stream whose path varies by more than its playout delay drops late
# frames (a clean run of each counts none late, so the counters are not
# stuck).  Also: usage errors exit 2, and a client facing a closed port
# fails with 1.  Every process is bounded by `timeout`; the whole test
# takes about 12 s.
set -u
game=${GAME_STATE:-../examples/game_state}
live=${LIVE_STREAM:-../examples/live_stream}
work=$(mktemp -d)
pids=
# shellcheck disable=SC2154
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$work"' EXIT
# Stopped (by the watchdog below, or a signal): the EXIT trap cleans up.
trap 'exit 1' INT TERM
passed=0
failed=0
# A watchdog holds the whole test to 120 s, whatever hangs (it takes
# about 15 s on an idle 2-core machine, 30 s under valgrind).
# shellcheck disable=SC2016
(
  trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep 120 >/dev/null 2>&1 &
  s=$!
  wait $s && echo "FAIL: msg_demos.sh took over 120 s" >&2 && kill $$
) &
pids="$pids $!"

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

# start_server PROG TAG ARGS...: starts PROG -s on a free port; sets $spid
# and $port (empty if it did not start).
start_server() {
  prog=$1
  tag=$2
  shift 2
  timeout 20 "$prog" -s -p 0 "$@" >"$work/$tag.srv" 2>&1 &
  spid=$!
  pids="$pids $spid"
  port=
  for _ in $(seq 50); do
    port=$(sed -n '1s/^[a-z_]*: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$work/$tag.srv")
    [ -n "$port" ] && break
    sleep 0.1
  done
}

# field LINE KEY: the value of KEY=VALUE in LINE.
field() {
  echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# --- game_state: 60 Hz snapshots (unreliable, sequenced) + events
start_server "$game" game --netem loss=5%,delay=5ms,jitter=2ms
if [ -z "$port" ]; then
  fail "game_state server did not print its port: $(cat "$work/game.srv")"
else
  ok "game_state server listening on port $port"
  timeout 15 "$game" -c 127.0.0.1 -p "$port" -t 2 -q >"$work/game.out" \
    2>&1
  rc=$?
  line=$(grep '^game_state: summary ' "$work/game.out")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    fail "game_state client: exit $rc: $(cat "$work/game.out")"
  else
    ok "game_state client exit 0: $line"
    received=$(field "$line" received)
    dropped=$(field "$line" dropped)
    events=$(field "$line" events)
    events_ok=$(field "$line" events_ok)
    # 2 s at 60 Hz is about 120 snapshots; 5% are lost on the way.
    if [ "$received" -ge 80 ] && [ "$received" -le 125 ]; then
      ok "snapshots received: $received"
    else
      fail "snapshots received: $received, expected 80 to 125"
    fi
    if [ "$dropped" -ge 1 ] && [ "$dropped" -le 30 ]; then
      ok "snapshots dropped under 5% loss: $dropped"
    else
      fail "snapshots dropped: $dropped, expected 1 to 30"
    fi
    # Events come twice a second, reliably: none lost, none reordered.
    if [ "$events" -ge 2 ] && [ "$events_ok" = 1 ]; then
      ok "events: $events, complete and in order"
    else
      fail "events: $events, events_ok=$events_ok"
    fi
  fi
  # The client sent inputs (30 Hz); the server reports them when the
  # client leaves: all received, in order.
  inputs=$(field "$line" inputs)
  srvline=
  for _ in $(seq 30); do
    srvline=$(grep 'client left' "$work/game.srv")
    [ -n "$srvline" ] && break
    sleep 0.1
  done
  if [ -n "$inputs" ] && [ "$inputs" -ge 30 ] &&
    echo "$srvline" | grep -q " $inputs inputs received, in order"; then
    ok "inputs: $inputs sent, all received in order"
  else
    fail "inputs: ${inputs:-?} sent; server: ${srvline:-nothing}"
  fi
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  # The server is gone: a client against its closed port fails fast.
  timeout 15 "$game" -c 127.0.0.1 -p "$port" -t 1 -q >/dev/null 2>&1
  rc=$?
  if [ $rc -eq 1 ]; then
    ok "game_state client against a closed port: exit 1"
  else
    fail "game_state client against a closed port: exit $rc, expected 1"
  fi
fi

# --- live_stream: frames with deadlines
start_server "$live" live --netem loss=2%,delay=10ms,jitter=5ms
if [ -z "$port" ]; then
  fail "live_stream server did not print its port: $(cat "$work/live.srv")"
else
  ok "live_stream server listening on port $port"
  timeout 15 "$live" -c 127.0.0.1 -p "$port" -t 2 -q >"$work/live.out" \
    2>&1
  rc=$?
  line=$(grep '^live_stream: summary ' "$work/live.out")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    fail "live_stream viewer: exit $rc: $(cat "$work/live.out")"
  else
    ok "live_stream viewer exit 0: $line"
    frames=$(field "$line" frames)
    played=$(field "$line" played)
    corrupt=$(field "$line" corrupt)
    # 2 s at 30 fps is about 60 frames.
    if [ "$frames" -ge 40 ] && [ "$played" -ge 30 ] &&
      [ "$played" -le "$frames" ]; then
      ok "frames played on time: $played of $frames"
    else
      fail "frames: $played played of $frames"
    fi
    if [ "$corrupt" = 0 ]; then
      ok "no corrupt frame"
    else
      fail "$corrupt corrupt frames"
    fi
  fi
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
fi

# run_pair PROG TAG 'SERVER ARGS' 'CLIENT ARGS': a 2 s run; sets $line to
# the client's summary line (empty on failure).
run_pair() {
  prog=$1
  tag=$2
  # shellcheck disable=SC2086
  start_server "$prog" "$tag" $3
  line=
  if [ -z "$port" ]; then
    fail "$tag: server did not print its port: $(cat "$work/$tag.srv")"
    return
  fi
  # shellcheck disable=SC2086
  timeout 15 "$prog" -c 127.0.0.1 -p "$port" -t 2 -q $4 \
    >"$work/$tag.out" 2>&1
  rc=$?
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  line=$(grep "summary " "$work/$tag.out")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    fail "$tag: client exit $rc: $(cat "$work/$tag.out")"
    line=
  fi
}

# --- late reporting: game_state.  Jitter of +-15 ms around 20 ms spreads
# the snapshots' delays over 30 ms; with --late 5 most come later than 5 ms
# after the fastest and must be counted late.  Without jitter none does
# (with a threshold of 250 ms, far above any scheduling noise).
run_pair "$game" game_jitter "--netem delay=20ms,jitter=15ms" "--late 5"
if [ -n "$line" ]; then
  received=$(field "$line" received)
  late=$(field "$line" late)
  if [ "$late" -gt 0 ] && [ $((late * 4)) -ge "$received" ]; then
    ok "game_state jitter 15 ms, --late 5: $late of $received late"
  else
    fail "game_state jitter 15 ms, --late 5: $late of $received late"
  fi
fi
run_pair "$game" game_steady "--netem delay=20ms" "--late 250"
if [ -n "$line" ]; then
  late=$(field "$line" late)
  if [ "$late" = 0 ]; then
    ok "game_state steady 20 ms, --late 250: none late"
  else
    fail "game_state steady 20 ms, --late 250: $late late"
  fi
fi

# --- late frames: live_stream.  Its viewer plays each frame 10 ms
# (--delay) after the fastest frame would have arrived; the path's delay
# varies from 5 to 55 ms (and a keyframe takes 13 packets): frames that
# come later are dropped as late, and must be reported so.
run_pair "$live" live_late "--netem delay=30ms,jitter=25ms" "--delay 10"
if [ -n "$line" ]; then
  frames=$(field "$line" frames)
  late=$(field "$line" late)
  played=$(field "$line" played)
  lost=$(field "$line" lost)
  if [ "$late" -gt 0 ] && [ $((late * 4)) -ge "$frames" ] &&
    [ $((played + late + lost)) -eq "$frames" ]; then
    ok "live_stream path 5-55 ms, --delay 10: $late of $frames late"
  else
    fail "live_stream path 5-55 ms, --delay 10: $line"
  fi
fi
run_pair "$live" live_steady "--netem delay=30ms" "--delay 500"
if [ -n "$line" ]; then
  late=$(field "$line" late)
  if [ "$late" = 0 ]; then
    ok "live_stream steady 30 ms, --delay 500: none late"
  else
    fail "live_stream steady 30 ms, --delay 500: $late late"
  fi
fi

# --- usage errors: one line on stderr, exit 2
for args in "" "-s -c 127.0.0.1" "-c" "-s --hz 0" "-c 127.0.0.1 -t x" \
  "--bogus"; do
  # shellcheck disable=SC2086
  timeout 5 "$game" $args >/dev/null 2>"$work/usage.err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$work/usage.err")" -eq 1 ]; then
    ok "game_state $args: exit 2"
  else
    fail "game_state $args: exit $rc, stderr: $(cat "$work/usage.err")"
  fi
done
for args in "-s --fps 0" "-c 127.0.0.1 --delay -1" "-s -l nowhere"; do
  # shellcheck disable=SC2086
  timeout 5 "$live" $args >/dev/null 2>"$work/usage.err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$work/usage.err")" -eq 1 ]; then
    ok "live_stream $args: exit 2"
  else
    fail "live_stream $args: exit $rc, stderr: $(cat "$work/usage.err")"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
