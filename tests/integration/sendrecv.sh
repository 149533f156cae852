#!/bin/sh
# Integration test of tools/rudp-send and tools/rudp-recv on 127.0.0.1
# (docs/TOOLS.md): three files (empty, small, ~20 MB random) verified by
# sha256sum; a name with `..` refused; no overwrite without --force; usage
# errors exit 2; the transfer again under --netem loss and delay.  Every
# process is bounded by `timeout`.
set -u
send=${RUDP_SEND:-../tools/rudp-send}
recv=${RUDP_RECV:-../tools/rudp-recv}
# Absolute paths: one case runs the sender from another directory.
case $send in /*) ;; *) send=$(pwd)/$send ;; esac
case $recv in /*) ;; *) recv=$(pwd)/$recv ;; esac
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

mkdir "$work/in" "$work/out" "$work/sub"
: >"$work/in/empty"
echo "small file $$" >"$work/in/small"
head -c 20000000 /dev/urandom >"$work/in/random"

# start_recv ARGS...: starts rudp-recv --once on a free port, sets $pid and
# $port (it prints the port it got for -p 0).
start_recv() {
  : >"$work/recv.log"
  timeout 60 "$recv" -l 127.0.0.1 -p 0 --once "$@" >"$work/recv.log" 2>&1 &
  pid=$!
  port=
  i=0
  while [ -z "$port" ] && [ $i -lt 100 ]; do
    port=$(sed -n 's/^rudp-recv: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$work/recv.log")
    [ -n "$port" ] || sleep 0.1
    i=$((i + 1))
  done
  [ -n "$port" ] || echo "receiver did not start: $(cat "$work/recv.log")" >&2
}

# wait_recv: waits for the receiver, sets $rrc.
wait_recv() {
  wait $pid
  rrc=$?
  pid=
}

# transfer NAME SIZE [OPTIONS]: the three files, the big one cut to SIZE
# bytes, into a fresh out dir.
transfer() {
  name=$1
  head -c "$2" "$work/in/random" >"$work/in/big"
  shift 2
  rm -rf "$work/out" && mkdir "$work/out"
  start_recv -o "$work/out" "$@"
  timeout 60 "$send" -q -p "$port" "$@" 127.0.0.1 "$work/in/empty" \
    "$work/in/small" "$work/in/big"
  src=$?
  wait_recv
  same=1
  for f in empty small big; do
    if [ ! -f "$work/out/$f" ] ||
      [ "$(wc -c <"$work/in/$f")" != "$(wc -c <"$work/out/$f")" ] ||
      [ "$(sha256sum <"$work/in/$f")" != "$(sha256sum <"$work/out/$f")" ]; then
      same=0
    fi
  done
  leftovers=$(find "$work/out" -name '.rudp-recv.*' | wc -l)
  if [ $src -eq 0 ] && [ $rrc -eq 0 ] && [ $same -eq 1 ] &&
    [ "$leftovers" -eq 0 ]; then
    ok "$name: three files verified"
  else
    fail "$name: send exit $src, recv exit $rrc, same $same, tmp $leftovers:" \
      "$(cat "$work/recv.log")"
  fi
}

transfer "plain" 20000000

# A name with `..` (the sender's raw-name testing aid): refused, the sender
# exits 1, nothing appears outside the receiver's directory.
rm -rf "$work/out" && mkdir "$work/out"
start_recv -o "$work/out"
(cd "$work/sub" && RUDP_SEND_RAW_NAMES=1 timeout 30 "$send" -q -p "$port" \
  127.0.0.1 ../in/small >"$work/send.log" 2>&1)
src=$?
wait_recv
if [ $src -eq 1 ] && [ ! -e "$work/small" ] && [ ! -e "$work/in/small.x" ] &&
  [ -z "$(ls -A "$work/out")" ] && grep -q "\.\." "$work/send.log"; then
  ok "name with .. refused"
else
  fail "name with ..: send exit $src, recv exit $rrc: $(cat "$work/send.log")"
fi
# Also `..` itself as the whole name and an absolute name.
start_recv -o "$work/out"
RUDP_SEND_RAW_NAMES=1 timeout 30 "$send" -q -p "$port" 127.0.0.1 \
  "$work/in/small" >"$work/send.log" 2>&1
src=$?
wait_recv
if [ $src -eq 1 ] && [ $rrc -eq 1 ] && [ -z "$(ls -A "$work/out")" ] &&
  grep -q "absolute" "$work/send.log"; then
  ok "absolute name refused"
else
  fail "absolute name: send exit $src, recv exit $rrc: $(cat "$work/send.log")"
fi

# An existing file is not overwritten without --force, and is with it.
echo "keep me" >"$work/out/small"
start_recv -o "$work/out"
timeout 30 "$send" -q -p "$port" 127.0.0.1 "$work/in/small" \
  >"$work/send.log" 2>&1
src=$?
wait_recv
if [ $src -eq 1 ] && [ "$(cat "$work/out/small")" = "keep me" ] &&
  grep -q "exists" "$work/send.log"; then
  ok "existing file kept without --force"
else
  fail "existing file: send exit $src, recv exit $rrc: $(cat "$work/send.log")"
fi
start_recv -o "$work/out" --force
timeout 30 "$send" -q -p "$port" 127.0.0.1 "$work/in/small"
src=$?
wait_recv
if [ $src -eq 0 ] && cmp -s "$work/out/small" "$work/in/small"; then
  ok "existing file replaced with --force"
else
  fail "--force: send exit $src, recv exit $rrc"
fi

# Usage errors exit 2; -h exits 0.
usage_rc() {
  want=$1
  shift
  timeout 10 "$@" >/dev/null 2>&1
  rc=$?
  if [ $rc -eq "$want" ]; then
    ok "exit $want: $*"
  else
    fail "exit $rc, expected $want: $*"
  fi
}
usage_rc 2 "$send" 127.0.0.1
usage_rc 2 "$send" --bogus 127.0.0.1 "$work/in/small"
usage_rc 2 "$send" -p 0 127.0.0.1 "$work/in/small"
usage_rc 2 "$send" -p 70000 127.0.0.1 "$work/in/small"
usage_rc 2 "$send" --cc vegas 127.0.0.1 "$work/in/small"
usage_rc 2 "$send" --tls 127.0.0.1 "$work/in/small"
usage_rc 2 "$recv" -p x
usage_rc 2 "$recv" --tls
usage_rc 2 "$recv" extra-arg
usage_rc 0 "$send" -h
usage_rc 0 "$recv" -h
usage_rc 1 "$send" -p 9 127.0.0.1 "$work/in/missing-file"
usage_rc 1 "$recv" -p 0 -o "$work/no-such-dir" --once

# The same transfer through loss and delay on both sides, with Reno.  5%
# loss each way holds a 10 ms RTT path to about 0.5 MB/s, so the big file
# is cut to 2 MB to keep the test short.
transfer "netem" 2000000 --netem loss=5%,delay=5ms --cc reno

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
