#!/bin/sh
# Integration test of tools/rudp-send and tools/rudp-recv on 127.0.0.1
# (docs/TOOLS.md): an empty, a small and a 100 MiB file in one run under
# --netem loss=1%,reorder=1%, verified by sha256sum; the same under 5% loss
# and delay with Reno; names with `..`, absolute names and a symbolic link
# planted as the partial file refused; no overwrite without --force;
# --resume after an interruption (fewer bytes sent, the file verifies),
# after a SIGKILL (the new transfer supersedes the stale one) and over a
# corrupted partial file (a full send); --rate's lower bound on time;
# --progress, -q and the summary line; usage errors exit 2 with one line;
# each tool's -h options match its man page; TLS: a pinned ephemeral
# certificate, a CA-signed one trusted with --ca, and the refusals (another
# name, an untrusted CA, a plain sender, a bad key).  Every process is
# bounded by `timeout`.
set -u
send=${RUDP_SEND:-../tools/rudp-send}
recv=${RUDP_RECV:-../tools/rudp-recv}
mandir=${RUDP_MANDIR:-$(dirname "$0")/../../docs/man}
# Absolute paths: one case runs the sender from another directory.
case $send in /*) ;; *) send=$(pwd)/$send ;; esac
case $recv in /*) ;; *) recv=$(pwd)/$recv ;; esac
work=$(mktemp -d)
pid=
bgpid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$bgpid" ] &&
  kill -9 $bgpid 2>/dev/null; rm -rf "$work"' EXIT INT TERM
passed=0
failed=0

t_start=$(date +%s)
# ok, fail: one line each, with the seconds since the start (the script is
# meant to stay within about a minute on a busy 2-core machine).
ok() { passed=$((passed + 1)); echo "ok: [$(($(date +%s) - t_start)) s] $*"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL: [$(($(date +%s) - t_start)) s] $*" >&2
}

mkdir "$work/in" "$work/out" "$work/sub"
: >"$work/in/empty"
echo "small file $$" >"$work/in/small"
head -c 104857600 /dev/urandom >"$work/in/random"
head -c 16777216 "$work/in/random" >"$work/in/f16"

# start_recv ARGS...: starts rudp-recv --once on a free port, sets $pid and
# $port (it prints the port it got for -p 0).
start_recv() {
  : >"$work/recv.log"
  timeout 60 "$recv" -l 127.0.0.1 -p 0 --once "$@" >"$work/recv.log" 2>&1 &
  pid=$!
  wait_port
}

# wait_port: reads the port from recv.log into $port.
wait_port() {
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

# same A B: the files have the same bytes.
same() {
  [ -f "$2" ] && [ "$(wc -c <"$1")" = "$(wc -c <"$2")" ] &&
    [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]
}

# sent_bytes LOG: the byte count of rudp-send's summary line in LOG.
sent_bytes() {
  sed -n 's/^rudp-send: .* files verified, \([0-9]*\) bytes .*/\1/p' "$1"
}

# parts: how many partial files the out dir holds.
parts() { find "$work/out" -name '*.rudp-part*' | wc -l; }

# transfer NAME SIZE [OPTIONS]: the empty, the small and the big file (the
# random one cut to SIZE bytes) in one run, into a fresh out dir.
transfer() {
  name=$1
  head -c "$2" "$work/in/random" >"$work/in/big"
  shift 2
  rm -rf "$work/out" && mkdir "$work/out"
  start_recv -o "$work/out" "$@"
  t0=$(date +%s)
  timeout 60 "$send" -p "$port" "$@" 127.0.0.1 "$work/in/empty" \
    "$work/in/small" "$work/in/big" 2>"$work/send.log"
  src=$?
  t1=$(date +%s)
  wait_recv
  all=1
  for f in empty small big; do
    same "$work/in/$f" "$work/out/$f" || all=0
  done
  if [ $src -eq 0 ] && [ $rrc -eq 0 ] && [ $all -eq 1 ] &&
    [ "$(parts)" -eq 0 ]; then
    ok "$name: three files verified in $((t1 - t0)) s:" \
      "$(tail -n 1 "$work/send.log")"
  else
    fail "$name: send exit $src, recv exit $rrc, same $all, parts $(parts):" \
      "$(cat "$work/send.log" "$work/recv.log")"
  fi
}

transfer "100 MiB, loss=1%,reorder=1%" 104857600 --netem loss=1%,reorder=1%

