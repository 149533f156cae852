#!/bin/sh
# run-fuzz.sh TARGET...: runs each libFuzzer target for $FUZZ_SECONDS
# (default 60) on a scratch copy of its corpus plus its saved regression
# inputs, so the source tree is never modified.  Prints one summary line
# per target (executions, exec/s, coverage, corpus growth) and a final
# "fuzz: N passed, M failed"; a crash, leak, timeout or failed invariant
# fails the target, and its input is kept under $FUZZ_WORKDIR (default: a
# temporary directory, printed, removed if all passed) to be saved into
# tests/fuzz/regressions/<target>/.
set -u
src=${FUZZ_SRCDIR:-.}
secs=${FUZZ_SECONDS:-60}
keep=${FUZZ_WORKDIR:+yes}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/rudp-fuzz.XXXXXX")}
passed=0
failed=0
mkdir -p "$work"
echo "fuzz: ${secs} s per target, scratch in $work"

for t in "$@"; do
  name=${t#fuzz_}
  dir=$work/$name
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  for d in "$src/corpus/$name" "$src/regressions/$name"; do
    [ -d "$d" ] && find "$d" -type f ! -name '.*' -exec cp {} "$dir/corpus/" \;
  done
  seeds=$(find "$dir/corpus" -type f | wc -l)
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or
  # runaway allocation.  The hard `timeout` only guards against libFuzzer
  # itself hanging.
  timeout $((secs + 120)) "./$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  units=$(find "$dir/corpus" -type f | wc -l)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $name: ok, ${execs:-?} execs, ${rate:-?} exec/s," \
      "cov ${cov:-?}, ft ${ft:-?}, corpus $seeds -> $units"
  else
    failed=$((failed + 1))
    echo "fuzz: $name: FAILED (exit $rc), ${execs:-?} execs; log $dir/log" >&2
    grep -E 'ERROR: |SUMMARY: |invariant failed|^    #[0-9]+ ' "$dir/log" |
      head -n 40 >&2
    for a in "$dir"/artifacts/*; do
      [ -f "$a" ] && echo "fuzz: $name: crash input $a" \
        "(copy it to tests/fuzz/regressions/$name/)" >&2
    done
  fi
done
# A scratch directory of our own goes when everything passed; a failure
# keeps it for its crash inputs and logs.
if [ "$failed" -eq 0 ] && [ -z "$keep" ]; then
  rm -rf "$work"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
