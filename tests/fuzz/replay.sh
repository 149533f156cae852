#!/bin/sh
# Replays the fuzz corpus and every saved regression input through each
# fuzz target (standalone driver, or libFuzzer binaries in a --enable-fuzz
# build, which run the files given and exit), after checking that the
# corpus generator's own sessions pass every invariant.  Prints
# "N passed, M failed"; exits 0 only if all passed.
set -u
src=${FUZZ_SRCDIR:-.}
targets=${FUZZ_TARGETS:-fuzz_pkt fuzz_frame fuzz_tp fuzz_endpoint fuzz_conn}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

if timeout 120 ./gen_corpus "$tmp/gen" >"$tmp/gen.log" 2>&1; then
  ok "gen_corpus: $(tail -n 1 "$tmp/gen.log")"
else
  cat "$tmp/gen.log" >&2
  fail "gen_corpus"
fi

for t in $targets; do
  name=${t#fuzz_}
  # Files only (libFuzzer would fuzz a directory), dotfiles left out.
  find "$src/corpus/$name" "$src/regressions/$name" -type f ! -name '.*' \
    2>/dev/null | sort >"$tmp/list"
  n=$(wc -l <"$tmp/list")
  if [ "$n" -eq 0 ]; then
    fail "$t: no corpus in $src/corpus/$name"
    continue
  fi
  # shellcheck disable=SC2046
  if timeout 300 "./$t" $(cat "$tmp/list") >"$tmp/$t.log" 2>&1; then
    ok "$t: $n inputs"
  else
    tail -n 40 "$tmp/$t.log" >&2
    fail "$t: replay of $n inputs"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
