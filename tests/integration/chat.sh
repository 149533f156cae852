#!/bin/sh
# Integration test of tools/rudp-chat on 127.0.0.1 (docs/TOOLS.md): a room
# server on a free port; bob listens, alice joins, sends two lines and
# leaves at EOF; bob must see the join notice, both lines in order and the
# leave notice; a duplicate name is refused; usage errors exit 2; a server
# killed with SIGKILL makes a connected client say "lost the server" and
# exit 1 (RUDP_CHAT_IDLE_MS shortens the idle timeout), and a server
# stopped with SIGTERM closes the room at once.  With --tls: a room with an
# ephemeral certificate, clients pinning its fingerprint chat; a wrong pin,
# a client without --tls and one trusting only the system store are
# refused with the reason.  Every process is bounded by `timeout`; the
# whole test takes a few seconds.
set -u
chat=${RUDP_CHAT:-../tools/rudp-chat}
work=$(mktemp -d)
pids=
# shellcheck disable=SC2154
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$work"' EXIT
# Stopped (by the watchdog below, or a signal): the EXIT trap cleans up.
trap 'exit 1' INT TERM
passed=0
failed=0
# A watchdog holds the whole test to 120 s, whatever hangs (it takes a
# few seconds natively, about 30 s under valgrind).
# shellcheck disable=SC2016
(
  trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep 120 >/dev/null 2>&1 &
  s=$!
  wait $s && echo "FAIL: chat.sh took over 120 s" >&2 && kill $$
) &
pids="$pids $!"

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

# Short idle timeout (and keepalives at a third of it) on both sides.
RUDP_CHAT_IDLE_MS=1000
export RUDP_CHAT_IDLE_MS

# start_server TAG [ARGS]: starts a room on a free port; sets $spid (the
# timeout wrapper), $chatpid (rudp-chat itself: SIGKILL must reach it,
# timeout cannot forward that one) and $port.
start_server() {
  tag=$1
  shift
  rm -f "$work/$tag.pid"
  # shellcheck disable=SC2016
  timeout 14 sh -c 'p=$1; c=$2; shift 2; echo $$ >"$p";
    exec "$c" -s -l 127.0.0.1 -p 0 "$@"' sh \
    "$work/$tag.pid" "$chat" "$@" >"$work/$tag.srv" 2>&1 &
  spid=$!
  pids="$pids $spid"
  port=
  for _ in $(seq 50); do
    port=$(sed -n 's/^rudp-chat: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$work/$tag.srv" 2>/dev/null)
    grep -q "built without TLS" "$work/$tag.srv" 2>/dev/null && break
    [ -n "$port" ] && break
    sleep 0.1
  done
  chatpid=$(cat "$work/$tag.pid" 2>/dev/null)
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
  "-s -n x" "-n x" "--pin 00 --tls -n x 127.0.0.1" \
  "--insecure -n x 127.0.0.1" "-s --tls --cert only.pem" \
  "-s --tls --insecure" "--tls --cert c.pem -n x 127.0.0.1" \
  "--tls --insecure --ca ca.pem -n x 127.0.0.1"; do
  # shellcheck disable=SC2086
  timeout 5 "$chat" $args >/dev/null 2>"$work/usage.err" </dev/null
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$work/usage.err")" -ge 1 ]; then
    ok "usage error exits 2: $args: $(head -1 "$work/usage.err")"
  else
    fail "usage error '$args' exit $rc"
  fi
done

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

# TLS: a room with an ephemeral certificate; clients pin its fingerprint.
start_server tls --tls
fp=$(sed -n 's/^rudp-chat: TLS certificate SHA-256 \([0-9A-F:]*\)$/\1/p' \
  "$work/tls.srv")
tlspid=$spid
if grep -q "built without TLS" "$work/tls.srv"; then
  ok "TLS cases skipped: $(cat "$work/tls.srv")"
elif [ -n "$port" ] && [ ${#fp} -eq 95 ]; then
  ok "TLS room printed its fingerprint"
  mkfifo "$work/tbob.in"
  sleep 6 >"$work/tbob.in" &
  tbobin=$!
  pids="$pids $tbobin"
  timeout 6 "$chat" -p "$port" --tls --pin "$fp" -n bob 127.0.0.1 \
    <"$work/tbob.in" >"$work/tbob.out" 2>"$work/tbob.err" &
  pids="$pids $!"
  wait_for "$work/tls.srv" "rudp-chat: bob joined" || fail "TLS: bob did not join"
  echo "over TLS" | timeout 5 "$chat" -p "$port" --tls --pin "$fp" \
    -n alice 127.0.0.1 >/dev/null 2>"$work/talice.err"
  rc=$?
  if [ $rc -eq 0 ] && wait_for "$work/tbob.out" "* alice left" &&
    grep -qxF "<alice> over TLS" "$work/tbob.out"; then
    ok "TLS: a line from alice reached bob"
  else
    fail "TLS chat: alice exit $rc"
    cat "$work/talice.err" "$work/tbob.out" >&2
  fi
  wrong=00$(echo "$fp" | cut -c3-)
  [ "$wrong" = "$fp" ] && wrong=11$(echo "$fp" | cut -c3-)
  for case in "pin|--tls --pin $wrong|pinned SHA-256" \
    "store|--tls|not trusted" "plain||TLS mode mismatch"; do
    name=${case%%|*}
    rest=${case#*|}
    args=${rest%%|*}
    want=${rest#*|}
    # shellcheck disable=SC2086
    timeout 5 "$chat" -p "$port" $args -n eve 127.0.0.1 </dev/null \
      >/dev/null 2>"$work/t$name.err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "$want" "$work/t$name.err"; then
      ok "TLS refused ($name): $(cat "$work/t$name.err")"
    else
      fail "TLS $name: exit $rc, wanted '$want'"
      cat "$work/t$name.err" >&2
    fi
  done
  kill "$tbobin" 2>/dev/null
else
  fail "TLS room: no port or fingerprint"
  cat "$work/tls.srv" >&2
fi
kill -TERM "$tlspid" 2>/dev/null

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
