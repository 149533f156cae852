#!/bin/sh
# Integration test of tools/rudp-pktdump: the demo, decoding a spec vector,
# a corrupted packet, and bad arguments (exit codes 0, 1, 2).
set -u
tool=${PKTDUMP:-../tools/rudp-pktdump}
fails=0
pass=0

check() { # name expected-exit actual-exit
  if [ "$2" -eq "$3" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL: $1: exit $3, expected $2" >&2
    fails=$((fails + 1))
  fi
}

out=$("$tool" --demo 2>&1); rc=$?
check "demo" 0 $rc
case $out in *"demo: every packet encoded and decoded"*) pass=$((pass + 1)) ;;
  *) echo "FAIL: demo output" >&2; fails=$((fails + 1)) ;; esac

# docs/PROTOCOL.md appendix B.1
out=$("$tool" 400123456789abcdef0501aeec65bd 2>&1); rc=$?
check "B.1" 0 $rc
case $out in *"full packet number 5"*"ping"*) pass=$((pass + 1)) ;;
  *) echo "FAIL: B.1 output: $out" >&2; fails=$((fails + 1)) ;; esac

# the same packet with one bit flipped
"$tool" 400123456789abcdef0501aeec65bc >/dev/null 2>&1; check "corrupt" 1 $?
# from standard input, with spaces
echo "40 0123456789abcdef 05 01 aeec65bd" | "$tool" >/dev/null 2>&1
check "stdin" 0 $?
"$tool" zz >/dev/null 2>&1; check "bad hex" 2 $?
"$tool" --dcid-len 99 00 >/dev/null 2>&1; check "bad dcid-len" 2 $?
"$tool" --bogus >/dev/null 2>&1; check "unknown option" 2 $?
"$tool" --demo extra >/dev/null 2>&1; check "demo with packets" 2 $?
"$tool" -h >/dev/null 2>&1; check "help" 0 $?
v=$("$tool" --version); check "version" 0 $?
case $v in "rudp-pktdump (librudp) "*) pass=$((pass + 1)) ;;
  *) echo "FAIL: version: $v" >&2; fails=$((fails + 1)) ;; esac

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
