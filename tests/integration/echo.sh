#!/bin/sh
# Integration test of examples/: echo_server on a free port of 127.0.0.1,
# echo_client against it (the echo printed, exit 0), and against a closed
# port (exit 1, refused).  Everything is bounded by `timeout`.
set -u
server=${ECHO_SERVER:-../examples/echo_server}
client=${ECHO_CLIENT:-../examples/echo_client}
out=$(mktemp)
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT INT TERM

timeout 10 "$server" 0 >"$out" 2>&1 &
pid=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 50 ]; do
  port=$(sed -n 's/^echo_server: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
    "$out")
  [ -n "$port" ] || sleep 0.1
  i=$((i + 1))
done
if [ -z "$port" ]; then
  echo "FAIL: the server did not start: $(cat "$out")" >&2
  exit 1
fi

msg="echo test $$"
got=$(timeout 10 "$client" "$port" "$msg"); rc=$?
if [ $rc -ne 0 ] || [ "$got" != "$msg" ]; then
  echo "FAIL: client exit $rc, printed '$got', expected '$msg'" >&2
  exit 1
fi

kill $pid
wait $pid 2>/dev/null
# The server is gone: its port is closed now, the client must fail fast.
timeout 10 "$client" "$port" "$msg" >/dev/null 2>&1; rc=$?
if [ $rc -ne 1 ]; then
  echo "FAIL: client against a closed port: exit $rc, expected 1" >&2
  exit 1
fi
echo "echo: ok"
