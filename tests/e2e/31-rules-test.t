#!/bin/bash
# postdesk rules test: classify mail without storing it, explain, speak
# JSON, and keep a regression folder green with --expect.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
RULES="$POSTDESK_SRC/rules"
SAMPLES="$CORPUS/rules"

out=$("$POSTDESK" rules test --rules "$RULES" --expect "$SAMPLES"); ok $? "the regression corpus is green with the shipped rules"
like "$out" "[0-9]+ messages, 0 mismatches" "no mismatch"
n=$(ls "$SAMPLES" | grep -c '\.eml$')
[ "$n" -ge 40 ]; ok $? "the regression corpus has at least 40 messages ($n)"
like "$out" "^ +classified 1 +classified 2" "a confusion table"
s1=$(grep -l '^X-Expected-Severity: 1' "$SAMPLES"/*.eml | wc -l)
s2=$(grep -l '^X-Expected-Severity: 2' "$SAMPLES"/*.eml | wc -l)
like "$out" "expected 1 +$s1 +0" "every Severity 1 sample is classified 1"
like "$out" "expected 2 +0 +$s2" "every Severity 2 sample is classified 2"

# The text explanation names the rule, its place and what matched.
out=$("$POSTDESK" rules test --rules "$RULES" "$SAMPLES/en-01-production-down.eml"); ok $? "one message"
like "$out" "en-01-production-down.eml: severity 1$" "the severity"
like "$out" "production-down \\(severity\\.rules:[0-9]+\\) matched subject: \"Production is down\"" "the rule, file:line, field and text"
out=$("$POSTDESK" rules test --rules "$RULES" "$SAMPLES/en-07-download-trap.eml")
like "$out" "severity 2 \\(no rule sets one: the default\\)" "a trap falls through to the default"

# JSON: one array, an object per message with exactly the contract's keys.
"$POSTDESK" rules test --json --rules "$RULES" "$SAMPLES" > "$T/all.json"; ok $? "--json over the folder"
/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' < "$T/all.json"; ok $? "the output is valid JSON"
is "$(jq length "$T/all.json")" "$n" "one object per message"
is "$(jq -c '[.[] | keys] | unique' "$T/all.json")" '[["file","no_ack","rules","severity","tags"]]' "message keys"
is "$(jq -c '[.[].rules[] | keys] | unique' "$T/all.json")" '[["field","file","line","match","name"]]' "rule keys"
is "$(jq -c '[.[] | .severity | type] | unique' "$T/all.json")" '["number"]' "severity is a number"
is "$(jq -c '[.[] | .no_ack | type] | unique' "$T/all.json")" '["boolean"]' "no_ack is a boolean"
is "$(jq -r '.[] | select(.file | endswith("en-14-newsletter-outage.eml")) | [.severity, .no_ack, (.tags | join(",")), .rules[0].name, .rules[0].field] | @tsv' "$T/all.json")" \
   "$(printf '2\ttrue\tbulk\tmailing-list\theader:List-Id')" "a list message stops at the mailing-list rule"
is "$(jq -r '.[] | select(.file | endswith("en-15-export-error-with-log.eml")) | .rules[0].match' "$T/all.json")" \
   "export-2026-03-10.log" "an attachment condition reports the file name"

# A wrong expectation is a mismatch: exit 1 and an explanation.
mkdir "$T/samples"
sed 's/^X-Expected-Severity: 2/X-Expected-Severity: 1/' "$SAMPLES/en-08-production-planning-trap.eml" > "$T/samples/wrong.eml"
cp "$SAMPLES/en-01-production-down.eml" "$T/samples/right.eml"
out=$("$POSTDESK" rules test --rules "$RULES" --expect "$T/samples"); is $? 1 "a mismatch exits 1"
like "$out" "MISMATCH: expected severity 1" "the mismatch is explained"
like "$out" "2 messages, 1 mismatch" "and counted"
grep -v '^X-Expected-Severity' "$SAMPLES/en-01-production-down.eml" > "$T/samples/wrong.eml"
"$POSTDESK" rules test --rules "$RULES" --expect "$T/samples" >/dev/null 2>"$T/err"; is $? 1 "a sample without an expectation exits 1"
like "$(cat "$T/err")" "no X-Expected-Severity" "and says so"

# The configured folder; a broken rule set refuses to test.
new_desk desk
pd rules test --expect "$SAMPLES" >/dev/null; ok $? "the configured rules folder of a new desk"
printf 'rule x\n  body ~ /(/\n' > "$DESK/rules/zz-broken.rules"
pd rules test "$SAMPLES/en-01-production-down.eml" >/dev/null 2>"$T/err"; is $? 1 "broken rules: exit 1"
like "$(cat "$T/err")" "zz-broken.rules:2:12: bad pattern: missing closing parenthesis" "with the problem"
"$POSTDESK" rules test --rules "$RULES" >/dev/null 2>&1; is $? 2 "no message is a usage error"
done_testing