# The summary line: files, bytes, time, rate, retransmissions.
if grep -Eq '^rudp-send: 3/3 files verified, 104857[0-9]+ bytes \([0-9.]+ MB\) sent in [0-9.]+ s, [0-9.]+ [kMG]B/s \([0-9.]+ Mbit/s\), [0-9]+ retransmissions$' \
  "$work/send.log"; then
  ok "summary line"
else
  fail "summary line: $(cat "$work/send.log")"
fi

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

# A symbolic link planted under the partial file's predictable name must not
# lead the writes out of the directory (with --resume: the receiver answers
# ERR where the sender waits for HAVE).
echo "outside" >"$work/victim"
ln -s ../victim "$work/out/.small.rudp-part"
start_recv -o "$work/out"
timeout 30 "$send" -q --resume -p "$port" 127.0.0.1 "$work/in/small" \
  >"$work/send.log" 2>&1
src=$?
wait_recv
if [ $src -eq 1 ] && [ $rrc -eq 1 ] && [ "$(cat "$work/victim")" = "outside" ] &&
  [ ! -e "$work/out/small" ] && grep -q "symbolic link" "$work/send.log"; then
  ok "symbolic link as the partial file refused"
else
  fail "planted link: send exit $src, recv exit $rrc: $(cat "$work/send.log")"
fi
rm -f "$work/out/.small.rudp-part"

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
timeout 30 "$send" -q -p "$port" 127.0.0.1 "$work/in/small" \
  2>"$work/send.log"
src=$?
wait_recv
# -q: no summary, no bar, nothing at all on success.
if [ $src -eq 0 ] && cmp -s "$work/out/small" "$work/in/small" &&
  [ ! -s "$work/send.log" ]; then
  ok "existing file replaced with --force; -q prints nothing"
else
  fail "--force: send exit $src, recv exit $rrc: $(cat "$work/send.log")"
fi

# --resume.  RUDP_SEND_STOP_AFTER=N (a testing aid) stops writing after N
# bytes, waits until they are acknowledged and aborts like SIGINT: the
# receiver keeps exactly N bytes in .f16.rudp-part.
rm -rf "$work/out" && mkdir "$work/out"
start_recv -o "$work/out"
RUDP_SEND_STOP_AFTER=6000000 timeout 60 "$send" -p "$port" 127.0.0.1 \
  "$work/in/f16" 2>"$work/send.log"
src=$?
wait_recv
part="$work/out/.f16.rudp-part"
psize=$(wc -c <"$part" 2>/dev/null || echo 0)
if [ $src -eq 1 ] && [ $rrc -eq 1 ] && [ "$psize" -eq 6000000 ] &&
  [ ! -e "$work/out/f16" ] && grep -q "kept 6000000 bytes" "$work/recv.log"; then
  ok "interrupted transfer keeps its 6000000 bytes"
else
  fail "interrupt: send exit $src, recv exit $rrc, part $psize:" \
    "$(cat "$work/send.log" "$work/recv.log")"
fi
start_recv -o "$work/out"
timeout 60 "$send" --resume -p "$port" 127.0.0.1 "$work/in/f16" \
  2>"$work/send.log"
src=$?
wait_recv
sent=$(sent_bytes "$work/send.log")
if [ $src -eq 0 ] && [ $rrc -eq 0 ] && same "$work/in/f16" "$work/out/f16" &&
  [ "$sent" = $((16777216 - 6000000)) ] && [ "$(parts)" -eq 0 ] &&
  grep -q "6000000 bytes resumed" "$work/send.log" &&
  grep -q "resumed at 6000000" "$work/recv.log"; then
  ok "--resume sent the other $sent bytes; the file verifies"
else
  fail "--resume: send exit $src, recv exit $rrc, sent $sent, parts $(parts):" \
    "$(cat "$work/send.log" "$work/recv.log")"
fi

# A corrupted partial file: the prefixes differ, the sender says so and
# sends everything; the file still verifies.
rm -rf "$work/out" && mkdir "$work/out"
start_recv -o "$work/out"
RUDP_SEND_STOP_AFTER=3000000 timeout 60 "$send" -q -p "$port" 127.0.0.1 \
  "$work/in/f16" 2>/dev/null
