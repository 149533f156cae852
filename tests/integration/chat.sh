#!/bin/sh
# Integration test of tools/rudp-chat on 127.0.0.1 (docs/TOOLS.md): a room
# server on a free port; bob listens, alice joins, sends two lines and
# leaves at EOF; bob must see the join notice, both lines in order and the
# leave notice; a duplicate name is refused; usage errors exit 2; a server
# killed with SIGKILL makes a connected client say "lost the server" and
# exit 1 (RUDP_CHAT_IDLE_MS shortens the idle timeout), and a server
# stopped with SIGTERM closes the room at once.  Every process is bounded
# by `timeout`; the whole test takes a few seconds.
set -u
chat=${RUDP_CHAT:-../tools/rudp-chat}
work=$(mktemp -d)
pids=
# shellcheck disable=SC2154
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$work"' \
  EXIT INT TERM
passed=0
failed=0
# A watchdog holds the whole test to 15 s, whatever hangs.
# shellcheck disable=SC2016
(
  trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep 15 >/dev/null 2>&1 &
  s=$!
  wait $s && echo "FAIL: chat.sh took over 15 s" >&2 && kill $$
) &
pids="$pids $!"

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

# Short idle timeout (and keepalives at a third of it) on both sides.
RUDP_CHAT_IDLE_MS=1000
export RUDP_CHAT_IDLE_MS

# start_server TAG: starts a room on a free port; sets $spid (the timeout
# wrapper), $chatpid (rudp-chat itself: SIGKILL must reach it, timeout
# cannot forward that one) and $port.
start_server() {
  rm -f "$work/$1.pid"
  # shellcheck disable=SC2016
  timeout 14 sh -c 'echo $$ >"$1"; exec "$2" -s -l 127.0.0.1 -p 0' sh \
    "$work/$1.pid" "$chat" >"$work/$1.srv" 2>&1 &
  spid=$!
  pids="$pids $spid"
  port=
  for _ in $(seq 50); do
    port=$(sed -n '1s/^rudp-chat: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$work/$1.srv")
    [ -n "$port" ] && break
    sleep 0.1
  done
  chatpid=$(cat "$work/$1.pid" 2>/dev/null)
}

# wait_for FILE TEXT: waits up to 5 s for the line TEXT in FILE.
wait_for() {
  for _ in $(seq 50); do
    grep -qxF "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_server room
if [ -z "$port" ]; then
  fail "server did not print its port"
  cat "$work/room.srv" >&2
  echo "$passed passed, $failed failed"
  exit 1
fi
ok "server listening on port $port"

# bob reads from a fifo kept open by a sleeper, so he stays in the room
# until the fifo is closed.
mkfifo "$work/bob.in"
sleep 12 >"$work/bob.in" &
bobin=$!
pids="$pids $bobin"
timeout 12 "$chat" -p "$port" -n bob 127.0.0.1 <"$work/bob.in" \
  >"$work/bob.out" 2>"$work/bob.err" &
bob=$!
pids="$pids $bob"
wait_for "$work/room.srv" "rudp-chat: bob joined" || fail "bob did not join"

# alice sends two lines from a pipe and leaves at EOF.
{ echo first; echo second; } |
  timeout 5 "$chat" -p "$port" -n alice 127.0.0.1 >"$work/alice.out" \
    2>"$work/alice.err"
rc=$?
[ $rc -eq 0 ] && ok "alice left cleanly at EOF" ||
  { fail "alice exit $rc"; cat "$work/alice.err" >&2; }

if wait_for "$work/bob.out" "* alice left"; then
  printf '* alice joined\n<alice> first\n<alice> second\n* alice left\n' \
    >"$work/expect"
  if cmp -s "$work/expect" "$work/bob.out"; then
    ok "bob saw join, both lines in order, leave"
  else
    fail "bob's output differs"
    cat "$work/bob.out" >&2
  fi
else
  fail "bob did not see alice leave"
  cat "$work/bob.out" >&2
fi

# /quit leaves like EOF; a name already in the room is refused.
printf 'hello\n/quit\nnot sent\n' |
  timeout 5 "$chat" -p "$port" -n carol 127.0.0.1 >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] && ok "/quit leaves cleanly" || fail "/quit exit $rc"
if wait_for "$work/bob.out" "* carol left" &&
  grep -qxF "<carol> hello" "$work/bob.out" &&
  ! grep -q "not sent" "$work/bob.out"; then
  ok "nothing after /quit was sent"
else
  fail "/quit: bob's output is wrong"
  cat "$work/bob.out" >&2
fi
echo hi | timeout 5 "$chat" -p "$port" -n bob 127.0.0.1 >/dev/null \
  2>"$work/dup.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "name taken" "$work/dup.err"; then
  ok "duplicate name refused"
else
  fail "duplicate name: exit $rc"
  cat "$work/dup.err" >&2
fi

# Usage errors exit 2.
for args in "127.0.0.1" "-p 70000 -n x 127.0.0.1" "--bogus" "--tls" \
  "-s -n x" "-n x"; do
  # shellcheck disable=SC2086
  timeout 5 "$chat" $args >/dev/null 2>"$work/usage.err" </dev/null
  rc=$?
  [ $rc -eq 2 ] && ok "usage error exits 2: $args" ||
    fail "usage error '$args' exit $rc"
done
grep -q -- "--tls: not built yet" "$work/usage.err" ||
  timeout 5 "$chat" --tls 2>&1 | grep -q -- "--tls: not built yet" ||
  fail "--tls message"

# A server killed outright: bob notices within the idle timeout.
kill -9 "$chatpid"
start=$(date +%s)
wait "$bob"
rc=$?
el=$(($(date +%s) - start))
if [ $rc -eq 1 ] && grep -q "^rudp-chat: lost the server: " "$work/bob.err"
then
  ok "SIGKILLed server noticed in ${el}s: $(cat "$work/bob.err")"
else
  fail "lost server: bob exit $rc"
  cat "$work/bob.err" >&2
fi
kill "$bobin" 2>/dev/null

# A server stopped with SIGTERM closes the room at once.
start_server term
mkfifo "$work/dan.in"
sleep 8 >"$work/dan.in" &
danin=$!
pids="$pids $danin"
timeout 6 "$chat" -p "$port" -n dan 127.0.0.1 <"$work/dan.in" \
  >/dev/null 2>"$work/dan.err" &
dan=$!
wait_for "$work/term.srv" "rudp-chat: dan joined" || fail "dan did not join"
kill -TERM "$spid"
wait "$dan"
rc=$?
if [ $rc -eq 1 ] && grep -q "lost the server: the server closed the room" \
  "$work/dan.err"; then
  ok "SIGTERMed server closes the room"
else
  fail "SIGTERM: dan exit $rc"
  cat "$work/dan.err" >&2
fi
wait "$spid"
rc=$?
[ $rc -eq 0 ] && ok "server exits 0 on SIGTERM" || fail "server exit $rc"
kill "$danin" 2>/dev/null

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
