#!/bin/sh
# Integration test of the message-layer demos (examples/game_state.c and
# examples/live_stream.c, docs/MESSAGES.md) on 127.0.0.1: each server on a
# free port with a lossy --netem on what it sends, each client for 2 s,
# then the client's summary line is checked: game_state received most
# snapshots, saw some dropped and got its reliable events complete and in
# order; live_stream played most frames, none corrupt.  Also: usage errors
# exit 2, and a client facing a closed port fails with 1.  Every process
# is bounded by `timeout`; the whole test takes about 6 s.
set -u
game=${GAME_STATE:-../examples/game_state}
live=${LIVE_STREAM:-../examples/live_stream}
work=$(mktemp -d)
pids=
# shellcheck disable=SC2154
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$work"' \
  EXIT INT TERM
passed=0
failed=0
# A watchdog holds the whole test to 30 s, whatever hangs.
# shellcheck disable=SC2016
(
  trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep 30 >/dev/null 2>&1 &
  s=$!
  wait $s && echo "FAIL: msg_demos.sh took over 30 s" >&2 && kill $$
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