wait_recv
printf 'X' | dd of="$part" bs=1 seek=5000 conv=notrunc 2>/dev/null
start_recv -o "$work/out"
timeout 60 "$send" --resume -p "$port" 127.0.0.1 "$work/in/f16" \
  2>"$work/send.log"
src=$?
wait_recv
sent=$(sent_bytes "$work/send.log")
if [ $src -eq 0 ] && [ $rrc -eq 0 ] && same "$work/in/f16" "$work/out/f16" &&
  [ "$sent" = 16777216 ] && [ "$(parts)" -eq 0 ] &&
  grep -q "differs from this file: sending it from the start" \
    "$work/send.log"; then
  ok "--resume over a corrupted partial file sends it all"
else
  fail "corrupted part: send exit $src, recv exit $rrc, sent $sent:" \
    "$(cat "$work/send.log" "$work/recv.log")"
fi

# SIGKILL: the sender vanishes, its connection stays in a long-running
# receiver until the idle timeout; --resume right away supersedes it.
rm -rf "$work/out" && mkdir "$work/out"
: >"$work/recv.log"
timeout 60 "$recv" -l 127.0.0.1 -p 0 -o "$work/out" >"$work/recv.log" 2>&1 &
pid=$!
wait_port
# No `timeout` here: it would take the SIGKILL instead of the sender.  The
# trap kills it if the script ends first.
"$send" -q --rate 40M -p "$port" 127.0.0.1 "$work/in/f16" 2>/dev/null &
bgpid=$!
# Killed once the receiver holds at least 1 MB (at most 20 s).
i=0
while [ "$(find "$work/out" -name .f16.rudp-part -size +1000k | wc -l)" -eq 0 ] &&
  [ $i -lt 200 ]; do
  sleep 0.1
  i=$((i + 1))
done
kill -9 $bgpid 2>/dev/null
wait $bgpid 2>/dev/null
bgpid=
timeout 60 "$send" --resume -p "$port" 127.0.0.1 "$work/in/f16" \
  2>"$work/send.log"
src=$?
kill $pid
wait_recv
sent=$(sent_bytes "$work/send.log")
resumed=$(sed -n 's/.*, \([0-9]*\) bytes resumed$/\1/p' "$work/send.log")
if [ $src -eq 0 ] && [ $rrc -eq 0 ] && same "$work/in/f16" "$work/out/f16" &&
  [ -n "$resumed" ] && [ "$sent" -lt 16777216 ] &&
  [ $((sent + resumed)) -eq 16777216 ] && [ "$(parts)" -eq 0 ]; then
  ok "--resume after SIGKILL sent $sent bytes, resumed $resumed"
else
  fail "SIGKILL resume: send exit $src, recv exit $rrc, sent $sent:" \
    "$(cat "$work/send.log" "$work/recv.log")"
fi

# --rate: 2 MiB at 8 Mbit/s (1 MB/s) takes about 2.1 s; only a lower bound
# is checked (a slow machine never fails it).  --progress draws the bar to
# a file: a percentage and an ETA.
head -c 2097152 "$work/in/random" >"$work/in/r2"
rm -rf "$work/out" && mkdir "$work/out"
start_recv -o "$work/out"
t0=$(date +%s.%N)
timeout 60 "$send" --rate 8M --progress -p "$port" 127.0.0.1 "$work/in/r2" \
  2>"$work/send.log"
src=$?
t1=$(date +%s.%N)
wait_recv
el=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')
if [ $src -eq 0 ] && same "$work/in/r2" "$work/out/r2" &&
  echo "$el" | awk '{ exit !($1 >= 1.5) }'; then
  ok "--rate 8M: 2 MiB in $el s"
else
  fail "--rate: send exit $src, $el s: $(cat "$work/send.log")"
fi
if grep -q ' 100%  2\.1 MB / 2\.1 MB .* ETA 0:00' "$work/send.log" &&
  grep -q "$(printf '\r')" "$work/send.log"; then
  ok "--progress draws the bar to a file"
else
  fail "--progress: $(cat "$work/send.log")"
fi
# Without --progress, stderr not a terminal: the summary only.
start_recv -o "$work/out" --force
timeout 30 "$send" -p "$port" 127.0.0.1 "$work/in/small" 2>"$work/send.log"
src=$?
wait_recv
if [ $src -eq 0 ] && [ "$(wc -l <"$work/send.log")" -eq 1 ] &&
  ! grep -q "ETA\|$(printf '\r')" "$work/send.log"; then
  ok "no bar when stderr is not a terminal"
