#!/bin/bash
# postdesk rules check: every problem of a rules folder as file:line:column,
# in one run, exit 1; a clean folder prints its rule count.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

out=$("$POSTDESK" rules check "$POSTDESK_SRC/rules"); ok $? "the shipped rules check clean"
like "$out" "^$POSTDESK_SRC/rules: [0-9]+ rules, no problems$" "a clean run prints the rule count"

# Without DIR, the folder comes from the configuration; init copies the
# shipped rules there.
new_desk desk
out=$(pd rules check); ok $? "the configured rules folder of a new desk checks clean"
is "$out" "$DESK/rules: $("$POSTDESK" rules check "$POSTDESK_SRC/rules" | awk '{ print $2 }') rules, no problems" \
   "init wrote the same rules as the shipped ones"

mkdir "$T/bad"
cat > "$T/bad/10-first.rules" <<'RULES'
rule outage
  subjekt ~ /outage/
  severity 3
RULES
cat > "$T/bad/20-second.rules" <<'RULES'
rule outage
  body ~ /ticket #(\d+/
  escalate
RULES
"$POSTDESK" rules check "$T/bad" >"$T/out" 2>"$T/err"; is $? 1 "a folder with problems exits 1"
is "$(cat "$T/out")" "" "nothing on stdout when there are problems"
is "$(grep -c '' "$T/err")" 6 "five problems and a summary line"
like "$(sed -n 1p "$T/err")" "^$T/bad/10-first.rules:2:3: unknown field 'subjekt'" "unknown field, with file:line:column"
like "$(sed -n 2p "$T/err")" "^$T/bad/10-first.rules:3:12: severity out of range: '3'" "severity out of range"
like "$(sed -n 3p "$T/err")" "^$T/bad/20-second.rules:1:6: duplicate rule name 'outage' \\(first defined at $T/bad/10-first.rules:1\\)" \
     "a duplicate name across files names both places"
is "$(sed -n 4p "$T/err")" "$T/bad/20-second.rules:2:23: bad pattern: missing closing parenthesis" \
   "PCRE2's message at the pattern's offset"
like "$(sed -n 5p "$T/err")" "^$T/bad/20-second.rules:3:3: unknown action 'escalate'" "unknown action"
like "$(sed -n 6p "$T/err")" "5 problems in $T/bad" "the summary counts them"

mkdir "$T/none"
"$POSTDESK" rules check "$T/none" >/dev/null 2>"$T/err"; is $? 1 "a folder without rule files exits 1"
like "$(cat "$T/err")" "no \\*\\.rules files" "and says why"
"$POSTDESK" rules check "$T/missing" >/dev/null 2>&1; is $? 1 "a missing folder exits 1"
"$POSTDESK" rules check a b >/dev/null 2>&1; is $? 2 "two folders are a usage error"
"$POSTDESK" rules frobnicate >/dev/null 2>&1; is $? 2 "an unknown subcommand is a usage error"
done_testing
