#!/bin/bash
# Every input that ever crashed or hung a fuzzer (tests/fuzz-regressions/
# TARGET/) and every seed the fuzzers start from runs once through the fuzz
# targets' own code, built as plain programs by make check: a fixed crash
# that comes back fails here, with gcc and without clang, and under
# make check SANITIZE=1 with the sanitizer's report. The replay prints each
# path before running it, so the last one shown below a failure is the
# input that broke.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
S=$POSTDESK_SRC
R=$(dirname "$POSTDESK")/tests

# replay TARGET DESCRIPTION PATH...
replay () {
  local target=$1 what=$2; shift 2
  "$R/fuzz-replay-$target" "$@" > "$T/out" 2> "$T/log"
  local rc=$?
  ok $rc "$what"
  if [ $rc -ne 0 ]; then
    echo "#   exit status $rc; the last input and the report:"
    grep -E '^replaying ' "$T/log" | tail -n 1 | sed 's/^/#   /'
    grep -vE '^replaying ' "$T/log" | head -n 20 | sed 's/^/#   /'
  fi
  echo "# $target: $(cat "$T/out")"
}

for t in mime rules template; do
  n=$(find "$S/tests/fuzz-regressions/$t" -type f 2>/dev/null | wc -l)
  if [ "$n" -gt 0 ]; then
    replay "$t" "$t: the $n inputs that once crashed or hung a fuzzer run clean" "$S/tests/fuzz-regressions/$t"
  else
    ok 0 "$t: no input has crashed or hung this fuzzer yet"
  fi
done

replay mime "mime: every message of the test corpus and the examples runs clean" \
  "$S/tests/corpus" "$S/examples/mail"
replay rules "rules: the shipped rule files and the unit tests' rule texts run clean" \
  "$S"/rules/*.rules "$S/fuzz/seeds/rules"
replay template "template: the shipped templates and the unit tests' template texts run clean" \
  "$S"/templates/*.tmpl "$S/fuzz/seeds/template"

done_testing