else
  fail "no bar: send exit $src: $(cat "$work/send.log")"
fi
# On a terminal (script(1) gives one) the bar is there without --progress.
if command -v script >/dev/null 2>&1; then
  start_recv -o "$work/out" --force
  timeout 30 script -qec "'$send' -p $port 127.0.0.1 '$work/in/small'" \
    /dev/null >"$work/send.log" 2>&1
  src=$?
  wait_recv
  if [ $src -eq 0 ] && grep -q '100%.*ETA' "$work/send.log"; then
    ok "bar on a terminal"
  else
    fail "bar on a terminal: exit $src: $(cat "$work/send.log")"
  fi
fi

# Usage errors exit 2 with one line on stderr; -h exits 0.
usage_rc() {
  want=$1
  shift
  timeout 10 "$@" >/dev/null 2>"$work/usage.log"
  rc=$?
  lines=$(wc -l <"$work/usage.log")
  if [ $rc -eq "$want" ] && { [ "$want" -ne 2 ] || [ "$lines" -eq 1 ]; }; then
    ok "exit $want: $*"
  else
    fail "exit $rc ($lines lines), expected $want: $*: $(cat "$work/usage.log")"
  fi
}
f=$work/in/small
usage_rc 2 "$send" 127.0.0.1
usage_rc 2 "$send"
usage_rc 2 "$send" --bogus 127.0.0.1 "$f"
usage_rc 2 "$send" -x 127.0.0.1 "$f"
usage_rc 2 "$send" -p 0 127.0.0.1 "$f"
usage_rc 2 "$send" -p 70000 127.0.0.1 "$f"
usage_rc 2 "$send" 127.0.0.1 "$f" -p
usage_rc 2 "$send" --cc vegas 127.0.0.1 "$f"
usage_rc 2 "$send" --insecure 127.0.0.1 "$f"
usage_rc 2 "$send" --tls --pin 00:11 127.0.0.1 "$f"
usage_rc 2 "$send" --tls --cert c.pem 127.0.0.1 "$f"
usage_rc 2 "$send" --tls --pin "$(printf '%064d' 0)" --insecure 127.0.0.1 "$f"
for r in "" 0 999 -5 abc 10X 10MM 200G 1e30 inf nan 0x10M; do
  usage_rc 2 "$send" --rate "$r" 127.0.0.1 "$f"
done
usage_rc 2 "$send" 127.0.0.1 "$f" --rate
usage_rc 2 "$send" --resume=yes 127.0.0.1 "$f"
usage_rc 2 "$send" --progress=1 127.0.0.1 "$f"
usage_rc 2 env RUDP_SEND_STOP_AFTER=12x "$send" 127.0.0.1 "$f"
usage_rc 2 "$recv" -p x
usage_rc 2 "$recv" -o
usage_rc 2 "$recv" --bogus
usage_rc 2 "$recv" --once=1
usage_rc 2 "$recv" --cert c.pem
usage_rc 2 "$recv" --tls --cert c.pem
usage_rc 2 "$recv" --tls --pin "$(printf '%064d' 0)"
usage_rc 2 "$recv" extra-arg
usage_rc 2 "$recv" -l not-an-address
usage_rc 0 "$send" -h
usage_rc 0 "$recv" -h
usage_rc 1 "$send" -p 9 127.0.0.1 "$work/in/missing-file"
usage_rc 1 "$recv" -p 0 -o "$work/no-such-dir" --once

# TLS (docs/TOOLS.md, "TLS in every tool"): the receiver's ephemeral
# certificate pinned by the sender; a CA-signed certificate trusted with
# --ca; refusals, each exit 1 naming the cause: a certificate for another
# name, a CA the sender does not trust, a plain sender.
# tls_send NAME WANT_RC WANT_TEXT SEND_ARGS...: one sender against the
# running receiver; a refused one leaves the receiver running (killed
# here).
tls_send() {
  name=$1
  want=$2
  text=$3
  shift 3
  timeout 30 "$send" -p "$port" "$@" 127.0.0.1 "$work/in/small" \
    "$work/in/big" >/dev/null 2>"$work/send.log"
  src=$?
  if [ "$want" -eq 0 ]; then
    wait_recv
    if [ $src -eq 0 ] && [ $rrc -eq 0 ] && same "$work/in/big" "$work/out/big"
    then
      ok "TLS $name: $(tail -n 1 "$work/send.log")"
    else
      fail "TLS $name: send $src recv $rrc: $(cat "$work/send.log" "$work/recv.log")"
    fi
  else
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    pid=
    if [ $src -eq "$want" ] && grep -q "$text" "$work/send.log"; then
      ok "TLS $name refused: $(cat "$work/send.log")"
    else
      fail "TLS $name: exit $src, wanted $want and '$text': $(cat "$work/send.log")"
    fi
  fi
}
head -c 3000000 "$work/in/random" >"$work/in/big"
rm -rf "$work/out" && mkdir "$work/out"
start_recv -o "$work/out" --tls
fp=$(sed -n 's/^rudp-recv: TLS certificate SHA-256 \([0-9A-F:]*\)$/\1/p' \
  "$work/recv.log")
