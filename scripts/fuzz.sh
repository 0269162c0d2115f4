#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_SECONDS, one after the other, and
# fails when any of them finds a crash, a sanitizer report, a leak, a hang
# (an input over 10 s) or an input that takes more than 2 GB.
#   scripts/fuzz.sh BUILD-DIR TARGET...      (make fuzz calls it)
# Each target keeps the corpus it grows in BUILD-DIR/corpus/TARGET between
# runs, starts from the seeds (assembled afresh in BUILD-DIR/seeds/TARGET)
# and the regression corpus, and writes what it finds to
# BUILD-DIR/artifacts/TARGET/. The figures printed per target are
# libFuzzer's: executions, and cov (code edges reached) and ft (features:
# edges with hit counts, a finer measure) at the end of the run.
# FUZZ_FLAGS adds libFuzzer options, e.g. FUZZ_FLAGS=-len_control=0 to try
# long inputs from the start.
set -uo pipefail
cd "$(dirname "$0")/.."
fz=$1; shift
secs=${FUZZ_SECONDS:-60}

# The seeds and limits of one target: mail up to 1 MB (over the header
# limit, well under max_message_bytes, where one input would cost a second);
# rule and template files a little over the template size limit.
seeds_of () {
  case $1 in
    mime)     find tests/corpus examples/mail -type f -name '*.eml' ;;
    rules)    ls rules/*.rules fuzz/seeds/rules/* ;;
    template) ls templates/*.tmpl fuzz/seeds/template/* ;;
  esac
}
max_len_of () {
  case $1 in
    mime) echo 1048576 ;;
    *)    echo 70000 ;;
  esac
}

failed=""
for t in "$@"; do
  corpus=$fz/corpus/$t seeds=$fz/seeds/$t artifacts=$fz/artifacts/$t log=$fz/logs/$t.log
  rm -rf "$seeds"
  mkdir -p "$corpus" "$seeds" "$artifacts" "$(dirname "$log")"
  seeds_of "$t" | while read -r f; do cp "$f" "$seeds/$(printf '%s' "$f" | tr / _)"; done
  regressions=tests/fuzz-regressions/$t
  [ -d "$regressions" ] || regressions=""
  echo "fuzz: $t for ${secs}s (log: $log)"
  # fuzz/lsan.supp says which leaks inside libraries are known and why.
  LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
  "$fz/fuzz-$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len_of "$t")" -dict="fuzz/dict/$t.dict" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "$corpus" "$seeds" $regressions > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
  cov=$(printf '%s' "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+')
  echo "fuzz: $t: ${runs:-?} executions, ${cov:-no coverage line}"
  if [ $rc -ne 0 ]; then
    failed="$failed $t"
    echo "fuzz: $t FAILED (exit $rc):"
    # libytnef prints its own "ERROR:" lines for every bad winmail.dat;
    # only the sanitizers' and libFuzzer's verdicts are shown here.
    grep -E '^==[0-9]+==ERROR|^SUMMARY: |runtime error|-CRITICAL|deadly signal|ERROR: libFuzzer' "$log" \
      | head -n 5 | sed 's/^/  /'
    repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz: reproducer: ${repro:-none written, see $log}"
    if [ -n "$repro" ]; then
      echo "fuzz: replay it with  $fz/fuzz-$t $repro"
      echo "fuzz: minimise it with  $fz/fuzz-$t -minimize_crash=1 -max_total_time=60 -exact_artifact_path=min $repro"
      echo "fuzz: and once fixed, add it to tests/fuzz-regressions/$t/"
    fi
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz: findings in:$failed" >&2
  exit 1
fi