if grep -q "built without TLS" "$work/recv.log"; then
  ok "TLS cases skipped: $(cat "$work/recv.log")"
else
  tls_send "ephemeral certificate, --pin" 0 "" --tls --pin "$fp"
  rm -rf "$work/out" && mkdir "$work/out"
  start_recv -o "$work/out" --tls
  tls_send "plain sender" 1 "TLS mode mismatch"
  rm -rf "$work/out" && mkdir "$work/out"
  start_recv -o "$work/out" --tls
  tls_send "system store vs self-signed" 1 "not trusted" --tls
  if command -v openssl >/dev/null 2>&1; then
    d=$work/pki
    mkdir "$d"
    (
      cd "$d" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
          -keyout ca.key -out ca.pem -days 2 -subj /CN=rudp-test-ca &&
        for n in good other; do
          openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout $n.key -out $n.csr -subj /CN=$n || exit 1
        done &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >good.ext &&
        printf 'subjectAltName=DNS:other.example\n' >other.ext &&
        for n in good other; do
          openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out $n.pem -days 2 -extfile $n.ext || exit 1
        done
    ) >"$work/pki.log" 2>&1 || fail "openssl: $(cat "$work/pki.log")"
    rm -rf "$work/out" && mkdir "$work/out"
    start_recv -o "$work/out" --tls --cert "$d/good.pem" --key "$d/good.key"
    tls_send "CA-signed certificate, --ca" 0 "" --tls --ca "$d/ca.pem"
    rm -rf "$work/out" && mkdir "$work/out"
    start_recv -o "$work/out" --tls --cert "$d/other.pem" --key "$d/other.key"
    tls_send "certificate for another name" 1 "name mismatch" --tls \
      --ca "$d/ca.pem"
    usage_rc 1 "$recv" -p 0 --once --tls --cert "$d/good.pem" \
      --key "$d/other.key"
    usage_rc 1 "$send" --tls --ca "$d/missing.pem" 127.0.0.1 "$f"
  else
    ok "CA cases skipped: no openssl command"
  fi
fi

# Each tool's -h options are the OPTIONS of its man page, and back.
# opts_help TOOL: the option names of -h's first column, one per line.
opts_help() {
  "$1" -h | sed -n 's/^  \(-[^ ].*\)$/\1/p' | sed 's/  .*//' |
    grep -o -- '--\?[a-z][a-z-]*' | sort -u
}
# opts_man PAGE: the option names of the tagged paragraphs' tags.
opts_man() {
  sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$1" | awk '/^\.TP/ { getline; print }' |
    sed 's/\\-/-/g' | grep -o -- '--\?[a-z][a-z-]*' | sort -u
}
for t in send recv; do
  page="$mandir/rudp-$t.1"
  eval "bin=\$$t"
  opts_help "$bin" >"$work/help.opts"
  opts_man "$page" >"$work/man.opts"
  if [ -s "$work/help.opts" ] && cmp -s "$work/help.opts" "$work/man.opts"; then
    ok "rudp-$t -h and its man page list the same $(wc -l <"$work/man.opts") options"
  else
    fail "rudp-$t -h vs $page: $(diff "$work/help.opts" "$work/man.opts" | tr '\n' ' ')"
  fi
done

# The same transfer through loss and delay on both sides, with Reno.  5%
# loss each way holds a 10 ms RTT path to about 0.5 MB/s, so the big file
# is cut to 2 MB to keep the test short.
transfer "5% loss, delay, reno" 2000000 --netem loss=5%,delay=5ms --cc reno

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
